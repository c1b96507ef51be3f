//! Integrations: what serves a matched method.
//!
//! - [`http`]: `http_proxy` (pass-through, streamed) and `http` (parameter mapping and
//!   integration responses);
//! - [`mock`]: answered by the gateway from the request template's `statusCode`.
//!
//! Non-proxy integrations share [`integration_response`]: pick the response whose selection
//! pattern matches the integration status (else `default`), then map its headers and body.

pub mod function;
pub mod headers;
pub mod http;
pub mod lambda;
pub mod mock;
pub mod outbound;
pub mod upstream;

use std::time::Duration;

use ::http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};
use bytes::Bytes;
use portico_config::Integration;
use portico_config::mapping::ParamSource;

use crate::pipeline::body::{Body, full};
use crate::pipeline::context::RequestContext;
use crate::pipeline::error::GatewayError;

/// An integration's answer, and how long the integration itself took.
pub struct Answer {
    /// The method response.
    pub response: Response<Body>,
    /// `$context.integrationLatency`; `None` when nothing outside the gateway ran.
    pub integration_latency: Option<Duration>,
}

/// Selects and renders the integration response for a non-proxy integration.
pub fn integration_response(
    cx: &RequestContext<'_>,
    integration: &Integration,
    status: &str,
    upstream_headers: Option<&HeaderMap>,
    upstream_body: Bytes,
) -> Result<Response<Body>, GatewayError> {
    let chosen = integration
        .responses
        .iter()
        .find(|r| r.pattern.as_ref().is_some_and(|p| p.is_match(status)))
        .or_else(|| integration.responses.iter().find(|r| r.pattern.is_none()))
        .ok_or_else(|| {
            GatewayError::Configuration(format!(
                "no integration response matches status {status} and there is no default"
            ))
        })?;
    let template = chosen
        .templates
        .get("application/json")
        .or_else(|| chosen.templates.values().next());
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, source) in &chosen.headers {
        let value = match source {
            ParamSource::ResponseHeader(h) => upstream_headers
                .and_then(|m| m.get(h.as_str()))
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            ParamSource::ResponseBody => Some(String::from_utf8_lossy(&upstream_body).into_owned()),
            other => cx.param(other).map(|v| v.into_owned()),
        };
        let Some(value) = value else { continue };
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            (Ok(n), Ok(v)) => {
                headers.insert(n, v);
            }
            _ => {
                return Err(GatewayError::Configuration(format!(
                    "response header {name} maps to a value that is not a valid header value"
                )));
            }
        }
    }
    let body = match template {
        Some(t) => Bytes::from(t.render(|v, out| cx.render_var(v, out))),
        None => upstream_body,
    };
    let mut resp = Response::new(full(body));
    *resp.status_mut() = StatusCode::from_u16(chosen.status)
        .map_err(|_| GatewayError::Configuration(format!("invalid status {}", chosen.status)))?;
    *resp.headers_mut() = headers;
    Ok(resp)
}

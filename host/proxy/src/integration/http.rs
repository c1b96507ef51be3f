//! HTTP integrations.
//!
//! - `http_proxy`: the client's method (unless the integration sets one), headers (less
//!   hop-by-hop), query string and body go to the upstream; the upstream's status, headers and
//!   body come back. Both bodies stream: nothing is buffered. The integration timeout bounds
//!   the response head; with `responseTransferMode: STREAM` the body also has an idle and a
//!   total limit ([`crate::integration::stream`]).
//! - `http`: the body goes through the mapping phase ([`crate::phase::mapping`]: template,
//!   passthrough, `contentHandling`); only mapped parameters go to the upstream (plus the body's
//!   type), then the request template's `requestOverride.*`; the answer goes through the
//!   integration responses, so its body is read whole (bounded).
//!
//! The integration URI's `{name}` comes from `integration.request.path.name`, else the method's
//! path parameter of that name; `${stageVariables.x}` from the stage.

use std::error::Error as _;
use std::sync::Arc;
use std::time::Instant;

use ::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri, header};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use portico_config::mapping::{ParamSource, ParamTarget};
use portico_config::template::Var;
use portico_config::{Integration, IntegrationKind, TransferMode};

use super::Answer;
use super::response::{self, ResponseCx, Selector, Upstream};
use crate::integration::headers;
use crate::integration::pool::{Pool, PoolError};
use crate::integration::stream::{self, StreamLimits};
use crate::phase::http_mapping;
use crate::phase::mapping::{self, ApiMapping, Mapped};
use crate::pipeline::Forwarded;
use crate::pipeline::body::{Body, BoxError, full};
use crate::pipeline::context::RequestContext;
use crate::pipeline::error::GatewayError;

/// Largest integration response read whole for an `http` integration (API Gateway's payload
/// limit).
const MAX_BUFFERED_RESPONSE: usize = 10 * 1024 * 1024;

/// `X-Amzn-Apigateway-Api-Id`.
const API_ID: HeaderName = HeaderName::from_static("x-amzn-apigateway-api-id");

/// What the HTTP integrations need from the connection.
pub struct Forwarding<'a> {
    /// The connection's `X-Forwarded-*` values.
    pub forwarded: &'a Forwarded,
    /// Request body limit.
    pub max_body: u64,
    /// Idle and total limits of a `STREAM` response body.
    pub stream: StreamLimits,
}

/// What an HTTP integration needs on every request that does not change between requests:
/// parsed once, when the snapshot is built.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// The integration's own method (`httpMethod`), if it sets one.
    method: Option<Method>,
    /// `User-Agent: AmazonAPIGateway_<api>`, for clients that send none.
    user_agent: Option<HeaderValue>,
    /// `X-Amzn-Apigateway-Api-Id`.
    api_id: Option<HeaderValue>,
    /// `integration.request.header.<name>` mappings, names parsed.
    headers: Vec<(HeaderName, ParamSource)>,
}

impl Prepared {
    /// Parses what `integration` on API `api` sends with every request.
    pub fn build(api: &str, integration: &Integration) -> Result<Self, String> {
        let method = match &integration.http_method {
            Some(m) => Some(
                Method::from_bytes(m.as_bytes())
                    .map_err(|_| format!("integration httpMethod {m:?} is not an HTTP method"))?,
            ),
            None => None,
        };
        let mut headers = Vec::new();
        for (target, source) in &integration.request_parameters {
            if let ParamTarget::Header(name) = target {
                let parsed = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    format!("integration.request.header.{name} is not a valid header name")
                })?;
                headers.push((parsed, source.clone()));
            }
        }
        Ok(Self {
            method,
            user_agent: HeaderValue::from_str(&format!("AmazonAPIGateway_{api}")).ok(),
            api_id: HeaderValue::from_str(api).ok(),
            headers,
        })
    }
}

/// The request body an HTTP integration sends.
pub enum Payload<'a> {
    /// `http_proxy`: the client's body, streamed (or already collected).
    Proxy(Body),
    /// `http`: the client's body, whole, for the mapping phase.
    Mapped {
        /// The method request body.
        body: Bytes,
        /// The API's binary media types and template engine.
        api: ApiMapping<'a>,
    },
}

/// Calls an HTTP integration.
pub async fn call(
    cx: &RequestContext<'_>,
    integration: &Integration,
    prepared: &Prepared,
    payload: Payload<'_>,
    pool: &Arc<Pool>,
    fwd: &Forwarding<'_>,
) -> Result<Answer, GatewayError> {
    let proxy = integration.kind == IntegrationKind::HttpProxy;
    let (body, mapped, request_body, api) = match payload {
        Payload::Proxy(body) => (body, Mapped::default(), Bytes::new(), None),
        Payload::Mapped { body, api } => {
            let mapped = mapping::map_request(cx, integration, api, body.clone()).await?;
            (full(mapped.body.clone()), mapped, body, Some(api))
        }
    };
    let overrides = &mapped.overrides;
    let mut uri = target_uri(cx, integration, proxy, &request_body, overrides)?;
    if proxy && http_mapping::path_overwritten(cx.parts) {
        uri = with_path(uri, cx.parts.uri.path())?;
    }
    let method = prepared
        .method
        .clone()
        .unwrap_or_else(|| cx.parts.method.clone());

    let mut h;
    if proxy {
        h = cx.parts.headers.clone();
        headers::request_to_upstream(&mut h);
    } else {
        // The body is whole; hyper sends its length.
        h = HeaderMap::new();
        if let Some(v) = cx.parts.headers.get(header::CONTENT_TYPE) {
            h.insert(header::CONTENT_TYPE, v.clone());
        }
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    }
    for (name, source) in &prepared.headers {
        match mapping::request_param(cx, source, &request_body).map(|v| HeaderValue::from_str(&v)) {
            Some(Ok(v)) => {
                h.insert(name.clone(), v);
            }
            Some(Err(_)) => {
                return Err(GatewayError::Configuration(format!(
                    "integration.request.header.{name} maps to a value that is not a valid header value"
                )));
            }
            None => {}
        }
    }
    if !h.contains_key(header::USER_AGENT)
        && let Some(v) = &prepared.user_agent
    {
        h.insert(header::USER_AGENT, v.clone());
    }
    if let Some(v) = &prepared.api_id {
        h.insert(API_ID, v.clone());
    }
    for (name, value) in &overrides.request_header {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(n), Ok(v)) => {
                h.insert(n, v);
            }
            _ => {
                return Err(GatewayError::Configuration(format!(
                    "$context.requestOverride.header.{name} is not a valid header"
                )));
            }
        }
    }
    headers::add_forwarded(&mut h, fwd.forwarded);

    let mut req = Request::new(body);
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.headers_mut() = h;

    let started = Instant::now();
    let sent = tokio::time::timeout(integration.timeout, pool.request(req)).await;
    let resp = match sent {
        Err(_) => return Err(GatewayError::IntegrationTimeout),
        Ok(Err(e)) => return Err(upstream_error(&e, fwd.max_body)),
        Ok(Ok(resp)) => resp,
    };

    let (mut parts, upstream_body) = resp.into_parts();
    if proxy {
        let latency = started.elapsed();
        headers::response_from_upstream(&mut parts.headers);
        let body: Body = upstream_body
            .map_err(|e: hyper::Error| -> BoxError { Box::new(e) })
            .boxed();
        let body = match integration.transfer_mode {
            TransferMode::Buffered => body,
            TransferMode::Stream => stream::Limited::boxed(body, fwd.stream, started),
        };
        return Ok(Answer {
            response: ::http::Response::from_parts(parts, body),
            integration_latency: Some(latency),
        });
    }
    let remaining = integration.timeout.saturating_sub(started.elapsed());
    let collected = tokio::time::timeout(
        remaining,
        Limited::new(upstream_body, MAX_BUFFERED_RESPONSE).collect(),
    )
    .await;
    let bytes: Bytes = match collected {
        Err(_) => return Err(GatewayError::IntegrationTimeout),
        Ok(Err(e)) => {
            return Err(GatewayError::IntegrationFailure(format!(
                "reading the integration response: {e}"
            )));
        }
        Ok(Ok(c)) => c.to_bytes(),
    };
    let latency = started.elapsed();
    let response = response::build(
        cx,
        integration,
        Selector::Status(parts.status.as_u16()),
        Upstream {
            headers: Some(&parts.headers),
            body: bytes,
        },
        ResponseCx {
            api: api.unwrap_or(ApiMapping::PLAIN),
            request_body: &request_body,
            overrides: mapped.overrides,
        },
    )
    .await?;
    Ok(Answer {
        response,
        integration_latency: Some(latency),
    })
}

/// A client error that is really the request body going over the limit answers 413; anything
/// else is an integration failure.
fn upstream_error(e: &PoolError, max_body: u64) -> GatewayError {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        if s.downcast_ref::<LengthLimitError>().is_some() {
            return GatewayError::BodyTooLarge(max_body);
        }
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    GatewayError::IntegrationFailure(message)
}

/// `uri` with its path replaced by an `overwrite:path` mapping's (its query kept).
fn with_path(uri: Uri, path: &str) -> Result<Uri, GatewayError> {
    let mut parts = uri.into_parts();
    let target = match parts.path_and_query.as_ref().and_then(|pq| pq.query()) {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    parts.path_and_query = Some(target.parse().map_err(|e| {
        GatewayError::Configuration(format!("the mapped path {path:?} is invalid: {e}"))
    })?);
    Uri::from_parts(parts)
        .map_err(|e| GatewayError::Configuration(format!("the mapped path is invalid: {e}")))
}

/// Builds the upstream URI: the template with its variables filled (a request template's
/// `requestOverride.path` first), then the query string (mapped parameters, then
/// `requestOverride.querystring`, which replaces a mapped parameter of the same name).
fn target_uri(
    cx: &RequestContext<'_>,
    integration: &Integration,
    proxy: bool,
    request_body: &[u8],
    overrides: &portico_vtl::Overrides,
) -> Result<Uri, GatewayError> {
    let Some(template) = &integration.uri else {
        return Err(GatewayError::Configuration(
            "the integration has no uri".into(),
        ));
    };
    let mut uri = template.render(|var, out| match var {
        Var::PathParam(name) => {
            let overridden = overrides
                .request_path
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone());
            let mapped = overridden.or_else(|| {
                integration
                    .request_parameters
                    .iter()
                    .find_map(|(t, s)| match t {
                        ParamTarget::Path(n) if n == name => {
                            mapping::request_param(cx, s, request_body)
                        }
                        _ => None,
                    })
            });
            if let Some(v) = mapped.or_else(|| cx.path_param(name).map(str::to_owned)) {
                out.push_str(&v);
            }
        }
        other => cx.render_var(other, out),
    });
    let mut has_query = uri.contains('?');
    let mut push_query = |uri: &mut String, q: &str| {
        uri.push(if has_query { '&' } else { '?' });
        uri.push_str(q);
        has_query = true;
    };
    if proxy && let Some(q) = cx.parts.uri.query().filter(|q| !q.is_empty()) {
        push_query(&mut uri, q);
    }
    let overridden = |name: &str| overrides.request_querystring.iter().any(|(n, _)| n == name);
    for (target, source) in &integration.request_parameters {
        let ParamTarget::Query(name) = target else {
            continue;
        };
        if overridden(name) {
            continue;
        }
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        if let ParamSource::MultiQuery(n) = source {
            // A list: the parameter once per value, as API Gateway sends it (reference §6.8).
            for (_, v) in cx.query_pairs().filter(|(k, _)| k == n) {
                pairs.append_pair(name, &v);
            }
        } else if let Some(value) = mapping::request_param(cx, source, request_body) {
            pairs.append_pair(name, &value);
        }
        let pairs = pairs.finish();
        if !pairs.is_empty() {
            push_query(&mut uri, &pairs);
        }
    }
    for (name, value) in &overrides.request_querystring {
        let pair = form_urlencoded::Serializer::new(String::new())
            .append_pair(name, value)
            .finish();
        push_query(&mut uri, &pair);
    }
    uri.parse().map_err(|e| {
        GatewayError::Configuration(format!("the integration URI {uri:?} is invalid: {e}"))
    })
}

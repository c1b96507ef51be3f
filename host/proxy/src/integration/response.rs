//! Integration responses of non-proxy integrations (AWS §6.7): select one, then build the
//! method response from it.
//!
//! - **Selection.** HTTP and MOCK integrations match each `selectionPattern` (a regex over the
//!   whole text) against the integration status code; `aws` functions match it against the
//!   error's `errorMessage`, and a successful call takes the default response. No match takes
//!   the default (`default` or an empty pattern); no default is the API's configuration error.
//! - **Body.** `contentHandling` converts it (unset, the first `Accept` type decides for an
//!   HTTP integration: a binary payload is base64 text for a text type, a text payload is
//!   base64-decoded for a binary type); the response template chosen by the first `Accept`
//!   type renders it (binary payloads are not rendered); no template passes it through.
//! - **Headers and status.** `Content-Type` is the template's type (else `application/json`),
//!   then `responseParameters`, then the templates' `$context.responseOverride.*`.

use ::http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};
use bytes::Bytes;
use portico_config::mapping::ParamSource;
use portico_config::transform::{ContentHandling, response_template};
use portico_config::{Integration, IntegrationResponse};
use portico_vtl::Overrides;

use crate::phase::mapping::{self, ApiMapping};
use crate::pipeline::body::{Body, full};
use crate::pipeline::context::RequestContext;
use crate::pipeline::error::GatewayError;

/// What selects the integration response.
#[derive(Debug, Clone, Copy)]
pub enum Selector<'a> {
    /// The integration's status code (HTTP, MOCK).
    Status(u16),
    /// A function's successful result.
    FunctionOk,
    /// A function's error, by its `errorMessage`.
    FunctionError(&'a str),
}

/// What the integration answered.
pub struct Upstream<'a> {
    /// Its headers (HTTP integrations).
    pub headers: Option<&'a HeaderMap>,
    /// Its body, whole.
    pub body: Bytes,
}

/// What the response side of the mapping needs from the request.
pub struct ResponseCx<'a> {
    /// The API's binary media types and template engine.
    pub api: ApiMapping<'a>,
    /// The method request body, for `method.request.body` sources.
    pub request_body: &'a [u8],
    /// What the request template overrode (its `responseOverride.*` apply here).
    pub overrides: Overrides,
}

/// Picks the integration response for `selector`.
pub fn select<'i>(
    integration: &'i Integration,
    selector: Selector<'_>,
) -> Result<&'i IntegrationResponse, GatewayError> {
    let responses = &integration.responses;
    let default = || responses.iter().find(|r| r.pattern.is_none());
    let matching = |text: &str| {
        responses
            .iter()
            .find(|r| r.pattern.as_ref().is_some_and(|p| p.is_match(text)))
    };
    let chosen = match selector {
        Selector::Status(s) => matching(&s.to_string()).or_else(default),
        // `.*` matches a success's absent error message as well as the default does.
        Selector::FunctionOk => default().or_else(|| matching("")),
        Selector::FunctionError(message) => matching(message).or_else(default),
    };
    chosen.ok_or_else(|| {
        GatewayError::Configuration(
            "Execution failed due to configuration error: Output mapping refers to an invalid method response"
                .to_owned(),
        )
    })
}

/// Builds the method response from the selected integration response.
pub async fn build(
    cx: &RequestContext<'_>,
    integration: &Integration,
    selector: Selector<'_>,
    upstream: Upstream<'_>,
    rcx: ResponseCx<'_>,
) -> Result<Response<Body>, GatewayError> {
    let chosen = select(integration, selector)?;
    let upstream_type = upstream
        .headers
        .and_then(|h| h.get(header::CONTENT_TYPE))
        .and_then(|v| v.to_str().ok());
    let is_binary = rcx.api.binary.matches(upstream_type);
    // Without `contentHandling`, the client's first `Accept` type decides what an HTTP
    // integration's answer becomes (§8.9's response table): a binary payload reaches a text
    // type as its base64 text, and a text payload a binary type base64-decoded (not base64:
    // 500). MOCK and function payloads have no type of their own and are left as they are.
    let from_http = upstream.headers.is_some();
    let accepts_binary = rcx.api.binary.matches(cx.header("accept"));
    let handling = chosen
        .content_handling
        .or(match (is_binary, accepts_binary) {
            (true, false) => Some(ContentHandling::ConvertToText),
            (false, true) if from_http => Some(ContentHandling::ConvertToBinary),
            _ => None,
        });
    let payload = mapping::convert(upstream.body.clone(), is_binary, handling)?;
    // Templates render text only: what the payload is after the conversion.
    let as_text = match handling {
        Some(ContentHandling::ConvertToText) => true,
        Some(ContentHandling::ConvertToBinary) => false,
        None => !is_binary,
    };

    let mut overrides = rcx.overrides;
    let mut content_type = "application/json";
    let body = match response_template(&chosen.templates, cx.header("accept")) {
        Some((ty, template)) if as_text => {
            content_type = ty;
            let text = mapping::text(&payload);
            let rendered = mapping::render(cx, rcx.api, template, &text, None, overrides).await?;
            overrides = rendered.overrides;
            Bytes::from(rendered.body)
        }
        _ => payload,
    };

    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    for (name, source) in &chosen.headers {
        let Some(value) = response_param(cx, source, &upstream, rcx.request_body) else {
            continue;
        };
        insert(&mut headers, name, &value)?;
    }
    for (name, value) in &overrides.response_header {
        insert(&mut headers, name, value)?;
    }
    let status = overrides.response_status.unwrap_or(chosen.status);
    let mut resp = Response::new(full(body));
    *resp.status_mut() = StatusCode::from_u16(status)
        .map_err(|_| GatewayError::Configuration(format!("invalid status {status}")))?;
    *resp.headers_mut() = headers;
    Ok(resp)
}

fn insert(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), GatewayError> {
    match (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        (Ok(n), Ok(v)) => {
            headers.insert(n, v);
            Ok(())
        }
        _ => Err(GatewayError::Configuration(format!(
            "response header {name} maps to a value that is not a valid header value"
        ))),
    }
}

/// Evaluates a `method.response.header.*` source.
fn response_param(
    cx: &RequestContext<'_>,
    source: &ParamSource,
    upstream: &Upstream<'_>,
    request_body: &[u8],
) -> Option<String> {
    let header_values = |h: &str| -> Vec<&str> {
        upstream
            .headers
            .map(|m| {
                m.get_all(h)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    match source {
        ParamSource::ResponseHeader(h) => header_values(h).last().map(|v| (*v).to_owned()),
        ParamSource::MultiResponseHeader(h) => {
            let all = header_values(h);
            (!all.is_empty()).then(|| all.join(","))
        }
        ParamSource::ResponseBody => Some(mapping::text(&upstream.body).into_owned()),
        ParamSource::ResponseBodyPath(p) => mapping::body_path(&upstream.body, p),
        other => mapping::request_param(cx, other, request_body),
    }
}

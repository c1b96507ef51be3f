//! The one rescue edge: every failure on the data path becomes a [`GatewayError`], and
//! [`rescue`] is the only place that turns one into an HTTP response.
//!
//! Gateway errors map to API Gateway's gateway-response types (reference §10), with the API's
//! customisations applied: status, `gatewayresponse.header.*` mappings and body templates. A
//! few protocol-level errors (oversized header sections, over-long URIs, malformed
//! percent-encoding) have no AWS type and answer fixed JSON bodies.
//!
//! The client sees the AWS message only. Details (an upstream's connect error, say) go to the
//! log, never into the body.

use std::sync::LazyLock;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Response, StatusCode, header};
use portico_config::responses::{GatewayResponses, ResponseType};
use portico_config::template::Template;

use crate::pipeline::body::{Body, full};
use crate::pipeline::context::RequestContext;

/// `x-amzn-RequestId`, on every response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");

/// Everything that can go wrong on the data path.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No API, stage, resource or method matches.
    #[error("no route matches the request")]
    MissingAuthenticationToken,
    /// The request body is over the limit.
    #[error("request body over {0} bytes")]
    BodyTooLarge(u64),
    /// The header section is over the limit.
    #[error("request header section over {0} bytes")]
    HeadersTooLarge(usize),
    /// The request target is over the limit.
    #[error("request target over {0} bytes")]
    UriTooLong(usize),
    /// The path is not valid percent-encoded UTF-8.
    #[error("invalid percent-encoding in the request path")]
    BadPath,
    /// The integration did not answer within its timeout.
    #[error("integration timed out")]
    IntegrationTimeout,
    /// The integration could not be reached or broke off.
    #[error("integration failed: {0}")]
    IntegrationFailure(String),
    /// The API's configuration cannot serve this request (no matching integration response,
    /// an unusable mapping result, a plugin fault in a mapper or validator).
    #[error("configuration error: {0}")]
    Configuration(String),
    /// The authorizer said 401, or an identity source is missing.
    #[error("unauthorized")]
    Unauthorized,
    /// The authorizer denied, with an optional message.
    #[error("access denied")]
    AccessDenied(Option<String>),
    /// A JWT was refused: 401 UNAUTHORIZED with this `www-authenticate` value.
    #[error("unauthorized (token)")]
    Unauthenticated(String),
    /// HTTP API style 403 `{"message":"Forbidden"}` (a simple response's `isAuthorized:
    /// false`, a token without the route's scopes), with an optional `www-authenticate`.
    #[error("forbidden")]
    Forbidden(Option<String>),
    /// A custom domain in STRICT mode got a request whose TLS SNI does not name its Host:
    /// 421 `{"message":"Misdirected Request"}`.
    #[error("the TLS server name does not match the Host")]
    MisdirectedRequest,
    /// A SigV4 signature did not verify: 403 INVALID_SIGNATURE with AWS's message.
    #[error("invalid signature")]
    InvalidSignature(String),
    /// The authorizer plugin ran past its deadline or found no free instance.
    #[error("authorizer failed: {0}")]
    AuthorizerFailure(String),
    /// The authorizer plugin trapped, ran out of memory or returned a malformed value.
    #[error("authorizer misbehaved: {0}")]
    AuthorizerConfiguration(String),
    /// A validator rejected the body, with its message.
    #[error("invalid request body: {0}")]
    BadRequestBody(String),
    /// The body does not match the method's model: 400 `Invalid request body`, with the
    /// detail (`$context.error.validationErrorString`).
    #[error("request body does not match its model: {0}")]
    InvalidRequestBody(String),
    /// Required parameters are missing or blank; the message names them.
    #[error("{0}")]
    BadRequestParameters(String),
    /// No request template matches and the passthrough behaviour refuses the body: 415.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// A function failed or returned something that is not a proxy response: 502.
    #[error("function failed: {0}")]
    FunctionFailed(String),
    /// A plugin answered the client itself (an authorizer's or mapper's custom reply). Not a
    /// failure, but it ends the pipeline the same way.
    #[error("a plugin answered")]
    PluginReply(Box<portico_runtime::Reply>),
    /// `Cache-Control: max-age=0` from a caller who may not invalidate, under
    /// `FAIL_WITH_403`.
    #[error("cache invalidation not authorized")]
    CacheInvalidationDenied,
    /// The method requires an API key and the request's is missing, unknown, disabled, or
    /// not in a usage plan for this stage.
    #[error("invalid API key")]
    InvalidApiKey,
    /// A throttle level is out of tokens; retry after this many seconds.
    #[error("throttled")]
    Throttled(u64),
    /// The key's usage-plan quota is exhausted until the period ends, in this many seconds.
    #[error("quota exceeded")]
    QuotaExceeded(u64),
    /// Cluster mode, Redis unreachable, and a limit is fail-closed: 503.
    #[error("rate limits cannot be checked")]
    TrafficUnavailable(u64),
}

impl GatewayError {
    /// `Retry-After` seconds, for the errors that have one.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Throttled(s) | Self::QuotaExceeded(s) | Self::TrafficUnavailable(s) => Some(*s),
            _ => None,
        }
    }

    /// The gateway-response type, for errors that have one.
    pub fn response_type(&self) -> Option<ResponseType> {
        Some(match self {
            Self::MissingAuthenticationToken => ResponseType::MissingAuthenticationToken,
            Self::BodyTooLarge(_) => ResponseType::RequestTooLarge,
            Self::IntegrationTimeout => ResponseType::IntegrationTimeout,
            Self::IntegrationFailure(_) => ResponseType::IntegrationFailure,
            Self::Configuration(_) | Self::FunctionFailed(_) => ResponseType::ApiConfigurationError,
            Self::Unauthorized | Self::Unauthenticated(_) => ResponseType::Unauthorized,
            Self::InvalidSignature(_) => ResponseType::InvalidSignature,
            Self::AccessDenied(_) => ResponseType::AccessDenied,
            Self::AuthorizerFailure(_) => ResponseType::AuthorizerFailure,
            Self::AuthorizerConfiguration(_) => ResponseType::AuthorizerConfigurationError,
            Self::BadRequestBody(_) | Self::InvalidRequestBody(_) => ResponseType::BadRequestBody,
            Self::BadRequestParameters(_) => ResponseType::BadRequestParameters,
            Self::UnsupportedMediaType => ResponseType::UnsupportedMediaType,
            Self::InvalidApiKey => ResponseType::InvalidApiKey,
            Self::Throttled(_) => ResponseType::Throttled,
            Self::QuotaExceeded(_) => ResponseType::QuotaExceeded,
            Self::HeadersTooLarge(_)
            | Self::TrafficUnavailable(_)
            | Self::UriTooLong(_)
            | Self::BadPath
            | Self::CacheInvalidationDenied
            | Self::Forbidden(_)
            | Self::MisdirectedRequest
            | Self::PluginReply(_) => {
                return None;
            }
        })
    }
}

/// The body template AWS uses by default, parsed once. Integration errors and request
/// validation come from other code paths in API Gateway and carry a space after the colon.
fn default_template(ty: ResponseType) -> &'static Template {
    static SPACED: LazyLock<Template> =
        LazyLock::new(|| Template::parse_text("{\"message\": $context.error.messageString}"));
    // API Gateway's authorizer deny says `Message`, capitalised.
    static DENY: LazyLock<Template> =
        LazyLock::new(|| Template::parse_text("{\"Message\":$context.error.messageString}"));
    static PLAIN: LazyLock<Template> =
        LazyLock::new(|| Template::parse_text(portico_config::responses::DEFAULT_TEMPLATE));
    match ty {
        ResponseType::IntegrationTimeout
        | ResponseType::IntegrationFailure
        | ResponseType::ApiConfigurationError
        | ResponseType::AuthorizerConfigurationError
        | ResponseType::AuthorizerFailure
        // AWS-validated (reference §7): request validation answers with the space too.
        | ResponseType::BadRequestParameters
        | ResponseType::BadRequestBody => &SPACED,
        ResponseType::AccessDenied => &DENY,
        _ => &PLAIN,
    }
}

/// Turns an error into the response the client sees.
pub fn rescue(
    err: &GatewayError,
    cx: &RequestContext<'_>,
    responses: Option<&GatewayResponses>,
) -> Response<Body> {
    let mut resp = respond(err, cx, responses);
    if let GatewayError::Unauthenticated(challenge) | GatewayError::Forbidden(Some(challenge)) = err
        && let Ok(v) = HeaderValue::from_str(challenge)
    {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    if let Some(secs) = err.retry_after()
        && !resp.headers().contains_key(header::RETRY_AFTER)
    {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

fn respond(
    err: &GatewayError,
    cx: &RequestContext<'_>,
    responses: Option<&GatewayResponses>,
) -> Response<Body> {
    if let GatewayError::PluginReply(reply) = err {
        return plugin_reply(reply, cx.request_id);
    }
    let Some(ty) = err.response_type() else {
        let (status, etype, message) = match err {
            GatewayError::HeadersTooLarge(_) => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "RequestHeaderFieldsTooLargeException",
                "Request Header Fields Too Large",
            ),
            GatewayError::UriTooLong(_) => (
                StatusCode::URI_TOO_LONG,
                "UriTooLongException",
                "Request-URI Too Long",
            ),
            GatewayError::CacheInvalidationDenied => (
                StatusCode::FORBIDDEN,
                "AccessDeniedException",
                "Unauthorized",
            ),
            GatewayError::Forbidden(_) => {
                (StatusCode::FORBIDDEN, "ForbiddenException", "Forbidden")
            }
            GatewayError::MisdirectedRequest => (
                StatusCode::MISDIRECTED_REQUEST,
                "MisdirectedRequestException",
                "Misdirected Request",
            ),
            GatewayError::TrafficUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableException",
                "Service Unavailable: rate limits cannot be checked",
            ),
            _ => (
                StatusCode::BAD_REQUEST,
                "BadRequestException",
                "Invalid percent-encoding in the request path",
            ),
        };
        let body = serde_json::json!({ "message": message }).to_string();
        return json_response(status, Some(etype), body, cx.request_id);
    };

    let message = match err {
        GatewayError::AccessDenied(Some(m))
        | GatewayError::BadRequestBody(m)
        | GatewayError::BadRequestParameters(m)
        | GatewayError::InvalidSignature(m) => m.as_str(),
        _ => ty.default_message(),
    };
    let validation_error = match err {
        GatewayError::InvalidRequestBody(detail) => Some(detail.as_str()),
        GatewayError::BadRequestParameters(m) => Some(m.as_str()),
        _ => None,
    };
    let cx = RequestContext {
        error: Some((ty.name(), message)),
        validation_error,
        ..*cx
    };
    let custom = responses.and_then(|r| r.effective(ty));
    // A function's malformed answer is API Gateway's 502, not the type's 500.
    let fixed = matches!(err, GatewayError::FunctionFailed(_)).then_some(502);
    let status = custom
        .and_then(|c| c.status)
        .or(fixed)
        .or(ty.default_status())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);

    let template = custom
        .and_then(|c| {
            c.templates
                .get("application/json")
                .or_else(|| c.templates.values().next())
        })
        .unwrap_or(default_template(ty));
    let body = template.render(|v, out| cx.render_var(v, out));
    let mut resp = json_response(status, ty.error_type(), body, cx.request_id);
    for (name, source) in custom.map(|c| c.headers.as_slice()).unwrap_or_default() {
        let value = cx.param(source);
        if let (Ok(n), Some(Ok(v))) = (
            HeaderName::from_bytes(name.as_bytes()),
            value.map(|v| HeaderValue::from_str(&v)),
        ) {
            resp.headers_mut().insert(n, v);
        }
    }
    resp
}

/// A plugin's own answer, headers already validated by the runtime.
fn plugin_reply(reply: &portico_runtime::Reply, request_id: &str) -> Response<Body> {
    let mut resp = Response::new(full(reply.body.clone()));
    *resp.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in &reply.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            resp.headers_mut().append(n, v);
        }
    }
    if let Ok(id) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert(REQUEST_ID, id);
    }
    resp
}

/// A JSON response with the standard gateway headers.
pub fn json_response(
    status: StatusCode,
    error_type: Option<&'static str>,
    body: String,
    request_id: &str,
) -> Response<Body> {
    let mut resp = Response::new(full(Bytes::from(body)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(t) = error_type {
        h.insert("x-amzn-errortype", HeaderValue::from_static(t));
    }
    if let Ok(id) = HeaderValue::from_str(request_id) {
        h.insert(REQUEST_ID, id);
    }
    resp
}

//! Lambda proxy integrations (`AWS_PROXY`): the event a function receives, and how its output
//! becomes the method response (reference §8.3 for payload format 1.0, §8.4 for 2.0).
//!
//! This module only translates; invoking the function is the caller's business. The caller:
//!
//! 1. builds the event with [`event`] and invokes the function with it;
//! 2. treats a *function error* (Lambda's `X-Amz-Function-Error` header, or an invocation that
//!    did not complete) as a failure without calling [`response`]: with format 1.0 the error
//!    payload (`{"errorMessage", "errorType", ...}`) would be rejected anyway for its unknown
//!    keys, but with format 2.0 any valid JSON is a valid answer;
//! 3. turns the output into the method response with [`response`], and a [`BadResponse`] into
//!    `502 {"message": "Internal server error"}` (REST APIs; HTTP APIs answer
//!    `{"message":"Internal Server Error"}`).
//!
//! # Deliberate choices where AWS is silent or ambiguous
//!
//! * `requestContext.accountId` is the gateway file's `aws.account_id` (default `000000000000`).
//! * `requestContext.resourceId` is the resource path, as `$context.resourceId` is elsewhere in
//!   Portico (AWS uses an opaque id). `requestContext.deploymentId` (1.0) is the id of the deployment the stage
//!   (or its canary) serves: content-derived, see `portico_config::deploy`.
//! * Header names reach the function in lower case: hyper lower-cases them on the way in, so the
//!   client's casing (which REST APIs keep) is lost. HTTP/2 requests, which carry no `Host`
//!   header, get one from `:authority`. Hop-by-hop and framing headers (`Connection`,
//!   `Content-Length`, `Transfer-Encoding`, ...) and the ones API Gateway never forwards
//!   (`Expect`, `Max-Forwards`, `Content-MD5`, ...; reference §8.7) are left out. The
//!   `X-Forwarded-*` and `X-Amzn-Trace-Id` headers AWS adds are not added here.
//! * The 2.0 `rawPath` and `requestContext.http.path` include the stage, as HTTP APIs do for a
//!   named (non-`$default`) stage; `routeKey` is `"<request method> <resource path>"` (an `ANY`
//!   route shows the request's method). Path parameters are raw (not decoded) in both formats.
//! * The 2.0 `body` is omitted when the request has none (1.0 has `"body": null`).
//! * Authorizer data: 1.0 `requestContext.authorizer` is `null` or
//!   `{"principalId": ..., <context keys>...}`; 2.0 omits `authorizer` or sends
//!   `{"principalId": ..., "lambda": {<context>}}` (`principalId` only when there is one).
//! * Response 1.0: an empty object `{}` is rejected (the reference's table lists `{}` → 502),
//!   while a non-empty object without `statusCode` answers 200. (The recorded `{}` row comes
//!   from a test whose function crashed, receiving no body, so Lambda returned its error
//!   payload; a function really returning `{}` may get 200 on AWS. Unverified, so the table
//!   wins.) `statusCode` must be 200–599:
//!   hyper cannot send a 1xx as a final response. `isBase64Encoded: true` returns the body as
//!   the function sent it (no binary media types yet).
//! * Response 2.0: keys other than `statusCode`, `headers`, `body`, `isBase64Encoded` and
//!   `cookies` (such as `multiValueHeaders`) are ignored, and `isBase64Encoded: true` bodies are
//!   decoded, as HTTP APIs (which have no binary media types) do.
//! * Both: a header named twice (case-insensitively), or given both in `multiValueHeaders` and
//!   `headers`, is sent as one comma-joined value (`a, b`), the multi-value values first, except
//!   `Set-Cookie`, which is sent as one header line per value. `Connection`, `Content-Length`,
//!   `Date` and `Server` come back renamed `x-amzn-Remapped-<name>`; `Transfer-Encoding` and
//!   other hop-by-hop headers are dropped.

mod reply;
mod request;

use crate::pipeline::body::Body;
use crate::pipeline::context::RequestContext;

/// Payload format of the event and the rules that read the function's response: 1.0 as REST
/// APIs send it (reference §8.3), 2.0 as HTTP APIs send it (§8.4).
pub use portico_config::PayloadFormat;

/// What an authorizer decided, for `requestContext.authorizer`. [`Default`] is "no authorizer".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizerContext {
    /// The authorizer's `principalId`.
    pub principal_id: Option<String>,
    /// The authorizer's `context` map, values already stringified (`1` → `"1"`), in order.
    pub context: Vec<(String, String)>,
    /// A JWT authorizer's claims, stringified (1.0: `authorizer.claims`; 2.0:
    /// `authorizer.jwt.claims`).
    pub claims: Option<std::sync::Arc<[(String, String)]>>,
    /// A JWT's scopes (2.0: `authorizer.jwt.scopes`).
    pub scopes: std::sync::Arc<[String]>,
}

impl AuthorizerContext {
    /// No authorizer ran, or it returned nothing to pass on.
    pub fn is_empty(&self) -> bool {
        self.principal_id.is_none() && self.context.is_empty() && self.claims.is_none()
    }
}

/// The function's output is not a valid proxy response. The caller answers
/// `502 {"message": "Internal server error"}`; the text says what was wrong, for the log.
#[derive(Debug, thiserror::Error)]
#[error("malformed Lambda proxy response: {0}")]
pub struct BadResponse(pub String);

/// Builds the event JSON for a request whose body is `body`.
///
/// A body whose `Content-Type` is one of the API's binary media types (`binary`), or that is
/// not valid UTF-8, is base64-encoded with `isBase64Encoded: true`; any other is sent as text.
/// See the module documentation for the fields' sources.
pub fn event(
    format: PayloadFormat,
    cx: &RequestContext<'_>,
    body: &[u8],
    binary: bool,
    authorizer: &AuthorizerContext,
) -> String {
    let value = match format {
        PayloadFormat::V1 => request::v1(cx, body, binary, authorizer),
        PayloadFormat::V2 => request::v2(cx, body, binary, authorizer),
    };
    value.to_string()
}

/// Turns a function's output (its JSON payload, as text) into the response for the client.
///
/// Format 1.0 requires a JSON object with only `statusCode`, `headers`, `multiValueHeaders`,
/// `body` and `isBase64Encoded`. Format 2.0 reads an object with `statusCode` the same way (with
/// `cookies`, without `multiValueHeaders`); any other valid JSON is a 200 whose body is that
/// JSON (a string's content for a JSON string). A response without `Content-Type` gets
/// `application/json`.
///
/// `binary` decides, in format 1.0, whether an `isBase64Encoded` body of a `Content-Type` is
/// decoded (the API's binary media types); format 2.0 always decodes.
pub fn response(
    format: PayloadFormat,
    output: &str,
    binary: &dyn Fn(Option<&str>) -> bool,
) -> Result<http::Response<Body>, BadResponse> {
    match format {
        PayloadFormat::V1 => reply::v1(output, binary),
        PayloadFormat::V2 => reply::v2(output),
    }
}

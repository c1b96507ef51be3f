//! Plain Rust mirrors of the WIT records, so that the proxy never sees a `bindgen!` type, and
//! the checks that turn a malformed guest value into [`Fault::BadReturn`].
//!
//! Values going in are moved into the generated types field by field (no copies of strings);
//! values coming out are checked once here, so the proxy can build headers from them without
//! further validation.

use bytes::Bytes;

use crate::bindings::{
    authorizer, authorizer_v0, caps::portico::plugin::types as wit, mapper, template_mapper as tm,
};
use crate::error::Fault;

/// A header or parameter: name and value, in the order the client sent them.
pub type Field = (String, String);

/// What a plugin sees of a request: its head, never its connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestHead {
    /// `$context.requestId`.
    pub request_id: String,
    /// HTTP method, upper case.
    pub method: String,
    /// The request path, stage included, still percent-encoded (`$context.path`).
    pub path: String,
    /// The matched resource, e.g. `/pets/{id}` (`$context.resourcePath`).
    pub resource_path: String,
    /// The stage name (`$context.stage`).
    pub stage: String,
    /// The API name (`$context.apiId`).
    pub api_id: String,
    /// The client's address (`$context.identity.sourceIp`).
    pub source_ip: String,
    /// Request headers; repeated names appear once per value.
    pub headers: Vec<Field>,
    /// Query-string parameters, decoded.
    pub query: Vec<Field>,
    /// Path parameters, raw.
    pub path_parameters: Vec<Field>,
    /// Stage variables.
    pub stage_variables: Vec<Field>,
}

/// A verified client certificate of a mutual-TLS request, as `$context.identity.clientCert`
/// describes it: what `portico:plugin/request-tls.get-client-cert` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientCert {
    /// The leaf certificate, PEM (`clientCertPem`).
    pub pem: String,
    /// The subject's distinguished name (`subjectDN`).
    pub subject_dn: String,
    /// The issuer's distinguished name (`issuerDN`).
    pub issuer_dn: String,
    /// The serial number, colon-separated lower-case hex (`serialNumber`).
    pub serial_number: String,
    /// `validity.notBefore`, as `May 28 12:30:02 2019 GMT`.
    pub not_before: String,
    /// `validity.notAfter`, same format.
    pub not_after: String,
}

/// An answer the plugin gives the client itself. Status is 100–599 and every header parses as
/// an `http` header name and value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status, 100–599.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<Field>,
    /// Response body.
    pub body: Bytes,
}

/// An authorizer's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Let the request through.
    Allow {
        /// `$context.authorizer.principalId` (never empty).
        principal_id: String,
        /// `$context.authorizer.<key>` values; keys are `[A-Za-z0-9_]+`.
        context: Vec<Field>,
        /// The API key to meter the request under (API key source AUTHORIZER).
        usage_identifier_key: Option<String>,
    },
    /// 401 `{"message":"Unauthorized"}`.
    Unauthorized,
    /// 403 (ACCESS_DENIED), with an optional message.
    Forbidden(Option<String>),
    /// A custom answer.
    Custom(Reply),
    /// What a Lambda authorizer returns, as JSON text (at most [`MAX_LAMBDA_OUTPUT`] bytes),
    /// for the gateway to parse and evaluate against the request's method ARN.
    LambdaOutput(String),
}

/// The largest `lambda-output` an authorizer may return; past it the call is a
/// [`Fault::BadReturn`].
pub const MAX_LAMBDA_OUTPUT: usize = 64 * 1024;

/// A request as a mapper rewrote it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappedRequest {
    /// Request headers (valid names and values).
    pub headers: Vec<Field>,
    /// Query-string parameters.
    pub query: Vec<Field>,
    /// Request body.
    pub body: Bytes,
}

/// A response as a mapper sees and rewrites it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappedResponse {
    /// HTTP status, 100–599.
    pub status: u16,
    /// Response headers (valid names and values).
    pub headers: Vec<Field>,
    /// Response body.
    pub body: Bytes,
}

/// Where and why a mapping template does not parse (1-based line and column).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateError {
    /// Line in the template source, from 1.
    pub line: u32,
    /// Column in that line, from 1.
    pub column: u32,
    /// What is wrong there.
    pub message: String,
}

/// What a mapping template set besides its body: `$context.requestOverride.*` and
/// `$context.responseOverride.*`. As the template wrote them: the proxy checks names, values and
/// the status when it applies them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `$context.requestOverride.header.<name>`.
    pub request_header: Vec<Field>,
    /// `$context.requestOverride.path.<name>`.
    pub request_path: Vec<Field>,
    /// `$context.requestOverride.querystring.<name>`.
    pub request_querystring: Vec<Field>,
    /// `$context.responseOverride.header.<name>`.
    pub response_header: Vec<Field>,
    /// `$context.responseOverride.status`.
    pub response_status: Option<u16>,
}

/// What one rendering of a mapping template sees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderInput {
    /// `$input.body`.
    pub body: String,
    /// `$input.params().path`.
    pub path: Vec<Field>,
    /// `$input.params().querystring`.
    pub querystring: Vec<Field>,
    /// `$input.params().header`.
    pub header: Vec<Field>,
    /// `$context`, as JSON text (an object).
    pub context: String,
    /// `$stageVariables`.
    pub stage_variables: Vec<Field>,
    /// Overrides already set (a request template's, seen by the response template).
    pub overrides: Overrides,
}

/// A rendered mapping template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    /// The rendered body.
    pub body: String,
    /// The input's overrides plus those the template set.
    pub overrides: Overrides,
}

/// Why a template produced no output (an answer of the template, not a plugin fault).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderFailure {
    /// The template source does not parse.
    Template(TemplateError),
    /// It parsed, and failed while rendering (a limit, a bad `$input.path` expression …).
    Failed(String),
}

/// Why a body was not accepted by a model (an answer of the model, not a plugin fault).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelFailure {
    /// The model does not compile (bad schema, unknown remote `$ref`): why.
    Model(String),
    /// The body does not match: AWS's `$context.error.validationErrorString`, e.g.
    /// `[object has missing required properties (["name"])]`.
    Invalid(String),
}

impl From<Overrides> for tm::Overrides {
    fn from(o: Overrides) -> Self {
        Self {
            request_header: o.request_header,
            request_path: o.request_path,
            request_querystring: o.request_querystring,
            response_header: o.response_header,
            response_status: o.response_status,
        }
    }
}

impl From<tm::Overrides> for Overrides {
    fn from(o: tm::Overrides) -> Self {
        Self {
            request_header: o.request_header,
            request_path: o.request_path,
            request_querystring: o.request_querystring,
            response_header: o.response_header,
            response_status: o.response_status,
        }
    }
}

impl From<tm::TemplateError> for TemplateError {
    fn from(e: tm::TemplateError) -> Self {
        Self {
            line: e.line,
            column: e.column,
            message: e.message,
        }
    }
}

/// The WIT input for template `template`.
pub(crate) fn render_input(template: u64, i: RenderInput) -> tm::RenderInput {
    tm::RenderInput {
        template,
        body: i.body,
        path: i.path,
        querystring: i.querystring,
        header: i.header,
        context: i.context,
        stage_variables: i.stage_variables,
        overrides: i.overrides.into(),
    }
}

pub(crate) fn rendered(r: tm::Rendered) -> Rendered {
    Rendered {
        body: r.body,
        overrides: r.overrides.into(),
    }
}

impl From<RequestHead> for wit::RequestHead {
    fn from(h: RequestHead) -> Self {
        Self {
            request_id: h.request_id,
            method: h.method,
            path: h.path,
            resource_path: h.resource_path,
            stage: h.stage,
            api_id: h.api_id,
            source_ip: h.source_ip,
            headers: h.headers,
            query: h.query,
            path_parameters: h.path_parameters,
            stage_variables: h.stage_variables,
        }
    }
}

impl From<MappedResponse> for mapper::MappedResponse {
    fn from(r: MappedResponse) -> Self {
        Self {
            status: r.status,
            headers: r.headers,
            body: Vec::from(r.body),
        }
    }
}

fn bad(msg: impl Into<String>) -> Fault {
    Fault::BadReturn(msg.into())
}

fn check_status(status: u16, what: &str) -> Result<u16, Fault> {
    if (100..=599).contains(&status) {
        Ok(status)
    } else {
        Err(bad(format!("{what} status {status} is outside 100-599")))
    }
}

fn check_headers(headers: &[Field], what: &str) -> Result<(), Fault> {
    for (name, value) in headers {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(bad(format!(
                "{what} header name {name:?} is not a valid HTTP header name"
            )));
        }
        if http::HeaderValue::from_str(value).is_err() {
            return Err(bad(format!(
                "{what} header {name} has a value that is not a valid HTTP header value"
            )));
        }
    }
    Ok(())
}

fn check_context_key(key: &str) -> Result<(), Fault> {
    if !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(())
    } else {
        Err(bad(format!(
            "authorizer context key {key:?} must be non-empty [A-Za-z0-9_]"
        )))
    }
}

pub(crate) fn reply(r: wit::Reply, what: &str) -> Result<Reply, Fault> {
    check_status(r.status, what)?;
    check_headers(&r.headers, what)?;
    Ok(Reply {
        status: r.status,
        headers: r.headers,
        body: Bytes::from(r.body),
    })
}

pub(crate) fn decision(d: authorizer::Decision) -> Result<Decision, Fault> {
    Ok(match d {
        authorizer::Decision::Allow(a) => {
            if a.principal_id.is_empty() {
                return Err(bad("authorizer allowed with an empty principal id"));
            }
            for (key, _) in &a.context {
                check_context_key(key)?;
            }
            Decision::Allow {
                principal_id: a.principal_id,
                context: a.context,
                usage_identifier_key: a.usage_identifier_key,
            }
        }
        authorizer::Decision::Unauthorized => Decision::Unauthorized,
        authorizer::Decision::Forbidden(msg) => Decision::Forbidden(msg),
        authorizer::Decision::Custom(r) => Decision::Custom(reply(r, "authorizer reply")?),
        authorizer::Decision::LambdaOutput(json) => {
            if json.len() > MAX_LAMBDA_OUTPUT {
                return Err(bad("authorizer output over 64 KiB"));
            }
            Decision::LambdaOutput(json)
        }
    })
}

/// A 0.1.0 decision as today's: the same cases, no `lambda-output`.
pub(crate) fn decision_v0(d: authorizer_v0::Decision) -> authorizer::Decision {
    match d {
        authorizer_v0::Decision::Allow(a) => authorizer::Decision::Allow(authorizer::Allow {
            principal_id: a.principal_id,
            context: a.context,
            usage_identifier_key: a.usage_identifier_key,
        }),
        authorizer_v0::Decision::Unauthorized => authorizer::Decision::Unauthorized,
        authorizer_v0::Decision::Forbidden(m) => authorizer::Decision::Forbidden(m),
        authorizer_v0::Decision::Custom(r) => authorizer::Decision::Custom(r),
    }
}

pub(crate) fn mapped_request(r: mapper::MappedRequest) -> Result<MappedRequest, Fault> {
    check_headers(&r.headers, "mapped request")?;
    Ok(MappedRequest {
        headers: r.headers,
        query: r.query,
        body: Bytes::from(r.body),
    })
}

pub(crate) fn mapped_response(r: mapper::MappedResponse) -> Result<MappedResponse, Fault> {
    check_status(r.status, "mapped response")?;
    check_headers(&r.headers, "mapped response")?;
    Ok(MappedResponse {
        status: r.status,
        headers: r.headers,
        body: Bytes::from(r.body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(key: &str) -> authorizer::Decision {
        authorizer::Decision::Allow(authorizer::Allow {
            principal_id: "p".into(),
            context: vec![(key.into(), "v".into())],
            usage_identifier_key: None,
        })
    }

    #[test]
    fn context_keys_are_word_characters() {
        assert!(decision(allow("user_id1")).is_ok());
        for key in ["", "user-id", "a b", "é", "a.b"] {
            assert!(
                matches!(decision(allow(key)), Err(Fault::BadReturn(_))),
                "{key:?}"
            );
        }
    }

    #[test]
    fn reply_status_must_be_http() {
        for status in [0, 99, 600, 1000] {
            let r = wit::Reply {
                status,
                headers: vec![],
                body: vec![],
            };
            assert!(
                matches!(reply(r, "x"), Err(Fault::BadReturn(_))),
                "{status}"
            );
        }
        let r = wit::Reply {
            status: 418,
            headers: vec![("x-a".into(), "b".into())],
            body: vec![],
        };
        assert_eq!(reply(r, "x").map(|r| r.status), Ok(418));
    }

    #[test]
    fn header_names_and_values_must_parse() {
        for (n, v) in [("bad name", "v"), ("", "v"), ("x", "line\nbreak")] {
            let r = wit::Reply {
                status: 200,
                headers: vec![(n.into(), v.into())],
                body: vec![],
            };
            assert!(
                matches!(reply(r, "x"), Err(Fault::BadReturn(_))),
                "{n:?} {v:?}"
            );
        }
    }

    #[test]
    fn empty_principal_is_malformed() {
        let d = authorizer::Decision::Allow(authorizer::Allow {
            principal_id: String::new(),
            context: vec![],
            usage_identifier_key: None,
        });
        assert!(matches!(decision(d), Err(Fault::BadReturn(_))));
    }
}

//! The mapping phase of non-proxy integrations (`http`, `mock`, `aws` functions): the request
//! body goes through `contentHandling`, then the request template the `Content-Type` selects
//! (or passes through, or answers 415, as `passthroughBehavior` says), rendered by the VTL
//! engine with `$input`, `$context`, `$stageVariables` and `$util`.
//!
//! Templates were parsed when the configuration was read; here they only render. What a
//! template sets in `$context.requestOverride` / `responseOverride` travels in [`Mapped`] to the
//! integration and to the response template.
//!
//! The `$context` tree handed to a template holds only the roots it reads
//! ([`portico_vtl::Template::context_roots`]), so a template that reads `$context.requestId`
//! costs one string, not fifty.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use portico_config::Integration;
use portico_config::transform::{
    ContentHandling, MappingTemplate, RequestMapping, request_mapping,
};
use portico_vtl::{Input, Limits, Overrides};
use serde_json::{Map, Value};

use crate::listener::tls::client_cert_json;
use crate::phase::engine;
pub use crate::phase::engine::ApiMapping;
use crate::pipeline::context::RequestContext;
use crate::pipeline::error::GatewayError;

/// The integration request after mapping.
#[derive(Debug, Default)]
pub struct Mapped {
    /// The integration request body.
    pub body: Bytes,
    /// The overrides the request template set (`$context.requestOverride.*`, and
    /// `responseOverride.*`, which the response template sees and the response applies).
    pub overrides: Overrides,
    /// Whether a template rendered the body (a passthrough keeps the client's `Content-Type`).
    pub transformed: bool,
}

/// Maps the request body of a non-proxy integration.
pub async fn map_request(
    cx: &RequestContext<'_>,
    integration: &Integration,
    api: ApiMapping<'_>,
    body: Bytes,
) -> Result<Mapped, GatewayError> {
    let content_type = cx.header("content-type");
    let is_binary = api.binary.matches(content_type);
    // The validator parsed the client's body; a converted payload is another text.
    let body_json = cx
        .body_json
        .filter(|_| !converts(is_binary, integration.content_handling));
    let payload = convert(body, is_binary, integration.content_handling)?;
    let as_text =
        !is_binary || integration.content_handling == Some(ContentHandling::ConvertToText);
    match request_mapping(
        &integration.request_templates,
        integration.passthrough,
        content_type,
    ) {
        RequestMapping::Unsupported => Err(GatewayError::UnsupportedMediaType),
        // A binary payload is never rendered: it passes through as bytes.
        RequestMapping::PassThrough => Ok(Mapped {
            body: payload,
            ..Mapped::default()
        }),
        RequestMapping::Transform(_) if !as_text => Ok(Mapped {
            body: payload,
            ..Mapped::default()
        }),
        RequestMapping::Transform(template) => {
            let text = text(&payload);
            let rendered =
                render(cx, api, template, &text, body_json, Overrides::default()).await?;
            Ok(Mapped {
                body: Bytes::from(rendered.body),
                overrides: rendered.overrides,
                transformed: true,
            })
        }
    }
}

/// A payload as text for a template: borrowed when it is UTF-8 (almost always, and checked
/// several times faster than `String::from_utf8_lossy` checks it), else with U+FFFD for each
/// invalid sequence, as AWS's Java templates read it.
pub fn text(payload: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(payload) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(payload),
    }
}

/// Whether [`convert`] changes a payload.
fn converts(is_binary: bool, handling: Option<ContentHandling>) -> bool {
    matches!(
        (is_binary, handling),
        (false, Some(ContentHandling::ConvertToBinary))
            | (true, Some(ContentHandling::ConvertToText))
    )
}

/// `contentHandling`: text → binary is a base64 decode (a payload that is not base64 is the
/// API's configuration error, 500, as in API Gateway); binary → text is a base64 encode.
pub fn convert(
    body: Bytes,
    is_binary: bool,
    handling: Option<ContentHandling>,
) -> Result<Bytes, GatewayError> {
    match (is_binary, handling) {
        (false, Some(ContentHandling::ConvertToBinary)) => {
            B64.decode(body.trim_ascii()).map(Bytes::from).map_err(|e| {
                GatewayError::Configuration(format!(
                    "CONVERT_TO_BINARY: the payload is not base64: {e}"
                ))
            })
        }
        (true, Some(ContentHandling::ConvertToText)) => Ok(Bytes::from(B64.encode(&body))),
        _ => Ok(body),
    }
}

/// Renders `template` over this request with `body` as `$input.body`, in the API's engine;
/// `body_json` is `body` already parsed, when the request validator parsed it.
pub async fn render(
    cx: &RequestContext<'_>,
    api: ApiMapping<'_>,
    template: &MappingTemplate,
    body: &str,
    body_json: Option<&serde_json::Value>,
    overrides: Overrides,
) -> Result<portico_vtl::Rendered, GatewayError> {
    let t = &template.parsed;
    // The built-in parse says what the template reads, whichever engine renders it.
    let context = context_tree(cx, t.context_roots());
    let params = Params::of(cx, t.reads_input_params());
    if let Some((gw, slot)) = api.templates {
        let input = portico_runtime::RenderInput {
            body: body.to_owned(),
            path: params.path,
            querystring: params.querystring,
            header: params.header,
            context: context.to_string(),
            stage_variables: params.stage_variables,
            overrides: engine::overrides_in(overrides),
        };
        return engine::render(gw, slot, cx, template, input).await;
    }
    let input = Input {
        body,
        body_json,
        path: &params.path,
        querystring: &params.querystring,
        header: &params.header,
        context: &context,
        stage_variables: &params.stage_variables,
        overrides,
        limits: Limits::default(),
    };
    t.render(&input).map_err(|e| {
        tracing::warn!(request_id = cx.request_id, error = %e, "mapping template failed");
        GatewayError::Configuration(format!("the mapping template failed: {e}"))
    })
}

/// `$input.params()` and `$stageVariables`, as the engine takes them.
struct Params {
    path: Vec<(String, String)>,
    querystring: Vec<(String, String)>,
    header: Vec<(String, String)>,
    stage_variables: Vec<(String, String)>,
}

impl Params {
    /// The request's parameters; only the stage variables when the template never reads
    /// `$input.params` (most templates), so a render does not copy every header.
    fn of(cx: &RequestContext<'_>, with_input: bool) -> Self {
        let stage_variables = cx.stage_variable_pairs();
        if !with_input {
            return Self {
                path: Vec::new(),
                querystring: Vec::new(),
                header: Vec::new(),
                stage_variables,
            };
        }
        Self {
            path: cx.path_param_pairs(),
            querystring: cx.query_pair_list(),
            header: cx.header_pairs(),
            stage_variables,
        }
    }
}

/// The top-level `$context` variables that are plain strings, by name.
const SCALARS: &[&str] = &[
    "accountId",
    "apiId",
    "awsEndpointRequestId",
    "cipherSuite",
    "deploymentId",
    "domainName",
    "domainPrefix",
    "extendedRequestId",
    "httpMethod",
    "isCanaryRequest",
    "path",
    "protocol",
    "requestId",
    "requestTime",
    "resourceId",
    "resourcePath",
    "stage",
    "tlsVersion",
    // AWS WAF: Portico has no web ACL, so these are empty, as on an API without one.
    "wafResponseCode",
    "webaclArn",
];

/// `$context.identity.*`, all strings (empty when they do not apply).
const IDENTITY: &[&str] = &[
    "accessKey",
    "accountId",
    "apiKey",
    "apiKeyId",
    "caller",
    "cognitoAuthenticationProvider",
    "cognitoAuthenticationType",
    "cognitoIdentityId",
    "cognitoIdentityPoolId",
    "principalOrgId",
    "sourceIp",
    "user",
    "userAgent",
    "userArn",
];

/// Every `$context` root the tree can hold: what a template that reads `$context` as a whole
/// (the engine's `*`) gets.
const ALL_ROOTS: &[&str] = &[
    "accountId",
    "apiId",
    "authorizer",
    "awsEndpointRequestId",
    "cipherSuite",
    "customDomain",
    "deploymentId",
    "domainName",
    "domainPrefix",
    "error",
    "extendedRequestId",
    "httpMethod",
    "identity",
    "isCanaryRequest",
    "path",
    "protocol",
    "requestId",
    "requestTime",
    "requestTimeEpoch",
    "resourceId",
    "resourcePath",
    "stage",
    "tlsVersion",
    "wafResponseCode",
    "webaclArn",
];

/// The `$context` tree for the roots a template reads (`*`: all of them).
pub fn context_tree(cx: &RequestContext<'_>, roots: &[String]) -> Value {
    let mut tree = Map::new();
    let var = |name: &str| cx.context_var_named(name).map_or(Cow::Borrowed(""), |v| v);
    let all = roots.iter().any(|r| r == "*");
    let names: Box<dyn Iterator<Item = &str>> = if all {
        Box::new(ALL_ROOTS.iter().copied())
    } else {
        Box::new(roots.iter().map(String::as_str))
    };
    for root in names {
        let value = match root {
            "requestTimeEpoch" => Value::from(cx.request_time_epoch() as u64),
            "awsEndpointRequestId" => Value::from(cx.request_id),
            "identity" => {
                let mut m = Map::new();
                for k in IDENTITY {
                    m.insert((*k).to_owned(), Value::from(var(&format!("identity.{k}"))));
                }
                if let Some(cert) = cx.client_cert() {
                    m.insert("clientCert".into(), client_cert_json(cert));
                }
                Value::Object(m)
            }
            "customDomain" => serde_json::json!({
                "basePathMatched": var("customDomain.basePathMatched"),
            }),
            "authorizer" => authorizer_tree(cx),
            "error" => {
                let mut m = Map::new();
                for k in [
                    "message",
                    "messageString",
                    "responseType",
                    "validationErrorString",
                ] {
                    m.insert(k.to_owned(), Value::from(var(&format!("error.{k}"))));
                }
                Value::Object(m)
            }
            s if SCALARS.contains(&s) => Value::from(var(s)),
            _ => continue,
        };
        tree.insert(root.to_owned(), value);
    }
    Value::Object(tree)
}

/// `$context.authorizer`: the principal, the context values, and a JWT's claims.
fn authorizer_tree(cx: &RequestContext<'_>) -> Value {
    let mut m = Map::new();
    let Some(a) = cx.authorizer else {
        return Value::Object(m);
    };
    if a.iam.is_none() {
        m.insert("principalId".into(), Value::from(a.principal_id.as_str()));
    }
    for (k, v) in &a.context {
        m.insert(k.clone(), Value::from(v.as_str()));
    }
    if let Some(claims) = &a.claims {
        let c: Map<String, Value> = claims
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        m.insert("claims".into(), Value::Object(c));
    }
    Value::Object(m)
}

/// A `…body.PATH` mapping source: the JSONPath's value in a JSON body (a string as is, anything
/// else as JSON text); `None` when the body is not JSON or the path selects nothing.
pub fn body_path(body: &[u8], path: &str) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    match portico_vtl::json_path(&value, path).ok()?? {
        Value::String(s) => Some(s),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// A request-side mapping source, the body included (`method.request.body[.PATH]`).
pub fn request_param(
    cx: &RequestContext<'_>,
    source: &portico_config::mapping::ParamSource,
    body: &[u8],
) -> Option<String> {
    use portico_config::mapping::ParamSource;
    match source {
        ParamSource::RequestBody => Some(text(body).into_owned()),
        ParamSource::RequestBodyPath(p) => body_path(body, p),
        other => cx.param(other).map(Cow::into_owned),
    }
}

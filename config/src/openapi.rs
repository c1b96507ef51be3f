//! OpenAPI 3.0 / Swagger 2.0 import with the `x-amazon-apigateway-*` extensions.
//!
//! The document is walked as a tree. Every method becomes a [`Route`]; every problem becomes a
//! diagnostic with its path, and the walk goes on. Extensions this version does not implement
//! are reported: behaviour-changing ones as errors (serving without them would be wrong, for
//! example an authorizer that would not run), metadata-only ones as warnings.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::diag::{DocPath, Report};
use crate::mapping::{ParamSource, ParamTarget, Side, http_header_name_ok};
use crate::model::{
    ApiKeySource, AuthorizerDef, Integration, IntegrationKind, IntegrationResponse, PayloadFormat,
    Route,
};
use crate::responses::{GatewayResponse, GatewayResponses, ResponseType};
use crate::template::{Template, Var};

/// Methods an OpenAPI path item may hold, as AWS supports them.
const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch"];
/// AWS's extension for the `ANY` method.
const ANY_METHOD: &str = "x-amazon-apigateway-any-method";

/// Default and bounds of `timeoutInMillis`.
const TIMEOUT_MIN_MS: u64 = 50;
const TIMEOUT_MAX_MS: u64 = 29_000;

/// Extensions accepted with no effect yet, with the reason shown to the user.
const METADATA_EXTENSIONS: &[(&str, &str)] = &[
    (
        "x-amazon-apigateway-documentation",
        "documentation parts are not served",
    ),
    ("x-amazon-apigateway-importexport-version", "metadata only"),
    ("x-amazon-apigateway-tag-value", "tags are metadata only"),
    (
        "x-amazon-apigateway-authtype",
        "a label for the console only",
    ),
    (
        "x-amazon-apigateway-endpoint-configuration",
        "endpoint types (EDGE, REGIONAL, PRIVATE) do not apply to a self-hosted gateway",
    ),
    (
        "x-amazon-apigateway-binary-media-types",
        "bodies pass through as bytes; no body conversion happens yet",
    ),
];

/// Extensions that change behaviour and are not implemented yet.
const UNSUPPORTED_EXTENSIONS: &[&str] = &[
    "x-amazon-apigateway-auth",
    "x-amazon-apigateway-cors",
    "x-amazon-apigateway-integrations",
    "x-amazon-apigateway-minimum-compression-size",
    "x-amazon-apigateway-policy",
    "x-amazon-apigateway-request-validator",
    "x-amazon-apigateway-request-validators",
];

/// What an imported document yields.
#[derive(Debug, Default)]
pub struct Imported {
    /// Every method of every resource.
    pub routes: Vec<Route>,
    /// Gateway-response customisations.
    pub gateway_responses: GatewayResponses,
    /// `x-amazon-apigateway-api-key-source` (default `HEADER`).
    pub api_key_source: ApiKeySource,
}

/// Imports a parsed document. Problems go to `report` under `file`.
pub fn import(file: &str, doc: &Value, report: &mut Report) -> Imported {
    let mut cx = Cx { file, report };
    let mut out = Imported::default();
    let root = DocPath::root();
    let Some(top) = doc.as_object() else {
        cx.error(
            &root,
            "an OpenAPI document must be a mapping at the top level",
        );
        return out;
    };
    let oas3 = top.get("openapi").and_then(Value::as_str);
    let swagger = top.get("swagger").and_then(Value::as_str);
    match (oas3, swagger) {
        (Some(v), _) if v.starts_with("3.") => {}
        (_, Some("2.0")) => {}
        (Some(v), _) => cx.error(
            &root.key("openapi"),
            format!("version {v} is not supported; use 3.0.x or Swagger 2.0"),
        ),
        (None, _) => cx.error(
            &root,
            "not an OpenAPI document: expected `openapi: 3.0.x` or `swagger: \"2.0\"`",
        ),
    }

    for (key, value) in top {
        let path = root.key(key);
        if key == "x-amazon-apigateway-gateway-responses" {
            out.gateway_responses = gateway_responses(&mut cx, &path, value);
        } else if key == "x-amazon-apigateway-api-key-source" {
            match value.as_str() {
                Some("HEADER") => out.api_key_source = ApiKeySource::Header,
                Some("AUTHORIZER") => out.api_key_source = ApiKeySource::Authorizer,
                _ => cx.error(&path, "must be HEADER or AUTHORIZER"),
            }
        } else if key.starts_with("x-amazon-apigateway-") {
            cx.extension(&path, key);
        }
    }
    let schemes = security_schemes(&mut cx, &root, top);

    let Some(paths) = top.get("paths") else {
        cx.error(&root, "the document has no `paths`");
        return out;
    };
    let Some(paths) = paths.as_object() else {
        cx.error(&root.key("paths"), "`paths` must be a mapping");
        return out;
    };
    let mut tree = SiblingCheck::default();
    for (resource, item) in paths {
        let ppath = root.key("paths").key(resource);
        if !resource_path_ok(&mut cx, &ppath, resource) {
            continue;
        }
        tree.add(&mut cx, &ppath, resource);
        let Some(item) = item.as_object() else {
            cx.error(&ppath, "a path item must be a mapping");
            continue;
        };
        for (key, op) in item {
            let opath = ppath.key(key);
            let method = if key == ANY_METHOD {
                "ANY".to_owned()
            } else if METHODS.contains(&key.as_str()) {
                key.to_ascii_uppercase()
            } else if key.starts_with("x-amazon-apigateway-") {
                cx.extension(&opath, key);
                continue;
            } else {
                if key == "trace" {
                    cx.warn(
                        &opath,
                        "TRACE methods are not supported by API Gateway and are not served",
                    );
                }
                continue;
            };
            if let Some(route) = operation(&mut cx, &opath, resource, method, op, &schemes) {
                out.routes.push(route);
            }
        }
    }
    out
}

/// Diagnostics context for one file.
struct Cx<'a> {
    file: &'a str,
    report: &'a mut Report,
}

impl Cx<'_> {
    fn error(&mut self, path: &DocPath, msg: impl Into<String>) {
        self.report.error(self.file, path, msg);
    }
    fn warn(&mut self, path: &DocPath, msg: impl Into<String>) {
        self.report.warn(self.file, path, msg);
    }
    /// Reports an extension this version does not act on.
    fn extension(&mut self, path: &DocPath, key: &str) {
        if let Some((_, why)) = METADATA_EXTENSIONS.iter().find(|(k, _)| *k == key) {
            self.warn(path, format!("{key} is accepted but has no effect: {why}"));
        } else if UNSUPPORTED_EXTENSIONS.contains(&key) {
            self.error(path, format!("{key} is not supported yet"));
        } else {
            self.error(path, format!("{key} is not a known API Gateway extension"));
        }
    }
}

/// Validates a resource path: `/`, literal segments, `{param}`, and a last `{greedy+}`.
fn resource_path_ok(cx: &mut Cx<'_>, path: &DocPath, resource: &str) -> bool {
    if !resource.starts_with('/') {
        cx.error(path, "a resource path must start with /");
        return false;
    }
    if resource == "/" {
        return true;
    }
    let segments: Vec<&str> = resource[1..].split('/').collect();
    let mut names = BTreeSet::new();
    for (i, seg) in segments.iter().enumerate() {
        if seg.is_empty() {
            cx.error(
                path,
                "a resource path may not contain an empty segment or end with /",
            );
            return false;
        }
        if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let (name, greedy) = match inner.strip_suffix('+') {
                Some(n) => (n, true),
                None => (inner, false),
            };
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                cx.error(path, format!("invalid path parameter name in {seg}"));
                return false;
            }
            if greedy && i + 1 != segments.len() {
                cx.error(
                    path,
                    format!(
                        "Cannot create a child of a resource with a greedy path variable: {seg}"
                    ),
                );
                return false;
            }
            if !names.insert(name) {
                cx.error(path, format!("path parameter {name} appears twice"));
                return false;
            }
        } else if !seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.,:@~".contains(&b))
        {
            cx.error(
                path,
                format!("segment {seg:?}: a literal segment may only hold letters, digits and _ - . , : @ ~; a parameter must be a whole segment"),
            );
            return false;
        }
    }
    true
}

/// AWS allows one variable child per resource: `/a/{x}` and `/a/{y+}` cannot both exist.
#[derive(Default)]
struct SiblingCheck {
    /// Parent prefix (variables normalised) → the variable child seen there.
    seen: HashMap<String, String>,
}

impl SiblingCheck {
    fn add(&mut self, cx: &mut Cx<'_>, path: &DocPath, resource: &str) {
        let mut prefix = String::new();
        for seg in resource.split('/').skip(1).filter(|s| !s.is_empty()) {
            if seg.starts_with('{') {
                match self.seen.get(&prefix) {
                    Some(existing) if existing != seg => cx.error(
                        path,
                        format!("A sibling ({existing}) of this resource already has a variable path part -- only one is allowed"),
                    ),
                    Some(_) => {}
                    None => {
                        self.seen.insert(prefix.clone(), seg.to_owned());
                    }
                }
                prefix.push_str("/{}");
            } else {
                prefix.push('/');
                prefix.push_str(seg);
            }
        }
    }
}

/// Path parameter names of a resource path.
fn path_params(resource: &str) -> Vec<&str> {
    resource
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|s| s.trim_end_matches('+'))
        .collect()
}

fn operation(
    cx: &mut Cx<'_>,
    path: &DocPath,
    resource: &str,
    method: String,
    op: &Value,
    schemes: &HashMap<String, Scheme>,
) -> Option<Route> {
    let Some(op) = op.as_object() else {
        cx.error(path, "an operation must be a mapping");
        return None;
    };
    let mut integration = None;
    let mut authorizer = None;
    let mut validator = None;
    let mut mapper = None;
    let mut api_key_required = false;
    for (key, value) in op {
        let kpath = path.key(key);
        if key == "x-amazon-apigateway-integration" {
            integration = parse_integration(cx, &kpath, resource, value);
        } else if key.starts_with("x-amazon-apigateway-") {
            cx.extension(&kpath, key);
        } else if key == "x-portico-validator" || key == "x-portico-mapper" {
            match value.as_str() {
                Some(name) if key == "x-portico-validator" => validator = Some(name.to_owned()),
                Some(name) => mapper = Some(name.to_owned()),
                None => cx.error(&kpath, "must be the name of a plugin"),
            }
        } else if key.starts_with("x-portico-") {
            cx.error(
                &kpath,
                format!("{key} is not a Portico extension (x-portico-validator, x-portico-mapper)"),
            );
        } else if key == "security" {
            (authorizer, api_key_required) = method_security(cx, &kpath, value, schemes);
        }
    }
    if !op.contains_key("x-amazon-apigateway-integration") {
        cx.error(
            path,
            "the method has no x-amazon-apigateway-integration, so there is nothing to serve it",
        );
    }
    Some(Route {
        resource_path: resource.to_owned(),
        method,
        integration: integration?,
        location: path.as_str().to_owned(),
        authorizer,
        validator,
        mapper,
        api_key_required,
    })
}

/// A security scheme, as far as methods can use it.
#[derive(Debug)]
enum Scheme {
    /// An `x-amazon-apigateway-authorizer`.
    Authorizer(Box<AuthorizerDef>),
    /// `type: apiKey, name: x-api-key, in: header`: the method requires an API key.
    ApiKey,
    /// A scheme Portico cannot enforce yet, with the reason.
    Unsupported(String),
    /// The scheme was invalid; already reported.
    Invalid,
}

/// Reads `securityDefinitions` (Swagger 2) and `components.securitySchemes` (OpenAPI 3).
fn security_schemes(
    cx: &mut Cx<'_>,
    root: &DocPath,
    top: &Map<String, Value>,
) -> HashMap<String, Scheme> {
    let mut out = HashMap::new();
    let sources = [
        top.get("securityDefinitions")
            .map(|v| (root.key("securityDefinitions"), v)),
        top.get("components")
            .and_then(|c| c.get("securitySchemes"))
            .map(|v| (root.key("components").key("securitySchemes"), v)),
    ];
    for (base, defs) in sources.into_iter().flatten() {
        let Some(defs) = defs.as_object() else {
            continue;
        };
        for (name, scheme) in defs {
            let spath = base.key(name);
            let Some(obj) = scheme.as_object() else {
                cx.error(&spath, "a security scheme must be a mapping");
                continue;
            };
            for key in obj.keys() {
                if key.starts_with("x-amazon-apigateway-")
                    && key != "x-amazon-apigateway-authorizer"
                {
                    cx.extension(&spath.key(key), key);
                }
            }
            let parsed = match obj.get("x-amazon-apigateway-authorizer") {
                Some(a) => {
                    parse_authorizer(cx, &spath.key("x-amazon-apigateway-authorizer"), name, a)
                        .map_or(Scheme::Invalid, |a| Scheme::Authorizer(Box::new(a)))
                }
                None if obj.get("type").and_then(Value::as_str) == Some("apiKey") => {
                    let header = obj.get("in").and_then(Value::as_str) == Some("header");
                    let named = obj
                        .get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.eq_ignore_ascii_case("x-api-key"));
                    if obj.contains_key("x-amazon-apigateway-authtype") {
                        Scheme::Unsupported(format!(
                            "security scheme {name} has x-amazon-apigateway-authtype but no x-amazon-apigateway-authorizer"
                        ))
                    } else if header && named {
                        Scheme::ApiKey
                    } else {
                        Scheme::Unsupported(format!(
                            "security scheme {name}: an API key scheme must be `name: x-api-key, in: header`"
                        ))
                    }
                }
                None => Scheme::Unsupported(format!(
                    "security scheme {name} is neither an x-amazon-apigateway-authorizer nor an API key"
                )),
            };
            out.insert(name.clone(), parsed);
        }
    }
    if top
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        cx.warn(&root.key("security"), "root-level security is ignored, as API Gateway ignores it; set security on each method");
    }
    out
}

fn parse_authorizer(
    cx: &mut Cx<'_>,
    path: &DocPath,
    name: &str,
    value: &Value,
) -> Option<AuthorizerDef> {
    let Some(obj) = value.as_object() else {
        cx.error(path, "must be a mapping");
        return None;
    };
    let errors_before = cx.report.errors().count();
    for key in obj.keys() {
        match key.as_str() {
            "type"
            | "authorizerUri"
            | "identitySource"
            | "authorizerResultTtlInSeconds"
            | "identityValidationExpression" => {}
            "authorizerCredentials" => cx.warn(
                &path.key(key),
                "authorizerCredentials (IAM roles) do not apply and are ignored",
            ),
            _ => cx.error(
                &path.key(key),
                format!("{key} is not supported in x-amazon-apigateway-authorizer"),
            ),
        }
    }
    let token = match str_field(cx, path, obj, "type")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("token") => true,
        Some("request") => false,
        Some(other) => {
            cx.error(
                &path.key("type"),
                format!("authorizer type {other} is not supported yet (token and request are)"),
            );
            return None;
        }
        None => {
            cx.error(path, "the authorizer has no `type`");
            return None;
        }
    };
    let plugin = match str_field(cx, path, obj, "authorizerUri") {
        Some(uri) => match lambda_function_name(uri) {
            Some(n) if !n.contains('$') => Some(n.to_owned()),
            Some(_) => {
                cx.error(
                    &path.key("authorizerUri"),
                    "stage variables in authorizerUri are not supported yet",
                );
                None
            }
            None => {
                cx.error(&path.key("authorizerUri"), format!("{uri} is not a Lambda invocation URI (arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/arn:aws:lambda:REGION:ACCOUNT:function:NAME/invocations)"));
                None
            }
        },
        None => {
            cx.error(path, "the authorizer has no authorizerUri");
            None
        }
    };
    let default_source = if token {
        Some("method.request.header.Authorization")
    } else {
        None
    };
    let sources_text = str_field(cx, path, obj, "identitySource").or(default_source);
    let mut identity_sources = Vec::new();
    for src in sources_text
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        match ParamSource::parse(src, Side::Request) {
            Ok(ParamSource::Static(_)) | Err(_) => {
                cx.error(&path.key("identitySource"), format!("{src} is not an identity source (method.request.header|querystring.NAME, stageVariables.NAME, context.NAME)"))
            }
            Ok(s) => identity_sources.push(s),
        }
    }
    if token && !matches!(identity_sources.as_slice(), [ParamSource::Header(_)]) {
        cx.error(
            &path.key("identitySource"),
            "a TOKEN authorizer takes exactly one header, e.g. method.request.header.Authorization",
        );
    }
    let ttl_secs = match obj.get("authorizerResultTtlInSeconds") {
        None => 300,
        Some(v) => match v.as_u64() {
            Some(t) if t <= 3600 => t,
            _ => {
                cx.error(
                    &path.key("authorizerResultTtlInSeconds"),
                    "must be an integer from 0 to 3600",
                );
                0
            }
        },
    };
    if ttl_secs > 0 && identity_sources.is_empty() {
        cx.error(&path.key("identitySource"), "an identity source is required when result caching is on (authorizerResultTtlInSeconds > 0)");
    }
    let validation = match str_field(cx, path, obj, "identityValidationExpression") {
        Some(_) if !token => {
            cx.warn(
                &path.key("identityValidationExpression"),
                "applies to TOKEN authorizers only; ignored",
            );
            None
        }
        Some(re) => match regex::Regex::new(&format!("^(?:{re})$")) {
            Ok(r) => Some(r),
            Err(e) => {
                cx.error(
                    &path.key("identityValidationExpression"),
                    format!("invalid pattern: {e}"),
                );
                None
            }
        },
        None => None,
    };
    if cx.report.errors().count() > errors_before {
        return None;
    }
    Some(AuthorizerDef {
        name: name.to_owned(),
        plugin: plugin?,
        token,
        identity_sources,
        validation,
        ttl: Duration::from_secs(ttl_secs),
    })
}

/// A method's `security`: at most one authorizer, and whether an API key is required;
/// anything else is not enforceable yet.
fn method_security(
    cx: &mut Cx<'_>,
    path: &DocPath,
    value: &Value,
    schemes: &HashMap<String, Scheme>,
) -> (Option<AuthorizerDef>, bool) {
    let Some(reqs) = value.as_array() else {
        cx.error(path, "must be a list of security requirements");
        return (None, false);
    };
    let mut found: Option<AuthorizerDef> = None;
    let mut api_key = false;
    for (i, req) in reqs.iter().enumerate() {
        for name in req.as_object().into_iter().flat_map(Map::keys) {
            match schemes.get(name) {
                Some(Scheme::Authorizer(a)) if found.is_none() => found = Some((**a).clone()),
                Some(Scheme::Authorizer(_)) => cx.error(path, "a method can have one authorizer only"),
                Some(Scheme::ApiKey) => api_key = true,
                Some(Scheme::Unsupported(why)) => cx.error(path, format!("{why}; the method would be served unprotected")),
                Some(Scheme::Invalid) => {}
                None => cx.error(path, format!("security requirement [{i}] names {name}, which is not a defined security scheme")),
            }
        }
    }
    (found, api_key)
}

/// The function name in a Lambda invocation ARN
/// (`arn:aws:apigateway:R:lambda:path/2015-03-31/functions/arn:aws:lambda:R:A:function:NAME[:QUALIFIER]/invocations`),
/// or a bare function ARN.
fn lambda_function_name(uri: &str) -> Option<&str> {
    let arn = match uri.find("/functions/") {
        Some(i) => uri[i + "/functions/".len()..].strip_suffix("/invocations")?,
        None => uri,
    };
    let after = &arn[arn.find(":function:")? + ":function:".len()..];
    let name = after.split(':').next()?;
    (!name.is_empty()).then_some(name)
}

fn str_field<'v>(
    cx: &mut Cx<'_>,
    path: &DocPath,
    obj: &'v Map<String, Value>,
    key: &str,
) -> Option<&'v str> {
    match obj.get(key)? {
        Value::String(s) => Some(s),
        _ => {
            cx.error(&path.key(key), "must be a string");
            None
        }
    }
}

fn parse_integration(
    cx: &mut Cx<'_>,
    path: &DocPath,
    resource: &str,
    value: &Value,
) -> Option<Integration> {
    let Some(obj) = value.as_object() else {
        cx.error(path, "must be a mapping");
        return None;
    };
    let errors_before = cx.report.errors().count();
    for key in obj.keys() {
        let kpath = path.key(key);
        match key.as_str() {
            "type"
            | "uri"
            | "httpMethod"
            | "requestParameters"
            | "requestTemplates"
            | "responses"
            | "timeoutInMillis"
            | "passthroughBehavior"
            | "cacheKeyParameters"
            | "cacheNamespace"
            | "description"
            | "connectionType" => {}
            "contentHandling" => cx.warn(
                &kpath,
                "contentHandling has no effect yet: bodies pass through as bytes",
            ),
            "credentials" => cx.warn(
                &kpath,
                "credentials (IAM roles) do not apply to a self-hosted gateway and are ignored",
            ),
            "tlsConfig" => cx.warn(
                &kpath,
                "tlsConfig is ignored: upstream certificates are always verified",
            ),
            "payloadFormatVersion" => {}
            "integrationSubtype" | "connectionId" => {
                cx.error(&kpath, format!("{key} is not supported yet"))
            }
            _ => cx.error(
                &kpath,
                format!("{key} is not a field of x-amazon-apigateway-integration"),
            ),
        }
    }
    let kind = match str_field(cx, path, obj, "type")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("http_proxy") => IntegrationKind::HttpProxy,
        Some("http") => IntegrationKind::Http,
        Some("mock") => IntegrationKind::Mock,
        Some("aws_proxy") => IntegrationKind::Function,
        Some("aws") => {
            cx.error(
                &path.key("type"),
                "integration type aws (AWS service actions) is not supported",
            );
            return None;
        }
        Some(t) => {
            cx.error(
                &path.key("type"),
                format!(
                    "unknown integration type {t:?} (expected http_proxy, http, mock or aws_proxy)"
                ),
            );
            return None;
        }
        None => {
            cx.error(path, "the integration has no `type`");
            return None;
        }
    };
    let is_http = matches!(kind, IntegrationKind::Http | IntegrationKind::HttpProxy);
    if let Some(ct) = str_field(cx, path, obj, "connectionType")
        && !ct.eq_ignore_ascii_case("INTERNET")
    {
        cx.error(
            &path.key("connectionType"),
            format!("connectionType {ct} is not supported; only INTERNET is"),
        );
    }

    let timeout_ms = match obj.get("timeoutInMillis") {
        None => TIMEOUT_MAX_MS,
        Some(v) => match v.as_u64() {
            Some(ms) if (TIMEOUT_MIN_MS..=TIMEOUT_MAX_MS).contains(&ms) => ms,
            _ => {
                cx.error(
                    &path.key("timeoutInMillis"),
                    format!("must be an integer between {TIMEOUT_MIN_MS} and {TIMEOUT_MAX_MS} milliseconds, got {v}"),
                );
                TIMEOUT_MAX_MS
            }
        },
    };

    let http_method = match str_field(cx, path, obj, "httpMethod") {
        Some(m) => {
            let m = m.to_ascii_uppercase();
            if m == "ANY" {
                None
            } else if METHODS.contains(&m.to_ascii_lowercase().as_str()) {
                Some(m)
            } else {
                cx.error(
                    &path.key("httpMethod"),
                    format!("{m} is not an HTTP method"),
                );
                None
            }
        }
        None if is_http => {
            cx.error(path, "Enumeration value for HttpMethod must be non-empty");
            None
        }
        None => None,
    };
    let (function, payload_format) = if kind == IntegrationKind::Function {
        function_target(cx, path, obj)
    } else {
        (None, PayloadFormat::V1)
    };

    let params = path_params(resource);
    let mut request_parameters = Vec::new();
    if let Some(rp) = obj.get("requestParameters") {
        let rpath = path.key("requestParameters");
        match rp.as_object() {
            Some(map) => {
                for (target, source) in map {
                    let tpath = rpath.key(target);
                    let target = ParamTarget::parse(target);
                    let source = match source.as_str() {
                        Some(s) => ParamSource::parse(s, Side::Request),
                        None => Err("must be a string".to_owned()),
                    };
                    match (target, source) {
                        (Ok(t), Ok(s)) => {
                            if let ParamSource::Path(p) = &s
                                && !params.contains(&p.as_str())
                            {
                                cx.error(
                                    &tpath,
                                    format!("the resource {resource} has no path parameter {p}"),
                                );
                            }
                            request_parameters.push((t, s));
                        }
                        (Err(e), _) | (_, Err(e)) => cx.error(&tpath, e),
                    }
                }
            }
            None => cx.error(&rpath, "must be a mapping"),
        }
    }

    let uri = match str_field(cx, path, obj, "uri") {
        Some(u) if is_http => match Template::parse_uri(u) {
            Ok(t) => {
                let upath = path.key("uri");
                let lower = u.to_ascii_lowercase();
                if !lower.starts_with("http://") && !lower.starts_with("https://") {
                    cx.error(
                        &upath,
                        format!("{u}: an HTTP integration URI must start with http:// or https://"),
                    );
                }
                for var in t.vars() {
                    if let Var::PathParam(p) = var {
                        let mapped = request_parameters
                            .iter()
                            .any(|(t, _)| matches!(t, ParamTarget::Path(n) if n == p));
                        if !mapped && !params.contains(&p.as_str()) {
                            cx.error(
                                &upath,
                                format!("{{{p}}} is neither mapped by integration.request.path.{p} nor a path parameter of {resource}"),
                            );
                        }
                    }
                }
                Some(t)
            }
            Err(e) => {
                cx.error(&path.key("uri"), e);
                None
            }
        },
        Some(_) => None,
        None if is_http => {
            cx.error(path, "an HTTP integration needs a `uri`");
            None
        }
        None => None,
    };

    let mut request_templates = BTreeMap::new();
    if let Some(rt) = obj.get("requestTemplates") {
        let rpath = path.key("requestTemplates");
        match (rt.as_object(), kind) {
            (Some(map), IntegrationKind::Mock) => {
                for (ct, tmpl) in map {
                    match tmpl.as_str() {
                        Some(s) => {
                            mock_template_check(cx, &rpath.key(ct), s);
                            request_templates
                                .insert(ct.to_ascii_lowercase(), Template::parse_text(s));
                        }
                        None => cx.error(&rpath.key(ct), "a template must be a string"),
                    }
                }
            }
            (Some(map), _) if map.is_empty() => {}
            (Some(_), _) => cx.error(
                &rpath,
                "request mapping templates (VTL) for HTTP integrations are not supported yet",
            ),
            (None, _) => cx.error(&rpath, "must be a mapping"),
        }
    }
    if let Some(pb) = str_field(cx, path, obj, "passthroughBehavior") {
        let pb = pb.to_ascii_lowercase();
        if !["when_no_match", "when_no_templates", "never"].contains(&pb.as_str()) {
            cx.error(
                &path.key("passthroughBehavior"),
                format!("{pb} is not when_no_match, when_no_templates or never"),
            );
        }
    }

    let mut responses = Vec::new();
    if let Some(r) = obj.get("responses") {
        let rpath = path.key("responses");
        match r.as_object() {
            Some(_) if kind == IntegrationKind::HttpProxy => cx.warn(
                &rpath,
                "integration responses are ignored for http_proxy integrations, as in API Gateway",
            ),
            Some(map) => {
                for (selector, resp) in map {
                    if let Some(r) = integration_response(cx, &rpath.key(selector), selector, resp)
                    {
                        responses.push(r);
                    }
                }
                // `default` is tried last, whatever its place in the document.
                responses.sort_by_key(|r| r.pattern.is_none());
            }
            None => cx.error(&rpath, "must be a mapping"),
        }
    }

    let cache_key_parameters = cache_key_parameters(cx, path, obj);
    let cache_namespace = str_field(cx, path, obj, "cacheNamespace").map(str::to_owned);

    if cx.report.errors().count() > errors_before {
        return None;
    }
    Some(Integration {
        kind,
        uri,
        http_method,
        timeout: Duration::from_millis(timeout_ms),
        request_parameters,
        request_templates,
        responses,
        function,
        payload_format,
        cache_key_parameters,
        cache_namespace,
    })
}

/// `cacheKeyParameters`: method request parameters (path, query string, header) whose values
/// split the response cache.
fn cache_key_parameters(
    cx: &mut Cx<'_>,
    path: &DocPath,
    obj: &Map<String, Value>,
) -> Vec<ParamSource> {
    let Some(value) = obj.get("cacheKeyParameters") else {
        return Vec::new();
    };
    let kpath = path.key("cacheKeyParameters");
    let Some(list) = value.as_array() else {
        cx.error(&kpath, "must be a list of method.request.* parameters");
        return Vec::new();
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let ipath = kpath.index(i);
        let Some(expr) = item.as_str() else {
            cx.error(&ipath, "must be a string");
            continue;
        };
        match ParamSource::parse(expr, Side::Request) {
            Ok(
                source @ (ParamSource::Path(_)
                | ParamSource::Query(_)
                | ParamSource::MultiQuery(_)
                | ParamSource::Header(_)
                | ParamSource::MultiHeader(_)),
            ) => out.push(source),
            Ok(_) => cx.error(
                &ipath,
                format!("{expr}: a cache key parameter must be a method.request.path, querystring or header parameter"),
            ),
            Err(e) => cx.error(&ipath, e),
        }
    }
    out
}

/// An `aws_proxy` integration: the function named by the Lambda ARN in `uri`, and the payload
/// format.
fn function_target(
    cx: &mut Cx<'_>,
    path: &DocPath,
    obj: &Map<String, Value>,
) -> (Option<Template>, PayloadFormat) {
    let format = match obj.get("payloadFormatVersion").and_then(Value::as_str) {
        None | Some("1.0") => PayloadFormat::V1,
        Some("2.0") => PayloadFormat::V2,
        Some(v) => {
            cx.error(
                &path.key("payloadFormatVersion"),
                format!("{v} is not 1.0 or 2.0"),
            );
            PayloadFormat::V1
        }
    };
    if let Some(m) = obj.get("httpMethod").and_then(Value::as_str)
        && !m.eq_ignore_ascii_case("POST")
    {
        cx.warn(
            &path.key("httpMethod"),
            "Lambda integrations are invoked with POST; the method is ignored",
        );
    }
    let Some(uri) = obj.get("uri").and_then(Value::as_str) else {
        cx.error(
            path,
            "an aws_proxy integration needs a `uri` naming a Lambda function",
        );
        return (None, format);
    };
    let Some(name) = lambda_function_name(uri) else {
        cx.error(&path.key("uri"), format!("{uri} is not a Lambda invocation URI (arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/arn:aws:lambda:REGION:ACCOUNT:function:NAME/invocations)"));
        return (None, format);
    };
    match Template::parse_uri(name) {
        Ok(t) if t.vars().all(|v| matches!(v, Var::StageVariable(_))) => (Some(t), format),
        _ => {
            cx.error(
                &path.key("uri"),
                format!("function name {name:?}: only ${{stageVariables.NAME}} may be substituted"),
            );
            (None, format)
        }
    }
}

/// A MOCK request template without variables can be checked now: it must yield a status code.
fn mock_template_check(cx: &mut Cx<'_>, path: &DocPath, text: &str) {
    if text.contains('$') || text.contains('#') || text.trim().is_empty() {
        return;
    }
    let status = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("statusCode").cloned());
    match status {
        Some(Value::Number(n)) if n.as_u64().is_some_and(|s| (100..=599).contains(&s)) => {}
        _ => cx.error(path, "a MOCK request template must be JSON with an integer \"statusCode\" between 100 and 599"),
    }
}

fn integration_response(
    cx: &mut Cx<'_>,
    path: &DocPath,
    selector: &str,
    value: &Value,
) -> Option<IntegrationResponse> {
    let Some(obj) = value.as_object() else {
        cx.error(path, "must be a mapping");
        return None;
    };
    let pattern = if selector == "default" {
        None
    } else {
        match regex::Regex::new(&format!("^(?:{selector})$")) {
            Ok(r) => Some(r),
            Err(e) => {
                cx.error(path, format!("invalid selection pattern: {e}"));
                return None;
            }
        }
    };
    let status = status_code(cx, &path.key("statusCode"), obj.get("statusCode"))?;
    let mut headers = Vec::new();
    if let Some(rp) = obj.get("responseParameters") {
        let ppath = path.key("responseParameters");
        for (target, source) in rp.as_object().into_iter().flatten() {
            let tpath = ppath.key(target);
            let Some(name) = target.strip_prefix("method.response.header.") else {
                cx.error(
                    &tpath,
                    "a response mapping target must be method.response.header.NAME",
                );
                continue;
            };
            if !http_header_name_ok(name) {
                cx.error(&tpath, format!("{name} is not a valid HTTP header name"));
                continue;
            }
            match source
                .as_str()
                .map(|s| ParamSource::parse(s, Side::Response))
            {
                Some(Ok(s)) => headers.push((name.to_owned(), s)),
                Some(Err(e)) => cx.error(&tpath, e),
                None => cx.error(&tpath, "must be a string"),
            }
        }
    }
    let templates = text_templates(
        cx,
        &path.key("responseTemplates"),
        obj.get("responseTemplates"),
    );
    for key in obj.keys() {
        if ![
            "statusCode",
            "responseParameters",
            "responseTemplates",
            "contentHandling",
        ]
        .contains(&key.as_str())
        {
            cx.error(
                &path.key(key),
                format!("{key} is not a field of an integration response"),
            );
        }
    }
    Some(IntegrationResponse {
        pattern,
        status,
        headers,
        templates,
    })
}

fn status_code(cx: &mut Cx<'_>, path: &DocPath, value: Option<&Value>) -> Option<u16> {
    let parsed = match value {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    match parsed {
        Some(s) if (100..=599).contains(&s) => u16::try_from(s).ok(),
        _ => {
            cx.error(path, "statusCode must be a status code between 100 and 599");
            None
        }
    }
}

fn text_templates(
    cx: &mut Cx<'_>,
    path: &DocPath,
    value: Option<&Value>,
) -> BTreeMap<String, Template> {
    let mut out = BTreeMap::new();
    let Some(value) = value else { return out };
    let Some(map) = value.as_object() else {
        cx.error(path, "must be a mapping of content type to template");
        return out;
    };
    for (ct, t) in map {
        match t.as_str() {
            Some(s) => {
                out.insert(ct.to_ascii_lowercase(), Template::parse_text(s));
            }
            None => cx.error(&path.key(ct), "a template must be a string"),
        }
    }
    out
}

fn gateway_responses(cx: &mut Cx<'_>, path: &DocPath, value: &Value) -> GatewayResponses {
    let mut out = GatewayResponses::default();
    let Some(map) = value.as_object() else {
        cx.error(path, "must be a mapping of response type to response");
        return out;
    };
    for (name, resp) in map {
        let rpath = path.key(name);
        let Some(ty) = ResponseType::from_name(name) else {
            cx.error(&rpath, format!("{name} is not a gateway response type"));
            continue;
        };
        if !ty.customisable() {
            cx.error(
                &rpath,
                format!("{name} cannot be customised (as in API Gateway)"),
            );
            continue;
        }
        let Some(obj) = resp.as_object() else {
            cx.error(&rpath, "must be a mapping");
            continue;
        };
        let mut custom = GatewayResponse::default();
        if obj.contains_key("statusCode") {
            custom.status = status_code(cx, &rpath.key("statusCode"), obj.get("statusCode"));
        }
        if let Some(rp) = obj.get("responseParameters") {
            let ppath = rpath.key("responseParameters");
            for (target, source) in rp.as_object().into_iter().flatten() {
                let tpath = ppath.key(target);
                let Some(header) = target.strip_prefix("gatewayresponse.header.") else {
                    cx.error(
                        &tpath,
                        "a gateway response mapping target must be gatewayresponse.header.NAME",
                    );
                    continue;
                };
                if !http_header_name_ok(header) {
                    cx.error(&tpath, format!("{header} is not a valid HTTP header name"));
                    continue;
                }
                match source
                    .as_str()
                    .map(|s| ParamSource::parse(s, Side::GatewayResponse))
                {
                    Some(Ok(s)) => custom.headers.push((header.to_owned(), s)),
                    Some(Err(e)) => cx.error(&tpath, e),
                    None => cx.error(&tpath, "must be a string"),
                }
            }
        }
        custom.templates = text_templates(
            cx,
            &rpath.key("responseTemplates"),
            obj.get("responseTemplates"),
        );
        for key in obj.keys() {
            if ![
                "statusCode",
                "responseParameters",
                "responseTemplates",
                "defaultResponse",
            ]
            .contains(&key.as_str())
            {
                cx.error(
                    &rpath.key(key),
                    format!("{key} is not a field of a gateway response"),
                );
            }
        }
        out.custom.insert(ty, custom);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(yaml: &str) -> (Imported, Report) {
        let doc = crate::doc::parse("api.yaml", yaml).unwrap();
        let mut report = Report::default();
        let imported = import("api.yaml", &doc, &mut report);
        (imported, report)
    }

    #[test]
    fn imports_mock_and_proxy() {
        let (api, report) = run(r#"
openapi: 3.0.1
paths:
  /pets/{id}:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://example.com/pets/{id}
  /health:
    x-amazon-apigateway-any-method:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '{"statusCode": 200}'
        responses:
          default:
            statusCode: 200
"#);
        assert!(!report.has_errors(), "{report}");
        assert_eq!(api.routes.len(), 2);
        assert_eq!(api.routes[0].method, "GET");
        assert_eq!(api.routes[1].method, "ANY");
    }

    #[test]
    fn reports_every_error_with_its_path() {
        let (_, report) = run(r#"
openapi: 3.0.1
x-amazon-apigateway-policy: {}
paths:
  /pets/{id}:
    get:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: http://example.com/{petId}
        timeoutInMillis: 10
  /pets/{name}:
    get:
      x-amazon-apigateway-integration:
        type: lambda
"#);
        let text = report.to_string();
        assert!(text.contains("api.yaml: x-amazon-apigateway-policy: x-amazon-apigateway-policy is not supported yet"), "{text}");
        assert!(
            text.contains("paths./pets/{id}.get.x-amazon-apigateway-integration.uri: {petId}"),
            "{text}"
        );
        assert!(
            text.contains(
                "paths./pets/{id}.get.x-amazon-apigateway-integration.timeoutInMillis: must be"
            ),
            "{text}"
        );
        assert!(text.contains("only one is allowed"), "{text}");
        assert!(text.contains("unknown integration type"), "{text}");
    }

    #[test]
    fn imports_lambda_functions_and_authorizers() {
        let (api, report) = run(r#"
openapi: 3.0.1
components:
  securitySchemes:
    tokenAuth:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer:
        type: token
        authorizerUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:header-auth:live/invocations
        identitySource: method.request.header.Authorization
        identityValidationExpression: "Bearer .*"
        authorizerResultTtlInSeconds: 60
paths:
  /fn:
    post:
      security: [{tokenAuth: []}]
      x-portico-mapper: enrich
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        payloadFormatVersion: "2.0"
        uri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:${stageVariables.fn}/invocations
"#);
        assert!(!report.has_errors(), "{report}");
        let route = &api.routes[0];
        let auth = route.authorizer.as_ref().unwrap();
        assert_eq!(auth.plugin, "header-auth");
        assert!(auth.token);
        assert_eq!(auth.ttl, Duration::from_secs(60));
        assert!(auth.validation.as_ref().unwrap().is_match("Bearer abc"));
        assert_eq!(route.mapper.as_deref(), Some("enrich"));
        assert_eq!(route.integration.kind, IntegrationKind::Function);
        assert_eq!(route.integration.payload_format, PayloadFormat::V2);
        assert_eq!(
            route.integration.function.as_ref().unwrap().parts,
            vec![crate::template::Part::Var(Var::StageVariable("fn".into()))]
        );
    }

    #[test]
    fn lambda_names() {
        assert_eq!(
            lambda_function_name(
                "arn:aws:apigateway:r:lambda:path/2015-03-31/functions/arn:aws:lambda:r:1:function:echo/invocations"
            ),
            Some("echo")
        );
        assert_eq!(
            lambda_function_name("arn:aws:lambda:r:1:function:echo:prod"),
            Some("echo")
        );
        assert_eq!(lambda_function_name("http://example.com"), None);
    }
}

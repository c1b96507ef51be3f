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
use crate::model::{Integration, IntegrationKind, IntegrationResponse, Route};
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
    "x-amazon-apigateway-api-key-source",
    "x-amazon-apigateway-auth",
    "x-amazon-apigateway-authorizer",
    "x-amazon-apigateway-authtype",
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
        } else if key.starts_with("x-amazon-apigateway-") {
            cx.extension(&path, key);
        }
    }
    for defs in [
        top.get("securityDefinitions")
            .map(|v| (root.key("securityDefinitions"), v)),
        top.get("components")
            .and_then(|c| c.get("securitySchemes"))
            .map(|v| (root.key("components").key("securitySchemes"), v)),
    ]
    .into_iter()
    .flatten()
    {
        if let Some(schemes) = defs.1.as_object() {
            for (name, scheme) in schemes {
                for key in scheme.as_object().into_iter().flat_map(Map::keys) {
                    if key.starts_with("x-amazon-apigateway-") {
                        cx.extension(&defs.0.key(name).key(key), key);
                    }
                }
            }
        }
    }

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
            if let Some(route) = operation(&mut cx, &opath, resource, method, op) {
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
) -> Option<Route> {
    let Some(op) = op.as_object() else {
        cx.error(path, "an operation must be a mapping");
        return None;
    };
    let mut integration = None;
    for (key, value) in op {
        let kpath = path.key(key);
        if key == "x-amazon-apigateway-integration" {
            integration = parse_integration(cx, &kpath, resource, value);
        } else if key.starts_with("x-amazon-apigateway-") {
            cx.extension(&kpath, key);
        } else if key == "security" && value.as_array().is_some_and(|a| !a.is_empty()) {
            cx.error(&kpath, "method security (authorizers, API keys) is not supported yet; remove it or the method would be served unprotected");
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
    })
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
            "payloadFormatVersion" | "integrationSubtype" | "connectionId" => {
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
        Some(t @ ("aws" | "aws_proxy")) => {
            cx.error(
                &path.key("type"),
                format!("integration type {t} is not supported yet"),
            );
            return None;
        }
        Some(t) => {
            cx.error(
                &path.key("type"),
                format!("unknown integration type {t:?} (expected http_proxy, http or mock)"),
            );
            return None;
        }
        None => {
            cx.error(path, "the integration has no `type`");
            return None;
        }
    };
    let is_http = kind != IntegrationKind::Mock;
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
    })
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
}

//! `x-amazon-apigateway-integration`: what serves a method (`http_proxy`, `http`, `mock` or
//! `aws_proxy`), read into an [`Integration`]: upstream URI and method, timeout,
//! `requestParameters`, `requestTemplates` (VTL, parsed here), `passthroughBehavior`,
//! `contentHandling`, integration `responses`, and the cache key. `aws` integrations are
//! accepted when they name a Lambda function (served by a function plugin, non-proxy).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::METHODS;
use super::context::{Cx, str_field};
use super::lambda::function_target;
use super::resource::path_params;
use super::responses::integration_response;
use crate::diag::DocPath;
use crate::http_mapping::{self, RequestMapping, ResponseMapping, Source, Target, is_http_api_key};
use crate::mapping::{ParamSource, ParamTarget, Side};
use crate::model::{Integration, IntegrationKind, PayloadFormat, TransferMode};
use crate::template::{Template, Var};
use crate::transform::{ContentHandling, MappingTemplate, Passthrough, Templates};

/// Default and bounds of `timeoutInMillis`.
const TIMEOUT_MIN_MS: u64 = 50;
const TIMEOUT_MAX_MS: u64 = 29_000;
/// Largest `timeoutInMillis` of a `STREAM` integration (AWS: 15 minutes).
const STREAM_TIMEOUT_MAX_MS: u64 = 900_000;

/// Reads the integration of a method on `resource`; `None` when anything was wrong (reported).
pub(super) fn parse_integration(
    cx: &mut Cx<'_>,
    path: &DocPath,
    resource: &str,
    value: &Value,
) -> Option<Integration> {
    let Some(obj) = value.as_object() else {
        cx.error(path, "must be a mapping");
        return None;
    };
    let errors_before = cx.error_count();
    for key in obj.keys() {
        let kpath = path.key(key);
        match key.as_str() {
            "type"
            | "uri"
            | "httpMethod"
            | "requestParameters"
            | "responseParameters"
            | "requestTemplates"
            | "responses"
            | "timeoutInMillis"
            | "passthroughBehavior"
            | "cacheKeyParameters"
            | "cacheNamespace"
            | "description"
            | "connectionType"
            | "responseTransferMode" => {}
            "contentHandling" => {}
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
        Some("aws")
            if str_field(cx, path, obj, "uri")
                .is_some_and(|u| super::lambda::lambda_function_name(u).is_some()) =>
        {
            IntegrationKind::FunctionMapped
        }
        Some("aws") => {
            cx.error(
                &path.key("type"),
                "integration type aws is supported for Lambda functions only (a uri naming arn:aws:lambda:…:function:NAME); other AWS service actions are not",
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

    let transfer_mode = transfer_mode(cx, path, obj, kind);
    let timeout_max = match transfer_mode {
        TransferMode::Stream => STREAM_TIMEOUT_MAX_MS,
        TransferMode::Buffered => TIMEOUT_MAX_MS,
    };
    let timeout_ms = match obj.get("timeoutInMillis") {
        None => TIMEOUT_MAX_MS,
        Some(v) => match v.as_u64() {
            Some(ms) if (TIMEOUT_MIN_MS..=timeout_max).contains(&ms) => ms,
            _ => {
                let stream = if transfer_mode == TransferMode::Stream {
                    ""
                } else {
                    " (up to 900000 with responseTransferMode STREAM)"
                };
                cx.error(
                    &path.key("timeoutInMillis"),
                    format!("must be an integer between {TIMEOUT_MIN_MS} and {timeout_max} milliseconds{stream}, got {v}"),
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
    let (function, payload_format) = if matches!(
        kind,
        IntegrationKind::Function | IntegrationKind::FunctionMapped
    ) {
        function_target(cx, path, obj)
    } else {
        (None, PayloadFormat::V1)
    };

    let params = path_params(resource);
    let http_api_style = obj
        .get("requestParameters")
        .and_then(Value::as_object)
        .is_some_and(|m| m.keys().any(|k| is_http_api_key(k)));
    let (request_parameters, http_request_mapping) = if http_api_style {
        let m = http_request_mapping(cx, path, obj, kind, &params, resource);
        (Vec::new(), m)
    } else {
        (request_parameters(cx, path, obj, resource, &params), None)
    };
    let http_response_mapping = http_response_mapping(cx, path, obj, kind);
    if transfer_mode == TransferMode::Stream {
        for (status, m) in &http_response_mapping {
            if m.reads_body() {
                cx.error(
                    &path.key("responseParameters").key(&status.to_string()),
                    "a mapping that reads the response body ($response.body) needs the whole body, which responseTransferMode STREAM does not allow",
                );
            }
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

    let proxy = matches!(kind, IntegrationKind::HttpProxy | IntegrationKind::Function);
    let mut request_templates = BTreeMap::new();
    if let Some(rt) = obj.get("requestTemplates") {
        let rpath = path.key("requestTemplates");
        match rt.as_object() {
            Some(map) if proxy && !map.is_empty() => cx.warn(
                &rpath,
                "request templates are ignored by proxy integrations, as in API Gateway",
            ),
            Some(map) => {
                request_templates = mapping_templates(cx, &rpath, map);
                if kind == IntegrationKind::Mock {
                    for (ct, t) in map {
                        if let Some(text) = t.as_str() {
                            mock_template_check(cx, &rpath.key(ct), text);
                        }
                    }
                }
            }
            None => cx.error(&rpath, "must be a mapping"),
        }
    }
    let passthrough = match str_field(cx, path, obj, "passthroughBehavior") {
        None => Passthrough::default(),
        Some(pb) => Passthrough::parse(pb).unwrap_or_else(|| {
            cx.error(
                &path.key("passthroughBehavior"),
                format!("{pb} is not when_no_match, when_no_templates or never"),
            );
            Passthrough::default()
        }),
    };
    let content_handling = content_handling(cx, path, obj);

    let mut responses = Vec::new();
    if let Some(r) = obj.get("responses") {
        let rpath = path.key("responses");
        match r.as_object() {
            Some(map) if transfer_mode == TransferMode::Stream && !map.is_empty() => cx.error(
                &rpath,
                "integration responses (response templates and mappings) are not supported with responseTransferMode STREAM",
            ),
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

    if cx.error_count() > errors_before {
        return None;
    }
    Some(Integration {
        kind,
        uri,
        http_method,
        timeout: Duration::from_millis(timeout_ms),
        transfer_mode,
        request_parameters,
        request_templates,
        passthrough,
        content_handling,
        responses,
        function,
        payload_format,
        cache_key_parameters,
        cache_namespace,
        http_request_mapping,
        http_response_mapping,
    })
}

/// `responseTransferMode`: `BUFFERED` (default) or `STREAM`, which only `http_proxy` and
/// `aws_proxy` integrations take.
fn transfer_mode(
    cx: &mut Cx<'_>,
    path: &DocPath,
    obj: &Map<String, Value>,
    kind: IntegrationKind,
) -> TransferMode {
    let mpath = path.key("responseTransferMode");
    let Some(v) = str_field(cx, path, obj, "responseTransferMode") else {
        return TransferMode::Buffered;
    };
    if v.eq_ignore_ascii_case("BUFFERED") {
        return TransferMode::Buffered;
    }
    if !v.eq_ignore_ascii_case("STREAM") {
        cx.error(&mpath, format!("{v} is not BUFFERED or STREAM"));
        return TransferMode::Buffered;
    }
    if !matches!(kind, IntegrationKind::HttpProxy | IntegrationKind::Function) {
        cx.error(
            &mpath,
            "responseTransferMode STREAM is supported for http_proxy and aws_proxy integrations only",
        );
        return TransferMode::Buffered;
    }
    TransferMode::Stream
}

/// The integration kinds HTTP API parameter mapping applies to.
fn http_mapping_kind_ok(cx: &mut Cx<'_>, path: &DocPath, kind: IntegrationKind) -> bool {
    if matches!(kind, IntegrationKind::HttpProxy | IntegrationKind::Function) {
        return true;
    }
    cx.error(
        path,
        "HTTP API parameter mapping (append|overwrite|remove:…) applies to http_proxy and aws_proxy integrations only",
    );
    false
}

/// HTTP API `requestParameters` (`append|overwrite|remove:header|querystring.NAME`,
/// `overwrite:path`); `None` when anything was wrong (reported). A map that mixes them with
/// REST's `integration.request.*` keys is an error.
fn http_request_mapping(
    cx: &mut Cx<'_>,
    path: &DocPath,
    obj: &Map<String, Value>,
    kind: IntegrationKind,
    params: &[&str],
    resource: &str,
) -> Option<RequestMapping> {
    let rpath = path.key("requestParameters");
    let map = obj.get("requestParameters")?.as_object()?;
    if !http_mapping_kind_ok(cx, &rpath, kind) {
        return None;
    }
    let errors_before = cx.error_count();
    let mut out = RequestMapping::default();
    for (key, value) in map {
        let kpath = rpath.key(key);
        if !is_http_api_key(key) {
            cx.error(
                &kpath,
                format!("{key}: this requestParameters mixes REST (integration.request.*) and HTTP API (append|overwrite|remove:…) keys; use one style"),
            );
            continue;
        }
        let Some(value) = value.as_str() else {
            cx.error(&kpath, "must be a string");
            continue;
        };
        match http_mapping::parse_request(key, value) {
            Ok(m) => {
                for s in m.value.sources() {
                    if let Source::Param(ParamSource::Path(p)) = s
                        && !params.contains(&p.as_str())
                    {
                        cx.error(
                            &kpath,
                            format!("the route {resource} has no path parameter {p}"),
                        );
                    }
                }
                out.mappings.push(m);
            }
            Err(e) => cx.error(&kpath, e),
        }
    }
    out.sort();
    (cx.error_count() == errors_before).then_some(out)
}

/// HTTP API `responseParameters`: integration status code (200–599) → header and status code
/// mappings.
fn http_response_mapping(
    cx: &mut Cx<'_>,
    path: &DocPath,
    obj: &Map<String, Value>,
    kind: IntegrationKind,
) -> BTreeMap<u16, ResponseMapping> {
    let mut out = BTreeMap::new();
    let Some(value) = obj.get("responseParameters") else {
        return out;
    };
    let rpath = path.key("responseParameters");
    let Some(map) = value.as_object() else {
        cx.error(
            &rpath,
            "must be a mapping of integration status code to mappings",
        );
        return out;
    };
    if !http_mapping_kind_ok(cx, &rpath, kind) {
        return out;
    }
    for (status, entries) in map {
        let spath = rpath.key(status);
        let code = match http_mapping::parse_status_key(status) {
            Ok(c) => c,
            Err(e) => {
                cx.error(&spath, e);
                continue;
            }
        };
        let Some(entries) = entries.as_object() else {
            cx.error(&spath, "must be a mapping of append|overwrite|remove:header.NAME or overwrite:statuscode to a value");
            continue;
        };
        let mut mapping = ResponseMapping::default();
        for (key, value) in entries {
            let kpath = spath.key(key);
            let Some(value) = value.as_str() else {
                cx.error(&kpath, "must be a string");
                continue;
            };
            match http_mapping::parse_response(key, value) {
                Ok(m) if m.target == Target::StatusCode => {
                    mapping.status = http_mapping::status_value(value).ok();
                }
                Ok(m) => mapping.mappings.push(m),
                Err(e) => cx.error(&kpath, e),
            }
        }
        mapping.sort();
        out.insert(code, mapping);
    }
    out
}

/// Mapping templates by content type, each parsed now: a template that does not parse is an
/// error at its content type, with the line and column.
pub(super) fn mapping_templates(
    cx: &mut Cx<'_>,
    path: &DocPath,
    map: &Map<String, Value>,
) -> Templates {
    let mut out = Templates::new();
    for (ct, t) in map {
        let tpath = path.key(ct);
        match t.as_str().map(MappingTemplate::parse) {
            Some(Ok(parsed)) => {
                out.insert(ct.to_ascii_lowercase(), parsed);
            }
            Some(Err(e)) => cx.error(&tpath, format!("the template does not parse: {e}")),
            None => cx.error(&tpath, "a template must be a string"),
        }
    }
    out
}

/// `contentHandling`: `CONVERT_TO_BINARY` or `CONVERT_TO_TEXT`.
pub(super) fn content_handling(
    cx: &mut Cx<'_>,
    path: &DocPath,
    obj: &Map<String, Value>,
) -> Option<ContentHandling> {
    let v = str_field(cx, path, obj, "contentHandling")?;
    let parsed = ContentHandling::parse(v);
    if parsed.is_none() {
        cx.error(
            &path.key("contentHandling"),
            format!("{v} is not CONVERT_TO_BINARY or CONVERT_TO_TEXT"),
        );
    }
    parsed
}

/// `requestParameters`: integration request target ← method request source. A path parameter
/// source must be one `resource` declares.
fn request_parameters(
    cx: &mut Cx<'_>,
    path: &DocPath,
    obj: &Map<String, Value>,
    resource: &str,
    params: &[&str],
) -> Vec<(ParamTarget, ParamSource)> {
    let mut out = Vec::new();
    let Some(rp) = obj.get("requestParameters") else {
        return out;
    };
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
                        out.push((t, s));
                    }
                    (Err(e), _) | (_, Err(e)) => cx.error(&tpath, e),
                }
            }
        }
        None => cx.error(&rpath, "must be a mapping"),
    }
    out
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

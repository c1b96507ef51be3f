//! Responses: `x-amazon-apigateway-gateway-responses` (the gateway's own error responses) and
//! an integration's `responses`, which are built from the same parts: a `statusCode`,
//! `responseParameters` that set headers, and `responseTemplates` per content type.

use std::collections::BTreeMap;

use serde_json::Value;

use super::context::Cx;
use crate::diag::DocPath;
use crate::mapping::{ParamSource, Side, http_header_name_ok};
use crate::model::IntegrationResponse;
use crate::responses::{GatewayResponse, GatewayResponses, ResponseType};
use crate::template::Template;

/// `x-amazon-apigateway-gateway-responses`: customisations by response type.
pub(super) fn gateway_responses(
    cx: &mut Cx<'_>,
    path: &DocPath,
    value: &Value,
) -> GatewayResponses {
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
        custom.headers = response_parameters(
            cx,
            &rpath.key("responseParameters"),
            obj.get("responseParameters"),
            "gatewayresponse.header.",
            Side::GatewayResponse,
        );
        custom.templates = text_templates(
            cx,
            &rpath.key("responseTemplates"),
            obj.get("responseTemplates"),
        );
        unknown_fields(
            cx,
            &rpath,
            obj,
            &[
                "statusCode",
                "responseParameters",
                "responseTemplates",
                "defaultResponse",
            ],
            "a gateway response",
        );
        out.custom.insert(ty, custom);
    }
    out
}

/// One entry of an integration's `responses`, keyed by its selection pattern (`default` matches
/// anything); `None` when it cannot be used (reported).
pub(super) fn integration_response(
    cx: &mut Cx<'_>,
    path: &DocPath,
    selector: &str,
    value: &Value,
) -> Option<IntegrationResponse> {
    let Some(obj) = value.as_object() else {
        cx.error(path, "must be a mapping");
        return None;
    };
    // `default` and the empty pattern are the default response.
    let pattern = if selector == "default" || selector.is_empty() {
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
    let headers = response_parameters(
        cx,
        &path.key("responseParameters"),
        obj.get("responseParameters"),
        "method.response.header.",
        Side::Response,
    );
    let templates = match obj.get("responseTemplates") {
        None => Default::default(),
        Some(Value::Object(map)) => {
            super::integration::mapping_templates(cx, &path.key("responseTemplates"), map)
        }
        Some(_) => {
            cx.error(
                &path.key("responseTemplates"),
                "must be a mapping of content type to template",
            );
            Default::default()
        }
    };
    let content_handling = super::integration::content_handling(cx, path, obj);
    unknown_fields(
        cx,
        path,
        obj,
        &[
            "statusCode",
            "responseParameters",
            "responseTemplates",
            "contentHandling",
        ],
        "an integration response",
    );
    Some(IntegrationResponse {
        pattern,
        status,
        headers,
        templates,
        content_handling,
    })
}

/// `responseParameters` of a gateway response (`gatewayresponse.header.NAME`, [`Side::GatewayResponse`])
/// or of an integration response (`method.response.header.NAME`, [`Side::Response`]): the
/// headers to set, each with the source of its value.
fn response_parameters(
    cx: &mut Cx<'_>,
    path: &DocPath,
    value: Option<&Value>,
    prefix: &str,
    side: Side,
) -> Vec<(String, ParamSource)> {
    let mut headers = Vec::new();
    let Some(value) = value else { return headers };
    for (target, source) in value.as_object().into_iter().flatten() {
        let tpath = path.key(target);
        let Some(name) = target.strip_prefix(prefix) else {
            cx.error(
                &tpath,
                format!("a responseParameters target must be {prefix}NAME"),
            );
            continue;
        };
        if !http_header_name_ok(name) {
            cx.error(&tpath, format!("{name} is not a valid HTTP header name"));
            continue;
        }
        match source.as_str().map(|s| ParamSource::parse(s, side)) {
            Some(Ok(s)) => headers.push((name.to_owned(), s)),
            Some(Err(e)) => cx.error(&tpath, e),
            None => cx.error(&tpath, "must be a string"),
        }
    }
    headers
}

/// A `statusCode` from 100 to 599, as a number or a string.
/// Reports every key of `obj` not in `known`: `KEY is not a field of WHAT`.
fn unknown_fields(
    cx: &mut Cx<'_>,
    path: &DocPath,
    obj: &serde_json::Map<String, Value>,
    known: &[&str],
    what: &str,
) {
    for key in obj.keys() {
        if !known.contains(&key.as_str()) {
            cx.error(&path.key(key), format!("{key} is not a field of {what}"));
        }
    }
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

/// `responseTemplates`: content type (lowercased) → template.
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::diag::Report;

    #[test]
    fn response_parameters_read_the_same_on_both_sides() {
        let mut report = Report::default();
        let mut cx = Cx::new("api.yaml", &mut report);
        let value = json!({
            "method.response.header.x-a": "'static'",
            "method.response.header.x-b": "integration.response.header.x-up",
            "gatewayresponse.header.x-c": "'wrong side'",
            "method.response.header.bad name": "'x'",
            "method.response.header.x-d": 7,
        });
        let headers = response_parameters(
            &mut cx,
            &DocPath::root().key("responseParameters"),
            Some(&value),
            "method.response.header.",
            Side::Response,
        );
        assert_eq!(
            headers,
            vec![
                ("x-a".to_owned(), ParamSource::Static("static".into())),
                ("x-b".to_owned(), ParamSource::ResponseHeader("x-up".into())),
            ]
        );
        let gateway = json!({
            "gatewayresponse.header.x-c": "method.request.header.x-caller",
            "method.response.header.x-a": "'x'",
        });
        let headers = response_parameters(
            &mut cx,
            &DocPath::root().key("gw"),
            Some(&gateway),
            "gatewayresponse.header.",
            Side::GatewayResponse,
        );
        assert_eq!(
            headers,
            vec![("x-c".to_owned(), ParamSource::Header("x-caller".into()))]
        );
        let text = report.to_string();
        assert!(
            text.contains("a responseParameters target must be method.response.header.NAME"),
            "{text}"
        );
        assert!(
            text.contains("a responseParameters target must be gatewayresponse.header.NAME"),
            "{text}"
        );
        assert!(
            text.contains("bad name is not a valid HTTP header name"),
            "{text}"
        );
        assert!(text.contains("must be a string"), "{text}");
        assert_eq!(report.errors().count(), 4, "{text}");
    }
}

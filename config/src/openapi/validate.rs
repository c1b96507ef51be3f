//! Request validation in a document: `x-amazon-apigateway-request-validators` (the API's
//! validators), `x-amazon-apigateway-request-validator` (the API's default, or a method's
//! own), a method's `parameters` marked `required`, its body models (OpenAPI 3 `requestBody`,
//! Swagger 2 `in: body`), and the models themselves (`components.schemas` / `definitions`).

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use super::context::Cx;
use crate::diag::DocPath;
use crate::validation::{MethodValidation, ParamLocation, RequestValidator, RequiredParam};

/// The validators an API declares, by name.
pub(super) type Validators = HashMap<String, RequestValidator>;

/// `x-amazon-apigateway-request-validators`.
pub(super) fn validators(cx: &mut Cx<'_>, path: &DocPath, value: &Value) -> Validators {
    let mut out = Validators::new();
    let Some(map) = value.as_object() else {
        cx.error(path, "must be a mapping of validator name to validator");
        return out;
    };
    for (name, v) in map {
        let vpath = path.key(name);
        let Some(obj) = v.as_object() else {
            cx.error(&vpath, "must be a mapping");
            continue;
        };
        let mut flag = |key: &str| match obj.get(key) {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                cx.error(&vpath.key(key), "must be true or false");
                false
            }
        };
        let body = flag("validateRequestBody");
        let params = flag("validateRequestParameters");
        for key in obj.keys() {
            if key != "validateRequestBody" && key != "validateRequestParameters" {
                cx.error(
                    &vpath.key(key),
                    format!("{key} is not a field of a request validator (validateRequestBody, validateRequestParameters)"),
                );
            }
        }
        out.insert(
            name.clone(),
            RequestValidator {
                name: name.clone(),
                body,
                params,
            },
        );
    }
    out
}

/// A validator name: must be one the API declares.
pub(super) fn validator_ref(
    cx: &mut Cx<'_>,
    path: &DocPath,
    value: &Value,
    validators: &Validators,
) -> Option<RequestValidator> {
    let Some(name) = value.as_str() else {
        cx.error(path, "must be the name of a request validator");
        return None;
    };
    match validators.get(name) {
        Some(v) => Some(v.clone()),
        None => {
            let mut known: Vec<&str> = validators.keys().map(String::as_str).collect();
            known.sort_unstable();
            cx.error(
                path,
                format!(
                    "{name} is not declared in x-amazon-apigateway-request-validators (declared: {})",
                    if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                ),
            );
            None
        }
    }
}

/// What a method validates: `None` when its validator (its own, else the API's default)
/// checks nothing.
pub(super) fn method_validation(
    cx: &mut Cx<'_>,
    path: &DocPath,
    validator: Option<RequestValidator>,
    parameters: &[&Value],
    op: &Map<String, Value>,
    models: &mut Vec<(String, Value)>,
) -> Option<MethodValidation> {
    let validator = validator.filter(|v| v.body || v.params)?;
    let mut required = Vec::new();
    let mut body_models = BTreeMap::new();
    for (i, p) in parameters.iter().enumerate() {
        let Some(p) = p.as_object() else { continue };
        let location = match p.get("in").and_then(Value::as_str) {
            Some("header") => ParamLocation::Header,
            Some("path") => ParamLocation::Path,
            Some("query") => ParamLocation::Querystring,
            Some("body") => {
                if let Some(schema) = p.get("schema") {
                    let name = model_name(path, schema, models, i);
                    body_models.insert("application/json".to_owned(), name);
                }
                continue;
            }
            _ => continue,
        };
        let is_required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
        if let (true, Some(name)) = (is_required, p.get("name").and_then(Value::as_str)) {
            required.push(RequiredParam {
                location,
                name: name.to_owned(),
            });
        }
    }
    required.sort();
    required.dedup();
    if let Some(content) = op
        .get("requestBody")
        .and_then(|b| b.get("content"))
        .and_then(Value::as_object)
    {
        for (i, (ct, media)) in content.iter().enumerate() {
            if let Some(schema) = media.get("schema") {
                let name = model_name(path, schema, models, i);
                body_models.insert(ct.to_ascii_lowercase(), name);
            }
        }
    }
    if !validator.params {
        required.clear();
    }
    if !validator.body {
        body_models.clear();
    }
    if required.is_empty() && body_models.is_empty() {
        cx.warn(
            path,
            format!(
                "request validator {} has nothing to check on this method (no required parameters, no body model)",
                validator.name
            ),
        );
    }
    Some(MethodValidation {
        validator,
        required,
        models: body_models,
    })
}

/// The model a body schema names: a `$ref` to one of the API's models, or an inline schema
/// added to the models under a name made from its place in the document.
fn model_name(
    path: &DocPath,
    schema: &Value,
    models: &mut Vec<(String, Value)>,
    i: usize,
) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str)
        && let Some(name) = ref_model_name(r)
        && schema.as_object().is_some_and(|o| o.len() == 1)
    {
        return name.to_owned();
    }
    let name = format!("{}#{i}", path.as_str());
    models.push((name.clone(), schema.clone()));
    name
}

/// `#/components/schemas/Name`, `#/definitions/Name`, or AWS's
/// `https://apigateway.amazonaws.com/restapis/{id}/models/Name`.
fn ref_model_name(r: &str) -> Option<&str> {
    r.strip_prefix("#/components/schemas/")
        .or_else(|| r.strip_prefix("#/definitions/"))
        .or_else(|| {
            let rest = r.strip_prefix("https://apigateway.amazonaws.com/restapis/")?;
            rest.split_once("/models/").map(|(_, n)| n)
        })
        .filter(|n| !n.is_empty() && !n.contains('/'))
}

/// The document's models: OpenAPI 3 `components.schemas`, Swagger 2 `definitions`.
pub(super) fn models(top: &Map<String, Value>) -> Vec<(String, Value)> {
    let schemas = top
        .get("components")
        .and_then(|c| c.get("schemas"))
        .or_else(|| top.get("definitions"))
        .and_then(Value::as_object);
    schemas
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

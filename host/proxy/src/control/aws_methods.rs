//! Resources, methods and integrations of the AWS control plane (`/restapis/{id}/resources...`),
//! read from and written into an API's OpenAPI document: the document *is* the API's working
//! copy, as it is on AWS, and `create-deployment` freezes it.
//!
//! | Operation | Request |
//! |---|---|
//! | GetResources, GetResource | `GET /restapis/{id}/resources[/{rid}]` |
//! | CreateResource | `POST /restapis/{id}/resources/{parentId}` `{"pathPart"}` |
//! | DeleteResource | `DELETE /restapis/{id}/resources/{rid}` (its sub-resources too) |
//! | PutMethod, GetMethod, DeleteMethod | `PUT`/`GET`/`DELETE .../resources/{rid}/methods/{httpMethod}` |
//! | PutMethodResponse | `PUT .../methods/{httpMethod}/responses/{statusCode}` |
//! | PutIntegration, GetIntegration, DeleteIntegration | `PUT`/`GET`/`DELETE .../methods/{httpMethod}/integration` |
//! | PutIntegrationResponse | `PUT .../integration/responses/{statusCode}` |
//!
//! Reads work on every API; writes on the APIs made through the control plane (the gateway
//! file's are changed in their file). A resource's id is the first 10 hex digits of its path's
//! SHA-256, stable across edits and reloads. A method may exist without an integration while
//! it is being built: it is not served, and `create-deployment` refuses it with AWS's
//! `No integration defined for method`. Every write is checked as a whole document first
//! (the gateway's own validation), then stored, then reloaded; one that does not build
//! changes nothing.
//!
//! What maps to what:
//! - `authorizationType` `NONE`, `AWS_IAM`, or `CUSTOM`/`COGNITO_USER_POOLS`/`JWT` with an
//!   `authorizerId` naming a security scheme of the document (its authorizer); `apiKeyRequired`
//!   adds the `x-api-key` scheme. Missing schemes (`api_key`, `sigv4`) are added.
//! - `requestParameters` `method.request.{path|querystring|header}.NAME` are `parameters`;
//!   `requestModels` name models (schemas) of the document; `requestValidatorId` names one of
//!   `x-amazon-apigateway-request-validators`.
//! - The integration is `x-amazon-apigateway-integration`, its responses keyed by
//!   `selectionPattern` (`default` without one).

use std::collections::BTreeMap;
use std::sync::Arc;

use http::{Method, StatusCode};
use portico_config::Api;
use portico_config::deploy::{self, ManagedApi};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::Gateway;
use crate::control::admin_deploy::{self, AwsError, Reply, store};

/// The OpenAPI key of AWS's `ANY` method.
const ANY_METHOD: &str = "x-amazon-apigateway-any-method";
/// The OpenAPI key of an integration.
const INTEGRATION: &str = "x-amazon-apigateway-integration";
/// The HTTP methods an operation can have, as OpenAPI keys.
const OPERATIONS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", ANY_METHOD,
];

/// `/restapis/{id}/resources...`: `tail` follows `resources`.
pub(crate) async fn resources(
    gw: &Arc<Gateway>,
    method: &Method,
    api: &Api,
    tail: &[&str],
    body: &[u8],
) -> Reply {
    let doc = read(api)?;
    match (method, tail) {
        (&Method::GET, []) => {
            let items: Vec<Value> = tree(&doc).keys().map(|p| resource_json(&doc, p)).collect();
            Ok((StatusCode::OK, json!({ "item": items })))
        }
        (&Method::GET, [rid]) => Ok((StatusCode::OK, resource_json(&doc, &find(&doc, rid)?))),
        (&Method::POST, [parent]) => {
            let parent = find(&doc, parent)?;
            let request: CreateResource = admin_deploy::parse(body)?;
            let path = child_path(&doc, &parent, &request.path_part)?;
            edit(gw, api, move |doc| {
                paths_mut(doc)?.insert(path.clone(), json!({}));
                Ok((StatusCode::CREATED, resource_json(doc, &path)))
            })
            .await
        }
        (&Method::DELETE, [rid]) => {
            let path = find(&doc, rid)?;
            if path == "/" {
                return Err(AwsError::bad_request("Cannot delete the root resource"));
            }
            edit(gw, api, move |doc| {
                let under = format!("{path}/");
                paths_mut(doc)?.retain(|p, _| *p != path && !p.starts_with(&under));
                Ok((StatusCode::ACCEPTED, Value::Null))
            })
            .await
        }
        (_, [rid, "methods", http, rest @ ..]) => {
            let path = find(&doc, rid)?;
            let key = operation_key(http)?;
            method_request(gw, method, api, &doc, (path, key), rest, body).await
        }
        _ => Err(AwsError::not_found("Not Found")),
    }
}

/// The requests on one method: `rest` follows `methods/{httpMethod}`.
async fn method_request(
    gw: &Arc<Gateway>,
    method: &Method,
    api: &Api,
    doc: &Value,
    (path, key): (String, String),
    rest: &[&str],
    body: &[u8],
) -> Reply {
    let existing = doc["paths"][path.as_str()].get(key.as_str());
    let missing = || AwsError::not_found("Invalid Method identifier specified");
    match (method, rest) {
        (&Method::GET, []) => {
            let op = existing.ok_or_else(missing)?;
            Ok((StatusCode::OK, method_json(doc, &path, &key, op)))
        }
        (&Method::PUT, []) => {
            if existing.is_some() {
                return Err(AwsError::conflict(
                    "Method already exists for this resource",
                ));
            }
            let request: PutMethod = admin_deploy::parse(body)?;
            edit(gw, api, move |doc| {
                let op = new_operation(doc, &request)?;
                let out = method_json(doc, &path, &key, &op);
                path_item(doc, &path)?.insert(key.clone(), op);
                Ok((StatusCode::CREATED, out))
            })
            .await
        }
        (&Method::DELETE, []) => {
            existing.ok_or_else(missing)?;
            edit(gw, api, move |doc| {
                path_item(doc, &path)?.remove(&key);
                Ok((StatusCode::NO_CONTENT, Value::Null))
            })
            .await
        }
        (&Method::PUT, ["responses", code]) => {
            existing.ok_or_else(missing)?;
            let code = status_code(code)?;
            if existing.is_some_and(|op| op["responses"].get(code).is_some()) {
                return Err(AwsError::conflict(
                    "Response already exists for this resource",
                ));
            }
            let request: PutMethodResponse = admin_deploy::parse(body)?;
            edit(gw, api, move |doc| {
                let response = method_response(doc, code, &request)?;
                let out = method_response_json(swagger(doc), code, &response);
                let op = operation_mut(doc, &path, &key)?;
                object_at(op, "responses").insert(code.to_owned(), response);
                Ok((StatusCode::CREATED, out))
            })
            .await
        }
        (&Method::GET, ["integration"]) => {
            let op = existing.ok_or_else(missing)?;
            let integration = op.get(INTEGRATION).ok_or_else(no_integration)?;
            Ok((StatusCode::OK, integration_json(&path, integration)))
        }
        (&Method::PUT, ["integration"]) => {
            existing.ok_or_else(missing)?;
            let request: PutIntegration = admin_deploy::parse(body)?;
            let integration = new_integration(request)?;
            edit(gw, api, move |doc| {
                let out = integration_json(&path, &integration);
                operation_mut(doc, &path, &key)?.insert(INTEGRATION.to_owned(), integration);
                Ok((StatusCode::CREATED, out))
            })
            .await
        }
        (&Method::DELETE, ["integration"]) => {
            existing
                .ok_or_else(missing)?
                .get(INTEGRATION)
                .ok_or_else(no_integration)?;
            edit(gw, api, move |doc| {
                operation_mut(doc, &path, &key)?.remove(INTEGRATION);
                Ok((StatusCode::NO_CONTENT, Value::Null))
            })
            .await
        }
        (&Method::PUT, ["integration", "responses", code]) => {
            let op = existing.ok_or_else(missing)?;
            let code = status_code(code)?;
            op.get(INTEGRATION).ok_or_else(no_integration)?;
            if op["responses"].get(code).is_none() {
                return Err(AwsError::not_found(
                    "Invalid Response status code specified",
                ));
            }
            let request: PutIntegrationResponse = admin_deploy::parse(body)?;
            edit(gw, api, move |doc| {
                let op = operation_mut(doc, &path, &key)?;
                let integration = object_at(op, INTEGRATION);
                let responses = object_at(integration, "responses");
                responses.retain(|_, r| r["statusCode"].as_str() != Some(code));
                let selection = request
                    .selection_pattern
                    .clone()
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "default".to_owned());
                let mut response = json!({ "statusCode": code });
                put_map(
                    &mut response,
                    "responseParameters",
                    request.response_parameters,
                );
                put_map(
                    &mut response,
                    "responseTemplates",
                    request.response_templates,
                );
                if let Some(c) = request.content_handling {
                    response["contentHandling"] = json!(c);
                }
                let out = integration_response_json(&selection, &response);
                responses.insert(selection, response);
                Ok((StatusCode::CREATED, out))
            })
            .await
        }
        _ => Err(AwsError::not_found("Not Found")),
    }
}

fn no_integration() -> AwsError {
    AwsError::not_found(portico_config::openapi::NO_INTEGRATION)
}

/// Applies `change` to the stored working copy of a managed API, checks the result as a whole
/// document, stores it and reloads; the old copy is put back when the reload fails.
async fn edit(gw: &Arc<Gateway>, api: &Api, change: impl FnOnce(&mut Value) -> Reply) -> Reply {
    if api.managed.is_none() {
        return Err(crate::control::aws::file_api(&api.name));
    }
    let store = store(gw)?;
    let _serial = gw.stage_lock.lock().await;
    let before = store
        .managed_api(&api.name)
        .map_err(AwsError::internal)?
        .ok_or_else(|| {
            AwsError::not_found(format!("Invalid API identifier specified: {}", api.name))
        })?;
    let mut doc =
        portico_config::doc::parse(&before.spec, &before.definition).map_err(AwsError::internal)?;
    let answer = change(&mut doc)?;
    let definition =
        serde_json::to_string_pretty(&doc).map_err(|e| AwsError::internal(e.to_string()))?;
    let report = portico_config::check_definition(&api.name, "openapi.json", &definition, true);
    let errors = report.error_messages();
    if !errors.is_empty() {
        return Err(AwsError::bad_request(errors.join("\n")));
    }
    let after = ManagedApi {
        spec: "openapi.json".into(),
        definition,
        ..before.clone()
    };
    store.save_managed(&after).map_err(AwsError::internal)?;
    admin_deploy::reload_or_undo(gw, "API", || store.save_managed(&before)).await?;
    Ok(answer)
}

fn read(api: &Api) -> Result<Value, AwsError> {
    portico_config::doc::parse(&api.spec, &api.definition)
        .map_err(|e| AwsError::internal(format!("the stored definition does not parse: {e}")))
}

/// Whether the document is Swagger 2.0 (else OpenAPI 3).
fn swagger(doc: &Value) -> bool {
    doc.get("swagger").is_some()
}

/// Every resource path (the document's, their ancestors and `/`), with its operations.
fn tree(doc: &Value) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    out.entry("/".to_owned()).or_default();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        let mut at = String::new();
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            at.push('/');
            at.push_str(segment);
            out.entry(at.clone()).or_default();
        }
        let ops = item
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
            .filter(|k| OPERATIONS.contains(&k.as_str()))
            .map(|k| http_method(k));
        out.entry(if at.is_empty() { "/".to_owned() } else { at })
            .or_default()
            .extend(ops);
    }
    out
}

/// A resource's id: the first 10 hex digits of its path's SHA-256.
pub(crate) fn resource_id(path: &str) -> String {
    deploy::deployment_id(path)
}

fn find(doc: &Value, rid: &str) -> Result<String, AwsError> {
    tree(doc)
        .into_keys()
        .find(|p| resource_id(p) == rid)
        .ok_or_else(|| AwsError::not_found("Invalid Resource identifier specified"))
}

/// AWS `Resource`.
fn resource_json(doc: &Value, path: &str) -> Value {
    let mut r = json!({"id": resource_id(path), "path": path});
    if let Some((parent, part)) = path.rsplit_once('/').filter(|_| path != "/") {
        r["parentId"] = json!(resource_id(if parent.is_empty() { "/" } else { parent }));
        r["pathPart"] = json!(part);
    }
    let methods = tree(doc).remove(path).unwrap_or_default();
    if !methods.is_empty() {
        let m: Map<String, Value> = methods
            .into_iter()
            .map(|m| (m.clone(), json!({"httpMethod": m})))
            .collect();
        r["resourceMethods"] = Value::Object(m);
    }
    r
}

/// `CreateResourceRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateResource {
    #[serde(default)]
    path_part: String,
}

/// The path of a new child `part` of `parent`, under AWS's rules for a path part: letters,
/// digits, `.`, `_`, `-` and `:`, or a whole `{name}` or `{name+}`.
fn child_path(doc: &Value, parent: &str, part: &str) -> Result<String, AwsError> {
    let plain = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b))
    };
    let variable = part
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .map(|v| v.strip_suffix('+').unwrap_or(v));
    let ok = match variable {
        Some(name) => plain(name),
        None => plain(part),
    };
    if !ok {
        return Err(AwsError::bad_request(format!(
            "Resource's path part only allow a-zA-Z0-9._-: and curly braces at the beginning and the end and an optional plus sign before the closing brace: {part}"
        )));
    }
    let path = if parent == "/" {
        format!("/{part}")
    } else {
        format!("{parent}/{part}")
    };
    if tree(doc).contains_key(&path) {
        return Err(AwsError::conflict(format!(
            "Another resource with the same parent already has this name: {part}"
        )));
    }
    Ok(path)
}

fn paths_mut(doc: &mut Value) -> Result<&mut Map<String, Value>, AwsError> {
    let top = doc
        .as_object_mut()
        .ok_or_else(|| AwsError::internal("the definition is not a mapping"))?;
    top.entry("paths")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| AwsError::internal("`paths` is not a mapping"))
}

/// The path item of `path`, made when it is only an ancestor so far.
fn path_item<'d>(doc: &'d mut Value, path: &str) -> Result<&'d mut Map<String, Value>, AwsError> {
    paths_mut(doc)?
        .entry(path.to_owned())
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| AwsError::internal(format!("paths.{path} is not a mapping")))
}

fn operation_mut<'d>(
    doc: &'d mut Value,
    path: &str,
    key: &str,
) -> Result<&'d mut Map<String, Value>, AwsError> {
    path_item(doc, path)?
        .get_mut(key)
        .and_then(Value::as_object_mut)
        .ok_or_else(|| AwsError::not_found("Invalid Method identifier specified"))
}

/// The object under `key` of `map`, made empty when it is missing or not an object.
fn object_at<'m>(map: &'m mut Map<String, Value>, key: &str) -> &'m mut Map<String, Value> {
    let slot = map.entry(key.to_owned()).or_insert_with(|| json!({}));
    if !slot.is_object() {
        *slot = json!({});
    }
    slot.as_object_mut().expect("made an object above")
}

/// Sets `value[key]` to a non-empty map.
fn put_map(value: &mut Value, key: &str, map: BTreeMap<String, Value>) {
    if !map.is_empty() {
        value[key] = json!(map);
    }
}

fn operation_key(http: &str) -> Result<String, AwsError> {
    let upper = http.to_ascii_uppercase();
    match upper.as_str() {
        "ANY" => Ok(ANY_METHOD.to_owned()),
        "GET" | "PUT" | "POST" | "DELETE" | "OPTIONS" | "HEAD" | "PATCH" => {
            Ok(upper.to_ascii_lowercase())
        }
        _ => Err(AwsError::bad_request(
            "Invalid HttpMethod specified. Valid options are GET,PUT,POST,DELETE,PATCH,OPTIONS,HEAD,ANY",
        )),
    }
}

fn http_method(key: &str) -> String {
    if key == ANY_METHOD {
        "ANY".to_owned()
    } else {
        key.to_ascii_uppercase()
    }
}

fn status_code(code: &str) -> Result<&str, AwsError> {
    let ok = code.len() == 3
        && code.bytes().all(|b| b.is_ascii_digit())
        && (b'1'..=b'5').contains(&code.as_bytes()[0]);
    if ok {
        Ok(code)
    } else {
        Err(AwsError::bad_request(format!(
            "Invalid status code specified: {code}"
        )))
    }
}

/// The document's security schemes (`components.securitySchemes`, or Swagger's
/// `securityDefinitions`).
fn schemes(doc: &Value) -> &Value {
    if swagger(doc) {
        &doc["securityDefinitions"]
    } else {
        &doc["components"]["securitySchemes"]
    }
}

/// What a security scheme is to AWS: `API_KEY`, `AWS_IAM`, or an authorizer's
/// `authorizationType`.
fn scheme_kind(scheme: &Value) -> Option<&'static str> {
    let authtype = scheme["x-amazon-apigateway-authtype"]
        .as_str()
        .unwrap_or("");
    if authtype.eq_ignore_ascii_case("awsSigv4") {
        return Some("AWS_IAM");
    }
    if let Some(a) = scheme.get("x-amazon-apigateway-authorizer") {
        return Some(
            match a["type"].as_str().map(str::to_ascii_lowercase).as_deref() {
                Some("cognito_user_pools") => "COGNITO_USER_POOLS",
                Some("jwt") => "JWT",
                _ => "CUSTOM",
            },
        );
    }
    (scheme["type"].as_str() == Some("apiKey")).then_some("API_KEY")
}

/// A model's reference in this document.
fn model_ref(doc: &Value, model: &str) -> String {
    if swagger(doc) {
        format!("#/definitions/{model}")
    } else {
        format!("#/components/schemas/{model}")
    }
}

fn has_model(doc: &Value, model: &str) -> bool {
    let models = if swagger(doc) {
        &doc["definitions"]
    } else {
        &doc["components"]["schemas"]
    };
    models.get(model).is_some()
}

/// `PutMethodRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutMethod {
    #[serde(default)]
    authorization_type: String,
    #[serde(default)]
    authorizer_id: Option<String>,
    #[serde(default)]
    api_key_required: bool,
    #[serde(default)]
    operation_name: Option<String>,
    #[serde(default)]
    request_parameters: BTreeMap<String, bool>,
    #[serde(default)]
    request_models: BTreeMap<String, String>,
    #[serde(default)]
    request_validator_id: Option<String>,
    #[serde(default)]
    authorization_scopes: Vec<String>,
}

/// The operation `request` describes, adding the security schemes it needs.
fn new_operation(doc: &mut Value, request: &PutMethod) -> Result<Value, AwsError> {
    let swagger = swagger(doc);
    let mut op = json!({});
    if let Some(name) = &request.operation_name {
        op["operationId"] = json!(name);
    }
    let mut security = Map::new();
    match request.authorization_type.as_str() {
        "NONE" => {}
        "AWS_IAM" => {
            let name = ensure_scheme(
                doc,
                "AWS_IAM",
                "sigv4",
                json!({
                    "type": "apiKey", "name": "Authorization", "in": "header",
                    "x-amazon-apigateway-authtype": "awsSigv4",
                }),
            )?;
            security.insert(name, json!([]));
        }
        kind @ ("CUSTOM" | "COGNITO_USER_POOLS" | "JWT") => {
            let id = request.authorizer_id.as_deref().unwrap_or("");
            if scheme_kind(&schemes(doc)[id]) != Some(kind) || id.is_empty() {
                return Err(AwsError::bad_request(format!(
                    "Invalid authorizer ID specified: {id:?} (an authorizer is a security scheme of the imported definition, named by its key)"
                )));
            }
            security.insert(id.to_owned(), json!(request.authorization_scopes));
        }
        other => {
            return Err(AwsError::bad_request(format!(
                "Invalid authorization type specified: {other:?}. Valid values are NONE, AWS_IAM, CUSTOM, COGNITO_USER_POOLS and JWT"
            )));
        }
    }
    if request.api_key_required {
        let name = ensure_scheme(
            doc,
            "API_KEY",
            "api_key",
            json!({
                "type": "apiKey", "name": "x-api-key", "in": "header",
            }),
        )?;
        security.insert(name, json!([]));
    }
    if !security.is_empty() {
        op["security"] = json!([security]);
    }
    let mut parameters = Vec::new();
    for (name, required) in &request.request_parameters {
        let (place, param) = name
            .strip_prefix("method.request.")
            .and_then(|rest| rest.split_once('.'))
            .filter(|(_, p)| !p.is_empty())
            .ok_or_else(|| {
                AwsError::bad_request(format!(
                    "Invalid mapping expression specified: {name} (method.request.path|querystring|header.NAME)"
                ))
            })?;
        let place = match place {
            "path" => "path",
            "querystring" => "query",
            "header" => "header",
            _ => {
                return Err(AwsError::bad_request(format!(
                    "Invalid mapping expression specified: {name}"
                )));
            }
        };
        let mut p = json!({"name": param, "in": place, "required": *required || place == "path"});
        if swagger {
            p["type"] = json!("string");
        } else {
            p["schema"] = json!({"type": "string"});
        }
        parameters.push(p);
    }
    for (content_type, model) in &request.request_models {
        if !has_model(doc, model) {
            return Err(AwsError::not_found(format!(
                "Invalid model identifier specified: {model}"
            )));
        }
        let schema = json!({"$ref": model_ref(doc, model)});
        if swagger {
            parameters
                .push(json!({"in": "body", "name": model, "required": true, "schema": schema}));
        } else {
            op["requestBody"]["content"][content_type] = json!({ "schema": schema });
        }
    }
    if !parameters.is_empty() {
        op["parameters"] = json!(parameters);
    }
    if let Some(validator) = &request.request_validator_id {
        if doc["x-amazon-apigateway-request-validators"]
            .get(validator)
            .is_none()
        {
            return Err(AwsError::bad_request(format!(
                "Invalid Request Validator identifier specified: {validator}"
            )));
        }
        op["x-amazon-apigateway-request-validator"] = json!(validator);
    }
    op["responses"] = json!({});
    Ok(op)
}

/// The name of a scheme of `kind` in the document, adding `definition` as `name` when there
/// is none.
fn ensure_scheme(
    doc: &mut Value,
    kind: &str,
    name: &str,
    definition: Value,
) -> Result<String, AwsError> {
    if let Some((found, _)) = schemes(doc)
        .as_object()
        .into_iter()
        .flatten()
        .find(|(_, s)| scheme_kind(s) == Some(kind))
    {
        return Ok(found.clone());
    }
    let top = doc
        .as_object_mut()
        .ok_or_else(|| AwsError::internal("the definition is not a mapping"))?;
    let place = if top.contains_key("swagger") {
        object_at(top, "securityDefinitions")
    } else {
        object_at(object_at(top, "components"), "securitySchemes")
    };
    place.insert(name.to_owned(), definition);
    Ok(name.to_owned())
}

/// AWS `Method`.
fn method_json(doc: &Value, path: &str, key: &str, op: &Value) -> Value {
    let mut out = json!({
        "httpMethod": http_method(key),
        "authorizationType": "NONE",
        "apiKeyRequired": false,
    });
    let security = op.get("security").unwrap_or(&doc["security"]);
    for requirement in security.as_array().into_iter().flatten() {
        for (name, scopes) in requirement.as_object().into_iter().flatten() {
            match scheme_kind(&schemes(doc)[name.as_str()]) {
                Some("API_KEY") => out["apiKeyRequired"] = json!(true),
                Some("AWS_IAM") => out["authorizationType"] = json!("AWS_IAM"),
                Some(kind) => {
                    out["authorizationType"] = json!(kind);
                    out["authorizerId"] = json!(name);
                    if scopes.as_array().is_some_and(|s| !s.is_empty()) {
                        out["authorizationScopes"] = scopes.clone();
                    }
                }
                None => {}
            }
        }
    }
    if let Some(name) = op["operationId"].as_str() {
        out["operationName"] = json!(name);
    }
    let mut parameters = Map::new();
    let shared = doc["paths"][path]["parameters"].as_array();
    for p in shared
        .into_iter()
        .chain(op["parameters"].as_array())
        .flatten()
    {
        let place = match p["in"].as_str() {
            Some("path") => "path",
            Some("query") => "querystring",
            Some("header") => "header",
            _ => continue,
        };
        if let Some(name) = p["name"].as_str() {
            let required = p["required"].as_bool().unwrap_or(false);
            parameters.insert(format!("method.request.{place}.{name}"), json!(required));
        }
    }
    if !parameters.is_empty() {
        out["requestParameters"] = Value::Object(parameters);
    }
    let mut models = Map::new();
    for (content_type, media) in op["requestBody"]["content"]
        .as_object()
        .into_iter()
        .flatten()
    {
        if let Some(model) = model_name(&media["schema"]) {
            models.insert(content_type.clone(), json!(model));
        }
    }
    for p in op["parameters"].as_array().into_iter().flatten() {
        if p["in"] == "body"
            && let Some(model) = model_name(&p["schema"])
        {
            models.insert("application/json".into(), json!(model));
        }
    }
    if !models.is_empty() {
        out["requestModels"] = Value::Object(models);
    }
    if let Some(v) = op["x-amazon-apigateway-request-validator"].as_str() {
        out["requestValidatorId"] = json!(v);
    }
    let responses: Map<String, Value> = op["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(code, r)| (code.clone(), method_response_json(swagger(doc), code, r)))
        .collect();
    if !responses.is_empty() {
        out["methodResponses"] = Value::Object(responses);
    }
    if let Some(integration) = op.get(INTEGRATION) {
        out["methodIntegration"] = integration_json(path, integration);
    }
    out
}

/// The model a `$ref` schema names.
fn model_name(schema: &Value) -> Option<&str> {
    schema["$ref"].as_str()?.rsplit('/').next()
}

/// `PutMethodResponseRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutMethodResponse {
    #[serde(default)]
    response_parameters: BTreeMap<String, bool>,
    #[serde(default)]
    response_models: BTreeMap<String, String>,
}

/// The OpenAPI response `request` describes.
fn method_response(
    doc: &Value,
    code: &str,
    request: &PutMethodResponse,
) -> Result<Value, AwsError> {
    let swagger = swagger(doc);
    let mut response = json!({ "description": format!("{code} response") });
    for name in request.response_parameters.keys() {
        let header = name
            .strip_prefix("method.response.header.")
            .filter(|h| !h.is_empty());
        let Some(header) = header else {
            return Err(AwsError::bad_request(format!(
                "Invalid mapping expression specified: {name} (method.response.header.NAME)"
            )));
        };
        response["headers"][header] = if swagger {
            json!({"type": "string"})
        } else {
            json!({"schema": {"type": "string"}})
        };
    }
    for (content_type, model) in &request.response_models {
        if !has_model(doc, model) {
            return Err(AwsError::not_found(format!(
                "Invalid model identifier specified: {model}"
            )));
        }
        let schema = json!({"$ref": model_ref(doc, model)});
        if swagger {
            response["schema"] = schema;
        } else {
            response["content"][content_type] = json!({ "schema": schema });
        }
    }
    Ok(response)
}

/// AWS `MethodResponse`.
fn method_response_json(swagger: bool, code: &str, response: &Value) -> Value {
    let mut out = json!({ "statusCode": code });
    let parameters: Map<String, Value> = response["headers"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(h, _)| (format!("method.response.header.{h}"), json!(false)))
        .collect();
    if !parameters.is_empty() {
        out["responseParameters"] = Value::Object(parameters);
    }
    let mut models = Map::new();
    for (content_type, media) in response["content"].as_object().into_iter().flatten() {
        if let Some(model) = model_name(&media["schema"]) {
            models.insert(content_type.clone(), json!(model));
        }
    }
    if swagger && let Some(model) = model_name(&response["schema"]) {
        models.insert("application/json".into(), json!(model));
    }
    if !models.is_empty() {
        out["responseModels"] = Value::Object(models);
    }
    out
}

/// `PutIntegrationRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutIntegration {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    http_method: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    connection_type: Option<String>,
    #[serde(default)]
    credentials: Option<String>,
    #[serde(default)]
    request_parameters: BTreeMap<String, Value>,
    #[serde(default)]
    request_templates: BTreeMap<String, Value>,
    #[serde(default)]
    passthrough_behavior: Option<String>,
    #[serde(default)]
    cache_namespace: Option<String>,
    #[serde(default)]
    cache_key_parameters: Vec<String>,
    #[serde(default)]
    content_handling: Option<String>,
    #[serde(default)]
    timeout_in_millis: Option<u64>,
}

/// The `x-amazon-apigateway-integration` `request` describes (without responses: a new
/// integration replaces the old one whole, as on AWS).
fn new_integration(request: PutIntegration) -> Result<Value, AwsError> {
    let kind = request.kind.to_ascii_uppercase();
    if !["HTTP", "HTTP_PROXY", "MOCK", "AWS", "AWS_PROXY"].contains(&kind.as_str()) {
        return Err(AwsError::bad_request(format!(
            "Invalid integration type specified: {:?}. Valid values are HTTP, HTTP_PROXY, MOCK, AWS and AWS_PROXY",
            request.kind
        )));
    }
    if request
        .connection_type
        .as_deref()
        .is_some_and(|c| c != "INTERNET")
    {
        return Err(AwsError::bad_request(
            "connectionType VPC_LINK is not supported: Portico reaches integrations over the network (INTERNET)",
        ));
    }
    let mut out = json!({ "type": kind.to_ascii_lowercase() });
    if let Some(m) = request.http_method {
        out["httpMethod"] = json!(m);
    }
    if let Some(uri) = request.uri {
        out["uri"] = json!(uri);
    }
    if let Some(c) = request.credentials {
        out["credentials"] = json!(c);
    }
    put_map(&mut out, "requestParameters", request.request_parameters);
    put_map(&mut out, "requestTemplates", request.request_templates);
    if let Some(p) = request.passthrough_behavior {
        out["passthroughBehavior"] = json!(p.to_ascii_lowercase());
    }
    if let Some(n) = request.cache_namespace {
        out["cacheNamespace"] = json!(n);
    }
    if !request.cache_key_parameters.is_empty() {
        out["cacheKeyParameters"] = json!(request.cache_key_parameters);
    }
    if let Some(c) = request.content_handling {
        out["contentHandling"] = json!(c);
    }
    if let Some(t) = request.timeout_in_millis {
        out["timeoutInMillis"] = json!(t);
    }
    Ok(out)
}

/// AWS `Integration`.
fn integration_json(path: &str, integration: &Value) -> Value {
    let upper = |v: &Value| v.as_str().map(str::to_ascii_uppercase);
    let mut out = json!({
        "type": upper(&integration["type"]),
        "connectionType": "INTERNET",
        "timeoutInMillis": integration["timeoutInMillis"].as_u64().unwrap_or(29_000),
        "cacheNamespace": integration["cacheNamespace"].as_str().map_or_else(|| resource_id(path), str::to_owned),
        "cacheKeyParameters": integration.get("cacheKeyParameters").cloned().unwrap_or_else(|| json!([])),
        "passthroughBehavior": upper(&integration["passthroughBehavior"]).unwrap_or_else(|| "WHEN_NO_MATCH".into()),
    });
    for key in [
        "httpMethod",
        "uri",
        "credentials",
        "requestParameters",
        "requestTemplates",
        "contentHandling",
    ] {
        if let Some(v) = integration.get(key) {
            out[key] = v.clone();
        }
    }
    let responses: Map<String, Value> = integration["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(selection, r)| {
            let code = r["statusCode"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| r["statusCode"].as_u64().map(|c| c.to_string()))?;
            Some((code, integration_response_json(selection, r)))
        })
        .collect();
    if !responses.is_empty() {
        out["integrationResponses"] = Value::Object(responses);
    }
    out
}

/// `PutIntegrationResponseRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutIntegrationResponse {
    #[serde(default)]
    selection_pattern: Option<String>,
    #[serde(default)]
    response_parameters: BTreeMap<String, Value>,
    #[serde(default)]
    response_templates: BTreeMap<String, Value>,
    #[serde(default)]
    content_handling: Option<String>,
}

/// AWS `IntegrationResponse`.
fn integration_response_json(selection: &str, response: &Value) -> Value {
    let code = match &response["statusCode"] {
        Value::Number(n) => json!(n.to_string()),
        other => other.clone(),
    };
    let mut out = json!({ "statusCode": code });
    if selection != "default" {
        out["selectionPattern"] = json!(selection);
    }
    for key in ["responseParameters", "responseTemplates", "contentHandling"] {
        if let Some(v) = response.get(key) {
            out[key] = v.clone();
        }
    }
    out
}

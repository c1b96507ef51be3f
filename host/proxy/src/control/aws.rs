//! A subset of the API Gateway REST v1 control plane (`/restapis/...`), in its JSON wire
//! format, so that `aws apigateway --endpoint-url http://ADMIN` and botocore drive Portico
//! unchanged. The AWS CLI signs with SigV4: the admin token is the secret access key (see
//! [`crate::control::auth`]). A bearer token works too.
//!
//! Every API of the gateway is a `RestApi`: the gateway file's (its id is its name; its stages
//! are declared in the file) and the ones made here (`import-rest-api`, `create-rest-api`;
//! a random 10-character id, stored in the data directory, answering on the host names
//! `{id}.execute-api.localhost` and `{id}.execute-api.{region}.amazonaws.com`).
//!
//! | Operation | Request |
//! |---|---|
//! | CreateRestApi, ImportRestApi | `POST /restapis`, `POST /restapis?mode=import` |
//! | PutRestApi | `PUT /restapis/{id}?mode=overwrite\|merge` (APIs made here) |
//! | GetRestApis, GetRestApi | `GET /restapis`, `GET /restapis/{id}` |
//! | GetResources, CreateResource, PutMethod, PutIntegration, PutIntegrationResponse, ... | `/restapis/{id}/resources...` (see `control::aws_methods`) |
//! | CreateDeployment, GetDeployments, GetDeployment | `POST`/`GET /restapis/{id}/deployments[/{dep}]` |
//! | CreateStage, GetStages, GetStage, UpdateStage, DeleteStage | `/restapis/{id}/stages[/{name}]` (create and delete: APIs made here) |
//! | FlushStageCache, FlushStageAuthorizersCache | `DELETE /restapis/{id}/stages/{name}/cache/data`, `.../cache/authorizers` |
//! | GetExport | `GET /restapis/{id}/stages/{name}/exports/{oas30\|swagger}` |
//!
//! API keys and usage (`/apikeys`, `/usageplans/{id}/usage`) are `control::admin_traffic`'s,
//! in the same wire format.

use std::sync::Arc;

use http::{HeaderValue, Method, StatusCode, header};
use portico_config::deploy::{self, ManagedApi, StageState};
use portico_config::{Api, Config};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Gateway;
use crate::control::admin_deploy::{
    self, AwsError, CreateDeployment, DeploymentCanary, PatchRequest, Reply, find_stage, store,
};
use crate::control::admin_traffic::query_value;
use crate::pipeline::body::{Body, full};

/// `/restapis...`: `rest` is what follows `/restapis`.
pub(crate) async fn restapis(
    gw: &Arc<Gateway>,
    req: &http::request::Parts,
    rest: &str,
    body: &[u8],
) -> http::Response<Body> {
    let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let query = req.uri.query().unwrap_or("");
    let result = match (&req.method, parts.as_slice()) {
        (&Method::GET, [""]) => Ok(list(gw)),
        (&Method::POST, [""]) if query_value(query, "mode").as_deref() == Some("import") => {
            import(gw, None, body, query).await
        }
        (&Method::POST, [""]) => create(gw, body).await,
        (_, [id, tail @ ..]) if !id.is_empty() => {
            let config = gw.config();
            match config.apis.iter().find(|a| a.name == *id) {
                None => Err(AwsError::not_found(format!(
                    "Invalid API identifier specified: {id}"
                ))),
                Some(api) => {
                    if let (&Method::GET, ["stages", stage, "exports", kind]) = (&req.method, tail)
                    {
                        return export(&config, api, stage, kind, &req.headers);
                    }
                    one(gw, req, api, tail, body, query).await
                }
            }
        }
        _ => Err(AwsError::not_found("Not Found")),
    };
    admin_deploy::respond(result)
}

async fn one(
    gw: &Arc<Gateway>,
    req: &http::request::Parts,
    api: &Api,
    tail: &[&str],
    body: &[u8],
    query: &str,
) -> Reply {
    let id = api.name.as_str();
    match (&req.method, tail) {
        (&Method::GET, []) => Ok((StatusCode::OK, rest_api(api))),
        (&Method::PUT, []) => {
            let Some(_) = api.managed else {
                return Err(file_api(id));
            };
            import(gw, Some(api), body, query).await
        }
        (method, ["resources", rest @ ..]) => {
            crate::control::aws_methods::resources(gw, method, api, rest, body).await
        }
        (&Method::GET, ["deployments"]) => {
            let (_, list) = admin_deploy::list_deployments(gw, id)?;
            Ok((StatusCode::OK, json!({"item": list["items"]})))
        }
        (&Method::GET, ["deployments", dep]) => {
            let found = store(gw)?
                .deployment(id, dep)
                .map_err(AwsError::internal)?
                .ok_or_else(|| admin_deploy::no_deployment(dep))?;
            Ok((
                StatusCode::OK,
                admin_deploy::deployment_json(&found, false, &gw.config()),
            ))
        }
        (&Method::POST, ["deployments"]) => create_deployment(gw, api, body).await,
        (&Method::GET, ["stages"]) => {
            let items: Vec<Value> = api
                .stages
                .iter()
                .filter_map(|s| admin_deploy::stage_json(gw, api, s).ok())
                .collect();
            Ok((StatusCode::OK, json!({ "item": items })))
        }
        (&Method::POST, ["stages"]) => {
            let request: CreateStage = admin_deploy::parse(body)?;
            create_stage(gw, api, request).await
        }
        (&Method::GET, ["stages", stage]) => {
            let config = gw.config();
            let (api, stage) = find_stage(&config, id, stage)?;
            Ok((StatusCode::OK, admin_deploy::stage_json(gw, api, stage)?))
        }
        (&Method::PATCH, ["stages", stage]) => {
            let request: PatchRequest = admin_deploy::parse(body)?;
            admin_deploy::change_stage(gw, id, stage, |state, _| {
                admin_deploy::patch(state, &request.patch_operations)
            })
            .await
        }
        (&Method::DELETE, ["stages", stage]) => delete_stage(gw, api, stage).await,
        (&Method::DELETE, ["stages", stage, "cache", "data"]) => {
            find_stage(&gw.config(), id, stage)?;
            crate::control::admin::flush_stage_cache(gw, id, stage);
            Ok((StatusCode::ACCEPTED, Value::Null))
        }
        (&Method::DELETE, ["stages", stage, "cache", "authorizers"]) => {
            find_stage(&gw.config(), id, stage)?;
            crate::control::admin::flush_stage_authorizers(gw, id, stage);
            Ok((StatusCode::ACCEPTED, Value::Null))
        }
        _ => Err(AwsError::not_found("Not Found")),
    }
}

pub(crate) fn file_api(id: &str) -> AwsError {
    AwsError::bad_request(format!(
        "API {id} is defined in the gateway file: change the file (and deploy), not the API"
    ))
}

/// `RestApi`.
fn rest_api(api: &Api) -> Value {
    let (name, description, created) = match &api.managed {
        Some(m) => (m.name.as_str(), m.description.as_str(), m.created_date),
        None => (api.name.as_str(), "", 0),
    };
    json!({
        "id": api.name,
        "name": name,
        "description": description,
        "createdDate": created,
        "apiKeySource": match api.api_key_source {
            portico_config::ApiKeySource::Header => "HEADER",
            portico_config::ApiKeySource::Authorizer => "AUTHORIZER",
        },
        "disableExecuteApiEndpoint": api.disable_execute_api_endpoint,
        "endpointConfiguration": {"types": ["REGIONAL"]},
        "rootResourceId": crate::control::aws_methods::resource_id("/"),
    })
}

fn list(gw: &Gateway) -> (StatusCode, Value) {
    let config = gw.config();
    let items: Vec<Value> = config.apis.iter().map(rest_api).collect();
    (StatusCode::OK, json!({ "item": items }))
}

/// `CreateRestApi`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateRestApi {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: Option<String>,
}

async fn create(gw: &Arc<Gateway>, body: &[u8]) -> Reply {
    let request: CreateRestApi = admin_deploy::parse(body)?;
    if request.name.is_empty() {
        return Err(AwsError::bad_request("Invalid REST API name specified"));
    }
    let definition = serde_json::to_string_pretty(&json!({
        "openapi": "3.0.1",
        "info": {"title": request.name, "version": "1.0"},
        "paths": {},
    }))
    .unwrap_or_default();
    let managed = ManagedApi {
        id: new_id(),
        name: request.name,
        description: request.description.unwrap_or_default(),
        created_date: admin_deploy::now(),
        spec: "openapi.json".into(),
        definition,
    };
    save_api(gw, managed, Vec::new(), false).await
}

/// `ImportRestApi` (`existing` is `None`) and `PutRestApi`: the body is an OpenAPI document.
async fn import(gw: &Arc<Gateway>, existing: Option<&Api>, body: &[u8], query: &str) -> Reply {
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(AwsError::bad_request(
            "Invalid OpenAPI input: the body is not UTF-8",
        ));
    };
    let json_input = text.trim_start().starts_with('{');
    let spec = if json_input {
        "openapi.json"
    } else {
        "openapi.yaml"
    };
    let mut definition = text.to_owned();
    let mut spec = spec.to_owned();
    if let Some(api) = existing {
        match query_value(query, "mode").as_deref().unwrap_or("merge") {
            "overwrite" => {}
            "merge" => {
                definition = merge(&api.spec, &api.definition, spec.as_str(), text)?;
                spec = "openapi.json".into();
            }
            other => {
                return Err(AwsError::bad_request(format!(
                    "Invalid mode {other}: overwrite or merge"
                )));
            }
        }
    }
    let id = existing.map_or_else(new_id, |a| a.name.clone());
    let report = portico_config::check_definition(&id, &spec, &definition, true);
    let errors = report.error_messages();
    if !errors.is_empty() {
        return Err(AwsError::bad_request(format!(
            "Errors found during import:\n{}",
            errors.join("\n")
        )));
    }
    let warnings: Vec<String> = report.warnings().map(ToString::to_string).collect();
    if query_value(query, "failonwarnings").as_deref() == Some("true") && !warnings.is_empty() {
        return Err(AwsError::bad_request(format!(
            "Warnings found during import:\n{}",
            warnings.join("\n")
        )));
    }
    let name = portico_config::doc::parse(&spec, &definition)
        .ok()
        .and_then(|d| d["info"]["title"].as_str().map(str::to_owned))
        .unwrap_or_else(|| id.clone());
    let (description, created_date) = match existing.and_then(|a| a.managed.as_ref()) {
        Some(m) => (m.description.clone(), m.created_date),
        None => (String::new(), admin_deploy::now()),
    };
    let managed = ManagedApi {
        id,
        name,
        description,
        created_date,
        spec,
        definition,
    };
    save_api(gw, managed, warnings, existing.is_some()).await
}

/// PutRestApi's `merge`: the new document's paths replace the old ones of the same name, its
/// other top-level sections are merged key by key; the result is JSON.
fn merge(old_spec: &str, old: &str, new_spec: &str, new: &str) -> Result<String, AwsError> {
    let parse = |spec: &str, text: &str| {
        portico_config::doc::parse(spec, text)
            .map_err(|e| AwsError::bad_request(format!("Invalid OpenAPI input: {e}")))
    };
    let mut merged = parse(old_spec, old)?;
    let incoming = parse(new_spec, new)?;
    let (Some(into), Some(from)) = (merged.as_object_mut(), incoming.as_object()) else {
        return Err(AwsError::bad_request(
            "Invalid OpenAPI input: not an object",
        ));
    };
    for (key, value) in from {
        match (into.get_mut(key), value) {
            (Some(Value::Object(a)), Value::Object(b)) => {
                for (k, v) in b {
                    a.insert(k.clone(), v.clone());
                }
            }
            _ => {
                into.insert(key.clone(), value.clone());
            }
        }
    }
    serde_json::to_string_pretty(&merged).map_err(|e| AwsError::internal(e.to_string()))
}

/// Stores a managed API (`replacing` the stored one, or new) and reloads; when it does not
/// build, the store is put back as it was.
async fn save_api(
    gw: &Arc<Gateway>,
    api: ManagedApi,
    warnings: Vec<String>,
    replacing: bool,
) -> Reply {
    let store = store(gw)?;
    let _serial = gw.stage_lock.lock().await;
    if !replacing && gw.config().apis.iter().any(|a| a.name == api.id) {
        return Err(AwsError::conflict(format!("API {} already exists", api.id)));
    }
    let before = if replacing {
        store.managed_api(&api.id).map_err(AwsError::internal)?
    } else {
        None
    };
    store.save_managed(&api).map_err(AwsError::internal)?;
    let status = if replacing {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    admin_deploy::reload_or_undo(gw, "API", || match &before {
        Some(old) => store.save_managed(old),
        None => store.delete_managed(&api.id),
    })
    .await?;
    let config = gw.config();
    let built = config
        .apis
        .iter()
        .find(|a| a.name == api.id)
        .ok_or_else(|| AwsError::internal("the API did not load"))?;
    let mut out = rest_api(built);
    out["warnings"] = json!(warnings);
    Ok((status, out))
}

/// AWS `CreateDeploymentRequest`: Portico's, plus the variables of a stage it creates.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AwsCreateDeployment {
    #[serde(default)]
    stage_name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    canary_settings: Option<DeploymentCanary>,
    #[serde(default)]
    variables: std::collections::BTreeMap<String, String>,
}

async fn create_deployment(gw: &Arc<Gateway>, api: &Api, body: &[u8]) -> Reply {
    let request: AwsCreateDeployment = admin_deploy::parse(body)?;
    let new_stage = request
        .stage_name
        .as_ref()
        .filter(|s| !api.stages.iter().any(|st| &st.name == *s))
        .filter(|_| api.managed.is_some() && request.canary_settings.is_none())
        .cloned();
    // A stage that does not exist yet (an API made here) is created on the new deployment.
    let stage_name = if new_stage.is_some() {
        None
    } else {
        request.stage_name
    };
    let made = admin_deploy::create_deployment(
        gw,
        &api.name,
        CreateDeployment {
            stage_name,
            description: request.description,
            canary_settings: request.canary_settings,
        },
    )
    .await?;
    if let Some(stage) = new_stage {
        let deployment_id = made.1["id"].as_str().unwrap_or_default().to_owned();
        let config = gw.config();
        let api = config
            .apis
            .iter()
            .find(|a| a.name == api.name)
            .ok_or_else(|| AwsError::internal("the API is gone"))?;
        create_stage(
            gw,
            api,
            CreateStage {
                stage_name: stage,
                deployment_id,
                variables: request.variables,
                ..Default::default()
            },
        )
        .await?;
    }
    Ok(made)
}

/// AWS `CreateStageRequest` (its settings beside variables and canary are not kept).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateStage {
    stage_name: String,
    deployment_id: String,
    #[serde(default)]
    variables: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    canary_settings: Option<deploy::CanarySettings>,
}

async fn create_stage(gw: &Arc<Gateway>, api: &Api, request: CreateStage) -> Reply {
    if api.managed.is_none() {
        return Err(AwsError::bad_request(format!(
            "the stages of API {} are declared in the gateway file",
            api.name
        )));
    }
    let name = request.stage_name;
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(AwsError::bad_request(format!(
            "Stage name only allows a-zA-Z0-9_- and at most 128 characters: {name}"
        )));
    }
    if api.stages.iter().any(|s| s.name == name) {
        return Err(AwsError::conflict("Stage already exists"));
    }
    let store = store(gw)?;
    let known = store
        .deployment(&api.name, &request.deployment_id)
        .map_err(AwsError::internal)?
        .is_some();
    if !known {
        return Err(admin_deploy::no_deployment(&request.deployment_id));
    }
    let state = StageState {
        deployment_id: Some(request.deployment_id),
        variables: request.variables,
        canary_settings: request.canary_settings,
        history: Vec::new(),
    };
    {
        let _serial = gw.stage_lock.lock().await;
        store
            .save_stage(&api.name, &name, &state)
            .map_err(AwsError::internal)?;
        let path = store.stage_path(&api.name, &name);
        admin_deploy::reload_or_undo(gw, "stage", || {
            std::fs::remove_file(&path).map_err(|e| e.to_string())
        })
        .await?;
    }
    let config = gw.config();
    let (api, stage) = find_stage(&config, &api.name, &name)?;
    Ok((
        StatusCode::CREATED,
        admin_deploy::stage_json(gw, api, stage)?,
    ))
}

async fn delete_stage(gw: &Arc<Gateway>, api: &Api, stage: &str) -> Reply {
    if api.managed.is_none() {
        return Err(file_api(&api.name));
    }
    find_stage(&gw.config(), &api.name, stage)?;
    let store = store(gw)?;
    let _serial = gw.stage_lock.lock().await;
    let before = store.stage(&api.name, stage).map_err(AwsError::internal)?;
    let path = store.stage_path(&api.name, stage);
    std::fs::remove_file(&path).map_err(|e| AwsError::internal(e.to_string()))?;
    admin_deploy::reload_or_undo(gw, "stage deletion", || {
        store.save_stage(&api.name, stage, &before)
    })
    .await?;
    Ok((StatusCode::ACCEPTED, Value::Null))
}

/// `GetExport`: the definition the stage serves, as JSON (or as the YAML it came in, for an
/// `Accept: application/yaml`). Portico keeps the document as it was imported or written, so
/// `swagger` and `oas30` both give that document; exporting and importing again is a fixed
/// point.
fn export(
    config: &Config,
    api: &Api,
    stage: &str,
    kind: &str,
    headers: &http::HeaderMap,
) -> http::Response<Body> {
    if !matches!(kind, "oas30" | "swagger") {
        return AwsError::bad_request(format!("Invalid export type {kind}: oas30 or swagger"))
            .reply();
    }
    let Some(stage) = api.stages.iter().find(|s| s.name == stage) else {
        return AwsError::not_found(format!("Invalid stage identifier specified: {stage}")).reply();
    };
    let served = stage.deployment.map_or(api, |d| &config.deployments[d]);
    let yaml = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("yaml"));
    let (text, content_type, ext) = if yaml && !served.spec.ends_with(".json") {
        (served.definition.to_string(), "application/yaml", "yaml")
    } else {
        match portico_config::doc::parse(&served.spec, &served.definition)
            .map(|doc| serde_json::to_string_pretty(&doc))
        {
            Ok(Ok(text)) => (text, "application/json", "json"),
            _ => {
                return AwsError::internal("the stored definition does not parse").reply();
            }
        }
    };
    let mut resp = http::Response::new(full(bytes::Bytes::from(text)));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}-{}-{kind}.{ext}\"",
        api.name, stage.name
    )) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// A new API id: [`deploy::ID_LEN`] random lower-case letters and digits.
fn new_id() -> String {
    random_id(deploy::ID_LEN)
}

/// `len` random lower-case letters and digits (AWS's ids look so).
pub(crate) fn random_id(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = vec![0u8; len];
    let _ = getrandom::fill(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

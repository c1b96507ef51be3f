//! The deployment part of the admin API: deployments, stages, rollback and canaries, in the
//! shapes of API Gateway's `Deployment` and `Stage` resources. The store itself is
//! [`portico_config::deploy`]; a change to a stage is written there and applied with a reload
//! (build, then swap), so a request is served either by the old stage or by the new one, and
//! a change that does not build is undone and changes nothing.
//!
//! | Request | Answer |
//! |---|---|
//! | `GET /apis` | 200 `{"items":[{"name","currentDeploymentId","stages":[Stage..]}]}` |
//! | `GET /apis/{api}/deployments` | 200 `{"currentDeploymentId","items":[{"id","description","createdDate","spec","plugins","stages"}]}` |
//! | `POST /apis/{api}/deployments` `{"stageName"?,"description"?,"canarySettings"?}` | 201 the deployment (without its definition): stores the API's current definition; with `stageName`, points the stage at it, or with `canarySettings` too, makes it the stage's canary |
//! | `GET /apis/{api}/deployments/{id}` | 200 the deployment, `definition` included |
//! | `GET /apis/{api}/stages/{stage}` | 200 the stage: `{"stageName","deploymentId","pinned","variables","canarySettings","history"}` |
//! | `PATCH /apis/{api}/stages/{stage}` `{"patchOperations":[{"op","path","value","from"}]}` | 200 the stage (AWS UpdateStage; see [`patch`]) |
//! | `POST /apis/{api}/stages/{stage}/rollback` `{"deploymentId"?}` | 200 the stage, now serving the given deployment, or the one it served before |
//!
//! Errors are API Gateway's: `{"message"}` with `x-amzn-ErrorType: BadRequestException`
//! (400), `NotFoundException` (404) or `ConflictException` (409).

use std::collections::BTreeMap;
use std::sync::Arc;

use http::{HeaderValue, Method, StatusCode};
use portico_config::deploy::{CanarySettings, Deployment, StageState, Store};
use portico_config::{Api, Config};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::control::admin::json_reply;
use crate::pipeline::body::Body;
use crate::{Gateway, ReloadError};

/// An API Gateway error: its status, its type and its message.
#[derive(Debug)]
pub(crate) struct AwsError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl AwsError {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind: "BadRequestException",
            message: message.into(),
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            kind: "NotFoundException",
            message: message.into(),
        }
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            kind: "ConflictException",
            message: message.into(),
        }
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "InternalServerErrorException",
            message: message.into(),
        }
    }

    pub(crate) fn reply(self) -> http::Response<Body> {
        let mut resp = json_reply(self.status, json!({"message": self.message}));
        resp.headers_mut()
            .insert("x-amzn-errortype", HeaderValue::from_static(self.kind));
        resp
    }
}

pub(crate) type Reply = Result<(StatusCode, Value), AwsError>;

/// The HTTP answer of a [`Reply`]: JSON, or no body for 202 and 204 (AWS's deletes and
/// flushes), or the AWS error shape.
pub(crate) fn respond(result: Reply) -> http::Response<Body> {
    match result {
        Ok((status @ (StatusCode::ACCEPTED | StatusCode::NO_CONTENT), _)) => {
            let mut resp = http::Response::new(crate::pipeline::body::full(bytes::Bytes::new()));
            *resp.status_mut() = status;
            resp
        }
        Ok((status, body)) => json_reply(status, body),
        Err(e) => e.reply(),
    }
}

/// `/apis...`: `rest` is what follows `/apis`.
pub(crate) async fn apis(
    gw: &Arc<Gateway>,
    method: &Method,
    rest: &str,
    body: &[u8],
) -> http::Response<Body> {
    let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let result = match (method, parts.as_slice()) {
        (&Method::GET, [""]) => Ok((StatusCode::OK, list_apis(gw))),
        (_, [api, ..]) => match gw.config().apis.iter().find(|a| a.name == *api) {
            None => Err(AwsError::not_found(format!(
                "Invalid API identifier specified: {api}"
            ))),
            Some(_) => api_request(gw, method, api, &parts[1..], body).await,
        },
        _ => Err(AwsError::not_found("Not Found")),
    };
    match result {
        Ok((status, body)) => json_reply(status, body),
        Err(e) => e.reply(),
    }
}

async fn api_request(
    gw: &Arc<Gateway>,
    method: &Method,
    api: &str,
    parts: &[&str],
    body: &[u8],
) -> Reply {
    match (method, parts) {
        (&Method::GET, ["deployments"]) => list_deployments(gw, api),
        (&Method::POST, ["deployments"]) => create_deployment(gw, api, parse(body)?).await,
        (&Method::GET, ["deployments", id]) => {
            let found = store(gw)?
                .deployment(api, id)
                .map_err(AwsError::internal)?
                .ok_or_else(|| no_deployment(id))?;
            Ok((StatusCode::OK, deployment_json(&found, true, &gw.config())))
        }
        (&Method::GET, ["stages", stage]) => {
            let config = gw.config();
            let (api, stage) = find_stage(&config, api, stage)?;
            Ok((StatusCode::OK, stage_json(gw, api, stage)?))
        }
        (&Method::PATCH, ["stages", stage]) => {
            let request: PatchRequest = parse(body)?;
            change_stage(gw, api, stage, |state, _| {
                patch(state, &request.patch_operations)
            })
            .await
        }
        (&Method::POST, ["stages", stage, "rollback"]) => {
            let request: RollbackRequest = parse(body)?;
            change_stage(gw, api, stage, |state, current| {
                rollback(state, request.deployment_id, current)
            })
            .await
        }
        _ => Err(AwsError::not_found("Not Found")),
    }
}

pub(crate) fn parse<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, AwsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| AwsError::bad_request(format!("Invalid request body: {e}")))
}

pub(crate) fn store(gw: &Gateway) -> Result<Store, AwsError> {
    gw.config()
        .data_dir
        .as_deref()
        .map(Store::new)
        .ok_or_else(|| {
            AwsError::bad_request(
                "deployments need a data directory: this gateway runs with data_dir: off",
            )
        })
}

pub(crate) fn no_deployment(id: &str) -> AwsError {
    AwsError::not_found(format!("Invalid Deployment identifier specified: {id}"))
}

pub(crate) fn find_stage<'c>(
    config: &'c Config,
    api: &str,
    stage: &str,
) -> Result<(&'c Api, &'c portico_config::Stage), AwsError> {
    let found = config.apis.iter().find(|a| a.name == api);
    found
        .and_then(|a| a.stages.iter().find(|s| s.name == stage).map(|s| (a, s)))
        .ok_or_else(|| AwsError::not_found(format!("Invalid stage identifier specified: {stage}")))
}

fn list_apis(gw: &Gateway) -> Value {
    let config = gw.config();
    let items: Vec<Value> = config
        .apis
        .iter()
        .map(|api| {
            let stages: Vec<Value> = api
                .stages
                .iter()
                .filter_map(|s| stage_json(gw, api, s).ok())
                .collect();
            json!({"name": api.name, "currentDeploymentId": api.deployment_id, "stages": stages})
        })
        .collect();
    json!({ "items": items })
}

pub(crate) fn list_deployments(gw: &Gateway, api: &str) -> Reply {
    let config = gw.config();
    let (found, errors) = store(gw)?.deployments(api);
    for e in errors {
        tracing::warn!("deployment store: {e}");
    }
    let items: Vec<Value> = found
        .iter()
        .map(|d| deployment_json(d, false, &config))
        .collect();
    let current = config
        .apis
        .iter()
        .find(|a| a.name == api)
        .map(|a| a.deployment_id.clone());
    Ok((
        StatusCode::OK,
        json!({"currentDeploymentId": current, "items": items}),
    ))
}

/// A deployment as `GET` shows it, with the stages (and canaries) serving it.
pub(crate) fn deployment_json(d: &Deployment, with_definition: bool, config: &Config) -> Value {
    let mut serving = Vec::new();
    for api in config.apis.iter().filter(|a| a.name == d.api) {
        for s in &api.stages {
            if s.deployment_id == d.id {
                serving.push(s.name.clone());
            }
            if s.canary
                .as_ref()
                .is_some_and(|c| c.stage.deployment_id == d.id)
            {
                serving.push(format!("{}/Canary", s.name));
            }
        }
    }
    let mut out = json!({
        "id": d.id,
        "api": d.api,
        "description": d.description,
        "createdDate": d.created_date,
        "spec": d.spec,
        "plugins": d.plugins,
        "stages": serving,
    });
    if with_definition {
        out["definition"] = json!(d.definition);
    }
    out
}

/// A stage as `GET` shows it (AWS `Stage`, plus `pinned` and `history`).
pub(crate) fn stage_json(
    gw: &Gateway,
    api: &Api,
    stage: &portico_config::Stage,
) -> Result<Value, AwsError> {
    let state = match gw.config().data_dir.as_deref() {
        Some(dir) => Store::new(dir)
            .stage(&api.name, &stage.name)
            .map_err(AwsError::internal)?,
        None => StageState::default(),
    };
    let canary = stage.canary.as_ref().map(|c| {
        json!({
            "deploymentId": c.stage.deployment_id,
            "percentTraffic": c.percent_traffic,
            "stageVariableOverrides": c.overrides,
            "useStageCache": c.use_stage_cache,
        })
    });
    let mut out = json!({
        "stageName": stage.name,
        "deploymentId": stage.deployment_id,
        "pinned": stage.pinned,
        "variables": stage.variables,
        "history": state.history,
    });
    if let Some(canary) = canary {
        out["canarySettings"] = canary;
    }
    Ok(out)
}

/// `POST /apis/{api}/deployments`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CreateDeployment {
    #[serde(default)]
    pub(crate) stage_name: Option<String>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) canary_settings: Option<DeploymentCanary>,
}

/// AWS `DeploymentCanarySettings`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct DeploymentCanary {
    #[serde(default)]
    pub(crate) percent_traffic: f64,
    #[serde(default)]
    pub(crate) stage_variable_overrides: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) use_stage_cache: bool,
}

/// Longest deployment description.
const MAX_DESCRIPTION: usize = 1024;

pub(crate) async fn create_deployment(
    gw: &Arc<Gateway>,
    api: &str,
    request: CreateDeployment,
) -> Reply {
    let store = store(gw)?;
    if request
        .description
        .as_ref()
        .is_some_and(|d| d.len() > MAX_DESCRIPTION)
    {
        return Err(AwsError::bad_request(format!(
            "a description has at most {MAX_DESCRIPTION} bytes"
        )));
    }
    if let Some(c) = &request.canary_settings
        && !(c.percent_traffic.is_finite() && (0.0..=100.0).contains(&c.percent_traffic))
    {
        return Err(AwsError::bad_request(format!(
            "Invalid percentTraffic {}: must be a number between 0.0 and 100.0",
            c.percent_traffic
        )));
    }
    if request.canary_settings.is_some() && request.stage_name.as_deref().is_none_or(str::is_empty)
    {
        return Err(AwsError::bad_request(
            "Invalid deployment content specified.Non null and non empty stageName must be provided for canary deployment. Provided value is null",
        ));
    }
    let config = gw.config();
    if let Some(stage) = &request.stage_name {
        let known = config
            .apis
            .iter()
            .find(|a| a.name == api)
            .is_some_and(|a| a.stages.iter().any(|s| s.name == *stage));
        if !known {
            return Err(if request.canary_settings.is_some() {
                AwsError::bad_request(format!(
                    "Invalid deployment content specified.Stage {stage} must already be created before making a canary release deployment"
                ))
            } else {
                AwsError::not_found(format!(
                    "Invalid stage identifier specified: {stage} (stages are declared in the gateway file)"
                ))
            });
        }
    }
    let head =
        config.apis.iter().find(|a| a.name == api).ok_or_else(|| {
            AwsError::not_found(format!("Invalid API identifier specified: {api}"))
        })?;
    let stored = freeze(gw, &store, head, request.description.unwrap_or_default())?;
    let id = stored.id.clone();
    if let Some(stage) = &request.stage_name {
        let canary = request.canary_settings;
        change_stage(gw, api, stage, move |state, _| {
            match canary {
                Some(c) => {
                    state.canary_settings = Some(CanarySettings {
                        deployment_id: id,
                        percent_traffic: c.percent_traffic,
                        stage_variable_overrides: c.stage_variable_overrides,
                        use_stage_cache: c.use_stage_cache,
                    });
                }
                None => repoint(state, Some(id))?,
            }
            Ok(())
        })
        .await?;
    } else {
        // A stage change publishes the store when it applies; a bare deployment does here.
        gw.store_changed().await;
    }
    Ok((
        StatusCode::CREATED,
        deployment_json(&stored, false, &gw.config()),
    ))
}

/// Stores `head`'s current definition as a deployment (or finds it stored already), with the
/// digests of the plugins loaded now.
fn freeze(
    gw: &Gateway,
    store: &Store,
    head: &Api,
    description: String,
) -> Result<Deployment, AwsError> {
    if head.managed.is_some() {
        // A working copy may hold unfinished methods; a deployment may not (AWS).
        let report =
            portico_config::check_definition(&head.name, &head.spec, &head.definition, false);
        let errors = report.error_messages();
        if !errors.is_empty() {
            return Err(AwsError::bad_request(format!(
                "{}:\n{}",
                portico_config::openapi::NO_INTEGRATION,
                errors.join("\n")
            )));
        }
    }
    let plugins = gw
        .plugins
        .list()
        .into_iter()
        .map(|(name, _, digest, _)| (name, digest))
        .collect();
    let mut made = Deployment {
        id: head.deployment_id.clone(),
        api: head.name.clone(),
        created_date: now(),
        description,
        spec: head.spec.clone(),
        definition: head.definition.to_string(),
        plugins,
    };
    // The same definition on other plugin versions is another deployment.
    let stored = store
        .deployment(&head.name, &made.id)
        .map_err(AwsError::internal)?;
    if stored.is_some_and(|d| d.plugins != made.plugins) {
        made.id = portico_config::deploy::deployment_id_with(&made.definition, &made.plugins);
    }
    store.save_deployment(&made).map_err(AwsError::internal)
}

/// Applies `change` to a stage's state, then reloads. A change that does not build is undone
/// (the old state written back) and answered 400 with the errors; nothing else changes.
/// `change` gets the id of the API's current definition.
pub(crate) async fn change_stage(
    gw: &Arc<Gateway>,
    api: &str,
    stage: &str,
    change: impl FnOnce(&mut StageState, &str) -> Result<(), AwsError>,
) -> Reply {
    let _serial = gw.stage_lock.lock().await;
    let store = store(gw)?;
    let config = gw.config();
    let (head, found) = find_stage(&config, api, stage)?;
    let (current, stage_known) = (head.deployment_id.clone(), found.name.clone());
    let before = store.stage(api, &stage_known).map_err(AwsError::internal)?;
    let mut after = before.clone();
    change(&mut after, &current)?;
    for id in after
        .deployment_id
        .iter()
        .chain(after.canary_settings.as_ref().map(|c| &c.deployment_id))
    {
        if store
            .deployment(api, id)
            .map_err(AwsError::internal)?
            .is_some()
        {
            continue;
        }
        // Pinned to the current definition: it must be stored, or the stage would lose it at
        // the next change of the file.
        if *id != current {
            return Err(no_deployment(id));
        }
        freeze(gw, &store, head, String::new())?;
    }
    if after != before {
        store
            .save_stage(api, stage, &after)
            .map_err(AwsError::internal)?;
        reload_or_undo(gw, "stage change", || store.save_stage(api, stage, &before)).await?;
    }
    let config = gw.config();
    let (api, stage) = find_stage(&config, api, stage)?;
    Ok((StatusCode::OK, stage_json(gw, api, stage)?))
}

/// Reloads after a change to the store; when the new configuration does not build, `undo`
/// puts the store back and the answer is 400 with the errors: nothing changed. The caller
/// holds the stage lock.
pub(crate) async fn reload_or_undo(
    gw: &Arc<Gateway>,
    what: &str,
    undo: impl FnOnce() -> Result<(), String>,
) -> Result<(), AwsError> {
    let Err(e) = gw.reload().await else {
        gw.store_changed().await;
        return Ok(());
    };
    let undone = undo();
    let errors: Vec<String> = match &e {
        ReloadError::Invalid(report) => report.error_messages(),
        ReloadError::Build(errors) => errors.clone(),
    };
    tracing::warn!(?undone, "{what} rejected: {}", errors.join("; "));
    Err(AwsError::bad_request(format!(
        "the {what} does not build, so nothing changed: {}",
        errors.join("; ")
    )))
}

/// Points the stage at `to`, under AWS's rule that a stage with a canary serves only the
/// canary's deployment besides its own.
fn repoint(state: &mut StageState, to: Option<String>) -> Result<(), AwsError> {
    if let Some(canary) = &state.canary_settings
        && to.as_ref() != Some(&canary.deployment_id)
        && to != state.deployment_id
    {
        return Err(AwsError::bad_request(format!(
            "the stage has a canary (deployment {}): it can only be pointed at the canary's deployment; delete the canary (remove /canarySettings) first",
            canary.deployment_id
        )));
    }
    state.point_at(to);
    Ok(())
}

/// `POST .../rollback`: to `to`, or to what the stage served before.
fn rollback(state: &mut StageState, to: Option<String>, current: &str) -> Result<(), AwsError> {
    if let Some(id) = to {
        // Rolling back to the current definition means following it again.
        let to = (id != current && id != "current").then_some(id);
        return repoint(state, to);
    }
    let Some(previous) = state.history.last().cloned() else {
        return Err(AwsError::conflict(
            "the stage has served no other deployment: there is nothing to roll back to",
        ));
    };
    repoint(state, previous)?;
    // `repoint` recorded the deployment rolled back from; walking back must not bounce
    // between the last two, so both entries go.
    state.history.pop();
    state.history.pop();
    Ok(())
}

/// `PATCH /apis/{api}/stages/{stage}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PatchRequest {
    #[serde(default)]
    pub(crate) patch_operations: Vec<PatchOperation>,
}

/// AWS `PatchOperation`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PatchOperation {
    op: String,
    path: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    from: Option<String>,
}

/// `POST .../rollback`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RollbackRequest {
    #[serde(default)]
    deployment_id: Option<String>,
}

const NO_CANARY: &str = "Promotion not available. Canary does not exist.";

/// The stage's canary, to change one of its settings.
fn canary(state: &mut StageState) -> Result<&mut CanarySettings, AwsError> {
    state.canary_settings.as_mut().ok_or_else(|| {
        AwsError::bad_request(
            "the stage has no canary: create one with a deployment that has canarySettings",
        )
    })
}

/// AWS UpdateStage's patch operations on a stage, applied in order:
///
/// | op | path | meaning |
/// |---|---|---|
/// | `replace` | `/deploymentId` | serve that deployment (`remove` it: follow the gateway file again) |
/// | `replace`, `remove` | `/variables/{name}` | a stage variable set through the admin API |
/// | `replace` | `/canarySettings/percentTraffic`, `/deploymentId`, `/useStageCache` | the canary's settings |
/// | `replace`, `remove` | `/canarySettings/stageVariableOverrides/{name}` | one override |
/// | `remove` | `/canarySettings` | no more canary |
/// | `copy` | from `/canarySettings/deploymentId` to `/deploymentId`, from `/canarySettings/stageVariableOverrides` to `/variables` | promote |
pub(crate) fn patch(state: &mut StageState, ops: &[PatchOperation]) -> Result<(), AwsError> {
    for op in ops {
        let value = || {
            op.value.clone().ok_or_else(|| {
                AwsError::bad_request(format!("{} {} needs a value", op.op, op.path))
            })
        };
        match (op.op.as_str(), op.path.as_str()) {
            ("replace", "/deploymentId") => repoint(state, Some(value()?))?,
            ("remove", "/deploymentId") => repoint(state, None)?,
            ("replace", "/canarySettings/percentTraffic") => {
                let v = value()?;
                let percent: f64 = v
                    .parse()
                    .ok()
                    .filter(|p: &f64| p.is_finite() && (0.0..=100.0).contains(p))
                    .ok_or_else(|| {
                        AwsError::bad_request(format!(
                            "Invalid percentTraffic {v}: must be a number between 0.0 and 100.0"
                        ))
                    })?;
                canary(state)?.percent_traffic = percent;
            }
            ("replace", "/canarySettings/deploymentId") => {
                canary(state)?.deployment_id = value()?;
            }
            ("replace", "/canarySettings/useStageCache") => {
                let v = value()?;
                canary(state)?.use_stage_cache = v.parse().map_err(|_| {
                    AwsError::bad_request(format!("Invalid useStageCache {v}: true or false"))
                })?;
            }
            ("remove", "/canarySettings") => state.canary_settings = None,
            ("copy", path) => {
                let Some(c) = state.canary_settings.clone() else {
                    return Err(AwsError::bad_request(NO_CANARY));
                };
                match (op.from.as_deref(), path) {
                    (Some("/canarySettings/deploymentId"), "/deploymentId") => {
                        state.point_at(Some(c.deployment_id));
                    }
                    (Some("/canarySettings/stageVariableOverrides"), "/variables") => {
                        state.variables.extend(c.stage_variable_overrides);
                    }
                    _ => {
                        return Err(AwsError::bad_request(
                            "Valid copy:path are [/deploymentId, /variables] and valid copy:from are [/canarySettings/deploymentId, /canarySettings/stageVariableOverrides]",
                        ));
                    }
                }
            }
            (op_name, path) => {
                if let Some(name) = path.strip_prefix("/variables/") {
                    match op_name {
                        "replace" | "add" => {
                            state.variables.insert(unescape(name), value()?);
                        }
                        "remove" => {
                            state.variables.remove(&unescape(name));
                        }
                        _ => return Err(invalid_op(op)),
                    }
                } else if let Some(name) =
                    path.strip_prefix("/canarySettings/stageVariableOverrides/")
                {
                    match op_name {
                        "replace" | "add" => {
                            let v = value()?;
                            canary(state)?
                                .stage_variable_overrides
                                .insert(unescape(name), v);
                        }
                        "remove" => {
                            canary(state)?
                                .stage_variable_overrides
                                .remove(&unescape(name));
                        }
                        _ => return Err(invalid_op(op)),
                    }
                } else {
                    return Err(invalid_op(op));
                }
            }
        }
    }
    Ok(())
}

fn invalid_op(op: &PatchOperation) -> AwsError {
    AwsError::bad_request(format!(
        "Invalid patch operation specified. Must be one of: [replace /deploymentId, remove /deploymentId, replace|remove /variables/{{name}}, replace /canarySettings/percentTraffic|deploymentId|useStageCache, replace|remove /canarySettings/stageVariableOverrides/{{name}}, remove /canarySettings, copy]; got {} {}",
        op.op, op.path
    ))
}

/// A JSON-pointer segment: `~1` is `/`, `~0` is `~`.
fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

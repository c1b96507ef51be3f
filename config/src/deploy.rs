//! The deployment store: immutable deployments of each API, and the state of each stage (which
//! deployment it serves, its promoted variables, its canary), in `<data_dir>/apis/`.
//!
//! ```text
//! <data_dir>/apis/<api>/deployments/<id>.json   one deployment, never rewritten
//! <data_dir>/apis/<api>/stages/<stage>.json     one stage's state
//! <data_dir>/apis/<id>/api.json                 an API made through the AWS control plane
//! <data_dir>/usageplans/<id>.json                a usage plan made through the AWS control plane
//! ```
//!
//! APIs made through the AWS control plane (`import-rest-api`, `create-rest-api`) live here
//! whole: their definition ([`ManagedApi`]) and their stages, which exist as their state files
//! do.
//!
//! A deployment is the API definition (the OpenAPI text, models included) as it was when it was
//! made, with the digests of the plugins that served it. Its id is content-derived: the first
//! 10 hex digits of the SHA-256 of the definition, so deploying the same text twice gives the
//! same deployment. A stage without a state file, or whose state names no deployment, serves
//! the gateway file's current definition (it *follows* the file, as an HTTP API stage with
//! auto-deploy does); a stage whose state names a deployment serves that deployment, whatever
//! the file says since.
//!
//! This module is the one place in the crate that touches the file system directly (the rest
//! reads through a [`crate::Source`]): the store belongs to the gateway's data directory, not
//! to the configuration files. Writes are atomic (a temporary file renamed over the old one)
//! and private (0600 in a 0700 directory).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Digits of the definition's SHA-256 that make a deployment id.
pub const ID_LEN: usize = 10;

/// Earlier deployments a stage remembers for `rollback`.
pub const MAX_HISTORY: usize = 20;

/// One deployment: an API definition frozen in time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Deployment {
    /// Content-derived id ([`deployment_id`]).
    pub id: String,
    /// The API's name.
    pub api: String,
    /// When it was made, seconds since the Unix epoch.
    pub created_date: u64,
    /// Free text from whoever deployed.
    #[serde(default)]
    pub description: String,
    /// The definition's file name when it was deployed (its extension tells YAML from JSON).
    pub spec: String,
    /// The definition: the OpenAPI document's text.
    pub definition: String,
    /// Digest of each plugin the gateway had loaded when it was made, by name: the versions
    /// a stage serving it runs, whatever is deployed to the plugins since.
    #[serde(default)]
    pub plugins: BTreeMap<String, String>,
}

/// What a stage serves, beyond what the gateway file says of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StageState {
    /// The deployment the stage serves; `None`: the gateway file's current definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    /// Variables set on the stage through the admin API (a promoted canary's overrides); they
    /// override the gateway file's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, String>,
    /// The canary, while there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_settings: Option<CanarySettings>,
    /// Deployments the stage served before, newest last (at most [`MAX_HISTORY`]); `None`
    /// entries stand for "the gateway file".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Option<String>>,
}

/// AWS `canarySettings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CanarySettings {
    /// The deployment canary requests are served by.
    pub deployment_id: String,
    /// Share of the stage's requests sent to the canary, 0.0 to 100.0.
    #[serde(default)]
    pub percent_traffic: f64,
    /// Stage variables the canary sees instead of (or besides) the stage's.
    #[serde(default)]
    pub stage_variable_overrides: BTreeMap<String, String>,
    /// Whether canary requests share the stage's response cache (else they have their own).
    #[serde(default)]
    pub use_stage_cache: bool,
}

impl StageState {
    /// Points the stage at `to`, remembering what it served for `rollback`.
    pub fn point_at(&mut self, to: Option<String>) {
        if self.deployment_id == to {
            return;
        }
        let from = std::mem::replace(&mut self.deployment_id, to);
        self.history.push(from);
        if self.history.len() > MAX_HISTORY {
            self.history.remove(0);
        }
    }
}

/// An API made through the AWS control plane: its working definition, which deployments
/// freeze.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManagedApi {
    /// Its id, [`ID_LEN`] random lower-case letters and digits (`$context.apiId`).
    pub id: String,
    /// Its name (`info.title` when imported).
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// When it was made, seconds since the Unix epoch.
    pub created_date: u64,
    /// The definition's file name: `openapi.json` or `openapi.yaml`, as it came.
    pub spec: String,
    /// The OpenAPI document's text.
    pub definition: String,
}

/// The directory of usage plans made through the AWS control plane, in the data directory.
pub const PLANS_DIR: &str = "usageplans";

/// Characters of a usage plan id made through the AWS control plane.
pub const PLAN_ID_LEN: usize = 6;

/// A usage plan made through the AWS control plane (`create-usage-plan`), in AWS's shape. It
/// joins the gateway file's plans under its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManagedPlan {
    /// Its id: [`PLAN_ID_LEN`] random lower-case letters and digits.
    pub id: String,
    /// Its display name (free text).
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// The stages it covers.
    #[serde(default)]
    pub api_stages: Vec<PlanApiStage>,
    /// Per-key throttle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<PlanThrottle>,
    /// Per-key quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<PlanQuota>,
}

/// AWS `ApiStage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanApiStage {
    /// The API's id.
    pub api_id: String,
    /// The stage's name.
    pub stage: String,
    /// Per-method throttles, keyed `/{resourcePath}/{METHOD}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub throttle: BTreeMap<String, PlanThrottle>,
}

/// AWS `ThrottleSettings`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanThrottle {
    /// Bucket size.
    pub burst_limit: u32,
    /// Steady-state requests per second.
    pub rate_limit: f64,
}

/// AWS `QuotaSettings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanQuota {
    /// Requests per period.
    pub limit: u64,
    /// Requests subtracted in the first period.
    #[serde(default)]
    pub offset: u64,
    /// `DAY`, `WEEK` or `MONTH`.
    pub period: String,
}

/// Whether `id` can name a usage plan made through the AWS control plane (and so a file).
pub fn valid_plan_id(id: &str) -> bool {
    id.len() == PLAN_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Host names a managed API answers on: `{id}.execute-api.localhost` and
/// `{id}.execute-api.{region}.amazonaws.com`, as AWS names its default endpoint.
pub fn managed_hosts(id: &str, region: &str) -> Vec<String> {
    vec![
        format!("{id}.execute-api.localhost"),
        format!("{id}.execute-api.{region}.amazonaws.com"),
    ]
}

/// Whether `id` can name a managed API (and so a directory).
pub fn valid_api_id(id: &str) -> bool {
    id.len() == ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The id of a deployment of `definition`: the first [`ID_LEN`] hex digits of its SHA-256.
pub fn deployment_id(definition: &str) -> String {
    let mut id = portico_auth::sigv4::canonical::sha256_hex(definition.as_bytes());
    id.truncate(ID_LEN);
    id
}

/// The id of a deployment of `definition` run with the plugin versions `plugins` (name →
/// digest), for when a deployment of the same definition with other plugin versions is stored
/// already: the first [`ID_LEN`] hex digits of the SHA-256 of both.
pub fn deployment_id_with(definition: &str, plugins: &BTreeMap<String, String>) -> String {
    let mut text = definition.to_owned();
    for (name, digest) in plugins {
        text.push_str(&format!("\nplugin {name} {digest}"));
    }
    deployment_id(&text)
}

/// Whether `id` can name a deployment (and so a file): lower-case hex of [`ID_LEN`] digits.
pub fn valid_id(id: &str) -> bool {
    id.len() == ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// The store under one data directory.
#[derive(Debug, Clone)]
pub struct Store {
    /// The data directory.
    root: PathBuf,
}

impl Store {
    /// The store of `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.to_owned(),
        }
    }

    /// The directory of one API's files.
    fn api_dir(&self, api: &str) -> PathBuf {
        self.root.join("apis").join(api)
    }

    fn deployment_path(&self, api: &str, id: &str) -> PathBuf {
        self.api_dir(api)
            .join("deployments")
            .join(format!("{id}.json"))
    }

    /// Where the state of `api`'s stage `stage` is kept.
    pub fn stage_path(&self, api: &str, stage: &str) -> PathBuf {
        self.api_dir(api)
            .join("stages")
            .join(format!("{stage}.json"))
    }

    /// Deployment `id` of `api`; `Ok(None)` when there is none.
    pub fn deployment(&self, api: &str, id: &str) -> Result<Option<Deployment>, String> {
        if !valid_id(id) {
            return Ok(None);
        }
        let d: Option<Deployment> = read_json(&self.deployment_path(api, id))?;
        match d {
            Some(d)
                if d.id != id
                    || d.api != api
                    || (deployment_id(&d.definition) != id
                        && deployment_id_with(&d.definition, &d.plugins) != id) =>
            {
                Err(format!(
                    "{}: the file does not hold deployment {id} of API {api} (its content does not hash to its name)",
                    self.deployment_path(api, id).display()
                ))
            }
            d => Ok(d),
        }
    }

    /// Every deployment of `api`, oldest first. Files that do not parse are reported as
    /// errors beside the ones that do.
    pub fn deployments(&self, api: &str) -> (Vec<Deployment>, Vec<String>) {
        let dir = self.api_dir(api).join("deployments");
        let mut found = Vec::new();
        let mut errors = Vec::new();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return (found, errors);
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            match self.deployment(api, id) {
                Ok(Some(d)) => found.push(d),
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
        found.sort_by(|a, b| (a.created_date, &a.id).cmp(&(b.created_date, &b.id)));
        (found, errors)
    }

    /// Stores `deployment` unless a deployment with its id is already there (same content).
    /// Returns the stored one: the earlier one when it existed.
    pub fn save_deployment(&self, deployment: &Deployment) -> Result<Deployment, String> {
        if let Some(existing) = self.deployment(&deployment.api, &deployment.id)? {
            return Ok(existing);
        }
        write_json(
            &self.deployment_path(&deployment.api, &deployment.id),
            deployment,
        )?;
        Ok(deployment.clone())
    }

    fn managed_path(&self, id: &str) -> PathBuf {
        self.api_dir(id).join("api.json")
    }

    /// Every managed API, by id; files that do not parse are reported beside.
    pub fn managed(&self) -> (Vec<ManagedApi>, Vec<String>) {
        let mut found = Vec::new();
        let mut errors = Vec::new();
        let Ok(entries) = std::fs::read_dir(self.root.join("apis")) else {
            return (found, errors);
        };
        for entry in entries.flatten() {
            let Some(id) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if !valid_api_id(&id) {
                continue;
            }
            match self.managed_api(&id) {
                Ok(Some(api)) => found.push(api),
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
        found.sort_by(|a, b| a.id.cmp(&b.id));
        (found, errors)
    }

    /// Managed API `id`; `Ok(None)` when there is none.
    pub fn managed_api(&self, id: &str) -> Result<Option<ManagedApi>, String> {
        if !valid_api_id(id) {
            return Ok(None);
        }
        let path = self.managed_path(id);
        match read_json::<ManagedApi>(&path)? {
            Some(api) if api.id != id => Err(format!(
                "{}: the file holds API {}, not {id}",
                path.display(),
                api.id
            )),
            api => Ok(api),
        }
    }

    /// Stores (or replaces) a managed API.
    pub fn save_managed(&self, api: &ManagedApi) -> Result<(), String> {
        write_json(&self.managed_path(&api.id), api)
    }

    /// Forgets a managed API, its stages and deployments.
    pub fn delete_managed(&self, id: &str) -> Result<(), String> {
        if !valid_api_id(id) {
            return Ok(());
        }
        let dir = self.api_dir(id);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(format!("cannot remove {}: {e}", dir.display()))
            }
            _ => Ok(()),
        }
    }

    fn plan_path(&self, id: &str) -> PathBuf {
        self.root.join(PLANS_DIR).join(format!("{id}.json"))
    }

    /// Every usage plan made through the AWS control plane, by id; files that do not parse
    /// are reported beside.
    pub fn plans(&self) -> (Vec<ManagedPlan>, Vec<String>) {
        let mut found = Vec::new();
        let mut errors = Vec::new();
        let entries = std::fs::read_dir(self.root.join(PLANS_DIR));
        for entry in entries.into_iter().flatten().flatten() {
            let path = entry.path();
            let Some(id) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
                continue;
            };
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            match read_json::<ManagedPlan>(&path) {
                Ok(Some(p)) if p.id == id => found.push(p),
                Ok(Some(p)) => errors.push(format!(
                    "{}: the file holds usage plan {}, not {id}",
                    path.display(),
                    p.id
                )),
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
        found.sort_by(|a, b| a.id.cmp(&b.id));
        (found, errors)
    }

    /// Stores (or replaces) a usage plan.
    pub fn save_plan(&self, plan: &ManagedPlan) -> Result<(), String> {
        if !valid_plan_id(&plan.id) {
            return Err(format!("{:?} is not a usage plan id", plan.id));
        }
        write_json(&self.plan_path(&plan.id), plan)
    }

    /// Forgets a usage plan.
    pub fn delete_plan(&self, id: &str) -> Result<(), String> {
        self.remove_file(&format!("{PLANS_DIR}/{id}.json"))
    }

    /// The stages that have a state file, by name.
    pub fn stage_names(&self, api: &str) -> Vec<String> {
        let dir = self.api_dir(api).join("stages");
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".json"))
                    .map(str::to_owned)
            })
            .collect();
        names.sort();
        names
    }

    /// The state of `api`'s stage `stage` (the default when it has none).
    pub fn stage(&self, api: &str, stage: &str) -> Result<StageState, String> {
        Ok(read_json(&self.stage_path(api, stage))?.unwrap_or_default())
    }

    /// Replaces the state of a stage; the default state removes the file (of a gateway-file
    /// API's stage: a managed API's stage is its file).
    pub fn save_stage(&self, api: &str, stage: &str, state: &StageState) -> Result<(), String> {
        let path = self.stage_path(api, stage);
        // A managed API's stages exist as their files do: its default state is kept.
        if *state == StageState::default() && !self.managed_path(api).is_file() {
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(format!("cannot remove {}: {e}", path.display()))
                }
                _ => Ok(()),
            };
        }
        write_json(&path, state)
    }
}

impl Store {
    /// Every file of the store, by path relative to the data directory (what cluster mode
    /// replicates).
    pub fn files(&self) -> Result<BTreeMap<String, String>, String> {
        let mut rels = Vec::new();
        let json_files = |dir: &Path| -> Vec<String> {
            std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .filter(|f| f.ends_with(".json"))
                .collect()
        };
        for api in std::fs::read_dir(self.root.join("apis"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let Some(name) = api.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if api.path().join("api.json").is_file() {
                rels.push(format!("apis/{name}/api.json"));
            }
            for dir in ["deployments", "stages"] {
                for file in json_files(&api.path().join(dir)) {
                    rels.push(format!("apis/{name}/{dir}/{file}"));
                }
            }
        }
        for file in json_files(&self.root.join(PLANS_DIR)) {
            rels.push(format!("{PLANS_DIR}/{file}"));
        }
        let mut out = BTreeMap::new();
        for rel in rels.into_iter().filter(|r| valid_file(r)) {
            let path = self.root.join(&rel);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            out.insert(rel, text);
        }
        Ok(out)
    }

    /// Writes one file of the store by relative path (private, atomic); the path must be one
    /// of the store's ([`valid_file`]).
    pub fn put_file(&self, rel: &str, text: &str) -> Result<(), String> {
        if !valid_file(rel) {
            return Err(format!("{rel:?} is not a path of the deployment store"));
        }
        write_private(&self.root.join(rel), text.as_bytes())
    }

    /// Removes one file of the store by relative path.
    pub fn remove_file(&self, rel: &str) -> Result<(), String> {
        if !valid_file(rel) {
            return Err(format!("{rel:?} is not a path of the deployment store"));
        }
        match std::fs::remove_file(self.root.join(rel)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(format!("cannot remove {rel}: {e}"))
            }
            _ => Ok(()),
        }
    }
}

/// Whether `rel` names a file of the store: `apis/<api>/api.json`,
/// `apis/<api>/deployments/<x>.json`, `apis/<api>/stages/<x>.json` or `usageplans/<x>.json`,
/// each segment a plain name.
pub fn valid_file(rel: &str) -> bool {
    let plain = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.$".contains(&b))
    };
    match rel.split('/').collect::<Vec<_>>().as_slice() {
        ["apis", api, "api.json"] => plain(api),
        ["apis", api, "deployments" | "stages", file] => {
            plain(api) && file.ends_with(".json") && plain(file)
        }
        [PLANS_DIR, file] => file.ends_with(".json") && plain(file),
        _ => false,
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Writes `value` to `path` as JSON, with [`write_private`].
fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), String> {
    let text = serde_json::to_vec_pretty(value).map_err(|e| format!("{}: {e}", path.display()))?;
    write_private(path, &text)
}

/// Writes `text` to `path` atomically: a private temporary file (0600, in a 0700 directory)
/// beside it, renamed over it.
pub fn write_private(path: &Path, text: &[u8]) -> Result<(), String> {
    let fail = |what: &str, e: std::io::Error| format!("cannot {what} {}: {e}", path.display());
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| fail("create the directory of", e))?;
    let tmp = path.with_extension(format!("json.tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let written = options.open(&tmp).and_then(|mut f| {
        f.write_all(text)?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail("write", e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_content_derived() {
        let a = deployment_id("openapi: 3.0.1\n");
        assert_eq!(a.len(), ID_LEN);
        assert!(valid_id(&a));
        assert_eq!(a, deployment_id("openapi: 3.0.1\n"));
        assert_ne!(a, deployment_id("openapi: 3.0.2\n"));
        assert!(!valid_id("../../etc"));
        assert!(!valid_id("ABCDEF0123"));
    }

    #[test]
    fn only_store_paths_are_files() {
        assert!(valid_file("apis/shop/stages/prod.json"));
        assert!(valid_file("apis/shop/deployments/0123456789.json"));
        assert!(valid_file("apis/abc123defg/api.json"));
        assert!(valid_file("usageplans/abc123.json"));
        for bad in [
            "shop/stages/prod.json",
            "usageplans/../x.json",
            "usageplans/x/y.json",
            "../x/stages/prod.json",
            "shop/stages/../../etc.json",
            "shop/other/prod.json",
            "/abs/stages/x.json",
            "shop/stages/prod.txt",
            "shop/api.json/x",
        ] {
            assert!(!valid_file(bad), "{bad}");
        }
    }

    #[test]
    fn history_is_bounded_and_skips_no_ops() {
        let mut s = StageState::default();
        s.point_at(Some("a".into()));
        s.point_at(Some("a".into()));
        assert_eq!(s.history, vec![None]);
        for i in 0..30 {
            s.point_at(Some(format!("{i}")));
        }
        assert_eq!(s.history.len(), MAX_HISTORY);
        assert_eq!(s.history.last(), Some(&Some("28".to_owned())));
    }
}

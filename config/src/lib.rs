//! Portico's configuration: the gateway file and the OpenAPI documents it names, read and
//! validated into a [`Config`].
//!
//! Three layers, each with its own types:
//! 1. **raw** ([`gateway`]): serde types mirroring the YAML gateway file;
//! 2. **import** ([`openapi`]): each OpenAPI document walked into routes and integrations;
//! 3. **validated** ([`model`]): what the proxy compiles into a snapshot.
//!
//! [`load`] runs all three and collects every problem into a [`Report`] with the file and the
//! path inside the document. This crate does no I/O beyond reading through a [`Source`], and
//! knows nothing of tokio, hyper or wasmtime.

pub mod admin;
mod auth;
pub mod context_var;
pub mod deploy;
pub mod diag;
pub mod doc;
pub mod edge;
pub mod gateway;
pub mod http_mapping;
pub mod mapping;
pub mod model;
pub mod openapi;
pub mod plugins;
pub mod responses;
pub mod stage;
pub mod template;
pub mod transform;
pub mod transport;
pub mod usage;
pub mod validation;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use diag::{Diagnostic, Report, Severity};
pub use model::*;

use gateway::RawGateway;

/// Most data-plane worker threads a gateway file may ask for.
pub const MAX_WORKERS: usize = 256;

/// Plugin instance slots when the gateway file names none.
pub const DEFAULT_PLUGIN_INSTANCES: u32 = 1000;

/// The most plugin instance slots a gateway file may ask for. Each slot reserves address space
/// for its memories (with their guard regions), not memory.
pub const MAX_PLUGIN_INSTANCES: u32 = 100_000;

/// Stage-variable limits from API Gateway's quotas.
const MAX_STAGE_VARIABLES: usize = 100;
const MAX_STAGE_VARIABLE_NAME: usize = 64;
const MAX_STAGE_VARIABLE_VALUE: usize = 512;

/// Where configuration files come from: the file system, or the demo embedded in the binary.
pub trait Source {
    /// Reads a file named relative to the gateway file.
    fn read(&self, name: &str) -> Result<String, String>;
    /// The path to watch for changes, if the file lives on disk.
    fn path(&self, name: &str) -> Option<PathBuf>;
}

/// Files on disk, named relative to a base directory.
#[derive(Debug, Clone)]
pub struct FsSource {
    base: PathBuf,
}

impl FsSource {
    /// Files relative to `base`.
    pub fn new(base: impl Into<PathBuf>) -> Self {
        Self { base: base.into() }
    }
}

impl Source for FsSource {
    fn read(&self, name: &str) -> Result<String, String> {
        let path = self.base.join(name);
        std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    }
    fn path(&self, name: &str) -> Option<PathBuf> {
        Some(self.base.join(name))
    }
}

/// Files compiled into the binary.
#[derive(Debug, Clone, Copy)]
pub struct StaticSource(pub &'static [(&'static str, &'static str)]);

impl Source for StaticSource {
    fn read(&self, name: &str) -> Result<String, String> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| (*text).to_owned())
            .ok_or_else(|| format!("no embedded file named {name}"))
    }
    fn path(&self, _: &str) -> Option<PathBuf> {
        None
    }
}

/// Loads a gateway file from disk.
pub fn load_file(path: &Path) -> Result<(Config, Report), Report> {
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = if base.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base
    };
    load(&FsSource::new(base), &name)
}

/// Loads and validates a gateway file and every API it names. On success, the report holds
/// warnings only.
pub fn load(source: &dyn Source, gateway_file: &str) -> Result<(Config, Report), Report> {
    let mut report = Report::default();
    let hashing = Hashing {
        inner: source,
        files: Default::default(),
    };
    let config = load_inner(&hashing, gateway_file, &mut report);
    match config {
        Some(mut c) if !report.has_errors() => {
            c.digest = hashing.digest(&stage_states(&c));
            Ok((c, report))
        }
        _ => Err(report),
    }
}

/// What the deployment store says of every stage, as text for [`Config::digest`]: a stage
/// change (redeploy, rollback, canary) changes the digest as a file change does.
fn stage_states(c: &Config) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for api in &c.apis {
        for s in &api.stages {
            let _ = write!(
                out,
                "{}/{}={}:{}:{:?};",
                api.name, s.name, s.deployment_id, s.pinned, s.variables
            );
            if let Some(canary) = &s.canary {
                let _ = write!(
                    out,
                    "canary={}:{}:{}:{:?};",
                    canary.stage.deployment_id,
                    canary.percent_traffic,
                    canary.use_stage_cache,
                    canary.overrides
                );
            }
        }
    }
    out
}

/// A [`Source`] that remembers a digest of every file read, so that a [`Config`] can say
/// which text it was built from ([`Config::digest`]).
struct Hashing<'a> {
    inner: &'a dyn Source,
    files: std::cell::RefCell<std::collections::BTreeMap<String, [u8; 32]>>,
}

impl Hashing<'_> {
    /// SHA-256 over every file's name and SHA-256, in name order, then `extra`, as hex.
    fn digest(&self, extra: &str) -> String {
        use sha2::{Digest, Sha256};
        let mut all = Sha256::new();
        all.update(extra.as_bytes());
        for (name, hash) in self.files.borrow().iter() {
            all.update((name.len() as u64).to_be_bytes());
            all.update(name.as_bytes());
            all.update(hash);
        }
        portico_auth::sigv4::canonical::hex(&all.finalize())
    }
}

impl Source for Hashing<'_> {
    fn read(&self, name: &str) -> Result<String, String> {
        use sha2::{Digest, Sha256};
        let text = self.inner.read(name)?;
        self.files
            .borrow_mut()
            .insert(name.to_owned(), Sha256::digest(text.as_bytes()).into());
        Ok(text)
    }
    fn path(&self, name: &str) -> Option<PathBuf> {
        self.inner.path(name)
    }
}

fn load_inner(source: &dyn Source, file: &str, report: &mut Report) -> Option<Config> {
    let text = match source.read(file) {
        Ok(t) => t,
        Err(e) => {
            report.error(file, "", e);
            return None;
        }
    };
    let raw: RawGateway = match serde_saphyr::from_str(&text) {
        Ok(r) => r,
        Err(e) => {
            report.error(file, "", format!("invalid gateway file: {e}"));
            return None;
        }
    };
    let mut files: Vec<PathBuf> = source.path(file).into_iter().collect();

    let listeners = transport::listeners(report, file, source, &raw.listeners, &mut files);
    let resolve = |dir: &str| source.path(dir).unwrap_or_else(|| PathBuf::from(dir));
    let data_dir = match raw.data_dir.as_deref() {
        Some("off") => None,
        Some(dir) => Some(resolve(dir)),
        None => usage::default_data_dir(),
    };
    let admin = raw.admin.as_ref().and_then(|a| {
        let tls = |report: &mut Report| {
            a.tls
                .as_ref()
                .and_then(|t| transport::admin_tls(report, file, source, t, &mut files))
        };
        admin::admin(report, file, a, data_dir.as_deref(), resolve, tls)
    });

    let mut limits = Limits::default();
    let l = &raw.limits;
    if let Some(v) = l.max_body_bytes {
        limits.max_body_bytes = v;
    }
    if let Some(v) = l.max_header_bytes {
        if v < 1024 {
            report.error(file, "limits.max_header_bytes", "must be at least 1024");
        }
        limits.max_header_bytes = v;
    }
    if let Some(v) = l.max_uri_bytes {
        if v < 256 {
            report.error(file, "limits.max_uri_bytes", "must be at least 256");
        }
        limits.max_uri_bytes = v;
    }
    if let Some(v) = l.header_read_timeout_ms {
        if v == 0 {
            report.error(file, "limits.header_read_timeout_ms", "must be more than 0");
        }
        limits.header_read_timeout = Duration::from_millis(v);
    }
    if let Some(v) = l.drain_timeout_ms {
        limits.drain_timeout = Duration::from_millis(v);
    }
    if let Some(v) = l.tls_handshake_timeout_ms {
        if v == 0 {
            report.error(
                file,
                "limits.tls_handshake_timeout_ms",
                "must be more than 0",
            );
        }
        limits.tls_handshake_timeout = Duration::from_millis(v);
    }
    if let Some(v) = l.max_tls_handshakes {
        if v == 0 {
            report.error(file, "limits.max_tls_handshakes", "must be more than 0");
        }
        limits.max_tls_handshakes = v;
    }
    if let Some(v) = l.stream_idle_timeout_ms {
        if v == 0 {
            report.error(file, "limits.stream_idle_timeout_ms", "must be more than 0");
        }
        limits.stream_idle_timeout = Duration::from_millis(v);
    }
    if let Some(v) = l.stream_max_duration_ms {
        if v == 0 {
            report.error(file, "limits.stream_max_duration_ms", "must be more than 0");
        }
        limits.stream_max_duration = Duration::from_millis(v);
    }

    let access_log = match raw.access_log.as_deref() {
        None | Some("stdout") => AccessLog::Stdout,
        Some("stderr") => AccessLog::Stderr,
        Some("off") => AccessLog::Off,
        Some(path) => AccessLog::File(source.path(path).unwrap_or_else(|| PathBuf::from(path))),
    };

    let mut reload = ReloadSettings::default();
    if let Some(w) = raw.reload.watch {
        reload.watch = w;
    }
    if let Some(ms) = raw.reload.poll_interval_ms {
        if ms < 100 {
            report.error(file, "reload.poll_interval_ms", "must be at least 100");
        }
        reload.poll_interval = Duration::from_millis(ms);
    }

    let mut aws = AwsAccount::default();
    if let Some(region) = &raw.aws.region {
        let ok = !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            report.error(
                file,
                "aws.region",
                format!("{region:?} is not a region name (e.g. us-east-1)"),
            );
        }
        aws.region = region.clone();
    }
    if let Some(account) = &raw.aws.account_id {
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            report.error(
                file,
                "aws.account_id",
                format!("{account:?} is not a 12-digit account id"),
            );
        }
        aws.account_id = account.clone();
    }
    if let Some(endpoint) = &raw.aws.cognito_endpoint {
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
            report.error(file, "aws.cognito_endpoint", "must be an http(s) URL");
        }
        aws.cognito_endpoint = Some(endpoint.trim_end_matches('/').to_owned());
    }

    let store = data_dir.as_deref().map(deploy::Store::new);
    let mut apis = Vec::new();
    let mut deployments = Vec::new();
    let mut names = BTreeSet::new();
    let mut hosts = BTreeSet::new();
    let mut default_api: Option<String> = None;
    for (i, raw_api) in raw.apis.iter().enumerate() {
        let apath = format!("apis[{i}]");
        if !name_ok(&raw_api.name) {
            report.error(
                file,
                format!("{apath}.name"),
                format!(
                    "{:?}: an API name may only hold letters, digits, - and _",
                    raw_api.name
                ),
            );
        }
        if !names.insert(raw_api.name.clone()) {
            report.error(
                file,
                format!("{apath}.name"),
                format!("another API is already named {}", raw_api.name),
            );
        }
        if raw_api.hosts.is_empty() {
            if let Some(other) = &default_api {
                report.error(
                    file,
                    format!("{apath}.hosts"),
                    format!(
                        "both {other} and {} have no hosts; only one API can be the default",
                        raw_api.name
                    ),
                );
            }
            default_api = Some(raw_api.name.clone());
        }
        for (j, host) in raw_api.hosts.iter().enumerate() {
            if !hosts.insert(host.to_ascii_lowercase()) {
                report.error(
                    file,
                    format!("{apath}.hosts[{j}]"),
                    format!("host {host} is already claimed by another API"),
                );
            }
        }
        if raw_api.stages.is_empty() {
            report.error(
                file,
                format!("{apath}.stages"),
                "an API needs at least one stage; the stage is the first path segment of every URL",
            );
        }
        let stages = raw_api
            .stages
            .iter()
            .map(|(name, st)| {
                let spath = format!("{apath}.stages.{name}");
                if !name_ok(name) && name != "$default" {
                    report.error(
                        file,
                        &spath,
                        "a stage name may only hold letters, digits, - and _ (or be $default, served at the base URL)",
                    );
                }
                check_variables(report, file, &format!("{spath}.variables"), &st.variables);
                Stage::unsettled(name, st.variables.clone())
            })
            .collect::<Vec<_>>();

        files.extend(source.path(&raw_api.spec));
        let spec_text = match source.read(&raw_api.spec) {
            Ok(t) => t,
            Err(e) => {
                report.error(file, format!("{apath}.spec"), e);
                continue;
            }
        };
        let Some(mut head) = import_api(
            report,
            &aws,
            raw_api,
            &raw_api.spec,
            &raw_api.spec,
            spec_text.into(),
            false,
        ) else {
            continue;
        };
        let mut stages = stages;
        for stage in &mut stages {
            let spath = format!("{apath}.stages.{}", stage.name);
            let mut built = Built {
                report: &mut *report,
                file,
                aws: &aws,
                raw_api,
                store: store.as_ref(),
                head: &head,
                deployments: &mut deployments,
            };
            built.stage(stage, &spath);
        }
        head.stages = stages;
        apis.push(head);
    }
    if let Some(store) = &store {
        managed_apis(
            report,
            &aws,
            store,
            &names,
            &mut hosts,
            &mut apis,
            &mut deployments,
        );
    }

    let domains = transport::domains(report, file, source, &raw.domains, &apis, &mut files);

    let plugins = plugins::validate(source, file, &raw.plugins, report);
    files.extend(plugins.iter().map(|p| p.file.clone()));
    plugins::check_references(&apis, &plugins, report);
    plugins::check_references(&deployments, &plugins, report);
    plugins::check_engines(file, &apis, &plugins, report);
    let cache_dir = match raw.cache_dir.as_deref() {
        Some("off") => None,
        Some(dir) => Some(source.path(dir).unwrap_or_else(|| PathBuf::from(dir))),
        None => default_cache_dir(),
    };

    let traffic = usage::settings(report, file, raw.traffic.as_ref(), &data_dir, resolve);
    let api_keys = usage::keys(report, file, &raw.api_keys);
    let mut usage_plans = usage::plans(report, file, &raw.usage_plans, &apis, &api_keys);
    if let Some(store) = &store {
        let (stored, errors) = store.plans();
        for e in errors {
            report.error("the deployment store", "", e);
        }
        let managed = usage::managed_plans(report, &stored, &apis, &api_keys, &usage_plans);
        usage_plans.extend(managed);
    }

    let workers = raw.workers.unwrap_or(0);
    if workers > MAX_WORKERS {
        report.error(
            file,
            "workers",
            format!("must be at most {MAX_WORKERS} (0 means one per core)"),
        );
    }

    let worker_cpu_affinity = match raw.worker_cpu_affinity.as_deref() {
        None | Some("auto") => WorkerAffinity::Auto,
        Some("on") => WorkerAffinity::On,
        Some("off") => WorkerAffinity::Off,
        Some(other) => {
            report.error(
                file,
                "worker_cpu_affinity",
                format!("must be auto, on or off, not {other:?}"),
            );
            WorkerAffinity::Auto
        }
    };

    let plugin_instances = raw.plugin_instances.unwrap_or(DEFAULT_PLUGIN_INSTANCES);
    if !(1..=MAX_PLUGIN_INSTANCES).contains(&plugin_instances) {
        report.error(
            file,
            "plugin_instances",
            format!("must be between 1 and {MAX_PLUGIN_INSTANCES}"),
        );
    }

    let credentials = auth::credentials(report, file, &raw.iam, &aws);
    let client_ip = auth::client_ip(report, file, &raw.client_ip);

    Some(Config {
        aws,
        credentials,
        client_ip,
        listeners,
        admin,
        data_dir,
        digest: String::new(),
        domains,
        workers,
        worker_cpu_affinity,
        plugin_instances,
        apis,
        deployments,
        limits,
        access_log,
        reload,
        files,
        plugins,
        cache_dir,
        traffic,
        api_keys,
        usage_plans,
    })
}

/// Imports one definition of `raw_api` (the gateway file's, or a stored deployment's) into an
/// [`Api`] without stages. `label` names it in the report; `spec` is its file name (the
/// extension tells JSON from YAML). A `draft` (a managed API's working copy) may hold methods
/// without an integration: they are warned about and not served. `None` when it does not parse
/// (reported).
fn import_api(
    report: &mut Report,
    aws: &AwsAccount,
    raw_api: &gateway::RawApi,
    label: &str,
    spec: &str,
    definition: std::sync::Arc<str>,
    draft: bool,
) -> Option<Api> {
    let doc = match doc::parse(spec, &definition) {
        Ok(d) => d,
        Err(e) => {
            report.error(label, "", e);
            return None;
        }
    };
    let imported = openapi::import(label, &doc, report, draft);
    let models = compile_models(report, label, &raw_api.name, &imported);
    let policy = imported.policy.as_ref().and_then(|doc| {
        let scope = portico_auth::policy::ArnScope {
            region: &aws.region,
            account: &aws.account_id,
            api_id: &raw_api.name,
        };
        portico_auth::policy::Policy::parse(doc, portico_auth::policy::PolicyKind::Resource, &scope)
            .map_err(|e| report.error(label, "x-amazon-apigateway-policy", e.to_string()))
            .ok()
    });
    Some(Api {
        name: raw_api.name.clone(),
        spec: spec.to_owned(),
        deployment_id: deploy::deployment_id(&definition),
        plugin_versions: Default::default(),
        definition,
        managed: None,
        hosts: raw_api
            .hosts
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        stages: Vec::new(),
        routes: imported.routes,
        gateway_responses: imported.gateway_responses,
        api_key_source: imported.api_key_source,
        binary_media_types: imported.binary_media_types,
        disable_execute_api_endpoint: imported.disable_execute_api_endpoint,
        cors: imported.cors,
        minimum_compression_size: imported.minimum_compression_size,
        models,
        engines: Engines {
            template_mapper: raw_api.template_mapper.clone(),
            model_validator: raw_api.model_validator.clone(),
        },
        policy,
    })
}

/// Checks an API definition on its own (as `import-rest-api` must before storing it): the
/// report of reading it as an API named `id`, errors and warnings. A `draft` is a working copy
/// (methods without an integration are warnings); a deployment is not.
pub fn check_definition(id: &str, spec: &str, definition: &str, draft: bool) -> Report {
    let mut report = Report::default();
    let raw_api = gateway::RawApi {
        name: id.to_owned(),
        spec: spec.to_owned(),
        hosts: Vec::new(),
        stages: Default::default(),
        template_mapper: None,
        model_validator: None,
    };
    let _ = import_api(
        &mut report,
        &AwsAccount::default(),
        &raw_api,
        spec,
        spec,
        definition.into(),
        draft,
    );
    report
}

/// The APIs made through the AWS control plane, built beside the gateway file's: each answers
/// on its `execute-api` host names, and has the stages its state files name.
fn managed_apis(
    report: &mut Report,
    aws: &AwsAccount,
    store: &deploy::Store,
    names: &BTreeSet<String>,
    hosts: &mut BTreeSet<String>,
    apis: &mut Vec<Api>,
    deployments: &mut Vec<Api>,
) {
    let (managed, errors) = store.managed();
    for e in errors {
        report.error("the deployment store", "", e);
    }
    for m in managed {
        let label = format!("API {} ({})", m.id, m.name);
        if names.contains(&m.id) {
            report.error(
                &label,
                "",
                "the gateway file has an API with this name; rename one of them",
            );
            continue;
        }
        let raw_api = gateway::RawApi {
            name: m.id.clone(),
            spec: m.spec.clone(),
            hosts: deploy::managed_hosts(&m.id, &aws.region),
            stages: store
                .stage_names(&m.id)
                .into_iter()
                .map(|n| (n, gateway::RawStage::default()))
                .collect(),
            template_mapper: None,
            model_validator: None,
        };
        hosts.extend(raw_api.hosts.iter().cloned());
        let Some(mut head) = import_api(
            report,
            aws,
            &raw_api,
            &label,
            &m.spec,
            m.definition.into(),
            true,
        ) else {
            continue;
        };
        head.managed = Some(Managed {
            name: m.name.clone(),
            description: m.description.clone(),
            created_date: m.created_date,
        });
        let mut stages: Vec<Stage> = raw_api
            .stages
            .keys()
            .map(|name| Stage::unsettled(name, Default::default()))
            .collect();
        for stage in &mut stages {
            let spath = format!("stages.{}", stage.name);
            Built {
                report: &mut *report,
                file: &label,
                aws,
                raw_api: &raw_api,
                store: Some(store),
                head: &head,
                deployments: &mut *deployments,
            }
            .stage(stage, &spath);
        }
        head.stages = stages;
        apis.push(head);
    }
}

/// What settling one API's stages needs: the API's current build, the deployment store, and
/// the deployments loaded so far (shared by every API).
struct Built<'a> {
    report: &'a mut Report,
    file: &'a str,
    aws: &'a AwsAccount,
    raw_api: &'a gateway::RawApi,
    store: Option<&'a deploy::Store>,
    head: &'a Api,
    deployments: &'a mut Vec<Api>,
}

impl Built<'_> {
    /// Applies the stage's stored state (deployment, promoted variables, canary) and resolves
    /// its settings against the routes of the deployment it serves.
    fn stage(&mut self, stage: &mut Stage, spath: &str) {
        let api = &self.raw_api.name;
        let label = file_label(self.store, api, &stage.name);
        let state = match self.store.map(|s| s.stage(api, &stage.name)) {
            Some(Ok(state)) => state,
            Some(Err(e)) => {
                self.report.error(&label, "", e);
                deploy::StageState::default()
            }
            None => deploy::StageState::default(),
        };
        check_variables(self.report, &label, "variables", &state.variables);
        stage.variables.extend(state.variables.clone());
        let too_many = |report: &mut Report, field: &str, count: usize| {
            if count > MAX_STAGE_VARIABLES {
                report.error(
                    &label,
                    field,
                    format!("the gateway file's and the stored stage variables together are {count}: at most {MAX_STAGE_VARIABLES} are allowed"),
                );
            }
        };
        too_many(self.report, "variables", stage.variables.len());
        let served = match &state.deployment_id {
            Some(id) => self.served_by(id, &label, "deploymentId"),
            None => Some(None),
        };
        stage.pinned = state.deployment_id.is_some();
        self.settle(stage, served.unwrap_or(None), spath);
        let Some(c) = &state.canary_settings else {
            return;
        };
        if !(c.percent_traffic.is_finite() && (0.0..=100.0).contains(&c.percent_traffic)) {
            self.report.error(
                &label,
                "canarySettings.percentTraffic",
                format!("must be between 0.0 and 100.0, got {}", c.percent_traffic),
            );
        }
        check_variables(
            self.report,
            &label,
            "canarySettings.stageVariableOverrides",
            &c.stage_variable_overrides,
        );
        let Some(served) = self.served_by(&c.deployment_id, &label, "canarySettings.deploymentId")
        else {
            return;
        };
        let mut variables = stage.variables.clone();
        variables.extend(c.stage_variable_overrides.clone());
        too_many(
            self.report,
            "canarySettings.stageVariableOverrides",
            variables.len(),
        );
        let mut canary = Stage::unsettled(&stage.name, variables);
        canary.pinned = true;
        self.settle(&mut canary, served, spath);
        stage.canary = Some(Box::new(Canary {
            percent_traffic: c.percent_traffic,
            use_stage_cache: c.use_stage_cache,
            overrides: c.stage_variable_overrides.clone(),
            stage: canary,
        }));
    }

    /// The build serving deployment `id`: `Some(None)` for the current definition, else its
    /// index in the deployments (loaded from the store on first use). `None` when the store
    /// has no such deployment, or it does not load (reported).
    fn served_by(&mut self, id: &str, label: &str, field: &str) -> Option<Option<usize>> {
        let api = &self.raw_api.name;
        if let Some(i) = self
            .deployments
            .iter()
            .position(|d| d.name == *api && d.deployment_id == id)
        {
            return Some(Some(i));
        }
        let stored = self.store.map(|s| s.deployment(api, id));
        // The current build serves its own definition, unless the deployment pins plugin
        // versions (which may differ from the current ones: only the data plane knows).
        if id == self.head.deployment_id
            && !matches!(&stored, Some(Ok(Some(d))) if !d.plugins.is_empty())
        {
            return Some(None);
        }
        let found = match stored {
            Some(Ok(Some(d))) => d,
            Some(Err(e)) => {
                self.report.error(label, field, e);
                return None;
            }
            Some(Ok(None)) | None => {
                self.report.error(
                    label,
                    field,
                    format!("API {api} has no deployment {id} in the deployment store"),
                );
                return None;
            }
        };
        let name = format!("{} (deployment {id})", found.spec);
        let mut built = import_api(
            self.report,
            self.aws,
            self.raw_api,
            &name,
            &found.spec,
            found.definition.into(),
            false,
        )?;
        built.deployment_id = found.id.clone();
        built.plugin_versions = found.plugins;
        self.deployments.push(built);
        Some(Some(self.deployments.len() - 1))
    }

    /// Points `stage` at the build `served` and resolves its cache and throttles against that
    /// build's routes.
    fn settle(&mut self, stage: &mut Stage, served: Option<usize>, spath: &str) {
        let api = served.map_or(self.head, |i| &self.deployments[i]);
        stage.deployment = served;
        stage.deployment_id = api.deployment_id.clone();
        check_stage_references(
            self.report,
            &api.spec,
            &api.routes,
            std::slice::from_ref(stage),
        );
        let raw_stage = &self.raw_api.stages[&stage.name];
        (stage.cache, stage.caching) = stage::resolve(
            self.report,
            self.file,
            spath,
            raw_stage.cache.as_ref(),
            &raw_stage.method_settings,
            &api.routes,
        );
        stage.throttles = stage::throttles(&raw_stage.method_settings, &api.routes);
    }
}

/// How a stage's state file is named in reports.
fn file_label(store: Option<&deploy::Store>, api: &str, stage: &str) -> String {
    store.map_or_else(String::new, |s| {
        s.stage_path(api, stage).display().to_string()
    })
}

/// `$XDG_CACHE_HOME/portico`, else `~/.cache/portico`.
fn default_cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("portico"))
}

fn name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Stage variables follow API Gateway's rules: names `[A-Za-z0-9_]`, values
/// `[A-Za-z0-9-._~:/?#&=,]+`, at most 100 per stage, 64-byte names, 512-byte values.
fn check_variables(
    report: &mut Report,
    file: &str,
    spath: &str,
    vars: &std::collections::BTreeMap<String, String>,
) {
    if vars.len() > MAX_STAGE_VARIABLES {
        report.error(
            file,
            spath,
            format!("at most {MAX_STAGE_VARIABLES} stage variables are allowed"),
        );
    }
    for (k, v) in vars {
        let vpath = format!("{spath}.{k}");
        if k.is_empty()
            || k.len() > MAX_STAGE_VARIABLE_NAME
            || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            report.error(file, &vpath, format!("a stage variable name may only hold letters, digits and _, up to {MAX_STAGE_VARIABLE_NAME} characters"));
        }
        if v.is_empty()
            || v.len() > MAX_STAGE_VARIABLE_VALUE
            || !v
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~:/?#&=,".contains(&b))
        {
            report.error(file, &vpath, format!("a stage variable value must match [A-Za-z0-9-._~:/?#&=,]+ and be at most {MAX_STAGE_VARIABLE_VALUE} characters"));
        }
    }
}

/// A URI that uses `${stageVariables.x}` where some stage has no `x` resolves to an empty
/// string there, as in API Gateway; say so, since it is nearly always a mistake.
/// Compiles an API's models (JSON Schema draft 4) once, and checks that every model a method
/// validates against exists. `None` when the API has none, or when they do not compile
/// (reported).
fn compile_models(
    report: &mut Report,
    spec: &str,
    api_id: &str,
    imported: &openapi::Imported,
) -> Option<validation::ApiModels> {
    let validates = imported.routes.iter().any(|r| r.validation.is_some());
    if imported.models.is_empty() && !validates {
        return None;
    }
    let models = match portico_schema::Models::compile_all(api_id, &imported.models, &[]) {
        Ok(m) => m,
        Err(errors) => {
            for e in errors {
                report.error(spec, "models", e.to_string());
            }
            return None;
        }
    };
    for route in &imported.routes {
        let Some(v) = &route.validation else { continue };
        for (ct, name) in &v.models {
            if models.get(name).is_none() {
                report.error(
                    spec,
                    &route.location,
                    format!("the {ct} body model {name} is not one of the API's models"),
                );
            }
        }
    }
    Some(validation::ApiModels(std::sync::Arc::new(models)))
}

fn check_stage_references(report: &mut Report, spec: &str, routes: &[Route], stages: &[Stage]) {
    for route in routes {
        let Some(uri) = &route.integration.uri else {
            continue;
        };
        for var in uri.vars() {
            if let template::Var::StageVariable(name) = var {
                for stage in stages.iter().filter(|s| !s.variables.contains_key(name)) {
                    report.warn(
                        spec,
                        format!("{}.x-amazon-apigateway-integration.uri", route.location),
                        format!(
                            "stage {} has no variable {name}; it will be empty there",
                            stage.name
                        ),
                    );
                }
            }
        }
    }
}

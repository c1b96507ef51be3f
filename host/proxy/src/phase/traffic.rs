//! API keys, usage plans, throttling and quotas in the pipeline (AWS §2 rows 6–7). This module
//! owns three things:
//!
//! - [`TrafficState`], held by the [`crate::Gateway`] outside every snapshot: the
//!   [`portico_traffic::Traffic`] core (token buckets, quota counters, usage, persistence,
//!   Redis sync) and the API keys created on the admin API (`<data_dir>/apikeys.json`).
//! - [`StageTraffic`] and [`KeyRt`], built into each snapshot: for every route its stage
//!   throttle, and for every key allowed on the stage its per-key and per-method throttles and
//!   its meter. Handles are resolved once per build from stable ids, so a reload keeps every
//!   bucket and counter; ids no longer configured are pruned. The build stages its changes in
//!   a [`Pending`] (changed limits, quota settings, new ids, pruning), committed only once the
//!   whole snapshot is built, so a failed build changes no live bucket or counter.
//! - [`check`], the per-request phase: API key (403 `INVALID_API_KEY`), then
//!   [`Traffic::admit`] over the levels in AWS order (429 `THROTTLED` / `QUOTA_EXCEEDED`,
//!   503 when a fail-closed limit cannot reach Redis). No allocation and no lock: the level
//!   list is a stack array of handles picked from the snapshot.
//!
//! Limit ids:
//!
//! | level | id |
//! |---|---|
//! | usage plan, per key, per method | `plan:<plan>/key:<key>/stage:<api>/<stage>/method:<resource>/<METHOD>` |
//! | usage plan, per key | `plan:<plan>/key:<key>` (shared by the plan's stages) |
//! | stage, per method | `stage:<api>/<stage>/method:<resource>/<METHOD>` |
//! | stage, `*/*` | `stage:<api>/<stage>/method:*/*` (shared by methods without an own entry) |
//! | account | `account` |

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use portico_config::{
    Api, ApiKey, ApiKeySource, Config, QuotaPeriod, Stage, Throttle, TrafficSettings, UsagePlan,
};
use portico_traffic::{
    ACCOUNT_ID, Admission, ClusterConfig, FailMode, Limit, LimitHandle, Pending, Period,
    QuotaHandle, QuotaSettings, SystemClock, Traffic, TrafficConfig,
};
use serde::{Deserialize, Serialize};

use crate::pipeline::context::RequestContext;
use crate::pipeline::error::GatewayError;

/// The traffic state that outlives snapshots.
pub struct TrafficState {
    /// The core: buckets, quotas, usage, persistence and cluster sync.
    pub core: Arc<Traffic>,
    /// Strict cluster mode: one Redis round trip per request ([`Traffic::admit_async`]).
    pub strict: bool,
    /// Keys created on the admin API. A plain mutex: read when a snapshot is built and by the
    /// admin API, never on the request path.
    runtime_keys: Mutex<Vec<RuntimeKey>>,
    /// Where runtime keys are persisted (`None`: memory only).
    keys_file: Option<PathBuf>,
}

/// A key created on the admin API (`POST /apikeys`), as persisted in `apikeys.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeKey {
    /// Name and id.
    pub name: String,
    /// The secret.
    pub value: String,
    /// Disabled keys are refused.
    pub enabled: bool,
    /// The usage plans the key is added to.
    #[serde(default)]
    pub usage_plans: Vec<String>,
}

/// Why a runtime key was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The request is malformed (bad name, value or unknown plan).
    #[error("{0}")]
    Invalid(String),
    /// The name or value is taken.
    #[error("{0}")]
    Conflict(String),
    /// `apikeys.json` could not be written.
    #[error("cannot persist the key: {0}")]
    Io(String),
}

impl TrafficState {
    /// Starts the core from the configuration and loads the runtime keys.
    pub fn start(settings: &TrafficSettings) -> std::io::Result<Self> {
        let fail_mode = if settings.fail_closed {
            FailMode::Closed
        } else {
            FailMode::Open
        };
        let config = TrafficConfig {
            data_dir: settings.data_dir.clone(),
            flush_interval: settings.flush_interval,
            account: Some(limit(settings.account)),
            cluster: settings.redis.as_ref().map(|url| ClusterConfig {
                sync_interval: settings.sync_interval,
                strict: settings.strict,
                fail_mode,
                ..ClusterConfig::new(url.clone())
            }),
        };
        let (core, warnings) = Traffic::start(config, Arc::new(SystemClock::new()))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        for w in warnings {
            tracing::warn!("{w}");
        }
        let keys_file = settings.data_dir.as_ref().map(|d| d.join("apikeys.json"));
        let runtime_keys = match &keys_file {
            Some(path) => match std::fs::read(path) {
                Ok(bytes) => serde_json::from_slice(&bytes)
                    .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => {
                    return Err(std::io::Error::other(format!("{}: {e}", path.display())));
                }
            },
            None => Vec::new(),
        };
        Ok(Self {
            core,
            strict: settings.redis.is_some() && settings.strict,
            runtime_keys: Mutex::new(runtime_keys),
            keys_file,
        })
    }

    /// The keys created at runtime.
    pub fn runtime_keys(&self) -> Vec<RuntimeKey> {
        match self.runtime_keys.lock() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Checks `key` against `config` and the runtime keys, adds and persists it. The caller
    /// rebuilds the snapshot (and calls [`TrafficState::remove_key`] if that fails).
    pub fn add_key(&self, key: RuntimeKey, config: &Config) -> Result<(), KeyError> {
        use portico_config::usage::{key_value_ok, name_ok};
        if !name_ok(&key.name) {
            return Err(KeyError::Invalid(format!(
                "{:?}: a key name has 1 to 128 letters, digits, -, _ or .",
                key.name
            )));
        }
        if !key_value_ok(&key.value) {
            return Err(KeyError::Invalid(
                "an API key value has 20 to 128 visible ASCII characters".into(),
            ));
        }
        for plan in &key.usage_plans {
            if !config.usage_plans.iter().any(|p| &p.name == plan) {
                return Err(KeyError::Invalid(format!("no usage plan is named {plan}")));
            }
        }
        let mut stages = BTreeSet::new();
        for plan in config
            .usage_plans
            .iter()
            .filter(|p| key.usage_plans.contains(&p.name))
        {
            for s in &plan.stages {
                if !stages.insert((&s.api, &s.stage)) {
                    return Err(KeyError::Invalid(format!(
                        "two of the plans cover stage {}/{}; a key can be in one plan per stage",
                        s.api, s.stage
                    )));
                }
            }
        }
        let mut keys = self.runtime_keys.lock().unwrap_or_else(|p| p.into_inner());
        let file_keys = config.api_keys.iter().map(|k| (&k.name, &k.value));
        let all = file_keys.chain(keys.iter().map(|k| (&k.name, &k.value)));
        for (name, value) in all {
            if *name == key.name {
                return Err(KeyError::Conflict(format!(
                    "a key named {name} already exists"
                )));
            }
            if *value == key.value {
                return Err(KeyError::Conflict(
                    "another key has the same value; values must be unique".into(),
                ));
            }
        }
        keys.push(key);
        if let Err(e) = self.persist(&keys) {
            keys.pop();
            return Err(e);
        }
        Ok(())
    }

    /// Removes a runtime key (undoes [`TrafficState::add_key`]).
    pub fn remove_key(&self, name: &str) {
        let mut keys = self.runtime_keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.retain(|k| k.name != name);
        if let Err(e) = self.persist(&keys) {
            tracing::warn!("{e}");
        }
    }

    /// Writes `apikeys.json` atomically (temp file, fsync, rename).
    fn persist(&self, keys: &[RuntimeKey]) -> Result<(), KeyError> {
        let Some(path) = &self.keys_file else {
            return Ok(());
        };
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = path.with_extension("json.tmp");
            let bytes = serde_json::to_vec_pretty(keys).map_err(std::io::Error::other)?;
            {
                use std::io::Write;
                let mut f = std::fs::File::create(&tmp)?;
                f.write_all(&bytes)?;
                f.sync_all()?;
            }
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| KeyError::Io(format!("{}: {e}", path.display())))
    }
}

/// A key allowed on one stage, compiled.
#[derive(Debug)]
pub struct KeyRt {
    /// The key's id (its name): `$context.identity.apiKeyId`.
    pub id: Box<str>,
    /// The key's value: `$context.identity.apiKey`.
    pub value: Box<str>,
    /// Disabled keys are refused with 403.
    pub enabled: bool,
    /// Per-key throttle of the plan (shared by the plan's stages).
    pub per_key: Option<LimitHandle>,
    /// Per-method throttles of the plan on this stage, indexed by route (empty: none).
    pub per_method: Vec<Option<LimitHandle>>,
    /// Quota and daily usage of (plan, key).
    pub meter: QuotaHandle,
}

/// A stage's traffic control, compiled.
#[derive(Debug, Default)]
pub struct StageTraffic {
    /// Stage throttle per route (`method_settings`), indexed by route.
    pub routes: Vec<Option<LimitHandle>>,
    /// Keys in a usage plan covering this stage, by value.
    pub keys: HashMap<Box<str>, KeyRt>,
}

/// What the admin API lists: every key, file and runtime.
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    /// Name and id.
    pub name: String,
    /// The value (only shown with `?includeValues=true`).
    pub value: String,
    /// Enabled flag.
    pub enabled: bool,
    /// Usage plans holding the key.
    pub usage_plans: Vec<String>,
    /// `file` or `api`.
    pub source: &'static str,
}

/// The snapshot's view of traffic control.
#[derive(Debug)]
pub struct SnapshotTraffic {
    /// The account level.
    pub account: LimitHandle,
    /// Every key, for the admin API.
    pub keys: Vec<KeyInfo>,
    /// Names of the usage plans, for the admin API.
    pub plans: BTreeSet<String>,
}

/// Resolves the handles of one snapshot through a [`Pending`]: live buckets and counters are
/// reused but not changed, new ones are created detached, and nothing is applied until the
/// caller commits the `Pending` that [`Builder::finish`] returns.
pub struct Builder<'t> {
    pending: Pending<'t>,
    plans: Vec<(UsagePlan, Vec<ApiKey>)>,
    keys: Vec<KeyInfo>,
}

impl<'t> Builder<'t> {
    /// Merges the runtime keys into `config`'s plans.
    pub fn new(state: &'t TrafficState, config: &Config) -> Self {
        let runtime = state.runtime_keys();
        let mut keys: Vec<KeyInfo> = config
            .api_keys
            .iter()
            .map(|k| KeyInfo {
                name: k.name.clone(),
                value: k.value.clone(),
                enabled: k.enabled,
                usage_plans: Vec::new(),
                source: "file",
            })
            .collect();
        let file_names: HashSet<&str> = config.api_keys.iter().map(|k| k.name.as_str()).collect();
        for k in &runtime {
            // A file key added since under the same name wins; the runtime one is ignored.
            if file_names.contains(k.name.as_str()) {
                tracing::warn!(key = %k.name, "a runtime API key has the name of a file key; ignored");
                continue;
            }
            keys.push(KeyInfo {
                name: k.name.clone(),
                value: k.value.clone(),
                enabled: k.enabled,
                usage_plans: Vec::new(),
                source: "api",
            });
        }
        let plans = config
            .usage_plans
            .iter()
            .map(|p| {
                let mut members: Vec<ApiKey> = p
                    .keys
                    .iter()
                    .filter_map(|n| config.api_keys.iter().find(|k| &k.name == n).cloned())
                    .collect();
                members.extend(
                    runtime
                        .iter()
                        .filter(|k| {
                            k.usage_plans.contains(&p.name) && !file_names.contains(k.name.as_str())
                        })
                        .map(|k| ApiKey {
                            name: k.name.clone(),
                            value: k.value.clone(),
                            enabled: k.enabled,
                        }),
                );
                for m in &members {
                    if let Some(info) = keys.iter_mut().find(|i| i.name == m.name) {
                        info.usage_plans.push(p.name.clone());
                    }
                }
                (p.clone(), members)
            })
            .collect();
        Self {
            pending: state.core.pending(),
            plans,
            keys,
        }
    }

    fn limit(&mut self, id: String, throttle: Throttle) -> LimitHandle {
        self.pending.limit(&id, limit(throttle))
    }

    /// The traffic control of `stage` of `api`, whose requests `served` answers (the API
    /// itself, or the deployment the stage or its canary serves): its routes are the ones
    /// throttled. A canary resolves the same ids as its stage, so they share buckets.
    pub fn stage(&mut self, api: &Api, served: &Api, stage: &Stage) -> StageTraffic {
        let routes = served
            .routes
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let t = stage.throttles.get(i).copied().flatten()?;
                let method = if t.own {
                    format!("{}/{}", r.resource_path, r.method)
                } else {
                    "*/*".to_owned()
                };
                Some(self.limit(
                    format!("stage:{}/{}/method:{method}", api.name, stage.name),
                    t.throttle,
                ))
            })
            .collect();
        let mut keys = HashMap::new();
        let plans = std::mem::take(&mut self.plans);
        for (plan, members) in &plans {
            let Some(ps) = plan
                .stages
                .iter()
                .find(|s| s.api == api.name && s.stage == stage.name)
            else {
                continue;
            };
            for key in members {
                let base = format!("plan:{}/key:{}", plan.name, key.name);
                let per_key = plan.throttle.map(|t| self.limit(base.clone(), t));
                let mut per_method = Vec::new();
                if !ps.methods.is_empty() {
                    per_method = vec![None; served.routes.len()];
                    for (route, t) in &ps.methods {
                        // Plan methods name routes of the API's current definition; a
                        // deployment without that method has nothing to throttle.
                        let r = &api.routes[*route];
                        let Some(at) = served.routes.iter().position(|s| {
                            s.resource_path == r.resource_path && s.method == r.method
                        }) else {
                            continue;
                        };
                        per_method[at] = Some(self.limit(
                            format!(
                                "{base}/stage:{}/{}/method:{}/{}",
                                api.name, stage.name, r.resource_path, r.method
                            ),
                            *t,
                        ));
                    }
                }
                let meter = self
                    .pending
                    .quota(&plan.name, &key.name, plan.quota.map(quota));
                keys.insert(
                    key.value.clone().into_boxed_str(),
                    KeyRt {
                        id: key.name.clone().into(),
                        value: key.value.clone().into(),
                        enabled: key.enabled,
                        per_key,
                        per_method,
                        meter,
                    },
                );
            }
        }
        self.plans = plans;
        StageTraffic { routes, keys }
    }

    /// Resolves the account level and returns the snapshot's view, with the staged limits and
    /// quotas. Committing the [`Pending`] applies them and prunes every id this build did not
    /// resolve; quotas of plans or keys that are gone are dropped with their usage history.
    /// Commit only once the whole snapshot is built; dropping it changes nothing.
    pub fn finish(mut self, account: Throttle) -> (SnapshotTraffic, Pending<'t>) {
        let account = self.limit(ACCOUNT_ID.to_owned(), account);
        let view = SnapshotTraffic {
            account,
            keys: self.keys,
            plans: self.plans.into_iter().map(|(p, _)| p.name).collect(),
        };
        (view, self.pending)
    }
}

fn limit(t: Throttle) -> Limit {
    Limit::new(t.rate, t.burst)
}

fn quota(q: portico_config::Quota) -> QuotaSettings {
    QuotaSettings {
        limit: q.limit,
        period: match q.period {
            QuotaPeriod::Day => Period::Day,
            QuotaPeriod::Week => Period::Week,
            QuotaPeriod::Month => Period::Month,
        },
        offset: q.offset,
    }
}

/// The API key of a request on a method that requires one: the `x-api-key` header or the
/// authorizer's `usageIdentifierKey`. Missing, unknown, disabled, or not in a plan for this
/// stage → `INVALID_API_KEY`.
pub fn identify<'s>(
    stage: &'s StageTraffic,
    source: ApiKeySource,
    cx: &RequestContext<'_>,
) -> Result<&'s KeyRt, GatewayError> {
    let value = match source {
        ApiKeySource::Header => cx.header("x-api-key"),
        ApiKeySource::Authorizer => cx
            .authorizer
            .and_then(|a| a.usage_identifier_key.as_deref()),
    };
    value
        .and_then(|v| stage.keys.get(v))
        .filter(|k| k.enabled)
        .ok_or(GatewayError::InvalidApiKey)
}

/// Throttles and meters one request: levels in AWS order, then the key's quota.
pub async fn admit(
    state: &TrafficState,
    account: &LimitHandle,
    stage: &StageTraffic,
    route_id: usize,
    key: Option<&KeyRt>,
) -> Result<(), GatewayError> {
    let mut levels: [&LimitHandle; 4] = [account; 4];
    let mut n = 0;
    if let Some(k) = key {
        if let Some(Some(l)) = k.per_method.get(route_id) {
            levels[n] = l;
            n += 1;
        }
        if let Some(l) = &k.per_key {
            levels[n] = l;
            n += 1;
        }
    }
    if let Some(Some(l)) = stage.routes.get(route_id) {
        levels[n] = l;
        n += 1;
    }
    levels[n] = account;
    n += 1;
    let levels = &levels[..n];
    let meter = key.map(|k| &k.meter);
    let admission = if state.strict {
        state.core.admit_async(levels, meter).await
    } else {
        state.core.admit(levels, meter)
    };
    match admission {
        Admission::Admit => Ok(()),
        Admission::Throttled { retry_after, .. } => {
            Err(GatewayError::Throttled(retry_after.as_secs()))
        }
        Admission::QuotaExceeded { retry_after } => {
            Err(GatewayError::QuotaExceeded(retry_after.as_secs()))
        }
        Admission::Unavailable { retry_after } => {
            Err(GatewayError::TrafficUnavailable(retry_after.as_secs()))
        }
    }
}

//! Portico's data plane.
//!
//! How the pieces fit:
//! - [`Gateway`] holds the current [`Snapshot`] in an [`ArcSwap`], plus everything that must
//!   survive a reload: metrics, the upstream connection pool, the access-log writer. A reload
//!   builds first — plugins staged ([`plugins::StagedPlugins`]), limit and quota changes
//!   pending ([`portico_traffic::Pending`]), the snapshot — and commits only when all of it
//!   succeeded, then swaps the snapshot in with one store.
//! - [`listener`] runs the data plane thread-per-core: one current-thread runtime, one listening
//!   socket per address (`SO_REUSEPORT`) and one upstream pool per worker. It accepts
//!   connections (HTTP/1.1, h2c with prior knowledge or after `Upgrade`) and hands each request
//!   to [`pipeline::handle`], which runs the phases documented there.
//! - [`snapshot`] compiles a configuration (its [`snapshot::router`] matches method and path
//!   with API Gateway's priorities); [`phase`] holds each stateful phase (authorizer, traffic,
//!   plugins, cache) with its compiled form; [`integration`] serves the matched method;
//!   [`pipeline::error`] is the one place failures become responses; [`telemetry`] holds the
//!   metrics and the access log.
//! - [`control`] is the control plane, outside the request path: the admin API and the file
//!   watcher, which reload on request, on SIGHUP (wired by the binary) or on a file change.
//! - [`traffic`] checks API keys and applies throttles and quotas; its [`TrafficState`]
//!   (buckets, counters, runtime-created keys) lives in the [`Gateway`], outside snapshots.

pub mod control;
pub mod integration;
pub mod listener;
pub mod phase;
pub mod pipeline;
pub mod plugins;
pub mod snapshot;
pub mod telemetry;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use portico_config::{Config, Report};

pub use phase::traffic::{self, TrafficState};
pub use snapshot::Snapshot;

use integration::{outbound, upstream::Upstreams};
use phase::cache;
use telemetry::Metrics;
use telemetry::access_log::AccessLogger;

/// Produces a fresh, validated configuration: how a reload re-reads its files.
pub type Loader = Box<dyn Fn() -> Result<(Config, Report), Report> + Send + Sync>;

/// The running gateway: the current snapshot and the state that outlives snapshots.
pub struct Gateway {
    /// The snapshot requests start on. Swapped whole by [`Gateway::apply`]; a request keeps the
    /// `Arc` it loaded until its response body is finished.
    current: ArcSwap<Snapshot>,
    /// Process-wide metrics; snapshots hold handles into it.
    pub metrics: Arc<Metrics>,
    /// The upstream connector and the plugins' shared pool; each worker builds its own pool
    /// from it. Shared by every snapshot.
    pub upstream: Upstreams,
    /// The access-log writer.
    pub access_log: AccessLogger,
    /// Deployed plugin versions, outside any snapshot.
    pub plugins: plugins::Registry,
    /// Stage response caches, outside any snapshot.
    pub caches: cache::Caches,
    /// Throttle buckets, quota counters, usage and runtime API keys, outside any snapshot.
    pub traffic: TrafficState,
    /// The configuration last applied, so creating an API key can rebuild the snapshot
    /// without re-reading files. Locked only by reloads and the admin API.
    config: Mutex<Arc<Config>>,
    /// Last applied generation.
    generation: AtomicU64,
    /// Re-reads the configuration.
    loader: Loader,
    /// Serialises reloads (and key creations) so two triggers never build and commit
    /// concurrently. An `Arc` so the blocking task that does the work owns the guard: a caller
    /// that gives up waiting (an admin client that disconnects) cannot let the next reload
    /// start while this one still runs.
    reload_lock: Arc<tokio::sync::Mutex<()>>,
    /// The admin API's bearer token (as its hash), re-read by every reload. `None` without an
    /// admin listener.
    admin_token: arc_swap::ArcSwapOption<control::auth::Token>,
    /// Where admin mutations are recorded.
    pub audit: control::audit::Audit,
    /// Serialises stage changes (write the stage's state, reload, undo if it fails), so that
    /// two admin requests never interleave theirs.
    pub(crate) stage_lock: tokio::sync::Mutex<()>,
    /// Replicates the deployment store through Redis, in cluster mode.
    store_sync: std::sync::OnceLock<Arc<control::sync::StoreSync>>,
}

/// Why a reload did not apply.
#[derive(Debug)]
pub enum ReloadError {
    /// The configuration is invalid; the report lists every problem.
    Invalid(Report),
    /// The configuration is valid but could not be compiled.
    Build(Vec<String>),
}

impl std::fmt::Display for ReloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReloadError::Invalid(r) => write!(f, "{r}"),
            ReloadError::Build(errors) => write!(f, "{}", errors.join("\n")),
        }
    }
}

impl Gateway {
    /// Builds the gateway around a first, already validated configuration.
    pub fn new(config: &Config, loader: Loader) -> std::io::Result<Arc<Self>> {
        // One crypto provider for every TLS endpoint of the process (listeners, upstreams).
        // An error means one is installed already (a second gateway in one process).
        let _ = rustls::crypto::CryptoProvider::install_default(Arc::unwrap_or_clone(
            portico_config::transport::crypto_provider(),
        ));
        let metrics = Arc::new(Metrics::new());
        let upstream = Upstreams::new()?;
        let runtime = portico_runtime::Runtime::new(portico_runtime::RuntimeOptions {
            cache_dir: config.cache_dir.clone(),
            outbound: Arc::new(outbound::PooledOutbound(upstream.shared().clone())),
            max_instances: config.plugin_instances,
            ..portico_runtime::RuntimeOptions::default()
        })
        .map_err(|e| std::io::Error::other(e.to_string()))?;
        let plugins = plugins::Registry::new(runtime);
        let caches = cache::Caches::new();
        let traffic = TrafficState::start(&config.traffic)?;
        let staged = plugins
            .stage(
                &config.plugins,
                &config.deployments,
                config.data_dir.as_deref(),
            )
            .map_err(|e| std::io::Error::other(e.join("\n")))?;
        let (snapshot, limits) = Snapshot::build(config, &metrics, &staged, &caches, &traffic, 1)
            .map_err(|e| std::io::Error::other(e.join("; ")))?;
        staged.commit();
        limits.commit();
        let access_log =
            AccessLogger::start(&config.access_log, metrics.access_log_dropped.clone())?;
        let admin_token = admin_token(config).map_err(std::io::Error::other)?;
        // Only an admin listener mutates anything worth auditing.
        let audit =
            control::audit::Audit::open(config.admin.as_ref().and(config.data_dir.as_deref()))?;
        Ok(Arc::new(Self {
            admin_token: arc_swap::ArcSwapOption::new(admin_token.map(Arc::new)),
            audit,
            current: ArcSwap::from_pointee(snapshot),
            metrics,
            upstream,
            access_log,
            plugins,
            caches,
            traffic,
            config: Mutex::new(Arc::new(config.clone())),
            generation: AtomicU64::new(1),
            loader,
            reload_lock: Arc::new(tokio::sync::Mutex::new(())),
            stage_lock: tokio::sync::Mutex::new(()),
            store_sync: std::sync::OnceLock::new(),
        }))
    }

    /// Turns on the replication of the deployment store (once, at start).
    pub fn set_store_sync(&self, sync: Arc<control::sync::StoreSync>) {
        let _ = self.store_sync.set(sync);
    }

    /// The replication of the deployment store, in cluster mode.
    pub fn store_sync(&self) -> Option<&Arc<control::sync::StoreSync>> {
        self.store_sync.get()
    }

    /// Tells the other nodes that the deployment store changed (cluster mode).
    pub(crate) async fn store_changed(&self) {
        if let Some(sync) = self.store_sync.get() {
            sync.publish().await;
        }
    }

    /// The configuration last applied.
    pub fn config(&self) -> Arc<Config> {
        Arc::clone(&self.config.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// The current snapshot without touching its reference count (a thread-local slot), for
    /// [`listener::Worker::snapshot`].
    pub(crate) fn current_snapshot(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.current.load()
    }

    /// The generation now serving.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The admin API's token, if there is an admin listener.
    pub fn admin_token(&self) -> Option<Arc<control::auth::Token>> {
        self.admin_token.load_full()
    }

    /// SHA-256 (hex) of what an admin mutation can change: the configuration's files, every
    /// plugin's deployed digest and the API keys created at runtime. Two equal digests mean
    /// the gateway runs the same thing. The audit log records it before and after each
    /// mutation.
    pub fn state_digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let config = Arc::clone(&self.config.lock().unwrap_or_else(|p| p.into_inner()));
        h.update(config.digest.as_bytes());
        for (name, kind, digest, _) in self.plugins.list() {
            h.update(format!("\nplugin {name} {kind} {digest}").as_bytes());
        }
        for key in self.traffic.runtime_keys() {
            h.update(
                format!("\nkey {} {} {:?}", key.name, key.enabled, key.usage_plans).as_bytes(),
            );
        }
        portico_auth::sigv4::canonical::hex(&h.finalize())
    }

    /// Re-reads the configuration and, if it is valid, swaps it in. On failure the old snapshot
    /// keeps serving and nothing outside it changed. Returns the new generation and the
    /// warnings.
    ///
    /// Reading files and compiling plugins block, so they run on tokio's blocking pool
    /// (`spawn_blocking`), which every runtime flavour has: this works on a current-thread
    /// runtime too. The control plane calls it holding `stage_lock`; the other triggers call
    /// [`Gateway::reload_files`].
    pub async fn reload(self: &Arc<Self>) -> Result<(u64, Report), ReloadError> {
        let serial = Arc::clone(&self.reload_lock).lock_owned().await;
        let gw = Arc::clone(self);
        let task = tokio::task::spawn_blocking(move || {
            let _serial = serial;
            let result = match (gw.loader)() {
                Ok((config, warnings)) => gw.apply(&config).map(|g| (g, warnings)),
                Err(report) => Err(ReloadError::Invalid(report)),
            };
            gw.record_reload(&result);
            result
        });
        task.await.unwrap_or_else(|e| {
            let result = Err(ReloadError::Build(vec![format!(
                "the reload task did not finish: {e}"
            )]));
            self.record_reload(&result);
            result
        })
    }

    /// [`Gateway::reload`] for a file change, `SIGHUP` or `POST /reload`: it waits for an admin
    /// change in progress (which writes the deployment store, reloads, and puts the store back
    /// if that fails), so that it never reads a state that is about to be undone.
    pub async fn reload_files(self: &Arc<Self>) -> Result<(u64, Report), ReloadError> {
        let _serial = self.stage_lock.lock().await;
        self.reload().await
    }

    fn record_reload(&self, result: &Result<(u64, Report), ReloadError>) {
        match result {
            Ok((generation, _)) => {
                self.metrics.reloads_ok.inc();
                tracing::info!(generation, "configuration reloaded");
            }
            Err(e) => {
                self.metrics.reloads_failed.inc();
                tracing::error!("reload rejected, the previous configuration keeps serving:\n{e}");
            }
        }
    }

    /// Creates an API key at runtime (`POST /apikeys`): checks it, persists it in
    /// `<data_dir>/apikeys.json` and rebuilds the snapshot from the last applied
    /// configuration. Returns the new generation. Like [`Gateway::reload`], the blocking part
    /// runs on the blocking pool.
    pub async fn create_key(
        self: &Arc<Self>,
        key: traffic::RuntimeKey,
    ) -> Result<u64, traffic::KeyError> {
        let serial = Arc::clone(&self.reload_lock).lock_owned().await;
        let gw = Arc::clone(self);
        let task = tokio::task::spawn_blocking(move || {
            let _serial = serial;
            let config = Arc::clone(&gw.config.lock().unwrap_or_else(|p| p.into_inner()));
            let name = key.name.clone();
            gw.traffic.add_key(key, &config)?;
            gw.apply(&config).map_err(|e| {
                gw.traffic.remove_key(&name);
                traffic::KeyError::Invalid(e.to_string())
            })
        });
        task.await.unwrap_or_else(|e| {
            Err(traffic::KeyError::Io(format!(
                "the key task did not finish: {e}"
            )))
        })
    }

    /// Adds runtime key `key` to usage plan `plan` (AWS CreateUsagePlanKey) and rebuilds the
    /// snapshot; on any failure the key is as it was.
    pub async fn add_key_to_plan(
        self: &Arc<Self>,
        key: &str,
        plan: &str,
    ) -> Result<u64, traffic::KeyError> {
        let serial = Arc::clone(&self.reload_lock).lock_owned().await;
        let gw = Arc::clone(self);
        let (key, plan) = (key.to_owned(), plan.to_owned());
        let task = tokio::task::spawn_blocking(move || {
            let _serial = serial;
            let config = Arc::clone(&gw.config.lock().unwrap_or_else(|p| p.into_inner()));
            let Some(old) = gw
                .traffic
                .runtime_keys()
                .into_iter()
                .find(|k| k.name == key)
            else {
                return Err(traffic::KeyError::Invalid(format!(
                    "Invalid API Key identifier specified: {key} (keys declared in the gateway file join plans there)"
                )));
            };
            if old.usage_plans.contains(&plan) {
                return Err(traffic::KeyError::Conflict(format!(
                    "key {key} is already in usage plan {plan}"
                )));
            }
            let mut new = old.clone();
            new.usage_plans.push(plan);
            gw.traffic.remove_key(&key);
            let restore = |gw: &Gateway| {
                gw.traffic.remove_key(&key);
                let _ = gw.traffic.add_key(old.clone(), &config);
            };
            if let Err(e) = gw.traffic.add_key(new, &config) {
                restore(&gw);
                return Err(e);
            }
            gw.apply(&config).map_err(|e| {
                restore(&gw);
                traffic::KeyError::Invalid(e.to_string())
            })
        });
        task.await.unwrap_or_else(|e| {
            Err(traffic::KeyError::Io(format!(
                "the key task did not finish: {e}"
            )))
        })
    }

    /// Compiles `config` and swaps it in with one atomic store: build, then commit.
    ///
    /// 1. Stage the plugins: read and compile every new or changed file; no live slot changes.
    /// 2. Build the snapshot on the staged slots; throttle and quota changes are staged in a
    ///    [`portico_traffic::Pending`].
    /// 3. Only then commit: deploy the staged plugin versions, apply the staged limits and
    ///    quotas, and store the snapshot.
    ///
    /// An error in 1 or 2 returns before 3: every live slot, bucket, quota and the current
    /// snapshot are as they were.
    fn apply(&self, config: &Config) -> Result<u64, ReloadError> {
        let generation = self.generation.load(Ordering::Acquire) + 1;
        // The sockets were bound at start: their addresses, which are TLS, and which also
        // serve QUIC, stay.
        let shape = |c: &Config| -> Vec<_> {
            c.listeners
                .iter()
                .map(|l| (l.addr, l.tls.as_ref().map(|t| t.http3)))
                .collect()
        };
        if shape(config) != shape(&self.config.lock().unwrap_or_else(|p| p.into_inner())) {
            return Err(ReloadError::Build(vec![
                "listeners: addresses, TLS on/off and http3 on/off are fixed at start; restart Portico to change them (certificates and policies reload)".into(),
            ]));
        }
        let token = admin_token(config).map_err(|e| ReloadError::Build(vec![e]))?;
        let plugins = self
            .plugins
            .stage(
                &config.plugins,
                &config.deployments,
                config.data_dir.as_deref(),
            )
            .map_err(ReloadError::Build)?;
        let (snapshot, limits) = Snapshot::build(
            config,
            &self.metrics,
            &plugins,
            &self.caches,
            &self.traffic,
            generation,
        )
        .map_err(ReloadError::Build)?;
        // Everything is built: nothing below can fail.
        plugins.commit();
        limits.commit();
        self.admin_token.store(token.map(Arc::new));
        self.current.store(Arc::new(snapshot));
        self.metrics.retain(generation);
        let mut last = self.config.lock().unwrap_or_else(|p| p.into_inner());
        let mut restart_only = config.traffic.clone();
        restart_only.account = last.traffic.account;
        if restart_only != last.traffic {
            tracing::warn!(
                "traffic settings other than `account` (data_dir, redis, intervals, strict, fail_mode) take effect on restart"
            );
        }
        *last = Arc::new(config.clone());
        drop(last);
        self.generation.store(generation, Ordering::Release);
        Ok(generation)
    }
}

/// Reads (or generates) the admin token of `config`'s admin listener.
fn admin_token(config: &Config) -> Result<Option<control::auth::Token>, String> {
    config
        .admin
        .as_ref()
        .map(|a| control::auth::Token::resolve(&a.token))
        .transpose()
}

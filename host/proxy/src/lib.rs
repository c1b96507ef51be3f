//! Portico's data plane.
//!
//! How the pieces fit:
//! - [`Gateway`] holds the current [`Snapshot`] in an [`ArcSwap`], plus everything that must
//!   survive a reload: metrics, the upstream connection pool, the access-log writer. Reloads
//!   live in [`control::reload`]: they build first — plugins staged
//!   ([`plugins::StagedPlugins`]), limit and quota changes pending
//!   ([`portico_traffic::Pending`]), the snapshot — and commit only when all of it succeeded,
//!   then swap the snapshot in with one store.
//! - [`listener`] runs the data plane thread-per-core: one current-thread runtime, one listening
//!   socket per address (`SO_REUSEPORT`) and one upstream pool per worker. It accepts
//!   connections (HTTP/1.1, h2c with prior knowledge or after `Upgrade`) and hands each request
//!   to [`pipeline::handle`], which runs the phases documented there.
//! - [`snapshot`] compiles a configuration (its [`snapshot::router`] matches method and path
//!   with API Gateway's priorities); [`phase`] holds each stateful phase (authorizer, traffic,
//!   plugins, cache) with its compiled form; [`integration`] serves the matched method;
//!   [`pipeline::error`] is the one place failures become responses; [`telemetry`] holds the
//!   metrics and the access log.
//! - [`control`] is the control plane, outside the request path: the reload plumbing, the admin
//!   API and the file watcher, which reload on request, on SIGHUP (wired by the binary) or on
//!   a file change.
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

pub use control::reload::ReloadError;
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
        let admin_token = control::reload::admin_token(config).map_err(std::io::Error::other)?;
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
}

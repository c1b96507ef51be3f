//! The `portico` binary: command line, signals and wiring. Everything else lives in the
//! `portico-config` and `portico-proxy` crates.
//!
//! - `portico serve [--config FILE] [--listen ADDR]... [--admin ADDR]` serves a gateway file,
//!   or the embedded demo without `--config`.
//! - `portico check --config FILE` validates a gateway file and every API it names.
//! - `portico keys create|list` and `portico usage get|extend|reset` manage API keys and
//!   usage-plan quotas on a running gateway (admin API).

mod admin_client;
mod alloc;
mod demo;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use portico_config::{Config, Report, Source, StaticSource};
use portico_proxy::Gateway;

use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser)]
#[command(
    name = "portico",
    version,
    about = "An open, self-hosted API gateway that does what Amazon API Gateway does"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a gateway file (or the embedded demo).
    Serve {
        /// The gateway file. Without it, the embedded demo API is served.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Data-plane listen address (cleartext); repeat for several. Replaces the file's
        /// cleartext listeners; its TLS listeners stay.
        #[arg(long = "listen")]
        listen: Vec<SocketAddr>,
        /// Admin listen address. Replaces the file's admin listener.
        #[arg(long)]
        admin: Option<SocketAddr>,
        /// Data-plane worker threads (0: one per core). Replaces the file's `workers`.
        #[arg(long)]
        workers: Option<usize>,
    },
    /// Validate a gateway file and every API it names.
    Check {
        /// The gateway file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Deploy, roll back or list WebAssembly plugins on a running gateway.
    Plugin {
        #[command(flatten)]
        admin: admin_client::Target,
        #[command(subcommand)]
        action: PluginAction,
    },
    /// Create or list API keys on a running gateway.
    Keys {
        #[command(flatten)]
        admin: admin_client::Target,
        #[command(subcommand)]
        action: KeysAction,
    },
    /// List, create or delete usage plans, or add a key to one, on a running gateway.
    Plans {
        #[command(flatten)]
        admin: admin_client::Target,
        #[command(subcommand)]
        action: PlansAction,
    },
    /// Show, extend or reset usage-plan quotas on a running gateway.
    Usage {
        #[command(flatten)]
        admin: admin_client::Target,
        #[command(subcommand)]
        action: UsageAction,
    },
    /// Flush a stage's response cache, or show its size, on a running gateway.
    Cache {
        #[command(flatten)]
        admin: admin_client::Target,
        #[command(subcommand)]
        action: CacheAction,
    },
    /// Drop a stage's cached authorizer answers on a running gateway.
    Authorizers {
        #[command(flatten)]
        admin: admin_client::Target,
        #[command(subcommand)]
        action: AuthorizersAction,
    },
    /// Store an API's current definition as a deployment, and point a stage (or its canary)
    /// at it.
    Deploy {
        #[command(flatten)]
        admin: admin_client::Target,
        /// The API's name in the gateway file.
        api: String,
        /// The stage to point at the new deployment.
        #[arg(long)]
        stage: Option<String>,
        /// What this deployment is.
        #[arg(long)]
        description: Option<String>,
        /// Make the deployment the stage's canary with this share of its requests (0 to 100)
        /// instead of pointing the stage at it.
        #[arg(long, requires = "stage")]
        canary_percent: Option<f64>,
        /// A stage variable override for the canary, NAME=VALUE; repeat for several.
        #[arg(long = "canary-var", requires = "canary_percent")]
        canary_vars: Vec<String>,
        /// Canary requests share the stage's response cache.
        #[arg(long, requires = "canary_percent")]
        canary_use_stage_cache: bool,
    },
    /// Reload a running gateway's configuration (`POST /reload`).
    Reload {
        #[command(flatten)]
        admin: admin_client::Target,
    },
    /// A running gateway's health: generation, traffic cluster, deployments (`GET /health`).
    Health {
        #[command(flatten)]
        admin: admin_client::Target,
    },
    /// A running gateway's metrics, Prometheus text (`GET /metrics`).
    Metrics {
        #[command(flatten)]
        admin: admin_client::Target,
    },
    /// A running gateway's APIs, with their stages and what each serves (`GET /apis`).
    Apis {
        #[command(flatten)]
        admin: admin_client::Target,
    },
    /// List, show or diff an API's deployments on a running gateway.
    Deployments {
        #[command(flatten)]
        admin: admin_client::Target,
        #[command(subcommand)]
        action: DeploymentsAction,
    },
    /// Show a stage, roll it back, or manage its canary on a running gateway.
    Stage {
        #[command(flatten)]
        admin: admin_client::Target,
        #[command(subcommand)]
        action: StageAction,
    },
}

#[derive(Subcommand)]
enum DeploymentsAction {
    /// The API's stored deployments, oldest first, and the stages serving each.
    List {
        /// The API's name.
        api: String,
    },
    /// One deployment, its definition included.
    Show {
        /// The API's name.
        api: String,
        /// The deployment id.
        id: String,
    },
    /// A unified diff of two deployments' definitions; `current` names the API's current
    /// definition.
    Diff {
        /// The API's name.
        api: String,
        /// The older deployment (or `current`).
        from: String,
        /// The newer deployment (or `current`).
        to: String,
    },
}

#[derive(Subcommand)]
enum StageAction {
    /// The deployment a stage serves, its variables, canary and history.
    Show {
        /// The API's name.
        api: String,
        /// The stage.
        stage: String,
    },
    /// Serve the deployment served before (or the one given).
    Rollback {
        /// The API's name.
        api: String,
        /// The stage.
        stage: String,
        /// The deployment to roll back to (`current`: follow the gateway file again).
        #[arg(long)]
        to: Option<String>,
    },
    /// Change the stage's canary.
    Canary {
        /// The API's name.
        api: String,
        /// The stage.
        stage: String,
        /// Share of requests (0 to 100).
        #[arg(long)]
        percent: Option<f64>,
        /// The deployment the canary serves.
        #[arg(long)]
        deployment: Option<String>,
        /// A stage variable override, NAME=VALUE; repeat for several.
        #[arg(long = "var")]
        vars: Vec<String>,
        /// Whether canary requests share the stage's response cache.
        #[arg(long)]
        use_stage_cache: Option<bool>,
    },
    /// Promote the canary: the stage serves its deployment and takes its variable
    /// overrides; the canary stays, at 0%.
    Promote {
        /// The API's name.
        api: String,
        /// The stage.
        stage: String,
    },
    /// Remove the canary.
    DeleteCanary {
        /// The API's name.
        api: String,
        /// The stage.
        stage: String,
    },
}

#[derive(Subcommand)]
enum AuthorizersAction {
    /// Drop every cached authorizer answer of a stage (AWS FlushStageAuthorizersCache).
    Flush {
        /// The API's name in the gateway file.
        api: String,
        /// The stage.
        stage: String,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Create an API key (persisted in the data directory).
    Create {
        /// Name and id of the key.
        #[arg(long)]
        name: String,
        /// The value (20 to 128 characters); generated (40 characters) when absent.
        #[arg(long)]
        value: Option<String>,
        /// A usage plan to add the key to; repeat for several.
        #[arg(long = "plan")]
        plans: Vec<String>,
        /// Create the key disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// List keys (names, ids, enabled, plans; no values unless --values).
    List {
        /// Include the key values.
        #[arg(long)]
        values: bool,
    },
}

#[derive(Subcommand)]
enum PlansAction {
    /// Every usage plan: the gateway file's and the ones made through the admin API.
    List,
    /// One usage plan.
    Show {
        /// The plan's id.
        plan: String,
    },
    /// Make a usage plan (AWS CreateUsagePlan); it applies at once.
    Create {
        /// Its display name.
        #[arg(long)]
        name: String,
        /// A stage it covers, `API/STAGE` (repeatable).
        #[arg(long = "stage", value_name = "API/STAGE")]
        stages: Vec<String>,
        /// Per-key steady rate, requests per second (needs --burst).
        #[arg(long, requires = "burst")]
        rate: Option<f64>,
        /// Per-key bucket size (needs --rate).
        #[arg(long, requires = "rate")]
        burst: Option<u32>,
        /// Per-key quota, `LIMIT/DAY`, `LIMIT/WEEK` or `LIMIT/MONTH`.
        #[arg(long, value_name = "LIMIT/PERIOD")]
        quota: Option<String>,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a usage plan made through the admin API.
    Delete {
        /// The plan's id.
        plan: String,
    },
    /// Add a key made through the admin API to a plan (AWS CreateUsagePlanKey).
    AddKey {
        /// The plan's id.
        plan: String,
        /// The key's name.
        key: String,
    },
}

#[derive(Subcommand)]
enum UsageAction {
    /// Requests per key per day (AWS GetUsage); dates are YYYY-MM-DD, default today (UTC).
    Get {
        /// The usage plan.
        plan: String,
        /// First day.
        #[arg(long)]
        from: Option<String>,
        /// Last day.
        #[arg(long)]
        to: Option<String>,
    },
    /// Grant N more requests for the current quota period.
    Extend {
        /// The usage plan.
        plan: String,
        /// The key's name.
        key: String,
        /// Requests to add.
        n: u64,
    },
    /// Forget what a key used in the current quota period.
    Reset {
        /// The usage plan.
        plan: String,
        /// The key's name.
        key: String,
    },
}

#[derive(Subcommand)]
enum CacheAction {
    /// Drop every entry of a stage's cache (AWS FlushStageCache).
    Flush {
        /// The API's name in the gateway file.
        api: String,
        /// The stage.
        stage: String,
    },
    /// Entries, bytes and capacity of a stage's cache.
    Stats {
        /// The API's name in the gateway file.
        api: String,
        /// The stage.
        stage: String,
    },
}

#[derive(Subcommand)]
enum PluginAction {
    /// Compile, check and swap in a new version of a declared plugin.
    Deploy {
        /// The plugin's name in the gateway file.
        name: String,
        /// The component (.wasm).
        file: PathBuf,
    },
    /// Restore the version deployed before the current one.
    Rollback {
        /// The plugin's name.
        name: String,
    },
    /// List plugins with their kind, digest and versions.
    List,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => check(&config),
        Command::Plugin { admin, action } => admin_client::plugin(&admin, action),
        Command::Cache { admin, action } => admin_client::cache(&admin, action),
        Command::Authorizers { admin, action } => admin_client::authorizers(&admin, action),
        Command::Keys { admin, action } => admin_client::keys(&admin, action),
        Command::Usage { admin, action } => admin_client::usage(&admin, action),
        Command::Plans { admin, action } => admin_client::plans(&admin, action),
        Command::Deploy {
            admin,
            api,
            stage,
            description,
            canary_percent,
            canary_vars,
            canary_use_stage_cache,
        } => admin_client::deploy(
            &admin,
            admin_client::DeployRequest {
                api,
                stage,
                description,
                canary_percent,
                canary_vars,
                canary_use_stage_cache,
            },
        ),
        Command::Deployments { admin, action } => admin_client::deployments(&admin, action),
        Command::Reload { admin } => admin_client::get_or_post(&admin, "POST", "/reload"),
        Command::Health { admin } => admin_client::get_or_post(&admin, "GET", "/health"),
        Command::Metrics { admin } => admin_client::get_or_post(&admin, "GET", "/metrics"),
        Command::Apis { admin } => admin_client::get_or_post(&admin, "GET", "/apis"),
        Command::Stage { admin, action } => admin_client::stage(&admin, action),
        Command::Serve {
            config,
            listen,
            admin,
            workers,
        } => {
            init_tracing();
            // The control runtime: admin API, reloads, signals, traffic sync. The data plane
            // runs on its own worker threads (portico_proxy::listener).
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("portico-control")
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("portico: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(serve(Origin {
                file: config,
                listen,
                admin,
                workers,
            })) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("portico: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PORTICO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn check(path: &Path) -> ExitCode {
    match portico_config::load_file(path) {
        Ok((config, warnings)) => {
            print!("{warnings}");
            let routes: usize = config.apis.iter().map(|a| a.routes.len()).sum();
            println!(
                "{}: ok ({} APIs, {routes} methods, {} warnings)",
                path.display(),
                config.apis.len(),
                warnings.warnings().count()
            );
            ExitCode::SUCCESS
        }
        Err(report) => {
            print!("{report}");
            println!("{}: {} errors", path.display(), report.errors().count());
            ExitCode::FAILURE
        }
    }
}

/// Where the configuration comes from, kept so that reloads read it the same way.
#[derive(Clone)]
struct Origin {
    file: Option<PathBuf>,
    listen: Vec<SocketAddr>,
    admin: Option<SocketAddr>,
    workers: Option<usize>,
}

impl Origin {
    fn load(&self) -> Result<(Config, Report), Report> {
        let loaded = match &self.file {
            Some(path) => portico_config::load_file(path),
            None => {
                let source = StaticSource(demo::FILES);
                portico_config::load(&source as &dyn Source, demo::GATEWAY_FILE)
            }
        };
        loaded.and_then(|(mut config, mut report)| {
            if !self.listen.is_empty() {
                config.listeners.retain(|l| l.tls.is_some());
                let plain = self
                    .listen
                    .iter()
                    .map(|a| portico_config::transport::Listener::plain(*a));
                config.listeners.splice(0..0, plain);
            }
            if let Some(address) = self.admin {
                config.admin = match config.admin.take() {
                    Some(admin) => Some(portico_config::admin::Admin { address, ..admin }),
                    None => match portico_config::admin::Admin::with_generated_token(
                        address,
                        config.data_dir.as_deref(),
                    ) {
                        Ok(admin) => Some(admin),
                        Err(e) => {
                            report.error("--admin", "", e);
                            return Err(report);
                        }
                    },
                };
            }
            if let Some(w) = self.workers {
                config.workers = w;
            }
            Ok((config, report))
        })
    }
}

async fn serve(origin: Origin) -> anyhow::Result<()> {
    // Signal handlers first: a signal that arrives as soon as the listening lines are printed
    // must reload or drain, not kill the process.
    let mut hup = signal(SignalKind::hangup()).context("cannot install the SIGHUP handler")?;
    let mut term = signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    let (config, warnings) = origin
        .load()
        .map_err(|report| anyhow::anyhow!("the configuration is invalid:\n{report}"))?;
    for w in warnings.warnings() {
        tracing::warn!("{w}");
    }
    if config.listeners.is_empty() {
        anyhow::bail!("no listeners: add `listeners:` to the gateway file or pass --listen ADDR");
    }

    // Compile everything (plugins included) before announcing the listeners: a script that
    // sees "listening on" can send requests at once.
    let reloader = origin.clone();
    let gw = alloc::purging_at_once(|| Gateway::new(&config, Box::new(move || reloader.load())))
        .context("cannot start the gateway")?;

    if config.workers > portico_config::MAX_WORKERS {
        anyhow::bail!(
            "--workers {} is more than {}",
            config.workers,
            portico_config::MAX_WORKERS
        );
    }
    let bound = portico_proxy::listener::Bound::bind(&config.listeners, config.workers)
        .with_context(|| {
            let addrs: Vec<_> = config.listeners.iter().map(|l| l.addr).collect();
            format!("cannot listen on {addrs:?}")
        })?
        .with_cpu_affinity(config.worker_cpu_affinity);
    for (i, addr) in bound.addrs().iter().enumerate() {
        let scheme = if bound.is_tls(i) { "https" } else { "http" };
        println!("listening on {scheme}://{addr}");
        if bound.is_http3(i) {
            println!("listening on udp://{addr} (HTTP/3)");
        }
    }
    let admin_listener = match &config.admin {
        Some(admin) => {
            let addr = admin.address;
            let l = TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (admin)"))?;
            if let portico_config::admin::AdminToken::Generated(path) = &admin.token {
                eprintln!("admin token in {}", path.display());
            }
            let tls = match &admin.tls {
                Some(t) => Some(
                    portico_proxy::listener::tls::admin_config(t)
                        .map_err(|e| anyhow::anyhow!("admin.tls: {e}"))?,
                ),
                None => None,
            };
            let scheme = if tls.is_some() { "https" } else { "http" };
            println!("admin listening on {scheme}://{}", l.local_addr()?);
            Some((l, tls))
        }
        None => None,
    };

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    if let Some((l, tls)) = admin_listener {
        tokio::spawn(portico_proxy::control::admin::serve(
            Arc::clone(&gw),
            l,
            tls,
            stopped(stop_rx.clone()),
        ));
    }
    // Cluster mode: deployments reach every node through the traffic Redis.
    if let (Some(url), Some(data_dir)) = (&config.traffic.redis, &config.data_dir) {
        let sync = portico_proxy::control::sync::StoreSync::new(url, data_dir)
            .map_err(|e| anyhow::anyhow!(e))?;
        gw.set_store_sync(Arc::clone(&sync));
        tokio::spawn(portico_proxy::control::sync::run(Arc::clone(&gw), sync));
    }
    if config.reload.watch && origin.file.is_some() {
        let watcher_origin = origin.clone();
        tokio::spawn(portico_proxy::control::watch::watch(
            Arc::clone(&gw),
            config.files.clone(),
            config.reload.poll_interval,
            move || watcher_origin.load().ok().map(|(c, _)| c.files),
        ));
    }
    let hup_gw = Arc::clone(&gw);
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading");
            let _ = hup_gw.reload_files().await;
        }
    });

    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: draining"),
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupt: draining"),
        }
        let _ = stop_tx.send(true);
    };
    portico_proxy::listener::serve(Arc::clone(&gw), bound, shutdown).await;
    // Push the last cluster deltas and write quota counters and usage: nothing is lost on
    // SIGTERM.
    if let Err(e) = gw.traffic.core.shutdown().await {
        tracing::error!("saving traffic state: {e}");
    }
    tracing::info!("shutdown complete");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_demo_is_valid() {
        let origin = Origin {
            file: None,
            listen: vec![],
            admin: None,
            workers: None,
        };
        let (config, warnings) = origin.load().unwrap_or_else(|r| panic!("{r}"));
        assert_eq!(warnings.warnings().count(), 0, "{warnings}");
        assert!(!config.apis.is_empty());
    }
}

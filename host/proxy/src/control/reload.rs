//! Reloads: re-reading the configuration, building everything it needs and swapping it in,
//! and the API-key changes that rebuild the snapshot from the last applied configuration.
//!
//! Build, then commit: plugins are staged ([`crate::plugins::StagedPlugins`]), limit and quota
//! changes wait in a [`portico_traffic::Pending`], the snapshot is built, and only when all of
//! it succeeded are they committed and the snapshot stored. The blocking work runs on tokio's
//! blocking pool, so every runtime flavour can call these; nothing here runs on a request.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use portico_config::{Config, Report};

use crate::{Gateway, Snapshot, control, traffic};

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
pub(crate) fn admin_token(config: &Config) -> Result<Option<control::auth::Token>, String> {
    config
        .admin
        .as_ref()
        .map(|a| control::auth::Token::resolve(&a.token))
        .transpose()
}

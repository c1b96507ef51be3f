//! Deployments across nodes: the deployment store (`<data_dir>/apis/`, see
//! [`portico_config::deploy`]) replicated through the Redis of cluster mode
//! (`traffic.redis`).
//!
//! - A node whose admin API changes the store (a deploy, a stage change, an import) then
//!   publishes the whole store: in one `MULTI`, the hash [`FILES`] is replaced by every file's
//!   text by relative path, and [`VERSION`] is set to a new random token. A publish that
//!   fails (Redis down) is retried at every poll until it succeeds, so a change made during an
//!   outage reaches the other nodes when Redis is back.
//! - Every node polls [`VERSION`] every [`POLL`]. When it changed, the node reads the hash,
//!   writes the files that differ, removes the ones that are gone, and reloads (build, then
//!   swap). A reload that fails puts the files back as they were: the node keeps serving its
//!   last good snapshot, and does not try that version again. So a deploy reaches every node
//!   within [`POLL`] plus one reload.
//! - While Redis cannot be reached (or what it holds does not build), `/health` reports the
//!   node's deployments as `stale` with the time and the error; traffic is served as before.
//!   A node that starts while Redis is down serves from its own data directory.
//!
//! What Redis holds is checked before it is written: a path must name a deployment, a stage
//! or an API file of the store, and a file at most [`MAX_FILE`] bytes.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portico_config::deploy::{self, Store};
use redis::AsyncCommands as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::Gateway;

/// The hash of every store file, by path relative to `<data_dir>/apis`.
pub const FILES: &str = "portico:deploy:files";
/// A random token, new with every publish.
pub const VERSION: &str = "portico:deploy:version";
/// How often a node looks for a new version.
pub const POLL: Duration = Duration::from_millis(500);
/// Longest file accepted from Redis.
pub const MAX_FILE: usize = 8 * 1024 * 1024;
/// Longest wait for one Redis command.
const TIMEOUT: Duration = Duration::from_secs(2);

/// What `/health` says of the replicated store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncHealth {
    /// In step with Redis.
    Current {
        /// The version token applied (empty: nothing published yet).
        version: String,
    },
    /// Not in step.
    Stale {
        /// Since when, Unix seconds.
        since: u64,
        /// Why.
        error: String,
    },
}

/// The replication of one node's store.
pub struct StoreSync {
    conn: ConnectionManager,
    store: Store,
    health: Mutex<SyncHealth>,
    /// The version this node's files match.
    seen: Mutex<Option<String>>,
    /// The version that did not apply here, and why: not tried again until Redis holds
    /// another one (each try rewrites the files and reloads).
    refused: Mutex<Option<(String, String)>>,
    /// A publish failed: this node's store is newer than Redis's.
    dirty: std::sync::atomic::AtomicBool,
}

impl StoreSync {
    /// Replication of `<data_dir>/apis` through the Redis at `url` (connected lazily).
    pub fn new(url: &str, data_dir: &Path) -> Result<Arc<Self>, String> {
        let client = redis::Client::open(url).map_err(|e| format!("traffic.redis: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| format!("traffic.redis: {e}"))?;
        Ok(Arc::new(Self {
            conn,
            store: Store::new(data_dir),
            health: Mutex::new(SyncHealth::Stale {
                since: crate::control::admin_deploy::now(),
                error: "not synchronised yet".into(),
            }),
            seen: Mutex::new(None),
            refused: Mutex::new(None),
            dirty: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    /// The replication's health.
    pub fn health(&self) -> SyncHealth {
        self.health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_health(&self, next: SyncHealth) {
        let mut h = self.health.lock().unwrap_or_else(|p| p.into_inner());
        match (&*h, &next) {
            (SyncHealth::Current { .. }, SyncHealth::Stale { error, .. }) => {
                tracing::warn!(%error, "deployments stale: the store cannot be synchronised");
            }
            (SyncHealth::Stale { since, .. }, SyncHealth::Current { version }) => {
                tracing::info!(since, version, "deployments in step again");
            }
            _ => {}
        }
        // A stale spell keeps the time it started.
        if let (SyncHealth::Stale { since, .. }, SyncHealth::Stale { error, .. }) = (&*h, &next) {
            *h = SyncHealth::Stale {
                since: *since,
                error: error.clone(),
            };
            return;
        }
        *h = next;
    }

    fn stale(&self, error: impl std::fmt::Display) {
        self.set_health(SyncHealth::Stale {
            since: crate::control::admin_deploy::now(),
            error: error.to_string(),
        });
    }

    /// Publishes this node's whole store (after an admin change to it).
    pub async fn publish(&self) {
        use std::sync::atomic::Ordering;
        let result = self.try_publish().await;
        match result {
            Ok(version) => {
                self.dirty.store(false, Ordering::Release);
                *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(version.clone());
                self.set_health(SyncHealth::Current { version });
            }
            Err(e) => {
                self.dirty.store(true, Ordering::Release);
                self.stale(format!("publish: {e}"));
            }
        }
    }

    async fn try_publish(&self) -> Result<String, String> {
        let files = self.store.files()?;
        let version = token();
        let mut pipe = redis::pipe();
        pipe.atomic().del(FILES).ignore();
        if !files.is_empty() {
            let pairs: Vec<(&String, &String)> = files.iter().collect();
            pipe.hset_multiple(FILES, &pairs).ignore();
        }
        pipe.set(VERSION, &version).ignore();
        let mut conn = self.conn.clone();
        match tokio::time::timeout(TIMEOUT, pipe.query_async::<()>(&mut conn)).await {
            Ok(Ok(())) => Ok(version),
            Ok(Err(e)) => Err(format!("redis: {e}")),
            Err(_) => Err("redis: timed out".into()),
        }
    }

    /// One poll: retries a failed publish, or pulls and applies a new version.
    async fn poll(&self, gw: &Arc<Gateway>) {
        if self.dirty.load(std::sync::atomic::Ordering::Acquire) {
            return self.publish().await;
        }
        let mut conn = self.conn.clone();
        let version: Option<String> =
            match tokio::time::timeout(TIMEOUT, conn.get::<_, Option<String>>(VERSION)).await {
                Ok(Ok(v)) => v,
                Ok(Err(e)) => return self.stale(format!("redis: {e}")),
                Err(_) => return self.stale("redis: timed out"),
            };
        let Some(version) = version else {
            // Nothing published yet: this node's own store is the truth.
            return self.set_health(SyncHealth::Current {
                version: String::new(),
            });
        };
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if seen.as_ref() == Some(&version) {
            return self.set_health(SyncHealth::Current { version });
        }
        if let Some((refused, error)) = &*self.refused.lock().unwrap_or_else(|p| p.into_inner())
            && *refused == version
        {
            return self.stale(error);
        }
        let remote: BTreeMap<String, String> =
            match tokio::time::timeout(TIMEOUT, conn.hgetall(FILES)).await {
                Ok(Ok(f)) => f,
                Ok(Err(e)) => return self.stale(format!("redis: {e}")),
                Err(_) => return self.stale("redis: timed out"),
            };
        match self.apply(gw, &remote).await {
            Ok(()) => {
                *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(version.clone());
                self.set_health(SyncHealth::Current { version });
            }
            Err(e) => {
                let error = format!("version {version} not applied: {e}");
                *self.refused.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((version, error.clone()));
                self.stale(error);
            }
        }
    }

    /// Makes the local store what `remote` says and reloads; puts it back if the reload fails.
    async fn apply(
        &self,
        gw: &Arc<Gateway>,
        remote: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        for (path, text) in remote {
            if !deploy::valid_file(path) {
                return Err(format!("{path:?} is not a path of the deployment store"));
            }
            if text.len() > MAX_FILE {
                return Err(format!("{path} is more than {MAX_FILE} bytes"));
            }
        }
        let local = self.store.files()?;
        if local == *remote {
            return Ok(());
        }
        let _serial = gw.stage_lock.lock().await;
        let write_all = |want: &BTreeMap<String, String>, have: &BTreeMap<String, String>| {
            for (path, text) in want {
                if have.get(path) != Some(text) {
                    self.store.put_file(path, text)?;
                }
            }
            for path in have.keys().filter(|p| !want.contains_key(*p)) {
                self.store.remove_file(path)?;
            }
            Ok::<(), String>(())
        };
        write_all(remote, &local)?;
        if let Err(e) = gw.reload().await {
            let _ = write_all(&local, remote);
            return Err(e.to_string());
        }
        tracing::info!(files = remote.len(), "deployment store updated from redis");
        Ok(())
    }
}

/// Polls Redis every [`POLL`] until the process ends.
pub async fn run(gw: Arc<Gateway>, sync: Arc<StoreSync>) {
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        sync.poll(&gw).await;
    }
}

/// 16 random hex digits.
fn token() -> String {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    portico_auth::sigv4::canonical::hex(&bytes)
}

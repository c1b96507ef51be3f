//! The file watcher: reloads when a configuration file's content changes.
//!
//! It polls rather than using inotify: polling sees every kind of change (editors that replace
//! files, Kubernetes ConfigMap symlink swaps, network file systems) and costs a few small reads
//! per interval. A change is acted on once; a rejected change is not retried until the files
//! change again.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::Gateway;

/// Watches `files` every `interval` and reloads `gw` when one changes. `files_after_reload`
/// gives the files the configuration on disk names (APIs and plugins may be added or removed);
/// when it cannot, the old list is kept.
pub async fn watch(
    gw: Arc<Gateway>,
    mut files: Vec<PathBuf>,
    interval: Duration,
    files_after_reload: impl Fn() -> Option<Vec<PathBuf>>,
) {
    let mut seen = fingerprint(&files);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let now = fingerprint(&files);
        if now == seen {
            continue;
        }
        tracing::info!("configuration files changed; reloading");
        // Fingerprint the files the new configuration names *before* reloading: a change
        // written while the reload runs then differs from `seen` and triggers another one.
        let next_files = files_after_reload().unwrap_or_else(|| files.clone());
        let next_seen = fingerprint(&next_files);
        if gw.reload_files().await.is_ok() {
            files = next_files;
            seen = next_seen;
        } else {
            // Rejected: not retried until the files change again.
            seen = now;
        }
    }
}

/// A hash of every file's content (or of its absence).
fn fingerprint(files: &[PathBuf]) -> u64 {
    let mut h = DefaultHasher::new();
    for f in files {
        f.hash(&mut h);
        match std::fs::read(f) {
            Ok(bytes) => bytes.hash(&mut h),
            Err(e) => e.kind().hash(&mut h),
        }
    }
    h.finish()
}

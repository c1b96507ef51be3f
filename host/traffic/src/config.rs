//! Configuration of the traffic core. This module owns [`TrafficConfig`], [`ClusterConfig`],
//! [`FailMode`] and the defaults every interval falls back to.

use std::path::PathBuf;
use std::time::Duration;

use crate::bucket::Limit;

/// How often usage and quota counters are written to disk in embedded mode. Also the loss
/// window: a crash loses at most the admissions of the last `flush_interval` (plus the time
/// one write takes); see [`crate::persist`].
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// How often a node pushes its local deltas to Redis and pulls the global state back.
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_millis(100);

/// How long one Redis call (a sync batch, a strict check) may take before the cluster is
/// declared unreachable.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(250);

/// What a cluster-shared limit does while Redis is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailMode {
    /// Keep enforcing with the node's local bucket and quota counters only (each node then
    /// admits up to the full limit on its own). The default: an outage of the limiter's store
    /// should not become an outage of the API.
    #[default]
    Open,
    /// Reject with [`crate::Admission::Unavailable`] (HTTP 503 with `Retry-After`): the
    /// gateway cannot prove the request is within the limit.
    Closed,
}

/// Everything the traffic core needs at start.
#[derive(Debug, Clone)]
pub struct TrafficConfig {
    /// Directory for persisted usage (`<data_dir>/traffic/usage.json`). `None`: memory only.
    pub data_dir: Option<PathBuf>,
    /// Period of the background flush to `data_dir`.
    pub flush_interval: Duration,
    /// The account-level limit (AWS: 10,000 rps, burst 5,000), exposed as
    /// [`crate::Traffic::account`].
    pub account: Option<Limit>,
    /// Share limits, quotas and usage across nodes through Redis.
    pub cluster: Option<ClusterConfig>,
}

impl Default for TrafficConfig {
    fn default() -> Self {
        Self {
            data_dir: None,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            account: None,
            cluster: None,
        }
    }
}

/// Cluster mode: where Redis is and how closely nodes follow it.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `redis://host:port/db` (or `rediss://`, `redis+unix://`).
    pub url: String,
    /// Prefix of every Redis key this node writes, so several gateways can share one Redis.
    pub prefix: String,
    /// Period of the local-first sync (Kong `sync_rate`, APISIX `sync_interval`).
    pub sync_interval: Duration,
    /// One synchronous Redis check per request instead of local-first admission
    /// (use [`crate::Traffic::admit_async`]).
    pub strict: bool,
    /// Default behaviour of limits and quotas while Redis is unreachable.
    pub fail_mode: FailMode,
    /// Timeout of one Redis call.
    pub timeout: Duration,
}

impl ClusterConfig {
    /// Local-first cluster mode against `url` with the defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "portico:traffic".to_owned(),
            sync_interval: DEFAULT_SYNC_INTERVAL,
            strict: false,
            fail_mode: FailMode::Open,
            timeout: DEFAULT_REDIS_TIMEOUT,
        }
    }
}

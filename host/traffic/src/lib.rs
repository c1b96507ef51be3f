//! Portico's traffic-control core: API Gateway throttling, usage-plan quotas and usage
//! accounting, with persistence for one node and Redis sync for a cluster.
//!
//! How the pieces fit:
//! - [`clock`]: every reading of time goes through a [`Clock`] ([`SystemClock`] in production,
//!   [`ManualClock`] in tests), monotonic for buckets, UTC calendar for quotas.
//! - [`bucket`]: the lock-free [`TokenBucket`] (one `AtomicU64`, GCRA form) and [`Limit`].
//! - [`limit`]: throttle levels by stable id; a [`LimitHandle`] is resolved at config load and
//!   reused per request, and a reload that keeps an id keeps its tokens.
//! - [`quota`] and [`usage`]: the per-key [`QuotaCounter`] (DAY/WEEK/MONTH in UTC, offset,
//!   extend, reset) and [`DailyUsage`] (the last [`USAGE_DAYS`] days, AWS GetUsage shape);
//!   [`meter`] pairs them in a [`QuotaHandle`] per (usage plan, API key).
//! - [`pending`]: a configuration build's handles, staged; [`Pending::commit`] applies them
//!   (new limits, quota settings, new ids, pruning) only once the whole build succeeded.
//! - [`admission`]: the decision — levels in AWS order, refunds, then the quota.
//! - [`persist`]: the crash-safe snapshot of quotas and usage in embedded mode.
//! - [`cluster`]: local-first Redis sync (or a strict per-request check), fail modes, health.
//! - [`Traffic`] ties them together and runs the flush and sync tasks.
//!
//! # Semantics
//!
//! - **Throttling** follows AWS's token bucket: `burst` is the bucket capacity (exactly
//!   `burst` requests pass at once from a full bucket), `rate` tokens are added per second.
//!   Rate 0 or burst 0 rejects everything. Levels are applied in AWS order — usage plan
//!   per key per method, usage plan per key, stage per method (or `*/*`), account — and a
//!   request rejected by a later level gives its tokens back to the earlier ones.
//! - **Quotas** count requests per UTC calendar period (weeks start on Sunday); `offset` is
//!   subtracted from the limit in the initial period; only admitted requests count;
//!   `Retry-After` of an exhausted quota is the time to the end of the period.
//! - **Answers**: [`Admission::Throttled`] and [`Admission::QuotaExceeded`] are 429s (AWS
//!   `THROTTLED` / `QUOTA_EXCEEDED`); [`Admission::Unavailable`] is a 503 and only happens in
//!   cluster mode with a fail-closed limit while Redis is down.
//!
//! # Loss window (embedded mode)
//!
//! Quota counters and daily usage are written to `<data_dir>/traffic/usage.json` every
//! `flush_interval` ([`DEFAULT_FLUSH_INTERVAL`] = 1 s) atomically (temp file, fsync, rename).
//! A crash, `kill -9` included, loses at most the admissions of one flush interval plus one
//! write; those requests are simply not counted against the quota. [`Traffic::shutdown`]
//! loses nothing.
//!
//! # Cluster error bound
//!
//! In local-first mode, with `N` nodes and sync interval `S` ([`DEFAULT_SYNC_INTERVAL`] =
//! 100 ms), the requests a limit admits cluster-wide over any window `W` are at most
//!
//! ```text
//! burst + rate·(W + S) + (N − 1)·(burst + rate·S)
//! ```
//!
//! The long-run rate is exactly `rate` (over-admission becomes debt in the global bucket and
//! is repaid); the overshoot is bounded per window. Strict mode is exact. See [`cluster`].
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use portico_traffic::{Admission, Limit, ManualClock, Period, QuotaSettings, Traffic};
//!
//! let clock = Arc::new(ManualClock::new(1_767_225_600)); // 2026-01-01T00:00:00Z
//! let traffic = Traffic::in_memory(Some(Limit::new(10_000.0, 5_000)), clock.clone());
//!
//! // At config load: resolve the handles of a route and of an API key once.
//! let per_key_method = traffic.limit("plan:p1/key:k1/method:/pets/GET", Limit::new(1.0, 1));
//! let per_key = traffic.limit("plan:p1/key:k1", Limit::new(10.0, 20));
//! let stage = traffic.limit("stage:a1/prod/method:*/*", Limit::new(100.0, 200));
//! let quota = traffic.quota("p1", "k1", Some(QuotaSettings::new(1_000, Period::Day)));
//! let account = traffic.account().cloned().unwrap();
//!
//! // Per request: no allocation, no lock, no await.
//! let levels = [&per_key_method, &per_key, &stage, &account];
//! assert_eq!(traffic.admit(&levels, Some(&quota)), Admission::Admit);
//! match traffic.admit(&levels, Some(&quota)) {
//!     Admission::Throttled { retry_after, level } => {
//!         assert_eq!((retry_after.as_secs(), level), (1, 0)); // per-key per-method bucket
//!     }
//!     other => panic!("{other:?}"),
//! }
//! assert_eq!(traffic.quota_status("p1", "k1").unwrap().remaining, 999);
//! ```

pub mod admission;
pub mod bucket;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod error;
pub mod limit;
pub mod meter;
pub mod pending;
pub mod persist;
pub mod quota;
pub mod traffic;
pub mod usage;

pub use admission::Admission;
pub use bucket::{Limit, MAX_DEBT, RetryAfter, TokenBucket};
pub use clock::{Clock, ManualClock, SystemClock};
pub use cluster::Health;
pub use config::{
    ClusterConfig, DEFAULT_FLUSH_INTERVAL, DEFAULT_REDIS_TIMEOUT, DEFAULT_SYNC_INTERVAL, FailMode,
    TrafficConfig,
};
pub use error::{TrafficError, Warning};
pub use limit::{LimitHandle, Limits};
pub use meter::{Meters, QuotaHandle};
pub use pending::Pending;
pub use quota::{Period, QuotaCounter, QuotaReading, QuotaSettings};
pub use traffic::{ACCOUNT_ID, Traffic};
pub use usage::{DailyUsage, DayUsage, USAGE_DAYS, UsageReport};

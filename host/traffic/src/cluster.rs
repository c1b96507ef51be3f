//! Cluster mode. This module owns the Redis connection, the Lua scripts, the sync batch, the
//! strict per-request check, and the cluster [`Health`].
//!
//! # Local-first sync (default)
//!
//! Every node admits on its own buckets and counters and counts what it admitted. Every
//! `sync_interval` the sync task sends **one** script call (`EVALSHA`, falling back to `EVAL`
//! when Redis lost the script) with all its deltas: for each busy limit the admissions since
//! the last push, for each key the quota consumed and the usage per day. The script, atomically:
//!
//! - debits each limit's **global GCRA bucket** (same rate and burst, in Redis time) by the
//!   node's delta and returns its tokens; the node then sets its local bucket to that global
//!   view minus what it admitted meanwhile. The global bucket may be overdrawn (debt up to
//!   [`crate::MAX_DEBT`]); debt is repaid at `rate` before anyone sees tokens again;
//! - adds the quota deltas to the key's counter for the current period and returns it;
//! - adds the usage deltas to the key's per-day counters.
//!
//! Limits and keys that were busy in the last [`ACTIVE_ROUNDS`] rounds are synced even
//! without local admissions, so an idle node keeps a fresh view of them.
//!
//! # Error bound
//!
//! Between two syncs a node cannot see other nodes' admissions. Each node admits at most the
//! tokens it last saw plus what its local bucket refills in one interval, at most
//! `burst + rate·S`. Every admission is debited from the global bucket at the next sync, so the
//! excess is a debt repaid afterwards rather than an error that accumulates. With `N` nodes
//! and sync interval `S`, over any window `W`:
//!
//! ```text
//! admitted(W) ≤ burst + rate·(W + S) + (N − 1)·(burst + rate·S)
//! ```
//!
//! i.e. the long-run rate is `rate`, and the overshoot is at most `N − 1` buckets plus one
//! interval of refill per extra node (it holds while that debt fits in [`crate::MAX_DEBT`]).
//! Quotas overshoot by at most what the other nodes admit for the key in one interval.
//! `tests/cluster.rs` measures it.
//!
//! # Strict mode
//!
//! [`crate::Traffic::admit_async`] runs one script per request that checks every level and
//! the quota and commits only if all pass: exact cluster-wide, at the cost of a Redis round
//! trip per request. (No refunds are needed: nothing is taken unless everything passes.)
//!
//! # Redis unreachable
//!
//! A failed or timed-out call marks the cluster [`Health::Degraded`]. Limits and quotas then
//! follow their [`FailMode`]: `Open` keeps admitting on the local buckets and counters (each
//! node enforcing the full limit alone), `Closed` answers [`crate::Admission::Unavailable`]
//! (503). Strict mode stops calling Redis per request while degraded. The sync task keeps
//! probing every interval; the connection reconnects by itself, and the first successful call
//! makes the cluster healthy again, with no restart.
//!
//! Deltas are pushed at least once: a call that times out after Redis ran it is retried with
//! the same deltas, counting them twice (quotas then err on the strict side).
//!
//! Reconciliation: **quota and usage deltas** counted while degraded are kept and pushed on
//! recovery, so quotas and GetUsage include them. **Rate-limit deltas** from the degraded
//! period are dropped: they are past admissions, and debiting them would lock the limit for a
//! while for no benefit (a token bucket forgets everything older than `burst / rate`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::admission::Admission;
use crate::bucket::{Limit, MAX_DEBT, RetryAfter};
use crate::clock::Clock;
use crate::config::{ClusterConfig, FailMode};
use crate::error::TrafficError;
use crate::limit::{LimitHandle, Limits};
use crate::meter::{Meters, QuotaHandle};
use crate::usage::DayUsage;

/// Sync rounds a limit keeps being synced after its last local admission.
pub const ACTIVE_ROUNDS: u32 = 50;

/// Most entries in one script call; larger syncs are split into several calls.
pub const MAX_BATCH: usize = 2_000;

const SECS_PER_DAY: i64 = 86_400;

/// The state of the cluster link, for the admin health endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Redis answered the last call (or no cluster is configured).
    Healthy,
    /// Redis did not answer; fail modes apply.
    Degraded {
        /// Unix seconds of the first failure.
        since: i64,
        /// The latest error.
        last_error: String,
    },
}

/// The Redis side of the traffic core.
pub(crate) struct Cluster {
    pub(crate) config: ClusterConfig,
    conn: ConnectionManager,
    sync: Script,
    strict: Script,
    admin: Script,
    /// Hot-path copy of `health != Healthy`.
    degraded: AtomicBool,
    /// Detail for the health endpoint; written by the sync task and failing strict calls.
    health: Mutex<Health>,
    /// Serialises sync rounds (the background task and explicit `Traffic::sync` calls): an
    /// older round's answer must never overwrite a newer one's.
    sync_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("config", &self.config)
            .field("degraded", &self.degraded)
            .finish_non_exhaustive()
    }
}

/// One limit in a sync batch.
struct LimitItem {
    handle: LimitHandle,
    delta: i64,
    limit: Limit,
}

/// One day of usage to push: `(day, delta, remaining)`.
type DayDelta = (i64, u64, Option<u64>);

/// One key in a sync batch.
struct MeterItem {
    handle: QuotaHandle,
    /// `(period start day, delta)` when the key has a quota.
    quota: Option<(i64, i64)>,
    usage: Vec<DayDelta>,
}

fn us(limit: &Limit) -> (f64, f64) {
    let interval = 1e6 / limit.rate;
    (interval, interval * f64::from(limit.burst))
}

fn redis_err(e: impl std::fmt::Display) -> TrafficError {
    TrafficError::Redis(e.to_string())
}

impl Cluster {
    /// Prepares the connection; it is made lazily and re-made after every failure.
    pub(crate) fn new(config: ClusterConfig) -> Result<Self, TrafficError> {
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| TrafficError::RedisUrl(e.to_string()))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(config.sync_interval.max(Duration::from_millis(50)));
        let conn =
            ConnectionManager::new_lazy_with_config(client, manager_config).map_err(redis_err)?;
        Ok(Self {
            config,
            conn,
            sync: Script::new(include_str!("cluster/sync.lua")),
            strict: Script::new(include_str!("cluster/strict.lua")),
            admin: Script::new(include_str!("cluster/quota_admin.lua")),
            degraded: AtomicBool::new(false),
            health: Mutex::new(Health::Healthy),
            sync_lock: tokio::sync::Mutex::new(()),
        })
    }

    pub(crate) fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    pub(crate) fn health(&self) -> Health {
        match self.health.lock() {
            Ok(h) => h.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_health(&self, next: Health) {
        let mut h = match self.health.lock() {
            Ok(h) => h,
            Err(poisoned) => poisoned.into_inner(),
        };
        match (&*h, &next) {
            (Health::Healthy, Health::Degraded { last_error, .. }) => {
                tracing::warn!(error = %last_error, "traffic cluster degraded: redis unreachable");
            }
            (Health::Degraded { since, .. }, Health::Healthy) => {
                tracing::info!(since, "traffic cluster healthy again");
            }
            _ => {}
        }
        self.degraded
            .store(next != Health::Healthy, Ordering::Relaxed);
        *h = match (&*h, next) {
            (Health::Degraded { since, .. }, Health::Degraded { last_error, .. }) => {
                Health::Degraded {
                    since: *since,
                    last_error,
                }
            }
            (_, next) => next,
        };
    }

    pub(crate) fn mark_failed(&self, now: i64, error: &TrafficError) {
        self.set_health(Health::Degraded {
            since: now,
            last_error: error.to_string(),
        });
    }

    fn limit_key(&self, id: &str) -> String {
        format!("{}:l:{id}", self.config.prefix)
    }

    fn quota_key(&self, plan: &str, key: &str) -> String {
        format!("{}:q:{plan}/{key}", self.config.prefix)
    }

    fn usage_key(&self, plan: &str, key: &str) -> String {
        format!("{}:u:{plan}/{key}", self.config.prefix)
    }

    async fn timed<T>(
        &self,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, TrafficError> {
        match tokio::time::timeout(self.config.timeout, fut).await {
            Ok(r) => r.map_err(redis_err),
            Err(_) => Err(TrafficError::Redis(format!(
                "no answer within {:?}",
                self.config.timeout
            ))),
        }
    }

    /// One sync round (see the module docs). Updates health.
    pub(crate) async fn sync_once(&self, limits: &Limits, meters: &Meters, clock: &dyn Clock) {
        let _serial = self.sync_lock.lock().await;
        let degraded = self.is_degraded();
        let (limit_items, meter_items) = self.collect(limits, meters, clock, degraded);
        let result = if limit_items.is_empty() && meter_items.is_empty() {
            let mut conn = self.conn.clone();
            self.timed(redis::cmd("PING").query_async::<String>(&mut conn))
                .await
                .map(|_| ())
        } else {
            self.push(&limit_items, &meter_items, clock).await
        };
        match result {
            Ok(()) => self.set_health(Health::Healthy),
            Err(e) => {
                // Keep quota and usage deltas for the next round; rate deltas stay only while
                // healthy (a failing round while degraded drops them, see the module docs).
                for item in &limit_items {
                    item.handle
                        .0
                        .pending
                        .fetch_add(item.delta, Ordering::Relaxed);
                }
                for item in &meter_items {
                    if let Some((_, delta)) = item.quota {
                        item.handle.0.pending.fetch_add(delta, Ordering::Relaxed);
                    }
                    for &(day, delta, _) in &item.usage {
                        item.handle.usage().unpush(day, delta);
                    }
                    item.handle.0.dirty.store(true, Ordering::Relaxed);
                }
                self.mark_failed(clock.unix_secs(), &e);
            }
        }
    }

    fn collect(
        &self,
        limits: &Limits,
        meters: &Meters,
        clock: &dyn Clock,
        degraded: bool,
    ) -> (Vec<LimitItem>, Vec<MeterItem>) {
        let now = clock.unix_secs();
        let today = now.div_euclid(SECS_PER_DAY);
        let mut limit_items = Vec::new();
        for handle in limits.all() {
            let state = &handle.0;
            let delta = state.pending.swap(0, Ordering::AcqRel);
            let limit = handle.limit();
            if degraded || limit.is_blocking() {
                // Admissions made while degraded are not pushed (module docs).
                continue;
            }
            if delta != 0 {
                state.active_rounds.store(ACTIVE_ROUNDS, Ordering::Relaxed);
            } else {
                let rounds = state.active_rounds.load(Ordering::Relaxed);
                if rounds == 0 {
                    continue;
                }
                state.active_rounds.store(rounds - 1, Ordering::Relaxed);
            }
            limit_items.push(LimitItem {
                handle,
                delta,
                limit,
            });
        }
        let mut meter_items = Vec::new();
        for handle in meters.all() {
            if handle.0.dirty.swap(false, Ordering::AcqRel) {
                handle
                    .0
                    .active_rounds
                    .store(ACTIVE_ROUNDS, Ordering::Relaxed);
            } else {
                let rounds = handle.0.active_rounds.load(Ordering::Relaxed);
                if rounds == 0 {
                    continue;
                }
                handle.0.active_rounds.store(rounds - 1, Ordering::Relaxed);
            }
            let delta = handle.0.pending.swap(0, Ordering::AcqRel);
            let quota = handle
                .quota()
                .read(now)
                .map(|r| (r.period_start.div_euclid(SECS_PER_DAY), delta));
            let usage = handle.usage().take_unpushed(today);
            meter_items.push(MeterItem {
                handle,
                quota,
                usage,
            });
        }
        (limit_items, meter_items)
    }

    async fn push(
        &self,
        limit_items: &[LimitItem],
        meter_items: &[MeterItem],
        clock: &dyn Clock,
    ) -> Result<(), TrafficError> {
        let max_debt_us = MAX_DEBT.as_micros().to_string();
        for chunk in limit_items.chunks(MAX_BATCH) {
            let mut inv = self.sync.prepare_invoke();
            inv.arg(chunk.len()).arg(0).arg(0).arg(&max_debt_us);
            for item in chunk {
                let (interval, tau) = us(&item.limit);
                inv.key(self.limit_key(item.handle.id()));
                inv.arg(interval).arg(tau).arg(item.delta);
            }
            let mut conn = self.conn.clone();
            let tokens: Vec<i64> = self.timed(inv.invoke_async(&mut conn)).await?;
            let now = clock.monotonic_nanos();
            for (item, milli) in chunk.iter().zip(tokens) {
                let since = item.handle.0.pending.load(Ordering::Acquire);
                let tokens = milli as f64 / 1000.0 - since as f64;
                item.handle.bucket().set_tokens(now, tokens);
            }
        }
        for chunk in meter_items.chunks(MAX_BATCH / 2) {
            let quotas: Vec<&MeterItem> = chunk.iter().filter(|m| m.quota.is_some()).collect();
            let usages: Vec<(&MeterItem, &DayDelta)> = chunk
                .iter()
                .flat_map(|m| m.usage.iter().map(move |u| (m, u)))
                .collect();
            let mut inv = self.sync.prepare_invoke();
            inv.arg(0)
                .arg(quotas.len())
                .arg(usages.len())
                .arg(&max_debt_us);
            for m in &quotas {
                if let Some((day, delta)) = m.quota {
                    inv.key(self.quota_key(m.handle.plan(), m.handle.key()));
                    inv.arg(day).arg(delta);
                }
            }
            for &(m, &(day, delta, remaining)) in &usages {
                inv.key(self.usage_key(m.handle.plan(), m.handle.key()));
                let remaining = remaining.map_or(-1, |r| i64::try_from(r).unwrap_or(i64::MAX));
                inv.arg(day).arg(delta).arg(remaining);
            }
            let mut conn = self.conn.clone();
            let spent: Vec<i64> = self.timed(inv.invoke_async(&mut conn)).await?;
            let now = clock.unix_secs();
            for (m, global) in quotas.iter().zip(spent) {
                let since = m.handle.0.pending.load(Ordering::Acquire);
                m.handle.quota().set_spent(now, global + since);
            }
        }
        Ok(())
    }

    /// One strict admission in Redis. `Err` when Redis did not answer.
    pub(crate) async fn admit_strict(
        &self,
        limits: &[&LimitHandle],
        quota: Option<&QuotaHandle>,
        clock: &dyn Clock,
    ) -> Result<Admission, TrafficError> {
        let now = clock.unix_secs();
        let today = now.div_euclid(SECS_PER_DAY);
        if let Some(level) = limits.iter().position(|l| l.limit().is_blocking()) {
            return Ok(Admission::Throttled {
                retry_after: RetryAfter::BLOCKED,
                level,
            });
        }
        let mut inv = self.strict.prepare_invoke();
        inv.arg(limits.len())
            .arg(MAX_DEBT.as_micros().to_string())
            .arg(u8::from(quota.is_some()));
        for l in limits {
            let (interval, tau) = us(&l.limit());
            inv.key(self.limit_key(l.id())).arg(interval).arg(tau);
        }
        let reading = quota.and_then(|q| q.quota().read(now));
        if let Some(q) = quota {
            inv.key(self.quota_key(q.plan(), q.key()));
            inv.key(self.usage_key(q.plan(), q.key()));
            let (day, effective) = match reading {
                Some(r) => (r.period_start.div_euclid(SECS_PER_DAY), r.effective_limit),
                None => (today, -1),
            };
            inv.arg(day).arg(effective).arg(today);
        }
        let mut conn = self.conn.clone();
        let answer: Vec<i64> = self.timed(inv.invoke_async(&mut conn)).await?;
        match answer.as_slice() {
            [0, spent] => {
                if let Some(q) = quota {
                    if *spent >= 0 {
                        q.quota().set_spent(now, *spent);
                    }
                    let remaining = reading.map(|r| (r.effective_limit - spent).max(0) as u64);
                    q.usage().record(today, remaining);
                    q.usage().mark_pushed(today, 1);
                    q.0.mark_changed();
                }
                Ok(Admission::Admit)
            }
            [1, level, wait_us] => Ok(Admission::Throttled {
                retry_after: RetryAfter::from_nanos((*wait_us).max(0) as u64 * 1_000),
                level: usize::try_from(*level).unwrap_or(0),
            }),
            [2, spent] => {
                let end = reading.map_or(now + 1, |r| r.period_end);
                if let Some(q) = quota {
                    q.quota().set_spent(now, *spent);
                }
                Ok(Admission::QuotaExceeded {
                    retry_after: RetryAfter::from_secs((end - now).max(1) as u64),
                })
            }
            other => Err(TrafficError::Redis(format!(
                "unexpected strict answer {other:?}"
            ))),
        }
    }

    /// Extends (`Some(n)`) or resets (`None`) a key's quota in Redis; returns the global net
    /// spent.
    pub(crate) async fn quota_admin(
        &self,
        meter: &QuotaHandle,
        period_day: i64,
        extend: Option<u64>,
    ) -> Result<i64, TrafficError> {
        let mut inv = self.admin.prepare_invoke();
        inv.key(self.quota_key(meter.plan(), meter.key()));
        match extend {
            Some(n) => inv.arg("extend").arg(period_day).arg(n),
            None => inv.arg("reset").arg(period_day).arg(0),
        };
        let mut conn = self.conn.clone();
        self.timed(inv.invoke_async(&mut conn)).await
    }

    /// The global daily usage of a key: day → usage.
    pub(crate) async fn usage_days(
        &self,
        meter: &QuotaHandle,
    ) -> Result<std::collections::HashMap<i64, DayUsage>, TrafficError> {
        let mut conn = self.conn.clone();
        let fields: std::collections::HashMap<String, i64> = self
            .timed(
                redis::cmd("HGETALL")
                    .arg(self.usage_key(meter.plan(), meter.key()))
                    .query_async(&mut conn),
            )
            .await?;
        let mut days: std::collections::HashMap<i64, DayUsage> = Default::default();
        for (field, value) in fields {
            let value = u64::try_from(value).unwrap_or(0);
            if let Some(day) = field.strip_prefix('r') {
                if let Ok(day) = day.parse() {
                    days.entry(day).or_default().remaining = Some(value);
                }
            } else if let Ok(day) = field.parse() {
                days.entry(day).or_default().used = value;
            }
        }
        Ok(days)
    }

    /// Default fail mode of quotas.
    pub(crate) fn quota_fail_mode(&self) -> FailMode {
        self.config.fail_mode
    }
}

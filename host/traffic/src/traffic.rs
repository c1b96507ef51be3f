//! The facade. This module owns [`Traffic`]: the registries, the clock, the persistence store
//! and the cluster link, the background tasks that flush and sync, and every operation the
//! gateway calls (resolve handles at config load, admit per request, admin queries).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use time::Date;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::admission::{Admission, Mode, admit_local};
use crate::bucket::Limit;
use crate::clock::Clock;
use crate::cluster::{Cluster, Health};
use crate::config::{FailMode, TrafficConfig};
use crate::error::{TrafficError, Warning};
use crate::limit::{LimitHandle, Limits};
use crate::meter::{Meters, QuotaHandle};
use crate::pending::Pending;
use crate::persist::Store;
use crate::quota::{QuotaReading, QuotaSettings};
use crate::usage::{DayUsage, USAGE_DAYS, UsageReport, day_number};

/// Id of the account-level limit.
pub const ACCOUNT_ID: &str = "account";

const SECS_PER_DAY: i64 = 86_400;

/// The traffic-control core of one gateway process.
pub struct Traffic {
    clock: Arc<dyn Clock>,
    limits: Limits,
    meters: Meters,
    account: Option<LimitHandle>,
    default_fail_mode: FailMode,
    store: Option<Store>,
    flush_interval: Duration,
    /// Serialises flushes (the background task, `flush()` and `shutdown()`), so two writers
    /// never share the temp file.
    flush_lock: tokio::sync::Mutex<()>,
    /// Set when a flush failed: the next one writes even if nothing changed since.
    flush_failed: AtomicBool,
    cluster: Option<Cluster>,
    /// Tells the background tasks to stop (`true`).
    shutdown: watch::Sender<bool>,
    /// The background tasks, awaited by `shutdown()`.
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Traffic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Traffic")
            .field("limits", &self.limits.len())
            .field("meters", &self.meters.len())
            .field(
                "store",
                &self.store.as_ref().map(|s| s.path().to_path_buf()),
            )
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

impl Traffic {
    /// Starts the core: loads persisted state and, when `data_dir` or `cluster` is set,
    /// spawns the flush and sync tasks (which needs a tokio runtime). Problems that did not
    /// stop the start (an unreadable state file) come back as warnings.
    pub fn start(
        config: TrafficConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<(Arc<Traffic>, Vec<Warning>), TrafficError> {
        let needs_tasks = config.data_dir.is_some() || config.cluster.is_some();
        let runtime = tokio::runtime::Handle::try_current().ok();
        if needs_tasks && runtime.is_none() {
            return Err(TrafficError::NoRuntime);
        }
        let meters = Meters::default();
        let mut warnings = Vec::new();
        let store = config.data_dir.as_deref().map(Store::new);
        if let Some(store) = &store {
            warnings.extend(store.load(&meters, clock.unix_secs())?);
        }
        let cluster = config.cluster.clone().map(Cluster::new).transpose()?;
        let traffic = Self::assemble(&config, clock, meters, store, cluster);
        if let Some(rt) = runtime {
            traffic.spawn_tasks(&rt);
        }
        Ok((traffic, warnings))
    }

    /// An embedded core without persistence or tasks (tests, benches, single-node setups that
    /// do not keep usage). Needs no runtime.
    pub fn in_memory(account: Option<Limit>, clock: Arc<dyn Clock>) -> Arc<Traffic> {
        let config = TrafficConfig {
            account,
            ..TrafficConfig::default()
        };
        Self::assemble(&config, clock, Meters::default(), None, None)
    }

    fn assemble(
        config: &TrafficConfig,
        clock: Arc<dyn Clock>,
        meters: Meters,
        store: Option<Store>,
        cluster: Option<Cluster>,
    ) -> Arc<Traffic> {
        let default_fail_mode = cluster
            .as_ref()
            .map_or(FailMode::Open, |c| c.config.fail_mode);
        let limits = Limits::default();
        let account = config.account.map(|limit| {
            limits.resolve(
                ACCOUNT_ID,
                limit,
                default_fail_mode,
                clock.monotonic_nanos(),
            )
        });
        Arc::new(Traffic {
            clock,
            limits,
            meters,
            account,
            default_fail_mode,
            store,
            flush_interval: config.flush_interval,
            flush_lock: tokio::sync::Mutex::new(()),
            flush_failed: AtomicBool::new(false),
            cluster,
            shutdown: watch::channel(false).0,
            tasks: Mutex::new(Vec::new()),
        })
    }

    fn spawn_tasks(self: &Arc<Self>, rt: &tokio::runtime::Handle) {
        let mut tasks = Vec::new();
        if self.store.is_some() {
            tasks.push(rt.spawn(every(
                Arc::downgrade(self),
                self.flush_interval,
                self.shutdown.subscribe(),
                |t| {
                    Box::pin(async move {
                        if let Err(e) = t.flush().await {
                            tracing::warn!(error = %e, "traffic state flush failed");
                        }
                    })
                },
            )));
        }
        if let Some(cluster) = &self.cluster {
            tasks.push(rt.spawn(every(
                Arc::downgrade(self),
                cluster.config.sync_interval,
                self.shutdown.subscribe(),
                |t| Box::pin(async move { t.sync().await }),
            )));
        }
        match self.tasks.lock() {
            Ok(mut t) => t.extend(tasks),
            Err(poisoned) => poisoned.into_inner().extend(tasks),
        }
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    // ---- configuration time -------------------------------------------------------------

    /// The handle of throttle level `id` (see [`crate::limit`] for id conventions), with the
    /// cluster's default fail mode. Resolve once per config snapshot; reuse per request. This
    /// updates a live bucket at once; a build that may still fail resolves through
    /// [`Traffic::pending`] instead.
    pub fn limit(&self, id: &str, limit: Limit) -> LimitHandle {
        self.limit_with(id, limit, self.default_fail_mode)
    }

    /// Like [`Traffic::limit`] with an explicit fail mode.
    pub fn limit_with(&self, id: &str, limit: Limit, fail_mode: FailMode) -> LimitHandle {
        self.limits
            .resolve(id, limit, fail_mode, self.clock.monotonic_nanos())
    }

    /// A staging area for the handles of one configuration build: nothing live changes until
    /// [`Pending::commit`].
    pub fn pending(&self) -> Pending<'_> {
        Pending::new(self)
    }

    /// The fail mode of limits resolved without one.
    pub(crate) fn default_fail_mode(&self) -> FailMode {
        self.default_fail_mode
    }

    /// The account-level limit, if configured.
    pub fn account(&self) -> Option<&LimitHandle> {
        self.account.as_ref()
    }

    /// The meter of an API key in a usage plan: quota (if any) and daily usage.
    pub fn quota(&self, plan: &str, key: &str, settings: Option<QuotaSettings>) -> QuotaHandle {
        self.meters
            .resolve(plan, key, settings, self.clock.unix_secs())
    }

    /// Drops the limits whose id `keep` rejects (the account limit is always kept). Call
    /// after a reload with the ids of the new snapshot.
    pub fn retain(&self, mut keep: impl FnMut(&str) -> bool) {
        self.limits.retain(|id| id == ACCOUNT_ID || keep(id));
    }

    /// Drops the meters (and their usage history) whose (plan, key) `keep` rejects.
    pub fn retain_quotas(&self, keep: impl FnMut(&str, &str) -> bool) {
        self.meters.retain(keep);
    }

    /// The limit registry.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The meter registry.
    pub fn meters(&self) -> &Meters {
        &self.meters
    }

    // ---- per request --------------------------------------------------------------------

    fn mode(&self) -> Mode {
        match &self.cluster {
            None => Mode::EMBEDDED,
            Some(c) => Mode {
                cluster: true,
                degraded: c.is_degraded(),
                quota_fail_mode: c.quota_fail_mode(),
            },
        }
    }

    /// Decides a request: `limits` in AWS order (per-key per-method, per-key, stage method,
    /// account), then the key's quota. Synchronous, lock-free and allocation-free.
    #[inline]
    pub fn admit(&self, limits: &[&LimitHandle], quota: Option<&QuotaHandle>) -> Admission {
        admit_local(
            self.clock.monotonic_nanos(),
            || self.clock.unix_secs(),
            limits,
            quota,
            self.mode(),
        )
    }

    /// Like [`Traffic::admit`], but in strict cluster mode checks Redis first (one round
    /// trip). Without strict mode it is `admit`.
    pub async fn admit_async(
        &self,
        limits: &[&LimitHandle],
        quota: Option<&QuotaHandle>,
    ) -> Admission {
        if let Some(cluster) = &self.cluster
            && cluster.config.strict
            && !cluster.is_degraded()
        {
            match cluster.admit_strict(limits, quota, &*self.clock).await {
                Ok(admission) => return admission,
                Err(e) => cluster.mark_failed(self.clock.unix_secs(), &e),
            }
        }
        self.admit(limits, quota)
    }

    // ---- admin ----------------------------------------------------------------------------

    /// The cluster link's health ([`Health::Healthy`] without a cluster).
    pub fn health(&self) -> Health {
        self.cluster
            .as_ref()
            .map_or(Health::Healthy, |c| c.health())
    }

    /// The quota of (plan, key) now (this node's view; in cluster mode at most one sync
    /// interval old).
    pub fn quota_status(&self, plan: &str, key: &str) -> Option<QuotaReading> {
        self.meters
            .get(plan, key)?
            .quota()
            .read(self.clock.unix_secs())
    }

    /// Grants `requests` more to (plan, key) for the current period (AWS UpdateUsage
    /// `/remaining`). In cluster mode the grant is made in Redis.
    pub async fn extend_quota(
        &self,
        plan: &str,
        key: &str,
        requests: u64,
    ) -> Result<Option<QuotaReading>, TrafficError> {
        self.quota_admin(plan, key, Some(requests)).await
    }

    /// Forgets what (plan, key) spent in the current period.
    pub async fn reset_quota(
        &self,
        plan: &str,
        key: &str,
    ) -> Result<Option<QuotaReading>, TrafficError> {
        self.quota_admin(plan, key, None).await
    }

    async fn quota_admin(
        &self,
        plan: &str,
        key: &str,
        extend: Option<u64>,
    ) -> Result<Option<QuotaReading>, TrafficError> {
        let Some(meter) = self.meters.get(plan, key) else {
            return Ok(None);
        };
        let now = self.clock.unix_secs();
        let Some(reading) = meter.quota().read(now) else {
            return Ok(None);
        };
        match &self.cluster {
            Some(cluster) => {
                let day = reading.period_start.div_euclid(SECS_PER_DAY);
                let global = cluster.quota_admin(&meter, day, extend).await?;
                let pending = meter.0.pending.load(Ordering::Acquire);
                meter.quota().set_spent(now, global + pending);
            }
            None => match extend {
                Some(n) => meter.quota().extend(now, n),
                None => meter.quota().reset(now),
            },
        }
        meter.0.mark_changed();
        Ok(meter.quota().read(now))
    }

    /// Usage of every key of `plan` per day from `from` to `to` (inclusive, at most
    /// [`USAGE_DAYS`] days), like AWS GetUsage. In cluster mode the counts are the cluster's
    /// (read from Redis).
    pub async fn usage(
        &self,
        plan: &str,
        from: Date,
        to: Date,
    ) -> Result<UsageReport, TrafficError> {
        let (first, last) = (day_number(from), day_number(to));
        if last < first || last - first >= USAGE_DAYS as i64 {
            return Err(TrafficError::DateRange(format!(
                "{from} to {to}: must be ordered and span at most {USAGE_DAYS} days"
            )));
        }
        let mut items = std::collections::BTreeMap::new();
        for meter in self.meters.of_plan(plan) {
            let days = match &self.cluster {
                Some(cluster) => {
                    let global = cluster.usage_days(&meter).await?;
                    fill_days(&meter, first, last, |d| global.get(&d).copied())
                }
                None => fill_days(&meter, first, last, |d| meter.usage().day(d)),
            };
            items.insert(meter.key().to_owned(), days);
        }
        Ok(UsageReport {
            plan_id: plan.to_owned(),
            start_date: from,
            end_date: to,
            items,
        })
    }

    /// Runs one cluster sync round now (the background task does this every
    /// `sync_interval`). No-op without a cluster.
    pub async fn sync(&self) {
        if let Some(cluster) = &self.cluster {
            cluster
                .sync_once(&self.limits, &self.meters, &*self.clock)
                .await;
        }
    }

    /// Writes the persisted state now if anything changed. No-op without `data_dir`.
    pub async fn flush(&self) -> Result<(), TrafficError> {
        self.flush_inner(false).await
    }

    async fn flush_inner(&self, force: bool) -> Result<(), TrafficError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let _serial = self.flush_lock.lock().await;
        let force = force || self.flush_failed.swap(false, Ordering::AcqRel);
        let Some(bytes) = Store::encode(&self.meters, self.clock.unix_secs(), force)? else {
            return Ok(());
        };
        let store = store.clone();
        let result = match tokio::task::spawn_blocking(move || store.write(&bytes)).await {
            Ok(r) => r,
            Err(join) => Err(TrafficError::Io {
                path: self
                    .store
                    .as_ref()
                    .map(|s| s.path().to_path_buf())
                    .unwrap_or_default(),
                source: std::io::Error::other(join.to_string()),
            }),
        };
        if result.is_err() {
            self.flush_failed.store(true, Ordering::Release);
        }
        result
    }

    /// Stops the background tasks, pushes the last cluster deltas and writes the state.
    pub async fn shutdown(&self) -> Result<(), TrafficError> {
        self.shutdown.send_replace(true);
        let tasks = match self.tasks.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        for task in tasks {
            let _ = task.await;
        }
        self.sync().await;
        self.flush_inner(true).await
    }
}

/// Runs `round` every `period` until shutdown or until the core is dropped.
async fn every(
    traffic: Weak<Traffic>,
    period: Duration,
    mut stop: watch::Receiver<bool>,
    round: impl Fn(Arc<Traffic>) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
) {
    let mut tick = tokio::time::interval(period.max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        let Some(t) = traffic.upgrade() else { return };
        round(t).await;
    }
}

/// One row per day in `first..=last`: recorded days as recorded; other days 0 used and the
/// remaining of the latest earlier recorded day in the same quota period (or the period's
/// full limit).
fn fill_days(
    meter: &QuotaHandle,
    first: i64,
    last: i64,
    lookup: impl Fn(i64) -> Option<DayUsage>,
) -> Vec<DayUsage> {
    let quota = meter.quota();
    let settings = quota.settings();
    (first..=last)
        .map(|day| {
            if let Some(u) = lookup(day) {
                return DayUsage {
                    used: u.used,
                    remaining: settings.and(u.remaining),
                };
            }
            let Some(s) = settings else {
                return DayUsage::default();
            };
            let (start, _) = s.period.bounds(day * SECS_PER_DAY);
            let start_day = start.div_euclid(SECS_PER_DAY);
            let carried = (start_day..day)
                .rev()
                .take(USAGE_DAYS)
                .find_map(|d| lookup(d).and_then(|u| u.remaining));
            let remaining = carried.or_else(|| {
                quota
                    .effective_limit_at(day * SECS_PER_DAY)
                    .map(|l| l.max(0) as u64)
            });
            DayUsage { used: 0, remaining }
        })
        .collect()
}

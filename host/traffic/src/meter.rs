//! Per-key metering. This module owns [`QuotaHandle`], the state of one (usage plan, API key)
//! pair — its [`QuotaCounter`] and [`DailyUsage`] — and [`Meters`], the registry of them.
//!
//! Like limits, a meter is resolved once (at config load) and reused per request; resolving
//! the same pair again returns the same counters, so reloads keep quota and usage. Meters are
//! only dropped by an explicit [`Meters::retain`], because they hold usage history.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};

use crate::quota::{QuotaCounter, QuotaSettings};
use crate::usage::DailyUsage;

/// Separates plan and key ids in the registry's key (ids never contain it).
const SEP: char = '\u{1f}';

/// The metering of one API key in one usage plan: quota plus daily usage. Cheap to clone.
#[derive(Debug, Clone)]
pub struct QuotaHandle(pub(crate) Arc<MeterState>);

#[derive(Debug)]
pub(crate) struct MeterState {
    pub(crate) plan: Box<str>,
    pub(crate) key: Box<str>,
    pub(crate) quota: QuotaCounter,
    pub(crate) usage: DailyUsage,
    /// Cluster mode: quota consumption not yet pushed to Redis.
    pub(crate) pending: AtomicI64,
    /// Cluster mode: something to push (quota or usage), or never synced yet.
    pub(crate) dirty: AtomicBool,
    /// Something changed since the last flush to disk.
    pub(crate) changed: AtomicBool,
    /// Cluster mode: sync rounds left in which this key is synced without local changes, so
    /// a node keeps a fresh view of a key other nodes are using.
    pub(crate) active_rounds: AtomicU32,
}

impl QuotaHandle {
    pub(crate) fn new(plan: &str, key: &str) -> Self {
        Self(Arc::new(MeterState {
            plan: plan.into(),
            key: key.into(),
            quota: QuotaCounter::default(),
            usage: DailyUsage::default(),
            pending: AtomicI64::new(0),
            dirty: AtomicBool::new(true),
            changed: AtomicBool::new(true),
            active_rounds: AtomicU32::new(0),
        }))
    }

    /// The usage plan id.
    pub fn plan(&self) -> &str {
        &self.0.plan
    }

    /// The API key id.
    pub fn key(&self) -> &str {
        &self.0.key
    }

    /// The quota counter.
    pub fn quota(&self) -> &QuotaCounter {
        &self.0.quota
    }

    /// The daily usage.
    pub fn usage(&self) -> &DailyUsage {
        &self.0.usage
    }
}

/// Registry of meters by (plan, key).
#[derive(Debug, Default)]
pub struct Meters {
    map: papaya::HashMap<String, QuotaHandle>,
}

fn map_key(plan: &str, key: &str) -> String {
    let mut k = String::with_capacity(plan.len() + key.len() + 1);
    k.push_str(plan);
    k.push(SEP);
    k.push_str(key);
    k
}

impl Meters {
    /// The meter of (plan, key), created if new, with `settings` applied at `now`.
    pub fn resolve(
        &self,
        plan: &str,
        key: &str,
        settings: Option<QuotaSettings>,
        now: i64,
    ) -> QuotaHandle {
        let handle = self.entry(plan, key);
        if handle.quota().settings() != settings {
            handle.quota().configure(settings, now);
        }
        handle
    }

    /// The meter of (plan, key), created unconfigured if new (restore path).
    pub(crate) fn entry(&self, plan: &str, key: &str) -> QuotaHandle {
        let id = map_key(plan, key);
        let map = self.map.pin();
        match map.get(&id) {
            Some(h) => h.clone(),
            None => map
                .get_or_insert_with(id, || QuotaHandle::new(plan, key))
                .clone(),
        }
    }

    /// Inserts (or replaces) a meter: how a committed [`crate::Pending`] adds the meters it
    /// created.
    pub(crate) fn insert(&self, handle: QuotaHandle) {
        self.map
            .pin()
            .insert(map_key(handle.plan(), handle.key()), handle);
    }

    /// The meter of (plan, key), if any.
    pub fn get(&self, plan: &str, key: &str) -> Option<QuotaHandle> {
        self.map.pin().get(&map_key(plan, key)).cloned()
    }

    /// Every meter of `plan`.
    pub fn of_plan(&self, plan: &str) -> Vec<QuotaHandle> {
        self.map
            .pin()
            .values()
            .filter(|h| h.plan() == plan)
            .cloned()
            .collect()
    }

    /// Every meter.
    pub(crate) fn all(&self) -> Vec<QuotaHandle> {
        self.map.pin().values().cloned().collect()
    }

    /// Drops the meters for which `keep(plan, key)` is false (and their usage history).
    pub fn retain(&self, mut keep: impl FnMut(&str, &str) -> bool) {
        self.map.pin().retain(|_, h| keep(h.plan(), h.key()));
    }

    /// Number of meters.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl MeterState {
    /// Flags a push for the sync task; reads first so a busy key does not write the flag's
    /// cache line on every request.
    pub(crate) fn mark_dirty(&self) {
        if !self.dirty.load(Ordering::Relaxed) {
            self.dirty.store(true, Ordering::Relaxed);
        }
    }

    /// Flags a change for the flush task (same read-first trick).
    pub(crate) fn mark_changed(&self) {
        if !self.changed.load(Ordering::Relaxed) {
            self.changed.store(true, Ordering::Relaxed);
        }
    }
}

//! The limiter registry. This module owns [`LimitHandle`] (one throttle level, resolved once
//! and reused per request) and [`Limits`], the concurrent map from stable ids to handles.
//!
//! Ids are strings chosen by the caller, stable across config reloads, e.g.
//! `plan:<id>/key:<id>/method:/pets/GET`, `plan:<id>/key:<id>`,
//! `stage:<api>/<stage>/method:/pets/GET` (or `.../method:*/*`) and `account`. Resolving an id
//! that already exists returns the same bucket, so a reload keeps the counters; a changed
//! limit updates the bucket in place and keeps its tokens (clamped to the new burst). Ids no
//! longer configured are dropped by [`Limits::retain`]; handles still held by an old snapshot
//! keep working, detached.
//!
//! The map is a [`papaya::HashMap`]: lock-free reads, so resolving handles during a reload
//! never blocks requests, and nothing is held across `.await` (guards are not `Send`). The
//! hot path does not touch the map at all: it uses handles.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU32, Ordering};

use crate::bucket::{Limit, TokenBucket};
use crate::config::FailMode;

/// One throttle level: a token bucket plus its cluster bookkeeping. Cheap to clone (an `Arc`).
#[derive(Debug, Clone)]
pub struct LimitHandle(pub(crate) Arc<LimitState>);

/// Aligned to two cache lines so the buckets of distinct keys, allocated next to each other,
/// never share a line (false sharing costs more than the compare-exchange itself).
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct LimitState {
    pub(crate) id: Box<str>,
    pub(crate) bucket: TokenBucket,
    /// [`FailMode`] as a byte, changeable by a reload.
    fail_mode: AtomicU8,
    /// Cluster mode: admissions not yet pushed to Redis (refunds subtract). Swapped to 0 by
    /// the sync task.
    pub(crate) pending: AtomicI64,
    /// Cluster mode: sync rounds left in which this limit is synced even without admissions,
    /// so an idle node keeps an up-to-date view of a limit that was recently busy.
    pub(crate) active_rounds: AtomicU32,
}

impl LimitHandle {
    pub(crate) fn new(id: &str, limit: Limit, fail_mode: FailMode) -> Self {
        Self(Arc::new(LimitState {
            id: id.into(),
            bucket: TokenBucket::new(limit),
            fail_mode: AtomicU8::new(fail_mode as u8),
            pending: AtomicI64::new(0),
            active_rounds: AtomicU32::new(0),
        }))
    }

    /// The stable id.
    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// Current rate and burst.
    pub fn limit(&self) -> Limit {
        self.0.bucket.limit()
    }

    /// Tokens in the local bucket at monotonic `now`.
    pub fn tokens(&self, now: u64) -> f64 {
        self.0.bucket.tokens(now)
    }

    /// What this limit does while the cluster is unreachable.
    pub fn fail_mode(&self) -> FailMode {
        if self.0.fail_mode.load(Ordering::Relaxed) == FailMode::Closed as u8 {
            FailMode::Closed
        } else {
            FailMode::Open
        }
    }

    pub(crate) fn bucket(&self) -> &TokenBucket {
        &self.0.bucket
    }

    pub(crate) fn update(&self, now: u64, limit: Limit, fail_mode: FailMode) {
        if self.0.bucket.limit() != limit {
            self.0.bucket.set_limit(now, limit);
        }
        self.0.fail_mode.store(fail_mode as u8, Ordering::Relaxed);
    }

    /// Whether two handles share one bucket.
    pub fn same(&self, other: &LimitHandle) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The registry of throttle levels by id.
#[derive(Debug, Default)]
pub struct Limits {
    map: papaya::HashMap<String, LimitHandle>,
}

impl Limits {
    /// The handle for `id`, created full if new, updated in place (tokens kept) if the limit
    /// or fail mode changed.
    pub fn resolve(&self, id: &str, limit: Limit, fail_mode: FailMode, now: u64) -> LimitHandle {
        let map = self.map.pin();
        let handle = match map.get(id) {
            Some(h) => h.clone(),
            None => map
                .get_or_insert_with(id.to_owned(), || LimitHandle::new(id, limit, fail_mode))
                .clone(),
        };
        handle.update(now, limit, fail_mode);
        handle
    }

    /// Inserts (or replaces) the handle of `id`: how a committed [`crate::Pending`] adds the
    /// levels it created.
    pub(crate) fn insert(&self, id: String, handle: LimitHandle) {
        self.map.pin().insert(id, handle);
    }

    /// The handle for `id`, if configured.
    pub fn get(&self, id: &str) -> Option<LimitHandle> {
        self.map.pin().get(id).cloned()
    }

    /// Drops every id for which `keep` is false.
    pub fn retain(&self, mut keep: impl FnMut(&str) -> bool) {
        self.map.pin().retain(|id, _| keep(id));
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no id is configured.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every handle, for the sync task.
    pub(crate) fn all(&self) -> Vec<LimitHandle> {
        self.map.pin().values().cloned().collect()
    }
}

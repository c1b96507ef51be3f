//! The store: one stage's cached responses in a moka cache bounded in bytes, each entry with
//! its own TTL, and [`StageCache`], the handle the proxy holds (store + in-flight fills).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use moka::Expiry;

use crate::fill::{Fill, Inflight};
use crate::key::CacheKey;
use crate::{MAX_ENTRY_BODY, MAX_TTL};

/// Bytes charged to every entry on top of its key, headers and body: what holding one
/// response costs besides its own bytes. An estimate, rounded up, for 64-bit targets:
///
/// - moka's bookkeeping, ≈ 330 bytes: the hash-table bucket, the `ValueEntry` and its
///   `EntryInfo` (hash, timestamps, weight), the access-order and write-order deque nodes,
///   the timer-wheel node for the per-entry TTL, and the `Arc` around the key;
/// - our value, ≈ 230 bytes: the `Arc<CachedResponse>` allocation (status, an empty
///   `HeaderMap`'s inline part, the `Bytes` handle), the body's shared-buffer header and the
///   key's `Arc<[u8]>` header;
/// - allocator rounding.
///
/// Without it, a flood of tiny responses (a `204` with no headers weighs a few dozen bytes)
/// would let the cache hold many times its capacity in real memory.
pub const ENTRY_OVERHEAD_BYTES: u64 = 640;

/// Bytes charged per header on top of its name and value: the `HeaderMap` bucket (hash,
/// `HeaderName`, `HeaderValue`, links), its index slot and the allocations behind the name and
/// value, rounded up.
pub const HEADER_OVERHEAD_BYTES: u64 = 128;

/// A cached response: what the client got, minus the headers the caller adds per request
/// (Portico adds `x-amzn-RequestId` after a replay; the server adds `Date`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedResponse {
    /// Status code.
    pub status: StatusCode,
    /// Response headers, as the integration (and response mapping) produced them.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

/// What [`StageCache::stats`] reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Live entries.
    pub entries: u64,
    /// Sum of the entries' weights ([`entry_weight`]).
    pub bytes: u64,
    /// The bound on `bytes`.
    pub capacity_bytes: u64,
}

/// What one entry is charged against the cache's capacity: key bytes, header names and values
/// plus [`HEADER_OVERHEAD_BYTES`] each, body bytes, and [`ENTRY_OVERHEAD_BYTES`].
pub fn entry_weight(key: &CacheKey, response: &CachedResponse) -> u64 {
    let headers: u64 = response
        .headers
        .iter()
        .map(|(name, value)| {
            name.as_str().len() as u64 + value.len() as u64 + HEADER_OVERHEAD_BYTES
        })
        .sum();
    ENTRY_OVERHEAD_BYTES + key.len() as u64 + headers + response.body.len() as u64
}

/// A stored entry. Cloned by moka on every read, so it holds the response behind an `Arc`.
#[derive(Debug, Clone)]
struct Stored {
    response: Arc<CachedResponse>,
    /// This entry's TTL, already clamped; read by [`PerEntryTtl`].
    ttl: Duration,
    /// Precomputed [`entry_weight`], so moka's weigher does not walk the headers.
    weight: u32,
}

/// Expires each entry `ttl` after it was written; a replacement restarts the clock with the new
/// entry's TTL, and reads never extend it.
struct PerEntryTtl;

impl Expiry<CacheKey, Stored> for PerEntryTtl {
    fn expire_after_create(&self, _: &CacheKey, value: &Stored, _: Instant) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _: &CacheKey,
        value: &Stored,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// The moka cache and its bound. Cheap to clone (moka's cache is a handle): each leader's
/// [`crate::FillGuard`] keeps one to store its result.
#[derive(Clone)]
pub(crate) struct Store {
    cache: moka::sync::Cache<CacheKey, Stored>,
    capacity_bytes: u64,
}

impl Store {
    fn new(capacity_bytes: u64) -> Self {
        let cache = moka::sync::Cache::builder()
            .max_capacity(capacity_bytes)
            .weigher(|_: &CacheKey, stored: &Stored| stored.weight)
            .expire_after(PerEntryTtl)
            .build();
        Self {
            cache,
            capacity_bytes,
        }
    }

    pub(crate) fn get(&self, key: &CacheKey) -> Option<Arc<CachedResponse>> {
        self.cache.get(key).map(|stored| stored.response)
    }

    /// Like `get`, but does not count as a read for TinyLFU's frequency estimate.
    pub(crate) fn contains(&self, key: &CacheKey) -> bool {
        self.cache.contains_key(key)
    }

    pub(crate) fn insert(
        &self,
        key: CacheKey,
        response: Arc<CachedResponse>,
        ttl: Duration,
    ) -> bool {
        if ttl.is_zero() || response.body.len() > MAX_ENTRY_BODY {
            return false;
        }
        let weight = entry_weight(&key, &response);
        if weight > self.capacity_bytes {
            return false;
        }
        let Ok(weight) = u32::try_from(weight) else {
            return false; // only reachable with headers of gigabytes and a larger capacity
        };
        let stored = Stored {
            response,
            ttl: ttl.min(MAX_TTL),
            weight,
        };
        self.cache.insert(key, stored);
        true
    }
}

/// One stage's cache, bounded in bytes (see [`entry_weight`]), with single-flight fills.
///
/// `Send + Sync`; share it as `Arc<StageCache>`. Every method is synchronous and lock-free
/// except [`StageCache::begin_fill`], which takes the in-flight table's mutex for one map
/// operation.
///
/// The bound is kept by moka's maintenance, which runs every few writes (and in
/// [`StageCache::stats`]); between runs the weighed total can briefly exceed it by the
/// entries written since.
pub struct StageCache {
    store: Store,
    /// Fills in progress, by key. Shared with each leader's guard, which removes its entry.
    pub(crate) inflight: Arc<Inflight>,
}

impl StageCache {
    /// An empty cache holding at most `capacity_bytes` of weighed entries.
    pub fn new(capacity_bytes: u64) -> Self {
        Self {
            store: Store::new(capacity_bytes),
            inflight: Arc::new(Inflight::default()),
        }
    }

    /// The bound, in bytes.
    pub fn capacity_bytes(&self) -> u64 {
        self.store.capacity_bytes
    }

    /// A live entry, or `None` when absent or expired. A miss counts too: it raises the key's
    /// frequency estimate, which is what later lets TinyLFU admit the response.
    pub fn get(&self, key: &CacheKey) -> Option<Arc<CachedResponse>> {
        self.store.get(key)
    }

    /// Stores `response` under `key` for `ttl` (clamped to [`MAX_TTL`]), replacing any entry
    /// (and its TTL) already there. Returns `false`, storing nothing, when `ttl` is zero, when
    /// the body is larger than [`MAX_ENTRY_BODY`] or when the entry alone exceeds the capacity.
    ///
    /// `true` means the entry was handed to the cache. When the cache is full, TinyLFU may
    /// still decline a *new* key in favour of entries read more often (a later `get` then
    /// misses). A key's frequency comes from `get`s, misses included, so call `get` before
    /// filling, as the request path does anyway. Replacing an existing key is never declined:
    /// to refresh an entry (`Cache-Control: max-age=0`), insert over it rather than
    /// invalidating first.
    pub fn insert(&self, key: CacheKey, response: CachedResponse, ttl: Duration) -> bool {
        self.store.insert(key, Arc::new(response), ttl)
    }

    /// Removes the entry for `key`, if any (a client's authorized `Cache-Control: max-age=0`).
    pub fn invalidate(&self, key: &CacheKey) {
        self.store.cache.invalidate(key);
    }

    /// Drops every entry (admin `FlushStageCache`). Fills in progress are not cancelled: their
    /// leaders still publish to their followers and may store their result afterwards.
    pub fn flush(&self) {
        self.store.cache.invalidate_all();
    }

    /// Entries and weighed bytes right now. Runs moka's pending maintenance first (evictions,
    /// invalidations, flushes), so the numbers are current; that costs more than a `get`.
    ///
    /// One lag remains: moka's timer wheel removes an expired entry at its next tick
    /// (≈ 1.07 s), so for up to about a second after its TTL an entry that `get` no longer
    /// returns is still counted here.
    pub fn stats(&self) -> CacheStats {
        self.store.cache.run_pending_tasks();
        CacheStats {
            entries: self.store.cache.entry_count(),
            bytes: self.store.cache.weighted_size(),
            capacity_bytes: self.store.capacity_bytes,
        }
    }

    /// Stampede protection: joins the in-flight fill for `key`, or starts one.
    ///
    /// - [`Fill::Leader`]: no fill was in progress; the caller fetches and calls
    ///   [`crate::FillGuard::complete`] (or drops the guard on failure).
    /// - [`Fill::Follower`]: another caller is fetching; wait for it with
    ///   [`crate::FillWait::wait`]. Also returned, already resolved, when the entry is
    ///   in the cache by now (a leader stored it between the caller's `get` and this call).
    pub fn begin_fill(&self, key: &CacheKey) -> Fill {
        if self.store.contains(key)
            && let Some(hit) = self.store.get(key)
        {
            return Fill::Follower(crate::fill::FillWait::ready(Some(hit)));
        }
        self.inflight.join(key, &self.store)
    }
}

impl std::fmt::Debug for StageCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StageCache")
            .field("capacity_bytes", &self.store.capacity_bytes)
            .field("entries", &self.store.cache.entry_count())
            .field("bytes", &self.store.cache.weighted_size())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn response(body: usize) -> CachedResponse {
        CachedResponse {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::from(vec![b'x'; body]),
        }
    }

    #[test]
    fn weight_counts_key_headers_body_and_overhead() {
        let key = CacheKey::from(&b"0123456789"[..]);
        let mut r = response(100);
        r.headers
            .insert("content-type", HeaderValue::from_static("text/plain"));
        let expected = ENTRY_OVERHEAD_BYTES + 10 + (12 + 10 + HEADER_OVERHEAD_BYTES) + 100;
        assert_eq!(entry_weight(&key, &r), expected);
    }

    #[test]
    fn entry_larger_than_capacity_is_refused() {
        let key = CacheKey::from(&b"k"[..]);
        let r = response(1000);
        let weight = entry_weight(&key, &r);
        let tight = StageCache::new(weight);
        assert!(tight.insert(key.clone(), r.clone(), Duration::from_secs(10)));
        let too_small = StageCache::new(weight - 1);
        assert!(!too_small.insert(key.clone(), r, Duration::from_secs(10)));
        assert!(too_small.get(&key).is_none());
    }

    #[test]
    fn ttl_is_clamped_to_max_ttl() {
        let cache = StageCache::new(1 << 20);
        let key = CacheKey::from(&b"k"[..]);
        assert!(cache.insert(key.clone(), response(1), MAX_TTL * 3));
        let stored = cache.store.cache.get(&key).expect("stored");
        assert_eq!(stored.ttl, MAX_TTL);
        let expiry = PerEntryTtl.expire_after_create(&key, &stored, Instant::now());
        assert_eq!(expiry, Some(MAX_TTL));

        assert!(cache.insert(key.clone(), response(1), Duration::from_secs(300)));
        assert_eq!(
            cache.store.cache.get(&key).expect("stored").ttl,
            Duration::from_secs(300)
        );
    }

    #[test]
    fn stats_weigh_what_is_stored() {
        let cache = StageCache::new(1 << 20);
        let key = CacheKey::from(&b"k"[..]);
        let r = response(500);
        let weight = entry_weight(&key, &r);
        assert!(cache.insert(key, r, Duration::from_secs(10)));
        let stats = cache.stats();
        assert_eq!(
            stats,
            CacheStats {
                entries: 1,
                bytes: weight,
                capacity_bytes: 1 << 20
            }
        );
    }
}

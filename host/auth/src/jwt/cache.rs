//! The JWKS cache: the current key set, and when the host should fetch a new one.
//!
//! The host owns the I/O. On each request it takes [`JwksCache::keys`] (a lock-free load);
//! when there are none, when they are old, or when a token names an unknown `kid`, it asks
//! [`JwksCache::should_refetch`], and the one caller that gets `true` fetches and then reports
//! [`JwksCache::store`] or [`JwksCache::fetch_failed`]. Everyone else carries on with the keys
//! there are (and an unknown kid fails with [`JwtError::UnknownKid`](super::JwtError)).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;

use super::keys::KeySet;

/// Why the host is asking for a fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refetch {
    /// A token named a `kid` the current set lacks (key rotation, or garbage): rate-limited to
    /// one fetch per [`JwksCacheConfig::min_refetch_interval`].
    UnknownKid,
    /// The current set is older than [`JwksCacheConfig::max_age`] (see
    /// [`JwksCache::refresh_due`]); the old keys stay in use meanwhile.
    Expired,
    /// There is no key set at all yet (or every fetch so far failed).
    Missing,
}

/// The cache's timing rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksCacheConfig {
    /// At most one unknown-kid refetch starts per interval, so a flood of made-up kids cannot
    /// become a flood of fetches. Default 10 s.
    pub min_refetch_interval: Duration,
    /// After this age a background refresh is due. Default 1 h.
    pub max_age: Duration,
    /// The wait after a first failed fetch; it doubles with each further failure. Default 1 s.
    pub initial_backoff: Duration,
    /// The longest wait between failed fetches. Default 5 min.
    pub max_backoff: Duration,
    /// A fetch not reported (stored or failed) within this time is taken as lost, and another
    /// may start. Default 60 s.
    pub fetch_timeout: Duration,
}

impl Default for JwksCacheConfig {
    fn default() -> Self {
        JwksCacheConfig {
            min_refetch_interval: Duration::from_secs(10),
            max_age: Duration::from_secs(3600),
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            fetch_timeout: Duration::from_secs(60),
        }
    }
}

/// The current key set of one issuer and its refetch state. `Send + Sync`; share it in an
/// `Arc`. Reading the keys takes no lock; the refetch decision is a compare-exchange.
///
/// Times are kept as nanoseconds after the first `Instant` the cache is shown, plus one, so
/// that 0 can mean "never"; callers are expected to pass non-decreasing `now`s (an earlier one
/// counts as that first instant).
#[derive(Debug)]
pub struct JwksCache {
    config: JwksCacheConfig,
    keys: ArcSwapOption<KeySet>,
    origin: OnceLock<Instant>,
    /// When the fetch in flight started; 0: none in flight.
    in_flight_since: AtomicU64,
    /// When the last fetch started; 0: never.
    last_fetch_start: AtomicU64,
    /// When the current keys were stored; 0: never.
    stored_at: AtomicU64,
    /// No fetch may start before this (backoff after failures); 0: no restriction.
    not_before: AtomicU64,
    /// Consecutive failed fetches.
    failures: AtomicU32,
}

impl Default for JwksCache {
    fn default() -> Self {
        JwksCache::new(JwksCacheConfig::default())
    }
}

impl JwksCache {
    /// An empty cache with these rules.
    pub fn new(config: JwksCacheConfig) -> JwksCache {
        JwksCache {
            config,
            keys: ArcSwapOption::empty(),
            origin: OnceLock::new(),
            in_flight_since: AtomicU64::new(0),
            last_fetch_start: AtomicU64::new(0),
            stored_at: AtomicU64::new(0),
            not_before: AtomicU64::new(0),
            failures: AtomicU32::new(0),
        }
    }

    /// A cache with these rules, pre-loaded with `keys` stored at `now` (e.g. a
    /// shared secret, which never needs fetching, or keys fetched at start-up).
    pub fn with_keys(config: JwksCacheConfig, keys: KeySet, now: Instant) -> JwksCache {
        let cache = JwksCache::new(config);
        cache.store(keys, now);
        cache
    }

    /// The rules in force.
    pub fn config(&self) -> &JwksCacheConfig {
        &self.config
    }

    /// The current key set, if any: a lock-free load, for the request path.
    pub fn keys(&self) -> Option<Arc<KeySet>> {
        self.keys.load_full()
    }

    /// Whether the caller should fetch the JWKS now, for `reason`. At most one caller gets
    /// `true` until it reports [`store`](Self::store) or [`fetch_failed`](Self::fetch_failed)
    /// (or [`JwksCacheConfig::fetch_timeout`] passes); no fetch starts during a failure
    /// backoff; an [`Refetch::UnknownKid`] fetch starts at most once per
    /// [`JwksCacheConfig::min_refetch_interval`] after the previous fetch started; an
    /// [`Refetch::Expired`] one only when [`refresh_due`](Self::refresh_due).
    pub fn should_refetch(&self, now: Instant, reason: Refetch) -> bool {
        let t = self.tick(now);
        // Claim the in-flight slot first: only its holder reads and writes the fetch times,
        // so the checks below cannot race with another caller's.
        let current = self.in_flight_since.load(Ordering::Acquire);
        if current != 0 && t.saturating_sub(current) < nanos(self.config.fetch_timeout) {
            return false;
        }
        if self
            .in_flight_since
            .compare_exchange(current, t, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        if self.allowed(t, reason) {
            self.last_fetch_start.store(t, Ordering::Release);
            true
        } else {
            self.in_flight_since.store(0, Ordering::Release);
            false
        }
    }

    fn allowed(&self, t: u64, reason: Refetch) -> bool {
        let not_before = self.not_before.load(Ordering::Acquire);
        if not_before != 0 && t < not_before {
            return false;
        }
        match reason {
            Refetch::Missing => true,
            Refetch::Expired => self.due(t),
            Refetch::UnknownKid => {
                let last = self.last_fetch_start.load(Ordering::Acquire);
                last == 0 || t.saturating_sub(last) >= nanos(self.config.min_refetch_interval)
            }
        }
    }

    /// Installs a freshly fetched key set, ending the fetch in flight and any backoff.
    pub fn store(&self, keys: KeySet, now: Instant) {
        let t = self.tick(now);
        self.keys.store(Some(Arc::new(keys)));
        self.stored_at.store(t, Ordering::Release);
        self.failures.store(0, Ordering::Release);
        self.not_before.store(0, Ordering::Release);
        self.in_flight_since.store(0, Ordering::Release);
    }

    /// Reports a failed fetch (endpoint down, bad document): the current keys stay in use, and
    /// no fetch starts for [`JwksCacheConfig::initial_backoff`], doubled per consecutive
    /// failure up to [`JwksCacheConfig::max_backoff`].
    pub fn fetch_failed(&self, now: Instant) {
        let t = self.tick(now);
        let failures = self
            .failures
            .fetch_add(1, Ordering::AcqRel)
            .saturating_add(1);
        let doubling = 1u32
            .checked_shl(failures.saturating_sub(1).min(31))
            .unwrap_or(u32::MAX);
        let backoff = self
            .config
            .initial_backoff
            .checked_mul(doubling)
            .unwrap_or(self.config.max_backoff)
            .min(self.config.max_backoff);
        self.not_before
            .store(t.saturating_add(nanos(backoff)), Ordering::Release);
        self.in_flight_since.store(0, Ordering::Release);
    }

    /// Whether the current keys are older than [`JwksCacheConfig::max_age`], so that a
    /// background refresh is due (they remain usable meanwhile). `false` with no keys: that is
    /// [`Refetch::Missing`].
    pub fn refresh_due(&self, now: Instant) -> bool {
        self.due(self.tick(now))
    }

    fn due(&self, t: u64) -> bool {
        let stored = self.stored_at.load(Ordering::Acquire);
        stored != 0 && t.saturating_sub(stored) >= nanos(self.config.max_age)
    }

    /// `now` as nanoseconds after the cache's first instant, plus one (never 0).
    fn tick(&self, now: Instant) -> u64 {
        let origin = *self.origin.get_or_init(|| now);
        nanos(now.saturating_duration_since(origin)).saturating_add(1)
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

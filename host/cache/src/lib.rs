//! Portico's per-stage response cache: the mechanism behind API Gateway's stage cache
//! (`cacheClusterEnabled`, `cacheTtlInSeconds`, `FlushStageCache`), with no HTTP server in it.
//!
//! One [`StageCache`] serves one stage. It owns three things:
//!
//! - **the store** ([`StageCache::get`], [`StageCache::insert`]): a [moka] cache bounded in
//!   *bytes*, not entries. Each entry weighs its key, its headers, its body and a fixed
//!   [`ENTRY_OVERHEAD_BYTES`] (see [`entry_weight`]). Admission is TinyLFU, so a flood of
//!   once-seen keys does not push out the keys clients keep asking for; eviction is LRU among
//!   the admitted. Every entry carries its own TTL (methods may override the stage's), clamped
//!   to [`MAX_TTL`]; bodies over [`MAX_ENTRY_BODY`] are not cached, as in AWS.
//! - **the key** ([`CacheKey`], [`KeyBuilder`]): opaque bytes the caller builds from the
//!   deployment namespace, the method, the resource and the cache-key parameters. Parts are
//!   length-prefixed, so no two different part lists make the same key.
//! - **single flight** ([`StageCache::begin_fill`], [`Fill`]): when a popular entry is missing
//!   or has just expired, the first request fetches it from the integration (the *leader*) and
//!   the concurrent ones for the same key (the *followers*) wait, for a bounded time, for the
//!   leader's answer instead of stampeding the upstream.
//!
//! What the crate does not do: decide whether a method is cacheable, build keys from requests,
//! strip per-request headers, or honour `Cache-Control: max-age=0` — those are the proxy's
//! (it calls [`StageCache::invalidate`] or simply fetches and inserts). The crate knows
//! nothing of hyper or tokio's runtime; it uses only `tokio::sync::watch` and
//! `tokio::time::timeout`.
//!
//! # The request path
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use portico_cache::{CacheKey, CachedResponse, Fill, StageCache};
//!
//! async fn serve(
//!     cache: &StageCache,
//!     key: CacheKey,
//!     fetch: impl AsyncFnOnce() -> Option<(CachedResponse, bool)>,
//! ) -> Option<Arc<CachedResponse>> {
//!     if let Some(hit) = cache.get(&key) {
//!         return Some(hit); // CacheHitCount
//!     }
//!     match cache.begin_fill(&key) {
//!         Fill::Leader(guard) => {
//!             // Dropping `guard` on an early return or a panic wakes the followers with None.
//!             let fetched = fetch().await;
//!             let (response, cacheable) = match fetched {
//!                 Some((r, c)) => (Some(Arc::new(r)), c),
//!                 None => (None, false),
//!             };
//!             let ttl = cacheable.then_some(Duration::from_secs(300));
//!             guard.complete(response.clone(), ttl);
//!             response
//!         }
//!         Fill::Follower(wait) => match wait.wait(Duration::from_secs(5)).await {
//!             Ok(Some(shared)) => Some(shared),
//!             // The leader had nothing usable, or took too long: fetch ourselves.
//!             Ok(None) | Err(_) => fetch().await.map(|(r, _)| Arc::new(r)),
//!         },
//!     }
//! }
//! ```

mod fill;
mod key;
mod store;

use std::time::Duration;

pub use fill::{Fill, FillGuard, FillWait, TimedOut};
pub use key::{CacheKey, KeyBuilder};
pub use store::{
    CacheStats, CachedResponse, ENTRY_OVERHEAD_BYTES, HEADER_OVERHEAD_BYTES, StageCache,
    entry_weight,
};

/// Largest response body that is cached (AWS: 1 048 576 bytes). Larger responses are served
/// but not stored.
pub const MAX_ENTRY_BODY: usize = 1 << 20;

/// Longest TTL (AWS: 3600 s, not raisable). Longer TTLs are clamped to it.
pub const MAX_TTL: Duration = Duration::from_secs(3600);

//! The byte bound and TinyLFU admission under floods of distinct keys.
//!
//! Requests follow the proxy's pattern: `get` (a miss, which moka counts towards the key's
//! frequency), then `insert`. A 1 MiB cache holds about 220 entries of 4 KiB.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use portico_cache::{CacheKey, CachedResponse, StageCache};

const MIB: u64 = 1 << 20;
const TTL: Duration = Duration::from_secs(60);

fn key(kind: &str, i: usize) -> CacheKey {
    CacheKey::builder().part(kind).part(i.to_le_bytes()).build()
}

fn body_4k() -> CachedResponse {
    CachedResponse {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
        body: Bytes::from(vec![b'x'; 4096]),
    }
}

/// One request for a key that is not cached: the miss, then the fill's insert.
fn request(cache: &StageCache, k: CacheKey) {
    if cache.get(&k).is_none() {
        cache.insert(k, body_4k(), TTL);
    }
}

/// A cache filled past capacity (TinyLFU's frequency sketch switches on at half capacity)
/// and a hot key that has been read 50 times.
fn warm_cache_with_hot_key() -> (StageCache, CacheKey) {
    let cache = StageCache::new(MIB);
    for i in 0..400 {
        request(&cache, key("warm", i));
    }
    cache.stats();
    let hot = key("hot", 0);
    request(&cache, hot.clone());
    for _ in 0..50 {
        assert!(cache.get(&hot).is_some());
    }
    (cache, hot)
}

#[test]
fn byte_bound_holds_under_a_flood_of_distinct_keys() {
    let cache = StageCache::new(MIB);
    for i in 0..10_000 {
        request(&cache, key("flood", i));
    }
    let stats = cache.stats();
    assert!(stats.bytes <= stats.capacity_bytes, "{stats:?}");
    // Full, not empty: about 220 entries of 4 KiB plus overhead.
    assert!(stats.entries > 150, "{stats:?}");
    assert!(stats.bytes > MIB * 3 / 4, "{stats:?}");
}

#[test]
fn hot_key_survives_a_scan_of_once_read_keys() {
    // 2 000 cold keys is about nine times what the cache holds: LRU would have evicted the
    // hot key after the first ~220 of them.
    let (cache, hot) = warm_cache_with_hot_key();
    for i in 0..2_000 {
        request(&cache, key("cold", i));
    }
    assert!(cache.get(&hot).is_some(), "hot key evicted by a scan");
    let stats = cache.stats();
    assert!(stats.bytes <= stats.capacity_bytes, "{stats:?}");
}

#[test]
fn key_read_now_and_then_stays_cached_through_a_long_flood() {
    // Every 500 cold keys (over twice the cache's entry count) the hot key is read once. Under
    // LRU every one of those reads would miss; under TinyLFU every one hits.
    let (cache, hot) = warm_cache_with_hot_key();
    for i in 1..=10_000 {
        request(&cache, key("cold", i));
        if i % 500 == 0 {
            assert!(
                cache.get(&hot).is_some(),
                "hot key evicted after {i} cold keys"
            );
        }
    }
    let stats = cache.stats();
    assert!(stats.bytes <= stats.capacity_bytes, "{stats:?}");
}

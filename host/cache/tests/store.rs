//! The store as the proxy sees it: hits, misses, per-entry TTLs, size limits, invalidation and
//! flush. Expiry is asserted only well after the TTL has passed, hits only right after an
//! insert with a TTL of seconds, so nothing here depends on tight timing.

use std::thread::sleep;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use portico_cache::{CacheKey, CachedResponse, MAX_ENTRY_BODY, StageCache};

const LONG: Duration = Duration::from_secs(60);

fn key(name: &str) -> CacheKey {
    CacheKey::builder()
        .part("deployment-1")
        .part("GET")
        .part(name)
        .build()
}

fn response(body: &[u8]) -> CachedResponse {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    CachedResponse {
        status: StatusCode::OK,
        headers,
        body: Bytes::copy_from_slice(body),
    }
}

fn sized(len: usize) -> CachedResponse {
    CachedResponse {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
        body: Bytes::from(vec![b'x'; len]),
    }
}

#[test]
fn miss_then_hit_returns_what_was_stored() {
    let cache = StageCache::new(1 << 20);
    let k = key("/pets");
    assert!(cache.get(&k).is_none());
    assert!(cache.insert(k.clone(), response(b"[1,2]"), LONG));
    let hit = cache.get(&k).expect("hit right after insert");
    assert_eq!(hit.status, StatusCode::OK);
    assert_eq!(hit.headers["content-type"], "application/json");
    assert_eq!(&hit.body[..], b"[1,2]");
    assert!(cache.get(&key("/owners")).is_none());
}

#[test]
fn entry_expires_after_its_ttl() {
    let cache = StageCache::new(1 << 20);
    let k = key("/pets");
    assert!(cache.insert(k.clone(), response(b"a"), Duration::from_millis(100)));
    sleep(Duration::from_millis(400));
    assert!(cache.get(&k).is_none());
}

#[test]
fn expired_entries_leave_the_stats_within_a_timer_tick() {
    // moka's timer wheel removes expired entries at its next tick (1.07 s); until then `get`
    // already misses but `stats` may still count them.
    let cache = StageCache::new(1 << 20);
    assert!(cache.insert(key("/pets"), response(b"a"), Duration::from_millis(100)));
    sleep(Duration::from_millis(2500));
    let stats = cache.stats();
    assert_eq!((stats.entries, stats.bytes), (0, 0));
}

#[test]
fn each_entry_keeps_its_own_ttl() {
    let cache = StageCache::new(1 << 20);
    let short = key("/short");
    let long = key("/long");
    assert!(cache.insert(short.clone(), response(b"s"), Duration::from_millis(100)));
    assert!(cache.insert(long.clone(), response(b"l"), LONG));
    sleep(Duration::from_millis(400));
    assert!(cache.get(&short).is_none());
    assert_eq!(
        &cache.get(&long).expect("long TTL still live").body[..],
        b"l"
    );
}

#[test]
fn replacing_an_entry_restarts_its_ttl() {
    let cache = StageCache::new(1 << 20);
    let k = key("/pets");
    assert!(cache.insert(k.clone(), response(b"old"), Duration::from_millis(100)));
    assert!(cache.insert(k.clone(), response(b"new"), LONG));
    sleep(Duration::from_millis(400));
    assert_eq!(
        &cache.get(&k).expect("replacement's TTL applies").body[..],
        b"new"
    );
}

#[test]
fn zero_ttl_stores_nothing() {
    let cache = StageCache::new(1 << 20);
    let k = key("/pets");
    assert!(!cache.insert(k.clone(), response(b"a"), Duration::ZERO));
    assert!(cache.get(&k).is_none());
    assert_eq!(cache.stats().entries, 0);
}

#[test]
fn huge_ttl_is_clamped_not_overflowed() {
    // Unclamped, `now + Duration::MAX` would overflow inside the cache.
    let cache = StageCache::new(1 << 20);
    let k = key("/pets");
    assert!(cache.insert(k.clone(), response(b"a"), Duration::MAX));
    assert!(cache.get(&k).is_some());
}

#[test]
fn body_of_exactly_max_entry_body_is_cached() {
    let cache = StageCache::new(4 << 20);
    let k = key("/big");
    assert!(cache.insert(k.clone(), sized(MAX_ENTRY_BODY), LONG));
    assert_eq!(cache.get(&k).expect("hit").body.len(), MAX_ENTRY_BODY);
}

#[test]
fn body_over_max_entry_body_is_refused() {
    let cache = StageCache::new(4 << 20);
    let k = key("/too-big");
    assert!(!cache.insert(k.clone(), sized(MAX_ENTRY_BODY + 1), LONG));
    assert!(cache.get(&k).is_none());
    assert_eq!(cache.stats().bytes, 0);
}

#[test]
fn entry_alone_over_capacity_is_refused() {
    let cache = StageCache::new(64 * 1024);
    let k = key("/big");
    assert!(!cache.insert(k.clone(), sized(64 * 1024), LONG));
    assert!(cache.get(&k).is_none());
}

#[test]
fn invalidate_removes_one_entry() {
    let cache = StageCache::new(1 << 20);
    let (a, b) = (key("/a"), key("/b"));
    assert!(cache.insert(a.clone(), response(b"a"), LONG));
    assert!(cache.insert(b.clone(), response(b"b"), LONG));
    cache.invalidate(&a);
    assert!(cache.get(&a).is_none());
    assert!(cache.get(&b).is_some());
    assert_eq!(cache.stats().entries, 1);
}

#[test]
fn flush_drops_everything() {
    let cache = StageCache::new(1 << 20);
    let keys: Vec<_> = (0..50).map(|i| key(&format!("/pets/{i}"))).collect();
    for k in &keys {
        assert!(cache.insert(k.clone(), response(b"pet"), LONG));
    }
    assert_eq!(cache.stats().entries, 50);
    cache.flush();
    assert!(keys.iter().all(|k| cache.get(k).is_none()));
    let stats = cache.stats();
    assert_eq!((stats.entries, stats.bytes), (0, 0));
    // The cache is usable after a flush.
    assert!(cache.insert(keys[0].clone(), response(b"pet"), LONG));
    assert!(cache.get(&keys[0]).is_some());
}

#[test]
fn keys_differing_only_in_part_boundaries_do_not_collide() {
    let cache = StageCache::new(1 << 20);
    let ab_c = CacheKey::builder().part("ab").part("c").build();
    let a_bc = CacheKey::builder().part("a").part("bc").build();
    assert!(cache.insert(ab_c.clone(), response(b"ab|c"), LONG));
    assert!(cache.get(&a_bc).is_none());
    assert_eq!(&cache.get(&ab_c).expect("hit").body[..], b"ab|c");
}

#[test]
fn capacity_is_reported() {
    let cache = StageCache::new(123_456);
    assert_eq!(cache.capacity_bytes(), 123_456);
    assert_eq!(cache.stats().capacity_bytes, 123_456);
}

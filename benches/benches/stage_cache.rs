//! The stage cache's hot path, on a warm cache of 10 000 entries with 1 KiB bodies (about
//! 17 MiB weighed, in a 64 MiB cache, so nothing is evicted while measuring).
//!
//! Benchmarks (`group/id`):
//! - `get_hit/{1,2,4}_threads`: `StageCache::get` of present keys, every thread walking the
//!   10 000 keys from its own offset;
//! - `insert/{1,2,4}_threads`: `StageCache::insert` replacing present keys (the refill after an
//!   expiry), same walk;
//! - `fill/leader_only`: `begin_fill` → `Leader` → `complete(Some, None)` for one key, no
//!   follower;
//! - `fill/leader_and_follower`: the same with one follower that joins and is served.
//!
//! For the threaded groups one iteration is one operation *on every thread at once* (threads
//! start together on a barrier; the wall time of `iters` rounds is reported), so the time per
//! iteration stays flat while the cache scales and grows when threads contend. Throughput is
//! reported per operation. The bench machine's core count caps what 4 threads can show.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, StatusCode};
use portico_cache::{CacheKey, CachedResponse, Fill, StageCache};

const ENTRIES: usize = 10_000;
const TTL: Duration = Duration::from_secs(3600);

fn keys() -> Vec<CacheKey> {
    (0..ENTRIES)
        .map(|i| {
            CacheKey::builder()
                .part("deployment-7f3a")
                .part("GET")
                .part("/pets/{id}")
                .part(i.to_string())
                .build()
        })
        .collect()
}

fn response() -> CachedResponse {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert(
        "etag",
        HeaderValue::from_static("\"33a64df551425fcc55e4d42a148795d9f25f89d4\""),
    );
    CachedResponse {
        status: StatusCode::OK,
        headers,
        body: Bytes::from(vec![b'x'; 1024]),
    }
}

fn warm_cache(keys: &[CacheKey]) -> Arc<StageCache> {
    let cache = Arc::new(StageCache::new(64 << 20));
    for key in keys {
        cache.get(key);
        assert!(cache.insert(key.clone(), response(), TTL));
    }
    let stats = cache.stats();
    assert_eq!(
        stats.entries, ENTRIES as u64,
        "warm-up must keep every entry"
    );
    cache
}

/// Runs `op(thread, i)` for `i in 0..iters` on `threads` threads at once; the wall time.
fn contended(threads: usize, iters: u64, op: &(dyn Fn(usize, u64) + Sync)) -> Duration {
    let start = Barrier::new(threads + 1);
    thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let start = &start;
                s.spawn(move || {
                    start.wait();
                    for i in 0..iters {
                        op(t, i);
                    }
                })
            })
            .collect();
        start.wait();
        let began = Instant::now();
        for handle in handles {
            handle.join().expect("bench thread");
        }
        began.elapsed()
    })
}

/// The key thread `t` uses at step `i`: threads start spread over the key space.
fn pick(keys: &[CacheKey], t: usize, i: u64) -> &CacheKey {
    &keys[(t * ENTRIES / 4 + i as usize * 7) % ENTRIES]
}

fn get_hit(c: &mut Criterion) {
    let keys = keys();
    let cache = warm_cache(&keys);
    let mut group = c.benchmark_group("get_hit");
    for threads in [1, 2, 4] {
        group.throughput(Throughput::Elements(threads as u64));
        group.bench_function(format!("{threads}_threads"), |b| {
            b.iter_custom(|iters| {
                contended(threads, iters, &|t, i| {
                    black_box(cache.get(pick(&keys, t, i)).expect("warm"));
                })
            })
        });
    }
    group.finish();
}

fn insert(c: &mut Criterion) {
    let keys = keys();
    let cache = warm_cache(&keys);
    let template = response();
    let mut group = c.benchmark_group("insert");
    for threads in [1, 2, 4] {
        group.throughput(Throughput::Elements(threads as u64));
        group.bench_function(format!("{threads}_threads"), |b| {
            b.iter_custom(|iters| {
                contended(threads, iters, &|t, i| {
                    let key = pick(&keys, t, i).clone();
                    black_box(cache.insert(key, template.clone(), TTL));
                })
            })
        });
    }
    group.finish();
    assert_eq!(cache.stats().entries, ENTRIES as u64);
}

fn fill(c: &mut Criterion) {
    let cache = StageCache::new(64 << 20);
    let key = CacheKey::builder().part("GET").part("/pets").build();
    let fetched = Arc::new(response());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("fill");
    group.bench_function("leader_only", |b| {
        b.iter(|| match cache.begin_fill(&key) {
            Fill::Leader(guard) => guard.complete(Some(Arc::clone(&fetched)), None),
            Fill::Follower(_) => unreachable!("nothing stored, nothing in flight"),
        })
    });
    group.bench_function("leader_and_follower", |b| {
        b.iter(|| {
            let Fill::Leader(guard) = cache.begin_fill(&key) else {
                unreachable!("nothing stored, nothing in flight")
            };
            let Fill::Follower(wait) = cache.begin_fill(&key) else {
                unreachable!("a fill is in flight")
            };
            guard.complete(Some(Arc::clone(&fetched)), None);
            let served = runtime.block_on(wait.wait(Duration::from_secs(1)));
            black_box(served.expect("in time").expect("served"));
        })
    });
    group.finish();
}

criterion_group!(benches, get_hit, insert, fill);
criterion_main!(benches);

//! Contended token buckets: Portico's lock-free handle (and a per-request lookup by id)
//! against a naive `Mutex<HashMap<String, (f64 tokens, Instant)>>`, across 2 and 4 threads,
//! all threads on the same key or each on its own key.
//!
//! One iteration = one admission on every thread at once; throughput is admissions/s.
//! Run: `cargo bench -p portico-benches --bench token_bucket -- --warm-up-time 1 --measurement-time 2`

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use portico_traffic::{Limit, LimitHandle, SystemClock, Traffic};

/// Never empties under the bench's load, so every call takes the admit path.
const LIMIT: Limit = Limit::new(1e9, u32::MAX);

/// The baseline a first implementation would write.
struct Naive {
    map: Mutex<HashMap<String, (f64, Instant)>>,
    rate: f64,
    burst: f64,
}

impl Naive {
    fn admit(&self, key: &str) -> bool {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap();
        let entry = match map.get_mut(key) {
            Some(e) => e,
            None => map.entry(key.to_owned()).or_insert((self.burst, now)),
        };
        let elapsed = now.saturating_duration_since(entry.1).as_secs_f64();
        entry.0 = (entry.0 + elapsed * self.rate).min(self.burst);
        entry.1 = now;
        if entry.0 >= 1.0 {
            entry.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Runs `op(thread)` `iters` times on each of `threads` threads; returns the wall time.
fn contended(threads: usize, iters: u64, op: &(dyn Fn(usize) -> bool + Sync)) -> Duration {
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        for t in 0..threads {
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                for _ in 0..iters {
                    black_box(op(t));
                }
                barrier.wait();
            });
        }
        barrier.wait();
        let start = Instant::now();
        barrier.wait();
        start.elapsed()
    })
}

fn bench(c: &mut Criterion) {
    let ids: Vec<String> = (0..4)
        .map(|i| format!("plan:p/key:k{i}/method:/pets/GET"))
        .collect();
    for threads in [2usize, 4] {
        let mut group = c.benchmark_group(format!("bucket/{threads}-threads"));
        group.throughput(Throughput::Elements(threads as u64));
        for same_key in [true, false] {
            let keying = if same_key {
                "same-key"
            } else {
                "distinct-keys"
            };
            let key_of = |t: usize| if same_key { 0 } else { t };

            let traffic = Traffic::in_memory(None, Arc::new(SystemClock::new()));
            let handles: Vec<LimitHandle> = ids.iter().map(|id| traffic.limit(id, LIMIT)).collect();
            group.bench_function(BenchmarkId::new("portico-handle", keying), |b| {
                b.iter_custom(|iters| {
                    contended(threads, iters, &|t| {
                        traffic.admit(&[&handles[key_of(t)]], None).is_admitted()
                    })
                })
            });
            group.bench_function(BenchmarkId::new("portico-lookup-by-id", keying), |b| {
                b.iter_custom(|iters| {
                    contended(
                        threads,
                        iters,
                        &|t| match traffic.limits().get(&ids[key_of(t)]) {
                            Some(h) => traffic.admit(&[&h], None).is_admitted(),
                            None => false,
                        },
                    )
                })
            });
            let naive = Naive {
                map: Mutex::new(HashMap::new()),
                rate: LIMIT.rate,
                burst: f64::from(LIMIT.burst),
            };
            group.bench_function(BenchmarkId::new("mutex-hashmap", keying), |b| {
                b.iter_custom(|iters| contended(threads, iters, &|t| naive.admit(&ids[key_of(t)])))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

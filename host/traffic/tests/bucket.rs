//! Token buckets and the limiter registry on a manual clock: no sleeps, exact numbers.

use std::sync::Arc;
use std::time::Duration;

use portico_traffic::{Clock, Limit, ManualClock, RetryAfter, TokenBucket, Traffic};

const SEC: u64 = 1_000_000_000;

#[test]
fn a_full_bucket_admits_exactly_burst_at_once() {
    for (rate, burst) in [(10.0, 5), (0.5, 3), (1_000.0, 1), (10_000.0, 5_000)] {
        let b = TokenBucket::new(Limit::new(rate, burst));
        let admitted = (0..burst * 2).filter(|_| b.try_acquire(0).is_ok()).count();
        assert_eq!(admitted, burst as usize, "rate {rate} burst {burst}");
    }
}

/// Offers `offered` requests per second for `secs` simulated seconds; returns admissions.
fn simulate(limit: Limit, offered: u64, secs: u64) -> u64 {
    let b = TokenBucket::new(limit);
    let step = SEC / offered;
    (0..offered * secs)
        .filter(|i| b.try_acquire(i * step).is_ok())
        .count() as u64
}

#[test]
fn steady_rate_is_within_five_percent() {
    for (rate, burst, offered, secs) in [
        (100.0, 10, 1_000, 60),
        (3.3, 1, 100, 600),
        (10_000.0, 5_000, 50_000, 10),
        (0.2, 2, 10, 3_600),
    ] {
        let admitted = simulate(Limit::new(rate, burst), offered, secs);
        let steady = (admitted - u64::from(burst)) as f64 / secs as f64;
        let error = (steady - rate).abs() / rate;
        assert!(
            error < 0.05,
            "rate {rate}: steady {steady:.3}/s ({:.2}% off)",
            error * 100.0
        );
    }
}

#[test]
fn retry_after_is_seconds_until_one_token_rounded_up() {
    let b = TokenBucket::new(Limit::new(0.25, 1)); // one token every 4 s
    b.try_acquire(0).unwrap();
    assert_eq!(b.try_acquire(0), Err(RetryAfter::from_secs(4)));
    assert_eq!(b.try_acquire(SEC + SEC / 2).unwrap_err().as_secs(), 3); // 2.5 s → 3
    assert_eq!(b.try_acquire(4 * SEC - 1).unwrap_err().as_secs(), 1); // 1 ns → 1
    assert!(b.try_acquire(4 * SEC).is_ok());

    let fast = TokenBucket::new(Limit::new(100.0, 1));
    fast.try_acquire(0).unwrap();
    assert_eq!(fast.try_acquire(0).unwrap_err().as_secs(), 1, "minimum 1 s");
}

#[test]
fn changing_parameters_keeps_the_tokens() {
    let b = TokenBucket::new(Limit::new(1.0, 10));
    for _ in 0..4 {
        b.try_acquire(0).unwrap();
    }
    assert_eq!(b.tokens(0), 6.0);
    b.set_limit(0, Limit::new(1.0, 20));
    assert_eq!(b.tokens(0), 6.0, "a larger bucket does not refill");
    b.set_limit(0, Limit::new(2.0, 20));
    assert!((b.tokens(0) - 6.0).abs() < 1e-6);
    assert!((b.tokens(SEC) - 8.0).abs() < 1e-6, "the new rate refills");
    b.set_limit(SEC, Limit::new(2.0, 3));
    assert!(
        (b.tokens(SEC) - 3.0).abs() < 1e-6,
        "clamped to the new burst"
    );
}

#[test]
fn concurrent_takers_never_exceed_the_bucket() {
    let b = Arc::new(TokenBucket::new(Limit::new(1.0, 1_000)));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let b = b.clone();
            std::thread::spawn(move || (0..1_000).filter(|_| b.try_acquire(0).is_ok()).count())
        })
        .collect();
    let total: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(total, 1_000);
}

#[test]
fn the_registry_keeps_counters_across_reloads() {
    let clock = Arc::new(ManualClock::new(0));
    let traffic = Traffic::in_memory(None, clock.clone());
    let id = "stage:api/prod/method:/pets/GET";
    let h = traffic.limit(id, Limit::new(1.0, 5));
    for _ in 0..5 {
        assert!(traffic.admit(&[&h], None).is_admitted());
    }
    // Reload with the same id and a new limit: same bucket, still empty.
    let reloaded = traffic.limit(id, Limit::new(2.0, 10));
    assert!(reloaded.same(&h));
    assert!(!traffic.admit(&[&reloaded], None).is_admitted());
    clock.advance(Duration::from_secs(1));
    assert_eq!(reloaded.tokens(clock.monotonic_nanos()), 2.0);
    // The id disappears from config: pruned; configured again later, it starts full.
    traffic.retain(|id| id != "stage:api/prod/method:/pets/GET");
    assert!(traffic.limits().get(id).is_none());
    let fresh = traffic.limit(id, Limit::new(2.0, 10));
    assert!(!fresh.same(&h));
    assert_eq!(fresh.tokens(clock.monotonic_nanos()), 10.0);
}

#[test]
fn a_clock_going_backwards_grants_nothing_and_recovers() {
    let clock = Arc::new(ManualClock::new(0));
    let traffic = Traffic::in_memory(None, clock.clone());
    let h = traffic.limit("l", Limit::new(10.0, 2));
    clock.set_monotonic_nanos(3_600 * SEC);
    assert!(traffic.admit(&[&h], None).is_admitted());
    assert!(traffic.admit(&[&h], None).is_admitted());
    clock.set_monotonic_nanos(0); // an hour back
    let rejected = traffic.admit(&[&h], None);
    assert!(!rejected.is_admitted());
    let wait = rejected.retry_after().unwrap().as_secs();
    assert!(wait <= 11, "bounded by burst/rate + MAX_DEBT: {wait}");
    clock.advance(Duration::from_secs(wait));
    assert!(traffic.admit(&[&h], None).is_admitted());
}

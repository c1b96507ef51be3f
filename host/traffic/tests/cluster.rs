//! Cluster mode against a real `redis-server` (started per test on an ephemeral port; the
//! tests print SKIPPED and pass only when the binary is absent).
//!
//! Rate assertions use the documented bound
//! `burst + rate·(W + S) + (N − 1)·(burst + rate·S)` with generous slack, never exact timing.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::RedisServer;
use portico_traffic::{
    Admission, ClusterConfig, FailMode, Health, Limit, LimitHandle, Period, QuotaHandle,
    QuotaSettings, SystemClock, Traffic, TrafficConfig,
};

const SYNC: Duration = Duration::from_millis(20);

fn node(redis: &RedisServer, prefix: &str, strict: bool) -> Arc<Traffic> {
    let mut cluster = ClusterConfig::new(redis.url());
    cluster.prefix = prefix.to_owned();
    cluster.sync_interval = SYNC;
    cluster.strict = strict;
    cluster.timeout = Duration::from_millis(200);
    let config = TrafficConfig {
        cluster: Some(cluster),
        ..TrafficConfig::default()
    };
    Traffic::start(config, Arc::new(SystemClock::new()))
        .expect("start")
        .0
}

/// Hammers `limits` on every node in parallel for `window`; returns admissions per node and
/// the measured window.
async fn hammer(
    nodes: &[(Arc<Traffic>, Vec<LimitHandle>, Option<QuotaHandle>)],
    window: Duration,
    strict: bool,
) -> (Vec<u64>, Duration) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (traffic, limits, quota) in nodes {
        let (traffic, limits, quota) = (traffic.clone(), limits.clone(), quota.clone());
        tasks.push(tokio::spawn(async move {
            let refs: Vec<&LimitHandle> = limits.iter().collect();
            let mut admitted = 0u64;
            let mut i = 0u64;
            while start.elapsed() < window {
                let a = if strict {
                    traffic.admit_async(&refs, quota.as_ref()).await
                } else {
                    traffic.admit(&refs, quota.as_ref())
                };
                if a.is_admitted() {
                    admitted += 1;
                }
                i += 1;
                if i.is_multiple_of(8) {
                    // Let the sync task run; ~8 admissions per 100 µs is plenty of pressure.
                    tokio::time::sleep(Duration::from_micros(100)).await;
                }
            }
            admitted
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("hammer task"));
    }
    (out, start.elapsed())
}

fn bound(limit: Limit, nodes: f64, window: Duration, sync: Duration) -> f64 {
    let (rate, burst) = (limit.rate, f64::from(limit.burst));
    let (w, s) = (window.as_secs_f64(), sync.as_secs_f64());
    burst + rate * (w + s) + (nodes - 1.0) * (burst + rate * s)
}

async fn wait_for(traffic: &Traffic, healthy: bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let h = traffic.health();
        if (h == Health::Healthy) == healthy {
            return;
        }
        assert!(Instant::now() < deadline, "health stayed {h:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_a_limit_within_the_bound() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let limit = Limit::new(200.0, 20);
    let window = Duration::from_secs(2);
    let a = node(&redis, "t1", false);
    let b = node(&redis, "t1", false);
    let id = "plan:p/key:k";
    let nodes = [
        (a.clone(), vec![a.limit(id, limit)], None),
        (b.clone(), vec![b.limit(id, limit)], None),
    ];
    let (per_node, elapsed) = hammer(&nodes, window, false).await;
    let total: u64 = per_node.iter().sum();
    let max = bound(limit, 2.0, elapsed, SYNC);
    let single = limit.rate * elapsed.as_secs_f64();
    println!(
        "two nodes, rate {} burst {}, {:?}: admitted {per_node:?} = {total}; bound {max:.0}; \
         single-node ideal {single:.0}; unsynced would be ~{:.0}",
        limit.rate,
        limit.burst,
        elapsed,
        2.0 * (f64::from(limit.burst) + single)
    );
    assert!((total as f64) <= max * 1.05, "{total} over the bound {max}");
    assert!(
        (total as f64) >= 0.8 * single,
        "{total}: enforcement far too strict"
    );
    assert!(per_node.iter().all(|&n| n > 0));
    assert_eq!(a.health(), Health::Healthy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_and_usage_are_shared() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let a = node(&redis, "t2", false);
    let b = node(&redis, "t2", false);
    let quota = Some(QuotaSettings::new(300, Period::Day));
    let qa = a.quota("plan", "key", quota);
    let qb = b.quota("plan", "key", quota);
    let rate = Limit::new(400.0, 10);
    let nodes = [
        (a.clone(), vec![a.limit("k", rate)], Some(qa)),
        (b.clone(), vec![b.limit("k", rate)], Some(qb)),
    ];
    let (per_node, _) = hammer(&nodes, Duration::from_secs(2), false).await;
    let total: u64 = per_node.iter().sum();
    // Quota overshoot: at most what the other node admits for the key in one interval.
    let overshoot = rate.rate * SYNC.as_secs_f64() + f64::from(rate.burst);
    println!(
        "shared quota 300/day: admitted {per_node:?} = {total} (max {:.0})",
        300.0 + overshoot
    );
    assert!(total >= 300, "{total}");
    assert!((total as f64) <= 300.0 + overshoot * 1.5, "{total}");
    a.sync().await;
    b.sync().await;
    let today = time::OffsetDateTime::now_utc().date();
    let report = a.usage("plan", today, today).await.expect("usage");
    assert_eq!(report.items["key"][0].used, total, "{report:?}");
    let status = b.quota_status("plan", "key").expect("quota");
    assert_eq!(status.remaining, 0);
    // An extension granted through one node reaches the other: its next rejected request
    // marks the key for the next sync, which pulls the new counter.
    a.extend_quota("plan", "key", 5).await.expect("extend");
    let qb = b.quota("plan", "key", quota);
    let expected = (305 - total as i64).max(0);
    // Wait for the expected admissions (or, expecting none, a few sync intervals).
    let patience = if expected > 0 { 5_000 } else { 300 };
    let deadline = Instant::now() + Duration::from_millis(patience);
    let mut extra = 0;
    while Instant::now() < deadline && extra < expected.max(1) {
        if b.admit(&[], Some(&qb)).is_admitted() {
            extra += 1;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(extra, expected, "b admitted {extra} of the extension");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_fail_open_fail_closed_and_recovery() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let a = node(&redis, "t3", false);
    let b = node(&redis, "t3", false);
    let limit = Limit::new(100.0, 10);
    let open_a = a.limit_with("open", limit, FailMode::Open);
    let closed_a = a.limit_with("closed", limit, FailMode::Closed);
    let qa = a.quota("p", "k", Some(QuotaSettings::new(1_000_000, Period::Month)));
    assert!(a.admit(&[&open_a], Some(&qa)).is_admitted());
    a.sync().await;
    assert_eq!(a.health(), Health::Healthy);

    redis.kill();
    wait_for(&a, false).await;
    let Health::Degraded { last_error, .. } = a.health() else {
        unreachable!()
    };
    println!("degraded: {last_error}");
    // Fail open: local limits only (the local bucket still applies).
    let admitted = (0..10)
        .filter(|_| a.admit(&[&open_a], Some(&qa)).is_admitted())
        .count();
    assert!(admitted >= 1, "fail-open admitted {admitted}");
    // Fail closed: 503.
    let closed = a.admit(&[&closed_a], None);
    assert!(
        matches!(closed, Admission::Unavailable { .. }),
        "{closed:?}"
    );
    assert_eq!(closed.status(), 503);
    // Redis restarts empty, so only what was counted while degraded will be there.
    let degraded_admissions = admitted as u64;

    redis.restart();
    wait_for(&a, true).await;
    wait_for(&b, true).await;
    // The closed limit admits again without recreating anything.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(a.admit(&[&closed_a], None).is_admitted());
    // Quota and usage deltas counted while degraded reached Redis (it restarted empty).
    a.sync().await;
    let today = time::OffsetDateTime::now_utc().date();
    let global = a.usage("p", today, today).await.expect("usage");
    assert_eq!(global.items["k"][0].used, degraded_admissions, "{global:?}");

    // Enforcement resumed: two nodes sharing a limit stay within the bound again.
    let shared = Limit::new(200.0, 20);
    let nodes = [
        (a.clone(), vec![a.limit("shared", shared)], None),
        (b.clone(), vec![b.limit("shared", shared)], None),
    ];
    let (per_node, elapsed) = hammer(&nodes, Duration::from_secs(1), false).await;
    let total: u64 = per_node.iter().sum();
    let max = bound(shared, 2.0, elapsed, SYNC);
    println!("after recovery: admitted {per_node:?} = {total}; bound {max:.0}");
    assert!((total as f64) <= max * 1.05, "{total} > {max}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_mode_is_exact() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let a = node(&redis, "t4", true);
    let b = node(&redis, "t4", true);
    let limit = Limit::new(100.0, 10);
    let nodes = [
        (a.clone(), vec![a.limit("strict", limit)], None),
        (b.clone(), vec![b.limit("strict", limit)], None),
    ];
    let (per_node, elapsed) = hammer(&nodes, Duration::from_secs(1), true).await;
    let total: u64 = per_node.iter().sum();
    let max = f64::from(limit.burst) + limit.rate * elapsed.as_secs_f64();
    println!("strict: admitted {per_node:?} = {total}; exact bound {max:.1}");
    assert!(total as f64 <= max + 1.0, "{total} > {max}");
    assert!(total as f64 >= 0.8 * limit.rate * elapsed.as_secs_f64());
}

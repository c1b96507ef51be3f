//! Deployments across three gateway nodes and a real `redis-server` (cluster mode): a deploy
//! on one node reaches the others within the bound; with Redis killed, traffic is unchanged
//! and `/health` says the deployments are stale; with Redis back, the next deploy arrives.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

/// [`portico_proxy::control::sync::POLL`] plus a reload, with room for a loaded CI machine.
const BOUND: Duration = Duration::from_secs(5);

fn api(version: &str) -> String {
    let template = format!(r#"{{"v":"{version}","dep":"$context.deploymentId"}}"#);
    format!(
        "openapi: 3.0.1\ninfo: {{title: t, version: '1'}}\npaths:\n{}",
        mock_at("/v", "", &template)
    )
}

/// One node: its own directory (gateway file, definition, data directory), the shared Redis.
fn node(redis: &str, version: &str) -> (Dir, Portico) {
    let dir = Dir::new();
    dir.write("api.yaml", &api(version));
    dir.write(
        "gateway.yaml",
        &format!(
            "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nreload: {{watch: false}}\ntraffic:\n  redis: {redis}\n  sync_interval_ms: 100\napis:\n  - name: shop\n    spec: api.yaml\n    stages:\n      prod: {{}}\n"
        ),
    );
    let gw = Portico::start(&dir);
    (dir, gw)
}

async fn version(gw: &Portico) -> String {
    let reply = get(&gw.url("/prod/v")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()["v"].as_str().unwrap_or_default().to_owned()
}

/// Waits until every node serves `want`; returns how long the slowest took.
async fn converge(nodes: &[&Portico], want: &str) -> Duration {
    let started = Instant::now();
    for gw in nodes {
        loop {
            if version(gw).await == want {
                break;
            }
            assert!(
                started.elapsed() < BOUND,
                "a node still serves {} after {BOUND:?}",
                version(gw).await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    started.elapsed()
}

async fn health(gw: &Portico) -> Value {
    get(&gw.admin_url("/health")).await.json()
}

/// Writes version `v` into the control node's file, reloads it and deploys it to prod.
async fn redeploy(dir: &Dir, gw: &Portico, v: &str) {
    dir.write("api.yaml", &api(v));
    assert_eq!(
        send("POST", &gw.admin_url("/reload"), &[], "").await.status,
        200
    );
    deploy(gw);
}

/// Deploys the control node's current definition to prod with the CLI.
fn deploy(gw: &Portico) {
    let admin = gw.admin.unwrap().to_string();
    let out = std::process::Command::new(PORTICO)
        .args(["deploy", "shop", "--stage", "prod", "--admin", &admin])
        .env("PORTICO_ADMIN_TOKEN", gw.admin_token())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_deploy_reaches_three_nodes_and_survives_a_redis_outage() {
    let redis = Redis::start();
    let url = redis.url();
    // The control node's file says v2; the others still have v1 in theirs.
    let (control_dir, control) = node(&url, "1");
    let (_b_dir, b) = node(&url, "1");
    let (_c_dir, c) = node(&url, "1");
    for gw in [&control, &b, &c] {
        assert_eq!(version(gw).await, "1");
    }

    // Deploy v2 from the control node: every node serves it within the bound, although
    // their own gateway files still say v1.
    redeploy(&control_dir, &control, "2").await;
    let took = converge(&[&control, &b, &c], "2").await;
    eprintln!("deploy reached 3 nodes in {took:?}");
    assert_eq!(health(&b).await["deployments"]["status"], "current");

    // Redis killed: traffic unchanged, health stale (HTTP 200).
    let port = redis.kill();
    for _ in 0..20 {
        for gw in [&control, &b, &c] {
            assert_eq!(version(gw).await, "2");
        }
    }
    let deadline = Instant::now() + BOUND;
    loop {
        let h = health(&b).await;
        if h["deployments"]["status"] == "stale" {
            assert!(h["deployments"]["error"].as_str().is_some(), "{h}");
            break;
        }
        assert!(Instant::now() < deadline, "never stale: {h}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A deploy while Redis is down applies on the control node only.
    redeploy(&control_dir, &control, "3").await;
    assert_eq!(version(&control).await, "3");
    assert_eq!(version(&b).await, "2");

    // Redis back (empty): the next deploy reaches everyone.
    let _redis = Redis::on(port);
    redeploy(&control_dir, &control, "4").await;
    converge(&[&control, &b, &c], "4").await;
    let deadline = Instant::now() + BOUND;
    while health(&c).await["deployments"]["status"] != "current" {
        assert!(Instant::now() < deadline, "{}", health(&c).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

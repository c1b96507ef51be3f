//! Cluster mode against a real `redis-server` (started by the test on a free port, no
//! persistence): two gateways share one usage plan within the documented error bound; a Redis
//! outage makes `/health` report degraded, a fail-open gateway keep admitting and a fail-closed
//! one answer 503; Redis back on the same port restores health and enforcement without
//! restarting the gateways.
//!
//! Needs `redis-server` on the PATH (`apt-get install redis-server`; `tests/run.sh` installs
//! it). Without it the tests fail with that message rather than skipping.

use std::time::{Duration, Instant};

use crate::support::*;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

const ALICE: &str = "alice-key-0000000000000001";
const BOB: &str = "bob-key-000000000000000002";

const OPENAPI: &str = r#"openapi: 3.0.1
info: {title: t, version: '1'}
components:
  securitySchemes:
    api_key: {type: apiKey, name: x-api-key, in: header}
paths:
  /pets:
    get:
      security: [{api_key: []}]
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '{"statusCode": 200}'
        responses:
          default:
            statusCode: 200
"#;

const SYNC_MS: u64 = 100;

/// A gateway in cluster mode: alice in plan `shared` (`alice_throttle`), bob in plan `tight`
/// (rate 0.01, burst 4).
fn gateway(redis: &str, fail_mode: &str, alice_throttle: &str) -> (Dir, Portico) {
    let dir = Dir::new();
    let extra = format!(
        r#"traffic:
  data_dir: "off"
  redis: {redis}
  sync_interval_ms: {SYNC_MS}
  fail_mode: {fail_mode}
api_keys:
  - {{name: alice, value: {ALICE}}}
  - {{name: bob, value: {BOB}}}
usage_plans:
  - name: shared
    api_stages: [{{api: testapi, stage: prod}}]
    throttle: {alice_throttle}
    keys: [alice]
  - name: tight
    api_stages: [{{api: testapi, stage: prod}}]
    throttle: {{rate_limit: 0.01, burst_limit: 4}}
    keys: [bob]
"#
    );
    dir.single_api(OPENAPI, "      prod: {}\n", &extra);
    let gw = Portico::start(&dir);
    (dir, gw)
}

async fn status(gw: &Portico, key: &str) -> u16 {
    send(
        "GET",
        &gw.url("/prod/pets"),
        &[("x-api-key", key)],
        Bytes::new(),
    )
    .await
    .status
    .as_u16()
}

async fn health(gw: &Portico) -> serde_json::Value {
    let r = get(&gw.admin_url("/health")).await;
    assert_eq!(r.status, 200, "health is 200 even when degraded");
    r.json()["traffic"].clone()
}

async fn wait_health(gw: &Portico, want: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h = health(gw).await;
        if h["status"] == want {
            return h;
        }
        assert!(Instant::now() < deadline, "health stayed {h}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends as fast as one connection allows for `window`; returns the 200s.
async fn hammer(gw: &Portico, key: &'static str, window: Duration) -> usize {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let url = gw.url("/prod/pets");
    let started = Instant::now();
    let mut ok = 0;
    while started.elapsed() < window {
        let req = http::Request::get(&url)
            .header("x-api-key", key)
            .body(Full::new(Bytes::new()))
            .unwrap();
        let resp = client.request(req).await.expect("request");
        let code = resp.status().as_u16();
        let _ = resp.into_body().collect().await;
        match code {
            200 => ok += 1,
            429 => {}
            other => panic!("{other}"),
        }
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_plan_within_the_bound() {
    const RATE: f64 = 10.0;
    const BURST: f64 = 10.0;
    let redis = Redis::start();
    let throttle = "{rate_limit: 10, burst_limit: 10}";
    let (_d1, a) = gateway(&redis.url(), "open", throttle);
    let (_d2, b) = gateway(&redis.url(), "open", throttle);
    let window = Duration::from_secs(3);
    let started = Instant::now();
    let (na, nb) = tokio::join!(hammer(&a, ALICE, window), hammer(&b, ALICE, window));
    let w = started.elapsed().as_secs_f64();
    let s = SYNC_MS as f64 / 1000.0;
    let n = 2.0;
    let bound = BURST + RATE * (w + s) + (n - 1.0) * (BURST + RATE * s);
    let alone = n * (BURST + RATE * w);
    let total = (na + nb) as f64;
    eprintln!(
        "cluster: {na} + {nb} = {total} admitted in {w:.2} s; bound {bound:.1}, exact {:.1}, two unsynced nodes would admit {alone:.1}",
        BURST + RATE * w
    );
    assert!(total <= bound, "{total} > {bound}");
    assert!(
        total >= BURST + RATE * w * 0.5,
        "{total}: enforcement too strict"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_fail_modes_health_and_recovery() {
    let redis = Redis::start();
    let url = redis.url();
    let generous = "{rate_limit: 1000, burst_limit: 1000}";
    let (_d1, open) = gateway(&url, "open", generous);
    let (_d2, closed) = gateway(&url, "closed", generous);
    assert_eq!(status(&open, ALICE).await, 200);
    assert_eq!(status(&closed, ALICE).await, 200);
    assert_eq!(health(&open).await["status"], "ok");

    // Redis dies: both notice within a few sync rounds.
    let port = redis.kill();
    let h = wait_health(&open, "degraded").await;
    assert!(h["since"].as_i64().is_some(), "{h}");
    assert!(h["error"].as_str().is_some_and(|e| !e.is_empty()), "{h}");
    wait_health(&closed, "degraded").await;
    assert_eq!(status(&open, ALICE).await, 200, "fail open keeps admitting");
    let r = send(
        "GET",
        &closed.url("/prod/pets"),
        &[("x-api-key", ALICE)],
        Bytes::new(),
    )
    .await;
    assert_gateway_error(
        &r,
        503,
        r#"{"message":"Service Unavailable: rate limits cannot be checked"}"#,
        "ServiceUnavailableException",
    );
    assert!(r.header("retry-after").is_some());

    // Redis back on the same port: health and enforcement return, no gateway restart.
    let _redis = Redis::on(port);
    wait_health(&open, "ok").await;
    wait_health(&closed, "ok").await;
    assert_eq!(status(&closed, ALICE).await, 200);

    // Bob's bucket (burst 4, no refill) is shared again: drained on one node, it is drained
    // on the other after one sync, where a node on its own would admit 4 more.
    let mut on_open = 0;
    for _ in 0..6 {
        on_open += usize::from(status(&open, BOB).await == 200);
    }
    assert_eq!(on_open, 4);
    tokio::time::sleep(Duration::from_millis(4 * SYNC_MS)).await;
    let mut on_closed = 0;
    for _ in 0..3 {
        on_closed += usize::from(status(&closed, BOB).await == 200);
        tokio::time::sleep(Duration::from_millis(3 * SYNC_MS)).await;
    }
    assert!(on_closed <= 1, "{on_closed} admitted on the second node");
}

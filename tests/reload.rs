//! Configuration reloads: `POST /reload` on the admin listener, SIGHUP and the file watcher;
//! rejected configurations (every error listed, the old configuration keeps serving); reloads
//! under load without a failed request; and graceful shutdown on SIGTERM.

#[path = "support/in_process.rs"]
mod in_process;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::*;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use in_process::InProcess;
use serde_json::{Value, json};

/// How long a reload that needs no trigger (or a signal) may take to show.
const DEADLINE: Duration = Duration::from_secs(5);

/// Appended to the fixture's `reload:` block (the `extra` argument of [`Dir::single_api`]
/// follows `poll_interval_ms` directly), so that only the trigger under test reloads.
const NO_WATCH: &str = "  watch: false\n";

/// A MOCK method answering `body` (JSON without single quotes).
fn mock_method(body: &str) -> String {
    format!(
        "    get:\n      x-amazon-apigateway-integration:\n        type: mock\n        requestTemplates:\n          application/json: '{{\"statusCode\": 200}}'\n        responses:\n          default:\n            statusCode: 200\n            responseTemplates:\n              application/json: '{body}'\n"
    )
}

/// An API of MOCK `GET` methods, one per `(path, body)`.
fn mock_api(routes: &[(&str, &str)]) -> String {
    let mut doc = String::from("openapi: 3.0.1\ninfo: {title: reload, version: '1'}\npaths:\n");
    for (path, body) in routes {
        doc.push_str(&format!("  '{path}':\n{}", mock_method(body)));
    }
    doc
}

fn old_api() -> String {
    mock_api(&[("/old", r#"{"config": "old"}"#)])
}

fn new_api() -> String {
    mock_api(&[("/new", r#"{"config": "new"}"#)])
}

async fn start(extra: &str) -> (Dir, Portico) {
    let dir = Dir::new();
    dir.single_api(&old_api(), "      prod: {}\n", extra);
    let gw = Portico::start(&dir);
    let old = get(&gw.url("/prod/old")).await;
    assert_eq!(old.status, 200, "{}", old.text());
    assert_eq!(old.json()["config"], "old");
    assert_eq!(generation(&gw).await, 1);
    (dir, gw)
}

async fn generation(gw: &Portico) -> u64 {
    let health = get(&gw.admin_url("/health")).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    health.json()["generation"]
        .as_u64()
        .expect("generation is a number")
}

async fn reload(gw: &Portico) -> Reply {
    send("POST", &gw.admin_url("/reload"), &[], "").await
}

/// The value of an unlabelled series in `GET /metrics`.
async fn metric(gw: &Portico, name: &str) -> f64 {
    let metrics = get(&gw.admin_url("/metrics")).await;
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no series {name} in:\n{text}"))
}

#[track_caller]
fn assert_missing_token(reply: &Reply) {
    assert_gateway_error(
        reply,
        403,
        r#"{"message":"Missing Authentication Token"}"#,
        "MissingAuthenticationTokenException",
    );
}

/// Polls `GET url` until it answers `status`, up to [`DEADLINE`]; returns how long it took.
async fn wait_for_status(url: &str, status: u16) -> Duration {
    let started = Instant::now();
    loop {
        let reply = get(url).await;
        if reply.status == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{url} still answers {} after {DEADLINE:?}: {}",
            reply.status,
            reply.text()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn admin_reload_swaps_the_routes_at_once() {
    let (dir, gw) = start(NO_WATCH).await;
    dir.write("api.yaml", &new_api());

    let reply = reload(&gw).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    assert_eq!(body["status"], "reloaded");
    assert_eq!(body["generation"], 2);
    assert_eq!(body["warnings"], serde_json::json!([]));

    // No delay: the very next requests see the new configuration.
    let new = get(&gw.url("/prod/new")).await;
    assert_eq!(new.status, 200, "{}", new.text());
    assert_eq!(new.json()["config"], "new");
    assert_missing_token(&get(&gw.url("/prod/old")).await);
    assert_eq!(generation(&gw).await, 2);
    assert_eq!(metric(&gw, "portico_reloads_ok_total").await, 1.0);
    assert_eq!(metric(&gw, "portico_reloads_failed_total").await, 0.0);
    // The removed route's series go with it; the new route's are there.
    let metrics = get(&gw.admin_url("/metrics")).await.text();
    assert!(!metrics.contains(r#"resource="/old""#), "{metrics}");
    assert!(
        metrics.contains(
            r#"portico_count_total{api="testapi",stage="prod",resource="/new",method="GET"}"#
        ),
        "{metrics}"
    );

    // The gateway file is re-read too: a new stage appears, and warnings are reported.
    let mut warned = new_api();
    warned.push_str("  '/up':\n    get:\n      x-amazon-apigateway-integration:\n        type: http_proxy\n        httpMethod: ANY\n        uri: 'http://127.0.0.1:1/${stageVariables.host}'\n");
    dir.single_api(
        &warned,
        "      prod: {}\n      beta:\n        variables:\n          host: x\n",
        NO_WATCH,
    );
    let reply = reload(&gw).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["generation"], 3);
    let warnings = reply.json()["warnings"].clone();
    let warnings = warnings.as_array().expect("warnings array");
    assert!(
        warnings.iter().any(|w| w.as_str().is_some_and(|w| w.contains(
            "api.yaml: paths./up.get.x-amazon-apigateway-integration.uri: warning: stage prod has no variable host"
        ))),
        "{warnings:?}"
    );
    let beta = get(&gw.url("/beta/new")).await;
    assert_eq!(beta.status, 200, "{}", beta.text());
    assert_eq!(beta.json()["config"], "new");
}

#[tokio::test]
async fn sighup_reloads() {
    let (dir, gw) = start(NO_WATCH).await;
    dir.write("api.yaml", &new_api());
    // With the watcher off, nothing happens on its own.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_missing_token(&get(&gw.url("/prod/new")).await);

    gw.signal("HUP");
    let took = wait_for_status(&gw.url("/prod/new"), 200).await;
    println!("SIGHUP reload visible after {took:?}");
    assert_eq!(get(&gw.url("/prod/new")).await.json()["config"], "new");
    assert_missing_token(&get(&gw.url("/prod/old")).await);
    assert_eq!(generation(&gw).await, 2);
}

#[tokio::test]
async fn sighup_right_after_startup_reloads() {
    let dir = Dir::new();
    dir.single_api(&old_api(), "      prod: {}\n", NO_WATCH);
    let mut gw = Portico::start(&dir);
    // A supervisor may signal as soon as the gateway says it is listening.
    gw.signal("HUP");
    tokio::time::sleep(Duration::from_millis(300)).await;
    if let Ok(Some(status)) = gw.child.try_wait() {
        panic!("SIGHUP killed portico ({status})");
    }
    assert_eq!(generation(&gw).await, 2);
    assert_eq!(get(&gw.url("/prod/old")).await.status, 200);
}

#[tokio::test]
async fn file_watcher_reloads_without_a_trigger() {
    let (dir, gw) = start("").await;
    dir.write("api.yaml", &new_api());
    let took = wait_for_status(&gw.url("/prod/new"), 200).await;
    println!("watcher reload visible after {took:?}");
    assert_eq!(get(&gw.url("/prod/new")).await.json()["config"], "new");
    assert_missing_token(&get(&gw.url("/prod/old")).await);
    assert_eq!(generation(&gw).await, 2);

    // A second API added by a reload: its file is watched from then on.
    dir.write("b.yaml", &mock_api(&[("/who", r#"{"api": "b1"}"#)]));
    dir.write(
        "gateway.yaml",
        "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nreload:\n  poll_interval_ms: 100\napis:\n  - name: testapi\n    spec: api.yaml\n    stages:\n      prod: {}\n  - name: bapi\n    spec: b.yaml\n    hosts: [b.example]\n    stages:\n      v1: {}\n",
    );
    let url = gw.url("/v1/who");
    let deadline = Instant::now() + DEADLINE;
    loop {
        let reply = send("GET", &url, &[("host", "b.example")], "").await;
        if reply.status == 200 {
            assert_eq!(reply.json()["api"], "b1");
            break;
        }
        assert!(Instant::now() < deadline, "the new API never appeared");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    dir.write("b.yaml", &mock_api(&[("/who", r#"{"api": "b2"}"#)]));
    let deadline = Instant::now() + DEADLINE;
    loop {
        let reply = send("GET", &url, &[("host", "b.example")], "").await;
        assert_eq!(reply.status, 200);
        if reply.json()["api"] == "b2" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a change to the added API's file was never picked up"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(generation(&gw).await, 4);
}

/// An API that keeps `/old` in name but breaks it (unknown integration type) and adds a method
/// with an out-of-range timeout: two errors in one file.
fn broken_api() -> String {
    "openapi: 3.0.1\ninfo: {title: reload, version: '1'}\npaths:\n  '/old':\n    get:\n      x-amazon-apigateway-integration:\n        type: lambda_function\n  '/other':\n    get:\n      x-amazon-apigateway-integration:\n        type: http_proxy\n        httpMethod: GET\n        uri: 'http://127.0.0.1:1/x'\n        timeoutInMillis: 10\n".to_owned()
}

#[track_caller]
fn assert_lists_both_errors(errors: &serde_json::Value) {
    let errors: Vec<&str> = errors
        .as_array()
        .expect("errors array")
        .iter()
        .map(|e| e.as_str().expect("error string"))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors.iter().any(|e| e.starts_with(
            "api.yaml: paths./old.get.x-amazon-apigateway-integration.type: unknown integration type"
        )),
        "{errors:#?}"
    );
    assert!(
        errors.iter().any(|e| e.starts_with(
            "api.yaml: paths./other.get.x-amazon-apigateway-integration.timeoutInMillis: must be an integer between 50 and 29000"
        )),
        "{errors:#?}"
    );
}

#[tokio::test]
async fn rejected_reload_lists_every_error_and_keeps_serving() {
    let (dir, gw) = start(NO_WATCH).await;
    dir.write("api.yaml", &broken_api());

    let reply = reload(&gw).await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    assert_eq!(body["status"], "rejected");
    assert_eq!(body["generation"], 1);
    assert_lists_both_errors(&body["errors"]);

    assert_eq!(generation(&gw).await, 1);
    let old = get(&gw.url("/prod/old")).await;
    assert_eq!(old.status, 200, "the old configuration must keep serving");
    assert_eq!(old.json()["config"], "old");
    assert_missing_token(&get(&gw.url("/prod/other")).await);
    assert_eq!(metric(&gw, "portico_reloads_failed_total").await, 1.0);
    assert_eq!(metric(&gw, "portico_reloads_ok_total").await, 0.0);

    // A broken gateway file is rejected the same way, naming that file.
    dir.write("gateway.yaml", "listeners: [\n");
    let reply = reload(&gw).await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    let errors = reply.json()["errors"].clone();
    assert!(
        errors.as_array().is_some_and(|e| !e.is_empty()
            && e.iter()
                .all(|e| e.as_str().is_some_and(|e| e.starts_with("gateway.yaml: ")))),
        "{errors}"
    );
    assert_eq!(get(&gw.url("/prod/old")).await.status, 200);

    // Fixed: the rejected attempts did not use up a generation.
    dir.single_api(&new_api(), "      prod: {}\n", NO_WATCH);
    let reply = reload(&gw).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["generation"], 2);
    assert_eq!(get(&gw.url("/prod/new")).await.status, 200);
}

#[tokio::test]
async fn watcher_rejects_a_broken_file_and_keeps_serving() {
    let (dir, gw) = start("").await;
    assert_eq!(metric(&gw, "portico_reloads_failed_total").await, 0.0);
    dir.write("api.yaml", &broken_api());

    let started = Instant::now();
    while metric(&gw, "portico_reloads_failed_total").await < 1.0 {
        assert!(
            started.elapsed() < DEADLINE,
            "the watcher never tried the broken file"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Several poll intervals later the old configuration still serves, and the rejected file
    // is not retried over and over.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let old = get(&gw.url("/prod/old")).await;
    assert_eq!(old.status, 200, "{}", old.text());
    assert_eq!(old.json()["config"], "old");
    assert_eq!(generation(&gw).await, 1);
    assert_eq!(metric(&gw, "portico_reloads_failed_total").await, 1.0);
    assert!(
        gw.stderr_text().contains("unknown integration type"),
        "the rejection is logged: {}",
        gw.stderr_text()
    );

    // Fixing the file is picked up.
    dir.write("api.yaml", &new_api());
    wait_for_status(&gw.url("/prod/new"), 200).await;
    assert_eq!(generation(&gw).await, 2);
}

/// The API for the load test: `/items/{id}` goes to the upstream under a path chosen by a stage
/// variable; config B adds a MOCK route.
fn load_config(dir: &Dir, up: &Upstream, b: bool) {
    let uri = format!("http://{}/${{stageVariables.v}}/{{id}}", up.addr);
    let mut api = proxy_api(&[("/items/{id}", "GET", &uri)]);
    if b {
        api.push_str(&format!(
            "  '/extra':\n{}",
            mock_method(r#"{"extra": true}"#)
        ));
    }
    let v = if b { "b" } else { "a" };
    dir.single_api(
        &api,
        &format!("      prod:\n        variables:\n          v: {v}\n"),
        NO_WATCH,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reloads_under_load_fail_no_request() {
    const CLIENTS: usize = 8;
    const RELOADS: u64 = 20;
    let up = Upstream::start().await;
    let dir = Dir::new();
    load_config(&dir, &up, false);
    let gw = Portico::start(&dir);
    let url = gw.url("/prod/items/");

    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let stop = Arc::clone(&stop);
        let url = format!("{url}{c}");
        clients.push(tokio::spawn(async move {
            // One keep-alive client per task, reused for every request.
            let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
            let (mut ok, mut seen_a, mut seen_b) = (0u64, 0u64, 0u64);
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let req = http::Request::get(&url)
                    .body(Full::new(Bytes::new()))
                    .expect("request");
                let outcome = match client.request(req).await {
                    Ok(resp) => {
                        let status = resp.status();
                        match resp.into_body().collect().await {
                            Ok(body) => Ok((status, body.to_bytes())),
                            Err(e) => Err(format!("body: {e}")),
                        }
                    }
                    Err(e) => Err(format!("request: {e:?}")),
                };
                match outcome {
                    Ok((status, body)) if status == 200 => {
                        ok += 1;
                        let json: serde_json::Value =
                            serde_json::from_slice(&body).expect("JSON from the upstream");
                        match json["target"].as_str() {
                            Some(t) if t == format!("/a/{c}") => seen_a += 1,
                            Some(t) if t == format!("/b/{c}") => seen_b += 1,
                            other => failures.push(format!("unexpected target {other:?}")),
                        }
                    }
                    Ok((status, body)) => {
                        failures.push(format!("{status}: {}", String::from_utf8_lossy(&body)))
                    }
                    Err(e) => failures.push(e),
                }
            }
            (ok, seen_a, seen_b, failures)
        }));
    }

    let started = Instant::now();
    for i in 1..=RELOADS {
        tokio::time::sleep(Duration::from_millis(140)).await;
        load_config(&dir, &up, i % 2 == 1);
        let reply = reload(&gw).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.json()["generation"], i + 1);
    }
    tokio::time::sleep(Duration::from_millis(140)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();

    let (mut ok, mut seen_a, mut seen_b) = (0, 0, 0);
    let mut failures = Vec::new();
    for c in clients {
        let (o, a, b, f) = c.await.expect("client task");
        ok += o;
        seen_a += a;
        seen_b += b;
        failures.extend(f);
    }
    println!(
        "{ok} requests answered 200 in {elapsed:?} across {RELOADS} reloads ({seen_a} on config A, {seen_b} on config B); {} failures",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} failed requests, first ones: {:#?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    assert!(ok >= 400, "only {ok} requests in {elapsed:?}");
    assert!(seen_a > 0 && seen_b > 0, "both configurations served");
    assert_eq!(generation(&gw).await, RELOADS + 1);
    assert_eq!(
        metric(&gw, "portico_reloads_ok_total").await,
        RELOADS as f64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_and_exits() {
    let up = Upstream::start().await;
    let dir = Dir::new();
    dir.single_api(
        &proxy_api(&[("/slow", "GET", &format!("http://{}/slow", up.addr))]),
        "      prod: {}\n",
        "",
    );
    let mut gw = Portico::start(&dir);
    let addr = gw.addr;

    // An idle keep-alive connection must not hold the shutdown up.
    let idle = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let warm = idle
        .request(
            http::Request::get(gw.url("/prod/slow"))
                .body(Full::new(Bytes::new()))
                .expect("request"),
        )
        .await
        .expect("warm-up request");
    assert_eq!(warm.status(), 200);
    drop(warm.into_body().collect().await.expect("body"));

    let url = gw.url("/prod/slow");
    let slow = tokio::spawn(async move {
        let started = Instant::now();
        let reply = send("GET", &url, &[("x-test-sleep-ms", "1500")], "").await;
        (reply, started.elapsed())
    });
    // Wait until the slow request is at the upstream.
    let deadline = Instant::now() + DEADLINE;
    while up.count() < 2 {
        assert!(Instant::now() < deadline, "the slow request never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    gw.signal("TERM");
    let signalled = Instant::now();

    // New connections are refused soon after the signal.
    let refused_after = loop {
        match tokio::net::TcpStream::connect(addr).await {
            Err(_) => break signalled.elapsed(),
            Ok(s) => drop(s),
        }
        assert!(
            signalled.elapsed() < Duration::from_millis(1000),
            "the gateway still accepts connections 1 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        !slow.is_finished(),
        "the slow request should still be in flight"
    );

    let (reply, took) = slow.await.expect("slow request task");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["target"], "/slow");
    assert_eq!(reply.header("x-upstream"), Some("yes"));
    assert!(took >= Duration::from_millis(1500), "{took:?}");

    let status = tokio::task::block_in_place(|| gw.wait_exit(Duration::from_secs(5)));
    let exited_after = signalled.elapsed();
    let status = status.unwrap_or_else(|| {
        panic!(
            "portico did not exit within 5 s of finishing its last request; stderr:\n{}",
            gw.stderr_text()
        )
    });
    println!("refused new connections after {refused_after:?}, exited after {exited_after:?}");
    assert!(
        status.success(),
        "exit status {status}; stderr:\n{}",
        gw.stderr_text()
    );
    assert!(
        exited_after < Duration::from_secs(4),
        "exit took {exited_after:?}: the idle connection held the drain up"
    );
    assert!(gw.stderr_text().contains("shutdown complete"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_gives_up_on_requests_after_the_drain_timeout() {
    let up = Upstream::start().await;
    let dir = Dir::new();
    dir.single_api(
        &proxy_api(&[("/slow", "GET", &format!("http://{}/slow", up.addr))]),
        "      prod: {}\n",
        "limits:\n  drain_timeout_ms: 300\n",
    );
    let mut gw = Portico::start(&dir);
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = http::Request::get(gw.url("/prod/slow"))
        .header("x-test-sleep-ms", "5000")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let slow = tokio::spawn(async move {
        match client.request(req).await {
            Ok(resp) => resp.into_body().collect().await.is_ok(),
            Err(_) => false,
        }
    });
    let deadline = Instant::now() + DEADLINE;
    while up.count() < 1 {
        assert!(Instant::now() < deadline, "the slow request never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gw.signal("TERM");
    let signalled = Instant::now();
    let status = tokio::task::block_in_place(|| gw.wait_exit(Duration::from_secs(3)));
    let exited_after = signalled.elapsed();
    let status = status.unwrap_or_else(|| {
        panic!(
            "portico did not exit 3 s after SIGTERM with drain_timeout_ms: 300; stderr:\n{}",
            gw.stderr_text()
        )
    });
    println!("exited {exited_after:?} after SIGTERM");
    assert!(status.success(), "exit status {status}");
    assert!(
        exited_after >= Duration::from_millis(250),
        "exited after {exited_after:?}, without waiting for the drain timeout"
    );
    let completed = tokio::time::timeout(Duration::from_secs(2), slow)
        .await
        .expect("the cut-off request's client hangs")
        .expect("task");
    assert!(!completed, "a 5 s request cannot have completed");
    assert!(
        gw.stderr_text().contains("drain timeout passed"),
        "{}",
        gw.stderr_text()
    );
}

#[tokio::test]
async fn limits_are_reloaded() {
    let up = Upstream::start().await;
    let dir = Dir::new();
    let api = proxy_api(&[("/up", "POST", &format!("http://{}/u", up.addr))]);
    dir.single_api(
        &api,
        "      prod: {}\n",
        "  watch: false\nlimits:\n  max_body_bytes: 1000\n",
    );
    let gw = Portico::start(&dir);
    let body = vec![b'b'; 1500];
    let too_big = send("POST", &gw.url("/prod/up"), &[], body.clone()).await;
    assert_eq!(too_big.status, 413, "{}", too_big.text());

    dir.single_api(
        &api,
        "      prod: {}\n",
        "  watch: false\nlimits:\n  max_body_bytes: 2000\n",
    );
    assert_eq!(reload(&gw).await.status, 200);
    let fits = send("POST", &gw.url("/prod/up"), &[], body).await;
    assert_eq!(fits.status, 200, "{}", fits.text());
    assert_eq!(fits.json()["bodyLength"], 1500);
}

// ---- staging: a reload builds everything, then commits ----------------------------------

const ALICE: &str = "alice-key-0000000000000001";

/// A component from `bash plugins/build.sh`.
fn component(name: &str) -> std::path::PathBuf {
    let path = repo_file(&format!("plugins/dist/{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: run `bash plugins/build.sh` first",
        path.display()
    );
    path
}

/// What the staging scenarios configure: plugin files (components of `plugins/dist`), the
/// stage throttle of `GET /open`, alice's daily quota, and whether plugin `extra` is declared.
struct Staging {
    gate: &'static str,
    spare: &'static str,
    extra: bool,
    throttle: (f64, u32),
    quota: u64,
}

/// The first configuration: `gate` is the header authorizer, `/open` lets 3 requests through
/// and refills one in 1000 s, alice may make 5 requests a day.
const BEFORE: Staging = Staging {
    gate: "authorizer-header",
    spare: "authorizer-allow",
    extra: false,
    throttle: (0.001, 3),
    quota: 5,
};

/// A MOCK `GET` answering the authorizer's principal, behind `scheme`.
fn secured_mock(path: &str, scheme: &str) -> String {
    format!(
        "  '{path}':\n    get:\n      security: [{{{scheme}: []}}]\n      x-amazon-apigateway-integration:\n        type: mock\n        requestTemplates:\n          application/json: '{{\"statusCode\": 200}}'\n        responses:\n          default:\n            statusCode: 200\n            responseTemplates:\n              application/json: '{{\"principal\": \"$context.authorizer.principalId\"}}'\n"
    )
}

/// Writes the plugin files, `api.yaml` and `gateway.yaml` for `s`.
fn write_staging(dir: &Dir, s: &Staging) {
    let mut plugins = String::from("plugins:\n");
    let mut schemes = String::from("    api_key: {type: apiKey, name: x-api-key, in: header}\n");
    let mut paths = format!("  '/open':\n{}", mock_method(r#"{"open": true}"#));
    paths.push_str(&format!(
        "  '/pets':\n    get:\n      security: [{{api_key: []}}]\n{}",
        mock_method(r#"{"pets": true}"#).trim_start_matches("    get:\n")
    ));
    let declared = [("gate", s.gate), ("spare", s.spare)]
        .into_iter()
        .chain(s.extra.then_some(("extra", "authorizer-allow")));
    for (name, file) in declared {
        let path = dir.path(&format!("{name}.wasm"));
        std::fs::copy(component(file), &path).expect("copy the component");
        plugins.push_str(&format!(
            "  - name: {name}\n    kind: authorizer\n    file: {}\n    config: {{header: authorization, tokens: {{allow-token: user-1}}}}\n",
            path.display()
        ));
        schemes.push_str(&authorizer_scheme(&format!("{name}Auth"), name));
        paths.push_str(&secured_mock(&format!("/{name}"), &format!("{name}Auth")));
    }
    let api = format!(
        "openapi: 3.0.1\ninfo: {{title: staging, version: '1'}}\ncomponents:\n  securitySchemes:\n{schemes}paths:\n{paths}"
    );
    let (rate, burst) = s.throttle;
    let stages = format!(
        "      prod:\n        method_settings:\n          /open/GET: {{throttling_rate_limit: {rate}, throttling_burst_limit: {burst}}}\n"
    );
    let extra = format!(
        "  watch: false\ntraffic:\n  data_dir: data\n{plugins}api_keys:\n  - {{name: alice, value: {ALICE}}}\nusage_plans:\n  - name: gold\n    api_stages:\n      - {{api: testapi, stage: prod}}\n    quota: {{limit: {}, period: DAY}}\n    keys: [alice]\n",
        s.quota
    );
    dir.single_api(&api, &stages, &extra);
}

/// `GET /plugins` as name → digest.
async fn digests(admin_url: &str) -> std::collections::BTreeMap<String, String> {
    let reply = get(&format!("{admin_url}/plugins")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()["plugins"]
        .as_array()
        .expect("plugins array")
        .iter()
        .map(|p| {
            let field = |k: &str| p[k].as_str().expect("string").to_owned();
            (field("name"), field("digest"))
        })
        .collect()
}

/// What a user sees of the staged state, given the base URLs of the data plane and the admin
/// API: the principal `gate` gives a stranger (`None` when refused with 401), how many of
/// `probe` requests `GET /prod/open` lets through, and alice's `[used, remaining]` today.
async fn observe(url: &str, admin_url: &str, probe: usize) -> (Option<String>, usize, Value) {
    let gate = send(
        "GET",
        &format!("{url}/prod/gate"),
        &[("authorization", "stranger")],
        "",
    )
    .await;
    let principal = match gate.status.as_u16() {
        200 => Some(gate.json()["principal"].as_str().unwrap_or("").to_owned()),
        401 => None,
        other => panic!("gate answered {other}: {}", gate.text()),
    };
    let mut open = 0;
    for _ in 0..probe {
        let r = get(&format!("{url}/prod/open")).await;
        match r.status.as_u16() {
            200 => open += 1,
            429 => {}
            other => panic!("/open answered {other}: {}", r.text()),
        }
    }
    let usage = get(&format!("{admin_url}/usageplans/gold/usage")).await;
    assert_eq!(usage.status, 200, "{}", usage.text());
    (principal, open, usage.json()["items"]["alice"][0].clone())
}

/// Spends `n` of alice's quota on `GET /prod/pets`; returns how many were admitted.
async fn spend(url: &str, n: usize) -> usize {
    let mut admitted = 0;
    for _ in 0..n {
        let r = send(
            "GET",
            &format!("{url}/prod/pets"),
            &[("x-api-key", ALICE)],
            "",
        )
        .await;
        match r.status.as_u16() {
            200 => admitted += 1,
            429 => {}
            other => panic!("/pets answered {other}: {}", r.text()),
        }
    }
    admitted
}

/// The latest failure a validated gateway file can reach: the plugin stage, at the last
/// declared plugin (its file exists, as validation checks, but is a component of another
/// world), after the first plugin's new version was already compiled. The same file also
/// raises the throttle and the quota. Nothing of it may show.
#[tokio::test]
async fn a_reload_rejected_at_its_last_plugin_changes_nothing() {
    let dir = Dir::new();
    write_staging(&dir, &BEFORE);
    let gw = Portico::start(&dir);
    let admin = gw.admin_url("");
    let before = digests(&admin).await;
    assert_eq!(spend(&gw.url(""), 2).await, 2);
    // One stranger refused, 2 of the 3 tokens of /open spent, alice at [2, 3].
    assert_eq!(
        observe(&gw.url(""), &admin, 2).await,
        (None, 2, json!([2, 3]))
    );

    write_staging(
        &dir,
        &Staging {
            gate: "authorizer-allow",
            spare: "authorizer-wrong-world",
            extra: true,
            throttle: (10000.0, 1000),
            quota: 1000,
        },
    );
    let reply = reload(&gw).await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(reply.json()["generation"], 1);
    let errors = reply.json()["errors"].to_string();
    assert!(
        errors.contains("plugin spare") && errors.contains("does not implement"),
        "{errors}"
    );

    // The same versions, the same answers, the same limits: the third request of /open is
    // the last one, and alice still has 3 requests left, not 998.
    assert_eq!(digests(&admin).await, before);
    assert_missing_token(&get(&gw.url("/prod/extra")).await);
    assert_eq!(
        observe(&gw.url(""), &admin, 3).await,
        (None, 1, json!([2, 3]))
    );
    assert_eq!(spend(&gw.url(""), 5).await, 3);
    assert_eq!(generation(&gw).await, 1);
    assert_eq!(metric(&gw, "portico_reloads_failed_total").await, 1.0);
}

/// A reload that fails in `Snapshot::build`, after the plugin stage compiled a new version
/// and a new plugin and after the throttle and quota changes were resolved, changes nothing;
/// the same reload without the fault then commits all of it.
///
/// A gateway file that passes validation cannot fail the build (validation checks the route
/// table and the plugin references the build relies on), so the fault comes from where an
/// embedder's [`portico_proxy::Loader`] can bring it: a configuration that skipped
/// validation, here with a route defined twice.
#[tokio::test(flavor = "current_thread")]
async fn a_reload_rejected_by_the_snapshot_build_changes_nothing() {
    let dir = Dir::new();
    write_staging(&dir, &BEFORE);
    let fault = Arc::new(AtomicBool::new(true));
    let inject = Arc::clone(&fault);
    let gw = InProcess::start_with(&dir, move |config| {
        if inject.load(Ordering::SeqCst) {
            let api = &mut config.apis[0];
            let twice = api.routes[0].clone();
            api.routes.push(twice);
        }
    })
    .await;
    let (url, admin) = (gw.url(""), gw.admin_url(""));
    let before = digests(&admin).await;
    assert_eq!(spend(&url, 2).await, 2);
    assert_eq!(observe(&url, &admin, 2).await, (None, 2, json!([2, 3])));

    let after = Staging {
        gate: "authorizer-allow",
        spare: "authorizer-allow",
        extra: true,
        throttle: (10000.0, 1000),
        quota: 1000,
    };
    write_staging(&dir, &after);
    let reply = send("POST", &gw.admin_url("/reload"), &[], "").await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    let errors = reply.json()["errors"].to_string();
    assert!(errors.contains("api testapi"), "{errors}");

    assert_eq!(digests(&admin).await, before);
    assert_missing_token(&get(&gw.url("/prod/extra")).await);
    assert_eq!(observe(&url, &admin, 3).await, (None, 1, json!([2, 3])));
    assert_eq!(spend(&url, 5).await, 3);
    assert_eq!(gw.gw.generation(), 1);

    // Without the fault the same files commit: the new gate version, the new plugin (the one
    // the registry lists and the snapshot calls), the new throttle and quota.
    fault.store(false, Ordering::SeqCst);
    let reply = send("POST", &gw.admin_url("/reload"), &[], "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let now = digests(&admin).await;
    assert_ne!(now["gate"], before["gate"]);
    assert_eq!(now["gate"], now["extra"], "both run authorizer-allow");
    // Usage shows what the last admission left, so spend one first (the old quota is spent).
    assert_eq!(spend(&url, 1).await, 1);
    assert_eq!(
        observe(&url, &admin, 10).await,
        (Some("anyone".to_owned()), 10, json!([6, 994]))
    );
    let extra = send(
        "GET",
        &gw.url("/prod/extra"),
        &[("authorization", "stranger")],
        "",
    )
    .await;
    assert_eq!(extra.status, 200, "{}", extra.text());
    // A deploy to the new plugin reaches the snapshot serving: it holds the registry's slot.
    let header = std::fs::read(component("authorizer-header")).unwrap();
    let deployed = send("PUT", &gw.admin_url("/plugins/extra"), &[], header).await;
    assert_eq!(deployed.status, 200, "{}", deployed.text());
    let extra = send(
        "GET",
        &gw.url("/prod/extra"),
        &[("authorization", "stranger")],
        "",
    )
    .await;
    assert_eq!(extra.status, 401, "{}", extra.text());
}

/// Reloads, runtime API keys and plugin deploys do their blocking work without
/// `block_in_place`, which panics on a current-thread runtime (the data plane's runtimes, and
/// possibly the control runtime, are current-thread).
#[tokio::test(flavor = "current_thread")]
async fn reload_key_creation_and_deploy_work_on_a_current_thread_runtime() {
    let dir = Dir::new();
    let extra = format!("{NO_WATCH}traffic:\n  data_dir: data\n");
    dir.single_api(&old_api(), "      prod: {}\n", &extra);
    let gw = InProcess::start(&dir).await;
    assert_eq!(get(&gw.url("/prod/old")).await.status, 200);

    dir.write("api.yaml", &new_api());
    let reply = send("POST", &gw.admin_url("/reload"), &[], "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["generation"], 2);
    let new = get(&gw.url("/prod/new")).await;
    assert_eq!(new.status, 200, "{}", new.text());
    assert_eq!(new.json()["config"], "new");

    // A rejected reload on this runtime is a report too.
    dir.write("api.yaml", &broken_api());
    let reply = send("POST", &gw.admin_url("/reload"), &[], "").await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(get(&gw.url("/prod/new")).await.status, 200);

    let key = send(
        "POST",
        &gw.admin_url("/apikeys"),
        &[],
        r#"{"name": "runtime-key"}"#,
    )
    .await;
    assert_eq!(key.status, 201, "{}", key.text());
    assert_eq!(key.json()["generation"], 3);

    let staged = Dir::new();
    write_staging(&staged, &BEFORE);
    let plugged = InProcess::start(&staged).await;
    let allow = std::fs::read(component("authorizer-allow")).unwrap();
    let deployed = send("PUT", &plugged.admin_url("/plugins/gate"), &[], allow).await;
    assert_eq!(deployed.status, 200, "{}", deployed.text());
    let (url, admin) = (plugged.url(""), plugged.admin_url(""));
    assert_eq!(observe(&url, &admin, 1).await.0, Some("anyone".to_owned()));
}

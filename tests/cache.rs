//! The per-stage response cache through the real gateway, with counting upstreams: hits never
//! reach the upstream, TTLs, key parameters, per-method settings, invalidation strategies,
//! admin flush, the byte bound, oversized responses, stampede protection, and no response
//! crossing from one principal to another.

use std::sync::Arc;
use std::time::Duration;

use crate::support::*;

const INVALIDATOR: &str = "invalidator-key-0000000001";

/// An OpenAPI path with `http_proxy` methods: `(method, extra integration lines)`.
fn route(path: &str, methods: &[(&str, &str)], upstream: &str) -> String {
    let mut out = format!("  {path}:\n");
    for (method, extra) in methods {
        out += &format!(
            "    {method}:\n      x-amazon-apigateway-integration:\n        type: http_proxy\n        httpMethod: {}\n        uri: 'http://{upstream}{path}'\n{extra}",
            method.to_uppercase()
        );
    }
    out
}

struct Setup {
    dir: Dir,
    gw: Portico,
    up: Upstream,
    big: Upstream,
}

async fn start() -> Setup {
    let up = Upstream::start().await;
    // 1.5 MiB of JSON: over the 1 MiB entry limit.
    let big = Upstream::answering(|_| {
        (
            http::StatusCode::OK,
            format!("{{\"pad\":\"{}\"}}", "x".repeat(1536 * 1024)),
        )
    })
    .await;
    let u = up.addr.to_string();
    let keyed = "        cacheKeyParameters: [method.request.querystring.type, method.request.header.x-tenant]\n";
    let mut paths = String::new();
    paths += &route("/items", &[("get", keyed), ("post", "")], &u);
    for plain in ["/nocache", "/short", "/strict", "/quiet", "/open"] {
        paths += &route(plain, &[("get", "")], &u);
    }
    let by_n = "        cacheKeyParameters: [method.request.querystring.n]\n";
    paths += &route("/flood", &[("get", by_n)], &u);
    paths += &route("/big", &[("get", "")], &big.addr.to_string());
    paths += &format!(
        r#"  /anything:
    x-amazon-apigateway-any-method:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        uri: 'http://{u}/anything'
  /me:
    get:
      security: [{{tokenAuth: []}}]
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: 'http://{u}/me'
        requestParameters:
          integration.request.header.x-principal: context.authorizer.principalId
"#
    );
    let api = format!(
        r#"openapi: 3.0.1
info: {{title: cached, version: '1'}}
components:
  securitySchemes:
{scheme}paths:
{paths}"#,
        scheme = authorizer_scheme("tokenAuth", "header-auth")
    );
    let stages = format!(
        r#"      prod:
        cache:
          size: 256KiB
          invalidation_api_keys: [{INVALIDATOR}]
        method_settings:
          '*/*': {{cache_ttl_seconds: 60}}
          /items/POST: {{caching_enabled: true}}
          /nocache/GET: {{caching_enabled: false}}
          /short/GET: {{cache_ttl_seconds: 2}}
          /strict/GET: {{unauthorized_cache_control_header_strategy: FAIL_WITH_403}}
          /quiet/GET: {{unauthorized_cache_control_header_strategy: SUCCEED_WITHOUT_RESPONSE_HEADER}}
          /open/GET: {{require_authorization_for_cache_control: false}}
      nocache: {{}}
"#
    );
    let plugins = format!(
        "  watch: false\nplugins:\n  - name: header-auth\n    kind: authorizer\n    file: {}\n    config: {{header: authorization, tokens: {{token-a: alice, token-b: bob}}}}\n",
        repo_file("plugins/dist/authorizer-header.wasm").display()
    );
    let dir = Dir::new();
    dir.single_api(&api, &stages, &plugins);
    let gw = Portico::start(&dir);
    Setup { dir, gw, up, big }
}

async fn fetch(gw: &Portico, path: &str, headers: &[(&str, &str)]) -> Reply {
    let reply = send("GET", &gw.url(path), headers, "").await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hits_never_reach_the_upstream_and_keys_split_only_on_key_parameters() {
    let s = start().await;
    let first = fetch(&s.gw, "/prod/items?type=a&dept=1", &[]).await;
    assert_eq!(s.up.count(), 1);
    let log = s.gw.access_log_for(first.request_id()).await;
    assert_eq!(log["cacheStatus"], "MISS");

    // `dept` is not a key parameter: the same entry answers, byte for byte.
    let second = fetch(&s.gw, "/prod/items?type=a&dept=2", &[]).await;
    assert_eq!(s.up.count(), 1, "a hit reached the upstream");
    assert_eq!(second.body, first.body);
    assert_eq!(first.json()["target"], "/items?type=a&dept=1");
    assert_ne!(second.request_id(), first.request_id());
    let log = s.gw.access_log_for(second.request_id()).await;
    assert_eq!(log["cacheStatus"], "HIT");
    assert!(log["integrationLatency"].is_null());

    // `type` and the `x-tenant` header are: each value is its own entry.
    fetch(&s.gw, "/prod/items?type=b", &[]).await;
    assert_eq!(s.up.count(), 2);
    fetch(&s.gw, "/prod/items?type=b", &[("x-tenant", "t1")]).await;
    assert_eq!(s.up.count(), 3);
    fetch(&s.gw, "/prod/items?type=b", &[("x-tenant", "t1")]).await;
    assert_eq!(s.up.count(), 3);

    // A stage without a cache always goes to the upstream.
    fetch(&s.gw, "/nocache/items?type=a", &[]).await;
    fetch(&s.gw, "/nocache/items?type=a", &[]).await;
    assert_eq!(s.up.count(), 5);

    let metrics = get(&s.gw.admin_url("/metrics")).await.text();
    let line = |name: &str| {
        metrics
            .lines()
            .find(|l| {
                l.starts_with(name)
                    && l.contains("stage=\"prod\"")
                    && l.contains("resource=\"/items\"")
                    && l.contains("method=\"GET\"")
            })
            .unwrap_or_else(|| panic!("no {name} series for /items GET:\n{metrics}"))
            .to_owned()
    };
    assert!(line("portico_cache_hit_total").ends_with(" 2"), "{metrics}");
    assert!(
        line("portico_cache_miss_total").ends_with(" 3"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_expiry_and_per_method_settings() {
    let s = start().await;
    // TTL 2 s: a hit right away, a miss once it has certainly passed.
    fetch(&s.gw, "/prod/short", &[]).await;
    fetch(&s.gw, "/prod/short", &[]).await;
    assert_eq!(s.up.count(), 1);
    tokio::time::sleep(Duration::from_millis(2600)).await;
    fetch(&s.gw, "/prod/short", &[]).await;
    assert_eq!(s.up.count(), 2);

    // caching_enabled: false on one GET.
    fetch(&s.gw, "/prod/nocache", &[]).await;
    fetch(&s.gw, "/prod/nocache", &[]).await;
    assert_eq!(s.up.count(), 4);

    // POST cached because its method setting enables it.
    for _ in 0..2 {
        let r = send("POST", &s.gw.url("/prod/items"), &[], "{}").await;
        assert_eq!(r.status, 200);
    }
    assert_eq!(s.up.count(), 5);

    // ANY route: GET requests are cached, other methods are not.
    for method in ["GET", "GET", "DELETE", "DELETE"] {
        let r = send(method, &s.gw.url("/prod/anything"), &[], "").await;
        assert_eq!(r.status, 200);
    }
    assert_eq!(s.up.count(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidation_follows_authorization_and_strategy() {
    let s = start().await;
    let refresh = [("cache-control", "max-age=0")];

    // Default strategy (SUCCEED_WITH_RESPONSE_HEADER): served from the cache, with a warning.
    fetch(&s.gw, "/prod/items?type=z", &[]).await;
    let ignored = fetch(&s.gw, "/prod/items?type=z", &refresh).await;
    assert_eq!(s.up.count(), 1);
    assert!(
        ignored
            .header("warning")
            .is_some_and(|w| w.contains("not authorized")),
        "{:?}",
        ignored.headers
    );

    // The configured API key may invalidate: refetched and replaced.
    let refreshed = fetch(
        &s.gw,
        "/prod/items?type=z",
        &[("cache-control", "max-age=0"), ("x-api-key", INVALIDATOR)],
    )
    .await;
    assert_eq!(s.up.count(), 2);
    assert!(refreshed.header("warning").is_none());
    let log = s.gw.access_log_for(refreshed.request_id()).await;
    assert_eq!(log["cacheStatus"], "REFRESH");
    fetch(&s.gw, "/prod/items?type=z", &[]).await;
    assert_eq!(s.up.count(), 2, "the refreshed entry serves later requests");

    // FAIL_WITH_403.
    fetch(&s.gw, "/prod/strict", &[]).await;
    let denied = send("GET", &s.gw.url("/prod/strict"), &refresh, "").await;
    assert_gateway_error(
        &denied,
        403,
        r#"{"message":"Unauthorized"}"#,
        "AccessDeniedException",
    );
    assert_eq!(s.up.count(), 3);

    // SUCCEED_WITHOUT_RESPONSE_HEADER.
    fetch(&s.gw, "/prod/quiet", &[]).await;
    let quiet = fetch(&s.gw, "/prod/quiet", &refresh).await;
    assert!(quiet.header("warning").is_none());
    assert_eq!(s.up.count(), 4);

    // require_authorization_for_cache_control: false — anyone may invalidate.
    fetch(&s.gw, "/prod/open", &[]).await;
    fetch(&s.gw, "/prod/open", &refresh).await;
    assert_eq!(s.up.count(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_flush_byte_bound_and_oversized_responses() {
    let s = start().await;
    fetch(&s.gw, "/prod/items?type=f", &[]).await;
    fetch(&s.gw, "/prod/items?type=f", &[]).await;
    assert_eq!(s.up.count(), 1);

    // `portico cache flush` empties the stage.
    let admin = s.gw.admin.expect("admin").to_string();
    let out = std::process::Command::new(PORTICO)
        .args(["cache", "flush", "testapi", "prod", "--admin", &admin])
        .env("PORTICO_ADMIN_TOKEN", s.gw.admin_token())
        .output()
        .expect("portico cache flush");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let flushed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(flushed["status"], "flushed");
    assert_eq!(flushed["entries"], 0);
    fetch(&s.gw, "/prod/items?type=f", &[]).await;
    assert_eq!(s.up.count(), 2);
    let unknown = send("DELETE", &s.gw.admin_url("/cache/testapi/nocache"), &[], "").await;
    assert_eq!(unknown.status, 404);

    // A flood of distinct keys (about 3x the capacity) never holds more than 256 KiB.
    let gw = Arc::new(s.gw);
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let gw = Arc::clone(&gw);
        tasks.push(tokio::spawn(async move {
            for i in 0..150 {
                let r = send(
                    "GET",
                    &gw.url(&format!("/prod/flood?n={worker}-{i}")),
                    &[],
                    "",
                )
                .await;
                assert_eq!(r.status, 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let stats = get(&gw.admin_url("/cache/testapi/prod")).await.json();
    assert_eq!(stats["capacityBytes"], 256 * 1024);
    let bytes = stats["bytes"].as_u64().unwrap();
    assert!(bytes <= 256 * 1024, "{stats}");
    assert!(bytes > 64 * 1024, "the cache should be well used: {stats}");

    // Over 1 MiB: served whole, never cached.
    for _ in 0..2 {
        let r = fetch(&gw, "/prod/big", &[]).await;
        assert_eq!(r.body.len(), 1536 * 1024 + 10);
    }
    assert_eq!(s.big.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_make_one_upstream_call() {
    let s = start().await;
    let gw = Arc::new(s.gw);
    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (gw, barrier) = (Arc::clone(&gw), Arc::clone(&barrier));
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            // The upstream takes 500 ms, so every request arrives while the first is in flight.
            send(
                "GET",
                &gw.url("/prod/items?type=herd"),
                &[("x-test-sleep-ms", "500")],
                "",
            )
            .await
        }));
    }
    let mut bodies = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        bodies.push(r.body);
    }
    assert_eq!(
        s.up.count(),
        1,
        "100 concurrent misses made more than one upstream call"
    );
    assert!(bodies.iter().all(|b| *b == bodies[0]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_principal_never_gets_anothers_cached_response() {
    let s = start().await;
    let alice = fetch(&s.gw, "/prod/me", &[("authorization", "token-a")]).await;
    assert_eq!(alice.json()["headers"]["x-principal"], "alice");
    let bob = fetch(&s.gw, "/prod/me", &[("authorization", "token-b")]).await;
    assert_eq!(bob.json()["headers"]["x-principal"], "bob");
    assert_eq!(s.up.count(), 2);
    // Each principal has its own entry.
    let again = fetch(&s.gw, "/prod/me", &[("authorization", "token-a")]).await;
    assert_eq!(again.json()["headers"]["x-principal"], "alice");
    assert_eq!(s.up.count(), 2);
    // An unauthorized caller never reaches the cache.
    let denied = send(
        "GET",
        &s.gw.url("/prod/me"),
        &[("authorization", "nope")],
        "",
    )
    .await;
    assert_eq!(denied.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_keeps_entries_its_deployment_still_produces() {
    let s = start().await;
    fetch(&s.gw, "/prod/items?type=r", &[]).await;
    fetch(&s.gw, "/prod/short", &[]).await;
    assert_eq!(s.up.count(), 2);

    // The same configuration again: the entries stay valid.
    let reload = send("POST", &s.gw.admin_url("/reload"), &[], "").await;
    assert_eq!(reload.status, 200, "{}", reload.text());
    fetch(&s.gw, "/prod/items?type=r", &[]).await;
    fetch(&s.gw, "/prod/short", &[]).await;
    assert_eq!(s.up.count(), 2, "an unchanged reload dropped cache entries");

    // `/items` GET changes (a timeout): its entries belong to the old deployment and are not
    // served; `/short` is unchanged and still hits.
    let api = std::fs::read_to_string(s.dir.path("api.yaml")).unwrap();
    let changed = api.replacen(
        "        cacheKeyParameters:",
        "        timeoutInMillis: 5000\n        cacheKeyParameters:",
        1,
    );
    assert_ne!(api, changed);
    s.dir.write("api.yaml", &changed);
    let reload = send("POST", &s.gw.admin_url("/reload"), &[], "").await;
    assert_eq!(reload.status, 200, "{}", reload.text());
    fetch(&s.gw, "/prod/items?type=r", &[]).await;
    assert_eq!(s.up.count(), 3);
    fetch(&s.gw, "/prod/short", &[]).await;
    assert_eq!(s.up.count(), 3);
}

//! API keys, usage plans, throttling and quotas through the real gateway (one node): every
//! status and body, the precedence of the throttle levels, burst and steady rate, quota offset,
//! quota persistence across `kill -9`, reloads that reset nothing, and the admin API.

use std::time::{Duration, Instant};

use crate::support::*;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

const ALICE: &str = "alice-key-0000000000000001";
const BOB: &str = "bob-key-000000000000000002";
const CAROL: &str = "carol-key-0000000000000003";
const DAVE: &str = "dave-key-00000000000000004";

/// A MOCK method answering 200 with the key id; `secured` adds the API-key requirement.
fn method(verb: &str, secured: bool) -> String {
    mock_method(
        verb,
        if secured { "api_key: []" } else { "" },
        r#"{"keyId": "$context.identity.apiKeyId", "key": "$context.identity.apiKey"}"#,
    )
}

fn openapi() -> String {
    format!(
        "openapi: 3.0.1\ninfo: {{title: t, version: '1'}}\ncomponents:\n  securitySchemes:\n    api_key: {{type: apiKey, name: x-api-key, in: header}}\npaths:\n  /pets:\n{}{}  /open:\n{}",
        method("get", true),
        method("post", true),
        method("get", false),
    )
}

/// Keys: alice, bob and dave (disabled) in plan gold on stage prod; carol in no plan.
fn keys(plan: &str) -> String {
    format!(
        r#"api_keys:
  - {{name: alice, value: {ALICE}}}
  - {{name: bob, value: {BOB}}}
  - {{name: carol, value: {CAROL}}}
  - {{name: dave, value: {DAVE}, enabled: false}}
usage_plans:
  - name: gold
    api_stages:
      - {{api: testapi, stage: prod}}
{plan}    keys: [alice, bob, dave]
"#
    )
}

/// Starts a gateway with stages `prod` (and `test`), `traffic` and plan lines.
fn start(dir: &Dir, traffic: &str, plan: &str, stages: &str) -> Portico {
    let extra = format!(
        "traffic:\n  data_dir: data\n  flush_interval_ms: 100\n{traffic}{}",
        keys(plan)
    );
    dir.single_api(&openapi(), stages, &extra);
    Portico::start(dir)
}

const STAGES: &str = "      prod: {}\n      test: {}\n";

async fn call(gw: &Portico, method: &str, path: &str, key: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = key.map(|k| ("x-api-key", k)).into_iter().collect();
    send(method, &gw.url(path), &headers, Bytes::new()).await
}

#[track_caller]
fn assert_throttled(reply: &Reply) {
    assert_gateway_error(
        reply,
        429,
        r#"{"message":"Too Many Requests"}"#,
        "TooManyRequestsException",
    );
    let secs: u64 = reply
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!(secs >= 1, "{secs}");
}

#[tokio::test]
async fn missing_unknown_disabled_or_planless_keys_are_forbidden() {
    let dir = Dir::new();
    let gw = start(&dir, "", "", STAGES);
    let forbidden = |r: &Reply| {
        assert_gateway_error(r, 403, r#"{"message":"Forbidden"}"#, "ForbiddenException")
    };
    forbidden(&call(&gw, "GET", "/prod/pets", None).await);
    forbidden(&call(&gw, "GET", "/prod/pets", Some("no-such-key-000000000000")).await);
    forbidden(&call(&gw, "GET", "/prod/pets", Some(DAVE)).await);
    forbidden(&call(&gw, "GET", "/prod/pets", Some(CAROL)).await);
    // The plan covers prod only.
    forbidden(&call(&gw, "GET", "/test/pets", Some(ALICE)).await);

    let ok = call(&gw, "GET", "/prod/pets", Some(ALICE)).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["keyId"], "alice");
    assert_eq!(ok.json()["key"], ALICE);
    // Methods without apiKeyRequired need no key.
    assert_eq!(call(&gw, "GET", "/prod/open", None).await.status, 200);
    // The access log names the key.
    let line = gw.access_log_for(ok.request_id()).await;
    assert_eq!(line["identity.apiKeyId"], "alice");
}

#[tokio::test]
async fn burst_then_throttled_with_retry_after() {
    let dir = Dir::new();
    // 0.5 rps: no token refills within the test's first second.
    let gw = start(
        &dir,
        "",
        "    throttle: {rate_limit: 0.5, burst_limit: 3}\n",
        STAGES,
    );
    for i in 0..3 {
        let r = call(&gw, "GET", "/prod/pets", Some(ALICE)).await;
        assert_eq!(r.status, 200, "request {i}: {}", r.text());
    }
    let r = call(&gw, "GET", "/prod/pets", Some(ALICE)).await;
    assert_throttled(&r);
    assert_eq!(r.header("retry-after"), Some("2"));
    // The per-key bucket is alice's own.
    assert_eq!(call(&gw, "GET", "/prod/pets", Some(BOB)).await.status, 200);
}

/// Sends `n` requests and returns how many were admitted.
async fn admitted(gw: &Portico, method: &str, path: &str, key: Option<&str>, n: usize) -> usize {
    let mut ok = 0;
    for _ in 0..n {
        let r = call(gw, method, path, key).await;
        match r.status.as_u16() {
            200 => ok += 1,
            429 if r.header("x-amzn-errortype") == Some("LimitExceededException") => {}
            429 => assert_throttled(&r),
            other => panic!("{other}: {}", r.text()),
        }
    }
    ok
}

const TIGHT: &str = "{rate_limit: 0.01, burst_limit: 2}";

#[tokio::test]
async fn precedence_per_key_per_method() {
    let dir = Dir::new();
    // The per-method throttle lives on the plan's stage entry; the per-key one is generous.
    let gw = {
        let extra = format!(
            "traffic:\n  data_dir: data\n{}",
            keys("    throttle: {rate_limit: 1000, burst_limit: 1000}\n").replace(
                "{api: testapi, stage: prod}",
                &format!("{{api: testapi, stage: prod, throttle: {{\"/pets/GET\": {TIGHT}}}}}"),
            )
        );
        dir.single_api(&openapi(), STAGES, &extra);
        Portico::start(&dir)
    };
    assert_eq!(admitted(&gw, "GET", "/prod/pets", Some(ALICE), 4).await, 2);
    // Alice's other methods and bob's GET have their own buckets.
    assert_eq!(admitted(&gw, "POST", "/prod/pets", Some(ALICE), 4).await, 4);
    assert_eq!(admitted(&gw, "GET", "/prod/pets", Some(BOB), 4).await, 2);
}

#[tokio::test]
async fn precedence_per_key() {
    let dir = Dir::new();
    let gw = start(&dir, "", &format!("    throttle: {TIGHT}\n"), STAGES);
    assert_eq!(admitted(&gw, "GET", "/prod/pets", Some(ALICE), 2).await, 2);
    // Alice's bucket covers every method of the plan...
    assert_eq!(admitted(&gw, "POST", "/prod/pets", Some(ALICE), 2).await, 0);
    // ...and bob has his own.
    assert_eq!(admitted(&gw, "GET", "/prod/pets", Some(BOB), 3).await, 2);
}

#[tokio::test]
async fn precedence_stage_method_and_star() {
    let dir = Dir::new();
    let stages = "      prod:\n        method_settings:\n          /pets/GET: {throttling_rate_limit: 0.01, throttling_burst_limit: 2}\n      test:\n        method_settings:\n          '*/*': {throttling_rate_limit: 0.01, throttling_burst_limit: 3}\n";
    let gw = start(&dir, "", "", stages);
    // prod: GET /pets has its own stage bucket, shared by every caller.
    assert_eq!(admitted(&gw, "GET", "/prod/pets", Some(ALICE), 1).await, 1);
    assert_eq!(admitted(&gw, "GET", "/prod/pets", Some(BOB), 3).await, 1);
    assert_eq!(admitted(&gw, "POST", "/prod/pets", Some(ALICE), 3).await, 3);
    assert_eq!(admitted(&gw, "GET", "/prod/open", None, 3).await, 3);
    // test: `*/*` is one bucket for the stage's methods.
    assert_eq!(admitted(&gw, "GET", "/test/open", None, 2).await, 2);
    assert_eq!(admitted(&gw, "GET", "/test/open", None, 2).await, 1);
    assert_eq!(admitted(&gw, "GET", "/prod/open", None, 1).await, 1);
}

#[tokio::test]
async fn precedence_account() {
    let dir = Dir::new();
    let gw = start(&dir, &format!("  account: {TIGHT}\n"), "", STAGES);
    assert_eq!(admitted(&gw, "GET", "/prod/open", None, 1).await, 1);
    assert_eq!(admitted(&gw, "GET", "/test/open", None, 1).await, 1);
    // Every API, stage, method and key shares the account bucket.
    assert_eq!(admitted(&gw, "GET", "/prod/pets", Some(ALICE), 2).await, 0);
    assert_eq!(admitted(&gw, "GET", "/test/open", None, 2).await, 0);
}

#[tokio::test]
async fn steady_rate_stays_within_the_bucket_bound() {
    const RATE: f64 = 20.0;
    const BURST: f64 = 5.0;
    let dir = Dir::new();
    let stages = "      prod:\n        method_settings:\n          '*/*': {throttling_rate_limit: 20, throttling_burst_limit: 5}\n";
    let gw = start(&dir, "", "", stages);
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let url: hyper::Uri = gw.url("/prod/open").parse().unwrap();
    let window = Duration::from_secs(3);
    let (mut ok, mut throttled) = (0usize, 0usize);
    let mut max_gap = Duration::ZERO;
    let started = Instant::now();
    let mut last = started;
    while started.elapsed() < window {
        let resp = client.get(url.clone()).await.expect("request");
        let status = resp.status().as_u16();
        let _ = resp.into_body().collect().await;
        match status {
            200 => ok += 1,
            429 => throttled += 1,
            other => panic!("{other}"),
        }
        let now = Instant::now();
        max_gap = max_gap.max(now - last);
        last = now;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let upper = BURST + RATE * elapsed;
    let measured = (ok as f64 - BURST) / elapsed;
    eprintln!(
        "steady rate: {ok} admitted, {throttled} throttled in {elapsed:.3} s: {measured:.2} rps after the burst (configured {RATE}), max gap {max_gap:?}"
    );
    assert!(throttled > 0, "the client must send faster than the rate");
    // Upper bound: the token bucket never admits more than burst + rate·t.
    assert!(ok as f64 <= upper + 1.0, "{ok} > {upper}");
    assert!(measured <= RATE * 1.05, "{measured} rps");
    // Lower bound: while the client never paused longer than it takes to refill the bucket,
    // every token was spent except those of the first and last round trips. A machine that stalled longer than
    // that only gets the loose bound.
    if max_gap.as_secs_f64() < BURST / RATE {
        // Tokens refilled before the first request reached a full bucket, and after the
        // last one, are lost: each span is at most one round trip, at most `max_gap`.
        let lower = BURST + RATE * (elapsed - 2.0 * max_gap.as_secs_f64()) - 2.0;
        assert!(ok as f64 >= lower, "{ok} < {lower}");
    } else {
        assert!(ok as f64 >= RATE * elapsed * 0.5, "{ok}");
    }
}

#[tokio::test]
async fn quota_offset_then_limit_exceeded() {
    let dir = Dir::new();
    let gw = start(
        &dir,
        "",
        "    quota: {limit: 5, period: DAY, offset: 2}\n",
        STAGES,
    );
    assert_eq!(admitted(&gw, "GET", "/prod/pets", Some(ALICE), 3).await, 3);
    let r = call(&gw, "GET", "/prod/pets", Some(ALICE)).await;
    assert_gateway_error(
        &r,
        429,
        r#"{"message":"Limit Exceeded"}"#,
        "LimitExceededException",
    );
    let secs: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=86_400).contains(&secs), "{secs}");
    // Quotas are per key; stage and account levels still apply to others.
    assert_eq!(admitted(&gw, "GET", "/prod/pets", Some(BOB), 3).await, 3);
}

async fn usage_of(gw: &Portico, key: &str) -> serde_json::Value {
    let r = get(&gw.admin_url("/usageplans/gold/usage")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["items"][key][0].clone()
}

#[tokio::test]
async fn quota_survives_kill_9() {
    let dir = Dir::new();
    let plan = "    quota: {limit: 20, period: MONTH}\n";
    let gw = start(&dir, "", plan, STAGES);
    assert_eq!(
        admitted(&gw, "GET", "/prod/pets", Some(ALICE), 12).await,
        12
    );
    assert_eq!(usage_of(&gw, "alice").await, serde_json::json!([12, 8]));
    // Longer than the 100 ms flush interval (the documented loss window), then SIGKILL.
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(gw);
    let gw = Portico::start(&dir);
    assert_eq!(usage_of(&gw, "alice").await, serde_json::json!([12, 8]));
    assert_eq!(admitted(&gw, "GET", "/prod/pets", Some(ALICE), 10).await, 8);
}

#[tokio::test]
async fn reload_resets_no_counter() {
    let dir = Dir::new();
    let plan = format!("    throttle: {TIGHT}\n    quota: {{limit: 100, period: DAY}}\n");
    let gw = start(&dir, "", &plan, STAGES);
    assert_eq!(admitted(&gw, "GET", "/prod/pets", Some(ALICE), 3).await, 2);
    // Same plan, a changed file (a new stage), then an explicit reload.
    let text = std::fs::read_to_string(dir.path("gateway.yaml")).unwrap();
    dir.write("gateway.yaml", &format!("{text}      staging: {{}}\n"));
    let r = send("POST", &gw.admin_url("/reload"), &[], Bytes::new()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(call(&gw, "GET", "/staging/open", None).await.status, 200);
    // The drained bucket is still drained, and the quota still counts 2.
    assert_throttled(&call(&gw, "GET", "/prod/pets", Some(ALICE)).await);
    assert_eq!(usage_of(&gw, "alice").await, serde_json::json!([2, 98]));
}

#[tokio::test]
async fn admin_keys_and_usage() {
    let dir = Dir::new();
    let gw = start(&dir, "", "    quota: {limit: 3, period: WEEK}\n", STAGES);
    // Listing hides values unless asked.
    let list = get(&gw.admin_url("/apikeys")).await.json();
    assert!(list.to_string().contains("\"alice\""));
    assert!(!list.to_string().contains(ALICE));
    let list = get(&gw.admin_url("/apikeys?includeValues=true"))
        .await
        .json();
    assert!(list.to_string().contains(ALICE));

    // A runtime key, generated value, added to gold: usable at once, persisted.
    let created = send(
        "POST",
        &gw.admin_url("/apikeys"),
        &[],
        r#"{"name":"erin","usagePlans":["gold"]}"#,
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let value = created.json()["value"].as_str().unwrap().to_owned();
    assert_eq!(value.len(), 40);
    assert_eq!(
        call(&gw, "GET", "/prod/pets", Some(&value)).await.json()["keyId"],
        "erin"
    );
    assert!(dir.path("data/apikeys.json").exists());
    let clash = send(
        "POST",
        &gw.admin_url("/apikeys"),
        &[],
        r#"{"name":"alice"}"#,
    )
    .await;
    assert_eq!(clash.status, 409, "{}", clash.text());

    // Quota exhausted, extended, reset.
    assert_eq!(admitted(&gw, "GET", "/prod/pets", Some(ALICE), 4).await, 3);
    let url = gw.admin_url("/usageplans/gold/keys/alice/usage");
    let r = send("POST", &url, &[], r#"{"extend": 2}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["remaining"], 2);
    assert_eq!(admitted(&gw, "GET", "/prod/pets", Some(ALICE), 3).await, 2);
    let r = send("POST", &url, &[], r#"{"reset": true}"#).await;
    assert_eq!(r.json()["remaining"], 3);

    // GetUsage shape.
    let usage =
        get(&gw.admin_url("/usageplans/gold/usage?startDate=2020-01-01&endDate=2020-01-02")).await;
    assert_eq!(usage.status, 200, "{}", usage.text());
    let u = usage.json();
    assert_eq!(u["usagePlanId"], "gold");
    assert_eq!(u["startDate"], "2020-01-01");
    assert_eq!(u["items"]["alice"].as_array().unwrap().len(), 2);
    assert_eq!(
        get(&gw.admin_url("/usageplans/nope/usage")).await.status,
        404
    );

    // Health reports the traffic core.
    let health = get(&gw.admin_url("/health")).await.json();
    assert_eq!(health["traffic"]["status"], "ok");

    // Runtime keys survive a restart.
    drop(gw);
    let gw = Portico::start(&dir);
    assert_eq!(
        call(&gw, "GET", "/prod/pets", Some(&value)).await.status,
        200
    );
}

#[tokio::test]
async fn invalid_traffic_config_is_reported_with_paths() {
    let dir = Dir::new();
    dir.single_api(
        &openapi(),
        STAGES,
        "api_keys:\n  - {name: short, value: tooshort}\n  - {name: a, value: aaaaaaaaaaaaaaaaaaaaaaaa}\n  - {name: b, value: aaaaaaaaaaaaaaaaaaaaaaaa}\nusage_plans:\n  - name: p\n    api_stages: [{api: testapi, stage: nope}, {api: testapi, stage: prod, throttle: {\"/cats/GET\": {rate_limit: -1, burst_limit: 1}}}]\n    quota: {limit: 1, period: YEAR}\n    keys: [a, ghost]\n  - name: q\n    api_stages: [{api: testapi, stage: prod}]\n    keys: [a]\ntraffic:\n  fail_mode: sideways\n  bogus: 1\n",
    );
    let out = check(&dir);
    assert!(!out.ok);
    let text = out.stdout;
    // Unknown keys stop parsing first.
    assert!(text.contains("bogus"), "{text}");
    let fixed = std::fs::read_to_string(dir.path("gateway.yaml"))
        .unwrap()
        .replace("  bogus: 1\n", "");
    dir.write("gateway.yaml", &fixed);
    let text = check(&dir).stdout;
    for expected in [
        "gateway.yaml: api_keys[0].value: an API key value has 20 to 128",
        "gateway.yaml: api_keys[2].value: another key has the same value",
        "gateway.yaml: usage_plans[0].api_stages[0].stage: API testapi has no stage nope",
        "usage_plans[0].api_stages[1].throttle./cats/GET: API testapi has no such method",
        "usage_plans[0].api_stages[1].throttle./cats/GET.rate_limit: must be a number",
        "usage_plans[0].quota.period: \"YEAR\" is not DAY, WEEK or MONTH",
        "usage_plans[0].keys[1]: no API key is named ghost",
        "usage_plans[1].keys: key a is already in usage plan p for stage testapi/prod",
        "traffic.fail_mode: \"sideways\" is not open or closed",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

/// `x-amazon-apigateway-api-key-source: AUTHORIZER`: the key is the authorizer's
/// `usageIdentifierKey`, not the `x-api-key` header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_from_the_authorizer() {
    let dir = Dir::new();
    let api = format!(
        "openapi: 3.0.1\ninfo: {{title: t, version: '1'}}\nx-amazon-apigateway-api-key-source: AUTHORIZER\ncomponents:\n  securitySchemes:\n    api_key: {{type: apiKey, name: x-api-key, in: header}}\n{}paths:\n  /pets:\n{}",
        authorizer_scheme("tokenAuth", "header-auth"),
        method("get", true).replace(
            "security: [{api_key: []}]",
            "security: [{tokenAuth: [], api_key: []}]"
        ),
    );
    let plugin = format!(
        "plugins:\n  - name: header-auth\n    kind: authorizer\n    file: {}\n    config:\n      tokens: {{token-a: alice-user, token-c: carol-user, token-n: nobody}}\n      usage_identifier_keys: {{token-a: {ALICE}, token-c: {CAROL}}}\n",
        repo_file("plugins/dist/authorizer-header.wasm").display()
    );
    let extra = format!("traffic:\n  data_dir: data\n{plugin}{}", keys(""));
    dir.single_api(&api, STAGES, &extra);
    let gw = Portico::start(&dir);
    let get = |token: &'static str, key: Option<&'static str>| {
        let url = gw.url("/prod/pets");
        async move {
            let mut headers = vec![("authorization", token)];
            headers.extend(key.map(|k| ("x-api-key", k)));
            send("GET", &url, &headers, Bytes::new()).await
        }
    };

    let ok = get("token-a", None).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["keyId"], "alice");
    // carol's key is in no plan; `nobody` gets no key, and the header does not count.
    for (token, header) in [
        ("token-c", None),
        ("token-n", None),
        ("token-n", Some(ALICE)),
    ] {
        let r = get(token, header).await;
        assert_gateway_error(&r, 403, r#"{"message":"Forbidden"}"#, "ForbiddenException");
    }
    // The authorizer runs first: an unknown token is its 401, not a key error.
    let r = get("token-x", None).await;
    assert_eq!(r.status, 401, "{}", r.text());
}

/// `portico plans ...` against the admin API: a plan made at runtime applies at once, with its
/// quota, to a runtime key added to it; it is kept across a restart; a plan with a key in it,
/// or one of the gateway file, cannot be deleted.
#[tokio::test]
async fn usage_plans_made_with_the_cli() {
    let dir = Dir::new();
    let gw = start(&dir, "", "", STAGES);
    let portico = |gw: &Portico, args: &[&str]| {
        let out = std::process::Command::new(PORTICO)
            .args(args)
            .args([
                "--admin",
                &gw.admin.unwrap().to_string(),
                "--output",
                "json",
            ])
            .env("PORTICO_ADMIN_TOKEN", gw.admin_token())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.success(), text, err)
    };
    let key = send(
        "POST",
        &gw.admin_url("/apikeys"),
        &[],
        r#"{"name":"frank","value":"frank-key-0000000000000006"}"#,
    )
    .await;
    assert_eq!(key.status, 201, "{}", key.text());
    let frank = "frank-key-0000000000000006";
    assert_eq!(
        call(&gw, "GET", "/prod/pets", Some(frank)).await.status,
        403
    );

    let (ok, out, err) = portico(
        &gw,
        &[
            "plans",
            "create",
            "--name",
            "Silver tier",
            "--stage",
            "testapi/prod",
            "--quota",
            "2/day",
            "--rate",
            "100",
            "--burst",
            "50",
        ],
    );
    assert!(ok, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = plan["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 6, "{plan}");
    assert_eq!(plan["name"], "Silver tier");
    assert_eq!(plan["quota"]["period"], "DAY");
    assert_eq!(plan["throttle"]["burstLimit"], 50);
    let (ok, _, err) = portico(&gw, &["plans", "add-key", &id, "frank"]);
    assert!(ok, "{err}");
    assert_eq!(admitted(&gw, "GET", "/prod/pets", Some(frank), 3).await, 2);

    let (ok, _, err) = portico(&gw, &["plans", "delete", &id]);
    assert!(!ok && err.contains("frank"), "{err}");
    let (ok, _, err) = portico(&gw, &["plans", "delete", "gold"]);
    assert!(!ok && err.contains("gateway file"), "{err}");
    let (ok, _, err) = portico(
        &gw,
        &["plans", "create", "--name", "x", "--stage", "testapi/nope"],
    );
    assert!(!ok && err.contains("no stage nope"), "{err}");

    // Longer than the 100 ms flush interval (the documented loss window), then SIGKILL: the
    // quota the key used must survive the restart.
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(gw);
    let gw = Portico::start(&dir);
    let (ok, out, err) = portico(&gw, &["plans", "list"]);
    assert!(ok, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["gold", id.as_str()], "{list}");
    assert_eq!(
        call(&gw, "GET", "/prod/pets", Some(frank)).await.status,
        429
    );
}

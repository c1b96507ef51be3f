//! WebAssembly plugins through the real gateway: authorizers in Rust, JavaScript and Python,
//! `aws_proxy` functions (Lambda event style and `wasi:http`), mappers, misbehaving plugins,
//! and hot deploy with rollback under load.
//!
//! The components come from `bash plugins/build.sh --all` (run by `tests/run.sh`).

/// Access control: policy authorizers, resource policies, JWT (see the module).
#[path = "access.rs"]
mod access;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::*;

fn guarded_mock(path: &str, scheme: &str) -> String {
    mock_at(
        path,
        &format!("{scheme}: []"),
        r#"{"principal": "$context.authorizer.principalId", "scope": "$context.authorizer.scope"}"#,
    )
}

fn function_route(path: &str, function: &str, format: &str) -> String {
    format!(
        r#"  {path}:
    x-amazon-apigateway-any-method:
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        payloadFormatVersion: "{format}"
        uri: {LAMBDA}:{function}/invocations
"#
    )
}

struct Setup {
    _dir: Dir,
    gw: Portico,
    up: Upstream,
}

/// A gateway with the Rust plugins (and the JS/Python authorizers when `interpreted`).
async fn start(interpreted: bool) -> Setup {
    let up = Upstream::start().await;
    let dir = Dir::new();
    let mut plugins = format!(
        r#"plugins:
  - name: header-auth
    kind: authorizer
    file: {header}
    config: {{header: authorization, tokens: {{allow-token: user-1}}, deny: [deny-token]}}
  - name: loop-auth
    kind: authorizer
    file: {looping}
    timeout_ms: 50
  - name: echo
    kind: function
    file: {echo}
  - name: echo-http
    kind: function
    file: {echo_http}
  - name: trap
    kind: function
    file: {trap}
  - name: enrich
    kind: mapper
    file: {enrich}
  - name: bomb
    kind: mapper
    file: {bomb}
    memory_mb: 16
    timeout_ms: 10000   # the memory limit, not the deadline, must stop it, however loaded the machine
"#,
        header = component("authorizer-header").display(),
        looping = component("authorizer-infinite-loop").display(),
        echo = component("function-echo").display(),
        echo_http = component("function-echo-http").display(),
        trap = component("function-trap").display(),
        enrich = component("mapper-enrich").display(),
        bomb = component("mapper-alloc-bomb").display(),
    );
    let mut schemes =
        authorizer_scheme("rustAuth", "header-auth") + &authorizer_scheme("loopAuth", "loop-auth");
    let mut paths = guarded_mock("/rust", "rustAuth") + &guarded_mock("/loop", "loopAuth");
    if interpreted {
        plugins.push_str(&format!(
            "  - name: js-auth\n    kind: authorizer\n    file: {}\n    instances: reuse\n    timeout_ms: 5000\n    memory_mb: 256\n  - name: py-auth\n    kind: authorizer\n    file: {}\n    instances: reuse\n    timeout_ms: 5000\n    memory_mb: 256\n",
            component("authorizer-js").display(),
            component("authorizer-py").display()
        ));
        schemes += &authorizer_scheme("jsAuth", "js-auth");
        schemes += &authorizer_scheme("pyAuth", "py-auth");
        paths += &guarded_mock("/js", "jsAuth");
        paths += &guarded_mock("/py", "pyAuth");
    }
    paths += &function_route("/fn/{proxy+}", "echo", "1.0");
    paths += &function_route("/fn2", "echo", "2.0");
    paths += &function_route("/http/{proxy+}", "echo-http", "1.0");
    paths += &function_route("/trap", "trap", "1.0");
    paths += &format!(
        r#"  /enrich:
    post:
      x-portico-mapper: enrich
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: POST
        uri: http://{}/enriched
  /bomb:
    post:
      x-portico-mapper: bomb
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: POST
        uri: http://{}/bomb
"#,
        up.addr, up.addr
    );
    let api = format!(
        "openapi: 3.0.1\ninfo: {{title: plugins, version: '1'}}\ncomponents:\n  securitySchemes:\n{schemes}paths:\n{paths}"
    );
    dir.single_api(
        &api,
        "      prod: {}\n",
        &format!("  watch: false\n{plugins}"),
    );
    let gw = Portico::start(&dir);
    Setup { _dir: dir, gw, up }
}

async fn call(gw: &Portico, path: &str, token: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = token.map(|t| ("authorization", t)).into_iter().collect();
    send("GET", &gw.url(path), &headers, "").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_authorizer_allows_denies_and_rejects() {
    let s = start(false).await;
    let ok = call(&s.gw, "/prod/rust", Some("allow-token")).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["principal"], "user-1");
    assert_eq!(ok.json()["scope"], "read");

    let denied = call(&s.gw, "/prod/rust", Some("deny-token")).await;
    assert_gateway_error(
        &denied,
        403,
        r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#,
        "AccessDeniedException",
    );
    for token in [None, Some("unknown-token")] {
        let reply = call(&s.gw, "/prod/rust", token).await;
        assert_gateway_error(
            &reply,
            401,
            r#"{"message":"Unauthorized"}"#,
            "UnauthorizedException",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_and_python_authorizers() {
    let s = start(true).await;
    for (path, prefix, principal) in [("/prod/js", "js", "js-user"), ("/prod/py", "py", "py-user")]
    {
        let ok = call(&s.gw, path, Some(&format!("{prefix}-allow"))).await;
        assert_eq!(ok.status, 200, "{path}: {}", ok.text());
        assert_eq!(ok.json()["principal"], principal);
        let denied = call(&s.gw, path, Some(&format!("{prefix}-deny"))).await;
        assert_eq!(denied.status, 403, "{path}: {}", denied.text());
        let other = call(&s.gw, path, Some("nope")).await;
        assert_eq!(other.status, 401, "{path}: {}", other.text());
        // A Lambda-style output: a policy for this method ARN, context stringified.
        let policy = call(&s.gw, path, Some(&format!("{prefix}-policy"))).await;
        assert_eq!(policy.status, 200, "{path}: {}", policy.text());
        assert_eq!(policy.json()["principal"], principal);
        assert_eq!(policy.json()["scope"], "read");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_plugins_get_their_status_and_the_gateway_keeps_serving() {
    let s = start(false).await;
    let started = Instant::now();
    let looping = call(&s.gw, "/prod/loop", Some("anything")).await;
    assert_gateway_error(
        &looping,
        500,
        r#"{"message": null}"#,
        "AuthorizerFailureException",
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the 50 ms deadline held: {:?}",
        started.elapsed()
    );

    let trapped = send("POST", &s.gw.url("/prod/trap"), &[], "{}").await;
    assert_gateway_error(
        &trapped,
        502,
        r#"{"message": "Internal server error"}"#,
        "InternalServerErrorException",
    );

    let bomb = send("POST", &s.gw.url("/prod/bomb"), &[], "x").await;
    assert_gateway_error(
        &bomb,
        500,
        r#"{"message": "Internal server error"}"#,
        "InternalServerErrorException",
    );
    assert_eq!(s.up.count(), 0, "the integration never ran");

    // Still serving.
    assert_eq!(
        call(&s.gw, "/prod/rust", Some("allow-token")).await.status,
        200
    );
    let metrics = get(&s.gw.admin_url("/metrics")).await.text();
    for expected in [
        r#"portico_plugin_faults_total{plugin="loop-auth",fault="deadline"} 1"#,
        r#"portico_plugin_faults_total{plugin="trap",fault="trap"} 1"#,
        r#"portico_plugin_faults_total{plugin="bomb",fault="out_of_memory"} 1"#,
    ] {
        assert!(
            metrics.contains(expected),
            "missing {expected} in\n{metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_proxy_functions_answer_as_aws_does() {
    let s = start(false).await;
    let echo = send(
        "POST",
        &s.gw.url("/prod/fn/a/b?x=1&x=2"),
        &[("content-type", "text/plain")],
        "hello",
    )
    .await;
    assert_eq!(echo.status, 200, "{}", echo.text());
    assert_eq!(echo.header("content-type"), Some("application/json"));
    let body = echo.json();
    assert_eq!(body["method"], "POST");
    assert_eq!(
        body["path"], "/fn/a/b",
        "payload 1.0: the path without the stage"
    );
    assert_eq!(body["body"], "hello");

    // The AWS-validated table of reference §8.3.
    // (shape, status, a header to expect, the exact body to expect)
    type Case<'a> = (&'a str, u16, Option<(&'a str, &'a str)>, Option<&'a str>);
    let cases: &[Case<'_>] = &[
        ("status-only", 200, None, Some("")),
        ("bool-header", 200, Some(("header-bool", "true")), None),
        ("null-headers", 200, None, None),
        (
            "unknown-key",
            502,
            None,
            Some(r#"{"message": "Internal server error"}"#),
        ),
        (
            "empty",
            502,
            None,
            Some(r#"{"message": "Internal server error"}"#),
        ),
        ("base64", 200, None, Some("dGVzdC1kYXRh")),
        ("multi", 200, Some(("test-multi", "value1, value2")), None),
        (
            "multi-merge",
            200,
            Some(("test-multi", "value-multi, value-solo")),
            None,
        ),
        ("multi-not-list", 502, None, None),
        ("status-string-bad", 502, None, None),
        ("status-string", 201, None, None),
        ("just-string", 502, None, None),
        ("no-status", 200, Some(("test-header", "value")), None),
        (
            "error",
            502,
            None,
            Some(r#"{"message": "Internal server error"}"#),
        ),
    ];
    for (shape, status, header, body) in cases {
        let reply = get(&s.gw.url(&format!("/prod/fn/x?shape={shape}"))).await;
        assert_eq!(reply.status.as_u16(), *status, "{shape}: {}", reply.text());
        if let Some((name, value)) = header {
            assert_eq!(reply.header(name), Some(*value), "{shape}");
        }
        if let Some(body) = body {
            assert_eq!(reply.text(), *body, "{shape}");
        }
    }

    // Payload format 2.0: a bare JSON string becomes the body.
    let v2 = send("POST", &s.gw.url("/prod/fn2?shape=just-string"), &[], "").await;
    assert_eq!(v2.status, 200, "{}", v2.text());
    assert_eq!(v2.text(), "justAString");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasi_http_component_serves_an_integration() {
    let s = start(false).await;
    let reply = send("PUT", &s.gw.url("/prod/http/items/7?q=1"), &[], "payload").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-handler"), Some("wasi-http"));
    let body = reply.text();
    assert!(
        body.contains("PUT") && body.contains("/prod/http/items/7?q=1") && body.contains("payload"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapper_enriches_request_and_response() {
    let s = start(false).await;
    let reply = send(
        "POST",
        &s.gw.url("/prod/enrich?keep=1"),
        &[("x-client", "c")],
        "body",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-mapped"), Some("true"));
    let seen = s.up.last();
    assert_eq!(seen.headers["x-enriched"], "true");
    assert_eq!(seen.headers["x-request-id"], reply.request_id());
    assert_eq!(seen.headers["x-client"], "c");
    assert_eq!(seen.target, "/enriched?keep=1");
    assert_eq!(seen.body, bytes::Bytes::from("body"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_are_checked_and_roll_back_under_load() {
    let s = start(false).await;
    let gw = Arc::new(s.gw);
    let admin = |p: &str| gw.admin_url(p);
    let deploy = |name: &str, bytes: Vec<u8>| {
        let url = admin(&format!("/plugins/{name}"));
        async move { send("PUT", &url, &[], bytes).await }
    };

    // Broken components are rejected, with a message; the old version keeps serving.
    for (file, needle) in [
        ("authorizer-wrong-world", "does not implement"),
        ("authorizer-needs-kv", "kv"),
        ("function-echo", "authorize"),
    ] {
        let reply = deploy("header-auth", std::fs::read(component(file)).unwrap()).await;
        assert_eq!(reply.status, 400, "{file}: {}", reply.text());
        assert_eq!(reply.json()["status"], "rejected");
        assert!(reply.text().contains(needle), "{file}: {}", reply.text());
    }
    let garbage = deploy("header-auth", b"not wasm".to_vec()).await;
    assert_eq!(garbage.status, 400);
    assert_eq!(deploy("nope", b"x".to_vec()).await.status, 404);
    assert_eq!(call(&gw, "/prod/rust", None).await.status, 401);

    // Load: allow-token is allowed by both versions, so every request must answer 200.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (gw, stop, ok) = (Arc::clone(&gw), Arc::clone(&stop), Arc::clone(&ok));
        clients.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let reply = call(&gw, "/prod/rust", Some("allow-token")).await;
                if reply.status == 200 {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failures.push(reply.status);
                }
            }
            failures
        }));
    }
    let allow_all = std::fs::read(component("authorizer-allow")).unwrap();
    let header = std::fs::read(component("authorizer-header")).unwrap();
    for i in 0..6 {
        let bytes = if i % 2 == 0 {
            allow_all.clone()
        } else {
            header.clone()
        };
        let reply = deploy("header-auth", bytes).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let failures = c.await.unwrap();
        assert!(
            failures.is_empty(),
            "failed requests during deploys: {failures:?}"
        );
    }
    assert!(
        ok.load(Ordering::Relaxed) > 20,
        "only {} requests",
        ok.load(Ordering::Relaxed)
    );

    // The last deploy was authorizer-header; deploy allow-all, then roll back.
    assert_eq!(deploy("header-auth", allow_all).await.status, 200);
    // A missing token is a 401 without a call (AWS identity-source rule); any token is let in.
    assert_eq!(call(&gw, "/prod/rust", None).await.status, 401);
    assert_eq!(
        call(&gw, "/prod/rust", Some("stranger")).await.status,
        200,
        "allow-all lets anyone in"
    );
    let rollback = send("POST", &admin("/plugins/header-auth/rollback"), &[], "").await;
    assert_eq!(rollback.status, 200, "{}", rollback.text());
    assert_eq!(
        call(&gw, "/prod/rust", Some("stranger")).await.status,
        401,
        "rolled back to the header authorizer"
    );
    let listed = get(&admin("/plugins")).await.json();
    assert!(
        listed["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "header-auth")
    );
}

#[test]
fn a_plugin_without_its_grant_is_rejected_at_start() {
    let dir = Dir::new();
    dir.single_api(
        &format!(
            "openapi: 3.0.1\ninfo: {{title: t, version: '1'}}\ncomponents:\n  securitySchemes:\n{}paths:\n{}",
            authorizer_scheme("kvAuth", "kv-auth"),
            guarded_mock("/kv", "kvAuth")
        ),
        "      prod: {}\n",
        &format!(
            "plugins:\n  - name: kv-auth\n    kind: authorizer\n    file: {}\n",
            component("authorizer-needs-kv").display()
        ),
    );
    let stderr = serve_refuses(&dir);
    assert!(
        stderr.contains("kv-auth") && stderr.contains("kv"),
        "{stderr}"
    );
}

/// An authorizer that calls out: OAuth token introspection through the host's pooled client,
/// to an allow-listed host only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_authorizer_calls_out_through_the_pooled_client() {
    let idp = Upstream::answering(|seen| match &seen.body[..] {
        b"token=good-token" => (
            http::StatusCode::OK,
            r#"{"active":true,"sub":"alice","scope":"pets:read"}"#.into(),
        ),
        b"token=broken" => (http::StatusCode::INTERNAL_SERVER_ERROR, "{}".into()),
        _ => (http::StatusCode::OK, r#"{"active":false}"#.into()),
    })
    .await;
    let port = idp.addr.port();
    let dir = Dir::new();
    // The same component twice: once pointed at the allowed 127.0.0.1, once at `localhost`,
    // which is not on its allow-list.
    let plugin = |name: &str, host: &str| {
        format!(
            "  - name: {name}\n    kind: authorizer\n    file: {}\n    grants: [log, config, http]\n    http_allow: [127.0.0.1]\n    config: {{url: 'http://{host}:{port}/introspect'}}\n",
            component("authorizer-introspect").display()
        )
    };
    dir.single_api(
        &format!(
            "openapi: 3.0.1\ninfo: {{title: t, version: '1'}}\ncomponents:\n  securitySchemes:\n{}{}paths:\n{}{}",
            authorizer_scheme("idp", "introspect"),
            authorizer_scheme("elsewhere", "introspect-elsewhere"),
            guarded_mock("/idp", "idp"),
            guarded_mock("/elsewhere", "elsewhere"),
        ),
        "      prod: {}\n",
        &format!(
            "  watch: false\nplugins:\n{}{}",
            plugin("introspect", "127.0.0.1"),
            plugin("introspect-elsewhere", "localhost")
        ),
    );
    let gw = Portico::start(&dir);

    for _ in 0..5 {
        let ok = call(&gw, "/prod/idp", Some("Bearer good-token")).await;
        assert_eq!(ok.status, 200, "{}", ok.text());
        assert_eq!(ok.json()["principal"], "alice");
        assert_eq!(ok.json()["scope"], "pets:read");
        // The next request may land on the other worker thread, and the pooled connection goes
        // back to the pool only once its connection task (on the first worker) has seen the
        // exchange end: on a loaded machine a call arriving before that opens a second one.
        // Reuse is what is tested here, so give the pool that moment.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(idp.count(), 5);
    let seen = idp.last();
    assert_eq!(seen.method, http::Method::POST);
    assert_eq!(seen.target, "/introspect");
    // Five sequential calls, one connection: the host's pooled client, not one per call.
    assert_eq!(idp.connections.load(Ordering::SeqCst), 1);

    let inactive = call(&gw, "/prod/idp", Some("Bearer other-token")).await;
    assert_gateway_error(
        &inactive,
        401,
        r#"{"message":"Unauthorized"}"#,
        "UnauthorizedException",
    );
    let broken = call(&gw, "/prod/idp", Some("broken")).await;
    assert_eq!(broken.status, 503, "{}", broken.text());
    assert_eq!(broken.text(), r#"{"message":"Service Unavailable"}"#);
    assert_eq!(idp.count(), 7);

    // A host that is not allowed is never contacted; the plugin hears `host-not-allowed`.
    let refused = call(&gw, "/prod/elsewhere", Some("good-token")).await;
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert_eq!(idp.count(), 7);
}

/// A function integration's plugin is resolved when the configuration is checked, not when a
/// request arrives: a missing one, one of another kind, and a stage whose `${stageVariables.fn}`
/// names a missing one are each a `check` error with its place, and `serve` refuses to start.
#[test]
fn check_resolves_every_function_slot() {
    let dir = Dir::new();
    let api = format!(
        "openapi: 3.0.1\ninfo: {{title: t, version: '1'}}\npaths:\n{}{}{}{}",
        function_route("/ok", "echo", "1.0"),
        function_route("/ghost", "ghost", "1.0"),
        function_route("/wrong", "allow", "2.0"),
        function_route("/staged", "${stageVariables.fn}", "2.0"),
    );
    let plugins = format!(
        "plugins:\n  - name: echo\n    kind: function\n    file: {}\n  - name: allow\n    kind: authorizer\n    file: {}\n",
        component("function-echo").display(),
        component("authorizer-allow").display(),
    );
    dir.single_api(
        &api,
        "      prod: {variables: {fn: echo}}\n      beta: {variables: {fn: missing}}\n",
        &plugins,
    );
    let out = check(&dir);
    let text = out.text();
    assert!(!out.ok, "{text}");
    for expected in [
        "the aws_proxy integration names ghost, but the gateway file declares no plugin of that name",
        "the aws_proxy integration names plugin allow, of kind authorizer, not function",
        "the aws_proxy integration in stage beta names missing, but the gateway file declares no plugin of that name",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // The route and the stage that resolve are not reported.
    assert!(!text.contains("/ok"), "{text}");
    assert!(!text.contains("stage prod"), "{text}");

    let stderr = serve_refuses(&dir);
    assert!(stderr.contains("names ghost"), "{stderr}");
}

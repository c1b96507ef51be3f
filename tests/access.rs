//! Access control through the real gateway (included by `tests/plugins.rs`, which provides
//! `component` and the fixtures): Lambda-style policy authorizers and their decision cache,
//! simple responses, a 0.1.0 authorizer, resource policies with trusted proxies, and JWT
//! authorizers against a JWKS served on 127.0.0.1.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::component;
use crate::support::*;

/// The HS256 secret of the `x-portico-jwt-secret-env` authorizer.
const JWT_SECRET: &str = "a shared secret of at least thirty-two bytes!";

/// What `authorizer-policy` answers, per token.
const OUTPUTS: &str = r#"{
  "outputs": {
    "alice": {"principalId": "alice",
              "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "$methodArn"}]},
              "context": {"tier": "gold", "level": 3, "admin": false}},
    "bob": {"principalId": "bob",
            "policyDocument": {"Statement": [
              {"Effect": "Allow", "Action": "execute-api:*", "Resource": "$stageArn"},
              {"Effect": "Deny", "Action": "execute-api:Invoke",
               "Resource": "arn:aws:execute-api:*:*:testapi/prod/GET/pets/secret"}]}},
    "nested": {"principalId": "n", "policyDocument": {"Statement": []}, "context": {"o": {"a": 1}}},
    "badpolicy": {"principalId": "b", "policyDocument": {"Statement": [
      {"Effect": "Maybe", "Action": "execute-api:Invoke", "Resource": "*"}]}},
    "noprincipal": {"policyDocument": {"Statement": []}},
    "yes": {"isAuthorized": true, "context": {"team": "blue"}},
    "no": {"isAuthorized": false}
  },
  "unauthorized": ["expired"]
}"#;

/// [`OUTPUTS`], plus `big`: a context over API Gateway's 8 KB limit.
fn outputs() -> String {
    let mut v: Value = serde_json::from_str(OUTPUTS).unwrap();
    v["outputs"]["big"] = json!({"principalId": "big", "policyDocument": {"Statement": []},
                                 "context": {"blob": "x".repeat(9000)}});
    v.to_string()
}

/// What the authorizer routes answer: the `$context` values the tests look at.
const CONTEXT_TEMPLATE: &str = r#"{"p": "$context.authorizer.principalId", "tier": "$context.authorizer.tier", "level": "$context.authorizer.level", "admin": "$context.authorizer.admin", "team": "$context.authorizer.team", "era": "$context.authorizer.era", "sub": "$context.authorizer.claims.sub", "ip": "$context.identity.sourceIp"}"#;

/// A GET behind the security scheme `scheme`, answering [`CONTEXT_TEMPLATE`].
fn mock(path: &str, scheme: &str) -> String {
    mock_at(path, &format!("{scheme}: []"), CONTEXT_TEMPLATE)
}

/// A JWT authorizer scheme `name` for tokens of `issuer` with audience `aud-1`, plus `extra`
/// lines of `x-amazon-apigateway-authorizer` (indented 8).
fn jwt_scheme(name: &str, issuer: &str, extra: &str) -> String {
    format!(
        r#"    {name}:
      type: oauth2
      flows: {{}}
      x-amazon-apigateway-authorizer:
        type: jwt
{extra}        jwtConfiguration: {{issuer: "{issuer}", audience: [aud-1]}}
"#
    )
}

struct Gw {
    _dir: Dir,
    gw: Portico,
}

/// A gateway with the policy and legacy authorizers on several routes and the `echo`
/// function, plus extra security schemes, paths, OpenAPI top-level text and gateway-file text.
fn start(schemes_extra: &str, paths_extra: &str, top_extra: &str, gateway_extra: &str) -> Gw {
    let dir = Dir::new();
    let plugins = format!(
        "plugins:\n  - name: pol\n    kind: authorizer\n    file: {}\n    config: {}\n  - name: legacy\n    kind: authorizer\n    file: {}\n  - name: echo\n    kind: function\n    file: {}\n",
        component("authorizer-policy").display(),
        outputs(),
        component("authorizer-legacy").display(),
        component("function-echo").display(),
    );
    let schemes = lambda_authorizer_scheme("cached", "token", "pol", 300, "")
        + &lambda_authorizer_scheme("uncached", "token", "pol", 0, "")
        + &lambda_authorizer_scheme(
            "byQuery",
            "request",
            "pol",
            300,
            "        identitySource: method.request.header.Authorization, method.request.querystring.v\n",
        )
        + &lambda_authorizer_scheme(
            "simple",
            "request",
            "pol",
            0,
            "        identitySource: method.request.header.Authorization\n        authorizerPayloadFormatVersion: '2.0'\n        enableSimpleResponses: true\n",
        )
        + &lambda_authorizer_scheme("old", "token", "legacy", 0, "")
        + schemes_extra;
    let paths = mock("/pets", "cached")
        + &mock("/pets/{id}", "cached")
        + &mock("/nocache", "uncached")
        + &mock("/nocache/{id}", "uncached")
        + &mock("/q", "byQuery")
        + &mock("/q/{id}", "byQuery")
        + &mock("/simple", "simple")
        + &mock("/legacy", "old")
        + paths_extra;
    let api = format!(
        "openapi: 3.0.1\ninfo: {{title: access, version: '1'}}\n{top_extra}components:\n  securitySchemes:\n{schemes}paths:\n{paths}"
    );
    dir.single_api(
        &api,
        "      prod: {}\n",
        &format!("{gateway_extra}{plugins}"),
    );
    let gw = Portico::start_with_env(&dir, &[("PORTICO_TEST_JWT_SECRET", JWT_SECRET)]);
    Gw { _dir: dir, gw }
}

async fn call(gw: &Portico, path: &str, token: &str) -> Reply {
    send("GET", &gw.url(path), &[("authorization", token)], "").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_outputs_are_evaluated_per_method_arn_and_cached_by_identity() {
    let s = start("", "", "", "");
    // alice's policy names the method ARN of the call that produced it: GET /pets only.
    let ok = call(&s.gw, "/prod/pets", "alice").await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let body = ok.json();
    assert_eq!(body["p"], "alice");
    // Context values are stringified.
    assert_eq!(
        (&body["tier"], &body["level"], &body["admin"]),
        (&json!("gold"), &json!("3"), &json!("false"))
    );
    // The same token on another method: the cached policy (for GET /pets) is evaluated
    // against GET /pets/1 and allows nothing else. Uncached, the plugin would have allowed it.
    let other = call(&s.gw, "/prod/pets/1", "alice").await;
    assert_gateway_error(
        &other,
        403,
        r#"{"Message":"User is not authorized to access this resource"}"#,
        "AccessDeniedException",
    );
    // TTL 0: each call gets a policy for its own method ARN.
    assert_eq!(call(&s.gw, "/prod/nocache", "alice").await.status, 200);
    assert_eq!(call(&s.gw, "/prod/nocache/1", "alice").await.status, 200);
    // REQUEST authorizer keyed by header and query: changing either value is a miss.
    let q = |p: &'static str| {
        let url = s.gw.url(p);
        async move { send("GET", &url, &[("authorization", "alice")], "").await }
    };
    assert_eq!(q("/prod/q?v=1").await.status, 200);
    assert_eq!(q("/prod/q/1?v=1").await.status, 403, "cached for v=1");
    assert_eq!(
        q("/prod/q/1?v=2").await.status,
        200,
        "v=2 is another identity"
    );
    // A missing identity source answers 401 without a call.
    assert_gateway_error(
        &q("/prod/q").await,
        401,
        r#"{"message":"Unauthorized"}"#,
        "UnauthorizedException",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_table_of_lambda_authorizers() {
    let s = start("", "", "", "");
    // Wildcard stage ARN allows every method; the explicit Deny wins on its method.
    assert_eq!(call(&s.gw, "/prod/pets/7", "bob").await.status, 200);
    assert_gateway_error(
        &call(&s.gw, "/prod/pets/secret", "bob").await,
        403,
        r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#,
        "AccessDeniedException",
    );
    // The authorizer says Unauthorized: 401.
    assert_gateway_error(
        &call(&s.gw, "/prod/pets", "expired").await,
        401,
        r#"{"message":"Unauthorized"}"#,
        "UnauthorizedException",
    );
    // No header at all: 401 without a call.
    let none = send("GET", &s.gw.url("/prod/pets"), &[], "").await;
    assert_eq!(none.status, 401);
    // A context value that is an object: a malformed output, 500.
    let nested = call(&s.gw, "/prod/pets", "nested").await;
    assert_eq!(nested.status, 500, "{}", nested.text());
    assert_eq!(
        nested.header("x-amzn-errortype"),
        Some("AuthorizerConfigurationException")
    );
    // A policy that does not parse, an output without principalId: 500.
    for token in ["badpolicy", "noprincipal"] {
        let r = call(&s.gw, "/prod/pets", token).await;
        assert_eq!(r.status, 500, "{token}: {}", r.text());
    }
    // A context over 8 KB: 500 as well, and the gateway keeps serving.
    assert_eq!(call(&s.gw, "/prod/pets", "big").await.status, 500);
    assert_eq!(call(&s.gw, "/prod/pets/7", "bob").await.status, 200);
    // Simple responses (HTTP API 2.0).
    let yes = call(&s.gw, "/prod/simple", "yes").await;
    assert_eq!(yes.status, 200, "{}", yes.text());
    assert_eq!(yes.json()["team"], "blue");
    let no = call(&s.gw, "/prod/simple", "no").await;
    assert_eq!(no.status, 403);
    assert_eq!(no.text(), r#"{"message":"Forbidden"}"#);
    // A policy from an authorizer declared for simple responses is a configuration error.
    assert_eq!(call(&s.gw, "/prod/simple", "alice").await.status, 500);
    // A component built for portico:plugin 0.1.0 still decides.
    let old = call(&s.gw, "/prod/legacy", "legacy").await;
    assert_eq!(old.status, 200, "{}", old.text());
    assert_eq!(old.json()["era"], "0.1.0");
}

/// An IP deny-list resource policy (AWS's own example), for `cidrs`.
fn ip_policy(cidrs: &[&str]) -> String {
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": ["execute-api:/*"]},
        {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": ["execute-api:/*"],
         "Condition": {"IpAddress": {"aws:SourceIp": cidrs}}}]});
    format!("x-amazon-apigateway-policy: {policy}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_policy_denies_by_source_ip_behind_a_trusted_proxy() {
    let open = mock_at("/open", "", r#"{"ip": "$context.identity.sourceIp"}"#);
    let s = start(
        "",
        &open,
        &ip_policy(&["192.0.2.0/24", "2001:db8::/32"]),
        "client_ip:\n  trusted_proxies: [127.0.0.1/32]\n",
    );
    let from = |ip: &'static str, path: &'static str, token: Option<&'static str>| {
        let mut headers = vec![("x-forwarded-for", ip)];
        if let Some(t) = token {
            headers.push(("authorization", t));
        }
        let url = s.gw.url(path);
        async move { send("GET", &url, &headers, "").await }
    };
    let ok = from("198.51.100.7", "/prod/open", None).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(
        ok.json()["ip"],
        "198.51.100.7",
        "the trusted proxy's X-Forwarded-For"
    );
    for ip in ["192.0.2.10", "2001:db8::5"] {
        let denied = from(ip, "/prod/open", None).await;
        let arn = "arn:aws:execute-api:us-east-1:000000000000:testapi/prod/GET/open";
        assert_gateway_error(
            &denied,
            403,
            &format!(
                r#"{{"Message":"User: anonymous is not authorized to perform: execute-api:Invoke on resource: {arn} with an explicit deny"}}"#
            ),
            "AccessDeniedException",
        );
    }
    assert_eq!(from("2001:db9::5", "/prod/open", None).await.status, 200);
    // An explicit Deny answers before the authorizer: even a token it would allow is refused.
    assert_eq!(
        from("192.0.2.10", "/prod/pets/1", Some("bob")).await.status,
        403
    );
    // Otherwise the authorizer's policy and the resource policy's Allow combine (Table A).
    assert_eq!(
        from("198.51.100.7", "/prod/pets/1", Some("bob"))
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_forwarded_for_is_ignored() {
    let s = start("", "", &ip_policy(&["127.0.0.0/8"]), "");
    // The peer is 127.0.0.1 and no proxy is trusted: a forged header does not help.
    let r = send(
        "GET",
        &s.gw.url("/prod/pets"),
        &[
            ("authorization", "alice"),
            ("x-forwarded-for", "198.51.100.7"),
        ],
        "",
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(r.text().contains("User: anonymous"), "{}", r.text());
}

/// A discovery and JWKS server: the issuer is its URL plus any path prefix a client asks
/// discovery under; it serves `keys` at `/jwks`, counting fetches.
async fn issuer(keys: Arc<std::sync::Mutex<Value>>, fetches: Arc<AtomicUsize>) -> Upstream {
    let base = Arc::new(std::sync::Mutex::new(String::new()));
    let b = Arc::clone(&base);
    let up = Upstream::answering(move |seen| {
        let base = b.lock().unwrap().clone();
        if let Some(prefix) = seen
            .target
            .strip_suffix("/.well-known/openid-configuration")
        {
            let doc =
                json!({"issuer": format!("{base}{prefix}"), "jwks_uri": format!("{base}/jwks")});
            (http::StatusCode::OK, doc.to_string())
        } else {
            fetches.fetch_add(1, Ordering::SeqCst);
            (http::StatusCode::OK, keys.lock().unwrap().to_string())
        }
    })
    .await;
    *base.lock().unwrap() = format!("http://{}", up.addr);
    up
}

fn rsa_key(rotated: bool) -> EncodingKey {
    if rotated {
        EncodingKey::from_rsa_der(include_bytes!(
            "../host/auth/tests/keys/rsa2048-rotated.pkcs1.der"
        ))
    } else {
        EncodingKey::from_rsa_der(include_bytes!("../host/auth/tests/keys/rsa2048.pkcs1.der"))
    }
}

fn jwks(keys: &[(&EncodingKey, &str)]) -> Value {
    let keys: Vec<Value> = keys
        .iter()
        .map(|(k, kid)| {
            let mut v =
                serde_json::to_value(Jwk::from_encoding_key(k, Algorithm::RS256).unwrap()).unwrap();
            v["kid"] = json!(kid);
            v["use"] = json!("sig");
            v
        })
        .collect();
    json!({ "keys": keys })
}

fn token(key: &EncodingKey, kid: &str, iss: &str, aud: &str, exp_in: i64, scope: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    let claims = json!({"iss": iss, "aud": aud, "sub": "user-7", "iat": now - 10,
                        "exp": now + exp_in, "scope": scope});
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_authorizer_discovers_keys_checks_claims_and_follows_rotation() {
    let keys = Arc::new(std::sync::Mutex::new(jwks(&[(&rsa_key(false), "k1")])));
    let fetches = Arc::new(AtomicUsize::new(0));
    let idp = issuer(Arc::clone(&keys), Arc::clone(&fetches)).await;
    let iss = format!("http://{}", idp.addr);
    let scheme = jwt_scheme(
        "jwtAuth",
        &iss,
        "        x-portico-jwks-refetch-seconds: 3\n        identitySource: $request.header.Authorization\n",
    );
    let paths = mock_at(
        "/me",
        "jwtAuth: []",
        r#"{"sub": "$context.authorizer.claims.sub"}"#,
    ) + &mock_at("/admin", "jwtAuth: [admin]", "{}");
    let s = start(&scheme, &paths, "", "");
    let k1 = rsa_key(false);
    let good = token(&k1, "k1", &iss, "aud-1", 300, "read");
    let ok = call(&s.gw, "/prod/me", &format!("Bearer {good}")).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["sub"], "user-7");
    let challenge = |r: &Reply| r.header("www-authenticate").unwrap_or("").to_owned();
    for (bad, what) in [
        (token(&k1, "k1", &iss, "aud-2", 300, "read"), "audience"),
        (
            token(&k1, "k1", "http://elsewhere", "aud-1", 300, "read"),
            "issuer",
        ),
        (token(&k1, "k1", &iss, "aud-1", -120, "read"), "expired"),
        (format!("{good}x"), "signature"),
        ("not.a.jwt".to_owned(), "malformed"),
    ] {
        let r = call(&s.gw, "/prod/me", &bad).await;
        assert_eq!(r.status, 401, "{what}: {}", r.text());
        assert_eq!(r.text(), r#"{"message":"Unauthorized"}"#);
        assert!(
            challenge(&r).starts_with("Bearer "),
            "{what}: {}",
            challenge(&r)
        );
    }
    assert!(
        challenge(&call(&s.gw, "/prod/me", &token(&k1, "k1", &iss, "aud-2", 300, "")).await)
            .contains("the token does not have a valid audience")
    );
    // Scopes: the route wants `admin`.
    let r = call(&s.gw, "/prod/admin", &good).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(
        challenge(&r).contains("insufficient_scope"),
        "{}",
        challenge(&r)
    );
    let admin = token(&k1, "k1", &iss, "aud-1", 300, "read admin");
    assert_eq!(call(&s.gw, "/prod/admin", &admin).await.status, 200);
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "one JWKS fetch so far");

    // Rotation: the issuer signs with a new kid; the first token with it refetches once
    // (at most one unknown-kid refetch per 3 s here).
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let k2 = rsa_key(true);
    *keys.lock().unwrap() = jwks(&[(&k1, "k1"), (&k2, "k2")]);
    let rotated = token(&k2, "k2", &iss, "aud-1", 300, "read");
    assert_eq!(call(&s.gw, "/prod/me", &rotated).await.status, 200);
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    // A flood of unknown kids within the refetch interval starts no fetch storm.
    for i in 0..20 {
        let forged = token(&k2, &format!("nope-{i}"), &iss, "aud-1", 300, "read");
        assert_eq!(call(&s.gw, "/prod/me", &forged).await.status, 401);
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        2,
        "unknown kids are rate-limited"
    );
    // The issuer goes down: the keys held keep working.
    drop(idp);
    assert_eq!(call(&s.gw, "/prod/me", &rotated).await.status, 200);
    assert_eq!(call(&s.gw, "/prod/me", &good).await.status, 200);
}

/// The Python with botocore that `tests/run.sh` installs (`PORTICO_TEST_PYTHON` overrides).
fn botocore_python() -> std::path::PathBuf {
    let python = std::env::var_os("PORTICO_TEST_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo_file("tests/.venv/bin/python"));
    assert!(
        python.is_file(),
        "{} is missing: run tests/run.sh (it installs botocore in tests/.venv)",
        python.display()
    );
    python
}

/// Sends `method url` signed by botocore with `key`/`secret`; `flags` go to the script.
async fn signed(method: &str, url: &str, key: &str, secret: &str, flags: &[&str]) -> (u16, String) {
    let mut cmd = tokio::process::Command::new(botocore_python());
    cmd.arg(repo_file("tests/sigv4_client.py"))
        .args([method, url, "--key", key, "--secret", secret])
        .args(flags);
    let out = cmd.output().await.expect("run the botocore client");
    assert!(
        out.status.success(),
        "sigv4_client.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("the client prints JSON");
    (
        v["status"].as_u64().unwrap_or(0) as u16,
        v["body"].as_str().unwrap_or_default().to_owned(),
    )
}

const ALICE_KEY: &str = "AKIDALICE000000000000";
const ALICE_SECRET: &str = "alice-secret-0123456789abcdef";
const BOB_KEY: &str = "AKIDBOB0000000000000";
const BOB_SECRET: &str = "bob-secret-0123456789abcdefgh";

fn iam_mock(method: &str) -> String {
    mock_method(
        method,
        "sigv4: []",
        r#"{"arn": "$context.identity.userArn", "key": "$context.identity.accessKey", "account": "$context.identity.accountId"}"#,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_iam_methods_verify_botocore_signatures_and_policies() {
    let scheme = "    sigv4:\n      type: apiKey\n      name: Authorization\n      in: header\n      x-amazon-apigateway-authtype: awsSigv4\n";
    let paths = format!(
        "  /iam/pets:\n{}{}  /iam/shared:\n{}{}",
        iam_mock("get"),
        iam_mock("post"),
        iam_mock("get"),
        mock_at("/open", "", "{}")
    );
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ["111122223333"]},
         "Action": "execute-api:Invoke", "Resource": "execute-api:/prod/GET/iam/shared"}]});
    let credentials = format!(
        r#"iam:
  credentials:
    - access_key_id: {ALICE_KEY}
      secret_access_key: {ALICE_SECRET}
      user: alice
      policy: {{Statement: [{{Effect: Allow, Action: "execute-api:Invoke", Resource: "arn:aws:execute-api:us-east-1:000000000000:testapi/prod/*/iam/pets"}}]}}
    - access_key_id: {BOB_KEY}
      secret_access_key: {BOB_SECRET}
      user: bob
      account_id: "111122223333"
      policy: {{Statement: [{{Effect: Allow, Action: "execute-api:*", Resource: "*"}}]}}
"#
    );
    let s = start(
        scheme,
        &paths,
        &format!("x-amazon-apigateway-policy: {policy}\n"),
        &credentials,
    );
    let url = |p: &str| s.gw.url(p);
    let alice = async |m: &str, p: &str, flags: &[&str]| {
        signed(m, &url(p), ALICE_KEY, ALICE_SECRET, flags).await
    };

    // Header and presigned forms; the body is signed too.
    let (status, body) = alice("GET", "/prod/iam/pets?limit=2", &[]).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["arn"], "arn:aws:iam::000000000000:user/alice");
    assert_eq!(v["key"], ALICE_KEY);
    assert_eq!(v["account"], "000000000000");
    assert_eq!(
        alice("POST", "/prod/iam/pets", &["--body", "{\"name\":\"rex\"}"])
            .await
            .0,
        200
    );
    assert_eq!(alice("GET", "/prod/iam/pets", &["--presign"]).await.0, 200);

    // Tampered after signing: AWS's INVALID_SIGNATURE message, naming the canonical request.
    for tamper in ["query", "header"] {
        let (status, body) = alice("GET", "/prod/iam/pets", &["--tamper", tamper]).await;
        assert_eq!(status, 403, "{tamper}: {body}");
        assert!(
            body.contains(
                "The request signature we calculated does not match the signature you provided"
            ) && body.contains("The Canonical String for this request should have been"),
            "{tamper}: {body}"
        );
    }
    let (status, _) = alice(
        "POST",
        "/prod/iam/pets",
        &["--body", "{}", "--tamper", "body"],
    )
    .await;
    assert_eq!(status, 403);
    // Signed ten minutes ago, or ten minutes ahead: outside the 5-minute window.
    let (status, body) = alice("GET", "/prod/iam/pets", &["--skew", "-600"]).await;
    assert_eq!(status, 403);
    assert!(body.contains("Signature expired"), "{body}");
    let (status, body) = alice("GET", "/prod/iam/pets", &["--skew", "600"]).await;
    assert_eq!(status, 403);
    assert!(body.contains("Signature not yet current"), "{body}");
    // An unknown key, and the right key with a wrong secret.
    let (status, body) = signed(
        "GET",
        &url("/prod/iam/pets"),
        "AKIDUNKNOWN000000000",
        ALICE_SECRET,
        &[],
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        body.contains("The security token included in the request is invalid"),
        "{body}"
    );
    let (status, _) = signed(
        "GET",
        &url("/prod/iam/pets"),
        ALICE_KEY,
        "not-alices-secret-000000",
        &[],
    )
    .await;
    assert_eq!(status, 403);
    // Unsigned.
    let unsigned = send("GET", &url("/prod/iam/pets"), &[], "").await;
    assert_gateway_error(
        &unsigned,
        403,
        r#"{"message":"Missing Authentication Token"}"#,
        "MissingAuthenticationTokenException",
    );

    // Policies: alice's identity policy covers /iam/pets only, and the resource policy names
    // only bob's account (Table A: implicit deny).
    let (status, body) = alice("GET", "/prod/iam/shared", &[]).await;
    assert_eq!(status, 403);
    assert!(
        body.contains("User: arn:aws:iam::000000000000:user/alice is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:000000000000:testapi/prod/GET/iam/shared"),
        "{body}"
    );
    // Bob is in another account: both his policy and the resource policy must allow (Table B).
    let bob = async |p: &str| signed("GET", &url(p), BOB_KEY, BOB_SECRET, &[]).await;
    assert_eq!(bob("/prod/iam/shared").await.0, 200);
    assert_eq!(
        bob("/prod/iam/pets").await.0,
        403,
        "the resource policy is silent"
    );

    // An unprotected method under a resource policy that names no anonymous caller: the
    // implicit deny (§5.3, no "with an explicit deny").
    let anonymous = send("GET", &url("/prod/open"), &[], "").await;
    assert_gateway_error(
        &anonymous,
        403,
        r#"{"Message":"User: anonymous is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:000000000000:testapi/prod/GET/open"}"#,
        "AccessDeniedException",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorizer_output_reaches_lambda_events_the_access_log_and_flushes() {
    let keys = Arc::new(std::sync::Mutex::new(jwks(&[(&rsa_key(false), "k1")])));
    let fetches = Arc::new(AtomicUsize::new(0));
    let idp = issuer(Arc::clone(&keys), Arc::clone(&fetches)).await;
    let iss = format!("http://{}", idp.addr);
    let scheme = jwt_scheme(
        "jwtCached",
        &iss,
        "        authorizerResultTtlInSeconds: 300\n",
    );
    let fn_route = |path: &str, security: &str, format: &str| {
        format!(
            r#"  {path}:
    get:
      security: [{{{security}: []}}]
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        payloadFormatVersion: "{format}"
        uri: {LAMBDA}:echo/invocations
"#
        )
    };
    let paths = fn_route("/fn/v1", "cached", "1.0")
        + &fn_route("/fn/jwt1", "jwtCached", "1.0")
        + &fn_route("/fn/jwt2", "jwtCached", "2.0");
    let s = start(&scheme, &paths, "", "");
    // 1.0: the policy's principal and stringified context.
    let v1 = call(&s.gw, "/prod/fn/v1", "bob").await;
    assert_eq!(v1.status, 200, "{}", v1.text());
    assert_eq!(v1.json()["authorizer"], json!({"principalId": "bob"}));
    let alice = call(&s.gw, "/prod/fn/v1", "alice").await;
    assert_eq!(
        alice.json()["authorizer"],
        json!({"principalId": "alice", "tier": "gold", "level": "3", "admin": "false"})
    );
    // JWT claims: 1.0 `claims`, 2.0 `jwt.claims` and `jwt.scopes`.
    let tok = token(&rsa_key(false), "k1", &iss, "aud-1", 300, "read write");
    let j1 = call(&s.gw, "/prod/fn/jwt1", &tok).await;
    assert_eq!(j1.status, 200, "{}", j1.text());
    assert_eq!(j1.json()["authorizer"]["claims"]["sub"], "user-7");
    let j2 = call(&s.gw, "/prod/fn/jwt2", &tok).await;
    let a = &j2.json()["authorizer"];
    assert_eq!(a["jwt"]["claims"]["iss"], json!(iss));
    assert_eq!(a["jwt"]["scopes"], json!(["read", "write"]));
    // The access log names the principal.
    let line = s.gw.access_log_for(j2.request_id()).await;
    assert_eq!(line["authorizer.principalId"], "user-7");

    // A flush drops the stage's cached answers: alice's policy for GET /fn/v1 (the same
    // authorizer, cached above) denies GET /pets until the flush; then a fresh call allows it.
    assert_eq!(call(&s.gw, "/prod/pets", "alice").await.status, 403);
    let out = std::process::Command::new(PORTICO)
        .args(["authorizers", "flush", "testapi", "prod", "--admin"])
        .env("PORTICO_ADMIN_TOKEN", s.gw.admin_token())
        .arg(s.gw.admin_url("").trim_start_matches("http://"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let flushed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(flushed["status"], "flushed");
    assert_eq!(call(&s.gw, "/prod/pets", "alice").await.status, 200);
    let unknown = send(
        "DELETE",
        &s.gw.admin_url("/authorizers/testapi/nope"),
        &[],
        "",
    )
    .await;
    assert_eq!(unknown.status, 404);
}

/// Every key type the gateway verifies: (algorithm, DER key, kid).
fn signing_keys() -> Vec<(Algorithm, EncodingKey, &'static str)> {
    let rsa = || rsa_key(false);
    vec![
        (Algorithm::RS256, rsa(), "rs256"),
        (Algorithm::RS384, rsa(), "rs384"),
        (Algorithm::RS512, rsa(), "rs512"),
        (Algorithm::PS256, rsa(), "ps256"),
        (Algorithm::PS384, rsa(), "ps384"),
        (Algorithm::PS512, rsa(), "ps512"),
        (
            Algorithm::ES256,
            EncodingKey::from_ec_der(include_bytes!("../host/auth/tests/keys/p256.pkcs8.der")),
            "es256",
        ),
        (
            Algorithm::ES384,
            EncodingKey::from_ec_der(include_bytes!("../host/auth/tests/keys/p384.pkcs8.der")),
            "es384",
        ),
        (
            Algorithm::EdDSA,
            EncodingKey::from_ed_der(include_bytes!("../host/auth/tests/keys/ed25519.pkcs8.der")),
            "eddsa",
        ),
    ]
}

fn signed_with(alg: Algorithm, key: &EncodingKey, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_every_algorithm_cognito_pools_and_a_garbage_key_set() {
    let keys = signing_keys();
    let set: Vec<Value> = keys
        .iter()
        .map(|(alg, key, kid)| {
            let mut v = serde_json::to_value(Jwk::from_encoding_key(key, *alg).unwrap()).unwrap();
            v["kid"] = json!(kid);
            v
        })
        .collect();
    let idp = issuer(
        Arc::new(std::sync::Mutex::new(json!({ "keys": set }))),
        Arc::new(AtomicUsize::new(0)),
    )
    .await;
    let garbage = Upstream::answering(|_| (http::StatusCode::OK, "{not a key set".into())).await;
    let base = format!("http://{}", idp.addr);
    let schemes = jwt_scheme(
        "jwtAll",
        &base,
        "        identitySource: $request.header.Authorization\n",
    ) + &jwt_scheme(
        "jwtGarbage",
        &base,
        &format!("        x-portico-jwks-uri: http://{}/jwks\n", garbage.addr),
    ) + &jwt_scheme(
        "jwtSecret",
        &base,
        "        x-portico-jwt-secret-env: PORTICO_TEST_JWT_SECRET\n",
    ) + r#"    pool:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: cognito_user_pools
      x-amazon-apigateway-authorizer:
        type: cognito_user_pools
        providerARNs: [arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_Test]
"#;
    let route = |path: &str, security: &str| {
        mock_at(
            path,
            security,
            r#"{"sub": "$context.authorizer.claims.sub", "client": "$context.authorizer.claims.client_id"}"#,
        )
    };
    let paths = route("/all", "jwtAll: []")
        + &route("/garbage", "jwtGarbage: []")
        + &route("/pool", "pool: [pets/read]")
        + &route("/secret", "jwtSecret: []");
    let s = start(
        &schemes,
        &paths,
        "",
        &format!("aws:\n  cognito_endpoint: {base}\n"),
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({"iss": base, "aud": "aud-1", "sub": "user-7", "exp": now + 300});
    for (alg, key, kid) in &keys {
        let r = call(&s.gw, "/prod/all", &signed_with(*alg, key, kid, &claims)).await;
        assert_eq!(r.status, 200, "{alg:?}: {}", r.text());
        assert_eq!(r.json()["sub"], "user-7");
        // Signed with one key but naming another's kid: the signature fails.
        let other = keys.iter().find(|(a, _, k)| a == alg && k != kid);
        if let Some((_, _, wrong)) = other {
            let r = call(&s.gw, "/prod/all", &signed_with(*alg, key, wrong, &claims)).await;
            assert_eq!(r.status, 401);
        }
    }
    // An HMAC token against public keys (algorithm confusion) and `alg: none` are refused.
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(b"guess").unwrap(),
    )
    .unwrap();
    assert_eq!(call(&s.gw, "/prod/all", &hs).await.status, 401);
    let none = format!(
        "{}.{}.",
        base64url(br#"{"alg":"none"}"#),
        base64url(claims.to_string().as_bytes())
    );
    assert_eq!(call(&s.gw, "/prod/all", &none).await.status, 401);

    // HS256 with a shared secret (never fetched), and the time claims.
    let secret = EncodingKey::from_secret(JWT_SECRET.as_bytes()).unwrap();
    let hs = |c: &Value| jsonwebtoken::encode(&Header::new(Algorithm::HS256), c, &secret).unwrap();
    assert_eq!(call(&s.gw, "/prod/secret", &hs(&claims)).await.status, 200);
    let mut later = claims.clone();
    later["nbf"] = json!(now + 600);
    let r = call(&s.gw, "/prod/secret", &hs(&later)).await;
    assert_eq!(r.status, 401, "not yet valid");
    let mut future = claims.clone();
    future["iat"] = json!(now + 600);
    assert_eq!(
        call(&s.gw, "/prod/secret", &hs(&future)).await.status,
        401,
        "issued in the future"
    );
    let guessed = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(b"guess").unwrap(),
    )
    .unwrap();
    assert_eq!(call(&s.gw, "/prod/secret", &guessed).await.status, 401);

    // A key set that is garbage: 401, and the gateway keeps serving.
    let (alg, key, kid) = &keys[0];
    let r = call(
        &s.gw,
        "/prod/garbage",
        &signed_with(*alg, key, kid, &claims),
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").is_some());
    assert_eq!(
        call(&s.gw, "/prod/all", &signed_with(*alg, key, kid, &claims))
            .await
            .status,
        200
    );

    // Cognito: issuer {endpoint}/{pool}, access tokens carry client_id and no aud; scopes
    // from `security`; failures are plain 401s.
    let pool_iss = format!("{base}/us-east-1_Test");
    let access = |scope: &str| {
        json!({"iss": pool_iss, "client_id": "app-client", "sub": "u-1", "token_use": "access",
               "scope": scope, "exp": now + 300})
    };
    let r = call(
        &s.gw,
        "/prod/pool",
        &signed_with(*alg, key, kid, &access("pets/read")),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["client"], "app-client");
    let r = call(
        &s.gw,
        "/prod/pool",
        &signed_with(*alg, key, kid, &access("pets/write")),
    )
    .await;
    assert_gateway_error(
        &r,
        401,
        r#"{"message":"Unauthorized"}"#,
        "UnauthorizedException",
    );
    assert!(r.header("www-authenticate").is_none());
    let wrong_pool =
        json!({"iss": format!("{base}/other"), "sub": "u", "exp": now + 300, "scope": "pets/read"});
    assert_eq!(
        call(
            &s.gw,
            "/prod/pool",
            &signed_with(*alg, key, kid, &wrong_pool)
        )
        .await
        .status,
        401
    );
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

//! The admin API's security: the bearer token (generated, from a file, from the environment),
//! the refusals for every endpoint of the route table, the audit log, and the CLI's token.

use std::process::Command;

use portico_proxy::control::admin::ENDPOINTS;

use crate::support::*;

fn gateway(dir: &Dir, admin_extra: &str) {
    dir.write(
        "api.yaml",
        "openapi: 3.0.1\ninfo: {title: t, version: '1'}\npaths:\n  /ping:\n    get:\n      x-amazon-apigateway-integration:\n        type: mock\n        requestTemplates: {application/json: '{\"statusCode\": 200}'}\n        responses: {default: {statusCode: '200'}}\n",
    );
    dir.write(
        "gateway.yaml",
        &format!(
            "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\n{admin_extra}apis:\n  - name: testapi\n    spec: api.yaml\n    stages:\n      prod: {{}}\n"
        ),
    );
}

/// Sends a bodiless request with `Authorization: Bearer {token}`.
async fn with_bearer(method: &str, url: &str, token: &str) -> Reply {
    let bearer = format!("Bearer {token}");
    send_without_token(method, url, &[("authorization", &bearer)], "").await
}

/// A request path for an endpoint pattern, its `{params}` filled in.
fn concrete(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|s| if s.starts_with('{') { "x" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every endpoint of the route table refuses a request without the token (401, with a
/// challenge) and with a wrong one (403), except the public ones; the right token gets past.
/// Generated from `ENDPOINTS`, so a new endpoint cannot skip authentication.
#[tokio::test]
async fn every_endpoint_needs_the_token_but_health() {
    let dir = Dir::new();
    gateway(&dir, "");
    let gw = Portico::start(&dir);
    let token = gw.admin_token();
    assert!(token.len() >= 40, "{token}");
    let mut checked = 0;
    for e in ENDPOINTS {
        let url = gw.admin_url(&concrete(e.path));
        let none = send_without_token(e.method, &url, &[], "").await;
        let wrong = with_bearer(e.method, &url, "wrong-wrong-wrong-wrong").await;
        let right = send(e.method, &url, &[], "").await;
        if e.public {
            assert_eq!(none.status, 200, "{} {}", e.method, e.path);
            assert_eq!(wrong.status, 200, "{} {}", e.method, e.path);
        } else {
            assert_eq!(none.status, 401, "{} {}: {}", e.method, e.path, none.text());
            assert_eq!(none.text(), r#"{"message":"Unauthorized"}"#);
            assert_eq!(
                none.header("www-authenticate"),
                Some(r#"Bearer realm="portico-admin""#)
            );
            assert_eq!(
                wrong.status,
                403,
                "{} {}: {}",
                e.method,
                e.path,
                wrong.text()
            );
            assert_eq!(wrong.text(), r#"{"message":"Forbidden"}"#);
        }
        assert!(
            ![401, 403].contains(&right.status.as_u16()),
            "{} {} with the token: {} {}",
            e.method,
            e.path,
            right.status,
            right.text()
        );
        checked += 1;
    }
    assert!(checked >= 13);
    // Unknown paths and methods reveal nothing without the token.
    assert_eq!(
        send_without_token("GET", &gw.admin_url("/nope"), &[], "")
            .await
            .status,
        401
    );
    assert_eq!(get(&gw.admin_url("/nope")).await.status, 404);
    assert_eq!(
        send("DELETE", &gw.admin_url("/reload"), &[], "")
            .await
            .status,
        405
    );
    // Another scheme is no token.
    let basic = send_without_token(
        "GET",
        &gw.admin_url("/metrics"),
        &[("authorization", &format!("Basic {token}"))],
        "",
    )
    .await;
    assert_eq!(basic.status, 401);

    // The audit log: mutations only, refused ones as anonymous, never the token.
    let audit_path = dir.path("xdg-data/portico/audit.log");
    let audit = std::fs::read_to_string(&audit_path).expect("the audit log");
    assert!(
        !audit.contains(&token),
        "the token leaked into the audit log"
    );
    let lines: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let reloads: Vec<_> = lines.iter().filter(|l| l["path"] == "/reload").collect();
    assert_eq!(reloads.len(), 3, "{audit}");
    assert_eq!(reloads[0]["actor"], "anonymous");
    assert_eq!(reloads[0]["status"], 401);
    assert_eq!(reloads[1]["status"], 403);
    assert_eq!(reloads[2]["status"], 200);
    let fingerprint = reloads[2]["actor"].as_str().unwrap();
    assert!(fingerprint.starts_with("token:") && fingerprint.len() == 14);
    assert_eq!(
        reloads[2]["before"], reloads[2]["after"],
        "same files, same state"
    );
    assert_eq!(reloads[2]["before"].as_str().unwrap().len(), 64);
    assert!(reloads[2]["time"].as_str().unwrap().ends_with('Z'));
    assert!(lines.iter().all(|l| l["method"] != "GET"), "{audit}");
    // A mutation that changes something changes the digest.
    let created = send(
        "POST",
        &gw.admin_url("/apikeys"),
        &[],
        r#"{"name":"k1","usagePlans":[]}"#,
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let audit = std::fs::read_to_string(&audit_path).unwrap();
    let last: serde_json::Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(last["path"], "/apikeys");
    assert_eq!(last["status"], 201);
    assert_ne!(last["before"], last["after"]);
    assert!(!audit.contains(created.json()["value"].as_str().unwrap()));

    // Nothing the gateway printed names the token.
    assert!(!gw.stderr_text().contains(&token));
    assert!(!gw.stdout.lock().unwrap().join("\n").contains(&token));
}

/// The generated token is 0600, in a 0700 directory, and survives a restart.
#[cfg(unix)]
#[tokio::test]
async fn the_generated_token_is_private_and_kept() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = Dir::new();
    gateway(&dir, "");
    let first = Portico::start(&dir);
    let token = first.admin_token();
    drop(first);
    let path = dir.path("xdg-data/portico/admin-token");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let again = Portico::start(&dir);
    assert_eq!(again.admin_token(), token);
    assert_eq!(get(&again.admin_url("/metrics")).await.status, 200);
}

/// `token_file` and `token_env` replace the generated token; short tokens are refused.
#[tokio::test]
async fn configured_tokens() {
    let dir = Dir::new();
    dir.write("token", "file-token-0123456789\n");
    gateway(&dir, "  token_file: token\n");
    let gw = Portico::start(&dir);
    let url = gw.admin_url("/metrics");
    let ok = with_bearer("GET", &url, "file-token-0123456789").await;
    assert_eq!(ok.status, 200);
    assert!(!dir.path("xdg-data/portico/admin-token").exists());
    // A reload re-reads the file: the new token works at once, the old one no longer.
    dir.write("token", "file-token-rotated-9876543210");
    let reload = with_bearer("POST", &gw.admin_url("/reload"), "file-token-0123456789").await;
    assert_eq!(reload.status, 200, "{}", reload.text());
    let old = with_bearer("GET", &url, "file-token-0123456789").await;
    assert_eq!(old.status, 403);
    let new = with_bearer("GET", &url, "file-token-rotated-9876543210").await;
    assert_eq!(new.status, 200);
    drop(gw);

    let env_dir = Dir::new();
    gateway(&env_dir, "  token_env: MY_ADMIN_TOKEN\n");
    let gw = Portico::start_env(
        &[
            "serve",
            "--config",
            env_dir.path("gateway.yaml").to_str().unwrap(),
        ],
        &[("MY_ADMIN_TOKEN", "env-token-0123456789abc")],
    );
    let ok = with_bearer("GET", &gw.admin_url("/plugins"), "env-token-0123456789abc").await;
    assert_eq!(ok.status, 200);

    // A short token is a start error that names the rule, not the token.
    dir.write("token", "short");
    let out = Command::new(PORTICO)
        .args([
            "serve",
            "--config",
            dir.path("gateway.yaml").to_str().unwrap(),
        ])
        .env("XDG_DATA_HOME", dir.path("xdg-data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("at least 16 characters"), "{stderr}");
    // Both sources at once, or `data_dir: off` with neither, are check errors.
    gateway(&dir, "  token_file: token\n  token_env: X\n");
    let Checked {
        ok, stdout: text, ..
    } = check(&dir);
    assert!(
        !ok && text.contains("token_file and token_env are exclusive"),
        "{text}"
    );
    gateway(&dir, "");
    let text = std::fs::read_to_string(dir.path("gateway.yaml")).unwrap();
    dir.write("gateway.yaml", &format!("data_dir: 'off'\n{text}"));
    let Checked {
        ok, stdout: text, ..
    } = check(&dir);
    assert!(
        !ok && text.contains("admin.token_file or admin.token_env"),
        "{text}"
    );
}

/// The CLI sends the token from `PORTICO_ADMIN_TOKEN`, `--token-file` or the default data
/// directory, and fails on stderr without one.
#[tokio::test]
async fn the_cli_authenticates() {
    let dir = Dir::new();
    gateway(&dir, "");
    let gw = Portico::start(&dir);
    let admin = gw.admin.unwrap().to_string();
    let cli = |env: &[(&str, &str)], extra: &[&str]| {
        let mut c = Command::new(PORTICO);
        c.args(["plugin", "list", "--admin", &admin])
            .args(extra)
            .env_remove("PORTICO_ADMIN_TOKEN")
            .env("XDG_DATA_HOME", dir.path("nowhere"));
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let token = gw.admin_token();
    let out = cli(&[("PORTICO_ADMIN_TOKEN", &token)], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"plugins\""));
    let data = dir.path("xdg-data");
    let out = cli(&[("XDG_DATA_HOME", data.to_str().unwrap())], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token_file = dir.path("xdg-data/portico/admin-token");
    let out = cli(&[], &["--token-file", token_file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = cli(&[("PORTICO_ADMIN_TOKEN", "wrong-wrong-wrong-wrong")], &[]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("403") && stderr.contains("Forbidden"),
        "{stderr}"
    );
    let out = cli(&[], &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot read the admin token"), "{stderr}");
}

/// `admin.tls`: the admin listener serves HTTPS with its certificate; the CLI talks to it with
/// `--admin https://...` and `--admin-ca`, and a cleartext request gets no answer.
#[tokio::test]
async fn the_admin_listener_can_have_tls() {
    let dir = Dir::new();
    let ca = crate::tls::Ca::new("Portico Admin CA");
    ca.issue_into(&dir, "admin", &["localhost"]);
    dir.write("admin-ca.pem", &ca.pem());
    gateway(&dir, "  tls: {certificate: admin.pem, key: admin.key}\n");
    let gw = Portico::start(&dir);
    let port = gw.admin.unwrap().port();
    let cli = |extra: &[&str]| {
        Command::new(PORTICO)
            .args(["plugin", "list", "--output", "json"])
            .args(extra)
            .env("PORTICO_ADMIN_TOKEN", gw.admin_token())
            .output()
            .unwrap()
    };
    let url = format!("https://localhost:{port}");
    let ca_file = dir.path("admin-ca.pem");
    let out = cli(&["--admin", &url, "--admin-ca", ca_file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"plugins\""));
    // Without the CA the CLI says what it needs; a cleartext client gets nothing served.
    let out = cli(&["--admin", &url]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--admin-ca"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&["--admin", &format!("127.0.0.1:{port}")]);
    assert!(!out.status.success());
    // HTTP/3 on the admin listener is a check error.
    gateway(
        &dir,
        "  tls: {certificate: admin.pem, key: admin.key, http3: true}\n",
    );
    let checked = check(&dir);
    assert!(
        !checked.ok && checked.text().contains("admin.tls.http3"),
        "{}",
        checked.text()
    );
}

//! Deployments, stages, rollback and canaries: the admin API (`/apis/...`) and the CLI
//! (`portico deploy`, `portico deployments`, `portico stage`), against the real gateway with
//! real clients, including a request load that must see no failure while stages change.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::support::*;

/// An API whose one method answers what served it: the definition's version, the deployment,
/// whether the request was a canary's, and the stage variable `color`.
fn api(version: &str) -> String {
    let template = format!(
        r#"{{"v":"{version}","dep":"$context.deploymentId","canary":"$context.isCanaryRequest","color":"$stageVariables.color"}}"#
    );
    format!(
        "openapi: 3.0.1\ninfo: {{title: t, version: '1'}}\npaths:\n{}",
        mock_at("/v", "", &template)
    )
}

fn gateway(dir: &Dir, version: &str) {
    dir.write("api.yaml", &api(version));
    dir.write(
        "gateway.yaml",
        "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nreload: {watch: false}\napis:\n  - name: shop\n    spec: api.yaml\n    stages:\n      prod: {variables: {color: blue}}\n      beta: {variables: {color: blue}}\n",
    );
}

/// Runs the CLI against `gw` with `--output json` and returns its JSON answer, or its stderr.
fn cli(gw: &Portico, args: &[&str]) -> Result<Value, String> {
    let admin = gw.admin.expect("an admin listener").to_string();
    let out = Command::new(PORTICO)
        .args(args)
        .args(["--admin", &admin, "--output", "json"])
        .env("PORTICO_ADMIN_TOKEN", gw.admin_token())
        .output()
        .expect("the CLI runs");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("JSON on stdout"))
    } else {
        assert!(out.stdout.is_empty());
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// What `GET /{stage}/v` answered.
async fn served(gw: &Portico, stage: &str) -> Value {
    let reply = get(&gw.url(&format!("/{stage}/v"))).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

async fn admin(gw: &Portico, method: &str, path: &str, body: Value) -> Reply {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    send(method, &gw.admin_url(path), &[], body).await
}

/// A stage follows the gateway file until it is deployed to; then it serves its deployment
/// whatever the file says, across restarts, until a redeploy or a rollback moves it.
#[tokio::test]
async fn deploy_pin_diff_and_roll_back() {
    let dir = Dir::new();
    gateway(&dir, "1");
    let mut gw = Portico::start(&dir);

    let first = served(&gw, "prod").await;
    assert_eq!(first["v"], "1");
    assert_eq!(first["canary"], "false");
    let id1 = first["dep"].as_str().unwrap().to_owned();
    assert_eq!(id1.len(), 10, "{first}");

    let d = cli(
        &gw,
        &[
            "deploy",
            "shop",
            "--stage",
            "prod",
            "--description",
            "first",
        ],
    )
    .unwrap();
    assert_eq!(
        d["id"],
        id1.as_str(),
        "the id is the definition's hash: {d}"
    );
    let stage = cli(&gw, &["stage", "show", "shop", "prod"]).unwrap();
    assert_eq!(stage["deploymentId"], id1.as_str());
    assert_eq!(stage["pinned"], true);

    // A new definition: beta follows the file, prod stays on its deployment.
    dir.write("api.yaml", &api("2"));
    assert_eq!(cli(&gw, &["reload"]).unwrap()["status"], "reloaded");
    let apis = cli(&gw, &["apis"]).unwrap();
    assert_eq!(apis["items"][0]["name"], "shop", "{apis}");
    assert_eq!(cli(&gw, &["health"]).unwrap()["status"], "ok");
    assert_eq!(served(&gw, "prod").await["v"], "1");
    let beta = served(&gw, "beta").await;
    assert_eq!(beta["v"], "2");
    let id2 = beta["dep"].as_str().unwrap().to_owned();
    assert_ne!(id1, id2);

    let d = cli(&gw, &["deploy", "shop", "--stage", "prod"]).unwrap();
    assert_eq!(d["id"], id2.as_str());
    let now = served(&gw, "prod").await;
    assert_eq!(
        (now["v"].as_str(), now["dep"].as_str()),
        (Some("2"), Some(id2.as_str()))
    );

    let list = cli(&gw, &["deployments", "list", "shop"]).unwrap();
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{list}");
    assert!(
        ids.contains(&id1.as_str()) && ids.contains(&id2.as_str()),
        "{list}"
    );
    assert_eq!(list["currentDeploymentId"], id2.as_str());
    let shown = cli(&gw, &["deployments", "show", "shop", &id1]).unwrap();
    assert_eq!(shown["description"], "first");
    assert!(shown["definition"].as_str().unwrap().contains(r#""v":"1""#));
    let diff = cli(&gw, &["deployments", "diff", "shop", &id1, &id2]).unwrap();
    let diff = diff["diff"].as_str().unwrap();
    assert!(
        diff.contains(r#"-"#) && diff.contains(r#""v":"1""#) && diff.contains(r#""v":"2""#),
        "{diff}"
    );

    // Rollback: to the deployment served before; the access log names the deployment.
    let rolled = cli(&gw, &["stage", "rollback", "shop", "prod"]).unwrap();
    assert_eq!(rolled["deploymentId"], id1.as_str(), "{rolled}");
    let back = served(&gw, "prod").await;
    assert_eq!(back["v"], "1");
    let reply = get(&gw.url("/prod/v")).await;
    let line = gw.access_log_for(reply.request_id()).await;
    assert_eq!(line["deploymentId"], id1.as_str(), "{line}");
    assert!(line.get("isCanaryRequest").is_none(), "{line}");

    // The store survives a restart: prod still serves deployment 1.
    gw.signal("TERM");
    assert!(gw.wait_exit(std::time::Duration::from_secs(10)).is_some());
    let gw = Portico::start(&dir);
    assert_eq!(served(&gw, "prod").await["v"], "1");
    assert_eq!(served(&gw, "beta").await["v"], "2");

    // Walking further back: prod follows the file again.
    let rolled = cli(&gw, &["stage", "rollback", "shop", "prod"]).unwrap();
    assert_eq!(rolled["pinned"], false, "{rolled}");
    assert_eq!(served(&gw, "prod").await["v"], "2");
    let err = cli(&gw, &["stage", "rollback", "shop", "prod"]).unwrap_err();
    assert!(
        err.contains("409") && err.contains("nothing to roll back to"),
        "{err}"
    );
    let rolled = cli(&gw, &["stage", "rollback", "shop", "prod", "--to", &id1]).unwrap();
    assert_eq!(rolled["deploymentId"], id1.as_str());

    // Bad requests: AWS's error types, and nothing changes.
    let r = admin(
        &gw,
        "POST",
        "/apis/shop/stages/prod/rollback",
        json!({"deploymentId": "ffffffffff"}),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.header("x-amzn-errortype"), Some("NotFoundException"));
    assert_eq!(
        r.json()["message"],
        "Invalid Deployment identifier specified: ffffffffff"
    );
    let r = admin(&gw, "GET", "/apis/nope/deployments", Value::Null).await;
    assert_eq!(r.status, 404);
    let r = admin(&gw, "GET", "/apis/shop/stages/nope", Value::Null).await;
    assert_eq!(
        r.json()["message"],
        "Invalid stage identifier specified: nope"
    );
    let r = admin(
        &gw,
        "PATCH",
        "/apis/shop/stages/prod",
        json!({"patchOperations": [{"op": "copy", "from": "/canarySettings/deploymentId", "path": "/deploymentId"}]}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "Promotion not available. Canary does not exist."
    );
    let r = admin(
        &gw,
        "POST",
        "/apis/shop/deployments",
        json!({"canarySettings": {"percentTraffic": 10}}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "Invalid deployment content specified.Non null and non empty stageName must be provided for canary deployment. Provided value is null"
    );
    let before = admin(&gw, "GET", "/apis/shop/deployments", Value::Null)
        .await
        .json();
    let r = admin(
        &gw,
        "POST",
        "/apis/shop/deployments",
        json!({"stageName": "prod", "canarySettings": {"percentTraffic": 150}}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.json()["message"],
        "Invalid percentTraffic 150: must be a number between 0.0 and 100.0"
    );
    let after = admin(&gw, "GET", "/apis/shop/deployments", Value::Null)
        .await
        .json();
    assert_eq!(before, after, "a refused deployment stores nothing");
    // Stage variables: at most 100, the gateway file's and the stored ones together.
    let many: serde_json::Map<String, Value> = (0..100)
        .map(|i| (format!("/variables/v{i}"), json!("x")))
        .collect();
    let ops: Vec<Value> = many
        .keys()
        .map(|path| json!({"op": "replace", "path": path, "value": "x"}))
        .collect();
    let r = admin(
        &gw,
        "PATCH",
        "/apis/shop/stages/prod",
        json!({ "patchOperations": ops }),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("at most 100"), "{}", r.text());
    let r = admin(
        &gw,
        "PATCH",
        "/apis/shop/stages/prod",
        json!({"patchOperations": [{"op": "move", "path": "/x"}]}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.header("x-amzn-errortype"), Some("BadRequestException"));
    let r = admin(
        &gw,
        "PATCH",
        "/apis/shop/stages/prod",
        json!({"nonsense": 1}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(served(&gw, "prod").await["v"], "1");

    // A corrupt stage file is a clear `check` error, and a reload keeps the old state.
    let stage_file = dir.path("xdg-data/portico/apis/shop/stages/prod.json");
    std::fs::write(&stage_file, "{not json").unwrap();
    let r = admin(&gw, "POST", "/reload", Value::Null).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("prod.json"), "{}", r.text());
    assert_eq!(served(&gw, "prod").await["v"], "1");
}

/// A canary takes its share of requests at random, with its deployment and variable
/// overrides; promote copies both to the stage and keeps the canary at 0%. Requests running
/// the whole time (canary deploy, share change, promote, canary deletion, rollback, redeploy)
/// never fail.
#[tokio::test]
async fn canary_split_promote_and_no_failed_request() {
    let dir = Dir::new();
    gateway(&dir, "1");
    let gw = Portico::start(&dir);
    let id1 = cli(&gw, &["deploy", "shop", "--stage", "prod"]).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Load on prod from here to the end: every answer must be a 200.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
        let url = gw.url("/prod/v");
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let reply = get(&url).await;
                sent.fetch_add(1, Ordering::Relaxed);
                if reply.status != 200 {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }

    dir.write("api.yaml", &api("2"));
    assert_eq!(admin(&gw, "POST", "/reload", Value::Null).await.status, 200);
    let canary = cli(
        &gw,
        &[
            "deploy",
            "shop",
            "--stage",
            "prod",
            "--canary-percent",
            "10",
            "--canary-var",
            "color=green",
        ],
    )
    .unwrap();
    let id2 = canary["id"].as_str().unwrap().to_owned();
    let stage = cli(&gw, &["stage", "show", "shop", "prod"]).unwrap();
    assert_eq!(stage["deploymentId"], id1.as_str(), "{stage}");
    assert_eq!(stage["canarySettings"]["deploymentId"], id2.as_str());
    assert_eq!(stage["canarySettings"]["percentTraffic"], 10.0);

    // 2 000 requests: the canary's count is binomial(2000, 0.1), mean 200, sd 13.4; ±5 sd.
    let mut canaries = 0;
    for _ in 0..2000 {
        let v = served(&gw, "prod").await;
        if v["canary"] == "true" {
            canaries += 1;
            assert_eq!(
                (v["v"].as_str(), v["dep"].as_str()),
                (Some("2"), Some(id2.as_str()))
            );
            assert_eq!(v["color"], "green");
        } else {
            assert_eq!(
                (v["v"].as_str(), v["dep"].as_str()),
                (Some("1"), Some(id1.as_str()))
            );
            assert_eq!(v["color"], "blue");
        }
    }
    assert!(
        (133..=267).contains(&canaries),
        "{canaries} canary requests of 2000 at 10%"
    );
    // Canary series are labelled `prod/Canary`.
    let metrics = get(&gw.admin_url("/metrics")).await.text();
    assert!(metrics.contains(r#"stage="prod/Canary""#), "{metrics}");

    // 100%: every request is the canary's; the access log marks it.
    let r = cli(
        &gw,
        &["stage", "canary", "shop", "prod", "--percent", "100"],
    )
    .unwrap();
    assert_eq!(r["canarySettings"]["percentTraffic"], 100.0);
    let reply = get(&gw.url("/prod/v")).await;
    assert_eq!(reply.json()["canary"], "true");
    let line = gw.access_log_for(reply.request_id()).await;
    assert_eq!(line["isCanaryRequest"], true, "{line}");
    assert_eq!(line["deploymentId"], id2.as_str(), "{line}");

    // While the canary exists, the stage serves only its own or the canary's deployment.
    let r = admin(
        &gw,
        "PATCH",
        "/apis/shop/stages/prod",
        json!({"patchOperations": [{"op": "remove", "path": "/deploymentId"}]}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());

    // Promote: the stage takes the canary's deployment and overrides; the canary stays at 0%.
    let promoted = cli(&gw, &["stage", "promote", "shop", "prod"]).unwrap();
    assert_eq!(promoted["deploymentId"], id2.as_str(), "{promoted}");
    assert_eq!(promoted["variables"]["color"], "green");
    assert_eq!(promoted["canarySettings"]["percentTraffic"], 0.0);
    for _ in 0..20 {
        let v = served(&gw, "prod").await;
        assert_eq!(
            (v["v"].as_str(), v["canary"].as_str(), v["color"].as_str()),
            (Some("2"), Some("false"), Some("green"))
        );
    }

    // Delete the canary, roll back: deployment 1 again (the promoted variable stays).
    let r = cli(&gw, &["stage", "delete-canary", "shop", "prod"]).unwrap();
    assert!(r.get("canarySettings").is_none(), "{r}");
    let r = cli(&gw, &["stage", "rollback", "shop", "prod"]).unwrap();
    assert_eq!(r["deploymentId"], id1.as_str(), "{r}");
    assert_eq!(served(&gw, "prod").await["v"], "1");

    // A plain redeploy under the same load: prod pinned to the current definition (2).
    let d = cli(&gw, &["deploy", "shop", "--stage", "prod"]).unwrap();
    assert_eq!(d["id"], id2.as_str());
    assert_eq!(served(&gw, "prod").await["v"], "2");

    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    let (sent, failed) = (sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert!(sent > 100, "{sent} requests under load");
    assert_eq!(
        failed, 0,
        "{failed} of {sent} requests failed while stages changed"
    );
}

/// An HTTP API's `$default` stage answers at the base URL; other stages keep their prefix.
/// It follows the file (auto-deploy) until it is deployed to, like any stage.
#[tokio::test]
async fn the_default_stage_serves_the_base_url() {
    let dir = Dir::new();
    dir.write("api.yaml", &api("1"));
    dir.write(
        "gateway.yaml",
        "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nreload: {watch: false}\napis:\n  - name: shop\n    spec: api.yaml\n    stages:\n      $default: {variables: {color: plain}}\n      beta: {variables: {color: blue}}\n",
    );
    let gw = Portico::start(&dir);
    let base = get(&gw.url("/v")).await;
    assert_eq!(base.status, 200, "{}", base.text());
    assert_eq!(base.json()["color"], "plain");
    assert_eq!(served(&gw, "beta").await["color"], "blue");
    let reply = get(&gw.url("/v")).await;
    let line = gw.access_log_for(reply.request_id()).await;
    assert_eq!(line["stage"], "$default", "{line}");
    // Pinned: a new definition reaches beta (auto-deploy) but not $default.
    cli(&gw, &["deploy", "shop", "--stage", "$default"]).unwrap();
    dir.write("api.yaml", &api("2"));
    assert_eq!(admin(&gw, "POST", "/reload", Value::Null).await.status, 200);
    assert_eq!(get(&gw.url("/v")).await.json()["v"], "1");
    assert_eq!(served(&gw, "beta").await["v"], "2");
    assert_eq!(get(&gw.url("/nope/v")).await.status, 403);
}

/// A deployment runs the plugin versions it was made with: a plugin changed since (a new file
/// and a reload, or `PUT /plugins`) reaches the stages that follow the file, not the one pinned
/// to the deployment, also after a restart; a new deployment takes the new version, and a
/// rollback brings the old one back.
#[tokio::test]
async fn a_deployment_keeps_its_plugin_versions() {
    let dir = Dir::new();
    std::fs::copy(component("authorizer-allow"), dir.path("gate.wasm")).unwrap();
    dir.write(
        "api.yaml",
        &format!(
            "openapi: 3.0.1\ninfo: {{title: t, version: '1'}}\npaths:\n{}components:\n  securitySchemes:\n{}",
            mock_at("/v", "gate: []", r#"{"who":"$context.authorizer.principalId"}"#),
            authorizer_scheme("gate", "gate"),
        ),
    );
    dir.write(
        "gateway.yaml",
        "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nreload: {watch: false}\nplugins:\n  - name: gate\n    kind: authorizer\n    file: gate.wasm\n    config: {header: authorization, tokens: {t1: user-1}}\napis:\n  - name: shop\n    spec: api.yaml\n    stages:\n      prod: {}\n      beta: {}\n",
    );
    let who = |gw: &Portico, stage: &str| {
        let url = gw.url(&format!("/{stage}/v"));
        async move {
            // A token the header authorizer does not know; the allow-all one lets it through.
            let reply = send("GET", &url, &[("authorization", "unknown-token")], "").await;
            match reply.status {
                http::StatusCode::OK => reply.json()["who"].as_str().unwrap().to_owned(),
                status => status.as_u16().to_string(),
            }
        }
    };
    let mut gw = Portico::start(&dir);
    let first = admin(
        &gw,
        "POST",
        "/apis/shop/deployments",
        json!({"stageName": "prod"}),
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.text());
    let first = first.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(who(&gw, "prod").await, "anyone");

    // The plugin's file changes: the following stage runs the new version (the header
    // authorizer, which refuses a request without a token), the pinned one the old.
    std::fs::copy(component("authorizer-header"), dir.path("gate.wasm")).unwrap();
    let reloaded = send("POST", &gw.admin_url("/reload"), &[], "").await;
    assert_eq!(reloaded.status, 200, "{}", reloaded.text());
    assert_eq!(who(&gw, "beta").await, "401");
    assert_eq!(who(&gw, "prod").await, "anyone");

    // After a restart the old version comes from the data directory.
    drop(gw);
    gw = Portico::start(&dir);
    assert_eq!(who(&gw, "beta").await, "401");
    assert_eq!(who(&gw, "prod").await, "anyone");

    // The same definition deployed again is a new deployment, on the new version.
    let second = admin(
        &gw,
        "POST",
        "/apis/shop/deployments",
        json!({"stageName": "prod"}),
    )
    .await;
    assert_eq!(second.status, 201, "{}", second.text());
    let second = second.json()["id"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert_eq!(who(&gw, "prod").await, "401");

    // A plugin deployed through the admin API does not change a pinned stage either.
    let allow = std::fs::read(component("authorizer-allow")).unwrap();
    let put = send("PUT", &gw.admin_url("/plugins/gate"), &[], allow).await;
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(who(&gw, "beta").await, "anyone");
    assert_eq!(who(&gw, "prod").await, "401");

    // Rolling back brings the first deployment's version back.
    let back = admin(
        &gw,
        "POST",
        "/apis/shop/stages/prod/rollback",
        json!({"deploymentId": first}),
    )
    .await;
    assert_eq!(back.status, 200, "{}", back.text());
    assert_eq!(who(&gw, "prod").await, "anyone");
    let shown = admin(
        &gw,
        "GET",
        &format!("/apis/shop/deployments/{first}"),
        Value::Null,
    )
    .await;
    assert!(
        shown.json()["plugins"]["gate"].is_string(),
        "{}",
        shown.text()
    );
}

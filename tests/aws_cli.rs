//! The real AWS CLI (`aws apigateway`, awscli from PyPI in tests/.venv) against Portico's
//! admin listener, signing with SigV4 and the admin token as its secret key: import an AWS
//! export, deploy it to a stage, call it through the gateway, run a canary at 10% over 2 000
//! requests, promote, roll back, make an API key and read usage, export and import again.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::*;

/// What an AWS export of a one-method API looks like: a MOCK integration that answers which
/// definition, deployment and variables served the request.
fn export(version: &str) -> String {
    let template = format!(
        r#"{{"v":"{version}","dep":"$context.deploymentId","canary":"$context.isCanaryRequest","color":"$stageVariables.color"}}"#
    );
    json!({
        "openapi": "3.0.1",
        "info": {"title": "pets", "version": "2026-12-03T00:00:00Z"},
        "paths": {"/v": {"get": {
            "responses": {"200": {"description": "200 response"}},
            "x-amazon-apigateway-integration": {
                "type": "mock",
                "requestTemplates": {"application/json": "{\"statusCode\": 200}"},
                "responses": {"default": {
                    "statusCode": "200",
                    "responseTemplates": {"application/json": template},
                }},
                "passthroughBehavior": "when_no_match",
            },
        }}},
        "x-amazon-apigateway-api-key-source": "HEADER",
    })
    .to_string()
}

fn aws_bin() -> PathBuf {
    std::env::var_os("PORTICO_TEST_AWS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_file("tests/.venv/bin/aws"))
}

/// `aws apigateway ARGS --output json` against `gw`, signed with `secret`.
fn aws_with(gw: &Portico, secret: &str, args: &[&str]) -> Result<Value, String> {
    let bin = aws_bin();
    assert!(
        bin.exists(),
        "{} is missing: run tests/run.sh (it installs awscli in tests/.venv)",
        bin.display()
    );
    let endpoint = format!("http://{}", gw.admin.expect("an admin listener"));
    let out = Command::new(bin)
        .arg("apigateway")
        .args(args)
        .args([
            "--endpoint-url",
            &endpoint,
            "--region",
            "us-east-1",
            "--output",
            "json",
        ])
        .env("AWS_ACCESS_KEY_ID", "portico")
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_RETRY_MODE", "standard")
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()
        .expect("aws runs");
    if out.status.success() {
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
        })
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn aws(gw: &Portico, args: &[&str]) -> Value {
    aws_with(gw, &gw.admin_token(), args).unwrap_or_else(|e| panic!("aws {args:?}: {e}"))
}

/// `get-export` of stage prod as OpenAPI 3 JSON into `out`; its text.
fn get_export(gw: &Portico, id: &str, out: &std::path::Path) -> String {
    let out_arg = out.to_str().unwrap();
    aws(
        gw,
        &[
            "get-export",
            "--rest-api-id",
            id,
            "--stage-name",
            "prod",
            "--export-type",
            "oas30",
            "--accepts",
            "application/json",
            out_arg,
        ],
    );
    std::fs::read_to_string(out).unwrap()
}

/// `GET /{stage}/v` on the API's execute-api host.
async fn call(gw: &Portico, id: &str, stage: &str) -> Value {
    let host = format!("{id}.execute-api.localhost");
    let reply = send(
        "GET",
        &gw.url(&format!("/{stage}/v")),
        &[("host", &host)],
        "",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

#[tokio::test]
async fn the_aws_cli_drives_portico() {
    let dir = Dir::new();
    dir.write(
        "shop.yaml",
        &format!(
            "openapi: 3.0.1\ninfo: {{title: shop, version: '1'}}\npaths:\n{}",
            mock_at("/items", "", r#"{"shop":true}"#)
        ),
    );
    dir.write(
        "gateway.yaml",
        "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nreload: {watch: false}\napis:\n  - name: shop\n    spec: shop.yaml\n    hosts: [shop.example.test]\n    stages:\n      prod: {}\n",
    );
    let gw = Portico::start(&dir);

    // Import an AWS export; the gateway file's API is listed beside it.
    dir.write("v1.json", &export("1"));
    let body = format!("fileb://{}", dir.path("v1.json").display());
    let api = aws(&gw, &["import-rest-api", "--body", &body]);
    let id = api["id"].as_str().unwrap().to_owned();
    assert_eq!(api["name"], "pets");
    let apis = aws(&gw, &["get-rest-apis"]);
    let names: Vec<&str> = apis["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&id.as_str()) && names.contains(&"shop"),
        "{apis}"
    );
    let resources = aws(&gw, &["get-resources", "--rest-api-id", &id]);
    let paths: Vec<&str> = resources["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/", "/v"], "{resources}");

    // Deploy to a new stage and call it.
    let d1 = aws(
        &gw,
        &[
            "create-deployment",
            "--rest-api-id",
            &id,
            "--stage-name",
            "prod",
            "--variables",
            "color=blue",
        ],
    );
    let id1 = d1["id"].as_str().unwrap().to_owned();
    let v = call(&gw, &id, "prod").await;
    assert_eq!(
        (v["v"].as_str(), v["dep"].as_str(), v["color"].as_str()),
        (Some("1"), Some(id1.as_str()), Some("blue"))
    );
    let stages = aws(&gw, &["get-stages", "--rest-api-id", &id]);
    assert_eq!(stages["item"][0]["stageName"], "prod", "{stages}");
    assert_eq!(stages["item"][0]["deploymentId"], id1.as_str());

    // A new definition needs a redeploy, as on AWS.
    dir.write("v2.json", &export("2"));
    let body2 = format!("fileb://{}", dir.path("v2.json").display());
    aws(
        &gw,
        &[
            "put-rest-api",
            "--rest-api-id",
            &id,
            "--mode",
            "overwrite",
            "--body",
            &body2,
        ],
    );
    assert_eq!(call(&gw, &id, "prod").await["v"], "1");

    // A canary at 10% with an override, measured over 2 000 requests: binomial(2000, 0.1),
    // mean 200, sd 13.4; the bound is ±5 sd.
    let d2 = aws(
        &gw,
        &[
            "create-deployment",
            "--rest-api-id",
            &id,
            "--stage-name",
            "prod",
            "--canary-settings",
            "percentTraffic=10,useStageCache=false,stageVariableOverrides={color=green}",
        ],
    );
    let id2 = d2["id"].as_str().unwrap().to_owned();
    let stage = aws(
        &gw,
        &["get-stage", "--rest-api-id", &id, "--stage-name", "prod"],
    );
    assert_eq!(
        stage["canarySettings"]["deploymentId"],
        id2.as_str(),
        "{stage}"
    );
    assert_eq!(stage["canarySettings"]["percentTraffic"], 10.0);
    let mut canaries = 0;
    for _ in 0..2000 {
        let v = call(&gw, &id, "prod").await;
        match v["canary"].as_str() {
            Some("true") => {
                canaries += 1;
                assert_eq!(
                    (v["v"].as_str(), v["color"].as_str()),
                    (Some("2"), Some("green"))
                );
            }
            _ => assert_eq!(
                (v["v"].as_str(), v["color"].as_str()),
                (Some("1"), Some("blue"))
            ),
        }
    }
    assert!((133..=267).contains(&canaries), "{canaries} of 2000 at 10%");

    // Promote, as the console does: the canary stays, at 0%.
    let promoted = aws(
        &gw,
        &[
            "update-stage",
            "--rest-api-id",
            &id,
            "--stage-name",
            "prod",
            "--patch-operations",
            "op=copy,from=/canarySettings/deploymentId,path=/deploymentId",
            "op=copy,from=/canarySettings/stageVariableOverrides,path=/variables",
            "op=replace,path=/canarySettings/percentTraffic,value=0.0",
        ],
    );
    assert_eq!(promoted["deploymentId"], id2.as_str(), "{promoted}");
    assert_eq!(promoted["canarySettings"]["percentTraffic"], 0.0);
    let v = call(&gw, &id, "prod").await;
    assert_eq!(
        (v["v"].as_str(), v["canary"].as_str(), v["color"].as_str()),
        (Some("2"), Some("false"), Some("green"))
    );

    // AWS's errors, as the CLI prints them.
    let err = aws_with(
        &gw,
        &gw.admin_token(),
        &[
            "update-stage",
            "--rest-api-id",
            &id,
            "--stage-name",
            "prod",
            "--patch-operations",
            "op=copy,from=/variables,path=/deploymentId",
        ],
    )
    .unwrap_err();
    assert!(
        err.contains("BadRequestException") && err.contains("Valid copy:path are"),
        "{err}"
    );
    let err = aws_with(
        &gw,
        &gw.admin_token(),
        &["get-rest-api", "--rest-api-id", "nope"],
    )
    .unwrap_err();
    assert!(
        err.contains("(NotFoundException)")
            && err.contains("Invalid API identifier specified: nope"),
        "{err}"
    );
    let err = aws_with(&gw, "not-the-admin-token-at-all", &["get-rest-apis"]).unwrap_err();
    assert!(err.contains("403") || err.contains("Forbidden"), "{err}");

    // Roll back: delete the canary, point the stage at the first deployment.
    aws(
        &gw,
        &[
            "update-stage",
            "--rest-api-id",
            &id,
            "--stage-name",
            "prod",
            "--patch-operations",
            "op=remove,path=/canarySettings",
            &format!("op=replace,path=/deploymentId,value={id1}"),
        ],
    );
    assert_eq!(call(&gw, &id, "prod").await["v"], "1");
    let deployments = aws(&gw, &["get-deployments", "--rest-api-id", &id]);
    assert_eq!(
        deployments["items"].as_array().unwrap().len(),
        2,
        "{deployments}"
    );

    // A usage plan on the imported API's stage, an API key in it, and the plan's usage.
    let plan = aws(
        &gw,
        &[
            "create-usage-plan",
            "--name",
            "basic plan",
            "--api-stages",
            &format!("apiId={id},stage=prod"),
            "--quota",
            "limit=100,period=DAY",
            "--throttle",
            "burstLimit=10,rateLimit=5",
        ],
    );
    let plan_id = plan["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (plan["name"].as_str(), plan["quota"]["limit"].as_u64()),
        (Some("basic plan"), Some(100)),
        "{plan}"
    );
    assert_eq!(plan["apiStages"][0]["apiId"], id.as_str(), "{plan}");
    let plans = aws(&gw, &["get-usage-plans"]);
    assert_eq!(plans["items"][0]["id"], plan_id.as_str(), "{plans}");
    let key = aws(
        &gw,
        &[
            "create-api-key",
            "--name",
            "cli-key",
            "--enabled",
            "--value",
            "cli-key-value-0123456789abcdef",
        ],
    );
    assert_eq!(key["name"], "cli-key");
    let keys = aws(&gw, &["get-api-keys"]);
    assert!(
        keys["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["name"] == "cli-key"),
        "{keys}"
    );
    let joined = aws(
        &gw,
        &[
            "create-usage-plan-key",
            "--usage-plan-id",
            &plan_id,
            "--key-id",
            "cli-key",
            "--key-type",
            "API_KEY",
        ],
    );
    assert_eq!(joined["id"], "cli-key", "{joined}");
    let keys = send("GET", &gw.admin_url("/apikeys"), &[], "").await.json();
    let plans = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "cli-key")
        .unwrap()["usagePlans"]
        .clone();
    assert_eq!(plans, json!([plan_id]), "{keys}");
    let today = time_today();
    let usage = aws(
        &gw,
        &[
            "get-usage",
            "--usage-plan-id",
            &plan_id,
            "--start-date",
            &today,
            "--end-date",
            &today,
        ],
    );
    assert_eq!(usage["usagePlanId"], plan_id.as_str(), "{usage}");
    assert_eq!(usage["startDate"], today.as_str());

    // Caches flush; the export imports again to the same export (a fixed point).
    aws(
        &gw,
        &[
            "flush-stage-cache",
            "--rest-api-id",
            &id,
            "--stage-name",
            "prod",
        ],
    );
    aws(
        &gw,
        &[
            "flush-stage-authorizers-cache",
            "--rest-api-id",
            &id,
            "--stage-name",
            "prod",
        ],
    );
    let out1 = dir.path("export1.json");
    let first = get_export(&gw, &id, &out1);
    let doc: Value = serde_json::from_str(&first).unwrap();
    assert!(
        doc["paths"]["/v"]["get"]["x-amazon-apigateway-integration"].is_object(),
        "{first}"
    );
    assert!(
        first.contains(r#"\"v\":\"1\""#),
        "the export is what prod serves: {first}"
    );
    let again = aws(
        &gw,
        &[
            "import-rest-api",
            "--body",
            &format!("fileb://{}", out1.display()),
        ],
    );
    let id3 = again["id"].as_str().unwrap().to_owned();
    aws(
        &gw,
        &[
            "create-deployment",
            "--rest-api-id",
            &id3,
            "--stage-name",
            "prod",
        ],
    );
    assert_eq!(first, get_export(&gw, &id3, &dir.path("export2.json")));
    assert_eq!(call(&gw, &id3, "prod").await["v"], "1");

    // The file's API kept serving throughout.
    let reply = send(
        "GET",
        &gw.url("/prod/items"),
        &[("host", "shop.example.test")],
        "",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

/// Today (UTC) as YYYY-MM-DD.
fn time_today() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

#[tokio::test]
async fn the_aws_cli_builds_an_api_method_by_method() {
    let dir = Dir::new();
    dir.write(
        "gateway.yaml",
        "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nreload: {watch: false}\napis: []\n",
    );
    let gw = Portico::start(&dir);
    let upstream = Upstream::start().await;

    let api = aws(&gw, &["create-rest-api", "--name", "built"]);
    let id = api["id"].as_str().unwrap().to_owned();
    let root = api["rootResourceId"].as_str().unwrap().to_owned();
    let resources = aws(&gw, &["get-resources", "--rest-api-id", &id]);
    assert_eq!(resources["items"][0]["id"], root.as_str(), "{resources}");
    let resource = |parent: &str, part: &str| {
        aws(
            &gw,
            &[
                "create-resource",
                "--rest-api-id",
                &id,
                "--parent-id",
                parent,
                "--path-part",
                part,
            ],
        )
    };
    let pets = resource(&root, "pets");
    assert_eq!(pets["path"], "/pets", "{pets}");
    let pet = resource(pets["id"].as_str().unwrap(), "{id}");
    assert_eq!(pet["path"], "/pets/{id}", "{pet}");
    let pet_id = pet["id"].as_str().unwrap().to_owned();
    let err = aws_with(
        &gw,
        &gw.admin_token(),
        &[
            "create-resource",
            "--rest-api-id",
            &id,
            "--parent-id",
            &root,
            "--path-part",
            "pets",
        ],
    )
    .unwrap_err();
    assert!(err.contains("(ConflictException)"), "{err}");

    // `aws <what...> --rest-api-id ID --resource-id RESOURCE --http-method METHOD`.
    let on_method = |resource: &str, method: &str, what: &[&str]| {
        let mut args = what.to_vec();
        args.extend([
            "--rest-api-id",
            id.as_str(),
            "--resource-id",
            resource,
            "--http-method",
            method,
        ]);
        aws(&gw, &args)
    };
    let pets_id = pets["id"].as_str().unwrap();

    // A method without an integration is kept in the working copy, and a deployment refuses
    // it as AWS does.
    let method = on_method(
        &pet_id,
        "GET",
        &[
            "put-method",
            "--authorization-type",
            "NONE",
            "--request-parameters",
            "method.request.path.id=true",
        ],
    );
    assert_eq!(method["httpMethod"], "GET", "{method}");
    assert_eq!(method["requestParameters"]["method.request.path.id"], true);
    let err = aws_with(
        &gw,
        &gw.admin_token(),
        &[
            "create-deployment",
            "--rest-api-id",
            &id,
            "--stage-name",
            "prod",
        ],
    )
    .unwrap_err();
    assert!(
        err.contains("(BadRequestException)") && err.contains("No integration defined for method"),
        "{err}"
    );

    // A MOCK integration with a method response and an integration response.
    let pet_method = |what: &[&str]| on_method(&pet_id, "GET", what);
    let integration = pet_method(&[
        "put-integration",
        "--type",
        "MOCK",
        "--request-templates",
        r#"{"application/json":"{\"statusCode\": 200}"}"#,
    ]);
    assert_eq!(integration["type"], "MOCK", "{integration}");
    pet_method(&[
        "put-method-response",
        "--status-code",
        "200",
        "--response-parameters",
        "method.response.header.X-Pet=false",
    ]);
    let response = pet_method(&[
        "put-integration-response",
        "--status-code",
        "200",
        "--response-templates",
        r#"{"application/json":"{\"pet\":\"$input.params('id')\"}"}"#,
        "--response-parameters",
        r#"{"method.response.header.X-Pet":"'mocked'"}"#,
    ]);
    assert_eq!(response["statusCode"], "200", "{response}");
    let got = pet_method(&["get-method"]);
    assert_eq!(
        got["methodIntegration"]["integrationResponses"]["200"]["responseParameters"]["method.response.header.X-Pet"],
        "'mocked'",
        "{got}"
    );

    // An HTTP_PROXY method on /pets to a real upstream.
    on_method(
        pets_id,
        "POST",
        &["put-method", "--authorization-type", "NONE"],
    );
    let uri = format!("http://{}/upstream/pets", upstream.addr);
    on_method(
        pets_id,
        "POST",
        &[
            "put-integration",
            "--type",
            "HTTP_PROXY",
            "--integration-http-method",
            "POST",
            "--uri",
            &uri,
        ],
    );

    let deployed = aws(
        &gw,
        &[
            "create-deployment",
            "--rest-api-id",
            &id,
            "--stage-name",
            "prod",
        ],
    );
    assert!(deployed["id"].is_string(), "{deployed}");
    let host = format!("{id}.execute-api.localhost");
    let reply = send("GET", &gw.url("/prod/pets/7"), &[("host", &host)], "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json(), json!({"pet": "7"}));
    assert_eq!(reply.header("x-pet"), Some("mocked"));
    let reply = send(
        "POST",
        &gw.url("/prod/pets"),
        &[("host", &host)],
        r#"{"name":"rex"}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = upstream.last();
    assert_eq!(seen.target, "/upstream/pets");
    assert_eq!(&seen.body[..], br#"{"name":"rex"}"#);

    // The export carries what was built; deleting a method is a change of the working copy
    // only, until the next deployment.
    let export = get_export(&gw, &id, &dir.path("built.json"));
    let doc: Value = serde_json::from_str(&export).unwrap();
    assert_eq!(
        doc["paths"]["/pets/{id}"]["get"]["x-amazon-apigateway-integration"]["type"], "mock",
        "{export}"
    );
    pet_method(&["delete-method"]);
    let resources = aws(&gw, &["get-resources", "--rest-api-id", &id]);
    let pet = resources["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "/pets/{id}")
        .unwrap();
    assert!(pet.get("resourceMethods").is_none(), "{resources}");
    let reply = send("GET", &gw.url("/prod/pets/7"), &[("host", &host)], "").await;
    assert_eq!(
        reply.status,
        200,
        "the stage serves its deployment: {}",
        reply.text()
    );
}

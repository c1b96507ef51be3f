//! The command line (`check`, `serve` with the embedded demo) and observability: `/health`,
//! `/metrics`, and the access log.

use std::process::Command;

use crate::support::*;

#[test]
fn check_accepts_the_demo() {
    let out = Command::new(PORTICO)
        .args([
            "check",
            "--config",
            repo_file("config/examples/demo/gateway.yaml")
                .to_str()
                .unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("ok (1 APIs, 4 methods, 0 warnings)"),
        "{stdout}"
    );
}

#[test]
fn check_lists_every_error_with_file_and_path() {
    let dir = Dir::new();
    dir.write(
        "pets.yaml",
        r#"openapi: 3.0.1
info: {title: pets, version: '1'}
x-amazon-apigateway-auth: {type: NONE}
x-amazon-apigateway-documentation: {}
x-amazon-apigateway-made-up: true
paths:
  /pets/{id}:
    get:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: ftp://example.com/{petId}
        timeoutInMillis: 30000
  /pets/{name}/toys:
    get:
      security: [{api_key: []}]
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '{"status": 200}'
  /orphan:
    get:
      summary: no integration
"#,
    )
    .write(
        "gateway.yaml",
        "listeners:\n  - address: 127.0.0.1:0\nplugin_instances: 0\nworker_cpu_affinity: sometimes\napis:\n  - name: pets\n    spec: pets.yaml\n    stages:\n      prod:\n        variables: {bad-name: 'x'}\n  - name: pets\n    spec: missing.yaml\n    stages: {}\n",
    );
    let Checked {
        ok, stdout: out, ..
    } = check(&dir);
    assert!(!ok, "check must fail:\n{out}");
    for expected in [
        "pets.yaml: x-amazon-apigateway-auth: x-amazon-apigateway-auth is not supported yet",
        "pets.yaml: x-amazon-apigateway-documentation: warning: x-amazon-apigateway-documentation is accepted but has no effect",
        "pets.yaml: x-amazon-apigateway-made-up: x-amazon-apigateway-made-up is not a known API Gateway extension",
        "pets.yaml: paths./pets/{id}.get.x-amazon-apigateway-integration.uri: {petId} is neither mapped",
        "pets.yaml: paths./pets/{id}.get.x-amazon-apigateway-integration.uri: ftp://example.com/{petId}: an HTTP integration URI must start with http:// or https://",
        "pets.yaml: paths./pets/{id}.get.x-amazon-apigateway-integration.timeoutInMillis: must be an integer between 50 and 29000",
        "pets.yaml: paths./pets/{name}/toys: A sibling ({id}) of this resource already has a variable path part -- only one is allowed",
        "pets.yaml: paths./pets/{name}/toys.get.security: security requirement [0] names api_key, which is not a defined security scheme",
        "pets.yaml: paths./pets/{name}/toys.get.x-amazon-apigateway-integration.requestTemplates.application/json: a MOCK request template must be JSON",
        "pets.yaml: paths./orphan.get: the method has no x-amazon-apigateway-integration",
        "gateway.yaml: apis[0].stages.prod.variables.bad-name: a stage variable name",
        "gateway.yaml: apis[1].name: another API is already named pets",
        "gateway.yaml: apis[1].stages: an API needs at least one stage",
        "gateway.yaml: apis[1].spec: cannot read",
        "gateway.yaml: plugin_instances: must be between 1 and 100000",
        "gateway.yaml: worker_cpu_affinity: must be auto, on or off, not \"sometimes\"",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(out.contains(" errors"), "{out}");
}

#[test]
fn check_reports_access_control_errors_with_their_paths() {
    let dir = Dir::new();
    dir.write(
        "api.yaml",
        r#"openapi: 3.0.1
info: {title: a, version: '1'}
x-amazon-apigateway-policy:
  Version: "2012-10-17"
  Statement:
    - {Effect: Allow, Principal: "*", Action: "execute-api:Invoke", Resource: "execute-api:/*"}
    - {Effect: Deny, Principal: "*", Action: "execute-api:Invoke", Resource: "execute-api:/*",
       Condition: {IpAddress: {"aws:SourceIp": ["300.1.1.1"]}}}
components:
  securitySchemes:
    jwtAuth:
      type: oauth2
      flows: {}
      x-amazon-apigateway-authorizer:
        type: jwt
        jwtConfiguration: {issuer: "not-a-url", audience: []}
    jwtSecret:
      type: oauth2
      flows: {}
      x-amazon-apigateway-authorizer:
        type: jwt
        x-portico-jwt-secret-env: PORTICO_SURELY_UNSET_SECRET
        jwtConfiguration: {issuer: "https://issuer.example", audience: [a]}
    pool:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authorizer:
        type: cognito_user_pools
        providerARNs: [arn:aws:cognito-idp:us-east-1:1:pool/x]
paths:
  /a:
    get:
      security: [{jwtAuth: []}]
      x-amazon-apigateway-integration: {type: mock, requestTemplates: {application/json: '{"statusCode": 200}'}}
"#,
    )
    .write(
        "gateway.yaml",
        "listeners:\n  - address: 127.0.0.1:0\naws: {account_id: '12'}\niam:\n  credentials:\n    - {access_key_id: short, secret_access_key: x, user: 'a b', policy: {Statement: [{Effect: Maybe}]}}\nclient_ip: {trusted_proxies: [not-an-ip]}\napis:\n  - name: a\n    spec: api.yaml\n    stages: {prod: {}}\n",
    );
    let Checked {
        ok, stdout: out, ..
    } = check(&dir);
    assert!(!ok, "check must fail:\n{out}");
    for expected in [
        "api.yaml: x-amazon-apigateway-policy: Statement[1].Condition.IpAddress.aws:SourceIp: '300.1.1.1' is not an IP address or CIDR block",
        "api.yaml: components.securitySchemes.jwtAuth.x-amazon-apigateway-authorizer.jwtConfiguration.issuer: must be the issuer's URL",
        "api.yaml: components.securitySchemes.jwtAuth.x-amazon-apigateway-authorizer.jwtConfiguration.audience: list 1 to 50 audiences",
        "api.yaml: components.securitySchemes.pool.x-amazon-apigateway-authorizer.providerARNs: arn:aws:cognito-idp:us-east-1:1:pool/x is not a user pool ARN",
        "api.yaml: components.securitySchemes.jwtSecret.x-amazon-apigateway-authorizer.x-portico-jwt-secret-env: the environment variable PORTICO_SURELY_UNSET_SECRET is not set",
        "gateway.yaml: aws.account_id: \"12\" is not a 12-digit account id",
        "gateway.yaml: iam.credentials[0].access_key_id: must be 16 to 128 letters and digits",
        "gateway.yaml: iam.credentials[0].secret_access_key: must be at least 16 characters",
        "gateway.yaml: iam.credentials[0].user: an IAM user name",
        "gateway.yaml: iam.credentials[0].policy: Statement[0].Effect",
        "gateway.yaml: client_ip.trusted_proxies[0]: \"not-an-ip\" is not an IP address or CIDR block",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
}

#[test]
fn check_reports_yaml_syntax_errors() {
    let dir = Dir::new();
    dir.write("gateway.yaml", "listeners: [\n")
        .write("api.yaml", "");
    let Checked {
        ok, stdout: out, ..
    } = check(&dir);
    assert!(!ok);
    assert!(out.contains("gateway.yaml: invalid gateway file"), "{out}");

    dir.write("gateway.yaml", "listeners: []\nunknown_key: 1\n");
    let Checked {
        ok, stdout: out, ..
    } = check(&dir);
    assert!(!ok);
    assert!(out.contains("unknown_key"), "{out}");
}

#[tokio::test]
async fn serve_without_config_runs_the_embedded_demo() {
    let gw = Portico::start_with(&["serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"]);
    let pets = get(&gw.url("/prod/pets")).await;
    assert_eq!(pets.status, 200);
    assert_eq!(pets.json().as_array().map(Vec::len), Some(3));
    let one = get(&gw.url("/prod/pets/42")).await;
    assert_eq!(one.json()["id"], "42");
    let created = send(
        "POST",
        &gw.url("/prod/pets"),
        &[("content-type", "application/json")],
        r#"{"type":"dog"}"#,
    )
    .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.header("location"), Some("/prod/pets/4"));
    let hello = send("DELETE", &gw.url("/prod/hello"), &[], "").await;
    assert_eq!(hello.json()["message"], "hello from DELETE /prod/hello");
    let missing = get(&gw.url("/prod/cats")).await;
    assert_eq!(missing.status, 403);
    assert_eq!(missing.header("access-control-allow-origin"), Some("*"));
}

#[tokio::test]
async fn health_metrics_and_access_log() {
    let up = Upstream::start().await;
    let dir = Dir::new();
    dir.single_api(
        &proxy_api(&[(
            "/items/{id}",
            "GET",
            &format!("http://{}/items/{{id}}", up.addr),
        )]),
        "      prod: {}\n",
        "",
    );
    let gw = Portico::start(&dir);

    let health = get(&gw.admin_url("/health")).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");

    let ok = send(
        "GET",
        &gw.url("/prod/items/1"),
        &[("x-test-sleep-ms", "30")],
        "",
    )
    .await;
    assert_eq!(ok.status, 200);
    let not_found = send(
        "GET",
        &gw.url("/prod/items/2"),
        &[("x-test-status", "404")],
        "",
    )
    .await;
    assert_eq!(not_found.status, 404);
    let failed = send(
        "GET",
        &gw.url("/prod/items/3"),
        &[("x-test-status", "503")],
        "",
    )
    .await;
    assert_eq!(failed.status, 503);
    let unrouted = get(&gw.url("/prod/nothing")).await;
    assert_eq!(unrouted.status, 403);

    // Access-log lines use the $context variable names.
    let line = gw.access_log_for(ok.request_id()).await;
    assert_eq!(line["httpMethod"], "GET");
    assert_eq!(line["resourcePath"], "/items/{id}");
    assert_eq!(line["path"], "/prod/items/1");
    assert_eq!(line["status"], 200);
    assert_eq!(line["protocol"], "HTTP/1.1");
    assert_eq!(line["identity.sourceIp"], "127.0.0.1");
    assert_eq!(line["responseLength"], ok.body.len());
    assert!(
        line["integrationLatency"]
            .as_u64()
            .is_some_and(|ms| ms >= 30),
        "{line}"
    );
    assert!(
        line["responseLatency"].as_u64().is_some_and(|ms| ms >= 30),
        "{line}"
    );
    assert!(
        line["requestTime"]
            .as_str()
            .is_some_and(|t| t.ends_with(" +0000")),
        "{line}"
    );
    let unrouted_line = gw.access_log_for(unrouted.request_id()).await;
    assert_eq!(unrouted_line["resourcePath"], "");
    assert_eq!(unrouted_line["status"], 403);
    assert_eq!(
        unrouted_line["error.responseType"],
        "MISSING_AUTHENTICATION_TOKEN"
    );
    assert!(unrouted_line["integrationLatency"].is_null());

    let metrics = get(&gw.admin_url("/metrics")).await;
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    let labels = r#"api="testapi",stage="prod",resource="/items/{id}",method="GET""#;
    for expected in [
        format!("portico_count_total{{{labels}}} 3"),
        format!("portico_4xx_error_total{{{labels}}} 1"),
        format!("portico_5xx_error_total{{{labels}}} 1"),
        format!("portico_latency_milliseconds_count{{{labels}}} 3"),
        format!("portico_integration_latency_milliseconds_count{{{labels}}} 3"),
        r#"portico_count_total{api="testapi",stage="prod",resource="",method=""} 1"#.to_owned(),
    ] {
        assert!(text.contains(&expected), "missing {expected} in:\n{text}");
    }
    let wrong = send("DELETE", &gw.admin_url("/metrics"), &[], "").await;
    assert_eq!(wrong.status, 405);
}

//! Routing: stage from the first segment, AWS match priorities, `ANY`, greedy paths, method
//! fallback, and the 403 `Missing Authentication Token` answer for everything else.

use crate::support::*;

/// A MOCK method that answers which resource served it and the path parameters it saw.
fn mock(method: &str, param: &str) -> String {
    let key = if method == "ANY" {
        "x-amazon-apigateway-any-method".to_owned()
    } else {
        method.to_lowercase()
    };
    mock_method(
        &key,
        "",
        &format!(
            r#"{{"resource": "$context.resourcePath", "method": "$context.httpMethod", "param": "$input.params(''{param}'')", "stage": "$context.stage"}}"#
        ),
    )
}

fn api() -> String {
    let mut doc = String::from("openapi: 3.0.1\ninfo: {title: routing, version: '1'}\npaths:\n");
    for (path, methods, param) in [
        ("/", &["GET"][..], ""),
        ("/part1", &["GET"][..], ""),
        ("/part1/hardcoded-value", &["GET"][..], ""),
        ("/part1/{param+}", &["GET"][..], "param"),
        ("/pets", &["GET", "POST"][..], ""),
        ("/pets/{id}", &["GET", "DELETE"][..], "id"),
        ("/pets/mine", &["GET"][..], ""),
        ("/test", &["POST"][..], ""),
        ("/test/any", &["ANY"][..], ""),
        ("/{proxy+}", &["OPTIONS"][..], "proxy"),
    ] {
        doc.push_str(&format!("  '{path}':\n"));
        for m in methods {
            doc.push_str(&mock(m, param));
        }
    }
    doc
}

async fn start() -> (Dir, Portico) {
    let dir = Dir::new();
    dir.single_api(&api(), "      prod: {}\n      beta: {}\n", "");
    let gw = Portico::start(&dir);
    (dir, gw)
}

#[tokio::test]
async fn literal_variable_and_greedy_priorities() {
    let (_dir, gw) = start().await;
    let cases = [
        (
            "GET",
            "/prod/part1/hardcoded-value",
            "/part1/hardcoded-value",
            "",
        ),
        (
            "GET",
            "/prod/part1/random-value",
            "/part1/{param+}",
            "random-value",
        ),
        ("GET", "/prod/part1/a/b/c", "/part1/{param+}", "a/b/c"),
        ("GET", "/prod/part1", "/part1", ""),
        ("GET", "/prod/part1/", "/part1", ""),
        ("GET", "/prod/pets/mine", "/pets/mine", ""),
        ("GET", "/prod/pets/42", "/pets/{id}", "42"),
        ("DELETE", "/prod/pets/42", "/pets/{id}", "42"),
        ("POST", "/prod/pets", "/pets", ""),
        ("GET", "/prod", "/", ""),
        ("GET", "/prod/", "/", ""),
        // Method fallback: /test defines only POST, so OPTIONS goes to /{proxy+}.
        ("OPTIONS", "/prod/test", "/{proxy+}", "test"),
        ("POST", "/prod/test", "/test", ""),
        ("GET", "/beta/test/any", "/test/any", ""),
        ("OPTIONS", "/beta/test/any", "/test/any", ""),
        ("PATCH", "/beta/test/any", "/test/any", ""),
    ];
    for (method, path, resource, param) in cases {
        let reply = send(method, &gw.url(path), &[], "").await;
        assert_eq!(reply.status, 200, "{method} {path}: {}", reply.text());
        let body = reply.json();
        assert_eq!(body["resource"], resource, "{method} {path}");
        assert_eq!(body["param"], param, "{method} {path}");
        assert_eq!(body["method"], method, "{method} {path}");
        assert!(body["stage"] == "prod" || body["stage"] == "beta");
    }
}

#[tokio::test]
async fn unmatched_answers_missing_authentication_token() {
    let (_dir, gw) = start().await;
    let cases = [
        ("GET", "/prod/unknown"),
        ("GET", "/prod/pets/1/2"),
        ("PUT", "/prod/pets"),       // known path, undefined method
        ("GET", "/prod/test"),       // only POST, and /{proxy+} only has OPTIONS
        ("GET", "/nostage/pets"),    // unknown stage
        ("GET", "/"),                // no stage at all
        ("TRACE", "/prod/test/any"), // ANY does not cover TRACE
    ];
    for (method, path) in cases {
        let reply = send(method, &gw.url(path), &[], "").await;
        assert_gateway_error(
            &reply,
            403,
            r#"{"message":"Missing Authentication Token"}"#,
            "MissingAuthenticationTokenException",
        );
    }
}

#[tokio::test]
async fn apis_are_chosen_by_host() {
    let dir = Dir::new();
    dir.write("a.yaml", &format!("openapi: 3.0.1\ninfo: {{title: a, version: '1'}}\npaths:\n  /who:\n{}", mock("GET", "")))
        .write(
            "b.yaml",
            &format!("openapi: 3.0.1\ninfo: {{title: b, version: '1'}}\npaths:\n  /who:\n{}", mock("GET", "")).replace("$context.resourcePath", "b:$context.apiId"),
        )
        .write(
            "gateway.yaml",
            "listeners:\n  - address: 127.0.0.1:0\napis:\n  - name: alpha\n    spec: a.yaml\n    stages: {v1: {}}\n  - name: beta\n    spec: b.yaml\n    hosts: [api.example.com]\n    stages: {v1: {}}\n",
        );
    let gw = Portico::start(&dir);
    let default = get(&gw.url("/v1/who")).await;
    assert_eq!(default.json()["resource"], "/who");
    let by_host = send(
        "GET",
        &gw.url("/v1/who"),
        &[("host", "API.example.com:8443")],
        "",
    )
    .await;
    assert_eq!(by_host.json()["resource"], "b:beta");
}

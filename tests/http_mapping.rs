//! HTTP API parameter mapping (AWS reference §8.8): `append|overwrite|remove` on request
//! headers, query strings and the path of `http_proxy` and `aws_proxy` integrations, and on
//! response headers and the status code, through the real gateway with a real upstream and the
//! `function-echo` plugin. Plus the `portico check` errors for bad mappings.

use crate::support::*;

fn api(up: &str) -> String {
    format!(
        r#"openapi: 3.0.1
info: {{title: hm, version: '1'}}
paths:
  /items/{{id}}:
    post:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        uri: http://{up}/x
        payloadFormatVersion: "1.0"
        requestParameters:
          "append:header.x-request-id": "$context.requestId"
          "overwrite:header.x-user": "${{request.header.user}}-${{stageVariables.suffix}}"
          "remove:header.x-secret": "''"
          "remove:querystring.debug": "''"
          "overwrite:querystring.page": "'2'"
          "append:querystring.tag": "$request.path.id"
          "overwrite:path": "/v2$request.path"
          "overwrite:header.x-name": "$request.body.user.name"
          "overwrite:header.x-missing": "$request.header.nope"
          "overwrite:header.x-multi": "$request.header.m"
          "append:header.x-stage": "$context.stage/$stageVariables.suffix"
        responseParameters:
          "200":
            "append:header.x-served-by": "portico"
            "remove:header.server": "''"
            "overwrite:header.x-upstream": "was-${{response.header.x-upstream}}"
            "overwrite:statuscode": "201"
          "404":
            "overwrite:statuscode": "410"
  /plain:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        uri: http://{up}/plain
  /fn:
    post:
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: {LAMBDA}:echo/invocations
        requestParameters:
          "overwrite:querystring.from": "$request.header.x-from"
          "remove:querystring.drop": "''"
          "overwrite:path": "/mapped"
        responseParameters:
          "200":
            "overwrite:header.x-fn": "mapped-${{context.httpMethod}}"
"#
    )
}

#[tokio::test]
async fn http_proxy_request_and_response_mapping() {
    let up = Upstream::start().await;
    let dir = Dir::new();
    dir.single_api(
        &api(&up.addr.to_string()),
        "      prod:\n        variables: {suffix: s1}\n",
        &format!(
            "plugins:\n  - name: echo\n    kind: function\n    file: {}\n",
            component("function-echo").display()
        ),
    );
    let gw = Portico::start(&dir);

    let reply = send(
        "POST",
        &gw.url("/prod/items/42?debug=1&page=1&page=7&keep=yes"),
        &[
            ("user", "ann"),
            ("x-secret", "hush"),
            ("m", "a"),
            ("m", "b"),
            ("content-type", "application/json"),
        ],
        r#"{"user":{"name":"Ann Lee"}}"#,
    )
    .await;
    // Status 200 from the upstream is overwritten to 201.
    assert_eq!(reply.status, 201, "{}", reply.text());
    let seen = up.last();
    // Path: `/v2` + the request path without the stage; query: `debug` removed, `page`
    // overwritten (both values), `tag` appended, `keep` kept.
    let (path, query) = seen.target.split_once('?').expect("a query");
    assert_eq!(path, "/v2/items/42");
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        vec![
            ("keep".to_owned(), "yes".to_owned()),
            ("page".to_owned(), "2".to_owned()),
            ("tag".to_owned(), "42".to_owned()),
        ]
    );
    let h = |name: &str| -> Vec<String> {
        seen.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(h("x-request-id"), vec![reply.request_id().to_owned()]);
    assert_eq!(h("x-user"), vec!["ann-s1"]);
    assert!(h("x-secret").is_empty(), "x-secret must be removed");
    assert_eq!(h("x-name"), vec!["Ann Lee"]);
    assert!(
        h("x-missing").is_empty(),
        "a value with nothing in it sets nothing"
    );
    assert_eq!(h("x-multi"), vec!["a,b"]);
    assert_eq!(h("x-stage"), vec!["prod/s1"]);
    // The body still reaches the upstream whole.
    assert_eq!(seen.body.as_ref(), br#"{"user":{"name":"Ann Lee"}}"#);

    // Response: appended, overwritten from the upstream's own header, and `server` removed
    // (with its x-amzn-Remapped copy).
    assert_eq!(reply.header("x-served-by"), Some("portico"));
    assert_eq!(reply.header("x-upstream"), Some("was-yes"));
    assert_eq!(reply.header("server"), None);
    assert_eq!(reply.header("x-amzn-remapped-server"), None);

    // 404 → 410; a status without mappings is untouched.
    let gone = send(
        "POST",
        &gw.url("/prod/items/1"),
        &[("x-test-status", "404")],
        "",
    )
    .await;
    assert_eq!(gone.status, 410, "{}", gone.text());
    assert_eq!(gone.header("x-served-by"), None);
    let teapot = send(
        "POST",
        &gw.url("/prod/items/1"),
        &[("x-test-status", "418")],
        "",
    )
    .await;
    assert_eq!(teapot.status, 418);
    assert_eq!(teapot.header("x-served-by"), None);
    assert_eq!(
        teapot.header("x-amzn-remapped-server"),
        Some("test-upstream")
    );

    // A route with no mapping is as before.
    let plain = get(&gw.url("/prod/plain?debug=1")).await;
    assert_eq!(plain.status, 200);
    assert_eq!(up.last().target, "/plain?debug=1");

    // aws_proxy: the event has the mapped path and query string; the response is mapped.
    let f = send(
        "POST",
        &gw.url("/prod/fn?drop=1&keep=2"),
        &[("x-from", "hdr")],
        "hi",
    )
    .await;
    assert_eq!(f.status, 200, "{}", f.text());
    let event = f.json();
    assert_eq!(event["path"], "/mapped", "{event}");
    let q = &event["query"];
    assert_eq!(q["from"], "hdr", "{event}");
    assert_eq!(q["keep"], "2", "{event}");
    assert!(q.get("drop").is_none_or(|v| v.is_null()), "{event}");
    assert_eq!(f.header("x-fn"), Some("mapped-POST"));
}

fn check(api: &str) -> (bool, String) {
    let dir = Dir::new();
    dir.single_api(api, "      prod: {}\n", "");
    let out = std::process::Command::new(PORTICO)
        .args(["check", "--config"])
        .arg(dir.path("gateway.yaml"))
        .output()
        .expect("run portico check");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn check_reports_bad_http_api_mappings_with_their_place() {
    let api = r#"openapi: 3.0.1
info: {title: bad, version: '1'}
paths:
  /a:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        uri: http://127.0.0.1:9/a
        requestParameters:
          "replace:header.x": "1"
          "remove:path": "''"
          "overwrite:header.x-r": "$response.header.a"
          "overwrite:header.x-d": "$request.body..a"
          "overwrite:header.x-f": "$request.body.a[?(@.b)]"
          "overwrite:header.x-u": "${request.header.a"
          "overwrite:header.authorization": "x"
          "append:header.x-amzn-trace-id": "x"
        responseParameters:
          "200":
            "append:statuscode": "201"
          "201":
            "overwrite:statuscode": "abc"
          "202":
            "overwrite:statuscode": "700"
          "199":
            "overwrite:statuscode": "200"
  /mixed:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        uri: http://127.0.0.1:9/m
        requestParameters:
          "integration.request.header.x-a": "'a'"
          "overwrite:header.x-b": "b"
  /http:
    get:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: http://127.0.0.1:9/h
        requestParameters:
          "overwrite:header.x-b": "b"
        responses:
          default:
            statusCode: 200
"#;
    let (ok, text) = check(api);
    assert!(!ok, "{text}");
    let at = "api.yaml: paths./a.get.x-amazon-apigateway-integration";
    for (place, message) in [
        (
            "requestParameters.replace:header.x",
            "replace is not a mapping operation",
        ),
        (
            "requestParameters.remove:path",
            "the path can only be overwritten",
        ),
        (
            "requestParameters.overwrite:header.x-r",
            "only available in responseParameters",
        ),
        (
            "requestParameters.overwrite:header.x-d",
            "recursive descent",
        ),
        (
            "requestParameters.overwrite:header.x-f",
            "filter expressions",
        ),
        ("requestParameters.overwrite:header.x-u", "is not closed"),
        (
            "requestParameters.overwrite:header.authorization",
            "reserved header",
        ),
        (
            "requestParameters.append:header.x-amzn-trace-id",
            "reserved header",
        ),
        (
            "responseParameters.200.append:statuscode",
            "the status code can only be overwritten",
        ),
        (
            "responseParameters.201.overwrite:statuscode",
            "between 100 and 599",
        ),
        (
            "responseParameters.202.overwrite:statuscode",
            "between 100 and 599",
        ),
        ("responseParameters.199", "status codes from 200 to 599"),
    ] {
        assert!(
            text.contains(&format!("{at}.{place}: ")) && text.contains(message),
            "{place}: {message}\n{text}"
        );
    }
    assert!(
        text.contains("paths./mixed.get.x-amazon-apigateway-integration.requestParameters.integration.request.header.x-a: ")
            && text.contains("mixes REST"),
        "{text}"
    );
    assert!(
        text.contains("paths./http.get.x-amazon-apigateway-integration.requestParameters: ")
            && text.contains("applies to http_proxy and aws_proxy integrations only"),
        "{text}"
    );
}

//! MOCK integrations (status from the request template, integration-response selection) and
//! gateway-response customisation (`x-amazon-apigateway-gateway-responses`).

use crate::support::*;

const MOCK_API: &str = r#"openapi: 3.0.1
info: {title: mock, version: '1'}
paths:
  /status:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '{"statusCode": $input.params(''code'')}'
          text/plain: '{"statusCode": 202}'
        responses:
          "2\\d{2}":
            statusCode: 200
            responseParameters:
              method.response.header.x-kind: "'success'"
              method.response.header.x-stage: stageVariables.color
            responseTemplates:
              application/json: '{"ok": true, "requestId": "$context.requestId", "color": "$stageVariables.color"}'
          "404":
            statusCode: 404
            responseTemplates:
              application/json: '{"message": "no such thing"}'
          default:
            statusCode: 500
            responseTemplates:
              application/json: '{"message": "mock failure"}'
  /plain:
    get:
      x-amazon-apigateway-integration:
        type: mock
        responses:
          default:
            statusCode: 204
  /noresponses:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '{"statusCode": 200}'
  /broken:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '{"status": $input.params(''x'')}'
        responses:
          default:
            statusCode: 200
"#;

#[tokio::test]
async fn mock_status_selects_the_integration_response() {
    let dir = Dir::new();
    dir.single_api(
        MOCK_API,
        "      prod:\n        variables: {color: blue}\n",
        "",
    );
    let gw = Portico::start(&dir);

    let ok = get(&gw.url("/prod/status?code=201")).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("x-kind"), Some("success"));
    assert_eq!(ok.header("x-stage"), Some("blue"));
    assert_eq!(ok.header("content-type"), Some("application/json"));
    let body = ok.json();
    assert_eq!(body["ok"], true);
    assert_eq!(body["color"], "blue");
    assert_eq!(body["requestId"], ok.request_id());

    let not_found = get(&gw.url("/prod/status?code=404")).await;
    assert_eq!(not_found.status, 404);
    assert_eq!(not_found.text(), r#"{"message": "no such thing"}"#);

    let other = get(&gw.url("/prod/status?code=418")).await;
    assert_eq!(
        other.status, 500,
        "unmatched statuses take the default response"
    );
    assert_eq!(other.text(), r#"{"message": "mock failure"}"#);

    // The template is chosen by Content-Type.
    let by_type = send(
        "GET",
        &gw.url("/prod/status"),
        &[("content-type", "text/plain; charset=utf-8")],
        "",
    )
    .await;
    assert_eq!(by_type.status, 200);
    assert_eq!(by_type.header("x-kind"), Some("success"));

    // No request template: status 200, so the default response answers, with no body.
    let plain = get(&gw.url("/prod/plain")).await;
    assert_eq!(plain.status, 204);
    assert!(plain.body.is_empty());
}

#[tokio::test]
async fn unusable_mock_answers_configuration_error() {
    let dir = Dir::new();
    dir.single_api(
        MOCK_API,
        "      prod:\n        variables: {color: blue}\n",
        "",
    );
    let gw = Portico::start(&dir);
    for path in ["/prod/noresponses", "/prod/broken?x=1"] {
        let reply = get(&gw.url(path)).await;
        assert_gateway_error(
            &reply,
            500,
            r#"{"message": "Internal server error"}"#,
            "InternalServerErrorException",
        );
    }
}

/// A gateway serving [`MOCK_API`] with `responses` (its gateway-response customisation) in
/// stage `prod`, whose stage variable `color` is `blue`; `gateway`: more gateway-file lines.
fn with_responses(responses: &str, gateway: &str) -> (Dir, Portico) {
    let dir = Dir::new();
    dir.single_api(
        &format!("{MOCK_API}{responses}"),
        "      prod:\n        variables: {color: blue}\n",
        gateway,
    );
    let gw = Portico::start(&dir);
    (dir, gw)
}

const CUSTOM_RESPONSES: &str = r#"
x-amazon-apigateway-gateway-responses:
  DEFAULT_4XX:
    statusCode: 418
    responseParameters:
      gatewayresponse.header.Access-Control-Allow-Origin: "'*'"
      gatewayresponse.header.x-caller: method.request.header.x-caller
  MISSING_AUTHENTICATION_TOKEN:
    statusCode: 404
    responseParameters:
      gatewayresponse.header.x-stage: stageVariables.color
    responseTemplates:
      application/json: '{"error": "$context.error.responseType", "message": $context.error.messageString, "path": "$context.path", "requestId": "$context.requestId", "stage": "$context.stage"}'
"#;

#[tokio::test]
async fn gateway_responses_are_customised_per_api() {
    let (_dir, gw) = with_responses(CUSTOM_RESPONSES, "limits:\n  max_body_bytes: 100\n");

    let missing = get(&gw.url("/prod/nowhere")).await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.header("x-amzn-errortype"),
        Some("MissingAuthenticationTokenException")
    );
    assert_eq!(missing.header("x-stage"), Some("blue"));
    // Its own customisation wins over DEFAULT_4XX: no CORS header here.
    assert_eq!(missing.header("access-control-allow-origin"), None);
    let body = missing.json();
    assert_eq!(body["error"], "MISSING_AUTHENTICATION_TOKEN");
    assert_eq!(body["message"], "Missing Authentication Token");
    assert_eq!(body["path"], "/prod/nowhere");
    assert_eq!(body["stage"], "prod");
    assert_eq!(body["requestId"], missing.request_id());

    // Unknown stage: the stage is unknown, so stage variables are empty.
    let no_stage = get(&gw.url("/dev/status")).await;
    assert_eq!(no_stage.status, 404);
    assert_eq!(no_stage.json()["stage"], "");

    // A 4XX type without its own customisation falls back to DEFAULT_4XX... except
    // REQUEST_TOO_LARGE, which API Gateway does not let you customise.
    let too_big = send(
        "GET",
        &gw.url("/prod/status?code=200"),
        &[("x-caller", "bob")],
        vec![b'a'; 200],
    )
    .await;
    assert_gateway_error(
        &too_big,
        413,
        r#"{"message":"Request Too Long"}"#,
        "RequestEntityTooLargeException",
    );

    // 5XX types are untouched by DEFAULT_4XX.
    let five = get(&gw.url("/prod/noresponses")).await;
    assert_eq!(five.status, 500);
    assert_eq!(five.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn default_4xx_customisation_applies_to_uncustomised_types() {
    let responses = r#"
x-amazon-apigateway-gateway-responses:
  DEFAULT_4XX:
    statusCode: 418
    responseParameters:
      gatewayresponse.header.Access-Control-Allow-Origin: "'*'"
      gatewayresponse.header.x-caller: method.request.header.x-caller
"#;
    let (_dir, gw) = with_responses(responses, "");
    let reply = send(
        "GET",
        &gw.url("/prod/nowhere"),
        &[("x-caller", "carol")],
        "",
    )
    .await;
    assert_eq!(reply.status, 418);
    assert_eq!(
        reply.text(),
        r#"{"message":"Missing Authentication Token"}"#
    );
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    assert_eq!(reply.header("x-caller"), Some("carol"));
    assert_eq!(
        reply.header("x-amzn-errortype"),
        Some("MissingAuthenticationTokenException")
    );
}

/// Gateway-response headers from every source a `responseParameters` value may name (reference
/// §6.8, `[DG:set-up-gateway-responses-in-swagger]`): `$context` variables, single- and
/// multi-value query strings and headers (a multi-value source joins its values with commas,
/// a single-value one takes the last), stage variables and a static value.
#[tokio::test]
async fn gateway_response_parameters_from_every_source() {
    let responses = r#"
x-amazon-apigateway-gateway-responses:
  MISSING_AUTHENTICATION_TOKEN:
    statusCode: 404
    responseParameters:
      gatewayresponse.header.x-request-id: context.requestId
      gatewayresponse.header.x-error-type: context.error.responseType
      gatewayresponse.header.x-method: context.httpMethod
      gatewayresponse.header.x-stage: context.stage
      gatewayresponse.header.x-tags: method.request.multivaluequerystring.tag
      gatewayresponse.header.x-tag: method.request.querystring.tag
      gatewayresponse.header.x-multi: method.request.multivalueheader.x-multi
      gatewayresponse.header.x-one: method.request.header.x-one
      gatewayresponse.header.x-color: stageVariables.color
      gatewayresponse.header.x-static: "'fixed'"
"#;
    let (_dir, gw) = with_responses(responses, "");
    let reply = send(
        "GET",
        &gw.url("/prod/nowhere?tag=a&tag=b"),
        &[("x-multi", "1"), ("x-multi", "2"), ("x-one", "only")],
        "",
    )
    .await;
    assert_eq!(reply.status, 404, "{}", reply.text());
    let request_id = reply.request_id().to_owned();
    for (name, want) in [
        ("x-request-id", request_id.as_str()),
        ("x-error-type", "MISSING_AUTHENTICATION_TOKEN"),
        ("x-method", "GET"),
        ("x-stage", "prod"),
        ("x-tags", "a,b"),
        ("x-tag", "b"),
        ("x-multi", "1,2"),
        ("x-one", "only"),
        ("x-color", "blue"),
        ("x-static", "fixed"),
    ] {
        assert_eq!(reply.header(name), Some(want), "{name}");
    }
    // An absent source sets no header.
    let bare = get(&gw.url("/prod/nowhere")).await;
    assert_eq!(bare.status, 404);
    assert_eq!(bare.header("x-tags"), None);
    assert_eq!(bare.header("x-multi"), None);
    assert_eq!(bare.header("x-static"), Some("fixed"));
}

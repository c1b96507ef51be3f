//! Request validation (reference §7, docs/validation.md, docs/plugins.md): the body model
//! chosen by the request's content type, the un-customised BAD_REQUEST_BODY and
//! BAD_REQUEST_PARAMETERS answers, and a per-method `validator` plugin
//! (`x-portico-validator`), through the real gateway with a real upstream.

use crate::support::*;

/// An API whose methods validate everything (no gateway response is customised), proxied to
/// `up`:
/// - `/orders`: `application/json` → `JsonOrder` (needs `name`), `application/vnd.order+json`
///   → `VndOrder` (needs `sku`);
/// - `/anything`: only a `$default` model, `VndOrder`;
/// - `/params`: requires the header `x-trace` and the query parameter `q`, and a `JsonOrder`.
fn models_api(up: &str) -> String {
    format!(
        r#"openapi: 3.0.1
info: {{title: v, version: '1'}}
x-amazon-apigateway-request-validators:
  all: {{validateRequestBody: true, validateRequestParameters: true}}
x-amazon-apigateway-request-validator: all
components:
  schemas:
    JsonOrder:
      type: object
      required: [name]
      properties:
        name: {{type: string}}
    VndOrder:
      type: object
      required: [sku]
      properties:
        sku: {{type: string}}
paths:
  /orders:
    post:
      requestBody:
        content:
          application/json:
            schema: {{$ref: '#/components/schemas/JsonOrder'}}
          application/vnd.order+json:
            schema: {{$ref: '#/components/schemas/VndOrder'}}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: POST
        uri: http://{up}/orders
  /anything:
    post:
      requestBody:
        content:
          $default:
            schema: {{$ref: '#/components/schemas/VndOrder'}}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: POST
        uri: http://{up}/anything
  /params:
    post:
      parameters:
        - {{name: q, in: query, required: true, schema: {{type: string}}}}
        - {{name: x-trace, in: header, required: true, schema: {{type: string}}}}
      requestBody:
        content:
          application/json:
            schema: {{$ref: '#/components/schemas/JsonOrder'}}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: POST
        uri: http://{up}/params
"#
    )
}

const INVALID_BODY: &str = r#"{"message": "Invalid request body"}"#;

/// Sends `body` to `path` with `content_type` (none when `None`), and checks that it is
/// accepted (the upstream answers 200) or refused with the default BAD_REQUEST_BODY answer
/// before the integration.
async fn expect_model(
    gw: &Portico,
    up: &Upstream,
    path: &str,
    content_type: Option<&str>,
    body: &str,
    accepted: bool,
) {
    let headers: Vec<(&str, &str)> = content_type.iter().map(|c| ("content-type", *c)).collect();
    let before = up.count();
    let reply = send("POST", &gw.url(path), &headers, body.to_owned()).await;
    let case = format!("POST {path}, content type {content_type:?}, body {body}");
    if accepted {
        assert_eq!(reply.status, 200, "{case}: {}", reply.text());
        assert_eq!(
            up.count(),
            before + 1,
            "{case}: the upstream was not called"
        );
    } else {
        assert_eq!(reply.status, 400, "{case}: {}", reply.text());
        assert_eq!(reply.text(), INVALID_BODY, "{case}");
        assert_eq!(
            reply.header("x-amzn-errortype"),
            Some("BadRequestException"),
            "{case}"
        );
        assert_eq!(
            up.count(),
            before,
            "{case}: a refused request reached the upstream"
        );
    }
}

/// Reference §7 ("Model chosen from `Method.requestModels` by content type"), docs/validation.md
/// ("the one for the request's `Content-Type` (MIME type, parameters ignored), else the
/// `application/json` one; a request without `Content-Type` is `application/json`"): a body
/// valid for one of a method's two models and not the other is accepted or refused by its
/// `Content-Type`.
#[tokio::test]
async fn body_model_follows_the_content_type() {
    let up = Upstream::start().await;
    let dir = Dir::new();
    dir.single_api(&models_api(&up.addr.to_string()), "      prod: {}\n", "");
    let gw = Portico::start(&dir);
    let json = r#"{"name": "tea"}"#;
    let vnd = r#"{"sku": "t-1"}"#;
    let cases: &[(Option<&str>, &str, bool)] = &[
        (Some("application/json"), json, true),
        (Some("application/json"), vnd, false),
        (Some("application/vnd.order+json"), vnd, true),
        (Some("application/vnd.order+json"), json, false),
        // Parameters of the media type are ignored.
        (Some("application/vnd.order+json; charset=utf-8"), vnd, true),
        (
            Some("application/vnd.order+json; charset=utf-8"),
            json,
            false,
        ),
        (Some("application/json; charset=utf-8"), json, true),
        (Some("application/json; charset=utf-8"), vnd, false),
        // No Content-Type: application/json.
        (None, json, true),
        (None, vnd, false),
        // A content type without a model of its own: the application/json model.
        (Some("text/plain"), json, true),
        (Some("text/plain"), vnd, false),
    ];
    for (ct, body, accepted) in cases {
        expect_model(&gw, &up, "/prod/orders", *ct, body, *accepted).await;
    }
}

/// Reference §7 (LocalStack: "`application/json`, else `$default`"): a method whose only model
/// is `$default` validates every content type against it.
#[tokio::test]
async fn a_default_model_applies_to_every_content_type() {
    let up = Upstream::start().await;
    let dir = Dir::new();
    dir.single_api(&models_api(&up.addr.to_string()), "      prod: {}\n", "");
    let gw = Portico::start(&dir);
    let json = r#"{"name": "tea"}"#;
    let vnd = r#"{"sku": "t-1"}"#;
    for ct in [
        None,
        Some("application/json"),
        Some("application/vnd.order+json"),
        Some("text/plain"),
    ] {
        expect_model(&gw, &up, "/prod/anything", ct, vnd, true).await;
        expect_model(&gw, &up, "/prod/anything", ct, json, false).await;
    }
}

/// Reference §7 and §10, A16/A17 of §17, docs/validation.md "What the client sees": with no
/// customised gateway response, a body failing its model (or not JSON at all) answers 400
/// `{"message": "Invalid request body"}` and missing or blank parameters 400
/// `{"message": "Missing required request parameters: [...]"}` (header names first), both
/// JSON with `x-amzn-ErrorType: BadRequestException`; neither reaches the integration.
#[tokio::test]
async fn default_bad_request_answers() {
    let up = Upstream::start().await;
    let dir = Dir::new();
    dir.single_api(&models_api(&up.addr.to_string()), "      prod: {}\n", "");
    let gw = Portico::start(&dir);
    let json = [("content-type", "application/json")];

    let body = send("POST", &gw.url("/prod/orders"), &json, r#"{"sku": "t-1"}"#).await;
    assert_gateway_error(&body, 400, INVALID_BODY, "BadRequestException");

    let not_json = send("POST", &gw.url("/prod/orders"), &json, "not json").await;
    assert_gateway_error(&not_json, 400, INVALID_BODY, "BadRequestException");

    // Both parameters missing, with a valid body.
    let missing = send("POST", &gw.url("/prod/params"), &json, r#"{"name": "tea"}"#).await;
    assert_gateway_error(
        &missing,
        400,
        r#"{"message": "Missing required request parameters: [x-trace, q]"}"#,
        "BadRequestException",
    );

    // A blank query parameter counts as missing; parameters are checked before the body.
    let blank = send(
        "POST",
        &gw.url("/prod/params?q="),
        &[("content-type", "application/json"), ("x-trace", "t")],
        r#"{"sku": "t-1"}"#,
    )
    .await;
    assert_gateway_error(
        &blank,
        400,
        r#"{"message": "Missing required request parameters: [q]"}"#,
        "BadRequestException",
    );
    assert_eq!(up.count(), 0, "a refused request reached the upstream");

    let ok = send(
        "POST",
        &gw.url("/prod/params?q=1"),
        &[("content-type", "application/json"), ("x-trace", "t")],
        r#"{"name": "tea"}"#,
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(up.count(), 1);
}

/// docs/plugins.md: a `validator` plugin bound with `x-portico-validator: NAME` runs on that
/// method only; its `err(message)` answers 400 BAD_REQUEST_BODY with `message` (reference §10:
/// `x-amzn-ErrorType: BadRequestException`) before the integration. The fixture
/// `validator-require-field` refuses a body without the field its configuration names.
#[tokio::test]
async fn a_validator_plugin_decides_for_its_method_only() {
    let up = Upstream::start().await;
    let dir = Dir::new();
    let api = format!(
        r#"openapi: 3.0.1
info: {{title: p, version: '1'}}
paths:
  /checked:
    post:
      x-portico-validator: require-order-id
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: POST
        uri: http://{up}/checked
  /unchecked:
    post:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: POST
        uri: http://{up}/unchecked
"#,
        up = up.addr
    );
    let plugins = format!(
        "plugins:\n  - name: require-order-id\n    kind: validator\n    file: {}\n    config: {{field: orderId}}\n",
        component("validator-require-field").display()
    );
    dir.single_api(&api, "      prod: {}\n", &plugins);
    let gw = Portico::start(&dir);
    let json = [("content-type", "application/json")];

    let ok = send("POST", &gw.url("/prod/checked"), &json, r#"{"orderId": 7}"#).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(up.count(), 1);
    assert_eq!(up.last().target, "/checked");
    assert_eq!(&up.last().body[..], br#"{"orderId": 7}"#);

    for body in [r#"{"other": 7}"#, "not json", ""] {
        let refused = send("POST", &gw.url("/prod/checked"), &json, body).await;
        assert_eq!(refused.status, 400, "body {body:?}: {}", refused.text());
        assert_eq!(
            refused.json(),
            serde_json::json!({"message": "missing field orderId"}),
            "body {body:?}"
        );
        assert_eq!(
            refused.header("x-amzn-errortype"),
            Some("BadRequestException"),
            "body {body:?}"
        );
        assert_eq!(
            refused.header("content-type"),
            Some("application/json"),
            "body {body:?}"
        );
        assert_eq!(
            up.count(),
            1,
            "body {body:?}: a refused request reached the upstream"
        );
    }

    // The method without the validator is not affected.
    for body in [r#"{"other": 7}"#, "not json"] {
        let before = up.count();
        let passed = send("POST", &gw.url("/prod/unchecked"), &json, body).await;
        assert_eq!(passed.status, 200, "body {body:?}: {}", passed.text());
        assert_eq!(up.count(), before + 1);
        assert_eq!(up.last().target, "/unchecked");
        assert_eq!(&up.last().body[..], body.as_bytes());
    }
}

//! CORS. HTTP API style (`x-amazon-apigateway-cors`): the gateway answers preflights itself,
//! with or without an OPTIONS route and ahead of authorizers; actual answers and gateway
//! errors get the configured headers and lose the backend's. REST style: OPTIONS MOCK methods
//! and `gatewayresponse.header.Access-Control-*` on DEFAULT_4XX / DEFAULT_5XX, as the AWS
//! console's "Enable CORS" writes them.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::Response;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use crate::compression::{RawUpstream, whole};
use crate::support::*;

/// The HS256 secret of the JWT authorizer.
const SECRET: &str = "a shared secret of at least thirty-two bytes!";
const ISSUER: &str = "https://issuer.example.com";

const CORS: &str = r#"x-amazon-apigateway-cors:
  allowOrigins: ['https://app.example.com', 'https://*.example.org']
  allowMethods: [GET, POST]
  allowHeaders: [content-type, x-custom]
  exposeHeaders: [x-upstream, x-total]
  maxAge: 600
"#;

/// An upstream that sends CORS headers of its own.
async fn upstream() -> RawUpstream {
    RawUpstream::start(|_, _| {
        Response::builder()
            .header("content-type", "application/json")
            .header("access-control-allow-origin", "*")
            .header("access-control-allow-methods", "DELETE")
            .header("access-control-allow-headers", "x-backend")
            .header("access-control-expose-headers", "x-secret")
            .header("access-control-allow-credentials", "true")
            .header("access-control-max-age", "1")
            .header("x-upstream", "yes")
            .body(whole(r#"{"ok": true}"#))
            .unwrap()
    })
    .await
}

/// A document with `top` at its root: `GET /items` (open) and `GET /secure` (JWT) proxied to
/// `up`, and `/rest` with a REST-style OPTIONS MOCK method.
fn api(up: &RawUpstream, top: &str) -> String {
    format!(
        r#"openapi: 3.0.1
info: {{title: cors, version: '1'}}
{top}
components:
  securitySchemes:
    jwt:
      type: oauth2
      flows: {{}}
      x-amazon-apigateway-authorizer:
        type: jwt
        identitySource: $request.header.Authorization
        x-portico-jwt-secret-env: PORTICO_TEST_JWT_SECRET
        jwtConfiguration: {{issuer: "{ISSUER}", audience: [aud-1]}}
paths:
  /items:
    get:
      x-amazon-apigateway-integration: {{type: http_proxy, httpMethod: GET, uri: 'http://{addr}/items'}}
  /secure:
    get:
      security: [{{jwt: []}}]
      x-amazon-apigateway-integration: {{type: http_proxy, httpMethod: GET, uri: 'http://{addr}/secure'}}
  /rest:
    get:
      security: [{{jwt: []}}]
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{application/json: '{{"statusCode": 200}}'}}
        responses:
          default:
            statusCode: 200
            responseParameters:
              method.response.header.Access-Control-Allow-Origin: "'*'"
            responseTemplates: {{application/json: '{{"rest": true}}'}}
    options:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{application/json: '{{"statusCode": 200}}'}}
        responses:
          default:
            statusCode: 200
            responseParameters:
              method.response.header.Access-Control-Allow-Headers: "'Content-Type,Authorization'"
              method.response.header.Access-Control-Allow-Methods: "'GET,OPTIONS'"
              method.response.header.Access-Control-Allow-Origin: "'*'"
  /broken:
    get:
      x-amazon-apigateway-integration: {{type: http_proxy, httpMethod: GET, uri: 'http://127.0.0.1:1/'}}
"#,
        addr = up.addr
    )
}

fn start(up: &RawUpstream, top: &str, stages: &str) -> (Dir, Portico) {
    let dir = Dir::new();
    dir.single_api(&api(up, top), stages, "");
    let gw = Portico::start_with_env(&dir, &[("PORTICO_TEST_JWT_SECRET", SECRET)]);
    (dir, gw)
}

fn token() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({"iss": ISSUER, "aud": "aud-1", "sub": "u", "exp": now + 300});
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .unwrap()
}

async fn preflight(gw: &Portico, path: &str, origin: &str, extra: &[(&str, &str)]) -> Reply {
    let mut headers = vec![
        ("origin", origin),
        ("access-control-request-method", "POST"),
    ];
    headers.extend_from_slice(extra);
    send("OPTIONS", &gw.url(path), &headers, Bytes::new()).await
}

/// The `access-control-*` headers of a reply.
fn cors_headers(r: &Reply) -> Vec<(String, String)> {
    r.headers
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("access-control-"))
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
        .collect()
}

fn varies_on_origin(r: &Reply) -> bool {
    r.headers
        .get_all("vary")
        .iter()
        .any(|v| v.to_str().unwrap().to_ascii_lowercase().contains("origin"))
}

#[tokio::test]
async fn http_api_preflights_are_answered_by_the_gateway() {
    let up = upstream().await;
    // A burst of one on GET /items: preflights come before throttling and take no token.
    let (_dir, gw) = start(
        &up,
        CORS,
        "      prod:\n        method_settings:\n          /items/GET: {throttling_rate_limit: 0.01, throttling_burst_limit: 1}\n",
    );
    const APP: &str = "https://app.example.com";

    // With or without a route for the path, and without an OPTIONS route: 204 from the gateway.
    for path in ["/prod/items", "/prod/no/such/route"] {
        let r = preflight(
            &gw,
            path,
            APP,
            &[("access-control-request-headers", "x-custom")],
        )
        .await;
        assert_eq!(r.status, 204, "{path}: {}", r.text());
        assert!(r.body.is_empty());
        assert_eq!(r.header("access-control-allow-origin"), Some(APP));
        assert_eq!(r.header("access-control-allow-methods"), Some("GET,POST"));
        assert_eq!(
            r.header("access-control-allow-headers"),
            Some("content-type,x-custom")
        );
        assert_eq!(r.header("access-control-max-age"), Some("600"));
        assert_eq!(r.header("access-control-allow-credentials"), None);
        assert_eq!(r.header("access-control-expose-headers"), None);
        assert!(varies_on_origin(&r));
        assert!(r.header("x-amzn-requestid").is_some());
    }
    assert_eq!(up.count(), 0, "a preflight never reaches the integration");

    // Origins compare without regard to case; a subdomain wildcard matches subdomains only.
    let r = preflight(&gw, "/prod/items", "HTTPS://APP.example.com", &[]).await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("HTTPS://APP.example.com")
    );
    let r = preflight(&gw, "/prod/items", "https://a.b.example.org", &[]).await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://a.b.example.org")
    );

    // A disallowed origin: still 204, but no CORS header at all.
    for origin in [
        "https://evil.example.com",
        "https://example.org",
        "http://app.example.com",
        "https://app.example.com:8443",
        "null",
    ] {
        let r = preflight(&gw, "/prod/items", origin, &[]).await;
        assert_eq!(r.status, 204, "{origin}");
        assert_eq!(cors_headers(&r), vec![], "{origin}");
    }

    // OPTIONS without Access-Control-Request-Method is no preflight: routed as usual (no
    // OPTIONS method here: 403), with the actual-request headers.
    let r = send(
        "OPTIONS",
        &gw.url("/prod/items"),
        &[("origin", APP)],
        Bytes::new(),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));

    // After all those preflights the burst is still there; the next request is throttled,
    // and the 429 carries the CORS headers.
    let r = send(
        "GET",
        &gw.url("/prod/items"),
        &[("origin", APP)],
        Bytes::new(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = send(
        "GET",
        &gw.url("/prod/items"),
        &[("origin", APP)],
        Bytes::new(),
    )
    .await;
    assert_gateway_error(
        &r,
        429,
        r#"{"message":"Too Many Requests"}"#,
        "TooManyRequestsException",
    );
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
    let r = preflight(&gw, "/prod/items", APP, &[]).await;
    assert_eq!(r.status, 204);
}

#[tokio::test]
async fn http_api_actual_requests_get_cors_headers_and_lose_the_backends() {
    let up = upstream().await;
    let (_dir, gw) = start(&up, CORS, "      prod: {}\n");
    const APP: &str = "https://app.example.com";

    let r = send(
        "GET",
        &gw.url("/prod/items"),
        &[("origin", APP)],
        Bytes::new(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-upstream"), Some("yes"));
    let mut got = cors_headers(&r);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("access-control-allow-origin".to_owned(), APP.to_owned()),
            (
                "access-control-expose-headers".to_owned(),
                "x-upstream,x-total".to_owned()
            ),
        ]
    );
    assert!(varies_on_origin(&r));

    // No Origin, or one not allowed: no CORS header, the backend's are dropped all the same.
    for headers in [vec![], vec![("origin", "https://evil.example.com")]] {
        let r = send("GET", &gw.url("/prod/items"), &headers, Bytes::new()).await;
        assert_eq!(r.status, 200);
        assert_eq!(cors_headers(&r), vec![], "{headers:?}");
    }

    // Gateway errors carry them too: no route, an unreachable integration.
    let r = send(
        "GET",
        &gw.url("/prod/nowhere"),
        &[("origin", APP)],
        Bytes::new(),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
    assert_eq!(
        r.header("access-control-expose-headers"),
        Some("x-upstream,x-total")
    );
    let r = send(
        "GET",
        &gw.url("/prod/broken"),
        &[("origin", APP)],
        Bytes::new(),
    )
    .await;
    assert!(r.status.is_server_error(), "{}", r.status);
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
}

#[tokio::test]
async fn http_api_preflight_passes_the_authorizer_the_request_does_not() {
    let up = upstream().await;
    let (_dir, gw) = start(&up, CORS, "      prod: {}\n");
    const APP: &str = "https://app.example.com";

    // The preflight carries no credentials (browsers never send them) and still succeeds.
    let r = preflight(
        &gw,
        "/prod/secure",
        APP,
        &[("access-control-request-headers", "authorization")],
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
    assert_eq!(r.header("access-control-allow-methods"), Some("GET,POST"));

    // The actual request without a token: 401, with the CORS headers so the page can read it.
    let r = send(
        "GET",
        &gw.url("/prod/secure"),
        &[("origin", APP)],
        Bytes::new(),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.json(), serde_json::json!({"message": "Unauthorized"}));
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
    assert!(varies_on_origin(&r));
    assert_eq!(up.count(), 0);

    let bearer = token();
    let r = send(
        "GET",
        &gw.url("/prod/secure"),
        &[("origin", APP), ("authorization", &bearer)],
        Bytes::new(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
    assert_eq!(up.count(), 1);
}

#[tokio::test]
async fn http_api_wildcards_and_credentials() {
    let up = upstream().await;
    let any = "x-amazon-apigateway-cors: {allowOrigins: ['*'], allowMethods: ['*'], allowHeaders: ['*'], exposeHeaders: ['*']}\n";
    let (_dir, gw) = start(&up, any, "      prod: {}\n");
    let r = preflight(
        &gw,
        "/prod/items",
        "https://anyone.test",
        &[("access-control-request-headers", "x-a")],
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-allow-methods"), Some("*"));
    assert_eq!(r.header("access-control-allow-headers"), Some("*"));
    assert_eq!(r.header("access-control-max-age"), None);
    assert!(!varies_on_origin(&r));
    let r = send(
        "GET",
        &gw.url("/prod/items"),
        &[("origin", "https://anyone.test")],
        Bytes::new(),
    )
    .await;
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-allow-credentials"), None);
    assert_eq!(r.header("access-control-expose-headers"), Some("*"));
    assert!(!varies_on_origin(&r));

    // With credentials the origin is echoed, and `*` lists echo what the preflight asks
    // (browsers read `*` literally on credentialed requests).
    let creds = "x-amazon-apigateway-cors: {allowOrigins: ['https://app.example.com'], allowCredentials: true, allowMethods: ['*'], allowHeaders: ['*'], maxAge: -1}\n";
    let up2 = upstream().await;
    let (_dir2, gw2) = start(&up2, creds, "      prod: {}\n");
    let r = preflight(
        &gw2,
        "/prod/items",
        "https://app.example.com",
        &[("access-control-request-headers", "authorization, x-b")],
    )
    .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.header("access-control-allow-methods"), Some("POST"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("authorization, x-b")
    );
    assert_eq!(r.header("access-control-max-age"), Some("-1"));
    let r = send(
        "GET",
        &gw2.url("/prod/items"),
        &[("origin", "https://app.example.com")],
        Bytes::new(),
    )
    .await;
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
}

#[test]
fn check_refuses_credentials_with_any_origin() {
    let dir = Dir::new();
    dir.single_api(
        "openapi: 3.0.1\ninfo: {title: c, version: '1'}\nx-amazon-apigateway-cors: {allowOrigins: ['*'], allowCredentials: true, maxAge: 90000}\npaths: {}\n",
        "      prod: {}\n",
        "",
    );
    let out = check(&dir);
    let text = out.text();
    assert!(!out.ok, "{text}");
    assert!(
        text.contains("api.yaml: x-amazon-apigateway-cors.allowCredentials: allowCredentials cannot be true when allowOrigins contains \"*\""),
        "{text}"
    );
    assert!(
        text.contains(
            "api.yaml: x-amazon-apigateway-cors.maxAge: must be an integer from -1 to 86400"
        ),
        "{text}"
    );
}

/// What the AWS console's "Enable CORS" writes for gateway responses.
const REST_RESPONSES: &str = r#"x-amazon-apigateway-gateway-responses:
  DEFAULT_4XX:
    responseParameters:
      gatewayresponse.header.Access-Control-Allow-Origin: "'*'"
      gatewayresponse.header.Access-Control-Allow-Headers: "'Content-Type,Authorization'"
  DEFAULT_5XX:
    responseParameters:
      gatewayresponse.header.Access-Control-Allow-Origin: "'*'"
"#;

#[tokio::test]
async fn rest_options_mock_and_gateway_responses_carry_cors() {
    let up = upstream().await;
    let (_dir, gw) = start(
        &up,
        REST_RESPONSES,
        "      prod:\n        method_settings:\n          /items/GET: {throttling_rate_limit: 0.01, throttling_burst_limit: 1}\n",
    );
    const APP: &str = "https://app.example.com";

    // The preflight is the OPTIONS MOCK method's answer, without credentials.
    let r = preflight(&gw, "/prod/rest", APP, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET,OPTIONS")
    );
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("Content-Type,Authorization")
    );

    // The method itself, with a token.
    let bearer = token();
    let r = send(
        "GET",
        &gw.url("/prod/rest"),
        &[("origin", APP), ("authorization", &bearer)],
        Bytes::new(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));

    // Without a token: 401 UNAUTHORIZED through DEFAULT_4XX.
    let r = send(
        "GET",
        &gw.url("/prod/rest"),
        &[("origin", APP)],
        Bytes::new(),
    )
    .await;
    assert_gateway_error(
        &r,
        401,
        r#"{"message":"Unauthorized"}"#,
        "UnauthorizedException",
    );
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("Content-Type,Authorization")
    );

    // 403 MISSING_AUTHENTICATION_TOKEN.
    let r = send(
        "GET",
        &gw.url("/prod/nowhere"),
        &[("origin", APP)],
        Bytes::new(),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));

    // 429 THROTTLED: the second request in the burst of one.
    let first = send(
        "GET",
        &gw.url("/prod/items"),
        &[("origin", APP)],
        Bytes::new(),
    )
    .await;
    assert_eq!(first.status, 200);
    // No x-amazon-apigateway-cors: the backend's own CORS headers pass (REST proxy behaviour).
    assert_eq!(first.header("access-control-allow-origin"), Some("*"));
    assert_eq!(first.header("access-control-allow-methods"), Some("DELETE"));
    let r = send(
        "GET",
        &gw.url("/prod/items"),
        &[("origin", APP)],
        Bytes::new(),
    )
    .await;
    assert_gateway_error(
        &r,
        429,
        r#"{"message":"Too Many Requests"}"#,
        "TooManyRequestsException",
    );
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));

    // 5XX through DEFAULT_5XX: an unreachable integration.
    let r = send(
        "GET",
        &gw.url("/prod/broken"),
        &[("origin", APP)],
        Bytes::new(),
    )
    .await;
    assert!(r.status.is_server_error(), "{}", r.status);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-allow-headers"), None);
}

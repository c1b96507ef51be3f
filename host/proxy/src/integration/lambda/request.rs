//! The request → event direction.

use std::borrow::Cow;
use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::AuthorizerContext;
use crate::integration::headers;
use crate::listener::tls::client_cert_json;
use crate::pipeline::context::RequestContext;

/// Values grouped by name, in order of first appearance.
type Groups<'a> = Vec<(Cow<'a, str>, Vec<Cow<'a, str>>)>;

fn group<'a>(pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>) -> Groups<'a> {
    let mut groups: Groups<'a> = Vec::new();
    let mut index: HashMap<Cow<'a, str>, usize> = HashMap::new();
    for (name, value) in pairs {
        match index.get(&name) {
            Some(&i) => groups[i].1.push(value),
            None => {
                index.insert(name.clone(), groups.len());
                groups.push((name, vec![value]));
            }
        }
    }
    groups
}

/// The forwarded request headers, by (lower-case) name.
fn headers<'a>(cx: &'a RequestContext<'_>) -> Groups<'a> {
    let map = &cx.parts.headers;
    let mut pairs: Vec<(Cow<'a, str>, Cow<'a, str>)> = Vec::with_capacity(map.len() + 1);
    if !map.contains_key(http::header::HOST)
        && let Some(authority) = cx.parts.uri.authority()
    {
        pairs.push(("host".into(), authority.as_str().into()));
    }
    pairs.extend(
        map.iter()
            .filter(|(name, _)| !headers::dropped_from_event(name.as_str()))
            .map(|(name, value)| {
                (
                    name.as_str().into(),
                    String::from_utf8_lossy(value.as_bytes()),
                )
            }),
    );
    group(pairs.into_iter())
}

/// The decoded query string, by name.
fn query<'a>(cx: &'a RequestContext<'_>) -> Groups<'a> {
    group(cx.query_pairs())
}

/// `{name: last value}`, or `None` when empty.
fn last(groups: &Groups<'_>) -> Option<Value> {
    (!groups.is_empty()).then(|| {
        let map: Map<String, Value> = groups
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    Value::from(v.last().map_or("", |s| s.as_ref())),
                )
            })
            .collect();
        Value::Object(map)
    })
}

/// `{name: [values]}`, or `None` when empty.
fn all(groups: &Groups<'_>) -> Option<Value> {
    (!groups.is_empty()).then(|| {
        let map: Map<String, Value> = groups
            .iter()
            .map(|(k, v)| {
                let values = v.iter().map(|s| Value::from(s.as_ref())).collect();
                (k.to_string(), Value::Array(values))
            })
            .collect();
        Value::Object(map)
    })
}

/// `{name: "v1,v2"}` (format 2.0), or `None` when empty.
fn joined(groups: &Groups<'_>) -> Option<Value> {
    (!groups.is_empty()).then(|| {
        let map: Map<String, Value> = groups
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(v.join(","))))
            .collect();
        Value::Object(map)
    })
}

/// A JSON object of string values.
fn strings<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Map<String, Value> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::from(v)))
        .collect()
}

fn path_parameters(cx: &RequestContext<'_>) -> Option<Value> {
    (!cx.params.is_empty()).then(|| Value::Object(strings(cx.params.iter().copied())))
}

fn stage_variables(cx: &RequestContext<'_>) -> Option<Value> {
    cx.stage.filter(|s| !s.variables.is_empty()).map(|s| {
        Value::Object(strings(
            s.variables.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ))
    })
}

/// `requestContext.accountId`: the gateway file's `aws.account_id`.
fn account_id<'a>(cx: &'a RequestContext<'_>) -> &'a str {
    cx.stage.map_or("", |s| s.account_id.as_str())
}

/// The authorizer's context values as a JSON object.
fn authorizer_context(authorizer: &AuthorizerContext) -> Map<String, Value> {
    strings(
        authorizer
            .context
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    )
}

/// The body as text, base64 when it is binary (a binary media type) or not UTF-8; `None` when
/// empty.
fn body_text(body: &[u8], binary: bool) -> (Option<String>, bool) {
    if body.is_empty() {
        return (None, false);
    }
    match std::str::from_utf8(body) {
        Ok(text) if !binary => (Some(text.to_owned()), false),
        _ => (Some(STANDARD.encode(body)), true),
    }
}

fn stage_name<'a>(cx: &'a RequestContext<'_>) -> &'a str {
    cx.stage.map_or("", |s| s.name.as_str())
}

fn domain_prefix<'a>(cx: &'a RequestContext<'_>) -> &'a str {
    cx.domain_name().split('.').next().unwrap_or("")
}

/// The mutual-TLS client certificate, as both payload formats carry it (1.0 under
/// `requestContext.identity`, 2.0 under `requestContext.authentication`).
fn client_cert(cx: &RequestContext<'_>) -> Option<Value> {
    cx.client_cert().map(|cert| client_cert_json(cert))
}

fn epoch_ms(cx: &RequestContext<'_>) -> u64 {
    u64::try_from(cx.request_time_epoch()).unwrap_or(u64::MAX)
}

/// Payload format 1.0.
pub(super) fn v1(
    cx: &RequestContext<'_>,
    body: &[u8],
    binary: bool,
    authorizer: &AuthorizerContext,
) -> Value {
    let headers = headers(cx);
    let query = query(cx);
    let (body, is_base64) = body_text(body, binary);
    let method = cx.parts.method.as_str();
    let authorizer = (!authorizer.is_empty()).then(|| {
        let mut map = Map::new();
        if let Some(p) = &authorizer.principal_id {
            map.insert("principalId".into(), Value::from(p.as_str()));
        }
        map.extend(authorizer_context(authorizer));
        if let Some(claims) = &authorizer.claims {
            let claims = strings(claims.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            map.insert("claims".into(), Value::Object(claims));
        }
        Value::Object(map)
    });
    json!({
        "resource": cx.resource_path,
        "path": cx.path_in_stage(),
        "httpMethod": method,
        "headers": last(&headers),
        "multiValueHeaders": all(&headers),
        "queryStringParameters": last(&query),
        "multiValueQueryStringParameters": all(&query),
        "requestContext": {
            "accountId": account_id(cx),
            "apiId": cx.api,
            "authorizer": authorizer,
            "deploymentId": cx.stage.map(|s| s.deployment_id.as_str()),
            "domainName": cx.domain_name(),
            "domainPrefix": domain_prefix(cx),
            "extendedRequestId": cx.request_id,
            "httpMethod": method,
            "identity": {
                "accessKey": cx.iam().map(|i| i.access_key.as_str()),
                "accountId": cx.iam().map(|i| i.account_id.as_str()),
                "caller": cx.iam().map(|i| i.user.as_str()),
                "clientCert": client_cert(cx),
                "cognitoAuthenticationProvider": null,
                "cognitoAuthenticationType": null,
                "cognitoIdentityId": null,
                "cognitoIdentityPoolId": null,
                "principalOrgId": null,
                "sourceIp": cx.source_ip.to_string(),
                "user": cx.iam().map(|i| i.user.as_str()),
                "userAgent": cx.header("user-agent"),
                "userArn": cx.iam().map(|i| i.user_arn.as_str()),
            },
            "path": cx.parts.uri.path(),
            "protocol": cx.protocol,
            "requestId": cx.request_id,
            "requestTime": cx.request_time(),
            "requestTimeEpoch": epoch_ms(cx),
            "resourceId": cx.resource_path,
            "resourcePath": cx.resource_path,
            "stage": stage_name(cx),
        },
        "pathParameters": path_parameters(cx),
        "stageVariables": stage_variables(cx),
        "body": body,
        "isBase64Encoded": is_base64,
    })
}

/// Payload format 2.0.
pub(super) fn v2(
    cx: &RequestContext<'_>,
    body: &[u8],
    binary: bool,
    authorizer: &AuthorizerContext,
) -> Value {
    let mut headers = headers(cx);
    let cookies: Vec<Value> = headers
        .iter()
        .position(|(name, _)| name == "cookie")
        .map(|i| headers.remove(i).1)
        .unwrap_or_default()
        .iter()
        .flat_map(|h| h.split(';'))
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(Value::from)
        .collect();
    let query = query(cx);
    let (body, is_base64) = body_text(body, binary);
    let method = cx.parts.method.as_str();
    let route_key = format!("{method} {}", cx.resource_path);
    let path = cx.parts.uri.path();

    let mut http = Map::new();
    http.insert("method".into(), method.into());
    http.insert("path".into(), path.into());
    http.insert("protocol".into(), cx.protocol.into());
    http.insert("sourceIp".into(), cx.source_ip.to_string().into());
    http.insert(
        "userAgent".into(),
        cx.header("user-agent").unwrap_or("").into(),
    );

    let mut rc = Map::new();
    rc.insert("accountId".into(), account_id(cx).into());
    rc.insert("apiId".into(), cx.api.into());
    if !authorizer.is_empty() {
        let mut a = Map::new();
        if let Some(p) = &authorizer.principal_id {
            a.insert("principalId".into(), p.as_str().into());
        }
        match &authorizer.claims {
            Some(claims) => {
                let claims = strings(claims.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                a.insert(
                    "jwt".into(),
                    json!({"claims": claims, "scopes": &*authorizer.scopes}),
                );
            }
            None => {
                a.insert(
                    "lambda".into(),
                    Value::Object(authorizer_context(authorizer)),
                );
            }
        }
        rc.insert("authorizer".into(), Value::Object(a));
    }
    if let Some(cert) = client_cert(cx) {
        rc.insert("authentication".into(), json!({ "clientCert": cert }));
    }
    rc.insert("domainName".into(), cx.domain_name().into());
    rc.insert("domainPrefix".into(), domain_prefix(cx).into());
    rc.insert("http".into(), Value::Object(http));
    rc.insert("requestId".into(), cx.request_id.into());
    rc.insert("routeKey".into(), route_key.as_str().into());
    rc.insert("stage".into(), stage_name(cx).into());
    rc.insert("time".into(), cx.request_time().into());
    rc.insert("timeEpoch".into(), epoch_ms(cx).into());

    let mut event = Map::new();
    event.insert("version".into(), "2.0".into());
    event.insert("routeKey".into(), route_key.into());
    event.insert("rawPath".into(), path.into());
    event.insert(
        "rawQueryString".into(),
        cx.parts.uri.query().unwrap_or("").into(),
    );
    if !cookies.is_empty() {
        event.insert("cookies".into(), Value::Array(cookies));
    }
    event.insert(
        "headers".into(),
        joined(&headers).unwrap_or_else(|| Value::Object(Map::new())),
    );
    if let Some(q) = joined(&query) {
        event.insert("queryStringParameters".into(), q);
    }
    event.insert("requestContext".into(), Value::Object(rc));
    if let Some(b) = body {
        event.insert("body".into(), b.into());
    }
    if let Some(p) = path_parameters(cx) {
        event.insert("pathParameters".into(), p);
    }
    event.insert("isBase64Encoded".into(), is_base64.into());
    if let Some(s) = stage_variables(cx) {
        event.insert("stageVariables".into(), s);
    }
    Value::Object(event)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use http::request::Parts;
    use serde_json::{Value, json};

    use super::super::{AuthorizerContext, PayloadFormat, event};
    use crate::pipeline::context::RequestContext;
    use crate::snapshot::StageRt;
    use crate::telemetry::{MethodLabels, Metrics};

    /// Owns what a [`RequestContext`] borrows.
    struct Fixture {
        parts: Parts,
        stage: StageRt,
        resource: &'static str,
        params: Vec<(&'static str, &'static str)>,
    }

    fn stage(variables: &[(&str, &str)]) -> StageRt {
        let metrics = Metrics::new();
        let labels = MethodLabels {
            api: "api".into(),
            stage: "test".into(),
            resource: String::new(),
            method: String::new(),
        };
        StageRt {
            name: "test".into(),
            variables: variables
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            arn_prefix: "arn:aws:execute-api:us-east-1:000000000000:1234567890/test/".into(),
            account_id: "000000000000".into(),
            route_metrics: Vec::new(),
            cache: None,
            traffic: Default::default(),
            unmatched: metrics.route(labels, 1),
            functions: Vec::new(),
            deployment: None,
            deployment_id: "0123456789".into(),
            canary: None,
            is_canary: false,
        }
    }

    impl Fixture {
        fn new(request: http::Request<()>, resource: &'static str) -> Self {
            Self {
                parts: request.into_parts().0,
                stage: stage(&[]),
                resource,
                params: Vec::new(),
            }
        }

        fn params(mut self, params: &[(&'static str, &'static str)]) -> Self {
            self.params = params.to_vec();
            self
        }

        fn variables(mut self, variables: &[(&str, &str)]) -> Self {
            self.stage = stage(variables);
            self
        }

        fn event(&self, format: PayloadFormat, body: &[u8], auth: &AuthorizerContext) -> Value {
            let cx = RequestContext {
                request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                parts: &self.parts,
                peer: "203.0.113.9:54321".parse().unwrap(),
                source_ip: "203.0.113.9".parse().unwrap(),
                protocol: "HTTP/1.1",
                arrived: std::time::UNIX_EPOCH
                    + std::time::Duration::from_millis(1_428_582_896_000),
                api: "1234567890",
                stage: Some(&self.stage),
                // The path after the stage segment, as the pipeline's router leaves it.
                in_stage: {
                    let path = self.parts.uri.path();
                    path[1..].find('/').map_or("", |i| &path[i + 1..])
                },
                base_path_matched: None,
                body_json: None,
                tls: None,
                resource_path: self.resource,
                params: &self.params,
                error: None,
                validation_error: None,
                authorizer: None,
                api_key: None,
            };
            let text = event(format, &cx, body, false, auth);
            serde_json::from_str(&text).expect("the event is JSON")
        }

        fn v1(&self) -> Value {
            self.event(PayloadFormat::V1, b"", &AuthorizerContext::default())
        }

        fn v2(&self) -> Value {
            self.event(PayloadFormat::V2, b"", &AuthorizerContext::default())
        }
    }

    fn get(uri: &str) -> http::request::Builder {
        http::Request::builder()
            .method("GET")
            .uri(uri)
            .header("host", "api.example.com")
    }

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn v1_full_shape() {
        let request = get("/test/proxy-value//double-slash?a=1&a=2&b=x")
            .header("user-agent", "python/test")
            .header("x-multi", "one")
            .header("x-multi", "two")
            .header("connection", "keep-alive")
            .header("content-length", "0")
            .body(())
            .unwrap();
        let f = Fixture::new(request, "/{proxy+}")
            .params(&[("proxy", "proxy-value//double-slash")])
            .variables(&[("env", "dev")]);
        let expected = json!({
            "resource": "/{proxy+}",
            "path": "/proxy-value//double-slash",
            "httpMethod": "GET",
            "headers": {
                "host": "api.example.com",
                "user-agent": "python/test",
                "x-multi": "two",
            },
            "multiValueHeaders": {
                "host": ["api.example.com"],
                "user-agent": ["python/test"],
                "x-multi": ["one", "two"],
            },
            "queryStringParameters": {"a": "2", "b": "x"},
            "multiValueQueryStringParameters": {"a": ["1", "2"], "b": ["x"]},
            "requestContext": {
                "accountId": "000000000000",
                "apiId": "1234567890",
                "authorizer": null,
                "deploymentId": "0123456789",
                "domainName": "api.example.com",
                "domainPrefix": "api",
                "extendedRequestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                "httpMethod": "GET",
                "identity": {
                    "accessKey": null,
                    "accountId": null,
                    "caller": null,
                    "clientCert": null,
                    "cognitoAuthenticationProvider": null,
                    "cognitoAuthenticationType": null,
                    "cognitoIdentityId": null,
                    "cognitoIdentityPoolId": null,
                    "principalOrgId": null,
                    "sourceIp": "203.0.113.9",
                    "user": null,
                    "userAgent": "python/test",
                    "userArn": null,
                },
                "path": "/test/proxy-value//double-slash",
                "protocol": "HTTP/1.1",
                "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                "requestTime": "09/Apr/2015:12:34:56 +0000",
                "requestTimeEpoch": 1_428_582_896_000_u64,
                "resourceId": "/{proxy+}",
                "resourcePath": "/{proxy+}",
                "stage": "test",
            },
            "pathParameters": {"proxy": "proxy-value//double-slash"},
            "stageVariables": {"env": "dev"},
            "body": null,
            "isBase64Encoded": false,
        });
        let got = f.v1();
        assert_eq!(got, expected);
        // Same key order as AWS's documented event.
        assert_eq!(
            keys(&got),
            [
                "resource",
                "path",
                "httpMethod",
                "headers",
                "multiValueHeaders",
                "queryStringParameters",
                "multiValueQueryStringParameters",
                "requestContext",
                "pathParameters",
                "stageVariables",
                "body",
                "isBase64Encoded",
            ]
        );
        assert!(got["requestContext"]["requestTimeEpoch"].is_u64());
    }

    #[test]
    fn v1_empty_maps_are_null() {
        let f = Fixture::new(get("/test/pets").body(()).unwrap(), "/pets");
        let e = f.v1();
        for key in [
            "queryStringParameters",
            "multiValueQueryStringParameters",
            "pathParameters",
            "stageVariables",
            "body",
        ] {
            assert_eq!(e[key], Value::Null, "{key}");
        }
        assert_eq!(e["requestContext"]["authorizer"], Value::Null);
        assert_eq!(e["requestContext"]["identity"]["userAgent"], Value::Null);
        assert_eq!(e["isBase64Encoded"], false);
        // The only header.
        assert_eq!(e["headers"], json!({"host": "api.example.com"}));

        let bare = http::Request::builder().uri("/test/pets").body(()).unwrap();
        let e = Fixture::new(bare, "/pets").v1();
        assert_eq!(e["headers"], Value::Null);
        assert_eq!(e["multiValueHeaders"], Value::Null);
        // `?` alone is no query.
        let e = Fixture::new(get("/test/pets?").body(()).unwrap(), "/pets").v1();
        assert_eq!(e["queryStringParameters"], Value::Null);
    }

    #[test]
    fn v1_multi_value_query_aws_example() {
        let uri = "/test/pets?category=electronics&category=books&price=10&price=20&price=30";
        let e = Fixture::new(get(uri).body(()).unwrap(), "/pets").v1();
        assert_eq!(
            e["queryStringParameters"],
            json!({"category": "books", "price": "30"})
        );
        assert_eq!(
            e["multiValueQueryStringParameters"],
            json!({"category": ["electronics", "books"], "price": ["10", "20", "30"]})
        );
    }

    #[test]
    fn v1_query_values_are_decoded() {
        let uri = "/test/q?email=test%2Balias%40gmail.com&plus=test+alias@gmail.com\
                   &dateTimeOffset=2023-06-12T18:05:10.123+00:00&k%20ey=v&flag";
        let e = Fixture::new(get(uri).body(()).unwrap(), "/q").v1();
        let q = &e["queryStringParameters"];
        assert_eq!(q["email"], "test+alias@gmail.com");
        assert_eq!(q["plus"], "test alias@gmail.com");
        assert_eq!(q["dateTimeOffset"], "2023-06-12T18:05:10.123 00:00");
        assert_eq!(q["k ey"], "v");
        assert_eq!(q["flag"], "");
        assert_eq!(
            e["multiValueQueryStringParameters"]["email"],
            json!(["test+alias@gmail.com"])
        );
    }

    #[test]
    fn v1_path_is_not_decoded() {
        let uri = "/test/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com";
        let f =
            Fixture::new(get(uri).body(()).unwrap(), "/api/user/{email}/plus/{plus}").params(&[
                ("email", "test%2Balias@gmail.com"),
                ("plus", "test+alias@gmail.com"),
            ]);
        let e = f.v1();
        assert_eq!(
            e["path"],
            "/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com"
        );
        assert_eq!(
            e["requestContext"]["path"],
            "/test/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com"
        );
        assert_eq!(
            e["pathParameters"],
            json!({"email": "test%2Balias@gmail.com", "plus": "test+alias@gmail.com"})
        );
    }

    #[test]
    fn v1_stage_root_and_trailing_slash() {
        let e = Fixture::new(get("/test").body(()).unwrap(), "/").v1();
        assert_eq!(e["path"], "/");
        assert_eq!(e["requestContext"]["path"], "/test");
        let e = Fixture::new(get("/test/").body(()).unwrap(), "/").v1();
        assert_eq!(e["path"], "/");
        let e = Fixture::new(get("/test/pets/").body(()).unwrap(), "/pets").v1();
        assert_eq!(e["path"], "/pets/");
    }

    #[test]
    fn v1_body_text_and_base64() {
        let post = || {
            http::Request::builder()
                .method("POST")
                .uri("/test/pets")
                .header("host", "api.example.com")
                .body(())
                .unwrap()
        };
        let f = Fixture::new(post(), "/pets");
        let none = AuthorizerContext::default();
        let e = f.event(PayloadFormat::V1, br#"{"message":"hello world"}"#, &none);
        assert_eq!(e["httpMethod"], "POST");
        assert_eq!(e["body"], r#"{"message":"hello world"}"#);
        assert_eq!(e["isBase64Encoded"], false);

        let e = f.event(PayloadFormat::V1, "héllo".as_bytes(), &none);
        assert_eq!(e["body"], "héllo");
        assert_eq!(e["isBase64Encoded"], false);

        let e = f.event(PayloadFormat::V1, &[0xff, 0xfe, 0x00, 0x01], &none);
        assert_eq!(e["body"], "//4AAQ==");
        assert_eq!(e["isBase64Encoded"], true);
    }

    #[test]
    fn v1_authorizer() {
        let f = Fixture::new(get("/test/pets").body(()).unwrap(), "/pets");
        let auth = AuthorizerContext {
            principal_id: Some("user-1".into()),
            context: vec![
                ("stringKey".into(), "value".into()),
                ("numberKey".into(), "1".into()),
                ("booleanKey".into(), "true".into()),
            ],
            ..AuthorizerContext::default()
        };
        let e = f.event(PayloadFormat::V1, b"", &auth);
        let a = &e["requestContext"]["authorizer"];
        assert_eq!(
            *a,
            json!({"principalId": "user-1", "stringKey": "value", "numberKey": "1", "booleanKey": "true"})
        );
        assert_eq!(
            keys(a),
            ["principalId", "stringKey", "numberKey", "booleanKey"]
        );
        let context_only = AuthorizerContext {
            principal_id: None,
            context: vec![("k".into(), "v".into())],
            ..AuthorizerContext::default()
        };
        let e = f.event(PayloadFormat::V1, b"", &context_only);
        assert_eq!(e["requestContext"]["authorizer"], json!({"k": "v"}));
    }

    #[test]
    fn headers_dropped_and_host_from_authority() {
        // An HTTP/2 request: absolute URI, no Host header.
        let request = http::Request::builder()
            .method("GET")
            .uri("https://abc.execute-api.example.com:8443/test/pets")
            .header("te", "trailers")
            .header("expect", "100-continue")
            .header("accept", "application/json")
            .body(())
            .unwrap();
        let f = Fixture::new(request, "/pets");
        let e = f.v1();
        assert_eq!(
            e["headers"],
            json!({"host": "abc.execute-api.example.com:8443", "accept": "application/json"})
        );
        assert_eq!(
            e["requestContext"]["domainName"],
            "abc.execute-api.example.com"
        );
        assert_eq!(e["requestContext"]["domainPrefix"], "abc");
        let e = f.v2();
        assert_eq!(
            e["headers"],
            json!({"host": "abc.execute-api.example.com:8443", "accept": "application/json"})
        );
    }

    #[test]
    fn non_utf8_header_values_are_lossy() {
        let request = get("/test/pets")
            .header("x-bin", http::HeaderValue::from_bytes(b"a\xffb").unwrap())
            .body(())
            .unwrap();
        let e = Fixture::new(request, "/pets").v1();
        assert_eq!(e["headers"]["x-bin"], "a\u{fffd}b");
    }

    #[test]
    fn v2_full_shape() {
        let request = http::Request::builder()
            .method("POST")
            .uri("/test/pets/7?parameter1=value1&parameter1=value2&parameter2=v%20x")
            .header("host", "api.example.com")
            .header("user-agent", "curl/8")
            .header("cookie", "cookie1=a; cookie2=b")
            .header("cookie", "cookie3=c")
            .header("header2", "value1")
            .header("header2", "value2")
            .header("content-length", "5")
            .body(())
            .unwrap();
        let f = Fixture::new(request, "/pets/{id}")
            .params(&[("id", "7")])
            .variables(&[("env", "dev")]);
        let e = f.event(PayloadFormat::V2, b"hello", &AuthorizerContext::default());
        let expected = json!({
            "version": "2.0",
            "routeKey": "POST /pets/{id}",
            "rawPath": "/test/pets/7",
            "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=v%20x",
            "cookies": ["cookie1=a", "cookie2=b", "cookie3=c"],
            "headers": {
                "host": "api.example.com",
                "user-agent": "curl/8",
                "header2": "value1,value2",
            },
            "queryStringParameters": {"parameter1": "value1,value2", "parameter2": "v x"},
            "requestContext": {
                "accountId": "000000000000",
                "apiId": "1234567890",
                "domainName": "api.example.com",
                "domainPrefix": "api",
                "http": {
                    "method": "POST",
                    "path": "/test/pets/7",
                    "protocol": "HTTP/1.1",
                    "sourceIp": "203.0.113.9",
                    "userAgent": "curl/8",
                },
                "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                "routeKey": "POST /pets/{id}",
                "stage": "test",
                "time": "09/Apr/2015:12:34:56 +0000",
                "timeEpoch": 1_428_582_896_000_u64,
            },
            "body": "hello",
            "pathParameters": {"id": "7"},
            "isBase64Encoded": false,
            "stageVariables": {"env": "dev"},
        });
        assert_eq!(e, expected);
        assert_eq!(
            keys(&e),
            [
                "version",
                "routeKey",
                "rawPath",
                "rawQueryString",
                "cookies",
                "headers",
                "queryStringParameters",
                "requestContext",
                "body",
                "pathParameters",
                "isBase64Encoded",
                "stageVariables",
            ]
        );
    }

    #[test]
    fn v2_omits_what_is_absent() {
        let e = Fixture::new(get("/test/pets").body(()).unwrap(), "/pets").v2();
        assert_eq!(
            keys(&e),
            [
                "version",
                "routeKey",
                "rawPath",
                "rawQueryString",
                "headers",
                "requestContext",
                "isBase64Encoded",
            ]
        );
        assert_eq!(e["rawQueryString"], "");
        assert_eq!(e["routeKey"], "GET /pets");
        assert!(e["requestContext"].get("authorizer").is_none());
        assert_eq!(e["requestContext"]["http"]["userAgent"], "");
    }

    #[test]
    fn v2_authorizer_and_base64() {
        let f = Fixture::new(get("/test/pets").body(()).unwrap(), "/pets");
        let auth = AuthorizerContext {
            principal_id: Some("me".into()),
            context: vec![("tenant".into(), "t1".into())],
            ..AuthorizerContext::default()
        };
        let e = f.event(PayloadFormat::V2, &[0x80], &auth);
        assert_eq!(
            e["requestContext"]["authorizer"],
            json!({"principalId": "me", "lambda": {"tenant": "t1"}})
        );
        assert_eq!(e["body"], "gA==");
        assert_eq!(e["isBase64Encoded"], true);
        let simple = AuthorizerContext {
            principal_id: None,
            context: vec![("tenant".into(), "t1".into())],
            ..AuthorizerContext::default()
        };
        let e = f.event(PayloadFormat::V2, b"", &simple);
        assert_eq!(
            e["requestContext"]["authorizer"],
            json!({"lambda": {"tenant": "t1"}})
        );
    }

    #[test]
    fn v2_cookie_header_without_cookies() {
        let request = get("/test/pets").header("cookie", " ; ").body(()).unwrap();
        let e = Fixture::new(request, "/pets").v2();
        assert!(e.get("cookies").is_none());
        assert!(e["headers"].get("cookie").is_none());
    }
}

//! HTTP integrations: `http_proxy` pass-through (headers, query, body, streaming), `http` with
//! parameter mapping and integration responses, stage variables in the URI, timeouts and
//! unreachable upstreams.

use std::time::{Duration, Instant};

use crate::support::*;
use bytes::Bytes;
use http_body_util::BodyExt;

#[tokio::test]
async fn http_proxy_forwards_request_and_response() {
    let up = Upstream::start().await;
    let dir = Dir::new();
    let uri = format!("http://{}/backend/{{proxy}}", up.addr);
    dir.single_api(
        &proxy_api(&[("/items/{proxy+}", "ANY", &uri)]),
        "      prod: {}\n",
        "",
    );
    let gw = Portico::start(&dir);

    let reply = send(
        "POST",
        &gw.url("/prod/items/a/b%20c?x=1&x=2&y=%2B"),
        &[
            ("x-custom", "kept"),
            ("connection", "keep-alive, x-private"),
            ("x-private", "dropped"),
            ("x-forwarded-for", "10.1.2.3"),
            ("content-type", "text/plain"),
            ("user-agent", "test-client/1.0"),
        ],
        "hello body",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = up.last();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.target, "/backend/a/b%20c?x=1&x=2&y=%2B");
    assert_eq!(seen.body, Bytes::from("hello body"));
    assert_eq!(seen.headers["x-custom"], "kept");
    assert!(
        !seen.headers.contains_key("x-private"),
        "a header named by Connection is hop-by-hop"
    );
    assert_eq!(seen.headers["x-forwarded-for"], "10.1.2.3, 127.0.0.1");
    assert_eq!(seen.headers["x-forwarded-proto"], "http");
    assert_eq!(seen.headers["x-forwarded-port"], gw.addr.port().to_string());
    assert_eq!(seen.headers["x-amzn-apigateway-api-id"], "testapi");
    assert_eq!(seen.headers["user-agent"], "test-client/1.0");
    assert_eq!(seen.headers["host"], up.addr.to_string());
    assert_eq!(seen.headers["content-type"], "text/plain");

    // The response: status, headers and body from the upstream, hop-by-hop removed,
    // Server remapped, and the request id added.
    assert_eq!(reply.header("x-upstream"), Some("yes"));
    assert_eq!(reply.header("x-hop"), None);
    assert_eq!(
        reply.header("x-amzn-remapped-server"),
        Some("test-upstream")
    );
    assert!(
        reply
            .header("x-amzn-requestid")
            .is_some_and(|id| id.len() == 36)
    );
    assert_eq!(reply.json()["bodyLength"], 10);

    let created = send(
        "PUT",
        &gw.url("/prod/items/x"),
        &[("x-test-status", "201")],
        "",
    )
    .await;
    assert_eq!(created.status, 201);
    let missing = send(
        "GET",
        &gw.url("/prod/items/x"),
        &[("x-test-status", "404")],
        "",
    )
    .await;
    assert_eq!(
        missing.status, 404,
        "an upstream 404 passes through unchanged"
    );
    assert_eq!(missing.header("x-amzn-errortype"), None);
}

#[tokio::test]
async fn stage_variables_pick_the_upstream() {
    let prod = Upstream::start().await;
    let beta = Upstream::start().await;
    let dir = Dir::new();
    dir.single_api(
        &proxy_api(&[("/svc/{id}", "GET", "http://${stageVariables.backend}/v/{id}")]),
        &format!(
            "      prod:\n        variables: {{backend: '{}'}}\n      beta:\n        variables: {{backend: '{}'}}\n",
            prod.addr, beta.addr
        ),
        "",
    );
    let gw = Portico::start(&dir);
    assert_eq!(get(&gw.url("/prod/svc/7")).await.status, 200);
    assert_eq!(get(&gw.url("/beta/svc/8")).await.status, 200);
    assert_eq!((prod.count(), beta.count()), (1, 1));
    assert_eq!(prod.last().target, "/v/7");
    assert_eq!(beta.last().target, "/v/8");
}

const HTTP_API: &str = r#"openapi: 3.0.1
info: {title: http, version: '1'}
paths:
  /orders/{orderId}:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: PUT
        uri: 'http://UPSTREAM/orders/{id}'
        requestParameters:
          integration.request.path.id: method.request.path.orderId
          integration.request.querystring.filter: method.request.querystring.f
          integration.request.querystring.fixed: "'yes'"
          integration.request.header.x-user: method.request.header.x-caller
          integration.request.header.x-stage-var: stageVariables.tier
          integration.request.header.x-req-id: context.requestId
          integration.request.header.x-test-status: method.request.header.x-test-status
        responses:
          "4\\d{2}":
            statusCode: 400
            responseParameters:
              method.response.header.x-from-upstream: integration.response.header.x-upstream
              method.response.header.x-static: "'fixed'"
            responseTemplates:
              application/json: '{"error": "rejected", "stage": "$context.stage"}'
          default:
            statusCode: 200
  /lenient:
    get:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: 'http://UPSTREAM/lenient'
        requestParameters:
          integration.request.header.x-test-status: method.request.header.x-test-status
        responses:
          default:
            statusCode: 200
  /unmapped:
    get:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: 'http://UPSTREAM/unmapped'
"#;

#[tokio::test]
async fn http_integration_maps_parameters_and_responses() {
    let up = Upstream::start().await;
    let dir = Dir::new();
    dir.single_api(
        &HTTP_API.replace("UPSTREAM", &up.addr.to_string()),
        "      prod:\n        variables: {tier: gold}\n",
        "",
    );
    let gw = Portico::start(&dir);

    let ok = send(
        "POST",
        &gw.url("/prod/orders/o-1?f=open&ignored=1"),
        &[
            ("x-caller", "alice"),
            ("x-not-mapped", "1"),
            ("content-type", "application/json"),
        ],
        r#"{"qty": 2}"#,
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.header("content-type"), Some("application/json"));
    assert_eq!(
        ok.header("x-upstream"),
        None,
        "non-proxy responses carry mapped headers only"
    );
    let seen = up.last();
    assert_eq!(seen.method, "PUT");
    assert_eq!(seen.target, "/orders/o-1?filter=open&fixed=yes");
    assert_eq!(seen.headers["x-user"], "alice");
    assert_eq!(seen.headers["x-stage-var"], "gold");
    assert_eq!(seen.headers["x-req-id"], ok.request_id());
    assert!(!seen.headers.contains_key("x-not-mapped"));
    assert_eq!(seen.body, Bytes::from(r#"{"qty": 2}"#));
    // The default response passes the integration body through.
    assert_eq!(ok.json()["method"], "PUT");

    let rejected = send(
        "POST",
        &gw.url("/prod/orders/o-2"),
        &[("x-test-status", "404")],
        "",
    )
    .await;
    assert_eq!(rejected.status, 400);
    assert_eq!(rejected.text(), r#"{"error": "rejected", "stage": "prod"}"#);
    assert_eq!(rejected.header("x-from-upstream"), Some("yes"));
    assert_eq!(rejected.header("x-static"), Some("fixed"));

    // Only a default response: a backend 400 still answers 200 (reference A21).
    let lenient = send(
        "GET",
        &gw.url("/prod/lenient"),
        &[("x-test-status", "400")],
        "",
    )
    .await;
    assert_eq!(lenient.status, 200);

    // No integration responses at all: API Gateway's configuration error.
    let unmapped = get(&gw.url("/prod/unmapped")).await;
    assert_gateway_error(
        &unmapped,
        500,
        r#"{"message": "Internal server error"}"#,
        "InternalServerErrorException",
    );
}

#[tokio::test]
async fn integration_timeout_answers_504() {
    let up = Upstream::start().await;
    let dir = Dir::new();
    let doc = proxy_api(&[("/slow", "GET", &format!("http://{}/slow", up.addr))]).replace(
        "httpMethod: ANY\n",
        "httpMethod: ANY\n        timeoutInMillis: 300\n",
    );
    dir.single_api(&doc, "      prod: {}\n", "");
    let gw = Portico::start(&dir);
    let started = Instant::now();
    let reply = send(
        "GET",
        &gw.url("/prod/slow"),
        &[("x-test-sleep-ms", "3000")],
        "",
    )
    .await;
    let took = started.elapsed();
    assert_gateway_error(
        &reply,
        504,
        r#"{"message": "Endpoint request timed out"}"#,
        "InternalServerErrorException",
    );
    assert!(
        took < Duration::from_millis(2500),
        "answered after {took:?}, the timeout is 300 ms"
    );
    // A fast request on the same route still works.
    assert_eq!(get(&gw.url("/prod/slow")).await.status, 200);
}

#[tokio::test]
async fn unreachable_upstream_answers_504_integration_failure() {
    // Bind then drop a listener: nothing listens on that port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = Dir::new();
    dir.single_api(
        &proxy_api(&[("/down", "GET", &format!("http://127.0.0.1:{port}/"))]),
        "      prod: {}\n",
        "",
    );
    let gw = Portico::start(&dir);
    let reply = get(&gw.url("/prod/down")).await;
    assert_gateway_error(
        &reply,
        504,
        r#"{"message": "Network error communicating with endpoint"}"#,
        "InternalServerErrorException",
    );
    assert!(
        !reply.text().contains("127.0.0.1"),
        "no upstream details leak to the client"
    );
}

#[tokio::test]
async fn bodies_stream_in_both_directions() {
    // An upstream that sends its first chunk at once and the second after 800 ms.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                // Read the head, then count the body (Content-Length).
                let Some(head) = read_head(&mut s).await else {
                    return;
                };
                let text = String::from_utf8_lossy(&head).to_lowercase();
                let len: usize = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                let mut got = head.len() - text.find("\r\n\r\n").unwrap() - 4;
                while got < len {
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    got += n;
                }
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/plain\r\n\r\n")
                    .await;
                let first = format!("received {got}\n");
                let _ = s
                    .write_all(format!("{:x}\r\n{first}\r\n", first.len()).as_bytes())
                    .await;
                tokio::time::sleep(Duration::from_millis(800)).await;
                let _ = s.write_all(b"5\r\nlater\r\n0\r\n\r\n").await;
            });
        }
    });
    let dir = Dir::new();
    dir.single_api(
        &proxy_api(&[("/stream", "POST", &format!("http://{addr}/"))]),
        "      prod: {}\n",
        "",
    );
    let gw = Portico::start(&dir);

    let big = Bytes::from(vec![b'x'; 5 * 1024 * 1024]);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<Bytes>>();
    let req = http::Request::post(gw.url("/prod/stream"))
        .body(http_body_util::Full::new(big))
        .unwrap();
    let started = Instant::now();
    let resp = client.request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    let first_at = started.elapsed();
    assert_eq!(
        first,
        Bytes::from(format!("received {}\n", 5 * 1024 * 1024))
    );
    let rest = body.collect().await.unwrap().to_bytes();
    let all_at = started.elapsed();
    assert_eq!(rest, Bytes::from("later"));
    assert!(
        all_at - first_at > Duration::from_millis(500),
        "the first chunk arrived before the upstream finished (first {first_at:?}, all {all_at:?})"
    );
}

#[tokio::test]
async fn upstream_connections_are_reused_and_a_closed_one_is_not() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::AsyncWriteExt;

    // A keep-alive upstream: one worker forwards twenty requests on one connection.
    let up = Upstream::start().await;
    let dir = Dir::new();
    dir.single_api(
        &proxy_api(&[(
            "/items/{proxy+}",
            "ANY",
            &format!("http://{}/{{proxy}}", up.addr),
        )]),
        "      prod: {}\n",
        "workers: 1\n",
    );
    let gw = Portico::start(&dir);
    for i in 0..20 {
        let reply = get(&gw.url(&format!("/prod/items/n{i}"))).await;
        assert_eq!(reply.status, 200, "request {i}: {}", reply.text());
    }
    assert_eq!(
        up.connections.load(Ordering::SeqCst),
        1,
        "one pooled connection served every request"
    );

    // An upstream that answers as if keeping the connection alive, then closes it: each
    // request must find that connection gone and open a new one, never fail.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closing = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if read_head(&mut socket).await.is_none() {
                    return;
                }
                let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                              content-length: 11\r\n\r\n{\"ok\":true}";
                let _ = socket.write_all(answer.as_bytes()).await;
                // Dropped here: closed with no `Connection: close`.
            });
        }
    });
    let dir = Dir::new();
    dir.single_api(
        &proxy_api(&[("/closing", "GET", &format!("http://{closing}/"))]),
        "      prod: {}\n",
        "workers: 1\n",
    );
    let gw = Portico::start(&dir);
    for i in 0..10 {
        let reply = get(&gw.url("/prod/closing")).await;
        assert_eq!(reply.status, 200, "request {i}: {}", reply.text());
        assert_eq!(reply.text(), r#"{"ok":true}"#);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        10,
        "a new connection each time"
    );
}

/// `requestParameters` from the request body (whole and JSONPath) and multi-value headers, and
/// `responseParameters` from a repeated upstream header and the upstream body (whole and
/// JSONPath), reference §6.8.
#[tokio::test]
async fn http_integration_maps_body_and_multi_value_parameters() {
    use crate::compression::{RawUpstream, whole};

    // Request side: the echo upstream records what the mappings produced.
    let up = Upstream::start().await;
    // Response side: an upstream that sends `x-dup` twice and a JSON body.
    const UPSTREAM_BODY: &str = r#"{"result": {"code": 7, "ok": true}, "name": "n1"}"#;
    let repeated = RawUpstream::start(|_, _| {
        http::Response::builder()
            .header("content-type", "application/json")
            .header("x-dup", "one")
            .header("x-dup", "two")
            .body(whole(UPSTREAM_BODY))
            .unwrap()
    })
    .await;
    let dup = repeated.addr;

    let api = format!(
        r#"openapi: 3.0.1
info: {{title: body-mapping, version: '1'}}
paths:
  /req:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: 'http://{up}/req'
        requestParameters:
          integration.request.header.x-body: method.request.body
          integration.request.header.x-order-id: method.request.body.order.id
          integration.request.header.x-order: method.request.body.order
          integration.request.header.x-first-item: method.request.body.order.items[0]
          integration.request.header.x-missing: method.request.body.order.nothing
          integration.request.querystring.note: method.request.body.note
          integration.request.header.x-tags: method.request.multivalueheader.x-tag
          integration.request.header.x-last-tag: method.request.header.x-tag
        responses:
          default:
            statusCode: 200
  /resp:
    get:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: 'http://{dup}/resp'
        responses:
          default:
            statusCode: 200
            responseParameters:
              method.response.header.x-dups: integration.response.multivalueheader.x-dup
              method.response.header.x-dup-last: integration.response.header.x-dup
              method.response.header.x-whole: integration.response.body
              method.response.header.x-code: integration.response.body.result.code
              method.response.header.x-result: integration.response.body.result
              method.response.header.x-name: integration.response.body.name
              method.response.header.x-none: integration.response.body.result.missing
"#,
        up = up.addr,
    );
    let dir = Dir::new();
    dir.single_api(&api, "      prod: {}\n", "");
    let gw = Portico::start(&dir);

    let body = r#"{"order": {"id": 42, "items": ["a1", "b2"]}, "note": "hi"}"#;
    let reply = send(
        "POST",
        &gw.url("/prod/req"),
        &[
            ("content-type", "application/json"),
            ("x-tag", "v1"),
            ("x-tag", "v2"),
        ],
        body,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = up.last();
    let header = |name: &str| seen.headers.get(name).map(|v| v.to_str().unwrap());
    // `method.request.body`: the whole payload, as sent.
    assert_eq!(header("x-body"), Some(body));
    // `method.request.body.<JSONPath>`: a string as is, a number as its text.
    assert_eq!(header("x-order-id"), Some("42"));
    assert_eq!(header("x-first-item"), Some("a1"));
    assert_eq!(seen.target, "/req?note=hi");
    // Anything else as JSON text (docs/mapping.md; §6.8 does not say how AWS renders it).
    let order: serde_json::Value = serde_json::from_str(header("x-order").unwrap()).unwrap();
    assert_eq!(order, serde_json::json!({"id": 42, "items": ["a1", "b2"]}));
    // A path that selects nothing leaves the target unset.
    assert_eq!(header("x-missing"), None);
    // A header sent twice: `multivalueheader` joins with a bare comma, `header` takes the last.
    assert_eq!(header("x-tags"), Some("v1,v2"));
    assert_eq!(header("x-last-tag"), Some("v2"));
    // The body still goes to the integration unchanged (passthrough, no template).
    assert_eq!(seen.body, Bytes::from(body));

    let reply = get(&gw.url("/prod/resp")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), UPSTREAM_BODY);
    assert_eq!(reply.header("x-dups"), Some("one,two"));
    assert_eq!(reply.header("x-dup-last"), Some("two"));
    assert_eq!(
        reply.headers.get_all("x-dup").iter().count(),
        0,
        "non-proxy responses carry mapped headers only"
    );
    assert_eq!(reply.header("x-whole"), Some(UPSTREAM_BODY));
    assert_eq!(reply.header("x-code"), Some("7"));
    assert_eq!(reply.header("x-name"), Some("n1"));
    let result: serde_json::Value =
        serde_json::from_str(reply.header("x-result").unwrap()).unwrap();
    assert_eq!(result, serde_json::json!({"code": 7, "ok": true}));
    assert_eq!(reply.header("x-none"), None);
}

//! HTTP/2 in cleartext: with prior knowledge (hyper's HTTP/2 client), after an
//! `Upgrade: h2c` (the real `curl --http2`), requests with a body that ask for the upgrade
//! (served over HTTP/1.1), and graceful shutdown of HTTP/2 connections.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::support::*;
use bytes::Bytes;
use http::{Request, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A MOCK `GET` answering `{"mock": "<name>", "protocol": ...}`.
fn mock(name: &str) -> String {
    format!(
        "    get:\n      x-amazon-apigateway-integration:\n        type: mock\n        requestTemplates:\n          application/json: '{{\"statusCode\": 200}}'\n        responses:\n          default:\n            statusCode: 200\n            responseTemplates:\n              application/json: '{{\"mock\": \"{name}\", \"protocol\": \"$context.protocol\"}}'\n"
    )
}

/// A gateway with `/mock` (MOCK) and `/up/{proxy+}` (`http_proxy` to `up`).
fn start(up: &Upstream) -> (Dir, Portico) {
    let dir = Dir::new();
    let mut api = proxy_api(&[(
        "/up/{proxy+}",
        "ANY",
        &format!("http://{}/u/{{proxy}}", up.addr),
    )]);
    api.push_str(&format!("  '/mock':\n{}", mock("one")));
    dir.single_api(&api, "      prod: {}\n", "");
    let gw = Portico::start(&dir);
    (dir, gw)
}

fn h2_client() -> Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

/// One request over `client`: status, version, headers and body.
async fn h2_send(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &'static str,
) -> (Version, Reply) {
    let mut req = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = client
        .request(req.body(Full::new(Bytes::from(body))).expect("request"))
        .await
        .expect("HTTP/2 request failed");
    let version = resp.version();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    (
        version,
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prior_knowledge_h2c_serves_mock_and_proxy_routes() {
    let up = Upstream::start().await;
    let (_dir, gw) = start(&up);
    let client = h2_client();

    let (version, reply) = h2_send(&client, "GET", &gw.url("/prod/mock"), &[], "").await;
    assert_eq!(version, Version::HTTP_2);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), r#"{"mock": "one", "protocol": "HTTP/2.0"}"#);
    let line = gw.access_log_for(reply.request_id()).await;
    assert_eq!(line["protocol"], "HTTP/2.0");
    assert_eq!(line["path"], "/prod/mock");
    assert_eq!(line["status"], 200);

    let (version, reply) = h2_send(
        &client,
        "POST",
        &gw.url("/prod/up/a/b?q=1"),
        &[("content-type", "text/plain"), ("x-custom", "kept")],
        "hello over h2",
    )
    .await;
    assert_eq!(version, Version::HTTP_2);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-upstream"), Some("yes"));
    let json = reply.json();
    assert_eq!(json["method"], "POST");
    assert_eq!(json["target"], "/u/a/b?q=1");
    assert_eq!(json["bodyLength"], 13);
    let seen = up.last();
    assert_eq!(seen.body, Bytes::from("hello over h2"));
    assert_eq!(seen.headers["x-custom"], "kept");
    assert_eq!(seen.headers["host"], up.addr.to_string());
    assert_eq!(seen.headers["x-forwarded-proto"], "http");
    let line = gw.access_log_for(reply.request_id()).await;
    assert_eq!(line["protocol"], "HTTP/2.0");
    assert_eq!(line["resourcePath"], "/up/{proxy+}");

    // Gateway errors look the same over HTTP/2.
    let (_, missing) = h2_send(&client, "GET", &gw.url("/prod/nothing"), &[], "").await;
    assert_gateway_error(
        &missing,
        403,
        r#"{"message":"Missing Authentication Token"}"#,
        "MissingAuthenticationTokenException",
    );
    let big = "h".repeat(11_000);
    let (_, too_big) = h2_send(
        &client,
        "GET",
        &gw.url("/prod/mock"),
        &[("x-big", &big)],
        "",
    )
    .await;
    assert_gateway_error(
        &too_big,
        431,
        r#"{"message":"Request Header Fields Too Large"}"#,
        "RequestHeaderFieldsTooLargeException",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prior_knowledge_h2c_multiplexes_one_connection() {
    let up = Upstream::start().await;
    let (_dir, gw) = start(&up);
    let client = h2_client();
    // Open the connection first, so that every request below shares it.
    let (version, _) = h2_send(&client, "GET", &gw.url("/prod/mock"), &[], "").await;
    assert_eq!(version, Version::HTTP_2);

    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..10 {
        let client = client.clone();
        let url = gw.url(&format!("/prod/up/{i}"));
        tasks.push(tokio::spawn(async move {
            h2_send(&client, "GET", &url, &[("x-test-sleep-ms", "400")], "").await
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let (version, reply) = t.await.expect("task");
        assert_eq!(version, Version::HTTP_2);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["target"], format!("/u/{i}"));
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_millis(2000),
        "10 requests of 400 ms took {elapsed:?}: they were not served concurrently"
    );
}

/// A request body of `len` bytes in 100-byte frames whose length is not known in advance, so
/// that no `content-length` is sent.
struct Unsized {
    left: usize,
}

impl hyper::body::Body for Unsized {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(100);
        self.left -= n;
        Poll::Ready(Some(Ok(hyper::body::Frame::data(Bytes::from(vec![
            b'u';
            n
        ])))))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_body_over_the_limit_answers_413_while_streaming() {
    let up = Upstream::start().await;
    let dir = Dir::new();
    dir.single_api(
        &proxy_api(&[("/up", "POST", &format!("http://{}/u", up.addr))]),
        "      prod: {}\n",
        "limits:\n  max_body_bytes: 1000\n",
    );
    let gw = Portico::start(&dir);
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Unsized>();
    let post = |len: usize| {
        let req = Request::post(gw.url("/prod/up"))
            .body(Unsized { left: len })
            .expect("request");
        let client = client.clone();
        async move {
            let resp = client.request(req).await.expect("HTTP/2 request failed");
            assert_eq!(resp.version(), Version::HTTP_2);
            let (parts, body) = resp.into_parts();
            Reply {
                status: parts.status,
                headers: parts.headers,
                body: body.collect().await.expect("body").to_bytes(),
            }
        }
    };

    let at_limit = post(1000).await;
    assert_eq!(at_limit.status, 200, "{}", at_limit.text());
    assert_eq!(at_limit.json()["bodyLength"], 1000);
    assert!(
        !up.last().headers.contains_key("content-length"),
        "the body really was sent without a length"
    );
    for len in [1001, 50_000] {
        let over = post(len).await;
        assert_gateway_error(
            &over,
            413,
            r#"{"message":"Request Too Long"}"#,
            "RequestEntityTooLargeException",
        );
    }
    // The connection (and the gateway) still serve.
    assert_eq!(post(10).await.status, 200);
}

/// Runs `curl` with `args`, returning (success, stdout, stderr). Fails the test clearly when
/// curl is missing or built without HTTP/2.
async fn curl(args: Vec<String>) -> (bool, String, String) {
    tokio::task::spawn_blocking(move || {
        let version = std::process::Command::new("curl").arg("--version").output();
        let version = match version {
            Ok(v) => String::from_utf8_lossy(&v.stdout).into_owned(),
            Err(e) => panic!(
                "these tests need curl with HTTP/2 support (apt-get install curl); running it failed: {e}"
            ),
        };
        assert!(
            version.contains("HTTP2"),
            "curl lacks HTTP/2 support (no HTTP2 feature in `curl --version`):\n{version}"
        );
        let out = std::process::Command::new("curl")
            .args(&args)
            .output()
            .expect("run curl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("curl task")
}

/// The `x-amzn-requestid` values curl printed, in order.
fn request_ids(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("< "))
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.eq_ignore_ascii_case("x-amzn-requestid"))
        .map(|(_, v)| v.trim().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_upgrades_to_h2c_and_reuses_the_connection() {
    let up = Upstream::start().await;
    let (_dir, gw) = start(&up);
    let (ok, stdout, stderr) = curl(vec![
        "--http2".into(),
        "-sv".into(),
        "-w".into(),
        "\\n".into(),
        gw.url("/prod/mock"),
        gw.url("/prod/up/two"),
    ])
    .await;
    assert!(ok, "curl failed:\n{stderr}");
    assert!(
        stderr.contains("< HTTP/1.1 101 Switching Protocols"),
        "no upgrade:\n{stderr}"
    );
    assert_eq!(
        stderr.matches("< HTTP/2 200").count(),
        2,
        "both responses come over HTTP/2:\n{stderr}"
    );
    assert_eq!(
        stderr.matches("101 Switching Protocols").count(),
        1,
        "the second request reuses the upgraded connection:\n{stderr}"
    );
    assert!(
        stderr.contains("> GET /prod/up/two HTTP/2"),
        "the second request is sent over HTTP/2:\n{stderr}"
    );
    let bodies: Vec<&str> = stdout.lines().collect();
    assert_eq!(bodies.len(), 2, "{stdout}");
    assert_eq!(bodies[0], r#"{"mock": "one", "protocol": "HTTP/2.0"}"#);
    let proxied: serde_json::Value = serde_json::from_str(bodies[1]).expect("JSON");
    assert_eq!(proxied["target"], "/u/two");
    assert_eq!(proxied["method"], "GET");

    // Both requests are logged as HTTP/2, the upgraded one included.
    let ids = request_ids(&stderr);
    assert_eq!(ids.len(), 2, "{stderr}");
    for (id, path) in ids.iter().zip(["/prod/mock", "/prod/up/two"]) {
        let line = gw.access_log_for(id).await;
        assert_eq!(line["protocol"], "HTTP/2.0", "{line}");
        assert_eq!(line["path"], path);
        assert_eq!(line["status"], 200);
    }
    // The upstream saw none of the upgrade machinery.
    let seen = up.last();
    for h in ["upgrade", "http2-settings", "connection"] {
        assert!(
            !seen.headers.contains_key(h),
            "{h} forwarded: {:?}",
            seen.headers
        );
    }
}

/// Reads one HTTP/1.1 response (head, then a `Content-Length` body) from `stream`, keeping
/// what follows in `buf`.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> (String, Vec<u8>) {
    let find = |b: &[u8], n: &[u8]| b.windows(n.len()).position(|w| w == n);
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("read timed out")
            .expect("read");
        assert!(
            n > 0,
            "closed before a response: {:?}",
            String::from_utf8_lossy(buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    buf.drain(..head_end + 4);
    let len: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.trim().parse().expect("content-length"))
        .unwrap_or_else(|| panic!("no content-length in {head}"));
    while buf.len() < len {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("read timed out")
            .expect("read");
        assert!(n > 0, "closed inside a body");
        buf.extend_from_slice(&chunk[..n]);
    }
    (head, buf.drain(..len).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_request_with_a_body_is_served_over_http1() {
    let up = Upstream::start().await;
    let (_dir, gw) = start(&up);
    let mut stream = TcpStream::connect(gw.addr).await.expect("connect");
    let mut buf = Vec::new();
    let upgrade = "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n";

    // Content-Length body.
    stream
        .write_all(
            format!("POST /prod/up/with-body HTTP/1.1\r\nHost: a\r\n{upgrade}Content-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world")
                .as_bytes(),
        )
        .await
        .expect("write");
    let (head, body) = read_response(&mut stream, &mut buf).await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(!head.to_ascii_lowercase().contains("upgrade"), "{head}");
    let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(json["method"], "POST");
    assert_eq!(json["bodyLength"], 11);
    assert_eq!(up.last().body, Bytes::from("hello world"));

    // Chunked body, on the same (still HTTP/1.1) connection.
    stream
        .write_all(
            format!("PUT /prod/up/chunked HTTP/1.1\r\nHost: a\r\n{upgrade}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
                .as_bytes(),
        )
        .await
        .expect("write");
    let (head, body) = read_response(&mut stream, &mut buf).await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(json["method"], "PUT");
    assert_eq!(json["bodyLength"], 11);
    assert_eq!(up.last().body, Bytes::from("hello world"));
    for h in ["upgrade", "http2-settings"] {
        assert!(!up.last().headers.contains_key(h), "{h} forwarded");
    }

    // And a plain request after them is still HTTP/1.1.
    stream
        .write_all(b"GET /prod/mock HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .expect("write");
    let (head, body) = read_response(&mut stream, &mut buf).await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(
        String::from_utf8_lossy(&body),
        r#"{"mock": "one", "protocol": "HTTP/1.1"}"#
    );
}

/// Sends SIGTERM once the upstream holds `n` requests, and checks that new connections are
/// refused soon after.
async fn terminate_when_in_flight(gw: &Portico, up: &Upstream, n: usize) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(5);
    while up.count() < n {
        assert!(Instant::now() < deadline, "the slow request never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gw.signal("TERM");
    let signalled = Instant::now();
    while TcpStream::connect(gw.addr).await.is_ok() {
        assert!(
            signalled.elapsed() < Duration::from_secs(1),
            "still accepting 1 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    signalled
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_an_in_flight_prior_knowledge_request() {
    let up = Upstream::start().await;
    let (_dir, mut gw) = start(&up);
    let client = h2_client();
    let url = gw.url("/prod/up/slow");
    let slow = tokio::spawn(async move {
        h2_send(&client, "GET", &url, &[("x-test-sleep-ms", "1500")], "").await
    });
    terminate_when_in_flight(&gw, &up, 1).await;
    let (version, reply) = slow.await.expect("slow request");
    assert_eq!(version, Version::HTTP_2);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["target"], "/u/slow");
    let status = tokio::task::block_in_place(|| gw.wait_exit(Duration::from_secs(5)));
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}; stderr:\n{}",
        gw.stderr_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_an_in_flight_upgraded_request() {
    let up = Upstream::start().await;
    let (_dir, mut gw) = start(&up);
    let url = gw.url("/prod/up/slow");
    let run = tokio::spawn(curl(vec![
        "--http2".into(),
        "-sv".into(),
        "-H".into(),
        "x-test-sleep-ms: 1500".into(),
        url,
    ]));
    terminate_when_in_flight(&gw, &up, 1).await;
    let (ok, stdout, stderr) = run.await.expect("curl task");
    assert!(
        stderr.contains("< HTTP/1.1 101 Switching Protocols"),
        "no upgrade:\n{stderr}"
    );
    assert!(
        ok && stderr.contains("< HTTP/2 200"),
        "the upgraded request was cut off by SIGTERM:\n{stderr}"
    );
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON body");
    assert_eq!(json["target"], "/u/slow");
    let status = tokio::task::block_in_place(|| gw.wait_exit(Duration::from_secs(5)));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

//! Response streaming (`responseTransferMode: STREAM`): the first event reaches the client
//! while the upstream is still producing the rest, compression stays out of the way, a
//! stalled stream is cut by the idle timeout (and the gateway goes on serving), a stream
//! longer than its total limit is cut, a slow reader holds the upstream back, a `wasi:http`
//! function on an `aws_proxy` STREAM route streams as it writes (bounded by its own timeout
//! and the idle limit), and `check` refuses STREAM where AWS does.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::*;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// How a [`sse_upstream`] answers.
#[derive(Clone, Copy)]
struct Events {
    /// Events sent.
    count: usize,
    /// Pause before each event.
    gap: Duration,
    /// After this many events, stop sending (keep the connection open) for `stall`.
    stall_after: Option<(usize, Duration)>,
}

/// The text of event `i`.
fn event(i: usize) -> String {
    format!("id: {i}\ndata: {{\"n\": {i}, \"text\": \"event number {i}\"}}\n\n")
}

/// An upstream that answers every request with `text/event-stream`, one chunk per event,
/// written by hand (chunked encoding) so each event is on the wire on its own.
async fn sse_upstream(events: Events) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                // Read the request head (the gateway sends no body for GET).
                if read_head(&mut conn).await.is_none() {
                    return;
                }
                let start = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n";
                if conn.write_all(start.as_bytes()).await.is_err() {
                    return;
                }
                for i in 0..events.count {
                    if let Some((after, stall)) = events.stall_after
                        && i == after
                    {
                        tokio::time::sleep(stall).await;
                    }
                    tokio::time::sleep(events.gap).await;
                    let e = event(i);
                    let chunk = format!("{:x}\r\n{e}\r\n", e.len());
                    if conn.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                    let _ = conn.flush().await;
                }
                let _ = conn.write_all(b"0\r\n\r\n").await;
                let _ = conn.flush().await;
            });
        }
    });
    (addr, task)
}

/// An API with a STREAM `http_proxy` route `/events` to `upstream` and a BUFFERED `/echo` to
/// `echo`; `top` is extra top-level OpenAPI.
fn stream_api(upstream: SocketAddr, echo: SocketAddr, top: &str) -> String {
    format!(
        r#"openapi: 3.0.1
info: {{title: t, version: '1'}}
{top}
paths:
  /events:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: 'http://{upstream}/events'
        responseTransferMode: STREAM
  /echo:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: 'http://{echo}/echo'
"#
    )
}

/// What a client saw of a streamed response.
struct Streamed {
    status: u16,
    content_type: Option<String>,
    content_encoding: Option<String>,
    /// Each data frame and when it arrived (from the request).
    frames: Vec<(Duration, Bytes)>,
    /// The body ended with an error (connection closed early, stream reset).
    error: Option<String>,
    /// When the body ended, either way.
    ended: Duration,
}

impl Streamed {
    fn text(&self) -> String {
        let all: Vec<u8> = self.frames.iter().flat_map(|(_, b)| b.to_vec()).collect();
        String::from_utf8_lossy(&all).into_owned()
    }
}

type TestClient = Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>;

/// GETs `url` over a fresh HTTP/1.1 client and reads the body frame by frame, giving up after
/// `limit`.
async fn stream_get(url: &str, headers: &[(&str, &str)], limit: Duration) -> Streamed {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    stream_get_with(&client, url, headers, limit).await
}

/// [`stream_get`] over `client`.
async fn stream_get_with(
    client: &TestClient,
    url: &str,
    headers: &[(&str, &str)],
    limit: Duration,
) -> Streamed {
    let mut req = http::Request::builder().uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let started = Instant::now();
    let resp = client
        .request(req.body(Empty::new()).expect("request"))
        .await
        .expect("response head");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let status = resp.status().as_u16();
    let content_type = header("content-type");
    let content_encoding = header("content-encoding");
    let mut body = resp.into_body();
    let mut frames = Vec::new();
    let mut error = None;
    loop {
        match tokio::time::timeout_at((started + limit).into(), body.frame()).await {
            Err(_) => panic!("the body neither ended nor failed within {limit:?}"),
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                error = Some(e.to_string());
                break;
            }
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    frames.push((started.elapsed(), data));
                }
            }
        }
    }
    Streamed {
        status,
        content_type,
        content_encoding,
        frames,
        error,
        ended: started.elapsed(),
    }
}

/// `seen` came as it was produced, over at least `at_least`: its first frame within 1 s and
/// before half the whole, and at least 3 frames in the first half, not one burst at the end.
#[track_caller]
fn assert_spread(seen: &Streamed, at_least: Duration) {
    let first = seen.frames[0].0;
    assert!(seen.ended >= at_least, "{:?}", seen.ended);
    assert!(
        first < Duration::from_secs(1) && first * 2 < seen.ended,
        "first event after {first:?}, whole body after {:?}",
        seen.ended
    );
    let halfway = seen
        .frames
        .iter()
        .filter(|(t, _)| *t < seen.ended / 2)
        .count();
    assert!(
        halfway >= 3,
        "only {halfway} of {} frames arrived in the first half",
        seen.frames.len()
    );
}

#[tokio::test]
async fn server_sent_events_reach_the_client_as_they_are_sent() {
    let (up, _task) = sse_upstream(Events {
        count: 20,
        gap: Duration::from_millis(100),
        stall_after: None,
    })
    .await;
    let echo = Upstream::start().await;
    let dir = Dir::new();
    // Compression is on for the API, from 0 bytes: a streamed answer must not wait for the
    // encoder (AWS does not encode streamed responses).
    dir.single_api(
        &stream_api(
            up,
            echo.addr,
            "x-amazon-apigateway-minimum-compression-size: 0",
        ),
        "      prod: {}\n",
        "",
    );
    let gw = Portico::start(&dir);

    let seen = stream_get(
        &gw.url("/prod/events"),
        &[("accept-encoding", "gzip")],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(seen.status, 200);
    assert_eq!(seen.content_type.as_deref(), Some("text/event-stream"));
    assert_eq!(
        seen.content_encoding, None,
        "streamed answers are not encoded"
    );
    assert!(seen.error.is_none(), "{:?}", seen.error);
    let expected: String = (0..20).map(event).collect();
    assert_eq!(seen.text(), expected, "every event, intact and in order");

    // The upstream needs at least 2 s for 20 events 100 ms apart; the first one is out after
    // ~100 ms. On a loaded machine both move, so the bounds are loose but still tell a
    // buffered answer (first byte at the very end) from a streamed one.
    assert_spread(&seen, Duration::from_secs(2));

    // The BUFFERED route of the same API is still compressed.
    let reply = send(
        "GET",
        &gw.url("/prod/echo"),
        &[("accept-encoding", "gzip")],
        "",
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-encoding"), Some("gzip"));
}

#[tokio::test]
async fn a_stalled_stream_is_cut_by_the_idle_timeout() {
    // Three events, then 30 s of silence: far beyond the 300 ms idle timeout set below.
    let (up, _task) = sse_upstream(Events {
        count: 6,
        gap: Duration::from_millis(50),
        stall_after: Some((3, Duration::from_secs(30))),
    })
    .await;
    let echo = Upstream::start().await;
    let dir = Dir::new();
    dir.single_api(
        &stream_api(up, echo.addr, ""),
        "      prod: {}\n",
        "limits:\n  stream_idle_timeout_ms: 300\n",
    );
    let gw = Portico::start(&dir);

    let seen = stream_get(&gw.url("/prod/events"), &[], Duration::from_secs(20)).await;
    assert_eq!(seen.status, 200);
    assert!(
        seen.error.is_some(),
        "the client must see an incomplete body, got a clean end after {:?}: {:?}",
        seen.ended,
        seen.text()
    );
    let expected: String = (0..3).map(event).collect();
    assert_eq!(seen.text(), expected, "the events before the stall arrived");
    assert!(
        seen.ended >= Duration::from_millis(300) && seen.ended < Duration::from_secs(10),
        "cut after {:?}",
        seen.ended
    );

    // The gateway goes on serving.
    let reply = get(&gw.url("/prod/echo")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn over_http2_a_stalled_stream_is_reset_and_the_connection_goes_on() {
    let (up, _task) = sse_upstream(Events {
        count: 6,
        gap: Duration::from_millis(50),
        stall_after: Some((2, Duration::from_secs(30))),
    })
    .await;
    let echo = Upstream::start().await;
    let dir = Dir::new();
    dir.single_api(
        &stream_api(up, echo.addr, ""),
        "      prod: {}\n",
        "limits:\n  stream_idle_timeout_ms: 300\n",
    );
    let gw = Portico::start(&dir);
    let client: TestClient = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();

    let seen = stream_get_with(
        &client,
        &gw.url("/prod/events"),
        &[],
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(seen.status, 200);
    assert!(seen.error.is_some(), "reset, not ended: {:?}", seen.text());
    let expected: String = (0..2).map(event).collect();
    assert_eq!(seen.text(), expected);
    assert!(
        seen.ended < Duration::from_secs(10),
        "cut after {:?}",
        seen.ended
    );

    // Only the stream was reset: the same client (one HTTP/2 connection) goes on.
    let resp = client
        .request(
            http::Request::get(gw.url("/prod/echo"))
                .body(Empty::new())
                .expect("request"),
        )
        .await
        .expect("next request");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert_eq!(
        echo.connections.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the echo upstream was reached"
    );
}

#[tokio::test]
async fn a_stream_longer_than_its_total_limit_is_cut() {
    // An event every 100 ms for 4 s; the stream may last 1 s in all.
    let (up, _task) = sse_upstream(Events {
        count: 40,
        gap: Duration::from_millis(100),
        stall_after: None,
    })
    .await;
    let echo = Upstream::start().await;
    let dir = Dir::new();
    dir.single_api(
        &stream_api(up, echo.addr, ""),
        "      prod: {}\n",
        "limits:\n  stream_max_duration_ms: 1000\n",
    );
    let gw = Portico::start(&dir);

    let seen = stream_get(&gw.url("/prod/events"), &[], Duration::from_secs(20)).await;
    assert_eq!(seen.status, 200);
    assert!(seen.error.is_some(), "cut, not ended: {:?}", seen.text());
    assert!(!seen.frames.is_empty(), "events flowed until the limit");
    assert!(
        seen.frames.len() < 40 && seen.ended < Duration::from_secs(4),
        "{} events in {:?}",
        seen.frames.len(),
        seen.ended
    );
    // Whatever arrived is whole events, in order.
    let text = seen.text();
    let expected: String = (0..40).map(event).collect();
    assert!(expected.starts_with(&text));
}

fn check(dir: &Dir) -> (bool, String) {
    let out = Command::new(PORTICO)
        .args([
            "check",
            "--config",
            dir.path("gateway.yaml").to_str().expect("utf-8 path"),
        ])
        .output()
        .expect("run portico check");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn check_refuses_stream_where_aws_does() {
    let dir = Dir::new();
    dir.single_api(
        &format!(
            r#"openapi: 3.0.1
info: {{title: t, version: '1'}}
paths:
  /mock:
    get:
      x-amazon-apigateway-integration:
        type: mock
        responseTransferMode: STREAM
        requestTemplates:
          application/json: '{{"statusCode": 200}}'
  /http:
    get:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: 'http://127.0.0.1:9/x'
        responseTransferMode: STREAM
  /templates:
    get:
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: {LAMBDA}:fn/invocations
        responseTransferMode: STREAM
        responses:
          default:
            statusCode: 200
            responseTemplates:
              application/json: '{{}}'
  /cached:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: 'http://127.0.0.1:9/x'
        responseTransferMode: STREAM
  /long:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: 'http://127.0.0.1:9/x'
        responseTransferMode: STREAM
        timeoutInMillis: 900000
  /toolong:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: 'http://127.0.0.1:9/x'
        responseTransferMode: STREAM
        timeoutInMillis: 900001
  /buffered:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: 'http://127.0.0.1:9/x'
        responseTransferMode: BUFFERED
        timeoutInMillis: 60000
  /typo:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: 'http://127.0.0.1:9/x'
        responseTransferMode: STREAMING
"#
        ),
        "      prod:\n        cache:\n          size: 256KiB\n        method_settings:\n          /long/GET: {caching_enabled: false}\n          /toolong/GET: {caching_enabled: false}\n          /typo/GET: {caching_enabled: false}\n          /templates/GET: {caching_enabled: false}\n",
        "limits:\n  stream_idle_timeout_ms: 0\n",
    );
    let (ok, out) = check(&dir);
    assert!(!ok, "check must fail:\n{out}");
    let at = |p: &str| format!("api.yaml: paths./{p}.get.x-amazon-apigateway-integration.");
    for expected in [
        format!(
            "{}responseTransferMode: responseTransferMode STREAM is supported for http_proxy and aws_proxy integrations only",
            at("mock")
        ),
        format!(
            "{}responseTransferMode: responseTransferMode STREAM is supported for http_proxy and aws_proxy integrations only",
            at("http")
        ),
        format!(
            "{}responses: integration responses (response templates and mappings) are not supported with responseTransferMode STREAM",
            at("templates")
        ),
        format!(
            "{}timeoutInMillis: must be an integer between 50 and 900000 milliseconds",
            at("toolong")
        ),
        format!(
            "{}timeoutInMillis: must be an integer between 50 and 29000 milliseconds (up to 900000 with responseTransferMode STREAM), got 60000",
            at("buffered")
        ),
        format!(
            "{}responseTransferMode: STREAMING is not BUFFERED or STREAM",
            at("typo")
        ),
        "gateway.yaml: apis[0].stages.prod.method_settings./cached/GET: GET /cached streams its response".to_owned(),
        "gateway.yaml: limits.stream_idle_timeout_ms: must be more than 0".to_owned(),
    ] {
        assert!(out.contains(&expected), "missing {expected:?} in:\n{out}");
    }
    // A STREAM method with a timeout up to 15 minutes and caching off is fine.
    assert!(!out.contains("paths./long."), "{out}");
    assert!(!out.contains("/long/GET"), "{out}");
}

/// A gateway whose `/fn/{proxy+}` is an `aws_proxy` STREAM route to the `wasi:http`
/// `function-echo-http`, with the given plugin `timeout_ms` and stage `limits`.
fn function_stream_gateway(timeout_ms: u64, limits: &str) -> (Dir, Portico) {
    let dir = Dir::new();
    dir.single_api(
        &format!(
            r#"openapi: 3.0.1
info: {{title: t, version: '1'}}
paths:
  /fn/{{proxy+}}:
    x-amazon-apigateway-any-method:
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: {LAMBDA}:echo-http/invocations
        responseTransferMode: STREAM
        timeoutInMillis: 120000
"#
        ),
        "      prod: {}\n",
        &format!(
            "  watch: false\n{limits}plugins:\n  - name: echo-http\n    kind: function\n    timeout_ms: {timeout_ms}\n    file: {}\n",
            component("function-echo-http").display()
        ),
    );
    let gw = Portico::start(&dir);
    (dir, gw)
}

#[tokio::test]
async fn a_stream_wasi_http_function_sends_each_chunk_as_it_writes_it() {
    let (_dir, gw) = function_stream_gateway(30_000, "");
    // A whole answer through the same STREAM route.
    let reply = send("PUT", &gw.url("/prod/fn/items/7"), &[], "payload").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-handler"), Some("wasi-http"));
    assert!(reply.text().contains("payload"), "{}", reply.text());

    // 20 events 100 ms apart: the first is out long before the function returns.
    let seen = stream_get(
        &gw.url("/prod/fn/stream?chunks=20&every_ms=100"),
        &[("accept-encoding", "gzip")],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(seen.status, 200);
    assert_eq!(seen.content_type.as_deref(), Some("text/event-stream"));
    assert_eq!(seen.content_encoding, None);
    assert!(seen.error.is_none(), "{:?}", seen.error);
    let expected: String = (0..20).map(|i| format!("data: {i}\n\n")).collect();
    assert_eq!(seen.text(), expected);
    assert_spread(&seen, Duration::from_millis(1900));

    // The time to the first byte does not grow with the length: 5 events or 40.
    let short = stream_get(
        &gw.url("/prod/fn/stream?chunks=5&every_ms=100"),
        &[],
        Duration::from_secs(60),
    )
    .await;
    let long = stream_get(
        &gw.url("/prod/fn/stream?chunks=40&every_ms=100"),
        &[],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(long.text().matches("data: ").count(), 40);
    assert!(
        long.ended >= Duration::from_millis(3900),
        "{:?}",
        long.ended
    );
    assert!(
        long.frames[0].0 < Duration::from_secs(1),
        "first byte of 40 events after {:?} (of 5: {:?})",
        long.frames[0].0,
        short.frames[0].0
    );

    // A function that traps half-way breaks the body off: the client sees an incomplete
    // response, never a complete-looking one; the gateway goes on serving.
    let broken = stream_get(
        &gw.url("/prod/fn/stream?chunks=10&every_ms=20&trap_after=3"),
        &[],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(broken.status, 200);
    assert!(
        broken.error.is_some(),
        "the body ended cleanly: {:?}",
        broken.text()
    );
    // What was sent before the trap, or less: the connection is closed at once, so the
    // last chunk may still sit in the gateway's write buffer. Never anything after it.
    let sent = "data: 0\n\ndata: 1\n\ndata: 2\n\n";
    assert!(
        broken.text().starts_with("data: 0\n\n") && sent.starts_with(&broken.text()),
        "{:?}",
        broken.text()
    );
    // The gateway had answered when the trap came, and it still counts as the plugin's fault
    // (counted by the call's task, just after the body breaks off).
    let fault = r#"portico_plugin_faults_total{plugin="echo-http",fault="trap"} 1"#;
    let mut metrics = String::new();
    for _ in 0..50 {
        metrics = get(&gw.admin_url("/metrics")).await.text();
        if metrics.contains(fault) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(metrics.contains(fault), "{metrics}");
    let again = send("GET", &gw.url("/prod/fn/items/8"), &[], "").await;
    assert_eq!(again.status, 200, "{}", again.text());
}

#[tokio::test]
async fn a_stream_function_is_bounded_by_its_timeout_and_the_idle_limit() {
    // The function's own deadline (1.5 s) ends a stream that would last 4 s.
    let (_dir, gw) = function_stream_gateway(1_500, "limits:\n  stream_idle_timeout_ms: 400\n");
    let cut = stream_get(
        &gw.url("/prod/fn/stream?chunks=40&every_ms=100"),
        &[],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(cut.status, 200);
    assert!(cut.error.is_some(), "not cut: {} bytes", cut.text().len());
    let events = cut.text().matches("data: ").count();
    assert!((3..40).contains(&events), "{events} events before the cut");
    assert!(cut.ended < Duration::from_secs(4), "{:?}", cut.ended);

    // A gap longer than the stream idle limit (400 ms) ends the stream at the gateway.
    let idle = stream_get(
        &gw.url("/prod/fn/stream?chunks=3&every_ms=1000"),
        &[],
        Duration::from_secs(30),
    )
    .await;
    assert!(idle.error.is_some(), "not cut: {:?}", idle.text());
    assert_eq!(idle.text(), "data: 0\n\n");
    assert!(idle.ended < Duration::from_millis(1000), "{:?}", idle.ended);

    // The gateway still serves, and the instances were given back.
    let reply = send("GET", &gw.url("/prod/fn/items/1"), &[], "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn a_slow_reader_holds_the_upstream_back() {
    // The upstream offers 128 MiB as fast as it can; the client reads the head, then nothing
    // for a while. With back-pressure the upstream can only have written what the socket and
    // connection buffers on the way hold (a few MiB each), not everything.
    const OFFERED: usize = 128 << 20;
    const CHUNK: usize = 64 << 10;
    let written = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let up = listener.local_addr().expect("addr");
    let count = std::sync::Arc::clone(&written);
    let _task = tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let count = std::sync::Arc::clone(&count);
            tokio::spawn(async move {
                if read_head(&mut conn).await.is_none() {
                    return;
                }
                let start = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {OFFERED}\r\n\r\n"
                );
                if conn.write_all(start.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b'x'; CHUNK];
                for _ in 0..OFFERED / CHUNK {
                    if conn.write_all(&chunk).await.is_err() {
                        return;
                    }
                    count.fetch_add(CHUNK, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
    });
    let echo = Upstream::start().await;
    let dir = Dir::new();
    dir.single_api(&stream_api(up, echo.addr, ""), "      prod: {}\n", "");
    let gw = Portico::start(&dir);

    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let req = http::Request::get(gw.url("/prod/events"))
        .body(Empty::new())
        .expect("request");
    let resp = client.request(req).await.expect("response head");
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    // Read a little, then stall.
    let mut read = 0;
    while read < CHUNK {
        match body.frame().await {
            Some(Ok(f)) => read += f.into_data().map(|d| d.len()).unwrap_or(0),
            other => panic!("the body ended early: {:?}", other.map(|r| r.is_ok())),
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during_stall = written.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        during_stall < 48 << 20,
        "the upstream wrote {during_stall} bytes while the client read none: the gateway buffers"
    );
    // Reading again lets the upstream go on.
    let mut more = 0;
    while more < 16 << 20 {
        match body.frame().await {
            Some(Ok(f)) => more += f.into_data().map(|d| d.len()).unwrap_or(0),
            other => panic!("the body ended early: {:?}", other.map(|r| r.is_ok())),
        }
    }
    drop(body);
    let reply = get(&gw.url("/prod/echo")).await;
    assert_eq!(reply.status, 200);
}

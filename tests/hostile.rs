//! Hostile and malformed clients: oversized bodies (by `Content-Length` and while streaming),
//! oversized header sections, over-long URIs, slow clients, bad percent-encoding and garbage
//! instead of HTTP. Every case checks the answer the client sees and that the gateway keeps
//! serving afterwards.
//!
//! Most requests go over raw TCP, because a well-behaved client refuses to send them.

use std::time::{Duration, Instant};

use crate::support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long any single raw read may take before the test gives up.
const READ_LIMIT: Duration = Duration::from_secs(10);

/// A response read off a raw connection.
#[derive(Debug)]
struct RawReply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawReply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Asserts an AWS-style gateway error read off a raw connection.
#[track_caller]
fn assert_raw_error(reply: &RawReply, status: u16, body: &str, error_type: &str) {
    assert_eq!(reply.status, status, "body: {}", reply.text());
    assert_eq!(reply.text(), body);
    assert_eq!(reply.header("x-amzn-errortype"), Some(error_type));
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert!(reply.header("x-amzn-requestid").is_some(), "{reply:?}");
}

/// A raw HTTP/1.1 connection: write bytes, read responses (keep-alive aware).
struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    async fn open(gw: &Portico) -> Self {
        let stream = TcpStream::connect(gw.addr).await.expect("connect");
        Self {
            stream,
            buf: Vec::new(),
        }
    }

    async fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Reads more bytes; `Ok(0)` at end of stream.
    async fn fill(&mut self) -> std::io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        let n = tokio::time::timeout(READ_LIMIT, self.stream.read(&mut chunk))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "read timed out"))??;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Reads one response. `Ok(None)` when the connection closed before a response began.
    async fn response(&mut self) -> std::io::Result<Option<RawReply>> {
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i;
            }
            if self.fill().await? == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed inside a response head: {:?}",
                        String::from_utf8_lossy(&self.buf)
                    ),
                ));
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        self.buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let mut reply = RawReply {
            status,
            headers,
            body: Vec::new(),
        };
        if let Some(len) = reply.header("content-length") {
            let len: usize = len.parse().expect("content-length");
            while self.buf.len() < len {
                if self.fill().await? == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
            }
            reply.body = self.buf.drain(..len).collect();
        } else if reply
            .header("transfer-encoding")
            .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let line_end = loop {
                    if let Some(i) = find(&self.buf, b"\r\n") {
                        break i;
                    }
                    if self.fill().await? == 0 {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                };
                let size_text = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
                let size =
                    usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                        .expect("chunk size");
                self.buf.drain(..line_end + 2);
                while self.buf.len() < size + 2 {
                    if self.fill().await? == 0 {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                }
                reply.body.extend(self.buf.drain(..size));
                self.buf.drain(..2);
                if size == 0 {
                    break;
                }
            }
        } else if status >= 200 && status != 204 && status != 304 {
            while self.fill().await? != 0 {}
            reply.body = std::mem::take(&mut self.buf);
        }
        Ok(Some(reply))
    }

    /// True when the server closed the connection (end of stream or reset) without sending
    /// anything more.
    async fn closed(&mut self) -> bool {
        match self.fill().await {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() != std::io::ErrorKind::TimedOut,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One request on a fresh raw connection; the response must come.
async fn raw(gw: &Portico, request: &[u8]) -> RawReply {
    let mut conn = RawConn::open(gw).await;
    conn.write(request).await;
    conn.response()
        .await
        .expect("reading the response")
        .expect("the gateway closed the connection without answering")
}

/// A gateway with an `http_proxy` route `/up/{proxy+}` (and `/up`) to `up`, and `extra` in the
/// gateway file.
fn start(up: &Upstream, extra: &str) -> (Dir, Portico) {
    let dir = Dir::new();
    let uri = format!("http://{}/u/{{proxy}}", up.addr);
    let root = format!("http://{}/u", up.addr);
    dir.single_api(
        &proxy_api(&[("/up/{proxy+}", "ANY", &uri), ("/up", "ANY", &root)]),
        "      prod: {}\n",
        extra,
    );
    let gw = Portico::start(&dir);
    (dir, gw)
}

/// The gateway still answers an ordinary request.
async fn assert_still_serving(gw: &Portico) {
    let reply = get(&gw.url("/prod/up/alive")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["target"], "/u/alive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_length_over_10_mb_answers_413_without_calling_the_upstream() {
    let up = Upstream::start().await;
    let (_dir, gw) = start(&up, "");

    // Only the head is sent: the gateway must answer from Content-Length alone.
    let reply = raw(
        &gw,
        b"POST /prod/up/big HTTP/1.1\r\nHost: a\r\nContent-Type: application/octet-stream\r\nContent-Length: 10485761\r\n\r\n",
    )
    .await;
    assert_raw_error(
        &reply,
        413,
        r#"{"message":"Request Too Long"}"#,
        "RequestEntityTooLargeException",
    );
    assert_eq!(
        up.count(),
        0,
        "the upstream must not see an oversized request"
    );

    // A client that waits for `100 Continue` gets the 413 instead, and sends nothing.
    let reply = raw(
        &gw,
        b"PUT /prod/up/big HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 20000000\r\n\r\n",
    )
    .await;
    assert_raw_error(
        &reply,
        413,
        r#"{"message":"Request Too Long"}"#,
        "RequestEntityTooLargeException",
    );
    assert_eq!(up.count(), 0);

    // Exactly 10 MiB is allowed and reaches the upstream whole.
    let body = vec![b'x'; 10 * 1024 * 1024];
    let reply = send(
        "POST",
        &gw.url("/prod/up/big"),
        &[("content-type", "application/octet-stream")],
        body,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["bodyLength"], 10 * 1024 * 1024);
    assert_eq!(up.count(), 1);
}

/// Sends `len` bytes as a chunked body (100-byte chunks) and reads the answer.
async fn chunked_post(gw: &Portico, len: usize) -> RawReply {
    let mut req =
        b"POST /prod/up/stream HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let mut left = len;
    while left > 0 {
        let n = left.min(100);
        req.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        req.extend(std::iter::repeat_n(b'y', n));
        req.extend_from_slice(b"\r\n");
        left -= n;
    }
    req.extend_from_slice(b"0\r\n\r\n");
    raw(gw, &req).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_body_over_the_limit_answers_413_while_streaming() {
    let up = Upstream::start().await;
    let (_dir, gw) = start(&up, "limits:\n  max_body_bytes: 1000\n");

    // At the limit: passes through, streamed.
    let at_limit = chunked_post(&gw, 1000).await;
    assert_eq!(at_limit.status, 200, "{}", at_limit.text());
    let seen: serde_json::Value = serde_json::from_slice(&at_limit.body).expect("JSON");
    assert_eq!(seen["bodyLength"], 1000);

    // One byte over, discovered only while streaming (there is no Content-Length).
    let over = chunked_post(&gw, 1001).await;
    assert_raw_error(
        &over,
        413,
        r#"{"message":"Request Too Long"}"#,
        "RequestEntityTooLargeException",
    );
    // Well over.
    let far_over = chunked_post(&gw, 20_000).await;
    assert_raw_error(
        &far_over,
        413,
        r#"{"message":"Request Too Long"}"#,
        "RequestEntityTooLargeException",
    );

    // The lowered limit applies to Content-Length as well, before the upstream is called.
    // (Counted by body, not by total: the streams cut off above may still be recorded by the
    // upstream while this runs.)
    let by_length = send("POST", &gw.url("/prod/up/x"), &[], vec![b'z'; 1001]).await;
    assert_gateway_error(
        &by_length,
        413,
        r#"{"message":"Request Too Long"}"#,
        "RequestEntityTooLargeException",
    );
    let reached = up
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.body.first() == Some(&b'z'))
        .count();
    assert_eq!(reached, 0, "the over-long body reached the upstream");
    let under = send("POST", &gw.url("/prod/up/x"), &[], vec![b'z'; 999]).await;
    assert_eq!(under.status, 200, "{}", under.text());
    assert_eq!(under.json()["bodyLength"], 999);

    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_header_section_answers_431() {
    let up = Upstream::start().await;
    let (_dir, gw) = start(&up, "");

    let fits = "h".repeat(10_000);
    let reply = send("GET", &gw.url("/prod/up/h"), &[("x-big", &fits)], "").await;
    assert_eq!(
        reply.status, 200,
        "a 10 000-byte header is within the 10 240-byte quota"
    );

    let big = "h".repeat(11_000);
    let reply = send("GET", &gw.url("/prod/up/h"), &[("x-big", &big)], "").await;
    assert_gateway_error(
        &reply,
        431,
        r#"{"message":"Request Header Fields Too Large"}"#,
        "RequestHeaderFieldsTooLargeException",
    );
    // Many small headers count together.
    let mut req = String::from("GET /prod/up/h HTTP/1.1\r\nHost: a\r\n");
    for i in 0..90 {
        req.push_str(&format!("x-h{i:02}: {}\r\n", "v".repeat(120)));
    }
    req.push_str("\r\n");
    let reply = raw(&gw, req.as_bytes()).await;
    assert_raw_error(
        &reply,
        431,
        r#"{"message":"Request Header Fields Too Large"}"#,
        "RequestHeaderFieldsTooLargeException",
    );
    assert_eq!(
        up.count(),
        1,
        "only the request that fitted reached the upstream"
    );

    // 1 MB of headers: the HTTP layer answers 431 or hangs up; either way the gateway lives.
    let mut huge = String::from("GET /prod/up/h HTTP/1.1\r\nHost: a\r\n");
    for i in 0..1024 {
        huge.push_str(&format!("x-huge-{i}: {}\r\n", "w".repeat(1000)));
    }
    huge.push_str("\r\n");
    let stream = TcpStream::connect(gw.addr).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        // The server may stop reading and close; a write error is expected then.
        let _ = wr.write_all(huge.as_bytes()).await;
        wr
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(READ_LIMIT, rd.read_to_end(&mut answer)).await;
    // A reset instead of an orderly close is fine too: only a hang fails.
    assert!(read.is_ok(), "the gateway neither answered nor closed");
    let text = String::from_utf8_lossy(&answer);
    println!("1 MB of headers: {:?}", text.lines().next());
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 431"),
        "expected 431 or a closed connection, got {text:?}"
    );
    drop(writer.await.expect("writer"));
    assert_eq!(up.count(), 1);
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_long_uri_answers_414() {
    let up = Upstream::start().await;
    let (_dir, gw) = start(&up, "");

    // Under the quota: served (the target is path and query).
    let fits = format!("/prod/up/{}?q={}", "a".repeat(5000), "b".repeat(5000));
    let reply = get(&gw.url(&fits)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    let long = format!("/prod/up/{}", "a".repeat(10_240));
    let reply = get(&gw.url(&long)).await;
    assert_gateway_error(
        &reply,
        414,
        r#"{"message":"Request-URI Too Long"}"#,
        "UriTooLongException",
    );
    let long_query = format!("/prod/up/x?q={}", "b".repeat(10_240));
    let reply = raw(
        &gw,
        format!("GET {long_query} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes(),
    )
    .await;
    assert_raw_error(
        &reply,
        414,
        r#"{"message":"Request-URI Too Long"}"#,
        "UriTooLongException",
    );
    // Even the stage lookup does not happen first: an unknown stage is still a 414.
    let reply = get(&gw.url(&format!("/nostage/{}", "c".repeat(10_300)))).await;
    assert_eq!(reply.status, 414);
    assert_eq!(up.count(), 1);

    // Far beyond what the HTTP layer parses: 414 or a closed connection, and no crash.
    let mut conn = RawConn::open(&gw).await;
    conn.write(
        format!(
            "GET /prod/{} HTTP/1.1\r\nHost: a\r\n\r\n",
            "d".repeat(100_000)
        )
        .as_bytes(),
    )
    .await;
    match conn.response().await {
        Ok(Some(r)) => assert_eq!(r.status, 414, "{r:?}"),
        Ok(None) => {}
        Err(e) => assert_ne!(e.kind(), std::io::ErrorKind::TimedOut, "{e}"),
    }
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_client_is_cut_off_after_the_header_read_timeout() {
    let up = Upstream::start().await;
    let (_dir, gw) = start(&up, "limits:\n  header_read_timeout_ms: 500\n");

    let mut conn = RawConn::open(&gw).await;
    conn.write(b"GET /prod/up/slow HTTP/1.1\r\nHost: a\r\n")
        .await;
    let started = Instant::now();
    let (mut rd, mut wr) = conn.stream.into_split();
    // Trickle one header byte every 100 ms, forever (until the server hangs up).
    let trickle = tokio::spawn(async move {
        for b in b"X-Slow: ".iter().chain(std::iter::repeat(&b'z')) {
            if wr.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });

    // Meanwhile other clients are served.
    for _ in 0..3 {
        assert_still_serving(&gw).await;
    }

    // The server closes the connection (possibly after a 408) well before 2 s.
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), rd.read_to_end(&mut answer)).await;
    let elapsed = started.elapsed();
    trickle.abort();
    assert!(
        read.is_ok(),
        "the slow connection was still open after 2 s (header_read_timeout_ms: 500)"
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "expected a close or 408, got {text:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(400),
        "closed after {elapsed:?}, before the timeout"
    );
    assert_eq!(up.count(), 3);
    assert_still_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_client_is_cut_off_after_the_header_read_timeout() {
    let up = Upstream::start().await;
    let (_dir, gw) = start(&up, "limits:\n  header_read_timeout_ms: 500\n");

    // Sends nothing at all.
    let mut silent = RawConn::open(&gw).await;
    // Sends the first bytes of the HTTP/2 preface, which is also a valid start of HTTP/1.
    let mut prefix = RawConn::open(&gw).await;
    prefix.write(b"PRI").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_still_serving(&gw).await;
    for (name, conn) in [("silent", &mut silent), ("preface prefix", &mut prefix)] {
        let closed = tokio::time::timeout(Duration::from_millis(500), conn.closed()).await;
        assert!(
            matches!(closed, Ok(true)),
            "the {name} connection was still open 2 s after connecting (header_read_timeout_ms: 500)"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_percent_encoding_answers_400() {
    let up = Upstream::start().await;
    let (_dir, gw) = start(&up, "");
    for path in [
        "/prod/up/%zz",
        "/prod/%ff",
        "/prod/a%2",
        "/prod/up/ok/%C3%28",
    ] {
        let reply = raw(
            &gw,
            format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes(),
        )
        .await;
        assert_raw_error(
            &reply,
            400,
            r#"{"message":"Invalid percent-encoding in the request path"}"#,
            "BadRequestException",
        );
    }
    // On one keep-alive connection, a bad request does not spoil the next one.
    let mut conn = RawConn::open(&gw).await;
    conn.write(
        b"GET /prod/up/%zz HTTP/1.1\r\nHost: a\r\n\r\nGET /prod/up/%41 HTTP/1.1\r\nHost: a\r\n\r\n",
    )
    .await;
    let bad = conn.response().await.expect("read").expect("first answer");
    assert_eq!(bad.status, 400);
    let good = conn.response().await.expect("read").expect("second answer");
    assert_eq!(good.status, 200, "{}", good.text());
    assert_eq!(up.count(), 1, "no bad path reaches the upstream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_instead_of_http_is_answered_400_or_closed() {
    let up = Upstream::start().await;
    let (_dir, gw) = start(&up, "");
    let garbage: [&[u8]; 7] = [
        b"\x00\x01\x02\x03\xff\xfe\xfd\r\n\r\n",
        b"HELLO THERE\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: a\r\n\r\n",
        b"GET /prod/up/x HTTP/1.1\r\nHost: a\r\nBad Header Line\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\xde\xad\xbe\xef\xde\xad\xbe\xef\xde\xad\xbe\xef",
        b"POST /prod/up/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"POST /prod/up/x HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
    ];
    for bytes in garbage {
        let mut conn = RawConn::open(&gw).await;
        conn.write(bytes).await;
        match conn.response().await {
            Ok(Some(r)) => {
                assert_eq!(r.status, 400, "{:?}: {r:?}", String::from_utf8_lossy(bytes));
                assert!(
                    conn.closed().await,
                    "the connection stays open after garbage"
                );
            }
            Ok(None) => {}
            Err(e) => assert_ne!(
                e.kind(),
                std::io::ErrorKind::TimedOut,
                "{:?}: neither answered nor closed",
                String::from_utf8_lossy(bytes)
            ),
        }
    }
    // 64 KiB of random-looking bytes.
    let noise: Vec<u8> = (0..65_536u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut conn = RawConn::open(&gw).await;
    let _ = conn.stream.write_all(&noise).await;
    match conn.response().await {
        Ok(Some(r)) => assert_eq!(r.status, 400, "{r:?}"),
        Ok(None) => {}
        Err(e) => assert_ne!(e.kind(), std::io::ErrorKind::TimedOut, "{e}"),
    }
    assert_eq!(up.count(), 0, "no garbage reaches the upstream");
    assert_still_serving(&gw).await;
}

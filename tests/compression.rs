//! Payload compression (`x-amazon-apigateway-minimum-compression-size`): integration answers
//! encoded by `Accept-Encoding` from the threshold up (q-values, `*`, `identity;q=0`, codings
//! API Gateway lacks), streamed answers encoded as they stream, already-encoded answers and
//! gateway responses untouched, and request bodies decoded before templates and integrations,
//! with 415 for unknown or corrupt codings and 413 for a decompression bomb.
//!
//! Also home of [`RawUpstream`], an upstream that answers any head and body (the CORS tests
//! use it too).

use std::convert::Infallible;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::support::*;

/// A body an upstream answers with.
pub type UpBody = BoxBody<Bytes, Infallible>;

/// What a [`RawUpstream`] answers: a function of the request's head and body.
pub type RawRespond = dyn Fn(&http::request::Parts, &Bytes) -> Response<UpBody> + Send + Sync;

/// An upstream answering with any response; it records what it received.
pub struct RawUpstream {
    pub addr: std::net::SocketAddr,
    pub seen: Arc<Mutex<Vec<(http::request::Parts, Bytes)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RawUpstream {
    pub async fn start(
        respond: impl Fn(&http::request::Parts, &Bytes) -> Response<UpBody> + Send + Sync + 'static,
    ) -> Self {
        let respond: Arc<RawRespond> = Arc::new(respond);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<(http::request::Parts, Bytes)>>> = Arc::default();
        let record = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let respond = Arc::clone(&respond);
                let record = Arc::clone(&record);
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let respond = Arc::clone(&respond);
                        let record = Arc::clone(&record);
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let resp = respond(&parts, &body);
                            record.lock().unwrap().push((parts, body));
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, seen, task }
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn last(&self) -> (http::request::Parts, Bytes) {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("no request")
    }
}

impl Drop for RawUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A whole body.
pub fn whole(bytes: impl Into<Bytes>) -> UpBody {
    Full::new(bytes.into()).boxed()
}

/// A body of unknown length fed from a channel, one frame per message.
struct Channel(mpsc::Receiver<Bytes>);

impl hyper::body::Body for Channel {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|m| m.map(|b| Ok(hyper::body::Frame::data(b))))
    }
}

/// `n` bytes of compressible text (a JSON-ish list, so every position differs a little).
fn payload(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 32);
    let mut i = 0;
    while out.len() < n {
        out.extend_from_slice(format!("{{\"id\":{i},\"name\":\"item number {i}\"}},").as_bytes());
        i += 1;
    }
    out.truncate(n);
    out
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

fn inflate(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(b)
        .read_to_end(&mut out)
        .expect("valid zlib");
    out
}

fn unbrotli(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(b, 4096)
        .read_to_end(&mut out)
        .expect("valid brotli");
    out
}

fn brotli(b: &[u8]) -> Vec<u8> {
    let mut e = brotli::CompressorWriter::new(Vec::new(), 4096, 5, 22);
    e.write_all(b).unwrap();
    e.into_inner()
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn zlib(b: &[u8]) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// The size the upstream answers with: `?n=`.
fn size(parts: &http::request::Parts) -> usize {
    parts
        .uri
        .query()
        .and_then(|q| q.strip_prefix("n="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(10)
}

/// An API whose `/data/{proxy+}` and `/echo` go to `up`, with `top` at the document root.
fn api(up: &RawUpstream, top: &str) -> String {
    format!(
        r#"openapi: 3.0.1
info: {{title: c, version: '1'}}
{top}
paths:
  /data/{{proxy+}}:
    x-amazon-apigateway-any-method:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        uri: 'http://{addr}/{{proxy}}'
  /mapped:
    post:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: 'http://{addr}/mapped'
        requestTemplates:
          application/json: '{{"name": $input.json(''$.name''), "n": $input.json(''$.list'')}}'
        responses:
          default:
            statusCode: 200
"#,
        addr = up.addr
    )
}

/// An upstream answering `?n=` bytes of [`payload`]; `/encoded` answers pre-gzipped bytes
/// with `Content-Encoding: gzip`; anything else echoes the request body.
async fn upstream() -> RawUpstream {
    RawUpstream::start(|parts, body| {
        let resp = Response::builder().header("content-type", "application/json");
        match parts.uri.path() {
            "/size" => resp.body(whole(payload(size(parts)))).unwrap(),
            "/encoded" => resp
                .header("content-encoding", "gzip")
                .body(whole(gzip(&payload(5000))))
                .unwrap(),
            _ => resp.body(whole(body.clone())).unwrap(),
        }
    })
    .await
}

fn start(top: &str, extra: &str, up: &RawUpstream) -> (Dir, Portico) {
    let dir = Dir::new();
    dir.single_api(&api(up, top), "      prod: {}\n", extra);
    let gw = Portico::start(&dir);
    (dir, gw)
}

async fn fetch(gw: &Portico, n: usize, accept: Option<&str>) -> Reply {
    let url = gw.url(&format!("/prod/data/size?n={n}"));
    let headers: Vec<(&str, &str)> = accept.map(|a| ("accept-encoding", a)).into_iter().collect();
    send("GET", &url, &headers, Bytes::new()).await
}

#[tokio::test]
async fn answers_from_the_threshold_up_are_encoded_as_accept_encoding_asks() {
    let up = upstream().await;
    let (_dir, gw) = start(
        "x-amazon-apigateway-minimum-compression-size: 1000",
        "",
        &up,
    );

    // Below the threshold: as is, even when asked for gzip.
    let plain = fetch(&gw, 999, Some("gzip")).await;
    assert_eq!(plain.status, 200, "{}", plain.text());
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.body, payload(999));
    assert_eq!(plain.header("content-length"), Some("999"));
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"));

    // At and above it: gzip and deflate, each decoding to the uncompressed answer.
    for n in [1000, 50_000] {
        let identity = fetch(&gw, n, None).await;
        assert_eq!(identity.header("content-encoding"), None);
        assert_eq!(identity.body, payload(n));

        let gz = fetch(&gw, n, Some("gzip")).await;
        assert_eq!(gz.status, 200);
        assert_eq!(gz.header("content-encoding"), Some("gzip"));
        assert_eq!(gz.header("vary"), Some("Accept-Encoding"));
        assert_ne!(gz.header("content-length"), Some(n.to_string().as_str()));
        assert!(gz.body.len() < n, "{} >= {n}", gz.body.len());
        assert_eq!(gunzip(&gz.body), identity.body);

        let df = fetch(&gw, n, Some("deflate")).await;
        assert_eq!(df.header("content-encoding"), Some("deflate"));
        assert_eq!(inflate(&df.body), identity.body);

        let br = fetch(&gw, n, Some("br")).await;
        assert_eq!(br.header("content-encoding"), Some("br"));
        assert!(
            br.body.len() < gz.body.len(),
            "br {} >= gzip {}",
            br.body.len(),
            gz.body.len()
        );
        assert_eq!(unbrotli(&br.body), identity.body);
    }

    // Negotiation: q-values, ties, `*`, identity, codings the gateway does not have.
    let cases: &[(&str, Option<&str>)] = &[
        ("gzip;q=0.5, deflate;q=0.8", Some("deflate")),
        ("deflate, gzip", Some("gzip")),
        ("gzip, deflate, br", Some("gzip")),
        ("gzip;q=1.0, identity;q=0.5, *;q=0", Some("gzip")),
        ("identity;q=0, deflate;q=0.1", Some("deflate")),
        ("gzip;q=0, deflate;q=0", None),
        ("gzip;q=0", None),
        ("*", None),
        ("", None),
        ("identity", None),
        // Nothing acceptable at all: the answer is sent as is (identity).
        ("identity;q=0", None),
        // `br` (which API Gateway lacks) when preferred or alone; ties go to what AWS sends.
        ("br", Some("br")),
        ("br;q=1, gzip;q=0.5", Some("br")),
        ("br, deflate", Some("deflate")),
        ("BR;q=0.2, zstd;q=0.1", Some("br")),
        // The client's first choice is one the gateway lacks: not compressed (as AWS does).
        ("zstd, br;q=0.5", None),
    ];
    for (accept, want) in cases {
        let r = fetch(&gw, 4000, Some(accept)).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-encoding"),
            *want,
            "Accept-Encoding: {accept}"
        );
        let body = match *want {
            Some("gzip") => gunzip(&r.body),
            Some("br") => unbrotli(&r.body),
            Some(_) => inflate(&r.body),
            None => r.body.to_vec(),
        };
        assert_eq!(body, payload(4000), "Accept-Encoding: {accept}");
    }

    // HEAD answers are never encoded.
    let head = send(
        "HEAD",
        &gw.url("/prod/data/size?n=4000"),
        &[("accept-encoding", "gzip")],
        "",
    )
    .await;
    assert_eq!(head.header("content-encoding"), None);
}

#[tokio::test]
async fn threshold_zero_encoded_answers_gateway_responses_and_disabled_apis() {
    let up = upstream().await;
    let (_dir, gw) = start("x-amazon-apigateway-minimum-compression-size: 0", "", &up);
    let tiny = fetch(&gw, 1, Some("gzip")).await;
    assert_eq!(tiny.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&tiny.body), payload(1));

    // An answer with a Content-Encoding is passed on byte for byte, not encoded again.
    let encoded = send(
        "GET",
        &gw.url("/prod/data/encoded"),
        &[("accept-encoding", "gzip, deflate")],
        "",
    )
    .await;
    assert_eq!(encoded.status, 200);
    assert_eq!(encoded.header("content-encoding"), Some("gzip"));
    assert_eq!(encoded.body, gzip(&payload(5000)));
    assert_eq!(gunzip(&encoded.body), payload(5000));

    // Gateway responses are not compressed.
    let missing = send(
        "GET",
        &gw.url("/prod/nowhere"),
        &[("accept-encoding", "gzip")],
        "",
    )
    .await;
    assert_gateway_error(
        &missing,
        403,
        r#"{"message":"Missing Authentication Token"}"#,
        "MissingAuthenticationTokenException",
    );
    assert_eq!(missing.header("content-encoding"), None);

    // Without the extension nothing is compressed, and encoded requests pass as they are.
    let up2 = upstream().await;
    let (_dir2, off) = start("", "", &up2);
    let r = fetch(&off, 50_000, Some("gzip")).await;
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.header("vary"), None);
    assert_eq!(r.body, payload(50_000));
    let body = gzip(b"{\"name\": \"x\"}");
    let r = send(
        "POST",
        &off.url("/prod/data/echo"),
        &[("content-encoding", "gzip")],
        body.clone(),
    )
    .await;
    assert_eq!(r.status, 200);
    let (parts, seen) = up2.last();
    assert_eq!(seen, body);
    assert_eq!(parts.headers["content-encoding"], "gzip");
}

#[tokio::test]
async fn streamed_answers_are_encoded_as_they_stream() {
    let next: Arc<Mutex<Option<mpsc::Receiver<Bytes>>>> = Arc::default();
    let short = payload(10);
    let slot = next.clone();
    let up = RawUpstream::start(move |parts, _| {
        if parts.uri.path() == "/short" {
            // Unknown length, below the threshold.
            let (stx, srx) = mpsc::channel(1);
            stx.try_send(Bytes::from(short.clone())).unwrap();
            return Response::new(Channel(srx).boxed());
        }
        let rx = slot.lock().unwrap().take().expect("one streamed request");
        Response::new(Channel(rx).boxed())
    })
    .await;
    let (_dir, gw) = start(
        "x-amazon-apigateway-minimum-compression-size: 1000",
        "",
        &up,
    );

    let short = send(
        "GET",
        &gw.url("/prod/data/short"),
        &[("accept-encoding", "gzip")],
        "",
    )
    .await;
    assert_eq!(short.status, 200);
    assert_eq!(short.header("content-encoding"), None);
    assert_eq!(short.body, payload(10));

    // What a client decodes from the bytes it has so far.
    let decode_so_far = |coding: &str, got: &[u8]| -> Vec<u8> {
        match coding {
            "gzip" => {
                let mut d = flate2::write::GzDecoder::new(Vec::new());
                d.write_all(got).unwrap();
                d.flush().unwrap();
                d.get_ref().clone()
            }
            _ => {
                // Read until the bytes so far run out (brotli's writer holds back output).
                let mut d = brotli::Decompressor::new(got, 4096);
                let (mut out, mut buf) = (Vec::new(), [0u8; 4096]);
                while let Ok(n @ 1..) = d.read(&mut buf) {
                    out.extend_from_slice(&buf[..n]);
                }
                out
            }
        }
    };
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    for coding in ["gzip", "br"] {
        let (tx, rx) = mpsc::channel::<Bytes>(4);
        *next.lock().unwrap() = Some(rx);
        let first = payload(20_000);
        let second = b"and the end of the stream".repeat(100);
        tx.send(Bytes::from(first.clone())).await.unwrap();
        let req = Request::get(gw.url("/prod/data/stream"))
            .header("accept-encoding", coding)
            .body(Full::new(Bytes::new()))
            .unwrap();
        let resp = tokio::time::timeout(Duration::from_secs(10), client.request(req))
            .await
            .expect("headers before the upstream finished")
            .unwrap();
        assert_eq!(resp.headers()["content-encoding"], coding);
        assert!(resp.headers().get("content-length").is_none());
        let mut body = resp.into_body();
        // The first part arrives, encoded, while the upstream is still streaming.
        let mut got = Vec::new();
        let mut decoded = Vec::new();
        while decoded.len() < first.len() {
            let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
                .await
                .unwrap_or_else(|_| panic!("{coding}: the first part was sent before the end"))
                .expect("more frames")
                .unwrap();
            if let Ok(data) = frame.into_data() {
                got.extend_from_slice(&data);
            }
            decoded = decode_so_far(coding, &got);
        }
        assert_eq!(decoded, first, "{coding}");
        tx.send(Bytes::from(second.clone())).await.unwrap();
        drop(tx);
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.unwrap().into_data() {
                got.extend_from_slice(&data);
            }
        }
        let mut all = first;
        all.extend_from_slice(&second);
        let whole = if coding == "gzip" {
            gunzip(&got)
        } else {
            unbrotli(&got)
        };
        assert_eq!(whole, all, "{coding}");
    }
}

#[tokio::test]
async fn encoded_requests_are_decoded_before_templates_and_integrations() {
    let up = upstream().await;
    let (_dir, gw) = start(
        "x-amazon-apigateway-minimum-compression-size: 100",
        "limits:\n  max_body_bytes: 1048576\n",
        &up,
    );
    let json = br#"{"name": "rex", "list": [1, 2, 3]}"#;
    for (coding, body) in [
        ("gzip", gzip(json)),
        ("deflate", zlib(json)),
        ("GZIP", gzip(json)),
        ("br", brotli(json)),
    ] {
        // Proxied: the upstream sees the decoded bytes, without the coding, with their length.
        let r = send(
            "POST",
            &gw.url("/prod/data/echo"),
            &[
                ("content-encoding", coding),
                ("content-type", "application/json"),
            ],
            body.clone(),
        )
        .await;
        assert_eq!(r.status, 200, "{coding}: {}", r.text());
        let (parts, seen) = up.last();
        assert_eq!(seen.as_ref(), json, "{coding}");
        assert!(!parts.headers.contains_key("content-encoding"), "{coding}");
        assert_eq!(parts.headers["content-length"], json.len().to_string());
        // Mapped: the request template reads the decoded JSON.
        let r = send(
            "POST",
            &gw.url("/prod/mapped"),
            &[
                ("content-encoding", coding),
                ("content-type", "application/json"),
            ],
            body,
        )
        .await;
        assert_eq!(r.status, 200, "{coding}: {}", r.text());
        let (_, seen) = up.last();
        let v: serde_json::Value = serde_json::from_slice(&seen).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"name": "rex", "n": [1, 2, 3]}),
            "{coding}"
        );
    }
    // `identity` is no coding at all.
    let r = send(
        "POST",
        &gw.url("/prod/data/echo"),
        &[("content-encoding", "identity")],
        &json[..],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(up.last().1.as_ref(), json);

    // A coding the gateway does not decode, a stack of codings, and bytes that are not what
    // they claim: 415, and the integration is not called.
    let calls = up.count();
    let full_gz = gzip(json);
    let full_br = brotli(json);
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("br", json.to_vec()),
        ("br", full_br[..full_br.len() - 2].to_vec()),
        ("br", [&full_br[..], b"junk"].concat()),
        ("zstd", json.to_vec()),
        ("compress", json.to_vec()),
        ("gzip, gzip", gzip(&full_gz)),
        ("gzip", json.to_vec()),
        ("deflate", full_gz.clone()),
        ("gzip", full_gz[..full_gz.len() - 6].to_vec()),
    ];
    for (coding, body) in bad {
        let r = send(
            "POST",
            &gw.url("/prod/data/echo"),
            &[("content-encoding", coding)],
            body,
        )
        .await;
        assert_gateway_error(
            &r,
            415,
            r#"{"message":"Unsupported Media Type"}"#,
            "UnsupportedMediaTypeException",
        );
    }
    assert_eq!(up.count(), calls);

    // A bomb: 20 MiB of zeros in about 20 KB. 413 as soon as the decoded bytes pass the
    // 1 MiB limit.
    let bomb = gzip(&vec![0u8; 20 << 20]);
    assert!(bomb.len() < 64 << 10, "{}", bomb.len());
    let started = Instant::now();
    let r = send(
        "POST",
        &gw.url("/prod/data/echo"),
        &[("content-encoding", "gzip")],
        bomb,
    )
    .await;
    assert_gateway_error(
        &r,
        413,
        r#"{"message":"Request Too Long"}"#,
        "RequestEntityTooLargeException",
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(up.count(), calls);
    // The same bomb in brotli: 20 MiB of zeros in a few dozen bytes.
    let bomb = brotli(&vec![0u8; 20 << 20]);
    assert!(bomb.len() < 1 << 10, "{}", bomb.len());
    let r = send(
        "POST",
        &gw.url("/prod/data/echo"),
        &[("content-encoding", "br")],
        bomb,
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(up.count(), calls);
    // Just under the limit decodes.
    let fits = gzip(&vec![b'a'; 1 << 20]);
    let r = send(
        "POST",
        &gw.url("/prod/data/echo"),
        &[("content-encoding", "gzip")],
        fits,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(up.last().1.len(), 1 << 20);
}

#[test]
fn check_refuses_bad_compression_sizes() {
    for bad in ["-1", "10485761", "'1000'", "1.5"] {
        let dir = Dir::new();
        dir.single_api(
            &format!("openapi: 3.0.1\ninfo: {{title: c, version: '1'}}\nx-amazon-apigateway-minimum-compression-size: {bad}\npaths: {{}}\n"),
            "      prod: {}\n",
            "",
        );
        let out = check(&dir);
        let text = out.text();
        assert!(!out.ok, "{bad}: {text}");
        assert!(
            text.contains("api.yaml: x-amazon-apigateway-minimum-compression-size: must be an integer from 0 to 10485760"),
            "{bad}: {text}"
        );
    }
}

/// `minimumCompressionSize: null` (API Gateway's way to turn compression off) is the same as no
/// extension: nothing is encoded, whatever the client accepts.
#[tokio::test]
async fn a_null_minimum_size_disables_compression() {
    let up = upstream().await;
    let (_dir, gw) = start(
        "x-amazon-apigateway-minimum-compression-size: null",
        "",
        &up,
    );
    for accept in ["gzip", "deflate", "*"] {
        let r = fetch(&gw, 50_000, Some(accept)).await;
        assert_eq!(r.status, 200, "{accept}: {}", r.text());
        assert_eq!(r.header("content-encoding"), None, "{accept}");
        assert_eq!(r.body, payload(50_000), "{accept}");
    }
}

/// An encoded request body is decoded before the request validator checks it against its model
/// and before a function's event is built from it.
#[tokio::test]
async fn encoded_requests_are_decoded_before_validation_and_functions() {
    let up = upstream().await;
    let api = format!(
        r#"openapi: 3.0.1
info: {{title: c, version: '1'}}
x-amazon-apigateway-minimum-compression-size: 100
x-amazon-apigateway-request-validators:
  body: {{validateRequestBody: true, validateRequestParameters: false}}
components:
  schemas:
    Pet:
      type: object
      required: [name]
      properties:
        name: {{type: string}}
paths:
  /checked:
    post:
      x-amazon-apigateway-request-validator: body
      requestBody:
        content:
          application/json:
            schema: {{$ref: '#/components/schemas/Pet'}}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: POST
        uri: 'http://{addr}/checked'
  /fn:
    post:
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: {LAMBDA}:echo/invocations
"#,
        addr = up.addr
    );
    let dir = Dir::new();
    dir.single_api(
        &api,
        "      prod: {}\n",
        &crate::mapping::function_plugins(),
    );
    let gw = Portico::start(&dir);
    let post = |path: &str, coding: &'static str, body: Vec<u8>| {
        let url = gw.url(path);
        async move {
            send(
                "POST",
                &url,
                &[
                    ("content-encoding", coding),
                    ("content-type", "application/json"),
                ],
                body,
            )
            .await
        }
    };
    let valid = br#"{"name": "rex"}"#;
    let invalid = br#"{"kind": "dog"}"#;

    for (coding, encode) in [("gzip", gzip as fn(&[u8]) -> Vec<u8>), ("deflate", zlib)] {
        // The model sees the decoded JSON: a valid body passes, decoded, to the integration.
        let ok = post("/prod/checked", coding, encode(valid)).await;
        assert_eq!(ok.status, 200, "{coding}: {}", ok.text());
        assert_eq!(up.last().1.as_ref(), valid, "{coding}");
        // An invalid one is refused by the model (not as JSON that failed to parse).
        let calls = up.count();
        let refused = post("/prod/checked", coding, encode(invalid)).await;
        assert_gateway_error(
            &refused,
            400,
            r#"{"message": "Invalid request body"}"#,
            "BadRequestException",
        );
        assert_eq!(up.count(), calls, "{coding}: the integration is not called");

        // The function's event carries the decoded text, not base64 of the encoded bytes.
        let echoed = post("/prod/fn", coding, encode(valid)).await;
        assert_eq!(echoed.status, 200, "{coding}: {}", echoed.text());
        assert_eq!(
            echoed.json()["body"],
            std::str::from_utf8(valid).unwrap(),
            "{coding}"
        );
    }
}

//! HTTP/3 with a real QUIC client (quinn and h3): the same pipeline and the same answers as
//! HTTP/1.1, bodies streamed both ways, limits, certificates by SNI, `Alt-Svc`, garbage
//! datagrams, and the drain on SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use http::StatusCode;

use crate::support::*;
use crate::tls::Ca;

/// One QUIC connection to the gateway, carrying HTTP/3 requests (several at once if need be).
struct H3Client {
    endpoint: quinn::Endpoint,
    sender: h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
    drive: tokio::task::JoinHandle<()>,
}

impl H3Client {
    /// A new QUIC connection to `addr`, verifying the certificate for `host` against `ca_pem`.
    async fn connect(ca_pem: &str, addr: SocketAddr, host: &str) -> Result<Self, String> {
        use rustls::pki_types::pem::PemObject as _;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"h3".to_vec()];
        let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
        let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
        endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
        let conn = endpoint
            .connect(addr, host)
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())?;
        let (mut driver, sender) = h3::client::new(h3_quinn::Connection::new(conn))
            .await
            .map_err(|e| e.to_string())?;
        let drive = tokio::spawn(async move {
            let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
        });
        Ok(Self {
            endpoint,
            sender,
            drive,
        })
    }

    /// One request on this connection, its body sent in chunks as a client streams it; the
    /// whole answer.
    async fn send(
        &self,
        host: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Reply, String> {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("https://{host}{path}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut stream = self
            .sender
            .clone()
            .send_request(req.body(()).unwrap())
            .await
            .map_err(|e| e.to_string())?;
        for chunk in body.chunks(64 * 1024) {
            stream
                .send_data(Bytes::copy_from_slice(chunk))
                .await
                .map_err(|e| e.to_string())?;
        }
        stream.finish().await.map_err(|e| e.to_string())?;
        let resp = stream.recv_response().await.map_err(|e| e.to_string())?;
        let mut out = BytesMut::new();
        while let Some(mut chunk) = stream.recv_data().await.map_err(|e| e.to_string())? {
            out.extend_from_slice(&chunk.copy_to_bytes(chunk.remaining()));
        }
        let (parts, ()) = resp.into_parts();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body: out.freeze(),
        })
    }

    /// Closes the connection.
    fn close(self) {
        drop(self.sender);
        self.drive.abort();
        self.endpoint.close(0u32.into(), b"done");
    }
}

/// Answers over HTTP/3 with a new QUIC connection to `addr`, verifying the certificate for
/// `host` against `ca_pem`.
async fn h3_send(
    ca_pem: &str,
    addr: SocketAddr,
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Reply, String> {
    let client = H3Client::connect(ca_pem, addr, host).await?;
    let reply = client.send(host, method, path, headers, body).await;
    client.close();
    reply
}

/// A gateway with a cleartext listener and a TLS listener serving HTTP/3, an API with a proxy
/// route to `upstream`, a mock route reporting the protocol, and a 256 KiB body limit.
fn h3_gateway(dir: &Dir, ca: &Ca, upstream: SocketAddr) {
    ca.issue_into(dir, "default", &["default.example.test"]);
    ca.issue_into(dir, "shop", &["shop.example.test"]);
    let template = r#"{"protocol":"$context.protocol","domain":"$context.domainName","tls":"$context.tlsVersion","base":"$context.customDomain.basePathMatched"}"#;
    let mut api = proxy_api(&[
        ("/echo", "POST", &format!("http://{upstream}/echo")),
        (
            "/items/{id}",
            "GET",
            &format!("http://{upstream}/items/{{id}}"),
        ),
    ]);
    api.push_str(&mock_at("/whoami", "", template));
    dir.write("api.yaml", &api);
    dir.write(
        "gateway.yaml",
        r#"listeners:
  - address: 127.0.0.1:0
  - address: 127.0.0.1:0
    tls:
      certificate: default.pem
      key: default.key
      http3: true
admin:
  address: 127.0.0.1:0
limits:
  max_body_bytes: 262144
apis:
  - name: shop
    spec: api.yaml
    stages:
      prod: {}
domains:
  - name: shop.example.test
    certificate: shop.pem
    key: shop.key
    base_path_mappings:
      - {base_path: v1, api: shop, stage: prod}
"#,
    );
}

/// The parts of an answer that must not depend on the transport.
fn same_answer(h1: &Reply, h3: &Reply, what: &str) {
    assert_eq!(h3.status, h1.status, "{what}: {}", h3.text());
    assert_eq!(h3.body, h1.body, "{what}");
    for name in ["content-type", "x-amzn-errortype"] {
        assert_eq!(h3.header(name), h1.header(name), "{what}: {name}");
    }
    assert!(h3.header("x-amzn-requestid").is_some(), "{what}");
}

#[tokio::test]
async fn http3_answers_like_http1_through_the_same_pipeline() {
    // The upstream echoes the body of /echo, and describes anything else.
    let upstream = Upstream::answering(|seen| {
        let body = if seen.target.starts_with("/echo") {
            String::from_utf8_lossy(&seen.body).into_owned()
        } else {
            serde_json::json!({"target": seen.target, "method": seen.method.as_str()}).to_string()
        };
        (StatusCode::OK, body)
    })
    .await;
    let dir = Dir::new();
    let ca = Ca::new("Portico Test CA");
    h3_gateway(&dir, &ca, upstream.addr);
    let gw = Portico::start(&dir);
    let tls = gw.tls_addr.expect("a TLS listener");
    let ca_pem = ca.pem();
    let h3 = |method: &'static str, path: &'static str, body: Bytes| {
        let ca_pem = ca_pem.clone();
        async move {
            h3_send(
                &ca_pem,
                tls,
                "default.example.test",
                method,
                path,
                &[],
                body,
            )
            .await
            .expect("HTTP/3 request")
        }
    };

    // A proxied GET, a route that does not exist, a method that does not exist.
    for (method, path) in [
        ("GET", "/prod/items/42?color=red"),
        ("GET", "/prod/nothing/here"),
        ("DELETE", "/prod/items/42"),
        ("GET", "/nostage"),
    ] {
        let h1 = send(method, &gw.url(path), &[], "").await;
        let h3 = h3(method, path, Bytes::new()).await;
        same_answer(&h1, &h3, &format!("{method} {path}"));
    }

    // A 200 KiB body streams to the upstream and back, byte for byte.
    let big: Bytes = (0..200 * 1024)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz"[i % 26])
        .collect::<Vec<u8>>()
        .into();
    let h1 = send("POST", &gw.url("/prod/echo"), &[], big.clone()).await;
    let h3r = h3("POST", "/prod/echo", big.clone()).await;
    same_answer(&h1, &h3r, "POST /prod/echo");
    assert_eq!(h3r.body, big);
    assert_eq!(
        upstream.last().body,
        big,
        "the upstream got the HTTP/3 body whole"
    );

    // Over the body limit: 413 on both, however the body arrives.
    let huge = Bytes::from(vec![b'x'; 300 * 1024]);
    let h1 = send("POST", &gw.url("/prod/echo"), &[], huge.clone()).await;
    let h3r = h3("POST", "/prod/echo", huge).await;
    same_answer(&h1, &h3r, "POST over the limit");
    assert_eq!(h3r.status, 413);

    // What the pipeline knows of the request: HTTP/3 over TLS 1.3, from `:authority`.
    let who = h3("GET", "/prod/whoami", Bytes::new()).await;
    assert_eq!(who.status, 200, "{}", who.text());
    assert_eq!(who.json()["protocol"], "HTTP/3.0");
    assert_eq!(who.json()["domain"], "default.example.test");
    assert_eq!(who.json()["tls"], "TLSv1.3");

    // A custom domain by SNI: its certificate verifies for its name, its mapping routes.
    let shop = h3_send(
        &ca_pem,
        tls,
        "shop.example.test",
        "GET",
        "/v1/whoami",
        &[],
        Bytes::new(),
    )
    .await
    .expect("the domain's certificate");
    assert_eq!(shop.status, 200, "{}", shop.text());
    assert_eq!(shop.json()["base"], "v1");
}

#[tokio::test]
async fn tls_responses_advertise_http3_and_garbage_datagrams_change_nothing() {
    let upstream = Upstream::start().await;
    let dir = Dir::new();
    let ca = Ca::new("Portico Test CA");
    h3_gateway(&dir, &ca, upstream.addr);
    let gw = Portico::start(&dir);
    let tls = gw.tls_addr.expect("a TLS listener");
    dir.write("ca.pem", &ca.pem());

    // curl over TLS sees Alt-Svc naming the same port; cleartext responses do not carry it.
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-D",
            "-",
            "--max-time",
            "10",
            "--cacert",
        ])
        .arg(dir.path("ca.pem"))
        .arg("--resolve")
        .arg(format!("default.example.test:{}:127.0.0.1", tls.port()))
        .arg(format!(
            "https://default.example.test:{}/prod/whoami",
            tls.port()
        ))
        .output()
        .expect("curl");
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(
        head.contains(&format!("alt-svc: h3=\":{}\"; ma=86400", tls.port())),
        "{head}"
    );
    let plain = get(&gw.url("/prod/whoami")).await;
    assert_eq!(plain.header("alt-svc"), None);

    // Garbage: short junk, a long random datagram, and a forged long-header Initial.
    let junk = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut random = vec![0u8; 1350];
    for b in &mut random {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        *b = seed as u8;
    }
    let mut initial = random.clone();
    initial[0] = 0xc0;
    initial[1..5].copy_from_slice(&1u32.to_be_bytes());
    for _ in 0..200 {
        for datagram in [&b"hello"[..], &random, &initial] {
            let _ = junk.send_to(datagram, tls);
        }
    }
    let ca_pem = ca.pem();
    let ok = h3_send(
        &ca_pem,
        tls,
        "default.example.test",
        "GET",
        "/prod/whoami",
        &[],
        Bytes::new(),
    )
    .await
    .expect("HTTP/3 still serves");
    assert_eq!(ok.status, 200);
    assert_eq!(get(&gw.url("/prod/whoami")).await.status, 200);
}

#[tokio::test]
async fn sigterm_drains_http3_requests_in_flight() {
    let upstream = Upstream::start().await;
    let dir = Dir::new();
    let ca = Ca::new("Portico Test CA");
    h3_gateway(&dir, &ca, upstream.addr);
    let mut gw = Portico::start(&dir);
    let tls = gw.tls_addr.expect("a TLS listener");
    let ca_pem = ca.pem();
    // A request the upstream holds for 800 ms is in flight when SIGTERM arrives.
    let slow = tokio::spawn(async move {
        h3_send(
            &ca_pem,
            tls,
            "default.example.test",
            "GET",
            "/prod/items/1",
            &[("x-test-sleep-ms", "800")],
            Bytes::new(),
        )
        .await
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while upstream.count() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(upstream.count(), 1, "the request reached the upstream");
    gw.signal("TERM");
    let reply = slow
        .await
        .unwrap()
        .expect("the request in flight completes");
    assert_eq!(reply.status, 200, "{}", reply.text());
    let status = tokio::task::spawn_blocking(move || gw.wait_exit(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

#[tokio::test]
async fn a_reload_lets_http3_requests_in_flight_finish() {
    let upstream = Upstream::start().await;
    let dir = Dir::new();
    let ca = Ca::new("Portico Test CA");
    h3_gateway(&dir, &ca, upstream.addr);
    let gw = Portico::start(&dir);
    let tls = gw.tls_addr.expect("a TLS listener");
    let ca_pem = ca.pem();
    let host = "default.example.test";
    // Where the upstream says the gateway sent the request.
    let target = |r: &Reply| -> (u16, Option<String>) {
        let target = r.json()["target"].as_str().map(str::to_owned);
        (r.status.as_u16(), target)
    };
    let conn = Arc::new(
        H3Client::connect(&ca_pem, tls, host)
            .await
            .expect("a QUIC connection"),
    );
    let before = conn
        .send(host, "GET", "/prod/items/0", &[], Bytes::new())
        .await
        .expect("HTTP/3 request");
    assert_eq!(target(&before), (200, Some("/items/0".into())));

    // A request the upstream holds for 1 s, on that connection; the upstream echoes its 8 KiB
    // header back, so the answer spans several QUIC packets.
    let pad = "p".repeat(8 * 1024);
    let slow = {
        let (conn, pad) = (Arc::clone(&conn), pad.clone());
        tokio::spawn(async move {
            let headers = [("x-test-sleep-ms", "1000"), ("x-pad", pad.as_str())];
            conn.send(host, "GET", "/prod/items/1", &headers, Bytes::new())
                .await
        })
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while upstream.count() < 2 {
        assert!(Instant::now() < deadline, "the slow request never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // While it is in flight, the API changes: `/items/{id}` now goes to `/v2/items/{id}`.
    let api = std::fs::read_to_string(dir.path("api.yaml")).unwrap();
    let old_uri = format!("http://{}/items/", upstream.addr);
    let changed = api.replace(&old_uri, &format!("http://{}/v2/items/", upstream.addr));
    assert_ne!(changed, api);
    dir.write("api.yaml", &changed);
    let reloaded = send("POST", &gw.admin_url("/reload"), &[], "").await;
    assert_eq!(reloaded.status, 200, "{}", reloaded.text());
    assert!(
        !slow.is_finished(),
        "the slow request must still be in flight when the reload is done"
    );

    // New requests see the new configuration at once: on the same QUIC connection, and on a
    // new one.
    let same = conn
        .send(host, "GET", "/prod/items/2", &[], Bytes::new())
        .await
        .expect("a new request on the same QUIC connection");
    assert_eq!(target(&same), (200, Some("/v2/items/2".into())));
    let new = h3_send(
        &ca_pem,
        tls,
        host,
        "GET",
        "/prod/items/3",
        &[],
        Bytes::new(),
    )
    .await
    .expect("a request on a new QUIC connection");
    assert_eq!(target(&new), (200, Some("/v2/items/3".into())));

    // The request in flight finished, whole, with the configuration it started with.
    let reply = slow
        .await
        .unwrap()
        .expect("the request in flight completes");
    assert_eq!(target(&reply), (200, Some("/items/1".into())));
    assert_eq!(
        reply.json()["headers"]["x-pad"],
        pad.as_str(),
        "the full body"
    );
    if let Some(length) = reply.header("content-length") {
        assert_eq!(length, reply.body.len().to_string());
    }
    Arc::into_inner(conn)
        .expect("no other user of the connection")
        .close();

    // Turning HTTP/3 off needs a restart (the UDP socket was bound at start): the reload is
    // refused with that reason, and HTTP/3 goes on serving.
    let gateway = std::fs::read_to_string(dir.path("gateway.yaml")).unwrap();
    dir.write(
        "gateway.yaml",
        &gateway.replace("http3: true", "http3: false"),
    );
    let refused = send("POST", &gw.admin_url("/reload"), &[], "").await;
    assert_ne!(refused.status, 200, "{}", refused.text());
    assert!(
        refused.text().contains("http3 on/off are fixed at start"),
        "{}",
        refused.text()
    );
    let still = h3_send(
        &ca_pem,
        tls,
        host,
        "GET",
        "/prod/items/4",
        &[],
        Bytes::new(),
    )
    .await
    .expect("HTTP/3 still serves");
    assert_eq!(target(&still), (200, Some("/v2/items/4".into())));
}

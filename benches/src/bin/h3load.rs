//! A small closed-loop load generator for HTTP/3 and HTTP/2 over TLS, one client design for
//! both so that their ratio measures the server, not two different tools.
//!
//! ```text
//! h3load --proto h3|h2 --addr 127.0.0.1:8443 --host default.example.test --path /prod/x \
//!        --ca ca.pem [--connections 8] [--streams 4] [--duration 10]
//! ```
//!
//! `connections` connections each keep `streams` requests in flight (a new request as soon as
//! one finishes) for `duration` seconds, then it prints one line:
//! `requests=N rps=R p50_us=A p99_us=B errors=E`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use http_body_util::{BodyExt, Empty};
use rustls::pki_types::pem::PemObject as _;

struct Args {
    h3: bool,
    addr: SocketAddr,
    host: String,
    path: String,
    ca: String,
    connections: usize,
    streams: usize,
    duration: Duration,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        h3: true,
        addr: "127.0.0.1:8443"
            .parse()
            .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8443))),
        host: "localhost".into(),
        path: "/".into(),
        ca: String::new(),
        connections: 8,
        streams: 4,
        duration: Duration::from_secs(10),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--proto" => a.h3 = value()? == "h3",
            "--addr" => a.addr = value()?.parse().map_err(|e| format!("--addr: {e}"))?,
            "--host" => a.host = value()?,
            "--path" => a.path = value()?,
            "--ca" => a.ca = value()?,
            "--connections" => a.connections = value()?.parse().map_err(|e| format!("{e}"))?,
            "--streams" => a.streams = value()?.parse().map_err(|e| format!("{e}"))?,
            "--duration" => {
                a.duration = Duration::from_secs(value()?.parse().map_err(|e| format!("{e}"))?);
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(a)
}

fn tls_config(ca: &str, alpn: &[u8]) -> Result<rustls::ClientConfig, String> {
    let pem = std::fs::read(ca).map_err(|e| format!("{ca}: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots
            .add(cert.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(config)
}

/// Latencies (µs) and errors, shared by the streams.
#[derive(Default)]
struct Tally {
    latencies: std::sync::Mutex<Vec<u32>>,
    errors: AtomicU64,
}

impl Tally {
    fn record(&self, started: Instant, ok: bool) {
        if ok {
            let us = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
            self.latencies
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(us);
        } else {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn h3_connection(
    a: Arc<Args>,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> Result<(), String> {
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls_config(&a.ca, b"h3")?)
        .map_err(|e| e.to_string())?;
    let mut endpoint = quinn::Endpoint::client(SocketAddr::from(([127, 0, 0, 1], 0)))
        .map_err(|e| e.to_string())?;
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
    let conn = endpoint
        .connect(a.addr, &a.host)
        .map_err(|e| e.to_string())?
        .await
        .map_err(|e| e.to_string())?;
    let (mut driver, sender) = h3::client::new(h3_quinn::Connection::new(conn))
        .await
        .map_err(|e| e.to_string())?;
    let drive = tokio::spawn(async move {
        let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
    });
    let mut tasks = Vec::new();
    for _ in 0..a.streams {
        let (a, stop, tally, mut sender) = (a.clone(), stop.clone(), tally.clone(), sender.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let ok = async {
                    let req = http::Request::get(format!("https://{}{}", a.host, a.path))
                        .body(())
                        .map_err(|e| e.to_string())?;
                    let mut s = sender.send_request(req).await.map_err(|e| e.to_string())?;
                    s.finish().await.map_err(|e| e.to_string())?;
                    let resp = s.recv_response().await.map_err(|e| e.to_string())?;
                    while let Some(mut c) = s.recv_data().await.map_err(|e| e.to_string())? {
                        c.advance(c.remaining());
                    }
                    Ok::<_, String>(resp.status().is_success())
                }
                .await;
                tally.record(started, ok == Ok(true));
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    drive.abort();
    endpoint.close(0u32.into(), b"done");
    Ok(())
}

async fn h2_connection(
    a: Arc<Args>,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> Result<(), String> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls_config(&a.ca, b"h2")?));
    let tcp = tokio::net::TcpStream::connect(a.addr)
        .await
        .map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    let name =
        rustls::pki_types::ServerName::try_from(a.host.clone()).map_err(|e| e.to_string())?;
    let tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut tasks = Vec::new();
    for _ in 0..a.streams {
        let (a, stop, tally, mut sender) = (a.clone(), stop.clone(), tally.clone(), sender.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let ok = async {
                    let req = http::Request::get(format!("https://{}{}", a.host, a.path))
                        .body(Empty::<Bytes>::new())
                        .map_err(|e| e.to_string())?;
                    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
                    let ok = resp.status().is_success();
                    resp.into_body()
                        .collect()
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok::<_, String>(ok)
                }
                .await;
                tally.record(started, ok == Ok(true));
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

fn main() {
    let a = match args() {
        Ok(a) => Arc::new(a),
        Err(e) => {
            eprintln!("h3load: {e}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("h3load: {e}");
            std::process::exit(1);
        }
    };
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    runtime.block_on(async {
        let mut conns = Vec::new();
        for _ in 0..a.connections {
            let (a, stop, tally) = (a.clone(), stop.clone(), tally.clone());
            conns.push(tokio::spawn(async move {
                let r = if a.h3 {
                    h3_connection(a, stop, tally).await
                } else {
                    h2_connection(a, stop, tally).await
                };
                if let Err(e) = r {
                    eprintln!("h3load: connection failed: {e}");
                }
            }));
        }
        tokio::time::sleep(a.duration).await;
        stop.store(true, Ordering::Relaxed);
        for c in conns {
            let _ = c.await;
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut lat = std::mem::take(&mut *tally.latencies.lock().unwrap_or_else(|p| p.into_inner()));
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "requests={} rps={:.0} p50_us={} p99_us={} errors={}",
        lat.len(),
        lat.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        tally.errors.load(Ordering::Relaxed)
    );
}

//! HTTP/3: QUIC (quinn) and h3 on a TLS listener's port over UDP, into the same pipeline.
//!
//! A TLS listener with `http3: true` also binds its port over UDP, once per worker
//! (`SO_REUSEPORT`, as the TCP sockets: the kernel keeps one client's datagrams on one
//! worker's socket). Each worker runs a quinn endpoint on its own runtime. The handshake
//! chooses the certificate by SNI from the current snapshot ([`BySnapshot`]), so rotated
//! certificates serve the next QUIC handshake exactly as they do over TCP.
//!
//! Each request stream becomes one `http::Request` whose body streams from the client through a
//! small bounded channel (back-pressure: a pipeline that does not read leaves QUIC flow control
//! closed) and goes through [`crate::pipeline::handle`], like HTTP/1.1 and HTTP/2 requests. The
//! response body is sent frame by frame as the pipeline yields it; `send_data` waits for QUIC
//! flow control, so a client that reads slowly is not buffered for.
//!
//! Limits: handshakes share the worker's TLS handshake slots and timeout; at most
//! [`MAX_STREAMS`] requests at once per connection; the header section is bounded like
//! HTTP/2's. Draining (SIGTERM) sends GOAWAY and waits for the requests in flight.
//!
//! Not over HTTP/3: mutual TLS (a domain with a truststore answers 403 to HTTP/3 requests, as
//! to any request that bypassed its certificate check), `$context.cipherSuite` (quinn does not
//! report the suite), and connection migration across worker sockets.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use h3::error::Code;
use http_body::{Body as HttpBody, Frame};
use http_body_util::BodyExt;
use portico_config::transport::crypto_provider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::sync::mpsc;

use super::tls::TlsInfo;
use super::{ConnCtx, H2_MAX_HEADER_LIST};
use crate::Gateway;
use crate::integration::headers::HOP_BY_HOP;
use crate::pipeline::body::BoxError;
use crate::pipeline::{ConnInfo, handle};

/// Concurrent request streams per connection (the HTTP/2 default of most servers).
pub const MAX_STREAMS: u32 = 100;

/// A connection with no packet for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Request body chunks buffered between the QUIC stream and the pipeline.
const BODY_CHUNKS: usize = 4;

/// Picks the certificate of a QUIC handshake from the current snapshot.
struct BySnapshot {
    gw: Arc<Gateway>,
    listener: usize,
}

impl std::fmt::Debug for BySnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BySnapshot")
            .field("listener", &self.listener)
            .finish()
    }
}

impl ResolvesServerCert for BySnapshot {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let sni = hello.server_name().map(str::to_ascii_lowercase);
        self.gw
            .snapshot()
            .tls
            .certificate(self.listener, sni.as_deref())
    }
}

/// Worker `gw`'s QUIC endpoint for listener `listener`, on `socket` (bound, non-blocking).
/// Must run inside the worker's runtime.
pub(super) fn endpoint(
    gw: &Arc<Gateway>,
    listener: usize,
    socket: std::net::UdpSocket,
) -> std::io::Result<quinn::Endpoint> {
    let config = server_config(gw, listener).map_err(std::io::Error::other)?;
    quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        Some(config),
        socket,
        Arc::new(quinn::TokioRuntime),
    )
}

fn server_config(gw: &Arc<Gateway>, listener: usize) -> Result<quinn::ServerConfig, String> {
    // QUIC is TLS 1.3 only, which every security policy allows.
    let mut tls = rustls::ServerConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(BySnapshot {
            gw: Arc::clone(gw),
            listener,
        }));
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let crypto =
        quinn::crypto::rustls::QuicServerConfig::try_from(tls).map_err(|e| e.to_string())?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport
        .max_concurrent_bidi_streams(MAX_STREAMS.into())
        // h3's control stream and QPACK's two streams, with room for a grease stream.
        .max_concurrent_uni_streams(4u32.into())
        .max_idle_timeout(Some(IDLE_TIMEOUT.try_into().map_err(|e| format!("{e:?}"))?));
    config.transport_config(Arc::new(transport));
    Ok(config)
}

/// Accepts QUIC connections on `endpoint` (bound to `local`) until the gateway stops.
pub(super) async fn accept_loop(ctx: ConnCtx, endpoint: quinn::Endpoint, local: SocketAddr) {
    let mut stop = ctx.stop.clone();
    loop {
        let incoming = tokio::select! {
            i = endpoint.accept() => match i {
                Some(i) => i,
                None => return,
            },
            _ = stop.wait_for(|s| *s) => {
                // No new connections; those open drain in `serve_connection`.
                endpoint.set_server_config(None);
                return;
            }
        };
        let ctx = ctx.clone();
        let guard = ctx.tracked.enter();
        tokio::spawn(async move {
            // Copied out: the connection must not pin this snapshot while it lives.
            let timeout = ctx.gw.snapshot().limits.tls_handshake_timeout;
            let Ok(slot) = ctx.worker.handshakes.try_acquire() else {
                // Every handshake slot is taken: refuse at once rather than queue.
                ctx.gw.metrics.tls_handshake_failures.inc();
                incoming.refuse();
                return;
            };
            let connecting = match incoming.accept() {
                Ok(c) => c,
                Err(e) => {
                    ctx.gw.metrics.tls_handshake_failures.inc();
                    tracing::debug!("QUIC connection refused: {e}");
                    return;
                }
            };
            let connection = match tokio::time::timeout(timeout, connecting).await {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    ctx.gw.metrics.tls_handshake_failures.inc();
                    tracing::debug!("QUIC handshake failed: {e}");
                    return;
                }
                Err(_) => {
                    ctx.gw.metrics.tls_handshake_failures.inc();
                    tracing::debug!("QUIC handshake timed out");
                    return;
                }
            };
            drop(slot);
            serve_connection(&ctx, connection, local).await;
            drop(guard);
        });
    }
}

/// Serves one QUIC connection's requests until the client closes it, or until the gateway
/// stops and the requests in flight are done.
async fn serve_connection(ctx: &ConnCtx, connection: quinn::Connection, local: SocketAddr) {
    let peer = connection.remote_address();
    let local = SocketAddr::new(connection.local_ip().unwrap_or(local.ip()), local.port());
    let sni = connection
        .handshake_data()
        .and_then(|d| d.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
        .and_then(|d| d.server_name)
        .map(|s| s.to_ascii_lowercase());
    // A mutual-TLS domain's certificate check never ran on this connection: leave `domain`
    // unset so that the pipeline refuses its requests (403), as for a TCP bypass.
    let domain = sni.as_deref().and_then(|s| {
        let snap = ctx.gw.snapshot();
        let d = snap.tls.domain(s)?;
        (!d.mutual_tls()).then(|| Arc::clone(&d.name))
    });
    let conn = Arc::new(ConnInfo::new(
        peer,
        local,
        "https",
        Some(Arc::new(TlsInfo {
            sni,
            domain,
            version: "TLSv1.3",
            cipher_suite: "",
            h2: false,
            client_cert: None,
            truststore: None,
        })),
    ));
    let built = h3::server::builder()
        .max_field_section_size(u64::from(H2_MAX_HEADER_LIST))
        .build::<_, Bytes>(h3_quinn::Connection::new(connection))
        .await;
    let mut h3 = match built {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!("HTTP/3 connection from {peer} failed to start: {e}");
            return;
        }
    };
    let mut stop = ctx.stop.clone();
    let mut draining = *stop.borrow();
    if draining {
        let _ = h3.shutdown(0).await;
    }
    loop {
        // The select only picks; acting on its result happens after it, so that no watch
        // guard is held across an await.
        let accepted = tokio::select! {
            accepted = h3.accept() => Some(accepted),
            _ = stop.wait_for(|s| *s), if !draining => None,
        };
        match accepted {
            Some(Ok(Some(resolver))) => {
                let (ctx, conn) = (ctx.clone(), Arc::clone(&conn));
                let guard = ctx.tracked.enter();
                tokio::spawn(async move {
                    serve_request(&ctx, &conn, resolver).await;
                    drop(guard);
                });
            }
            Some(Ok(None)) => return,
            Some(Err(e)) => {
                tracing::debug!("HTTP/3 connection from {peer} ended: {e}");
                return;
            }
            None => {
                draining = true;
                // GOAWAY: no new requests; those accepted finish.
                let _ = h3.shutdown(0).await;
            }
        }
    }
}

type Resolver = h3::server::RequestResolver<h3_quinn::Connection, Bytes>;

/// One request stream: the request into the pipeline, the response back, both streamed.
async fn serve_request(ctx: &ConnCtx, conn: &ConnInfo, resolver: Resolver) {
    let (req, stream) = match resolver.resolve_request().await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!("HTTP/3 request from {} refused: {e}", conn.peer);
            return;
        }
    };
    let (mut send, mut recv) = stream.split();
    let (tx, rx) = mpsc::channel(BODY_CHUNKS);
    let reader = tokio::spawn(async move {
        loop {
            let chunk = match recv.recv_data().await {
                Ok(Some(mut chunk)) => Ok(chunk.copy_to_bytes(chunk.remaining())),
                Ok(None) => return,
                Err(e) => Err(BoxError::from(e)),
            };
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() {
                // The pipeline is done with the body.
                recv.stop_sending(Code::H3_NO_ERROR);
                return;
            }
            if failed {
                return;
            }
        }
    });
    let response = handle(&ctx.gw, &ctx.worker, req.map(|()| StreamBody(rx)), conn).await;
    let (mut head, mut body) = response.into_parts();
    // Connection-specific fields mean nothing in HTTP/3 (RFC 9114 §4.2): the one hop-by-hop list.
    for name in HOP_BY_HOP {
        head.headers.remove(*name);
    }
    let sent = async {
        send.send_response(http::Response::from_parts(head, ()))
            .await?;
        while let Some(frame) = body.frame().await {
            let frame = match frame {
                Ok(f) => f,
                Err(e) => {
                    tracing::debug!("HTTP/3 response body failed: {e}");
                    send.stop_stream(Code::H3_INTERNAL_ERROR);
                    return Ok(());
                }
            };
            match frame.into_data() {
                Ok(data) if data.is_empty() => {}
                Ok(data) => send.send_data(data).await?,
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        send.send_trailers(trailers).await?;
                    }
                }
            }
        }
        send.finish().await
    };
    if let Err(e) = sent.await {
        tracing::debug!("HTTP/3 response to {} not delivered: {e}", conn.peer);
    }
    reader.abort();
}

/// A request body fed by the stream reader.
struct StreamBody(mpsc::Receiver<Result<Bytes, BoxError>>);

impl HttpBody for StreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.0.poll_recv(cx).map(|c| c.map(|r| r.map(Frame::data)))
    }
}

/// The `Alt-Svc` value a TLS listener on `port` sends when it also serves HTTP/3.
pub fn alt_svc(port: u16) -> http::HeaderValue {
    http::HeaderValue::from_str(&format!("h3=\":{port}\"; ma=86400"))
        .unwrap_or_else(|_| http::HeaderValue::from_static("clear"))
}

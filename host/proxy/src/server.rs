//! Listeners and connections.
//!
//! Each listener runs an accept loop. Each connection is served by hyper-util's `auto` builder:
//! HTTP/1.1, or HTTP/2 when the client opens with the h2 preface (prior knowledge). An HTTP/1.1
//! request asking for `Upgrade: h2c` is switched to HTTP/2 by [`crate::h2c`].
//!
//! Shutdown: when `shutdown` resolves, the loops stop accepting, every open connection is told
//! to finish (HTTP/1 stops keep-alive, HTTP/2 sends GOAWAY), and [`serve`] returns once they are
//! done or the drain timeout passes.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Version};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::Gateway;
use crate::h2c;
use crate::pipeline::{ConnInfo, handle};

/// HTTP/2 header-list limit: a little over the 10 KiB AWS quota, which the pipeline enforces
/// with a JSON 431; this only stops abuse earlier.
const H2_MAX_HEADER_LIST: u32 = 64 * 1024;

/// Serves `listeners` until `shutdown` resolves, then drains.
pub async fn serve(
    gw: Arc<Gateway>,
    listeners: Vec<TcpListener>,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = Arc::new(GracefulShutdown::new());
    let (stop_tx, stop_rx) = watch::channel(false);
    let upgraded = Arc::new(Upgraded::default());
    let mut loops = Vec::new();
    for listener in listeners {
        let ctx = ConnCtx {
            gw: Arc::clone(&gw),
            stop: stop_rx.clone(),
            upgraded: Arc::clone(&upgraded),
        };
        loops.push(tokio::spawn(accept_loop(
            ctx,
            listener,
            Arc::clone(&graceful),
        )));
    }
    shutdown.await;
    let _ = stop_tx.send(true);
    for l in loops {
        let _ = l.await;
    }
    let drain = gw.snapshot().limits.drain_timeout;
    let graceful = Arc::try_unwrap(graceful).unwrap_or_else(|_| GracefulShutdown::new());
    let all_done = async move {
        graceful.shutdown().await;
        upgraded.all_done().await;
    };
    tokio::select! {
        () = all_done => tracing::info!("all connections drained"),
        () = tokio::time::sleep(drain) => tracing::warn!(?drain, "drain timeout passed; closing remaining connections"),
    }
}

/// Waits for a client to start talking: at least one byte, and the whole HTTP/2 preface if
/// what arrived is a prefix of it. False when the header timeout passes first or the client
/// hangs up.
async fn first_bytes(stream: &tokio::net::TcpStream, timeout: Duration) -> bool {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let deadline = tokio::time::Instant::now() + timeout;
    let mut buf = [0u8; PREFACE.len()];
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.peek(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => return false,
        };
        if n == PREFACE.len() || !PREFACE.starts_with(&buf[..n]) {
            return true;
        }
        // Part of the HTTP/2 preface: peek again shortly (peek does not wait for more).
        tokio::time::sleep(Duration::from_millis(10)).await;
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
    }
}

/// What each connection's service needs besides the request.
#[derive(Clone)]
struct ConnCtx {
    gw: Arc<Gateway>,
    /// Turns `true` when the gateway shuts down.
    stop: watch::Receiver<bool>,
    /// Counts upgraded connections so that shutdown can wait for them.
    upgraded: Arc<Upgraded>,
}

/// Connections upgraded to h2c run outside hyper-util's graceful-shutdown watcher; this
/// counts them so that a drain waits for them too.
#[derive(Default)]
struct Upgraded {
    active: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

impl Upgraded {
    fn enter(self: &Arc<Self>) -> UpgradedGuard {
        self.active
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        UpgradedGuard(Arc::clone(self))
    }

    async fn all_done(&self) {
        loop {
            let idle = self.idle.notified();
            if self.active.load(std::sync::atomic::Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }
}

struct UpgradedGuard(Arc<Upgraded>);

impl Drop for UpgradedGuard {
    fn drop(&mut self) {
        if self
            .0
            .active
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel)
            == 1
        {
            self.0.idle.notify_waiters();
        }
    }
}

async fn accept_loop(ctx: ConnCtx, listener: TcpListener, graceful: Arc<GracefulShutdown>) {
    let gw = Arc::clone(&ctx.gw);
    let mut stop = ctx.stop.clone();
    let local = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("listener has no address: {e}");
            return;
        }
    };
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and similar: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let conn = ConnInfo {
            peer,
            local,
            scheme: "http",
        };
        let header_timeout = gw.snapshot().limits.header_read_timeout;
        let service = {
            let ctx = ctx.clone();
            service_fn(move |req| {
                let ctx = ctx.clone();
                async move { Ok::<_, Infallible>(dispatch(ctx, req, conn).await) }
            })
        };
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .keep_alive(true);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(H2_MAX_HEADER_LIST);
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            // hyper's header timer starts with the first byte; a client that sends nothing
            // at all is cut off here.
            if !first_bytes(&stream, header_timeout).await {
                return;
            }
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(connection.into_owned()).await {
                tracing::debug!("connection from {peer} ended: {e}");
            }
        });
    }
}

/// Routes an h2c upgrade request to the upgrade path, everything else to the pipeline.
async fn dispatch(
    ctx: ConnCtx,
    mut req: Request<Incoming>,
    conn: ConnInfo,
) -> http::Response<crate::body::Body> {
    if req.version() == Version::HTTP_11 && h2c::wants_upgrade(&req) {
        let (parts, body) = req.into_parts();
        if let Some(frame) = h2c::headers_frame(&parts) {
            req = Request::from_parts(parts, body);
            let on_upgrade = hyper::upgrade::on(&mut req);
            let gw = Arc::clone(&ctx.gw);
            let service = service_fn(move |req| {
                let gw = Arc::clone(&gw);
                async move { Ok::<_, Infallible>(handle(&gw, req, &conn).await) }
            });
            let mut stop = ctx.stop.clone();
            let guard = ctx.upgraded.enter();
            tokio::spawn(async move {
                let shutdown = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                h2c::serve_upgraded(on_upgrade, frame, service, shutdown).await;
                drop(guard);
            });
            return h2c::switching_protocols();
        }
        req = Request::from_parts(parts, body);
    }
    handle(&ctx.gw, req, &conn).await
}

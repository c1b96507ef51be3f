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
    let mut loops = Vec::new();
    for listener in listeners {
        loops.push(tokio::spawn(accept_loop(
            Arc::clone(&gw),
            listener,
            Arc::clone(&graceful),
            stop_rx.clone(),
        )));
    }
    shutdown.await;
    let _ = stop_tx.send(true);
    for l in loops {
        let _ = l.await;
    }
    let drain = gw.snapshot().limits.drain_timeout;
    let graceful = Arc::try_unwrap(graceful).unwrap_or_else(|_| GracefulShutdown::new());
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections drained"),
        () = tokio::time::sleep(drain) => tracing::warn!(?drain, "drain timeout passed; closing remaining connections"),
    }
}

async fn accept_loop(
    gw: Arc<Gateway>,
    listener: TcpListener,
    graceful: Arc<GracefulShutdown>,
    mut stop: watch::Receiver<bool>,
) {
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
            let gw = Arc::clone(&gw);
            service_fn(move |req| {
                let gw = Arc::clone(&gw);
                async move { Ok::<_, Infallible>(dispatch(gw, req, conn).await) }
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
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let watched = graceful.watch(connection.into_owned());
        tokio::spawn(async move {
            if let Err(e) = watched.await {
                tracing::debug!("connection from {peer} ended: {e}");
            }
        });
    }
}

/// Routes an h2c upgrade request to the upgrade path, everything else to the pipeline.
async fn dispatch(
    gw: Arc<Gateway>,
    mut req: Request<Incoming>,
    conn: ConnInfo,
) -> http::Response<crate::body::Body> {
    if req.version() == Version::HTTP_11 && h2c::wants_upgrade(&req) {
        let (parts, body) = req.into_parts();
        if let Some(frame) = h2c::headers_frame(&parts) {
            req = Request::from_parts(parts, body);
            let on_upgrade = hyper::upgrade::on(&mut req);
            let service = service_fn(move |req| {
                let gw = Arc::clone(&gw);
                async move { Ok::<_, Infallible>(handle(&gw, req, &conn).await) }
            });
            tokio::spawn(h2c::serve_upgraded(on_upgrade, frame, service));
            return h2c::switching_protocols();
        }
        req = Request::from_parts(parts, body);
    }
    handle(&gw, req, &conn).await
}

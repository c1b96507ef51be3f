//! Listeners, workers and connections: thread-per-core.
//!
//! The data plane runs on `workers` OS threads (default: one per core), each with its own
//! current-thread tokio runtime. Every worker has its own listening socket on each address
//! (`SO_REUSEPORT`: the kernel spreads new connections across them), its own upstream
//! connection pool ([`Worker::upstream`]), and serves its connections from accept to the last
//! byte on its own thread. A request, the upstream connection it is forwarded on and the
//! response never cross threads, so the hot path has no cross-thread wake-ups (measured as about
//! a quarter of the CPU of a proxied request with one shared multi-threaded runtime).
//!
//! What the workers share lives in the [`Gateway`] and is safe across cores: the snapshot
//! (one atomic load), token buckets and quotas (atomics), the stage caches, the plugin registry
//! and the metrics (atomics).
//!
//! Each connection is served by hyper-util's `auto` builder: HTTP/1.1, or HTTP/2 when the client
//! opens with the h2 preface (prior knowledge). An HTTP/1.1 request asking for `Upgrade: h2c` is
//! switched to HTTP/2 by [`crate::listener::h2c`], with the same HTTP/2 limits and timers.
//!
//! TLS listeners terminate TLS first ([`tls`]) and serve HTTP/1.1 or HTTP/2 by ALPN; with
//! `http3: true` they also serve HTTP/3 on the same port over UDP ([`quic`]) and advertise it
//! with `Alt-Svc`.
//!
//! Shutdown: when `shutdown` resolves, every worker stops accepting, tells every open connection
//! to finish (HTTP/1 stops keep-alive, HTTP/2 and HTTP/3 send GOAWAY), and [`serve`] returns
//! once they are done or the drain timeout passes.

mod affinity;
pub mod h2c;
pub mod quic;
pub mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Version};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use portico_config::transport::Listener;
use tokio::io::AsyncBufReadExt;

use crate::Gateway;
use crate::integration::pool::Pool;
use crate::pipeline::{ConnInfo, handle};
use crate::snapshot::Snapshot;

/// HTTP/2 header-list limit: a little over the 10 KiB AWS quota, which the pipeline enforces
/// with a JSON 431; this only stops abuse earlier.
pub(crate) const H2_MAX_HEADER_LIST: u32 = 64 * 1024;

/// Pending connections per listening socket.
const BACKLOG: i32 = 1024;

/// The data plane's sockets: for each configured address, one listening socket per worker.
pub struct Bound {
    /// `sockets[w]` holds worker `w`'s socket for every address, in address order.
    sockets: Vec<Vec<std::net::TcpListener>>,
    /// `udp[w][i]`: worker `w`'s UDP socket for listener `i`, when it serves HTTP/3.
    udp: Vec<Vec<Option<std::net::UdpSocket>>>,
    /// The addresses actually bound (port 0 resolved), in configuration order.
    addrs: Vec<SocketAddr>,
    /// Whether each address terminates TLS (fixed at start; certificates reload).
    tls: Vec<bool>,
    /// The CPU each worker is bound to, if any ([`Bound::with_cpu_affinity`]).
    cpus: Vec<Option<usize>>,
}

impl Bound {
    /// Binds every listener's address once per worker. The first socket of an address
    /// resolves port 0; the others join it with `SO_REUSEPORT`. `workers` 0 means one per
    /// core.
    pub fn bind(listeners: &[Listener], workers: usize) -> std::io::Result<Self> {
        let workers = worker_count(workers);
        let mut sockets: Vec<Vec<std::net::TcpListener>> =
            (0..workers).map(|_| Vec::new()).collect();
        let mut udp: Vec<Vec<Option<std::net::UdpSocket>>> =
            (0..workers).map(|_| Vec::new()).collect();
        let mut bound = Vec::with_capacity(listeners.len());
        for listener in listeners {
            let addr = &listener.addr;
            let actual = if workers > 1 {
                // SO_REUSEPORT would let these sockets join a port that another process (a
                // stale gateway of the same user) already listens on, and split its traffic.
                // Bind once without it first, so a port in use fails as it would without
                // workers; that also resolves port 0.
                let probe = listen(*addr, false)?;
                probe.local_addr()?
            } else {
                *addr
            };
            let first = listen(actual, workers > 1)?;
            let actual = first.local_addr()?;
            sockets[0].push(first);
            for worker in sockets.iter_mut().skip(1) {
                worker.push(listen(actual, true)?);
            }
            let http3 = listener.tls.as_ref().is_some_and(|t| t.http3);
            if http3 && workers > 1 {
                // The same guard as TCP: the UDP port must be free before the group joins it.
                drop(datagram(actual, false)?);
            }
            for worker in &mut udp {
                worker.push(if http3 {
                    Some(datagram(actual, workers > 1)?)
                } else {
                    None
                });
            }
            bound.push(actual);
        }
        Ok(Self {
            sockets,
            udp,
            addrs: bound,
            tls: listeners.iter().map(|l| l.tls.is_some()).collect(),
            cpus: vec![None; workers],
        })
    }

    /// Binds each worker to a CPU as `mode` says (the `worker_cpu_affinity` setting; see
    /// `listener/affinity.rs`). Without this, workers are unbound.
    #[must_use]
    pub fn with_cpu_affinity(mut self, mode: portico_config::WorkerAffinity) -> Self {
        self.cpus = affinity::plan(mode, self.sockets.len());
        self
    }

    /// The bound addresses.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Whether the listener at `index` terminates TLS.
    pub fn is_tls(&self, index: usize) -> bool {
        self.tls.get(index).copied().unwrap_or(false)
    }

    /// Whether the listener at `index` also serves HTTP/3 over UDP.
    pub fn is_http3(&self, index: usize) -> bool {
        self.udp
            .first()
            .and_then(|w| w.get(index))
            .is_some_and(Option::is_some)
    }

    /// How many workers will serve.
    pub fn workers(&self) -> usize {
        self.sockets.len()
    }
}

/// `0` → the number of cores.
pub fn worker_count(configured: usize) -> usize {
    match configured {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// A UDP socket for QUIC on `addr` (the TCP listener's resolved address).
fn datagram(addr: SocketAddr, reuse_port: bool) -> std::io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

fn listen(addr: SocketAddr, reuse_port: bool) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// What one worker owns: state that is per core by design.
pub struct Worker {
    /// Which worker this is (0-based), for logs.
    pub index: usize,
    /// This worker's upstream connection pool. Its connections are driven on this worker's
    /// runtime, so a proxied request never hands off to another thread.
    pub upstream: Arc<Pool>,
    /// TLS handshakes this worker runs at once (`limits.max_tls_handshakes`).
    handshakes: tokio::sync::Semaphore,
    /// This worker's hold on the current snapshot ([`Worker::snapshot`]).
    held: Mutex<Arc<Held>>,
}

/// A snapshot as one worker holds it.
///
/// A request keeps the snapshot it started on alive until its response body is done. Cloning
/// the snapshot's own `Arc` for that writes its reference count from every core on every
/// request (a cache line bouncing between cores, twice per request); a request clones its
/// worker's `Held` instead, which only that worker's thread touches. The worker takes a new
/// `Held` when the gateway's snapshot changes (checked per request, and by [`pace_timers`]
/// when idle, so an idle worker lets go of an old snapshot within [`TIMER_PACE`]).
pub struct Held(Arc<Snapshot>);

impl std::ops::Deref for Held {
    type Target = Snapshot;

    fn deref(&self) -> &Snapshot {
        &self.0
    }
}

impl Worker {
    /// The gateway's current snapshot, through this worker's hold on it.
    pub fn snapshot(&self, gw: &Gateway) -> Arc<Held> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let current = gw.current_snapshot();
        if !Arc::ptr_eq(&held.0, &current) {
            *held = Arc::new(Held(arc_swap::Guard::into_inner(current)));
        }
        Arc::clone(&held)
    }
}

/// Serves on `bound` until `shutdown` resolves, then drains. Runs the workers on their own
/// threads; the caller's runtime only waits.
pub async fn serve(gw: Arc<Gateway>, bound: Bound, shutdown: impl Future<Output = ()>) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut done = Vec::new();
    let tls = Arc::new(bound.tls);
    let addrs = Arc::new(bound.addrs);
    let bound_cpus = bound.cpus.iter().flatten().count();
    let workers = bound.sockets.into_iter().zip(bound.udp).zip(bound.cpus);
    for (index, ((sockets, udp), cpu)) in workers.enumerate() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let addrs = Arc::clone(&addrs);
        let gw = Arc::clone(&gw);
        let stop = stop_rx.clone();
        let tls = Arc::clone(&tls);
        let spawned = std::thread::Builder::new()
            .name(format!("portico-worker-{index}"))
            .spawn(move || {
                if let Some(cpu) = cpu {
                    affinity::bind_current(index, cpu);
                }
                let sockets = WorkerSockets {
                    tcp: sockets,
                    udp,
                    tls: &tls,
                    addrs: &addrs,
                };
                run_worker(index, gw, sockets, stop);
                let _ = tx.send(());
            });
        match spawned {
            Ok(_) => done.push(rx),
            Err(e) => tracing::error!("cannot start worker {index}: {e}"),
        }
    }
    tracing::info!(
        workers = done.len(),
        bound_to_cpus = bound_cpus,
        "data plane started"
    );
    shutdown.await;
    let _ = stop_tx.send(true);
    for rx in done {
        let _ = rx.await;
    }
}

/// One worker's share of [`Bound`].
struct WorkerSockets<'a> {
    tcp: Vec<std::net::TcpListener>,
    udp: Vec<Option<std::net::UdpSocket>>,
    /// Whether each listener is TLS.
    tls: &'a [bool],
    /// Each listener's bound address.
    addrs: &'a [SocketAddr],
}

/// One worker: a current-thread runtime serving its sockets until `stop`, then draining.
fn run_worker(
    index: usize,
    gw: Arc<Gateway>,
    sockets: WorkerSockets<'_>,
    stop: watch::Receiver<bool>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("worker {index}: cannot start its runtime: {e}");
            return;
        }
    };
    crate::telemetry::set_shard(index);
    runtime.block_on(async move {
        let handshakes = gw.snapshot().limits.max_tls_handshakes;
        let worker = Arc::new(Worker {
            index,
            upstream: gw.upstream.worker_pool(),
            handshakes: tokio::sync::Semaphore::new(handshakes),
            held: Mutex::new(Arc::new(Held(gw.snapshot()))),
        });
        let graceful = Arc::new(GracefulShutdown::new());
        let tracked = Arc::new(Tracked::default());
        let pacer = tokio::spawn(pace_timers(Arc::clone(&gw), Arc::clone(&worker)));
        let mut loops = Vec::new();
        let mut endpoints = Vec::new();
        let mut http3 = vec![false; sockets.addrs.len()];
        let WorkerSockets {
            tcp,
            udp,
            tls,
            addrs,
        } = sockets;
        for (listener_index, socket) in udp.into_iter().enumerate() {
            let Some(socket) = socket else { continue };
            let endpoint = match quic::endpoint(&gw, listener_index, socket) {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!("worker {index}: cannot start HTTP/3 on listener {listener_index}: {e}");
                    continue;
                }
            };
            let ctx = ConnCtx {
                gw: Arc::clone(&gw),
                worker: Arc::clone(&worker),
                stop: stop.clone(),
                tracked: Arc::clone(&tracked),
                h2c: false,
                alt_svc: None,
            };
            let local = addrs[listener_index];
            loops.push(tokio::spawn(quic::accept_loop(ctx, endpoint.clone(), local)));
            endpoints.push(endpoint);
            http3[listener_index] = true;
        }
        for (listener_index, socket) in tcp.into_iter().enumerate() {
            let listener = match TcpListener::from_std(socket) {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!("worker {index}: cannot register a listener: {e}");
                    continue;
                }
            };
            let tls = tls.get(listener_index).copied().unwrap_or(false);
            let ctx = ConnCtx {
                gw: Arc::clone(&gw),
                worker: Arc::clone(&worker),
                stop: stop.clone(),
                tracked: Arc::clone(&tracked),
                h2c: true,
                // HTTP/3 on this listener's port: its TLS responses say so.
                alt_svc: http3[listener_index].then(|| quic::alt_svc(addrs[listener_index].port())),
            };
            loops.push(tokio::spawn(accept_loop(
                ctx,
                listener,
                (listener_index, tls),
                Arc::clone(&graceful),
            )));
        }
        let mut stopped = stop.clone();
        let _ = stopped.wait_for(|s| *s).await;
        for l in loops {
            let _ = l.await;
        }
        pacer.abort();
        let drain = gw.snapshot().limits.drain_timeout;
        let graceful = Arc::try_unwrap(graceful).unwrap_or_else(|_| GracefulShutdown::new());
        let all_done = async move {
            graceful.shutdown().await;
            tracked.all_done().await;
        };
        tokio::select! {
            () = all_done => tracing::debug!(worker = index, "all connections drained"),
            () = tokio::time::sleep(drain) => tracing::warn!(worker = index, ?drain, "drain timeout passed; closing remaining connections"),
        }
        for endpoint in endpoints {
            endpoint.close(0u32.into(), b"shutting down");
            // Lets the close frames leave; bounded, as the clients may be gone.
            let _ = tokio::time::timeout(Duration::from_millis(200), endpoint.wait_idle()).await;
        }
    });
}

/// How often [`pace_timers`] wakes its worker.
const TIMER_PACE: Duration = Duration::from_millis(250);

/// Keeps a timer due within [`TIMER_PACE`] on the worker's runtime, always; on each tick,
/// refreshes the worker's [`Held`] snapshot and closes its expired idle upstream connections.
///
/// Every request arms timers that are seconds away (hyper's header timer, the integration
/// timeout). tokio's time driver wakes its own thread (an `eventfd` write and one more
/// `epoll_wait` event) whenever a timer is armed before the deadline the driver is parked
/// on; with nothing else pending, that was every request. With this timer always nearer,
/// the per-request timers never move the driver's deadline: four wake-ups a second instead
/// of one per request.
async fn pace_timers(gw: Arc<Gateway>, worker: Arc<Worker>) {
    let mut tick = tokio::time::interval(TIMER_PACE);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        drop(worker.snapshot(&gw));
        worker.upstream.sweep();
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
    worker: Arc<Worker>,
    /// Turns `true` when the gateway shuts down.
    stop: watch::Receiver<bool>,
    /// Counts what hyper-util's watcher does not see (h2c upgrades, HTTP/3 connections and
    /// requests) so that shutdown can wait for them.
    tracked: Arc<Tracked>,
    /// Whether `Upgrade: h2c` is honoured (cleartext connections only).
    h2c: bool,
    /// `Alt-Svc` for responses on a TLS listener that also serves HTTP/3.
    alt_svc: Option<http::HeaderValue>,
}

/// Connections upgraded to h2c, and HTTP/3 connections and requests, run outside hyper-util's
/// graceful-shutdown watcher; this counts them so that a drain waits for them too.
#[derive(Default)]
struct Tracked {
    active: AtomicUsize,
    idle: Notify,
}

impl Tracked {
    fn enter(self: &Arc<Self>) -> TrackedGuard {
        self.active.fetch_add(1, Ordering::AcqRel);
        TrackedGuard(Arc::clone(self))
    }

    async fn all_done(&self) {
        loop {
            let idle = self.idle.notified();
            if self.active.load(Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }
}

struct TrackedGuard(Arc<Tracked>);

impl Drop for TrackedGuard {
    fn drop(&mut self) {
        if self.0.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

async fn accept_loop(
    ctx: ConnCtx,
    listener: TcpListener,
    (index, tls): (usize, bool),
    graceful: Arc<GracefulShutdown>,
) {
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
        let ctx = ctx.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            // One snapshot for the connection's set-up, dropped before it serves: requests
            // load their own, and a long-lived connection must not pin an old one.
            let snap = ctx.gw.snapshot();
            let header_timeout = snap.limits.header_read_timeout;
            let handshake_timeout = snap.limits.tls_handshake_timeout;
            if !tls {
                drop(snap);
                // hyper's header timer starts with the first byte; a client that sends
                // nothing at all is cut off here.
                if !first_bytes(&stream, header_timeout).await {
                    return;
                }
                let conn = ConnInfo::new(peer, local, "http", None);
                let builder = http_builder(header_timeout);
                let service = service(ctx.clone(), conn);
                let connection =
                    builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                if let Err(e) = watcher.watch(connection.into_owned()).await {
                    tracing::debug!("connection from {peer} ended: {e}");
                }
                return;
            }
            let accepted = tls::accept(
                stream,
                index,
                &snap.tls,
                &ctx.worker.handshakes,
                handshake_timeout,
            )
            .await;
            drop(snap);
            let (stream, info) = match accepted {
                Ok(s) => s,
                Err(e) => {
                    ctx.gw.metrics.tls_handshake_failures.inc();
                    tracing::debug!("TLS from {peer}: {e}");
                    return;
                }
            };
            // The same guard as cleartext: the first request byte within the header timeout.
            let mut stream = tokio::io::BufReader::new(stream);
            match tokio::time::timeout(header_timeout, stream.fill_buf()).await {
                Ok(Ok(buf)) if !buf.is_empty() => {}
                _ => return,
            }
            let h2 = info.h2;
            let conn = ConnInfo::new(peer, local, "https", Some(Arc::new(info)));
            let builder = http_builder(header_timeout);
            let builder = if h2 {
                builder.http2_only()
            } else {
                builder.http1_only()
            };
            // h2c upgrades are for cleartext only: over TLS, ALPN chose the protocol.
            let conn_ctx = ConnCtx { h2c: false, ..ctx };
            let service = service(conn_ctx, conn);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(connection.into_owned()).await {
                tracing::debug!("TLS connection from {peer} ended: {e}");
            }
        });
    }
}

/// The connection builder with the gateway's HTTP/1.1 and HTTP/2 limits and timers.
fn http_builder(header_timeout: Duration) -> auto::Builder<TokioExecutor> {
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
    builder
}

/// The service of one connection: every request goes to [`dispatch`].
fn service(
    ctx: ConnCtx,
    conn: ConnInfo,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = http::Response<crate::pipeline::body::Body>,
    Error = Infallible,
    Future = impl Future<Output = Result<http::Response<crate::pipeline::body::Body>, Infallible>>
             + Send,
> + Clone
+ Send
+ 'static {
    // One allocation per connection: a request clones these two `Arc`s, which only this
    // connection's worker touches, rather than the gateway-wide ones inside `ConnCtx`.
    let ctx = Arc::new(ctx);
    let conn = Arc::new(conn);
    service_fn(move |req| {
        let ctx = Arc::clone(&ctx);
        let conn = Arc::clone(&conn);
        async move { Ok::<_, Infallible>(dispatch(&ctx, req, conn).await) }
    })
}

/// Routes an h2c upgrade request to the upgrade path, everything else to the pipeline.
async fn dispatch(
    ctx: &ConnCtx,
    mut req: Request<Incoming>,
    conn: Arc<ConnInfo>,
) -> http::Response<crate::pipeline::body::Body> {
    if ctx.h2c && req.version() == Version::HTTP_11 && h2c::wants_upgrade(&req) {
        let (parts, body) = req.into_parts();
        if let Some(frame) = h2c::headers_frame(&parts) {
            req = Request::from_parts(parts, body);
            let on_upgrade = hyper::upgrade::on(&mut req);
            let (gw, worker) = (Arc::clone(&ctx.gw), Arc::clone(&ctx.worker));
            let service = service_fn(move |req| {
                let (gw, worker, conn) = (Arc::clone(&gw), Arc::clone(&worker), Arc::clone(&conn));
                async move { Ok::<_, Infallible>(handle(&gw, &worker, req, &conn).await) }
            });
            let mut stop = ctx.stop.clone();
            let guard = ctx.tracked.enter();
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
    let mut response = handle(&ctx.gw, &ctx.worker, req, &conn).await;
    if let Some(v) = &ctx.alt_svc {
        response
            .headers_mut()
            .insert(http::header::ALT_SVC, v.clone());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_share_one_port_that_nobody_else_holds() {
        let any = Listener::plain("127.0.0.1:0".parse().unwrap());
        let bound = Bound::bind(&[any], 3).unwrap();
        assert_eq!(bound.workers(), 3);
        let addr = bound.addrs()[0];
        assert_ne!(addr.port(), 0);
        for worker in &bound.sockets {
            assert_eq!(worker[0].local_addr().unwrap(), addr);
        }
        // A second gateway on the same port is refused, not let in beside the first.
        let taken = Listener::plain(addr);
        let err = Bound::bind(std::slice::from_ref(&taken), 2)
            .err()
            .expect("the port is in use");
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
        assert!(Bound::bind(&[taken], 1).is_err());
    }
}

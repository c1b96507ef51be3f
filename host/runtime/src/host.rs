//! The state inside one `Store`: the WASI context, the resource table, the plugin's shared
//! grant state, the current call (request id, deadline, client certificate), the memory limiter
//! and the captured guest output. Also how a store is set up: limiter, epoch callback, deadline.
//!
//! Host capability impls (`cap::*`) are written against [`Host`]; WASI and `wasi:http` reach
//! it through the `WasiView` / `WasiHttpView` traits.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::cap::http::{HttpGrant, WasiHttpGuard};
use crate::cap::kv::Namespace;
use crate::error::{DeadlineExceeded, Fault};
use crate::plugin::CallContext;
use crate::spec::Preopen;
use crate::types::ClientCert;

/// Table elements one instance may grow its tables to, all tables together. JS and Python
/// guests have tens of thousands of functions in their indirect-call tables.
pub(crate) const TABLE_ELEMENTS_LIMIT: usize = 200_000;

/// Bytes of guest stdout/stderr kept per call (the tail), for fault messages and debug logs.
const OUTPUT_TAIL: usize = 2048;

/// What every store of one plugin shares, fixed at load.
pub(crate) struct Shared {
    /// The plugin's name, for log lines.
    pub(crate) name: Arc<str>,
    /// `portico:plugin/config.get`'s answer: the config as compact JSON, or `null`.
    pub(crate) config: Arc<str>,
    /// The plugin's key-value namespace, when `kv` is granted.
    pub(crate) kv: Option<Namespace>,
    /// Outbound HTTP, when hosts are granted.
    pub(crate) http: Option<HttpGrant>,
    /// Directories to preopen in every instance.
    pub(crate) preopens: Vec<Preopen>,
    /// Linear-memory limit of one instance.
    pub(crate) memory_limit: usize,
    /// The per-call deadline.
    pub(crate) timeout: Duration,
}

/// The call an instance is serving now. Reset before every call, also for reused instances.
pub(crate) struct Call {
    /// The request id log lines carry.
    pub(crate) request_id: String,
    /// When the call must be over (the epoch callback traps after it).
    pub(crate) deadline: Instant,
    /// Log lines the guest may still write in this call.
    pub(crate) log_budget: u32,
    /// Log lines dropped because the budget ran out.
    pub(crate) log_dropped: u32,
    /// What `request-tls.get-client-cert` answers: the request's verified client certificate.
    pub(crate) client_cert: Option<Arc<ClientCert>>,
}

/// Log lines one call may write; more are counted and dropped.
pub(crate) const LOG_LINES_PER_CALL: u32 = 64;

/// The `T` of `Store<T>`.
pub(crate) struct Host {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    http_guard: WasiHttpGuard,
    pub(crate) limits: Limits,
    pub(crate) shared: Arc<Shared>,
    pub(crate) call: Call,
    pub(crate) output: Output,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Host {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_guard,
        }
    }
}

impl Host {
    /// Time left in the current call.
    pub(crate) fn remaining(&self) -> Duration {
        self.call.deadline.saturating_duration_since(Instant::now())
    }

    /// Starts a call: new request id, client certificate and deadline, fresh log budget, empty
    /// output capture.
    pub(crate) fn begin_call(&mut self, cx: &CallContext, deadline: Instant) {
        self.call.request_id.clear();
        self.call.request_id.push_str(&cx.request_id);
        self.call.client_cert.clone_from(&cx.client_cert);
        self.call.deadline = deadline;
        self.call.log_budget = LOG_LINES_PER_CALL;
        self.call.log_dropped = 0;
        self.http_guard.deadline = deadline;
        self.output.clear();
    }
}

/// Creates a store for one instance of a plugin: WASI context with nothing but the granted
/// preopens, the memory limiter, and the epoch callback that enforces the call deadline.
pub(crate) fn new_store(
    engine: &Engine,
    shared: &Arc<Shared>,
    request_id: &str,
    deadline: Instant,
) -> Result<Store<Host>, Fault> {
    let output = Output::default();
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdout(output.clone())
        .stderr(output.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    for p in &shared.preopens {
        let perms = if p.read_only {
            FsPerms::ReadOnly
        } else {
            FsPerms::ReadWrite
        };
        wasi.preopened_dir(&p.host_path, &p.guest_path, perms)
            .map_err(|e| {
                Fault::Instantiate(format!(
                    "cannot open preopen {}: {e}",
                    p.host_path.display()
                ))
            })?;
    }
    let host = Host {
        wasi: wasi.build(),
        table: ResourceTable::new(),
        http: WasiHttpCtx::new(),
        http_guard: WasiHttpGuard {
            grant: shared.http.clone(),
            deadline,
            plugin: shared.name.clone(),
        },
        limits: Limits::new(shared.memory_limit),
        shared: shared.clone(),
        call: Call {
            request_id: request_id.to_owned(),
            deadline,
            log_budget: LOG_LINES_PER_CALL,
            log_dropped: 0,
            // Set by `arm` for each call; instantiation serves no request yet.
            client_cert: None,
        },
        output,
    };
    let timeout = shared.timeout;
    let mut store = Store::new(engine, host);
    store.limiter(|h| &mut h.limits);
    // Runs each time the engine's epoch passes this store's deadline (every tick while guest
    // code runs): trap once the call's wall-clock deadline has passed, otherwise yield to the
    // executor so that a busy guest never holds a tokio worker for more than one tick.
    store.epoch_deadline_callback(move |cx| {
        if Instant::now() >= cx.data().call.deadline {
            Err(wasmtime::Error::new(DeadlineExceeded(timeout)))
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
    store.set_epoch_deadline(1);
    Ok(store)
}

/// Prepares a store for the next call: the deadline must be set again before every call, or a
/// reused instance traps as soon as its first deadline passes; and the request facts must be
/// replaced, or a reused instance would answer for the previous request.
pub(crate) fn arm(store: &mut Store<Host>, cx: &CallContext, deadline: Instant) {
    store.data_mut().begin_call(cx, deadline);
    store.set_epoch_deadline(1);
}

/// The per-store resource limiter: linear memory (all memories together) and table elements.
/// It records whether it refused a growth, so that the trap a guest raises after a failed
/// `memory.grow` is reported as [`Fault::OutOfMemory`] without matching on messages.
pub(crate) struct Limits {
    memory_limit: usize,
    memory_used: usize,
    tables_used: usize,
    /// A growth was refused (or failed in the pool) during this store's life.
    pub(crate) refused: bool,
}

impl Limits {
    fn new(memory_limit: usize) -> Self {
        Self {
            memory_limit,
            memory_used: 0,
            tables_used: 0,
            refused: false,
        }
    }
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.memory_used - current.min(self.memory_used) + desired;
        if total > self.memory_limit {
            self.refused = true;
            return Ok(false);
        }
        self.memory_used = total;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.refused = true;
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.tables_used - current.min(self.tables_used) + desired;
        if total > TABLE_ELEMENTS_LIMIT {
            self.refused = true;
            return Ok(false);
        }
        self.tables_used = total;
        Ok(true)
    }

    fn table_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.refused = true;
        Ok(())
    }

    fn instances(&self) -> usize {
        // Core instances per store: componentize-py links a dozen modules; 64 is plenty.
        64
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        16
    }
}

/// The guest's stdout and stderr, both captured into one bounded buffer that keeps the tail.
/// Writes never fail (a full buffer drops the oldest bytes), so a chatty guest cannot trap on
/// a failed `eprintln!`.
#[derive(Clone, Default)]
pub(crate) struct Output(Arc<Mutex<VecDeque<u8>>>);

impl Output {
    fn push(&self, bytes: &[u8]) {
        let mut buf = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let bytes = &bytes[bytes.len().saturating_sub(OUTPUT_TAIL)..];
        let overflow = (buf.len() + bytes.len()).saturating_sub(OUTPUT_TAIL);
        let drop_front = overflow.min(buf.len());
        buf.drain(..drop_front);
        buf.extend(bytes);
    }

    fn clear(&self) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// The captured tail, lossily decoded and trimmed.
    pub(crate) fn tail(&self) -> String {
        let buf = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let (a, b) = buf.as_slices();
        let mut bytes = Vec::with_capacity(a.len() + b.len());
        bytes.extend_from_slice(a);
        bytes.extend_from_slice(b);
        String::from_utf8_lossy(&bytes).trim().to_owned()
    }
}

impl IsTerminal for Output {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Output {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for Output {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Output {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for Output {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_keeps_the_tail() {
        let out = Output::default();
        out.push(&vec![b'a'; OUTPUT_TAIL]);
        out.push(b"panicked at boom");
        let tail = out.tail();
        assert_eq!(tail.len(), OUTPUT_TAIL);
        assert!(tail.ends_with("panicked at boom"));
        out.push(&vec![b'b'; 3 * OUTPUT_TAIL]);
        assert_eq!(out.tail(), "b".repeat(OUTPUT_TAIL));
    }

    #[test]
    fn limiter_counts_all_memories() {
        let mut l = Limits::new(10);
        assert!(l.memory_growing(0, 6, None).unwrap());
        assert!(l.memory_growing(0, 4, None).unwrap());
        assert!(!l.memory_growing(4, 5, None).unwrap());
        assert!(l.refused);
    }
}

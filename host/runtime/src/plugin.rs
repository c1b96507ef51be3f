//! [`Plugin`]: a loaded component and its instance policy, and the typed calls the proxy
//! makes. Every call goes through [`Plugin::run`]: take an instance (an idle reused one, or a
//! fresh one from the `InstancePre` after waiting for a slot), arm its deadline, call, classify
//! any error as a [`Fault`], and return the instance to the idle pool or drop it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_queue::ArrayQueue;
use tokio::sync::OwnedSemaphorePermit;
use wasmtime::Store;
use wasmtime_wasi_http::p2::bindings::Proxy;

use crate::bindings::{
    authorizer, authorizer_v0, function, mapper, model_validator, template_mapper, validator,
};
use crate::cap;
use crate::error::{DeadlineExceeded, Fault};
use crate::host::{self, Host, Shared};
use crate::loader::Entry;
use crate::runtime::Runtime;
use crate::spec::{InstancePolicy, PluginKind, PluginSpec};
use crate::types::{
    self, ClientCert, Decision, MappedRequest, MappedResponse, ModelFailure, RenderFailure,
    RenderInput, Rendered, Reply, RequestHead, TemplateError,
};
use crate::wasi_http::Outcome;
pub use crate::wasi_http::StreamedBody;

/// Grace after the deadline before the outer timer drops a call that is stuck in a host
/// future; guest code is stopped at the deadline itself by the epoch callback.
const BACKSTOP_GRACE: Duration = Duration::from_millis(20);

/// Per-call context from the proxy: the request the call serves.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// `$context.requestId`: log lines written by the plugin carry it.
    pub request_id: String,
    /// The request's verified client certificate (mutual TLS), which
    /// `portico:plugin/request-tls.get-client-cert` answers; `None` for a request without one
    /// and for calls that serve no request.
    pub client_cert: Option<Arc<ClientCert>>,
}

impl CallContext {
    /// A context for request `request_id`, without a client certificate.
    pub fn new(request_id: impl Into<String>) -> Self {
        Self {
            request_id: request_id.into(),
            client_cert: None,
        }
    }

    /// The same context with the request's client certificate.
    pub fn with_client_cert(mut self, cert: Option<Arc<ClientCert>>) -> Self {
        self.client_cert = cert;
        self
    }
}

/// A loaded plugin: compiled, checked against its world and grants, pre-linked. Cheap to clone;
/// clones share the idle instances.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Arc<Runtime>,
    name: String,
    kind: PluginKind,
    digest: String,
    shared: Arc<Shared>,
    entry: Entry,
    policy: InstancePolicy,
    /// Idle live instances (reuse policy only), in one lock-free slot per CPU: see [`Idle`].
    idle: Idle,
    /// Instances created so far (for metrics and tests).
    instantiations: AtomicU64,
}

/// A live instance and its store.
pub(crate) struct Live {
    pub(crate) store: Store<Host>,
    pub(crate) exports: Exports,
    uses: u32,
    /// The pooling slot this instance occupies.
    _slot: OwnedSemaphorePermit,
}

/// The instantiated world.
pub(crate) enum Exports {
    Authorizer(authorizer::Authorizer),
    AuthorizerV0(authorizer_v0::AuthorizerCore),
    Mapper(mapper::Mapper),
    Validator(validator::Validator),
    Function(function::Function),
    WasiHttp(Proxy),
    TemplateMapper(template_mapper::TemplateMapper),
    ModelValidator(model_validator::ModelValidator),
}

/// The idle instances of a plugin with the reuse policy: one single-entry lock-free queue per
/// CPU. A thread takes from and returns to its own shard first (the shard picked for it on its
/// first call, round-robin), so on a thread-per-core proxy each core keeps calling the instance
/// it used last: no lock, no cache line shared with the other cores on the hot path, and the
/// instance's memory stays warm in that core's cache. Only when its own shard is empty (or full)
/// does a thread look at the others, so the total stays one idle instance per CPU, as before.
struct Idle {
    shards: Box<[ArrayQueue<Live>]>,
}

/// The next shard number to hand out to a thread (taken modulo the shard count).
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's shard number, picked round-robin on first use.
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed);
}

impl Idle {
    fn new(shards: usize) -> Self {
        Self {
            shards: (0..shards.max(1)).map(|_| ArrayQueue::new(1)).collect(),
        }
    }

    /// The shards in the order this thread tries them: its own first.
    fn order(&self) -> impl Iterator<Item = &ArrayQueue<Live>> {
        let n = self.shards.len();
        // `try_with`: an instance dropped while this thread's locals are torn down still finds a
        // shard.
        let home = SHARD.try_with(|s| *s).unwrap_or(0) % n;
        (0..n).map(move |i| &self.shards[(home + i) % n])
    }

    fn pop(&self) -> Option<Live> {
        self.order().find_map(ArrayQueue::pop)
    }

    /// Keeps `live` if a shard has room; otherwise hands it back (to be dropped).
    fn push(&self, live: Live) -> Option<Live> {
        let mut live = live;
        for shard in self.order() {
            match shard.push(live) {
                Ok(()) => return None,
                Err(back) => live = back,
            }
        }
        Some(live)
    }

    fn len(&self) -> usize {
        self.shards.iter().map(ArrayQueue::len).sum()
    }
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.inner.name)
            .field("kind", &self.inner.kind)
            .field("digest", &self.inner.digest)
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    pub(crate) fn new(
        runtime: Arc<Runtime>,
        spec: &PluginSpec,
        digest: String,
        shared: Arc<Shared>,
        entry: Entry,
    ) -> Self {
        // One idle instance per CPU, so each worker thread can have one.
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            inner: Arc::new(Inner {
                runtime,
                name: spec.name.clone(),
                kind: spec.kind,
                digest,
                shared,
                entry,
                policy: spec.instances,
                idle: Idle::new(cpus),
                instantiations: AtomicU64::new(0),
            }),
        }
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Its kind (world).
    pub fn kind(&self) -> PluginKind {
        self.inner.kind
    }

    /// sha256 of the component bytes, hex.
    pub fn digest(&self) -> &str {
        &self.inner.digest
    }

    /// Whether this function exports `wasi:http/incoming-handler` (call
    /// [`invoke_http`](Self::invoke_http)) rather than the event-style `handle` (call
    /// [`invoke_event`](Self::invoke_event)).
    pub fn is_wasi_http(&self) -> bool {
        matches!(self.inner.entry, Entry::WasiHttp(_))
    }

    /// Idle live instances kept for reuse right now (always 0 for [`InstancePolicy::Fresh`]).
    pub fn idle_instances(&self) -> usize {
        self.inner.idle.len()
    }

    /// Instances created for this plugin so far: one per call with [`InstancePolicy::Fresh`],
    /// far fewer with reuse.
    pub fn instantiations(&self) -> u64 {
        self.inner.instantiations.load(Ordering::Relaxed)
    }

    /// Asks an authorizer for a decision on the request `head` whose method ARN is
    /// `method_arn`. A component built for 0.1.0 is called without the ARN.
    pub async fn authorize(
        &self,
        cx: &CallContext,
        head: RequestHead,
        method_arn: &str,
    ) -> Result<Decision, Fault> {
        self.require(
            matches!(
                self.inner.entry,
                Entry::Authorizer(_) | Entry::AuthorizerV0(_)
            ),
            "authorize",
        )?;
        let head = head.into();
        self.run(
            cx,
            async |store, ex| match ex {
                Exports::Authorizer(a) => a.call_authorize(store, &head, method_arn).await,
                Exports::AuthorizerV0(a) => {
                    a.call_authorize(store, &head).await.map(types::decision_v0)
                }
                _ => Err(wrong_kind()),
            },
            types::decision,
        )
        .await
    }

    /// Asks a mapper to rewrite a request. `Ok(Err(reply))` answers the client directly.
    pub async fn map_request(
        &self,
        cx: &CallContext,
        head: RequestHead,
        body: Bytes,
    ) -> Result<Result<MappedRequest, Reply>, Fault> {
        self.require(matches!(self.inner.entry, Entry::Mapper(_)), "map_request")?;
        let head = head.into();
        self.run(
            cx,
            async |store, ex| match ex {
                Exports::Mapper(m) => m.call_map_request(store, &head, &body).await,
                _ => Err(wrong_kind()),
            },
            |r| match r {
                Ok(req) => types::mapped_request(req).map(Ok),
                Err(reply) => types::reply(reply, "mapper reply").map(Err),
            },
        )
        .await
    }

    /// Asks a mapper to rewrite the integration's response.
    pub async fn map_response(
        &self,
        cx: &CallContext,
        head: RequestHead,
        resp: MappedResponse,
    ) -> Result<MappedResponse, Fault> {
        self.require(matches!(self.inner.entry, Entry::Mapper(_)), "map_response")?;
        let head = head.into();
        let resp = resp.into();
        self.run(
            cx,
            async |store, ex| match ex {
                Exports::Mapper(m) => m.call_map_response(store, &head, &resp).await,
                _ => Err(wrong_kind()),
            },
            types::mapped_response,
        )
        .await
    }

    /// Asks a validator. `Ok(Err(message))` is a rejection (a 400 with that message).
    pub async fn validate(
        &self,
        cx: &CallContext,
        head: RequestHead,
        body: Bytes,
    ) -> Result<Result<(), String>, Fault> {
        self.require(matches!(self.inner.entry, Entry::Validator(_)), "validate")?;
        let head = head.into();
        self.run(
            cx,
            async |store, ex| match ex {
                Exports::Validator(v) => v.call_validate(store, &head, &body).await,
                _ => Err(wrong_kind()),
            },
            Ok,
        )
        .await
    }

    /// Calls an event-style function with the Lambda proxy event (JSON text). `Ok(Ok(json))` is
    /// the function's return value; `Ok(Err(message))` a function error (its `errorMessage`).
    pub async fn invoke_event(
        &self,
        cx: &CallContext,
        event: String,
    ) -> Result<Result<String, String>, Fault> {
        self.require(
            matches!(self.inner.entry, Entry::Function(_)),
            "invoke_event",
        )?;
        self.run(
            cx,
            async |store, ex| match ex {
                Exports::Function(f) => f.call_handle(store, &event).await,
                _ => Err(wrong_kind()),
            },
            Ok,
        )
        .await
    }

    /// Calls a `wasi:http` function with an HTTP request and returns its whole response. The
    /// request needs a `Host` header or an absolute URI (`localhost` is assumed otherwise).
    pub async fn invoke_http(
        &self,
        cx: &CallContext,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, Fault> {
        self.require(
            matches!(self.inner.entry, Entry::WasiHttp(_)),
            "invoke_http",
        )?;
        self.run(
            cx,
            async |store, ex| match ex {
                Exports::WasiHttp(proxy) => crate::wasi_http::handle(store, proxy, req).await,
                _ => Err(wrong_kind()),
            },
            crate::wasi_http::check,
        )
        .await
    }

    /// Calls a `wasi:http` function and returns its response as soon as the guest sets the
    /// head, with a body the guest goes on writing (`responseTransferMode: STREAM`).
    ///
    /// The instance lives in a task of its own until the guest returns, bounded by the
    /// plugin's deadline like any call: the function's timeout is the stream's longest life,
    /// as a Lambda function's timeout bounds its stream. The body is not bounded in size
    /// (streamed answers may pass the buffered limit, as on AWS). A guest that traps, or hits
    /// its deadline, after the head breaks the body off: the client sees an incomplete
    /// response. Before the head, the faults are those of [`invoke_http`](Self::invoke_http),
    /// returned; after it, the caller has answered, so `late` is called with the fault instead
    /// (from the call's task), exactly once, whether or not anyone still reads the body.
    pub async fn invoke_http_streaming(
        &self,
        cx: &CallContext,
        req: http::Request<Bytes>,
        late: impl FnOnce(&Fault) + Send + 'static,
    ) -> Result<http::Response<StreamedBody>, Fault> {
        self.require(
            matches!(self.inner.entry, Entry::WasiHttp(_)),
            "invoke_http_streaming",
        )?;
        let deadline = Instant::now() + self.inner.shared.timeout;
        let backstop = tokio::time::Instant::from(deadline + BACKSTOP_GRACE);
        let running = self.inner.runtime.ticker.running();
        let mut live = self.live(cx, deadline).await?;
        drop(running);
        let (incoming, outparam, head) = crate::wasi_http::prepare(&mut live.store, req)
            .map_err(|e| self.fault(&e, &live.store, cx))?;
        let (plugin, call_cx) = (self.clone(), cx.clone());
        let (failed_tx, failed) = tokio::sync::oneshot::channel();
        let after_head = Arc::new(Mutex::new(AfterHead::Pending));
        let task_after_head = Arc::clone(&after_head);
        let mut call = tokio::spawn(async move {
            let Exports::WasiHttp(proxy) = &live.exports else {
                return Err(Fault::Trap(wrong_kind().to_string()));
            };
            let _running = plugin.inner.runtime.ticker.running();
            let handler = proxy.wasi_http_incoming_handler();
            let called = handler.call_handle(&mut live.store, incoming, outparam);
            let out = match tokio::time::timeout_at(backstop, called).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(plugin.fault(&e, &live.store, &call_cx)),
                Err(_) => Err(Fault::Deadline),
            };
            cap::log::report_dropped(live.store.data());
            if let Err(fault) = &out {
                // Before the store (and with it the body's sender) is dropped.
                let _ = failed_tx.send(());
                tracing::warn!(
                    plugin = %plugin.inner.name,
                    request_id = %call_cx.request_id,
                    fault = fault.label(),
                    "streaming function failed: {fault}"
                );
                AfterHead::failed(&task_after_head, fault);
            }
            plugin.put_back(live, out.is_ok());
            out
        });
        // A caller that gives up before the head (its integration timeout) stops the guest.
        let mut abort = AbortOnDrop(Some(call.abort_handle()));
        let mut head = std::pin::pin!(head);
        let joined = |done: Result<Result<(), Fault>, tokio::task::JoinError>| {
            done.unwrap_or_else(|e| Err(Fault::Trap(format!("the call task failed: {e}"))))
        };
        let head = tokio::select! {
            head = &mut head => head.ok(),
            done = &mut call => {
                joined(done)?;
                head.try_recv().ok()
            }
        };
        let outcome = match head {
            Some(Ok(resp)) => {
                abort.0 = None;
                AfterHead::streaming(&after_head, Box::new(late));
                Outcome::Response(resp.map(|body| crate::wasi_http::streamed(body, failed)))
            }
            Some(Err(code)) => Outcome::ErrorCode(code),
            None => {
                // The guest is done or going: its fault, if any, comes first.
                joined(call.await)?;
                Outcome::NoResponse
            }
        };
        crate::wasi_http::check(outcome)
    }

    /// Parses template `source` in one instance and keeps it there under `id`; returns the
    /// `$context` roots it reads, or where it does not parse. With [`InstancePolicy::Fresh`]
    /// the parsed template dies with the instance: this is a deploy-time check, and
    /// [`render_template`](Self::render_template) prepares on its own where needed.
    pub async fn prepare_template(
        &self,
        cx: &CallContext,
        id: u64,
        source: &str,
    ) -> Result<Result<Vec<String>, TemplateError>, Fault> {
        self.require(
            matches!(self.inner.entry, Entry::TemplateMapper(_)),
            "prepare_template",
        )?;
        self.run(
            cx,
            async |store, ex| match ex {
                Exports::TemplateMapper(t) => t.call_prepare(store, id, source).await,
                _ => Err(wrong_kind()),
            },
            |r| Ok(r.map_err(TemplateError::from)),
        )
        .await
    }

    /// Renders template `id` (whose text is `source`). Renders in the instance first; when the
    /// instance has not prepared `id` (always, for a fresh one), prepares it and renders again
    /// in the same instance, within the one deadline. With instance reuse, a template is
    /// parsed once per instance.
    pub async fn render_template(
        &self,
        cx: &CallContext,
        id: u64,
        source: &str,
        input: RenderInput,
    ) -> Result<Result<Rendered, RenderFailure>, Fault> {
        use template_mapper::RenderError;
        self.require(
            matches!(self.inner.entry, Entry::TemplateMapper(_)),
            "render_template",
        )?;
        let input = types::render_input(id, input);
        self.run(
            cx,
            async |store, ex| {
                let Exports::TemplateMapper(t) = ex else {
                    return Err(wrong_kind());
                };
                match t.call_render(&mut *store, &input).await? {
                    Err(RenderError::UnknownTemplate) => {}
                    first => return Ok(Twice::First(first)),
                }
                if let Err(e) = t.call_prepare(&mut *store, id, source).await? {
                    return Ok(Twice::Unprepared(e));
                }
                t.call_render(store, &input).await.map(Twice::Again)
            },
            |r| match r {
                Twice::First(Ok(out)) | Twice::Again(Ok(out)) => Ok(Ok(types::rendered(out))),
                Twice::First(Err(RenderError::Failed(m)))
                | Twice::Again(Err(RenderError::Failed(m))) => Ok(Err(RenderFailure::Failed(m))),
                Twice::Unprepared(e) => Ok(Err(RenderFailure::Template(e.into()))),
                Twice::First(Err(RenderError::UnknownTemplate))
                | Twice::Again(Err(RenderError::UnknownTemplate)) => Err(Fault::BadReturn(
                    format!("template mapper does not know template {id} right after preparing it"),
                )),
            },
        )
        .await
    }

    /// Compiles model `schema` (JSON text) with the `documents` its `$ref`s reach ((url, JSON
    /// text) pairs) in one instance and keeps it there under `id`. `Ok(Err(why))`: the model
    /// does not compile. Like [`prepare_template`](Self::prepare_template), a deploy-time check
    /// with [`InstancePolicy::Fresh`].
    pub async fn prepare_model(
        &self,
        cx: &CallContext,
        id: u64,
        schema: &str,
        documents: &[(String, String)],
    ) -> Result<Result<(), String>, Fault> {
        self.require(
            matches!(self.inner.entry, Entry::ModelValidator(_)),
            "prepare_model",
        )?;
        self.run(
            cx,
            async |store, ex| match ex {
                Exports::ModelValidator(v) => v.call_prepare(store, id, schema, documents).await,
                _ => Err(wrong_kind()),
            },
            Ok,
        )
        .await
    }

    /// Validates `body` against model `id` (compiled from `schema` and `documents`, see
    /// [`prepare_model`](Self::prepare_model)). Validates in the instance first; when the
    /// instance has not prepared `id`, prepares it and validates again in the same instance,
    /// within the one deadline.
    pub async fn validate_model(
        &self,
        cx: &CallContext,
        id: u64,
        schema: &str,
        documents: &[(String, String)],
        body: &[u8],
    ) -> Result<Result<(), ModelFailure>, Fault> {
        use model_validator::ValidateError;
        self.require(
            matches!(self.inner.entry, Entry::ModelValidator(_)),
            "validate_model",
        )?;
        self.run(
            cx,
            async |store, ex| {
                let Exports::ModelValidator(v) = ex else {
                    return Err(wrong_kind());
                };
                match v.call_validate(&mut *store, id, body).await? {
                    Err(ValidateError::UnknownModel) => {}
                    first => return Ok(Twice::First(first)),
                }
                if let Err(e) = v.call_prepare(&mut *store, id, schema, documents).await? {
                    return Ok(Twice::Unprepared(e));
                }
                v.call_validate(store, id, body).await.map(Twice::Again)
            },
            |r| match r {
                Twice::First(Ok(())) | Twice::Again(Ok(())) => Ok(Ok(())),
                Twice::First(Err(ValidateError::Invalid(m)))
                | Twice::Again(Err(ValidateError::Invalid(m))) => Ok(Err(ModelFailure::Invalid(m))),
                Twice::Unprepared(why) => Ok(Err(ModelFailure::Model(why))),
                Twice::First(Err(ValidateError::UnknownModel))
                | Twice::Again(Err(ValidateError::UnknownModel)) => Err(Fault::BadReturn(format!(
                    "model validator does not know model {id} right after preparing it"
                ))),
            },
        )
        .await
    }

    /// Refuses a call the plugin's world has no entry point for (a proxy bug, not a guest
    /// fault, but reported as one rather than panicking).
    fn require(&self, ok: bool, call: &str) -> Result<(), Fault> {
        if ok {
            return Ok(());
        }
        let kind = if self.is_wasi_http() {
            "wasi:http function"
        } else {
            self.inner.kind.name()
        };
        Err(Fault::Instantiate(format!(
            "plugin {} is a {kind} and cannot be called with {call}",
            self.inner.name
        )))
    }

    /// Runs one call: instance, deadline, call, fault classification, instance policy. `call`
    /// may make several export calls into the one instance (use, then prepare and use again:
    /// [`render_template`](Self::render_template)); they share the deadline.
    async fn run<T, R>(
        &self,
        cx: &CallContext,
        call: impl AsyncFnOnce(&mut Store<Host>, &Exports) -> wasmtime::Result<T>,
        check: impl FnOnce(T) -> Result<R, Fault>,
    ) -> Result<R, Fault> {
        let inner = &*self.inner;
        let deadline = Instant::now() + inner.shared.timeout;
        let work = async {
            // From the instance's start function to the last export call.
            let _running = inner.runtime.ticker.running();
            let mut live = self.live(cx, deadline).await?;
            let result = call(&mut live.store, &live.exports).await;
            cap::log::report_dropped(live.store.data());
            let out = match result {
                Ok(value) => check(value),
                Err(e) => Err(self.fault(&e, &live.store, cx)),
            };
            self.put_back(live, out.is_ok());
            out
        };
        match tokio::time::timeout_at((deadline + BACKSTOP_GRACE).into(), work).await {
            Ok(out) => out,
            Err(_) => Err(Fault::Deadline),
        }
    }

    /// An instance for a call (an idle reused one, or a fresh one), armed with `deadline`.
    async fn live(&self, cx: &CallContext, deadline: Instant) -> Result<Live, Fault> {
        let mut live = match self.take_idle() {
            Some(live) => live,
            None => self.instantiate(cx, deadline).await?,
        };
        host::arm(&mut live.store, cx, deadline);
        Ok(live)
    }

    fn take_idle(&self) -> Option<Live> {
        match self.inner.policy {
            InstancePolicy::Fresh => None,
            InstancePolicy::Reuse { .. } => self.inner.idle.pop(),
        }
    }

    /// Keeps a healthy instance for reuse, or drops it.
    fn put_back(&self, mut live: Live, healthy: bool) {
        let InstancePolicy::Reuse { max_uses } = self.inner.policy else {
            return;
        };
        live.uses += 1;
        if !healthy || live.uses >= max_uses {
            return;
        }
        drop(self.inner.idle.push(live));
    }

    /// A fresh instance: waits for a pool slot, then instantiates within the deadline.
    async fn instantiate(&self, cx: &CallContext, deadline: Instant) -> Result<Live, Fault> {
        let inner = &*self.inner;
        let slot = inner.runtime.slots.clone();
        let slot = match slot.try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => tokio::time::timeout_at(
                deadline.into(),
                inner.runtime.slots.clone().acquire_owned(),
            )
            .await
            .map_err(|_| Fault::Overloaded)?
            .map_err(|_| Fault::Overloaded)?,
        };
        inner.instantiations.fetch_add(1, Ordering::Relaxed);
        let mut store = host::new_store(
            &inner.runtime.engine,
            &inner.shared,
            &cx.request_id,
            deadline,
        )?;
        let exports = match &inner.entry {
            Entry::Authorizer(pre) => pre
                .instantiate_async(&mut store)
                .await
                .map(Exports::Authorizer),
            Entry::AuthorizerV0(pre) => pre
                .instantiate_async(&mut store)
                .await
                .map(Exports::AuthorizerV0),
            Entry::Mapper(pre) => pre.instantiate_async(&mut store).await.map(Exports::Mapper),
            Entry::Validator(pre) => pre
                .instantiate_async(&mut store)
                .await
                .map(Exports::Validator),
            Entry::Function(pre) => pre
                .instantiate_async(&mut store)
                .await
                .map(Exports::Function),
            Entry::WasiHttp(pre) => pre
                .instantiate_async(&mut store)
                .await
                .map(Exports::WasiHttp),
            Entry::TemplateMapper(pre) => pre
                .instantiate_async(&mut store)
                .await
                .map(Exports::TemplateMapper),
            Entry::ModelValidator(pre) => pre
                .instantiate_async(&mut store)
                .await
                .map(Exports::ModelValidator),
        };
        match exports {
            Ok(exports) => Ok(Live {
                store,
                exports,
                uses: 0,
                _slot: slot,
            }),
            Err(e) => Err(match self.fault(&e, &store, cx) {
                // Not a trap in a start function: the instance could not be created.
                Fault::Trap(_) if e.downcast_ref::<wasmtime::Trap>().is_none() => {
                    Fault::Instantiate(format!("{e:#}"))
                }
                fault => fault,
            }),
        }
    }

    /// Classifies a call's error. Out-of-memory is recognised by the limiter having refused a
    /// growth, a deadline by the epoch callback's error type; the rest is a trap.
    fn fault(&self, e: &wasmtime::Error, store: &Store<Host>, cx: &CallContext) -> Fault {
        let host = store.data();
        let fault = if host.limits.refused {
            Fault::OutOfMemory
        } else if e.downcast_ref::<DeadlineExceeded>().is_some()
            || matches!(
                e.downcast_ref::<wasmtime::Trap>(),
                Some(wasmtime::Trap::Interrupt)
            )
        {
            Fault::Deadline
        } else {
            let what = if let Some(exit) = e.downcast_ref::<wasmtime_wasi::I32Exit>() {
                format!("guest exited with status {}", exit.0)
            } else if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
                trap.to_string()
            } else {
                format!("{e}")
            };
            let output = host.output.tail();
            if output.is_empty() {
                Fault::Trap(what)
            } else {
                Fault::Trap(format!("{what}; guest output: {output}"))
            }
        };
        tracing::debug!(
            plugin = %self.inner.name,
            request_id = %cx.request_id,
            fault = fault.label(),
            "plugin fault: {e:?}"
        );
        fault
    }
}

/// How a use-or-prepare call ended: the first call's answer, the prepare's refusal, or the
/// answer of the call after preparing.
enum Twice<T, E> {
    First(T),
    Unprepared(E),
    Again(T),
}

/// Who reports a streaming call's fault: the caller, as the call's result, until it has the
/// response head; after that the `late` callback. The call's task and the caller each move the
/// state once, under the lock, so a fault that races the head is reported exactly once.
enum AfterHead {
    /// The caller has not taken the head yet: a fault now is returned to it, or, if the head
    /// was already out, handed to `late` when the caller takes it.
    Pending,
    /// The caller streams the body: a fault goes to `late`.
    Streaming(Box<dyn FnOnce(&Fault) + Send>),
    /// The call failed before the caller took the head.
    Failed(Fault),
    /// Reported.
    Done,
}

impl AfterHead {
    /// The call's task: the call failed with `fault`.
    fn failed(state: &Mutex<Self>, fault: &Fault) {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        match std::mem::replace(&mut *state, Self::Done) {
            Self::Pending => *state = Self::Failed(fault.clone()),
            Self::Streaming(late) => late(fault),
            Self::Failed(_) | Self::Done => {}
        }
    }

    /// The caller: it answers with the head, so any fault from now on is late.
    fn streaming(state: &Mutex<Self>, late: Box<dyn FnOnce(&Fault) + Send>) {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        match std::mem::replace(&mut *state, Self::Done) {
            Self::Pending => *state = Self::Streaming(late),
            Self::Failed(fault) => late(&fault),
            Self::Streaming(_) | Self::Done => {}
        }
    }
}

/// Aborts a task when dropped, unless disarmed (`.0 = None`).
struct AbortOnDrop(Option<tokio::task::AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

fn wrong_kind() -> wasmtime::Error {
    // Not reachable: every entry point checks the kind with `Plugin::require` first.
    wasmtime::Error::msg("the plugin's kind does not have this entry point")
}

impl PluginKind {
    /// A lower-case name for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Authorizer => "authorizer",
            Self::Mapper => "mapper",
            Self::Validator => "validator",
            Self::Function => "function",
            Self::TemplateMapper => "template-mapper",
            Self::ModelValidator => "model-validator",
        }
    }
}

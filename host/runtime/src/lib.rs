//! Portico's WebAssembly plugin runtime.
//!
//! Every programmable step of the gateway (authorizers, mappers, validators, functions, template
//! mappers, model validators) is a WebAssembly component implementing one world of the
//! `portico:plugin` WIT package (`wit/`).
//! This crate is the only place that knows about wasmtime: the proxy hands it component bytes
//! and a [`PluginSpec`], gets a [`Plugin`] back, and calls it with plain Rust values.
//!
//! How the pieces fit:
//!
//! - [`Runtime`] (`runtime.rs`): one per process. The `Engine` (component model, async,
//!   pooling allocator, epoch interruption), the epoch ticker thread, the artifact cache, the
//!   key-value store, the outbound HTTP hook, and a semaphore over the pool's instance slots.
//!   [`Runtime::load`] compiles (`cache.rs`), checks and links (`loader.rs`) a component.
//! - [`Plugin`] (`plugin.rs`): a checked, pre-linked component and its [`InstancePolicy`]. Its
//!   typed entry points ([`Plugin::authorize`], [`Plugin::map_request`], ...) each run one call:
//!   a fresh instance (or an idle reused one), the deadline armed, the call, faults classified.
//!   `wasi_http.rs` drives `wasi:http` functions.
//! - The store (`host.rs`): WASI context with nothing ambient, resource table, memory limiter,
//!   the current call's request id, deadline and client certificate, captured guest output.
//! - Capabilities (`cap/*.rs`): `log`, `kv`, `http-client`, linked only when granted; `config`
//!   and `request-tls` (the [`CallContext`]'s client certificate), linked always.
//!   [`OutboundHttp`] (`outbound.rs`) is how outbound requests leave: through the proxy's client.
//! - `bindings.rs`: the only `bindgen!`. [`types`] mirrors the WIT records as plain Rust types
//!   and checks what guests return.
//! - Errors (`error.rs`): [`LoadError`] at deploy time, [`Fault`] per call. An answer (deny,
//!   validation failure, function error) is never a fault.
//!
//! ## Prepared templates and models
//!
//! A template mapper or model validator parses a template (compiles a model) once and keeps it
//! *in the instance*, under an id the proxy picks. [`Plugin::render_template`] and
//! [`Plugin::validate_model`] therefore take the source along with the id: the guest answers
//! `unknown-template` / `unknown-model` when its instance has not prepared that id, and the same
//! host call then prepares it and asks again, in the same instance and store, within the one
//! deadline. With [`InstancePolicy::Fresh`] every call pays the parse; the first-party
//! `mapper-vtl` and `validator-jsonschema` keep no request state (only parsed templates,
//! compiled models and fetched `$ref` documents), so running them with instance reuse
//! (`instances: reuse` in the gateway file) is safe, and makes the prepare happen once per
//! instance.
//!
//! Calls must run inside a tokio runtime with the time driver enabled (deadlines use
//! `tokio::time`); [`Runtime::load`] blocks while compiling and belongs in `spawn_blocking`.
//!
//! `docs/runtime.md` explains the engine settings, limits, deadlines, instance policy and
//! fault taxonomy, and what the proxy should answer for each fault.
#![deny(unsafe_code)]

mod bindings;
mod cache;
mod cap;
mod error;
mod host;
mod loader;
mod outbound;
mod plugin;
mod runtime;
mod spec;
mod ticker;
pub mod types;
mod wasi_http;

pub use error::{Fault, LoadError, RuntimeError};
pub use outbound::{BoxFuture, NoOutbound, OutboundError, OutboundHttp};
pub use plugin::{CallContext, Plugin, StreamedBody};
pub use runtime::{
    CORE_INSTANCES_PER_COMPONENT, MEMORIES_PER_COMPONENT, PoolUsage, Runtime, RuntimeOptions,
    TABLES_PER_COMPONENT,
};
pub use spec::{
    DEFAULT_MEMORY_LIMIT, DEFAULT_TIMEOUT, Grants, InstancePolicy, PluginKind, PluginSpec, Preopen,
};
pub use types::{
    ClientCert, Decision, Field, MAX_LAMBDA_OUTPUT, MappedRequest, MappedResponse, ModelFailure,
    Overrides, RenderFailure, RenderInput, Rendered, Reply, RequestHead, TemplateError,
};

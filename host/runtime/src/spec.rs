//! What the gateway file says about one plugin: its world, its grants, its limits and its
//! instance policy. Plain data; [`Runtime::load`](crate::Runtime::load) checks it.

use std::path::PathBuf;
use std::time::Duration;

/// The default per-call deadline: generous for a Rust authorizer (tens of microseconds), enough
/// for a reused JS or Python instance (tens of microseconds to a few milliseconds), and short
/// enough that a stuck plugin answers its client quickly.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);

/// The default linear-memory limit of one instance: room for a JS (StarlingMonkey) or Python
/// (componentize-py) guest, whose initial heaps are tens of MiB; a Rust guest uses about 1 MiB.
pub const DEFAULT_MEMORY_LIMIT: usize = 128 << 20;

/// A plugin as the gateway file declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSpec {
    /// The plugin's name: in log lines, error messages, and the key-value namespace.
    pub name: String,
    /// The world its component must export.
    pub kind: PluginKind,
    /// The host capabilities it may import.
    pub grants: Grants,
    /// Deadline of one call, instantiation included ([`DEFAULT_TIMEOUT`] is 50 ms).
    pub timeout: Duration,
    /// Linear-memory limit of one instance, all memories together ([`DEFAULT_MEMORY_LIMIT`] is
    /// 128 MiB). At most [`RuntimeOptions::max_memory_bytes`](crate::RuntimeOptions).
    pub memory_limit_bytes: usize,
    /// Fresh instance per call, or bounded reuse.
    pub instances: InstancePolicy,
}

impl PluginSpec {
    /// A spec with no grants, the default deadline, memory limit and instance policy.
    pub fn new(name: impl Into<String>, kind: PluginKind) -> Self {
        Self {
            name: name.into(),
            kind,
            grants: Grants::default(),
            timeout: DEFAULT_TIMEOUT,
            memory_limit_bytes: DEFAULT_MEMORY_LIMIT,
            instances: InstancePolicy::Fresh,
        }
    }
}

/// The plugin kinds, one WIT world each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginKind {
    /// `portico:plugin/authorizer`: exports `authorize`.
    Authorizer,
    /// `portico:plugin/mapper`: exports `map-request` and `map-response`.
    Mapper,
    /// `portico:plugin/validator`: exports `validate`.
    Validator,
    /// `portico:plugin/function` (exports `handle`), or a component exporting the standard
    /// `wasi:http/incoming-handler`.
    Function,
    /// `portico:plugin/template-mapper`: exports `prepare` and `render` (mapping templates).
    TemplateMapper,
    /// `portico:plugin/model-validator`: exports `prepare` and `validate` (request models). Its
    /// `http-client` import is linked without a grant (a fetch then answers `host-not-allowed`),
    /// since fetching remote `$ref`s is optional.
    ModelValidator,
}

impl PluginKind {
    /// The world's full name, as error messages show it.
    pub fn world(self) -> &'static str {
        match self {
            Self::Authorizer => "portico:plugin/authorizer@0.1.3",
            Self::Mapper => "portico:plugin/mapper@0.1.3",
            Self::Validator => "portico:plugin/validator@0.1.3",
            Self::Function => "portico:plugin/function@0.1.3 or wasi:http/proxy@0.2",
            Self::TemplateMapper => "portico:plugin/template-mapper@0.1.3",
            Self::ModelValidator => "portico:plugin/model-validator@0.1.3",
        }
    }
}

/// Host capabilities granted to one plugin. Nothing else is reachable: no environment, no
/// arguments, no network, no files but the preopens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// `portico:plugin/log`: log lines tagged with the plugin and the request id.
    pub log: bool,
    /// `portico:plugin/config`: the plugin's configuration as JSON text. Parsed once at load
    /// (invalid JSON rejects the plugin); the interface is always linked, answering `null`
    /// when this is `None`.
    pub config: Option<String>,
    /// `portico:plugin/kv`: a key-value cache with TTL, private to the plugin name.
    pub kv: bool,
    /// `portico:plugin/http-client` (and `wasi:http/outgoing-handler` for `wasi:http`
    /// functions): host names the plugin may call. `api.example.com` matches that host only;
    /// `*.example.com` matches any name below `example.com` (not `example.com` itself), on any
    /// port; `127.0.0.1:8080` matches that host on that port only. Empty: no outbound HTTP.
    pub http_allow: Vec<String>,
    /// Directories the plugin sees through `wasi:filesystem`.
    pub preopens: Vec<Preopen>,
}

/// A host directory visible to the plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    /// The directory on the host. It must exist at load time.
    pub host_path: PathBuf,
    /// Where the guest sees it, e.g. `/data`.
    pub guest_path: String,
    /// Read-only: the guest can list and read, not create, write or delete.
    pub read_only: bool,
}

/// How instances are used for calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InstancePolicy {
    /// A fresh instance per call (the default): nothing a call leaves in memory reaches
    /// another call. About 24 µs per call for a small Rust guest; milliseconds for JS/Python.
    #[default]
    Fresh,
    /// Keep live instances and call them again, up to `max_uses` calls each. A call into a live
    /// instance costs about 1.4 µs (Rust), 9 µs (Python) or 41 µs (JS). Memory and globals
    /// persist between calls of the same plugin, so one request can see what an earlier one
    /// left behind (never another plugin's). An instance is dropped after any fault.
    Reuse {
        /// Calls per instance before it is replaced (at least 1).
        max_uses: u32,
    },
}

//! The runtime's errors: [`LoadError`] when a component is rejected at deploy time, [`Fault`]
//! when a call goes wrong, [`RuntimeError`] when the engine cannot start.
//!
//! A fault is not an answer: a deny or a validation failure comes back as a WIT
//! `variant`/`result` value inside `Ok`. Fault texts are for the gateway's logs; the guest never
//! sees them, and the client sees only the proxy's generic error response.

use std::time::Duration;

/// Why a call did not produce an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// The guest trapped (`unreachable`, a panic, an out-of-bounds access, `exit`), with the
    /// trap and the tail of the guest's stderr (a Rust panic message, for instance).
    #[error("plugin trapped: {0}")]
    Trap(String),
    /// The call (instantiation included) ran past the plugin's deadline.
    #[error("plugin ran past its deadline")]
    Deadline,
    /// The guest tried to grow its memory (or tables) past the plugin's limit, and failed.
    #[error("plugin ran out of memory")]
    OutOfMemory,
    /// The guest returned a value the gateway cannot use (a status outside 100–599, an invalid
    /// header, a context key with characters other than `[A-Za-z0-9_]`, ...).
    #[error("plugin returned a malformed value: {0}")]
    BadReturn(String),
    /// The instance could not be created (a preopen that went away, the instance pool
    /// misconfigured for this component, ...).
    #[error("plugin could not be instantiated: {0}")]
    Instantiate(String),
    /// Every instance slot of the runtime stayed busy for the whole deadline.
    #[error("no free instance slot within the deadline")]
    Overloaded,
}

impl Fault {
    /// A short, stable label for metrics: `trap`, `deadline`, `out_of_memory`, `bad_return`,
    /// `instantiate` or `overloaded`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Trap(_) => "trap",
            Self::Deadline => "deadline",
            Self::OutOfMemory => "out_of_memory",
            Self::BadReturn(_) => "bad_return",
            Self::Instantiate(_) => "instantiate",
            Self::Overloaded => "overloaded",
        }
    }
}

/// Why a component was rejected at load (deploy) time. Each message names the plugin and says
/// what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// Not a WebAssembly component, or it does not validate or compile.
    #[error("plugin {plugin} is not a valid WebAssembly component: {detail}")]
    Invalid {
        /// The plugin's name.
        plugin: String,
        /// What the parser or compiler said.
        detail: String,
    },
    /// The component does not export the world its kind needs.
    #[error("plugin {plugin} does not implement {expected}: {detail}")]
    WrongWorld {
        /// The plugin's name.
        plugin: String,
        /// The world its kind needs.
        expected: &'static str,
        /// What it exports instead, or which export has the wrong type.
        detail: String,
    },
    /// The component imports a host capability its grants do not include.
    #[error("plugin {plugin} imports {import}, which its grants do not include ({hint})")]
    NotGranted {
        /// The plugin's name.
        plugin: String,
        /// The imported interface, e.g. `portico:plugin/kv@0.1.3`.
        import: String,
        /// How to grant it, e.g. "add `kv` to grants".
        hint: &'static str,
    },
    /// The component imports something the gateway never offers.
    #[error("plugin {plugin} imports {import}, which Portico does not offer{hint}")]
    UnsupportedImport {
        /// The plugin's name.
        plugin: String,
        /// The imported name.
        import: String,
        /// Extra advice (may be empty).
        hint: &'static str,
    },
    /// Imports look right by name, but linking failed (a function or type the host does not
    /// provide in that version).
    #[error("plugin {plugin} cannot be linked: {detail}")]
    Link {
        /// The plugin's name.
        plugin: String,
        /// What the linker said.
        detail: String,
    },
    /// The plugin's config is not valid JSON.
    #[error("plugin {plugin}: config is not valid JSON: {detail}")]
    InvalidConfig {
        /// The plugin's name.
        plugin: String,
        /// Where and why parsing failed.
        detail: String,
    },
    /// A grant or limit in the spec cannot be honoured.
    #[error("plugin {plugin}: {detail}")]
    InvalidSpec {
        /// The plugin's name.
        plugin: String,
        /// What is wrong and what is allowed.
        detail: String,
    },
}

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// wasmtime rejected the engine configuration (for example, not enough address space for
    /// the instance pool).
    #[error("cannot create the WebAssembly engine: {0}")]
    Engine(String),
    /// The artifact cache directory cannot be created.
    #[error("cannot use the artifact cache directory {path}: {source}")]
    CacheDir {
        /// The directory.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An option is out of range.
    #[error("invalid runtime option: {0}")]
    Option(String),
}

/// The deadline a call ran past, carried through wasmtime as the error of the epoch callback
/// so that a deadline is recognised by type, not by message.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("deadline of {0:?} exceeded")]
pub(crate) struct DeadlineExceeded(pub(crate) Duration);

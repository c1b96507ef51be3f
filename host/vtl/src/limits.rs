//! The budgets that keep a hostile template or body bounded: parse-time constants and the
//! per-render [`Limits`].

/// Largest template accepted by [`crate::Template::parse`]: 300 KB, the AWS mapping-template
/// quota (`[DG:api-gateway-known-issues]`).
pub const MAX_TEMPLATE_BYTES: usize = 300 * 1024;

/// Deepest nesting the parser accepts (directive blocks, brackets, parentheses and
/// interpolated strings together), so parsing and evaluation never exhaust the stack.
pub const MAX_NESTING: usize = 64;

/// Most elements a range literal `[a..b]` may produce; larger ranges are a render error
/// instead of an allocation of gigabytes.
pub const MAX_RANGE_LEN: usize = 100_000;

/// Deepest value nesting that `toString`, JSON output and `equals` walk before failing (a list
/// that contains itself would otherwise recurse forever).
pub const MAX_VALUE_DEPTH: usize = 256;

/// Deepest recursion of the renderer (blocks inside blocks, expressions inside expressions,
/// macro bodies inside macro calls, counted together), so no combination of nesting and macro
/// recursion can exhaust the stack, including a Wasm guest's small one.
pub const MAX_RENDER_DEPTH: usize = 200;

/// Backtracking steps one regular-expression match may take (`matches`, `replaceAll`,
/// `split`, JSONPath `=~`) before it fails instead of hanging on a catastrophic pattern.
pub const REGEX_BACKTRACK_LIMIT: usize = 100_000;

/// Deepest nesting of a JSONPath filter expression (`[?( .. )]`).
pub const MAX_JSONPATH_NESTING: usize = 32;

/// AWS's `#foreach` cap: 1000 iterations per loop (`[DG:limits]`).
pub const DEFAULT_MAX_FOREACH: usize = 1000;

/// Deepest macro call chain; Velocity's own default `velocimacro.max.depth` is 20.
pub const DEFAULT_MAX_MACRO_DEPTH: usize = 20;

/// Largest output (and largest intermediate string): 10 MB, the API Gateway payload quota.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 10 * 1024 * 1024;

/// Evaluation steps (nodes rendered plus expressions evaluated) one render may take.
pub const DEFAULT_MAX_STEPS: u64 = 2_000_000;

/// Budgets for one render. Every exceeded budget is a [`crate::RenderError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Iterations one `#foreach` may run ([`DEFAULT_MAX_FOREACH`]).
    pub max_foreach: usize,
    /// Deepest macro call chain ([`DEFAULT_MAX_MACRO_DEPTH`]).
    pub max_macro_depth: usize,
    /// Largest output or intermediate string in bytes ([`DEFAULT_MAX_OUTPUT_BYTES`]).
    pub max_output_bytes: usize,
    /// Evaluation steps ([`DEFAULT_MAX_STEPS`]).
    pub max_steps: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_foreach: DEFAULT_MAX_FOREACH,
            max_macro_depth: DEFAULT_MAX_MACRO_DEPTH,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
            max_steps: DEFAULT_MAX_STEPS,
        }
    }
}

//! Velocity (VTL) mapping templates as Amazon API Gateway runs them.
//!
//! This crate owns the whole template engine: it parses a template once per deploy
//! ([`Template::parse`]) into an immutable tree, and renders it per request
//! ([`Template::render`]) against the request's [`Input`]. It is pure Rust with no I/O, so it
//! also builds for `wasm32-wasip2`.
//!
//! How the pieces fit (all modules are private):
//! - `parser` turns template text into nodes (`ast`), with Velocity 1.7's whitespace
//!   gobbling; `expr` parses the expressions inside directives and method arguments; both
//!   share the byte cursor in `lexer`.
//! - `render` walks the nodes (directives, macros, budgets); `eval` evaluates expressions and
//!   references; `methods` is the Java method table for strings, maps and lists; `value` is
//!   the runtime value and its Java `toString`.
//! - `$input` lives in `input` (with Jayway-style JSONPath in `jsonpath`), `$util` in `util`,
//!   Java regexes in `jregex`, and the `$context.requestOverride` / `responseOverride`
//!   bookkeeping in `overrides`; `limits` names every budget.
//!
//! Where AWS differs from plain Velocity 1.7, AWS wins; each such place says so in its module
//! and cites the source, and `tests/cases/*.yaml` records every behaviour with its source:
//! - a null or undefined reference renders as the empty string, not its source text;
//! - an empty body reads as `{}` (`$input.body`, `$input.json('$')`, `$input.path('$')`);
//! - `#foreach` fails past 1000 iterations (Velocity has no cap by default);
//! - writing the same override twice is an error (AWS answers 5XX).
//!
//! Every budget in [`Limits`] (and the parse-time constants) turns a hostile template into a
//! [`ParseError`] or [`RenderError`], never a panic, a hang or unbounded memory.

mod ast;
mod error;
mod eval;
mod expr;
mod input;
mod jregex;
mod jsonpath;
mod lexer;
mod limits;
mod methods;
mod overrides;
mod parser;
mod render;
mod util;
mod value;

use std::collections::HashMap;
use std::sync::Arc;

pub use error::{ParseError, RenderError};
pub use limits::{
    DEFAULT_MAX_FOREACH, DEFAULT_MAX_MACRO_DEPTH, DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_MAX_STEPS,
    Limits, MAX_JSONPATH_NESTING, MAX_NESTING, MAX_RANGE_LEN, MAX_RENDER_DEPTH, MAX_TEMPLATE_BYTES,
    MAX_VALUE_DEPTH, REGEX_BACKTRACK_LIMIT,
};

/// A parsed mapping template. Parsed once per deploy, never per request; `Send + Sync`, so one
/// copy serves every worker.
#[derive(Debug)]
pub struct Template {
    nodes: Vec<ast::Node>,
    macros: HashMap<String, Arc<ast::MacroDef>>,
    context_roots: Vec<String>,
    reads_params: bool,
}

impl Template {
    /// Parses `source`. Refuses templates over [`MAX_TEMPLATE_BYTES`] and nesting deeper than
    /// [`MAX_NESTING`]; the error names the line and column.
    pub fn parse(source: &str) -> Result<Template, ParseError> {
        if source.len() > MAX_TEMPLATE_BYTES {
            return Err(ParseError {
                line: 1,
                column: 1,
                message: format!(
                    "template is {} bytes, over the {} byte limit",
                    source.len(),
                    MAX_TEMPLATE_BYTES
                ),
            });
        }
        let parsed = parser::parse_template(source)?;
        let mut roots = Vec::new();
        let mut reads_params = false;
        ast::scan_roots(&parsed.nodes, &mut roots, &mut reads_params);
        for def in parsed.macros.values() {
            ast::scan_roots(&def.body, &mut roots, &mut reads_params);
        }
        roots.sort();
        roots.dedup();
        Ok(Template {
            nodes: parsed.nodes,
            macros: parsed.macros,
            context_roots: roots,
            reads_params,
        })
    }

    /// Renders the template against one request. Any error is a [`RenderError`]; AWS answers
    /// 500 for all of them.
    pub fn render(&self, input: &Input<'_>) -> Result<Rendered, RenderError> {
        render::render(self, input)
    }

    /// The `$context.<first segment>` names the template reads, sorted, so the host builds only
    /// those (e.g. `["authorizer", "identity", "requestId"]`). A `$context` read whose first
    /// segment is not a literal name (`$context[$k]`, `$context` passed whole) adds `"*"`:
    /// build everything. `requestOverride` and `responseOverride` are never listed: the engine
    /// provides them from [`Input::overrides`].
    pub fn context_roots(&self) -> &[String] {
        &self.context_roots
    }

    /// Whether the template calls `$input.params(..)` (with or without a name), so the host
    /// knows it must collect path, query-string and header parameters.
    pub fn reads_input_params(&self) -> bool {
        self.reads_params
    }
}

/// Everything a render reads from the request.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// `$input.body`: the raw payload (an empty body renders as `{}`, like AWS).
    pub body: &'a str,
    /// `body` already parsed as JSON (by a request validator), which `$input.path` and
    /// `$input.json` then read instead of parsing `body` again. It must be what `body` parses
    /// to, with `{}` for an empty body.
    pub body_json: Option<&'a serde_json::Value>,
    /// Path parameters, in order.
    pub path: &'a [(String, String)],
    /// Query-string parameters in order; a repeated name repeats (the last one wins in maps).
    pub querystring: &'a [(String, String)],
    /// Headers, names as the client sent them.
    pub header: &'a [(String, String)],
    /// The `$context` tree: an object of strings, numbers, bools and nested objects.
    pub context: &'a serde_json::Value,
    /// `$stageVariables`.
    pub stage_variables: &'a [(String, String)],
    /// Overrides already set (e.g. a MOCK request template's `responseOverride`), visible to
    /// this template and carried into [`Rendered::overrides`].
    pub overrides: Overrides,
    /// Budgets for this render.
    pub limits: Limits,
}

/// The request and response overrides a template set through `$context.requestOverride` and
/// `$context.responseOverride`.
#[derive(Default, Clone, Debug, PartialEq)]
pub struct Overrides {
    /// `$context.requestOverride.header.<name>`.
    pub request_header: Vec<(String, String)>,
    /// `$context.requestOverride.path.<name>`.
    pub request_path: Vec<(String, String)>,
    /// `$context.requestOverride.querystring.<name>`.
    pub request_querystring: Vec<(String, String)>,
    /// `$context.responseOverride.header.<name>`.
    pub response_header: Vec<(String, String)>,
    /// `$context.responseOverride.status`.
    pub response_status: Option<u16>,
}

/// The result of a render.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The rendered text.
    pub body: String,
    /// All overrides: those given in [`Input::overrides`] plus those this template set.
    pub overrides: Overrides,
}

/// Checks a JSONPath in the dialect templates use (Jayway's): `Err` says what is wrong. For
/// callers outside templates, such as parameter mapping's `method.request.body.PATH`.
pub fn check_json_path(path: &str) -> Result<(), String> {
    jsonpath::select(&serde_json::Value::Null, path).map(|_| ())
}

/// Evaluates a JSONPath against `root` as `$input.json` does: a definite path gives the value,
/// an indefinite one the list of matches; `Ok(None)` when a definite path selects nothing.
pub fn json_path(
    root: &serde_json::Value,
    path: &str,
) -> Result<Option<serde_json::Value>, String> {
    jsonpath::select(root, path).map(|s| s.to_json())
}

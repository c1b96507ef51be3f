//! Request-body model validation for Portico: JSON Schema **draft 4**, as Amazon API Gateway
//! validates a REST method's request body against its `requestModels` entry.
//!
//! This crate owns three things, and nothing else (no I/O, no async, no network; it also builds
//! for `wasm32-wasip2` so it can be embedded in a Wasm validator component):
//!
//! * [`Models`] ([`models`]): the models of one API compiled once per deploy, with `$ref`s
//!   between them in AWS's URL form `https://apigateway.amazonaws.com/restapis/{api_id}/models/{Name}`
//!   or in the OpenAPI / Swagger forms `#/components/schemas/{Name}` and `#/definitions/{Name}`
//!   (rewritten by [`refs`]); extra documents reachable by absolute URL are supplied by the caller
//!   ([`documents`]) — an unknown remote `$ref` is a compile error, never a network call.
//! * [`Model`] ([`model`]): one compiled schema; [`Model::validate`] answers `Ok` or the text AWS
//!   puts in `$context.error.validationErrorString`, and [`Model::validate_bytes`] first parses the
//!   body (an empty body validates as `{}`, as in AWS and LocalStack).
//! * The error texts ([`messages`]): the `jsonschema` crate's error kinds mapped to the messages of
//!   the Java fge `json-schema-validator` that AWS uses, e.g.
//!   `[object has missing required properties (["name"])]`. The mapping table is in [`messages`].
//!
//! Validation engine: the `jsonschema` crate, forced to draft 4 whatever `$schema` says.
//!
//! ## The `format` keyword
//!
//! Formats are **asserted**, as fge does by default for draft 4, for exactly fge's draft-4 set:
//! `date-time`, `email`, `hostname`, `ipv4`, `ipv6`, `uri` and `regex`. Any other format name
//! (`date`, `time`, `uuid`, a custom name …) is ignored, as fge ignores formats it does not know
//! (it only logs a warning).
//!
//! ## Limits
//!
//! [`MAX_SCHEMA_BYTES`] bounds one schema document, [`MAX_SCHEMA_DEPTH`] its nesting,
//! [`MAX_REPORTED_ERRORS`] the number of messages in one `validationErrorString`. `$ref` cycles
//! need no depth limit: references are resolved lazily by the engine, and a schema that loops on
//! the same instance without consuming it is rejected at validation time by the engine. The size
//! of a request body to validate is the caller's limit (API Gateway's payload limit).

pub mod documents;
pub mod messages;
pub mod model;
pub mod models;
pub mod refs;

pub use model::{Model, compile_schema};
pub use models::{ModelError, Models, Portable};

/// The largest schema document accepted, in bytes of its compact JSON serialization (1 MiB).
/// Portico's own bound (AWS publishes no per-model size); larger documents are a compile error.
pub const MAX_SCHEMA_BYTES: usize = 1024 * 1024;

/// The deepest nesting of objects and arrays accepted in a schema document (serde_json's own
/// parser limit is 128); deeper documents are a compile error rather than a stack overflow.
pub const MAX_SCHEMA_DEPTH: usize = 128;

/// At most this many messages are joined into one `validationErrorString`; past it the list ends
/// with `… and N more`. fge itself reports every error; this bounds the text a huge, badly wrong
/// body can produce.
pub const MAX_REPORTED_ERRORS: usize = 100;

/// The `$ref` base of AWS model URLs; a model is `{AWS_MODEL_URL_PREFIX}{api_id}/models/{Name}`.
pub const AWS_MODEL_URL_PREFIX: &str = "https://apigateway.amazonaws.com/restapis/";

//! One compiled schema ([`Model`]) and how it is built and run: the engine options (draft 4,
//! fge's asserted formats, the offline retriever) and the body parsing of
//! [`Model::validate_bytes`]. The error texts come from [`crate::messages`].

use std::sync::Arc;

use jsonschema::{Draft, Validator};
use serde_json::Value;

use crate::documents::{Documents, check_limits};
use crate::messages;

/// One compiled model: validates request bodies. `Send + Sync` on native targets.
#[derive(Debug)]
pub struct Model {
    validator: Validator,
    /// The schema as compiled (after `$ref` rewriting), to describe `allOf` failures.
    root: Arc<Value>,
    /// The documents `$ref`s reach, to describe `allOf` failures behind a `$ref`.
    documents: Documents,
}

impl Model {
    /// The schema as compiled (its `$ref`s rewritten to absolute URLs).
    pub(crate) fn root(&self) -> &Value {
        &self.root
    }

    /// Ok, or Err(validation_error_string): AWS's `$context.error.validationErrorString` text,
    /// a bracketed list of fge messages such as `[object has missing required properties (["name"])]`.
    pub fn validate(&self, body: &Value) -> Result<(), String> {
        if self.validator.is_valid(body) {
            return Ok(());
        }
        let lookup = messages::Lookup {
            root: &self.root,
            documents: &self.documents,
        };
        Err(messages::validation_error_string(
            self.validator.iter_errors(body),
            &lookup,
        ))
    }

    /// Parses `body` as JSON and validates it; `Ok` is the parsed body, for the request
    /// template to read without parsing it again. An empty (or all-whitespace) body validates as
    /// `{}`, as in AWS and LocalStack; a body that is not JSON is an `Err` naming the parse error,
    /// e.g. `[Invalid JSON in request body: expected value at line 1 column 1]`.
    pub fn validate_bytes(&self, body: &[u8]) -> Result<Value, String> {
        let value = if body.iter().all(u8::is_ascii_whitespace) {
            Value::Object(serde_json::Map::new())
        } else {
            serde_json::from_slice::<Value>(body)
                .map_err(|e| format!("[Invalid JSON in request body: {e}]"))?
        };
        self.validate(&value).map(|()| value)
    }
}

/// Compiles one standalone schema (for the conformance suite and user validators), forced to
/// draft 4. `documents` are the documents reachable by absolute `$ref` URL; an unknown remote
/// `$ref` is an error, never a network call. `Err` is the reason the schema does not compile.
pub fn compile_schema(schema: &Value, documents: &[(String, Value)]) -> Result<Model, String> {
    check_limits(schema).map_err(|e| e.to_string())?;
    for (url, doc) in documents {
        check_limits(doc).map_err(|e| format!("document {url}: {e}"))?;
    }
    let documents = Documents::new(documents.iter().cloned().collect());
    build(schema.clone(), None, documents)
}

/// Builds the validator of `schema`, whose own URL is `base` (a model's canonical URL).
pub(crate) fn build(
    schema: Value,
    base: Option<&str>,
    documents: Documents,
) -> Result<Model, String> {
    let mut options = jsonschema::options()
        .with_draft(Draft::Draft4)
        .should_validate_formats(true)
        // fge's draft-4 formats are date-time, email, hostname, ipv4, ipv6, uri and regex; the
        // engine also knows `date` and `time` for draft 4, which fge ignores.
        .with_format("date", |_: &str| true)
        .with_format("time", |_: &str| true)
        .with_retriever(documents.clone());
    if let Some(base) = base {
        options = options.with_base_uri(base);
    }
    let validator = options.build(&schema).map_err(|e| {
        let at = e.instance_path().as_str();
        if at.is_empty() {
            format!("invalid schema: {e}")
        } else {
            format!("invalid schema: {e} (at {at})")
        }
    })?;
    Ok(Model {
        validator,
        root: Arc::new(schema),
        documents,
    })
}

//! The first-party model validator (`portico:plugin/model-validator`): JSON Schema draft 4 with
//! AWS API Gateway's error texts, by [`portico_schema`].
//!
//! `prepare(id, schema, documents)` compiles a model and keeps it in this instance under `id`;
//! `validate(id, body)` answers `ok`, `invalid(validationErrorString)`, or `unknown-model` when
//! this instance has not prepared `id` (the host then prepares and asks again). Nothing about a
//! request is kept: an instance holds only compiled models (and fetched remote documents), so
//! the host may reuse it across requests, and should, to compile each model once per instance.
//!
//! Remote `$ref`s: a document the host supplies in `documents` is used as given. Any other
//! `http(s)` document a schema reaches is fetched through `portico:plugin/http-client`
//! (granted by the host's `http_allow`; without the grant every fetch is `host-not-allowed` and
//! the model does not compile). `portico-schema` resolves refs only from the documents it is
//! given, so compiling is retried with each document its error names, at most
//! [`MAX_FETCHES`] times per `prepare`; fetched documents are kept for the instance's life.

use std::cell::RefCell;
use std::collections::HashMap;

use portico_schema::Model;
use serde_json::Value;

#[allow(unsafe_code, missing_docs, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "portico:plugin/model-validator",
    });
}

use bindings::portico::plugin::http_client::{self, Error as FetchError, Request};
use bindings::{Guest, ValidateError};

/// Remote documents one `prepare` may fetch.
pub const MAX_FETCHES: usize = 32;

/// Milliseconds one fetch may take (the host caps it at the call's remaining deadline).
const FETCH_TIMEOUT_MS: u32 = 5_000;

/// What the engine's error says before the URL of a document it could not find
/// (`portico_schema::documents::UnknownDocument`).
const UNKNOWN_REMOTE: &str = "unknown remote reference ";

thread_local! {
    /// Compiled models by id, for the instance's life.
    static MODELS: RefCell<HashMap<u64, Model>> = RefCell::new(HashMap::new());
    /// Remote documents fetched so far, by URL (no fragment).
    static FETCHED: RefCell<HashMap<String, Value>> = RefCell::new(HashMap::new());
}

struct Validator;

impl Guest for Validator {
    fn prepare(id: u64, schema: String, documents: Vec<(String, String)>) -> Result<(), String> {
        let schema: Value =
            serde_json::from_str(&schema).map_err(|e| format!("model is not JSON: {e}"))?;
        let mut docs = Vec::with_capacity(documents.len());
        for (url, text) in documents {
            let doc = serde_json::from_str(&text)
                .map_err(|e| format!("document {url} is not JSON: {e}"))?;
            docs.push((url, doc));
        }
        let model = compile(&schema, docs)?;
        MODELS.with(|m| m.borrow_mut().insert(id, model));
        Ok(())
    }

    fn validate(id: u64, body: Vec<u8>) -> Result<(), ValidateError> {
        MODELS.with(|m| match m.borrow().get(&id) {
            None => Err(ValidateError::UnknownModel),
            Some(model) => model
                .validate_bytes(&body)
                .map(drop)
                .map_err(ValidateError::Invalid),
        })
    }
}

/// Compiles `schema` with the supplied documents, the ones fetched before, and any remote
/// document the compile error names (fetched now).
fn compile(schema: &Value, mut docs: Vec<(String, Value)>) -> Result<Model, String> {
    FETCHED.with(|f| {
        for (url, doc) in f.borrow().iter() {
            if !docs.iter().any(|(u, _)| u == url) {
                docs.push((url.clone(), doc.clone()));
            }
        }
    });
    let mut fetches = 0;
    loop {
        let error = match portico_schema::compile_schema(schema, &docs) {
            Ok(model) => return Ok(model),
            Err(e) => e,
        };
        let Some(url) = unknown_remote(&error) else {
            return Err(error);
        };
        let fetchable = url.starts_with("http://") || url.starts_with("https://");
        if !fetchable || fetches == MAX_FETCHES || docs.iter().any(|(u, _)| u == url) {
            return Err(error);
        }
        fetches += 1;
        let doc = fetch(url)?;
        FETCHED.with(|f| f.borrow_mut().insert(url.to_owned(), doc.clone()));
        docs.push((url.to_owned(), doc));
    }
}

/// The URL of the document a compile error says is missing.
fn unknown_remote(error: &str) -> Option<&str> {
    let at = error.find(UNKNOWN_REMOTE)? + UNKNOWN_REMOTE.len();
    let url = error[at..].split(char::is_whitespace).next()?;
    (!url.is_empty()).then_some(url)
}

/// GETs one schema document through the host.
fn fetch(url: &str) -> Result<Value, String> {
    let request = Request {
        method: "GET".into(),
        url: url.into(),
        headers: vec![("accept".into(), "application/json".into())],
        body: Vec::new(),
        timeout_ms: FETCH_TIMEOUT_MS,
    };
    let response = http_client::fetch(&request).map_err(|e| match e {
        FetchError::HostNotAllowed(host) => {
            format!("cannot fetch remote reference {url}: host {host} is not allowed")
        }
        FetchError::Timeout => format!("cannot fetch remote reference {url}: timed out"),
        FetchError::Failed(why) => format!("cannot fetch remote reference {url}: {why}"),
    })?;
    if response.status != 200 {
        return Err(format!(
            "cannot fetch remote reference {url}: status {}",
            response.status
        ));
    }
    serde_json::from_slice(&response.body)
        .map_err(|e| format!("remote reference {url} is not JSON: {e}"))
}

// The export glue is generated `unsafe` code (exported symbols): allowed here only.
#[allow(unsafe_code)]
const _: () = {
    bindings::export!(Validator with_types_in bindings);
};

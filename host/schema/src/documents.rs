//! The documents a schema may reach by absolute `$ref` URL: the API's models (under their
//! canonical AWS URL) and the extra documents the caller supplied. This module owns the store,
//! the engine's retriever over it (never a network call), and the size and depth checks every
//! document passes before it is used.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::{MAX_SCHEMA_BYTES, MAX_SCHEMA_DEPTH};

/// Schema documents by absolute URL (without fragment), shared by every compiled model.
#[derive(Debug, Default, Clone)]
pub struct Documents {
    by_url: Arc<HashMap<String, Value>>,
}

impl Documents {
    /// A store holding `documents`; each URL is normalized by dropping its fragment.
    #[must_use]
    pub fn new(documents: HashMap<String, Value>) -> Self {
        let by_url = documents
            .into_iter()
            .map(|(url, doc)| (strip_fragment(&url).to_owned(), doc))
            .collect();
        Documents {
            by_url: Arc::new(by_url),
        }
    }

    /// Every document, by URL.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.by_url.iter().map(|(url, doc)| (url.as_str(), doc))
    }

    /// The document at `url` (its fragment, if any, is ignored).
    #[must_use]
    pub fn get(&self, url: &str) -> Option<&Value> {
        self.by_url.get(strip_fragment(url))
    }
}

impl jsonschema::Retrieve for Documents {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        self.get(uri.as_str()).cloned().ok_or_else(|| {
            Box::new(UnknownDocument(strip_fragment(uri.as_str()).to_owned())).into()
        })
    }
}

/// A `$ref` to a document that is neither a model of the API nor a supplied document.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown remote reference {0} (not a model of this API nor a supplied document; remote documents are never fetched)"
)]
pub struct UnknownDocument(pub String);

/// Why a schema document is refused before compiling.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// Larger than [`MAX_SCHEMA_BYTES`].
    #[error("schema is {size} bytes, more than the {MAX_SCHEMA_BYTES}-byte limit")]
    TooLarge {
        /// The compact JSON size of the document.
        size: usize,
    },
    /// Nested deeper than [`MAX_SCHEMA_DEPTH`].
    #[error("schema nests deeper than {MAX_SCHEMA_DEPTH} levels")]
    TooDeep,
}

/// Checks `doc` against [`MAX_SCHEMA_DEPTH`] and [`MAX_SCHEMA_BYTES`].
pub fn check_limits(doc: &Value) -> Result<(), DocumentError> {
    if depth_exceeds(doc, MAX_SCHEMA_DEPTH) {
        return Err(DocumentError::TooDeep);
    }
    let size = serde_json::to_vec(doc)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_SCHEMA_BYTES {
        return Err(DocumentError::TooLarge { size });
    }
    Ok(())
}

/// Whether `value` nests more than `budget` containers deep (iterative: no recursion on input).
fn depth_exceeds(value: &Value, budget: usize) -> bool {
    let mut stack = vec![(value, 0usize)];
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        if depth >= budget {
            return true;
        }
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    false
}

/// `url` without its `#fragment`.
#[must_use]
pub fn strip_fragment(url: &str) -> &str {
    url.split_once('#').map_or(url, |(base, _)| base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn depth_limit() {
        let mut deep = json!(1);
        for _ in 0..MAX_SCHEMA_DEPTH + 1 {
            deep = json!([deep]);
        }
        assert!(matches!(check_limits(&deep), Err(DocumentError::TooDeep)));
        assert!(check_limits(&json!({"a": [1, {"b": 2}]})).is_ok());
    }

    #[test]
    fn fragment_is_ignored() {
        let docs = Documents::new(HashMap::from([("http://x/a.json#".into(), json!(true))]));
        assert_eq!(
            docs.get("http://x/a.json#/definitions/b"),
            Some(&json!(true))
        );
    }
}

//! Helpers on the shared WIT types: looking up headers and parameters, building replies.

use crate::bindings::capabilities::portico::plugin::types;

/// A header or parameter: `(name, value)`.
pub type Field = types::Field;

/// What a plugin sees of a request: the WIT `request-head`, fields public.
///
/// Header names keep the client's case and repeated headers appear once per value, so use
/// [`Request::header`] (case-insensitive) rather than comparing names yourself.
pub type Request = types::RequestHead;

/// An answer a plugin gives the client itself: the WIT `reply`.
pub type Reply = types::Reply;

/// The first value of `name` in `fields`, comparing names exactly.
fn find<'a>(fields: &'a [Field], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The first value of `name` in `fields`, comparing names without regard to ASCII case.
pub(crate) fn find_header<'a>(fields: &'a [Field], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Replaces every `name` header (any case) in `fields` with one `name: value`.
pub(crate) fn set_header(fields: &mut Vec<Field>, name: &str, value: &str) {
    fields.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    fields.push((name.to_owned(), value.to_owned()));
}

/// Removes every `name` header (any case) from `fields`.
pub(crate) fn remove_header(fields: &mut Vec<Field>, name: &str) {
    fields.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
}

impl types::RequestHead {
    /// The first value of header `name`, whatever its case (HTTP header names are
    /// case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Every value of header `name`, whatever its case, in the order the client sent them.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of query-string parameter `name` (decoded; names are case-sensitive, as
    /// in API Gateway).
    pub fn query(&self, name: &str) -> Option<&str> {
        find(&self.query, name)
    }

    /// Every value of query-string parameter `name`.
    pub fn query_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.query
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Path parameter `name` (from the resource template, e.g. `id` in `/pets/{id}`), raw.
    pub fn path_parameter(&self, name: &str) -> Option<&str> {
        find(&self.path_parameters, name)
    }

    /// Stage variable `name`.
    pub fn stage_variable(&self, name: &str) -> Option<&str> {
        find(&self.stage_variables, name)
    }
}

impl types::Reply {
    /// A reply with `status`, no headers and an empty body.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A reply with `status` and a JSON body (`content-type: application/json`).
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Self::new(status)
            .with_header("content-type", "application/json")
            .with_body(body.to_string())
    }

    /// A reply with `status` and a plain-text body (`content-type: text/plain`).
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Self::new(status)
            .with_header("content-type", "text/plain")
            .with_body(body.into())
    }

    /// Adds header `name: value` (after any existing ones).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

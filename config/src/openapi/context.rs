//! The diagnostics context of one document's walk: where errors and warnings go, how an
//! extension this version does not act on is reported (metadata-only ones as warnings,
//! behaviour-changing ones as errors), and a field reader that reports a wrong type.

use serde_json::{Map, Value};

use crate::diag::{DocPath, Report};

/// Extensions accepted with no effect yet, with the reason shown to the user.
const METADATA_EXTENSIONS: &[(&str, &str)] = &[
    (
        "x-amazon-apigateway-documentation",
        "documentation parts are not served",
    ),
    ("x-amazon-apigateway-importexport-version", "metadata only"),
    ("x-amazon-apigateway-tag-value", "tags are metadata only"),
    (
        "x-amazon-apigateway-authtype",
        "a label for the console only",
    ),
];

/// Extensions that change behaviour and are not implemented yet.
const UNSUPPORTED_EXTENSIONS: &[&str] = &[
    "x-amazon-apigateway-auth",
    "x-amazon-apigateway-integrations",
];

/// Diagnostics context for one file.
pub(super) struct Cx<'a> {
    file: &'a str,
    report: &'a mut Report,
    /// Reading a working copy (an API edited through the AWS control plane), which may hold
    /// methods that are not finished yet: they are reported as warnings and not served.
    pub(super) draft: bool,
}

impl<'a> Cx<'a> {
    /// Reports problems in `file` to `report`.
    pub(super) fn new(file: &'a str, report: &'a mut Report) -> Self {
        Self {
            file,
            report,
            draft: false,
        }
    }
}

impl Cx<'_> {
    /// How many errors the whole report holds so far: a parser compares the count before and
    /// after to know whether anything it read was wrong.
    pub(super) fn error_count(&self) -> usize {
        self.report.errors().count()
    }
    /// Reports an error at `path`.
    pub(super) fn error(&mut self, path: &DocPath, msg: impl Into<String>) {
        self.report.error(self.file, path, msg);
    }
    /// Reports a warning at `path`.
    pub(super) fn warn(&mut self, path: &DocPath, msg: impl Into<String>) {
        self.report.warn(self.file, path, msg);
    }
    /// Reports an extension this version does not act on.
    pub(super) fn extension(&mut self, path: &DocPath, key: &str) {
        if let Some((_, why)) = METADATA_EXTENSIONS.iter().find(|(k, _)| *k == key) {
            self.warn(path, format!("{key} is accepted but has no effect: {why}"));
        } else if UNSUPPORTED_EXTENSIONS.contains(&key) {
            self.error(path, format!("{key} is not supported yet"));
        } else {
            self.error(path, format!("{key} is not a known API Gateway extension"));
        }
    }
}

/// The string at `obj[key]`; `None` when absent, or (reported) when not a string.
pub(super) fn str_field<'v>(
    cx: &mut Cx<'_>,
    path: &DocPath,
    obj: &'v Map<String, Value>,
    key: &str,
) -> Option<&'v str> {
    match obj.get(key)? {
        Value::String(s) => Some(s),
        _ => {
            cx.error(&path.key(key), "must be a string");
            None
        }
    }
}

//! Diagnostics: every problem found while loading a configuration, each with the file it is in
//! and its path inside that document.
//!
//! Loading never stops at the first error. Each stage pushes what it finds into a [`Report`] and
//! goes on, so `portico check` and a failed reload can list everything at once.

use std::fmt;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The configuration is still usable; something was ignored or looks wrong.
    Warning,
    /// The configuration cannot be served.
    Error,
}

/// One problem, located by file and by the path inside the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file as the gateway file names it (for example `apis/pets.yaml`).
    pub file: String,
    /// Dotted path inside the document (`paths./pets/{id}.get.x-amazon-apigateway-integration.uri`);
    /// empty for problems with the file as a whole.
    pub path: String,
    /// What is wrong, in words a user can act on.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Warning => "warning: ",
            Severity::Error => "",
        };
        if self.path.is_empty() {
            write!(f, "{}: {level}{}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {level}{}", self.file, self.path, self.message)
        }
    }
}

/// Everything found while loading, in the order it was found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// All diagnostics, errors and warnings.
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    /// Records an error.
    pub fn error(&mut self, file: &str, path: impl Into<String>, message: impl Into<String>) {
        self.push(Severity::Error, file, path.into(), message.into());
    }

    /// Records a warning.
    pub fn warn(&mut self, file: &str, path: impl Into<String>, message: impl Into<String>) {
        self.push(Severity::Warning, file, path.into(), message.into());
    }

    fn push(&mut self, severity: Severity, file: &str, path: String, message: String) {
        self.diagnostics.push(Diagnostic {
            severity,
            file: file.to_owned(),
            path,
            message,
        });
    }

    /// True when at least one diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }

    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }

    /// The errors only, each as its one-line text.
    pub fn error_messages(&self) -> Vec<String> {
        self.errors().map(ToString::to_string).collect()
    }

    /// The warnings only.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.diagnostics {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Builds dotted document paths without allocating at every level until needed.
#[derive(Debug, Clone)]
pub(crate) struct DocPath(String);

impl DocPath {
    pub(crate) fn root() -> Self {
        Self(String::new())
    }

    /// The path of a child key.
    pub(crate) fn key(&self, key: &str) -> Self {
        if self.0.is_empty() {
            Self(key.to_owned())
        } else {
            Self(format!("{}.{key}", self.0))
        }
    }

    /// The path of a list item: `path[i]`.
    pub(crate) fn index(&self, i: usize) -> Self {
        Self(format!("{}[{i}]", self.0))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&DocPath> for String {
    fn from(p: &DocPath) -> Self {
        p.0.clone()
    }
}

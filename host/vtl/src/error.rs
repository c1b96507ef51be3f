//! The two error types: [`ParseError`] (deploy time, with a position) and [`RenderError`]
//! (request time; AWS answers 500 for every one).

/// A template that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// What is wrong.
    pub message: String,
}

/// A render that failed: a Java exception, an exceeded budget, or an override set twice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RenderError {
    message: String,
}

impl RenderError {
    /// A render error with this log message.
    pub(crate) fn new(message: impl Into<String>) -> Self {
        RenderError {
            message: message.into(),
        }
    }

    /// The log message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

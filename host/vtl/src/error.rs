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
/// Displays as `line L: message` when the failing reference's line is known.
///
/// One pointer wide: every evaluation step returns a `Result<_, RenderError>`, and a small
/// error keeps those results small on the hot path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}", self.0.line.map(|l| format!("line {l}: ")).unwrap_or_default(), self.0.message)]
pub struct RenderError(Box<Failure>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    message: String,
    line: Option<u32>,
}

impl RenderError {
    /// A render error with this log message.
    pub(crate) fn new(message: impl Into<String>) -> Self {
        RenderError(Box::new(Failure {
            message: message.into(),
            line: None,
        }))
    }

    /// The same error, placed at `line` unless it already has a line.
    pub(crate) fn at_line(mut self, line: u32) -> Self {
        self.0.line.get_or_insert(line);
        self
    }

    /// The log message, without the line.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The template line of the reference that failed, when known.
    pub fn line(&self) -> Option<u32> {
        self.0.line
    }
}

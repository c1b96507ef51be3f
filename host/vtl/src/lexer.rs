//! The byte cursor shared by the template parser ([`crate::parser`]) and the expression parser
//! ([`crate::expr`]): position, look-ahead, identifiers, the nesting budget and error
//! positions. All syntax characters are ASCII, so slicing at them keeps UTF-8 intact.

use std::collections::HashMap;
use std::sync::Arc;

use crate::ast::MacroDef;
use crate::error::ParseError;
use crate::limits::MAX_NESTING;

/// Parser state over one source text.
pub(crate) struct Parser<'s> {
    /// The whole source.
    pub src: &'s str,
    /// `src` as bytes.
    pub bytes: &'s [u8],
    /// Current byte offset.
    pub pos: usize,
    /// Current nesting depth (blocks, brackets, strings).
    pub depth: usize,
    /// Macros defined so far.
    pub macros: HashMap<String, Arc<MacroDef>>,
    /// Where `src` starts in the outermost template (for interpolated strings), as a
    /// (line, column) pair to report errors at.
    pub origin: Option<(u32, u32)>,
}

impl<'s> Parser<'s> {
    /// A parser at the start of `src`.
    pub fn new(src: &'s str, depth: usize) -> Self {
        Parser {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            depth,
            macros: HashMap::new(),
            origin: None,
        }
    }

    /// The byte at `pos + n`, if any.
    pub fn peek_at(&self, n: usize) -> Option<u8> {
        self.bytes.get(self.pos + n).copied()
    }

    /// The byte at `pos`, if any.
    pub fn peek(&self) -> Option<u8> {
        self.peek_at(0)
    }

    /// Whether the rest starts with `s`.
    pub fn starts_with(&self, s: &str) -> bool {
        self.bytes[self.pos..].starts_with(s.as_bytes())
    }

    /// Skips spaces, tabs and newlines.
    pub fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Skips spaces and tabs only.
    pub fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// Consumes `[ \t]*` and one newline if the line ends there; otherwise consumes nothing.
    /// Returns whether it did.
    pub fn gobble_newline(&mut self) -> bool {
        let mut i = self.pos;
        while matches!(self.bytes.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        match self.bytes.get(i) {
            Some(b'\n') => {
                self.pos = i + 1;
                true
            }
            Some(b'\r') => {
                self.pos = if self.bytes.get(i + 1) == Some(&b'\n') {
                    i + 2
                } else {
                    i + 1
                };
                true
            }
            _ => false,
        }
    }

    /// Reads a Velocity 1.7 identifier, `[A-Za-z_][A-Za-z0-9_-]*` (`Parser.jjt` IDENTIFIER):
    /// hyphens belong to the name, even a trailing one, so `$a-$b` reads `$a-` then `$b`.
    pub fn ident(&mut self) -> Option<String> {
        let start = self.pos;
        match self.peek() {
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => self.pos += 1,
            _ => return None,
        }
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        {
            self.pos += 1;
        }
        Some(self.src[start..self.pos].to_string())
    }

    /// Enters one nesting level, failing past [`MAX_NESTING`].
    pub fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.error(format!("nesting deeper than {MAX_NESTING} levels")));
        }
        Ok(())
    }

    /// Leaves one nesting level.
    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// An error at the current position.
    pub fn error(&self, message: impl Into<String>) -> ParseError {
        self.error_at(self.pos, message)
    }

    /// An error at byte offset `at`.
    pub fn error_at(&self, at: usize, message: impl Into<String>) -> ParseError {
        if let Some((line, column)) = self.origin {
            return ParseError {
                line,
                column,
                message: message.into(),
            };
        }
        let (line, column) = self.line_col(at);
        ParseError {
            line,
            column,
            message: message.into(),
        }
    }

    /// The 1-based line of byte offset `at` in the outermost template.
    pub fn line_of(&self, at: usize) -> u32 {
        match self.origin {
            Some((line, _)) => line,
            None => self.line_col(at).0,
        }
    }

    /// The 1-based (line, column) of byte offset `at`.
    pub fn line_col(&self, at: usize) -> (u32, u32) {
        let at = at.min(self.src.len());
        let before = self.src.get(..at).unwrap_or("");
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let col_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[col_start..].chars().count() + 1;
        (
            u32::try_from(line).unwrap_or(u32::MAX),
            u32::try_from(column).unwrap_or(u32::MAX),
        )
    }
}

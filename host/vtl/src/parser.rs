//! The template parser: text, references, comments, unparsed blocks and directives, with
//! Velocity 1.7's whitespace gobbling.
//!
//! Gobbling follows Velocity 1.7's lexer (`Parser.jjt`): the `)` that closes a directive's
//! arguments (`#set`, `#if`, `#elseif`, `#foreach`, `#macro`, `#define` and macro calls) takes
//! the blanks and one newline after it when the line ends there; so do `#else` and `#end`;
//! `#break` and `#stop` take nothing. `#set` also takes the blanks before it, but only when they
//! are a whole text run, i.e. they follow the start of the template, another directive, a
//! reference or a comment: Velocity's TEXT token is one maximal run of characters other than
//! `$ # \`, so indentation after ordinary text (even on an earlier line) stays. A `##` comment
//! takes its newline.

use std::collections::HashMap;
use std::sync::Arc;

use crate::ast::{Accessor, Expr, MacroDef, Node, RefExpr};
use crate::error::ParseError;
use crate::lexer::Parser;

/// A parsed template: top-level nodes and the macros it defines.
pub(crate) struct Parsed {
    pub nodes: Vec<Node>,
    pub macros: HashMap<String, Arc<MacroDef>>,
}

/// How a block ended.
pub(crate) enum Closer {
    Eof,
    End(usize),
    Else(usize),
    ElseIf(Expr, usize),
}

/// Parses a whole template.
pub(crate) fn parse_template(src: &str) -> Result<Parsed, ParseError> {
    let mut p = Parser::new(src, 0);
    let (nodes, end) = p.parse_block()?;
    p.expect_eof(end)?;
    Ok(Parsed {
        nodes,
        macros: p.macros,
    })
}

const DIRECTIVES: &[&str] = &[
    "set", "if", "elseif", "else", "end", "foreach", "break", "stop", "macro", "define",
];

impl Parser<'_> {
    /// Fails unless `end` is the end of input.
    pub(crate) fn expect_eof(&self, end: Closer) -> Result<(), ParseError> {
        match end {
            Closer::Eof => Ok(()),
            Closer::End(at) => Err(self.error_at(at, "#end without a matching directive")),
            Closer::Else(at) => Err(self.error_at(at, "#else without #if")),
            Closer::ElseIf(_, at) => Err(self.error_at(at, "#elseif without #if")),
        }
    }

    /// Parses nodes until end of input or a block terminator (`#end`, `#else`, `#elseif`).
    pub(crate) fn parse_block(&mut self) -> Result<(Vec<Node>, Closer), ParseError> {
        let mut nodes = Vec::new();
        let mut text = String::new();
        // Where the current run of plain text starts in `text`: Velocity's TEXT token is one
        // maximal run, so `#set` eats the blanks before it only when they are the whole run.
        let mut run_start = 0;
        loop {
            let Some(c) = self.peek() else {
                flush(&mut text, &mut nodes);
                return Ok((nodes, Closer::Eof));
            };
            match c {
                b'$' => {
                    if let Some(r) = self.text_ref()? {
                        flush(&mut text, &mut nodes);
                        nodes.push(Node::Ref(r));
                        run_start = 0;
                    } else {
                        text.push('$');
                        self.pos += 1;
                    }
                }
                b'\\' => {
                    // Velocity 1.7 escapes: n backslashes before a reference or a directive
                    // print n/2 of them; an odd n also makes what follows literal.
                    let start = self.pos;
                    while self.peek() == Some(b'\\') {
                        self.pos += 1;
                    }
                    let n = self.pos - start;
                    if self.peek() == Some(b'$') {
                        let at = self.pos;
                        if let Some(r) = self.text_ref()? {
                            flush(&mut text, &mut nodes);
                            nodes.push(Node::Escaped {
                                reference: r,
                                backslashes: n,
                            });
                            run_start = 0;
                            continue;
                        }
                        self.pos = at;
                    } else if self.peek() == Some(b'#') && self.directive_follows(self.pos + 1) {
                        text.push_str(&"\\".repeat(n / 2));
                        if n % 2 == 1 {
                            text.push('#');
                            self.pos += 1;
                        }
                        continue;
                    }
                    text.push_str(&self.src[start..self.pos]);
                }
                b'#' => {
                    if let Some(end) = self.hash(&mut text, &mut nodes, &mut run_start)? {
                        flush(&mut text, &mut nodes);
                        return Ok((nodes, end));
                    }
                }
                b'\n' => {
                    text.push('\n');
                    self.pos += 1;
                }
                _ => {
                    let start = self.pos;
                    while let Some(c) = self.peek() {
                        if matches!(c, b'$' | b'#' | b'\\' | b'\n') {
                            break;
                        }
                        self.pos += 1;
                    }
                    text.push_str(&self.src[start..self.pos]);
                }
            }
        }
    }

    fn directive_follows(&self, at: usize) -> bool {
        let rest = &self.bytes[at.min(self.bytes.len())..];
        let rest = rest.strip_prefix(b"{").unwrap_or(rest);
        DIRECTIVES.iter().any(|d| rest.starts_with(d.as_bytes()))
    }

    /// Handles a `#`. Returns a block terminator if one was read.
    fn hash(
        &mut self,
        text: &mut String,
        nodes: &mut Vec<Node>,
        run_start: &mut usize,
    ) -> Result<Option<Closer>, ParseError> {
        let start = self.pos;
        match self.peek_at(1) {
            Some(b'#') => {
                while let Some(c) = self.peek() {
                    self.pos += 1;
                    if c == b'\n' {
                        break;
                    }
                }
                *run_start = text.len();
                return Ok(None);
            }
            Some(b'*') => {
                let Some(off) = self.src[self.pos + 2..].find("*#") else {
                    return Err(self.error("unterminated #* comment"));
                };
                self.pos += 2 + off + 2;
                *run_start = text.len();
                return Ok(None);
            }
            Some(b'[') if self.peek_at(2) == Some(b'[') => {
                let Some(off) = self.src[self.pos + 3..].find("]]#") else {
                    return Err(self.error("unterminated #[[ block"));
                };
                text.push_str(&self.src[self.pos + 3..self.pos + 3 + off]);
                self.pos += 3 + off + 3;
                *run_start = text.len();
                return Ok(None);
            }
            _ => {}
        }
        self.pos += 1;
        let braced = self.peek() == Some(b'{');
        if braced {
            self.pos += 1;
        }
        let name = match self.ident() {
            Some(n) if !braced || self.peek() == Some(b'}') => n,
            _ => {
                self.pos = start + 1;
                text.push('#');
                return Ok(None);
            }
        };
        if braced {
            self.pos += 1;
        }
        let after_name = self.pos;
        match name.as_str() {
            "end" => {
                self.gobble_newline();
                return Ok(Some(Closer::End(start)));
            }
            "else" => {
                self.gobble_newline();
                return Ok(Some(Closer::Else(start)));
            }
            "break" | "stop" => {
                // Velocity 1.7's #break and #stop take no parentheses and eat no newline.
                flush(text, nodes);
                nodes.push(if name == "break" {
                    Node::Break
                } else {
                    Node::Stop
                });
                *run_start = 0;
                return Ok(None);
            }
            _ => {}
        }
        self.skip_blanks();
        if self.peek() != Some(b'(') {
            self.pos = after_name;
            text.push_str(&self.src[start..after_name]);
            return Ok(None);
        }
        self.pos += 1;
        match name.as_str() {
            "set" => {
                let (target, value) = self.set_args()?;
                let run = text.get(*run_start..).unwrap_or("");
                if run.bytes().all(|b| b == b' ' || b == b'\t') {
                    text.truncate(*run_start);
                }
                flush(text, nodes);
                nodes.push(Node::Set { target, value });
                self.gobble_newline();
            }
            "elseif" => {
                let cond = self.paren_expr()?;
                self.gobble_newline();
                return Ok(Some(Closer::ElseIf(cond, start)));
            }
            "if" => {
                let node = self.if_directive(start)?;
                flush(text, nodes);
                nodes.push(node);
            }
            "foreach" => {
                let node = self.foreach_directive(start)?;
                flush(text, nodes);
                nodes.push(node);
            }
            "macro" => {
                self.macro_directive(start)?;
            }
            "define" => {
                self.skip_ws();
                let name = self.dollar_name()?;
                self.skip_ws();
                self.expect(b')')?;
                self.gobble_newline();
                let body = self.block_to_end(start, "#define")?;
                flush(text, nodes);
                nodes.push(Node::Define {
                    name,
                    body: Arc::new(body),
                });
            }
            _ => {
                let mut args = Vec::new();
                self.enter()?;
                loop {
                    self.skip_ws();
                    match self.peek() {
                        None => return Err(self.error_at(start, "unclosed macro call")),
                        Some(b')') => {
                            self.pos += 1;
                            break;
                        }
                        Some(b',') => self.pos += 1,
                        Some(_) => args.push(self.parse_expr()?),
                    }
                }
                self.leave();
                flush(text, nodes);
                nodes.push(Node::MacroCall {
                    name,
                    args,
                    source: self.src[start..self.pos].to_string(),
                });
                self.gobble_newline();
            }
        }
        *run_start = text.len();
        Ok(None)
    }

    /// After `#set(`: `$target = expr )`.
    fn set_args(&mut self) -> Result<(RefExpr, Expr), ParseError> {
        self.skip_ws();
        if self.peek() != Some(b'$') {
            return Err(self.error("#set needs a reference on the left of '='"));
        }
        let target = self.expr_ref()?;
        if matches!(target.chain.last(), Some(Accessor::Method(..))) {
            return Err(self.error("#set cannot assign to a method call"));
        }
        self.skip_ws();
        self.expect(b'=')?;
        let value = self.parse_expr()?;
        self.skip_ws();
        self.expect(b')')?;
        Ok((target, value))
    }

    /// After `(`: `expr )`, then the directive's newline is the caller's business.
    fn paren_expr(&mut self) -> Result<Expr, ParseError> {
        let e = self.parse_expr()?;
        self.skip_ws();
        self.expect(b')')?;
        Ok(e)
    }

    fn if_directive(&mut self, start: usize) -> Result<Node, ParseError> {
        self.enter()?;
        let mut cond = self.paren_expr()?;
        self.gobble_newline();
        let mut branches = Vec::new();
        let mut otherwise = None;
        loop {
            let (body, end) = self.parse_block()?;
            match end {
                Closer::ElseIf(next, _) => {
                    branches.push((cond, body));
                    cond = next;
                }
                Closer::Else(_) => {
                    branches.push((cond, body));
                    otherwise = Some(self.block_to_end(start, "#if")?);
                    break;
                }
                Closer::End(_) => {
                    branches.push((cond, body));
                    break;
                }
                Closer::Eof => return Err(self.error_at(start, "#if without #end")),
            }
        }
        self.leave();
        Ok(Node::If {
            branches,
            otherwise,
        })
    }

    fn foreach_directive(&mut self, start: usize) -> Result<Node, ParseError> {
        self.enter()?;
        self.skip_ws();
        let var = self.dollar_name()?;
        self.skip_ws();
        if !self.word("in") {
            return Err(self.error("#foreach needs 'in'"));
        }
        let iter = self.paren_expr()?;
        self.gobble_newline();
        let body = self.block_to_end(start, "#foreach")?;
        self.leave();
        Ok(Node::Foreach {
            var,
            iter,
            body,
            line: self.line_col(start).0,
        })
    }

    fn macro_directive(&mut self, start: usize) -> Result<(), ParseError> {
        self.enter()?;
        self.skip_ws();
        let Some(name) = self.ident() else {
            return Err(self.error("#macro needs a name"));
        };
        let mut params = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b')') => {
                    self.pos += 1;
                    break;
                }
                Some(b',') => self.pos += 1,
                Some(b'$') => params.push(self.dollar_name()?),
                _ => return Err(self.error("bad #macro parameter list")),
            }
        }
        self.gobble_newline();
        let body = self.block_to_end(start, "#macro")?;
        self.leave();
        self.macros
            .insert(name, Arc::new(MacroDef { params, body }));
        Ok(())
    }

    /// Parses a body that must end with `#end`.
    fn block_to_end(&mut self, start: usize, what: &str) -> Result<Vec<Node>, ParseError> {
        self.enter()?;
        let (body, end) = self.parse_block()?;
        self.leave();
        match end {
            Closer::End(_) => Ok(body),
            Closer::Eof => Err(self.error_at(start, format!("{what} without #end"))),
            Closer::Else(at) | Closer::ElseIf(_, at) => {
                Err(self.error_at(at, format!("#else inside {what}")))
            }
        }
    }

    /// `$name` or `${name}`: a variable name.
    fn dollar_name(&mut self) -> Result<String, ParseError> {
        self.expect(b'$')?;
        let braced = self.peek() == Some(b'{');
        if braced {
            self.pos += 1;
        }
        let Some(name) = self.ident() else {
            return Err(self.error("expected a variable name"));
        };
        if braced {
            self.expect(b'}')?;
        }
        Ok(name)
    }

    /// A reference in template text, at `$`; `None` (position unchanged) if the `$` is
    /// literal text.
    fn text_ref(&mut self) -> Result<Option<RefExpr>, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let quiet = self.peek() == Some(b'!');
        if quiet {
            self.pos += 1;
        }
        let braced = self.peek() == Some(b'{');
        if braced {
            self.pos += 1;
        }
        let Some(root) = self.ident() else {
            self.pos = start;
            return Ok(None);
        };
        let chain = self.ref_chain(true)?;
        if braced {
            if self.peek() == Some(b'}') {
                self.pos += 1;
            } else {
                self.pos = start;
                return Ok(None);
            }
        }
        Ok(Some(RefExpr {
            quiet,
            root,
            chain,
            source: self.src[start..self.pos].to_string(),
            line: self.line_of(start),
        }))
    }
}

fn flush(text: &mut String, nodes: &mut Vec<Node>) {
    if !text.is_empty() {
        nodes.push(Node::Text(std::mem::take(text)));
    }
}

//! The expression parser: what goes inside `#set(..)`, `#if(..)`, `#foreach(..)`, index
//! brackets and method arguments. Precedence, loosest first: `|| or`, `&& and`,
//! `== != eq ne`, `< <= > >= lt le gt ge`, `+ -`, `* / %`, prefix `! not -`.

use crate::ast::{Accessor, BinOp, Expr, RefExpr};
use crate::error::ParseError;
use crate::lexer::Parser;

impl Parser<'_> {
    /// Consumes `b` or fails.
    pub(crate) fn expect(&mut self, b: u8) -> Result<(), ParseError> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            let found = match self.src[self.pos..].chars().next() {
                Some(c) => format!("'{c}'"),
                None => "end of template".to_string(),
            };
            Err(self.error(format!("expected '{}', found {found}", b as char)))
        }
    }

    /// Consumes the keyword `w` if it is next and not the start of a longer name.
    pub(crate) fn word(&mut self, w: &str) -> bool {
        if self.starts_with(w) {
            let next = self.bytes.get(self.pos + w.len()).copied();
            if !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') {
                self.pos += w.len();
                return true;
            }
        }
        false
    }

    /// Parses one expression.
    pub(crate) fn parse_expr(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let e = self.parse_or();
        self.leave();
        e
    }

    fn parse_or(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.parse_and()?;
        loop {
            self.skip_ws();
            if self.starts_with("||") {
                self.pos += 2;
            } else if !self.word("or") {
                return Ok(left);
            }
            let right = self.parse_and()?;
            left = Expr::Binary(BinOp::Or, Box::new(left), Box::new(right));
        }
    }

    fn parse_and(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.parse_eq()?;
        loop {
            self.skip_ws();
            if self.starts_with("&&") {
                self.pos += 2;
            } else if !self.word("and") {
                return Ok(left);
            }
            let right = self.parse_eq()?;
            left = Expr::Binary(BinOp::And, Box::new(left), Box::new(right));
        }
    }

    fn parse_eq(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.parse_rel()?;
        loop {
            self.skip_ws();
            let op = if self.starts_with("==") {
                self.pos += 2;
                BinOp::Eq
            } else if self.starts_with("!=") {
                self.pos += 2;
                BinOp::Ne
            } else if self.word("eq") {
                BinOp::Eq
            } else if self.word("ne") {
                BinOp::Ne
            } else {
                return Ok(left);
            };
            let right = self.parse_rel()?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn parse_rel(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.parse_add()?;
        loop {
            self.skip_ws();
            let op = if self.starts_with("<=") {
                self.pos += 2;
                BinOp::Le
            } else if self.starts_with(">=") {
                self.pos += 2;
                BinOp::Ge
            } else if self.starts_with("<") {
                self.pos += 1;
                BinOp::Lt
            } else if self.starts_with(">") {
                self.pos += 1;
                BinOp::Gt
            } else if self.word("le") {
                BinOp::Le
            } else if self.word("ge") {
                BinOp::Ge
            } else if self.word("lt") {
                BinOp::Lt
            } else if self.word("gt") {
                BinOp::Gt
            } else {
                return Ok(left);
            };
            let right = self.parse_add()?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn parse_add(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.parse_mul()?;
        loop {
            self.skip_ws();
            let op = match self.peek() {
                Some(b'+') => BinOp::Add,
                Some(b'-') => BinOp::Sub,
                _ => return Ok(left),
            };
            self.pos += 1;
            let right = self.parse_mul()?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn parse_mul(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.parse_unary()?;
        loop {
            self.skip_ws();
            let op = match self.peek() {
                Some(b'*') => BinOp::Mul,
                Some(b'/') => BinOp::Div,
                Some(b'%') => BinOp::Mod,
                _ => return Ok(left),
            };
            self.pos += 1;
            let right = self.parse_unary()?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn parse_unary(&mut self) -> Result<Expr, ParseError> {
        self.skip_ws();
        if self.peek() == Some(b'!') && self.peek_at(1) != Some(b'=') {
            self.pos += 1;
            return self.nested(|p| p.parse_unary().map(|e| Expr::Not(Box::new(e))));
        }
        if self.word("not") {
            return self.nested(|p| p.parse_unary().map(|e| Expr::Not(Box::new(e))));
        }
        if self.peek() == Some(b'-') {
            self.pos += 1;
            if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return match self.number(true)? {
                    Expr::Int(i) => Ok(Expr::Int(i)),
                    other => Ok(other),
                };
            }
            return self.nested(|p| p.parse_unary().map(|e| Expr::Neg(Box::new(e))));
        }
        self.parse_primary()
    }

    fn nested(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<Expr, ParseError>,
    ) -> Result<Expr, ParseError> {
        self.enter()?;
        let e = f(self);
        self.leave();
        e
    }

    fn parse_primary(&mut self) -> Result<Expr, ParseError> {
        self.skip_ws();
        match self.peek() {
            None => Err(self.error("expected an expression, found end of template")),
            Some(b'$') => Ok(Expr::Ref(self.expr_ref()?)),
            Some(b'\'') => self.single_quoted(),
            Some(b'"') => self.double_quoted(),
            Some(c) if c.is_ascii_digit() => self.number(false),
            Some(b'[') => self.nested(Self::list_or_range),
            Some(b'{') => self.nested(Self::map_literal),
            Some(b'(') => {
                self.pos += 1;
                self.nested(|p| {
                    let e = p.parse_or()?;
                    p.skip_ws();
                    p.expect(b')')?;
                    Ok(e)
                })
            }
            Some(_) => {
                if self.word("true") {
                    Ok(Expr::Bool(true))
                } else if self.word("false") {
                    Ok(Expr::Bool(false))
                } else if self.word("null") {
                    Ok(Expr::Null)
                } else {
                    let c = self.src[self.pos..].chars().next().unwrap_or(' ');
                    Err(self.error(format!("unexpected '{c}' in expression")))
                }
            }
        }
    }

    fn number(&mut self, negative: bool) -> Result<Expr, ParseError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let mut float = false;
        if self.peek() == Some(b'.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            float = true;
            self.pos += 1;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E'))
            && (self.peek_at(1).is_some_and(|c| c.is_ascii_digit())
                || (matches!(self.peek_at(1), Some(b'-' | b'+'))
                    && self.peek_at(2).is_some_and(|c| c.is_ascii_digit())))
        {
            float = true;
            self.pos += 2;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
        }
        let text = &self.src[start..self.pos];
        let text = if negative {
            format!("-{text}")
        } else {
            text.to_string()
        };
        if float {
            text.parse::<f64>()
                .map(Expr::Float)
                .map_err(|_| self.error_at(start, "bad number"))
        } else {
            text.parse::<i64>()
                .map(Expr::Int)
                .map_err(|_| self.error_at(start, format!("integer {text} is out of range")))
        }
    }

    fn single_quoted(&mut self) -> Result<Expr, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut s = String::new();
        loop {
            let Some(off) = self.src[self.pos..].find('\'') else {
                return Err(self.error_at(start, "unterminated string"));
            };
            s.push_str(&self.src[self.pos..self.pos + off]);
            self.pos += off + 1;
            if self.peek() == Some(b'\'') {
                s.push('\'');
                self.pos += 1;
            } else {
                return Ok(Expr::Str(s));
            }
        }
    }

    fn double_quoted(&mut self) -> Result<Expr, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut s = String::new();
        loop {
            let Some(off) = self.src[self.pos..].find(['"', '\\']) else {
                return Err(self.error_at(start, "unterminated string"));
            };
            s.push_str(&self.src[self.pos..self.pos + off]);
            self.pos += off;
            if self.peek() == Some(b'\\') {
                // Velocity keeps escapes as written; a backslash and the character after it
                // are one unit, so `\"` does not end the string and `\\` is two backslashes.
                s.push('\\');
                self.pos += 1;
                if let Some(ch) = self.src[self.pos..].chars().next() {
                    s.push(ch);
                    self.pos += ch.len_utf8();
                }
                continue;
            }
            self.pos += 1;
            if self.peek() == Some(b'"') {
                s.push('"');
                self.pos += 1;
                continue;
            }
            break;
        }
        if !s.contains(['$', '#']) {
            return Ok(Expr::Str(s));
        }
        let origin = self.line_col(start);
        let mut sub = Parser::new(&s, self.depth + 1);
        sub.origin = Some(origin);
        sub.enter()?;
        let (nodes, end) = sub.parse_block()?;
        sub.expect_eof(end)?;
        Ok(Expr::Interp(nodes))
    }

    fn list_or_range(&mut self) -> Result<Expr, ParseError> {
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Expr::List(Vec::new()));
        }
        let first = self.parse_expr()?;
        self.skip_ws();
        if self.starts_with("..") {
            self.pos += 2;
            let last = self.parse_expr()?;
            self.skip_ws();
            self.expect(b']')?;
            return Ok(Expr::Range(Box::new(first), Box::new(last)));
        }
        let mut items = vec![first];
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    items.push(self.parse_expr()?);
                }
                _ => {
                    self.expect(b']')?;
                    return Ok(Expr::List(items));
                }
            }
        }
    }

    fn map_literal(&mut self) -> Result<Expr, ParseError> {
        self.pos += 1;
        let mut pairs = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Expr::Map(pairs));
        }
        loop {
            let k = self.parse_expr()?;
            self.skip_ws();
            self.expect(b':')?;
            let v = self.parse_expr()?;
            pairs.push((k, v));
            self.skip_ws();
            if self.peek() == Some(b',') {
                self.pos += 1;
                continue;
            }
            self.expect(b'}')?;
            return Ok(Expr::Map(pairs));
        }
    }

    /// A reference inside an expression, at `$`.
    pub(crate) fn expr_ref(&mut self) -> Result<RefExpr, ParseError> {
        let start = self.pos;
        self.expect(b'$')?;
        let quiet = self.peek() == Some(b'!');
        if quiet {
            self.pos += 1;
        }
        let braced = self.peek() == Some(b'{');
        if braced {
            self.pos += 1;
        }
        let Some(root) = self.ident() else {
            return Err(self.error("expected a name after '$'"));
        };
        let chain = self.ref_chain(false)?;
        if braced {
            self.expect(b'}')?;
        }
        Ok(RefExpr {
            quiet,
            root,
            chain,
            source: self.src[start..self.pos].to_string(),
            line: self.line_of(start),
        })
    }

    /// The accessors after a reference's root. In template text (`text`), a `[` that does
    /// not start a valid index is left as text.
    pub(crate) fn ref_chain(&mut self, text: bool) -> Result<Vec<Accessor>, ParseError> {
        let mut chain = Vec::new();
        loop {
            match self.peek() {
                Some(b'.') if self.peek_at(1).is_some_and(|c| c.is_ascii_alphabetic()) => {
                    self.pos += 1;
                    let Some(name) = self.ident() else {
                        return Err(self.error("expected a name after '.'"));
                    };
                    if self.peek() == Some(b'(') {
                        let args = self.call_args()?;
                        chain.push(Accessor::Method(name, args));
                    } else {
                        chain.push(Accessor::Prop(name));
                    }
                }
                Some(b'[') => {
                    let save = (self.pos, self.depth);
                    self.pos += 1;
                    let index = self.parse_expr().and_then(|e| {
                        self.skip_ws();
                        self.expect(b']')?;
                        Ok(e)
                    });
                    match index {
                        Ok(e) => chain.push(Accessor::Index(e)),
                        Err(_) if text => {
                            (self.pos, self.depth) = save;
                            return Ok(chain);
                        }
                        Err(e) => return Err(e),
                    }
                }
                _ => return Ok(chain),
            }
            if chain.len() > crate::limits::MAX_NESTING * 4 {
                return Err(self.error("reference chain too long"));
            }
        }
    }

    fn call_args(&mut self) -> Result<Vec<Expr>, ParseError> {
        let start = self.pos;
        self.pos += 1;
        self.enter()?;
        let mut args = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                None => return Err(self.error_at(start, "unclosed '(' in method call")),
                Some(b')') => {
                    self.pos += 1;
                    break;
                }
                Some(b',') if !args.is_empty() => self.pos += 1,
                Some(_) => args.push(self.parse_expr()?),
            }
        }
        self.leave();
        Ok(args)
    }
}

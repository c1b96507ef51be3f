//! JSONPath in the Jayway dialect that `$input.path` / `$input.json` use: `$`, `.name`,
//! `['a b']`, `['a','b']`, `[0]`, `[-1]`, `[0,2]`, `[1:3]`, `[*]`, `.*`, `..name`, `..*`,
//! and filters `[?(@.price < 10 && @.tag == 'x')]` (`== != < <= > >= =~`, `!`, existence).
//!
//! Hand-written rather than a crate: the maintained crates (`serde_json_path`,
//! `jsonpath-rust`) implement RFC 9535, whose results are always node lists; Jayway instead
//! returns the value itself for a *definite* path (only names and single indexes) and a list
//! otherwise, and accepts paths without a leading `$`. That rule decides what AWS renders,
//! and it is easier to own ~300 lines than to adapt a crate's output and syntax.

use serde_json::Value as Json;

use crate::limits::MAX_JSONPATH_NESTING;

/// One path step.
#[derive(Debug)]
enum Seg {
    Names(Vec<String>),
    Indexes(Vec<i64>),
    Slice(Option<i64>, Option<i64>, i64),
    Wild,
    Deep(Box<Seg>),
    Filter(Filter),
}

#[derive(Debug)]
enum Filter {
    Or(Box<Filter>, Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Exists(Operand),
    Cmp(Operand, CmpOp, Operand),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Match,
}

#[derive(Debug)]
enum Operand {
    Current(Vec<Seg>),
    Root(Vec<Seg>),
    Lit(Json),
    Regex(String),
}

/// What a path selected.
pub(crate) enum Selected<'a> {
    /// A definite path: the value, or `None` if it is missing.
    One(Option<&'a Json>),
    /// An indefinite path: every match, in document order.
    Many(Vec<&'a Json>),
}

impl Selected<'_> {
    /// The result as Jayway returns it: the value itself, or a JSON array of matches.
    pub fn to_json(&self) -> Option<Json> {
        match self {
            Selected::One(v) => v.map(|v| (*v).clone()),
            Selected::Many(vs) => Some(Json::Array(vs.iter().map(|v| (*v).clone()).collect())),
        }
    }
}

/// Evaluates `path` against `root`.
pub(crate) fn select<'a>(root: &'a Json, path: &str) -> Result<Selected<'a>, String> {
    let segs = parse(path)?;
    let definite = segs.iter().all(|s| match s {
        Seg::Names(n) => n.len() == 1,
        Seg::Indexes(i) => i.len() == 1,
        _ => false,
    });
    let found = eval(root, vec![root], &segs);
    if definite {
        Ok(Selected::One(found.into_iter().next()))
    } else {
        Ok(Selected::Many(found))
    }
}

fn eval<'a>(root: &'a Json, mut nodes: Vec<&'a Json>, segs: &[Seg]) -> Vec<&'a Json> {
    for seg in segs {
        let mut next = Vec::new();
        for n in nodes {
            apply(root, seg, n, &mut next);
        }
        nodes = next;
    }
    nodes
}

fn apply<'a>(root: &'a Json, seg: &Seg, node: &'a Json, out: &mut Vec<&'a Json>) {
    match seg {
        Seg::Names(names) => {
            if let Json::Object(o) = node {
                out.extend(names.iter().filter_map(|n| o.get(n)));
            }
        }
        Seg::Indexes(idx) => {
            if let Json::Array(a) = node {
                for &i in idx {
                    let i = if i < 0 { a.len() as i64 + i } else { i };
                    if let Some(v) = usize::try_from(i).ok().and_then(|i| a.get(i)) {
                        out.push(v);
                    }
                }
            }
        }
        Seg::Slice(from, to, step) => {
            if let Json::Array(a) = node {
                let len = a.len() as i64;
                let norm = |v: i64| if v < 0 { (len + v).max(0) } else { v.min(len) };
                let start = from.map_or(0, norm);
                let end = to.map_or(len, norm);
                let mut i = start;
                while i < end {
                    if let Some(v) = usize::try_from(i).ok().and_then(|i| a.get(i)) {
                        out.push(v);
                    }
                    i += step;
                }
            }
        }
        Seg::Wild => match node {
            Json::Object(o) => out.extend(o.values()),
            Json::Array(a) => out.extend(a.iter()),
            _ => {}
        },
        Seg::Deep(inner) => {
            let mut stack = vec![node];
            while let Some(n) = stack.pop() {
                match &**inner {
                    Seg::Filter(_) => {
                        if n.is_array() {
                            apply(root, inner, n, out);
                        }
                    }
                    other => apply(root, other, n, out),
                }
                match n {
                    Json::Object(o) => stack.extend(o.values().rev()),
                    Json::Array(a) => stack.extend(a.iter().rev()),
                    _ => {}
                }
            }
        }
        Seg::Filter(f) => match node {
            Json::Array(a) => out.extend(a.iter().filter(|e| test(root, f, e))),
            Json::Object(_) if test(root, f, node) => out.push(node),
            _ => {}
        },
    }
}

fn test(root: &Json, f: &Filter, cur: &Json) -> bool {
    match f {
        Filter::Or(a, b) => test(root, a, cur) || test(root, b, cur),
        Filter::And(a, b) => test(root, a, cur) && test(root, b, cur),
        Filter::Not(a) => !test(root, a, cur),
        Filter::Exists(op) => operand(root, op, cur).is_some(),
        Filter::Cmp(l, op, r) => {
            if *op == CmpOp::Match {
                let (Some(Json::String(s)), Operand::Regex(re)) = (operand(root, l, cur), r) else {
                    return false;
                };
                return crate::jregex::compile(re).is_ok_and(|re| re.is_match(&s).unwrap_or(false));
            }
            let (Some(l), Some(r)) = (operand(root, l, cur), operand(root, r, cur)) else {
                return *op == CmpOp::Ne;
            };
            compare(&l, *op, &r)
        }
    }
}

fn compare(l: &Json, op: CmpOp, r: &Json) -> bool {
    use std::cmp::Ordering;
    let ord = match (l, r) {
        (Json::Number(a), Json::Number(b)) => a
            .as_f64()
            .zip(b.as_f64())
            .and_then(|(a, b)| a.partial_cmp(&b)),
        (Json::String(a), Json::String(b)) => Some(a.cmp(b)),
        _ => (l == r).then_some(Ordering::Equal),
    };
    match op {
        CmpOp::Eq => ord == Some(Ordering::Equal),
        CmpOp::Ne => ord != Some(Ordering::Equal),
        CmpOp::Lt => ord == Some(Ordering::Less),
        CmpOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Gt => ord == Some(Ordering::Greater),
        CmpOp::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
        CmpOp::Match => false,
    }
}

fn operand(root: &Json, op: &Operand, cur: &Json) -> Option<Json> {
    let (start, segs) = match op {
        Operand::Lit(v) => return Some(v.clone()),
        Operand::Regex(r) => return Some(Json::String(r.clone())),
        Operand::Current(s) => (cur, s),
        Operand::Root(s) => (root, s),
    };
    let found = eval(root, vec![start], segs);
    let definite = segs.iter().all(|s| {
        matches!(s, Seg::Names(n) if n.len() == 1) || matches!(s, Seg::Indexes(i) if i.len() == 1)
    });
    if definite {
        found.first().map(|v| (*v).clone())
    } else {
        Some(Json::Array(found.into_iter().cloned().collect()))
    }
}

struct Cur<'s> {
    s: &'s [u8],
    src: &'s str,
    pos: usize,
    depth: usize,
}

fn parse(path: &str) -> Result<Vec<Seg>, String> {
    let path = path.trim();
    let owned;
    let path = if let Some(rest) = path.strip_prefix('$') {
        rest
    } else if path.is_empty() {
        ""
    } else {
        owned = if path.starts_with('[') || path.starts_with('.') {
            path.to_string()
        } else {
            format!(".{path}")
        };
        owned.as_str()
    };
    let mut c = Cur {
        s: path.as_bytes(),
        src: path,
        pos: 0,
        depth: 0,
    };
    let segs = c.segments(false)?;
    if c.pos < c.s.len() {
        return Err(format!("unexpected '{}' in JSONPath", &c.src[c.pos..]));
    }
    Ok(segs)
}

impl Cur<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    fn segments(&mut self, in_filter: bool) -> Result<Vec<Seg>, String> {
        let mut segs = Vec::new();
        loop {
            match self.peek() {
                Some(b'.') if self.s.get(self.pos + 1) == Some(&b'.') => {
                    self.pos += 2;
                    let inner = match self.peek() {
                        Some(b'*') => {
                            self.pos += 1;
                            Seg::Wild
                        }
                        Some(b'[') => self.bracket()?,
                        _ => Seg::Names(vec![self.name(in_filter)?]),
                    };
                    segs.push(Seg::Deep(Box::new(inner)));
                }
                Some(b'.') => {
                    self.pos += 1;
                    if self.peek() == Some(b'*') {
                        self.pos += 1;
                        segs.push(Seg::Wild);
                    } else {
                        segs.push(Seg::Names(vec![self.name(in_filter)?]));
                    }
                }
                Some(b'[') => segs.push(self.bracket()?),
                _ => return Ok(segs),
            }
        }
    }

    fn name(&mut self, in_filter: bool) -> Result<String, String> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            let stop = c == b'.'
                || c == b'['
                || (in_filter
                    && matches!(c, b' ' | b')' | b'=' | b'!' | b'<' | b'>' | b'&' | b'|'));
            if stop {
                break;
            }
            self.pos += 1;
        }
        if start == self.pos {
            return Err("empty name in JSONPath".to_string());
        }
        Ok(self.src[start..self.pos].to_string())
    }

    fn bracket(&mut self) -> Result<Seg, String> {
        self.pos += 1;
        self.skip_ws();
        let seg = match self.peek() {
            Some(b'*') => {
                self.pos += 1;
                Seg::Wild
            }
            Some(b'?') => {
                self.pos += 1;
                self.skip_ws();
                self.expect(b'(')?;
                let f = self.filter_or()?;
                self.skip_ws();
                self.expect(b')')?;
                Seg::Filter(f)
            }
            Some(b'\'' | b'"') => {
                let mut names = vec![self.quoted()?];
                loop {
                    self.skip_ws();
                    if self.peek() != Some(b',') {
                        break;
                    }
                    self.pos += 1;
                    self.skip_ws();
                    names.push(self.quoted()?);
                }
                Seg::Names(names)
            }
            _ => self.indexes()?,
        };
        self.skip_ws();
        self.expect(b']')?;
        Ok(seg)
    }

    fn expect(&mut self, b: u8) -> Result<(), String> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' in JSONPath", b as char))
        }
    }

    fn quoted(&mut self) -> Result<String, String> {
        let q = self.peek().ok_or("unterminated JSONPath")?;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.src[self.pos..];
            let Some(off) = rest.find([q as char, '\\']) else {
                return Err("unterminated quoted name in JSONPath".to_string());
            };
            out.push_str(&rest[..off]);
            self.pos += off;
            if self.peek() == Some(b'\\') {
                self.pos += 1;
                if let Some(ch) = self.src[self.pos..].chars().next() {
                    out.push(ch);
                    self.pos += ch.len_utf8();
                }
                continue;
            }
            self.pos += 1;
            return Ok(out);
        }
    }

    fn int(&mut self) -> Result<Option<i64>, String> {
        self.skip_ws();
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if start == self.pos {
            return Ok(None);
        }
        self.src[start..self.pos]
            .parse()
            .map(Some)
            .map_err(|_| "bad index in JSONPath".to_string())
    }

    fn indexes(&mut self) -> Result<Seg, String> {
        let first = self.int()?;
        self.skip_ws();
        if self.peek() == Some(b':') {
            self.pos += 1;
            let to = self.int()?;
            self.skip_ws();
            let mut step = 1;
            if self.peek() == Some(b':') {
                self.pos += 1;
                step = self.int()?.unwrap_or(1);
            }
            if step <= 0 {
                return Err("JSONPath slice step must be positive".to_string());
            }
            return Ok(Seg::Slice(first, to, step));
        }
        let mut idx = vec![first.ok_or("bad JSONPath bracket")?];
        loop {
            self.skip_ws();
            if self.peek() != Some(b',') {
                return Ok(Seg::Indexes(idx));
            }
            self.pos += 1;
            idx.push(self.int()?.ok_or("bad JSONPath index list")?);
        }
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_JSONPATH_NESTING {
            return Err("JSONPath filter nested too deeply".to_string());
        }
        Ok(())
    }

    fn filter_or(&mut self) -> Result<Filter, String> {
        self.enter()?;
        let mut left = self.filter_and()?;
        loop {
            self.skip_ws();
            if !self.src[self.pos..].starts_with("||") {
                break;
            }
            self.pos += 2;
            left = Filter::Or(Box::new(left), Box::new(self.filter_and()?));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn filter_and(&mut self) -> Result<Filter, String> {
        let mut left = self.filter_unary()?;
        loop {
            self.skip_ws();
            if !self.src[self.pos..].starts_with("&&") {
                return Ok(left);
            }
            self.pos += 2;
            left = Filter::And(Box::new(left), Box::new(self.filter_unary()?));
        }
    }

    fn filter_unary(&mut self) -> Result<Filter, String> {
        self.skip_ws();
        if self.peek() == Some(b'!') && self.s.get(self.pos + 1) != Some(&b'=') {
            self.pos += 1;
            self.enter()?;
            let f = self.filter_unary()?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(f)));
        }
        if self.peek() == Some(b'(') {
            self.pos += 1;
            let f = self.filter_or()?;
            self.skip_ws();
            self.expect(b')')?;
            return Ok(f);
        }
        let left = self.operand()?;
        self.skip_ws();
        let rest = &self.src[self.pos..];
        let (op, len) = if rest.starts_with("==") {
            (CmpOp::Eq, 2)
        } else if rest.starts_with("!=") {
            (CmpOp::Ne, 2)
        } else if rest.starts_with("<=") {
            (CmpOp::Le, 2)
        } else if rest.starts_with(">=") {
            (CmpOp::Ge, 2)
        } else if rest.starts_with("=~") {
            (CmpOp::Match, 2)
        } else if rest.starts_with('<') {
            (CmpOp::Lt, 1)
        } else if rest.starts_with('>') {
            (CmpOp::Gt, 1)
        } else {
            return Ok(Filter::Exists(left));
        };
        self.pos += len;
        let right = self.operand()?;
        Ok(Filter::Cmp(left, op, right))
    }

    fn operand(&mut self) -> Result<Operand, String> {
        self.skip_ws();
        match self.peek() {
            Some(b'@') => {
                self.pos += 1;
                Ok(Operand::Current(self.segments(true)?))
            }
            Some(b'$') => {
                self.pos += 1;
                Ok(Operand::Root(self.segments(true)?))
            }
            Some(b'\'' | b'"') => Ok(Operand::Lit(Json::String(self.quoted()?))),
            Some(b'/') => {
                self.pos += 1;
                let rest = &self.src[self.pos..];
                let end = rest.find('/').ok_or("unterminated /regex/ in JSONPath")?;
                let re = rest[..end].to_string();
                self.pos += end + 1;
                let mut flags = String::new();
                while let Some(c) = self.peek().filter(u8::is_ascii_alphabetic) {
                    flags.push(c as char);
                    self.pos += 1;
                }
                Ok(Operand::Regex(if flags.contains('i') {
                    format!("(?i){re}")
                } else {
                    re
                }))
            }
            _ => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'+'))
                {
                    self.pos += 1;
                }
                let word = &self.src[start..self.pos];
                serde_json::from_str::<Json>(word)
                    .map(Operand::Lit)
                    .map_err(|_| format!("bad literal '{word}' in JSONPath filter"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(doc: &str, path: &str) -> String {
        let doc: Json = serde_json::from_str(doc).unwrap_or(Json::Null);
        match select(&doc, path) {
            Ok(sel) => sel
                .to_json()
                .map_or("<none>".to_string(), |v| v.to_string()),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn definite_and_indefinite() {
        let doc = r#"{"a":{"b":[1,2,3]},"c d":5,"items":[{"p":5,"n":"x"},{"p":15,"n":"y"}]}"#;
        assert_eq!(run(doc, "$.a.b"), "[1,2,3]");
        assert_eq!(run(doc, "$.a.b[1]"), "2");
        assert_eq!(run(doc, "$.a.b[-1]"), "3");
        assert_eq!(run(doc, "$.a.b[0:2]"), "[1,2]");
        assert_eq!(run(doc, "$['c d']"), "5");
        assert_eq!(run(doc, "$.items[*].n"), r#"["x","y"]"#);
        assert_eq!(run(doc, "$..n"), r#"["x","y"]"#);
        assert_eq!(run(doc, "$.items[?(@.p < 10)].n"), r#"["x"]"#);
        assert_eq!(run(doc, "$.items[?(@.n == 'y')].p"), "[15]");
        assert_eq!(run(doc, "$.missing"), "<none>");
        assert_eq!(run(doc, "a.b[0]"), "1");
    }
}

//! Java regular expressions for `matches`, `replaceAll`, `replaceFirst` and `split`, on
//! `fancy-regex` (lookaround and backreferences, as Java has) with a backtrack limit so a
//! catastrophic pattern fails instead of hanging. Translates what differs: `\Q..\E` quoting,
//! the POSIX `\p{Alpha}`-style classes, and Java's replacement syntax (`$1`, `${name}`, `\$`).

use fancy_regex::{Regex, RegexBuilder};

use crate::error::RenderError;
use crate::limits::REGEX_BACKTRACK_LIMIT;

fn fail(e: fancy_regex::Error) -> RenderError {
    RenderError::new(format!("regular expression failed: {e}"))
}

/// Compiles a Java regex.
pub(crate) fn compile(java: &str) -> Result<Regex, RenderError> {
    let pattern = translate(java);
    RegexBuilder::new(&pattern)
        .backtrack_limit(REGEX_BACKTRACK_LIMIT)
        .build()
        .map_err(|e| RenderError::new(format!("bad regular expression {java:?}: {e}")))
}

fn translate(java: &str) -> String {
    const POSIX: &[(&str, &str)] = &[
        ("Lower", "[a-z]"),
        ("Upper", "[A-Z]"),
        ("ASCII", "[\\x00-\\x7F]"),
        ("Alpha", "[a-zA-Z]"),
        ("Digit", "[0-9]"),
        ("Alnum", "[a-zA-Z0-9]"),
        ("Punct", "[!-/:-@\\[-`{-~]"),
        ("Space", "[ \\t\\n\\x0B\\f\\r]"),
        ("XDigit", "[0-9a-fA-F]"),
    ];
    let mut out = String::with_capacity(java.len());
    let mut rest = java;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(q) = tail.strip_prefix("\\Q") {
            let (lit, after) = match q.find("\\E") {
                Some(e) => (&q[..e], &q[e + 2..]),
                None => (q, ""),
            };
            out.push_str(&fancy_regex::escape(lit));
            rest = after;
            continue;
        }
        if let Some(p) = tail.strip_prefix("\\p{")
            && let Some((name, class)) = POSIX
                .iter()
                .find(|(n, _)| p.starts_with(n) && p.as_bytes().get(n.len()) == Some(&b'}'))
        {
            out.push_str(class);
            rest = &p[name.len() + 1..];
            continue;
        }
        let mut chars = tail.chars();
        chars.next();
        match chars.next() {
            Some(c) => {
                out.push('\\');
                out.push(c);
                rest = &tail[1 + c.len_utf8()..];
            }
            None => {
                out.push('\\');
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Java `String.matches`: the whole string must match.
pub(crate) fn matches(java: &str, input: &str) -> Result<bool, RenderError> {
    let re = compile(&format!("\\A(?:{java})\\z"))?;
    re.is_match(input).map_err(fail)
}

enum Part {
    Lit(String),
    Group(usize),
    Named(String),
}

fn parse_replacement(re: &Regex, repl: &str) -> Result<Vec<Part>, RenderError> {
    let groups = re.captures_len().saturating_sub(1);
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut chars = repl.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => lit.push(n),
                None => return Err(RenderError::new("character to be escaped is missing")),
            },
            '$' => {
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                match chars.next() {
                    Some('{') => {
                        let mut name = String::new();
                        loop {
                            match chars.next() {
                                Some('}') => break,
                                Some(ch) => name.push(ch),
                                None => {
                                    return Err(RenderError::new(
                                        "named capturing group is missing trailing '}'",
                                    ));
                                }
                            }
                        }
                        parts.push(Part::Named(name));
                    }
                    Some(d) if d.is_ascii_digit() => {
                        let mut n = d as usize - '0' as usize;
                        if n > groups {
                            return Err(RenderError::new(format!("No group {n}")));
                        }
                        while let Some(&next) = chars.peek() {
                            let Some(dv) = next.to_digit(10) else { break };
                            let candidate = n * 10 + dv as usize;
                            if candidate > groups {
                                break;
                            }
                            n = candidate;
                            chars.next();
                        }
                        parts.push(Part::Group(n));
                    }
                    _ => return Err(RenderError::new("Illegal group reference")),
                }
            }
            _ => lit.push(c),
        }
    }
    if !lit.is_empty() {
        parts.push(Part::Lit(lit));
    }
    Ok(parts)
}

/// Java `replaceAll` (or `replaceFirst` when `first`).
pub(crate) fn replace(
    java: &str,
    input: &str,
    repl: &str,
    first: bool,
) -> Result<String, RenderError> {
    let re = compile(java)?;
    let parts = parse_replacement(&re, repl)?;
    let mut out = String::with_capacity(input.len());
    let mut last = 0;
    for caps in re.captures_iter(input) {
        let caps = caps.map_err(fail)?;
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&input[last..m.start()]);
        for p in &parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Group(g) => {
                    if let Some(g) = caps.get(*g) {
                        out.push_str(g.as_str());
                    }
                }
                Part::Named(n) => match caps.name(n) {
                    Some(g) => out.push_str(g.as_str()),
                    None => {
                        return Err(RenderError::new(format!("No group with name {{{n}}}")));
                    }
                },
            }
        }
        last = m.end();
        if first {
            break;
        }
    }
    out.push_str(&input[last..]);
    Ok(out)
}

/// Java `split(regex, limit)`: no empty leading piece from a zero-width match at the start;
/// with `limit == 0`, trailing empty pieces are dropped.
pub(crate) fn split(java: &str, input: &str, limit: i64) -> Result<Vec<String>, RenderError> {
    let re = compile(java)?;
    let mut pieces: Vec<&str> = Vec::new();
    let mut last = 0;
    for m in re.find_iter(input) {
        let m = m.map_err(fail)?;
        if limit > 0 && pieces.len() as i64 >= limit - 1 {
            break;
        }
        if m.end() == 0 {
            continue;
        }
        pieces.push(&input[last..m.start()]);
        last = m.end();
    }
    if pieces.is_empty() {
        return Ok(vec![input.to_string()]);
    }
    pieces.push(&input[last..]);
    if limit == 0 {
        while pieces.last().is_some_and(|p| p.is_empty()) {
            pieces.pop();
        }
    }
    Ok(pieces.into_iter().map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_semantics() {
        assert_eq!(
            split(",", "a,b,,", 0).ok(),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            split("", "abc", 0).ok(),
            Some(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(split(",", "", 0).ok(), Some(vec![String::new()]));
        assert_eq!(
            replace("(\\w+)@(\\w+)", "me@host", "$2 at $1 \\$", false).ok(),
            Some("host at me $".to_string())
        );
        assert!(replace("a", "a", "$", false).is_err());
        assert_eq!(matches("a.c", "abc").ok(), Some(true));
        assert_eq!(matches("a", "abc").ok(), Some(false));
        assert_eq!(matches("\\p{Alpha}+", "abc").ok(), Some(true));
    }

    #[test]
    fn catastrophic_backtracking_fails() {
        let input = format!("{}!", "a".repeat(40));
        assert!(matches("(a|aa)+$\\1", &input).is_err());
    }
}

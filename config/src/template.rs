//! Templates with variable substitution, parsed once at load time.
//!
//! Two dialects share one representation:
//! - **URI templates** (`uri`): `{name}` is an integration path parameter, and
//!   `${stageVariables.name}` a stage variable.
//! - **Text templates** (gateway-response and MOCK templates): `$context.a.b`,
//!   `$stageVariables.name` (also written `${...}`), and `$input.params('name')`.
//!
//! Text templates are the substitution subset of VTL that gateway responses need. Full VTL
//! (`#if`, `#foreach`, `$util`) belongs to the mapping-template plugin; directives that this
//! subset does not know are kept as literal text.

use crate::context_var::ContextVar;

/// A variable a template refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Var {
    /// `{name}` in a URI: an integration path parameter.
    PathParam(String),
    /// `${stageVariables.name}` / `$stageVariables.name`.
    StageVariable(String),
    /// `$context.name` (dotted, for example `identity.sourceIp`).
    Context(ContextVar),
    /// `$input.params('name')`: path, then query string, then header.
    InputParam(String),
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text copied as is.
    Literal(String),
    /// A substituted value.
    Var(Var),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    /// The source text, for messages.
    pub source: String,
    /// The pieces, in order.
    pub parts: Vec<Part>,
}

impl Template {
    /// Parses a URI template. `Err` holds a message for the user.
    pub fn parse_uri(source: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = source;
        while let Some(i) = rest.find(['{', '$']) {
            let (before, at) = rest.split_at(i);
            lit.push_str(before);
            if let Some(after) = at.strip_prefix("${") {
                let end = after
                    .find('}')
                    .ok_or_else(|| format!("unclosed ${{ in {source}"))?;
                let expr = &after[..end];
                let name = expr.strip_prefix("stageVariables.").ok_or_else(|| {
                    format!(
                        "${{{expr}}} is not supported in a URI; only ${{stageVariables.NAME}} is"
                    )
                })?;
                check_name(name, source)?;
                flush(&mut lit, &mut parts);
                parts.push(Part::Var(Var::StageVariable(name.to_owned())));
                rest = &after[end + 1..];
            } else if let Some(after) = at.strip_prefix('{') {
                let end = after
                    .find('}')
                    .ok_or_else(|| format!("unclosed {{ in {source}"))?;
                let name = &after[..end];
                check_name(name.trim_end_matches('+'), source)?;
                flush(&mut lit, &mut parts);
                parts.push(Part::Var(Var::PathParam(
                    name.trim_end_matches('+').to_owned(),
                )));
                rest = &after[end + 1..];
            } else {
                lit.push('$');
                rest = &at[1..];
            }
        }
        lit.push_str(rest);
        flush(&mut lit, &mut parts);
        Ok(Self {
            source: source.to_owned(),
            parts,
        })
    }

    /// Parses a text template. Never fails: what is not a known variable stays literal.
    pub fn parse_text(source: &str) -> Self {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = source;
        while let Some(i) = rest.find('$') {
            lit.push_str(&rest[..i]);
            let at = &rest[i..];
            match parse_text_var(at) {
                Some((var, used)) => {
                    flush(&mut lit, &mut parts);
                    parts.push(Part::Var(var));
                    rest = &at[used..];
                }
                None => {
                    lit.push('$');
                    rest = &at[1..];
                }
            }
        }
        lit.push_str(rest);
        flush(&mut lit, &mut parts);
        Self {
            source: source.to_owned(),
            parts,
        }
    }

    /// Renders the template, asking `lookup` for each variable. Unknown variables render empty,
    /// as undefined references do in API Gateway.
    pub fn render<'a>(&'a self, mut lookup: impl FnMut(&'a Var, &mut String)) -> String {
        let mut out = String::with_capacity(self.source.len() + 16);
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Var(v) => lookup(v, &mut out),
            }
        }
        out
    }

    /// The variables the template uses.
    pub fn vars(&self) -> impl Iterator<Item = &Var> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v),
            Part::Literal(_) => None,
        })
    }
}

fn flush(lit: &mut String, parts: &mut Vec<Part>) {
    if !lit.is_empty() {
        parts.push(Part::Literal(std::mem::take(lit)));
    }
}

fn check_name(name: &str, source: &str) -> Result<(), String> {
    if !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(())
    } else {
        Err(format!("invalid variable name {name:?} in {source}"))
    }
}

/// Parses `$context.a.b`, `${context.a.b}`, `$stageVariables.x`, `$input.params('x')` at the
/// start of `s`; returns the variable and the bytes consumed.
fn parse_text_var(s: &str) -> Option<(Var, usize)> {
    let ident_len = |t: &str| {
        t.bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.')
            .count()
    };
    if let Some(inner) = s.strip_prefix("${") {
        let end = inner.find('}')?;
        let (var, used) = parse_text_var(&format!("${}", &inner[..end]))?;
        return (used == end + 1).then_some((var, end + 3));
    }
    let body = &s[1..];
    for (prefix, make) in [
        (
            "context.",
            (|n: String| Var::Context(ContextVar::parse(&n))) as fn(String) -> Var,
        ),
        ("stageVariables.", Var::StageVariable),
    ] {
        if let Some(name) = body.strip_prefix(prefix) {
            // A trailing dot belongs to the text ("... $context.stage.").
            let n = ident_len(name);
            let n = name[..n].trim_end_matches('.').len();
            if n == 0 {
                return None;
            }
            return Some((make(name[..n].to_owned()), 1 + prefix.len() + n));
        }
    }
    if let Some(args) = body.strip_prefix("input.params(") {
        let quote = args.chars().next().filter(|c| *c == '\'' || *c == '"')?;
        let close = args[1..].find(quote)?;
        let name = &args[1..1 + close];
        let after = &args[1 + close + 1..];
        if after.starts_with(')') {
            let used = 1 + "input.params(".len() + close + 3;
            return Some((Var::InputParam(name.to_owned()), used));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_template() {
        let t = Template::parse_uri("http://${stageVariables.host}/pets/{id}?x=1").unwrap();
        assert_eq!(
            t.parts,
            vec![
                Part::Literal("http://".into()),
                Part::Var(Var::StageVariable("host".into())),
                Part::Literal("/pets/".into()),
                Part::Var(Var::PathParam("id".into())),
                Part::Literal("?x=1".into()),
            ]
        );
        assert!(Template::parse_uri("http://{id").is_err());
        assert!(Template::parse_uri("http://${context.x}/").is_err());
        let greedy = Template::parse_uri("http://h/{proxy+}").unwrap();
        assert_eq!(greedy.parts[1], Part::Var(Var::PathParam("proxy".into())));
    }

    #[test]
    fn text_template() {
        let t = Template::parse_text(
            r#"{"message":$context.error.messageString, "s":"${stageVariables.v}", "id":"$input.params('id')", "cost":"$5"}"#,
        );
        let vars: Vec<_> = t.vars().cloned().collect();
        assert_eq!(
            vars,
            vec![
                Var::Context(ContextVar::ErrorMessageString),
                Var::StageVariable("v".into()),
                Var::InputParam("id".into()),
            ]
        );
        let out = t.render(|v, out| {
            if let Var::InputParam(n) = v {
                out.push_str(n)
            }
        });
        assert_eq!(out, r#"{"message":, "s":"", "id":"id", "cost":"$5"}"#);
    }

    #[test]
    fn trailing_dot_is_text() {
        let t = Template::parse_text("stage $context.stage.");
        assert_eq!(t.parts.last(), Some(&Part::Literal(".".into())));
    }
}

//! HTTP API parameter mapping (`[DG:http-api-parameter-mapping]`): the `requestParameters` and
//! `responseParameters` of an HTTP API integration, written `OPERATION:TARGET: VALUE`, e.g.
//! `overwrite:header.x-user: ${request.header.user}-${stageVariables.suffix}`.
//!
//! REST APIs write mappings as `integration.request.header.x: method.request.header.x`
//! ([`crate::mapping`]); the two styles never mix in one map. Everything is parsed here, once:
//! the proxy only looks the parts of a [`Value`] up and concatenates them.
//!
//! Each entry is parsed by [`parse_request`] or [`parse_response`], which return a message for
//! the user on bad input; the OpenAPI walk reports it at the entry's document path.

use crate::context_var::ContextVar;
use crate::mapping::{ParamSource, http_header_name_ok};

/// Largest prefix of a request body a `$request.body.PATH` is evaluated on (AWS truncates the
/// body at 100 KB before it applies the JSONPath).
pub const BODY_PATH_LIMIT: usize = 100 * 1024;

/// What a mapping does to its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    /// `remove:`: drops every value of the target.
    Remove,
    /// `overwrite:`: replaces every value of the target with the new one.
    Overwrite,
    /// `append:`: adds the new value after any the target already has.
    Append,
}

/// What a mapping writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `header.NAME` (stored lowercase).
    Header(String),
    /// `querystring.NAME` (case-sensitive, as in AWS).
    Query(String),
    /// `path` (request only): the path of the integration request.
    Path,
    /// `statuscode` (response only): the status the client sees.
    StatusCode,
}

/// Where a part of a value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A value a REST mapping source also reads, evaluated the same way:
    /// `$request.header.NAME` ([`ParamSource::MultiHeader`], all values comma-joined),
    /// `$request.querystring.NAME` ([`ParamSource::MultiQuery`]), `$request.path.NAME`
    /// ([`ParamSource::Path`]), `$context.NAME` ([`ParamSource::Context`]) and
    /// `$stageVariables.NAME` ([`ParamSource::StageVariable`]).
    Param(ParamSource),
    /// `$request.path`: the request path without the stage.
    RequestPath,
    /// `$request.body`: the whole request body.
    RequestBody,
    /// `$request.body.PATH`: the JSONPath `$.PATH` into the first 100 KB of the request body.
    RequestBodyPath(String),
    /// `$response.header.NAME` (response only): all values, comma-joined.
    ResponseHeader(String),
    /// `$response.body` (response only): the whole integration response body.
    ResponseBody,
    /// `$response.body.PATH` (response only): the JSONPath `$.PATH` into the response body.
    ResponseBodyPath(String),
}

/// One piece of a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text as written.
    Literal(String),
    /// A `$…` or `${…}` expression.
    Source(Source),
}

/// A mapped value: its parts in order, concatenated at request time. A part whose source has
/// no value contributes nothing; a value made only of sources that all have no value is no
/// value at all, and its mapping is skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Value {
    /// The parts, in order.
    pub parts: Vec<Part>,
}

impl Value {
    /// True when a part reads the request body.
    pub fn reads_request_body(&self) -> bool {
        self.sources()
            .any(|s| matches!(s, Source::RequestBody | Source::RequestBodyPath(_)))
    }

    /// True when a part reads the integration response body.
    pub fn reads_response_body(&self) -> bool {
        self.sources()
            .any(|s| matches!(s, Source::ResponseBody | Source::ResponseBodyPath(_)))
    }

    /// The sources among the parts.
    pub fn sources(&self) -> impl Iterator<Item = &Source> {
        self.parts.iter().filter_map(|p| match p {
            Part::Source(s) => Some(s),
            Part::Literal(_) => None,
        })
    }

    /// True when the value is only literal text.
    pub fn is_static(&self) -> bool {
        self.sources().next().is_none()
    }
}

/// One mapping: `OPERATION:TARGET` ← value (empty for `remove`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// What is done.
    pub op: Operation,
    /// To what.
    pub target: Target,
    /// With which value (ignored by `remove`).
    pub value: Value,
}

/// The HTTP API request mappings of an integration, sorted into the order they apply:
/// every `remove`, then every `overwrite`, then every `append` (AWS does not document an order;
/// this one lets a map overwrite a header and append to it too).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMapping {
    /// The mappings, in the order they apply.
    pub mappings: Vec<Mapping>,
}

/// The HTTP API response mappings for one integration status code, in the order they apply
/// (as [`RequestMapping`]). `overwrite:statuscode` is held apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseMapping {
    /// Header mappings, in the order they apply.
    pub mappings: Vec<Mapping>,
    /// `overwrite:statuscode`: the status the client sees instead.
    pub status: Option<u16>,
}

impl RequestMapping {
    /// True when a mapping reads the request body (the body is then collected, bounded).
    pub fn reads_body(&self) -> bool {
        self.mappings.iter().any(|m| m.value.reads_request_body())
    }

    /// Sorts the mappings into the order they apply.
    pub fn sort(&mut self) {
        self.mappings.sort_by_key(|m| m.op);
    }
}

impl ResponseMapping {
    /// True when a mapping reads the integration response body (which is then read whole).
    pub fn reads_body(&self) -> bool {
        self.mappings.iter().any(|m| m.value.reads_response_body())
    }

    /// Sorts the mappings into the order they apply.
    pub fn sort(&mut self) {
        self.mappings.sort_by_key(|m| m.op);
    }
}

/// Which side a mapping is evaluated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Request,
    Response,
}

/// True when `key` is written in the HTTP API style (`word:…`) rather than REST's
/// `integration.request.…`.
pub fn is_http_api_key(key: &str) -> bool {
    key.split_once(':')
        .is_some_and(|(op, _)| !op.is_empty() && op.bytes().all(|b| b.is_ascii_alphabetic()))
}

/// Parses one `requestParameters` entry of an HTTP API integration.
pub fn parse_request(key: &str, value: &str) -> Result<Mapping, String> {
    let (op, target) = parse_key(key, Side::Request)?;
    let value = parse_entry_value(op, value, Side::Request)?;
    Ok(Mapping { op, target, value })
}

/// Parses one entry of a `responseParameters` status code of an HTTP API integration.
/// `overwrite:statuscode` gives [`Target::StatusCode`] with its value checked to be a static
/// status code 100–599 (read it with [`status_value`]).
pub fn parse_response(key: &str, value: &str) -> Result<Mapping, String> {
    let (op, target) = parse_key(key, Side::Response)?;
    if target == Target::StatusCode {
        status_value(value)?;
        return Ok(Mapping {
            op,
            target,
            value: Value {
                parts: vec![Part::Literal(value.trim().to_owned())],
            },
        });
    }
    let value = parse_entry_value(op, value, Side::Response)?;
    Ok(Mapping { op, target, value })
}

/// The status code of an `overwrite:statuscode` value: a static integer from 100 to 599.
pub fn status_value(value: &str) -> Result<u16, String> {
    let v = unquote(value.trim());
    if v.contains('$') {
        return Err(format!(
            "overwrite:statuscode must be a static status code; {v} is an expression, which Portico does not evaluate for status codes"
        ));
    }
    match v.parse::<u16>() {
        Ok(s) if (100..=599).contains(&s) => Ok(s),
        _ => Err(format!(
            "overwrite:statuscode must be a status code between 100 and 599, got {v:?}"
        )),
    }
}

/// Parses a `responseParameters` key: an integration status code from 200 to 599.
pub fn parse_status_key(key: &str) -> Result<u16, String> {
    match key.parse::<u16>() {
        Ok(s) if (200..=599).contains(&s) => Ok(s),
        _ => Err(format!(
            "{key} is not an integration status code: HTTP API responseParameters are keyed by status codes from 200 to 599"
        )),
    }
}

fn parse_key(key: &str, side: Side) -> Result<(Operation, Target), String> {
    let Some((op, target)) = key.split_once(':') else {
        return Err(format!(
            "{key} is not a mapping key (expected append|overwrite|remove:header.NAME, …)"
        ));
    };
    let op = match op {
        "append" => Operation::Append,
        "overwrite" => Operation::Overwrite,
        "remove" => Operation::Remove,
        other => {
            return Err(format!(
                "{other} is not a mapping operation (expected append, overwrite or remove)"
            ));
        }
    };
    let target = if let Some(name) = target.strip_prefix("header.") {
        if !http_header_name_ok(name) {
            return Err(format!("{name} is not a valid HTTP header name"));
        }
        if reserved_header(name) {
            return Err(format!(
                "{name} is a reserved header, which API Gateway does not let a mapping change"
            ));
        }
        Target::Header(name.to_ascii_lowercase())
    } else if let Some(name) = target.strip_prefix("querystring.") {
        if side == Side::Response {
            return Err(format!(
                "{key}: a response mapping can change headers and the status code only"
            ));
        }
        if name.is_empty() {
            return Err(format!("{key} names no query string parameter"));
        }
        Target::Query(name.to_owned())
    } else if target == "path" {
        if side == Side::Response {
            return Err(format!(
                "{key}: a response mapping can change headers and the status code only"
            ));
        }
        Target::Path
    } else if target == "statuscode" {
        if side == Side::Request {
            return Err(format!(
                "{key}: the status code can only be mapped in responseParameters"
            ));
        }
        Target::StatusCode
    } else {
        let expected = match side {
            Side::Request => "header.NAME, querystring.NAME or path",
            Side::Response => "header.NAME or statuscode",
        };
        return Err(format!(
            "{target} is not a mapping target (expected {expected})"
        ));
    };
    match (op, &target) {
        (Operation::Overwrite, _) | (_, Target::Header(_) | Target::Query(_)) => {}
        (_, Target::Path) => {
            return Err(format!("{key}: the path can only be overwritten"));
        }
        (_, Target::StatusCode) => {
            return Err(format!("{key}: the status code can only be overwritten"));
        }
    }
    Ok((op, target))
}

/// The value of an entry: parsed, except for `remove`, whose value AWS requires but ignores.
fn parse_entry_value(op: Operation, value: &str, side: Side) -> Result<Value, String> {
    if op == Operation::Remove {
        return Ok(Value::default());
    }
    parse_value(value, side)
}

/// `'text'`: the quotes OpenAPI exports put around static values are not part of them.
fn unquote(v: &str) -> &str {
    v.strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .unwrap_or(v)
}

/// Characters an unbraced `$request.…` expression runs over; anything else ends it.
fn expr_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '[' | ']' | '*')
}

/// Roots that start an expression.
const ROOTS: &[&str] = &["request.", "response.", "context.", "stageVariables."];

fn parse_value(raw: &str, side: Side) -> Result<Value, String> {
    let text = unquote(raw);
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        literal.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (expr, next) = if let Some(braced) = after.strip_prefix('{') {
            let Some(end) = braced.find('}') else {
                return Err(format!("{raw}: ${{ is not closed with }}"));
            };
            (&braced[..end], &braced[end + 1..])
        } else if ROOTS.iter().any(|r| after.starts_with(r)) {
            // A JSONPath runs to a space, `/` or the next `$`; other expressions stop at the
            // first character a name does not use.
            let body = after.starts_with("request.body") || after.starts_with("response.body");
            let end = after
                .find(|c: char| {
                    if body {
                        c.is_whitespace() || c == '/' || c == '$'
                    } else {
                        !expr_char(c)
                    }
                })
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        } else {
            // A `$` that starts no expression is text.
            literal.push('$');
            rest = after;
            continue;
        };
        let source = parse_source(expr, side).map_err(|e| format!("{raw}: {e}"))?;
        if !literal.is_empty() {
            parts.push(Part::Literal(std::mem::take(&mut literal)));
        }
        parts.push(Part::Source(source));
        rest = next;
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(Part::Literal(literal));
    }
    Ok(Value { parts })
}

fn parse_source(expr: &str, side: Side) -> Result<Source, String> {
    let named = |prefix: &str| -> Option<Result<String, String>> {
        expr.strip_prefix(prefix).map(|n| {
            if n.is_empty() {
                Err(format!("${expr} names nothing"))
            } else {
                Ok(n.to_owned())
            }
        })
    };
    let request_side = expr.starts_with("request.");
    if expr.starts_with("response.") && side == Side::Request {
        return Err(format!("${expr} is only available in responseParameters"));
    }
    if request_side && side == Side::Response {
        return Err(format!(
            "${expr}: response mappings read $response.*, $context.* and $stageVariables.* (not $request.*)"
        ));
    }
    let source = if expr == "request.path" {
        Source::RequestPath
    } else if expr == "request.body" {
        Source::RequestBody
    } else if expr == "response.body" {
        Source::ResponseBody
    } else if let Some(n) = named("request.header.") {
        Source::Param(ParamSource::MultiHeader(n?.to_ascii_lowercase()))
    } else if let Some(n) = named("request.querystring.") {
        Source::Param(ParamSource::MultiQuery(n?))
    } else if let Some(n) = named("request.path.") {
        Source::Param(ParamSource::Path(n?))
    } else if let Some(n) = named("request.body.") {
        Source::RequestBodyPath(body_path(expr, &n?)?)
    } else if let Some(n) = named("response.header.") {
        Source::ResponseHeader(n?.to_ascii_lowercase())
    } else if let Some(n) = named("response.body.") {
        Source::ResponseBodyPath(body_path(expr, &n?)?)
    } else if let Some(n) = named("context.") {
        Source::Param(ParamSource::Context(ContextVar::parse(&n?)))
    } else if let Some(n) = named("stageVariables.") {
        Source::Param(ParamSource::StageVariable(n?))
    } else {
        return Err(format!(
            "${expr} is not a mapping value (expected $request.header|querystring|body|path…, $response.header|body…, $context.NAME or $stageVariables.NAME)"
        ));
    };
    Ok(source)
}

/// `$.PATH`, checked: no recursive descent and no filters (API Gateway supports neither).
fn body_path(expr: &str, path: &str) -> Result<String, String> {
    if path.contains("..") || path.starts_with('.') {
        return Err(format!(
            "${expr}: recursive descent (..) is not supported in HTTP API mappings"
        ));
    }
    if path.contains("?(") || path.contains('?') {
        return Err(format!(
            "${expr}: filter expressions are not supported in HTTP API mappings"
        ));
    }
    let full = format!("$.{path}");
    portico_vtl::check_json_path(&full)
        .map(|()| full)
        .map_err(|e| format!("${expr}: {e}"))
}

/// Headers API Gateway reserves: a mapping may neither set nor remove them
/// (`[DG:http-api-parameter-mapping]`, "Reserved headers").
const RESERVED: &[&str] = &[
    "authorization",
    "connection",
    "content-encoding",
    "content-length",
    "content-location",
    "forwarded",
    "keep-alive",
    "origin",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "via",
];

/// Prefixes of reserved headers.
const RESERVED_PREFIXES: &[&str] = &["access-control-", "apigw-", "x-amz-", "x-amzn-"];

/// True when a mapping may not touch header `name`.
pub fn reserved_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    RESERVED.contains(&lower.as_str()) || RESERVED_PREFIXES.iter().any(|p| lower.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Part {
        Part::Literal(s.into())
    }
    fn src(s: Source) -> Part {
        Part::Source(s)
    }

    #[test]
    fn request_keys_and_values() {
        let m = parse_request("append:header.X-Request-Id", "$context.requestId").unwrap();
        assert_eq!(m.op, Operation::Append);
        assert_eq!(m.target, Target::Header("x-request-id".into()));
        assert_eq!(
            m.value.parts,
            vec![src(Source::Param(ParamSource::Context(
                ContextVar::RequestId
            )))]
        );

        let m = parse_request(
            "overwrite:header.x-user",
            "${request.header.user}-${stageVariables.suffix}",
        )
        .unwrap();
        assert_eq!(
            m.value.parts,
            vec![
                src(Source::Param(ParamSource::MultiHeader("user".into()))),
                lit("-"),
                src(Source::Param(ParamSource::StageVariable("suffix".into()))),
            ]
        );

        let m = parse_request("remove:querystring.debug", "''").unwrap();
        assert_eq!(
            (m.op, m.target),
            (Operation::Remove, Target::Query("debug".into()))
        );

        let m = parse_request("overwrite:path", "/v2$request.path").unwrap();
        assert_eq!(m.value.parts, vec![lit("/v2"), src(Source::RequestPath)]);

        let m = parse_request("overwrite:header.x-b", "$request.body.user.name").unwrap();
        assert_eq!(
            m.value.parts,
            vec![src(Source::RequestBodyPath("$.user.name".into()))]
        );
        assert!(m.value.reads_request_body());

        let m = parse_request("overwrite:querystring.q", "'static'").unwrap();
        assert_eq!(m.value.parts, vec![lit("static")]);
        let m = parse_request("overwrite:querystring.q", "cost $5").unwrap();
        assert_eq!(m.value.parts, vec![lit("cost $5")]);
        let m = parse_request("append:querystring.id", "$request.path.id/x").unwrap();
        assert_eq!(
            m.value.parts,
            vec![
                src(Source::Param(ParamSource::Path("id".into()))),
                lit("/x")
            ]
        );
    }

    #[test]
    fn request_errors() {
        let err = |k: &str, v: &str| parse_request(k, v).unwrap_err();
        assert!(err("replace:header.x", "a").contains("not a mapping operation"));
        assert!(err("remove:path", "''").contains("the path can only be overwritten"));
        assert!(err("append:path", "/x").contains("the path can only be overwritten"));
        assert!(
            err("overwrite:statuscode", "201").contains("only be mapped in responseParameters")
        );
        assert!(
            err("overwrite:header.x", "$response.header.a")
                .contains("only available in responseParameters")
        );
        assert!(err("overwrite:header.x", "$request.body..a").contains("recursive descent"));
        assert!(err("overwrite:header.x", "$request.body.a[?(@.b)]").contains("filter"));
        assert!(err("overwrite:header.x", "${request.header.a").contains("not closed"));
        assert!(err("overwrite:header.Authorization", "x").contains("reserved"));
        assert!(err("append:header.x-amzn-trace-id", "x").contains("reserved"));
        assert!(err("append:header.Access-Control-Allow-Origin", "*").contains("reserved"));
        assert!(err("overwrite:header.bad name", "x").contains("valid HTTP header name"));
        assert!(err("overwrite:body", "x").contains("not a mapping target"));
        assert!(err("overwrite:header.x", "${nope.a}").contains("not a mapping value"));
        assert!(err("overwrite:querystring.", "x").contains("names no query string"));
    }

    #[test]
    fn response_keys_and_values() {
        let m = parse_response("overwrite:statuscode", "201").unwrap();
        assert_eq!(m.target, Target::StatusCode);
        assert_eq!(status_value("201"), Ok(201));
        let m = parse_response("append:header.x-up", "${response.header.server}!").unwrap();
        assert_eq!(
            m.value.parts,
            vec![src(Source::ResponseHeader("server".into())), lit("!")]
        );
        let m = parse_response("overwrite:header.x-id", "$response.body.id").unwrap();
        assert!(m.value.reads_response_body());

        let err = |k: &str, v: &str| parse_response(k, v).unwrap_err();
        assert!(err("append:statuscode", "201").contains("only be overwritten"));
        assert!(err("overwrite:statuscode", "99").contains("between 100 and 599"));
        assert!(err("overwrite:statuscode", "abc").contains("between 100 and 599"));
        assert!(err("overwrite:statuscode", "$response.header.s").contains("static status code"));
        assert!(err("overwrite:header.x", "$request.header.a").contains("not $request"));
        assert!(err("overwrite:querystring.q", "a").contains("headers and the status code only"));
        assert!(err("overwrite:path", "/a").contains("headers and the status code only"));
        assert!(err("remove:header.content-length", "''").contains("reserved"));

        assert_eq!(parse_status_key("404"), Ok(404));
        assert!(parse_status_key("199").is_err());
        assert!(parse_status_key("600").is_err());
        assert!(parse_status_key("default").is_err());
    }

    #[test]
    fn sorts_remove_overwrite_append() {
        let mut m = RequestMapping {
            mappings: vec![
                parse_request("append:header.a", "1").unwrap(),
                parse_request("remove:header.a", "''").unwrap(),
                parse_request("overwrite:header.a", "2").unwrap(),
            ],
        };
        m.sort();
        let ops: Vec<_> = m.mappings.iter().map(|m| m.op).collect();
        assert_eq!(
            ops,
            [Operation::Remove, Operation::Overwrite, Operation::Append]
        );
    }

    #[test]
    fn tells_the_styles_apart() {
        assert!(is_http_api_key("append:header.x"));
        assert!(is_http_api_key("bogus:header.x"));
        assert!(!is_http_api_key("integration.request.header.x"));
        assert!(!is_http_api_key(":x"));
    }
}

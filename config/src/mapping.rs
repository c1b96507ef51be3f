//! Parameter-mapping expressions (`requestParameters`, `responseParameters`).
//!
//! AWS writes a mapping as `target: source`, for example
//! `integration.request.header.x-user: method.request.header.x-user`. Sources are parsed once
//! here; the proxy only looks values up.

use crate::context_var::ContextVar;

/// Where a mapped value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamSource {
    /// `'literal'`.
    Static(String),
    /// `method.request.path.NAME`.
    Path(String),
    /// `method.request.querystring.NAME` (the last value when repeated).
    Query(String),
    /// `method.request.multivaluequerystring.NAME`: all values, comma-joined, except into an
    /// integration query string, which gets the parameter once per value.
    MultiQuery(String),
    /// `method.request.header.NAME` (the last value when repeated).
    Header(String),
    /// `method.request.multivalueheader.NAME` (all values, comma-joined).
    MultiHeader(String),
    /// `stageVariables.NAME`.
    StageVariable(String),
    /// `context.NAME` (a `$context` variable).
    Context(ContextVar),
    /// `method.request.body`: the whole request body.
    RequestBody,
    /// `method.request.body.PATH`: a JSONPath (`$.PATH`) into the JSON request body.
    RequestBodyPath(String),
    /// `integration.response.header.NAME` (response mappings only).
    ResponseHeader(String),
    /// `integration.response.multivalueheader.NAME`: all values, comma-joined (response
    /// mappings only).
    MultiResponseHeader(String),
    /// `integration.response.body` (response mappings only).
    ResponseBody,
    /// `integration.response.body.PATH`: a JSONPath (`$.PATH`) into the JSON integration
    /// response body (response mappings only).
    ResponseBodyPath(String),
}

/// Which side of the integration a mapping is evaluated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `integration.request.*` mappings: method request values are available.
    Request,
    /// `method.response.*` mappings: integration response values are available too.
    Response,
    /// `gatewayresponse.*` mappings: request values, no integration.
    GatewayResponse,
}

impl ParamSource {
    /// Parses a source expression; `Err` holds a message for the user.
    pub fn parse(expr: &str, side: Side) -> Result<Self, String> {
        let expr = expr.trim();
        if let Some(lit) = expr.strip_prefix('\'') {
            return match lit.strip_suffix('\'') {
                Some(v) => Ok(Self::Static(v.to_owned())),
                None => Err(format!(
                    "static value {expr} must be closed with a single quote"
                )),
            };
        }
        let named = |prefix: &str| -> Option<Result<String, String>> {
            expr.strip_prefix(prefix).map(|name| {
                if name.is_empty() {
                    Err(format!("{expr} names no parameter"))
                } else {
                    Ok(name.to_owned())
                }
            })
        };
        let parsed = if let Some(n) = named("method.request.path.") {
            n.map(Self::Path)
        } else if let Some(n) = named("method.request.querystring.") {
            n.map(Self::Query)
        } else if let Some(n) = named("method.request.multivaluequerystring.") {
            n.map(Self::MultiQuery)
        } else if let Some(n) = named("method.request.header.") {
            n.map(Self::Header)
        } else if let Some(n) = named("method.request.multivalueheader.") {
            n.map(Self::MultiHeader)
        } else if let Some(n) = named("stageVariables.") {
            n.map(Self::StageVariable)
        } else if let Some(n) = named("context.") {
            n.map(|n| Self::Context(ContextVar::parse(&n)))
        } else if let Some(n) = named("integration.response.header.") {
            n.map(Self::ResponseHeader)
        } else if let Some(n) = named("integration.response.multivalueheader.") {
            n.map(Self::MultiResponseHeader)
        } else if expr == "integration.response.body" {
            Ok(Self::ResponseBody)
        } else if let Some(n) = named("integration.response.body.") {
            n.and_then(|p| body_path(expr, &p))
                .map(Self::ResponseBodyPath)
        } else if expr == "method.request.body" {
            Ok(Self::RequestBody)
        } else if let Some(n) = named("method.request.body.") {
            n.and_then(|p| body_path(expr, &p))
                .map(Self::RequestBodyPath)
        } else {
            Err(format!(
                "{expr} is not a mapping expression (expected 'static', method.request.path|querystring|header.NAME, stageVariables.NAME or context.NAME)"
            ))
        }?;
        let response_only = matches!(
            parsed,
            Self::ResponseHeader(_)
                | Self::MultiResponseHeader(_)
                | Self::ResponseBody
                | Self::ResponseBodyPath(_)
        );
        if matches!(parsed, Self::RequestBody | Self::RequestBodyPath(_))
            && side == Side::GatewayResponse
        {
            return Err(format!(
                "{expr} is not available in gateway responses (the body may not have been read)"
            ));
        }
        if response_only && side != Side::Response {
            return Err(format!(
                "{expr} is only available in integration response mappings"
            ));
        }
        Ok(parsed)
    }
}

/// The JSONPath of a `…body.PATH` source, `$.PATH`, checked now.
fn body_path(expr: &str, path: &str) -> Result<String, String> {
    let full = format!("$.{path}");
    portico_vtl::check_json_path(&full)
        .map(|()| full)
        .map_err(|e| format!("{expr}: {e}"))
}

/// Where a request mapping writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamTarget {
    /// `integration.request.path.NAME`: fills `{NAME}` in the integration URI.
    Path(String),
    /// `integration.request.querystring.NAME`.
    Query(String),
    /// `integration.request.header.NAME`.
    Header(String),
}

impl ParamTarget {
    /// Parses a request-mapping target.
    pub fn parse(expr: &str) -> Result<Self, String> {
        let split = |prefix: &str| expr.strip_prefix(prefix).filter(|n| !n.is_empty());
        if let Some(n) = split("integration.request.path.") {
            Ok(Self::Path(n.to_owned()))
        } else if let Some(n) = split("integration.request.querystring.") {
            Ok(Self::Query(n.to_owned()))
        } else if let Some(n) = split("integration.request.header.") {
            if http_header_name_ok(n) {
                Ok(Self::Header(n.to_owned()))
            } else {
                Err(format!("{n} is not a valid HTTP header name"))
            }
        } else {
            Err(format!(
                "{expr} is not a request mapping target (expected integration.request.path|querystring|header.NAME)"
            ))
        }
    }
}

/// True when `name` is a valid HTTP header field name (RFC 9110 token).
pub fn http_header_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sources() {
        assert_eq!(
            ParamSource::parse("'abc'", Side::Request),
            Ok(ParamSource::Static("abc".into()))
        );
        assert_eq!(
            ParamSource::parse("method.request.path.id", Side::Request),
            Ok(ParamSource::Path("id".into()))
        );
        assert!(ParamSource::parse("integration.response.body", Side::Request).is_err());
        assert!(ParamSource::parse("'open", Side::Request).is_err());
        assert!(ParamSource::parse("method.request.path.", Side::Request).is_err());
    }

    #[test]
    fn parses_targets() {
        assert_eq!(
            ParamTarget::parse("integration.request.header.x-a"),
            Ok(ParamTarget::Header("x-a".into()))
        );
        assert!(ParamTarget::parse("integration.request.header.bad name").is_err());
        assert!(ParamTarget::parse("method.request.path.x").is_err());
    }
}

//! HTTP API parameter mapping (`[DG:http-api-parameter-mapping]`) of `http_proxy` and
//! `aws_proxy` integrations: `append|overwrite|remove` on request headers, query-string
//! parameters and the path before the integration, and on response headers and the status
//! code after it.
//!
//! The mappings were parsed and sorted (remove, overwrite, append) when the configuration was
//! read ([`portico_config::http_mapping`]). Every value is evaluated against the request as it
//! arrived, then all edits apply: a mapping never sees another's result. `$context.*`,
//! `$stageVariables.*` and the `$request.*` header, query and path-parameter sources are read
//! through [`RequestContext::param`], as REST mappings read them.
//!
//! A route with no mapping never enters this module: the pipeline checks an `Option` and an
//! empty map, and allocates nothing.

use std::borrow::Cow;

use bytes::Bytes;
use http::request::Parts;
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use portico_config::http_mapping::{
    BODY_PATH_LIMIT, Operation, Part, RequestMapping, ResponseMapping, Source, Target, Value,
};

use crate::integration::headers;
use crate::phase::mapping::body_path;
use crate::phase::plugin::collect_bounded;
use crate::pipeline::body::{Body, full};
use crate::pipeline::context::RequestContext;
use crate::pipeline::error::GatewayError;

/// Largest integration response read whole for a `$response.body` mapping (API Gateway's
/// payload limit).
const MAX_RESPONSE_BODY: usize = 10 * 1024 * 1024;

/// Characters of a mapped path that are percent-encoded (a `%` is taken as already encoded).
const PATH_ENCODE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// Marks request parts whose path an `overwrite:path` set: the HTTP integration then sends
/// that path instead of the integration URI's.
#[derive(Debug, Clone, Copy)]
pub struct PathOverwritten;

/// The request head after `mapping`: headers, query string and path edited. `body` is the
/// request body when a mapping reads it (else empty).
pub fn map_request(
    cx: &RequestContext<'_>,
    mapping: &RequestMapping,
    body: &[u8],
) -> Result<Parts, GatewayError> {
    // Every value first, against the request as it arrived.
    let values: Vec<Option<String>> = mapping
        .mappings
        .iter()
        .map(|m| match m.op {
            Operation::Remove => None,
            _ => eval(cx, &m.value, body, None),
        })
        .collect();

    let mut parts = http::Request::new(()).into_parts().0;
    parts.method = cx.parts.method.clone();
    parts.version = cx.parts.version;
    parts.headers = cx.parts.headers.clone();
    let mut query: Option<Vec<(String, String)>> = None;
    let mut path: Option<String> = None;
    for (m, value) in mapping.mappings.iter().zip(values) {
        match &m.target {
            Target::Header(name) => {
                edit_headers(&mut parts.headers, name, m.op, value.as_deref())?;
            }
            Target::Query(name) => {
                let pairs = query.get_or_insert_with(|| cx.query_pair_list());
                match (m.op, value) {
                    (Operation::Remove, _) => pairs.retain(|(k, _)| k != name),
                    (Operation::Overwrite, Some(v)) => {
                        pairs.retain(|(k, _)| k != name);
                        pairs.push((name.clone(), v));
                    }
                    (Operation::Append, Some(v)) => pairs.push((name.clone(), v)),
                    (_, None) => {}
                }
            }
            Target::Path => {
                if let Some(v) = value {
                    path = Some(v);
                }
            }
            Target::StatusCode => {}
        }
    }

    let path_overwritten = path.is_some();
    if path_overwritten || query.is_some() {
        let mut target = match path {
            Some(p) => {
                let encoded = utf8_percent_encode(&p, PATH_ENCODE).to_string();
                if encoded.starts_with('/') {
                    encoded
                } else {
                    format!("/{encoded}")
                }
            }
            None => cx.parts.uri.path().to_owned(),
        };
        let q = match &query {
            Some(pairs) => form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish(),
            None => cx.parts.uri.query().unwrap_or("").to_owned(),
        };
        if !q.is_empty() {
            target.push('?');
            target.push_str(&q);
        }
        let pq = PathAndQuery::try_from(target.as_str()).map_err(|e| {
            GatewayError::Configuration(format!(
                "the mapped request target {target:?} is invalid: {e}"
            ))
        })?;
        let mut uri = cx.parts.uri.clone().into_parts();
        uri.path_and_query = Some(pq);
        parts.uri = Uri::from_parts(uri).map_err(|e| {
            GatewayError::Configuration(format!("the mapped request URI is invalid: {e}"))
        })?;
    } else {
        parts.uri = cx.parts.uri.clone();
    }
    if path_overwritten {
        parts.extensions.insert(PathOverwritten);
    }
    Ok(parts)
}

/// The integration response body, read whole (bounded) when `whole`, and a body to send on.
pub async fn read_body(body: Body, whole: bool) -> Result<(Body, Bytes), GatewayError> {
    if !whole {
        return Ok((body, Bytes::new()));
    }
    let bytes = collect_bounded(body, MAX_RESPONSE_BODY)
        .await
        .map_err(|e| {
            GatewayError::IntegrationFailure(format!("reading the integration response: {e}"))
        })?;
    Ok((full(bytes.clone()), bytes))
}

/// The response edits of one status code's mappings, on the head; `body` is the integration
/// response body when a mapping reads it (else empty).
pub fn apply_response(
    cx: &RequestContext<'_>,
    mapping: &ResponseMapping,
    head: &mut http::response::Parts,
    bytes: &[u8],
) -> Result<(), GatewayError> {
    let values: Vec<Option<String>> = mapping
        .mappings
        .iter()
        .map(|m| match m.op {
            Operation::Remove => None,
            _ => eval(cx, &m.value, &[], Some((&head.headers, bytes))),
        })
        .collect();
    for (m, value) in mapping.mappings.iter().zip(values) {
        if let Target::Header(name) = &m.target {
            edit_headers(&mut head.headers, name, m.op, value.as_deref())?;
            // An upstream's `Date` and `Server` reach the client as `x-amzn-Remapped-*`: a
            // mapping that removes or overwrites them removes that copy too.
            if m.op != Operation::Append
                && let Some(remapped) = headers::remapped_response_header(name)
            {
                head.headers.remove(remapped);
            }
        }
    }
    if let Some(s) = mapping.status.and_then(|s| StatusCode::from_u16(s).ok()) {
        head.status = s;
    }
    Ok(())
}

/// One header edit; `value` `None` (a value with nothing in it) leaves the headers as they are,
/// except for `remove`.
fn edit_headers(
    headers: &mut HeaderMap,
    name: &str,
    op: Operation,
    value: Option<&str>,
) -> Result<(), GatewayError> {
    let header = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| GatewayError::Configuration(format!("{name} is not a valid header name")))?;
    if op == Operation::Remove {
        headers.remove(&header);
        return Ok(());
    }
    let Some(value) = value else { return Ok(()) };
    let value = HeaderValue::from_str(value).map_err(|_| {
        GatewayError::Configuration(format!(
            "the mapping of header {name} gives a value that is not a valid header value"
        ))
    })?;
    if op == Operation::Overwrite {
        headers.insert(header, value);
    } else {
        headers.append(header, value);
    }
    Ok(())
}

/// A value, its parts concatenated; `None` when every part is a source with no value.
fn eval(
    cx: &RequestContext<'_>,
    value: &Value,
    request_body: &[u8],
    response: Option<(&HeaderMap, &[u8])>,
) -> Option<String> {
    let mut out = String::new();
    let mut any = false;
    for part in &value.parts {
        let piece = match part {
            Part::Literal(t) => Some(Cow::Borrowed(t.as_str())),
            Part::Source(s) => source(cx, s, request_body, response),
        };
        if let Some(p) = piece {
            out.push_str(&p);
            any = true;
        }
    }
    any.then_some(out)
}

fn source<'a>(
    cx: &'a RequestContext<'_>,
    source: &'a Source,
    request_body: &[u8],
    response: Option<(&HeaderMap, &[u8])>,
) -> Option<Cow<'a, str>> {
    match source {
        Source::Param(p) => cx.param(p),
        Source::RequestPath => Some(Cow::Borrowed(cx.path_in_stage())),
        Source::RequestBody => Some(String::from_utf8_lossy(request_body).into_owned().into()),
        Source::RequestBodyPath(p) => body_path(truncated(request_body), p).map(Cow::Owned),
        Source::ResponseHeader(n) => {
            let (h, _) = response?;
            let name = if h.contains_key(n.as_str()) {
                n.as_str()
            } else {
                headers::remapped_response_header(n).unwrap_or(n.as_str())
            };
            let all: Vec<&str> = h
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            (!all.is_empty()).then(|| all.join(",").into())
        }
        Source::ResponseBody => {
            let (_, b) = response?;
            Some(String::from_utf8_lossy(b).into_owned().into())
        }
        Source::ResponseBodyPath(p) => {
            let (_, b) = response?;
            body_path(truncated(b), p).map(Cow::Owned)
        }
    }
}

/// The first 100 KB of a body: what AWS evaluates a body JSONPath on (a longer JSON body is
/// then cut short and selects nothing).
fn truncated(body: &[u8]) -> &[u8] {
    &body[..body.len().min(BODY_PATH_LIMIT)]
}

/// True when the request head says an `overwrite:path` set its path.
pub fn path_overwritten(parts: &Parts) -> bool {
    parts.extensions.get::<PathOverwritten>().is_some()
}

//! Header handling between client, gateway and upstream (reference §8.7).

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::pipeline::Forwarded;

/// Hop-by-hop headers (RFC 9110 §7.6.1, with the legacy `Keep-Alive` and `Proxy-Connection`,
/// and HTTP/2's `HTTP2-Settings`): no hop forwards them, in either direction, to an integration,
/// a function, a client or an upgraded HTTP/2 connection. The one list every hop uses.
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "http2-settings",
];

/// Request headers API Gateway drops on top of the hop-by-hop ones, towards HTTP integrations
/// and in Lambda proxy events alike (reference §8.7).
pub const AWS_REQUEST_DROPPED: &[&str] = &[
    "content-md5",
    "expect",
    "max-forwards",
    "proxy-authenticate",
    "server",
    "www-authenticate",
];

/// Whether no hop forwards `name` (lower case).
pub fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.contains(&name)
}

/// Whether a client request header never reaches a function's event (lower case). Besides the
/// hop-by-hop ones and those API Gateway drops, `Content-Length` (the event carries the body).
pub fn dropped_from_event(name: &str) -> bool {
    is_hop_by_hop(name) || AWS_REQUEST_DROPPED.contains(&name) || name == "content-length"
}

/// Never forwarded from the client to an HTTP integration, besides the hop-by-hop ones: what
/// API Gateway drops, `Via`, and `Host` (replaced by the upstream's authority).
const REQUEST_ALSO_DROPPED: &[&str] = &["via", "host"];

/// Never passed from an integration response to the client, besides the hop-by-hop ones.
const RESPONSE_ALSO_DROPPED: &[&str] = &["via"];

/// Passed to the client renamed `x-amzn-Remapped-<name>`, as API Gateway does; the gateway's
/// own values take their place.
static RESPONSE_REMAPPED: [(HeaderName, HeaderName); 2] = [
    (
        header::DATE,
        HeaderName::from_static("x-amzn-remapped-date"),
    ),
    (
        header::SERVER,
        HeaderName::from_static("x-amzn-remapped-server"),
    ),
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");

/// The name an upstream's response header `name` (lower case) reaches the client under, when
/// it is one the gateway renames (`server` → `x-amzn-remapped-server`).
pub fn remapped_response_header(name: &str) -> Option<&'static str> {
    RESPONSE_REMAPPED
        .iter()
        .find(|(from, _)| from.as_str() == name)
        .map(|(_, to)| to.as_str())
}

/// Removes the hop-by-hop headers, those the `Connection` header names, and `also`.
///
/// One pass over the names the map holds (a handful), compared as strings: removing every
/// listed name by `&str` would parse and hash each of the sixteen names on every request. The
/// `Connection` header's options are compared with the names present too, so that an option
/// that names no header here (`keep-alive`, `close`: nearly always) costs no parse and no
/// removal.
fn strip(headers: &mut HeaderMap, also: &[&[&str]]) {
    let options: Vec<&str> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .collect();
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            let name = name.as_str();
            is_hop_by_hop(name)
                || also.iter().any(|list| list.contains(&name))
                || options.iter().any(|o| o.eq_ignore_ascii_case(name))
        })
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

/// Prepares forwarded request headers in place.
pub fn request_to_upstream(headers: &mut HeaderMap) {
    strip(headers, &[AWS_REQUEST_DROPPED, REQUEST_ALSO_DROPPED]);
}

/// Prepares response headers from an upstream in place.
pub fn response_from_upstream(headers: &mut HeaderMap) {
    strip(headers, &[RESPONSE_ALSO_DROPPED]);
    for (from, to) in &RESPONSE_REMAPPED {
        if let Some(v) = headers.remove(from) {
            headers.insert(to.clone(), v);
        }
    }
}

/// Adds `X-Forwarded-For` (appending the client to any existing chain), `X-Forwarded-Proto` and
/// `X-Forwarded-Port`, from the connection's values (formatted once per connection).
pub fn add_forwarded(headers: &mut HeaderMap, conn: &Forwarded) {
    let chain = match headers
        .get(&X_FORWARDED_FOR)
        .and_then(|v| v.to_str().ok())
        .filter(|p| !p.trim().is_empty())
    {
        Some(prior) => {
            let mut chain = Vec::with_capacity(prior.len() + 2 + conn.client.len());
            chain.extend_from_slice(prior.as_bytes());
            chain.extend_from_slice(b", ");
            chain.extend_from_slice(conn.client.as_bytes());
            HeaderValue::from_maybe_shared(Bytes::from(chain)).ok()
        }
        None => Some(conn.client.clone()),
    };
    if let Some(v) = chain {
        headers.insert(X_FORWARDED_FOR, v);
    }
    headers.insert(X_FORWARDED_PROTO, conn.proto.clone());
    headers.insert(X_FORWARDED_PORT, conn.port.clone());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_hop_by_hop_and_connection_named() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("close, x-private"));
        h.insert("x-private", HeaderValue::from_static("1"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        h.insert("te", HeaderValue::from_static("trailers"));
        h.insert("host", HeaderValue::from_static("client"));
        request_to_upstream(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));

        // Options are matched without regard to case, across several `Connection` headers, and
        // an option may name any header, `close` included.
        let mut h = HeaderMap::new();
        h.append(
            "connection",
            HeaderValue::from_static("keep-alive , X-Private"),
        );
        h.append("connection", HeaderValue::from_static("close"));
        h.insert("x-private", HeaderValue::from_static("1"));
        h.insert("close", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("server", HeaderValue::from_static("nginx"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        response_from_upstream(&mut h);
        let mut left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["x-amzn-remapped-server", "x-kept"]);
    }

    #[test]
    fn forwarded_headers_from_the_connection() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        let conn = crate::pipeline::ConnInfo::new(
            "127.0.0.1:50000".parse().unwrap(),
            "127.0.0.1:8080".parse().unwrap(),
            "http",
            None,
        );
        add_forwarded(&mut h, &conn.forwarded);
        assert_eq!(h["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
        assert_eq!(h["x-forwarded-port"], "8080");
        assert_eq!(h["x-forwarded-proto"], "http");

        // No chain (or an empty one): the client alone, IPv6 included.
        let conn = crate::pipeline::ConnInfo::new(
            "[2001:db8::7]:50000".parse().unwrap(),
            "[::1]:443".parse().unwrap(),
            "https",
            None,
        );
        for prior in [None, Some(" ")] {
            let mut h = HeaderMap::new();
            if let Some(p) = prior {
                h.insert("x-forwarded-for", HeaderValue::from_static(p));
            }
            add_forwarded(&mut h, &conn.forwarded);
            assert_eq!(h["x-forwarded-for"], "2001:db8::7");
            assert_eq!(h["x-forwarded-port"], "443");
            assert_eq!(h["x-forwarded-proto"], "https");
        }
    }
}

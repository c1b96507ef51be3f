//! Header handling between client, gateway and upstream (reference §8.7).

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

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
const RESPONSE_REMAPPED: &[(&str, &str)] = &[
    ("date", "x-amzn-remapped-date"),
    ("server", "x-amzn-remapped-server"),
];

/// The name an upstream's response header `name` (lower case) reaches the client under, when
/// it is one the gateway renames (`server` → `x-amzn-remapped-server`).
pub fn remapped_response_header(name: &str) -> Option<&'static str> {
    RESPONSE_REMAPPED
        .iter()
        .find(|(from, _)| *from == name)
        .map(|(_, to)| *to)
}

/// Removes the hop-by-hop headers, those the `Connection` header names, and `also`.
fn strip(headers: &mut HeaderMap, also: &[&[&str]]) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP.iter().chain(also.iter().flat_map(|l| l.iter())) {
        headers.remove(*name);
    }
}

/// Prepares forwarded request headers in place.
pub fn request_to_upstream(headers: &mut HeaderMap) {
    strip(headers, &[AWS_REQUEST_DROPPED, REQUEST_ALSO_DROPPED]);
}

/// Prepares response headers from an upstream in place.
pub fn response_from_upstream(headers: &mut HeaderMap) {
    strip(headers, &[RESPONSE_ALSO_DROPPED]);
    for (from, to) in RESPONSE_REMAPPED {
        if let Some(v) = headers.remove(*from) {
            headers.insert(*to, v);
        }
    }
}

/// Adds `X-Forwarded-For` (appending the client to any existing chain), `X-Forwarded-Proto` and
/// `X-Forwarded-Port`.
pub fn add_forwarded(headers: &mut HeaderMap, client_ip: &str, proto: &'static str, port: u16) {
    let xff = HeaderName::from_static("x-forwarded-for");
    let chain = match headers.get(&xff).and_then(|v| v.to_str().ok()) {
        Some(prior) if !prior.trim().is_empty() => format!("{prior}, {client_ip}"),
        _ => client_ip.to_owned(),
    };
    if let Ok(v) = HeaderValue::from_str(&chain) {
        headers.insert(xff, v);
    }
    headers.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static(proto),
    );
    headers.insert(
        HeaderName::from_static("x-forwarded-port"),
        HeaderValue::from(port),
    );
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
    }

    #[test]
    fn forwarded_for_appends() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        add_forwarded(&mut h, "127.0.0.1", "http", 8080);
        assert_eq!(h["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
        assert_eq!(h["x-forwarded-port"], "8080");
    }
}

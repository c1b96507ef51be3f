//! The SigV4 canonical forms and the signing chain, exactly as AWS computes them for services
//! other than S3 (the path is encoded once more over its percent-encoded form, and optionally
//! normalized): canonical URI, canonical query, canonical headers, canonical request, string to
//! sign, signing key and signature.

use std::borrow::Cow;

use aws_lc_rs::{digest, hmac};
use percent_encoding::percent_decode;

/// The algorithm name of SigV4 with HMAC-SHA256.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// The bytes of a hex string (either case), or `None` if it is not one.
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

/// Lowercase hex of the SHA-256 of `bytes`: the payload hash of a body (`e3b0c442...b855` for an
/// empty one).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, bytes).as_ref())
}

/// Appends `bytes` URI-encoded the SigV4 way: RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`)
/// as they are, `/` as it is when `keep_slash`, every other byte as `%XX` (upper-case hex).
fn encode_into(out: &mut String, bytes: &[u8], keep_slash: bool) {
    const UPPER: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(UPPER[usize::from(b >> 4)] as char);
            out.push(UPPER[usize::from(b & 15)] as char);
        }
    }
}

/// The canonical URI of a raw (percent-encoded, as received) request path. With `normalize`, empty
/// and `.` segments are dropped and `..` removes the segment before it, a trailing `/` kept only if
/// the path had one (as the AWS SDKs normalize); then every byte outside the unreserved set and `/`
/// is encoded, so `%20` on the wire becomes `%2520`. An empty path is `/`.
pub fn canonical_uri(path: &str, normalize: bool) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    if !normalize {
        if path.is_empty() {
            out.push('/');
        } else {
            encode_into(&mut out, path.as_bytes(), true);
        }
        return out;
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    out.push('/');
    for (i, segment) in segments.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        encode_into(&mut out, segment.as_bytes(), false);
    }
    if !segments.is_empty() && path.ends_with('/') {
        out.push('/');
    }
    out
}

/// The canonical query of a raw query string (without its `?`): each `key=value` pair decoded then
/// re-encoded with the unreserved set (a missing `=` is an empty value; `+` is a literal plus, as
/// in percent-encoding), sorted by encoded key then value, joined with `&`. Parameters whose decoded
/// name is in `exclude` are left out (`X-Amz-Signature` of a presigned request).
pub fn canonical_query(query: Option<&str>, exclude: &[&str]) -> String {
    let Some(query) = query else {
        return String::new();
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
        let key: Cow<'_, [u8]> = percent_decode(key.as_bytes()).into();
        if exclude.iter().any(|x| x.as_bytes() == &*key) {
            continue;
        }
        let value: Cow<'_, [u8]> = percent_decode(value.as_bytes()).into();
        let mut k = String::with_capacity(key.len());
        encode_into(&mut k, &key, false);
        let mut v = String::with_capacity(value.len());
        encode_into(&mut v, &value, false);
        pairs.push((k, v));
    }
    pairs.sort_unstable();
    let mut out = String::with_capacity(query.len() + 16);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Appends a header value trimmed, with every run of whitespace inside it collapsed to one space.
fn push_trimmed(out: &mut Vec<u8>, value: &[u8]) {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let mut in_ws = false;
    let mut started = false;
    for b in value {
        if ws(b) {
            in_ws = started;
        } else {
            if in_ws {
                out.push(b' ');
            }
            in_ws = false;
            started = true;
            out.push(*b);
        }
    }
}

/// The canonical request, as bytes (header values need not be UTF-8):
/// `METHOD\nURI\nQUERY\n` then `name:value\n` for each signed header (all of a header's values,
/// trimmed and collapsed, joined with `,`), an empty line, the `;`-joined signed header names, and
/// the payload hash. `signed_headers` is the `SignedHeaders` list as the client sent it.
pub(crate) fn canonical_request_bytes(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    headers: &[(&str, &[u8])],
    signed_headers: &str,
    payload_hash: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query.as_bytes());
    out.push(b'\n');
    let names = signed_headers.split(';').filter(|n| !n.is_empty());
    for name in names.clone() {
        for b in name.bytes() {
            out.push(b.to_ascii_lowercase());
        }
        out.push(b':');
        let mut first = true;
        for (_, value) in headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)) {
            if !first {
                out.push(b',');
            }
            first = false;
            push_trimmed(&mut out, value);
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    for (i, name) in names.enumerate() {
        if i > 0 {
            out.push(b';');
        }
        for b in name.bytes() {
            out.push(b.to_ascii_lowercase());
        }
    }
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
    out
}

/// [`canonical_request_bytes`] as text (header bytes that are not UTF-8 shown as U+FFFD).
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    headers: &[(&str, &[u8])],
    signed_headers: &str,
    payload_hash: &str,
) -> String {
    let bytes = canonical_request_bytes(
        method,
        canonical_uri,
        canonical_query,
        headers,
        signed_headers,
        payload_hash,
    );
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The credential scope, `20150830/us-east-1/execute-api/aws4_request`.
pub fn credential_scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/aws4_request")
}

/// `AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hex(sha256(canonical_request))}`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request)
    )
}

/// The signing key: HMAC chain `AWS4{secret}` → date (`YYYYMMDD`) → region → service → `aws4_request`.
pub(crate) fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> hmac::Key {
    let step = |key: &[u8], data: &str| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
    };
    let k_date = step(format!("AWS4{secret}").as_bytes(), date);
    let k_region = step(k_date.as_ref(), region);
    let k_service = step(k_region.as_ref(), service);
    let k_signing = step(k_service.as_ref(), "aws4_request");
    hmac::Key::new(hmac::HMAC_SHA256, k_signing.as_ref())
}

/// The signature of `string_to_sign`, lowercase hex.
pub fn signature(
    secret: &str,
    date: &str,
    region: &str,
    service: &str,
    string_to_sign: &str,
) -> String {
    let key = signing_key(secret, date, region, service);
    hex(hmac::sign(&key, string_to_sign.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_normalization() {
        assert_eq!(canonical_uri("", true), "/");
        assert_eq!(canonical_uri("/", true), "/");
        assert_eq!(canonical_uri("//example//", true), "/example/");
        assert_eq!(canonical_uri("/a/b/../c/./d", true), "/a/c/d");
        assert_eq!(canonical_uri("/a/b/..", true), "/a");
        assert_eq!(canonical_uri("/../..", true), "/");
        assert_eq!(canonical_uri("/pets/a%20b", true), "/pets/a%2520b");
        assert_eq!(canonical_uri("//example//", false), "//example//");
        assert_eq!(canonical_uri("/a b/", false), "/a%20b/");
    }

    #[test]
    fn query_canonicalization() {
        assert_eq!(canonical_query(None, &[]), "");
        assert_eq!(canonical_query(Some(""), &[]), "");
        assert_eq!(canonical_query(Some("b=2&a=1&a=0"), &[]), "a=0&a=1&b=2");
        assert_eq!(canonical_query(Some("flag&x="), &[]), "flag=&x=");
        assert_eq!(canonical_query(Some("k=a+b&s=%2f"), &[]), "k=a%2Bb&s=%2F");
        assert_eq!(
            canonical_query(Some("X-Amz-Signature=abc&a=1"), &["X-Amz-Signature"]),
            "a=1"
        );
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed() {
        let mut out = Vec::new();
        push_trimmed(&mut out, b"  a   b \t c  ");
        assert_eq!(out, b"a b c");
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(unhex("00ABff"), Some(vec![0, 0xab, 0xff]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
    }
}

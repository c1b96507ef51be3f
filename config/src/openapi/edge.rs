//! `x-amazon-apigateway-cors` (HTTP API style) and `x-amazon-apigateway-minimum-compression-size`
//! (REST API style), both at the document's root.

use serde_json::Value;

use super::context::Cx;
use crate::diag::DocPath;
use crate::edge::{Cors, MAX_AGE_RANGE, MAX_MINIMUM_COMPRESSION_SIZE, OriginPattern};

/// `x-amazon-apigateway-minimum-compression-size`: `null` disables compression (`None`);
/// otherwise an integer in 0..=10485760.
pub(super) fn minimum_compression_size(
    cx: &mut Cx<'_>,
    path: &DocPath,
    value: &Value,
) -> Option<u64> {
    if value.is_null() {
        return None;
    }
    match value.as_u64() {
        Some(n) if n <= MAX_MINIMUM_COMPRESSION_SIZE => Some(n),
        _ => {
            cx.error(
                path,
                format!(
                    "must be an integer from 0 to {MAX_MINIMUM_COMPRESSION_SIZE} (bytes), or null to disable compression"
                ),
            );
            None
        }
    }
}

/// `x-amazon-apigateway-cors`; `None` when it is not usable (reported).
pub(super) fn cors(cx: &mut Cx<'_>, path: &DocPath, value: &Value) -> Option<Cors> {
    let Some(map) = value.as_object() else {
        cx.error(path, "must be a mapping (allowOrigins, allowCredentials, exposeHeaders, maxAge, allowMethods, allowHeaders)");
        return None;
    };
    let errors = cx.error_count();
    let mut out = Cors::default();
    for (k, v) in map {
        let p = path.key(k);
        match k.as_str() {
            "allowOrigins" => {
                for (i, s) in strings(cx, &p, v).into_iter().enumerate() {
                    if let Some(o) = origin(cx, &p.index(i), s) {
                        out.allow_origins.push(o);
                    }
                }
            }
            "allowCredentials" => match v {
                Value::Bool(b) => out.allow_credentials = *b,
                Value::Null => {}
                _ => cx.error(&p, "must be true or false"),
            },
            "exposeHeaders" => {
                out.expose_headers = header_names(cx, &p, v);
            }
            "allowHeaders" => {
                out.allow_headers = header_names(cx, &p, v);
            }
            "allowMethods" => {
                for (i, s) in strings(cx, &p, v).into_iter().enumerate() {
                    let m = s.to_ascii_uppercase();
                    if m == "*" || (!m.is_empty() && m.len() <= 64 && m.bytes().all(is_tchar)) {
                        out.allow_methods.push(m);
                    } else {
                        cx.error(
                            &p.index(i),
                            format!("{s:?} is not an HTTP method (or *)"),
                        );
                    }
                }
            }
            "maxAge" => match v {
                Value::Null => {}
                _ => match v.as_i64() {
                    Some(n) if MAX_AGE_RANGE.contains(&n) => out.max_age = Some(n),
                    _ => cx.error(&p, "must be an integer from -1 to 86400 (seconds)"),
                },
            },
            _ => cx.error(
                &p,
                format!("unknown field {k} (allowed: allowOrigins, allowCredentials, exposeHeaders, maxAge, allowMethods, allowHeaders)"),
            ),
        }
    }
    if out.allow_credentials && out.any_origin() {
        // AWS refuses this combination: browsers never accept `*` on a credentialed request.
        cx.error(
            &path.key("allowCredentials"),
            "allowCredentials cannot be true when allowOrigins contains \"*\": list the origins instead",
        );
    }
    (cx.error_count() == errors).then_some(out)
}

/// A list of strings; bad items are reported and skipped.
fn strings<'v>(cx: &mut Cx<'_>, path: &DocPath, v: &'v Value) -> Vec<&'v str> {
    match v {
        Value::Null => Vec::new(),
        Value::Array(list) => list
            .iter()
            .enumerate()
            .filter_map(|(i, item)| match item.as_str() {
                Some(s) => Some(s.trim()),
                None => {
                    cx.error(&path.index(i), "must be a string");
                    None
                }
            })
            .collect(),
        _ => {
            cx.error(path, "must be a list of strings");
            Vec::new()
        }
    }
}

/// Header names (or `*`), as written.
fn header_names(cx: &mut Cx<'_>, path: &DocPath, v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (i, s) in strings(cx, path, v).into_iter().enumerate() {
        if s == "*" || (!s.is_empty() && s.bytes().all(is_tchar)) {
            out.push(s.to_owned());
        } else {
            cx.error(&path.index(i), format!("{s:?} is not a header name (or *)"));
        }
    }
    out
}

/// RFC 9110 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// One `allowOrigins` entry: `*`, `scheme://host[:port]`, or `scheme://*.domain[:port]`.
fn origin(cx: &mut Cx<'_>, path: &DocPath, s: &str) -> Option<OriginPattern> {
    if s == "*" {
        return Some(OriginPattern::Any);
    }
    let bad = |cx: &mut Cx<'_>, why: &str| {
        cx.error(
            path,
            format!("{s:?} is not an origin ({why}); write scheme://host[:port], such as https://www.example.com, https://*.example.com or *"),
        );
        None
    };
    let Some((scheme, rest)) = s.split_once("://") else {
        return bad(cx, "no scheme");
    };
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return bad(cx, "bad scheme");
    }
    if rest.is_empty()
        || rest
            .bytes()
            .any(|b| matches!(b, b'/' | b'?' | b'#' | b'@' | b' '))
    {
        return bad(cx, "an origin has no path, query, user or spaces");
    }
    let lower = s.to_ascii_lowercase();
    match rest.matches('*').count() {
        0 => Some(OriginPattern::Exact(lower)),
        1 if rest.starts_with("*.") && rest.len() > 2 => {
            let prefix = lower[..scheme.len() + 3].to_owned();
            let suffix = lower[scheme.len() + 4..].to_owned();
            Some(OriginPattern::Subdomains { prefix, suffix })
        }
        _ => bad(
            cx,
            "a wildcard may only stand for the subdomains, as in https://*.example.com",
        ),
    }
}

#[cfg(test)]
mod tests {
    use crate::diag::Report;
    use crate::edge::OriginPattern;
    use crate::openapi::{Imported, import};

    fn run(top: &str) -> (Imported, String) {
        let yaml = format!(
            "openapi: 3.0.1\n{top}\npaths:\n  /a:\n    get:\n      x-amazon-apigateway-integration: {{type: mock, requestTemplates: {{application/json: '{{\"statusCode\": 200}}'}}, responses: {{default: {{statusCode: 200}}}}}}\n"
        );
        let doc = crate::doc::parse("api.yaml", &yaml).unwrap();
        let mut report = Report::default();
        let imported = import("api.yaml", &doc, &mut report, false);
        let errors: Vec<String> = report.errors().map(|d| d.to_string()).collect();
        (imported, errors.join("\n"))
    }

    #[test]
    fn compression_size_bounds() {
        for (value, want) in [
            ("0", Some(0)),
            ("10485760", Some(10_485_760)),
            ("null", None),
        ] {
            let (api, errors) = run(&format!(
                "x-amazon-apigateway-minimum-compression-size: {value}"
            ));
            assert_eq!(errors, "", "{value}");
            assert_eq!(api.minimum_compression_size, want, "{value}");
        }
        for bad in ["-1", "10485761", "1.5", "'100'", "true", "[1]"] {
            let (api, errors) = run(&format!(
                "x-amazon-apigateway-minimum-compression-size: {bad}"
            ));
            assert!(
                errors.contains("api.yaml: x-amazon-apigateway-minimum-compression-size: must be an integer from 0 to 10485760"),
                "{bad}: {errors}"
            );
            assert_eq!(api.minimum_compression_size, None);
        }
    }

    #[test]
    fn cors_parses_and_checks() {
        let (api, errors) = run(
            "x-amazon-apigateway-cors:\n  allowOrigins: ['https://App.example.com', 'https://*.example.org']\n  allowCredentials: true\n  exposeHeaders: [x-id, Date]\n  maxAge: 300\n  allowMethods: [get, POST, '*']\n  allowHeaders: [authorization, '*']",
        );
        assert_eq!(errors, "");
        let cors = api.cors.unwrap();
        assert_eq!(
            cors.allow_origins,
            vec![
                OriginPattern::Exact("https://app.example.com".into()),
                OriginPattern::Subdomains {
                    prefix: "https://".into(),
                    suffix: ".example.org".into()
                }
            ]
        );
        assert!(cors.allow_credentials);
        assert_eq!(cors.max_age, Some(300));
        assert_eq!(cors.allow_methods, ["GET", "POST", "*"]);
        assert_eq!(cors.expose_headers, ["x-id", "Date"]);

        let cases = [
            (
                "{allowOrigins: ['*'], allowCredentials: true}",
                "x-amazon-apigateway-cors.allowCredentials: allowCredentials cannot be true when allowOrigins contains \"*\"",
            ),
            (
                "{maxAge: 86401}",
                "x-amazon-apigateway-cors.maxAge: must be an integer from -1 to 86400",
            ),
            (
                "{maxAge: -2}",
                "x-amazon-apigateway-cors.maxAge: must be an integer from -1 to 86400",
            ),
            (
                "{allowOrigins: 'https://a.com'}",
                "x-amazon-apigateway-cors.allowOrigins: must be a list of strings",
            ),
            (
                "{allowOrigins: ['a.com']}",
                "x-amazon-apigateway-cors.allowOrigins[0]: \"a.com\" is not an origin",
            ),
            (
                "{allowOrigins: ['https://a.com/x']}",
                "allowOrigins[0]: \"https://a.com/x\" is not an origin",
            ),
            (
                "{allowOrigins: ['https://a*.com']}",
                "allowOrigins[0]: \"https://a*.com\" is not an origin",
            ),
            ("{allowOrigins: [1]}", "allowOrigins[0]: must be a string"),
            (
                "{allowMethods: ['GE T']}",
                "allowMethods[0]: \"GE T\" is not an HTTP method",
            ),
            (
                "{allowHeaders: ['a:b']}",
                "allowHeaders[0]: \"a:b\" is not a header name",
            ),
            (
                "{allowCredentials: 'yes'}",
                "allowCredentials: must be true or false",
            ),
            (
                "{allowOrigin: ['*']}",
                "x-amazon-apigateway-cors.allowOrigin: unknown field allowOrigin",
            ),
            ("[]", "x-amazon-apigateway-cors: must be a mapping"),
        ];
        for (value, want) in cases {
            let (api, errors) = run(&format!("x-amazon-apigateway-cors: {value}"));
            assert!(errors.contains(want), "{value}: {errors}");
            assert!(api.cors.is_none(), "{value}");
        }
    }
}

//! Edge settings of an API: CORS (`x-amazon-apigateway-cors`, HTTP API style) and payload
//! compression (`x-amazon-apigateway-minimum-compression-size`, REST API style). Parsed by
//! the OpenAPI import; the proxy precomputes their header values at snapshot build.

/// Largest `minimumCompressionSize` AWS accepts (10 MiB).
pub const MAX_MINIMUM_COMPRESSION_SIZE: u64 = 10_485_760;

/// `maxAge` bounds AWS accepts (`IntegerWithLengthBetweenMinus1And86400`).
pub const MAX_AGE_RANGE: std::ops::RangeInclusive<i64> = -1..=86_400;

/// One entry of `allowOrigins`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPattern {
    /// `*`: every origin.
    Any,
    /// An origin such as `https://www.example.com`, lower-cased (origins compare without
    /// regard to case: scheme and host are case-insensitive, and an origin has nothing else).
    Exact(String),
    /// `https://*.example.com`: a scheme and any non-empty run of subdomains of a domain,
    /// lower-cased (`prefix` is `https://`, `suffix` is `.example.com`, port included).
    Subdomains {
        /// The scheme and `://`.
        prefix: String,
        /// `.` and the parent domain (and port, if given).
        suffix: String,
    },
}

impl OriginPattern {
    /// Whether `origin` (as the client sent it) matches.
    pub fn matches(&self, origin: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(o) => o.eq_ignore_ascii_case(origin),
            Self::Subdomains { prefix, suffix } => {
                let n = origin.len();
                n > prefix.len() + suffix.len()
                    && origin.is_char_boundary(prefix.len())
                    && origin.is_char_boundary(n - suffix.len())
                    && origin[..prefix.len()].eq_ignore_ascii_case(prefix)
                    && origin[n - suffix.len()..].eq_ignore_ascii_case(suffix)
                    && !origin[prefix.len()..n - suffix.len()]
                        .bytes()
                        .any(|b| matches!(b, b'/' | b':' | b'@' | b'?' | b'#'))
            }
        }
    }
}

/// `x-amazon-apigateway-cors`: the API answers CORS preflights itself and adds CORS headers
/// to every response (reference §16, `[DG:http-api-cors]`, `[BC2:Cors]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    /// `allowOrigins`.
    pub allow_origins: Vec<OriginPattern>,
    /// `allowCredentials`.
    pub allow_credentials: bool,
    /// `exposeHeaders`, as written.
    pub expose_headers: Vec<String>,
    /// `maxAge` in seconds (-1..=86400), when set.
    pub max_age: Option<i64>,
    /// `allowMethods`, upper-cased (`*` allowed).
    pub allow_methods: Vec<String>,
    /// `allowHeaders`, as written (`*` allowed).
    pub allow_headers: Vec<String>,
}

impl Cors {
    /// Whether `allowOrigins` holds `*`.
    pub fn any_origin(&self) -> bool {
        self.allow_origins.contains(&OriginPattern::Any)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_patterns() {
        let exact = OriginPattern::Exact("https://app.example.com".into());
        assert!(exact.matches("https://app.example.com"));
        assert!(exact.matches("HTTPS://App.Example.COM"));
        assert!(!exact.matches("https://app.example.com:8443"));
        assert!(!exact.matches("http://app.example.com"));
        let sub = OriginPattern::Subdomains {
            prefix: "https://".into(),
            suffix: ".example.com".into(),
        };
        assert!(sub.matches("https://a.example.com"));
        assert!(sub.matches("https://a.b.EXAMPLE.com"));
        assert!(!sub.matches("https://example.com"));
        assert!(!sub.matches("https://.example.com"));
        assert!(!sub.matches("https://evil.com:1@x.example.com"));
        assert!(!sub.matches("http://a.example.com"));
        assert!(!sub.matches("https://aexample.com"));
        assert!(OriginPattern::Any.matches("null"));
    }
}

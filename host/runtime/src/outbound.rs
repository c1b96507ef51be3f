//! Outbound HTTP for plugins: the [`OutboundHttp`] hook the proxy implements over its pooled
//! client, and the per-plugin host allow-list. The runtime never opens a socket itself: both
//! `portico:plugin/http-client` and `wasi:http/outgoing-handler` end in [`OutboundHttp::fetch`]
//! after the allow-list check.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;

/// A boxed, sendable future, as [`OutboundHttp::fetch`] returns it.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Sends a plugin's outbound request. The proxy implements this over its pooled hyper client
/// (connection reuse, TLS, its own limits); the runtime has already checked the host against
/// the plugin's allow-list and capped `timeout` at the call's remaining deadline.
pub trait OutboundHttp: Send + Sync + 'static {
    /// Sends `req` (absolute URI) and returns the whole response, or why not, within `timeout`.
    fn fetch(
        &self,
        req: http::Request<Bytes>,
        timeout: Duration,
    ) -> BoxFuture<Result<http::Response<Bytes>, OutboundError>>;
}

/// Why an outbound request produced no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// No response within the timeout.
    #[error("timed out")]
    Timeout,
    /// Connecting failed or the response was unusable. The text goes to the gateway's log, not
    /// to the guest.
    #[error("{0}")]
    Failed(String),
}

/// An [`OutboundHttp`] that refuses every request: for gateways and tests without outbound
/// HTTP.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoOutbound;

impl OutboundHttp for NoOutbound {
    fn fetch(
        &self,
        _req: http::Request<Bytes>,
        _timeout: Duration,
    ) -> BoxFuture<Result<http::Response<Bytes>, OutboundError>> {
        Box::pin(async {
            Err(OutboundError::Failed(
                "outbound HTTP is not configured".into(),
            ))
        })
    }
}

/// Host names one plugin may call, parsed once at load.
#[derive(Debug, Clone, Default)]
pub(crate) struct AllowList {
    /// Exact names, lower case.
    exact: Vec<String>,
    /// `*.example.com` entries, stored as `.example.com`.
    suffixes: Vec<String>,
    /// `host:port` entries: that host on that port only.
    with_port: Vec<(String, u16)>,
}

impl AllowList {
    /// Parses `http_allow` entries: host names (any port), `*.` followed by a host name (any
    /// port), or a host name and a port (`127.0.0.1:8080`: that port only).
    pub(crate) fn parse(entries: &[String]) -> Result<Self, String> {
        let mut list = Self::default();
        for entry in entries {
            let lower = entry.trim().to_ascii_lowercase();
            let (wildcard, name) = match lower.strip_prefix("*.") {
                Some(rest) => (true, rest),
                None => (false, lower.as_str()),
            };
            let invalid = || {
                format!(
                    "http_allow entry {entry:?} is not a host name, `*.` followed by a host name, \
                     or a host name and a port"
                )
            };
            let (name, port) = match name.rsplit_once(':') {
                Some((host, port)) if !wildcard => {
                    let number = port.parse::<u16>().ok();
                    // `x:080` or `x:+80` would not be the port the entry seems to say.
                    match number.filter(|n| *n > 0 && n.to_string() == port) {
                        Some(n) => (host, Some(n)),
                        None => return Err(invalid()),
                    }
                }
                _ => (name, None),
            };
            let valid = !name.is_empty()
                && name.len() <= 253
                && name.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if !valid {
                return Err(invalid());
            }
            if let Some(port) = port {
                list.with_port.push((name.to_owned(), port));
            } else if wildcard {
                list.suffixes.push(format!(".{name}"));
            } else {
                list.exact.push(name.to_owned());
            }
        }
        Ok(list)
    }

    /// Whether nothing is allowed.
    pub(crate) fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.suffixes.is_empty() && self.with_port.is_empty()
    }

    /// Whether `host` (from a URI, any case, maybe with a trailing dot) on `port` (the URI's,
    /// or its scheme's default) is allowed.
    pub(crate) fn allows(&self, host: &str, port: u16) -> bool {
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        self.exact.contains(&host)
            || self
                .suffixes
                .iter()
                .any(|s| host.len() > s.len() && host.ends_with(s.as_str()))
            || self.with_port.iter().any(|(h, p)| *h == host && *p == port)
    }
}

/// The port of an absolute `http`/`https` URI: its own, or the scheme's default.
pub(crate) fn http_port(uri: &http::Uri) -> u16 {
    uri.port_u16().unwrap_or(
        if uri
            .scheme_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("https"))
        {
            443
        } else {
            80
        },
    )
}

/// The host of an absolute `http`/`https` URI, if the URI is one.
pub(crate) fn http_host(uri: &http::Uri) -> Option<&str> {
    let scheme = uri.scheme_str()?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    uri.host().filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> AllowList {
        AllowList::parse(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn exact_and_wildcard_hosts() {
        let l = list(&["api.example.com", "*.internal.test"]);
        assert!(l.allows("api.example.com", 443));
        assert!(l.allows("API.Example.COM.", 8443));
        assert!(!l.allows("example.com", 443));
        assert!(!l.allows("evil-api.example.com", 443));
        assert!(l.allows("a.internal.test", 80));
        assert!(l.allows("a.b.internal.test", 80));
        assert!(!l.allows("internal.test", 80));
        assert!(!l.allows("xinternal.test", 80));
    }

    #[test]
    fn a_port_entry_allows_that_port_only() {
        let l = list(&["127.0.0.1:8080", "schemas.test:443"]);
        assert!(l.allows("127.0.0.1", 8080));
        assert!(!l.allows("127.0.0.1", 8081));
        assert!(!l.allows("127.0.0.2", 8080));
        assert!(l.allows("Schemas.Test", 443));
        assert!(!l.allows("schemas.test", 80));
        assert_eq!(http_port(&"https://a.b/c".parse().unwrap()), 443);
        assert_eq!(http_port(&"http://a.b/c".parse().unwrap()), 80);
        assert_eq!(http_port(&"http://a.b:1234/c".parse().unwrap()), 1234);
    }

    #[test]
    fn bad_entries_are_rejected() {
        for bad in [
            "", "*", "*.", "a..b", "http://x", "a/b", "*.*.x", "x:", "x:0", "x:080", "x:65536",
            "*.x:80", ":80",
        ] {
            assert!(AllowList::parse(&[bad.to_string()]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_http_uris_have_a_host() {
        let host = |s: &str| http_host(&s.parse().unwrap()).map(str::to_owned);
        assert_eq!(host("https://a.b/c").as_deref(), Some("a.b"));
        assert_eq!(host("ftp://a.b/c"), None);
        assert_eq!(host("/relative"), None);
    }
}

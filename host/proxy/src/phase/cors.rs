//! CORS answered by the gateway (HTTP API `x-amazon-apigateway-cors`, reference §16,
//! `[DG:http-api-cors]`): preflights are answered right after the API and stage are resolved,
//! before routing, authorizers, API keys and throttling; every other response of the API
//! (integration answers and gateway errors alike) gets the configured CORS headers, and the
//! integration's own `Access-Control-*` headers are dropped.
//!
//! Every header value is built once per snapshot ([`CorsRt::build`]); a request only compares
//! its `Origin` with the allowed ones and copies prepared values.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode};
use portico_config::edge::{Cors, OriginPattern};

use crate::pipeline::body::{Body, empty};

/// An API's CORS settings with their header values prepared.
#[derive(Debug)]
pub struct CorsRt {
    origins: Vec<OriginPattern>,
    any_origin: bool,
    credentials: bool,
    /// `allowMethods` joined; `None` when empty.
    methods: Option<HeaderValue>,
    /// `allowMethods` holds `*`.
    methods_any: bool,
    /// `allowHeaders` joined; `None` when empty.
    headers: Option<HeaderValue>,
    /// `allowHeaders` holds `*`.
    headers_any: bool,
    expose: Option<HeaderValue>,
    max_age: Option<HeaderValue>,
}

const STAR: HeaderValue = HeaderValue::from_static("*");
const TRUE: HeaderValue = HeaderValue::from_static("true");
const ORIGIN: HeaderValue = HeaderValue::from_static("Origin");

impl CorsRt {
    /// Prepares `cors`.
    pub fn build(cors: &Cors) -> Self {
        let join = |list: &[String]| {
            (!list.is_empty())
                .then(|| HeaderValue::from_str(&list.join(",")).ok())
                .flatten()
        };
        Self {
            origins: cors.allow_origins.clone(),
            any_origin: cors.any_origin(),
            credentials: cors.allow_credentials,
            methods: join(&cors.allow_methods),
            methods_any: cors.allow_methods.iter().any(|m| m == "*"),
            headers: join(&cors.allow_headers),
            headers_any: cors.allow_headers.iter().any(|h| h == "*"),
            expose: join(&cors.expose_headers),
            max_age: cors.max_age.map(HeaderValue::from),
        }
    }

    /// The `Access-Control-Allow-Origin` value for a request's `Origin`: `*` when every
    /// origin is allowed (and credentials are not), else the origin itself when it is
    /// allowed; `None` when there is no `Origin` or it is not allowed.
    fn allow_origin(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        if self.any_origin && !self.credentials {
            return Some(STAR);
        }
        let text = origin.to_str().ok()?;
        self.origins
            .iter()
            .any(|o| o.matches(text))
            .then(|| origin.clone())
    }

    /// The gateway's answer to a preflight (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`), or `None` when the request is not one.
    ///
    /// A preflight is answered 204 with an empty body. From an origin that is not allowed it
    /// carries no CORS header at all, so the browser refuses the actual request (AWS
    /// behaviour); the requested method and headers are not checked here: the browser compares
    /// them with the lists sent.
    pub fn preflight(&self, method: &Method, headers: &HeaderMap) -> Option<Response<Body>> {
        if method != Method::OPTIONS || !headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return None;
        }
        let mut resp = Response::new(empty());
        *resp.status_mut() = StatusCode::NO_CONTENT;
        let Some(origin) = self.allow_origin(headers) else {
            return Some(resp);
        };
        let h = resp.headers_mut();
        let star = origin == STAR;
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        // With credentials, browsers read `*` as a literal name: echo what was asked instead.
        let echo = |any: bool, asked: header::HeaderName, list: &Option<HeaderValue>| {
            if any && self.credentials {
                headers.get(asked).cloned()
            } else {
                list.clone()
            }
        };
        if let Some(v) = echo(
            self.methods_any,
            header::ACCESS_CONTROL_REQUEST_METHOD,
            &self.methods,
        ) {
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, v);
        }
        if let Some(v) = echo(
            self.headers_any,
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            &self.headers,
        ) {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        if let Some(v) = &self.max_age {
            h.insert(header::ACCESS_CONTROL_MAX_AGE, v.clone());
        }
        if self.credentials {
            h.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE);
        }
        if !star {
            h.append(header::VARY, ORIGIN);
        }
        Some(resp)
    }

    /// Sets the CORS headers of an actual (non-preflight) response: the integration's own
    /// `Access-Control-*` headers go (API Gateway ignores them when CORS is configured); an
    /// allowed `Origin` gets `Access-Control-Allow-Origin`, `-Expose-Headers` and
    /// `-Allow-Credentials`, and `Vary: Origin` unless the answer is `*`.
    pub fn apply(&self, request: &HeaderMap, response: &mut HeaderMap) {
        for name in [
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            header::ACCESS_CONTROL_ALLOW_METHODS,
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            header::ACCESS_CONTROL_MAX_AGE,
        ] {
            response.remove(name);
        }
        let Some(origin) = self.allow_origin(request) else {
            return;
        };
        let star = origin == STAR;
        response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if let Some(v) = &self.expose {
            response.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, v.clone());
        }
        if self.credentials {
            response.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE);
        }
        if !star {
            response.append(header::VARY, ORIGIN);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(origins: &[&str], credentials: bool) -> CorsRt {
        CorsRt::build(&Cors {
            allow_origins: origins
                .iter()
                .map(|o| match *o {
                    "*" => OriginPattern::Any,
                    o => OriginPattern::Exact(o.to_ascii_lowercase()),
                })
                .collect(),
            allow_credentials: credentials,
            expose_headers: vec!["x-id".into()],
            max_age: Some(60),
            allow_methods: vec!["GET".into(), "*".into()],
            allow_headers: vec!["*".into()],
        })
    }

    fn req(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn preflight_echoes_with_credentials_and_lists_without() {
        let r = rt(&["https://a.com"], true);
        let h = req(&[
            ("origin", "https://A.com"),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "x-b"),
        ]);
        let resp = r.preflight(&Method::OPTIONS, &h).unwrap();
        let out = resp.headers();
        assert_eq!(resp.status(), 204);
        assert_eq!(out["access-control-allow-origin"], "https://A.com");
        assert_eq!(out["access-control-allow-methods"], "PUT");
        assert_eq!(out["access-control-allow-headers"], "x-b");
        assert_eq!(out["access-control-allow-credentials"], "true");
        assert_eq!(out["access-control-max-age"], "60");
        assert_eq!(out["vary"], "Origin");

        let r = rt(&["*"], false);
        let resp = r.preflight(&Method::OPTIONS, &h).unwrap();
        let out = resp.headers();
        assert_eq!(out["access-control-allow-origin"], "*");
        assert_eq!(out["access-control-allow-methods"], "GET,*");
        assert_eq!(out["access-control-allow-headers"], "*");
        assert!(!out.contains_key("vary"));
        assert!(!out.contains_key("access-control-allow-credentials"));

        assert!(r.preflight(&Method::GET, &h).is_none());
        assert!(
            r.preflight(&Method::OPTIONS, &req(&[("origin", "https://a.com")]))
                .is_none()
        );
    }

    #[test]
    fn disallowed_origin_gets_nothing_and_backend_headers_go() {
        let r = rt(&["https://a.com"], false);
        let h = req(&[
            ("origin", "https://b.com"),
            ("access-control-request-method", "GET"),
        ]);
        let resp = r.preflight(&Method::OPTIONS, &h).unwrap();
        assert_eq!(resp.status(), 204);
        assert!(resp.headers().is_empty());

        let mut out = req(&[
            ("access-control-allow-origin", "*"),
            ("access-control-max-age", "5"),
            ("x-kept", "1"),
        ]);
        r.apply(&h, &mut out);
        assert_eq!(out.len(), 1);
        r.apply(&req(&[("origin", "https://a.com")]), &mut out);
        assert_eq!(out["access-control-allow-origin"], "https://a.com");
        assert_eq!(out["access-control-expose-headers"], "x-id");
        assert_eq!(out["vary"], "Origin");
    }
}

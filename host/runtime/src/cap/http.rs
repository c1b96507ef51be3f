//! Outbound HTTP, both ways a guest can ask for it:
//!
//! - `portico:plugin/http-client.fetch` (all plugin kinds, when `http_allow` is not empty);
//! - `wasi:http/outgoing-handler.handle` (functions built for `wasi:http`), through the
//!   [`WasiHttpHooks::send_request`] hook, which replaces wasmtime-wasi-http's own client (its
//!   `default-send-request` feature is off, so there is no ambient network at all).
//!
//! Both check the URL's host against the plugin's allow-list, cap the timeout at what is left
//! of the call's deadline, and go through the proxy's [`OutboundHttp`]. Errors the guest sees
//! are generic (`failed("request failed")`); the detail goes to the gateway's log.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use wasmtime::component::{HasSelf, Linker};
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

use crate::bindings::caps::portico::plugin::http_client::{self, Error, Request, Response};
use crate::host::Host;
use crate::outbound::{AllowList, OutboundError, OutboundHttp, http_host, http_port};

/// Largest request body a guest may send through `wasi:http` (the WIT `http-client` takes a
/// `list<u8>`, bounded by the guest's memory).
const MAX_OUTGOING_BODY: usize = 16 << 20;

/// A plugin's outbound-HTTP grant.
#[derive(Clone)]
pub(crate) struct HttpGrant {
    /// Hosts it may call.
    pub(crate) allow: Arc<AllowList>,
    /// The proxy's client.
    pub(crate) outbound: Arc<dyn OutboundHttp>,
}

impl HttpGrant {
    /// Sends `req` if its host is allowed, within `timeout`.
    async fn send(
        &self,
        plugin: &str,
        req: http::Request<Bytes>,
        timeout: Duration,
    ) -> Result<http::Response<Bytes>, SendError> {
        let host = http_host(req.uri()).ok_or(SendError::BadUrl)?;
        if !self.allow.allows(host, http_port(req.uri())) {
            return Err(SendError::NotAllowed(host.to_owned()));
        }
        if timeout.is_zero() {
            return Err(SendError::Timeout);
        }
        let uri = req.uri().clone();
        match tokio::time::timeout(timeout, self.outbound.fetch(req, timeout)).await {
            Err(_) | Ok(Err(OutboundError::Timeout)) => Err(SendError::Timeout),
            Ok(Err(OutboundError::Failed(detail))) => {
                tracing::warn!(target: "portico::plugin", plugin, %uri, "outbound request failed: {detail}");
                Err(SendError::Failed)
            }
            Ok(Ok(resp)) => Ok(resp),
        }
    }
}

enum SendError {
    BadUrl,
    NotAllowed(String),
    Timeout,
    Failed,
}

impl http_client::Host for Host {
    async fn fetch(&mut self, req: Request) -> Result<Response, Error> {
        let Some(grant) = self.shared.http.clone() else {
            // Linked without a grant (a model validator's optional remote `$ref`s): no host is
            // allowed.
            let host = req
                .url
                .parse::<http::Uri>()
                .ok()
                .and_then(|u| http_host(&u).map(str::to_owned))
                .unwrap_or_default();
            return Err(Error::HostNotAllowed(host));
        };
        let requested = if req.timeout_ms == 0 {
            Duration::MAX
        } else {
            Duration::from_millis(u64::from(req.timeout_ms))
        };
        let timeout = requested.min(self.remaining());
        let mut builder = http::Request::builder()
            .method(req.method.as_str())
            .uri(req.url.as_str());
        for (name, value) in &req.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = builder
            .body(Bytes::from(req.body))
            .map_err(|e| Error::Failed(format!("invalid request: {e}")))?;
        let plugin = self.shared.name.clone();
        match grant.send(&plugin, request, timeout).await {
            Ok(resp) => {
                let (parts, body) = resp.into_parts();
                let headers = parts
                    .headers
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.as_str().to_owned(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                Ok(Response {
                    status: parts.status.as_u16(),
                    headers,
                    body: Vec::from(body),
                })
            }
            Err(SendError::BadUrl) => Err(Error::Failed(
                "the url must be an absolute http:// or https:// URL".into(),
            )),
            Err(SendError::NotAllowed(host)) => Err(Error::HostNotAllowed(host)),
            Err(SendError::Timeout) => Err(Error::Timeout),
            Err(SendError::Failed) => Err(Error::Failed("request failed".into())),
        }
    }
}

/// Links `portico:plugin/http-client`.
pub(crate) fn add_to_linker(linker: &mut Linker<Host>) -> wasmtime::Result<()> {
    http_client::add_to_linker::<Host, HasSelf<Host>>(linker, |h| h)
}

/// The `wasi:http` hooks of one store: outgoing requests go through the grant, or nowhere.
pub(crate) struct WasiHttpGuard {
    /// The plugin's grant; `None` refuses every request.
    pub(crate) grant: Option<HttpGrant>,
    /// The current call's deadline.
    pub(crate) deadline: Instant,
    /// The plugin's name, for log lines.
    pub(crate) plugin: Arc<str>,
}

type IoFuture = Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>;

impl WasiHttpHooks for WasiHttpGuard {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> Box<
        dyn Future<Output = wasmtime_wasi_http::Result<(http::Response<WasiBody>, IoFuture)>>
            + Send,
    > {
        use wasmtime_wasi_http::Error as E;
        let grant = self.grant.clone();
        let plugin = self.plugin.clone();
        let mut timeout = self.deadline.saturating_duration_since(Instant::now());
        if let Some(t) = options.and_then(|o| o.first_byte_timeout) {
            timeout = timeout.min(t);
        }
        Box::new(async move {
            let Some(grant) = grant else {
                return Err(E::HttpRequestDenied);
            };
            let (parts, body) = request.into_parts();
            let body = Limited::new(body, MAX_OUTGOING_BODY)
                .collect()
                .await
                .map_err(|_| E::HttpRequestBodySize(None))?
                .to_bytes();
            let resp = match grant
                .send(&plugin, http::Request::from_parts(parts, body), timeout)
                .await
            {
                Ok(resp) => resp,
                Err(SendError::BadUrl) => return Err(E::HttpRequestUriInvalid),
                Err(SendError::NotAllowed(_)) => return Err(E::HttpRequestDenied),
                Err(SendError::Timeout) => return Err(E::ConnectionReadTimeout),
                Err(SendError::Failed) => return Err(E::ConnectionRefused),
            };
            let resp = resp.map(|b| Full::new(b).map_err(|never| match never {}).boxed_unsync());
            let io: IoFuture = Box::new(async { Ok(()) });
            Ok((resp, io))
        })
    }
}

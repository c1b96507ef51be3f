//! A worker's own pool of HTTP/1 connections to upstreams (`hyper::client::conn::http1`).
//!
//! hyper-util's pooled client cost about a tenth of a proxied request's user-space
//! instructions (`benches/instructions.sh` under callgrind): a SipHash of the pool key three
//! times per request, a mutex shared by every clone of the client, the connector cloned and a
//! lazy connect future built even when an idle connection is there. A worker's pool is used
//! from that worker's thread only, so it is simpler:
//!
//! - idle connections by `(scheme, authority)`, newest last (the warmest connection is reused
//!   first), each with the time it went idle; at most [`MAX_IDLE_PER_HOST`] per upstream, and
//!   none kept longer than [`IDLE_TIMEOUT`] ([`Pool::sweep`], on every worker tick);
//! - a connection goes back to the pool when its response body has ended ([`Pooled`]); one
//!   whose body is dropped unread is closed, as hyper closes it;
//! - a reused connection that turns out to be closed (the upstream's keep-alive timeout ran
//!   out just then) gives the request back unsent, and it goes on another connection or a new
//!   one: a request is never sent twice;
//! - the request goes out in origin form with a `Host` header from the URI's authority (its
//!   port only when not the scheme's default), as hyper-util's client sends it.
//!
//! Connections are opened by the shared connector (TCP options, TLS roots loaded once) and
//! driven by a task on the worker's runtime.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ::http::uri::{Authority, Scheme};
use ::http::{HeaderValue, Request, Response, Uri, header};
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use tower_service::Service as _;

use crate::pipeline::body::{Body, BoxError};

/// How long an idle connection is kept.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Idle connections kept per upstream.
pub const MAX_IDLE_PER_HOST: usize = 1024;

/// An upstream: whether it is HTTPS, and its authority, compared and hashed as written.
/// `Authority`'s own `Hash` and `Eq` fold case byte by byte (about 1 300 instructions per
/// request here); the URIs come from the configuration, so one upstream is written the same way
/// on every request.
#[derive(Clone)]
struct Key {
    https: bool,
    authority: Authority,
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.https.hash(state);
        self.authority.as_str().hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.https == other.https && self.authority.as_str() == other.authority.as_str()
    }
}

impl Eq for Key {}

/// An idle connection.
struct Idle {
    sender: http1::SendRequest<Body>,
    since: Instant,
}

impl Idle {
    /// Still open, and not idle for longer than [`IDLE_TIMEOUT`].
    fn usable(&self) -> bool {
        !self.sender.is_closed() && self.since.elapsed() < IDLE_TIMEOUT
    }
}

/// One worker's upstream connections.
pub struct Pool {
    connector: HttpsConnector<HttpConnector>,
    idle: Mutex<HashMap<Key, Vec<Idle>, foldhash::fast::RandomState>>,
}

/// Why a request did not get a response head.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The URI has no scheme or authority.
    #[error("the upstream URI {0} is not absolute")]
    NotAbsolute(Uri),
    /// Connecting (TCP or TLS) failed.
    #[error("cannot connect")]
    Connect(#[source] BoxError),
    /// The HTTP/1 exchange failed.
    #[error(transparent)]
    Http(#[from] hyper::Error),
}

impl Pool {
    /// An empty pool opening connections with `connector`.
    pub fn new(connector: HttpsConnector<HttpConnector>) -> Arc<Self> {
        Arc::new(Self {
            connector,
            idle: Mutex::new(HashMap::default()),
        })
    }

    /// Sends `req` (absolute URI) on an idle connection to its upstream, or a new one.
    pub async fn request(
        self: &Arc<Self>,
        mut req: Request<Body>,
    ) -> Result<Response<Pooled>, PoolError> {
        let uri = req.uri();
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return Err(PoolError::NotAbsolute(uri.clone()));
        };
        let key = Key {
            https: *scheme == Scheme::HTTPS,
            authority: authority.clone(),
        };
        origin_form(&mut req, &key);
        while let Some(mut sender) = self.checkout(&key) {
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(req).await {
                Ok(resp) => return Ok(self.pooled(resp, sender, key)),
                Err(mut e) => match e.take_message() {
                    // Not sent: the connection closed first. Try the next one.
                    Some(unsent) => req = unsent,
                    None => return Err(e.into_error().into()),
                },
            }
        }
        // Boxed: connecting (TCP, TLS) is a large future, and the common path, a reused
        // connection, should not carry its size (this future is moved into its timeout).
        let mut sender = Box::pin(self.connect(&key)).await?;
        let resp = sender.send_request(req).await?;
        Ok(self.pooled(resp, sender, key))
    }

    /// The newest idle connection to `key` that is still open.
    fn checkout(&self, key: &Key) -> Option<http1::SendRequest<Body>> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.get_mut(key)?;
        while let Some(idle) = list.pop() {
            if idle.usable() {
                return Some(idle.sender);
            }
        }
        None
    }

    /// Opens a connection to `key` and starts its task on this runtime.
    async fn connect(&self, key: &Key) -> Result<http1::SendRequest<Body>, PoolError> {
        let target = Uri::builder()
            .scheme(if key.https {
                Scheme::HTTPS
            } else {
                Scheme::HTTP
            })
            .authority(key.authority.clone())
            .path_and_query("/")
            .build()
            .map_err(|e| PoolError::Connect(Box::new(e)))?;
        let mut connector = self.connector.clone();
        std::future::poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(PoolError::Connect)?;
        let io = connector.call(target).await.map_err(PoolError::Connect)?;
        let (sender, conn) = http1::handshake(io).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("upstream connection ended: {e}");
            }
        });
        Ok(sender)
    }

    fn pooled(
        self: &Arc<Self>,
        resp: Response<Incoming>,
        sender: http1::SendRequest<Body>,
        key: Key,
    ) -> Response<Pooled> {
        resp.map(|body| Pooled {
            body,
            back: Some(Back {
                pool: Arc::clone(self),
                sender,
                key,
            }),
        })
    }

    /// Keeps `sender` for the next request to `key`, unless that upstream has enough idle.
    fn put_back(&self, key: Key, sender: http1::SendRequest<Body>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.entry(key).or_default();
        if list.len() < MAX_IDLE_PER_HOST {
            list.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    /// Closes idle connections that are past [`IDLE_TIMEOUT`] or closed by the upstream.
    pub fn sweep(&self) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.retain(|_, list| {
            list.retain(Idle::usable);
            !list.is_empty()
        });
    }
}

/// The request's URI in origin form (path and query), and its `Host` header from the
/// authority if it has none.
fn origin_form(req: &mut Request<Body>, key: &Key) {
    if !req.headers().contains_key(header::HOST) {
        let authority = &key.authority;
        let default_port = if key.https { 443 } else { 80 };
        let host = match authority.port_u16() {
            Some(p) if p != default_port => HeaderValue::from_str(authority.as_str()),
            _ => HeaderValue::from_str(authority.host()),
        };
        if let Ok(host) = host {
            req.headers_mut().insert(header::HOST, host);
        }
    }
    let origin = match req.uri().path_and_query() {
        Some(pq) if pq.as_str() != "/" || pq.query().is_some() => Uri::from(pq.clone()),
        _ => Uri::from_static("/"),
    };
    *req.uri_mut() = origin;
}

/// What puts a connection back in its pool.
struct Back {
    pool: Arc<Pool>,
    sender: http1::SendRequest<Body>,
    key: Key,
}

/// An upstream response body that returns its connection to the pool when it ends.
pub struct Pooled {
    body: Incoming,
    back: Option<Back>,
}

impl Pooled {
    fn give_back(&mut self) {
        if let Some(Back { pool, sender, key }) = self.back.take() {
            pool.put_back(key, sender);
        }
    }
}

impl HttpBody for Pooled {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.give_back(),
            Poll::Ready(Some(Ok(_))) if self.body.is_end_stream() => self.give_back(),
            // An error: the connection is not reusable; hyper closes it.
            Poll::Ready(Some(Err(_))) => self.back = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        // A body with nothing left (HEAD, 204, 304, or read to its end) leaves the connection
        // reusable; one dropped part-read does not.
        if self.body.is_end_stream() {
            self.give_back();
        }
    }
}

//! Upstream clients: connection pools for HTTP integrations and plugin outbound calls.
//!
//! Every data-plane worker has its own pool ([`Upstreams::worker_pool`], see
//! [`crate::integration::pool`]): its connections are driven by tasks on the worker's own
//! current-thread runtime, so a proxied request, its upstream connection and the response stay
//! on one thread. Plugins' outbound calls and key-set fetches use one shared hyper-util client
//! ([`Upstreams::shared`]). Pools live outside snapshots, so connections are reused
//! across reloads. HTTPS upstreams are verified against the system's root certificates; the TLS
//! settings are loaded once and shared by every pool.

use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::integration::pool::{self, Pool};
use crate::pipeline::body::Body;

/// One pooled client.
pub type Upstream = Client<HttpsConnector<HttpConnector>, Body>;

/// The connector (TCP options and TLS settings, loaded once) and the shared pool.
pub struct Upstreams {
    connector: HttpsConnector<HttpConnector>,
    shared: Upstream,
}

impl Upstreams {
    /// Loads the system roots and builds the shared pool.
    pub fn new() -> std::io::Result<Self> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_keepalive(Some(Duration::from_secs(60)));
        let connector = HttpsConnectorBuilder::new()
            .with_native_roots()?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let shared = pool(connector.clone());
        Ok(Self { connector, shared })
    }

    /// A new pool for one worker. Use it on the worker's runtime: connections are spawned on
    /// the runtime that opens them.
    pub fn worker_pool(&self) -> Arc<Pool> {
        Pool::new(self.connector.clone())
    }

    /// The pool shared by plugins' outbound calls.
    pub fn shared(&self) -> &Upstream {
        &self.shared
    }
}

fn pool(connector: HttpsConnector<HttpConnector>) -> Upstream {
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(pool::IDLE_TIMEOUT)
        .pool_max_idle_per_host(pool::MAX_IDLE_PER_HOST)
        .pool_timer(TokioTimer::new())
        .build(connector)
}

//! Upstream clients: pooled hyper clients for HTTP integrations and plugin outbound calls.
//!
//! Every data-plane worker has its own pool ([`Upstreams::worker_client`]): its connections are
//! driven by tasks on the worker's own current-thread runtime, so a proxied request, its
//! upstream connection and the response stay on one thread. Plugins' outbound calls use one
//! shared pool ([`Upstreams::shared`]). Pools live outside snapshots, so connections are reused
//! across reloads. HTTPS upstreams are verified against the system's root certificates; the TLS
//! settings are loaded once and shared by every pool.

use std::time::Duration;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::pipeline::body::Body;

/// One pooled client.
pub type Upstream = Client<HttpsConnector<HttpConnector>, Body>;

/// How long an idle pooled connection is kept.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Idle connections kept per upstream host, per pool.
const POOL_MAX_IDLE_PER_HOST: usize = 1024;

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

    /// A new pool for one worker. Call it on the worker's runtime: connections are spawned on
    /// the runtime that opens them.
    pub fn worker_client(&self) -> Upstream {
        pool(self.connector.clone())
    }

    /// The pool shared by plugins' outbound calls.
    pub fn shared(&self) -> &Upstream {
        &self.shared
    }
}

fn pool(connector: HttpsConnector<HttpConnector>) -> Upstream {
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
        .pool_timer(TokioTimer::new())
        .build(connector)
}

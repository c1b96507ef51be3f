//! The admin listener: health, metrics, reload, plugins, caches, keys and usage.
//!
//! Every request but `GET /health` needs `Authorization: Bearer <token>` (see
//! [`crate::control::auth`]): without one the answer is 401 `{"message":"Unauthorized"}`, with
//! a wrong one 403 `{"message":"Forbidden"}`, whatever the path, so that an unknown path
//! reveals nothing either. [`ENDPOINTS`] is the route table: the dispatcher serves only what it
//! lists, and a test walks it to prove that every endpoint but the public ones refuses a
//! request without the token. Every request other than a `GET` is recorded in the audit log
//! ([`crate::control::audit`]).
//!
//! | Request        | Answer                                                              |
//! |----------------|---------------------------------------------------------------------|
//! | `GET /health`  | 200 `{"status":"ok","generation":N,"traffic":{"status":"ok"}}`; `traffic` is `{"status":"degraded","since":UNIX_SECS,"error":..}` while Redis is unreachable, still with HTTP 200 so a load balancer does not drain a node for a Redis blip. In cluster mode, `deployments` is `{"status":"current","version":N}` or `{"status":"stale","since","error"}` (`control::sync`). Public: a load balancer probes it without a token |
//! | `GET /metrics` | 200, Prometheus text format                                         |
//! | `POST /reload` | 200 `{"status":"reloaded","generation":N,"warnings":[..]}`, or 400 `{"status":"rejected","errors":[..]}` with the old configuration still serving |
//! | `GET /plugins` | 200 `{"plugins":[{"name","kind","digest","earlierVersions"}]}` |
//! | `PUT /plugins/{name}` | the component bytes: 200 `{"status":"deployed","digest":..}`, 400 when rejected (the old version keeps serving), 404 for an undeclared name |
//! | `POST /plugins/{name}/rollback` | 200 `{"status":"rolled back","digest":..}`, 409 without an earlier version |
//! | `GET /cache/{api}/{stage}` | 200 `{"api","stage","entries","bytes","capacityBytes"}`, 404 when the stage has no cache |
//! | `DELETE /cache/{api}/{stage}` | flushes the stage cache (AWS `FlushStageCache`): 200 `{"status":"flushed",..}` |
//! | `DELETE /authorizers/{api}/{stage}` | drops the stage's cached authorizer answers (AWS `FlushStageAuthorizersCache`): 200 `{"status":"flushed","authorizers":[..]}`, 404 for an unknown API or stage |
//!
//! Usage plans and API keys: see `control::admin_traffic` (`/usageplans/...`, `/apikeys`).
//! Deployments, stages, rollback and canaries: see `control::admin_deploy` (`/apis/...`).
//!
//! It binds to loopback by default.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::json;
use tokio::net::TcpListener;

use crate::control::auth::Refusal;
use crate::pipeline::body::{Body, full};
use crate::{Gateway, ReloadError};

/// Longest TLS handshake on the admin listener.
const ADMIN_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves the admin API until `shutdown` resolves; over TLS when `tls` is given
/// (`admin.tls`, see [`crate::listener::tls::admin_config`]).
pub async fn serve(
    gw: Arc<Gateway>,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("admin accept failed: {e}");
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let gw = Arc::clone(&gw);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let gw = Arc::clone(&gw);
                async move { Ok::<_, Infallible>(guarded(&gw, peer, req).await) }
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            match acceptor {
                None => {
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                }
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(ADMIN_HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                    match handshake.await {
                        Ok(Ok(tls)) => {
                            let _ = builder.serve_connection(TokioIo::new(tls), service).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, "admin TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(%peer, "admin TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

/// Largest component accepted by `PUT /plugins/{name}`.
const MAX_COMPONENT_BYTES: usize = 256 * 1024 * 1024;

/// Largest request body of the traffic endpoints.
const MAX_JSON_BYTES: usize = 64 * 1024;

/// One admin endpoint: a method and a path pattern, where `{name}` matches one segment.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    /// The HTTP method.
    pub method: &'static str,
    /// The path pattern.
    pub path: &'static str,
    /// Served without a token.
    pub public: bool,
}

impl Endpoint {
    const fn token(method: &'static str, path: &'static str) -> Self {
        Self {
            method,
            path,
            public: false,
        }
    }

    const fn public(method: &'static str, path: &'static str) -> Self {
        Self {
            method,
            path,
            public: true,
        }
    }

    /// Whether `path` fits the pattern.
    pub fn matches(&self, path: &str) -> bool {
        let mut want = self.path.split('/');
        let mut got = path.split('/');
        loop {
            match (want.next(), got.next()) {
                (None, None) => return true,
                (Some(w), Some(g)) if w.starts_with('{') => {
                    if g.is_empty() {
                        return false;
                    }
                }
                (Some(w), Some(g)) if w == g => {}
                _ => return false,
            }
        }
    }
}

/// Every admin endpoint. Requests that fit none are 404 (405 for a known path with another
/// method), after the token check.
pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint::public("GET", "/health"),
    Endpoint::token("GET", "/metrics"),
    Endpoint::token("POST", "/reload"),
    Endpoint::token("GET", "/plugins"),
    Endpoint::token("PUT", "/plugins/{name}"),
    Endpoint::token("POST", "/plugins/{name}/rollback"),
    Endpoint::token("GET", "/cache/{api}/{stage}"),
    Endpoint::token("DELETE", "/cache/{api}/{stage}"),
    Endpoint::token("DELETE", "/authorizers/{api}/{stage}"),
    Endpoint::token("GET", "/usageplans"),
    Endpoint::token("POST", "/usageplans"),
    Endpoint::token("GET", "/usageplans/{plan}"),
    Endpoint::token("DELETE", "/usageplans/{plan}"),
    Endpoint::token("GET", "/usageplans/{plan}/usage"),
    Endpoint::token("POST", "/usageplans/{plan}/keys/{key}/usage"),
    Endpoint::token("POST", "/usageplans/{plan}/keys"),
    Endpoint::token("GET", "/apikeys"),
    Endpoint::token("POST", "/apikeys"),
    Endpoint::token("GET", "/apis"),
    Endpoint::token("GET", "/apis/{api}/deployments"),
    Endpoint::token("POST", "/apis/{api}/deployments"),
    Endpoint::token("GET", "/apis/{api}/deployments/{id}"),
    Endpoint::token("GET", "/apis/{api}/stages/{stage}"),
    Endpoint::token("PATCH", "/apis/{api}/stages/{stage}"),
    Endpoint::token("POST", "/apis/{api}/stages/{stage}/rollback"),
    // The AWS control plane (control::aws).
    Endpoint::token("GET", "/restapis"),
    Endpoint::token("POST", "/restapis"),
    Endpoint::token("GET", "/restapis/{id}"),
    Endpoint::token("PUT", "/restapis/{id}"),
    Endpoint::token("GET", "/restapis/{id}/resources"),
    Endpoint::token("GET", "/restapis/{id}/resources/{resource}"),
    Endpoint::token("POST", "/restapis/{id}/resources/{parent}"),
    Endpoint::token("DELETE", "/restapis/{id}/resources/{resource}"),
    Endpoint::token(
        "GET",
        "/restapis/{id}/resources/{resource}/methods/{method}",
    ),
    Endpoint::token(
        "PUT",
        "/restapis/{id}/resources/{resource}/methods/{method}",
    ),
    Endpoint::token(
        "DELETE",
        "/restapis/{id}/resources/{resource}/methods/{method}",
    ),
    Endpoint::token(
        "PUT",
        "/restapis/{id}/resources/{resource}/methods/{method}/responses/{status}",
    ),
    Endpoint::token(
        "GET",
        "/restapis/{id}/resources/{resource}/methods/{method}/integration",
    ),
    Endpoint::token(
        "PUT",
        "/restapis/{id}/resources/{resource}/methods/{method}/integration",
    ),
    Endpoint::token(
        "DELETE",
        "/restapis/{id}/resources/{resource}/methods/{method}/integration",
    ),
    Endpoint::token(
        "PUT",
        "/restapis/{id}/resources/{resource}/methods/{method}/integration/responses/{status}",
    ),
    Endpoint::token("GET", "/restapis/{id}/deployments"),
    Endpoint::token("POST", "/restapis/{id}/deployments"),
    Endpoint::token("GET", "/restapis/{id}/deployments/{deployment}"),
    Endpoint::token("GET", "/restapis/{id}/stages"),
    Endpoint::token("POST", "/restapis/{id}/stages"),
    Endpoint::token("GET", "/restapis/{id}/stages/{stage}"),
    Endpoint::token("PATCH", "/restapis/{id}/stages/{stage}"),
    Endpoint::token("DELETE", "/restapis/{id}/stages/{stage}"),
    Endpoint::token("DELETE", "/restapis/{id}/stages/{stage}/cache/data"),
    Endpoint::token("DELETE", "/restapis/{id}/stages/{stage}/cache/authorizers"),
    Endpoint::token("GET", "/restapis/{id}/stages/{stage}/exports/{type}"),
];

/// A request body: not read yet, or already read (a SigV4 signature covers the body, so a
/// signed request is read before it is authenticated, within [`MAX_SIGNED_BYTES`]).
pub(crate) enum AdminBody {
    /// Still on the connection.
    Incoming(Incoming),
    /// Read whole.
    Read(Bytes),
}

impl AdminBody {
    /// The whole body, at most `limit` bytes.
    pub(crate) async fn bytes(self, limit: usize) -> Result<Bytes, Response<Body>> {
        let too_large = |e: &dyn std::fmt::Display| {
            json_reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"message": e.to_string()}),
            )
        };
        match self {
            Self::Read(b) if b.len() > limit => Err(too_large(&format!(
                "length limit exceeded: the body is more than {limit} bytes"
            ))),
            Self::Read(b) => Ok(b),
            Self::Incoming(body) => {
                let body = http_body_util::Limited::new(body, limit);
                match http_body_util::BodyExt::collect(body).await {
                    Ok(b) => Ok(b.to_bytes()),
                    Err(e) => Err(too_large(&e)),
                }
            }
        }
    }
}

/// Largest body of a SigV4-signed request (the AWS control plane: an imported definition).
pub(crate) const MAX_SIGNED_BYTES: usize = 8 * 1024 * 1024;

/// Checks the token, serves the request, and records mutations in the audit log.
async fn guarded(
    gw: &Arc<Gateway>,
    peer: std::net::SocketAddr,
    req: Request<Incoming>,
) -> Response<Body> {
    let (parts, incoming) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let method = parts.method.clone();
    let endpoint = ENDPOINTS
        .iter()
        .find(|e| e.method == method.as_str() && e.matches(&path));
    let mutation = method != Method::GET && method != Method::HEAD;
    let audit = |actor: &str, status: StatusCode, before: &str, after: &str| {
        gw.audit.record(&crate::control::audit::Entry {
            time: crate::control::audit::now(),
            actor,
            peer,
            method: method.as_str(),
            path: &path,
            status: status.as_u16(),
            before,
            after,
        });
    };
    let mut body = AdminBody::Incoming(incoming);
    let actor = if endpoint.is_some_and(|e| e.public) {
        Ok("anonymous".to_owned())
    } else if is_sigv4(&parts.headers) {
        match body.bytes(MAX_SIGNED_BYTES).await {
            Ok(read) => {
                let actor = authenticate_sigv4(gw, &parts, &read);
                body = AdminBody::Read(read);
                actor
            }
            Err(too_large) => return too_large,
        }
    } else {
        authenticate(gw, &parts.headers)
    };
    let actor = match actor {
        Ok(actor) => actor,
        Err(refusal) => {
            tracing::warn!(%peer, %method, path, ?refusal, "admin request refused");
            let resp = refused(refusal);
            if mutation {
                let digest = gw.state_digest();
                audit("anonymous", resp.status(), &digest, &digest);
            }
            return resp;
        }
    };
    if endpoint.is_none() {
        return if ENDPOINTS.iter().any(|e| e.matches(&path)) {
            json_reply(
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"message": "Method Not Allowed"}),
            )
        } else {
            json_reply(StatusCode::NOT_FOUND, json!({"message": "Not Found"}))
        };
    }
    if !mutation {
        return route(gw, parts, body).await;
    }
    let before = gw.state_digest();
    let resp = route(gw, parts, body).await;
    audit(&actor, resp.status(), &before, &gw.state_digest());
    resp
}

/// Whether the request is signed with SigV4 (the AWS CLI and SDKs).
fn is_sigv4(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes().starts_with(b"AWS4-HMAC-SHA256 "))
}

/// Who signed the request (`sigv4:<access key>/token:<fingerprint>`), or why it is refused.
fn authenticate_sigv4(
    gw: &Gateway,
    parts: &http::request::Parts,
    body: &[u8],
) -> Result<String, Refusal> {
    let Some(token) = gw.admin_token() else {
        return Err(Refusal::Wrong);
    };
    let region = gw.config().aws.region.clone();
    let key = token.check_sigv4(parts, body, &region)?;
    let key: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(32)
        .collect();
    Ok(format!("sigv4:{key}/token:{}", token.fingerprint()))
}

/// Who sent the request (`token:<fingerprint>`), or why it is refused. A gateway without a
/// token (one built with no admin listener configured) refuses every request.
fn authenticate(gw: &Gateway, headers: &http::HeaderMap) -> Result<String, Refusal> {
    let Some(token) = gw.admin_token() else {
        return Err(Refusal::Wrong);
    };
    token.check(headers)?;
    Ok(format!("token:{}", token.fingerprint()))
}

/// 401 with a `WWW-Authenticate` challenge without a token, 403 with a wrong one.
fn refused(refusal: Refusal) -> Response<Body> {
    match refusal {
        Refusal::Missing => {
            let mut resp = json_reply(StatusCode::UNAUTHORIZED, json!({"message": "Unauthorized"}));
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"portico-admin\""),
            );
            resp
        }
        Refusal::Wrong => json_reply(StatusCode::FORBIDDEN, json!({"message": "Forbidden"})),
    }
}

async fn route(gw: &Arc<Gateway>, req: http::request::Parts, body: AdminBody) -> Response<Body> {
    let path = req.uri.path().to_owned();
    let traffic_path = path.strip_prefix("/usageplans/").map(str::to_owned);
    let deploy_path = path
        .strip_prefix("/apis")
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
        .map(str::to_owned);
    if traffic_path.is_some() || path == "/apikeys" || deploy_path.is_some() {
        let method = req.method.clone();
        let query = req.uri.query().unwrap_or("").to_owned();
        let body = match body.bytes(MAX_JSON_BYTES).await {
            Ok(b) => b,
            Err(too_large) => return too_large,
        };
        if let Some(rest) = deploy_path {
            return crate::control::admin_deploy::apis(gw, &method, &rest, &body).await;
        }
        return match traffic_path {
            Some(rest) => {
                crate::control::admin_traffic::usage_plans(gw, &method, &rest, &query, &body).await
            }
            None => crate::control::admin_traffic::api_keys(gw, &method, &query, &body).await,
        };
    }
    if path == "/usageplans" {
        let body = match body.bytes(MAX_JSON_BYTES).await {
            Ok(b) => b,
            Err(too_large) => return too_large,
        };
        return crate::control::admin_traffic::plans(gw, &req.method, &body).await;
    }
    if let Some(rest) = path.strip_prefix("/plugins") {
        return plugins(gw, &req.method, body, rest).await;
    }
    if let Some(rest) = path.strip_prefix("/restapis") {
        let body = match body.bytes(MAX_SIGNED_BYTES).await {
            Ok(b) => b,
            Err(too_large) => return too_large,
        };
        return crate::control::aws::restapis(gw, &req, rest, &body).await;
    }
    if let Some(rest) = path.strip_prefix("/cache/") {
        return cache(gw, &req.method, rest);
    }
    if let Some(rest) = path.strip_prefix("/authorizers/") {
        return authorizers(gw, &req.method, rest);
    }
    match (&req.method, path.as_str()) {
        (&Method::GET, "/health") => {
            let traffic = match gw.traffic.core.health() {
                portico_traffic::Health::Healthy => json!({"status": "ok"}),
                portico_traffic::Health::Degraded { since, last_error } => {
                    json!({"status": "degraded", "since": since, "error": last_error})
                }
            };
            let mut body =
                json!({"status": "ok", "generation": gw.generation(), "traffic": traffic});
            if let Some(sync) = gw.store_sync() {
                body["deployments"] = match sync.health() {
                    crate::control::sync::SyncHealth::Current { version } => {
                        json!({"status": "current", "version": version})
                    }
                    crate::control::sync::SyncHealth::Stale { since, error } => {
                        json!({"status": "stale", "since": since, "error": error})
                    }
                };
            }
            json_reply(StatusCode::OK, body)
        }
        (&Method::GET, "/metrics") => {
            let mut resp = Response::new(full(Bytes::from(gw.metrics.render())));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            );
            resp
        }
        (&Method::POST, "/reload") => match gw.reload_files().await {
            Ok((generation, warnings)) => json_reply(
                StatusCode::OK,
                json!({
                    "status": "reloaded",
                    "generation": generation,
                    "warnings": warnings.warnings().map(ToString::to_string).collect::<Vec<_>>(),
                }),
            ),
            Err(e) => {
                let errors: Vec<String> = match &e {
                    ReloadError::Invalid(report) => report.error_messages(),
                    ReloadError::Build(errors) => errors.clone(),
                };
                json_reply(
                    StatusCode::BAD_REQUEST,
                    json!({"status": "rejected", "generation": gw.generation(), "errors": errors}),
                )
            }
        },
        (_, "/health" | "/metrics" | "/reload") => json_reply(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"message": "Method Not Allowed"}),
        ),
        _ => json_reply(StatusCode::NOT_FOUND, json!({"message": "Not Found"})),
    }
}

/// `GET /plugins`, `PUT /plugins/{name}` (component bytes), `POST /plugins/{name}/rollback`.
async fn plugins(
    gw: &Arc<Gateway>,
    method: &Method,
    body: AdminBody,
    rest: &str,
) -> Response<Body> {
    let method = method.clone();
    let name = rest.trim_start_matches('/');
    match (&method, name.split_once('/')) {
        (&Method::GET, None) if name.is_empty() => {
            let list: Vec<_> = gw
                .plugins
                .list()
                .into_iter()
                .map(|(name, kind, digest, earlier)| json!({"name": name, "kind": kind, "digest": digest, "earlierVersions": earlier}))
                .collect();
            json_reply(StatusCode::OK, json!({ "plugins": list }))
        }
        (&Method::PUT, None) if !name.is_empty() => {
            let bytes = match body.bytes(MAX_COMPONENT_BYTES).await {
                Ok(b) => b,
                Err(too_large) => return too_large,
            };
            // Compiling takes milliseconds to seconds: on the blocking pool, which works on
            // every runtime flavour.
            let (deployer, plugin) = (Arc::clone(gw), name.to_owned());
            match tokio::task::spawn_blocking(move || deployer.plugins.deploy(&plugin, &bytes))
                .await
            {
                Ok(result) => deploy_reply(name, result, "deployed"),
                Err(e) => json_reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"status": "rejected", "message": format!("the deploy did not finish: {e}")}),
                ),
            }
        }
        (&Method::POST, Some((name, "rollback"))) => {
            deploy_reply(name, gw.plugins.rollback(name), "rolled back")
        }
        _ => json_reply(StatusCode::NOT_FOUND, json!({"message": "Not Found"})),
    }
}

/// `DELETE /authorizers/{api}/{stage}`: flushes every authorizer cache of the stage.
fn authorizers(gw: &Gateway, method: &Method, rest: &str) -> Response<Body> {
    if *method != Method::DELETE {
        return json_reply(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"message": "Method Not Allowed"}),
        );
    }
    let flushed = rest
        .split_once('/')
        .filter(|(_, s)| !s.contains('/'))
        .and_then(|(api, stage)| Some((api, stage, flush_stage_authorizers(gw, api, stage)?)));
    let Some((api, stage, flushed)) = flushed else {
        return json_reply(
            StatusCode::NOT_FOUND,
            json!({"message": format!("no API stage {rest}")}),
        );
    };
    json_reply(
        StatusCode::OK,
        json!({"status": "flushed", "api": api, "stage": stage, "authorizers": flushed}),
    )
}

/// Drops every cached authorizer answer of a stage (AWS FlushStageAuthorizersCache), in the
/// builds the stage and its canary serve; the names of the authorizers flushed, or `None`
/// for an unknown stage.
pub(crate) fn flush_stage_authorizers(gw: &Gateway, api: &str, stage: &str) -> Option<Vec<String>> {
    let snap = gw.snapshot();
    let api = snap.apis.iter().find(|a| a.name == api)?;
    let stage = api.stage(stage)?;
    let serving = std::iter::once(stage)
        .chain(stage.canary.as_ref().map(|c| &c.stage))
        .map(|s| s.deployment.map_or(api, |d| &snap.deployments[d]));
    let mut flushed: Vec<String> = Vec::new();
    for auth in serving
        .flat_map(|build| build.routes.iter())
        .filter_map(|r| r.access.authorizer.as_ref())
    {
        auth.flush(&stage.name);
        if !flushed.contains(&auth.def.name) {
            flushed.push(auth.def.name.clone());
        }
    }
    Some(flushed)
}

/// Drops every entry of a stage's response cache and of its canary's own (AWS
/// FlushStageCache); `false` when the stage has no cache.
pub(crate) fn flush_stage_cache(gw: &Gateway, api: &str, stage: &str) -> bool {
    let Some(store) = gw.caches.get(api, stage) else {
        return false;
    };
    store.flush();
    if let Some(canary) = gw.caches.get(api, &format!("{stage}/Canary")) {
        canary.flush();
    }
    true
}

/// `GET /cache/{api}/{stage}` (statistics) and `DELETE /cache/{api}/{stage}` (flush).
fn cache(gw: &Gateway, method: &Method, rest: &str) -> Response<Body> {
    let Some((api, stage)) = rest.split_once('/').filter(|(_, s)| !s.contains('/')) else {
        return json_reply(StatusCode::NOT_FOUND, json!({"message": "Not Found"}));
    };
    let Some(store) = gw.caches.get(api, stage) else {
        return json_reply(
            StatusCode::NOT_FOUND,
            json!({"message": format!("stage {stage} of API {api} has no cache")}),
        );
    };
    match *method {
        Method::DELETE => {
            flush_stage_cache(gw, api, stage);
        }
        Method::GET => {}
        _ => {
            return json_reply(
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"message": "Method Not Allowed"}),
            );
        }
    }
    let stats = store.stats();
    let mut body = json!({
        "api": api,
        "stage": stage,
        "entries": stats.entries,
        "bytes": stats.bytes,
        "capacityBytes": stats.capacity_bytes,
    });
    if *method == Method::DELETE {
        body["status"] = json!("flushed");
    }
    json_reply(StatusCode::OK, body)
}

fn deploy_reply(
    name: &str,
    result: Result<String, crate::plugins::DeployError>,
    done: &str,
) -> Response<Body> {
    use crate::plugins::DeployError;
    match result {
        Ok(digest) => json_reply(
            StatusCode::OK,
            json!({"status": done, "plugin": name, "digest": digest}),
        ),
        Err(e @ DeployError::Unknown(_)) => json_reply(
            StatusCode::NOT_FOUND,
            json!({"status": "rejected", "message": e.to_string()}),
        ),
        Err(e @ DeployError::NoHistory(_)) => json_reply(
            StatusCode::CONFLICT,
            json!({"status": "rejected", "message": e.to_string()}),
        ),
        Err(e @ DeployError::Rejected(_)) => json_reply(
            StatusCode::BAD_REQUEST,
            json!({"status": "rejected", "message": e.to_string()}),
        ),
    }
}

pub(crate) fn json_reply(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut resp = Response::new(full(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

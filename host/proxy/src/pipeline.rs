//! The request pipeline: the phases one request goes through, in order.
//!
//! ```text
//! limits (URI length, header bytes)         → 414 / 431
//! resolve API by Host, stage by 1st segment → 403 MISSING_AUTHENTICATION_TOKEN
//! CORS preflight (x-amazon-apigateway-cors: OPTIONS + Origin + Access-Control-Request-Method)
//!                                           → 204 answered here, before any route or access check
//! match route (method + path)               → 403 MISSING_AUTHENTICATION_TOKEN / 400 bad encoding
//! body limit (Content-Length)               → 413 REQUEST_TOO_LARGE
//! request decoding (minimumCompressionSize set, Content-Encoding gzip | deflate):
//!   collected and decoded, bounded by the body limit
//!                                           → 413 REQUEST_TOO_LARGE / 415 UNSUPPORTED_MEDIA_TYPE
//! authorizer plugin                         → 401 / 403 / 500
//! API key (methods with apiKeyRequired)     → 403 INVALID_API_KEY
//! throttle: key×method, key, stage, account → 429 THROTTLED (Retry-After)
//!   then the key's quota                    → 429 QUOTA_EXCEEDED (Retry-After)
//!                                           → 503 when a fail-closed limit cannot reach Redis
//! request validation (required parameters, body model)
//!                                           → 400 BAD_REQUEST_PARAMETERS / BAD_REQUEST_BODY
//! validator plugin (body collected)         → 400 BAD_REQUEST_BODY
//! stage cache lookup (cached methods)       → a stored response; 403 on a refused invalidation
//! mapper (request) → integration: HTTP_PROXY | HTTP | MOCK | function → mapper (response)
//!   non-proxy (HTTP, MOCK, aws): request template / passthrough → 415 UNSUPPORTED_MEDIA_TYPE,
//!   integration response selection and template
//!                                           → 502 / 504 / 500
//! stage cache store (single-flight fill)
//! CORS headers (x-amazon-apigateway-cors) on every response but a preflight, errors included;
//!   the integration's own Access-Control-* headers removed
//! response encoding (minimumCompressionSize set, integration answers only, not STREAM
//!   routes): gzip | deflate by Accept-Encoding from the threshold up, streamed
//! STREAM routes (responseTransferMode): the body goes out chunk by chunk, cut by the idle and
//!   total stream limits (limits.stream_idle_timeout_ms, stream_max_duration_ms)
//! x-amzn-RequestId · metrics · access log (when the body has been sent)
//! ```
//!
//! Each phase either continues or fails with a [`GatewayError`]; [`error::rescue`] turns
//! the failure into the response. Requests refused by the API-key or throttle phases never
//! reach the cache or the integration, and consume no quota.

pub mod body;
pub mod context;
pub mod error;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, Version};
use http_body_util::BodyExt;
use portico_cache::{CachedResponse, Fill};
use portico_config::{IntegrationKind, TransferMode, UnauthorizedCacheControl};

use self::body::{Body, BoxError, Observed, OnDone, full};
use self::context::{RequestContext, RequestId, clf_time, strip_port};
use self::error::{GatewayError, rescue};
use crate::Gateway;
use crate::integration::http::{Forwarding, Payload};
use crate::integration::{self, Answer};
use crate::listener::{Held, Worker};
use crate::phase::cache::{self, CacheStatus, RouteCaching, StageCacheRt};
use crate::phase::engine::ApiMapping;
use crate::phase::traffic;
use crate::phase::{authorize, compress, http_mapping, plugin, validate};
use crate::plugins::Slot;
use crate::snapshot::router::BadPath;
use crate::snapshot::{ApiRt, RouteRt, Snapshot};
use crate::telemetry::RouteMetrics;
use crate::telemetry::access_log::Record;

/// The stage an HTTP API serves at its base URL, without a stage segment.
pub const DEFAULT_STAGE: &str = "$default";

/// Facts about the connection a request arrived on.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The client.
    pub peer: SocketAddr,
    /// The local address the client connected to.
    pub local: SocketAddr,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// What the TLS handshake established; `None` on cleartext.
    pub tls: Option<Arc<crate::listener::tls::TlsInfo>>,
    /// The `X-Forwarded-*` values: formatted once per connection, not on every request
    /// (formatting an address cost about 1 000 instructions, 2 % of a proxied request).
    pub forwarded: Forwarded,
}

/// See [`ConnInfo::forwarded`].
#[derive(Debug, Clone)]
pub struct Forwarded {
    /// `X-Forwarded-For`'s entry: the peer's IP address.
    pub client: HeaderValue,
    /// `X-Forwarded-Proto`: the scheme.
    pub proto: HeaderValue,
    /// `X-Forwarded-Port`: the local port.
    pub port: HeaderValue,
}

impl ConnInfo {
    /// The facts of a connection from `peer` to `local`.
    pub fn new(
        peer: SocketAddr,
        local: SocketAddr,
        scheme: &'static str,
        tls: Option<Arc<crate::listener::tls::TlsInfo>>,
    ) -> Self {
        // An address's text is always a valid header value; the fallback is never used.
        let client = HeaderValue::from_maybe_shared(Bytes::from(peer.ip().to_string()))
            .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
        Self {
            peer,
            local,
            scheme,
            tls,
            forwarded: Forwarded {
                client,
                proto: HeaderValue::from_static(scheme),
                port: HeaderValue::from(local.port()),
            },
        }
    }
}

/// Serves one request on the snapshot current when it arrived, whatever its transport:
/// HTTP/1.1 and HTTP/2 bodies come from hyper, HTTP/3 ones from the QUIC stream. The body is
/// bounded by `limits.max_body_bytes` here, then boxed, so the rest of the pipeline is one
/// non-generic function.
pub async fn handle<B>(
    gw: &Gateway,
    worker: &Worker,
    req: Request<B>,
    conn: &ConnInfo,
) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    let snap = worker.snapshot(gw);
    let (parts, body) = req.into_parts();
    let limit = usize::try_from(snap.limits.max_body_bytes).unwrap_or(usize::MAX);
    let body: Body = http_body_util::Limited::new(body, limit).boxed();
    serve(gw, worker, snap, parts, body, conn).await
}

async fn serve(
    gw: &Gateway,
    worker: &Worker,
    snap: Arc<Held>,
    parts: http::request::Parts,
    body: Body,
    conn: &ConnInfo,
) -> Response<Body> {
    let started = Instant::now();
    let arrived = SystemTime::now();
    let id = RequestId::new();
    let request_id = id.as_str();
    let protocol = match parts.version {
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        Version::HTTP_10 => "HTTP/1.0",
        _ => "HTTP/1.1",
    };
    let mut cx = RequestContext {
        request_id,
        parts: &parts,
        peer: conn.peer,
        source_ip: context::client_ip(&snap.client_ip, conn.peer.ip(), &parts.headers),
        protocol,
        arrived,
        api: "",
        stage: None,
        in_stage: "",
        base_path_matched: None,
        tls: conn.tls.as_deref(),
        resource_path: "",
        params: &[],
        error: None,
        validation_error: None,
        authorizer: None,
        api_key: None,
        body_json: None,
    };

    let mut metrics = &snap.unrouted;
    let mut api: Option<&ApiRt> = None;
    // The API whose gateway responses answer an error raised before `api` is known.
    let mut api_for_errors: Option<&ApiRt> = None;
    let mut cache_status: Option<CacheStatus> = None;
    let mut api_key_id: Option<&str> = None;
    let mut principal_id: Option<String> = None;
    // A CORS preflight the gateway answered: its headers are final.
    let mut preflight = false;
    // The route streams its answer (`responseTransferMode: STREAM`): never compressed.
    let mut streamed = false;
    let outcome: Result<Answer, GatewayError> = 'pipeline: {
        if let Err(e) = check_limits(&snap, &parts) {
            break 'pipeline Err(e);
        }
        let host = strip_port(cx.domain_name());
        let path = parts.uri.path();
        let (found_api, stage, rest) = match snap.domains.get(host) {
            Some(domain) => {
                if let Err(e) = domain_admits(domain, conn, host) {
                    break 'pipeline Err(e);
                }
                let Some(routed) = domain.route(path, &parts.headers) else {
                    break 'pipeline Err(GatewayError::Forbidden(None));
                };
                let api = &snap.apis[routed.target.api];
                cx.base_path_matched = Some(routed.base_path_matched);
                (api, &api.stages[routed.target.stage], routed.rest)
            }
            None => {
                let Some(api) = snap.api_for_host(host) else {
                    break 'pipeline Err(GatewayError::MissingAuthenticationToken);
                };
                if api.disable_execute_api_endpoint {
                    api_for_errors = Some(api);
                    break 'pipeline Err(GatewayError::Forbidden(None));
                }
                let after_slash = path.strip_prefix('/').unwrap_or(path);
                let (stage_name, rest) = match after_slash.find('/') {
                    Some(i) => (&after_slash[..i], &after_slash[i..]),
                    None => (after_slash, ""),
                };
                // An HTTP API's `$default` stage answers at the base URL: a first segment that
                // names no stage is part of its path.
                let (stage, rest) = match api.stage(stage_name) {
                    Some(stage) => (stage, rest),
                    None => match api.stage(DEFAULT_STAGE) {
                        Some(stage) => (stage, path),
                        None => {
                            api_for_errors = Some(api);
                            break 'pipeline Err(GatewayError::MissingAuthenticationToken);
                        }
                    },
                };
                (api, stage, rest)
            }
        };
        // The canary's share goes to the canary's stage; the stage (or canary) names the build
        // whose routes answer: a stored deployment, or the API's current definition.
        let stage = stage.pick();
        let found_api = match stage.deployment {
            Some(d) => &snap.deployments[d],
            None => found_api,
        };
        api = Some(found_api);
        let api = found_api;
        cx.api = &api.name;
        cx.in_stage = rest;
        cx.stage = Some(stage);
        metrics = &stage.unmatched;
        // CORS preflights are the gateway's, whatever the route, before any access check.
        if let Some(cors) = &api.cors
            && let Some(response) = cors.preflight(&parts.method, &parts.headers)
        {
            preflight = true;
            break 'pipeline Ok(Answer {
                response,
                integration_latency: None,
            });
        }
        let found = match api.router.find(&parts.method, rest) {
            Ok(Some(found)) => found,
            Ok(None) => break 'pipeline Err(GatewayError::MissingAuthenticationToken),
            Err(BadPath) => break 'pipeline Err(GatewayError::BadPath),
        };
        let route = &api.routes[found.route as usize];
        streamed = route.integration.transfer_mode == TransferMode::Stream;
        metrics = &stage.route_metrics[found.route as usize];
        cx.resource_path = &route.resource_path;
        let params = found.params;
        let cx = RequestContext {
            params: &params,
            ..cx
        };

        let max_body = snap.limits.max_body_bytes;
        if content_length(&parts).is_some_and(|len| len > max_body) {
            break 'pipeline Err(GatewayError::BodyTooLarge(max_body));
        }
        // With compression on, an encoded body is decoded (whole, bounded) before anything
        // reads it; an unknown coding is 415.
        let decode = match api.compression {
            Some(_) => match compress::request_coding(&parts.headers) {
                Ok(coding) => coding,
                Err(e) => break 'pipeline Err(e),
            },
            None => None,
        };
        // Plugins that see the body, and SigV4 (which signs it), get it whole (bounded);
        // otherwise it streams. The limit travels with the body: streamed or collected, it
        // stops at `max_body`.
        let integration = &route.integration;
        let needs_body = decode.is_some()
            || route.validator.is_some()
            || route.mapper.is_some()
            || route.validation.is_some()
            || route.access.needs_body()
            || integration.kind.is_function()
            || integration.kind.is_mapped()
            || integration
                .http_request_mapping
                .as_ref()
                .is_some_and(|m| m.reads_body());
        let incoming = body;
        let body = if let Some(coding) = decode {
            match compress::collect_decoded(incoming, coding, max_body).await {
                Ok(b) => ReqBody::Whole(b),
                Err(e) => break 'pipeline Err(e),
            }
        } else if needs_body {
            match plugin::collect(incoming, max_body).await {
                Ok(b) => ReqBody::Whole(b),
                Err(e) => break 'pipeline Err(e),
            }
        } else {
            ReqBody::Stream(incoming)
        };
        // The decoded request no longer has its `Content-Encoding`, and has a new length.
        let decoded_parts;
        let cx = match (&decode, &body) {
            (Some(_), ReqBody::Whole(bytes)) => {
                let mut p = parts.clone();
                p.headers.remove(http::header::CONTENT_ENCODING);
                p.headers
                    .insert(http::header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
                decoded_parts = p;
                RequestContext {
                    parts: &decoded_parts,
                    ..cx
                }
            }
            _ => cx,
        };

        // Resource policy, authorizer, AWS_IAM: 401/403/500 end the request here.
        let whole = match &body {
            ReqBody::Whole(b) => Some(b.as_ref()),
            ReqBody::Stream(_) => None,
        };
        let authorized;
        let cx = match authorize::check(gw, &cx, &route.access, api.policy.as_ref(), whole).await {
            Ok(Some(a)) => {
                if gw.access_log.enabled() {
                    principal_id = Some(a.principal_id.clone());
                }
                authorized = a;
                RequestContext {
                    authorizer: Some(&authorized),
                    ..cx
                }
            }
            Ok(None) => cx,
            Err(e) => break 'pipeline Err(e),
        };

        // API key and throttling (AWS §2 rows 6–7): 403 / 429 / 503 end the request here.
        let route_id = found.route as usize;
        let key = if route.api_key_required {
            match traffic::identify(&stage.traffic, api.api_key_source, &cx) {
                Ok(k) => Some(k),
                Err(e) => break 'pipeline Err(e),
            }
        } else {
            None
        };
        api_key_id = key.map(|k| &*k.id);
        if let Err(e) = traffic::admit(
            &gw.traffic,
            &snap.traffic.account,
            &stage.traffic,
            route_id,
            key,
        )
        .await
        {
            break 'pipeline Err(e);
        }
        let cx = RequestContext { api_key: key, ..cx };

        let mut validated = None;
        if let (Some(validation), ReqBody::Whole(bytes)) = (&route.validation, &body) {
            match validate::check(
                &cx,
                validation,
                api.models.as_ref(),
                api.engines.models.as_deref().map(|s| (gw, s)),
                bytes,
            )
            .await
            {
                Ok(parsed) => validated = parsed,
                Err(e) => break 'pipeline Err(e),
            }
        }
        let cx = RequestContext {
            body_json: validated.as_ref(),
            ..cx
        };
        if let (Some(validator), ReqBody::Whole(bytes)) = (&route.validator, &body)
            && let Err(e) = plugin::validate(gw, &cx, validator, bytes).await
        {
            break 'pipeline Err(e);
        }
        let plan = stage.cache.as_ref().and_then(|sc| {
            let rc = sc.routes.get(found.route as usize)?.as_ref()?;
            cache::method_cacheable(&route.method, &parts.method).then_some((sc, rc))
        });
        let run = Integrate {
            gw,
            worker,
            function: stage.functions.get(route_id).and_then(Option::as_ref),
            snap: &snap,
            route,
            mapping: ApiMapping {
                binary: &api.binary_media_types,
                templates: api.engines.templates.as_deref().map(|s| (gw, s)),
            },
            conn,
            max_body,
            body,
        };
        match plan {
            None => run.call(&cx).await,
            Some((sc, rc)) => {
                let (answer, status) = cached(&cx, route, sc, rc, metrics, run).await;
                cache_status = status;
                answer
            }
        }
    };

    let answered = outcome.is_ok() && !preflight;
    let (mut response, integration_latency, error_type) = match outcome {
        Ok(a) => (a.response, a.integration_latency, ""),
        Err(e) => {
            if matches!(
                e,
                GatewayError::IntegrationFailure(_) | GatewayError::Configuration(_)
            ) {
                tracing::warn!(request_id = %request_id, api = cx.api, error = %e, "request failed");
            }
            let ty = e.response_type().map_or("", |t| t.name());
            let cx = RequestContext { params: &[], ..cx };
            let responses = api.or(api_for_errors).map(|a| &a.responses);
            (rescue(&e, &cx, responses), None, ty)
        }
    };
    let edge_api = api.or(api_for_errors);
    if !preflight && let Some(cors) = edge_api.and_then(|a| a.cors.as_ref()) {
        cors.apply(&parts.headers, response.headers_mut());
    }
    // Integration answers only: gateway responses are never compressed, nor are streamed
    // answers (AWS: no content encoding while streaming; the encoder would wait for its
    // threshold).
    if answered
        && !streamed
        && let Some(min) = api.and_then(|a| a.compression)
        && compress::eligible(parts.method == http::Method::HEAD, &response)
    {
        response = compress::compress(response, compress::negotiate(&parts.headers), min).await;
    }
    if let Ok(id) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(error::REQUEST_ID, id);
    }

    let done = Done {
        metrics: Arc::clone(metrics),
        started,
        status: response.status().as_u16(),
        integration_latency,
        log: gw.access_log.enabled().then(|| LogFields {
            gw_log: gw.access_log.clone(),
            request_id: request_id.to_owned(),
            source_ip: cx.source_ip.to_string(),
            request_time: clf_time(arrived),
            method: parts.method.to_string(),
            resource_path: cx.resource_path.to_owned(),
            path: parts.uri.path().to_owned(),
            protocol,
            api: cx.api.to_owned(),
            stage: cx.stage.map(|s| s.name.clone()).unwrap_or_default(),
            deployment_id: cx
                .stage
                .map(|s| s.deployment_id.clone())
                .unwrap_or_default(),
            is_canary: cx.stage.is_some_and(|s| s.is_canary),
            error_type,
            cache_status: cache_status.map_or("", CacheStatus::name),
            api_key_id: api_key_id.map(str::to_owned),
            principal_id,
        }),
        _snapshot: snap,
    };
    let (head, body) = response.into_parts();
    let body: Body = http_body_util::BodyExt::boxed(Observed::new(body, Box::new(done)));
    Response::from_parts(head, body)
}

/// A custom domain's transport checks: STRICT wants the SNI to name the Host (421 otherwise);
/// mutual TLS wants the request on a handshake this domain's verifier ran (a client that
/// sent another SNI, or none, got no certificate check: 403).
fn domain_admits(
    domain: &crate::snapshot::domains::DomainRt,
    conn: &ConnInfo,
    host: &str,
) -> Result<(), GatewayError> {
    let tls = conn.tls.as_deref();
    if domain.strict
        && !tls
            .and_then(|t| t.sni.as_deref())
            .is_some_and(|sni| sni.eq_ignore_ascii_case(host))
    {
        return Err(GatewayError::MisdirectedRequest);
    }
    if let Some(truststore) = domain.truststore
        && !tls.is_some_and(|t| {
            t.domain.as_deref() == Some(&*domain.name) && t.truststore == Some(truststore)
        })
    {
        return Err(GatewayError::Forbidden(None));
    }
    Ok(())
}

/// Everything the integration phase needs: mapper (request), integration, mapper (response).
/// Run at most once per request.
struct Integrate<'r> {
    gw: &'r Gateway,
    worker: &'r Worker,
    /// The function an `aws_proxy` route calls in this stage, when the snapshot resolved it.
    function: Option<&'r Arc<Slot>>,
    snap: &'r Snapshot,
    route: &'r RouteRt,
    /// The API's `binaryMediaTypes` and template engine.
    mapping: ApiMapping<'r>,
    conn: &'r ConnInfo,
    max_body: u64,
    body: ReqBody,
}

/// The request body, as far as the pipeline has read it.
enum ReqBody {
    /// Collected whole (bounded), because a plugin or a function reads it.
    Whole(Bytes),
    /// Still streaming from the client (bounded by the same limit as it is read).
    Stream(Body),
}

impl Integrate<'_> {
    async fn call(self, cx: &RequestContext<'_>) -> Result<Answer, GatewayError> {
        let Self {
            gw,
            worker,
            function,
            snap,
            route,
            mapping,
            conn,
            max_body,
            body,
        } = self;
        let mapped_parts;
        let (cx, body) = match (&route.mapper, body) {
            (Some(mapper), ReqBody::Whole(bytes)) => {
                let (p, b) = plugin::map_request(gw, cx, mapper, bytes).await?;
                mapped_parts = p;
                (
                    RequestContext {
                        parts: &mapped_parts,
                        body_json: None,
                        ..*cx
                    },
                    ReqBody::Whole(b),
                )
            }
            (_, b) => (*cx, b),
        };
        let integration = &route.integration;
        // HTTP API parameter mapping: the integration sees the edited head.
        let http_mapped_parts;
        let cx = match &integration.http_request_mapping {
            Some(m) => {
                let bytes: &[u8] = match &body {
                    ReqBody::Whole(b) => b,
                    ReqBody::Stream(_) => &[],
                };
                http_mapped_parts = http_mapping::map_request(&cx, m, bytes)?;
                // An `overwrite:path` is the whole path the integration sees.
                let in_stage = if http_mapping::path_overwritten(&http_mapped_parts) {
                    http_mapped_parts.uri.path()
                } else {
                    cx.in_stage
                };
                RequestContext {
                    parts: &http_mapped_parts,
                    in_stage,
                    ..cx
                }
            }
            None => cx,
        };
        let whole = |body: ReqBody| match body {
            ReqBody::Whole(b) => b,
            // Not reached: function and non-proxy routes always collect the body.
            ReqBody::Stream(_) => Bytes::new(),
        };
        let answer = match integration.kind {
            IntegrationKind::Mock => {
                integration::mock::respond(&cx, integration, mapping, whole(body)).await
            }
            IntegrationKind::FunctionMapped => {
                integration::function::call_mapped(
                    gw,
                    snap,
                    &cx,
                    integration,
                    function,
                    mapping,
                    whole(body),
                )
                .await
            }
            IntegrationKind::Function => {
                integration::function::call(
                    gw,
                    snap,
                    &cx,
                    integration,
                    function,
                    mapping.binary,
                    whole(body),
                )
                .await
            }
            IntegrationKind::Http | IntegrationKind::HttpProxy => {
                let fwd = Forwarding {
                    forwarded: &conn.forwarded,
                    max_body,
                    stream: snap.stream_limits(),
                };
                let payload = match (integration.kind, body) {
                    (IntegrationKind::Http, body) => Payload::Mapped {
                        body: whole(body),
                        api: mapping,
                    },
                    (_, ReqBody::Whole(bytes)) => Payload::Proxy(full(bytes)),
                    (_, ReqBody::Stream(stream)) => Payload::Proxy(stream),
                };
                integration::http::call(
                    &cx,
                    integration,
                    &route.http,
                    payload,
                    &worker.upstream,
                    &fwd,
                )
                .await
            }
        };
        let answer = match answer {
            Ok(a) if !integration.http_response_mapping.is_empty() => {
                let status = a.response.status().as_u16();
                match integration.http_response_mapping.get(&status) {
                    None => Ok(a),
                    Some(m) => {
                        let reads = m.reads_body();
                        let (mut head, body) = a.response.into_parts();
                        let read = http_mapping::read_body(body, reads).await;
                        read.and_then(|(body, bytes)| {
                            http_mapping::apply_response(&cx, m, &mut head, &bytes)?;
                            Ok(Answer {
                                response: Response::from_parts(head, body),
                                integration_latency: a.integration_latency,
                            })
                        })
                    }
                }
            }
            other => other,
        };
        match (answer, &route.mapper) {
            (Ok(a), Some(mapper)) => {
                plugin::map_response(gw, &cx, mapper, a.response)
                    .await
                    .map(|response| Answer {
                        response,
                        integration_latency: a.integration_latency,
                    })
            }
            (other, _) => other,
        }
    }
}

/// The integration phase behind the stage cache: invalidation rules, lookup, and a
/// single-flight fill on a miss (see [`crate::phase::cache`]).
async fn cached(
    cx: &RequestContext<'_>,
    route: &RouteRt,
    sc: &StageCacheRt,
    rc: &RouteCaching,
    metrics: &RouteMetrics,
    run: Integrate<'_>,
) -> (Result<Answer, GatewayError>, Option<CacheStatus>) {
    let key = cache::key(cx, rc, &route.integration.cache_key_parameters);
    let mut refresh = false;
    let mut warn = false;
    if cache::invalidation_requested(cx.parts) {
        if cache::may_invalidate(cx, &rc.settings, sc) {
            refresh = true;
        } else {
            match rc.settings.unauthorized {
                UnauthorizedCacheControl::FailWith403 => {
                    return (Err(GatewayError::CacheInvalidationDenied), None);
                }
                UnauthorizedCacheControl::SucceedWithResponseHeader => warn = true,
                UnauthorizedCacheControl::SucceedWithoutResponseHeader => {}
            }
        }
    }
    let served = |entry: &CachedResponse| {
        let mut response = cache::replay(entry);
        if warn {
            cache::add_warning(&mut response);
        }
        Ok(Answer {
            response,
            integration_latency: None,
        })
    };
    if !refresh && let Some(hit) = sc.store.get(&key) {
        metrics.cache_lookup(true);
        return (served(&hit), Some(CacheStatus::Hit));
    }
    metrics.cache_lookup(false);
    if refresh {
        // Fetched alone and stored over the old entry (a replacement is always admitted; a
        // fill would hand out the entry being replaced).
        let answer = match run.call(cx).await {
            Ok(a) => a,
            Err(e) => return (Err(e), Some(CacheStatus::Refresh)),
        };
        let response = match cache::capture(answer.response).await {
            Ok(captured) => {
                let replay = cache::replay(&captured);
                if cache::storable(captured.status) {
                    sc.store.insert(key, captured, rc.settings.ttl);
                }
                replay
            }
            Err(uncached) => uncached,
        };
        return (
            Ok(Answer {
                response,
                integration_latency: answer.integration_latency,
            }),
            Some(CacheStatus::Refresh),
        );
    }
    let status = CacheStatus::Miss;
    let guard = match sc.store.begin_fill(&key) {
        Fill::Leader(guard) => guard,
        Fill::Follower(wait) => {
            if let Ok(Some(entry)) = wait.wait(route.integration.timeout).await {
                return (served(&entry), Some(CacheStatus::Coalesced));
            }
            // The leader had nothing to share, or took too long: fetch without storing.
            let mut answer = run.call(cx).await;
            if warn && let Ok(a) = &mut answer {
                cache::add_warning(&mut a.response);
            }
            return (answer, Some(status));
        }
    };
    let answer = match run.call(cx).await {
        Ok(a) => a,
        // Dropping the guard tells the followers to fetch for themselves.
        Err(e) => return (Err(e), Some(status)),
    };
    let latency = answer.integration_latency;
    let mut response = match cache::capture(answer.response).await {
        Ok(captured) => {
            let entry = Arc::new(captured);
            let ttl = cache::storable(entry.status).then_some(rc.settings.ttl);
            guard.complete(Some(Arc::clone(&entry)), ttl);
            cache::replay(&entry)
        }
        Err(uncached) => {
            guard.complete(None, None);
            uncached
        }
    };
    if warn {
        cache::add_warning(&mut response);
    }
    (
        Ok(Answer {
            response,
            integration_latency: latency,
        }),
        Some(status),
    )
}

fn check_limits(snap: &Snapshot, parts: &http::request::Parts) -> Result<(), GatewayError> {
    let limits = &snap.limits;
    let target_len = parts.uri.path_and_query().map_or(0, |p| p.as_str().len());
    if target_len > limits.max_uri_bytes {
        return Err(GatewayError::UriTooLong(limits.max_uri_bytes));
    }
    let header_bytes: usize = parts
        .headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    if header_bytes > limits.max_header_bytes {
        return Err(GatewayError::HeadersTooLarge(limits.max_header_bytes));
    }
    Ok(())
}

fn content_length(parts: &http::request::Parts) -> Option<u64> {
    parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// What is recorded once the response body has been sent.
struct Done {
    metrics: Arc<RouteMetrics>,
    started: Instant,
    status: u16,
    integration_latency: Option<Duration>,
    log: Option<LogFields>,
    /// Keeps the snapshot the request started on alive until its body is finished.
    _snapshot: Arc<Held>,
}

struct LogFields {
    gw_log: crate::telemetry::access_log::AccessLogger,
    request_id: String,
    source_ip: String,
    request_time: String,
    method: String,
    resource_path: String,
    path: String,
    protocol: &'static str,
    api: String,
    stage: String,
    deployment_id: String,
    is_canary: bool,
    error_type: &'static str,
    cache_status: &'static str,
    api_key_id: Option<String>,
    principal_id: Option<String>,
}

impl OnDone for Done {
    fn done(self: Box<Self>, bytes_sent: u64) {
        let elapsed = self.started.elapsed();
        self.metrics
            .record(self.status, elapsed, self.integration_latency);
        if let Some(l) = &self.log {
            l.gw_log.log(&Record {
                request_id: &l.request_id,
                source_ip: &l.source_ip,
                request_time: &l.request_time,
                http_method: &l.method,
                resource_path: &l.resource_path,
                path: &l.path,
                status: self.status,
                protocol: l.protocol,
                response_length: bytes_sent,
                integration_latency: self.integration_latency.map(|d| d.as_millis() as u64),
                response_latency: elapsed.as_millis() as u64,
                api_id: &l.api,
                stage: &l.stage,
                deployment_id: &l.deployment_id,
                is_canary: l.is_canary,
                error_type: l.error_type,
                cache_status: l.cache_status,
                api_key_id: l.api_key_id.as_deref(),
                principal_id: l.principal_id.as_deref(),
            });
        }
    }
}

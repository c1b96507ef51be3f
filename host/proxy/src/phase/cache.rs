//! The per-stage response cache in the pipeline: which requests are cached, under which key,
//! who may invalidate, and how a response is captured. The store itself (byte-bounded
//! TinyLFU, per-entry TTL, single-flight fills) is the `portico-cache` crate.
//!
//! Rules (see `docs/cache.md`):
//! - A stage with `cache` caches the methods its `method_settings` resolve to (GET by default;
//!   on an `ANY` route, only GET requests). Only 2xx responses of at most 1 MiB are stored.
//!   Backend `Cache-Control` is ignored, as in API Gateway.
//! - The key is a namespace, the request method, the `cacheKeyParameters` values and, on a
//!   method with an authorizer, the principal the authorizer returned. The namespace is a
//!   fingerprint of the route's definition (or of `cacheNamespace`) in its API and stage, so an
//!   entry survives a reload exactly as long as what produced it is unchanged.
//! - `Cache-Control: max-age=0` refetches and replaces the entry, if the caller may
//!   invalidate: anyone when `require_authorization_for_cache_control` is off; otherwise a
//!   caller presenting one of the stage's `invalidation_api_keys` in `x-api-key`, or whose
//!   authorizer put `invalidateCache: "true"` in its context.
//! - Concurrent misses for one key make one integration call; the others wait for it, at most
//!   the integration timeout, and are served its response.
//!
//! [`Caches`] holds the stores outside any snapshot: a reload keeps a stage's store unless its
//! capacity changed (a resize starts empty, as in API Gateway).

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Method, Response, StatusCode};
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;
use portico_cache::{CacheKey, CachedResponse, MAX_ENTRY_BODY, StageCache};
use portico_config::{Api, MethodCaching, Route, Stage};

use crate::pipeline::body::{Body, BoxError, full};
use crate::pipeline::context::RequestContext;

/// The authorizer-context key that lets a caller invalidate (`"true"`), standing in for IAM's
/// `execute-api:InvalidateCache` until IAM authorization exists.
pub const INVALIDATE_CONTEXT_KEY: &str = "invalidateCache";

/// The header an unauthorized invalidation gets under `SUCCEED_WITH_RESPONSE_HEADER`.
pub const WARNING: &str =
    "199 - \"Cache-Control: max-age=0 ignored: not authorized to invalidate the cache\"";

/// The stage caches, by (API, stage), outside any snapshot.
#[derive(Default)]
pub struct Caches {
    stages: Mutex<HashMap<(String, String), Arc<StageCache>>>,
}

impl Caches {
    /// No caches yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The store of a stage: the existing one if its capacity is unchanged, else a new, empty
    /// one.
    pub fn for_stage(&self, api: &str, stage: &str, capacity_bytes: u64) -> Arc<StageCache> {
        let mut stages = self.stages.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (api.to_owned(), stage.to_owned());
        match stages.get(&key) {
            Some(existing) if existing.capacity_bytes() == capacity_bytes => Arc::clone(existing),
            _ => {
                let created = Arc::new(StageCache::new(capacity_bytes));
                stages.insert(key, Arc::clone(&created));
                created
            }
        }
    }

    /// Drops the stores of stages that no longer have a cache.
    pub fn retain(&self, live: &HashSet<(String, String)>) {
        self.stages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|key, _| live.contains(key));
    }

    /// The store of a stage, if it has one.
    pub fn get(&self, api: &str, stage: &str) -> Option<Arc<StageCache>> {
        self.stages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(api.to_owned(), stage.to_owned()))
            .cloned()
    }
}

/// A stage's cache, compiled into the snapshot.
pub struct StageCacheRt {
    /// The store (shared with earlier snapshots while the capacity is unchanged).
    pub store: Arc<StageCache>,
    /// `x-api-key` values that may invalidate.
    pub invalidation_api_keys: Vec<String>,
    /// Per route (by `RouteId`): caching settings and key namespace.
    pub routes: Vec<Option<RouteCaching>>,
}

/// How one route is cached.
pub struct RouteCaching {
    /// TTL and invalidation rules.
    pub settings: MethodCaching,
    /// Fingerprint of what produces the route's responses in this stage.
    pub namespace: u64,
}

impl StageCacheRt {
    /// Compiles a stage's cache, if it has one: the store named `store` of the API, with the
    /// routes of `served` (the build the stage serves). Entry namespaces are fingerprinted
    /// with the variables of `namespace_of`: the stage itself, or for a canary that uses the
    /// stage cache, the stage it shares with (so that equal routes share entries).
    pub fn build(
        caches: &Caches,
        served: &Api,
        stage: &Stage,
        store: &str,
        namespace_of: &Stage,
    ) -> Option<Self> {
        let cache = stage.cache.as_ref()?;
        let store = caches.for_stage(&served.name, store, cache.capacity_bytes);
        let routes = served
            .routes
            .iter()
            .zip(&stage.caching)
            .map(|(route, caching)| {
                caching.map(|settings| RouteCaching {
                    settings,
                    namespace: namespace(served, namespace_of, route),
                })
            })
            .collect();
        Some(Self {
            store,
            invalidation_api_keys: cache.invalidation_api_keys.clone(),
            routes,
        })
    }
}

/// The namespace fingerprint: API, stage and its variables, and either `cacheNamespace` or
/// the route's whole definition (resource, method, integration, authorizer, plugins).
fn namespace(api: &Api, stage: &Stage, route: &Route) -> u64 {
    let mut h = DefaultHasher::new();
    api.name.hash(&mut h);
    stage.name.hash(&mut h);
    stage.variables.hash(&mut h);
    match &route.integration.cache_namespace {
        Some(ns) => ("namespace", ns).hash(&mut h),
        None => {
            route.resource_path.hash(&mut h);
            route.method.hash(&mut h);
            // The validated model has no Hash; its Debug form is complete and deterministic.
            format!("{:?}", route.integration).hash(&mut h);
            format!("{:?}", route.authorizer).hash(&mut h);
            route.mapper.hash(&mut h);
            route.validator.hash(&mut h);
        }
    }
    h.finish()
}

/// What the cache did for a request, for the access log (`cacheStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// Served from the cache.
    Hit,
    /// Not in the cache: fetched (and stored if cacheable).
    Miss,
    /// Not in the cache; served the response of a concurrent fetch for the same key.
    Coalesced,
    /// `Cache-Control: max-age=0` from an authorized caller: refetched and replaced.
    Refresh,
}

impl CacheStatus {
    /// The access-log value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hit => "HIT",
            Self::Miss => "MISS",
            Self::Coalesced => "COALESCED",
            Self::Refresh => "REFRESH",
        }
    }
}

/// The key of a request: namespace, method, key parameters and, behind an authorizer, the
/// principal (so one principal's response is never served to another).
pub fn key(
    cx: &RequestContext<'_>,
    caching: &RouteCaching,
    params: &[portico_config::mapping::ParamSource],
) -> CacheKey {
    let mut b = CacheKey::builder()
        .part(caching.namespace.to_le_bytes())
        .part(cx.parts.method.as_str());
    for source in params {
        b = match cx.param(source) {
            Some(value) => b.part([1]).part(value.as_bytes()),
            None => b.part([0]),
        };
    }
    if let Some(auth) = cx.authorizer {
        b = b.part(b"principal").part(auth.principal_id.as_bytes());
    }
    b.build()
}

/// Whether a request on a cached route is cacheable by method: an `ANY` route caches GET
/// requests only.
pub fn method_cacheable(route_method: &str, method: &Method) -> bool {
    route_method != "ANY" || method == Method::GET
}

/// `Cache-Control: max-age=0` (alone or among other directives).
pub fn invalidation_requested(parts: &http::request::Parts) -> bool {
    parts
        .headers
        .get_all(http::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|d| d.trim().eq_ignore_ascii_case("max-age=0"))
}

/// Whether the caller may invalidate (see the module docs).
pub fn may_invalidate(
    cx: &RequestContext<'_>,
    settings: &MethodCaching,
    stage: &StageCacheRt,
) -> bool {
    if !settings.require_authorization {
        return true;
    }
    let by_key = cx
        .header("x-api-key")
        .is_some_and(|k| stage.invalidation_api_keys.iter().any(|v| v == k));
    let by_authorizer = cx.authorizer.is_some_and(|a| {
        a.context
            .iter()
            .any(|(k, v)| k == INVALIDATE_CONTEXT_KEY && v == "true")
    });
    by_key || by_authorizer
}

/// A cached response, ready to send (the caller adds the request id).
pub fn replay(entry: &CachedResponse) -> Response<Body> {
    let mut resp = Response::new(full(entry.body.clone()));
    *resp.status_mut() = entry.status;
    *resp.headers_mut() = entry.headers.clone();
    resp
}

/// Adds the unauthorized-invalidation warning.
pub fn add_warning(resp: &mut Response<Body>) {
    resp.headers_mut()
        .append(http::header::WARNING, HeaderValue::from_static(WARNING));
}

/// Reads a response for the cache: its whole body when it has at most [`MAX_ENTRY_BODY`]
/// bytes (`Ok`), else the response unchanged for the client, the bytes already read put back
/// in front of the rest (`Err`). A body that fails mid-way is handed on failing the same way.
pub async fn capture(resp: Response<Body>) -> Result<CachedResponse, Response<Body>> {
    let (parts, mut body) = resp.into_parts();
    let mut buf = BytesMut::new();
    loop {
        match body.frame().await {
            None => break,
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    buf.extend_from_slice(&data);
                    if buf.len() > MAX_ENTRY_BODY {
                        let rest = Prefixed {
                            prefix: Some(buf.freeze()),
                            rest: body,
                        };
                        return Err(Response::from_parts(parts, rest.boxed()));
                    }
                }
                // Trailers: not cacheable; pass the body on as it was.
                Err(trailers) => {
                    let rest = Prefixed {
                        prefix: Some(buf.freeze()),
                        rest: Pending::then(Frame::trailers(
                            trailers.into_trailers().unwrap_or_default(),
                        )),
                    };
                    return Err(Response::from_parts(parts, rest.boxed()));
                }
            },
            Some(Err(e)) => {
                let rest = Prefixed {
                    prefix: Some(buf.freeze()),
                    rest: Pending::fail(e),
                };
                return Err(Response::from_parts(parts, rest.boxed()));
            }
        }
    }
    Ok(CachedResponse {
        status: parts.status,
        headers: parts.headers,
        body: buf.freeze(),
    })
}

/// Whether a captured response may be stored: 2xx only.
pub fn storable(status: StatusCode) -> bool {
    status.is_success()
}

/// A body that yields `prefix` first, then `rest`.
struct Prefixed {
    prefix: Option<Bytes>,
    rest: Body,
}

impl HttpBody for Prefixed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(prefix) = self.prefix.take()
            && !prefix.is_empty()
        {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.as_ref().is_none_or(Bytes::is_empty) && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let rest = self.rest.size_hint();
        let extra = self.prefix.as_ref().map_or(0, |p| p.len() as u64);
        // Upper first: `set_lower` asserts lower <= upper.
        let mut hint = SizeHint::new();
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper.saturating_add(extra));
        }
        hint.set_lower(rest.lower().saturating_add(extra));
        hint
    }
}

/// A body of one last frame or error, for handing on what [`capture`] already took.
enum Pending {
    Frame(Option<Frame<Bytes>>),
    Fail(Option<BoxError>),
}

impl Pending {
    fn then(frame: Frame<Bytes>) -> Body {
        Pending::Frame(Some(frame)).boxed()
    }

    fn fail(e: BoxError) -> Body {
        Pending::Fail(Some(e)).boxed()
    }
}

impl HttpBody for Pending {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Poll::Ready(match &mut *self {
            Pending::Frame(f) => f.take().map(Ok),
            Pending::Fail(e) => e.take().map(Err),
        })
    }
}

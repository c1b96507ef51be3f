//! The snapshot: a validated [`Config`] compiled into everything the hot path needs.
//!
//! A snapshot is immutable. A reload builds a whole new one off the hot path and swaps it in
//! with one atomic store ([`crate::Gateway::apply`]); a request holds the `Arc` it started with
//! until it is done. Metrics handles are resolved here, once, so requests never look a series up
//! by name. Throttle and quota handles are resolved here too ([`crate::traffic::Builder`]),
//! from stable ids, so a reload keeps every bucket and counter; their changes are staged in a
//! [`Pending`] that the gateway commits only after the whole build succeeded.

use std::collections::{BTreeMap, HashMap};

use std::sync::Arc;
use std::time::Duration;

use portico_config::responses::GatewayResponses;
use portico_config::{ApiKeySource, AuthorizerDef, Config, Integration, Limits, PluginKind};
use portico_traffic::Pending;

use crate::cache::{Caches, StageCacheRt};
use crate::plugins::Slot;
use crate::traffic::{self, SnapshotTraffic, StageTraffic, TrafficState};

use crate::router::{RouteId, Router};
use crate::telemetry::{MethodLabels, Metrics, RouteMetrics};

/// A compiled configuration.
pub struct Snapshot {
    /// Increases by one with every applied reload.
    pub generation: u64,
    /// The APIs.
    pub apis: Vec<ApiRt>,
    /// Lower-cased host name → index in `apis`.
    by_host: HashMap<String, usize>,
    /// The API that answers hosts no other API claims.
    default_api: Option<usize>,
    /// Request limits.
    pub limits: Limits,
    /// Series for requests that reach no API.
    pub unrouted: RouteMetrics,
    /// Function plugins by name: what `aws_proxy` integrations call.
    pub functions: HashMap<String, Arc<Slot>>,
    /// The account throttle, every API key and usage plan.
    pub traffic: SnapshotTraffic,
}

/// Authorizer results cached per identity, for `authorizerResultTtlInSeconds`.
pub type DecisionCache = moka::sync::Cache<String, Arc<portico_runtime::Decision>>;

/// Most cached authorizer results per authorizer.
const DECISION_CACHE_ENTRIES: u64 = 100_000;

/// An authorizer on a route, compiled.
pub struct AuthorizerRt {
    /// The declaration.
    pub def: AuthorizerDef,
    /// The plugin that decides.
    pub slot: Arc<Slot>,
    /// Cached decisions (none when the TTL is 0).
    pub cache: Option<DecisionCache>,
}

/// One API, compiled.
pub struct ApiRt {
    /// The API name (`$context.apiId`).
    pub name: String,
    /// Route table.
    pub router: Router,
    /// Routes by [`RouteId`].
    pub routes: Vec<RouteRt>,
    /// Stages.
    pub stages: Vec<StageRt>,
    /// Gateway-response customisations.
    pub responses: GatewayResponses,
    /// Where API keys come from.
    pub api_key_source: ApiKeySource,
}

/// One route, compiled.
pub struct RouteRt {
    /// Resource path, e.g. `/pets/{id}`.
    pub resource_path: String,
    /// Method as defined (`GET`, `ANY`, ...).
    pub method: String,
    /// The integration.
    pub integration: Integration,
    /// The authorizer, if the method has one.
    pub authorizer: Option<Arc<AuthorizerRt>>,
    /// `x-portico-validator`.
    pub validator: Option<Arc<Slot>>,
    /// `x-portico-mapper`.
    pub mapper: Option<Arc<Slot>>,
    /// AWS `apiKeyRequired`.
    pub api_key_required: bool,
}

/// One stage, compiled.
pub struct StageRt {
    /// Stage name.
    pub name: String,
    /// Stage variables.
    pub variables: BTreeMap<String, String>,
    /// Series per route, indexed by [`RouteId`].
    pub route_metrics: Vec<RouteMetrics>,
    /// Series for requests in this stage that match no route.
    pub unmatched: RouteMetrics,
    /// The response cache, if the stage has one.
    pub cache: Option<StageCacheRt>,
    /// Stage throttles and the keys allowed on the stage.
    pub traffic: StageTraffic,
}

impl Snapshot {
    /// Compiles `config` against the staged plugin `slots`. Errors are route-table conflicts
    /// and plugin references that validation should have caught.
    ///
    /// Throttle levels and quotas are resolved but not applied: the returned [`Pending`] holds
    /// the changes, for the caller to commit once it swaps the snapshot in (or to drop).
    pub fn build<'t>(
        config: &Config,
        metrics: &Metrics,
        slots: &HashMap<String, Arc<Slot>>,
        caches: &Caches,
        traffic: &'t TrafficState,
        generation: u64,
    ) -> Result<(Self, Pending<'t>), Vec<String>> {
        let mut errors = Vec::new();
        let mut tb = traffic::Builder::new(traffic, config);
        let mut apis = Vec::with_capacity(config.apis.len());
        let mut by_host = HashMap::new();
        let mut default_api = None;
        for (index, api) in config.apis.iter().enumerate() {
            let mut router = Router::new();
            let mut authorizer_caches: HashMap<String, Option<DecisionCache>> = HashMap::new();
            let mut routes = Vec::with_capacity(api.routes.len());
            for (id, route) in api.routes.iter().enumerate() {
                let id = RouteId::try_from(id).unwrap_or(RouteId::MAX);
                if let Err(e) = router.insert(&route.resource_path, &route.method, id) {
                    errors.push(format!("api {}: {e}", api.name));
                }
                let mut slot = |name: &str, kind: PluginKind| match slots.get(name) {
                    Some(s) if s.kind == kind => Some(Arc::clone(s)),
                    _ => {
                        errors.push(format!(
                            "{}: no {} plugin named {name}",
                            route.location,
                            kind.name()
                        ));
                        None
                    }
                };
                let authorizer = match &route.authorizer {
                    Some(def) => slot(&def.plugin, PluginKind::Authorizer).map(|slot| {
                        // One cache per authorizer, shared by the methods that use it.
                        let cache = authorizer_caches
                            .entry(def.name.clone())
                            .or_insert_with(|| {
                                (def.ttl > Duration::ZERO).then(|| {
                                    moka::sync::Cache::builder()
                                        .max_capacity(DECISION_CACHE_ENTRIES)
                                        .time_to_live(def.ttl)
                                        .build()
                                })
                            })
                            .clone();
                        Arc::new(AuthorizerRt {
                            def: def.clone(),
                            slot,
                            cache,
                        })
                    }),
                    None => None,
                };
                let validator = route
                    .validator
                    .as_deref()
                    .and_then(|v| slot(v, PluginKind::Validator));
                let mapper = route
                    .mapper
                    .as_deref()
                    .and_then(|m| slot(m, PluginKind::Mapper));
                routes.push(RouteRt {
                    resource_path: route.resource_path.clone(),
                    method: route.method.clone(),
                    integration: route.integration.clone(),
                    authorizer,
                    validator,
                    mapper,
                    api_key_required: route.api_key_required,
                });
            }
            let labels = |stage: &str, resource: &str, method: &str| MethodLabels {
                api: api.name.clone(),
                stage: stage.to_owned(),
                resource: resource.to_owned(),
                method: method.to_owned(),
            };
            let stages = api
                .stages
                .iter()
                .map(|s| StageRt {
                    name: s.name.clone(),
                    variables: s.variables.clone(),
                    route_metrics: routes
                        .iter()
                        .map(|r| metrics.route(labels(&s.name, &r.resource_path, &r.method)))
                        .collect(),
                    unmatched: metrics.route(labels(&s.name, "", "")),
                    cache: StageCacheRt::build(caches, api, s),
                    traffic: tb.stage(api, s),
                })
                .collect();
            for host in &api.hosts {
                by_host.insert(host.clone(), index);
            }
            if api.hosts.is_empty() {
                default_api = Some(index);
            }
            apis.push(ApiRt {
                name: api.name.clone(),
                router,
                routes,
                stages,
                responses: api.gateway_responses.clone(),
                api_key_source: api.api_key_source,
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        caches.retain(
            &config
                .apis
                .iter()
                .flat_map(|a| {
                    a.stages
                        .iter()
                        .filter(|s| s.cache.is_some())
                        .map(|s| (a.name.clone(), s.name.clone()))
                })
                .collect(),
        );
        let (traffic, pending) = tb.finish(config.traffic.account);
        let snapshot = Self {
            traffic,
            generation,
            apis,
            by_host,
            default_api,
            limits: config.limits.clone(),
            functions: slots
                .iter()
                .filter(|(_, s)| s.kind == PluginKind::Function)
                .map(|(n, s)| (n.clone(), Arc::clone(s)))
                .collect(),
            unrouted: metrics.route(MethodLabels {
                api: String::new(),
                stage: String::new(),
                resource: String::new(),
                method: String::new(),
            }),
        };
        Ok((snapshot, pending))
    }

    /// The API for a request's host (port already stripped, any case).
    pub fn api_for_host(&self, host: &str) -> Option<&ApiRt> {
        let index = if self.by_host.is_empty() {
            self.default_api
        } else {
            self.by_host
                .get(host)
                .copied()
                .or_else(|| self.by_host.get(&host.to_ascii_lowercase()).copied())
                .or(self.default_api)
        };
        index.map(|i| &self.apis[i])
    }
}

impl ApiRt {
    /// The stage named `name`.
    pub fn stage(&self, name: &str) -> Option<&StageRt> {
        self.stages.iter().find(|s| s.name == name)
    }
}

//! The snapshot: a validated [`Config`] compiled into everything the hot path needs.
//!
//! A snapshot is immutable. A reload builds a whole new one off the hot path and swaps it in
//! with one atomic store ([`crate::Gateway::apply`]); a request holds the `Arc` it started with
//! until it is done. Metrics handles are resolved here, once, so requests never look a series up
//! by name. Throttle and quota handles are resolved here too ([`crate::phase::traffic::Builder`]),
//! from stable ids, so a reload keeps every bucket and counter; their changes are staged in a
//! [`Pending`] that the gateway commits only after the whole build succeeded.

pub mod domains;
pub mod router;

use std::collections::{BTreeMap, HashMap};

use std::sync::Arc;

use portico_config::responses::GatewayResponses;
use portico_config::{ApiKeySource, Config, Integration, IntegrationKind, Limits, PluginKind};
use portico_traffic::Pending;

use crate::phase::authorize::iam::IamRt;
use crate::phase::authorize::jwt::JwtRt;
use crate::phase::authorize::{Access, AuthorizerRt};
use crate::phase::cache::{Caches, StageCacheRt};
use crate::phase::traffic::{self, SnapshotTraffic, StageTraffic, TrafficState};
use crate::plugins::Slot;

use self::router::{RouteId, Router};
use crate::telemetry::{MethodLabels, Metrics, RouteMetrics};

/// A compiled configuration.
pub struct Snapshot {
    /// Increases by one with every applied reload.
    pub generation: u64,
    /// The APIs, built from their current definitions.
    pub apis: Vec<ApiRt>,
    /// Stored deployments that some stage or canary serves ([`StageRt::deployment`]); they
    /// have no stages of their own.
    pub deployments: Vec<ApiRt>,
    /// Lower-cased host name → index in `apis`.
    by_host: HashMap<String, usize>,
    /// The API that answers hosts no other API claims.
    default_api: Option<usize>,
    /// Request limits.
    pub limits: Limits,
    /// Series for requests that reach no API.
    pub unrouted: Arc<RouteMetrics>,
    /// Function plugins by name: what `aws_proxy` integrations call.
    pub functions: HashMap<String, Arc<Slot>>,
    /// The account throttle, every API key and usage plan.
    pub traffic: SnapshotTraffic,
    /// When `X-Forwarded-For` names the client.
    pub client_ip: portico_config::ClientIpTrust,
    /// The TLS configurations: each TLS listener's default, each custom domain's.
    pub tls: crate::listener::tls::TlsTable,
    /// Custom domains and where their requests go.
    pub domains: domains::Domains,
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
    /// The resource policy.
    pub policy: Option<portico_auth::policy::Policy>,
    /// `binaryMediaTypes`.
    pub binary_media_types: portico_config::transform::BinaryMediaTypes,
    /// Reached only through custom domains (`disableExecuteApiEndpoint`).
    pub disable_execute_api_endpoint: bool,
    /// The models request validation checks bodies against.
    pub models: Option<portico_config::validation::ApiModels>,
    /// The components its templates render in and its bodies validate in, if not built in.
    pub engines: crate::phase::engine::Engines,
    /// `x-amazon-apigateway-cors`, its header values prepared.
    pub cors: Option<crate::phase::cors::CorsRt>,
    /// `minimumCompressionSize`: compression and request decoding are on when set.
    pub compression: Option<u64>,
}

/// One route, compiled.
pub struct RouteRt {
    /// Resource path, e.g. `/pets/{id}`.
    pub resource_path: String,
    /// Method as defined (`GET`, `ANY`, ...).
    pub method: String,
    /// The integration.
    pub integration: Integration,
    /// Its authorizer, `AWS_IAM` and scopes.
    pub access: Access,
    /// `x-portico-validator`.
    pub validator: Option<Arc<Slot>>,
    /// `x-portico-mapper`.
    pub mapper: Option<Arc<Slot>>,
    /// AWS `apiKeyRequired`.
    pub api_key_required: bool,
    /// What an HTTP integration sends with every request, parsed once.
    pub http: crate::integration::http::Prepared,
    /// Request validation, when the method's validator checks something.
    pub validation: Option<portico_config::validation::MethodValidation>,
}

/// One stage, compiled.
pub struct StageRt {
    /// Stage name.
    pub name: String,
    /// Stage variables.
    pub variables: BTreeMap<String, String>,
    /// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/`: method ARNs start with it.
    pub arn_prefix: String,
    /// The gateway's account (`$context.accountId`, `requestContext.accountId`).
    pub account_id: String,
    /// Series per route, indexed by [`RouteId`].
    pub route_metrics: Vec<Arc<RouteMetrics>>,
    /// Series for requests in this stage that match no route.
    pub unmatched: Arc<RouteMetrics>,
    /// The response cache, if the stage has one.
    pub cache: Option<StageCacheRt>,
    /// Stage throttles and the keys allowed on the stage.
    pub traffic: StageTraffic,
    /// The function plugin each `aws_proxy` route calls in this stage, indexed by
    /// [`RouteId`]; `None` for other routes and for function names only a request can fill.
    pub functions: Vec<Option<Arc<Slot>>>,
    /// The build whose routes this stage serves: an index in [`Snapshot::deployments`], or
    /// `None` for its API's current definition. Route ids above index that build's routes.
    pub deployment: Option<usize>,
    /// `$context.deploymentId`.
    pub deployment_id: String,
    /// The stage as canary requests see it, and their share.
    pub canary: Option<Box<CanaryRt>>,
    /// This is a canary's stage (`$context.isCanaryRequest`).
    pub is_canary: bool,
}

/// A stage's canary, compiled.
pub struct CanaryRt {
    /// Share of the stage's requests, 0.0 to 100.0.
    pub percent_traffic: f64,
    /// The stage as canary requests see it.
    pub stage: StageRt,
}

impl StageRt {
    /// The stage this request is served by: the canary's for a `percent_traffic` share of
    /// requests, drawn at random per request, else this one.
    pub fn pick(&self) -> &StageRt {
        match &self.canary {
            Some(c) if c.percent_traffic > 0.0 && rand_percent() < c.percent_traffic => &c.stage,
            _ => self,
        }
    }
}

/// A uniformly random number in `[0, 100)`.
fn rand_percent() -> f64 {
    // 53 random bits make a uniform f64 in [0, 1).
    (rand_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64) * 100.0
}

/// A random u64 from a per-thread xorshift generator seeded by the OS: a canary split needs
/// uniformity, not secrecy.
fn rand_u64() -> u64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let mut seed = [0u8; 8];
            let _ = getrandom::fill(&mut seed);
            u64::from_le_bytes(seed) | 1
        });
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    })
}

/// `{stage}/Canary`: the name of a canary's own cache store (one that does not use the
/// stage's), and its metrics' stage label.
fn canary_cache(stage: &str) -> String {
    format!("{stage}/Canary")
}

impl Snapshot {
    /// The limits of a `responseTransferMode: STREAM` body.
    pub fn stream_limits(&self) -> crate::integration::stream::StreamLimits {
        crate::integration::stream::StreamLimits {
            idle: self.limits.stream_idle_timeout,
            max_duration: self.limits.stream_max_duration,
        }
    }

    /// Compiles `config` against the staged plugin `slots`. Errors are route-table conflicts
    /// and plugin references that validation should have caught.
    ///
    /// Throttle levels and quotas are resolved but not applied: the returned [`Pending`] holds
    /// the changes, for the caller to commit once it swaps the snapshot in (or to drop).
    pub fn build<'t>(
        config: &Config,
        metrics: &Metrics,
        plugins: &crate::plugins::StagedPlugins<'_>,
        caches: &Caches,
        traffic: &'t TrafficState,
        generation: u64,
    ) -> Result<(Self, Pending<'t>), Vec<String>> {
        let slots = plugins.slots();
        let mut b = Build {
            config,
            metrics,
            slots,
            pinned: plugins.pinned(),
            caches,
            generation,
            tb: traffic::Builder::new(traffic, config),
            iam: Arc::new(IamRt::new(
                &config.credentials,
                &config.aws.region,
                &config.aws.account_id,
            )),
            errors: Vec::new(),
        };
        // Stored deployments first: the stages of the APIs below serve them by index.
        // Each runs the plugin versions it was made with.
        let deployments: Vec<ApiRt> = config
            .deployments
            .iter()
            .enumerate()
            .map(|(i, d)| {
                b.slots = b.pinned.get(i).unwrap_or(slots);
                let built = b.api(d);
                b.slots = slots;
                built
            })
            .collect();
        let mut apis = Vec::with_capacity(config.apis.len());
        let mut by_host = HashMap::new();
        let mut default_api = None;
        for (index, api) in config.apis.iter().enumerate() {
            let (router, routes) = b.routes(api);
            let stages = api
                .stages
                .iter()
                .map(|s| {
                    let served = |d: Option<usize>| match d {
                        Some(i) => (&config.deployments[i], &deployments[i].routes),
                        None => (api, &routes),
                    };
                    let (served_api, served_routes) = served(s.deployment);
                    let mut stage = b.stage(api, served_api, served_routes, s, (&s.name, s), false);
                    stage.canary = s.canary.as_ref().map(|c| {
                        let (served_api, served_routes) = served(c.stage.deployment);
                        let (store, namespace_of) = if c.use_stage_cache {
                            (s.name.clone(), s)
                        } else {
                            (canary_cache(&s.name), &c.stage)
                        };
                        let canary = b.stage(
                            api,
                            served_api,
                            served_routes,
                            &c.stage,
                            (&store, namespace_of),
                            true,
                        );
                        Box::new(CanaryRt {
                            percent_traffic: c.percent_traffic,
                            stage: canary,
                        })
                    });
                    stage
                })
                .collect();
            for host in &api.hosts {
                by_host.insert(host.clone(), index);
            }
            if api.hosts.is_empty() {
                default_api = Some(index);
            }
            let mut built = b.api_with(api, router, routes);
            built.stages = stages;
            apis.push(built);
        }
        let Build { mut errors, tb, .. } = b;
        let domains = domains::Domains::build(
            &config.domains,
            |api, stage| {
                let a = apis.iter().position(|a| a.name == api)?;
                let s = apis[a].stages.iter().position(|s| s.name == stage)?;
                Some(domains::Target { api: a, stage: s })
            },
            &mut errors,
        );
        let tls = crate::listener::tls::TlsTable::build(&config.listeners, &config.domains)
            .unwrap_or_else(|e| {
                errors.extend(e);
                crate::listener::tls::TlsTable::default()
            });
        if !errors.is_empty() {
            return Err(errors);
        }
        caches.retain(
            &config
                .apis
                .iter()
                .flat_map(|a| {
                    a.stages.iter().filter(|s| s.cache.is_some()).flat_map(|s| {
                        let canary = s
                            .canary
                            .as_ref()
                            .filter(|c| !c.use_stage_cache)
                            .map(|_| (a.name.clone(), canary_cache(&s.name)));
                        std::iter::once((a.name.clone(), s.name.clone())).chain(canary)
                    })
                })
                .collect(),
        );
        let (traffic, pending) = tb.finish(config.traffic.account);
        let snapshot = Self {
            traffic,
            client_ip: config.client_ip.clone(),
            tls,
            domains,
            generation,
            apis,
            deployments,
            by_host,
            default_api,
            limits: config.limits.clone(),
            functions: slots
                .iter()
                .filter(|(_, s)| s.kind == PluginKind::Function)
                .map(|(n, s)| (n.clone(), Arc::clone(s)))
                .collect(),
            unrouted: metrics.route(
                MethodLabels {
                    api: String::new(),
                    stage: String::new(),
                    resource: String::new(),
                    method: String::new(),
                },
                generation,
            ),
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

/// Resolves the function a route calls in `stage`, when the stage alone decides it.
fn stage_function(
    slots: &HashMap<String, Arc<Slot>>,
    route: &portico_config::Route,
    stage: &portico_config::Stage,
    errors: &mut Vec<String>,
) -> Option<Arc<Slot>> {
    if !route.integration.kind.is_function() {
        return None;
    }
    let template = route.integration.function.as_ref()?;
    let name = portico_config::plugins::function_for_stage(template, &stage.variables)?;
    match slots.get(&name) {
        Some(slot) if slot.kind == PluginKind::Function => Some(Arc::clone(slot)),
        _ => {
            errors.push(format!(
                "{} (stage {}): no function plugin named {name}",
                route.location, stage.name
            ));
            None
        }
    }
}

/// The API's engine components (`portico check` has made sure they name plugins of the right
/// kinds; a plugin that failed to load is an error here).
fn engines(
    slots: &HashMap<String, Arc<Slot>>,
    api: &portico_config::Api,
    errors: &mut Vec<String>,
) -> crate::phase::engine::Engines {
    let mut find = |name: &Option<String>, kind: PluginKind| {
        let name = name.as_deref()?;
        match slots.get(name) {
            Some(s) if s.kind == kind => Some(Arc::clone(s)),
            _ => {
                errors.push(format!(
                    "api {}: no {} plugin named {name}",
                    api.name,
                    kind.name()
                ));
                None
            }
        }
    };
    crate::phase::engine::Engines {
        templates: find(&api.engines.template_mapper, PluginKind::TemplateMapper),
        models: find(&api.engines.model_validator, PluginKind::ModelValidator),
    }
}

impl ApiRt {
    /// The stage named `name`.
    pub fn stage(&self, name: &str) -> Option<&StageRt> {
        self.stages.iter().find(|s| s.name == name)
    }
}

/// What compiling one snapshot shares: the configuration, the plugin slots, the metrics and
/// caches, the staged traffic changes, and the errors found so far.
struct Build<'c, 't> {
    config: &'c Config,
    metrics: &'c Metrics,
    /// The plugin slots of what is being built: the current ones, or a deployment's.
    slots: &'c HashMap<String, Arc<Slot>>,
    /// Each stored deployment's slots (`StagedPlugins::pinned`).
    pinned: &'c [HashMap<String, Arc<Slot>>],
    caches: &'c Caches,
    generation: u64,
    tb: traffic::Builder<'t>,
    iam: Arc<IamRt>,
    errors: Vec<String>,
}

impl Build<'_, '_> {
    /// Compiles an API build's routes.
    fn routes(&mut self, api: &portico_config::Api) -> (Router, Vec<RouteRt>) {
        let mut router = Router::new();
        let mut authorizers: HashMap<String, Arc<AuthorizerRt>> = HashMap::new();
        let mut routes = Vec::with_capacity(api.routes.len());
        for (id, route) in api.routes.iter().enumerate() {
            let id = RouteId::try_from(id).unwrap_or(RouteId::MAX);
            if let Err(e) = router.insert(&route.resource_path, &route.method, id) {
                self.errors.push(format!("api {}: {e}", api.name));
            }
            let mut slot = |name: &str, kind: PluginKind| match self.slots.get(name) {
                Some(s) if s.kind == kind => Some(Arc::clone(s)),
                _ => {
                    self.errors.push(format!(
                        "{}: no {} plugin named {name}",
                        route.location,
                        kind.name()
                    ));
                    None
                }
            };
            let mut jwt_error = None;
            let authorizer = route.authorizer.as_ref().and_then(|def| {
                let plugin = def.plugin().and_then(|p| slot(p, PluginKind::Authorizer));
                let jwt = || match &def.kind {
                    portico_config::AuthorizerKind::Jwt(j) => {
                        match JwtRt::new(j, &self.config.aws) {
                            Ok(rt) => Some(Arc::new(rt)),
                            Err(e) => {
                                jwt_error = Some(format!(
                                    "{}: authorizer {}: {e}",
                                    route.location, def.name
                                ));
                                None
                            }
                        }
                    }
                    portico_config::AuthorizerKind::Lambda(_) => None,
                };
                AuthorizerRt::build(def, plugin, jwt, &mut authorizers)
            });
            let access = Access {
                authorizer,
                iam: route.iam.then(|| Arc::clone(&self.iam)),
                scopes: route.scopes.clone(),
            };
            let validator = route
                .validator
                .as_deref()
                .and_then(|v| slot(v, PluginKind::Validator));
            let mapper = route
                .mapper
                .as_deref()
                .and_then(|m| slot(m, PluginKind::Mapper));
            self.errors.extend(jwt_error);
            let http = match route.integration.kind {
                IntegrationKind::Http | IntegrationKind::HttpProxy => {
                    crate::integration::http::Prepared::build(&api.name, &route.integration)
                        .unwrap_or_else(|e| {
                            self.errors.push(format!("{}: {e}", route.location));
                            Default::default()
                        })
                }
                _ => Default::default(),
            };
            routes.push(RouteRt {
                http,
                resource_path: route.resource_path.clone(),
                method: route.method.clone(),
                integration: route.integration.clone(),
                access,
                validator,
                mapper,
                api_key_required: route.api_key_required,
                validation: route.validation.clone(),
            });
        }
        (router, routes)
    }

    /// A stored deployment's build: routes, no stages.
    fn api(&mut self, api: &portico_config::Api) -> ApiRt {
        let (router, routes) = self.routes(api);
        self.api_with(api, router, routes)
    }

    /// An API build around its compiled routes, with no stages yet.
    fn api_with(
        &mut self,
        api: &portico_config::Api,
        router: Router,
        routes: Vec<RouteRt>,
    ) -> ApiRt {
        ApiRt {
            name: api.name.clone(),
            router,
            routes,
            stages: Vec::new(),
            responses: api.gateway_responses.clone(),
            api_key_source: api.api_key_source,
            policy: api.policy.clone(),
            binary_media_types: api.binary_media_types.clone(),
            disable_execute_api_endpoint: api.disable_execute_api_endpoint,
            models: api.models.clone(),
            engines: engines(self.slots, api, &mut self.errors),
            cors: api.cors.as_ref().map(crate::phase::cors::CorsRt::build),
            compression: api.minimum_compression_size,
        }
    }

    /// One stage of `api` (or its canary), serving the routes of `served`; its cache is the
    /// store named `cache.0`, its entry namespaces fingerprinted with `cache.1`. A canary's
    /// series carry the stage label `{stage}/Canary`, as API Gateway names its canary logs.
    fn stage(
        &mut self,
        api: &portico_config::Api,
        served: &portico_config::Api,
        served_routes: &[RouteRt],
        s: &portico_config::Stage,
        (store, namespace_of): (&str, &portico_config::Stage),
        is_canary: bool,
    ) -> StageRt {
        let config = self.config;
        let label = if is_canary {
            canary_cache(&s.name)
        } else {
            s.name.clone()
        };
        let labels = |resource: &str, method: &str| MethodLabels {
            api: api.name.clone(),
            stage: label.clone(),
            resource: resource.to_owned(),
            method: method.to_owned(),
        };
        StageRt {
            name: s.name.clone(),
            variables: s.variables.clone(),
            arn_prefix: format!(
                "arn:aws:execute-api:{}:{}:{}/{}/",
                config.aws.region, config.aws.account_id, api.name, s.name
            ),
            account_id: config.aws.account_id.clone(),
            route_metrics: served_routes
                .iter()
                .map(|r| {
                    self.metrics
                        .route(labels(&r.resource_path, &r.method), self.generation)
                })
                .collect(),
            unmatched: self.metrics.route(labels("", ""), self.generation),
            cache: StageCacheRt::build(self.caches, served, s, store, namespace_of),
            traffic: self.tb.stage(api, served, s),
            functions: served
                .routes
                .iter()
                .map(|r| {
                    let slots = s
                        .deployment
                        .and_then(|i| self.pinned.get(i))
                        .unwrap_or(self.slots);
                    stage_function(slots, r, s, &mut self.errors)
                })
                .collect(),
            deployment: s.deployment,
            deployment_id: s.deployment_id.clone(),
            canary: None,
            is_canary,
        }
    }
}

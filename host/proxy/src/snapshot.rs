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
    pub route_metrics: Vec<RouteMetrics>,
    /// Series for requests in this stage that match no route.
    pub unmatched: RouteMetrics,
    /// The response cache, if the stage has one.
    pub cache: Option<StageCacheRt>,
    /// Stage throttles and the keys allowed on the stage.
    pub traffic: StageTraffic,
    /// The function plugin each `aws_proxy` route calls in this stage, indexed by
    /// [`RouteId`]; `None` for other routes and for function names only a request can fill.
    pub functions: Vec<Option<Arc<Slot>>>,
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
        let iam = Arc::new(IamRt::new(
            &config.credentials,
            &config.aws.region,
            &config.aws.account_id,
        ));
        for (index, api) in config.apis.iter().enumerate() {
            let mut router = Router::new();
            let mut authorizers: HashMap<String, Arc<AuthorizerRt>> = HashMap::new();
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
                let mut jwt_error = None;
                let authorizer = route.authorizer.as_ref().and_then(|def| {
                    let plugin = def.plugin().and_then(|p| slot(p, PluginKind::Authorizer));
                    let jwt = || match &def.kind {
                        portico_config::AuthorizerKind::Jwt(j) => {
                            match JwtRt::new(j, &config.aws) {
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
                    iam: route.iam.then(|| Arc::clone(&iam)),
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
                errors.extend(jwt_error);
                let http = match route.integration.kind {
                    IntegrationKind::Http | IntegrationKind::HttpProxy => {
                        crate::integration::http::Prepared::build(&api.name, &route.integration)
                            .unwrap_or_else(|e| {
                                errors.push(format!("{}: {e}", route.location));
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
                    arn_prefix: format!(
                        "arn:aws:execute-api:{}:{}:{}/{}/",
                        config.aws.region, config.aws.account_id, api.name, s.name
                    ),
                    account_id: config.aws.account_id.clone(),
                    route_metrics: routes
                        .iter()
                        .map(|r| {
                            metrics.route(labels(&s.name, &r.resource_path, &r.method), generation)
                        })
                        .collect(),
                    unmatched: metrics.route(labels(&s.name, "", ""), generation),
                    cache: StageCacheRt::build(caches, api, s),
                    traffic: tb.stage(api, s),
                    functions: api
                        .routes
                        .iter()
                        .map(|r| stage_function(slots, r, s, &mut errors))
                        .collect(),
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
                policy: api.policy.clone(),
                binary_media_types: api.binary_media_types.clone(),
                disable_execute_api_endpoint: api.disable_execute_api_endpoint,
                models: api.models.clone(),
                engines: engines(slots, api, &mut errors),
                cors: api.cors.as_ref().map(crate::phase::cors::CorsRt::build),
                compression: api.minimum_compression_size,
            });
        }
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
            client_ip: config.client_ip.clone(),
            tls,
            domains,
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

//! The snapshot: a validated [`Config`] compiled into everything the hot path needs.
//!
//! A snapshot is immutable. A reload builds a whole new one off the hot path and swaps it in
//! with one atomic store ([`crate::Gateway::apply`]); a request holds the `Arc` it started with
//! until it is done. Metrics handles are resolved here, once, so requests never look a series up
//! by name.

use std::collections::{BTreeMap, HashMap};

use portico_config::responses::GatewayResponses;
use portico_config::{Config, Integration, Limits};

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
}

/// One route, compiled.
pub struct RouteRt {
    /// Resource path, e.g. `/pets/{id}`.
    pub resource_path: String,
    /// Method as defined (`GET`, `ANY`, ...).
    pub method: String,
    /// The integration.
    pub integration: Integration,
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
}

impl Snapshot {
    /// Compiles `config`. Errors are route-table conflicts that validation should have caught.
    pub fn build(config: &Config, metrics: &Metrics, generation: u64) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let mut apis = Vec::with_capacity(config.apis.len());
        let mut by_host = HashMap::new();
        let mut default_api = None;
        for (index, api) in config.apis.iter().enumerate() {
            let mut router = Router::new();
            let mut routes = Vec::with_capacity(api.routes.len());
            for (id, route) in api.routes.iter().enumerate() {
                let id = RouteId::try_from(id).unwrap_or(RouteId::MAX);
                if let Err(e) = router.insert(&route.resource_path, &route.method, id) {
                    errors.push(format!("api {}: {e}", api.name));
                }
                routes.push(RouteRt {
                    resource_path: route.resource_path.clone(),
                    method: route.method.clone(),
                    integration: route.integration.clone(),
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
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            generation,
            apis,
            by_host,
            default_api,
            limits: config.limits.clone(),
            unrouted: metrics.route(MethodLabels {
                api: String::new(),
                stage: String::new(),
                resource: String::new(),
                method: String::new(),
            }),
        })
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

//! The validated configuration: what the data plane compiles into a snapshot.
//!
//! Everything here has passed validation. Names are resolved, numbers are in range, templates
//! are parsed. The proxy never has to re-check any of it on the hot path.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::mapping::{ParamSource, ParamTarget};
use crate::responses::GatewayResponses;
use crate::template::Template;

/// Whether each data-plane worker thread is bound to one CPU (`worker_cpu_affinity`).
///
/// A worker that stays on its CPU keeps its caches warm and is woken there; unbound, the
/// scheduler moves the workers among the CPUs they share with everything else on the machine,
/// which measured 20-40 % slower on a two-CPU machine (benches/README.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WorkerAffinity {
    /// Bind when there is exactly one worker per CPU the process may run on (the default
    /// `workers: 0` on a machine or cpuset without a lower CPU quota); otherwise leave them
    /// to the scheduler.
    #[default]
    Auto,
    /// Always bind: worker `i` to the `i`-th allowed CPU, round robin.
    On,
    /// Never bind.
    Off,
}

/// A whole, validated gateway configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The data plane's listeners, cleartext or TLS.
    pub listeners: Vec<crate::transport::Listener>,
    /// The admin listener and its token source, if any.
    pub admin: Option<crate::admin::Admin>,
    /// SHA-256 (hex) of every file the configuration was read from: the same text gives the
    /// same digest. Set by [`crate::load`].
    pub digest: String,
    /// The gateway's state directory (admin token, audit log, quota counters); `None`: memory.
    pub data_dir: Option<PathBuf>,
    /// Custom domain names: certificates by SNI, mappings and routing rules.
    pub domains: Vec<crate::transport::Domain>,
    /// Data-plane worker threads; 0 means one per core. Takes effect at start.
    pub workers: usize,
    /// Whether workers are bound to CPUs. Takes effect at start.
    pub worker_cpu_affinity: WorkerAffinity,
    /// Slots of the plugin instance pool ([`crate::DEFAULT_PLUGIN_INSTANCES`] unless the
    /// gateway file says). Takes effect at start.
    pub plugin_instances: u32,
    /// The APIs, in the order the gateway file lists them, each built from the definition the
    /// gateway file names today.
    pub apis: Vec<Api>,
    /// The stored deployments some stage (or canary) serves instead of its API's current
    /// definition ([`Stage::deployment`]); each has its API's name.
    pub deployments: Vec<Api>,
    /// Data-plane limits.
    pub limits: Limits,
    /// Where access-log lines go.
    pub access_log: AccessLog,
    /// How configuration changes are picked up.
    pub reload: ReloadSettings,
    /// Every file this configuration was read from, for the change watcher. Empty for the
    /// embedded demo.
    pub files: Vec<PathBuf>,
    /// WebAssembly plugins.
    pub plugins: Vec<PluginDef>,
    /// Where compiled plugins are cached (`None`: no cache).
    pub cache_dir: Option<PathBuf>,
    /// Throttling and quota settings of the traffic core.
    pub traffic: TrafficSettings,
    /// API keys declared in the gateway file.
    pub api_keys: Vec<ApiKey>,
    /// Usage plans.
    pub usage_plans: Vec<UsagePlan>,
    /// The region and account in method ARNs.
    pub aws: AwsAccount,
    /// SigV4 credentials, for `AWS_IAM` methods.
    pub credentials: Vec<IamCredential>,
    /// When to believe `X-Forwarded-For`.
    pub client_ip: ClientIpTrust,
}

/// A SigV4 access key and the IAM user it signs as.
#[derive(Debug, Clone)]
pub struct IamCredential {
    /// The access key id.
    pub access_key_id: String,
    /// The secret (never logged).
    pub secret: String,
    /// The user name (`$context.identity.user`).
    pub user: String,
    /// The user's account (`$context.identity.accountId`).
    pub account_id: String,
    /// `arn:aws:iam::{account}:user/{user}` (`$context.identity.userArn`).
    pub arn: String,
    /// The user's identity policy; `None` grants nothing.
    pub policy: Option<portico_auth::policy::Policy>,
}

/// When `X-Forwarded-For` names the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientIpTrust {
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Proxies in front of the gateway, believed whatever their address.
    pub trusted_hops: u32,
}

/// The region and account the gateway stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsAccount {
    /// e.g. `us-east-1`.
    pub region: String,
    /// Twelve digits.
    pub account_id: String,
    /// Where Cognito user pools are (`https://cognito-idp.{region}.amazonaws.com` by default).
    pub cognito_endpoint: Option<String>,
}

impl Default for AwsAccount {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            cognito_endpoint: None,
        }
    }
}

/// The `traffic:` section, with defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficSettings {
    /// The account-level throttle (default 10 000 rps, burst 5 000).
    pub account: Throttle,
    /// Where quota counters, usage and runtime-created keys are kept (`None`: memory only).
    pub data_dir: Option<PathBuf>,
    /// Period of the write to `data_dir` (the crash loss window).
    pub flush_interval: Duration,
    /// Redis URL: cluster mode.
    pub redis: Option<String>,
    /// Period of the cluster sync.
    pub sync_interval: Duration,
    /// A synchronous Redis check per request.
    pub strict: bool,
    /// Refuse (503) instead of admitting on local counters while Redis is unreachable.
    pub fail_closed: bool,
}

impl Default for TrafficSettings {
    fn default() -> Self {
        Self {
            account: Throttle::ACCOUNT_DEFAULT,
            data_dir: None,
            flush_interval: Duration::from_millis(1000),
            redis: None,
            sync_interval: Duration::from_millis(100),
            strict: false,
            fail_closed: false,
        }
    }
}

/// A token-bucket throttle: `rate` tokens per second, `burst` tokens at most.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttle {
    /// Steady-state requests per second (≥ 0).
    pub rate: f64,
    /// Bucket size.
    pub burst: u32,
}

impl Throttle {
    /// AWS's account default: 10 000 rps, burst 5 000.
    pub const ACCOUNT_DEFAULT: Throttle = Throttle {
        rate: 10_000.0,
        burst: 5_000,
    };
}

/// An API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Name and id.
    pub name: String,
    /// The secret.
    pub value: String,
    /// Disabled keys are refused.
    pub enabled: bool,
}

/// A usage plan, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct UsagePlan {
    /// Name and id.
    pub name: String,
    /// The stages it covers.
    pub stages: Vec<PlanStage>,
    /// Per-key throttle.
    pub throttle: Option<Throttle>,
    /// Per-key quota.
    pub quota: Option<Quota>,
    /// Names of its keys (each names a declared key).
    pub keys: Vec<String>,
    /// Its display name and description, for a plan made through the AWS control plane
    /// (`create-usage-plan`, kept in the data directory); `None` for the gateway file's.
    pub managed: Option<(String, String)>,
}

/// One stage of a usage plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanStage {
    /// The API's name.
    pub api: String,
    /// The stage's name.
    pub stage: String,
    /// Per-method throttles: (index in [`Api::routes`], throttle).
    pub methods: Vec<(usize, Throttle)>,
}

/// A usage-plan quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Requests per period.
    pub limit: u64,
    /// The period.
    pub period: QuotaPeriod,
    /// Requests subtracted from `limit` in the initial period.
    pub offset: u64,
}

/// AWS `QuotaPeriodType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaPeriod {
    /// A UTC day.
    Day,
    /// A week from Sunday 00:00 UTC.
    Week,
    /// A calendar month in UTC.
    Month,
}

/// Where a method's API key is read from (AWS `apiKeySource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApiKeySource {
    /// The `x-api-key` header.
    #[default]
    Header,
    /// The authorizer's `usageIdentifierKey`.
    Authorizer,
}

/// A stage throttle resolved for one route from `method_settings`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MethodThrottle {
    /// The limit.
    pub throttle: Throttle,
    /// The method has its own entry (its own bucket); otherwise `*/*` applies, one bucket
    /// shared by the stage's methods without their own entry.
    pub own: bool,
}

/// Request limits. Defaults are Amazon API Gateway's REST API quotas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body, in bytes (AWS: 10 MB). Larger answers 413.
    pub max_body_bytes: u64,
    /// Largest header section (names, values and separators), in bytes (AWS: 10 240).
    /// Larger answers 431.
    pub max_header_bytes: usize,
    /// Longest request target (path and query), in bytes (AWS Regional: 10 240). Longer
    /// answers 414.
    pub max_uri_bytes: usize,
    /// How long a client may take to send its request head before the connection is closed.
    pub header_read_timeout: Duration,
    /// How long a shutdown waits for in-flight requests before giving up on them.
    pub drain_timeout: Duration,
    /// How long a TLS handshake may take before the connection is closed.
    pub tls_handshake_timeout: Duration,
    /// TLS handshakes in progress at once on one worker; further connections wait their turn
    /// (within their handshake timeout).
    pub max_tls_handshakes: usize,
    /// `STREAM` integrations: longest wait for the next body chunk before the stream is cut
    /// (AWS: 5 minutes, [`STREAM_IDLE_TIMEOUT`]).
    pub stream_idle_timeout: Duration,
    /// `STREAM` integrations: longest a streamed exchange may last, from the integration
    /// request to the body's last byte, before it is cut (AWS: 15 minutes, [`STREAM_MAX_DURATION`]).
    pub stream_max_duration: Duration,
}

/// AWS's idle timeout of a streamed response (Regional and private endpoints): 5 minutes
/// without a chunk ends the stream.
pub const STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// AWS's longest streamed response: 15 minutes.
pub const STREAM_MAX_DURATION: Duration = Duration::from_secs(15 * 60);

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 10 * 1024 * 1024,
            max_header_bytes: 10_240,
            max_uri_bytes: 10_240,
            header_read_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(30),
            tls_handshake_timeout: Duration::from_secs(10),
            max_tls_handshakes: 1024,
            stream_idle_timeout: STREAM_IDLE_TIMEOUT,
            stream_max_duration: STREAM_MAX_DURATION,
        }
    }
}

/// Access-log destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLog {
    /// No access log.
    Off,
    /// One JSON line per request on standard output.
    Stdout,
    /// One JSON line per request on standard error.
    Stderr,
    /// One JSON line per request appended to a file.
    File(PathBuf),
}

/// Reload settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadSettings {
    /// Watch the configuration files and reload when one changes.
    pub watch: bool,
    /// How often the watcher looks at the files.
    pub poll_interval: Duration,
}

impl Default for ReloadSettings {
    fn default() -> Self {
        Self {
            watch: true,
            poll_interval: Duration::from_millis(1000),
        }
    }
}

/// One API: an OpenAPI document and the stages it is deployed to.
#[derive(Debug, Clone)]
pub struct Api {
    /// The API's name, unique in the gateway file. Used as `$context.apiId`.
    pub name: String,
    /// The OpenAPI document's file name, as the gateway file gives it.
    pub spec: String,
    /// The definition this was built from: the OpenAPI document's text.
    pub definition: std::sync::Arc<str>,
    /// Its deployment id: [`crate::deploy::deployment_id`] of the definition.
    pub deployment_id: String,
    /// For a stored deployment: the plugin versions it was made with (name → digest), which
    /// the stages serving it run. Empty for the gateway file's current build.
    pub plugin_versions: std::collections::BTreeMap<String, String>,
    /// For an API made through the AWS control plane (not named in the gateway file): its
    /// name, description and creation date.
    pub managed: Option<Managed>,
    /// Host names this API answers on; empty means any host not claimed by another API.
    pub hosts: Vec<String>,
    /// Stages, by name.
    pub stages: Vec<Stage>,
    /// Every method of every resource.
    pub routes: Vec<Route>,
    /// Gateway-response customisations.
    pub gateway_responses: GatewayResponses,
    /// Where API keys come from (`x-amazon-apigateway-api-key-source`).
    pub api_key_source: ApiKeySource,
    /// The resource policy (`x-amazon-apigateway-policy`), its ARNs expanded.
    pub policy: Option<portico_auth::policy::Policy>,
    /// `x-amazon-apigateway-binary-media-types`.
    pub binary_media_types: crate::transform::BinaryMediaTypes,
    /// `x-amazon-apigateway-endpoint-configuration.disableExecuteApiEndpoint`: the API answers
    /// only through custom domains.
    pub disable_execute_api_endpoint: bool,
    /// The API's models (`components.schemas` / `definitions`), compiled; `None` when it has
    /// none.
    pub models: Option<crate::validation::ApiModels>,
    /// The components that render its templates and validate its bodies, when not built in.
    pub engines: Engines,
    /// `x-amazon-apigateway-cors`: CORS answered by the gateway (HTTP API style).
    pub cors: Option<crate::edge::Cors>,
    /// `x-amazon-apigateway-minimum-compression-size`: response compression and request
    /// decompression, on when set.
    pub minimum_compression_size: Option<u64>,
}

/// What the AWS control plane knows of an API it made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Managed {
    /// `RestApi.name`.
    pub name: String,
    /// `RestApi.description`.
    pub description: String,
    /// `RestApi.createdDate`, seconds since the Unix epoch.
    pub created_date: u64,
}

/// The plugins an API's mapping templates and models run in, by name. `None`: the built-in
/// engine (`portico-vtl`, `portico-schema`), which the first-party components also embed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Engines {
    /// A `template-mapper` plugin (gateway file `template_mapper`).
    pub template_mapper: Option<String>,
    /// A `model-validator` plugin (gateway file `model_validator`).
    pub model_validator: Option<String>,
}

/// A stage: a name (the first path segment), its variables and its settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// The stage name.
    pub name: String,
    /// Stage variables (`${stageVariables.name}`).
    pub variables: BTreeMap<String, String>,
    /// The response cache, when enabled.
    pub cache: Option<StageCache>,
    /// Caching of each route (indexed like [`Api::routes`]): `None` when its responses are not
    /// cached. Empty when the stage has no cache.
    pub caching: Vec<Option<MethodCaching>>,
    /// The stage throttle of each route (indexed like [`Api::routes`]), from
    /// `method_settings`: the route's own entry, else `*/*`, else none.
    pub throttles: Vec<Option<MethodThrottle>>,
    /// The deployment the stage serves, as an index in [`Config::deployments`]; `None`: the
    /// API's current definition (the stage follows the gateway file). `caching` and
    /// `throttles` are indexed like the routes of the one it serves.
    pub deployment: Option<usize>,
    /// The id of the deployment it serves (`$context.deploymentId`).
    pub deployment_id: String,
    /// Whether the deployment store pins the stage to a deployment (else it follows the file).
    pub pinned: bool,
    /// The canary, while the stage has one.
    pub canary: Option<Box<Canary>>,
}

impl Stage {
    /// A stage with its name and variables, before its deployment, cache and throttles are
    /// resolved.
    pub(crate) fn unsettled(name: &str, variables: BTreeMap<String, String>) -> Self {
        Self {
            name: name.to_owned(),
            variables,
            cache: None,
            caching: Vec::new(),
            throttles: Vec::new(),
            deployment: None,
            deployment_id: String::new(),
            pinned: false,
            canary: None,
        }
    }
}

/// A stage's canary (AWS `canarySettings`): a share of its requests served by another
/// deployment, with its own variables.
#[derive(Debug, Clone, PartialEq)]
pub struct Canary {
    /// Share of requests, 0.0 to 100.0.
    pub percent_traffic: f64,
    /// Whether canary requests use the stage's response cache (else one of their own).
    pub use_stage_cache: bool,
    /// `stageVariableOverrides` as given.
    pub overrides: BTreeMap<String, String>,
    /// The stage as canary requests see it: the canary deployment (`deployment`,
    /// `deployment_id`), the stage's variables with the overrides applied, and its settings
    /// resolved against that deployment's routes. Its own `canary` is `None`.
    pub stage: Stage,
}

/// A stage's response cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageCache {
    /// Bytes the cache holds (keys, headers and bodies).
    pub capacity_bytes: u64,
    /// `x-api-key` values allowed to invalidate entries.
    pub invalidation_api_keys: Vec<String>,
}

/// How one method's responses are cached, resolved from the stage's `method_settings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodCaching {
    /// How long an entry lives (1 s to 3600 s).
    pub ttl: Duration,
    /// Only authorized callers may invalidate with `Cache-Control: max-age=0`.
    pub require_authorization: bool,
    /// What an unauthorized invalidation attempt gets.
    pub unauthorized: UnauthorizedCacheControl,
}

/// AWS `unauthorizedCacheControlHeaderStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnauthorizedCacheControl {
    /// `FAIL_WITH_403`: the request fails with 403.
    FailWith403,
    /// `SUCCEED_WITH_RESPONSE_HEADER`: served (from the cache), with a warning header.
    SucceedWithResponseHeader,
    /// `SUCCEED_WITHOUT_RESPONSE_HEADER`: served (from the cache), silently.
    SucceedWithoutResponseHeader,
}

/// One method on one resource.
#[derive(Debug, Clone)]
pub struct Route {
    /// The resource path as written in the document, e.g. `/pets/{id}`.
    pub resource_path: String,
    /// The HTTP method, upper case, or `ANY`.
    pub method: String,
    /// What serves the method.
    pub integration: Integration,
    /// Where in the document the method was defined (for messages).
    pub location: String,
    /// The authorizer that guards the method, if any.
    pub authorizer: Option<AuthorizerDef>,
    /// `x-portico-validator`: a validator plugin run before the integration.
    pub validator: Option<String>,
    /// `x-portico-mapper`: a mapper plugin around the integration.
    pub mapper: Option<String>,
    /// AWS `apiKeyRequired`: the method's `security` names an API-key scheme.
    pub api_key_required: bool,
    /// `authorizationScopes`: the scopes the method's `security` lists for a JWT or Cognito
    /// authorizer; the token must carry one of them.
    pub scopes: Vec<String>,
    /// `AWS_IAM`: requests must be signed with SigV4 by a declared credential.
    pub iam: bool,
    /// Request validation (`x-amazon-apigateway-request-validator`), when the method's
    /// validator checks something.
    pub validation: Option<crate::validation::MethodValidation>,
}

/// The integration kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrationKind {
    /// Pass-through HTTP.
    HttpProxy,
    /// HTTP with parameter mapping and integration responses.
    Http,
    /// Answered by the gateway itself.
    Mock,
    /// `aws_proxy`: a Lambda proxy integration served by a function plugin.
    Function,
    /// `aws` naming a Lambda function: the (mapped) body is the function's event, its result
    /// goes through the integration responses, selected by the error's `errorMessage`.
    FunctionMapped,
}

impl IntegrationKind {
    /// True for the kinds a function plugin serves (`aws_proxy`, `aws`).
    pub fn is_function(self) -> bool {
        matches!(self, Self::Function | Self::FunctionMapped)
    }

    /// True for the non-proxy kinds, whose bodies go through the mapping phase.
    pub fn is_mapped(self) -> bool {
        matches!(self, Self::Http | Self::Mock | Self::FunctionMapped)
    }
}

/// An integration, validated.
#[derive(Debug, Clone)]
pub struct Integration {
    /// The integration type.
    pub kind: IntegrationKind,
    /// The upstream URI (HTTP kinds); `{param}` and `${stageVariables.x}` are substituted per
    /// request.
    pub uri: Option<Template>,
    /// The method used towards the upstream; `None` forwards the client's method.
    pub http_method: Option<String>,
    /// Integration timeout (50 ms to 29 s, default 29 s; up to 15 min with
    /// [`TransferMode::Stream`]). It bounds the response head; a streamed body has its own
    /// idle and total limits ([`Limits::stream_idle_timeout`], [`Limits::stream_max_duration`]).
    pub timeout: Duration,
    /// `responseTransferMode`: whether the answer is sent as the integration produces it.
    pub transfer_mode: TransferMode,
    /// `integration.request.*` ← source mappings.
    pub request_parameters: Vec<(ParamTarget, ParamSource)>,
    /// Request mapping templates (VTL) by content type. MOCK's renders the JSON whose
    /// `statusCode` picks the integration response.
    pub request_templates: crate::transform::Templates,
    /// `passthroughBehavior`: what a body no template matches does.
    pub passthrough: crate::transform::Passthrough,
    /// `contentHandling` of the integration request.
    pub content_handling: Option<crate::transform::ContentHandling>,
    /// Integration responses, in document order, `default` last.
    pub responses: Vec<IntegrationResponse>,
    /// `aws_proxy` and `aws`: the function name from the Lambda ARN (may use
    /// `${stageVariables.x}`).
    pub function: Option<Template>,
    /// `aws_proxy`: the Lambda proxy payload format.
    pub payload_format: PayloadFormat,
    /// `cacheKeyParameters`: request parameters that split the cache, in document order.
    pub cache_key_parameters: Vec<ParamSource>,
    /// `cacheNamespace`: routes sharing a namespace share entries (default: the resource path).
    pub cache_namespace: Option<String>,
    /// HTTP API `requestParameters` (`append|overwrite|remove:header|querystring.NAME`,
    /// `overwrite:path`) of an `http_proxy` or `aws_proxy` integration; `None` when there are
    /// none (REST mappings live in `request_parameters`).
    pub http_request_mapping: Option<crate::http_mapping::RequestMapping>,
    /// HTTP API `responseParameters`, by integration status code (200–599); empty when there
    /// are none.
    pub http_response_mapping: BTreeMap<u16, crate::http_mapping::ResponseMapping>,
}

/// `responseTransferMode` of an integration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TransferMode {
    /// `BUFFERED` (the default): the answer is complete before it is sent (AWS); Portico
    /// still passes `http_proxy` bodies through, with no idle or total limit on the body.
    #[default]
    Buffered,
    /// `STREAM`: the answer goes to the client as it comes (`http_proxy`, `aws_proxy`), with
    /// an idle timeout between chunks and a total duration limit; no caching, no compression,
    /// no integration response templates.
    Stream,
}

/// One integration response: which integration statuses it takes, and what it answers.
#[derive(Debug, Clone)]
pub struct IntegrationResponse {
    /// The selection pattern; `None` is the `default` response.
    pub pattern: Option<regex::Regex>,
    /// The method response status.
    pub status: u16,
    /// `method.response.header.*` ← source mappings.
    pub headers: Vec<(String, ParamSource)>,
    /// Response mapping templates (VTL) by content type.
    pub templates: crate::transform::Templates,
    /// `contentHandling` of the method response.
    pub content_handling: Option<crate::transform::ContentHandling>,
}

/// What a plugin is for: the WIT world its component must export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginKind {
    /// `authorizer` world: decides whether a request may pass.
    Authorizer,
    /// `mapper` world: rewrites the request before the integration and the response after.
    Mapper,
    /// `validator` world: accepts a request or rejects it with a 400.
    Validator,
    /// `function` world or `wasi:http/incoming-handler`: serves `aws_proxy` integrations.
    Function,
    /// `template-mapper` world: renders mapping templates (Velocity).
    TemplateMapper,
    /// `model-validator` world: validates request bodies against JSON Schema draft-4 models.
    ModelValidator,
}

impl PluginKind {
    /// The name used in the gateway file and in messages.
    pub fn name(self) -> &'static str {
        match self {
            PluginKind::Authorizer => "authorizer",
            PluginKind::Mapper => "mapper",
            PluginKind::Validator => "validator",
            PluginKind::Function => "function",
            PluginKind::TemplateMapper => "template-mapper",
            PluginKind::ModelValidator => "model-validator",
        }
    }
}

/// How a plugin's instances are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstancePolicy {
    /// A fresh instance per call: full isolation between requests (the default).
    Fresh,
    /// Live instances are reused for up to `max_uses` calls each; state can leak between
    /// requests of the same plugin. For interpreted-language plugins, whose start-up costs
    /// milliseconds.
    Reuse {
        /// Calls per instance before it is replaced.
        max_uses: u32,
    },
}

/// A directory a plugin may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    /// The directory on the host.
    pub host: PathBuf,
    /// Where the plugin sees it.
    pub guest: String,
    /// Read-only access.
    pub read_only: bool,
}

/// A plugin as the gateway file declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginDef {
    /// Unique name. For functions, the Lambda function name that `aws_proxy` URIs use.
    pub name: String,
    /// The world it implements.
    pub kind: PluginKind,
    /// The component file.
    pub file: PathBuf,
    /// Its configuration as JSON text, if any.
    pub config: Option<String>,
    /// Capability grants: logging.
    pub log: bool,
    /// Capability grants: the key-value cache.
    pub kv: bool,
    /// Capability grants: hosts it may call over HTTP (empty: no outbound HTTP).
    pub http_allow: Vec<String>,
    /// Capability grants: directories.
    pub preopens: Vec<Preopen>,
    /// Deadline of one call.
    pub timeout: Duration,
    /// Linear-memory limit of one instance.
    pub memory_bytes: usize,
    /// Instance policy.
    pub instances: InstancePolicy,
}

/// A Lambda-style authorizer on a method (`x-amazon-apigateway-authorizer`).
#[derive(Debug, Clone)]
pub struct AuthorizerDef {
    /// The security scheme's name.
    pub name: String,
    /// What decides.
    pub kind: AuthorizerKind,
    /// Identity sources: all must be present and non-empty, or the answer is 401 without a call.
    pub identity_sources: Vec<ParamSource>,
    /// Result cache TTL (0 disables caching; at most 3600 s; default 300 s, but 0 for `jwt`
    /// authorizers, which declare none). A cached token also expires with its `exp`.
    pub ttl: Duration,
}

impl AuthorizerDef {
    /// The plugin of a Lambda-style authorizer.
    pub fn plugin(&self) -> Option<&str> {
        match &self.kind {
            AuthorizerKind::Lambda(l) => Some(&l.plugin),
            AuthorizerKind::Jwt(_) => None,
        }
    }
}

/// The kinds of authorizer.
#[derive(Debug, Clone)]
pub enum AuthorizerKind {
    /// A Lambda authorizer (TOKEN or REQUEST), served by a plugin.
    Lambda(LambdaAuthorizer),
    /// A JWT authorizer (HTTP API `jwt`, REST `cognito_user_pools`), checked by the host.
    Jwt(JwtAuthorizer),
}

/// A Lambda-style authorizer.
#[derive(Debug, Clone)]
pub struct LambdaAuthorizer {
    /// The plugin that decides (named by the function in `authorizerUri`).
    pub plugin: String,
    /// TOKEN or REQUEST.
    pub token: bool,
    /// TOKEN only: the token must match this pattern, or the answer is 401 without a call.
    pub validation: Option<regex::Regex>,
    /// HTTP API `enableSimpleResponses`: `{"isAuthorized": bool}` answers.
    pub simple_responses: bool,
}

/// A JWT authorizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtAuthorizer {
    /// Who issues the tokens.
    pub issuer: JwtIssuer,
    /// Accepted `aud` (or `client_id`) values; empty accepts any (Cognito without a client).
    pub audiences: Vec<String>,
    /// `x-portico-jwks-uri`: the key set's URL; `None` discovers it at
    /// `{issuer}/.well-known/openid-configuration`.
    pub jwks_uri: Option<String>,
    /// `x-portico-jwks-refetch-seconds`: an unknown `kid` refetches the key set at most this
    /// often (default 10 s, 1 to 3600).
    pub refetch_interval: Duration,
    /// `x-portico-jwt-secret-env`: the environment variable holding an HS256 shared secret;
    /// with it, tokens are checked against the secret and no key set is fetched.
    pub secret_env: Option<String>,
}

/// The issuer of a JWT authorizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtIssuer {
    /// An issuer URL, as `jwtConfiguration.issuer` gives it.
    Url(String),
    /// A Cognito user pool (`providerARNs`): issuer
    /// `https://cognito-idp.{region}.amazonaws.com/{pool}`, or `{aws.cognito_endpoint}/{pool}`.
    Cognito {
        /// The pool's region.
        region: String,
        /// The pool id, e.g. `us-east-1_AbC123`.
        pool: String,
    },
}

/// Lambda proxy payload format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// REST API format 1.0.
    V1,
    /// HTTP API format 2.0.
    V2,
}

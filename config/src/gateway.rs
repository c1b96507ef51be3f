//! The raw gateway file, exactly as written in YAML. See `docs/configuration.md`.
//!
//! These types mirror the file and nothing more: unknown fields are rejected, defaults are
//! applied later by [`crate::load`].

use std::collections::BTreeMap;

use serde::Deserialize;

/// The top level of a gateway file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGateway {
    /// Data-plane listeners.
    #[serde(default)]
    pub listeners: Vec<RawListener>,
    /// The admin listener and its token.
    #[serde(default)]
    pub admin: Option<RawAdmin>,
    /// The gateway's own state: the admin token, the audit log, quota counters and usage
    /// (unless `traffic.data_dir` says otherwise). Default `$XDG_DATA_HOME/portico` or
    /// `~/.local/share/portico`; `off` keeps state in memory.
    #[serde(default)]
    pub data_dir: Option<String>,
    /// Custom domain names: certificates by SNI, base path mappings and routing rules.
    #[serde(default)]
    pub domains: Vec<RawDomain>,
    /// Data-plane worker threads, each with its own runtime, sockets and upstream pool
    /// (default 0: one per core). Read at start.
    #[serde(default)]
    pub workers: Option<usize>,
    /// Whether each worker thread is bound to one CPU: `auto` (default: when there is one
    /// worker per CPU the process may run on), `on` (always, round robin) or `off`. Read at
    /// start.
    #[serde(default)]
    pub worker_cpu_affinity: Option<String>,
    /// Plugin instances alive at once (calls in flight plus idle reused instances): the
    /// instance pool's slots (default 1000). Read at start.
    #[serde(default)]
    pub plugin_instances: Option<u32>,
    /// The APIs.
    #[serde(default)]
    pub apis: Vec<RawApi>,
    /// Request limits.
    #[serde(default)]
    pub limits: RawLimits,
    /// Access-log destination: `stdout` (default), `stderr`, `off`, or a file path.
    #[serde(default)]
    pub access_log: Option<String>,
    /// Reload settings.
    #[serde(default)]
    pub reload: RawReload,
    /// WebAssembly plugins.
    #[serde(default)]
    pub plugins: Vec<RawPlugin>,
    /// Directory for compiled plugins (default: `$XDG_CACHE_HOME/portico` or
    /// `~/.cache/portico`); `off` disables the cache.
    #[serde(default)]
    pub cache_dir: Option<String>,
    /// Throttling, quota persistence and cluster settings (see `docs/traffic.md`).
    #[serde(default)]
    pub traffic: Option<RawTraffic>,
    /// API keys; a key's id is its name.
    #[serde(default)]
    pub api_keys: Vec<RawApiKey>,
    /// Usage plans: which keys may call which stages, with what throttle and quota.
    #[serde(default)]
    pub usage_plans: Vec<RawUsagePlan>,
    /// The region and account the gateway stands for, in method ARNs and `$context`.
    #[serde(default)]
    pub aws: RawAws,
    /// SigV4 credentials for `AWS_IAM` methods.
    #[serde(default)]
    pub iam: RawIam,
    /// Which client address `aws:SourceIp` and `$context.identity.sourceIp` see.
    #[serde(default)]
    pub client_ip: RawClientIp,
}

/// The `iam:` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIam {
    /// Access keys and the identities they sign as.
    #[serde(default)]
    pub credentials: Vec<RawCredential>,
}

/// One SigV4 access key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCredential {
    /// `AKIA...`: 16 to 128 characters.
    pub access_key_id: String,
    /// The secret, written here.
    pub secret_access_key: Option<String>,
    /// Or the environment variable that holds it.
    pub secret_access_key_env: Option<String>,
    /// The IAM user name: the identity is `arn:aws:iam::{account}:user/{user}`.
    pub user: String,
    /// The user's account (default `aws.account_id`; another one makes calls cross-account).
    pub account_id: Option<String>,
    /// The user's identity policy (an IAM policy document granting `execute-api:Invoke`).
    pub policy: Option<serde_json::Value>,
}

/// The `client_ip:` section: when to believe `X-Forwarded-For`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClientIp {
    /// Believe `X-Forwarded-For` from peers in these CIDR blocks (each hop checked in turn).
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Or: this many proxies stand in front of the gateway, whatever their address.
    pub trusted_hops: Option<u32>,
}

/// The `aws:` section: what method ARNs (`arn:aws:execute-api:{region}:{account}:...`) and
/// SigV4 credential scopes name.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAws {
    /// Default `us-east-1`.
    pub region: Option<String>,
    /// Twelve digits; default `000000000000`.
    pub account_id: Option<String>,
    /// Cognito's endpoint, for user-pool issuers `{endpoint}/{pool}` (default
    /// `https://cognito-idp.{region}.amazonaws.com`; a local one for tests).
    pub cognito_endpoint: Option<String>,
}

/// The `traffic:` section; every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTraffic {
    /// The account-level throttle (AWS default: 10 000 rps, burst 5 000).
    pub account: Option<RawThrottle>,
    /// Where quota counters and usage are kept, relative to the gateway file (default:
    /// `$XDG_DATA_HOME/portico` or `~/.local/share/portico`); `off` keeps them in memory.
    pub data_dir: Option<String>,
    /// Milliseconds between writes of quota counters and usage (default 1000).
    pub flush_interval_ms: Option<u64>,
    /// `redis://host:port[/db]`: share limits and quotas across gateways (cluster mode).
    pub redis: Option<String>,
    /// Milliseconds between two syncs with Redis (default 100).
    pub sync_interval_ms: Option<u64>,
    /// One synchronous Redis check per request instead of local-first sync (default false).
    pub strict: Option<bool>,
    /// `open` (default: keep admitting on local counters) or `closed` (503) while Redis is
    /// unreachable.
    pub fail_mode: Option<String>,
}

/// A throttle: AWS `ThrottleSettings`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThrottle {
    /// Steady-state requests per second.
    pub rate_limit: f64,
    /// Bucket size: requests that may pass at once.
    pub burst_limit: u32,
}

/// An API key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApiKey {
    /// Unique name, also the key's id (`$context.identity.apiKeyId`).
    pub name: String,
    /// The secret sent in `x-api-key`: 20 to 128 characters, unique.
    pub value: String,
    /// A disabled key is refused with 403 (default true).
    pub enabled: Option<bool>,
}

/// A usage plan.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUsagePlan {
    /// Unique name, also the plan's id.
    pub name: String,
    /// The API stages the plan's keys may call.
    #[serde(default)]
    pub api_stages: Vec<RawApiStage>,
    /// Per-key throttle, aggregated across the plan's stages.
    pub throttle: Option<RawThrottle>,
    /// Per-key quota, aggregated across the plan's stages.
    pub quota: Option<RawQuota>,
    /// Names of the keys in the plan.
    #[serde(default)]
    pub keys: Vec<String>,
}

/// One stage of a usage plan (AWS `ApiStage`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApiStage {
    /// The API's name.
    pub api: String,
    /// The stage.
    pub stage: String,
    /// Per-method throttles, keyed `/{resourcePath}/{METHOD}`.
    #[serde(default)]
    pub throttle: BTreeMap<String, RawThrottle>,
}

/// AWS `QuotaSettings`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQuota {
    /// Requests per period.
    pub limit: u64,
    /// `DAY`, `WEEK` or `MONTH`.
    pub period: String,
    /// Requests subtracted from the limit in the initial period (default 0).
    pub offset: Option<u64>,
}

/// A plugin entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlugin {
    /// Unique name; for functions, the Lambda function name.
    pub name: String,
    /// `authorizer`, `mapper`, `validator`, `function`, `template-mapper` or `model-validator`.
    pub kind: String,
    /// The component file, relative to the gateway file.
    pub file: String,
    /// Any YAML value; the plugin receives it as JSON.
    #[serde(default)]
    pub config: Option<serde_json::Value>,
    /// Capabilities: `log`, `config`, `kv`, `http` (default `[log, config]`).
    #[serde(default)]
    pub grants: Option<Vec<String>>,
    /// Hosts the plugin may call (needs the `http` grant).
    #[serde(default)]
    pub http_allow: Vec<String>,
    /// Directories the plugin may see.
    #[serde(default)]
    pub preopens: Vec<RawPreopen>,
    /// Milliseconds per call (default 100; functions default to 29 000).
    pub timeout_ms: Option<u64>,
    /// Linear-memory limit in MiB (default 64).
    pub memory_mb: Option<u64>,
    /// `fresh` (default) or `reuse`.
    pub instances: Option<String>,
    /// With `reuse`: calls per instance before it is replaced (default 1000).
    pub max_uses: Option<u32>,
}

/// A preopened directory.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPreopen {
    /// Host directory, relative to the gateway file.
    pub host: String,
    /// Path the plugin sees.
    pub guest: String,
    /// Read-only (default true).
    #[serde(default = "yes")]
    pub read_only: bool,
}

fn yes() -> bool {
    true
}

/// A listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListener {
    /// `IP:PORT`; port 0 picks a free port.
    pub address: String,
    /// TLS on this listener (data plane only): its default certificate and policy.
    #[serde(default)]
    pub tls: Option<RawListenerTls>,
}

/// The `admin:` section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    /// `IP:PORT`; port 0 picks a free port.
    pub address: String,
    /// TLS on the admin listener: certificate, key and policy as a listener's (no HTTP/3).
    #[serde(default)]
    pub tls: Option<RawListenerTls>,
    /// A file holding the bearer token (relative to the gateway file).
    #[serde(default)]
    pub token_file: Option<String>,
    /// An environment variable holding the bearer token.
    #[serde(default)]
    pub token_env: Option<String>,
}

/// A listener's `tls:` block.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListenerTls {
    /// PEM certificate chain served to clients whose SNI names no custom domain.
    pub certificate: String,
    /// PEM private key of that certificate.
    pub key: String,
    /// `TLS_1_2` (default) or `SecurityPolicy_TLS13_1_3_2025_09`.
    #[serde(default)]
    pub security_policy: Option<String>,
    /// Also serve HTTP/3 (QUIC) on the same port over UDP, advertised with `Alt-Svc`.
    #[serde(default)]
    pub http3: bool,
}

/// A custom domain name (AWS `DomainName`), with its mappings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDomain {
    /// The domain name, or a wildcard `*.example.com`.
    pub name: String,
    /// PEM certificate chain for this name (chosen by SNI).
    pub certificate: String,
    /// PEM private key.
    pub key: String,
    /// `TLS_1_2` (default) or `SecurityPolicy_TLS13_1_3_2025_09`.
    #[serde(default)]
    pub security_policy: Option<String>,
    /// `BASIC` or `STRICT` (the SNI must name the Host); required with an enhanced policy.
    #[serde(default)]
    pub endpoint_access_mode: Option<String>,
    /// Mutual TLS: clients must present a certificate that chains to this truststore.
    #[serde(default)]
    pub mutual_tls: Option<RawMutualTls>,
    /// `API_MAPPING_ONLY` (default), `ROUTING_RULE_ONLY` or `ROUTING_RULE_THEN_API_MAPPING`.
    #[serde(default)]
    pub routing_mode: Option<String>,
    /// Base path mappings (AWS API mappings).
    #[serde(default)]
    pub base_path_mappings: Vec<RawBasePathMapping>,
    /// Routing rules, evaluated by priority.
    #[serde(default)]
    pub routing_rules: Vec<RawRoutingRule>,
}

/// `mutual_tls:` of a domain.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMutualTls {
    /// PEM bundle of trusted CA certificates (AWS `truststoreUri`).
    pub truststore: String,
}

/// One base path mapping.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBasePathMapping {
    /// `(none)`, or one or more path segments (`v1`, `orders/v2`).
    #[serde(default)]
    pub base_path: Option<String>,
    /// The API's name.
    pub api: String,
    /// The stage.
    pub stage: String,
}

/// One routing rule (AWS `RoutingRule`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoutingRule {
    /// 1 to 1 000 000; lower is evaluated first; unique per domain.
    pub priority: u32,
    /// Up to two `match_headers` and one `match_base_paths`, all of which must hold.
    #[serde(default)]
    pub conditions: Vec<RawRuleCondition>,
    /// Exactly one `invoke_api`.
    pub actions: Vec<RawRuleAction>,
}

/// A routing-rule condition: exactly one of its fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRuleCondition {
    /// Header conditions: any of these header/glob pairs.
    #[serde(default)]
    pub match_headers: Option<RawAnyOf<RawHeaderGlob>>,
    /// Base-path condition: any of these base paths.
    #[serde(default)]
    pub match_base_paths: Option<RawAnyOf<String>>,
}

/// `{any_of: [...]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnyOf<T> {
    /// The alternatives.
    pub any_of: Vec<T>,
}

/// A header and a glob for its value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeaderGlob {
    /// Header name (case-insensitive).
    pub header: String,
    /// Value glob (case-sensitive): `value`, `prefix*`, `*suffix` or `*infix*`.
    pub value_glob: String,
}

/// A routing-rule action.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRuleAction {
    /// Invoke an API's stage.
    pub invoke_api: RawInvokeApi,
}

/// `invoke_api:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInvokeApi {
    /// The API's name.
    pub api: String,
    /// The stage.
    pub stage: String,
    /// Remove the matched base path before routing (default false).
    #[serde(default)]
    pub strip_base_path: bool,
}

/// An API entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    /// Unique name (`$context.apiId`).
    pub name: String,
    /// The OpenAPI 3.0 or Swagger 2.0 document, YAML or JSON, relative to the gateway file.
    pub spec: String,
    /// Host names this API answers on; empty means the default API.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Stages by name.
    #[serde(default)]
    pub stages: BTreeMap<String, RawStage>,
    /// A `template-mapper` plugin that renders this API's VTL mapping templates (default: the
    /// built-in engine).
    #[serde(default)]
    pub template_mapper: Option<String>,
    /// A `model-validator` plugin that checks this API's request bodies against its models
    /// (default: the built-in validator).
    #[serde(default)]
    pub model_validator: Option<String>,
}

/// A stage.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStage {
    /// Stage variables.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// The stage's response cache (AWS `cacheClusterEnabled` / `cacheClusterSize`).
    #[serde(default)]
    pub cache: Option<RawStageCache>,
    /// Per-method settings (AWS `methodSettings`), keyed `*/*` or `/{resourcePath}/{METHOD}`.
    #[serde(default)]
    pub method_settings: BTreeMap<String, RawMethodSetting>,
}

/// A stage cache.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStageCache {
    /// On (default) or off, keeping the settings.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Capacity: a number of GB as AWS's `cacheClusterSize` (`0.5`), or a size with a unit
    /// (`512MiB`, `2GiB`, `100MB`).
    pub size: RawSize,
    /// `x-api-key` values whose holders may invalidate entries with `Cache-Control: max-age=0`.
    #[serde(default)]
    pub invalidation_api_keys: Vec<String>,
}

/// A size: a bare number of GB, or a string with a unit.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawSize {
    /// GB, as AWS's `cacheClusterSize` (1 GB = 1 GiB here: `0.5` is 512 MiB).
    Gigabytes(f64),
    /// `512MiB`, `64KiB`, `2GiB`, `100MB`, `1048576B`, ...
    Text(String),
}

/// One entry of `method_settings` (AWS `MethodSetting`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMethodSetting {
    /// Cache this method's responses (default: GET methods only, when the stage has a cache).
    pub caching_enabled: Option<bool>,
    /// Seconds an entry lives (default 300, at most 3600; 0 disables caching).
    pub cache_ttl_seconds: Option<u64>,
    /// Only authorized callers may invalidate with `Cache-Control: max-age=0` (default true).
    pub require_authorization_for_cache_control: Option<bool>,
    /// What an unauthorized invalidation gets: `FAIL_WITH_403`,
    /// `SUCCEED_WITH_RESPONSE_HEADER` (default) or `SUCCEED_WITHOUT_RESPONSE_HEADER`.
    pub unauthorized_cache_control_header_strategy: Option<String>,
    /// Steady-state requests per second for this method (AWS `throttlingRateLimit`).
    pub throttling_rate_limit: Option<f64>,
    /// Bucket size for this method (AWS `throttlingBurstLimit`).
    pub throttling_burst_limit: Option<u32>,
}

/// Request limits; every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Largest request body in bytes (default 10 485 760).
    pub max_body_bytes: Option<u64>,
    /// Largest request header section in bytes (default 10 240).
    pub max_header_bytes: Option<usize>,
    /// Longest request target in bytes (default 10 240).
    pub max_uri_bytes: Option<usize>,
    /// Milliseconds a client has to send its request head (default 10 000).
    pub header_read_timeout_ms: Option<u64>,
    /// Milliseconds a shutdown waits for in-flight requests (default 30 000).
    pub drain_timeout_ms: Option<u64>,
    /// Milliseconds a client has to finish its TLS handshake (default 10 000).
    pub tls_handshake_timeout_ms: Option<u64>,
    /// TLS handshakes in progress at once, per worker (default 1 024); more wait.
    pub max_tls_handshakes: Option<usize>,
    /// `STREAM` integrations: milliseconds without a body chunk before the stream is cut
    /// (default 300 000, AWS's 5 minutes).
    pub stream_idle_timeout_ms: Option<u64>,
    /// `STREAM` integrations: milliseconds a streamed body may last before it is cut
    /// (default 900 000, AWS's 15 minutes).
    pub stream_max_duration_ms: Option<u64>,
}

/// Reload settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReload {
    /// Watch the files and reload on change (default true).
    pub watch: Option<bool>,
    /// Milliseconds between looks at the files (default 1000, at least 100).
    pub poll_interval_ms: Option<u64>,
}

//! The validated configuration: what the data plane compiles into a snapshot.
//!
//! Everything here has passed validation. Names are resolved, numbers are in range, templates
//! are parsed. The proxy never has to re-check any of it on the hot path.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::mapping::{ParamSource, ParamTarget};
use crate::responses::GatewayResponses;
use crate::template::Template;

/// A whole, validated gateway configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Addresses the data plane listens on.
    pub listeners: Vec<SocketAddr>,
    /// The admin listener (`/health`, `/metrics`, `/reload`), if any.
    pub admin: Option<SocketAddr>,
    /// The APIs, in the order the gateway file lists them.
    pub apis: Vec<Api>,
    /// Data-plane limits.
    pub limits: Limits,
    /// Where access-log lines go.
    pub access_log: AccessLog,
    /// How configuration changes are picked up.
    pub reload: ReloadSettings,
    /// Every file this configuration was read from, for the change watcher. Empty for the
    /// embedded demo.
    pub files: Vec<PathBuf>,
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
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 10 * 1024 * 1024,
            max_header_bytes: 10_240,
            max_uri_bytes: 10_240,
            header_read_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(30),
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
    /// Host names this API answers on; empty means any host not claimed by another API.
    pub hosts: Vec<String>,
    /// Stages, by name.
    pub stages: Vec<Stage>,
    /// Every method of every resource.
    pub routes: Vec<Route>,
    /// Gateway-response customisations.
    pub gateway_responses: GatewayResponses,
}

/// A stage: a name (the first path segment) and its variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The stage name.
    pub name: String,
    /// Stage variables (`${stageVariables.name}`).
    pub variables: BTreeMap<String, String>,
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
    /// Integration timeout (50 ms to 29 s, default 29 s).
    pub timeout: Duration,
    /// `integration.request.*` ← source mappings.
    pub request_parameters: Vec<(ParamTarget, ParamSource)>,
    /// Request templates by content type (MOCK uses them to pick the status code).
    pub request_templates: BTreeMap<String, Template>,
    /// Integration responses, in document order, `default` last.
    pub responses: Vec<IntegrationResponse>,
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
    /// Response templates by content type.
    pub templates: BTreeMap<String, Template>,
}

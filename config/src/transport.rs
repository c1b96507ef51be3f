//! TLS and custom domains: listener certificates, custom domain names with their certificates,
//! security policies, mutual TLS truststores, base path mappings and routing rules.
//!
//! Certificates, keys and truststores are read and checked here, at load: a file that is
//! missing, unparsable, or whose key does not match its certificate is an error with the
//! document path, so a reload that names one is refused and the old certificate keeps
//! serving. The data plane only assembles what this module has checked into rustls
//! configurations (`portico_proxy::listener::tls`).

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use crate::Source;
use crate::diag::Report;
use crate::gateway::{RawDomain, RawListener, RawListenerTls, RawRoutingRule};
use crate::model::Api;

/// Longest certificate chain a truststore may hold, root included (AWS: 4).
pub const MAX_TRUST_CHAIN: usize = 4;
/// Routing-rule priorities are 1 to this (AWS).
pub const MAX_RULE_PRIORITY: u32 = 1_000_000;
/// Header conditions a routing rule may have (AWS).
pub const MAX_HEADER_CONDITIONS: usize = 2;

/// The crypto provider of every TLS endpoint in the binary.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A data-plane listener.
#[derive(Debug, Clone)]
pub struct Listener {
    /// The address to bind (port 0 picks one).
    pub addr: SocketAddr,
    /// TLS settings; `None` is cleartext HTTP/1.1 and h2c.
    pub tls: Option<ListenerTls>,
}

impl Listener {
    /// A cleartext listener.
    pub fn plain(addr: SocketAddr) -> Self {
        Self { addr, tls: None }
    }
}

/// A TLS listener's own certificate: what clients get when their SNI names no custom domain
/// (or when they send none).
#[derive(Debug, Clone)]
pub struct ListenerTls {
    /// The certificate chain and its key.
    pub certificate: Arc<CertifiedKey>,
    /// The TLS versions offered.
    pub security_policy: SecurityPolicy,
    /// Whether HTTP/3 is served on the same port over UDP.
    pub http3: bool,
}

/// AWS security policies, by the TLS versions they accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityPolicy {
    /// `TLS_1_2`: TLS 1.2 and 1.3 (the default).
    Tls12,
    /// `SecurityPolicy_TLS13_1_3_2025_09`: TLS 1.3 only.
    Tls13Only,
}

impl SecurityPolicy {
    /// The AWS name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tls12 => "TLS_1_2",
            Self::Tls13Only => "SecurityPolicy_TLS13_1_3_2025_09",
        }
    }

    /// Enhanced policies (`SecurityPolicy_*`).
    pub fn is_enhanced(self) -> bool {
        matches!(self, Self::Tls13Only)
    }
}

/// What STRICT checks (AWS endpoint access mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EndpointAccessMode {
    /// No check.
    #[default]
    Basic,
    /// The TLS SNI must name the request's Host, else 421.
    Strict,
}

/// How a custom domain picks the API for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RoutingMode {
    /// Base path mappings only (the default).
    #[default]
    ApiMappingOnly,
    /// Routing rules only.
    RoutingRuleOnly,
    /// Routing rules, then base path mappings when no rule matches.
    RoutingRuleThenApiMapping,
}

/// A custom domain name.
#[derive(Debug, Clone)]
pub struct Domain {
    /// Lower-case name; a wildcard starts with `*.` and covers one more label.
    pub name: String,
    /// Its certificate, chosen by SNI.
    pub certificate: Arc<CertifiedKey>,
    /// TLS versions offered on it.
    pub security_policy: SecurityPolicy,
    /// SNI/Host check.
    pub access_mode: EndpointAccessMode,
    /// Mutual TLS, when on.
    pub mutual_tls: Option<MutualTls>,
    /// How requests find their API.
    pub routing_mode: RoutingMode,
    /// Base path mappings, longest base path first (`""` is `(none)`, last).
    pub mappings: Vec<BasePathMapping>,
    /// Routing rules, lowest priority value first.
    pub rules: Vec<RoutingRule>,
}

/// A domain's mutual-TLS truststore.
#[derive(Debug, Clone)]
pub struct MutualTls {
    /// The trusted certificates (DER), as the bundle lists them.
    pub roots: Vec<CertificateDer<'static>>,
    /// Problems found in the bundle (AWS `truststoreWarnings`); the certificates they name are
    /// still loaded when rustls accepts them.
    pub warnings: Vec<String>,
    /// Identifies this set of trusted certificates (a hash of them, made when the bundle is
    /// read): a connection verified against one truststore is not admitted once the domain's
    /// truststore has changed.
    pub fingerprint: u64,
}

/// Domain + base path → API + stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasePathMapping {
    /// Segments without leading or trailing `/`; empty for `(none)`.
    pub base_path: String,
    /// The API's name.
    pub api: String,
    /// The stage.
    pub stage: String,
}

/// A routing rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingRule {
    /// Evaluation order, lowest first.
    pub priority: u32,
    /// Header conditions; each holds when any of its pairs matches.
    pub headers: Vec<Vec<HeaderGlob>>,
    /// The base-path condition: any of these base paths (empty: no condition).
    pub base_paths: Vec<String>,
    /// The API invoked.
    pub api: String,
    /// Its stage.
    pub stage: String,
    /// Route on the path without the matched base path.
    pub strip_base_path: bool,
}

/// A header name and a glob for its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderGlob {
    /// Lower-case header name.
    pub name: String,
    /// The value pattern.
    pub glob: Glob,
}

/// A routing-rule value glob: `*` only at the start, the end, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Glob {
    /// The whole value.
    Exact(String),
    /// `prefix*`.
    Prefix(String),
    /// `*suffix`.
    Suffix(String),
    /// `*infix*`.
    Contains(String),
    /// `*`.
    Any,
}

impl Glob {
    /// Parses a `value_glob`; `None` when a `*` stands anywhere but the ends.
    pub fn parse(s: &str) -> Option<Self> {
        let starts = s.starts_with('*');
        let inner = s.strip_prefix('*').unwrap_or(s);
        let ends = inner.ends_with('*');
        let inner = inner.strip_suffix('*').unwrap_or(inner);
        if inner.contains('*') {
            return None;
        }
        let inner = inner.to_owned();
        Some(match (starts, ends) {
            _ if inner.is_empty() && (starts || ends) => Self::Any,
            (false, false) => Self::Exact(inner),
            (false, true) => Self::Prefix(inner),
            (true, false) => Self::Suffix(inner),
            (true, true) => Self::Contains(inner),
        })
    }

    /// Whether `value` matches (case-sensitive, as AWS).
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact(v) => value == v,
            Self::Prefix(p) => value.starts_with(p.as_str()),
            Self::Suffix(s) => value.ends_with(s.as_str()),
            Self::Contains(c) => value.contains(c.as_str()),
            Self::Any => true,
        }
    }
}

/// Reads the listeners; their certificate files join `files` so that a changed one reloads.
pub(crate) fn listeners(
    report: &mut Report,
    file: &str,
    source: &dyn Source,
    raw: &[RawListener],
    files: &mut Vec<PathBuf>,
) -> Vec<Listener> {
    let mut out = Vec::new();
    for (i, l) in raw.iter().enumerate() {
        let path = format!("listeners[{i}]");
        let Ok(addr) = l.address.parse::<SocketAddr>() else {
            report.error(
                file,
                format!("{path}.address"),
                format!("{:?} is not an IP:PORT address", l.address),
            );
            continue;
        };
        let tls = l.tls.as_ref().and_then(|t| {
            let mut read = Reader {
                report,
                file,
                source,
                files,
            };
            listener_tls(&mut read, &format!("{path}.tls"), t)
        });
        out.push(Listener { addr, tls });
    }
    out
}

/// Reads `admin.tls`: a certificate, a key and a policy, like a listener's; HTTP/3 is
/// refused. Its files join `files`.
pub(crate) fn admin_tls(
    report: &mut Report,
    file: &str,
    source: &dyn Source,
    raw: &RawListenerTls,
    files: &mut Vec<PathBuf>,
) -> Option<ListenerTls> {
    if raw.http3 {
        report.error(
            file,
            "admin.tls.http3",
            "the admin listener serves HTTP/1.1 and HTTP/2 only",
        );
        return None;
    }
    let mut read = Reader {
        report,
        file,
        source,
        files,
    };
    listener_tls(&mut read, "admin.tls", raw)
}

fn listener_tls(read: &mut Reader<'_>, path: &str, raw: &RawListenerTls) -> Option<ListenerTls> {
    let security_policy = read.policy(path, raw.security_policy.as_deref());
    let certificate = read.certified_key(path, &raw.certificate, &raw.key, None)?;
    Some(ListenerTls {
        certificate,
        security_policy: security_policy?,
        http3: raw.http3,
    })
}

/// Reads the custom domains and checks their mappings against `apis`.
pub(crate) fn domains(
    report: &mut Report,
    file: &str,
    source: &dyn Source,
    raw: &[RawDomain],
    apis: &[Api],
    files: &mut Vec<PathBuf>,
) -> Vec<Domain> {
    let hosts: BTreeSet<&str> = apis
        .iter()
        .flat_map(|a| a.hosts.iter().map(String::as_str))
        .collect();
    let stages: HashMap<&str, BTreeSet<&str>> = apis
        .iter()
        .map(|a| {
            (
                a.name.as_str(),
                a.stages.iter().map(|s| s.name.as_str()).collect(),
            )
        })
        .collect();
    let target = |report: &mut Report, path: &str, api: &str, stage: &str| match stages.get(api) {
        None => report.error(file, path, format!("no API is named {api:?}")),
        Some(s) if !s.contains(stage) => {
            report.error(file, path, format!("API {api} has no stage {stage:?}"));
        }
        Some(_) => {}
    };
    let mut names = BTreeSet::new();
    let mut out = Vec::new();
    for (i, d) in raw.iter().enumerate() {
        let path = format!("domains[{i}]");
        let name = d.name.to_ascii_lowercase();
        if !domain_name_ok(&name) {
            report.error(
                file,
                format!("{path}.name"),
                format!(
                    "{:?} is not a domain name (labels of letters, digits and -, optionally starting with *.)",
                    d.name
                ),
            );
        }
        if !names.insert(name.clone()) {
            report.error(
                file,
                format!("{path}.name"),
                format!("domain {name} is declared twice"),
            );
        }
        if hosts.contains(name.as_str()) {
            report.error(
                file,
                format!("{path}.name"),
                format!(
                    "{name} is also in an API's hosts; a host is either an API's default endpoint or a custom domain"
                ),
            );
        }
        let access_mode = match d.endpoint_access_mode.as_deref() {
            None | Some("BASIC") => EndpointAccessMode::Basic,
            Some("STRICT") => EndpointAccessMode::Strict,
            Some(other) => {
                report.error(
                    file,
                    format!("{path}.endpoint_access_mode"),
                    format!("{other:?}: expected BASIC or STRICT"),
                );
                EndpointAccessMode::Basic
            }
        };
        let routing_mode = match d.routing_mode.as_deref() {
            None | Some("API_MAPPING_ONLY") => RoutingMode::ApiMappingOnly,
            Some("ROUTING_RULE_ONLY") => RoutingMode::RoutingRuleOnly,
            Some("ROUTING_RULE_THEN_API_MAPPING") => RoutingMode::RoutingRuleThenApiMapping,
            Some(other) => {
                report.error(
                    file,
                    format!("{path}.routing_mode"),
                    format!(
                        "{other:?}: expected API_MAPPING_ONLY, ROUTING_RULE_ONLY or ROUTING_RULE_THEN_API_MAPPING"
                    ),
                );
                RoutingMode::ApiMappingOnly
            }
        };
        let mut mappings = Vec::new();
        let mut seen_paths = BTreeSet::new();
        for (j, m) in d.base_path_mappings.iter().enumerate() {
            let mpath = format!("{path}.base_path_mappings[{j}]");
            let base_path = match m.base_path.as_deref() {
                None | Some("(none)") | Some("") => String::new(),
                Some(p) => {
                    if !base_path_ok(p) {
                        report.error(
                            file,
                            format!("{mpath}.base_path"),
                            format!(
                                "{p:?}: a base path is (none) or segments of letters, digits, ., _ and - separated by /"
                            ),
                        );
                    }
                    p.to_owned()
                }
            };
            if !seen_paths.insert(base_path.clone()) {
                report.error(
                    file,
                    format!("{mpath}.base_path"),
                    "another mapping of this domain has the same base path",
                );
            }
            target(report, &mpath, &m.api, &m.stage);
            mappings.push(BasePathMapping {
                base_path,
                api: m.api.clone(),
                stage: m.stage.clone(),
            });
        }
        // Longest first: `orders/v2` is tried before `orders`, and `(none)` last.
        mappings.sort_by_key(|m| std::cmp::Reverse(m.base_path.len()));
        let mut rules = Vec::new();
        let mut priorities = BTreeSet::new();
        for (j, r) in d.routing_rules.iter().enumerate() {
            let rpath = format!("{path}.routing_rules[{j}]");
            if !priorities.insert(r.priority) {
                report.error(
                    file,
                    format!("{rpath}.priority"),
                    format!("another rule of this domain has priority {}", r.priority),
                );
            }
            if let Some(rule) = routing_rule(report, file, &rpath, r) {
                target(
                    report,
                    &format!("{rpath}.actions[0].invoke_api"),
                    &rule.api,
                    &rule.stage,
                );
                rules.push(rule);
            }
        }
        rules.sort_by_key(|r| r.priority);
        match routing_mode {
            RoutingMode::ApiMappingOnly if !rules.is_empty() => report.warn(
                file,
                format!("{path}.routing_rules"),
                "routing_mode is API_MAPPING_ONLY: these rules are never evaluated",
            ),
            RoutingMode::RoutingRuleOnly if !mappings.is_empty() => report.warn(
                file,
                format!("{path}.base_path_mappings"),
                "routing_mode is ROUTING_RULE_ONLY: these mappings are never used",
            ),
            _ => {}
        }
        let mut read = Reader {
            report,
            file,
            source,
            files,
        };
        let security_policy = read.policy(&path, d.security_policy.as_deref());
        let certificate = read.certified_key(&path, &d.certificate, &d.key, Some(&name));
        let mutual_tls = d
            .mutual_tls
            .as_ref()
            .and_then(|m| read.truststore(&format!("{path}.mutual_tls.truststore"), &m.truststore));
        let (Some(certificate), Some(security_policy)) = (certificate, security_policy) else {
            continue;
        };
        out.push(Domain {
            name,
            certificate,
            security_policy,
            access_mode,
            mutual_tls,
            routing_mode,
            mappings,
            rules,
        });
    }
    out
}

fn routing_rule(
    report: &mut Report,
    file: &str,
    path: &str,
    raw: &RawRoutingRule,
) -> Option<RoutingRule> {
    let errors = report.errors().count();
    if !(1..=MAX_RULE_PRIORITY).contains(&raw.priority) {
        report.error(
            file,
            format!("{path}.priority"),
            format!("must be 1 to {MAX_RULE_PRIORITY}"),
        );
    }
    let mut headers = Vec::new();
    let mut base_paths: Option<Vec<String>> = None;
    for (k, c) in raw.conditions.iter().enumerate() {
        let cpath = format!("{path}.conditions[{k}]");
        match (&c.match_headers, &c.match_base_paths) {
            (Some(h), None) => {
                if h.any_of.is_empty() {
                    report.error(file, format!("{cpath}.match_headers.any_of"), "is empty");
                }
                let mut alternatives = Vec::new();
                for (n, pair) in h.any_of.iter().enumerate() {
                    let hpath = format!("{cpath}.match_headers.any_of[{n}]");
                    if http_token_ok(&pair.header) {
                        match Glob::parse(&pair.value_glob) {
                            Some(glob) => alternatives.push(HeaderGlob {
                                name: pair.header.to_ascii_lowercase(),
                                glob,
                            }),
                            None => report.error(
                                file,
                                format!("{hpath}.value_glob"),
                                format!(
                                    "{:?}: a * may only stand at the start or the end",
                                    pair.value_glob
                                ),
                            ),
                        }
                    } else {
                        report.error(
                            file,
                            format!("{hpath}.header"),
                            format!("{:?} is not a header name", pair.header),
                        );
                    }
                }
                headers.push(alternatives);
            }
            (None, Some(b)) => {
                if base_paths.is_some() {
                    report.error(file, &cpath, "a rule may have only one match_base_paths");
                }
                if b.any_of.is_empty() {
                    report.error(file, format!("{cpath}.match_base_paths.any_of"), "is empty");
                }
                for (n, p) in b.any_of.iter().enumerate() {
                    if !base_path_ok(p) {
                        report.error(
                            file,
                            format!("{cpath}.match_base_paths.any_of[{n}]"),
                            format!("{p:?} is not a base path"),
                        );
                    }
                }
                base_paths = Some(b.any_of.clone());
            }
            _ => report.error(
                file,
                &cpath,
                "a condition holds exactly one of match_headers and match_base_paths",
            ),
        }
    }
    if headers.len() > MAX_HEADER_CONDITIONS {
        report.error(
            file,
            format!("{path}.conditions"),
            format!("a rule may have at most {MAX_HEADER_CONDITIONS} match_headers conditions"),
        );
    }
    let [action] = raw.actions.as_slice() else {
        report.error(
            file,
            format!("{path}.actions"),
            "a rule has exactly one action (invoke_api)",
        );
        return None;
    };
    (report.errors().count() == errors).then(|| RoutingRule {
        priority: raw.priority,
        headers,
        base_paths: base_paths.unwrap_or_default(),
        api: action.invoke_api.api.clone(),
        stage: action.invoke_api.stage.clone(),
        strip_base_path: action.invoke_api.strip_base_path,
    })
}

/// Reads certificate material through the source, reporting under the gateway file.
struct Reader<'a> {
    report: &'a mut Report,
    file: &'a str,
    source: &'a dyn Source,
    files: &'a mut Vec<PathBuf>,
}

impl Reader<'_> {
    fn read(&mut self, path: &str, name: &str) -> Option<String> {
        self.files.extend(self.source.path(name));
        self.source
            .read(name)
            .map_err(|e| self.report.error(self.file, path, e))
            .ok()
    }

    fn policy(&mut self, path: &str, name: Option<&str>) -> Option<SecurityPolicy> {
        match name {
            None | Some("TLS_1_2") => Some(SecurityPolicy::Tls12),
            Some("SecurityPolicy_TLS13_1_3_2025_09") => Some(SecurityPolicy::Tls13Only),
            Some("TLS_1_0") => {
                self.report.error(
                    self.file,
                    format!("{path}.security_policy"),
                    "TLS_1_0 is refused: TLS 1.0 and 1.1 are broken and not offered; use TLS_1_2",
                );
                None
            }
            Some(other) => {
                self.report.error(
                    self.file,
                    format!("{path}.security_policy"),
                    format!("{other:?}: expected TLS_1_2 or SecurityPolicy_TLS13_1_3_2025_09"),
                );
                None
            }
        }
    }

    /// A certificate chain and its key, checked to belong together; `domain` is warned about
    /// when the certificate does not cover it.
    fn certified_key(
        &mut self,
        path: &str,
        cert_file: &str,
        key_file: &str,
        domain: Option<&str>,
    ) -> Option<Arc<CertifiedKey>> {
        let cert_path = format!("{path}.certificate");
        let key_path = format!("{path}.key");
        let cert_pem = self.read(&cert_path, cert_file)?;
        let key_pem = self.read(&key_path, key_file)?;
        let chain: Vec<CertificateDer<'static>> =
            match CertificateDer::pem_slice_iter(cert_pem.as_bytes()).collect() {
                Ok(c) => c,
                Err(e) => {
                    self.report.error(
                        self.file,
                        &cert_path,
                        format!("{cert_file}: not a PEM certificate chain: {e}"),
                    );
                    return None;
                }
            };
        if chain.is_empty() {
            self.report.error(
                self.file,
                &cert_path,
                format!("{cert_file} holds no CERTIFICATE block"),
            );
            return None;
        }
        let key = match PrivateKeyDer::from_pem_slice(key_pem.as_bytes()) {
            Ok(k) => k,
            Err(e) => {
                self.report.error(
                    self.file,
                    &key_path,
                    format!("{key_file}: not a PEM private key: {e}"),
                );
                return None;
            }
        };
        let provider = crypto_provider();
        let signing = match provider.key_provider.load_private_key(key) {
            Ok(k) => k,
            Err(e) => {
                self.report.error(
                    self.file,
                    &key_path,
                    format!("{key_file}: unusable private key: {e}"),
                );
                return None;
            }
        };
        let certified = CertifiedKey::new(chain, signing);
        if let Err(e) = certified.keys_match() {
            self.report.error(
                self.file,
                &key_path,
                format!("{key_file} is not the key of {cert_file}: {e}"),
            );
            return None;
        }
        match x509_parser::parse_x509_certificate(&certified.cert[0]) {
            Ok((_, leaf)) => {
                if !leaf.validity().is_valid() {
                    self.report.warn(
                        self.file,
                        &cert_path,
                        format!("{cert_file} is outside its validity period"),
                    );
                }
                if let Some(domain) = domain
                    && !covers(&leaf, domain)
                {
                    self.report.warn(
                        self.file,
                        &cert_path,
                        format!(
                            "{cert_file} does not name {domain} among its subject alternative names"
                        ),
                    );
                }
            }
            Err(e) => self.report.error(
                self.file,
                &cert_path,
                format!("{cert_file}: unreadable certificate: {e}"),
            ),
        }
        Some(Arc::new(certified))
    }

    /// A truststore bundle, with AWS-style warnings.
    fn truststore(&mut self, path: &str, name: &str) -> Option<MutualTls> {
        let pem = self.read(path, name)?;
        let roots: Vec<CertificateDer<'static>> =
            match CertificateDer::pem_slice_iter(pem.as_bytes()).collect() {
                Ok(c) => c,
                Err(e) => {
                    self.report
                        .error(self.file, path, format!("{name}: not a PEM bundle: {e}"));
                    return None;
                }
            };
        if roots.is_empty() {
            self.report.error(
                self.file,
                path,
                format!("{name} holds no CERTIFICATE block"),
            );
            return None;
        }
        // What `serve` does with the bundle: a truststore rustls can take no anchor from
        // refuses every client, so it is an error here too, not a warning.
        let (usable, _) =
            rustls::RootCertStore::empty().add_parsable_certificates(roots.iter().cloned());
        if usable == 0 {
            self.report.error(
                self.file,
                path,
                format!("{name} holds no usable CA certificate (none can be a trust anchor)"),
            );
            return None;
        }
        let warnings = truststore_warnings(&roots);
        for w in &warnings {
            self.report.warn(self.file, path, format!("{name}: {w}"));
        }
        let fingerprint = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            for root in &roots {
                root.as_ref().hash(&mut h);
            }
            h.finish()
        };
        Some(MutualTls {
            roots,
            warnings,
            fingerprint,
        })
    }
}

/// AWS `truststoreWarnings`: certificates that cannot be parsed, are expired, are not CAs,
/// or do not chain to a root of the bundle within [`MAX_TRUST_CHAIN`] certificates.
fn truststore_warnings(roots: &[CertificateDer<'_>]) -> Vec<String> {
    let mut warnings = Vec::new();
    let parsed: Vec<_> = roots
        .iter()
        .enumerate()
        .filter_map(|(i, der)| match x509_parser::parse_x509_certificate(der) {
            Ok((_, c)) => Some((i, c)),
            Err(e) => {
                warnings.push(format!("certificate {i} cannot be parsed: {e}"));
                None
            }
        })
        .collect();
    for (i, c) in &parsed {
        let subject = c.subject().to_string();
        if !c.validity().is_valid() {
            warnings.push(format!(
                "certificate {i} ({subject}) is outside its validity period"
            ));
        }
        if !c.is_ca() {
            warnings.push(format!(
                "certificate {i} ({subject}) is not a CA certificate"
            ));
        }
        // Walk issuers inside the bundle up to a self-signed root.
        let mut current = c;
        let mut length = 1;
        loop {
            if current.subject() == current.issuer() {
                break;
            }
            let Some((_, issuer)) = parsed.iter().find(|(_, p)| p.subject() == current.issuer())
            else {
                warnings.push(format!(
                    "certificate {i} ({subject}): its issuer {} is not in the truststore",
                    current.issuer()
                ));
                break;
            };
            current = issuer;
            length += 1;
            if length > MAX_TRUST_CHAIN {
                warnings.push(format!(
                    "certificate {i} ({subject}): the chain to its root is longer than {MAX_TRUST_CHAIN}"
                ));
                break;
            }
        }
    }
    warnings
}

/// Whether a certificate's subject alternative names cover `domain` (`*.a.b` in either).
fn covers(cert: &x509_parser::certificate::X509Certificate<'_>, domain: &str) -> bool {
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return false;
    };
    san.value.general_names.iter().any(|n| match n {
        x509_parser::extensions::GeneralName::DNSName(dns) => {
            let dns = dns.to_ascii_lowercase();
            dns == domain || wildcard_covers(&dns, domain)
        }
        _ => false,
    })
}

/// `*.example.com` covers `a.example.com`, not `example.com` nor `a.b.example.com`.
pub fn wildcard_covers(pattern: &str, name: &str) -> bool {
    let Some(suffix) = pattern.strip_prefix("*.") else {
        return false;
    };
    name.strip_suffix(suffix)
        .and_then(|head| head.strip_suffix('.'))
        .is_some_and(|label| !label.is_empty() && !label.contains('.'))
}

fn domain_name_ok(name: &str) -> bool {
    let bare = name.strip_prefix("*.").unwrap_or(name);
    !bare.is_empty()
        && bare.len() <= 253
        && bare.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

fn base_path_ok(p: &str) -> bool {
    !p.is_empty()
        && p.split('/').all(|seg| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

fn http_token_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_follow_aws() {
        let g = |s| Glob::parse(s).unwrap();
        assert!(g("a*").matches("alpha") && !g("a*").matches("beta"));
        assert!(g("*a").matches("beta") && !g("*a").matches("alpha1"));
        assert!(g("*ph*").matches("alpha") && !g("*ph*").matches("beta"));
        assert!(g("World").matches("World") && !g("World").matches("world"));
        assert!(g("*").matches("anything"));
        assert_eq!(Glob::parse("a*b"), None);
    }

    #[test]
    fn wildcards_cover_one_label() {
        assert!(wildcard_covers("*.example.com", "a.example.com"));
        assert!(!wildcard_covers("*.example.com", "example.com"));
        assert!(!wildcard_covers("*.example.com", "a.b.example.com"));
        assert!(!wildcard_covers("example.com", "a.example.com"));
    }

    #[test]
    fn names_and_paths() {
        assert!(domain_name_ok("api.example.com") && domain_name_ok("*.example.com"));
        assert!(!domain_name_ok("a..b") && !domain_name_ok("*") && !domain_name_ok("-a.b"));
        assert!(base_path_ok("v1") && base_path_ok("orders/v2"));
        assert!(!base_path_ok("/v1") && !base_path_ok("v1/") && !base_path_ok("a b"));
    }
}

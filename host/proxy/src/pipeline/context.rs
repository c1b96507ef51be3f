//! The request context: API Gateway's `$context`, plus the method request's parameters, as
//! mapping expressions and templates see them.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::request::Parts;
use portico_config::context_var::ContextVar;
use portico_config::mapping::ParamSource;
use portico_config::template::Var;

use crate::phase::traffic::KeyRt;
use crate::snapshot::StageRt;

/// What a request carries through the pipeline.
#[derive(Clone, Copy)]
pub struct RequestContext<'a> {
    /// `$context.requestId`.
    pub request_id: &'a str,
    /// The method request head.
    pub parts: &'a Parts,
    /// The address the connection comes from.
    pub peer: SocketAddr,
    /// The client's address (`$context.identity.sourceIp`, `aws:SourceIp`): the peer, or the
    /// address `X-Forwarded-For` gives when the peer is a trusted proxy.
    pub source_ip: IpAddr,
    /// `$context.protocol`: `HTTP/1.1` or `HTTP/2.0`.
    pub protocol: &'static str,
    /// When the request arrived: `$context.requestTime` and `requestTimeEpoch`, formatted only
    /// when read.
    pub arrived: SystemTime,
    /// `$context.apiId`.
    pub api: &'a str,
    /// The stage, once resolved.
    pub stage: Option<&'a StageRt>,
    /// The path inside the stage: what the API's router matches (after the stage segment, or
    /// after a custom domain's base path); empty for the stage root.
    pub in_stage: &'a str,
    /// `$context.customDomain.basePathMatched`, when the request came through a custom domain.
    pub base_path_matched: Option<&'a str>,
    /// The TLS handshake, on TLS connections.
    pub tls: Option<&'a crate::listener::tls::TlsInfo>,
    /// `$context.resourcePath`, once routed.
    pub resource_path: &'a str,
    /// Path parameters (raw values).
    pub params: &'a [(&'a str, &'a str)],
    /// `$context.error.*` for gateway responses: (response type, message).
    pub error: Option<(&'a str, &'a str)>,
    /// `$context.error.validationErrorString`: why request validation failed.
    pub validation_error: Option<&'a str>,
    /// What the authorizer decided (`$context.authorizer.*`), once it has run.
    pub authorizer: Option<&'a Authorized>,
    /// The request's API key, once checked: `$context.identity.apiKey` and `apiKeyId`.
    pub api_key: Option<&'a KeyRt>,
    /// The request body as the built-in validator parsed it, so the request template reads it
    /// without parsing it again; `None` once anything (a mapper) replaced the body.
    pub body_json: Option<&'a serde_json::Value>,
}

/// What access control let through: `$context.authorizer.*` (a Lambda authorizer's principal
/// and context, a JWT's claims and scopes) or `$context.identity.*` (a SigV4 caller).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authorized {
    /// The principal.
    pub principal_id: String,
    /// Context values, stringified.
    pub context: Vec<(String, String)>,
    /// The API key to meter the request under (`usageIdentifierKey`, key source AUTHORIZER).
    pub usage_identifier_key: Option<String>,
    /// A JWT authorizer's claims (`$context.authorizer.claims.<name>`), stringified; shared
    /// with the decision cache, so a cached token costs no copy.
    pub claims: Option<Arc<[(String, String)]>>,
    /// A JWT's scopes.
    pub scopes: Arc<[String]>,
    /// The SigV4 caller of an `AWS_IAM` method.
    pub iam: Option<IamCaller>,
}

/// The caller of an `AWS_IAM` method.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IamCaller {
    /// `$context.identity.accessKey`.
    pub access_key: String,
    /// `$context.identity.userArn`.
    pub user_arn: String,
    /// `$context.identity.user` and `caller`.
    pub user: String,
    /// `$context.identity.accountId`.
    pub account_id: String,
}

/// The client's address: the peer, unless it is a proxy `trust` believes, in which case the
/// address `X-Forwarded-For` gives, walking back from the right one trusted hop at a time.
pub fn client_ip(
    trust: &portico_config::ClientIpTrust,
    peer: IpAddr,
    headers: &http::HeaderMap,
) -> IpAddr {
    if trust.trusted_proxies.is_empty() && trust.trusted_hops == 0 {
        return peer;
    }
    // Every entry, left to right; the walk goes from the right and stops at one that does not
    // parse, so a forged prefix cannot hide the hops the proxies appended.
    let hops: Vec<Option<IpAddr>> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().parse().ok())
        .collect();
    let mut client = peer;
    for (walked, hop) in hops.iter().rev().enumerate() {
        let trusted = if trust.trusted_hops > 0 {
            walked < trust.trusted_hops as usize
        } else {
            trust.trusted_proxies.iter().any(|n| n.contains(&client))
        };
        let Some(hop) = hop.filter(|_| trusted) else {
            break;
        };
        client = hop;
    }
    client
}

/// A request id (`$context.requestId`, `x-amzn-RequestId`): a random UUID, formatted into a
/// fixed buffer, so making one allocates nothing.
pub struct RequestId([u8; uuid::fmt::Hyphenated::LENGTH]);

impl RequestId {
    /// A new random id.
    pub fn new() -> Self {
        let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
        uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
        Self(buf)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Always ASCII: written by `encode_lower` above.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

/// `$context.requestTime`: `21/Nov/2026:19:42:52 +0000`.
pub fn clf_time(t: SystemTime) -> String {
    let fmt = time::macros::format_description!(
        "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
    );
    time::OffsetDateTime::from(t)
        .format(&fmt)
        .unwrap_or_default()
}

impl RequestContext<'_> {
    /// The request path without its first segment when that segment is the stage: `/test/a//b`
    /// → `/a//b`, `/test` → `/`. Not decoded. (Lambda 1.0 `path`, HTTP API `$request.path`.)
    pub fn path_in_stage(&self) -> &str {
        match (self.stage, self.in_stage) {
            (None, _) => self.parts.uri.path(),
            (Some(_), "") => "/",
            (Some(_), rest) => rest,
        }
    }

    /// The client certificate of a mutual-TLS connection.
    pub fn client_cert(&self) -> Option<&Arc<crate::listener::tls::ClientCert>> {
        self.tls?.client_cert.as_ref()
    }

    /// The headers with text values, as owned pairs (what plugins and template engines take).
    pub fn header_pairs(&self) -> Vec<(String, String)> {
        self.parts
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect()
    }

    /// The query-string parameters, decoded, in order, as owned pairs.
    pub fn query_pair_list(&self) -> Vec<(String, String)> {
        self.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// The path parameters as owned pairs.
    pub fn path_param_pairs(&self) -> Vec<(String, String)> {
        self.params
            .iter()
            .map(|&(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// The stage variables as owned pairs (what plugins and template engines take).
    pub fn stage_variable_pairs(&self) -> Vec<(String, String)> {
        self.stage
            .map(|s| {
                s.variables
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The SigV4 caller, on `AWS_IAM` methods.
    pub fn iam(&self) -> Option<&IamCaller> {
        self.authorizer.and_then(|a| a.iam.as_ref())
    }

    /// This request's method ARN:
    /// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path below the stage}`
    /// (the path as received, without its leading `/`). Empty before the stage is known.
    pub fn method_arn(&self) -> String {
        let Some(stage) = self.stage else {
            return String::new();
        };
        let path = self.parts.uri.path();
        let below = path
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(stage.name.as_str()))
            .unwrap_or(path);
        let below = below.strip_prefix('/').unwrap_or(below);
        let method = self.parts.method.as_str();
        let mut arn =
            String::with_capacity(stage.arn_prefix.len() + method.len() + 1 + below.len());
        arn.push_str(&stage.arn_prefix);
        arn.push_str(method);
        arn.push('/');
        arn.push_str(below);
        arn
    }

    /// `$context.requestTime` (CLF).
    pub fn request_time(&self) -> String {
        clf_time(self.arrived)
    }

    /// `$context.requestTimeEpoch`: milliseconds since the Unix epoch.
    pub fn request_time_epoch(&self) -> u128 {
        self.arrived
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    }

    /// The `Host` of the request (`:authority` for HTTP/2), without port.
    pub fn domain_name(&self) -> &str {
        let host = self
            .parts
            .uri
            .authority()
            .map(|a| a.host())
            .or_else(|| {
                self.parts
                    .headers
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
            })
            .unwrap_or("");
        strip_port(host)
    }

    /// The value of a `$context` variable.
    pub fn context_var(&self, var: &ContextVar) -> Option<Cow<'_, str>> {
        use ContextVar as C;
        let v: Cow<'_, str> = match var {
            C::RequestId => self.request_id.into(),
            C::ApiId => self.api.into(),
            C::Stage => self.stage.map(|s| s.name.as_str()).unwrap_or("").into(),
            C::DeploymentId => self.stage.map_or("", |s| s.deployment_id.as_str()).into(),
            C::IsCanaryRequest => {
                if self.stage.is_some_and(|s| s.is_canary) {
                    "true"
                } else {
                    "false"
                }
            }
            .into(),
            C::ResourcePath => self.resource_path.into(),
            C::HttpMethod => self.parts.method.as_str().into(),
            C::Path => self.parts.uri.path().into(),
            C::Protocol => self.protocol.into(),
            C::RequestTime => self.request_time().into(),
            C::RequestTimeEpoch => self.request_time_epoch().to_string().into(),
            C::DomainName => self.domain_name().into(),
            C::DomainPrefix => self.domain_name().split('.').next().unwrap_or("").into(),
            C::SourceIp => self.source_ip.to_string().into(),
            C::BasePathMatched => self.base_path_matched.unwrap_or("").into(),
            C::TlsVersion => self.tls.map_or("", |t| t.version).into(),
            C::CipherSuite => self.tls.map_or("", |t| t.cipher_suite).into(),
            C::ClientCertPem => self.client_cert()?.pem.as_str().into(),
            C::ClientCertSubjectDn => self.client_cert()?.subject_dn.as_str().into(),
            C::ClientCertIssuerDn => self.client_cert()?.issuer_dn.as_str().into(),
            C::ClientCertSerialNumber => self.client_cert()?.serial_number.as_str().into(),
            C::ClientCertNotBefore => self.client_cert()?.not_before.as_str().into(),
            C::ClientCertNotAfter => self.client_cert()?.not_after.as_str().into(),
            C::AccountId => self.stage.map_or("", |s| s.account_id.as_str()).into(),
            C::AccessKey => self.iam().map_or("", |i| &i.access_key).into(),
            C::UserArn => self.iam().map_or("", |i| &i.user_arn).into(),
            C::User => self.iam().map_or("", |i| &i.user).into(),
            C::IdentityAccountId => self.iam().map_or("", |i| &i.account_id).into(),
            C::UserAgent => self.header("user-agent").unwrap_or("").into(),
            C::ApiKey => self.api_key.map_or("", |k| &k.value).into(),
            C::ApiKeyId => self.api_key.map_or("", |k| &k.id).into(),
            C::ErrorMessage => self.error.map(|e| e.1).unwrap_or("").into(),
            C::ErrorMessageString => match self.error {
                Some((_, m)) if !m.is_empty() => serde_json::Value::from(m).to_string().into(),
                _ => "null".into(),
            },
            C::ErrorResponseType => self.error.map(|e| e.0).unwrap_or("").into(),
            C::ValidationErrorString => self.validation_error.unwrap_or("").into(),
            C::PrincipalId => self.authorizer?.principal_id.as_str().into(),
            C::AuthorizerClaim(claim) => {
                let claims = self.authorizer?.claims.as_ref()?;
                return claims
                    .iter()
                    .find(|(k, _)| k == claim)
                    .map(|(_, v)| v.as_str().into());
            }
            C::AuthorizerContext(key) => self
                .authorizer?
                .context
                .iter()
                .find(|(k, _)| k == key)?
                .1
                .as_str()
                .into(),
            C::Other(_) => return None,
        };
        Some(v)
    }

    /// [`context_var`](Self::context_var) by name, for names known only at run time (the
    /// roots a VTL template reads).
    pub fn context_var_named(&self, name: &str) -> Option<Cow<'_, str>> {
        self.context_var(&ContextVar::parse(name))
    }

    /// The last value of a request header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.parts
            .headers
            .get_all(name)
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
    }

    /// Decoded query-string pairs.
    pub fn query_pairs(&self) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
        form_urlencoded::parse(self.parts.uri.query().unwrap_or("").as_bytes())
    }

    /// The last value of a query-string parameter, decoded.
    pub fn query_last(&self, name: &str) -> Option<Cow<'_, str>> {
        self.query_pairs()
            .filter(|(k, _)| k == name)
            .last()
            .map(|(_, v)| v)
    }

    /// A stage variable.
    pub fn stage_var(&self, name: &str) -> Option<&str> {
        self.stage
            .and_then(|s| s.variables.get(name))
            .map(String::as_str)
    }

    /// A path parameter's raw value.
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    /// Evaluates a request-side mapping source.
    pub fn param<'s>(&'s self, source: &'s ParamSource) -> Option<Cow<'s, str>> {
        match source {
            ParamSource::Static(v) => Some(v.as_str().into()),
            ParamSource::Path(n) => self.path_param(n).map(Into::into),
            ParamSource::Query(n) => self.query_last(n),
            ParamSource::MultiQuery(n) => {
                let all: Vec<_> = self
                    .query_pairs()
                    .filter(|(k, _)| k == n)
                    .map(|(_, v)| v)
                    .collect();
                (!all.is_empty()).then(|| all.join(",").into())
            }
            ParamSource::Header(n) => self.header(n).map(Into::into),
            ParamSource::MultiHeader(n) => {
                let all: Vec<_> = self
                    .parts
                    .headers
                    .get_all(n.as_str())
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect();
                (!all.is_empty()).then(|| all.join(",").into())
            }
            ParamSource::StageVariable(n) => self.stage_var(n).map(Into::into),
            ParamSource::Context(n) => self.context_var(n),
            // The body is not part of the context: `phase::mapping::request_param` reads it.
            ParamSource::RequestBody
            | ParamSource::RequestBodyPath(_)
            | ParamSource::ResponseHeader(_)
            | ParamSource::MultiResponseHeader(_)
            | ParamSource::ResponseBody
            | ParamSource::ResponseBodyPath(_) => None,
        }
    }

    /// The request head as plugins see it.
    pub fn plugin_head(&self) -> portico_runtime::RequestHead {
        portico_runtime::RequestHead {
            request_id: self.request_id.to_owned(),
            method: self.parts.method.as_str().to_owned(),
            path: self.parts.uri.path().to_owned(),
            resource_path: self.resource_path.to_owned(),
            stage: self.stage.map(|s| s.name.clone()).unwrap_or_default(),
            api_id: self.api.to_owned(),
            source_ip: self.source_ip.to_string(),
            headers: self.header_pairs(),
            query: self.query_pair_list(),
            path_parameters: self.path_param_pairs(),
            stage_variables: self.stage_variable_pairs(),
        }
    }

    /// The per-call context of a plugin call serving this request: its id and, on a
    /// mutual-TLS request, its client certificate (`portico:plugin/request-tls`).
    pub fn plugin_call(&self) -> portico_runtime::CallContext {
        portico_runtime::CallContext::new(self.request_id)
            .with_client_cert(self.client_cert().cloned())
    }

    /// Renders a text-template variable into `out`.
    pub fn render_var(&self, var: &Var, out: &mut String) {
        let value = match var {
            Var::Context(n) => self.context_var(n),
            Var::StageVariable(n) => self.stage_var(n).map(Cow::from),
            Var::InputParam(n) => self
                .path_param(n)
                .map(Cow::from)
                .or_else(|| self.query_last(n))
                .or_else(|| self.header(n).map(Cow::from)),
            Var::PathParam(n) => self.path_param(n).map(Cow::from),
        };
        if let Some(v) = value {
            out.push_str(&v);
        }
    }
}

/// `host:port` → `host`; IPv6 literals keep their brackets.
pub fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(v: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_hops() {
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        let h = xff("198.51.100.1, 203.0.113.7, 10.0.0.9");
        let none = portico_config::ClientIpTrust::default();
        assert_eq!(client_ip(&none, peer, &h), peer);
        let proxies = portico_config::ClientIpTrust {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            trusted_hops: 0,
        };
        // 10.0.0.2 and 10.0.0.9 are ours; 203.0.113.7 is the first address that is not.
        assert_eq!(
            client_ip(&proxies, peer, &h),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        let one_hop = portico_config::ClientIpTrust {
            trusted_proxies: Vec::new(),
            trusted_hops: 1,
        };
        assert_eq!(
            client_ip(&one_hop, peer, &h),
            "10.0.0.9".parse::<IpAddr>().unwrap()
        );
        // An untrusted peer's header is ignored, and garbage stops the walk.
        let outside: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(client_ip(&proxies, outside, &h), outside);
        assert_eq!(client_ip(&proxies, peer, &xff("junk")), peer);
        assert_eq!(
            client_ip(&proxies, peer, &xff("junk, 203.0.113.7")),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
    }
}

//! `x-amazon-apigateway-authorizer` read into an [`AuthorizerDef`]:
//! - `token` / `request`: a Lambda authorizer, the plugin standing in for the function, with
//!   its identity sources, result-cache TTL, token validation pattern and (HTTP APIs) simple
//!   responses;
//! - `jwt`: an HTTP API JWT authorizer (`jwtConfiguration`), keys from the issuer's discovery
//!   document or `x-portico-jwks-uri`;
//! - `cognito_user_pools`: a REST Cognito authorizer, its issuer derived from `providerARNs`.

use std::time::Duration;

use serde_json::{Map, Value};

use super::context::{Cx, str_field};
use super::lambda::lambda_function_name;
use crate::diag::DocPath;
use crate::mapping::{ParamSource, Side};
use crate::model::{AuthorizerDef, AuthorizerKind, JwtAuthorizer, JwtIssuer, LambdaAuthorizer};

/// Reads the authorizer of the security scheme `name`; `None` when anything was wrong
/// (reported).
pub(super) fn parse_authorizer(
    cx: &mut Cx<'_>,
    path: &DocPath,
    name: &str,
    value: &Value,
) -> Option<AuthorizerDef> {
    let Some(obj) = value.as_object() else {
        cx.error(path, "must be a mapping");
        return None;
    };
    let errors_before = cx.error_count();
    let kind = match str_field(cx, path, obj, "type")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("token") => Kind::Token,
        Some("request") => Kind::Request,
        Some("jwt") => Kind::Jwt,
        Some("cognito_user_pools") => Kind::Cognito,
        Some(other) => {
            cx.error(
                &path.key("type"),
                format!("authorizer type {other} is not supported (token, request, jwt and cognito_user_pools are)"),
            );
            return None;
        }
        None => {
            cx.error(path, "the authorizer has no `type`");
            return None;
        }
    };
    for key in obj.keys() {
        let known = match key.as_str() {
            "type" | "identitySource" => true,
            "authorizerUri" => matches!(kind, Kind::Token | Kind::Request),
            "authorizerResultTtlInSeconds" => true,
            "identityValidationExpression" => {
                matches!(kind, Kind::Token | Kind::Request | Kind::Cognito)
            }
            "authorizerPayloadFormatVersion" | "enableSimpleResponses" => kind == Kind::Request,
            "jwtConfiguration" | "x-portico-jwks-uri" | "x-portico-jwt-secret-env" => {
                kind == Kind::Jwt
            }
            "x-portico-jwks-refetch-seconds" => matches!(kind, Kind::Jwt | Kind::Cognito),
            "providerARNs" => kind == Kind::Cognito,
            "authorizerCredentials" => {
                cx.warn(
                    &path.key(key),
                    "authorizerCredentials (IAM roles) do not apply and are ignored",
                );
                true
            }
            _ => false,
        };
        if !known {
            cx.error(
                &path.key(key),
                format!("{key} is not supported in a {} authorizer", kind.name()),
            );
        }
    }
    let identity_sources = identity_sources(cx, path, obj, kind);
    let def = match kind {
        Kind::Token | Kind::Request => {
            let lambda = lambda(cx, path, obj, kind == Kind::Token);
            let ttl = ttl(cx, path, obj);
            if ttl > Duration::ZERO && identity_sources.is_empty() {
                cx.error(&path.key("identitySource"), "an identity source is required when result caching is on (authorizerResultTtlInSeconds > 0)");
            }
            lambda.map(|l| (AuthorizerKind::Lambda(l), ttl))
        }
        // HTTP API JWT authorizers declare no TTL: caching is opt-in there.
        Kind::Jwt => {
            let ttl = if obj.contains_key("authorizerResultTtlInSeconds") {
                ttl(cx, path, obj)
            } else {
                Duration::ZERO
            };
            jwt(cx, path, obj).map(|j| (AuthorizerKind::Jwt(j), ttl))
        }
        Kind::Cognito => {
            let ttl = ttl(cx, path, obj);
            cognito(cx, path, obj).map(|j| (AuthorizerKind::Jwt(j), ttl))
        }
    };
    if cx.error_count() > errors_before {
        return None;
    }
    let (kind, ttl) = def?;
    Some(AuthorizerDef {
        name: name.to_owned(),
        kind,
        identity_sources,
        ttl,
    })
}

/// The declared `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Token,
    Request,
    Jwt,
    Cognito,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Token => "TOKEN",
            Kind::Request => "REQUEST",
            Kind::Jwt => "JWT",
            Kind::Cognito => "COGNITO_USER_POOLS",
        }
    }
}

/// `identitySource`: REST mapping expressions (`method.request.header.Auth`), or HTTP API
/// selection expressions (`$request.header.Auth`), comma-separated.
fn identity_sources(
    cx: &mut Cx<'_>,
    path: &DocPath,
    obj: &Map<String, Value>,
    kind: Kind,
) -> Vec<ParamSource> {
    let default_source = match kind {
        Kind::Token | Kind::Cognito => Some("method.request.header.Authorization"),
        Kind::Jwt => Some("$request.header.Authorization"),
        Kind::Request => None,
    };
    let text = match obj.get("identitySource") {
        // HTTP APIs write a list.
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        _ => str_field(cx, path, obj, "identitySource")
            .or(default_source)
            .unwrap_or("")
            .to_owned(),
    };
    let mut out = Vec::new();
    for src in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let expr = http_api_source(src);
        match ParamSource::parse(&expr, Side::Request) {
            Ok(ParamSource::Static(_)) | Err(_) => {
                cx.error(&path.key("identitySource"), format!("{src} is not an identity source (method.request.header|querystring.NAME, stageVariables.NAME, context.NAME, or $request.header|querystring.NAME)"))
            }
            Ok(s) => out.push(s),
        }
    }
    if matches!(kind, Kind::Token | Kind::Cognito | Kind::Jwt)
        && !matches!(out.as_slice(), [ParamSource::Header(_)])
    {
        cx.error(
            &path.key("identitySource"),
            format!("a {} authorizer takes exactly one header, e.g. method.request.header.Authorization", kind.name()),
        );
    }
    out
}

/// An HTTP API identity source (`$request.header.X`, `$request.querystring.X`, `$context.X`,
/// `$stageVariables.X`) as the REST mapping expression that means the same.
fn http_api_source(src: &str) -> String {
    if let Some(n) = src.strip_prefix("$request.header.") {
        format!("method.request.header.{n}")
    } else if let Some(n) = src.strip_prefix("$request.querystring.") {
        format!("method.request.querystring.{n}")
    } else if let Some(rest) = src.strip_prefix('$') {
        rest.to_owned()
    } else {
        src.to_owned()
    }
}

/// `authorizerResultTtlInSeconds`: default 300, at most 3600.
fn ttl(cx: &mut Cx<'_>, path: &DocPath, obj: &Map<String, Value>) -> Duration {
    let secs = match obj.get("authorizerResultTtlInSeconds") {
        None => 300,
        Some(v) => match v.as_u64() {
            Some(t) if t <= 3600 => t,
            _ => {
                cx.error(
                    &path.key("authorizerResultTtlInSeconds"),
                    "must be an integer from 0 to 3600",
                );
                0
            }
        },
    };
    Duration::from_secs(secs)
}

/// A TOKEN or REQUEST authorizer's plugin, validation pattern and response style.
fn lambda(
    cx: &mut Cx<'_>,
    path: &DocPath,
    obj: &Map<String, Value>,
    token: bool,
) -> Option<LambdaAuthorizer> {
    let plugin = match str_field(cx, path, obj, "authorizerUri") {
        Some(uri) => match lambda_function_name(uri) {
            Some(n) if !n.contains('$') => Some(n.to_owned()),
            Some(_) => {
                cx.error(
                    &path.key("authorizerUri"),
                    "stage variables in authorizerUri are not supported yet",
                );
                None
            }
            None => {
                cx.error(&path.key("authorizerUri"), format!("{uri} is not a Lambda invocation URI (arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/arn:aws:lambda:REGION:ACCOUNT:function:NAME/invocations)"));
                None
            }
        },
        None => {
            cx.error(path, "the authorizer has no authorizerUri");
            None
        }
    };
    let validation = match str_field(cx, path, obj, "identityValidationExpression") {
        Some(_) if !token => {
            cx.warn(
                &path.key("identityValidationExpression"),
                "applies to TOKEN authorizers only; ignored",
            );
            None
        }
        Some(re) => pattern(cx, &path.key("identityValidationExpression"), re),
        None => None,
    };
    let format = obj.get("authorizerPayloadFormatVersion");
    if let Some(v) = format
        && !matches!(v.as_str(), Some("1.0" | "2.0"))
    {
        cx.error(
            &path.key("authorizerPayloadFormatVersion"),
            "must be \"1.0\" or \"2.0\"",
        );
    }
    let simple_responses = match obj.get("enableSimpleResponses") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            cx.error(&path.key("enableSimpleResponses"), "must be true or false");
            false
        }
    };
    if simple_responses && format.and_then(Value::as_str) != Some("2.0") {
        cx.error(
            &path.key("enableSimpleResponses"),
            "simple responses need authorizerPayloadFormatVersion \"2.0\"",
        );
    }
    Some(LambdaAuthorizer {
        plugin: plugin?,
        token,
        validation,
        simple_responses,
    })
}

/// A pattern anchored at both ends, as API Gateway matches it.
fn pattern(cx: &mut Cx<'_>, path: &DocPath, re: &str) -> Option<regex::Regex> {
    match regex::Regex::new(&format!("^(?:{re})$")) {
        Ok(r) => Some(r),
        Err(e) => {
            cx.error(path, format!("invalid pattern: {e}"));
            None
        }
    }
}

/// An HTTP API JWT authorizer: `jwtConfiguration: {issuer, audience: [...]}`.
fn jwt(cx: &mut Cx<'_>, path: &DocPath, obj: &Map<String, Value>) -> Option<JwtAuthorizer> {
    let jpath = path.key("jwtConfiguration");
    let Some(conf) = obj.get("jwtConfiguration").and_then(Value::as_object) else {
        cx.error(
            path,
            "a JWT authorizer needs jwtConfiguration: {issuer, audience}",
        );
        return None;
    };
    for key in conf.keys() {
        if key != "issuer" && key != "audience" {
            cx.error(
                &jpath.key(key),
                format!("{key} is not a jwtConfiguration field (issuer, audience)"),
            );
        }
    }
    let issuer = match conf.get("issuer").and_then(Value::as_str) {
        Some(i) if i.starts_with("https://") || i.starts_with("http://") => Some(i.to_owned()),
        _ => {
            cx.error(
                &jpath.key("issuer"),
                "must be the issuer's URL (https://...)",
            );
            None
        }
    };
    let audiences = match conf.get("audience") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|a| match a.as_str() {
                Some(a) => Some(a.to_owned()),
                None => {
                    cx.error(&jpath.key("audience"), "audiences are strings");
                    None
                }
            })
            .collect(),
        Some(Value::String(a)) => vec![a.clone()],
        _ => {
            cx.error(
                &jpath.key("audience"),
                "a JWT authorizer needs at least one audience",
            );
            Vec::new()
        }
    };
    if audiences.is_empty() || audiences.len() > MAX_AUDIENCES {
        cx.error(
            &jpath.key("audience"),
            format!("list 1 to {MAX_AUDIENCES} audiences"),
        );
    }
    let jwks_uri = match obj.get("x-portico-jwks-uri") {
        None => None,
        Some(Value::String(u)) if u.starts_with("https://") || u.starts_with("http://") => {
            Some(u.clone())
        }
        Some(_) => {
            cx.error(&path.key("x-portico-jwks-uri"), "must be an http(s) URL");
            None
        }
    };
    let secret_env = match obj.get("x-portico-jwt-secret-env") {
        None => None,
        Some(Value::String(var)) if !var.is_empty() => {
            if jwks_uri.is_some() {
                cx.error(
                    &path.key("x-portico-jwt-secret-env"),
                    "give x-portico-jwks-uri or x-portico-jwt-secret-env, not both",
                );
            }
            if std::env::var(var).map_or(true, |v| v.is_empty()) {
                cx.error(
                    &path.key("x-portico-jwt-secret-env"),
                    format!(
                        "the environment variable {var} is not set (it holds the HS256 secret)"
                    ),
                );
            }
            Some(var.clone())
        }
        Some(_) => {
            cx.error(
                &path.key("x-portico-jwt-secret-env"),
                "must name an environment variable",
            );
            None
        }
    };
    Some(JwtAuthorizer {
        issuer: JwtIssuer::Url(issuer?),
        audiences,
        jwks_uri,
        refetch_interval: refetch_interval(cx, path, obj),
        secret_env,
    })
}

/// HTTP APIs allow 50 audiences per JWT authorizer.
const MAX_AUDIENCES: usize = 50;

/// A REST Cognito user-pool authorizer: `providerARNs: [arn:aws:cognito-idp:R:A:userpool/ID]`.
fn cognito(cx: &mut Cx<'_>, path: &DocPath, obj: &Map<String, Value>) -> Option<JwtAuthorizer> {
    let ppath = path.key("providerARNs");
    let arns: Vec<&str> = match obj.get("providerARNs") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let [arn] = arns.as_slice() else {
        cx.error(&ppath, "list exactly one user pool ARN (arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID); several pools are not supported yet");
        return None;
    };
    let parsed = arn
        .strip_prefix("arn:aws:cognito-idp:")
        .and_then(|rest| rest.split_once(':'))
        .and_then(|(region, rest)| {
            let pool = rest.split_once(":userpool/")?.1;
            (!region.is_empty() && !pool.is_empty() && !pool.contains('/'))
                .then(|| (region.to_owned(), pool.to_owned()))
        });
    let Some((region, pool)) = parsed else {
        cx.error(
            &ppath,
            format!(
                "{arn} is not a user pool ARN (arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID)"
            ),
        );
        return None;
    };
    if obj.contains_key("identityValidationExpression") {
        cx.warn(
            &path.key("identityValidationExpression"),
            "is not applied to Cognito tokens (the audience is checked against the pool's app clients only when configured); ignored",
        );
    }
    Some(JwtAuthorizer {
        issuer: JwtIssuer::Cognito { region, pool },
        // A user pool's app clients are not declared in the export: any client of the pool.
        audiences: Vec::new(),
        jwks_uri: None,
        refetch_interval: refetch_interval(cx, path, obj),
        secret_env: None,
    })
}

/// `x-portico-jwks-refetch-seconds`: 1 to 3600, default 10.
fn refetch_interval(cx: &mut Cx<'_>, path: &DocPath, obj: &Map<String, Value>) -> Duration {
    match obj.get("x-portico-jwks-refetch-seconds") {
        None => Duration::from_secs(10),
        Some(v) => match v.as_u64() {
            Some(s @ 1..=3600) => Duration::from_secs(s),
            _ => {
                cx.error(
                    &path.key("x-portico-jwks-refetch-seconds"),
                    "must be an integer from 1 to 3600",
                );
                Duration::from_secs(10)
            }
        },
    }
}

//! Security: the schemes in `securityDefinitions` / `components.securitySchemes` (an
//! authorizer, or an API key), which of them each method's `security` names, and
//! `x-amazon-apigateway-api-key-source`.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::authorizer::parse_authorizer;
use super::context::Cx;
use crate::diag::DocPath;
use crate::model::{ApiKeySource, AuthorizerDef};

/// A security scheme, as far as methods can use it.
#[derive(Debug)]
pub(super) enum Scheme {
    /// An `x-amazon-apigateway-authorizer`.
    Authorizer(Box<AuthorizerDef>),
    /// `x-amazon-apigateway-authtype: awsSigv4`: the method is `AWS_IAM`.
    Iam,
    /// `type: apiKey, name: x-api-key, in: header`: the method requires an API key.
    ApiKey,
    /// A scheme Portico cannot enforce yet, with the reason.
    Unsupported(String),
    /// The scheme was invalid; already reported.
    Invalid,
}

/// Reads `securityDefinitions` (Swagger 2) and `components.securitySchemes` (OpenAPI 3).
pub(super) fn security_schemes(
    cx: &mut Cx<'_>,
    root: &DocPath,
    top: &Map<String, Value>,
) -> HashMap<String, Scheme> {
    let mut out = HashMap::new();
    let sources = [
        top.get("securityDefinitions")
            .map(|v| (root.key("securityDefinitions"), v)),
        top.get("components")
            .and_then(|c| c.get("securitySchemes"))
            .map(|v| (root.key("components").key("securitySchemes"), v)),
    ];
    for (base, defs) in sources.into_iter().flatten() {
        let Some(defs) = defs.as_object() else {
            continue;
        };
        for (name, scheme) in defs {
            let spath = base.key(name);
            let Some(obj) = scheme.as_object() else {
                cx.error(&spath, "a security scheme must be a mapping");
                continue;
            };
            for key in obj.keys() {
                if key.starts_with("x-amazon-apigateway-")
                    && key != "x-amazon-apigateway-authorizer"
                    && key != "x-amazon-apigateway-authtype"
                {
                    cx.extension(&spath.key(key), key);
                }
            }
            let parsed = match obj.get("x-amazon-apigateway-authorizer") {
                Some(a) => {
                    parse_authorizer(cx, &spath.key("x-amazon-apigateway-authorizer"), name, a)
                        .map_or(Scheme::Invalid, |a| Scheme::Authorizer(Box::new(a)))
                }
                None if obj.get("type").and_then(Value::as_str) == Some("apiKey") => {
                    let header = obj.get("in").and_then(Value::as_str) == Some("header");
                    let named = obj
                        .get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.eq_ignore_ascii_case("x-api-key"));
                    let authtype = obj
                        .get("x-amazon-apigateway-authtype")
                        .and_then(Value::as_str);
                    if authtype.is_some_and(|t| t.eq_ignore_ascii_case("awsSigv4")) {
                        Scheme::Iam
                    } else if obj.contains_key("x-amazon-apigateway-authtype") {
                        Scheme::Unsupported(format!(
                            "security scheme {name} has x-amazon-apigateway-authtype but no x-amazon-apigateway-authorizer"
                        ))
                    } else if header && named {
                        Scheme::ApiKey
                    } else {
                        Scheme::Unsupported(format!(
                            "security scheme {name}: an API key scheme must be `name: x-api-key, in: header`"
                        ))
                    }
                }
                None => Scheme::Unsupported(format!(
                    "security scheme {name} is neither an x-amazon-apigateway-authorizer nor an API key"
                )),
            };
            out.insert(name.clone(), parsed);
        }
    }
    if top
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        cx.warn(&root.key("security"), "root-level security is ignored, as API Gateway ignores it; set security on each method");
    }
    out
}

/// What a method's `security` asks for.
#[derive(Debug, Default)]
pub(super) struct MethodSecurity {
    /// At most one authorizer.
    pub authorizer: Option<AuthorizerDef>,
    /// An API key is required.
    pub api_key: bool,
    /// `AWS_IAM`.
    pub iam: bool,
    /// The scopes listed with the authorizer (`authorizationScopes`).
    pub scopes: Vec<String>,
}

/// Most scopes a route may list (HTTP API quota).
const MAX_SCOPES: usize = 10;

/// A method's `security`: at most one authorizer or `AWS_IAM`, with the authorizer's scopes,
/// and whether an API key is required; anything else is not enforceable yet.
pub(super) fn method_security(
    cx: &mut Cx<'_>,
    path: &DocPath,
    value: &Value,
    schemes: &HashMap<String, Scheme>,
) -> MethodSecurity {
    let mut out = MethodSecurity::default();
    let Some(reqs) = value.as_array() else {
        cx.error(path, "must be a list of security requirements");
        return out;
    };
    for (i, req) in reqs.iter().enumerate() {
        for (name, scopes) in req.as_object().into_iter().flatten() {
            match schemes.get(name) {
                Some(Scheme::Authorizer(_) | Scheme::Iam) if out.authorizer.is_some() || out.iam => {
                    cx.error(path, "a method can have one authorizer (or AWS_IAM) only")
                }
                Some(Scheme::Authorizer(a)) => {
                    out.authorizer = Some((**a).clone());
                    out.scopes = scopes
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect();
                    if out.scopes.len() > MAX_SCOPES {
                        cx.error(path, format!("a method lists at most {MAX_SCOPES} scopes"));
                    }
                    if !out.scopes.is_empty()
                        && !matches!(a.kind, crate::model::AuthorizerKind::Jwt(_))
                    {
                        cx.error(path, format!("scopes apply to JWT and Cognito authorizers; {name} is a Lambda authorizer"));
                    }
                }
                Some(Scheme::Iam) => out.iam = true,
                Some(Scheme::ApiKey) => out.api_key = true,
                Some(Scheme::Unsupported(why)) => cx.error(path, format!("{why}; the method would be served unprotected")),
                Some(Scheme::Invalid) => {}
                None => cx.error(path, format!("security requirement [{i}] names {name}, which is not a defined security scheme")),
            }
        }
    }
    out
}

/// `x-amazon-apigateway-api-key-source`: where usage plans read the API key from.
pub(super) fn api_key_source(
    cx: &mut Cx<'_>,
    path: &DocPath,
    value: &Value,
) -> Option<ApiKeySource> {
    match value.as_str() {
        Some("HEADER") => Some(ApiKeySource::Header),
        Some("AUTHORIZER") => Some(ApiKeySource::Authorizer),
        _ => {
            cx.error(path, "must be HEADER or AUTHORIZER");
            None
        }
    }
}

//! `x-amazon-apigateway-authorizer`: a Lambda authorizer (TOKEN or REQUEST) read into an
//! [`AuthorizerDef`] naming the plugin that stands in for the function, its identity sources,
//! result-cache TTL and token validation pattern.

use std::time::Duration;

use serde_json::Value;

use super::context::{Cx, str_field};
use super::lambda::lambda_function_name;
use crate::diag::DocPath;
use crate::mapping::{ParamSource, Side};
use crate::model::AuthorizerDef;

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
    for key in obj.keys() {
        match key.as_str() {
            "type"
            | "authorizerUri"
            | "identitySource"
            | "authorizerResultTtlInSeconds"
            | "identityValidationExpression" => {}
            "authorizerCredentials" => cx.warn(
                &path.key(key),
                "authorizerCredentials (IAM roles) do not apply and are ignored",
            ),
            _ => cx.error(
                &path.key(key),
                format!("{key} is not supported in x-amazon-apigateway-authorizer"),
            ),
        }
    }
    let token = match str_field(cx, path, obj, "type")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("token") => true,
        Some("request") => false,
        Some(other) => {
            cx.error(
                &path.key("type"),
                format!("authorizer type {other} is not supported yet (token and request are)"),
            );
            return None;
        }
        None => {
            cx.error(path, "the authorizer has no `type`");
            return None;
        }
    };
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
    let default_source = if token {
        Some("method.request.header.Authorization")
    } else {
        None
    };
    let sources_text = str_field(cx, path, obj, "identitySource").or(default_source);
    let mut identity_sources = Vec::new();
    for src in sources_text
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        match ParamSource::parse(src, Side::Request) {
            Ok(ParamSource::Static(_)) | Err(_) => {
                cx.error(&path.key("identitySource"), format!("{src} is not an identity source (method.request.header|querystring.NAME, stageVariables.NAME, context.NAME)"))
            }
            Ok(s) => identity_sources.push(s),
        }
    }
    if token && !matches!(identity_sources.as_slice(), [ParamSource::Header(_)]) {
        cx.error(
            &path.key("identitySource"),
            "a TOKEN authorizer takes exactly one header, e.g. method.request.header.Authorization",
        );
    }
    let ttl_secs = match obj.get("authorizerResultTtlInSeconds") {
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
    if ttl_secs > 0 && identity_sources.is_empty() {
        cx.error(&path.key("identitySource"), "an identity source is required when result caching is on (authorizerResultTtlInSeconds > 0)");
    }
    let validation = match str_field(cx, path, obj, "identityValidationExpression") {
        Some(_) if !token => {
            cx.warn(
                &path.key("identityValidationExpression"),
                "applies to TOKEN authorizers only; ignored",
            );
            None
        }
        Some(re) => match regex::Regex::new(&format!("^(?:{re})$")) {
            Ok(r) => Some(r),
            Err(e) => {
                cx.error(
                    &path.key("identityValidationExpression"),
                    format!("invalid pattern: {e}"),
                );
                None
            }
        },
        None => None,
    };
    if cx.error_count() > errors_before {
        return None;
    }
    Some(AuthorizerDef {
        name: name.to_owned(),
        plugin: plugin?,
        token,
        identity_sources,
        validation,
        ttl: Duration::from_secs(ttl_secs),
    })
}

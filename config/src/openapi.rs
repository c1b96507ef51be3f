//! OpenAPI 3.0 / Swagger 2.0 import with the `x-amazon-apigateway-*` extensions.
//!
//! The document is walked as a tree. Every method becomes a [`Route`]; every problem becomes a
//! diagnostic with its path, and the walk goes on. Extensions this version does not implement
//! are reported: behaviour-changing ones as errors (serving without them would be wrong, for
//! example an authorizer that would not run), metadata-only ones as warnings.
//!
//! This file owns the walk: the top-level keys, `paths`, each path item's methods, and each
//! operation's keys (including the `x-portico-validator` / `x-portico-mapper` plugin names).
//! Each extension is read in its own module:
//!
//! | module | reads |
//! |---|---|
//! | `context` | the diagnostics context; how unimplemented extensions are reported |
//! | `resource` | resource paths (the keys of `paths`) |
//! | `security` | security schemes, a method's `security`, `x-amazon-apigateway-api-key-source` |
//! | `authorizer` | `x-amazon-apigateway-authorizer` |
//! | `integration` | `x-amazon-apigateway-integration` |
//! | `lambda` | Lambda ARNs (`authorizerUri`, `aws_proxy` targets) |
//! | `responses` | `x-amazon-apigateway-gateway-responses` and integration `responses` |

mod authorizer;
mod context;
mod integration;
mod lambda;
mod resource;
mod responses;
mod security;

use std::collections::HashMap;

use serde_json::Value;

use crate::diag::{DocPath, Report};
use crate::model::{ApiKeySource, Route};
use crate::responses::GatewayResponses;
use context::Cx;
use integration::parse_integration;
use resource::{SiblingCheck, resource_path_ok};
use responses::gateway_responses;
use security::{MethodSecurity, Scheme, api_key_source, method_security, security_schemes};

/// Methods an OpenAPI path item may hold, as AWS supports them.
const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch"];
/// AWS's extension for the `ANY` method.
const ANY_METHOD: &str = "x-amazon-apigateway-any-method";

/// What an imported document yields.
#[derive(Debug, Default)]
pub struct Imported {
    /// Every method of every resource.
    pub routes: Vec<Route>,
    /// Gateway-response customisations.
    pub gateway_responses: GatewayResponses,
    /// `x-amazon-apigateway-api-key-source` (default `HEADER`).
    pub api_key_source: ApiKeySource,
    /// `x-amazon-apigateway-policy`, as written (parsed by the loader, which knows the region
    /// and account its ARNs expand with).
    pub policy: Option<Value>,
}

/// Imports a parsed document. Problems go to `report` under `file`.
pub fn import(file: &str, doc: &Value, report: &mut Report) -> Imported {
    let mut cx = Cx::new(file, report);
    let mut out = Imported::default();
    let root = DocPath::root();
    let Some(top) = doc.as_object() else {
        cx.error(
            &root,
            "an OpenAPI document must be a mapping at the top level",
        );
        return out;
    };
    let oas3 = top.get("openapi").and_then(Value::as_str);
    let swagger = top.get("swagger").and_then(Value::as_str);
    match (oas3, swagger) {
        (Some(v), _) if v.starts_with("3.") => {}
        (_, Some("2.0")) => {}
        (Some(v), _) => cx.error(
            &root.key("openapi"),
            format!("version {v} is not supported; use 3.0.x or Swagger 2.0"),
        ),
        (None, _) => cx.error(
            &root,
            "not an OpenAPI document: expected `openapi: 3.0.x` or `swagger: \"2.0\"`",
        ),
    }

    for (key, value) in top {
        let path = root.key(key);
        if key == "x-amazon-apigateway-gateway-responses" {
            out.gateway_responses = gateway_responses(&mut cx, &path, value);
        } else if key == "x-amazon-apigateway-api-key-source" {
            if let Some(source) = api_key_source(&mut cx, &path, value) {
                out.api_key_source = source;
            }
        } else if key == "x-amazon-apigateway-policy" {
            out.policy = Some(value.clone());
        } else if key.starts_with("x-amazon-apigateway-") {
            cx.extension(&path, key);
        }
    }
    let schemes = security_schemes(&mut cx, &root, top);

    let Some(paths) = top.get("paths") else {
        cx.error(&root, "the document has no `paths`");
        return out;
    };
    let Some(paths) = paths.as_object() else {
        cx.error(&root.key("paths"), "`paths` must be a mapping");
        return out;
    };
    let mut tree = SiblingCheck::default();
    for (resource, item) in paths {
        let ppath = root.key("paths").key(resource);
        if !resource_path_ok(&mut cx, &ppath, resource) {
            continue;
        }
        tree.add(&mut cx, &ppath, resource);
        let Some(item) = item.as_object() else {
            cx.error(&ppath, "a path item must be a mapping");
            continue;
        };
        for (key, op) in item {
            let opath = ppath.key(key);
            let method = if key == ANY_METHOD {
                "ANY".to_owned()
            } else if METHODS.contains(&key.as_str()) {
                key.to_ascii_uppercase()
            } else if key.starts_with("x-amazon-apigateway-") {
                cx.extension(&opath, key);
                continue;
            } else {
                if key == "trace" {
                    cx.warn(
                        &opath,
                        "TRACE methods are not supported by API Gateway and are not served",
                    );
                }
                continue;
            };
            if let Some(route) = operation(&mut cx, &opath, resource, method, op, &schemes) {
                out.routes.push(route);
            }
        }
    }
    out
}

/// One method of `resource`; `None` when it has no usable integration (reported).
fn operation(
    cx: &mut Cx<'_>,
    path: &DocPath,
    resource: &str,
    method: String,
    op: &Value,
    schemes: &HashMap<String, Scheme>,
) -> Option<Route> {
    let Some(op) = op.as_object() else {
        cx.error(path, "an operation must be a mapping");
        return None;
    };
    let mut integration = None;
    let mut security = MethodSecurity::default();
    let mut validator = None;
    let mut mapper = None;
    for (key, value) in op {
        let kpath = path.key(key);
        if key == "x-amazon-apigateway-integration" {
            integration = parse_integration(cx, &kpath, resource, value);
        } else if key.starts_with("x-amazon-apigateway-") {
            cx.extension(&kpath, key);
        } else if key == "x-portico-validator" || key == "x-portico-mapper" {
            match value.as_str() {
                Some(name) if key == "x-portico-validator" => validator = Some(name.to_owned()),
                Some(name) => mapper = Some(name.to_owned()),
                None => cx.error(&kpath, "must be the name of a plugin"),
            }
        } else if key.starts_with("x-portico-") {
            cx.error(
                &kpath,
                format!("{key} is not a Portico extension (x-portico-validator, x-portico-mapper)"),
            );
        } else if key == "security" {
            security = method_security(cx, &kpath, value, schemes);
        }
    }
    if !op.contains_key("x-amazon-apigateway-integration") {
        cx.error(
            path,
            "the method has no x-amazon-apigateway-integration, so there is nothing to serve it",
        );
    }
    Some(Route {
        resource_path: resource.to_owned(),
        method,
        integration: integration?,
        location: path.as_str().to_owned(),
        authorizer: security.authorizer,
        validator,
        mapper,
        api_key_required: security.api_key,
        scopes: security.scopes,
        iam: security.iam,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::{IntegrationKind, PayloadFormat};
    use crate::template::Var;

    fn run(yaml: &str) -> (Imported, Report) {
        let doc = crate::doc::parse("api.yaml", yaml).unwrap();
        let mut report = Report::default();
        let imported = import("api.yaml", &doc, &mut report);
        (imported, report)
    }

    #[test]
    fn imports_mock_and_proxy() {
        let (api, report) = run(r#"
openapi: 3.0.1
paths:
  /pets/{id}:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://example.com/pets/{id}
  /health:
    x-amazon-apigateway-any-method:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '{"statusCode": 200}'
        responses:
          default:
            statusCode: 200
"#);
        assert!(!report.has_errors(), "{report}");
        assert_eq!(api.routes.len(), 2);
        assert_eq!(api.routes[0].method, "GET");
        assert_eq!(api.routes[1].method, "ANY");
    }

    #[test]
    fn reports_every_error_with_its_path() {
        let (_, report) = run(r#"
openapi: 3.0.1
x-amazon-apigateway-cors: {}
paths:
  /pets/{id}:
    get:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: http://example.com/{petId}
        timeoutInMillis: 10
  /pets/{name}:
    get:
      x-amazon-apigateway-integration:
        type: lambda
"#);
        let text = report.to_string();
        assert!(
            text.contains(
                "api.yaml: x-amazon-apigateway-cors: x-amazon-apigateway-cors is not supported yet"
            ),
            "{text}"
        );
        assert!(
            text.contains("paths./pets/{id}.get.x-amazon-apigateway-integration.uri: {petId}"),
            "{text}"
        );
        assert!(
            text.contains(
                "paths./pets/{id}.get.x-amazon-apigateway-integration.timeoutInMillis: must be"
            ),
            "{text}"
        );
        assert!(text.contains("only one is allowed"), "{text}");
        assert!(text.contains("unknown integration type"), "{text}");
    }

    #[test]
    fn imports_lambda_functions_and_authorizers() {
        let (api, report) = run(r#"
openapi: 3.0.1
components:
  securitySchemes:
    tokenAuth:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer:
        type: token
        authorizerUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:header-auth:live/invocations
        identitySource: method.request.header.Authorization
        identityValidationExpression: "Bearer .*"
        authorizerResultTtlInSeconds: 60
paths:
  /fn:
    post:
      security: [{tokenAuth: []}]
      x-portico-mapper: enrich
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        payloadFormatVersion: "2.0"
        uri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:${stageVariables.fn}/invocations
"#);
        assert!(!report.has_errors(), "{report}");
        let route = &api.routes[0];
        let auth = route.authorizer.as_ref().unwrap();
        assert_eq!(auth.plugin(), Some("header-auth"));
        let crate::model::AuthorizerKind::Lambda(lambda) = &auth.kind else {
            panic!("{auth:?}")
        };
        assert!(lambda.token);
        assert_eq!(auth.ttl, Duration::from_secs(60));
        assert!(lambda.validation.as_ref().unwrap().is_match("Bearer abc"));
        assert_eq!(route.mapper.as_deref(), Some("enrich"));
        assert_eq!(route.integration.kind, IntegrationKind::Function);
        assert_eq!(route.integration.payload_format, PayloadFormat::V2);
        assert_eq!(
            route.integration.function.as_ref().unwrap().parts,
            vec![crate::template::Part::Var(Var::StageVariable("fn".into()))]
        );
    }
}

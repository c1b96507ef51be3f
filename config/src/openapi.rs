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
//! | `validate` | request validators, required parameters, body models |
//! | `edge` | `x-amazon-apigateway-cors`, `x-amazon-apigateway-minimum-compression-size` |

mod authorizer;
mod context;
mod edge;
mod integration;
mod lambda;
mod resource;
mod responses;
mod security;
mod validate;

use std::collections::HashMap;

use serde_json::Value;

use crate::diag::{DocPath, Report};
use crate::model::{ApiKeySource, Route};
use crate::responses::GatewayResponses;
use crate::transform::BinaryMediaTypes;
use crate::validation::RequestValidator;
use context::Cx;
use integration::parse_integration;
use resource::{SiblingCheck, resource_path_ok};
use responses::gateway_responses;
use security::{MethodSecurity, Scheme, api_key_source, method_security, security_schemes};

/// Methods an OpenAPI path item may hold, as AWS supports them.
const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch"];
/// AWS's extension for the `ANY` method.
const ANY_METHOD: &str = "x-amazon-apigateway-any-method";

/// AWS's words for a method that has no integration, which a deployment refuses.
pub const NO_INTEGRATION: &str = "No integration defined for method";

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
    /// `x-amazon-apigateway-binary-media-types`.
    pub binary_media_types: BinaryMediaTypes,
    /// `x-amazon-apigateway-endpoint-configuration.disableExecuteApiEndpoint`.
    pub disable_execute_api_endpoint: bool,
    /// `x-amazon-apigateway-cors` (HTTP API style), when set and valid.
    pub cors: Option<crate::edge::Cors>,
    /// `x-amazon-apigateway-minimum-compression-size`: `None` when absent or null.
    pub minimum_compression_size: Option<u64>,
    /// The models (`components.schemas` / `definitions`, plus inline body schemas under made-up
    /// names), compiled by the loader, which knows the API's id.
    pub models: Vec<(String, Value)>,
}

/// Imports a parsed document. Problems go to `report` under `file`.
pub fn import(file: &str, doc: &Value, report: &mut Report, draft: bool) -> Imported {
    let mut cx = Cx::new(file, report);
    cx.draft = draft;
    let mut out = Imported::default();
    let root = DocPath::root();
    let mut validators = validate::Validators::new();
    let mut default_validator = None;
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
        } else if key == "x-amazon-apigateway-binary-media-types" {
            out.binary_media_types = binary_media_types(&mut cx, &path, value);
        } else if key == "x-amazon-apigateway-cors" {
            out.cors = edge::cors(&mut cx, &path, value);
        } else if key == "x-amazon-apigateway-minimum-compression-size" {
            out.minimum_compression_size = edge::minimum_compression_size(&mut cx, &path, value);
        } else if key == "x-amazon-apigateway-endpoint-configuration" {
            out.disable_execute_api_endpoint = endpoint_configuration(&mut cx, &path, value);
        } else if key == "x-amazon-apigateway-request-validators" {
            validators = validate::validators(&mut cx, &path, value);
        } else if key == "x-amazon-apigateway-request-validator" {
            default_validator = Some((path, value));
        } else if key.starts_with("x-amazon-apigateway-") {
            cx.extension(&path, key);
        }
    }
    let schemes = security_schemes(&mut cx, &root, top);
    let default_validator = default_validator
        .and_then(|(path, v)| validate::validator_ref(&mut cx, &path, v, &validators));
    out.models = validate::models(top);
    let methods = Methods {
        schemes: &schemes,
        validators: &validators,
        default_validator: default_validator.as_ref(),
    };

    let Some(paths) = top.get("paths") else {
        cx.error(&root, "the document has no `paths`");
        return out;
    };
    let Some(paths) = paths.as_object() else {
        cx.error(&root.key("paths"), "`paths` must be a mapping");
        return out;
    };
    let mut tree = SiblingCheck::default();
    let mut models = std::mem::take(&mut out.models);
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
            let shared = item.get("parameters");
            if let Some(route) = operation(
                &mut cx,
                &opath,
                resource,
                method,
                op,
                shared,
                &methods,
                &mut models,
            ) {
                out.routes.push(route);
            }
        }
    }
    out.models = models;
    out
}

/// What every operation of a document is read against.
struct Methods<'a> {
    schemes: &'a HashMap<String, Scheme>,
    validators: &'a validate::Validators,
    /// The document's `x-amazon-apigateway-request-validator`.
    default_validator: Option<&'a RequestValidator>,
}

/// `x-amazon-apigateway-endpoint-configuration`: whether `disableExecuteApiEndpoint` is set.
/// Endpoint types and VPC endpoints do not apply to a self-hosted gateway (a warning).
fn endpoint_configuration(cx: &mut Cx<'_>, path: &DocPath, value: &Value) -> bool {
    let Some(map) = value.as_object() else {
        cx.error(path, "must be a mapping");
        return false;
    };
    let mut disabled = false;
    for (k, v) in map {
        let p = path.key(k);
        match k.as_str() {
            "disableExecuteApiEndpoint" => match v.as_bool() {
                Some(b) => disabled = b,
                None => cx.error(&p, "must be true or false"),
            },
            "types" | "vpcEndpointIds" | "ipAddressType" => cx.warn(
                &p,
                "endpoint types (EDGE, REGIONAL, PRIVATE) and VPC endpoints do not apply to a self-hosted gateway",
            ),
            _ => cx.error(&p, format!("unknown field {k}")),
        }
    }
    disabled
}

/// `x-amazon-apigateway-binary-media-types`: a list of MIME types.
fn binary_media_types(cx: &mut Cx<'_>, path: &DocPath, value: &Value) -> BinaryMediaTypes {
    let Some(list) = value.as_array() else {
        cx.error(path, "must be a list of media types");
        return BinaryMediaTypes::default();
    };
    let mut types = Vec::new();
    for (i, v) in list.iter().enumerate() {
        match v.as_str() {
            Some(t) if !t.is_empty() => types.push(t.to_owned()),
            _ => cx.error(&path.index(i), "must be a media type such as image/png"),
        }
    }
    BinaryMediaTypes::new(types)
}

/// One method of `resource`; `None` when it has no usable integration (reported).
// The walk's state (diagnostics, place, the document's schemes and validators, the models an
// inline body schema joins) is each needed here; a struct for one call would only rename it.
#[allow(clippy::too_many_arguments)]
fn operation(
    cx: &mut Cx<'_>,
    path: &DocPath,
    resource: &str,
    method: String,
    op: &Value,
    shared_parameters: Option<&Value>,
    methods: &Methods<'_>,
    models: &mut Vec<(String, Value)>,
) -> Option<Route> {
    let Some(op) = op.as_object() else {
        cx.error(path, "an operation must be a mapping");
        return None;
    };
    let mut integration = None;
    let mut security = MethodSecurity::default();
    let mut validator = None;
    let mut mapper = None;
    let mut request_validator = methods.default_validator.cloned();
    for (key, value) in op {
        let kpath = path.key(key);
        if key == "x-amazon-apigateway-integration" {
            integration = parse_integration(cx, &kpath, resource, value);
        } else if key == "x-amazon-apigateway-request-validator" {
            request_validator = validate::validator_ref(cx, &kpath, value, methods.validators);
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
            security = method_security(cx, &kpath, value, methods.schemes);
        }
    }
    // Path-item parameters apply to every operation; the operation's own come after them.
    let parameters: Vec<&Value> = [shared_parameters, op.get("parameters")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .collect();
    let validation =
        validate::method_validation(cx, path, request_validator, &parameters, op, models);
    if !op.contains_key("x-amazon-apigateway-integration") {
        if cx.draft {
            cx.warn(
                path,
                format!("{NO_INTEGRATION}: the method is not served, and a deployment refuses it"),
            );
        } else {
            cx.error(
                path,
                "the method has no x-amazon-apigateway-integration, so there is nothing to serve it",
            );
        }
    }
    if mapper.is_some()
        && integration
            .as_ref()
            .is_some_and(|i| i.transfer_mode == crate::model::TransferMode::Stream)
    {
        cx.error(
            &path.key("x-portico-mapper"),
            "a mapper reads the response whole, which responseTransferMode STREAM does not allow",
        );
        return None;
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
        validation,
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
        let imported = import("api.yaml", &doc, &mut report, false);
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
x-amazon-apigateway-auth: {type: NONE}
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
                "api.yaml: x-amazon-apigateway-auth: x-amazon-apigateway-auth is not supported yet"
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
    fn reads_response_transfer_mode() {
        let (api, report) = run(r#"
openapi: 3.0.1
paths:
  /sse:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://127.0.0.1:9/sse
        responseTransferMode: STREAM
        timeoutInMillis: 600000
  /fn:
    post:
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:f/invocations
        responseTransferMode: stream
  /plain:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://127.0.0.1:9/plain
"#);
        assert!(!report.has_errors(), "{report}");
        let mode = |p: &str| {
            let r = api.routes.iter().find(|r| r.resource_path == p).unwrap();
            (r.integration.transfer_mode, r.integration.timeout)
        };
        assert_eq!(
            mode("/sse"),
            (crate::model::TransferMode::Stream, Duration::from_secs(600))
        );
        assert_eq!(mode("/fn").0, crate::model::TransferMode::Stream);
        assert_eq!(
            mode("/plain"),
            (
                crate::model::TransferMode::Buffered,
                Duration::from_secs(29)
            )
        );

        let (_, report) = run(r#"
openapi: 3.0.1
paths:
  /mapped:
    get:
      x-portico-mapper: enrich
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://127.0.0.1:9/sse
        responseTransferMode: STREAM
  /sse:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://127.0.0.1:9/sse
        responseTransferMode: STREAM
        responseParameters:
          "200":
            overwrite:header.x-len: $response.body.length
  /mock:
    get:
      x-amazon-apigateway-integration:
        type: mock
        responseTransferMode: STREAM
  /bad:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://127.0.0.1:9/sse
        responseTransferMode: 1
"#);
        let text = report.to_string();
        for expected in [
            "paths./mapped.get.x-portico-mapper: a mapper reads the response whole",
            "paths./sse.get.x-amazon-apigateway-integration.responseParameters.200: a mapping that reads the response body",
            "paths./mock.get.x-amazon-apigateway-integration.responseTransferMode: responseTransferMode STREAM is supported for http_proxy and aws_proxy integrations only",
            "paths./bad.get.x-amazon-apigateway-integration.responseTransferMode: must be a string",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
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

    #[test]
    fn imports_validators_models_templates_and_binary_types() {
        let (api, report) = run(r#"
openapi: 3.0.1
x-amazon-apigateway-binary-media-types: [image~1png]
x-amazon-apigateway-request-validators:
  all: {validateRequestBody: true, validateRequestParameters: true}
  body: {validateRequestBody: true}
x-amazon-apigateway-request-validator: all
components:
  schemas:
    Pet: {type: object, required: [name]}
paths:
  /pets/{id}:
    parameters:
      - {name: id, in: path, required: true}
    post:
      parameters:
        - {name: q, in: query, required: true}
        - {name: X-Trace, in: header, required: true}
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Pet'}
      x-amazon-apigateway-integration:
        type: http
        httpMethod: POST
        uri: http://example.com/pets
        passthroughBehavior: NEVER
        contentHandling: CONVERT_TO_TEXT
        requestTemplates:
          application/json: '#set($a = 1)$a'
        responses:
          default: {statusCode: 200}
  /other:
    put:
      x-amazon-apigateway-request-validator: body
      requestBody:
        content:
          application/json:
            schema: {type: array}
      x-amazon-apigateway-integration:
        type: aws
        uri: arn:aws:lambda:us-east-1:1:function:echo
        responses:
          default: {statusCode: 200}
"#);
        assert!(!report.has_errors(), "{report}");
        assert!(api.binary_media_types.matches(Some("image/png")));
        let pets = &api.routes[0];
        let v = pets.validation.as_ref().unwrap();
        let names: Vec<&str> = v.required.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["X-Trace", "id", "q"]);
        assert_eq!(v.model_for(None), Some("Pet"));
        let i = &pets.integration;
        assert_eq!(i.passthrough, crate::transform::Passthrough::Never);
        assert_eq!(
            i.content_handling,
            Some(crate::transform::ContentHandling::ConvertToText)
        );
        assert!(i.request_templates.contains_key("application/json"));
        let other = &api.routes[1];
        assert_eq!(other.integration.kind, IntegrationKind::FunctionMapped);
        let v = other.validation.as_ref().unwrap();
        assert!(v.required.is_empty());
        let inline = v.model_for(Some("application/json")).unwrap();
        assert!(api.models.iter().any(|(n, _)| n == inline), "{inline}");
    }

    #[test]
    fn reports_unknown_validators_and_bad_templates() {
        let (_, report) = run(r#"
openapi: 3.0.1
paths:
  /a:
    get:
      x-amazon-apigateway-request-validator: nope
      x-amazon-apigateway-integration:
        type: mock
        passthroughBehavior: sometimes
        requestTemplates:
          application/json: '#foreach($x in $y)'
        responses:
          default: {statusCode: 200}
"#);
        let text = report.to_string();
        assert!(
            text.contains("nope is not declared in x-amazon-apigateway-request-validators"),
            "{text}"
        );
        assert!(text.contains("sometimes is not when_no_match"), "{text}");
        assert!(
            text.contains("requestTemplates.application/json: the template does not parse: line 1"),
            "{text}"
        );
    }
}

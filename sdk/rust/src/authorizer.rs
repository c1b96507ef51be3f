//! Authorizers: see the request head, decide (the job of a Lambda TOKEN/REQUEST authorizer).
//!
//! ```ignore
//! use portico_sdk::{Authorizer, Decision, Policy, Request};
//!
//! struct Tokens;
//!
//! impl Authorizer for Tokens {
//!     fn authorize(request: &Request, method_arn: &str) -> Decision {
//!         match request.header("authorization") {
//!             // Every method of the stage: a policy the decision cache can reuse.
//!             Some("let-me-in") => Policy::new("user-1").allow(stage_wildcard(method_arn)).into(),
//!             // This method only (with caching on, other methods are then denied from cache).
//!             Some("just-this") => Policy::new("user-2").allow(method_arn).into(),
//!             _ => Decision::unauthorized(),
//!         }
//!     }
//! }
//!
//! portico_sdk::export_authorizer!(Tokens);
//! ```
//!
//! Two ways to answer:
//! - a [`Decision`] the host applies as is: allow (every method), unauthorized (401), forbidden
//!   (403) or a custom reply;
//! - a [`Policy`], which is what a Lambda authorizer returns (`principalId`, an IAM
//!   `policyDocument`, `context`, `usageIdentifierKey`): the host matches its statements
//!   against each request's method ARN, cached answers included, and an explicit Deny wins.
//!   [`Decision::lambda_output`] sends any Lambda authorizer output (or an HTTP API simple
//!   response, `{"isAuthorized": true, "context": {...}}`) as JSON text.

use crate::bindings::authorizer as world;
use crate::request::Reply;
use serde_json::{Map, Value, json};

pub use world::{Allow, Decision};

/// An authorizer plugin. Export an implementation with [`export_authorizer!`](crate::export_authorizer).
pub trait Authorizer {
    /// Decides on one request whose method ARN is `method_arn`
    /// (`arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}`). Called once
    /// per request that the decision cache does not answer.
    fn authorize(request: &crate::Request, method_arn: &str) -> Decision;
}

/// The ARN covering every method and path of `method_arn`'s stage:
/// `arn:aws:execute-api:r:a:api/stage/GET/pets/1` → `arn:aws:execute-api:r:a:api/stage/*`.
/// Returns `method_arn` unchanged when it is not a method ARN.
pub fn stage_wildcard(method_arn: &str) -> String {
    let Some(colon) = method_arn.rfind(':') else {
        return method_arn.to_owned();
    };
    let tail = &method_arn[colon + 1..];
    let mut parts = tail.splitn(3, '/');
    match (parts.next(), parts.next()) {
        (Some(api), Some(stage)) => format!("{}{api}/{stage}/*", &method_arn[..=colon]),
        _ => method_arn.to_owned(),
    }
}

/// A Lambda authorizer's output: a principal, an IAM policy on `execute-api:Invoke`, context
/// values and a usage identifier key. Turn it into a [`Decision`] with `.into()`.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    principal_id: String,
    statements: Vec<Value>,
    context: Map<String, Value>,
    usage_identifier_key: Option<String>,
}

impl Policy {
    /// A policy for `principal_id` with no statement yet (which allows nothing).
    pub fn new(principal_id: impl Into<String>) -> Self {
        Self {
            principal_id: principal_id.into(),
            statements: Vec::new(),
            context: Map::new(),
            usage_identifier_key: None,
        }
    }

    /// Allows `execute-api:Invoke` on `resource`, a method ARN that may hold `*` and `?`.
    pub fn allow(self, resource: impl Into<String>) -> Self {
        self.statement("Allow", resource.into())
    }

    /// Denies `execute-api:Invoke` on `resource`; a deny wins over any allow.
    pub fn deny(self, resource: impl Into<String>) -> Self {
        self.statement("Deny", resource.into())
    }

    fn statement(mut self, effect: &str, resource: String) -> Self {
        self.statements.push(json!({
            "Action": "execute-api:Invoke",
            "Effect": effect,
            "Resource": resource,
        }));
        self
    }

    /// Adds `$context.authorizer.<key>`. Values are strings, numbers or booleans (the gateway
    /// stringifies them, as API Gateway does, and refuses objects and arrays).
    pub fn context(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.context.insert(key.into(), value.into());
        self
    }

    /// Meters the request under API key `key` (API key source AUTHORIZER).
    pub fn usage_identifier_key(mut self, key: impl Into<String>) -> Self {
        self.usage_identifier_key = Some(key.into());
        self
    }

    /// The output as the JSON text a Lambda authorizer returns.
    pub fn to_json(&self) -> String {
        let mut out = json!({
            "principalId": self.principal_id,
            "policyDocument": {"Version": "2012-10-17", "Statement": self.statements},
        });
        if !self.context.is_empty() {
            out["context"] = Value::Object(self.context.clone());
        }
        if let Some(key) = &self.usage_identifier_key {
            out["usageIdentifierKey"] = Value::String(key.clone());
        }
        out.to_string()
    }
}

impl From<Policy> for Decision {
    fn from(policy: Policy) -> Self {
        Self::LambdaOutput(policy.to_json())
    }
}

impl Decision {
    /// Let the request through as `principal_id`, with no context and no usage identifier key.
    pub fn allow(principal_id: impl Into<String>) -> Self {
        Self::Allow(Allow {
            principal_id: principal_id.into(),
            context: Vec::new(),
            usage_identifier_key: None,
        })
    }

    /// 401 `{"message":"Unauthorized"}`.
    pub fn unauthorized() -> Self {
        Self::Unauthorized
    }

    /// 403 (the ACCESS_DENIED gateway response).
    pub fn forbidden() -> Self {
        Self::Forbidden(None)
    }

    /// 403 with `message` as the gateway response's message.
    pub fn forbidden_with(message: impl Into<String>) -> Self {
        Self::Forbidden(Some(message.into()))
    }

    /// A custom answer given to the client as is.
    pub fn custom(reply: Reply) -> Self {
        Self::Custom(reply)
    }

    /// Adds `$context.authorizer.<key>` = `value`. Only an allow carries context: on any other
    /// decision this does nothing.
    pub fn with_context(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        if let Self::Allow(allow) = &mut self {
            allow.context.push((key.into(), value.into()));
        }
        self
    }

    /// Meters the request under API key `key` (API key source AUTHORIZER). Only an allow carries
    /// one: on any other decision this does nothing.
    pub fn with_usage_identifier_key(mut self, key: impl Into<String>) -> Self {
        if let Self::Allow(allow) = &mut self {
            allow.usage_identifier_key = Some(key.into());
        }
        self
    }

    /// A Lambda authorizer's output as JSON text, for the gateway to evaluate: a policy
    /// output (see [`Policy`]) or an HTTP API simple response `{"isAuthorized": bool,
    /// "context": {...}}`.
    pub fn lambda_output(json: impl Into<String>) -> Self {
        Self::LambdaOutput(json.into())
    }

    /// An HTTP API simple response: `{"isAuthorized": authorized}` with no context.
    pub fn simple(authorized: bool) -> Self {
        Self::LambdaOutput(json!({ "isAuthorized": authorized }).to_string())
    }

    /// Whether this decision lets the request through.
    pub fn is_allow(&self) -> bool {
        matches!(self, Self::Allow(_))
    }
}

/// Exports `$ty`, which implements [`Authorizer`], as this component's `authorizer` world.
///
/// Use it once per crate, at the crate root or in any module.
#[macro_export]
macro_rules! export_authorizer {
    ($ty:ty) => {
        #[allow(unsafe_code)]
        const _: () = {
            struct __PorticoAuthorizer;

            impl $crate::bindings::authorizer::Guest for __PorticoAuthorizer {
                fn authorize(
                    request: $crate::Request,
                    method_arn: ::std::string::String,
                ) -> $crate::Decision {
                    <$ty as $crate::Authorizer>::authorize(&request, &method_arn)
                }
            }

            $crate::bindings::authorizer::export_authorizer_world!(
                __PorticoAuthorizer with_types_in $crate::bindings::authorizer
            );
        };
    };
}

//! Access control, the pipeline's step 3 and 5 (reference §2): the API's resource policy, then
//! the method's authorizer or `AWS_IAM` signature, combined as API Gateway combines them
//! (§5.2, Tables A and B). Compiled into each route's [`Access`] with the snapshot; per
//! request, [`check`].
//!
//! | method protection | resource policy       | needs                                        |
//! |-------------------|-----------------------|----------------------------------------------|
//! | none              | none                  | nothing                                      |
//! | none              | yes                   | an explicit Allow for the anonymous caller   |
//! | Lambda authorizer | none / yes            | the authorizer's policy, Table A (an explicit Deny in the resource policy answers before the authorizer is called) |
//! | JWT / Cognito     | none / yes            | a valid token, then an explicit Allow when there is a policy |
//! | `AWS_IAM`         | none / yes            | a valid signature, then the user's identity policy and the resource policy: Table A in the same account, Table B across accounts |
//!
//! The kinds live in [`lambda`], [`jwt`] and [`iam`]. Every denial is an `ACCESS_DENIED`
//! with the message API Gateway writes for it.

pub mod iam;
pub mod jwt;
pub mod lambda;

use std::sync::Arc;
use std::time::SystemTime;

use portico_auth::arn::MAX_METHOD_ARN;
use portico_auth::policy::{Facts, Outcome, Policy, Principal, combine};

use crate::Gateway;
use crate::pipeline::context::{Authorized, RequestContext};
use crate::pipeline::error::GatewayError;

pub use lambda::AuthorizerRt;

/// `execute-api:Invoke`, the action every data-plane request asks for.
const INVOKE: &str = "execute-api:Invoke";

/// A route's protection, compiled.
#[derive(Default)]
pub struct Access {
    /// Its authorizer (Lambda-style or JWT).
    pub authorizer: Option<Arc<AuthorizerRt>>,
    /// `AWS_IAM`: SigV4 against the gateway file's credentials.
    pub iam: Option<Arc<iam::IamRt>>,
    /// `authorizationScopes` (JWT and Cognito).
    pub scopes: Vec<String>,
}

impl Access {
    /// Whether the method needs the request body before access control (SigV4 signs it).
    pub fn needs_body(&self) -> bool {
        self.iam.is_some()
    }
}

/// The request facts a policy is evaluated against.
fn facts<'a>(cx: &'a RequestContext<'_>, arn: &'a str, principal: Principal<'a>) -> Facts<'a> {
    Facts {
        action: INVOKE,
        resource: arn,
        principal,
        source_ip: Some(cx.source_ip),
        user_agent: cx.header("user-agent"),
        referer: cx.header("referer"),
        source_arn: None,
        secure_transport: false,
        now: SystemTime::now(),
    }
}

/// The 403 a resource policy gives `who` (`anonymous`, or an IAM user's ARN).
fn resource_denied(who: &str, arn: &str, explicit: bool) -> GatewayError {
    let tail = if explicit {
        " with an explicit deny"
    } else {
        ""
    };
    GatewayError::AccessDenied(Some(format!(
        "User: {who} is not authorized to perform: execute-api:Invoke on resource: {arn}{tail}"
    )))
}

/// Runs the route's access control. `Ok(None)`: nothing to expose (an unprotected method);
/// `Ok(Some)`: what `$context.authorizer.*` and `$context.identity.*` show.
pub async fn check(
    gw: &Gateway,
    cx: &RequestContext<'_>,
    access: &Access,
    resource_policy: Option<&Policy>,
    body: Option<&[u8]>,
) -> Result<Option<Authorized>, GatewayError> {
    if access.authorizer.is_none() && access.iam.is_none() && resource_policy.is_none() {
        return Ok(None);
    }
    let arn = cx.method_arn();
    if arn.len() > MAX_METHOD_ARN {
        return Err(GatewayError::UriTooLong(arn.len()));
    }
    if let Some(iam) = &access.iam {
        return iam::check(cx, iam, &arn, resource_policy, body).map(Some);
    }
    // Anonymous as far as the resource policy can tell: an explicit Deny ends it before any
    // authorizer runs.
    let resource = resource_policy.map(|p| p.evaluate(&facts(cx, &arn, Principal::Anonymous)));
    if resource == Some(Outcome::ExplicitDeny) {
        return Err(resource_denied("anonymous", &arn, true));
    }
    let Some(auth) = &access.authorizer else {
        // A resource policy alone: it must allow explicitly.
        return match resource {
            Some(Outcome::Allow) | None => Ok(None),
            Some(_) => Err(resource_denied("anonymous", &arn, false)),
        };
    };
    let (authorized, identity) = match &auth.check {
        lambda::Check::Lambda(l) => lambda::authorize(gw, cx, auth, l, &arn).await?,
        lambda::Check::Jwt(j) => (jwt::authorize(gw, cx, auth, j, &access.scopes).await?, None),
    };
    match identity {
        // A policy from the authorizer: Table A with the resource policy.
        Some(outcome) => match combine(outcome, resource, false) {
            Outcome::Allow => Ok(Some(authorized)),
            // The resource policy's own deny was answered above; this one is the authorizer's.
            Outcome::ExplicitDeny => Err(GatewayError::AccessDenied(Some(
                "User is not authorized to access this resource with an explicit deny".into(),
            ))),
            Outcome::ImplicitDeny if outcome == Outcome::Allow => {
                Err(resource_denied("anonymous", &arn, false))
            }
            Outcome::ImplicitDeny => Err(GatewayError::AccessDenied(Some(
                "User is not authorized to access this resource".into(),
            ))),
        },
        // Authenticated without a policy (a JWT, a plain allow): a resource policy, if any,
        // must allow explicitly.
        None => match resource {
            Some(Outcome::Allow) | None => Ok(Some(authorized)),
            Some(_) => Err(resource_denied("anonymous", &arn, false)),
        },
    }
}

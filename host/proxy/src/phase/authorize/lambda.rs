//! Lambda-style authorizers: the compiled authorizer of a route (its declaration, plugin slot
//! and decision cache), and the per-request call.
//!
//! Identity sources come first: a missing or empty one, or a token that fails
//! `identityValidationExpression`, answers 401 without calling the plugin. What the plugin
//! answers is cached per identity (the identity-source values, all of them) for
//! `authorizerResultTtlInSeconds`, with AWS's rule: a cached *policy* is evaluated again
//! against each request's method ARN, so a policy that allows only `GET /pets` allows nothing
//! else from the cache. A 401, a custom answer and a malformed output are not cached.
//!
//! | answer                         | result                                                     |
//! |--------------------------------|------------------------------------------------------------|
//! | `allow` (0.1.0 style)          | allowed, on every method                                   |
//! | `lambda-output` policy         | the policy's outcome for this method ARN (Table A with the resource policy) |
//! | `lambda-output` simple         | `isAuthorized` true: allowed; false: 403 `Forbidden`       |
//! | `unauthorized`                 | 401 UNAUTHORIZED                                           |
//! | `forbidden`                    | 403 ACCESS_DENIED                                          |
//! | malformed output, fault        | 500 AUTHORIZER_CONFIGURATION_ERROR (deadline, no instance: AUTHORIZER_FAILURE) |

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use portico_auth::output::{AuthorizerOutput, parse_output};
use portico_auth::policy::{Outcome, Policy, Principal};
use portico_config::mapping::ParamSource;
use portico_config::{AuthorizerDef, AuthorizerKind, LambdaAuthorizer};
use portico_runtime::{Decision, Fault};

use super::facts;
use super::jwt::JwtRt;
use crate::Gateway;
use crate::phase::plugin::record_fault;
use crate::pipeline::context::{Authorized, RequestContext};
use crate::pipeline::error::GatewayError;
use crate::plugins::Slot;

/// Authorizer answers cached per identity, for `authorizerResultTtlInSeconds`.
pub type DecisionCache = moka::sync::Cache<String, Arc<Verdict>>;

/// Most cached authorizer results per authorizer.
const DECISION_CACHE_ENTRIES: u64 = 100_000;

/// An authorizer's answer, as the cache keeps it.
#[derive(Debug)]
pub enum Verdict {
    /// Allowed on every method (a 0.1.0-style `allow`).
    Allow(Authorized),
    /// A policy to evaluate against each request's method ARN.
    Policy(Authorized, Policy),
    /// An HTTP API simple response.
    Simple(Option<Authorized>),
    /// A verified JWT's claims, valid until the token expires.
    Token(Authorized, std::time::SystemTime),
    /// 403 ACCESS_DENIED, with an optional message.
    Forbidden(Option<String>),
}

/// What decides, compiled.
pub enum Check {
    /// A plugin.
    Lambda(Lambda),
    /// A JWT check in the host.
    Jwt(Arc<JwtRt>),
}

/// A Lambda-style authorizer's plugin and settings.
pub struct Lambda {
    /// The plugin that decides.
    pub slot: Arc<Slot>,
    /// Its declaration.
    pub def: LambdaAuthorizer,
}

/// An authorizer on a route, compiled.
pub struct AuthorizerRt {
    /// The declaration.
    pub def: AuthorizerDef,
    /// What decides.
    pub check: Check,
    /// Cached answers (none when the TTL is 0).
    pub cache: Option<DecisionCache>,
}

impl AuthorizerRt {
    /// Compiles `def`. Methods that share an authorizer share its decision cache and key set
    /// (`shared`, by authorizer name, within one API). `slot` is the plugin of a Lambda-style
    /// authorizer; `jwt` builds a JWT authorizer's state.
    pub fn build(
        def: &AuthorizerDef,
        slot: Option<Arc<Slot>>,
        jwt: impl FnOnce() -> Option<Arc<JwtRt>>,
        shared: &mut HashMap<String, Arc<Self>>,
    ) -> Option<Arc<Self>> {
        if let Some(built) = shared.get(&def.name) {
            return Some(Arc::clone(built));
        }
        let check = match &def.kind {
            AuthorizerKind::Lambda(l) => Check::Lambda(Lambda {
                slot: slot?,
                def: l.clone(),
            }),
            AuthorizerKind::Jwt(_) => Check::Jwt(jwt()?),
        };
        let cache = (def.ttl > Duration::ZERO).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(DECISION_CACHE_ENTRIES)
                .time_to_live(def.ttl)
                .support_invalidation_closures()
                .build()
        });
        let built = Arc::new(Self {
            def: def.clone(),
            check,
            cache,
        });
        shared.insert(def.name.clone(), Arc::clone(&built));
        Some(built)
    }

    /// Drops the answers cached for `stage` (AWS `FlushStageAuthorizersCache`).
    pub fn flush(&self, stage: &str) {
        if let Some(cache) = &self.cache {
            let prefix = format!("{stage}\0");
            // Only fails when closures are unsupported, which `build` enables.
            let _ = cache.invalidate_entries_if(move |key, _| key.starts_with(&prefix));
        }
    }
}

/// Identity sources: every one present and non-empty (else 401), the TOKEN pattern checked;
/// returns the cache key: the stage (answers are cached per stage, as API Gateway caches
/// them), then every value in order, each ended by a NUL.
pub fn identity_key(
    cx: &RequestContext<'_>,
    sources: &[ParamSource],
    validation: Option<&regex::Regex>,
) -> Result<String, GatewayError> {
    let mut key = String::new();
    key.push_str(cx.stage.map_or("", |s| s.name.as_str()));
    key.push('\0');
    for source in sources {
        let value = cx
            .param(source)
            .filter(|v| !v.is_empty())
            .ok_or(GatewayError::Unauthorized)?;
        if let (ParamSource::Header(_), Some(re)) = (source, validation)
            && !re.is_match(&value)
        {
            return Err(GatewayError::Unauthorized);
        }
        key.push_str(&value);
        key.push('\0');
    }
    Ok(key)
}

/// Runs a Lambda-style authorizer: what it exposes, and the policy outcome for `arn` (`None`
/// when the answer carries no policy to combine).
pub async fn authorize(
    gw: &Gateway,
    cx: &RequestContext<'_>,
    auth: &AuthorizerRt,
    lambda: &Lambda,
    arn: &str,
) -> Result<(Authorized, Option<Outcome>), GatewayError> {
    let validation = lambda
        .def
        .token
        .then_some(())
        .and(lambda.def.validation.as_ref());
    let key = identity_key(cx, &auth.def.identity_sources, validation)?;
    let cached = auth.cache.as_ref().and_then(|c| c.get(&key));
    let verdict = match cached {
        Some(v) => v,
        None => {
            let verdict = Arc::new(call(gw, cx, lambda, arn).await?);
            if let Some(cache) = &auth.cache {
                cache.insert(key, Arc::clone(&verdict));
            }
            verdict
        }
    };
    match &*verdict {
        Verdict::Allow(a) => Ok((a.clone(), Some(Outcome::Allow))),
        Verdict::Policy(a, policy) => {
            let outcome = policy.evaluate(&facts(cx, arn, Principal::Anonymous));
            Ok((a.clone(), Some(outcome)))
        }
        Verdict::Simple(Some(a)) => Ok((a.clone(), None)),
        Verdict::Simple(None) => Err(GatewayError::Forbidden(None)),
        Verdict::Forbidden(m) => Err(GatewayError::AccessDenied(m.clone())),
        // Only JWT authorizers cache tokens.
        Verdict::Token(..) => Err(GatewayError::AuthorizerConfiguration(
            "a JWT verdict in a Lambda authorizer's cache".into(),
        )),
    }
}

/// Calls the plugin. 401 and custom answers are errors here, so they are never cached.
async fn call(
    gw: &Gateway,
    cx: &RequestContext<'_>,
    lambda: &Lambda,
    arn: &str,
) -> Result<Verdict, GatewayError> {
    let version = lambda.slot.current();
    let call = cx.plugin_call();
    let decision = match version.plugin.authorize(&call, cx.plugin_head(), arn).await {
        Ok(d) => d,
        Err(fault) => {
            record_fault(gw, &lambda.slot, cx, &fault);
            return Err(match fault {
                Fault::Deadline | Fault::Overloaded => {
                    GatewayError::AuthorizerFailure(fault.to_string())
                }
                _ => GatewayError::AuthorizerConfiguration(fault.to_string()),
            });
        }
    };
    Ok(match decision {
        Decision::Allow {
            principal_id,
            context,
            usage_identifier_key,
        } => Verdict::Allow(Authorized {
            principal_id,
            context,
            usage_identifier_key,
            ..Authorized::default()
        }),
        Decision::Unauthorized => return Err(GatewayError::Unauthorized),
        Decision::Forbidden(message) => Verdict::Forbidden(message),
        Decision::Custom(reply) => return Err(GatewayError::PluginReply(Box::new(reply))),
        Decision::LambdaOutput(json) => {
            let output = parse_output(json.as_bytes()).map_err(|e| {
                tracing::warn!(request_id = cx.request_id, plugin = %lambda.slot.name, error = %e, "malformed authorizer output");
                GatewayError::AuthorizerConfiguration(format!("malformed authorizer output: {e}"))
            })?;
            match output {
                AuthorizerOutput::Policy(p) if !lambda.def.simple_responses => Verdict::Policy(
                    Authorized {
                        principal_id: p.principal_id,
                        context: p.context,
                        usage_identifier_key: p.usage_identifier_key,
                        ..Authorized::default()
                    },
                    p.policy,
                ),
                AuthorizerOutput::Simple(s) if lambda.def.simple_responses => {
                    Verdict::Simple(s.authorized.then(|| Authorized {
                        context: s.context,
                        ..Authorized::default()
                    }))
                }
                _ => {
                    return Err(GatewayError::AuthorizerConfiguration(
                        if lambda.def.simple_responses {
                            "the authorizer has enableSimpleResponses and returned a policy"
                        } else {
                            "the authorizer returned a simple response without enableSimpleResponses"
                        }
                        .into(),
                    ));
                }
            }
        }
    })
}

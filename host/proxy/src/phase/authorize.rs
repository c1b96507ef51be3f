//! The authorizer phase: the compiled authorizer of a route (its declaration, plugin slot and
//! decision cache), built with the snapshot, and the per-request call.
//!
//! Identity sources come first: a missing or empty one, or a token that fails
//! `identityValidationExpression`, answers 401 without calling the plugin. Allows and denies
//! are cached per identity for `authorizerResultTtlInSeconds`; a 401 or a custom answer is not.
//! Faults map as in [`super::plugin`]: deadline or no free instance → 500 AUTHORIZER_FAILURE,
//! anything else → 500 AUTHORIZER_CONFIGURATION_ERROR.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use portico_config::AuthorizerDef;
use portico_config::mapping::ParamSource;
use portico_runtime::{CallContext, Decision, Fault};

use super::plugin::record_fault;
use crate::Gateway;
use crate::pipeline::context::{Authorized, RequestContext};
use crate::pipeline::error::GatewayError;
use crate::plugins::Slot;

/// Authorizer results cached per identity, for `authorizerResultTtlInSeconds`.
pub type DecisionCache = moka::sync::Cache<String, Arc<portico_runtime::Decision>>;

/// Most cached authorizer results per authorizer.
const DECISION_CACHE_ENTRIES: u64 = 100_000;

/// An authorizer on a route, compiled.
pub struct AuthorizerRt {
    /// The declaration.
    pub def: AuthorizerDef,
    /// The plugin that decides.
    pub slot: Arc<Slot>,
    /// Cached decisions (none when the TTL is 0).
    pub cache: Option<DecisionCache>,
}

impl AuthorizerRt {
    /// Compiles `def` on `slot`. Methods that share an authorizer share its decision cache
    /// (`caches`, by authorizer name, within one API).
    pub fn build(
        def: &AuthorizerDef,
        slot: Arc<Slot>,
        caches: &mut HashMap<String, Option<DecisionCache>>,
    ) -> Arc<Self> {
        let cache = caches
            .entry(def.name.clone())
            .or_insert_with(|| {
                (def.ttl > Duration::ZERO).then(|| {
                    moka::sync::Cache::builder()
                        .max_capacity(DECISION_CACHE_ENTRIES)
                        .time_to_live(def.ttl)
                        .build()
                })
            })
            .clone();
        Arc::new(Self {
            def: def.clone(),
            slot,
            cache,
        })
    }
}

/// Runs the method's authorizer. `Ok` carries the principal and context to expose as
/// `$context.authorizer.*`.
pub async fn authorize(
    gw: &Gateway,
    cx: &RequestContext<'_>,
    auth: &AuthorizerRt,
) -> Result<Authorized, GatewayError> {
    // Identity sources: every one present and non-empty, or 401 without calling the plugin.
    let mut key = String::new();
    for source in &auth.def.identity_sources {
        let value = cx
            .param(source)
            .filter(|v| !v.is_empty())
            .ok_or(GatewayError::Unauthorized)?;
        if auth.def.token
            && let ParamSource::Header(_) = source
            && auth
                .def
                .validation
                .as_ref()
                .is_some_and(|re| !re.is_match(&value))
        {
            return Err(GatewayError::Unauthorized);
        }
        key.push_str(&value);
        key.push('\0');
    }
    let cached = auth.cache.as_ref().and_then(|c| c.get(&key));
    let decision = match cached {
        Some(d) => d,
        None => {
            let version = auth.slot.current();
            let call = CallContext::new(cx.request_id);
            let arn = cx.method_arn();
            let decision = match version.plugin.authorize(&call, cx.plugin_head(), &arn).await {
                Ok(d) => Arc::new(d),
                Err(fault) => {
                    record_fault(gw, &auth.slot, cx, &fault);
                    return Err(match fault {
                        Fault::Deadline | Fault::Overloaded => {
                            GatewayError::AuthorizerFailure(fault.to_string())
                        }
                        _ => GatewayError::AuthorizerConfiguration(fault.to_string()),
                    });
                }
            };
            // Allows and denies are policies and are cached; a 401 or a custom answer is not.
            if let Some(cache) = &auth.cache
                && matches!(*decision, Decision::Allow { .. } | Decision::Forbidden(_))
            {
                cache.insert(key, Arc::clone(&decision));
            }
            decision
        }
    };
    match &*decision {
        Decision::Allow {
            principal_id,
            context,
            usage_identifier_key,
        } => Ok(Authorized {
            principal_id: principal_id.clone(),
            context: context.clone(),
            usage_identifier_key: usage_identifier_key.clone(),
        }),
        Decision::Unauthorized => Err(GatewayError::Unauthorized),
        Decision::Forbidden(message) => Err(GatewayError::AccessDenied(message.clone())),
        Decision::Custom(reply) => Err(GatewayError::PluginReply(Box::new(reply.clone()))),
    }
}

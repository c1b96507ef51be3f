//! Authorizers: see the request head, decide (the job of a Lambda TOKEN/REQUEST authorizer).
//!
//! ```ignore
//! use portico_sdk::{Authorizer, Decision, Request};
//!
//! struct Tokens;
//!
//! impl Authorizer for Tokens {
//!     fn authorize(request: &Request) -> Decision {
//!         match request.header("authorization") {
//!             Some("let-me-in") => Decision::allow("user-1"),
//!             _ => Decision::unauthorized(),
//!         }
//!     }
//! }
//!
//! portico_sdk::export_authorizer!(Tokens);
//! ```

use crate::bindings::authorizer as world;
use crate::request::Reply;

pub use world::{Allow, Decision};

/// An authorizer plugin. Export an implementation with [`export_authorizer!`](crate::export_authorizer).
pub trait Authorizer {
    /// Decides on one request. Called once per request that the decision cache does not answer.
    fn authorize(request: &crate::Request) -> Decision;
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
                fn authorize(request: $crate::Request) -> $crate::Decision {
                    <$ty as $crate::Authorizer>::authorize(&request)
                }
            }

            $crate::bindings::authorizer::export_authorizer_world!(
                __PorticoAuthorizer with_types_in $crate::bindings::authorizer
            );
        };
    };
}

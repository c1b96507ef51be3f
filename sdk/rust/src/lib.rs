//! Write Portico plugins in Rust: an authorizer, a mapper, a validator or a function is one
//! trait implementation (or one annotated function) in a `cdylib` built for `wasm32-wasip2`.
//!
//! ```ignore
//! use portico_sdk::{Decision, Request};
//!
//! #[portico_sdk::authorizer]
//! fn authorize(request: &Request) -> Decision {
//!     match request.header("authorization") {
//!         Some("let-me-in") => Decision::allow("user-1").with_context("scope", "read"),
//!         Some(_) => Decision::forbidden(),
//!         None => Decision::unauthorized(),
//!     }
//! }
//! ```
//!
//! How the pieces fit:
//!
//! - [`bindings`] holds what `wit_bindgen::generate!` makes of `wit/` (package
//!   `portico:plugin@0.1.3`): the host capabilities once, then one module per plugin world.
//! - [`Authorizer`], [`Mapper`], [`Validator`] and [`Function`] are the traits a plugin
//!   implements; [`export_authorizer!`], [`export_mapper!`], [`export_validator!`] and
//!   [`export_function!`] export an implementation as the component's world. A crate exports
//!   exactly one world.
//! - The attribute macros [`authorizer`](macro@authorizer), [`validator`](macro@validator) and
//!   [`function`](macro@function) do both for a single free function.
//! - [`Request`] (the WIT `request-head`), [`Decision`], [`Reply`], [`MappedRequest`] and
//!   [`MappedResponse`] are the generated WIT types with a few helpers added.
//! - [`log`], [`config()`], [`kv`] and [`http_client`] are the host capabilities. A component
//!   imports only the capabilities its code calls, and the gateway refuses to deploy a plugin
//!   that imports one its route does not grant.
//! - [`tls`] tells a plugin about the TLS of the request it serves (the mutual-TLS client
//!   certificate, [`tls::client_cert`]); it needs no grant.

// The export macros and generated code below refer to this crate as `::portico_sdk`, which must
// resolve inside the crate too.
extern crate self as portico_sdk;

pub mod authorizer;
pub mod bindings;
mod config;
pub mod function;
pub mod log;
pub mod mapper;
mod request;
pub mod tls;
pub mod validator;

pub use authorizer::{Allow, Authorizer, Decision, Policy, stage_wildcard};
pub use config::{config, config_as, config_text};
pub use function::Function;
pub use mapper::{MappedRequest, MappedResponse, Mapper};
pub use portico_sdk_macros::{authorizer, function, validator};
pub use request::{Field, Reply, Request};
pub use serde_json;
pub use validator::Validator;

/// The outbound HTTP capability (`portico:plugin/http-client`): `http_client::fetch(&request)`.
/// Only hosts on the plugin's allow-list are reachable.
pub use bindings::capabilities::portico::plugin::http_client;
/// The key-value cache capability (`portico:plugin/kv`): `kv::get`, `kv::set`, `kv::delete`.
pub use bindings::capabilities::portico::plugin::kv;

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

#[cfg(test)]
mod tests;

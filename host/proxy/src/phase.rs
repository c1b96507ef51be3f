//! The pipeline's phases that have state of their own: each module holds the phase's compiled
//! form (built with the snapshot) and its per-request code together. The order they run in is
//! [`crate::pipeline`]'s.
//!
//! - [`authorize`]: Wasm authorizers and their decision cache (401 / 403 / 500);
//! - [`traffic`]: API keys, throttles and quotas (403 / 429 / 503);
//! - [`validate`]: request validation, required parameters then the body model (400);
//! - [`plugin`]: validator and mapper plugins (400 / 500), and plugin fault accounting;
//! - [`cache`]: the stage response cache (lookup, single-flight fill, invalidation);
//! - [`http_mapping`]: HTTP API parameter mapping of `http_proxy` and `aws_proxy` integrations
//!   (`append|overwrite|remove` on headers, query string, path and status code);
//! - [`mapping`]: request templates, passthrough and `contentHandling` of non-proxy
//!   integrations (415 / 500);
//! - [`engine`]: the API's template and model engines when they are components.

pub mod authorize;
pub mod cache;
pub mod compress;
pub mod cors;
pub mod engine;
pub mod http_mapping;
pub mod mapping;
pub mod plugin;
pub mod traffic;
pub mod validate;

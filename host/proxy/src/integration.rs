//! Integrations: what serves a matched method.
//!
//! - [`http`]: `http_proxy` (pass-through, streamed) and `http` (parameter mapping and
//!   integration responses);
//! - [`stream`]: the idle and total limits of `responseTransferMode: STREAM` bodies;
//! - [`mock`]: answered by the gateway from the request template's `statusCode`;
//! - [`function`]: `aws_proxy` (the Lambda proxy event) and `aws` (the mapped body as the
//!   event).
//!
//! Non-proxy integrations share [`response`]: pick the integration response (by status code,
//! or by a function's `errorMessage`), then map its headers and body.

pub mod function;
pub mod headers;
pub mod http;
pub mod lambda;
pub mod mock;
pub mod outbound;
pub mod pool;
pub mod response;
pub mod stream;
pub mod upstream;

use std::time::Duration;

use ::http::Response;

use crate::pipeline::body::Body;

/// An integration's answer, and how long the integration itself took.
pub struct Answer {
    /// The method response.
    pub response: Response<Body>,
    /// `$context.integrationLatency`; `None` when nothing outside the gateway ran.
    pub integration_latency: Option<Duration>,
}

//! Outbound HTTP for plugins: the runtime's [`OutboundHttp`] hook over the gateway's pooled
//! upstream client, so a plugin's requests reuse connections like integrations do.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use portico_runtime::{BoxFuture, OutboundError, OutboundHttp};

use crate::integration::upstream::Upstream;
use crate::pipeline::body::full;

/// Largest response body a plugin may receive.
const MAX_RESPONSE: usize = 10 * 1024 * 1024;

/// The pooled client, as the runtime sees it.
pub struct PooledOutbound(pub Upstream);

impl OutboundHttp for PooledOutbound {
    fn fetch(
        &self,
        req: http::Request<Bytes>,
        timeout: Duration,
    ) -> BoxFuture<Result<http::Response<Bytes>, OutboundError>> {
        let client = self.0.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let req = http::Request::from_parts(parts, full(body));
            let call = async {
                let resp = client
                    .request(req)
                    .await
                    .map_err(|e| OutboundError::Failed(e.to_string()))?;
                let (parts, body) = resp.into_parts();
                let body = Limited::new(body, MAX_RESPONSE)
                    .collect()
                    .await
                    .map_err(|e| OutboundError::Failed(e.to_string()))?
                    .to_bytes();
                Ok(http::Response::from_parts(parts, body))
            };
            tokio::time::timeout(timeout, call)
                .await
                .unwrap_or(Err(OutboundError::Timeout))
        })
    }
}

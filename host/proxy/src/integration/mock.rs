//! MOCK integrations: the gateway answers by itself.
//!
//! The request template (chosen by the request's `Content-Type`, with `passthroughBehavior`'s
//! rules) renders JSON whose `statusCode` selects the integration response; what it sets in
//! `$context.responseOverride` applies to the response. Without a template the integration
//! status is 200.

use bytes::Bytes;
use portico_config::Integration;

use super::Answer;
use super::response::{self, ResponseCx, Selector, Upstream};
use crate::phase::mapping::{self, ApiMapping};
use crate::pipeline::context::RequestContext;
use crate::pipeline::error::GatewayError;

/// Answers a MOCK integration.
pub async fn respond(
    cx: &RequestContext<'_>,
    integration: &Integration,
    api: ApiMapping<'_>,
    body: Bytes,
) -> Result<Answer, GatewayError> {
    let mapped = mapping::map_request(cx, integration, api, body.clone()).await?;
    let status = if mapped.transformed {
        status_of(&mapped.body).ok_or_else(|| {
            GatewayError::Configuration(format!(
                "the MOCK request template rendered {:?}, which has no integer statusCode",
                String::from_utf8_lossy(&mapped.body)
            ))
        })?
    } else {
        200
    };
    let response = response::build(
        cx,
        integration,
        Selector::Status(status),
        Upstream {
            headers: None,
            body: Bytes::new(),
        },
        ResponseCx {
            api,
            request_body: &body,
            overrides: mapped.overrides,
        },
    )
    .await?;
    Ok(Answer {
        response,
        integration_latency: None,
    })
}

fn status_of(rendered: &[u8]) -> Option<u16> {
    let v: serde_json::Value = serde_json::from_slice(rendered).ok()?;
    match v.get("statusCode")? {
        serde_json::Value::Number(n) => n.as_u64().and_then(|s| u16::try_from(s).ok()),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

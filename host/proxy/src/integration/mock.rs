//! MOCK integrations: the gateway answers by itself.
//!
//! The request template (chosen by the request's `Content-Type`, else `application/json`)
//! renders to JSON whose `statusCode` selects the integration response. Without a template the
//! integration status is 200.

use bytes::Bytes;
use portico_config::Integration;

use super::{Answer, integration_response};
use crate::pipeline::context::RequestContext;
use crate::pipeline::error::GatewayError;

/// Answers a MOCK integration.
pub fn respond(cx: &RequestContext<'_>, integration: &Integration) -> Result<Answer, GatewayError> {
    let content_type = cx.header("content-type").map(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    let templates = &integration.request_templates;
    let template = content_type
        .as_deref()
        .and_then(|ct| templates.get(ct))
        .or_else(|| templates.get("application/json"))
        .or_else(|| templates.values().next());
    let status = match template {
        None => 200,
        Some(t) => {
            let rendered = t.render(|v, out| cx.render_var(v, out));
            status_of(&rendered).ok_or_else(|| {
                GatewayError::Configuration(format!(
                    "the MOCK request template rendered {rendered:?}, which has no integer statusCode"
                ))
            })?
        }
    };
    let response = integration_response(cx, integration, &status.to_string(), None, Bytes::new())?;
    Ok(Answer {
        response,
        integration_latency: None,
    })
}

fn status_of(rendered: &str) -> Option<u16> {
    let v: serde_json::Value = serde_json::from_str(rendered).ok()?;
    match v.get("statusCode")? {
        serde_json::Value::Number(n) => n.as_u64().and_then(|s| u16::try_from(s).ok()),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

//! The plugin phases of the pipeline: validator, and the mapper on both sides of the
//! integration (the authorizer is [`super::authorize`]). Each turns the plugin's answer into
//! "continue" or a [`GatewayError`], and each plugin fault into the gateway response API
//! Gateway gives for it:
//!
//! | plugin      | fault                             | answer                                  |
//! |-------------|-----------------------------------|-----------------------------------------|
//! | authorizer  | deadline, no free instance        | 500 AUTHORIZER_FAILURE                  |
//! | authorizer  | trap, out of memory, bad return   | 500 AUTHORIZER_CONFIGURATION_ERROR      |
//! | validator, mapper | any                         | 500 API_CONFIGURATION_ERROR             |
//! | function    | deadline                          | 504 INTEGRATION_TIMEOUT                 |
//! | function    | any other                         | 502 `{"message": "Internal server error"}` |
//!
//! Every fault also counts in `portico_plugin_faults_total{plugin,fault}` and logs a line with
//! the request id. The client never sees the fault's text.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError};
use portico_runtime::{Fault, MappedResponse};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::Gateway;
use crate::pipeline::body::{Body, BoxError, full};
use crate::pipeline::context::RequestContext;
use crate::pipeline::error::GatewayError;
use crate::plugins::Slot;
use crate::telemetry::PluginLabels;

/// Largest response body a response mapper sees.
const MAX_MAPPED_RESPONSE: usize = 10 * 1024 * 1024;

/// Counts and logs a fault.
pub fn record_fault(gw: &Gateway, slot: &Slot, cx: &RequestContext<'_>, fault: &Fault) {
    count_fault(&gw.metrics.plugin_faults, &slot.name, fault);
    tracing::warn!(request_id = cx.request_id, plugin = %slot.name, %fault, "plugin fault");
}

/// Counts a fault in `portico_plugin_faults_total`.
pub fn count_fault(faults: &Family<PluginLabels, Counter>, plugin: &str, fault: &Fault) {
    faults
        .get_or_create(&PluginLabels {
            plugin: plugin.to_owned(),
            fault: fault.label().to_owned(),
        })
        .inc();
}

/// Reads a request body whole. The pipeline limits request bodies, so going over the limit
/// surfaces here as a 413.
pub async fn collect(body: Body, max: u64) -> Result<Bytes, GatewayError> {
    collect_bounded(body, usize::MAX).await.map_err(|e| {
        if e.downcast_ref::<LengthLimitError>().is_some() {
            GatewayError::BodyTooLarge(max)
        } else {
            GatewayError::IntegrationFailure(format!("reading the request body: {e}"))
        }
    })
}

/// Reads a body whole, failing past `max` bytes.
pub(crate) async fn collect_bounded(mut body: Body, max: usize) -> Result<Bytes, BoxError> {
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            if buf.len() + data.len() > max {
                return Err(format!("body over {max} bytes").into());
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

/// Runs a validator: `Err` is a 400 with the validator's message.
pub async fn validate(
    gw: &Gateway,
    cx: &RequestContext<'_>,
    slot: &Slot,
    body: &Bytes,
) -> Result<(), GatewayError> {
    let version = slot.current();
    let call = cx.plugin_call();
    match version
        .plugin
        .validate(&call, cx.plugin_head(), body.clone())
        .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(message)) => Err(GatewayError::BadRequestBody(message)),
        Err(fault) => {
            record_fault(gw, slot, cx, &fault);
            Err(GatewayError::Configuration(fault.to_string()))
        }
    }
}

/// Runs a mapper on the request: the new head (headers and query string) and body.
pub async fn map_request(
    gw: &Gateway,
    cx: &RequestContext<'_>,
    slot: &Slot,
    body: Bytes,
) -> Result<(http::request::Parts, Bytes), GatewayError> {
    let version = slot.current();
    let call = cx.plugin_call();
    let mapped = match version
        .plugin
        .map_request(&call, cx.plugin_head(), body)
        .await
    {
        Ok(Ok(m)) => m,
        Ok(Err(reply)) => return Err(GatewayError::PluginReply(Box::new(reply))),
        Err(fault) => {
            record_fault(gw, slot, cx, &fault);
            return Err(GatewayError::Configuration(fault.to_string()));
        }
    };
    let mut parts = http::Request::new(()).into_parts().0;
    parts.method = cx.parts.method.clone();
    parts.version = cx.parts.version;
    parts.headers = header_map(&mapped.headers);
    let mut target = cx.parts.uri.path().to_owned();
    if !mapped.query.is_empty() {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &mapped.query {
            q.append_pair(k, v);
        }
        target.push('?');
        target.push_str(&q.finish());
    }
    let mut uri = http::uri::Builder::new().path_and_query(target);
    if let Some(authority) = cx.parts.uri.authority() {
        uri = uri
            .authority(authority.clone())
            .scheme(cx.parts.uri.scheme_str().unwrap_or("http"));
    }
    parts.uri = uri.build().map_err(|e| {
        GatewayError::Configuration(format!(
            "mapper {} produced an invalid query: {e}",
            slot.name
        ))
    })?;
    Ok((parts, mapped.body))
}

/// Runs a mapper on the integration's response.
pub async fn map_response(
    gw: &Gateway,
    cx: &RequestContext<'_>,
    slot: &Slot,
    response: Response<Body>,
) -> Result<Response<Body>, GatewayError> {
    let (parts, body) = response.into_parts();
    let body = match collect_bounded(body, MAX_MAPPED_RESPONSE).await {
        Ok(b) => b,
        Err(e) => {
            return Err(GatewayError::IntegrationFailure(format!(
                "reading the response to map: {e}"
            )));
        }
    };
    let headers = parts
        .headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_owned(), v.to_owned()))
        })
        .collect();
    let input = MappedResponse {
        status: parts.status.as_u16(),
        headers,
        body,
    };
    let version = slot.current();
    let call = cx.plugin_call();
    let mapped = match version
        .plugin
        .map_response(&call, cx.plugin_head(), input)
        .await
    {
        Ok(m) => m,
        Err(fault) => {
            record_fault(gw, slot, cx, &fault);
            return Err(GatewayError::Configuration(fault.to_string()));
        }
    };
    let mut resp = Response::new(full(mapped.body));
    *resp.status_mut() =
        StatusCode::from_u16(mapped.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    *resp.headers_mut() = header_map(&mapped.headers);
    resp.headers_mut().remove(http::header::CONTENT_LENGTH);
    Ok(resp)
}

/// Headers from pairs the runtime has already validated.
pub fn header_map(fields: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in fields {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            map.append(n, v);
        }
    }
    map
}

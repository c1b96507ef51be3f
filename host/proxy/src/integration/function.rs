//! Function integrations: the Lambda analogue.
//!
//! The Lambda ARN in the integration URI names a function; the gateway file binds that name to
//! a `function` plugin.
//! - `aws_proxy` ([`call`]): an event-style component gets the Lambda proxy event (payload
//!   format 1.0 or 2.0) and its output is read with API Gateway's rules ([`super::lambda`]). A
//!   component exporting `wasi:http/incoming-handler` gets the HTTP request itself; with
//!   `responseTransferMode: STREAM` its body reaches the client as the guest writes it.
//! - `aws` ([`call_mapped`]): the event is the request body after the mapping phase; the result
//!   (or the error, as `{"errorMessage": …}`) goes through the integration responses, selected
//!   by the error message.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use portico_config::{Integration, TransferMode};
use portico_runtime::Fault;

use portico_config::transform::BinaryMediaTypes;

use super::Answer;
use super::lambda::{self, AuthorizerContext};
use super::response::{self, ResponseCx, Selector, Upstream};
use crate::Gateway;
use crate::integration::headers;
use crate::integration::stream;
use crate::phase::mapping::{self, ApiMapping};
use crate::phase::plugin::{self, record_fault};
use crate::pipeline::body::full;
use crate::pipeline::context::RequestContext;
use crate::pipeline::error::GatewayError;
use crate::plugins::Slot;
use crate::snapshot::Snapshot;

/// Calls the function the integration names: `resolved` when the snapshot resolved it for the
/// stage, else by the name the request renders.
pub async fn call(
    gw: &Gateway,
    snap: &Snapshot,
    cx: &RequestContext<'_>,
    integration: &Integration,
    resolved: Option<&Arc<Slot>>,
    binary: &BinaryMediaTypes,
    body: Bytes,
) -> Result<Answer, GatewayError> {
    let slot = resolve(snap, cx, integration, resolved)?;
    let version = slot.current();
    let call = cx.plugin_call();
    let started = Instant::now();
    if version.plugin.is_wasi_http() && integration.transfer_mode == TransferMode::Stream {
        // The head is awaited within the integration timeout; the body then streams under the
        // stream limits, and the function's own deadline.
        let head = version
            .plugin
            .invoke_http_streaming(&call, wasi_request(cx, body), {
                // A fault after the head breaks the body off; the runtime logs it, and it
                // counts like any other.
                let (faults, plugin) = (gw.metrics.plugin_faults.clone(), slot.name.clone());
                move |fault: &Fault| plugin::count_fault(&faults, &plugin, fault)
            });
        let outcome = tokio::time::timeout(integration.timeout, head).await;
        let latency = started.elapsed();
        let (parts, body) = settle(gw, slot, cx, outcome)?.into_parts();
        return Ok(Answer {
            response: Response::from_parts(
                parts,
                stream::Limited::boxed(body, snap.stream_limits(), started),
            ),
            integration_latency: Some(latency),
        });
    }
    let invoke = async {
        if version.plugin.is_wasi_http() {
            let req = wasi_request(cx, body);
            version.plugin.invoke_http(&call, req).await.map(|resp| {
                let (parts, body) = resp.into_parts();
                Ok(Response::from_parts(parts, full(body)))
            })
        } else {
            let authorizer = AuthorizerContext {
                principal_id: cx
                    .authorizer
                    .filter(|a| a.iam.is_none())
                    .map(|a| a.principal_id.clone()),
                context: cx.authorizer.map(|a| a.context.clone()).unwrap_or_default(),
                claims: cx.authorizer.and_then(|a| a.claims.clone()),
                scopes: cx.authorizer.map(|a| a.scopes.clone()).unwrap_or_default(),
            };
            let is_binary = binary.matches(cx.header("content-type"));
            let event = lambda::event(
                integration.payload_format,
                cx,
                &body,
                is_binary,
                &authorizer,
            );
            version
                .plugin
                .invoke_event(&call, event)
                .await
                .map(|out| match out {
                    Ok(output) => lambda::response(integration.payload_format, &output, &|ct| {
                        binary.matches(ct) || binary.matches(cx.header("accept"))
                    })
                    .map_err(|e| GatewayError::FunctionFailed(e.to_string())),
                    Err(function_error) => Err(GatewayError::FunctionFailed(format!(
                        "the function returned an error: {function_error}"
                    ))),
                })
        }
    };
    let outcome = tokio::time::timeout(integration.timeout, invoke).await;
    let latency = started.elapsed();
    let response = settle(gw, slot, cx, outcome)??;
    Ok(Answer {
        response,
        integration_latency: Some(latency),
    })
}

/// The HTTP request a `wasi:http` function gets: the client's, with the upstream header
/// rules and the custom domain (or API) host.
fn wasi_request(cx: &RequestContext<'_>, body: Bytes) -> Request<Bytes> {
    let mut req = Request::new(body);
    *req.method_mut() = cx.parts.method.clone();
    *req.uri_mut() = cx.parts.uri.clone();
    *req.headers_mut() = cx.parts.headers.clone();
    headers::request_to_upstream(req.headers_mut());
    if let Ok(host) = HeaderValue::from_str(cx.domain_name()) {
        req.headers_mut().insert(http::header::HOST, host);
    }
    req
}

/// Calls the function of an `aws` (non-proxy) integration with the mapped request body as its
/// event.
pub async fn call_mapped(
    gw: &Gateway,
    snap: &Snapshot,
    cx: &RequestContext<'_>,
    integration: &Integration,
    resolved: Option<&Arc<Slot>>,
    api: ApiMapping<'_>,
    body: Bytes,
) -> Result<Answer, GatewayError> {
    let slot = resolve(snap, cx, integration, resolved)?;
    let mapped = mapping::map_request(cx, integration, api, body.clone()).await?;
    let version = slot.current();
    if version.plugin.is_wasi_http() {
        return Err(GatewayError::Configuration(
            "an aws (non-proxy) integration needs an event-style function (the function world), not a wasi:http one".into(),
        ));
    }
    let call = cx.plugin_call();
    let event = mapping::text(&mapped.body).into_owned();
    let started = Instant::now();
    let outcome = tokio::time::timeout(
        integration.timeout,
        version.plugin.invoke_event(&call, event),
    )
    .await;
    let latency = started.elapsed();
    let result = settle(gw, slot, cx, outcome)?;
    let (selector, out) = match &result {
        Ok(output) => (Selector::FunctionOk, Bytes::from(output.clone())),
        Err(message) => (
            Selector::FunctionError(message),
            Bytes::from(serde_json::json!({ "errorMessage": message }).to_string()),
        ),
    };
    let response = response::build(
        cx,
        integration,
        selector,
        Upstream {
            headers: None,
            body: out,
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
        integration_latency: Some(latency),
    })
}

/// The function slot: `resolved` when the snapshot resolved it for the stage, else by the name
/// the request renders.
fn resolve<'s>(
    snap: &'s Snapshot,
    cx: &RequestContext<'_>,
    integration: &Integration,
    resolved: Option<&'s Arc<Slot>>,
) -> Result<&'s Arc<Slot>, GatewayError> {
    if let Some(slot) = resolved {
        return Ok(slot);
    }
    let name = integration
        .function
        .as_ref()
        .map(|t| t.render(|v, out| cx.render_var(v, out)))
        .unwrap_or_default();
    snap.functions.get(&name).ok_or_else(|| {
        GatewayError::Configuration(format!("no function plugin named {name:?} is declared"))
    })
}

/// A call's outcome: a timeout or a fault (recorded) is the gateway's error; otherwise the
/// function's own result.
fn settle<T>(
    gw: &Gateway,
    slot: &Arc<Slot>,
    cx: &RequestContext<'_>,
    outcome: Result<Result<T, Fault>, tokio::time::error::Elapsed>,
) -> Result<T, GatewayError> {
    match outcome {
        Err(_) => Err(GatewayError::IntegrationTimeout),
        Ok(Err(fault)) => {
            record_fault(gw, slot, cx, &fault);
            Err(match fault {
                Fault::Deadline => GatewayError::IntegrationTimeout,
                other => GatewayError::FunctionFailed(other.to_string()),
            })
        }
        Ok(Ok(result)) => Ok(result),
    }
}

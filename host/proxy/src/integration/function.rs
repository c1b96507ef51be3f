//! Function integrations (`aws_proxy`): the Lambda analogue.
//!
//! The Lambda ARN in the integration URI names a function; the gateway file binds that name to
//! a `function` plugin. An event-style component gets the Lambda proxy event (payload format
//! 1.0 or 2.0) and its output is read with API Gateway's rules ([`super::lambda`]). A
//! component exporting `wasi:http/incoming-handler` gets the HTTP request itself.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use portico_config::Integration;
use portico_runtime::{CallContext, Fault};

use super::Answer;
use super::lambda::{self, AuthorizerContext};
use crate::Gateway;
use crate::integration::headers;
use crate::phase::plugin::record_fault;
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
    body: Bytes,
) -> Result<Answer, GatewayError> {
    let slot = match resolved {
        Some(slot) => slot,
        None => {
            let name = integration
                .function
                .as_ref()
                .map(|t| t.render(|v, out| cx.render_var(v, out)))
                .unwrap_or_default();
            snap.functions.get(&name).ok_or_else(|| {
                GatewayError::Configuration(format!(
                    "no function plugin named {name:?} is declared"
                ))
            })?
        }
    };
    let version = slot.current();
    let call = CallContext::new(cx.request_id);
    let started = Instant::now();
    let invoke = async {
        if version.plugin.is_wasi_http() {
            let mut req = Request::new(body);
            *req.method_mut() = cx.parts.method.clone();
            *req.uri_mut() = cx.parts.uri.clone();
            *req.headers_mut() = cx.parts.headers.clone();
            headers::request_to_upstream(req.headers_mut());
            if let Ok(host) = HeaderValue::from_str(cx.domain_name()) {
                req.headers_mut().insert(http::header::HOST, host);
            }
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
            let event = lambda::event(integration.payload_format, cx, &body, &authorizer);
            version
                .plugin
                .invoke_event(&call, event)
                .await
                .map(|out| match out {
                    Ok(output) => lambda::response(integration.payload_format, &output)
                        .map_err(|e| GatewayError::FunctionFailed(e.to_string())),
                    Err(function_error) => Err(GatewayError::FunctionFailed(format!(
                        "the function returned an error: {function_error}"
                    ))),
                })
        }
    };
    let outcome = tokio::time::timeout(integration.timeout, invoke).await;
    let latency = started.elapsed();
    let response = match outcome {
        Err(_) => return Err(GatewayError::IntegrationTimeout),
        Ok(Err(fault)) => {
            record_fault(gw, slot, cx, &fault);
            return Err(match fault {
                Fault::Deadline => GatewayError::IntegrationTimeout,
                other => GatewayError::FunctionFailed(other.to_string()),
            });
        }
        Ok(Ok(result)) => result?,
    };
    Ok(Answer {
        response,
        integration_latency: Some(latency),
    })
}

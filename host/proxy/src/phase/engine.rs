//! Where an API's mapping templates render and its models validate: the built-in engines
//! (`portico-vtl`, `portico-schema`, linked into the gateway), or Wasm components the gateway
//! file names per API (`template_mapper`, `model_validator`; the `template-mapper` and
//! `model-validator` worlds). The first-party components embed the same two crates, so both
//! paths give the same answers; a component lets a user bring an engine of their own.
//!
//! A component prepares a template or a model once per instance, under an id that changes
//! with its text ([`portico_config::transform::MappingTemplate::id`],
//! [`portico_schema::Portable::id`]); with instance reuse that is once per instance's life.
//! Faults count as plugin faults and answer 500 API_CONFIGURATION_ERROR, as a failing built-in
//! render does.

use std::sync::Arc;

use portico_config::transform::BinaryMediaTypes;
use portico_runtime::{ModelFailure, RenderFailure, RenderInput};

use crate::Gateway;
use crate::phase::plugin::record_fault;
use crate::pipeline::context::RequestContext;
use crate::pipeline::error::GatewayError;
use crate::plugins::Slot;

/// An API's engine components, resolved when the snapshot is built. `None`: built in.
#[derive(Default)]
pub struct Engines {
    /// The `template-mapper` plugin that renders the API's templates.
    pub templates: Option<Arc<Slot>>,
    /// The `model-validator` plugin that checks the API's bodies.
    pub models: Option<Arc<Slot>>,
}

/// What the mapping of one request needs from its API.
#[derive(Clone, Copy)]
pub struct ApiMapping<'a> {
    /// `binaryMediaTypes`.
    pub binary: &'a BinaryMediaTypes,
    /// The template engine component, with the gateway its faults are counted in; `None`:
    /// built in.
    pub templates: Option<(&'a Gateway, &'a Slot)>,
}

impl ApiMapping<'static> {
    /// No binary media types, the built-in engine: what `http_proxy` responses are built with.
    pub const PLAIN: ApiMapping<'static> = ApiMapping {
        binary: &BinaryMediaTypes::EMPTY,
        templates: None,
    };
}

/// Renders through a `template-mapper` component.
pub async fn render(
    gw: &Gateway,
    slot: &Slot,
    cx: &RequestContext<'_>,
    template: &portico_config::transform::MappingTemplate,
    input: RenderInput,
) -> Result<portico_vtl::Rendered, GatewayError> {
    let call = cx.plugin_call();
    let version = slot.current();
    match version
        .plugin
        .render_template(&call, template.id, &template.source, input)
        .await
    {
        Ok(Ok(r)) => Ok(portico_vtl::Rendered {
            body: r.body,
            overrides: portico_vtl::Overrides {
                request_header: r.overrides.request_header,
                request_path: r.overrides.request_path,
                request_querystring: r.overrides.request_querystring,
                response_header: r.overrides.response_header,
                response_status: r.overrides.response_status,
            },
        }),
        Ok(Err(failure)) => {
            let why = match failure {
                RenderFailure::Template(e) => format!(
                    "does not parse in {}: line {}, column {}: {}",
                    slot.name, e.line, e.column, e.message
                ),
                RenderFailure::Failed(m) => m,
            };
            tracing::warn!(request_id = cx.request_id, plugin = %slot.name, error = %why, "mapping template failed");
            Err(GatewayError::Configuration(format!(
                "the mapping template failed: {why}"
            )))
        }
        Err(fault) => {
            record_fault(gw, slot, cx, &fault);
            Err(GatewayError::Configuration(fault.to_string()))
        }
    }
}

/// The overrides a render starts from, in the component's form.
pub fn overrides_in(o: portico_vtl::Overrides) -> portico_runtime::Overrides {
    portico_runtime::Overrides {
        request_header: o.request_header,
        request_path: o.request_path,
        request_querystring: o.request_querystring,
        response_header: o.response_header,
        response_status: o.response_status,
    }
}

/// Validates `body` against model `name` through a `model-validator` component.
pub async fn validate(
    gw: &Gateway,
    slot: &Slot,
    cx: &RequestContext<'_>,
    model: portico_schema::Portable<'_>,
    name: &str,
    body: &[u8],
) -> Result<(), GatewayError> {
    let call = cx.plugin_call();
    let version = slot.current();
    match version
        .plugin
        .validate_model(&call, model.id, model.schema, model.documents, body)
        .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(ModelFailure::Invalid(detail))) => Err(GatewayError::InvalidRequestBody(detail)),
        Ok(Err(ModelFailure::Model(why))) => {
            tracing::warn!(request_id = cx.request_id, plugin = %slot.name, model = name, error = %why, "model does not compile in its validator");
            Err(GatewayError::Configuration(format!(
                "model {name} does not compile in {}: {why}",
                slot.name
            )))
        }
        Err(fault) => {
            record_fault(gw, slot, cx, &fault);
            Err(GatewayError::Configuration(fault.to_string()))
        }
    }
}

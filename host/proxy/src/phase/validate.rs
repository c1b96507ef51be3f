//! Request validation (AWS §7): a method's request validator checks its required parameters,
//! then its body against the model for the request's content type. Parameters come first: a
//! request missing both answers the parameters' 400.
//!
//! - missing or blank parameters: 400 BAD_REQUEST_PARAMETERS, `{"message": "Missing required
//!   request parameters: [a, b]"}`, names in AWS's order (header, path, querystring);
//! - a body that fails its model: 400 BAD_REQUEST_BODY, `{"message": "Invalid request body"}`,
//!   the detail in `$context.error.validationErrorString`.

use portico_config::validation::{ApiModels, MethodValidation, ParamLocation, missing_message};

use crate::Gateway;
use crate::phase::engine;
use crate::pipeline::context::RequestContext;
use crate::pipeline::error::GatewayError;
use crate::plugins::Slot;

/// Runs the method's validation; `body` is the collected request body (validation of a body
/// always collects it). `component`: the API's `model_validator`, when the body is not checked
/// by the built-in validator. `Ok(Some)`: the body as the built-in validator parsed it.
pub async fn check(
    cx: &RequestContext<'_>,
    validation: &MethodValidation,
    models: Option<&ApiModels>,
    component: Option<(&Gateway, &Slot)>,
    body: &[u8],
) -> Result<Option<serde_json::Value>, GatewayError> {
    let blank = |v: Option<&str>| v.is_none_or(|v| v.trim().is_empty());
    let missing: Vec<&str> = validation
        .required
        .iter()
        .filter(|p| match p.location {
            ParamLocation::Header => blank(cx.header(&p.name)),
            ParamLocation::Path => blank(cx.path_param(&p.name)),
            ParamLocation::Querystring => blank(cx.query_last(&p.name).as_deref()),
        })
        .map(|p| p.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(GatewayError::BadRequestParameters(missing_message(missing)));
    }
    let Some(name) = validation.model_for(cx.header("content-type")) else {
        return Ok(None);
    };
    // `portico check` refuses a method whose model does not exist.
    let not_compiled =
        || GatewayError::Configuration(format!("the body model {name} is not compiled"));
    let models = &models.ok_or_else(not_compiled)?.0;
    if let Some((gw, slot)) = component {
        let model = models.portable(name).ok_or_else(not_compiled)?;
        return engine::validate(gw, slot, cx, model, name, body)
            .await
            .map(|()| None);
    }
    let model = models.get(name).ok_or_else(not_compiled)?;
    model
        .validate_bytes(body)
        .map(Some)
        .map_err(GatewayError::InvalidRequestBody)
}

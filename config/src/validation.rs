//! Request validation, as configured (reference §7): the API's request validators, which one a
//! method uses, the parameters it requires, and the model (a JSON Schema draft 4, compiled by
//! `portico-schema`) its body must match, by content type.

use std::collections::BTreeMap;
use std::sync::Arc;

/// An API's models, compiled once per load by `portico-schema`.
#[derive(Clone)]
pub struct ApiModels(pub Arc<portico_schema::Models>);

impl std::fmt::Debug for ApiModels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiModels")
    }
}

/// `x-amazon-apigateway-request-validators` entry: what a validator checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestValidator {
    /// Its name in the document.
    pub name: String,
    /// `validateRequestBody`: the body must match the method's model.
    pub body: bool,
    /// `validateRequestParameters`: required parameters must be present and non-blank.
    pub params: bool,
}

/// Where a required parameter lives. The order is AWS's: the missing-parameters message lists
/// names by their full key, `method.request.header.*` before `path` before `querystring`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ParamLocation {
    /// `method.request.header.NAME` (`in: header`).
    Header,
    /// `method.request.path.NAME` (`in: path`).
    Path,
    /// `method.request.querystring.NAME` (`in: query`).
    Querystring,
}

/// A parameter the method requires.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RequiredParam {
    /// Where it is looked for.
    pub location: ParamLocation,
    /// Its name (headers match case-insensitively).
    pub name: String,
}

/// What a method validates, when its validator checks anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodValidation {
    /// The validator the method uses.
    pub validator: RequestValidator,
    /// Required parameters, in AWS's message order (see [`ParamLocation`]).
    pub required: Vec<RequiredParam>,
    /// Body models by content type (lower-cased MIME type): model names in the API's models.
    pub models: BTreeMap<String, String>,
}

impl MethodValidation {
    /// The model for a request's `Content-Type`: its own, else `application/json`'s (AWS falls
    /// back on it, like LocalStack's `$default`), else none (nothing to validate).
    pub fn model_for(&self, content_type: Option<&str>) -> Option<&str> {
        let ct = content_type.map_or_else(
            || "application/json".to_owned(),
            crate::transform::mime_type,
        );
        self.models
            .get(&ct)
            .or_else(|| self.models.get("$default"))
            .or_else(|| self.models.get("application/json"))
            .map(String::as_str)
    }
}

/// The 400 message for missing parameters: `Missing required request parameters: [a, b]`.
pub fn missing_message<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.into_iter().collect();
    format!(
        "Missing required request parameters: [{}]",
        names.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_params_sort_like_aws() {
        let mut params = [
            RequiredParam {
                location: ParamLocation::Querystring,
                name: "qs1".into(),
            },
            RequiredParam {
                location: ParamLocation::Path,
                name: "issuer".into(),
            },
            RequiredParam {
                location: ParamLocation::Header,
                name: "x-header-param".into(),
            },
        ];
        params.sort();
        assert_eq!(
            missing_message(params.iter().map(|p| p.name.as_str())),
            "Missing required request parameters: [x-header-param, issuer, qs1]"
        );
    }
}

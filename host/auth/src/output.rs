//! A Lambda authorizer's output, validated: the REST shape
//! `{"principalId", "policyDocument", "context", "usageIdentifierKey"}` and the HTTP API simple
//! response `{"isAuthorized", "context"}` (`[DG:api-gateway-lambda-authorizer-output]`,
//! `[DG:http-api-lambda-authorizer]`). The shape is told by the presence of `isAuthorized`.
//!
//! Any [`OutputError`] is AWS's 500 AUTHORIZER_CONFIGURATION_ERROR ("Invalid JSON in response"
//! in the execution log); the messages are for Portico's log, never for the client.

use serde_json::{Map, Value};

use crate::policy::{ArnScope, Policy, PolicyError, PolicyKind};

/// The largest authorizer output accepted, in bytes of JSON.
pub const MAX_OUTPUT: usize = 64 * 1024;

/// The largest context accepted: the sum of its keys' and stringified values' lengths, in bytes.
pub const MAX_CONTEXT: usize = 8192;

/// A validated authorizer output.
#[derive(Clone, Debug)]
pub enum AuthorizerOutput {
    /// The REST (and HTTP API IAM-policy) shape.
    Policy(PolicyOutput),
    /// The HTTP API simple response.
    Simple(SimpleOutput),
}

/// The REST shape: a principal and a policy.
#[derive(Clone, Debug)]
pub struct PolicyOutput {
    /// `principalId`, exposed as `$context.authorizer.principalId`.
    pub principal_id: String,
    /// `policyDocument`, parsed as [`PolicyKind::Authorizer`].
    pub policy: Policy,
    /// `context`, each value stringified (`1` → `"1"`, `true` → `"true"`), in document order.
    pub context: Vec<(String, String)>,
    /// `usageIdentifierKey`: the API key for usage plans when the key source is AUTHORIZER.
    pub usage_identifier_key: Option<String>,
}

/// The HTTP API simple response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimpleOutput {
    /// `isAuthorized`.
    pub authorized: bool,
    /// `context`: strings as they are, numbers and booleans stringified, objects and arrays (which
    /// payload 2.0 allows) as their compact JSON text.
    pub context: Vec<(String, String)>,
}

/// Why an authorizer output was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    /// Not JSON, or not a JSON object.
    #[error("the authorizer output is not a JSON object: {0}")]
    InvalidJson(String),
    /// Over [`MAX_OUTPUT`].
    #[error("the authorizer output is {0} bytes; at most {MAX_OUTPUT} are accepted")]
    OutputTooLarge(usize),
    /// `principalId` is missing or not a string.
    #[error("the authorizer output needs a string principalId")]
    PrincipalId,
    /// `policyDocument` is missing.
    #[error("the authorizer output has no policyDocument")]
    MissingPolicy,
    /// `policyDocument` did not parse.
    #[error("the authorizer's policyDocument is invalid at {0}")]
    Policy(#[from] PolicyError),
    /// `isAuthorized` is not a boolean.
    #[error("isAuthorized must be a boolean")]
    IsAuthorized,
    /// `context` is not an object.
    #[error("the authorizer's context must be an object")]
    ContextNotObject,
    /// A context key is empty.
    #[error("the authorizer's context has an empty key")]
    EmptyContextKey,
    /// A REST context value is an object, an array or null.
    #[error("the authorizer's context value for '{0}' must be a string, number or boolean")]
    ContextValue(String),
    /// The context is over [`MAX_CONTEXT`].
    #[error("the authorizer's context is {0} bytes; at most {MAX_CONTEXT} are accepted")]
    ContextTooLarge(usize),
    /// `usageIdentifierKey` is not a string.
    #[error("usageIdentifierKey must be a string")]
    UsageIdentifierKey,
}

/// Parses and validates a Lambda authorizer's output.
pub fn parse_output(json: &[u8]) -> Result<AuthorizerOutput, OutputError> {
    if json.len() > MAX_OUTPUT {
        return Err(OutputError::OutputTooLarge(json.len()));
    }
    let value: Value =
        serde_json::from_slice(json).map_err(|e| OutputError::InvalidJson(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(OutputError::InvalidJson(
            "the top level is not an object".into(),
        ));
    };
    let context = map.get("context").filter(|v| !v.is_null());
    if let Some(authorized) = map.get("isAuthorized") {
        let authorized = authorized.as_bool().ok_or(OutputError::IsAuthorized)?;
        let context = match context {
            None => Vec::new(),
            Some(Value::Object(ctx)) => simple_context(ctx)?,
            Some(_) => return Err(OutputError::ContextNotObject),
        };
        return Ok(AuthorizerOutput::Simple(SimpleOutput {
            authorized,
            context,
        }));
    }
    let principal_id = match map.get("principalId") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(OutputError::PrincipalId),
    };
    let doc = map
        .get("policyDocument")
        .filter(|v| !v.is_null())
        .ok_or(OutputError::MissingPolicy)?;
    let policy = Policy::parse(doc, PolicyKind::Authorizer, &ArnScope::NONE)?;
    let context = match context {
        None => Vec::new(),
        Some(Value::Object(ctx)) => stringify_context(ctx)?,
        Some(_) => return Err(OutputError::ContextNotObject),
    };
    let usage_identifier_key = match map.get("usageIdentifierKey") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(OutputError::UsageIdentifierKey),
    };
    Ok(AuthorizerOutput::Policy(PolicyOutput {
        principal_id,
        policy,
        context,
        usage_identifier_key,
    }))
}

/// Stringifies a REST authorizer context: strings as they are, numbers as JSON writes them
/// (`1`, `1.5`), booleans as `true` / `false`; objects, arrays and null are refused, as AWS
/// refuses them. Keys must be non-empty; AWS documents only alphanumerics and `_` as usable in
/// `$context.authorizer.<key>`, but any other key is kept (it is still reachable from a Lambda
/// proxy event). The total of key and value lengths is capped at [`MAX_CONTEXT`].
pub fn stringify_context(map: &Map<String, Value>) -> Result<Vec<(String, String)>, OutputError> {
    collect(map, |key, value| match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(OutputError::ContextValue(key.to_owned())),
    })
}

/// A simple response's context: like [`stringify_context`], but objects, arrays and null are kept
/// as their compact JSON text.
fn simple_context(map: &Map<String, Value>) -> Result<Vec<(String, String)>, OutputError> {
    collect(map, |_, value| match value {
        Value::String(s) => Ok(s.clone()),
        other => Ok(other.to_string()),
    })
}

fn collect(
    map: &Map<String, Value>,
    mut stringify: impl FnMut(&str, &Value) -> Result<String, OutputError>,
) -> Result<Vec<(String, String)>, OutputError> {
    let mut out = Vec::with_capacity(map.len());
    let mut size = 0usize;
    for (key, value) in map {
        if key.is_empty() {
            return Err(OutputError::EmptyContextKey);
        }
        let text = stringify(key, value)?;
        size += key.len() + text.len();
        out.push((key.clone(), text));
    }
    if size > MAX_CONTEXT {
        return Err(OutputError::ContextTooLarge(size));
    }
    Ok(out)
}

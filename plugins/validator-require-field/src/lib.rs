//! Fixture: a `validator` that refuses a body that is not a JSON object holding the field its
//! configuration names (`{field: NAME}`, default `id`), with the 400 message
//! `missing field NAME`. It imports only the `config` capability.

use portico_sdk::Request;
use portico_sdk::serde_json::Value;

/// The field required when the configuration names none.
const DEFAULT_FIELD: &str = "id";

/// Accepts a JSON object with the configured field; refuses anything else.
#[portico_sdk::validator]
fn validate(_request: &Request, body: &[u8]) -> Result<(), String> {
    let field = portico_sdk::config()["field"]
        .as_str()
        .unwrap_or(DEFAULT_FIELD);
    match portico_sdk::serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) if object.contains_key(field) => Ok(()),
        _ => Err(format!("missing field {field}")),
    }
}

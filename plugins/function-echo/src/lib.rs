//! Example function (the `function` world): echoes the Lambda proxy event it receives.
//!
//! The answer is a proxy response whose body is JSON
//! `{"path": .., "method": .., "query": .., "body": .., "authorizer": ..}`, read from a payload
//! 1.0 or 2.0 event (`authorizer` is the event's `requestContext.authorizer`).
//!
//! It doubles as the host's fixture for AWS's rules on Lambda proxy responses: when the event's
//! body is (or its query parameter `shape` names) one of the shapes in [`SHAPES`], it returns that
//! raw output instead, however malformed; the shape `error` returns a function error (`boom`),
//! the shape `mirror` (asked for by the query parameter) returns the event's own body with its
//! `isBase64Encoded` flag, so a binary payload makes the whole round trip, and the shape `event`
//! returns the whole event as JSON text, for tests of what the gateway puts in it.

use portico_sdk::function::{self, Value};
use portico_sdk::serde_json::{self, json};

/// Raw outputs by name, each a JSON document exactly as a Lambda function could return it.
const SHAPES: &[(&str, &str)] = &[
    ("status-only", r#"{"statusCode":200}"#),
    (
        "bool-header",
        r#"{"statusCode":200,"headers":{"test-header":"value","header-bool":true}}"#,
    ),
    ("null-headers", r#"{"statusCode":200,"headers":null}"#),
    ("unknown-key", r#"{"statusCode":200,"wrongValue":"value"}"#),
    ("empty", r#"{}"#),
    (
        "base64",
        r#"{"statusCode":200,"body":"dGVzdC1kYXRh","isBase64Encoded":true}"#,
    ),
    (
        "multi",
        r#"{"statusCode":200,"multiValueHeaders":{"test-multi":["value1","value2"]}}"#,
    ),
    (
        "multi-merge",
        r#"{"statusCode":200,"multiValueHeaders":{"test-multi":["value-multi"]},"headers":{"test-multi":"value-solo"}}"#,
    ),
    (
        "multi-not-list",
        r#"{"statusCode":200,"multiValueHeaders":{"x":"value1"}}"#,
    ),
    ("status-string-bad", r#"{"statusCode":"test"}"#),
    ("status-string", r#"{"statusCode":"201"}"#),
    ("just-string", r#""justAString""#),
    ("no-status", r#"{"headers":{"test-header":"value"}}"#),
];

/// The shape whose name answers with a function error.
const ERROR_SHAPE: &str = "error";

/// The shape whose name answers with the event's body as the response body, as it came.
const MIRROR_SHAPE: &str = "mirror";

/// The shape whose name answers with the whole event, as JSON text, as the response body.
const EVENT_SHAPE: &str = "event";

/// The shape the event asks for: its query parameter `shape`, else its whole (trimmed) body.
fn requested_shape(event: &Value) -> Option<&str> {
    function::query(event, "shape").or_else(|| function::body(event).map(str::trim))
}

#[portico_sdk::function]
fn handle(event: Value) -> Result<Value, String> {
    if let Some(name) = requested_shape(&event) {
        if name == ERROR_SHAPE {
            return Err("boom".to_owned());
        }
        if name == MIRROR_SHAPE {
            return Ok(json!({
                "statusCode": 200,
                "body": event["body"],
                "isBase64Encoded": event["isBase64Encoded"],
            }));
        }
        if name == EVENT_SHAPE {
            return Ok(json!({"statusCode": 200, "body": event.to_string()}));
        }
        if let Some((_, raw)) = SHAPES.iter().find(|(shape, _)| *shape == name) {
            return serde_json::from_str(raw).map_err(|e| format!("shape {name}: {e}"));
        }
    }
    let echo = json!({
        "path": function::path(&event),
        "method": function::method(&event),
        "query": event["queryStringParameters"],
        "body": event["body"],
        "authorizer": event["requestContext"]["authorizer"],
    });
    Ok(function::json_response(200, &echo))
}

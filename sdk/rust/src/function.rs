//! Functions: the Lambda analogue. A Lambda proxy event in (JSON, payload format 1.0 or 2.0), a
//! Lambda proxy response out.
//!
//! The WIT export is string-based (`handle(event: string) -> result<string, string>`); the
//! [`Function`] trait works on parsed JSON instead, which is what every function wants. The SDK
//! parses the event and serialises the answer. An event that is not JSON never reaches the
//! trait: the export answers `err` (a function error) on its own.
//!
//! ```ignore
//! use portico_sdk::function::{self, Value};
//!
//! #[portico_sdk::function]
//! fn handle(event: Value) -> Result<Value, String> {
//!     let who = function::query(&event, "name").unwrap_or("world");
//!     Ok(function::response(200, "text/plain", format!("hello {who}")))
//! }
//! ```

pub use serde_json::Value;
use serde_json::json;

/// A function plugin. Export an implementation with [`export_function!`](crate::export_function).
pub trait Function {
    /// Handles one event. `Ok` is the function's return value (normally a proxy response such
    /// as [`response`] builds, but any JSON is passed on for the host to judge, as Lambda
    /// does); `Err` is a function error, its `errorMessage`.
    fn handle(event: Value) -> Result<Value, String>;
}

/// The request method: `httpMethod` (payload 1.0) or `requestContext.http.method` (2.0).
pub fn method(event: &Value) -> Option<&str> {
    event["httpMethod"]
        .as_str()
        .or_else(|| event["requestContext"]["http"]["method"].as_str())
}

/// The request path: `path` (payload 1.0) or `rawPath` (2.0).
pub fn path(event: &Value) -> Option<&str> {
    event["path"].as_str().or_else(|| event["rawPath"].as_str())
}

/// Query-string parameter `name` from `queryStringParameters`.
pub fn query<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    event["queryStringParameters"][name].as_str()
}

/// Header `name` from `headers`, whatever its case.
pub fn header<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    event["headers"]
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

/// The body as the event carries it (base64 when `isBase64Encoded` is true), if any.
pub fn body(event: &Value) -> Option<&str> {
    event["body"].as_str()
}

/// A proxy response: `statusCode`, one `content-type` header and a text body.
pub fn response(status: u16, content_type: &str, body: impl Into<String>) -> Value {
    json!({
        "statusCode": status,
        "headers": { "content-type": content_type },
        "body": body.into(),
    })
}

/// A proxy response whose body is `body` serialised as JSON (`content-type: application/json`).
pub fn json_response(status: u16, body: &Value) -> Value {
    response(status, "application/json", body.to_string())
}

#[doc(hidden)]
pub fn __handle<F: Function>(event: &str) -> Result<String, String> {
    let event = serde_json::from_str(event).map_err(|e| format!("event is not JSON: {e}"))?;
    F::handle(event).map(|value| value.to_string())
}

/// Exports `$ty`, which implements [`Function`], as this component's `function` world.
#[macro_export]
macro_rules! export_function {
    ($ty:ty) => {
        #[allow(unsafe_code)]
        const _: () = {
            struct __PorticoFunction;

            impl $crate::bindings::function::Guest for __PorticoFunction {
                fn handle(
                    event: ::std::string::String,
                ) -> ::core::result::Result<::std::string::String, ::std::string::String> {
                    $crate::function::__handle::<$ty>(&event)
                }
            }

            $crate::bindings::function::export_function_world!(
                __PorticoFunction with_types_in $crate::bindings::function
            );
        };
    };
}

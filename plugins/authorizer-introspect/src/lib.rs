//! The first-party token-introspection authorizer (OAuth 2.0, RFC 7662), and the example of a
//! plugin that calls out over HTTP.
//!
//! It posts the bearer token to an introspection endpoint through the host's pooled client
//! (the `http` grant; the endpoint's host must be on the plugin's `http_allow` list) and
//! decides from the answer. Configuration:
//!
//! ```json
//! {"url": "https://idp.example.com/oauth2/introspect", "timeout_ms": 200}
//! ```
//!
//! - no `Authorization` header (or an empty one): `unauthorized` (401), no call made;
//! - endpoint answers 200 with `{"active": true, "sub": "..."}`: `allow`, the principal being
//!   `sub` (or `client_id`), with context `scope` (when the endpoint gives one) and
//!   `introspected=true`;
//! - endpoint answers 200 with `"active": false` (or anything else that is not an active
//!   token): `unauthorized`;
//! - the call cannot be made or the endpoint fails (not allowed, timeout, connection error, a
//!   non-200 status, a body that is not JSON): a `custom` 503 `{"message":"Service
//!   Unavailable"}`, and a log line that says which. The client learns nothing about the
//!   identity provider.

use portico_sdk::http_client::{self, Error};
use portico_sdk::serde_json::{self, Value};
use portico_sdk::{Decision, Reply, Request, log};

/// Deadline of the introspection call when the configuration sets none; the host also caps
/// it at what is left of the plugin's own deadline.
const DEFAULT_TIMEOUT_MS: u32 = 1000;

/// The answer when the identity provider cannot be asked.
fn unavailable(why: &str) -> Decision {
    log::warn!("authorizer-introspect: introspection failed: {why}");
    Decision::custom(Reply {
        status: 503,
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"message":"Service Unavailable"}"#.to_vec(),
    })
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[portico_sdk::authorizer]
fn authorize(request: &Request) -> Decision {
    let config = portico_sdk::config();
    let Some(url) = config["url"].as_str() else {
        return unavailable("the configuration has no url");
    };
    let Some(value) = request.header("authorization").filter(|v| !v.is_empty()) else {
        return Decision::unauthorized();
    };
    let token = value
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("bearer "))
        .map_or(value, |_| &value[7..]);
    let timeout_ms = config["timeout_ms"]
        .as_u64()
        .and_then(|ms| u32::try_from(ms).ok())
        .unwrap_or(DEFAULT_TIMEOUT_MS);
    let call = http_client::Request {
        method: "POST".into(),
        url: url.into(),
        headers: vec![
            (
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
            ("accept".into(), "application/json".into()),
        ],
        body: format!("token={}", form_encode(token)).into_bytes(),
        timeout_ms,
    };
    let response = match http_client::fetch(&call) {
        Ok(response) => response,
        Err(Error::HostNotAllowed(host)) => {
            return unavailable(&format!("host {host} is not on the allow-list"));
        }
        Err(Error::Timeout) => return unavailable("timed out"),
        Err(Error::Failed(detail)) => return unavailable(&detail),
    };
    if response.status != 200 {
        return unavailable(&format!("the endpoint answered {}", response.status));
    }
    let Ok(answer) = serde_json::from_slice::<Value>(&response.body) else {
        return unavailable("the endpoint's answer is not JSON");
    };
    if answer["active"] != Value::Bool(true) {
        return Decision::unauthorized();
    }
    let principal = answer["sub"]
        .as_str()
        .or_else(|| answer["client_id"].as_str())
        .unwrap_or("unknown");
    let mut decision = Decision::allow(principal).with_context("introspected", "true");
    if let Some(scope) = answer["scope"].as_str() {
        decision = decision.with_context("scope", scope);
    }
    decision
}

//! The first-party header/token authorizer.
//!
//! Reads a token from a request header and looks it up in its configuration:
//!
//! ```json
//! {"header": "authorization", "tokens": {"allow-token": "user-1"}, "deny": ["deny-token"],
//!  "usage_identifier_keys": {"allow-token": "<API key value>"}}
//! ```
//!
//! - no header (or an empty one): `unauthorized` (401);
//! - a token listed in `deny`: `forbidden` (403);
//! - a token listed in `tokens`: `allow`, the principal being the token's value, with context
//!   `scope=read` and `tokenLength=<bytes in the token>`, and the token's entry in
//!   `usage_identifier_keys` (if any) as the `usageIdentifierKey`: the API key an API with
//!   `x-amazon-apigateway-api-key-source: AUTHORIZER` meters the request against;
//! - any other token: `unauthorized`.
//!
//! `header` defaults to `authorization`. A value of the form `Bearer <token>` is looked up as
//! `<token>` when the whole value is not itself listed. Each call logs one debug line (never the
//! token).

use portico_sdk::serde_json::Value;
use portico_sdk::{Decision, Request, log};

/// The header read when the configuration names none.
const DEFAULT_HEADER: &str = "authorization";

/// What the configuration says about one token.
enum Verdict<'a> {
    Deny,
    Allow(&'a str),
}

/// Looks `token` up in the configuration: `deny` first, then `tokens`.
fn lookup<'a>(config: &'a Value, token: &str) -> Option<Verdict<'a>> {
    let denied = config["deny"]
        .as_array()
        .is_some_and(|deny| deny.iter().any(|t| t.as_str() == Some(token)));
    if denied {
        return Some(Verdict::Deny);
    }
    config["tokens"][token].as_str().map(Verdict::Allow)
}

#[portico_sdk::authorizer]
fn authorize(request: &Request) -> Decision {
    let config = portico_sdk::config();
    let header = config["header"].as_str().unwrap_or(DEFAULT_HEADER);
    let Some(value) = request.header(header).filter(|v| !v.is_empty()) else {
        log::debug!("authorizer-header: no {header} header: unauthorized");
        return Decision::unauthorized();
    };
    let bearer = value
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("bearer "))
        .map(|_| &value[7..]);
    let found = lookup(config, value)
        .map(|verdict| (value, verdict))
        .or_else(|| bearer.and_then(|token| lookup(config, token).map(|v| (token, v))));
    match found {
        Some((_, Verdict::Deny)) => {
            log::debug!("authorizer-header: token is on the deny list: forbidden");
            Decision::forbidden()
        }
        Some((token, Verdict::Allow(principal))) => {
            log::debug!("authorizer-header: allow {principal}");
            let allow = Decision::allow(principal)
                .with_context("scope", "read")
                .with_context("tokenLength", token.len().to_string());
            match config["usage_identifier_keys"][token].as_str() {
                Some(key) => allow.with_usage_identifier_key(key),
                None => allow,
            }
        }
        None => {
            log::debug!("authorizer-header: unknown token: unauthorized");
            Decision::unauthorized()
        }
    }
}

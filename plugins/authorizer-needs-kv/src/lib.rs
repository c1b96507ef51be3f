//! Fixture: an authorizer that really uses the `kv` capability, so its component imports
//! `portico:plugin/kv`. Deployed without the kv grant, the gateway must refuse it at deploy time.
//! With the grant, it allows every request as principal `kv-user`, with context `cached=yes` when
//! it has seen the caller's token (the `authorization` header, or none) within the last minute,
//! and `cached=no` otherwise (and then remembers it).

use portico_sdk::{Decision, Request, kv};

/// How long a token is remembered.
const TTL_SECONDS: u32 = 60;

#[portico_sdk::authorizer]
fn authorize(request: &Request) -> Decision {
    let key = format!("seen:{}", request.header("authorization").unwrap_or(""));
    let cached = if kv::get(&key).is_some() {
        "yes"
    } else {
        kv::set(&key, b"1", TTL_SECONDS);
        "no"
    };
    Decision::allow("kv-user").with_context("cached", cached)
}

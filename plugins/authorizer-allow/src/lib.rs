//! Allows every request as principal `anyone`: the smallest useful authorizer, and the one the
//! benches measure for the per-call cost of a Wasm authorizer. It imports no capability.

use portico_sdk::{Decision, Request};

/// Lets everything through.
#[portico_sdk::authorizer]
fn authorize(_request: &Request) -> Decision {
    Decision::allow("anyone")
}

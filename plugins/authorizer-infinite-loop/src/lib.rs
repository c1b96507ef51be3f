//! Fixture: an authorizer that never returns. The host's epoch deadline must interrupt it (a
//! plugin fault, 500) without stalling other requests.

use portico_sdk::{Decision, Request};

#[portico_sdk::authorizer]
fn authorize(request: &Request) -> Decision {
    // Real work on every turn, so that no optimiser can prove the loop empty.
    let mut counter = request.path.len() as u64;
    loop {
        counter = std::hint::black_box(counter.wrapping_mul(6_364_136_223_846_793_005) | 1);
    }
}

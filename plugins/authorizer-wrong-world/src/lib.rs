//! Fixture: a valid component of the wrong kind. It exports the `validator` world (`validate`),
//! and the tests deploy it as an authorizer, which the gateway must refuse at deploy time with a
//! clear error (it exports no `authorize`).

use portico_sdk::Request;

#[portico_sdk::validator]
fn validate(_request: &Request, _body: &[u8]) -> Result<(), String> {
    Ok(())
}

//! Test fixture: an authorizer that reads its tokens from a file, to show that files are
//! reachable only through the directories the gateway file preopens.
//!
//! Configuration: `{"path": "/data/tokens.txt"}` (the default). The file holds one token per
//! line; a listed token is allowed as principal `file-user`. When the file cannot be read —
//! no preopen covers the path, the path escapes the preopen, or the file is missing — the
//! answer is `forbidden` with the message `cannot read <path>: <error kind>`, so a test can
//! tell a sandbox refusal from an unknown token (`unauthorized`).

use portico_sdk::{Decision, Request};

/// Where the tokens are when the configuration says nothing.
const DEFAULT_PATH: &str = "/data/tokens.txt";

#[portico_sdk::authorizer]
fn authorize(request: &Request) -> Decision {
    let path = portico_sdk::config()["path"]
        .as_str()
        .unwrap_or(DEFAULT_PATH)
        .to_owned();
    let tokens = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => return Decision::forbidden_with(format!("cannot read {path}: {:?}", e.kind())),
    };
    let Some(token) = request.header("authorization") else {
        return Decision::unauthorized();
    };
    if tokens.lines().any(|line| line.trim() == token) {
        Decision::allow("file-user")
    } else {
        Decision::unauthorized()
    }
}

//! A Lambda-style authorizer that returns, for each token, the output its configuration gives,
//! the way a Lambda authorizer returns a policy document:
//!
//! ```json
//! {"header": "authorization",
//!  "outputs": {
//!    "alice": {"principalId": "alice",
//!              "policyDocument": {"Version": "2012-10-17", "Statement": [
//!                {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "$methodArn"}]},
//!              "context": {"tier": "gold", "level": 3, "admin": false}},
//!    "bob": {"isAuthorized": true, "context": {"team": "b"}}},
//!  "unauthorized": ["expired"]}
//! ```
//!
//! - no header, or a token listed in `unauthorized`: `unauthorized` (401), which is what a
//!   Lambda authorizer says by failing with the error `Unauthorized`;
//! - a token with an entry in `outputs`: that entry as JSON text, every string `$methodArn` in
//!   it replaced by this request's method ARN and every `$stageArn` by the stage's wildcard ARN
//!   (`…/stage/*`), for the gateway to evaluate;
//! - any other token: 403 (`forbidden`).
//!
//! The entries are not checked here: a malformed one shows how the gateway treats a malformed
//! authorizer output (500).

use portico_sdk::serde_json::Value;
use portico_sdk::{Decision, Request, stage_wildcard};

/// Replaces the `$methodArn` and `$stageArn` strings anywhere in `value`.
fn substitute(value: &mut Value, method_arn: &str, stage_arn: &str) {
    match value {
        Value::String(s) if s == "$methodArn" => *s = method_arn.to_owned(),
        Value::String(s) if s == "$stageArn" => *s = stage_arn.to_owned(),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| substitute(v, method_arn, stage_arn)),
        Value::Object(map) => map
            .values_mut()
            .for_each(|v| substitute(v, method_arn, stage_arn)),
        _ => {}
    }
}

#[portico_sdk::authorizer]
fn authorize(request: &Request, method_arn: &str) -> Decision {
    let config = portico_sdk::config();
    let header = config["header"].as_str().unwrap_or("authorization");
    let Some(token) = request.header(header).filter(|t| !t.is_empty()) else {
        return Decision::unauthorized();
    };
    let listed = |key: &str| {
        config[key]
            .as_array()
            .is_some_and(|l| l.iter().any(|t| t.as_str() == Some(token)))
    };
    if listed("unauthorized") {
        return Decision::unauthorized();
    }
    match config["outputs"].get(token) {
        Some(output) => {
            let mut output = output.clone();
            substitute(&mut output, method_arn, &stage_wildcard(method_arn));
            Decision::lambda_output(output.to_string())
        }
        None => Decision::forbidden(),
    }
}

//! What the policy tests share: the API scope, a method ARN, an IAM caller, and request facts
//! at a fixed time.

#![allow(dead_code)]

use std::time::{Duration, SystemTime};

use portico_auth::policy::{ArnScope, Facts, Policy, PolicyKind, Principal};
use serde_json::Value;

pub const SCOPE: ArnScope<'static> = ArnScope {
    region: "us-east-1",
    account: "123456789012",
    api_id: "abc123",
};
pub const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/pets/1";
pub const ALICE: Principal<'static> = Principal::Iam {
    account: "123456789012",
    arn: "arn:aws:iam::123456789012:user/alice",
    user_id: "AIDAALICE",
    username: "alice",
};
/// 2024-01-01T00:00:00Z.
pub const NEW_YEAR_2024: u64 = 1_704_067_200;

pub fn facts() -> Facts<'static> {
    Facts {
        action: "execute-api:Invoke",
        resource: ARN,
        principal: Principal::Anonymous,
        source_ip: Some("192.0.2.10".parse().unwrap()),
        user_agent: Some("curl/8.0"),
        referer: None,
        source_arn: None,
        secure_transport: true,
        now: SystemTime::UNIX_EPOCH + Duration::from_secs(NEW_YEAR_2024),
    }
}

pub fn parse(doc: Value, kind: PolicyKind) -> Policy {
    Policy::parse(&doc, kind, &SCOPE).unwrap_or_else(|e| panic!("{e}"))
}

pub fn parse_err(doc: Value, kind: PolicyKind) -> String {
    match Policy::parse(&doc, kind, &SCOPE) {
        Ok(p) => panic!("parsed: {p:?}"),
        Err(e) => e.to_string(),
    }
}

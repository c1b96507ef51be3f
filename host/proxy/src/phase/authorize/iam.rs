//! `AWS_IAM` methods: Signature Version 4 against the gateway file's credentials
//! (`iam.credentials`), then the caller's identity policy and the API's resource policy,
//! combined by Table A (same account) or Table B (another account).
//!
//! The body is part of the signature, so these methods read it before access control. Header
//! and presigned-query forms are both accepted; the clock skew allowed is 5 minutes. Failures
//! answer 403 with API Gateway's message (`INVALID_SIGNATURE`, or
//! `MISSING_AUTHENTICATION_TOKEN` for an unsigned request).

use std::collections::HashMap;
use std::time::SystemTime;

use portico_auth::policy::{Outcome, Policy, Principal, combine};
use portico_auth::sigv4::{
    Credentials, PayloadHash, SignedRequest, UriNormalization, VerifyConfig, sha256_hex, verify,
};
use portico_config::IamCredential;

use super::{facts, resource_denied};
use crate::pipeline::context::{Authorized, IamCaller, RequestContext};
use crate::pipeline::error::GatewayError;

/// The credentials of one snapshot, by access key id, and the region they sign for.
pub struct IamRt {
    by_key: HashMap<String, IamCredential>,
    region: String,
    account: String,
}

impl IamRt {
    /// Indexes `credentials` for the gateway's `region` and `account`.
    pub fn new(credentials: &[IamCredential], region: &str, account: &str) -> Self {
        Self {
            by_key: credentials
                .iter()
                .map(|c| (c.access_key_id.clone(), c.clone()))
                .collect(),
            region: region.to_owned(),
            account: account.to_owned(),
        }
    }
}

impl Credentials for IamRt {
    fn secret(&self, access_key: &str) -> Option<&str> {
        self.by_key.get(access_key).map(|c| c.secret.as_str())
    }
}

/// Verifies the request's signature and evaluates the caller's policies for `arn`.
pub fn check(
    cx: &RequestContext<'_>,
    iam: &IamRt,
    arn: &str,
    resource_policy: Option<&Policy>,
    body: Option<&[u8]>,
) -> Result<Authorized, GatewayError> {
    let headers: Vec<(&str, &[u8])> = cx
        .parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_bytes()))
        .collect();
    let hash = sha256_hex(body.unwrap_or_default());
    let req = SignedRequest {
        method: cx.parts.method.as_str(),
        path: cx.parts.uri.path(),
        query: cx.parts.uri.query(),
        headers: &headers,
        payload_hash: PayloadHash::Computed(&hash),
    };
    let config = VerifyConfig {
        service: "execute-api",
        region: &iam.region,
        uri: UriNormalization::Either,
        allow_unsigned_session_token: false,
    };
    let verified = verify(&req, iam, SystemTime::now(), &config).map_err(|e| {
        if e.response_type() == "MISSING_AUTHENTICATION_TOKEN" {
            GatewayError::MissingAuthenticationToken
        } else {
            GatewayError::InvalidSignature(e.aws_message())
        }
    })?;
    let Some(user) = iam.by_key.get(&verified.access_key) else {
        return Err(GatewayError::InvalidSignature(
            "The security token included in the request is invalid.".into(),
        ));
    };
    let principal = Principal::Iam {
        account: &user.account_id,
        arn: &user.arn,
        user_id: &user.access_key_id,
        username: &user.user,
    };
    let facts = facts(cx, arn, principal);
    let identity = user
        .policy
        .as_ref()
        .map_or(Outcome::ImplicitDeny, |p| p.evaluate(&facts));
    let resource = resource_policy.map(|p| p.evaluate(&facts));
    let cross_account = user.account_id != iam.account;
    match combine(identity, resource, cross_account) {
        Outcome::Allow => Ok(Authorized {
            principal_id: user.arn.clone(),
            iam: Some(IamCaller {
                access_key: user.access_key_id.clone(),
                user_arn: user.arn.clone(),
                user: user.user.clone(),
                account_id: user.account_id.clone(),
            }),
            ..Authorized::default()
        }),
        outcome => Err(resource_denied(
            &user.arn,
            arn,
            outcome == Outcome::ExplicitDeny,
        )),
    }
}

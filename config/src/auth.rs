//! The gateway file's access-control sections: `iam.credentials` (SigV4 access keys, their
//! users and identity policies) and `client_ip` (when `X-Forwarded-For` names the client).

use portico_auth::policy::{ArnScope, Policy, PolicyKind};

use crate::diag::Report;
use crate::gateway::{RawClientIp, RawIam};
use crate::model::{AwsAccount, ClientIpTrust, IamCredential};

/// Most proxies `client_ip.trusted_hops` may name.
const MAX_TRUSTED_HOPS: u32 = 16;

/// `iam.credentials`, validated: unique key ids, a secret from the file or the environment,
/// a parsed identity policy.
pub(crate) fn credentials(
    report: &mut Report,
    file: &str,
    raw: &RawIam,
    aws: &AwsAccount,
) -> Vec<IamCredential> {
    let mut out: Vec<IamCredential> = Vec::new();
    for (i, c) in raw.credentials.iter().enumerate() {
        let path = format!("iam.credentials[{i}]");
        let id = &c.access_key_id;
        if !(16..=128).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            report.error(
                file,
                format!("{path}.access_key_id"),
                "must be 16 to 128 letters and digits",
            );
        }
        if out.iter().any(|o| &o.access_key_id == id) {
            report.error(
                file,
                format!("{path}.access_key_id"),
                format!("{id} is declared twice"),
            );
        }
        let secret = match (&c.secret_access_key, &c.secret_access_key_env) {
            (Some(s), None) => Some(s.clone()),
            (None, Some(var)) => match std::env::var(var) {
                Ok(s) => Some(s),
                Err(_) => {
                    report.error(
                        file,
                        format!("{path}.secret_access_key_env"),
                        format!("the environment variable {var} is not set"),
                    );
                    None
                }
            },
            _ => {
                report.error(
                    file,
                    &path,
                    "give exactly one of secret_access_key and secret_access_key_env",
                );
                None
            }
        };
        if secret.as_ref().is_some_and(|s| s.len() < 16) {
            report.error(
                file,
                format!("{path}.secret_access_key"),
                "must be at least 16 characters",
            );
        }
        if c.user.is_empty()
            || !c
                .user
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
        {
            report.error(
                file,
                format!("{path}.user"),
                "an IAM user name holds letters, digits and +=,.@_-",
            );
        }
        let account_id = c
            .account_id
            .clone()
            .unwrap_or_else(|| aws.account_id.clone());
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            report.error(
                file,
                format!("{path}.account_id"),
                "must be a 12-digit account id",
            );
        }
        let policy = c.policy.as_ref().and_then(|doc| {
            Policy::parse(doc, PolicyKind::Identity, &ArnScope::NONE)
                .map_err(|e| report.error(file, format!("{path}.policy"), e.to_string()))
                .ok()
        });
        if let Some(secret) = secret {
            out.push(IamCredential {
                access_key_id: id.clone(),
                secret,
                arn: format!("arn:aws:iam::{account_id}:user/{}", c.user),
                user: c.user.clone(),
                account_id,
                policy,
            });
        }
    }
    out
}

/// `client_ip`: trusted proxy CIDRs or a hop count, not both.
pub(crate) fn client_ip(report: &mut Report, file: &str, raw: &RawClientIp) -> ClientIpTrust {
    let mut out = ClientIpTrust::default();
    for (i, cidr) in raw.trusted_proxies.iter().enumerate() {
        let parsed = cidr
            .parse::<ipnet::IpNet>()
            .or_else(|_| cidr.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
        match parsed {
            Ok(net) => out.trusted_proxies.push(net),
            Err(_) => report.error(
                file,
                format!("client_ip.trusted_proxies[{i}]"),
                format!("{cidr:?} is not an IP address or CIDR block"),
            ),
        }
    }
    if let Some(hops) = raw.trusted_hops {
        if !out.trusted_proxies.is_empty() {
            report.error(
                file,
                "client_ip",
                "give trusted_proxies or trusted_hops, not both",
            );
        }
        if hops > MAX_TRUSTED_HOPS {
            report.error(
                file,
                "client_ip.trusted_hops",
                format!("must be at most {MAX_TRUSTED_HOPS}"),
            );
        }
        out.trusted_hops = hops;
    }
    out
}

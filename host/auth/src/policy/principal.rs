//! The `Principal` element of a resource policy and its match against the caller: `*` is
//! everyone (anonymous callers included); an account id or `arn:aws:iam::ACCOUNT:root` is any IAM
//! principal of that account; any other ARN is a glob on the caller's ARN. Assumed-role session
//! ARNs are not mapped back to their role: a caller's ARN is compared as it is.

use serde_json::Value;

use super::{PolicyError, Principal, strings};
use crate::arn;

#[derive(Clone, Debug)]
pub(super) enum PrincipalPattern {
    /// `*`: everyone, anonymous callers included.
    Everyone,
    /// An account id or `arn:aws:iam::ACCOUNT:root`: any IAM principal of that account.
    Account(String),
    /// Any other ARN, matched as a glob against the caller's ARN.
    Arn(String),
}

impl PrincipalPattern {
    pub(super) fn parse(text: &str) -> PrincipalPattern {
        if text == "*" {
            return PrincipalPattern::Everyone;
        }
        if text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) {
            return PrincipalPattern::Account(text.to_owned());
        }
        if let Some(account) = text
            .strip_prefix("arn:aws:iam::")
            .and_then(|rest| rest.strip_suffix(":root"))
        {
            return PrincipalPattern::Account(account.to_owned());
        }
        PrincipalPattern::Arn(text.to_owned())
    }

    pub(super) fn matches(&self, who: &Principal<'_>) -> bool {
        match (self, who) {
            (PrincipalPattern::Everyone, _) => true,
            (_, Principal::Anonymous) => false,
            (PrincipalPattern::Account(id), Principal::Iam { account, .. }) => id == account,
            (PrincipalPattern::Arn(pattern), Principal::Iam { arn, .. }) => {
                arn::matches(pattern, arn)
            }
        }
    }
}

/// `"*"`, `{"AWS": "*"}`, `{"AWS": "123456789012" | "arn:..." | [...]}`.
pub(super) fn parse(value: &Value, path: &str) -> Result<Vec<PrincipalPattern>, PolicyError> {
    match value {
        Value::String(s) if s == "*" => Ok(vec![PrincipalPattern::Everyone]),
        Value::String(_) => Err(PolicyError::new(
            path,
            "must be \"*\" or an object such as {\"AWS\": ...}",
        )),
        Value::Object(map) => {
            let mut out = Vec::new();
            for (name, v) in map {
                let here = format!("{path}.{name}");
                if name != "AWS" {
                    return Err(PolicyError::new(
                        &here,
                        format!(
                            "principal type '{name}' is not supported (only AWS principals call API Gateway)"
                        ),
                    ));
                }
                out.extend(
                    strings(v, &here)?
                        .iter()
                        .map(|s| PrincipalPattern::parse(s)),
                );
            }
            if out.is_empty() {
                return Err(PolicyError::new(path, "names no principal"));
            }
            Ok(out)
        }
        _ => Err(PolicyError::new(
            path,
            "must be \"*\" or an object such as {\"AWS\": ...}",
        )),
    }
}

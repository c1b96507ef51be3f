//! Where an issuer's keys are: its OIDC discovery document, and Cognito's issuer URL.

use serde_json::Value;

use super::error::JwksError;
use super::keys::MAX_JWKS_BYTES;

/// The `jwks_uri` of an OIDC discovery document (`{issuer}/.well-known/openid-configuration`).
///
/// The document's `issuer` must equal `expected_issuer` exactly (OIDC Discovery §4.3), and
/// `jwks_uri` must be an absolute `https://` or `http://` URL with a host. (AWS requires
/// https; http is allowed so that a local IdP can be used in development.) Documents over
/// [`MAX_JWKS_BYTES`] are refused, as JWKS documents are.
pub fn jwks_uri_from_discovery(json: &[u8], expected_issuer: &str) -> Result<String, JwksError> {
    if json.len() > MAX_JWKS_BYTES {
        return Err(JwksError::TooLarge {
            size: json.len(),
            max: MAX_JWKS_BYTES,
        });
    }
    let doc: Value =
        serde_json::from_slice(json).map_err(|e| JwksError::InvalidJson(e.to_string()))?;
    let field = |name: &'static str| {
        doc.get(name)
            .and_then(Value::as_str)
            .ok_or(JwksError::MissingField(name))
    };
    let issuer = field("issuer")?;
    if issuer != expected_issuer {
        return Err(JwksError::IssuerMismatch {
            expected: expected_issuer.to_owned(),
            found: issuer.to_owned(),
        });
    }
    let uri = field("jwks_uri")?;
    let rest = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))
        .ok_or_else(|| JwksError::InvalidJwksUri(uri.to_owned()))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let bad_char = |c: char| c.is_whitespace() || c.is_control();
    if host.is_empty() || host.contains('@') || uri.contains(bad_char) {
        return Err(JwksError::InvalidJwksUri(uri.to_owned()));
    }
    Ok(uri.to_owned())
}

/// The issuer URL of a Cognito user pool, from its ARN:
/// `arn:aws:cognito-idp:{region}:{account}:userpool/{poolId}` →
/// `https://cognito-idp.{region}.amazonaws.com/{poolId}` (`amazonaws.com.cn` in the `aws-cn`
/// partition). `None` if the ARN is not a user pool's.
pub fn cognito_issuer(provider_arn: &str) -> Option<String> {
    let mut parts = provider_arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("cognito-idp"), Some(region), Some(account), Some(res)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let domain = match partition {
        "aws" | "aws-us-gov" => "amazonaws.com",
        "aws-cn" => "amazonaws.com.cn",
        _ => return None,
    };
    let pool = res.strip_prefix("userpool/")?;
    let region_ok = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let account_ok = account.len() == 12 && account.chars().all(|c| c.is_ascii_digit());
    // A pool id is `{region}_{id}`; require that shape loosely.
    let pool_ok = pool.starts_with(region)
        && pool.len() > region.len() + 1
        && pool[region.len()..].starts_with('_')
        && pool
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    (region_ok && account_ok && pool_ok)
        .then(|| format!("https://cognito-idp.{region}.{domain}/{pool}"))
}

//! The values of policy conditions, parsed once: texts, booleans, CIDR blocks and dates.

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::PolicyError;

/// A condition value: a string, number or boolean, or a non-empty array of them, as text.
pub(super) fn scalar_strings(value: &Value, path: &str) -> Result<Vec<String>, PolicyError> {
    fn one(v: &Value, path: &str) -> Result<String, PolicyError> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(PolicyError::new(
                path,
                "condition values must be strings, numbers or booleans",
            )),
        }
    }
    match value {
        Value::Array(items) if items.is_empty() => Err(PolicyError::new(
            path,
            "the list of condition values is empty",
        )),
        Value::Array(items) => items.iter().map(|v| one(v, path)).collect(),
        v => Ok(vec![one(v, path)?]),
    }
}

pub(super) fn parse_bool(text: &str, path: &str) -> Result<bool, PolicyError> {
    if text.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if text.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(PolicyError::new(
            path,
            format!("'{text}' is not true or false"),
        ))
    }
}

/// A CIDR block (`192.0.2.0/24`, `2001:db8::/32`) or a bare address (its /32 or /128).
pub(super) fn parse_net(text: &str, path: &str) -> Result<IpNet, PolicyError> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net);
    }
    text.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| PolicyError::new(path, format!("'{text}' is not an IP address or CIDR block")))
}

/// An ISO 8601 date-time (`2024-01-01T00:00:00Z`, with an offset or fractional seconds), a date
/// (`2024-01-01`, its midnight UTC), or Unix seconds, as Unix seconds.
pub(super) fn parse_date(text: &str, path: &str) -> Result<f64, PolicyError> {
    let t = text.trim();
    if !t.is_empty()
        && t.bytes().all(|b| b.is_ascii_digit())
        && let Ok(secs) = t.parse::<f64>()
    {
        return Ok(secs);
    }
    if let Ok(dt) = OffsetDateTime::parse(t, &Rfc3339) {
        return Ok(dt.unix_timestamp() as f64);
    }
    // RFC 3339 requires seconds; ISO 8601 does not: `2024-01-01T10:00Z`.
    if let Some(no_secs) = t.strip_suffix('Z').filter(|s| s.len() == 16)
        && let Ok(dt) = OffsetDateTime::parse(&format!("{no_secs}:00Z"), &Rfc3339)
    {
        return Ok(dt.unix_timestamp() as f64);
    }
    if t.len() == 10
        && let Ok(dt) = OffsetDateTime::parse(&format!("{t}T00:00:00Z"), &Rfc3339)
    {
        return Ok(dt.unix_timestamp() as f64);
    }
    Err(PolicyError::new(
        path,
        format!("'{text}' is not an ISO 8601 date (2024-01-31T12:00:00Z) or Unix seconds"),
    ))
}

//! The claims checks API Gateway applies once the signature verified, and the claims handed on.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::error::JwtError;
use super::keys::{Algorithm, KeySet};
use super::token::verify_jws;

/// The clock-skew allowance applied to `exp`, `nbf` and `iat` unless configured otherwise.
///
/// AWS documents none (`exp` "must be after the current time", `nbf` and `iat` "before");
/// a few seconds keep a token minted on a slightly fast clock (a local IdP in a container)
/// from being refused as issued in the future, without visibly extending a token's life.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(5);

/// What one authorizer accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfig {
    /// The exact `iss` a token must carry (for Cognito, see
    /// [`cognito_issuer`](super::cognito_issuer)).
    pub issuer: String,
    /// The accepted audiences: `aud` must contain one, or, when `aud` is absent, `client_id`
    /// must be one. Empty: no audience check (a REST Cognito authorizer has no audience).
    pub audiences: Vec<String>,
    /// Clock-skew allowance for `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// The algorithms accepted; `None` accepts every supported [`Algorithm`]. (AWS's HTTP API
    /// JWT authorizer documents RSA algorithms only; restrict to those to match it exactly.)
    pub algorithms: Option<Vec<Algorithm>>,
}

impl JwtConfig {
    /// A config for `issuer` and `audiences`, with [`DEFAULT_LEEWAY`] and every algorithm.
    pub fn new(issuer: impl Into<String>, audiences: Vec<String>) -> JwtConfig {
        JwtConfig {
            issuer: issuer.into(),
            audiences,
            leeway: DEFAULT_LEEWAY,
            algorithms: None,
        }
    }
}

/// A validated token's claims.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    /// The claims set, as sent.
    pub claims: Map<String, Value>,
    /// The token's scopes: from `scope` if present, else from `scp`; either may be a
    /// space-separated string or an array of strings.
    pub scopes: Vec<String>,
}

impl Claims {
    /// The claims as name/value strings, the form API Gateway hands on in
    /// `requestContext.authorizer.jwt.claims` (payload 2.0) and
    /// `$context.authorizer.claims.<name>` (REST Cognito authorizers), which carry only strings.
    ///
    /// - strings are passed as they are;
    /// - numbers and booleans as their JSON text (`"exp": 1700000000` → `"1700000000"`, as
    ///   in AWS's published 2.0 events, where `exp`, `iat` and `auth_time` are strings);
    /// - arrays as their elements, each rendered by these rules, space-separated inside
    ///   brackets: `["admin","users"]` → `"[admin users]"`. This is what HTTP APIs are
    ///   observed to send for `cognito:groups` (users' Lambdas parse that exact form); it is
    ///   not in AWS's documentation. REST Cognito authorizers have been reported to send a
    ///   comma-joined `"admin,users"` instead; that form is not reproduced here;
    /// - objects and `null` as compact JSON (a guess: AWS documents neither).
    pub fn claims_as_strings(&self) -> Vec<(String, String)> {
        self.claims
            .iter()
            .map(|(name, value)| (name.clone(), claim_string(value)))
            .collect()
    }
}

fn claim_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(claim_string).collect();
            format!("[{}]", items.join(" "))
        }
        other => other.to_string(),
    }
}

/// Validates a bearer token the way API Gateway's JWT and Cognito authorizers do, at time
/// `now`, for a route requiring `required_scopes` (empty: none).
///
/// In order: an optional `Bearer ` prefix (any case) is removed; the token's length is capped
/// at [`MAX_TOKEN_BYTES`](super::MAX_TOKEN_BYTES); the signature is verified
/// ([`verify_jws`], which picks the key by `kid` and refuses `none`, unsupported algorithms
/// and algorithm/key confusion); the payload must be a JSON object; then `iss` must equal the
/// configured issuer; the audience must match (`aud`, string or array, must contain a
/// configured audience; only when `aud` is absent is `client_id` used instead; no check when
/// no audience is configured); `exp` is required and must be after `now - leeway`; `nbf` and
/// `iat`, when present, must not be after `now + leeway`; and when `required_scopes` is not
/// empty, at least one of them must be among the token's scopes.
pub fn validate(
    token: &str,
    keys: &KeySet,
    cfg: &JwtConfig,
    now: SystemTime,
    required_scopes: &[String],
) -> Result<Claims, JwtError> {
    let token = strip_bearer(token);
    let jws = verify_jws(token, keys, cfg.algorithms.as_deref())?;
    let claims = match serde_json::from_slice(&jws.payload) {
        Ok(Value::Object(claims)) => claims,
        _ => {
            return Err(JwtError::Malformed(
                "the payload is not a JSON object".to_owned(),
            ));
        }
    };

    if claims.get("iss").and_then(Value::as_str) != Some(cfg.issuer.as_str()) {
        return Err(JwtError::WrongIssuer);
    }
    if !cfg.audiences.is_empty() && !audience_matches(&claims, &cfg.audiences) {
        return Err(JwtError::WrongAudience);
    }

    let now = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64();
    let leeway = cfg.leeway.as_secs_f64();
    let exp = numeric_date(&claims, "exp")?.ok_or(JwtError::MissingClaim("exp"))?;
    if exp + leeway <= now {
        return Err(JwtError::Expired);
    }
    if numeric_date(&claims, "nbf")?.is_some_and(|nbf| nbf - leeway > now) {
        return Err(JwtError::NotYetValid);
    }
    if numeric_date(&claims, "iat")?.is_some_and(|iat| iat - leeway > now) {
        return Err(JwtError::IssuedInFuture);
    }

    let scopes = token_scopes(&claims);
    if !required_scopes.is_empty() && !required_scopes.iter().any(|r| scopes.contains(r)) {
        return Err(JwtError::MissingScope);
    }
    Ok(Claims { claims, scopes })
}

/// The token without a leading `Bearer ` (any case, any run of spaces after it).
fn strip_bearer(token: &str) -> &str {
    let token = token.trim();
    match token.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => token[7..].trim_start(),
        _ => token,
    }
}

fn audience_matches(claims: &Map<String, Value>, audiences: &[String]) -> bool {
    let accepted = |v: &Value| v.as_str().is_some_and(|s| audiences.iter().any(|a| a == s));
    match claims.get("aud") {
        Some(Value::Array(auds)) => auds.iter().any(accepted),
        Some(aud) => accepted(aud),
        None => claims.get("client_id").is_some_and(accepted),
    }
}

/// A NumericDate claim: `None` when absent, refused when present and not a number.
fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<f64>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value.as_f64().map(Some).ok_or(JwtError::MissingClaim(name)),
    }
}

fn token_scopes(claims: &Map<String, Value>) -> Vec<String> {
    let scopes = |value: &Value| match value {
        Value::String(s) => Some(s.split_whitespace().map(str::to_owned).collect()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    };
    claims
        .get("scope")
        .and_then(scopes)
        .or_else(|| claims.get("scp").and_then(scopes))
        .unwrap_or_default()
}

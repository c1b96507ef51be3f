//! JWT authorizers (HTTP API `jwt`, REST `cognito_user_pools`), checked in the host: the
//! signature against the issuer's key set, then `iss`, `aud`/`client_id`, `exp`/`nbf`/`iat`
//! and the route's scopes (`portico_auth::jwt`).
//!
//! The key set is fetched through the gateway's pooled client, from `x-portico-jwks-uri` or
//! the issuer's discovery document, on first use, and kept: a lock-free read per request.
//! An unknown `kid` refetches at most once per 10 s (`x-portico-jwks-refetch-seconds`),
//! however many requests ask; a failed fetch keeps the keys already held and backs off; the
//! set is refreshed hourly. An HS256 secret (`x-portico-jwt-secret-env`) is never fetched.
//! With `authorizerResultTtlInSeconds` (default 0 for `jwt`, 300 for `cognito_user_pools`, as
//! for Lambda authorizers), a verified token is cached per stage until the TTL or its `exp`,
//! whichever comes first; the route's scopes are checked on every request.
//!
//! HTTP API style failures answer 401 `{"message":"Unauthorized"}` with API Gateway's
//! `www-authenticate`, and a token without any of the route's scopes 403
//! `{"message":"Forbidden"}`; a REST Cognito authorizer answers a plain 401 for all of them.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use portico_auth::jwt::{
    JwksCache, JwksCacheConfig, JwtConfig, JwtError, KeySet, MAX_JWKS_BYTES, Refetch,
    jwks_uri_from_discovery, validate,
};
use portico_config::{AwsAccount, JwtAuthorizer, JwtIssuer};

use super::lambda::{Verdict, identity_key};
use crate::Gateway;
use crate::pipeline::body::full;
use crate::pipeline::context::{Authorized, RequestContext};
use crate::pipeline::error::GatewayError;

/// API Gateway's JWKS (and discovery) timeout.
const FETCH_TIMEOUT: Duration = Duration::from_millis(1500);

/// A JWT authorizer's state: its checks and its key set.
pub struct JwtRt {
    /// Issuer, audiences, leeway.
    config: JwtConfig,
    /// `x-portico-jwks-uri`, or what discovery found (set once).
    jwks_uri: OnceLock<String>,
    /// The key set and its refetch rule.
    keys: JwksCache,
    /// A REST Cognito authorizer: every failure is a plain 401 UNAUTHORIZED (HTTP API JWT
    /// authorizers add `www-authenticate`, and answer a missing scope with 403).
    rest: bool,
    /// The key set is a shared secret: never fetched.
    shared_secret: bool,
}

impl JwtRt {
    /// The state of `def`, its Cognito issuer resolved against `aws`. With a shared secret the
    /// key set is that secret, now; `Err` when its environment variable is unset or empty.
    pub fn new(def: &JwtAuthorizer, aws: &AwsAccount) -> Result<Self, String> {
        let issuer = match &def.issuer {
            JwtIssuer::Url(u) => u.trim_end_matches('/').to_owned(),
            JwtIssuer::Cognito { region, pool } => match &aws.cognito_endpoint {
                Some(endpoint) => format!("{endpoint}/{pool}"),
                None => format!("https://cognito-idp.{region}.amazonaws.com/{pool}"),
            },
        };
        let jwks_uri = OnceLock::new();
        if let Some(uri) = &def.jwks_uri {
            let _ = jwks_uri.set(uri.clone());
        }
        let keys = JwksCache::new(JwksCacheConfig {
            min_refetch_interval: def.refetch_interval,
            ..JwksCacheConfig::default()
        });
        if let Some(var) = &def.secret_env {
            let secret = std::env::var(var)
                .ok()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| format!("the JWT secret variable {var} is not set"))?;
            let set = KeySet::shared_secret(secret.as_bytes()).map_err(|e| e.to_string())?;
            keys.store(set, Instant::now());
        }
        Ok(Self {
            config: JwtConfig::new(issuer, def.audiences.clone()),
            jwks_uri,
            keys,
            rest: matches!(def.issuer, JwtIssuer::Cognito { .. }),
            shared_secret: def.secret_env.is_some(),
        })
    }

    /// The issuer tokens must name.
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }
}

/// Checks the request's token; `Ok` carries its claims and scopes.
pub async fn authorize(
    gw: &Gateway,
    cx: &RequestContext<'_>,
    auth: &super::AuthorizerRt,
    jwt: &JwtRt,
    scopes: &[String],
) -> Result<Authorized, GatewayError> {
    // The one identity source: the token header (the key is `stage\0token\0`).
    let key = identity_key(cx, &auth.def.identity_sources, None)?;
    let token = key
        .split_once('\0')
        .map_or("", |(_, t)| t)
        .trim_end_matches('\0');
    // A cached verification: still before the token's `exp`, and the route's scopes checked
    // against the cached ones.
    if let Some(cache) = &auth.cache
        && let Some(verdict) = cache.get(&key)
        && let Verdict::Token(authorized, expires) = &*verdict
        && SystemTime::now() < *expires
    {
        if !scopes.is_empty() && !scopes.iter().any(|s| authorized.scopes.contains(s)) {
            return Err(refusal(jwt, &JwtError::MissingScope, scopes));
        }
        return Ok(authorized.clone());
    }
    let authorized = verify(gw, jwt, token, scopes)
        .await
        .map_err(|e| refusal(jwt, &e, scopes))?;
    if let Some(cache) = &auth.cache
        && let Some(exp) = authorized.expires
    {
        cache.insert(
            key,
            Arc::new(Verdict::Token(authorized.claims.clone(), exp)),
        );
    }
    Ok(authorized.claims)
}

/// The answer to a refused token: HTTP API style (401 with `www-authenticate`, 403 for a
/// missing scope) or REST Cognito style (401).
fn refusal(jwt: &JwtRt, e: &JwtError, scopes: &[String]) -> GatewayError {
    match e {
        _ if jwt.rest => GatewayError::Unauthorized,
        JwtError::MissingScope => GatewayError::Forbidden(Some(e.www_authenticate(scopes))),
        _ => GatewayError::Unauthenticated(e.www_authenticate(scopes)),
    }
}

/// A verified token: what it exposes, and when it expires.
struct Verified {
    claims: Authorized,
    expires: Option<SystemTime>,
}

/// Verifies `token` against the key set, fetching it first if need be, refetching once for
/// an unknown `kid`.
async fn verify(
    gw: &Gateway,
    jwt: &JwtRt,
    token: &str,
    scopes: &[String],
) -> Result<Verified, JwtError> {
    let now = Instant::now();
    let mut keys = jwt.keys.keys();
    if jwt.shared_secret {
        // Nothing to fetch.
    } else if keys.is_none() && jwt.keys.should_refetch(now, Refetch::Missing) {
        keys = fetch(gw, jwt, now).await;
    } else if keys.is_some()
        && jwt.keys.refresh_due(now)
        && jwt.keys.should_refetch(now, Refetch::Expired)
    {
        // Due for the hourly refresh: the current keys serve this request meanwhile.
        keys = fetch(gw, jwt, now).await.or(keys);
    }
    let Some(mut set) = keys else {
        return Err(JwtError::NoKeys);
    };
    let mut result = validate(token, &set, &jwt.config, SystemTime::now(), scopes);
    if let Err(JwtError::UnknownKid(_)) = &result
        && !jwt.shared_secret
        && jwt.keys.should_refetch(now, Refetch::UnknownKid)
        && let Some(fresh) = fetch(gw, jwt, now).await
    {
        set = fresh;
        result = validate(token, &set, &jwt.config, SystemTime::now(), scopes);
    }
    result.map(|claims| Verified {
        expires: claims
            .claims
            .get("exp")
            .and_then(serde_json::Value::as_u64)
            .map(|s| std::time::UNIX_EPOCH + Duration::from_secs(s)),
        claims: Authorized {
            principal_id: claims
                .claims
                .get("sub")
                .and_then(|s| s.as_str())
                .unwrap_or_default()
                .to_owned(),
            claims: Some(claims.claims_as_strings().into()),
            scopes: claims.scopes.into(),
            ..Authorized::default()
        },
    })
}

/// Fetches the key set (discovering its URL first if need be) and stores it; on failure the
/// cache keeps what it had and backs off. Returns the new set.
async fn fetch(gw: &Gateway, jwt: &JwtRt, now: Instant) -> Option<Arc<KeySet>> {
    let result = async {
        let uri = match jwt.jwks_uri.get() {
            Some(u) => u.clone(),
            None => {
                let discovery = format!("{}/.well-known/openid-configuration", jwt.issuer());
                let doc = get(gw, &discovery).await?;
                let uri = jwks_uri_from_discovery(&doc, jwt.issuer()).map_err(|e| e.to_string())?;
                jwt.jwks_uri.get_or_init(|| uri).clone()
            }
        };
        let body = get(gw, &uri).await?;
        KeySet::parse(&body).map_err(|e| format!("{uri}: {e}"))
    }
    .await;
    match result {
        Ok(set) => {
            jwt.keys.store(set, now);
            jwt.keys.keys()
        }
        Err(e) => {
            tracing::warn!(issuer = jwt.issuer(), error = %e, "JWKS fetch failed; keeping the keys held");
            jwt.keys.fetch_failed(now);
            None
        }
    }
}

/// GETs `url` through the pooled client: 2xx, at most [`MAX_JWKS_BYTES`], within
/// [`FETCH_TIMEOUT`].
async fn get(gw: &Gateway, url: &str) -> Result<Bytes, String> {
    let req = http::Request::get(url)
        .header(http::header::ACCEPT, "application/json")
        .body(full(Bytes::new()))
        .map_err(|e| format!("{url}: {e}"))?;
    let call = async {
        let resp = gw
            .upstream
            .shared()
            .request(req)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("{url}: HTTP {}", resp.status()));
        }
        Limited::new(resp.into_body(), MAX_JWKS_BYTES)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .map_err(|e| format!("{url}: {e}"))
    };
    tokio::time::timeout(FETCH_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| Err(format!("{url}: timed out")))
}

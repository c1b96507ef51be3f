//! Why a token or a key document was refused, and the `www-authenticate` value AWS sends.

use thiserror::Error;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JwtError {
    /// Not a well-formed compact JWS carrying a JSON claims set (or over the length limit).
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The header's `alg` is not supported or not allowed (`none` never is).
    #[error("unsupported signing algorithm {0:?}")]
    UnsupportedAlg(String),
    /// The header's `alg` does not fit the key its `kid` selects (e.g. `HS256` against an RSA
    /// key, or not the `alg` the JWK names).
    #[error("algorithm {alg} does not fit {key}")]
    AlgMismatch {
        /// The header's `alg`.
        alg: String,
        /// The kind of key that was selected.
        key: &'static str,
    },
    /// The key set has no key with the header's `kid`. The host may refetch the JWKS (see
    /// [`JwksCache::should_refetch`](super::JwksCache::should_refetch)) and validate again.
    #[error("no key with kid {0:?}")]
    UnknownKid(String),
    /// The header has no `kid`, and the key set is not a single key without one.
    #[error("the token names no kid")]
    MissingKid,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// A claim that must be present is absent or not of its type (`exp` must be a number).
    #[error("missing or malformed claim {0:?}")]
    MissingClaim(&'static str),
    /// `exp` is past (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    #[error("the token was issued in the future")]
    IssuedInFuture,
    /// `iss` is not the configured issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// Neither `aud` (or, when `aud` is absent, `client_id`) is a configured audience.
    #[error("wrong audience")]
    WrongAudience,
    /// The route requires scopes and the token claims none of them.
    #[error("the token has none of the required scopes")]
    MissingScope,
    /// No key set is available (none fetched yet, or every fetch failed). Never returned by
    /// [`validate`](super::validate), which is always given keys: the host reports it when its
    /// [`JwksCache`](super::JwksCache) is empty.
    #[error("no signing keys are available")]
    NoKeys,
}

impl JwtError {
    /// The OAuth 2.0 error code (RFC 6750 §3.1): `insufficient_scope` for
    /// [`JwtError::MissingScope`], `invalid_token` for everything else.
    pub fn oauth_error(&self) -> &'static str {
        match self {
            JwtError::MissingScope => "insufficient_scope",
            _ => "invalid_token",
        }
    }

    /// The `error_description` API Gateway sends for this refusal.
    ///
    /// AWS documents exactly one of these texts, in "Troubleshooting issues with HTTP API JWT
    /// authorizers" (`http-api-troubleshooting-jwt`): `the token does not have a valid
    /// audience`. The others are not published; they are written in the same style and are
    /// guesses, to be replaced by observed values when someone captures them.
    pub fn description(&self) -> &'static str {
        match self {
            // Documented by AWS.
            JwtError::WrongAudience => "the token does not have a valid audience",
            // Not documented: same style as the one that is.
            JwtError::MissingScope => "the token does not have the required scope",
            JwtError::WrongIssuer => "the token does not have a valid issuer",
            JwtError::Expired => "the token has expired",
            JwtError::NotYetValid => "the token is not valid yet",
            JwtError::IssuedInFuture => "the token was issued in the future",
            JwtError::BadSignature => "the token does not have a valid signature",
            JwtError::UnknownKid(_) | JwtError::MissingKid => {
                "the token does not have a valid key id"
            }
            JwtError::UnsupportedAlg(_) | JwtError::AlgMismatch { .. } => {
                "the token does not have a valid signing algorithm"
            }
            JwtError::MissingClaim(_) | JwtError::Malformed(_) => "the token is malformed",
            JwtError::NoKeys => "the signing keys are unavailable",
        }
    }

    /// The `www-authenticate` header value API Gateway sends with the 401 (or 403), e.g.
    /// `Bearer scope="" error="invalid_token" error_description="the token does not have a
    /// valid audience"`, the documented form: `scope` lists the route's required scopes,
    /// space-separated (empty when it requires none), with no commas between parameters.
    pub fn www_authenticate(&self, required_scopes: &[String]) -> String {
        format!(
            "Bearer scope=\"{}\" error=\"{}\" error_description=\"{}\"",
            quoted(&required_scopes.join(" ")),
            self.oauth_error(),
            self.description()
        )
    }
}

/// Escapes a value for an HTTP quoted-string (RFC 9110 §5.6.4).
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        if !c.is_control() {
            out.push(c);
        }
    }
    out
}

/// Why a JWKS or OIDC discovery document, or a shared secret, was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JwksError {
    /// The document is over the size limit.
    #[error("the document is {size} bytes, over the {max}-byte limit")]
    TooLarge {
        /// The document's size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The document is not JSON.
    #[error("the document is not valid JSON: {0}")]
    InvalidJson(String),
    /// The document is JSON but not an object with a `keys` array.
    #[error("the document is not a JWKS: it has no \"keys\" array")]
    NotAKeySet,
    /// Not one key of the JWKS is usable.
    #[error("the JWKS has no usable signing key ({skipped} skipped)")]
    NoUsableKeys {
        /// How many keys were skipped.
        skipped: usize,
    },
    /// A shared secret must not be empty.
    #[error("the shared secret is empty")]
    EmptySecret,
    /// The discovery document lacks a string field.
    #[error("the discovery document has no string {0:?}")]
    MissingField(&'static str),
    /// The discovery document's `issuer` is not the configured issuer.
    #[error("the discovery document's issuer {found:?} is not {expected:?}")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The document's `issuer`.
        found: String,
    },
    /// The discovery document's `jwks_uri` is not an http(s) URL.
    #[error("the discovery document's jwks_uri {0:?} is not an http or https URL")]
    InvalidJwksUri(String),
    /// No `jsonwebtoken` crypto provider could be installed.
    #[error("no JWT crypto provider is available")]
    NoCryptoProvider,
}

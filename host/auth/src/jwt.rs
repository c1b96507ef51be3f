//! JWT validation as Amazon API Gateway does it for HTTP API JWT authorizers and REST
//! `COGNITO_USER_POOLS` authorizers, plus the rule that decides when the host refetches a JWKS.
//!
//! This module owns:
//! - [`KeySet`]: the verification keys, parsed once from a JWKS document (or a static HMAC
//!   shared secret), indexed by `kid`;
//! - [`validate`]: a bearer token checked against a [`KeySet`] and a [`JwtConfig`] at a given
//!   time — signature, `iss`, `aud`/`client_id`, `exp`/`nbf`/`iat`, and the route's scopes —
//!   yielding [`Claims`] or a [`JwtError`] that renders AWS's `www-authenticate` value;
//! - [`verify_jws`]: the signature step alone, over any compact JWS (the RFC 7520 vectors);
//! - [`JwksCache`]: the current key set and the refetch rule (one fetch in flight, unknown-kid
//!   refetches rate-limited, failed fetches back off and keep the old keys);
//! - [`jwks_uri_from_discovery`] and [`cognito_issuer`]: where the keys come from.
//!
//! Nothing here does I/O or reads the clock: the host fetches documents and passes `now`.
//! Signatures are checked by the `jsonwebtoken` crate (RustCrypto backend); no cryptography is
//! written here.

mod cache;
mod claims;
mod discovery;
mod error;
mod keys;
mod token;

pub use cache::{JwksCache, JwksCacheConfig, Refetch};
pub use claims::{Claims, DEFAULT_LEEWAY, JwtConfig, validate};
pub use discovery::{cognito_issuer, jwks_uri_from_discovery};
pub use error::{JwksError, JwtError};
pub use keys::{Algorithm, KeySet, MAX_JWKS_BYTES};
pub use token::{MAX_TOKEN_BYTES, VerifiedJws, verify_jws};

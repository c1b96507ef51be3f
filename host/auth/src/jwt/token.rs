//! The compact JWS: split, header read, key chosen, signature verified.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::CryptoProvider;
use serde_json::{Map, Value};

use super::error::JwtError;
use super::keys::{Algorithm, Candidates, KeySet};

/// The longest token accepted, in bytes (after any `Bearer ` prefix), checked before anything
/// is decoded. 16 KiB is far above real access and ID tokens (1–4 KB).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// A compact JWS whose signature verified.
#[derive(Debug, Clone)]
pub struct VerifiedJws {
    /// The algorithm the header named (and the key allowed).
    pub alg: Algorithm,
    /// The header's `kid`, if it named one.
    pub kid: Option<String>,
    /// The whole protected header.
    pub header: Map<String, Value>,
    /// The decoded payload (for a JWT, the claims set as JSON bytes).
    pub payload: Vec<u8>,
}

/// Makes sure `jsonwebtoken` has a process-wide crypto provider. With exactly one backend
/// feature enabled it picks that one itself; if another crate also enabled `rust_crypto` it has
/// none and would panic on first use, so install the aws-lc one. `false` if none can be had.
pub(crate) fn ensure_crypto_provider() -> bool {
    if CryptoProvider::try_get_default().is_some() {
        return true;
    }
    // Losing a race to another installer is fine: any installed provider will do.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    CryptoProvider::try_get_default().is_some()
}

/// Verifies the signature of a compact JWS (`header.payload.signature`, no `Bearer ` prefix)
/// against `keys`, and returns its header and decoded payload. No claim is looked at: this is
/// the signature step of [`validate`](super::validate), usable on any JWS.
///
/// The header's `alg` must be a supported [`Algorithm`] (and in `allowed`, when given), `none`
/// never; the key is chosen by `kid` (see [`KeySet`]) and must be of the algorithm's type and,
/// if the JWK names an `alg`, of that one: an `HS*` token never verifies against an RSA, EC or
/// OKP key. A header with `crit` is refused, as no extension is understood.
pub fn verify_jws(
    token: &str,
    keys: &KeySet,
    allowed: Option<&[Algorithm]>,
) -> Result<VerifiedJws, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::Malformed(format!(
            "the token is {} bytes, over the {MAX_TOKEN_BYTES}-byte limit",
            token.len()
        )));
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("a compact JWS has three dot-separated parts"));
    };
    let header_bytes = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| malformed("the header is not base64url"))?;
    let header: Map<String, Value> = match serde_json::from_slice(&header_bytes) {
        Ok(Value::Object(map)) => map,
        _ => return Err(malformed("the header is not a JSON object")),
    };
    if header.contains_key("crit") {
        return Err(malformed(
            "the header names critical extensions, none of which is supported",
        ));
    }
    let alg = match header.get("alg") {
        Some(Value::String(name)) => match Algorithm::from_name(name) {
            Some(alg) if allowed.is_none_or(|allowed| allowed.contains(&alg)) => alg,
            _ => return Err(JwtError::UnsupportedAlg(name.clone())),
        },
        Some(_) => return Err(malformed("the header's alg is not a string")),
        None => return Err(malformed("the header has no alg")),
    };
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(malformed("the header's kid is not a string")),
    };
    let candidates = match keys.candidates(kid.as_deref()) {
        Candidates::Keys(candidates) => candidates,
        Candidates::NoKid => return Err(JwtError::MissingKid),
        Candidates::UnknownKid => return Err(JwtError::UnknownKid(kid.unwrap_or_default())),
    };
    let usable: Vec<_> = candidates
        .iter()
        .filter(|key| key.kind == alg.key_kind() && key.alg.is_none_or(|a| a == alg))
        .collect();
    if usable.is_empty() {
        let key = candidates.first().map_or("no key", |k| k.kind.describe());
        return Err(JwtError::AlgMismatch {
            alg: alg.as_str().to_owned(),
            key,
        });
    }
    if signature_b64.is_empty() {
        return Err(malformed("the signature is not base64url"));
    }
    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| malformed("the payload is not base64url"))?;
    // The signing input is the first two parts as sent, dot included.
    let message = &token[..header_b64.len() + 1 + payload_b64.len()];
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| malformed("the signature is not base64url"))?;
    let verified = usable.iter().any(|key| match key.parsed(alg) {
        Some(parsed) => parsed.verify_sig(message.as_bytes(), &signature).is_ok(),
        None => jsonwebtoken::crypto::verify(
            signature_b64,
            message.as_bytes(),
            &key.decoding,
            alg.to_jsonwebtoken(),
        )
        .unwrap_or(false),
    });
    if !verified {
        return Err(JwtError::BadSignature);
    }
    Ok(VerifiedJws {
        alg,
        kid,
        header,
        payload,
    })
}

fn malformed(why: &str) -> JwtError {
    JwtError::Malformed(why.to_owned())
}

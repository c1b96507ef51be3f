//! Verification keys: the supported algorithms, and the key set parsed once from a JWKS
//! document or made from a shared secret.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{self, ParsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use serde_json::{Map, Value};

use super::error::JwksError;

/// The largest JWKS document accepted, in bytes: AWS refuses JWKS responses over 150 000 bytes.
pub const MAX_JWKS_BYTES: usize = 150_000;

/// A JWS signing algorithm that Portico verifies.
///
/// `none` is never one of them, nor ES512 (P-521), which the crypto backend does not offer.
/// The `HS*` algorithms verify only against a [`KeySet::shared_secret`], never a JWKS key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// HMAC with SHA-256 (shared secret only).
    HS256,
    /// HMAC with SHA-384 (shared secret only).
    HS384,
    /// HMAC with SHA-512 (shared secret only).
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// EdDSA on Ed25519.
    EdDSA,
}

impl Algorithm {
    /// Every supported algorithm.
    pub const ALL: [Algorithm; 12] = [
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    /// The JOSE name (`"RS256"`, `"EdDSA"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// The algorithm named `name` (exact, case-sensitive JOSE name), if supported.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// The kind of key this algorithm verifies with.
    pub(crate) fn key_kind(self) -> KeyKind {
        match self {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => KeyKind::Hmac,
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => KeyKind::Rsa,
            Algorithm::ES256 => KeyKind::P256,
            Algorithm::ES384 => KeyKind::P384,
            Algorithm::EdDSA => KeyKind::Ed25519,
        }
    }

    pub(crate) fn to_jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        use jsonwebtoken::Algorithm as J;
        match self {
            Algorithm::HS256 => J::HS256,
            Algorithm::HS384 => J::HS384,
            Algorithm::HS512 => J::HS512,
            Algorithm::RS256 => J::RS256,
            Algorithm::RS384 => J::RS384,
            Algorithm::RS512 => J::RS512,
            Algorithm::PS256 => J::PS256,
            Algorithm::PS384 => J::PS384,
            Algorithm::PS512 => J::PS512,
            Algorithm::ES256 => J::ES256,
            Algorithm::ES384 => J::ES384,
            Algorithm::EdDSA => J::EdDSA,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::from_name(s).ok_or_else(|| format!("unsupported JWS algorithm {s:?}"))
    }
}

/// What a key is, which fixes the algorithms it may verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Hmac,
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl KeyKind {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            KeyKind::Hmac => "an HMAC shared secret",
            KeyKind::Rsa => "an RSA key",
            KeyKind::P256 => "a P-256 key",
            KeyKind::P384 => "a P-384 key",
            KeyKind::Ed25519 => "an Ed25519 key",
        }
    }
}

/// One usable key, its decoding form built at parse time.
pub(crate) struct Key {
    pub(crate) kid: Option<String>,
    /// The JWK's own `alg`, when it names one: then only that algorithm verifies with it.
    pub(crate) alg: Option<Algorithm>,
    pub(crate) kind: KeyKind,
    pub(crate) decoding: DecodingKey,
    /// The key already parsed by aws-lc for each algorithm it may verify: what the hot path
    /// uses (building an RSA key from `n` and `e` on every verification costs more than the
    /// verification). Empty when aws-lc refuses the key; `decoding` serves then.
    pub(crate) parsed: Vec<(Algorithm, ParsedPublicKey)>,
}

impl Key {
    /// The pre-parsed key for `alg`, if any.
    pub(crate) fn parsed(&self, alg: Algorithm) -> Option<&ParsedPublicKey> {
        self.parsed.iter().find(|(a, _)| *a == alg).map(|(_, k)| k)
    }
}

/// aws-lc's verification algorithm for `alg` (JOSE: fixed-size ECDSA signatures, RSA from
/// 2048 bits); `None` for HMAC.
fn verification(alg: Algorithm) -> Option<&'static dyn signature::VerificationAlgorithm> {
    Some(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
        Algorithm::EdDSA => &signature::ED25519,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => return None,
    })
}

/// Parses `public` (SubjectPublicKeyInfo DER for RSA, the uncompressed point for EC, the raw
/// key for Ed25519) once for every algorithm of `kind` the key may serve (only `alg` when the
/// JWK names one).
fn preparse(
    kind: KeyKind,
    alg: Option<Algorithm>,
    public: &[u8],
) -> Vec<(Algorithm, ParsedPublicKey)> {
    Algorithm::ALL
        .iter()
        .copied()
        .filter(|a| a.key_kind() == kind && alg.is_none_or(|only| only == *a))
        .filter_map(|a| {
            let parsed = ParsedPublicKey::new(verification(a)?, public).ok()?;
            Some((a, parsed))
        })
        .collect()
}

/// The verification keys of one issuer, ready to use: parsed and converted once, then shared
/// (behind an `Arc`) by every request until the next JWKS fetch replaces it.
pub struct KeySet {
    keys: Vec<Key>,
    /// `kid` → indices into `keys` (a JWKS may reuse a kid across key types).
    by_kid: HashMap<String, Vec<usize>>,
    skipped: usize,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field(
                "kids",
                &self
                    .keys
                    .iter()
                    .map(|k| k.kid.as_deref())
                    .collect::<Vec<_>>(),
            )
            .field("skipped", &self.skipped)
            .finish()
    }
}

impl KeySet {
    /// Parses a JWKS document (`{"keys": [...]}`) and builds every usable key's decoding form.
    ///
    /// Keys that cannot be used are skipped, not refused: an unknown `kty`, a curve other than
    /// P-256, P-384 or Ed25519, `use` other than `sig`, `key_ops` without `verify`, an `alg`
    /// that is unsupported or does not fit the key, symmetric (`oct`) keys (HMAC verifies only
    /// with [`KeySet::shared_secret`], so a published JWK can never be turned into an HMAC
    /// secret), and keys whose parameters are missing or malformed. A document over
    /// [`MAX_JWKS_BYTES`], one that is not JSON or has no `keys` array, and one in which no key
    /// is usable are errors.
    pub fn parse(json: &[u8]) -> Result<KeySet, JwksError> {
        if json.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge {
                size: json.len(),
                max: MAX_JWKS_BYTES,
            });
        }
        if !super::token::ensure_crypto_provider() {
            return Err(JwksError::NoCryptoProvider);
        }
        let doc: Value =
            serde_json::from_slice(json).map_err(|e| JwksError::InvalidJson(e.to_string()))?;
        let Some(entries) = doc.get("keys").and_then(Value::as_array) else {
            return Err(JwksError::NotAKeySet);
        };
        let mut keys = Vec::new();
        let mut skipped = 0;
        for entry in entries {
            match entry.as_object().and_then(parse_jwk) {
                Some(key) => keys.push(key),
                None => skipped += 1,
            }
        }
        if keys.is_empty() {
            return Err(JwksError::NoUsableKeys { skipped });
        }
        Ok(KeySet::from_keys(keys, skipped))
    }

    /// A key set holding one HMAC shared secret (for `HS256`, `HS384` and `HS512` tokens), with
    /// no `kid`: every token is checked against it whatever `kid` its header names.
    pub fn shared_secret(secret: &[u8]) -> Result<KeySet, JwksError> {
        if secret.is_empty() {
            return Err(JwksError::EmptySecret);
        }
        if !super::token::ensure_crypto_provider() {
            return Err(JwksError::NoCryptoProvider);
        }
        let decoding = DecodingKey::from_secret(secret).map_err(|_| JwksError::EmptySecret)?;
        Ok(KeySet::from_keys(
            vec![Key {
                kid: None,
                alg: None,
                kind: KeyKind::Hmac,
                decoding,
                parsed: Vec::new(),
            }],
            0,
        ))
    }

    fn from_keys(keys: Vec<Key>, skipped: usize) -> KeySet {
        let mut by_kid: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, key) in keys.iter().enumerate() {
            if let Some(kid) = &key.kid {
                by_kid.entry(kid.clone()).or_default().push(i);
            }
        }
        KeySet {
            keys,
            by_kid,
            skipped,
        }
    }

    /// How many usable keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no key (never true of a set built by [`KeySet::parse`] or
    /// [`KeySet::shared_secret`]).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// How many entries of the JWKS document were skipped as unusable.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// The `kid`s of the usable keys, in document order (a repeated kid appears once per key).
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().filter_map(|k| k.kid.as_deref())
    }

    /// Whether a usable key has this `kid`.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.by_kid.contains_key(kid)
    }

    /// The keys a token naming `kid` may be verified with:
    /// - a set of exactly one key without a kid (a shared secret, or a one-key JWKS that names
    ///   none) is used whatever the token names;
    /// - otherwise the token must name a kid and the set must hold it.
    pub(crate) fn candidates(&self, kid: Option<&str>) -> Candidates<'_> {
        if let [only] = self.keys.as_slice()
            && only.kid.is_none()
        {
            return Candidates::Keys(vec![only]);
        }
        match kid {
            None => Candidates::NoKid,
            Some(kid) => match self.by_kid.get(kid) {
                Some(indices) => {
                    Candidates::Keys(indices.iter().filter_map(|&i| self.keys.get(i)).collect())
                }
                None => Candidates::UnknownKid,
            },
        }
    }
}

pub(crate) enum Candidates<'a> {
    Keys(Vec<&'a Key>),
    NoKid,
    UnknownKid,
}

/// One JWK → a usable key, or `None` to skip it.
fn parse_jwk(jwk: &Map<String, Value>) -> Option<Key> {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    let kid = match jwk.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return None,
    };
    if let Some(usage) = jwk.get("use")
        && usage.as_str() != Some("sig")
    {
        return None;
    }
    if let Some(ops) = jwk.get("key_ops") {
        let verifies = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op.as_str() == Some("verify")));
        if !verifies {
            return None;
        }
    }
    let alg = match jwk.get("alg") {
        None => None,
        Some(alg) => Some(Algorithm::from_name(alg.as_str()?)?),
    };
    let (kind, decoding, public) = match text("kty")? {
        "RSA" => {
            let (n, e) = (text("n")?, text("e")?);
            let (n_bytes, e_bytes) = (b64(n)?, b64(e)?);
            if n_bytes.is_empty() || e_bytes.is_empty() {
                return None;
            }
            let components = aws_lc_rs::rsa::PublicKeyComponents {
                n: n_bytes,
                e: e_bytes,
            };
            let spki = components
                .as_der()
                .map(|der| der.as_ref().to_vec())
                .unwrap_or_default();
            (
                KeyKind::Rsa,
                DecodingKey::from_rsa_components(n, e).ok()?,
                spki,
            )
        }
        "EC" => {
            let (kind, size) = match text("crv")? {
                "P-256" => (KeyKind::P256, 32),
                "P-384" => (KeyKind::P384, 48),
                _ => return None,
            };
            let (x, y) = (text("x")?, text("y")?);
            let (xb, yb) = (b64(x)?, b64(y)?);
            if xb.len() != size || yb.len() != size {
                return None;
            }
            let point = [&[0x04][..], &xb, &yb].concat();
            (kind, DecodingKey::from_ec_components(x, y).ok()?, point)
        }
        "OKP" => {
            if text("crv")? != "Ed25519" {
                return None;
            }
            let x = text("x")?;
            let xb = b64(x)?;
            if xb.len() != 32 {
                return None;
            }
            (
                KeyKind::Ed25519,
                DecodingKey::from_ed_components(x).ok()?,
                xb,
            )
        }
        _ => return None,
    };
    if let Some(alg) = alg
        && alg.key_kind() != kind
    {
        return None;
    }
    Some(Key {
        kid,
        alg,
        kind,
        decoding,
        parsed: preparse(kind, alg, &public),
    })
}

/// A base64url value's bytes, or `None` if it is not base64url.
fn b64(value: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_keys_are_parsed_once_for_each_algorithm_they_serve() {
        let jwk =
            include_str!("../../../../tests/conformance/jose-cookbook/jwk/3_3.rsa_public_key.json");
        let set = KeySet::parse(format!("{{\"keys\": [{jwk}]}}").as_bytes()).unwrap();
        let algs: Vec<_> = set.keys[0].parsed.iter().map(|(a, _)| *a).collect();
        assert_eq!(
            algs,
            [
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512
            ]
        );
        // A JWK that names its algorithm serves that one only.
        let mut named: Value = serde_json::from_str(jwk).unwrap();
        named["alg"] = "PS256".into();
        let set = KeySet::parse(json_keys(&named).as_bytes()).unwrap();
        assert_eq!(set.keys[0].parsed.len(), 1);
        assert_eq!(set.keys[0].parsed[0].0, Algorithm::PS256);
    }

    fn json_keys(jwk: &Value) -> String {
        serde_json::json!({ "keys": [jwk] }).to_string()
    }
}

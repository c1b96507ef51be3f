//! JWT validation, the key set, the JWKS cache's refetch rule, discovery and Cognito issuers.
//!
//! The signing keys under `tests/keys/` are test-only, made with OpenSSL 3:
//!
//! ```text
//! openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 | openssl rsa -outform DER -traditional -out rsa2048.pkcs1.der
//! openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 | openssl rsa -outform DER -traditional -out rsa2048-rotated.pkcs1.der
//! openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 | openssl pkcs8 -topk8 -nocrypt -outform DER -out p256.pkcs8.der
//! openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 | openssl pkcs8 -topk8 -nocrypt -outform DER -out p384.pkcs8.der
//! openssl genpkey -algorithm ED25519 -outform DER -out ed25519.pkcs8.der
//! ```
//!
//! Their public JWKs are derived in the test, so the JWKS always matches the keys.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{EncodingKey, Header};
use portico_auth::jwt::{
    Algorithm, Claims, JwksCache, JwksCacheConfig, JwksError, JwtConfig, JwtError, KeySet,
    MAX_JWKS_BYTES, MAX_TOKEN_BYTES, Refetch, cognito_issuer, jwks_uri_from_discovery, validate,
};
use serde_json::{Value, json};

const ISSUER: &str = "https://issuer.example.com/pool";
const SECRET: &[u8] = b"a shared secret of at least thirty-two bytes";
/// A fixed "now": 2026-01-01T00:00:00Z.
const NOW: u64 = 1_767_225_600;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

fn rsa() -> EncodingKey {
    EncodingKey::from_rsa_der(include_bytes!("keys/rsa2048.pkcs1.der"))
}
fn rsa_rotated() -> EncodingKey {
    EncodingKey::from_rsa_der(include_bytes!("keys/rsa2048-rotated.pkcs1.der"))
}
fn p256() -> EncodingKey {
    EncodingKey::from_ec_der(include_bytes!("keys/p256.pkcs8.der"))
}
fn p384() -> EncodingKey {
    EncodingKey::from_ec_der(include_bytes!("keys/p384.pkcs8.der"))
}
fn ed25519() -> EncodingKey {
    EncodingKey::from_ed_der(include_bytes!("keys/ed25519.pkcs8.der"))
}

/// The public JWK of `key` with `kid` and `use: sig`; `alg` kept only if `keep_alg`.
fn jwk(key: &EncodingKey, alg: jsonwebtoken::Algorithm, kid: &str, keep_alg: bool) -> Value {
    let mut value = serde_json::to_value(Jwk::from_encoding_key(key, alg).unwrap()).unwrap();
    let map = value.as_object_mut().unwrap();
    if !keep_alg {
        map.remove("alg");
    }
    map.insert("kid".into(), json!(kid));
    map.insert("use".into(), json!("sig"));
    value
}

fn jwks(keys: &[Value]) -> KeySet {
    KeySet::parse(json!({ "keys": keys }).to_string().as_bytes()).unwrap()
}

/// The JWKS of every test key: RSA (no alg), P-256, P-384 and Ed25519.
fn all_keys() -> KeySet {
    use jsonwebtoken::Algorithm as J;
    jwks(&[
        jwk(&rsa(), J::RS256, "rsa-1", false),
        jwk(&p256(), J::ES256, "ec-256", true),
        jwk(&p384(), J::ES384, "ec-384", true),
        jwk(&ed25519(), J::EdDSA, "ed-1", true),
    ])
}

fn config() -> JwtConfig {
    JwtConfig::new(ISSUER, vec!["app-client".to_owned()])
}

/// Claims valid at [`NOW`] for [`config`].
fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": "app-client",
        "sub": "user-1",
        "iat": NOW - 60,
        "exp": NOW + 3600,
        "scope": "read write",
    })
}

fn with(mut claims: Value, edits: Value) -> Value {
    for (k, v) in edits.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

fn sign(
    alg: jsonwebtoken::Algorithm,
    kid: Option<&str>,
    key: &EncodingKey,
    claims: &Value,
) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn rs256(claims: &Value) -> String {
    sign(
        jsonwebtoken::Algorithm::RS256,
        Some("rsa-1"),
        &rsa(),
        claims,
    )
}

fn check(token: &str, cfg: &JwtConfig, scopes: &[&str]) -> Result<Claims, JwtError> {
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    validate(token, &all_keys(), cfg, now(), &scopes)
}

/// A token with an arbitrary header and payload, and signature bytes `sig`.
fn raw_token(header: &Value, payload: &Value, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        URL_SAFE_NO_PAD.encode(sig)
    )
}

// --- algorithms ---

#[test]
fn every_algorithm_signs_and_verifies() {
    use jsonwebtoken::Algorithm as J;
    let cases: [(J, &str, EncodingKey, Algorithm); 9] = [
        (J::RS256, "rsa-1", rsa(), Algorithm::RS256),
        (J::RS384, "rsa-1", rsa(), Algorithm::RS384),
        (J::RS512, "rsa-1", rsa(), Algorithm::RS512),
        (J::PS256, "rsa-1", rsa(), Algorithm::PS256),
        (J::PS384, "rsa-1", rsa(), Algorithm::PS384),
        (J::PS512, "rsa-1", rsa(), Algorithm::PS512),
        (J::ES256, "ec-256", p256(), Algorithm::ES256),
        (J::ES384, "ec-384", p384(), Algorithm::ES384),
        (J::EdDSA, "ed-1", ed25519(), Algorithm::EdDSA),
    ];
    let keys = all_keys();
    for (alg, kid, key, ours) in cases {
        let token = sign(alg, Some(kid), &key, &claims());
        let got = validate(&token, &keys, &config(), now(), &[])
            .unwrap_or_else(|e| panic!("{ours}: {e}"));
        assert_eq!(got.claims["sub"], "user-1", "{ours}");
        // Limited to another algorithm, the same token is refused.
        let only_other = JwtConfig {
            algorithms: Some(vec![if ours == Algorithm::RS256 {
                Algorithm::PS256
            } else {
                Algorithm::RS256
            }]),
            ..config()
        };
        assert_eq!(
            validate(&token, &keys, &only_other, now(), &[]).unwrap_err(),
            JwtError::UnsupportedAlg(ours.as_str().to_owned()),
            "{ours}"
        );
    }
}

#[test]
fn hmac_with_a_shared_secret() {
    use jsonwebtoken::Algorithm as J;
    let keys = KeySet::shared_secret(SECRET).unwrap();
    let key = EncodingKey::from_secret(SECRET).unwrap();
    for alg in [J::HS256, J::HS384, J::HS512] {
        // With or without a kid: the single secret is used either way.
        for kid in [None, Some("whatever")] {
            let token = sign(alg, kid, &key, &claims());
            assert!(
                validate(&token, &keys, &config(), now(), &[]).is_ok(),
                "{alg:?} {kid:?}"
            );
        }
    }
    let wrong = sign(
        J::HS256,
        None,
        &EncodingKey::from_secret(b"another secret").unwrap(),
        &claims(),
    );
    assert_eq!(
        validate(&wrong, &keys, &config(), now(), &[]).unwrap_err(),
        JwtError::BadSignature
    );
    assert_eq!(
        KeySet::shared_secret(b"").unwrap_err(),
        JwksError::EmptySecret
    );
}

#[test]
fn alg_none_is_refused() {
    let header = json!({ "alg": "none", "kid": "rsa-1" });
    for sig in [&b""[..], b"anything"] {
        let token = raw_token(&header, &claims(), sig);
        assert_eq!(
            check(&token, &config(), &[]).unwrap_err(),
            JwtError::UnsupportedAlg("none".to_owned())
        );
    }
    let token = raw_token(&json!({ "alg": "None", "kid": "rsa-1" }), &claims(), b"");
    assert!(matches!(
        check(&token, &config(), &[]),
        Err(JwtError::UnsupportedAlg(_))
    ));
    let token = raw_token(&json!({ "kid": "rsa-1" }), &claims(), b"x");
    assert!(matches!(
        check(&token, &config(), &[]),
        Err(JwtError::Malformed(_))
    ));
}

#[test]
fn hs256_against_an_rsa_jwks_is_refused() {
    // The classic confusion: an HMAC signed with the RSA public key's bytes as the secret.
    let rsa_jwk = jwk(&rsa(), jsonwebtoken::Algorithm::RS256, "rsa-1", false);
    let forged_secret = rsa_jwk.to_string();
    let key = EncodingKey::from_secret(forged_secret.as_bytes()).unwrap();
    let token = sign(
        jsonwebtoken::Algorithm::HS256,
        Some("rsa-1"),
        &key,
        &claims(),
    );
    assert_eq!(
        check(&token, &config(), &[]).unwrap_err(),
        JwtError::AlgMismatch {
            alg: "HS256".to_owned(),
            key: "an RSA key"
        }
    );
    // An `oct` JWK published in a JWKS is never used, so no HMAC key can come from one.
    let oct = json!({ "kty": "oct", "kid": "hs", "k": URL_SAFE_NO_PAD.encode(SECRET) });
    let set = jwks(&[oct, rsa_jwk]);
    assert_eq!(set.skipped(), 1);
    let token = sign(
        jsonwebtoken::Algorithm::HS256,
        Some("hs"),
        &EncodingKey::from_secret(SECRET).unwrap(),
        &claims(),
    );
    assert_eq!(
        validate(&token, &set, &config(), now(), &[]).unwrap_err(),
        JwtError::UnknownKid("hs".to_owned())
    );
}

#[test]
fn alg_must_fit_the_key_and_its_jwk_alg() {
    use jsonwebtoken::Algorithm as J;
    // The P-256 key cannot verify ES384; an RSA key cannot verify ES256.
    let token = sign(J::ES384, Some("ec-256"), &p384(), &claims());
    assert!(matches!(
        check(&token, &config(), &[]),
        Err(JwtError::AlgMismatch { .. })
    ));
    let token = sign(J::ES256, Some("rsa-1"), &p256(), &claims());
    assert!(matches!(
        check(&token, &config(), &[]),
        Err(JwtError::AlgMismatch { .. })
    ));
    // An RSA JWK that says `alg: RS256` refuses PS256 from the same key.
    let set = jwks(&[jwk(&rsa(), J::RS256, "rsa-1", true)]);
    let ps = sign(J::PS256, Some("rsa-1"), &rsa(), &claims());
    assert_eq!(
        validate(&ps, &set, &config(), now(), &[]).unwrap_err(),
        JwtError::AlgMismatch {
            alg: "PS256".to_owned(),
            key: "an RSA key"
        }
    );
    assert!(validate(&rs256(&claims()), &set, &config(), now(), &[]).is_ok());
}

#[test]
fn bad_signature_and_malformed_tokens() {
    let token = rs256(&claims());
    let (rest, sig) = token.rsplit_once('.').unwrap();
    let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    sig[10] ^= 0x80;
    let forged = format!("{rest}.{}", URL_SAFE_NO_PAD.encode(sig));
    assert_eq!(
        check(&forged, &config(), &[]).unwrap_err(),
        JwtError::BadSignature
    );
    // Claims changed under the original signature.
    let (header, _) = token.split_once('.').unwrap();
    let (_, signature) = token.rsplit_once('.').unwrap();
    let other = URL_SAFE_NO_PAD.encode(with(claims(), json!({"sub": "admin"})).to_string());
    let swapped = format!("{header}.{other}.{signature}");
    assert_eq!(
        check(&swapped, &config(), &[]).unwrap_err(),
        JwtError::BadSignature
    );

    for garbage in [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "!!!.e30.AA",
        "e30.e30.AA",
        "e30.e30.",
        "Bearer ",
    ] {
        assert!(
            matches!(check(garbage, &config(), &[]), Err(JwtError::Malformed(_))),
            "{garbage:?}"
        );
    }
    // A signed payload that is not a JSON object.
    let not_object = sign(
        jsonwebtoken::Algorithm::RS256,
        Some("rsa-1"),
        &rsa(),
        &json!([1, 2]),
    );
    assert!(matches!(
        check(&not_object, &config(), &[]),
        Err(JwtError::Malformed(_))
    ));
    // Critical extensions are refused.
    let crit = json!({ "alg": "RS256", "kid": "rsa-1", "crit": ["exp"], "exp": 1 });
    let token = raw_token(&crit, &claims(), b"sig");
    assert!(
        matches!(check(&token, &config(), &[]), Err(JwtError::Malformed(m)) if m.contains("critical"))
    );
}

#[test]
fn token_length_is_limited_before_parsing() {
    let long = "a".repeat(MAX_TOKEN_BYTES + 1);
    assert!(
        matches!(check(&long, &config(), &[]), Err(JwtError::Malformed(m)) if m.contains("limit"))
    );
    // A real token just under the limit still passes.
    let padding = "x".repeat(MAX_TOKEN_BYTES / 2);
    let token = rs256(&with(claims(), json!({ "padding": padding })));
    assert!(token.len() < MAX_TOKEN_BYTES);
    assert!(check(&token, &config(), &[]).is_ok());
}

#[test]
fn bearer_prefix_is_optional_and_case_insensitive() {
    let token = rs256(&claims());
    for prefixed in [
        token.clone(),
        format!("Bearer {token}"),
        format!("bearer {token}"),
        format!("BEARER {token}"),
        format!("Bearer   {token}"),
    ] {
        assert!(
            check(&prefixed, &config(), &[]).is_ok(),
            "{}",
            &prefixed[..10]
        );
    }
    assert!(check(&format!("Basic {token}"), &config(), &[]).is_err());
}

// --- claims ---

#[test]
fn expired() {
    let cfg = JwtConfig {
        leeway: Duration::ZERO,
        ..config()
    };
    let token = rs256(&with(claims(), json!({ "exp": NOW - 1 })));
    assert_eq!(check(&token, &cfg, &[]).unwrap_err(), JwtError::Expired);
    let token = rs256(&with(claims(), json!({ "exp": NOW })));
    assert_eq!(check(&token, &cfg, &[]).unwrap_err(), JwtError::Expired);
    // Within the leeway it passes.
    let lenient = JwtConfig {
        leeway: Duration::from_secs(30),
        ..config()
    };
    let token = rs256(&with(claims(), json!({ "exp": NOW - 10 })));
    assert!(check(&token, &lenient, &[]).is_ok());
    // exp is required, and must be a number.
    let token = rs256(&with(claims(), json!({ "exp": null })));
    assert_eq!(
        check(&token, &cfg, &[]).unwrap_err(),
        JwtError::MissingClaim("exp")
    );
    let token = rs256(&with(claims(), json!({ "exp": "soon" })));
    assert_eq!(
        check(&token, &cfg, &[]).unwrap_err(),
        JwtError::MissingClaim("exp")
    );
}

#[test]
fn not_yet_valid() {
    let cfg = JwtConfig {
        leeway: Duration::ZERO,
        ..config()
    };
    let token = rs256(&with(claims(), json!({ "nbf": NOW + 1 })));
    assert_eq!(check(&token, &cfg, &[]).unwrap_err(), JwtError::NotYetValid);
    let token = rs256(&with(claims(), json!({ "nbf": NOW })));
    assert!(check(&token, &cfg, &[]).is_ok());
    let lenient = JwtConfig {
        leeway: Duration::from_secs(30),
        ..config()
    };
    let token = rs256(&with(claims(), json!({ "nbf": NOW + 10 })));
    assert!(check(&token, &lenient, &[]).is_ok());
}

#[test]
fn issued_in_the_future() {
    let cfg = JwtConfig {
        leeway: Duration::ZERO,
        ..config()
    };
    let token = rs256(&with(claims(), json!({ "iat": NOW + 120 })));
    assert_eq!(
        check(&token, &cfg, &[]).unwrap_err(),
        JwtError::IssuedInFuture
    );
    // The default leeway absorbs a slightly fast issuer clock.
    let token = rs256(&with(claims(), json!({ "iat": NOW + 2 })));
    assert!(check(&token, &config(), &[]).is_ok());
    // iat is optional.
    let token = rs256(&with(claims(), json!({ "iat": null })));
    assert!(check(&token, &cfg, &[]).is_ok());
}

#[test]
fn wrong_issuer() {
    for iss in [
        json!("https://evil.example.com/pool"),
        json!(ISSUER.to_owned() + "/"),
        json!(null),
        json!(7),
    ] {
        let token = rs256(&with(claims(), json!({ "iss": iss })));
        assert_eq!(
            check(&token, &config(), &[]).unwrap_err(),
            JwtError::WrongIssuer,
            "{iss}"
        );
    }
}

#[test]
fn wrong_audience() {
    let token = rs256(&with(claims(), json!({ "aud": "someone-else" })));
    assert_eq!(
        check(&token, &config(), &[]).unwrap_err(),
        JwtError::WrongAudience
    );
    // An array must contain one of the audiences.
    let token = rs256(&with(claims(), json!({ "aud": ["x", "app-client"] })));
    assert!(check(&token, &config(), &[]).is_ok());
    let token = rs256(&with(claims(), json!({ "aud": ["x", "y"] })));
    assert_eq!(
        check(&token, &config(), &[]).unwrap_err(),
        JwtError::WrongAudience
    );
    // Any of several configured audiences.
    let cfg = JwtConfig::new(ISSUER, vec!["a".into(), "app-client".into()]);
    let token = rs256(&claims());
    assert!(check(&token, &cfg, &[]).is_ok());
    // No audience configured (a REST Cognito authorizer): not checked at all.
    let cfg = JwtConfig::new(ISSUER, vec![]);
    let token = rs256(&with(claims(), json!({ "aud": "anything" })));
    assert!(check(&token, &cfg, &[]).is_ok());
}

#[test]
fn client_id_is_used_only_when_aud_is_absent() {
    // A Cognito access token: no aud, client_id.
    let access = with(claims(), json!({ "aud": null, "client_id": "app-client" }));
    assert!(check(&rs256(&access), &config(), &[]).is_ok());
    let wrong = with(access.clone(), json!({ "client_id": "other" }));
    assert_eq!(
        check(&rs256(&wrong), &config(), &[]).unwrap_err(),
        JwtError::WrongAudience
    );
    // aud present and wrong: client_id is not consulted, even when it would match.
    let both = with(access, json!({ "aud": "other" }));
    assert_eq!(
        check(&rs256(&both), &config(), &[]).unwrap_err(),
        JwtError::WrongAudience
    );
    // Neither.
    let neither = with(claims(), json!({ "aud": null }));
    assert_eq!(
        check(&rs256(&neither), &config(), &[]).unwrap_err(),
        JwtError::WrongAudience
    );
}

#[test]
fn scopes() {
    // `scope`, space-separated: any one required scope suffices.
    let token = rs256(&claims());
    assert_eq!(
        check(&token, &config(), &[]).unwrap().scopes,
        ["read", "write"]
    );
    assert!(check(&token, &config(), &["admin", "write"]).is_ok());
    assert_eq!(
        check(&token, &config(), &["admin"]).unwrap_err(),
        JwtError::MissingScope
    );
    // `scp` as an array, and as a string.
    let scp = with(
        claims(),
        json!({ "scope": null, "scp": ["orders:read", "orders:write"] }),
    );
    let got = check(&rs256(&scp), &config(), &["orders:write"]).unwrap();
    assert_eq!(got.scopes, ["orders:read", "orders:write"]);
    let scp = with(claims(), json!({ "scope": null, "scp": "a b" }));
    assert!(check(&rs256(&scp), &config(), &["b"]).is_ok());
    // `scope` as an array; and `scope` wins over `scp`.
    let array = with(claims(), json!({ "scope": ["x", "y"] }));
    assert!(check(&rs256(&array), &config(), &["y"]).is_ok());
    let both = with(claims(), json!({ "scope": "x", "scp": ["y"] }));
    assert_eq!(
        check(&rs256(&both), &config(), &["y"]).unwrap_err(),
        JwtError::MissingScope
    );
    // No scopes at all.
    let none = with(claims(), json!({ "scope": null }));
    assert_eq!(
        check(&rs256(&none), &config(), &["read"]).unwrap_err(),
        JwtError::MissingScope
    );
    assert!(check(&rs256(&none), &config(), &[]).is_ok());
    // Scopes match exactly (no prefix or case folding).
    assert_eq!(
        check(&token, &config(), &["Read"]).unwrap_err(),
        JwtError::MissingScope
    );
}

#[test]
fn claims_as_strings_follow_the_payload_2_0_form() {
    let token = rs256(&with(
        claims(),
        json!({
            "cognito:groups": ["admin", "users"],
            "email_verified": true,
            "address": { "country": "NZ" },
            "amr": [],
        }),
    ));
    let got = check(&token, &config(), &[]).unwrap();
    let strings: std::collections::HashMap<_, _> = got.claims_as_strings().into_iter().collect();
    assert_eq!(strings["sub"], "user-1");
    assert_eq!(strings["exp"], (NOW + 3600).to_string());
    assert_eq!(strings["cognito:groups"], "[admin users]");
    assert_eq!(strings["email_verified"], "true");
    assert_eq!(strings["address"], r#"{"country":"NZ"}"#);
    assert_eq!(strings["amr"], "[]");
    assert_eq!(strings["scope"], "read write");
}

// --- key sets ---

#[test]
fn unknown_kid_is_distinguishable() {
    let token = sign(
        jsonwebtoken::Algorithm::RS256,
        Some("nope"),
        &rsa(),
        &claims(),
    );
    assert_eq!(
        check(&token, &config(), &[]).unwrap_err(),
        JwtError::UnknownKid("nope".to_owned())
    );
    // No kid, and the set has kids.
    let token = sign(jsonwebtoken::Algorithm::RS256, None, &rsa(), &claims());
    assert_eq!(
        check(&token, &config(), &[]).unwrap_err(),
        JwtError::MissingKid
    );
    // No kid, and the set is one key without a kid: that key is used.
    let mut only = jwk(&rsa(), jsonwebtoken::Algorithm::RS256, "x", false);
    only.as_object_mut().unwrap().remove("kid");
    let set = jwks(&[only]);
    assert!(validate(&token, &set, &config(), now(), &[]).is_ok());
}

#[test]
fn kid_rotation() {
    use jsonwebtoken::Algorithm as J;
    let cache = JwksCache::default();
    let t0 = Instant::now();
    cache.store(jwks(&[jwk(&rsa(), J::RS256, "rsa-1", false)]), t0);
    let new_token = sign(J::RS256, Some("rsa-2"), &rsa_rotated(), &claims());
    let keys = cache.keys().unwrap();
    assert_eq!(
        validate(&new_token, &keys, &config(), now(), &[]).unwrap_err(),
        JwtError::UnknownKid("rsa-2".to_owned())
    );
    // The host refetches and stores the rotated set (both keys during the overlap).
    assert!(cache.should_refetch(t0 + Duration::from_secs(11), Refetch::UnknownKid));
    cache.store(
        jwks(&[
            jwk(&rsa(), J::RS256, "rsa-1", false),
            jwk(&rsa_rotated(), J::RS256, "rsa-2", false),
        ]),
        t0 + Duration::from_secs(12),
    );
    let keys = cache.keys().unwrap();
    assert!(validate(&new_token, &keys, &config(), now(), &[]).is_ok());
    assert!(validate(&rs256(&claims()), &keys, &config(), now(), &[]).is_ok());
    // Then the old key is retired.
    cache.store(
        jwks(&[jwk(&rsa_rotated(), J::RS256, "rsa-2", false)]),
        t0 + Duration::from_secs(60),
    );
    let keys = cache.keys().unwrap();
    assert!(validate(&new_token, &keys, &config(), now(), &[]).is_ok());
    assert_eq!(
        validate(&rs256(&claims()), &keys, &config(), now(), &[]).unwrap_err(),
        JwtError::UnknownKid("rsa-1".to_owned())
    );
    assert_eq!(keys.kids().collect::<Vec<_>>(), ["rsa-2"]);
}

#[test]
fn jwks_skips_unusable_keys() {
    use jsonwebtoken::Algorithm as J;
    let good = jwk(&p256(), J::ES256, "ec", true);
    let doc = json!({ "keys": [
        { "kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB" },
        { "kty": "EC", "kid": "p521", "crv": "P-521", "x": "AA", "y": "AA" },
        { "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" },
        { "kty": "XYZ", "kid": "weird" },
        { "kty": "RSA", "kid": "es512", "alg": "ES512", "n": "AQAB", "e": "AQAB" },
        { "kty": "RSA", "kid": "wrong-alg", "alg": "ES256", "n": "AQAB", "e": "AQAB" },
        { "kty": "RSA", "kid": "no-n", "e": "AQAB" },
        { "kty": "EC", "kid": "short", "crv": "P-256", "x": "AAAA", "y": "AAAA" },
        { "kty": "OKP", "kid": "ed448", "crv": "Ed448", "x": "AA" },
        { "kty": "RSA", "kid": "sign-only", "key_ops": ["sign"], "n": "AQAB", "e": "AQAB" },
        "not an object",
        good,
    ]});
    let set = KeySet::parse(doc.to_string().as_bytes()).unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(set.skipped(), 11);
    assert!(set.contains_kid("ec") && !set.contains_kid("enc"));
    let token = sign(J::ES256, Some("ec"), &p256(), &claims());
    assert!(validate(&token, &set, &config(), now(), &[]).is_ok());
}

#[test]
fn garbage_jwks_is_rejected() {
    assert!(matches!(
        KeySet::parse(b"not json"),
        Err(JwksError::InvalidJson(_))
    ));
    assert!(matches!(
        KeySet::parse(b"{\"keys\": [}"),
        Err(JwksError::InvalidJson(_))
    ));
    assert_eq!(KeySet::parse(b"{}").unwrap_err(), JwksError::NotAKeySet);
    assert_eq!(KeySet::parse(b"[]").unwrap_err(), JwksError::NotAKeySet);
    assert_eq!(
        KeySet::parse(b"{\"keys\": {}}").unwrap_err(),
        JwksError::NotAKeySet
    );
    assert_eq!(
        KeySet::parse(b"{\"keys\": []}").unwrap_err(),
        JwksError::NoUsableKeys { skipped: 0 }
    );
    assert_eq!(
        KeySet::parse(br#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}"#).unwrap_err(),
        JwksError::NoUsableKeys { skipped: 1 }
    );
    // The messages say what was wrong.
    let message = KeySet::parse(b"<html>").unwrap_err().to_string();
    assert!(message.contains("not valid JSON"), "{message}");
}

#[test]
fn oversized_jwks_is_rejected() {
    let doc_with = |fill: usize| {
        let key = jwk(&p256(), jsonwebtoken::Algorithm::ES256, "ec", true);
        json!({ "keys": [key], "padding": "x".repeat(fill) }).to_string()
    };
    let mut doc = doc_with(MAX_JWKS_BYTES - doc_with(0).len());
    assert_eq!(doc.len(), MAX_JWKS_BYTES);
    assert!(KeySet::parse(doc.as_bytes()).is_ok());
    doc.insert(1, ' ');
    assert_eq!(
        KeySet::parse(doc.as_bytes()).unwrap_err(),
        JwksError::TooLarge {
            size: MAX_JWKS_BYTES + 1,
            max: MAX_JWKS_BYTES
        }
    );
}

// --- the cache ---

fn config_10s() -> JwksCacheConfig {
    JwksCacheConfig::default()
}

#[test]
fn unknown_kid_refetches_are_rate_limited() {
    let cache = JwksCache::new(config_10s());
    let t0 = Instant::now();
    cache.store(all_keys(), t0);
    // 100 unknown-kid requests within the interval: exactly one fetch.
    let granted = (0..100)
        .filter(|i| {
            cache.should_refetch(
                t0 + Duration::from_millis(10_000 + i * 50),
                Refetch::UnknownKid,
            )
        })
        .count();
    assert_eq!(granted, 1);
    // Stored, then more unknown kids within 10 s of that fetch starting: none.
    cache.store(all_keys(), t0 + Duration::from_secs(11));
    assert!(!cache.should_refetch(t0 + Duration::from_secs(15), Refetch::UnknownKid));
    // 10 s after it started, one more.
    assert!(cache.should_refetch(t0 + Duration::from_secs(20), Refetch::UnknownKid));
}

#[test]
fn unknown_kid_refetch_is_granted_once_across_threads() {
    let cache = Arc::new(JwksCache::new(config_10s()));
    let t0 = Instant::now();
    cache.store(all_keys(), t0);
    let later = t0 + Duration::from_secs(30);
    let granted = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (cache, granted) = (Arc::clone(&cache), Arc::clone(&granted));
            std::thread::spawn(move || {
                for _ in 0..25 {
                    if cache.should_refetch(later, Refetch::UnknownKid) {
                        granted.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(granted.load(Ordering::SeqCst), 1);
}

#[test]
fn a_failed_fetch_keeps_the_old_keys_and_backs_off() {
    let cache = JwksCache::new(config_10s());
    let t0 = Instant::now();
    let at = |s: u64| t0 + Duration::from_secs(s);
    cache.store(all_keys(), t0);
    assert!(cache.should_refetch(at(20), Refetch::UnknownKid));
    cache.fetch_failed(at(21));
    // The old keys still validate.
    let keys = cache.keys().expect("keys kept");
    assert!(validate(&rs256(&claims()), &keys, &config(), now(), &[]).is_ok());
    // The rate limit (10 s from 20 s) and then the backoff (1 s from 21 s) hold.
    assert!(!cache.should_refetch(at(25), Refetch::UnknownKid));
    assert!(cache.should_refetch(at(30), Refetch::UnknownKid));
    cache.fetch_failed(at(30));
    // Second failure: 2 s backoff, even for Missing, which has no interval.
    assert!(!cache.should_refetch(at(31), Refetch::Missing));
    assert!(cache.should_refetch(at(32), Refetch::Missing));
    cache.fetch_failed(at(32));
    assert!(!cache.should_refetch(at(35), Refetch::Missing)); // 4 s
    assert!(cache.should_refetch(at(36), Refetch::Missing));
    // A success clears the backoff.
    cache.store(all_keys(), at(37));
    assert!(cache.keys().is_some());
    assert!(cache.should_refetch(at(47), Refetch::UnknownKid));
}

#[test]
fn missing_keys_and_the_fetch_in_flight() {
    let cache = JwksCache::default();
    let t0 = Instant::now();
    assert!(cache.keys().is_none());
    assert!(!cache.refresh_due(t0));
    assert!(cache.should_refetch(t0, Refetch::Missing));
    // One fetch at a time.
    assert!(!cache.should_refetch(t0 + Duration::from_secs(1), Refetch::Missing));
    // One that is never reported is taken as lost after the fetch timeout.
    assert!(cache.should_refetch(t0 + Duration::from_secs(61), Refetch::Missing));
    cache.fetch_failed(t0 + Duration::from_secs(62));
    assert!(cache.keys().is_none());
}

#[test]
fn refresh_is_due_after_max_age_and_keys_stay_usable() {
    let cfg = JwksCacheConfig {
        max_age: Duration::from_secs(3600),
        ..JwksCacheConfig::default()
    };
    let t0 = Instant::now();
    let cache = JwksCache::with_keys(cfg, all_keys(), t0);
    assert!(!cache.refresh_due(t0 + Duration::from_secs(3599)));
    assert!(!cache.should_refetch(t0 + Duration::from_secs(3599), Refetch::Expired));
    assert!(cache.refresh_due(t0 + Duration::from_secs(3600)));
    assert!(cache.should_refetch(t0 + Duration::from_secs(3600), Refetch::Expired));
    assert!(!cache.should_refetch(t0 + Duration::from_secs(3601), Refetch::Expired));
    assert!(cache.keys().is_some(), "keys stay usable while refreshing");
    cache.store(all_keys(), t0 + Duration::from_secs(3602));
    assert!(!cache.refresh_due(t0 + Duration::from_secs(3603)));
}

#[test]
fn cache_and_key_set_are_send_and_sync() {
    fn both<T: Send + Sync>() {}
    both::<JwksCache>();
    both::<KeySet>();
    both::<Claims>();
    both::<JwtConfig>();
    both::<JwtError>();
}

// --- www-authenticate ---

#[test]
fn www_authenticate_texts() {
    let none: &[String] = &[];
    // The one AWS documents (http-api-troubleshooting-jwt), verbatim.
    assert_eq!(
        JwtError::WrongAudience.www_authenticate(none),
        r#"Bearer scope="" error="invalid_token" error_description="the token does not have a valid audience""#
    );
    let scopes = ["read".to_owned(), "write".to_owned()];
    assert_eq!(
        JwtError::MissingScope.www_authenticate(&scopes),
        r#"Bearer scope="read write" error="insufficient_scope" error_description="the token does not have the required scope""#
    );
    assert_eq!(
        JwtError::Expired.www_authenticate(none),
        r#"Bearer scope="" error="invalid_token" error_description="the token has expired""#
    );
    for e in [
        JwtError::Malformed("x".into()),
        JwtError::UnsupportedAlg("none".into()),
        JwtError::UnknownKid("k".into()),
        JwtError::BadSignature,
        JwtError::NotYetValid,
        JwtError::IssuedInFuture,
        JwtError::WrongIssuer,
        JwtError::NoKeys,
    ] {
        let value = e.www_authenticate(none);
        assert!(
            value.starts_with(r#"Bearer scope="" error="invalid_token" error_description="the "#),
            "{value}"
        );
    }
    // A quote in a scope cannot break out of the quoted-string.
    let odd = [r#"a"b"#.to_owned()];
    assert!(
        JwtError::MissingScope
            .www_authenticate(&odd)
            .starts_with(r#"Bearer scope="a\"b" "#)
    );
}

// --- discovery and Cognito ---

#[test]
fn discovery_document() {
    let doc = json!({ "issuer": ISSUER, "jwks_uri": "https://issuer.example.com/pool/.well-known/jwks.json" });
    assert_eq!(
        jwks_uri_from_discovery(doc.to_string().as_bytes(), ISSUER).unwrap(),
        "https://issuer.example.com/pool/.well-known/jwks.json"
    );
    let local =
        json!({ "issuer": "http://127.0.0.1:9000", "jwks_uri": "http://127.0.0.1:9000/jwks" });
    assert!(jwks_uri_from_discovery(local.to_string().as_bytes(), "http://127.0.0.1:9000").is_ok());
    assert!(matches!(
        jwks_uri_from_discovery(doc.to_string().as_bytes(), "https://other.example.com"),
        Err(JwksError::IssuerMismatch { .. })
    ));
    for uri in [
        "ftp://x/jwks",
        "/relative",
        "https://",
        "https:///path",
        "https://a b/c",
        "https://u@h/",
    ] {
        let doc = json!({ "issuer": ISSUER, "jwks_uri": uri });
        assert!(
            matches!(
                jwks_uri_from_discovery(doc.to_string().as_bytes(), ISSUER),
                Err(JwksError::InvalidJwksUri(_))
            ),
            "{uri}"
        );
    }
    let no_uri = json!({ "issuer": ISSUER });
    assert_eq!(
        jwks_uri_from_discovery(no_uri.to_string().as_bytes(), ISSUER).unwrap_err(),
        JwksError::MissingField("jwks_uri")
    );
    assert!(matches!(
        jwks_uri_from_discovery(b"garbage", ISSUER),
        Err(JwksError::InvalidJson(_))
    ));
}

#[test]
fn cognito_issuer_from_the_user_pool_arn() {
    assert_eq!(
        cognito_issuer("arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_HblcSIjTD")
            .as_deref(),
        Some("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_HblcSIjTD")
    );
    assert_eq!(
        cognito_issuer("arn:aws-cn:cognito-idp:cn-north-1:123456789012:userpool/cn-north-1_abc")
            .as_deref(),
        Some("https://cognito-idp.cn-north-1.amazonaws.com.cn/cn-north-1_abc")
    );
    for bad in [
        "",
        "arn:aws:cognito-idp:us-east-1:123456789012:identitypool/us-east-1_x",
        "arn:aws:lambda:us-east-1:123456789012:userpool/us-east-1_x",
        "arn:aws:cognito-idp:us-east-1:1234:userpool/us-east-1_x",
        "arn:aws:cognito-idp:us-east-1:123456789012:userpool/",
        "arn:aws:cognito-idp:us-east-1:123456789012:userpool/eu-west-1_x",
        "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_x/extra",
        "arn:other:cognito-idp:us-east-1:123456789012:userpool/us-east-1_x",
    ] {
        assert_eq!(cognito_issuer(bad), None, "{bad}");
    }
}

//! RFC 7520 ("JOSE Cookbook") §4 JWS vectors, vendored under
//! `tests/conformance/jose-cookbook/`, verified with [`verify_jws`] against the keys of §3.
//!
//! Verified: 4.1 (RS256), 4.2 (PS384), 4.4 (HS256), 4.5 (HS256, detached content reattached),
//! 4.6 (HS256, protected `alg` only), 4.8 signatures 1 (RS256) and 3 (HS256). Each must
//! verify and yield the payload, and must fail once one byte of its payload or its signature
//! is changed. Refused: 4.3 (ES512: P-521 is not supported), 4.7 and 4.8 signature 2 (their
//! header is unprotected, so their compact form has an empty header, which carries no `alg`).
//!
//! The vectors are required: a missing file fails the test.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portico_auth::jwt::{Algorithm, JwksError, JwtError, KeySet, verify_jws};
use serde_json::{Value, json};

fn cookbook() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/conformance/jose-cookbook"
    ))
}

fn load(relative: &str) -> Value {
    let path = cookbook().join(relative);
    let text = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("RFC 7520 vector {} is missing: {e}", path.display()));
    serde_json::from_slice(&text)
        .unwrap_or_else(|e| panic!("RFC 7520 vector {} is not JSON: {e}", path.display()))
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer}"))
}

/// The §3.3 RSA public key as a one-key JWKS (with its kid, or without).
fn rsa_keys(with_kid: bool) -> KeySet {
    let mut jwk = load("jwk/3_3.rsa_public_key.json");
    if !with_kid {
        jwk.as_object_mut().unwrap().remove("kid");
    }
    KeySet::parse(json!({ "keys": [jwk] }).to_string().as_bytes()).unwrap()
}

/// The §3.5 HMAC key, as a shared secret (HMAC keys are never taken from a JWKS).
fn hmac_keys() -> KeySet {
    let jwk = load("jwk/3_5.symmetric_key_mac_computation.json");
    let secret = URL_SAFE_NO_PAD.decode(s(&jwk, "/k")).unwrap();
    KeySet::shared_secret(&secret).unwrap()
}

fn payload(vector: &Value) -> Vec<u8> {
    s(vector, "/input/payload").as_bytes().to_vec()
}

/// Changes one byte of part `index` (1: payload, 2: signature) of a compact JWS.
fn tamper(compact: &str, index: usize) -> String {
    let mut parts: Vec<String> = compact.split('.').map(str::to_owned).collect();
    let mut bytes = URL_SAFE_NO_PAD.decode(&parts[index]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    parts[index] = URL_SAFE_NO_PAD.encode(bytes);
    parts.join(".")
}

/// `compact` verifies with `keys` to `expected`, and stops verifying when tampered with.
fn verifies(name: &str, compact: &str, keys: &KeySet, alg: Algorithm, expected: &[u8]) {
    let jws = verify_jws(compact, keys, None).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(jws.alg, alg, "{name}");
    assert_eq!(jws.payload, expected, "{name}: payload");
    for (part, what) in [(1, "payload"), (2, "signature")] {
        assert_eq!(
            verify_jws(&tamper(compact, part), keys, None).unwrap_err(),
            JwtError::BadSignature,
            "{name}: one byte of the {what} changed"
        );
    }
}

#[test]
fn rfc7520_4_1_rsa_v15_rs256() {
    let v = load("jws/4_1.rsa_v15_signature.json");
    verifies(
        "4.1",
        s(&v, "/output/compact"),
        &rsa_keys(true),
        Algorithm::RS256,
        &payload(&v),
    );
}

#[test]
fn rfc7520_4_2_rsa_pss_ps384() {
    let v = load("jws/4_2.rsa-pss_signature.json");
    verifies(
        "4.2",
        s(&v, "/output/compact"),
        &rsa_keys(true),
        Algorithm::PS384,
        &payload(&v),
    );
}

#[test]
fn rfc7520_4_3_ecdsa_es512_is_refused_as_unsupported() {
    let v = load("jws/4_3.ecdsa_signature.json");
    assert_eq!(s(&v, "/input/alg"), "ES512");
    // The P-521 key is not usable, so a JWKS of it alone has no key.
    let jwk = load("jwk/3_1.ec_public_key.json");
    assert_eq!(
        KeySet::parse(json!({ "keys": [jwk] }).to_string().as_bytes()).unwrap_err(),
        JwksError::NoUsableKeys { skipped: 1 }
    );
    // And the token is refused for its algorithm, whatever keys there are (here the RSA key
    // with the same kid).
    assert_eq!(
        verify_jws(s(&v, "/output/compact"), &rsa_keys(true), None).unwrap_err(),
        JwtError::UnsupportedAlg("ES512".to_owned())
    );
}

#[test]
fn rfc7520_4_4_hmac_hs256() {
    let v = load("jws/4_4.hmac-sha2_integrity_protection.json");
    verifies(
        "4.4",
        s(&v, "/output/compact"),
        &hmac_keys(),
        Algorithm::HS256,
        &payload(&v),
    );
}

#[test]
fn rfc7520_4_4_hmac_key_in_a_jwks_is_not_used() {
    // A published `oct` JWK never becomes an HMAC key: a JWKS of it has no usable key.
    let jwk = load("jwk/3_5.symmetric_key_mac_computation.json");
    assert_eq!(
        KeySet::parse(json!({ "keys": [jwk] }).to_string().as_bytes()).unwrap_err(),
        JwksError::NoUsableKeys { skipped: 1 }
    );
}

#[test]
fn rfc7520_4_5_detached_content() {
    let v = load("jws/4_5.signature_with_detached_content.json");
    let detached = s(&v, "/output/compact");
    // As sent, the payload is absent, and the signature does not cover an empty one.
    assert_eq!(
        verify_jws(detached, &hmac_keys(), None).unwrap_err(),
        JwtError::BadSignature
    );
    // With the content put back it verifies.
    let (header, signature) = detached.split_once("..").unwrap();
    let attached = format!(
        "{header}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(payload(&v))
    );
    verifies(
        "4.5",
        &attached,
        &hmac_keys(),
        Algorithm::HS256,
        &payload(&v),
    );
}

#[test]
fn rfc7520_4_6_protected_alg_only() {
    let v = load("jws/4_6.protecting_specific_header_fields.json");
    // The JSON serialization carries the kid in an unprotected header; the compact form is
    // the signing input and the signature, with no kid, so the single shared secret is used.
    let compact = format!("{}.{}", s(&v, "/signing/sig-input"), s(&v, "/signing/sig"));
    assert!(compact.starts_with(s(&v, "/signing/protected_b64u")));
    verifies(
        "4.6",
        &compact,
        &hmac_keys(),
        Algorithm::HS256,
        &payload(&v),
    );
}

#[test]
fn rfc7520_4_7_unprotected_header_is_refused() {
    let v = load("jws/4_7.protecting_content_only.json");
    let compact = format!("{}.{}", s(&v, "/signing/sig-input"), s(&v, "/signing/sig"));
    assert!(compact.starts_with('.'), "the protected header is empty");
    assert!(matches!(
        verify_jws(&compact, &hmac_keys(), None),
        Err(JwtError::Malformed(_))
    ));
}

#[test]
fn rfc7520_4_8_multiple_signatures_one_compact_form_each() {
    let v = load("jws/4_8.multiple_signatures.json");
    let expected = payload(&v);
    let compact = |i: usize| {
        format!(
            "{}.{}",
            s(&v, &format!("/signing/{i}/sig-input")),
            s(&v, &format!("/signing/{i}/sig"))
        )
    };

    // 1: RS256, the kid unprotected: the compact form names none, so a one-key set without a
    // kid verifies it, and a set with kids refuses it for naming none.
    verifies(
        "4.8 #1",
        &compact(0),
        &rsa_keys(false),
        Algorithm::RS256,
        &expected,
    );
    assert_eq!(
        verify_jws(&compact(0), &rsa_keys(true), None).unwrap_err(),
        JwtError::MissingKid
    );

    // 2: ES512 with an entirely unprotected header: nothing to verify in compact form.
    assert_eq!(s(&v, "/signing/1/unprotected/alg"), "ES512");
    assert!(matches!(
        verify_jws(&compact(1), &rsa_keys(true), None),
        Err(JwtError::Malformed(_))
    ));

    // 3: HS256, all protected: the same signature as 4.4.
    verifies(
        "4.8 #3",
        &compact(2),
        &hmac_keys(),
        Algorithm::HS256,
        &expected,
    );
}

#[test]
fn rfc7520_vectors_refused_when_the_algorithm_is_not_allowed() {
    let v = load("jws/4_1.rsa_v15_signature.json");
    assert_eq!(
        verify_jws(
            s(&v, "/output/compact"),
            &rsa_keys(true),
            Some(&[Algorithm::PS256])
        )
        .unwrap_err(),
        JwtError::UnsupportedAlg("RS256".to_owned())
    );
    // The RSA key does not verify an HS256 token, nor the HMAC secret an RS256 one.
    let hs = load("jws/4_4.hmac-sha2_integrity_protection.json");
    assert!(matches!(
        verify_jws(s(&hs, "/output/compact"), &rsa_keys(false), None),
        Err(JwtError::AlgMismatch { .. })
    ));
    assert!(matches!(
        verify_jws(s(&v, "/output/compact"), &hmac_keys(), None),
        Err(JwtError::AlgMismatch { .. })
    ));
}

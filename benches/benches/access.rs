//! Access-control costs, one call each (criterion): a JWT verified against a key set (RS256,
//! ES256), a SigV4 signature verified, an IAM policy evaluated for a method ARN, and a Lambda
//! authorizer's output parsed. The per-request figures under load are `benches/load.sh`'s
//! `portico-jwt*`, `portico-sigv4` and `portico-authz-policy`.
//!
//! `cargo bench -p portico-benches --bench access`

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use portico_auth::jwt::{JwtConfig, KeySet, validate};
use portico_auth::output::parse_output;
use portico_auth::policy::{ArnScope, Facts, Policy, PolicyKind, Principal};
use portico_auth::sigv4::{
    self, PayloadHash, SignedRequest, UriNormalization, VerifyConfig, canonical_request,
    credential_scope, sha256_hex, string_to_sign,
};
use serde_json::json;

const ARN: &str = "arn:aws:execute-api:us-east-1:000000000000:petstore/prod/GET/pets/42";

fn jwt(c: &mut Criterion) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({"iss": "https://issuer.bench", "aud": "bench", "sub": "u",
                        "scope": "read", "exp": now + 3600});
    let cases = [
        (
            "rs256",
            Algorithm::RS256,
            EncodingKey::from_rsa_der(include_bytes!(
                "../../host/auth/tests/keys/rsa2048.pkcs1.der"
            )),
        ),
        (
            "es256",
            Algorithm::ES256,
            EncodingKey::from_ec_der(include_bytes!("../../host/auth/tests/keys/p256.pkcs8.der")),
        ),
    ];
    let cfg = JwtConfig::new("https://issuer.bench", vec!["bench".into()]);
    let mut group = c.benchmark_group("jwt_validate");
    for (name, alg, key) in cases {
        let mut jwk = serde_json::to_value(Jwk::from_encoding_key(&key, alg).unwrap()).unwrap();
        jwk["kid"] = json!("k");
        let keys = KeySet::parse(json!({"keys": [jwk]}).to_string().as_bytes()).unwrap();
        let mut header = Header::new(alg);
        header.kid = Some("k".into());
        let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                validate(
                    black_box(&token),
                    &keys,
                    &cfg,
                    SystemTime::now(),
                    &["read".to_owned()],
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

fn sigv4_verify(c: &mut Criterion) {
    let (key, secret) = ("AKIDBENCH00000000000", "bench-secret-0123456789abcdef");
    let amz_date = time_now_basic();
    let date = &amz_date[..8];
    let host = "api.example.com";
    let headers_unsigned = [
        ("host", host.as_bytes()),
        ("x-amz-date", amz_date.as_bytes()),
    ];
    let empty = sha256_hex(b"");
    let creq = canonical_request(
        "GET",
        "/prod/pets/42",
        "limit=10",
        &headers_unsigned,
        "host;x-amz-date",
        &empty,
    );
    let scope = credential_scope(date, "us-east-1", "execute-api");
    let sts = string_to_sign(&amz_date, &scope, creq.as_bytes());
    let sig = sigv4::signature(secret, date, "us-east-1", "execute-api", &sts);
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders=host;x-amz-date, Signature={sig}"
    );
    let headers = [
        ("host", host.as_bytes()),
        ("x-amz-date", amz_date.as_bytes()),
        ("authorization", auth.as_bytes()),
        ("user-agent", b"bench".as_slice()),
    ];
    let creds = [(key, secret)];
    let config = VerifyConfig {
        service: "execute-api",
        region: "us-east-1",
        uri: UriNormalization::Either,
        allow_unsigned_session_token: false,
    };
    c.bench_function("sigv4_verify", |b| {
        b.iter(|| {
            let req = SignedRequest {
                method: "GET",
                path: "/prod/pets/42",
                query: Some("limit=10"),
                headers: &headers,
                payload_hash: PayloadHash::Computed(&empty),
            };
            sigv4::verify(black_box(&req), &creds[..], SystemTime::now(), &config).unwrap()
        })
    });
}

/// `now` as SigV4's basic ISO 8601 (`20260101T000000Z`).
fn time_now_basic() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let t = time::OffsetDateTime::from_unix_timestamp(secs as i64).unwrap();
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    t.format(&fmt).unwrap()
}

fn policy(c: &mut Criterion) {
    // Ten statements, the matching Allow last, an unrelated Deny among them.
    let mut statements: Vec<_> = (0..8)
        .map(|i| json!({"Effect": "Allow", "Action": "execute-api:Invoke",
                        "Resource": format!("arn:aws:execute-api:*:*:petstore/prod/POST/other{i}/*")}))
        .collect();
    statements.push(json!({"Effect": "Deny", "Action": "execute-api:Invoke",
                           "Resource": "arn:aws:execute-api:*:*:petstore/*/DELETE/*"}));
    statements.push(json!({"Effect": "Allow", "Action": "execute-api:Invoke",
                           "Resource": "arn:aws:execute-api:us-east-1:*:petstore/prod/GET/pets/*"}));
    let doc = json!({"Version": "2012-10-17", "Statement": statements});
    let policy = Policy::parse(&doc, PolicyKind::Authorizer, &ArnScope::NONE).unwrap();
    c.bench_function("policy_evaluate_10_statements", |b| {
        b.iter(|| {
            policy.evaluate(black_box(&Facts {
                action: "execute-api:Invoke",
                resource: ARN,
                principal: Principal::Anonymous,
                source_ip: None,
                user_agent: None,
                referer: None,
                source_arn: None,
                secure_transport: false,
                now: SystemTime::now(),
            }))
        })
    });
    let output = json!({"principalId": "alice", "policyDocument": doc,
                        "context": {"tier": "gold", "level": 3, "admin": false}})
    .to_string();
    c.bench_function("lambda_output_parse", |b| {
        b.iter(|| parse_output(black_box(output.as_bytes())).unwrap())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = jwt, sigv4_verify, policy
}
criterion_main!(benches);

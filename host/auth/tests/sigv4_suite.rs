//! The AWS SigV4 test suite (`tests/conformance/aws-sigv4-test-suite/v4/`, vendored at the
//! workspace root): for every case folder, each step of the header and presigned query forms
//! (canonical request, string to sign, signature) against the suite's files, then `verify` on the
//! signed requests at the case's timestamp, and its refusals when the signature, a signed header
//! or the path is tampered with, or the clock has moved on.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use portico_auth::sigv4::{
    self, PayloadHash, SigV4Error, SignedRequest, UriNormalization, VerifyConfig,
};
use serde_json::Value;

/// Cases that cannot pass, with the reason. None at present.
const EXCLUDED: &[(&str, &str)] = &[];

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance/aws-sigv4-test-suite/v4")
}

/// A raw HTTP/1.1 request of the suite, parsed the way a server would hand it over.
struct RawRequest {
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl RawRequest {
    fn parse(text: &str) -> RawRequest {
        let text = text.replace("\r\n", "\n");
        let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let request_line = lines.next().expect("a request line");
        let (method, rest) = request_line.split_once(' ').expect("a method");
        let target = rest.rsplit_once(" HTTP/").map_or(rest, |(t, _)| t);
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (target.to_owned(), None),
        };
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in lines {
            if line.starts_with([' ', '\t']) {
                // An obs-fold continuation line: replaced by a space (RFC 9112 §5.2).
                let last = headers.last_mut().expect("a header before a continuation");
                last.1.push(' ');
                last.1.push_str(line.trim());
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.to_owned(), value.trim().to_owned()));
            }
        }
        RawRequest {
            method: method.to_owned(),
            path,
            query,
            headers: headers
                .into_iter()
                .map(|(n, v)| (n, v.into_bytes()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    fn query_param(&self, name: &str) -> Option<String> {
        self.query.as_deref()?.split('&').find_map(|piece| {
            let (k, v) = piece.split_once('=')?;
            (k == name).then(|| {
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned()
            })
        })
    }
}

struct Context {
    access_key: String,
    secret: String,
    region: String,
    service: String,
    normalize: bool,
    omit_session_token: bool,
    expiration: u64,
    timestamp: SystemTime,
    amz_date: String,
}

impl Context {
    fn load(path: &Path) -> Context {
        let v: Value = serde_json::from_str(&read(path)).expect("context.json is JSON");
        let s = |p: &str| v.pointer(p).and_then(Value::as_str).expect(p).to_owned();
        let iso = s("/timestamp");
        let t = time::OffsetDateTime::parse(&iso, &time::format_description::well_known::Rfc3339)
            .expect("an RFC 3339 timestamp");
        let secs = u64::try_from(t.unix_timestamp()).expect("after 1970");
        Context {
            access_key: s("/credentials/access_key_id"),
            secret: s("/credentials/secret_access_key"),
            region: s("/region"),
            service: s("/service"),
            normalize: v["normalize"].as_bool().unwrap_or(true),
            omit_session_token: v["omit_session_token"].as_bool().unwrap_or(false),
            expiration: v["expiration_in_seconds"].as_u64().unwrap_or(3600),
            timestamp: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
            amz_date: iso.replace(['-', ':'], ""),
        }
    }

    fn config(&self, uri: UriNormalization) -> VerifyConfig<'_> {
        VerifyConfig {
            service: &self.service,
            region: &self.region,
            uri,
            allow_unsigned_session_token: self.omit_session_token,
        }
    }

    fn uri_mode(&self) -> UriNormalization {
        if self.normalize {
            UriNormalization::Normalized
        } else {
            UriNormalization::Raw
        }
    }
}

fn read(path: &Path) -> String {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    String::from_utf8(bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An expected-output file, without a trailing newline.
fn expected(dir: &Path, name: &str) -> String {
    read(&dir.join(name)).trim_end_matches('\n').to_owned()
}

fn verify_raw(
    raw: &RawRequest,
    hash: &str,
    ctx: &Context,
    now: SystemTime,
    uri: UriNormalization,
) -> Result<sigv4::Verified, SigV4Error> {
    let headers: Vec<(&str, &[u8])> = raw
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    let req = SignedRequest {
        method: &raw.method,
        path: &raw.path,
        query: raw.query.as_deref(),
        headers: &headers,
        payload_hash: PayloadHash::Computed(hash),
    };
    let creds = [(ctx.access_key.as_str(), ctx.secret.as_str())];
    sigv4::verify(&req, &creds[..], now, &ctx.config(uri))
}

/// Flips the last hex digit of `sig` inside `text`.
fn tamper_signature(text: &str, sig: &str) -> String {
    let last = sig.chars().last().expect("a signature");
    let flipped = if last == '0' { '1' } else { '0' };
    let mut bad = sig[..sig.len() - 1].to_owned();
    bad.push(flipped);
    text.replace(sig, &bad)
}

/// Checks one form (`header` or `query`) of a case; returns the failures.
fn check_form(dir: &Path, ctx: &Context, form: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let mut check = |what: &str, ok: bool, detail: String| {
        if !ok {
            failures.push(format!("{form}: {what}: {detail}"));
        }
    };
    let signed_text = read(&dir.join(format!("{form}-signed-request.txt")));
    let raw = RawRequest::parse(&signed_text);
    let hash = sigv4::sha256_hex(&raw.body);
    let presigned = form == "query";

    // The steps.
    let (signed_headers, amz_date, signature) = if presigned {
        (
            raw.query_param("X-Amz-SignedHeaders").unwrap_or_default(),
            raw.query_param("X-Amz-Date").unwrap_or_default(),
            raw.query_param("X-Amz-Signature").unwrap_or_default(),
        )
    } else {
        let auth = raw.header("authorization").unwrap_or_default();
        let part = |key: &str| {
            auth.split([' ', ','])
                .find_map(|p| p.strip_prefix(key))
                .unwrap_or_default()
                .to_owned()
        };
        (
            part("SignedHeaders="),
            raw.header("x-amz-date").unwrap_or_default().to_owned(),
            part("Signature="),
        )
    };
    check("X-Amz-Date", amz_date == ctx.amz_date, amz_date.clone());
    let mut exclude = vec!["X-Amz-Signature"];
    if ctx.omit_session_token {
        exclude.push("X-Amz-Security-Token");
    }
    let headers: Vec<(&str, &[u8])> = raw
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    let creq = sigv4::canonical_request(
        &raw.method,
        &sigv4::canonical_uri(&raw.path, ctx.normalize),
        &sigv4::canonical_query(raw.query.as_deref(), if presigned { &exclude } else { &[] }),
        &headers,
        &signed_headers,
        &hash,
    );
    let want = expected(dir, &format!("{form}-canonical-request.txt"));
    check(
        "canonical request",
        creq == want,
        format!("got\n{creq}\nwant\n{want}"),
    );
    let scope = sigv4::credential_scope(
        &amz_date[..8.min(amz_date.len())],
        &ctx.region,
        &ctx.service,
    );
    let sts = sigv4::string_to_sign(&amz_date, &scope, creq.as_bytes());
    let want = expected(dir, &format!("{form}-string-to-sign.txt"));
    check(
        "string to sign",
        sts == want,
        format!("got\n{sts}\nwant\n{want}"),
    );
    let sig = sigv4::signature(
        &ctx.secret,
        &amz_date[..8.min(amz_date.len())],
        &ctx.region,
        &ctx.service,
        &sts,
    );
    let want = expected(dir, &format!("{form}-signature.txt"));
    check("signature", sig == want, format!("got {sig} want {want}"));
    check(
        "signature in the request",
        signature == want,
        signature.clone(),
    );

    // verify accepts it, in the case's URI mode and in Either.
    for mode in [ctx.uri_mode(), UriNormalization::Either] {
        match verify_raw(&raw, &hash, ctx, ctx.timestamp, mode) {
            Ok(v) => check(
                "verified credential",
                v.access_key == ctx.access_key
                    && v.region == ctx.region
                    && v.service == ctx.service
                    && v.signed_at == ctx.timestamp,
                format!("{v:?}"),
            ),
            Err(e) => check(&format!("verify ({mode:?})"), false, e.aws_message()),
        }
    }

    // ... and refuses it tampered with.
    let mismatch = |r: Result<sigv4::Verified, SigV4Error>| {
        matches!(r, Err(SigV4Error::SignatureMismatch { .. }))
    };
    let bad_sig = RawRequest::parse(&tamper_signature(&signed_text, &signature));
    check(
        "tampered signature refused",
        mismatch(verify_raw(
            &bad_sig,
            &hash,
            ctx,
            ctx.timestamp,
            ctx.uri_mode(),
        )),
        String::new(),
    );
    let mut bad_host = RawRequest::parse(&signed_text);
    for (name, value) in &mut bad_host.headers {
        if name.eq_ignore_ascii_case("host") {
            value.push(b'x');
        }
    }
    check(
        "tampered host refused",
        mismatch(verify_raw(
            &bad_host,
            &hash,
            ctx,
            ctx.timestamp,
            ctx.uri_mode(),
        )),
        String::new(),
    );
    let mut bad_path = RawRequest::parse(&signed_text);
    bad_path.path.push('x');
    check(
        "tampered path refused",
        mismatch(verify_raw(
            &bad_path,
            &hash,
            ctx,
            ctx.timestamp,
            UriNormalization::Either,
        )),
        String::new(),
    );
    let other_body = sigv4::sha256_hex(b"tampered");
    let refused = verify_raw(&raw, &other_body, ctx, ctx.timestamp, ctx.uri_mode()).is_err();
    check("tampered body refused", refused, String::new());

    // The clock.
    let six_minutes = Duration::from_secs(6 * 60);
    if presigned {
        let inside = ctx.timestamp + six_minutes;
        check(
            "presigned valid 6 minutes later",
            verify_raw(&raw, &hash, ctx, inside, ctx.uri_mode()).is_ok(),
            String::new(),
        );
        let after = ctx.timestamp + Duration::from_secs(ctx.expiration + 1);
        let expired = matches!(
            verify_raw(&raw, &hash, ctx, after, ctx.uri_mode()),
            Err(SigV4Error::Expired { .. })
        );
        check(
            "presigned refused after X-Amz-Expires",
            expired,
            String::new(),
        );
    } else {
        let expired = verify_raw(
            &raw,
            &hash,
            ctx,
            ctx.timestamp + six_minutes,
            ctx.uri_mode(),
        );
        check(
            "refused 6 minutes later",
            matches!(expired, Err(SigV4Error::Expired { .. })),
            format!("{expired:?}"),
        );
        let early = verify_raw(
            &raw,
            &hash,
            ctx,
            ctx.timestamp - six_minutes,
            ctx.uri_mode(),
        );
        check(
            "refused 6 minutes earlier",
            matches!(early, Err(SigV4Error::NotYetCurrent { .. })),
            format!("{early:?}"),
        );
        let edge = verify_raw(
            &raw,
            &hash,
            ctx,
            ctx.timestamp + Duration::from_secs(300),
            ctx.uri_mode(),
        );
        check("valid 5 minutes later", edge.is_ok(), format!("{edge:?}"));
    }
    failures
}

#[test]
fn aws_sigv4_test_suite() {
    let dir = suite_dir();
    let entries = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the SigV4 suite must be at {}: {e}", dir.display()));
    let mut cases: Vec<PathBuf> = entries
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.join("context.json").is_file())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no case folders in {}", dir.display());

    let (mut passed, mut forms) = (0usize, 0usize);
    let mut failed: Vec<String> = Vec::new();
    let mut excluded = 0usize;
    for case in &cases {
        let name = case
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some((_, reason)) = EXCLUDED.iter().find(|(n, _)| *n == name) {
            println!("excluded {name}: {reason}");
            excluded += 1;
            continue;
        }
        let ctx = Context::load(&case.join("context.json"));
        let mut failures = Vec::new();
        for form in ["header", "query"] {
            if case.join(format!("{form}-canonical-request.txt")).is_file() {
                forms += 1;
                failures.extend(check_form(case, &ctx, form));
            }
        }
        if failures.is_empty() {
            passed += 1;
        } else {
            failed.push(format!("{name}:\n  {}", failures.join("\n  ")));
        }
    }
    println!(
        "SigV4 suite: {passed} of {} cases passed ({forms} forms), {} failed, {excluded} excluded",
        cases.len(),
        failed.len()
    );
    assert!(failed.is_empty(), "failing cases:\n{}", failed.join("\n"));
    assert_eq!(passed + excluded, cases.len());
}

//! SigV4 refusals and their AWS texts, on the suite's get-vanilla request (signed at
//! 2015-08-30T12:36:00Z with AKIDEXAMPLE / us-east-1 / service).

use std::time::{Duration, SystemTime};

use portico_auth::sigv4::{
    PayloadHash, SigV4Error, SignedRequest, UriNormalization, VerifyConfig, sha256_hex, verify,
};

const SIGNED_AT: u64 = 1_440_938_160;
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn config() -> VerifyConfig<'static> {
    VerifyConfig {
        service: "service",
        region: "us-east-1",
        uri: UriNormalization::Normalized,
        allow_unsigned_session_token: false,
    }
}

fn run(
    headers: &[(&str, &str)],
    query: Option<&str>,
    now: SystemTime,
    config: &VerifyConfig<'_>,
) -> Result<(), SigV4Error> {
    let headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
    let empty = sha256_hex(b"");
    let req = SignedRequest {
        method: "GET",
        path: "/",
        query,
        headers: &headers,
        payload_hash: PayloadHash::Computed(&empty),
    };
    verify(&req, &[("AKIDEXAMPLE", SECRET)][..], now, config).map(|_| ())
}

fn header_form(auth: &str, date: Option<&str>) -> Result<(), SigV4Error> {
    let mut headers = vec![("Host", "example.amazonaws.com"), ("Authorization", auth)];
    if let Some(d) = date {
        headers.push(("X-Amz-Date", d));
    }
    run(&headers, None, at(SIGNED_AT), &config())
}

#[test]
fn accepts_the_vanilla_request() {
    header_form(AUTH, Some("20150830T123600Z")).unwrap();
}

#[test]
fn the_date_header_stands_in_for_x_amz_date() {
    use portico_auth::sigv4::{
        canonical_query, canonical_request, canonical_uri, credential_scope, signature,
        string_to_sign,
    };
    let date = "Sun, 30 Aug 2015 12:36:00 GMT";
    let headers: [(&str, &[u8]); 2] = [
        ("Host", b"example.amazonaws.com"),
        ("Date", date.as_bytes()),
    ];
    let creq = canonical_request(
        "GET",
        &canonical_uri("/", true),
        &canonical_query(None, &[]),
        &headers,
        "date;host",
        &sha256_hex(b""),
    );
    let sts = string_to_sign(
        "20150830T123600Z",
        &credential_scope("20150830", "us-east-1", "service"),
        creq.as_bytes(),
    );
    let sig = signature(SECRET, "20150830", "us-east-1", "service", &sts);
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=date;host, Signature={sig}"
    );
    run(
        &[
            ("Host", "example.amazonaws.com"),
            ("Date", date),
            ("Authorization", &auth),
        ],
        None,
        at(SIGNED_AT),
        &config(),
    )
    .unwrap();
    let e = run(
        &[
            ("Host", "example.amazonaws.com"),
            ("Date", "yesterday"),
            ("Authorization", &auth),
        ],
        None,
        at(SIGNED_AT),
        &config(),
    )
    .unwrap_err();
    assert_eq!(e, SigV4Error::InvalidDate("yesterday".into()));
}

#[test]
fn missing_authentication() {
    let e = run(
        &[("Host", "example.amazonaws.com")],
        Some("a=1"),
        at(SIGNED_AT),
        &config(),
    )
    .unwrap_err();
    assert_eq!(e, SigV4Error::MissingAuthentication);
    assert_eq!(e.aws_message(), "Missing Authentication Token");
    assert_eq!(e.response_type(), "MISSING_AUTHENTICATION_TOKEN");
    assert_eq!(e.status(), 403);
}

#[test]
fn incomplete_authorization_header() {
    let e = header_form("eyJhbGciOiJIUzI1NiJ9.e30.sig", None).unwrap_err();
    assert_eq!(
        e.aws_message(),
        "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=eyJhbGciOiJIUzI1NiJ9.e30.sig"
    );
    assert_eq!(e.response_type(), "INVALID_SIGNATURE");
    assert_eq!(e.error_type(), "IncompleteSignatureException");
    let e = header_form("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host", Some("20150830T123600Z")).unwrap_err();
    assert_eq!(
        e.aws_message(),
        "Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host"
    );
    let e = header_form("Bearer sometoken", None).unwrap_err();
    assert_eq!(
        e.aws_message(),
        "'sometoken' not a valid key=value pair (missing equal-sign) in Authorization header: 'Bearer sometoken'."
    );
    let e = header_form(
        &AUTH.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"),
        Some("20150830T123600Z"),
    )
    .unwrap_err();
    assert_eq!(e, SigV4Error::UnsupportedAlgorithm("AWS4-HMAC-SHA1".into()));
}

#[test]
fn bad_dates_and_scopes() {
    let e = header_form(AUTH, Some("2015-08-30T12:36:00Z")).unwrap_err();
    assert_eq!(
        e.aws_message(),
        "Date must be in ISO-8601 'basic format'. Got '2015-08-30T12:36:00Z'. See http://en.wikipedia.org/wiki/ISO_8601"
    );
    let e = header_form(
        &AUTH.replace("/20150830/", "/20150831/"),
        Some("20150830T123600Z"),
    )
    .unwrap_err();
    assert_eq!(
        e.aws_message(),
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20150831' != '20150830', from '20150830T123600Z'."
    );
    let e = header_form(
        &AUTH.replace("us-east-1", "eu-west-1"),
        Some("20150830T123600Z"),
    )
    .unwrap_err();
    assert_eq!(
        e.aws_message(),
        "Credential should be scoped to a valid region."
    );
    let e = header_form(&AUTH.replace("/service/", "/s3/"), Some("20150830T123600Z")).unwrap_err();
    assert_eq!(
        e.aws_message(),
        "Credential should be scoped to correct service: 'service'."
    );
    let e = header_form(
        &AUTH.replace("aws4_request", "aws5_request"),
        Some("20150830T123600Z"),
    )
    .unwrap_err();
    assert_eq!(
        e.aws_message(),
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'."
    );
    let e = header_form(
        &AUTH.replace("SignedHeaders=host;x-amz-date", "SignedHeaders=x-amz-date"),
        Some("20150830T123600Z"),
    )
    .unwrap_err();
    assert_eq!(e, SigV4Error::HostNotSigned);
}

#[test]
fn unknown_access_key() {
    let e = header_form(
        &AUTH.replace("AKIDEXAMPLE", "AKIDOTHER"),
        Some("20150830T123600Z"),
    )
    .unwrap_err();
    assert_eq!(
        e.aws_message(),
        "The security token included in the request is invalid."
    );
    assert_eq!(e.error_type(), "UnrecognizedClientException");
    assert_eq!(e.response_type(), "INVALID_SIGNATURE");
}

#[test]
fn signature_mismatch_text() {
    let e = header_form(&AUTH.replace("fbf31", "fbf30"), Some("20150830T123600Z")).unwrap_err();
    assert_eq!(
        e.aws_message(),
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63'\n"
    );
    assert_eq!(e.response_type(), "INVALID_SIGNATURE");
    // A signature that is not hex at all is a mismatch too.
    let e = header_form(
        &AUTH.replace("5fa00fa3", "zzzzzzzz"),
        Some("20150830T123600Z"),
    )
    .unwrap_err();
    assert!(matches!(e, SigV4Error::SignatureMismatch { .. }));
}

#[test]
fn clock_skew_texts() {
    let headers = [
        ("Host", "example.amazonaws.com"),
        ("X-Amz-Date", "20150830T123600Z"),
        ("Authorization", AUTH),
    ];
    let e = run(&headers, None, at(SIGNED_AT + 301), &config()).unwrap_err();
    assert_eq!(
        e.aws_message(),
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z (20150830T124101Z - 5 min.)"
    );
    let e = run(&headers, None, at(SIGNED_AT - 301), &config()).unwrap_err();
    assert_eq!(
        e.aws_message(),
        "Signature not yet current: 20150830T123600Z is still later than 20150830T123559Z (20150830T123059Z + 5 min.)"
    );
    run(&headers, None, at(SIGNED_AT + 300), &config()).unwrap();
    run(&headers, None, at(SIGNED_AT - 300), &config()).unwrap();
}

#[test]
fn presigned_expiry() {
    let query = |expires: &str| {
        format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires={expires}&X-Amz-Signature=e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d"
        )
    };
    let host = [("Host", "example.amazonaws.com")];
    run(&host, Some(&query("3600")), at(SIGNED_AT + 3600), &config()).unwrap();
    let e = run(&host, Some(&query("3600")), at(SIGNED_AT + 3601), &config()).unwrap_err();
    assert_eq!(
        e.aws_message(),
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z (20150830T133601Z - 3600 sec.)"
    );
    let e = run(&host, Some(&query("604801")), at(SIGNED_AT), &config()).unwrap_err();
    assert_eq!(
        e.aws_message(),
        "X-Amz-Expires must be less than a week (in seconds) that is 604800"
    );
    let e = run(&host, Some(&query("soon")), at(SIGNED_AT), &config()).unwrap_err();
    assert_eq!(e.aws_message(), "X-Amz-Expires should be a number");
    let e = run(
        &host,
        Some("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20150830T123600Z"),
        at(SIGNED_AT),
        &config(),
    )
    .unwrap_err();
    assert_eq!(e, SigV4Error::IncompleteQuery);
}

#[test]
fn payload_hash_modes() {
    let headers: Vec<(&str, &[u8])> = vec![
        ("Host", b"example.amazonaws.com"),
        ("X-Amz-Date", b"20150830T123600Z"),
        ("x-amz-content-sha256", b"0000"),
        ("Authorization", AUTH.as_bytes()),
    ];
    let empty = sha256_hex(b"");
    let mut req = SignedRequest {
        method: "GET",
        path: "/",
        query: None,
        headers: &headers,
        payload_hash: PayloadHash::Computed(&empty),
    };
    let creds = [("AKIDEXAMPLE", SECRET)];
    let e = verify(&req, &creds[..], at(SIGNED_AT), &config()).unwrap_err();
    assert_eq!(
        e.aws_message(),
        "The provided 'x-amz-content-sha256' header does not match what was computed."
    );
    // Taken from the header as is: signed over "0000", so the vanilla signature does not match.
    req.payload_hash = PayloadHash::FromHeader;
    assert!(matches!(
        verify(&req, &creds[..], at(SIGNED_AT), &config()),
        Err(SigV4Error::SignatureMismatch { .. })
    ));
    let no_sha: Vec<(&str, &[u8])> = vec![headers[0], headers[1], headers[3]];
    req.headers = &no_sha;
    assert_eq!(
        verify(&req, &creds[..], at(SIGNED_AT), &config()),
        Err(SigV4Error::MissingPayloadHash)
    );
}

#[test]
fn unsigned_session_token() {
    let headers = [
        ("Host", "example.amazonaws.com"),
        ("X-Amz-Date", "20150830T123600Z"),
        ("X-Amz-Security-Token", "token"),
        ("Authorization", AUTH),
    ];
    let e = run(&headers, None, at(SIGNED_AT), &config()).unwrap_err();
    assert_eq!(e, SigV4Error::UnsignedSessionToken);
    let lenient = VerifyConfig {
        allow_unsigned_session_token: true,
        ..config()
    };
    run(&headers, None, at(SIGNED_AT), &lenient).unwrap();
}

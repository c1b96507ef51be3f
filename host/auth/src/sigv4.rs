//! Signature Version 4 verification for methods with `AWS_IAM` authorization, as pure functions
//! over an already-parsed request: the `Authorization: AWS4-HMAC-SHA256 Credential=...,
//! SignedHeaders=..., Signature=...` header form and the presigned query form (`X-Amz-Algorithm`,
//! `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-SignedHeaders`, `X-Amz-Signature`, `X-Amz-Expires`).
//! The canonical forms live in [`canonical`] and are public so the AWS test suite can check each
//! step. Failures are [`SigV4Error`]s whose [`SigV4Error::aws_message`] is the text AWS sends in
//! `{"message": ...}` with 403.
//!
//! Temporary credentials are not modelled: an `X-Amz-Security-Token` is accepted when it is
//! signed (a signed header, or a query parameter inside the canonical query), its value unchecked;
//! [`VerifyConfig::allow_unsigned_session_token`] also accepts one added after signing.

pub mod canonical;
mod date;
mod error;

use std::collections::HashMap;
use std::time::SystemTime;

use aws_lc_rs::hmac;

pub use canonical::{
    ALGORITHM, canonical_query, canonical_request, canonical_uri, credential_scope, sha256_hex,
    signature, string_to_sign,
};
pub use error::{MissingParts, SigV4Error};

/// The clock skew allowed for the header form, either way, in seconds.
pub const MAX_SKEW: i64 = 5 * 60;

/// The longest lifetime of a presigned request (`X-Amz-Expires`), in seconds: a week.
pub const MAX_EXPIRES: u64 = 604_800;

/// The payload hash of the body, `e3b0...` for an empty one, or `UNSIGNED-PAYLOAD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadHash<'a> {
    /// The caller hashed the body ([`sha256_hex`]). If the request carries
    /// `x-amz-content-sha256`, it must be this hash, or `UNSIGNED-PAYLOAD`, which the client then
    /// signed instead.
    Computed(&'a str),
    /// Take the `x-amz-content-sha256` header's value as it is, without checking it against the
    /// body (for a caller that checks the body itself later); a request without it is refused.
    FromHeader,
    /// The body is not covered: `UNSIGNED-PAYLOAD`.
    Unsigned,
}

/// A request to verify, borrowed from the server's parsed request.
#[derive(Clone, Copy, Debug)]
pub struct SignedRequest<'a> {
    /// The method, `GET`.
    pub method: &'a str,
    /// The path as received, percent-encoded, without the query.
    pub path: &'a str,
    /// The query string as received, without the `?`.
    pub query: Option<&'a str>,
    /// Every header, in the order received, a repeated header once per value: build it from an
    /// `http::HeaderMap` with `map.iter().map(|(n, v)| (n.as_str(), v.as_bytes()))`. Over HTTP/2,
    /// add `("host", authority)`: clients sign the `:authority` as `host`.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The body's hash.
    pub payload_hash: PayloadHash<'a>,
}

/// Where secret keys are found by access key id.
pub trait Credentials {
    /// The secret access key of `access_key`, if it is known.
    fn secret(&self, access_key: &str) -> Option<&str>;
}

impl Credentials for HashMap<String, String> {
    fn secret(&self, access_key: &str) -> Option<&str> {
        self.get(access_key).map(String::as_str)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Credentials for [(K, V)] {
    fn secret(&self, access_key: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.as_ref() == access_key)
            .map(|(_, v)| v.as_ref())
    }
}

/// How the path enters the canonical URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UriNormalization {
    /// Dot segments and duplicate slashes removed, as the AWS SDKs sign for every service but S3.
    Normalized,
    /// The path as received.
    Raw,
    /// Either form may match (normalized first): a client that signed the raw path of a request
    /// whose path has `.`, `..` or `//` segments is accepted too.
    Either,
}

/// What the verifier expects of the credential scope, and its leniencies.
#[derive(Clone, Copy, Debug)]
pub struct VerifyConfig<'a> {
    /// The service the credential must be scoped to, `execute-api`.
    pub service: &'a str,
    /// The region the credential must be scoped to, the gateway's.
    pub region: &'a str,
    /// How the path is canonicalized.
    pub uri: UriNormalization,
    /// Accept an `X-Amz-Security-Token` that the signature does not cover (added after signing).
    pub allow_unsigned_session_token: bool,
}

/// A verified request's credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The access key id.
    pub access_key: String,
    /// The credential scope's region.
    pub region: String,
    /// The credential scope's service.
    pub service: String,
    /// The time the request was signed (`X-Amz-Date`).
    pub signed_at: SystemTime,
}

/// The signing parameters found in the request, in either form.
struct Auth<'a> {
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
    /// The request date in the basic format (from `Date` if there was no `X-Amz-Date`).
    amz_date: String,
    /// The presigned form's `X-Amz-Expires`; `None` for the header form.
    expires: Option<u64>,
    presigned: bool,
    /// Whether an `X-Amz-Security-Token` is present.
    token: bool,
}

fn header<'a>(req: &SignedRequest<'a>, name: &str) -> Option<&'a [u8]> {
    req.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

fn header_str<'a>(req: &SignedRequest<'a>, name: &str) -> Option<&'a str> {
    header(req, name)
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(str::trim)
}

/// The raw value of query parameter `name` (compared decoded), percent-decoded.
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|piece| {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        let key = percent_encoding::percent_decode_str(k).decode_utf8_lossy();
        (key == name).then(|| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// Verifies a SigV4-signed request at time `now`: header or presigned form, credential scope,
/// clock skew or expiry, and the signature, compared in constant time.
pub fn verify(
    req: &SignedRequest<'_>,
    creds: &(impl Credentials + ?Sized),
    now: SystemTime,
    config: &VerifyConfig<'_>,
) -> Result<Verified, SigV4Error> {
    let query_values;
    let auth = if let Some(value) = header(req, "authorization") {
        parse_header(req, value)?
    } else if let Some(algorithm) = query_param(req.query, "X-Amz-Algorithm") {
        query_values = [
            "X-Amz-Credential",
            "X-Amz-SignedHeaders",
            "X-Amz-Signature",
            "X-Amz-Date",
        ]
        .map(|name| query_param(req.query, name));
        let [
            Some(credential),
            Some(signed_headers),
            Some(signature),
            Some(amz_date),
        ] = &query_values
        else {
            return Err(SigV4Error::IncompleteQuery);
        };
        if algorithm != ALGORITHM {
            return Err(SigV4Error::UnsupportedAlgorithm(algorithm));
        }
        let expires = match query_param(req.query, "X-Amz-Expires") {
            None => None,
            Some(text) => match text.parse::<u64>() {
                Ok(n) if n > MAX_EXPIRES => return Err(SigV4Error::ExpiresTooLarge(n)),
                Ok(n) => Some(n),
                Err(_) => return Err(SigV4Error::ExpiresInvalid(text)),
            },
        };
        Auth {
            credential,
            signed_headers,
            signature,
            amz_date: amz_date.clone(),
            expires,
            presigned: true,
            token: query_param(req.query, "X-Amz-Security-Token").is_some(),
        }
    } else {
        return Err(SigV4Error::MissingAuthentication);
    };

    // The date and the credential scope.
    let signed_secs = date::parse_amz(&auth.amz_date)
        .ok_or_else(|| SigV4Error::InvalidDate(auth.amz_date.clone()))?;
    let mut scope = auth.credential.rsplitn(5, '/');
    let terminator = scope.next().unwrap_or("");
    let service = scope.next();
    let region = scope.next();
    let scope_date = scope.next();
    let access_key = scope.next();
    let (Some(service), Some(region), Some(scope_date), Some(access_key)) =
        (service, region, scope_date, access_key)
    else {
        return Err(SigV4Error::CredentialTerminator(terminator.to_owned()));
    };
    if terminator != "aws4_request" {
        return Err(SigV4Error::CredentialTerminator(terminator.to_owned()));
    }
    if scope_date != &auth.amz_date[..8] {
        return Err(SigV4Error::CredentialDate {
            scope_date: scope_date.to_owned(),
            request_date: auth.amz_date[..8].to_owned(),
            amz_date: auth.amz_date.clone(),
        });
    }
    if region != config.region {
        return Err(SigV4Error::WrongRegion(region.to_owned()));
    }
    if service != config.service {
        return Err(SigV4Error::WrongService {
            expected: config.service.to_owned(),
            got: service.to_owned(),
        });
    }
    let signed = |name: &str| {
        auth.signed_headers
            .split(';')
            .any(|n| n.eq_ignore_ascii_case(name))
    };
    if !signed("host") {
        return Err(SigV4Error::HostNotSigned);
    }
    if !auth.presigned
        && auth.token
        && !signed("x-amz-security-token")
        && !config.allow_unsigned_session_token
    {
        return Err(SigV4Error::UnsignedSessionToken);
    }

    // The time window.
    let now_secs = date::unix_seconds(now);
    if signed_secs > now_secs + MAX_SKEW {
        return Err(SigV4Error::NotYetCurrent {
            signed: auth.amz_date.clone(),
            latest: date::format_amz(now_secs + MAX_SKEW),
            now: date::format_amz(now_secs),
        });
    }
    let (window, window_text) = match auth.expires {
        Some(secs) => (
            i64::try_from(secs).unwrap_or(i64::MAX),
            format!("{secs} sec"),
        ),
        None => (MAX_SKEW, "5 min".to_owned()),
    };
    if signed_secs < now_secs.saturating_sub(window) {
        return Err(SigV4Error::Expired {
            signed: auth.amz_date.clone(),
            earliest: date::format_amz(now_secs.saturating_sub(window)),
            now: date::format_amz(now_secs),
            window: window_text,
        });
    }

    let secret = creds
        .secret(access_key)
        .ok_or_else(|| SigV4Error::UnknownAccessKey(access_key.to_owned()))?;

    let content_sha = header_str(req, "x-amz-content-sha256");
    let payload_hash = match req.payload_hash {
        PayloadHash::Computed(hash) => match content_sha {
            Some("UNSIGNED-PAYLOAD") => "UNSIGNED-PAYLOAD",
            Some(claimed) if !claimed.eq_ignore_ascii_case(hash) => {
                return Err(SigV4Error::PayloadHashMismatch);
            }
            _ => hash,
        },
        PayloadHash::FromHeader => content_sha.ok_or(SigV4Error::MissingPayloadHash)?,
        PayloadHash::Unsigned => "UNSIGNED-PAYLOAD",
    };

    // The candidate canonical requests: URI forms × (for a presigned request whose token may be
    // unsigned) with and without the token.
    let uris: &[bool] = match config.uri {
        UriNormalization::Normalized => &[true],
        UriNormalization::Raw => &[false],
        UriNormalization::Either => &[true, false],
    };
    let mut excludes: Vec<&[&str]> = vec![&["X-Amz-Signature"]];
    if auth.presigned && auth.token && config.allow_unsigned_session_token {
        excludes.push(&["X-Amz-Signature", "X-Amz-Security-Token"]);
    }
    let queries: Vec<String> = excludes
        .iter()
        .map(|ex| canonical_query(req.query, if auth.presigned { ex } else { &[] }))
        .collect();
    let scope = credential_scope(scope_date, region, service);
    let key = canonical::signing_key(secret, scope_date, region, service);
    let provided = canonical::unhex(auth.signature).filter(|s| s.len() == 32);
    let mut first = None;
    let mut tried_uris: Vec<String> = Vec::with_capacity(2);
    for &normalize in uris {
        let uri = canonical_uri(req.path, normalize);
        if tried_uris.contains(&uri) {
            continue;
        }
        for query in &queries {
            let creq = canonical::canonical_request_bytes(
                req.method,
                &uri,
                query,
                req.headers,
                auth.signed_headers,
                payload_hash,
            );
            let sts = string_to_sign(&auth.amz_date, &scope, &creq);
            if let Some(provided) = &provided
                && hmac::verify(&key, sts.as_bytes(), provided).is_ok()
            {
                return Ok(Verified {
                    access_key: access_key.to_owned(),
                    region: region.to_owned(),
                    service: service.to_owned(),
                    signed_at: date::system_time(signed_secs),
                });
            }
            if first.is_none() {
                first = Some((creq, sts));
            }
        }
        tried_uris.push(uri);
    }
    let (creq, sts) = first.unwrap_or_default();
    Err(SigV4Error::SignatureMismatch {
        canonical_request: String::from_utf8_lossy(&creq).into_owned(),
        string_to_sign: sts,
    })
}

/// Parses the header form: `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`,
/// the date from `X-Amz-Date` or else `Date`.
fn parse_header<'a>(req: &SignedRequest<'a>, value: &'a [u8]) -> Result<Auth<'a>, SigV4Error> {
    let text = std::str::from_utf8(value).unwrap_or("").trim();
    let shown = || String::from_utf8_lossy(value).into_owned();
    let (algorithm, params) = text
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((text, ""));
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for pair in params.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(SigV4Error::MalformedPair {
                pair: pair.to_owned(),
                header: shown(),
            });
        };
        match k.trim() {
            "Credential" => credential = Some(v.trim()),
            "SignedHeaders" => signed_headers = Some(v.trim()),
            "Signature" => signature = Some(v.trim()),
            _ => {}
        }
    }
    let amz_date = match header_str(req, "x-amz-date") {
        Some(d) => Some(d.to_owned()),
        None => match header_str(req, "date") {
            Some(d) => Some(
                date::parse_http_date(d)
                    .map(date::format_amz)
                    .ok_or_else(|| SigV4Error::InvalidDate(d.to_owned()))?,
            ),
            None => None,
        },
    };
    let missing = MissingParts {
        credential: credential.is_none(),
        signature: signature.is_none(),
        signed_headers: signed_headers.is_none(),
        date: amz_date.is_none(),
    };
    let (Some(credential), Some(signed_headers), Some(signature), Some(amz_date)) =
        (credential, signed_headers, signature, amz_date)
    else {
        return Err(SigV4Error::IncompleteHeader {
            missing,
            header: shown(),
        });
    };
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm(algorithm.to_owned()));
    }
    Ok(Auth {
        credential,
        signed_headers,
        signature,
        amz_date,
        expires: None,
        presigned: false,
        token: header(req, "x-amz-security-token").is_some(),
    })
}

//! The failures of SigV4 verification, each with AWS's message text, its gateway-response type
//! and its `x-amzn-ErrorType`.

/// The parts of an `Authorization` header that a SigV4 verification can miss.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingParts {
    /// No `Credential=`.
    pub credential: bool,
    /// No `Signature=`.
    pub signature: bool,
    /// No `SignedHeaders=`.
    pub signed_headers: bool,
    /// Neither an `X-Amz-Date` nor a `Date` header.
    pub date: bool,
}

/// Why a request failed verification. [`aws_message`](Self::aws_message) (also its `Display`) is
/// AWS's text; every one is answered 403.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// Neither an `Authorization` header nor presigned query parameters.
    #[error("Missing Authentication Token")]
    MissingAuthentication,
    /// An `Authorization` header lacking required parts; `header` is its value.
    #[error("{}Authorization={header}", missing_text(.missing))]
    IncompleteHeader {
        /// What is missing.
        missing: MissingParts,
        /// The header as received.
        header: String,
    },
    /// A comma-separated part of the `Authorization` header without `=`.
    #[error(
        "'{pair}' not a valid key=value pair (missing equal-sign) in Authorization header: '{header}'."
    )]
    MalformedPair {
        /// The part.
        pair: String,
        /// The header as received.
        header: String,
    },
    /// A presigned request missing one of its parameters.
    #[error(
        "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
    )]
    IncompleteQuery,
    /// An algorithm other than `AWS4-HMAC-SHA256`.
    #[error("Unsupported AWS 'algorithm': '{0}'.")]
    UnsupportedAlgorithm(String),
    /// `X-Amz-Date` not in the basic format, or an unreadable `Date`.
    #[error(
        "Date must be in ISO-8601 'basic format'. Got '{0}'. See http://en.wikipedia.org/wiki/ISO_8601"
    )]
    InvalidDate(String),
    /// The credential does not end in `aws4_request`.
    #[error("Credential should be scoped with a valid terminator: 'aws4_request', not '{0}'.")]
    CredentialTerminator(String),
    /// The credential's date is not the request's.
    #[error(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope_date}' != '{request_date}', from '{amz_date}'."
    )]
    CredentialDate {
        /// The credential scope's `YYYYMMDD`.
        scope_date: String,
        /// The request date's `YYYYMMDD`.
        request_date: String,
        /// The request date.
        amz_date: String,
    },
    /// The credential is scoped to another region.
    #[error("Credential should be scoped to a valid region.")]
    WrongRegion(String),
    /// The credential is scoped to another service.
    #[error("Credential should be scoped to correct service: '{expected}'.")]
    WrongService {
        /// The service expected.
        expected: String,
        /// The service of the credential.
        got: String,
    },
    /// `host` is not among the signed headers.
    #[error("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")]
    HostNotSigned,
    /// An `X-Amz-Security-Token` the signature does not cover.
    #[error(
        "There were headers present in the request which were not signed: x-amz-security-token"
    )]
    UnsignedSessionToken,
    /// `x-amz-content-sha256` is not the body's hash.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    PayloadHashMismatch,
    /// [`PayloadHash::FromHeader`] and no `x-amz-content-sha256`.
    #[error("Missing required header for this request: x-amz-content-sha256")]
    MissingPayloadHash,
    /// `X-Amz-Expires` is not a number.
    #[error("X-Amz-Expires should be a number")]
    ExpiresInvalid(String),
    /// `X-Amz-Expires` over a week.
    #[error("X-Amz-Expires must be less than a week (in seconds) that is 604800")]
    ExpiresTooLarge(u64),
    /// Signed too long ago: over 5 minutes for the header form, past `X-Amz-Expires` presigned.
    #[error("Signature expired: {signed} is now earlier than {earliest} ({now} - {window}.)")]
    Expired {
        /// The request date.
        signed: String,
        /// The earliest request date accepted now.
        earliest: String,
        /// Now.
        now: String,
        /// `5 min` or `{n} sec`.
        window: String,
    },
    /// Signed more than 5 minutes in the future.
    #[error("Signature not yet current: {signed} is still later than {latest} ({now} + 5 min.)")]
    NotYetCurrent {
        /// The request date.
        signed: String,
        /// The latest request date accepted now.
        latest: String,
        /// Now.
        now: String,
    },
    /// The access key is not known.
    #[error("The security token included in the request is invalid.")]
    UnknownAccessKey(String),
    /// The signature is not the one computed.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'{canonical_request}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
    )]
    SignatureMismatch {
        /// The canonical request computed.
        canonical_request: String,
        /// The string to sign computed.
        string_to_sign: String,
    },
}

fn missing_text(m: &MissingParts) -> String {
    let mut out = String::new();
    for (missing, name) in [
        (m.credential, "Credential"),
        (m.signature, "Signature"),
        (m.signed_headers, "SignedHeaders"),
    ] {
        if missing {
            out.push_str("Authorization header requires '");
            out.push_str(name);
            out.push_str("' parameter. ");
        }
    }
    if m.date {
        out.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    out
}

impl SigV4Error {
    /// AWS's message, sent as `{"message": ...}`.
    pub fn aws_message(&self) -> String {
        self.to_string()
    }

    /// The HTTP status: always 403.
    pub fn status(&self) -> u16 {
        403
    }

    /// The API Gateway gateway-response type answering this error: `MISSING_AUTHENTICATION_TOKEN`
    /// when nothing was signed, `INVALID_SIGNATURE` otherwise. AWS has no gateway response of its
    /// own for an incomplete header, an unknown access key (`UnrecognizedClientException`) or an
    /// expired signature (`InvalidSignatureException`, "Signature expired"): `INVALID_SIGNATURE` is
    /// the closest for all. `EXPIRED_TOKEN` is for expired session tokens, which Portico does not
    /// model.
    pub fn response_type(&self) -> &'static str {
        match self {
            SigV4Error::MissingAuthentication => "MISSING_AUTHENTICATION_TOKEN",
            _ => "INVALID_SIGNATURE",
        }
    }

    /// AWS's `x-amzn-ErrorType` for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            SigV4Error::MissingAuthentication => "MissingAuthenticationTokenException",
            SigV4Error::IncompleteHeader { .. }
            | SigV4Error::MalformedPair { .. }
            | SigV4Error::IncompleteQuery
            | SigV4Error::UnsupportedAlgorithm(_) => "IncompleteSignatureException",
            SigV4Error::UnknownAccessKey(_) => "UnrecognizedClientException",
            _ => "InvalidSignatureException",
        }
    }
}

//! Decides on the mutual-TLS client certificate of the request, which it reads through
//! `portico:plugin/request-tls` (no grant needed): the example of an authorizer that sees the
//! certificate.
//!
//! - a client certificate (already verified by the gateway against the custom domain's
//!   truststore): `allow`, the principal being the subject DN, with context `subjectDN`,
//!   `issuerDN`, `serialNumber` and `notAfter` (read back as `$context.authorizer.subjectDN` …);
//! - none (a domain without mutual TLS, a cleartext listener): `forbidden` with the message
//!   `no client certificate` (403).
//!
//! A REQUEST authorizer with caching keys its cached answers by identity sources, not by
//! certificate: declare it with `authorizerResultTtlInSeconds: 0`, or with an identity source
//! that differs per certificate.

use portico_sdk::{Decision, Request, tls};

/// Allows a request with a client certificate, as its subject.
#[portico_sdk::authorizer]
fn authorize(_request: &Request) -> Decision {
    match tls::client_cert() {
        Some(cert) => Decision::allow(cert.subject_dn.clone())
            .with_context("subjectDN", cert.subject_dn)
            .with_context("issuerDN", cert.issuer_dn)
            .with_context("serialNumber", cert.serial_number)
            .with_context("notAfter", cert.not_after),
        None => Decision::forbidden_with("no client certificate"),
    }
}

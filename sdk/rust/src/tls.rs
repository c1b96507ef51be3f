//! The TLS facts of the request being served (`portico:plugin/request-tls`): today the client
//! certificate of a mutual-TLS request.
//!
//! ```ignore
//! use portico_sdk::{Decision, Request, tls};
//!
//! #[portico_sdk::authorizer]
//! fn authorize(_request: &Request) -> Decision {
//!     match tls::client_cert() {
//!         Some(cert) if cert.subject_dn.contains("O=Example") => Decision::allow(&cert.subject_dn)
//!             .with_context("serialNumber", &cert.serial_number),
//!         Some(_) => Decision::forbidden(),
//!         None => Decision::unauthorized(),
//!     }
//! }
//! ```
//!
//! The interface needs no grant: it tells a plugin only what its own caller presented. A
//! component that never calls [`client_cert`] does not import it.

use crate::bindings::capabilities::portico::plugin::request_tls as host;

/// A verified client certificate: the WIT `client-cert`, fields public, with the meanings and
/// formats of `$context.identity.clientCert`:
///
/// - `client_cert_pem`: the leaf certificate, PEM;
/// - `subject_dn`, `issuer_dn`: distinguished names, e.g. `CN=alice, O=Example`;
/// - `serial_number`: lower-case hex bytes joined by colons, e.g. `1f:0a:33`;
/// - `not_before`, `not_after`: as OpenSSL prints them, `May 28 12:30:02 2019 GMT`.
pub type ClientCert = host::ClientCert;

/// The client certificate of the request being served, when it came over mutual TLS; the
/// gateway has already verified it against the custom domain's truststore. `None` for a
/// request without one (a domain without mutual TLS, a cleartext listener, HTTP/3) and for a
/// call that serves no request (a deploy-time `prepare`).
pub fn client_cert() -> Option<ClientCert> {
    host::get_client_cert()
}

//! `portico:plugin/request-tls`: the TLS facts of the request the plugin is serving — today its
//! verified client certificate. Linked for every plugin without a grant, since it reveals only
//! what the caller itself presented; the answer comes from the [`CallContext`] of the call in
//! progress, so a reused instance never sees the certificate of an earlier request.
//!
//! [`CallContext`]: crate::CallContext

use wasmtime::component::{HasSelf, Linker};

use crate::bindings::caps::portico::plugin::request_tls;
use crate::host::Host;

impl request_tls::Host for Host {
    fn get_client_cert(&mut self) -> Option<request_tls::ClientCert> {
        let cert = self.call.client_cert.as_deref()?;
        Some(request_tls::ClientCert {
            client_cert_pem: cert.pem.clone(),
            subject_dn: cert.subject_dn.clone(),
            issuer_dn: cert.issuer_dn.clone(),
            serial_number: cert.serial_number.clone(),
            not_before: cert.not_before.clone(),
            not_after: cert.not_after.clone(),
        })
    }
}

/// Links `portico:plugin/request-tls`.
pub(crate) fn add_to_linker(linker: &mut Linker<Host>) -> wasmtime::Result<()> {
    request_tls::add_to_linker::<Host, HasSelf<Host>>(linker, |h| h)
}

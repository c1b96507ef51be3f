//! TLS termination: the rustls configurations of a snapshot, chosen per connection by SNI,
//! and the facts a handshake leaves for the pipeline ([`TlsInfo`]).
//!
//! Every custom domain gets its own `ServerConfig` (its certificate, its security policy's
//! TLS versions, its mutual-TLS verifier), and so does every TLS listener (its default
//! certificate, for clients whose SNI names no domain or who send none). The handshake reads
//! the ClientHello first ([`tokio_rustls::LazyConfigAcceptor`]), looks the SNI up in the
//! current snapshot's [`TlsTable`], and completes with that configuration. A reload builds a
//! new table, so rotated certificates serve the next handshake, and open connections keep
//! the one they negotiated.
//!
//! ALPN offers `h2` and `http/1.1`; the listener serves HTTP/2 or HTTP/1.1 by what was agreed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use portico_config::transport::{Domain, ListenerTls, SecurityPolicy, crypto_provider};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig, ServerConnection};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;

/// The ALPN protocols offered, most preferred first.
const ALPN: &[&[u8]] = &[b"h2", b"http/1.1"];

/// One snapshot's TLS configurations.
#[derive(Default)]
pub struct TlsTable {
    /// By listener index (configuration order); `None` for cleartext listeners.
    listeners: Vec<Option<Arc<ServerConfig>>>,
    /// Each TLS listener's own certificate, by index, for QUIC's resolver.
    listener_keys: Vec<Option<Arc<CertifiedKey>>>,
    /// Exact domain names, lower-case.
    exact: HashMap<String, Arc<DomainTls>>,
    /// Wildcard domains by the suffix after `*.`.
    wildcard: HashMap<String, Arc<DomainTls>>,
}

/// A custom domain's TLS side.
pub struct DomainTls {
    /// The domain's name as configured (`*.example.com` for a wildcard).
    pub name: Arc<str>,
    /// With mutual TLS, the truststore's
    /// [`fingerprint`](portico_config::transport::MutualTls::fingerprint).
    truststore: Option<u64>,
    config: Arc<ServerConfig>,
    certificate: Arc<CertifiedKey>,
}

impl DomainTls {
    /// Whether the domain wants client certificates (mutual TLS).
    pub fn mutual_tls(&self) -> bool {
        self.truststore.is_some()
    }
}

impl TlsTable {
    /// Builds every configuration; errors name the listener or domain.
    pub fn build(
        listeners: &[portico_config::transport::Listener],
        domains: &[Domain],
    ) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let mut table = Self::default();
        for (i, l) in listeners.iter().enumerate() {
            let config = l.tls.as_ref().and_then(|t: &ListenerTls| {
                server_config(&t.certificate, t.security_policy, None)
                    .map_err(|e| errors.push(format!("listeners[{i}].tls: {e}")))
                    .ok()
            });
            table.listeners.push(config);
            table
                .listener_keys
                .push(l.tls.as_ref().map(|t| Arc::clone(&t.certificate)));
        }
        for d in domains {
            let verifier = d.mutual_tls.as_ref().map(|m| m.roots.as_slice());
            match server_config(&d.certificate, d.security_policy, verifier) {
                Ok(config) => {
                    let tls = Arc::new(DomainTls {
                        name: d.name.as_str().into(),
                        truststore: d.mutual_tls.as_ref().map(|m| m.fingerprint),
                        config,
                        certificate: Arc::clone(&d.certificate),
                    });
                    match d.name.strip_prefix("*.") {
                        Some(suffix) => table.wildcard.insert(suffix.to_owned(), tls),
                        None => table.exact.insert(d.name.clone(), tls),
                    };
                }
                Err(e) => errors.push(format!("domain {}: {e}", d.name)),
            }
        }
        if errors.is_empty() {
            Ok(table)
        } else {
            Err(errors)
        }
    }

    /// Whether listener `index` serves TLS in this snapshot.
    pub fn listener(&self, index: usize) -> Option<&Arc<ServerConfig>> {
        self.listeners.get(index).and_then(Option::as_ref)
    }

    /// The certificate a QUIC handshake on listener `index` serves: the SNI's domain's, else
    /// the listener's own.
    pub fn certificate(&self, index: usize, sni: Option<&str>) -> Option<Arc<CertifiedKey>> {
        match sni.and_then(|s| self.domain(s)) {
            Some(d) => Some(Arc::clone(&d.certificate)),
            None => self.listener_keys.get(index)?.clone(),
        }
    }

    /// The domain an SNI names: an exact name first, then a wildcard one label up.
    pub fn domain(&self, sni: &str) -> Option<&Arc<DomainTls>> {
        let sni = sni.trim_end_matches('.');
        if let Some(d) = self.exact.get(sni) {
            return Some(d);
        }
        let (label, parent) = sni.split_once('.')?;
        if label.is_empty() {
            return None;
        }
        self.wildcard.get(parent)
    }
}

/// The TLS configuration of the admin listener (`admin.tls`): its certificate and policy,
/// no client certificates, ALPN `h2` and `http/1.1`.
pub fn admin_config(
    tls: &portico_config::transport::ListenerTls,
) -> Result<Arc<ServerConfig>, String> {
    server_config(&tls.certificate, tls.security_policy, None)
}

fn server_config(
    certificate: &Arc<CertifiedKey>,
    policy: SecurityPolicy,
    truststore: Option<&[rustls::pki_types::CertificateDer<'static>]>,
) -> Result<Arc<ServerConfig>, String> {
    let provider = crypto_provider();
    let versions: &[&'static rustls::SupportedProtocolVersion] = match policy {
        SecurityPolicy::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        SecurityPolicy::Tls13Only => &[&rustls::version::TLS13],
    };
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)
        .map_err(|e| e.to_string())?;
    let builder = match truststore {
        None => builder.with_no_client_auth(),
        Some(roots) => {
            let mut store = RootCertStore::empty();
            let (added, _ignored) = store.add_parsable_certificates(roots.iter().cloned());
            if added == 0 {
                return Err("the truststore holds no usable CA certificate".into());
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider)
                .build()
                .map_err(|e| format!("truststore: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(Arc::new(Fixed(Arc::clone(certificate))));
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    // Stateless resumption: a returning client skips the full handshake.
    if let Ok(ticketer) = rustls::crypto::aws_lc_rs::Ticketer::new() {
        config.ticketer = ticketer;
    }
    Ok(Arc::new(config))
}

/// A resolver that always answers one certificate: the configuration was already chosen by
/// SNI.
#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl ResolvesServerCert for Fixed {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }
}

/// What a TLS handshake established, for `$context` and the domain checks.
#[derive(Debug, Default)]
pub struct TlsInfo {
    /// The SNI the client sent, lower-case.
    pub sni: Option<String>,
    /// The custom domain whose configuration served the handshake (its configured name).
    pub domain: Option<Arc<str>>,
    /// `TLSv1.2` or `TLSv1.3` (`$context.tlsVersion`).
    pub version: &'static str,
    /// The IANA name of the cipher suite (`$context.cipherSuite`).
    pub cipher_suite: &'static str,
    /// Whether ALPN agreed on `h2`.
    pub h2: bool,
    /// The verified client certificate (mutual TLS), shared with the plugin calls that serve
    /// the connection's requests.
    pub client_cert: Option<Arc<ClientCert>>,
    /// The fingerprint of the truststore that verified the client certificate: the pipeline
    /// admits the connection's requests to a mutual-TLS domain only while that domain still
    /// has this truststore (a reload that turns mutual TLS on, or rotates the truststore,
    /// applies to connections already open).
    pub truststore: Option<u64>,
}

/// A verified client certificate, as API Gateway describes it (`$context.identity.clientCert.*`).
/// The plugin runtime's type, so that a plugin call shares the connection's copy.
pub use portico_runtime::ClientCert;

/// The certificate as AWS shows it: `$context.identity.clientCert` and the Lambda events'
/// `clientCert` object.
pub fn client_cert_json(cert: &ClientCert) -> serde_json::Value {
    serde_json::json!({
        "clientCertPem": cert.pem,
        "subjectDN": cert.subject_dn,
        "issuerDN": cert.issuer_dn,
        "serialNumber": cert.serial_number,
        "validity": {"notBefore": cert.not_before, "notAfter": cert.not_after},
    })
}

/// Why a handshake did not complete.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The handshake timeout passed (with the wait for a handshake slot).
    #[error("TLS handshake timed out")]
    Timeout,
    /// The client sent something that is not TLS, or the handshake failed.
    #[error("TLS handshake failed: {0}")]
    Failed(std::io::Error),
    /// The listener is no longer TLS in the current configuration.
    #[error("listener {0} has no TLS settings in the current configuration")]
    NotTls(usize),
}

/// Runs a handshake on listener `index` with the configurations of `table`, within `timeout`
/// and holding one of `slots` while it runs.
pub async fn accept(
    stream: TcpStream,
    index: usize,
    table: &TlsTable,
    slots: &Semaphore,
    timeout: Duration,
) -> Result<(TlsStream<TcpStream>, TlsInfo), HandshakeError> {
    let handshake = async {
        let _slot = slots.acquire().await.map_err(|_| HandshakeError::Timeout)?;
        let start = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream)
            .await
            .map_err(HandshakeError::Failed)?;
        let sni = start
            .client_hello()
            .server_name()
            .map(str::to_ascii_lowercase);
        let domain = sni.as_deref().and_then(|s| table.domain(s));
        let config = match domain {
            Some(d) => Arc::clone(&d.config),
            None => Arc::clone(table.listener(index).ok_or(HandshakeError::NotTls(index))?),
        };
        let truststore = domain.and_then(|d| d.truststore);
        let domain = domain.map(|d| Arc::clone(&d.name));
        let tls = start
            .into_stream(config)
            .await
            .map_err(HandshakeError::Failed)?;
        let info = describe(tls.get_ref().1, sni, domain, truststore);
        Ok((tls, info))
    };
    tokio::time::timeout(timeout, handshake)
        .await
        .unwrap_or(Err(HandshakeError::Timeout))
}

fn describe(
    conn: &ServerConnection,
    sni: Option<String>,
    domain: Option<Arc<str>>,
    truststore: Option<u64>,
) -> TlsInfo {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
        _ => "",
    };
    let cipher_suite = conn
        .negotiated_cipher_suite()
        .and_then(|s| s.suite().as_str())
        .unwrap_or("");
    let client_cert = conn
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|der| client_cert(der))
        .map(Arc::new);
    TlsInfo {
        sni,
        domain,
        version,
        cipher_suite,
        h2: conn.alpn_protocol() == Some(b"h2"),
        client_cert,
        truststore,
    }
}

/// Describes a verified client certificate the way API Gateway does.
fn client_cert(der: &[u8]) -> Option<ClientCert> {
    use base64::Engine as _;
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    let serial = cert
        .raw_serial()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    Some(ClientCert {
        pem,
        subject_dn: cert.subject().to_string(),
        issuer_dn: cert.issuer().to_string(),
        serial_number: serial,
        not_before: openssl_time(cert.validity().not_before.to_datetime()),
        not_after: openssl_time(cert.validity().not_after.to_datetime()),
    })
}

/// `May 28 12:30:02 2019 GMT`, as OpenSSL and API Gateway print certificate times.
fn openssl_time(t: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[month repr:short] [day padding:space] [hour]:[minute]:[second] [year] GMT"
    );
    t.format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_times_read_like_openssl() {
        let t = time::macros::datetime!(2021-08-05 09:36:04 UTC);
        assert_eq!(openssl_time(t), "Aug  5 09:36:04 2021 GMT");
    }
}

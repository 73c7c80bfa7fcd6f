//! TLS with rustls: the server certificate (configured, or self-signed at
//! start), the ALPN name PostgreSQL 17 clients use for direct TLS, the
//! channel-binding data SCRAM-SHA-256-PLUS checks against, and, when a
//! client CA is configured, the verification of client certificates.
//!
//! With a client CA, a certificate is *optional* (password and token logins
//! go on working without one) but any certificate presented must chain to
//! that CA: an untrusted one fails the handshake, before the PostgreSQL
//! protocol starts. Which account a verified certificate may log in as is
//! decided after the handshake (see `cert.rs`).

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::scram::end_point_binding;

/// A ready TLS configuration.
#[derive(Clone)]
pub struct Tls {
    pub acceptor: TlsAcceptor,
    /// `tls-server-end-point` data for our certificate.
    pub binding: Arc<Vec<u8>>,
    /// The certificate in PEM, so clients can be told what to trust.
    pub cert_pem: String,
    /// Whether client certificates are requested (a client CA is set).
    pub client_auth: bool,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// A new self-signed certificate for `localhost`, 127.0.0.1 and ::1, as
/// (certificate PEM, private key PEM).
pub fn self_signed_pem() -> Result<(String, String), TlsError> {
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let certified =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Config(e.to_string()))?;
    Ok((certified.cert.pem(), certified.signing_key.serialize_pem()))
}

impl Tls {
    /// Loads a PEM certificate chain and private key; `client_ca` (PEM CA
    /// certificates) turns on client-certificate verification.
    pub fn from_files(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<Tls, TlsError> {
        let file_err = |p: &Path, m: String| TlsError::File {
            path: p.display().to_string(),
            message: m,
        };
        let cert_pem = std::fs::read_to_string(cert).map_err(|e| file_err(cert, e.to_string()))?;
        let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| file_err(cert, format!("not a PEM certificate: {e}")))?;
        if chain.is_empty() {
            return Err(file_err(cert, "no certificate in file".into()));
        }
        let key_der = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| file_err(key, format!("not a PEM private key: {e}")))?;
        Tls::build(chain, key_der, cert_pem, client_ca)
    }

    /// Generates a self-signed certificate for `localhost`, 127.0.0.1 and
    /// ::1; `client_ca` as for [`Tls::from_files`].
    pub fn self_signed(client_ca: Option<&Path>) -> Result<Tls, TlsError> {
        let names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        let certified = rcgen::generate_simple_self_signed(names)
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let cert_pem = certified.cert.pem();
        let key = PrivateKeyDer::try_from(certified.signing_key.serialize_der())
            .map_err(|e| TlsError::Config(e.to_string()))?;
        Tls::build(vec![certified.cert.der().clone()], key, cert_pem, client_ca)
    }

    fn build(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        cert_pem: String,
        client_ca: Option<&Path>,
    ) -> Result<Tls, TlsError> {
        let binding = end_point_binding(&chain[0]);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(path) => {
                let roots = client_roots(path)?;
                // Unauthenticated clients are allowed through: they log in
                // with a password or a token. A certificate that is sent is
                // verified all the same, and a bad one ends the handshake.
                let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider)
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| TlsError::Config(format!("client CA: {e}")))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::Config(e.to_string()))?;
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            binding: Arc::new(binding),
            cert_pem,
            client_auth: client_ca.is_some(),
        })
    }
}

/// The trust anchors for client certificates: every certificate in a PEM
/// file. An empty or unreadable file is an error, never "trust nothing" or
/// "trust anything".
fn client_roots(path: &Path) -> Result<Arc<rustls::RootCertStore>, TlsError> {
    let file_err = |m: String| TlsError::File {
        path: path.display().to_string(),
        message: m,
    };
    let pem = std::fs::read(path).map_err(|e| file_err(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| file_err(format!("not a PEM certificate: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| file_err(format!("not a usable CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(file_err("no CA certificate in file".into()));
    }
    Ok(Arc::new(roots))
}

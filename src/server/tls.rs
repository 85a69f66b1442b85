//! Optional TLS (`wss://`): a certificate chain and a private key in PEM files, named
//! by the `Tls:` section of the config.

use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsConfig;

/// Builds the acceptor, or says which file is wrong and why.
pub fn acceptor(cfg: &TlsConfig) -> Result<TlsAcceptor, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cfg.cert_file)
        .map_err(|e| {
            format!(
                "cannot read the TLS certificate {}: {e}",
                cfg.cert_file.display()
            )
        })?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("bad PEM in {}: {e}", cfg.cert_file.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", cfg.cert_file.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&cfg.key_file)
        .map_err(|e| format!("cannot read the TLS key {}: {e}", cfg.key_file.display()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!(
                "the TLS key {} does not fit the certificate {}: {e}",
                cfg.key_file.display(),
                cfg.cert_file.display()
            )
        })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

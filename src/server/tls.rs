//! Optional TLS (`wss://`): a certificate chain and a private key in PEM files, named
//! by the `Tls:` section of the config.

use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::ServerError;
use crate::config::TlsConfig;

/// Builds the acceptor, or says which file is wrong and why.
pub fn acceptor(cfg: &TlsConfig) -> Result<TlsAcceptor, ServerError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cfg.cert_file)
        .map_err(|source| ServerError::TlsRead {
            what: "certificate",
            path: cfg.cert_file.clone(),
            source,
        })?
        .collect::<Result<_, _>>()
        .map_err(|source| ServerError::TlsPem {
            path: cfg.cert_file.clone(),
            source,
        })?;
    if certs.is_empty() {
        return Err(ServerError::NoCertificate {
            path: cfg.cert_file.clone(),
        });
    }
    let key =
        PrivateKeyDer::from_pem_file(&cfg.key_file).map_err(|source| ServerError::TlsRead {
            what: "key",
            path: cfg.key_file.clone(),
            source,
        })?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(ServerError::TlsSetup)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|source| ServerError::TlsKeyMismatch {
            key: cfg.key_file.clone(),
            cert: cfg.cert_file.clone(),
            source,
        })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

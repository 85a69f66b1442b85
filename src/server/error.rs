//! The server's one error type: what stops it from serving, or a client from being
//! served, worded for the person running the gateway (or calling an admin endpoint).

use std::path::PathBuf;
use std::time::Duration;

use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem;
use tokio_tungstenite::tungstenite;

use crate::ctp::BackendError;

/// What went wrong in the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A TLS file (`Tls.CertFile`, `Tls.KeyFile`) cannot be read.
    #[error("cannot read the TLS {what} {}: {source}", path.display())]
    TlsRead {
        /// `certificate` or `key`.
        what: &'static str,
        path: PathBuf,
        #[source]
        source: pem::Error,
    },
    /// The certificate file holds something that is not PEM.
    #[error("bad PEM in the TLS certificate {}: {source}", path.display())]
    TlsPem {
        path: PathBuf,
        #[source]
        source: pem::Error,
    },
    /// The certificate file holds no certificate.
    #[error("there is no certificate in the TLS certificate file {}", path.display())]
    NoCertificate { path: PathBuf },
    /// rustls refused its own default protocol versions (a build problem).
    #[error("TLS setup failed: {0}")]
    TlsSetup(#[source] rustls::Error),
    /// The key and the certificate do not belong together.
    #[error("the TLS key {} does not fit the certificate {}: {source}", key.display(), cert.display())]
    TlsKeyMismatch {
        key: PathBuf,
        cert: PathBuf,
        #[source]
        source: rustls::Error,
    },
    /// A client took nothing from its socket for this long.
    #[error("the client has not read anything for {} s", .0.as_secs())]
    WriteTimeout(Duration),
    /// Writing to a client's socket failed.
    #[error("writing to the client failed: {0}")]
    Write(#[from] tungstenite::Error),
    /// An admin request whose query is not understood (the text says what to give).
    #[error("{0}")]
    AdminQuery(String),
    /// The backend refused an admin request.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

//! The load tool's one error type: why a bench could not run (a failed correctness
//! check is not an error: the report says it and the exit code follows).

use std::path::PathBuf;
use std::time::Duration;

use tokio_tungstenite::tungstenite;

/// Why `webctp bench` could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A file or directory of the bench's own could not be made.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A process the bench needs could not be started.
    #[error("cannot start {program}: {source}{hint}")]
    Spawn {
        program: &'static str,
        #[source]
        source: std::io::Error,
        /// What the user can do, starting with "; ", or empty.
        hint: &'static str,
    },
    /// Something the bench waits for did not happen in time.
    #[error("{what} within {} s", .within.as_secs())]
    Timeout {
        /// What did not happen, e.g. "the gateway did not start".
        what: &'static str,
        within: Duration,
    },
    /// The gateway under test started but did not say where it listens.
    #[error("the gateway under test printed no ws:// URL in its banner")]
    NoBanner,
    /// A WebSocket connection to the gateway under test failed.
    #[error("cannot connect to {url}: {source}{hint}")]
    Connect {
        url: String,
        #[source]
        source: Box<tungstenite::Error>,
        /// What the user can do, starting with " (", or empty.
        hint: &'static str,
    },
    /// A connection to the gateway under test failed after it was made.
    #[error("the WebSocket to the gateway under test failed: {0}")]
    Ws(#[from] Box<tungstenite::Error>),
    /// The gateway under test closed a connection the bench still needed.
    #[error("the gateway under test closed the connection during {during}")]
    Closed { during: &'static str },
    /// An argument outside its list.
    #[error("{flag} is {allowed}, not {given:?}")]
    Arg {
        flag: &'static str,
        allowed: &'static str,
        given: String,
    },
}

impl BenchError {
    pub(super) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> BenchError {
        let path = path.into();
        move |source| BenchError::Io {
            action,
            path,
            source,
        }
    }

    pub(super) fn timeout(what: &'static str, within: Duration) -> BenchError {
        BenchError::Timeout { what, within }
    }

    pub(super) fn connect(
        url: impl Into<String>,
        hint: &'static str,
    ) -> impl FnOnce(tungstenite::Error) -> BenchError {
        let url = url.into();
        move |source| BenchError::Connect {
            url,
            source: Box::new(source),
            hint,
        }
    }
}

impl From<tungstenite::Error> for BenchError {
    fn from(e: tungstenite::Error) -> BenchError {
        BenchError::Ws(Box::new(e))
    }
}

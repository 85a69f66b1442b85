//! What can stop the ledger, worded for the person who has to act on it.

use std::path::PathBuf;

/// A ledger problem. Damage names the file, the offset and what to do.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the sim data directory {} is in use by another webctp process{owner}; stop it, use another --data-dir, or talk to the running gateway with `webctp exec --url ws://HOST:PORT ...`",
        dir.display()
    )]
    Busy { dir: PathBuf, owner: String },
    /// The ledger cannot be proven whole; nothing was changed.
    #[error("{0}")]
    Refused(Refusal),
    #[error("writing the sim ledger failed: {0}")]
    Write(String),
    /// A write failed earlier; the ledger accepts nothing more. The text is the
    /// sentence logged when it failed.
    #[error("{0}")]
    Stopped(String),
}

/// Why a start was refused, where, and what a person can do.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Refusal {
    pub file: PathBuf,
    pub offset: Option<u64>,
    pub problem: String,
    pub advice: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refusing to start the sim: {}", self.file.display())?;
        if let Some(o) = self.offset {
            write!(f, " at byte {o}")?;
        }
        write!(
            f,
            ": {}. Nothing was changed. {}",
            self.problem, self.advice
        )
    }
}

impl LedgerError {
    pub(super) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> LedgerError {
        let path = path.into();
        move |source| LedgerError::Io {
            action,
            path,
            source,
        }
    }
}

//! A refused start: the ledger cannot be proven whole, and says where and what to do.

use std::path::PathBuf;

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

//! What recovery found in a ledger directory and what it did (or, read-only, would
//! do): the report `webctp ledger check` prints.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::super::StateSummary;
use super::super::refusal::Refusal;

/// What a journal holds.
#[derive(Debug, Clone, Serialize)]
pub struct JournalInfo {
    pub file: PathBuf,
    pub generation: u64,
    pub day: String,
    pub records: u64,
    pub kinds: BTreeMap<&'static str, u64>,
    /// Where the whole records end.
    pub end: u64,
    pub file_len: u64,
    /// `clean`, `torn` or `damaged`.
    pub tail: &'static str,
    pub torn_bytes: u64,
    /// Where damage starts, and the next valid record after it.
    pub damage_at: Option<u64>,
    pub valid_after: Option<u64>,
    pub problem: Option<String>,
}

/// The snapshot's summary.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotInfo {
    pub file: PathBuf,
    pub trading_day: String,
    pub accounts: usize,
    pub next_journal: u64,
}

/// Everything recovery found and did (or, read-only, would do).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub dir: PathBuf,
    pub snapshot: Option<SnapshotInfo>,
    /// A first-format journal, if one is (still) there.
    pub legacy: Option<JournalInfo>,
    pub journals: Vec<JournalInfo>,
    pub archived: Vec<String>,
    /// Day ends replayed (in the journals read).
    pub settlements: u64,
    pub state: Option<StateSummary>,
    /// What a start does beyond reading.
    pub actions: Vec<String>,
    pub refusal: Option<Refusal>,
}

impl Report {
    pub(super) fn new(dir: &Path) -> Report {
        Report {
            dir: dir.to_path_buf(),
            snapshot: None,
            legacy: None,
            journals: Vec::new(),
            archived: Vec::new(),
            settlements: 0,
            state: None,
            actions: Vec::new(),
            refusal: None,
        }
    }

    /// Records replayed from journals.
    pub fn records(&self) -> u64 {
        self.journals.iter().map(|j| j.records).sum::<u64>()
            + self.legacy.as_ref().map_or(0, |l| l.records)
    }
}

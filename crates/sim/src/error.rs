//! The sim's one error type: what can stop the exchange, its ledger or its product
//! table, worded for the person who has to act on it.
//!
//! Two kinds of variant live here. Those that stand alone (`Io`, `Busy`, `Refused`,
//! `Repair*`, `ProductTable*`, `Thread`) name the file or directory they are about.
//! Those that describe what is wrong with some bytes or some state (`Short`,
//! `Checksum`, `Version`, `UnknownProduct`, `DoesNotAddUp`, ...) are read inside a
//! [`Refusal`](crate::ledger::Refusal), which adds the file, the byte offset and
//! what to do; so they are worded as the middle of that sentence ("the snapshot is
//! damaged: its body does not match its checksum").

use std::path::PathBuf;

use crate::ledger::Refusal;

/// What went wrong in the sim.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    // ------------------------------------------------------------ files and threads
    /// A file operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the data directory.
    #[error(
        "the sim data directory {} is in use by another webctp process{owner}; stop it, use another --data-dir, or talk to the running gateway with `webctp exec --url ws://HOST:PORT ...`",
        dir.display()
    )]
    Busy { dir: PathBuf, owner: String },
    /// One of the sim's threads could not be started.
    #[error("cannot start the sim's {name} thread: {source}")]
    Thread {
        name: &'static str,
        #[source]
        source: std::io::Error,
    },

    // ------------------------------------------------------------ the ledger
    /// The ledger cannot be proven whole; nothing was changed. The refusal names the
    /// file, the offset and what to do.
    #[error("{0}")]
    Refused(Refusal),
    /// Recovery found nothing to append to (a bug: it always opens or creates one).
    #[error("the sim ledger in {} has no journal to append to after recovery", dir.display())]
    NoJournal { dir: PathBuf },
    /// A record could not be encoded for the journal.
    #[error("a record of the sim ledger cannot be encoded: {0}")]
    Encode(#[from] postcard::Error),
    /// A snapshot could not be encoded.
    #[error("the sim ledger's snapshot cannot be encoded as JSON: {0}")]
    EncodeSnapshot(#[source] serde_json::Error),
    /// A write failed earlier; the ledger accepts nothing more. The text is the
    /// sentence logged when it failed.
    #[error("{0}")]
    Stopped(String),

    // ------------------------------------------------------------ `webctp ledger repair`
    /// `repair` found no journal to repair.
    #[error("there is no journal in {} to repair", dir.display())]
    NothingToRepair { dir: PathBuf },
    /// `repair` cannot read the journal's header, so it cannot find its records.
    #[error("{} cannot be repaired here: {problem}; restore it from a backup", file.display())]
    Unrepairable {
        file: PathBuf,
        problem: Box<SimError>,
    },
    /// `repair` was asked to drop nothing.
    #[error("{} ends cleanly at byte {offset}; there is nothing to drop", file.display())]
    RepairClean { file: PathBuf, offset: u64 },
    /// `repair` was given an offset where no record starts.
    #[error("byte {offset} of {} is not where a record starts ({hint}); nothing was changed", file.display())]
    RepairOffset {
        file: PathBuf,
        offset: u64,
        /// Where records do start near it, or where the valid ones end.
        hint: String,
    },

    // ------------------------------------------------------------ what is wrong with bytes
    /// A file too short for its header.
    #[error("the file is {len} bytes long, shorter than {header}")]
    Short { len: usize, header: &'static str },
    /// A file that does not start with webctp's magic.
    #[error("it does not start with {header}")]
    NotOurs { header: &'static str },
    /// A part of a file whose checksum does not match.
    #[error("its {part} does not match its checksum")]
    Checksum { part: &'static str },
    /// A file written by another version of webctp.
    #[error("it is version {found} of the {format} format; this webctp reads version {reads}")]
    Version {
        format: &'static str,
        found: u32,
        reads: u32,
    },
    /// A journal header whose preallocation unit cannot have been written by webctp.
    #[error(
        "its header gives an impossible preallocation unit ({unit} bytes with {headroom} bytes of headroom)"
    )]
    Preallocation { unit: u32, headroom: u32 },
    /// A file whose length disagrees with its header.
    #[error("it should be {expected} bytes long but is {actual}")]
    Length { expected: u64, actual: u64 },
    /// JSON (a snapshot's body, a first-format record) that does not decode.
    #[error("{what} cannot be read: {source}")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// A first-format record whose order or trade ID is not a number.
    #[error("the ID {id:?} is not a number")]
    NotANumber { id: String },

    // ------------------------------------------------------------ what is wrong with state
    /// A snapshot's instrument whose product the table does not have.
    #[error("the product table has no product {product} on {exchange}")]
    UnknownProduct { product: String, exchange: String },
    /// A snapshot's option listed before its underlying.
    #[error("its underlying {underlying} is not in the snapshot")]
    MissingUnderlying { underlying: String },
    /// A position in an instrument the product table does not list.
    #[error("{user} holds a position in {instrument}, which the product table does not list")]
    UnlistedPosition { user: String, instrument: String },
    /// A position in an instrument that cannot be rebuilt from the snapshot.
    #[error("a position is held in {instrument}, which cannot be restored: {problem}")]
    UnrestorablePosition {
        instrument: String,
        problem: Box<SimError>,
    },
    /// The rebuilt accounts disagree with the running totals of the records replayed.
    #[error("{}", problems.join("; "))]
    DoesNotAddUp { problems: Vec<String> },

    // ------------------------------------------------------------ the product table
    /// The product table file cannot be read.
    #[error("cannot read the product table {}: {source}", path.display())]
    ProductTableRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The product table is not YAML (the text names the line).
    #[error("the product table {}is not valid YAML: {message}", in_file(file))]
    ProductTableYaml {
        file: Option<PathBuf>,
        message: String,
    },
    /// The product table is YAML, but a value in it is wrong (the text names it).
    #[error("the product table {}is invalid: {message}", in_file(file))]
    ProductTableInvalid {
        file: Option<PathBuf>,
        message: String,
    },
}

fn in_file(file: &Option<PathBuf>) -> String {
    file.as_ref()
        .map(|f| format!("{} ", f.display()))
        .unwrap_or_default()
}

impl SimError {
    /// Wraps an `io::Error` of `action` on `path` (for `map_err`).
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> SimError {
        let path = path.into();
        move |source| SimError::Io {
            action,
            path,
            source,
        }
    }

    /// The same product-table error, naming the file it came from.
    pub(crate) fn in_table_file(mut self, path: &std::path::Path) -> SimError {
        if let SimError::ProductTableYaml { file, .. }
        | SimError::ProductTableInvalid { file, .. } = &mut self
        {
            file.get_or_insert_with(|| path.to_path_buf());
        }
        self
    }
}

/// The backend trait speaks in [`BackendError`](webctp_protocol::backend::BackendError);
/// a sim that cannot start says why.
impl From<SimError> for webctp_protocol::backend::BackendError {
    fn from(e: SimError) -> Self {
        webctp_protocol::backend::BackendError::Session(e.to_string())
    }
}

//! What can go wrong in the terminal, worded for the person at it. A command that CTP
//! or the gateway refused is not an error here: it is printed and ends with
//! `Outcome::Refused`. These are the failures around it — no answer, no connection,
//! an answer that says the command cannot go on.

use std::path::PathBuf;

use crate::ctp::BackendError;

/// A terminal failure; its text is a sentence shown after `error: ` (or `webctp: `).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Nothing came within the wait, and the gateway has said the front is down.
    #[error("no {what} within {secs} s; {down}")]
    FrontDown {
        what: &'static str,
        secs: f64,
        /// The sentence saying which front is down and why.
        down: String,
    },
    /// Nothing came within the wait, and nothing is known of the front.
    #[error(
        "no {what} within {secs} s from {front}: it may be down or unreachable (the gateway keeps trying; `status` shows what it knows)"
    )]
    NoAnswer {
        what: &'static str,
        secs: f64,
        front: String,
    },
    /// The connection to the gateway ended, with the reason it gave.
    #[error("{0}")]
    Closed(String),
    /// A request could not be handed to the gateway.
    #[error("the connection to the gateway is closed")]
    NotSent,
    /// The gateway refused the connection.
    #[error("the gateway refused the connection: {0}")]
    ConnectionRefused(String),
    /// CTP or the gateway refused a step the command needed, in words
    /// (`render::error_sentence`).
    #[error("{0}")]
    StepRefused(String),
    #[error("no quote for {0}")]
    NoQuote(String),
    #[error("{instrument} has no {price} to trade against; give a price")]
    NothingToTradeAgainst {
        instrument: String,
        price: &'static str,
    },
    #[error("no answer to the login")]
    NoLoginAnswer,
    #[error("bad gateway URL {url}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("the token cannot be sent in a header")]
    BadToken,
    #[error("timed out connecting to {0}")]
    ConnectTimeout(String),
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("admin commands need a ws:// gateway URL")]
    AdminNeedsWs,
    #[error("cannot reach {host}: {source}")]
    Unreachable {
        host: String,
        source: std::io::Error,
    },
    #[error("the gateway did not answer the admin request")]
    AdminTimeout,
    #[error("the gateway's answer to the admin request could not be read: {0}")]
    AdminIo(std::io::Error),
    #[error("unexpected answer from the gateway: {0}")]
    AdminUnexpected(String),
    /// The gateway refused an admin request, in its words.
    #[error("{0}")]
    AdminRefused(String),
    /// Neither a backend in this process nor a gateway URL to send admin commands to.
    #[error("no backend to command")]
    NoBackend,
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("cannot create {}: {source}", dir.display())]
    LogDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open {}: {source}", path.display())]
    LogFile {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The gateway's ports could not be opened (the error names the address).
    #[error("{0}")]
    Listen(std::io::Error),
    /// `attach` found no gateway.
    #[error("{0}\n(is a gateway running? start one with `webctp serve`, or give --url)")]
    NoGateway(Box<CliError>),
}

impl CliError {
    /// Whether the backend could not start because another process holds its data
    /// directory (then `exec` talks to that process's gateway instead).
    pub fn data_dir_in_use(&self) -> bool {
        matches!(self, CliError::Backend(e) if e.to_string().contains("in use"))
    }
}

/// The terminal's results.
pub type Result<T, E = CliError> = std::result::Result<T, E>;

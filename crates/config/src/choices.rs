//! The settings that take one word out of a list. A word outside the list is refused
//! while the file is parsed, with the key, the line and the words allowed.

use serde::{Deserialize, Deserializer};

/// Which implementation of the CTP interfaces the gateway drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// The embedded simulated exchange.
    Sim,
    /// The official CTP libraries, loaded at run time.
    Native,
}

/// Where a private/public flow resumes after login (CTP's THOST_TE_RESUME_TYPE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum ResumeType {
    /// Replay the whole trading day.
    Restart,
    /// Resume from the last received sequence number.
    Resume,
    /// Only what happens after login (webctp's default).
    #[default]
    Quick,
}

/// What to do with closed days' journals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClosedJournals {
    #[default]
    Archive,
    Delete,
}

/// How hard the sim ledger pushes its journal to disk before acknowledging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    #[default]
    Fsync,
    Os,
}

/// How much the gateway logs (`LogLevel`, `--log-level`, `WEBCTP_LOG_LEVEL`).
///
/// Any case is accepted, and the Python webctp projects' names too (`WARNING`,
/// `CRITICAL`, `FATAL`, `NOTSET`), so their configs load unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogLevel {
    Off,
    Error,
    Warn,
    #[default]
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    /// The words accepted, for messages.
    pub const ALLOWED: &'static str = "error, warn, info, debug, trace or off (any case; also Python's WARNING, CRITICAL, FATAL and NOTSET)";

    /// Reads a level name; `None` if it is not one.
    pub fn parse(text: &str) -> Option<LogLevel> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "off" => LogLevel::Off,
            "error" | "critical" | "fatal" => LogLevel::Error,
            "warn" | "warning" => LogLevel::Warn,
            "info" => LogLevel::Info,
            "debug" => LogLevel::Debug,
            "trace" | "notset" => LogLevel::Trace,
            _ => return None,
        })
    }

    /// The name `tracing`'s filters use.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Off => "off",
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }

    /// Why `text` is refused.
    pub(crate) fn refusal(text: &str) -> String {
        format!("`{text}` is not a log level; use {}", LogLevel::ALLOWED)
    }
}

impl std::fmt::Display for LogLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for LogLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<LogLevel, D::Error> {
        d.deserialize_str(crate::values::Text {
            read: LogLevel::parse,
            refusal: LogLevel::refusal,
        })
    }
}

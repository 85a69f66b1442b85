//! Configuration: a YAML file with the seed webctp keys, overridden by `WEBCTP_*`
//! environment variables and command-line flags (clap binds each flag to its variable).
//!
//! The file keeps CTP's own spelling (`BrokerID`, `TdFrontAddress`, ...) so that a
//! config written for the Python webctp projects loads unchanged. Unknown keys are an
//! error: a typo such as `BrokerId` would otherwise silently fall back to a default.
//!
//! # Layout
//! - [`file`]: the file as written ([`FileConfig`]); parsing refuses an unknown key, a
//!   value of the wrong type, a word outside its list, a number out of range or a tab
//!   indent, naming the key and the line.
//! - [`choices`]: the settings that take one word out of a list, and that list.
//! - [`resolve`]: file + [`Overrides`] (flags and variables) -> [`Config`], the
//!   effective values ([`effective`]).
//! - [`error`]: [`ConfigError`], worded for the person who wrote the file.

use std::path::PathBuf;

pub mod choices;
pub mod effective;
pub mod error;
pub mod file;
mod private_dir;
pub mod resolve;
mod sessions_mode;
mod values;

pub use choices::{BackendKind, ClosedJournals, Durability, LogLevel, ResumeType};
pub use effective::{Config, Limits, SimConfig};
pub use error::ConfigError;
pub use file::{FileConfig, FrontOutage, LimitsFileConfig, SimAccount, SimFileConfig, TlsConfig};
pub use private_dir::create_private_dir;
pub use resolve::Overrides;
pub use sessions_mode::SessionsMode;

/// The default data directory: `$XDG_DATA_HOME/webctp`, else `~/.local/share/webctp`,
/// else `./webctp-data`.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("webctp");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".local/share/webctp");
    }
    PathBuf::from("webctp-data")
}

#[cfg(test)]
mod tests;

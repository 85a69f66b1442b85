//! The configuration's one error type.

use std::path::{Path, PathBuf};

/// A configuration problem, worded for the person who wrote the file or the command.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not YAML webctp understands; `message` names the key and the line.
    #[error("{}{message}", file_prefix(path.as_deref()))]
    File {
        /// The file, once known (parsing text alone does not know it).
        path: Option<PathBuf>,
        message: String,
    },
    /// A value given on the command line or in the environment is out of its range or
    /// list (values from the file are refused while parsing, with their line).
    #[error("{key} {problem}")]
    Value {
        /// The flag or key, as the user wrote it (`--log-level`, `Sim.TickRate`).
        key: String,
        /// What is wrong, and what would be right.
        problem: String,
    },
    /// Settings that contradict each other, or a backend that lacks what it needs.
    #[error("{0}")]
    Conflict(&'static str),
}

impl ConfigError {
    /// The same error, naming the file it came from.
    pub fn in_file(self, file: &Path) -> ConfigError {
        match self {
            ConfigError::File {
                path: None,
                message,
            } => ConfigError::File {
                path: Some(file.to_path_buf()),
                message,
            },
            other => other,
        }
    }
}

fn file_prefix(path: Option<&Path>) -> String {
    path.map(|p| format!("{}: ", p.display()))
        .unwrap_or_default()
}

//! The bus's one error type.

use std::time::Duration;

use crate::ctp::BackendError;

/// What went wrong talking to Redis, worded for the person running the gateway. The
/// Redis URL is always shown without its password.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// A `Bus` / `--md-from` setting that is not a Redis URL.
    #[error("{setting} {url:?} is not a Redis URL: {source}")]
    Url {
        /// The setting as the user wrote it (`Bus`, `--md-from`).
        setting: &'static str,
        /// The URL, password redacted.
        url: String,
        #[source]
        source: redis::RedisError,
    },
    /// Redis refused a command or the connection failed.
    #[error("Redis failed: {0}")]
    Redis(#[from] redis::RedisError),
    /// Redis did not answer in time.
    #[error("Redis gave no answer within {} s", .0.as_secs())]
    Timeout(Duration),
    /// The pub/sub connection ended.
    #[error("Redis closed the pub/sub connection")]
    PubSubClosed,
}

/// A gateway that cannot start its bus does not start; the backend error says why.
impl From<BusError> for BackendError {
    fn from(e: BusError) -> BackendError {
        BackendError::Session(e.to_string())
    }
}

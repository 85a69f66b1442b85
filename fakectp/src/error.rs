//! fakectp's one error type: why the sim behind the fake library did not start.

use webctp_sim::SimError;

/// What stopped fakectp's sim, worded for whoever set up the test's environment.
#[derive(Debug, thiserror::Error)]
pub enum FakeError {
    /// A `FAKECTP_*` environment variable holds something the fake cannot use.
    #[error("the environment variable {var}={value:?} is not {expected}")]
    Env {
        var: &'static str,
        value: String,
        /// What it should be, e.g. `two numbers of seconds: after,for`.
        expected: &'static str,
    },
    /// The sim itself did not start (its ledger, product table or threads).
    #[error("the sim behind fakectp did not start: {0}")]
    Sim(#[from] SimError),
}

impl FakeError {
    pub(crate) fn env(var: &'static str, value: &str, expected: &'static str) -> FakeError {
        FakeError::Env {
            var,
            value: value.to_string(),
            expected,
        }
    }
}

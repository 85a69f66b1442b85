//! `Sim.Sessions`: which hours the sim trades (the sim's `sessions` module applies it).

use serde::Deserialize;

/// Which hours the sim trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum SessionsMode {
    /// Around the clock, every day.
    #[default]
    Always,
    /// Each product's own sessions on trading days.
    Exchange,
}

impl SessionsMode {
    /// How the terminal and logs name it.
    pub fn describe(self) -> &'static str {
        match self {
            SessionsMode::Always => "always (ticks around the clock, like SimNow 7x24)",
            SessionsMode::Exchange => "exchange (each product's own day and night sessions)",
        }
    }
}

//! The sim behind every API object of the process, started on first use from the
//! `FAKECTP_*` environment.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use webctp_config::{Durability, FrontOutage, SessionsMode, SimAccount, SimConfig};
use webctp_sim::SimBackend;
use webctp_sim::clock::StartAt;

use crate::error::FakeError;

static SIM: OnceLock<Result<SimBackend, FakeError>> = OnceLock::new();

/// The process's sim, started on the first call.
pub fn sim() -> Result<&'static SimBackend, &'static FakeError> {
    SIM.get_or_init(start).as_ref()
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Starts logging to stderr if `FAKECTP_LOG` asks for it.
pub fn init_logging() {
    if let Some(filter) = var("FAKECTP_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .try_init();
    }
}

/// `FAKECTP_OUTAGE=after,for` in seconds.
fn parse_outage(text: &str) -> Result<FrontOutage, FakeError> {
    let mut parts = text.split(',').map(|p| p.trim().parse::<f64>());
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Ok(after_secs)), Some(Ok(for_secs)), None) => Ok(FrontOutage {
            after_secs,
            for_secs,
        }),
        _ => Err(FakeError::env(
            "FAKECTP_OUTAGE",
            text,
            "two numbers of seconds: after_secs,for_secs",
        )),
    }
}

/// `FAKECTP_ACCOUNTS=user:password,...`.
fn parse_accounts(text: &str) -> Result<Vec<SimAccount>, FakeError> {
    text.split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| match a.split_once(':') {
            Some((user, pw)) if !user.is_empty() => Ok(SimAccount {
                user_id: user.to_string(),
                password: pw.to_string(),
                funds: None,
            }),
            _ => Err(FakeError::env(
                "FAKECTP_ACCOUNTS",
                text,
                "a list of user:password (an account without a user)",
            )),
        })
        .collect()
}

fn config() -> Result<SimConfig, FakeError> {
    let mut cfg = SimConfig {
        // The tests restart often; the OS cache is durable enough for them.
        durability: Durability::Os,
        auto_settle: false,
        ..SimConfig::default()
    };
    if let Some(rate) = var("FAKECTP_TICK_RATE") {
        cfg.tick_rate = rate
            .trim()
            .parse()
            .ok()
            .filter(|r: &f64| r.is_finite() && *r >= 0.0)
            .ok_or_else(|| {
                FakeError::env(
                    "FAKECTP_TICK_RATE",
                    &rate,
                    "a rate (ticks per second per instrument, 0 or more)",
                )
            })?;
    }
    if let Some(o) = var("FAKECTP_OUTAGE") {
        cfg.front_outage = Some(parse_outage(&o)?);
    }
    if let Some(a) = var("FAKECTP_ACCOUNTS") {
        cfg.accounts = parse_accounts(&a)?;
    }
    if let Some(d) = var("FAKECTP_START_DATE") {
        cfg.start = Some(StartAt::parse(&d).ok_or_else(|| {
            FakeError::env(
                "FAKECTP_START_DATE",
                &d,
                "a date such as 20251203 or 2026-11-25 22:20",
            )
        })?);
    }
    if let Some(m) = var("FAKECTP_SESSIONS") {
        cfg.sessions = match m.trim() {
            "always" => SessionsMode::Always,
            "exchange" => SessionsMode::Exchange,
            _ => {
                return Err(FakeError::env("FAKECTP_SESSIONS", &m, "always or exchange"));
            }
        };
    }
    Ok(cfg)
}

/// The real library's query flow control, as the fake applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowLimits {
    /// At most one query per this interval (-3 when exceeded).
    pub query_interval: Duration,
    /// At most this many queries sent and not yet answered in full (-2 beyond).
    pub max_pending_queries: usize,
}

/// `FAKECTP_QUERY_INTERVAL_MS` (default 1000: one query per second, as CTP) and
/// `FAKECTP_MAX_PENDING_QUERIES` (default 1), read once.
pub fn flow_limits() -> FlowLimits {
    static LIMITS: OnceLock<FlowLimits> = OnceLock::new();
    *LIMITS.get_or_init(|| {
        let ms = var("FAKECTP_QUERY_INTERVAL_MS").and_then(|v| v.trim().parse::<u64>().ok());
        let pending =
            var("FAKECTP_MAX_PENDING_QUERIES").and_then(|v| v.trim().parse::<usize>().ok());
        FlowLimits {
            query_interval: Duration::from_millis(ms.unwrap_or(1000)),
            max_pending_queries: pending.unwrap_or(1).max(1),
        }
    })
}

fn start() -> Result<SimBackend, FakeError> {
    init_logging();
    let dir = var("FAKECTP_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("fakectp-{}", std::process::id())));
    let sim = SimBackend::start(config()?, &dir)?;
    if var("FAKECTP_SETTLE").as_deref() == Some("1") {
        let day = sim.settle();
        tracing::info!(trading_day = %day, "fakectp settled the day at start");
    }
    tracing::info!(dir = %dir.display(), flow = ?flow_limits(), "fakectp sim started");
    Ok(sim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_values() {
        let o = parse_outage("2.5, 1").unwrap();
        assert_eq!((o.after_secs, o.for_secs), (2.5, 1.0));
        assert!(parse_outage("3").is_err());
        let a = parse_accounts("u1:pw, u2:").unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[1].password, "");
        assert!(parse_accounts(":x").is_err());
    }
}

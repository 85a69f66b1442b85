//! The config file as written: every key optional, CTP's spelling, unknown keys and
//! values outside their range refused while parsing with the key and the line.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::choices::{BackendKind, ClosedJournals, Durability, LogLevel, ResumeType};
use crate::error::ConfigError;
use crate::sessions_mode::SessionsMode;
use crate::values;

/// The config file as written on disk. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(rename = "Backend")]
    pub backend: Option<BackendKind>,
    #[serde(rename = "Host")]
    pub host: Option<String>,
    #[serde(rename = "Port")]
    pub port: Option<u16>,
    /// Serve `/md/` on its own port (the seed's two-process layout).
    #[serde(rename = "MdPort")]
    pub md_port: Option<u16>,
    /// Serve `/td/` on its own port (the seed's two-process layout).
    #[serde(rename = "TdPort")]
    pub td_port: Option<u16>,
    #[serde(rename = "LogLevel")]
    pub log_level: Option<LogLevel>,
    #[serde(rename = "Token")]
    pub token: Option<String>,
    /// Web pages (origins such as `https://app.example`, or `*`) allowed to open
    /// WebSockets and call the admin endpoints from a browser. Programs send no
    /// Origin and are not affected. Default: none but the gateway's own address.
    #[serde(rename = "AllowedOrigins")]
    pub allowed_origins: Option<Vec<String>>,
    /// Serve `/admin/*` (ending the trading day, dropping the front). Default off.
    #[serde(rename = "AdminEndpoints")]
    pub admin_endpoints: Option<bool>,
    #[serde(rename = "DataDir")]
    pub data_dir: Option<PathBuf>,
    #[serde(rename = "CtpLibDir")]
    pub ctp_lib_dir: Option<PathBuf>,
    /// Redis URL (`redis://host:port/db`) ticks and order events are published to.
    #[serde(rename = "Bus")]
    pub bus: Option<String>,
    /// Redis URL an edge gateway serves `/md/` from, with no CTP session of its own.
    #[serde(rename = "MdFrom")]
    pub md_from: Option<String>,
    #[serde(rename = "TdFrontAddress")]
    pub td_front_address: Option<String>,
    #[serde(rename = "MdFrontAddress")]
    pub md_front_address: Option<String>,
    #[serde(rename = "BrokerID")]
    pub broker_id: Option<String>,
    #[serde(rename = "AuthCode")]
    pub auth_code: Option<String>,
    #[serde(rename = "AppID")]
    pub app_id: Option<String>,
    #[serde(rename = "UserID")]
    pub user_id: Option<String>,
    #[serde(rename = "Password")]
    pub password: Option<String>,
    #[serde(rename = "UserProductInfo")]
    pub user_product_info: Option<String>,
    #[serde(rename = "ResumeType")]
    pub resume_type: Option<ResumeType>,
    #[serde(rename = "AutoConfirmSettlement")]
    pub auto_confirm_settlement: Option<bool>,
    /// Refuse requests with keys webctp does not know (-400), instead of ignoring them
    /// as the Python webctp projects do.
    #[serde(rename = "Strict")]
    pub strict: Option<bool>,
    /// Seconds between the gateway's own `Ping` messages.
    #[serde(
        rename = "HeartbeatInterval",
        default,
        deserialize_with = "values::seconds"
    )]
    pub heartbeat_interval: Option<f64>,
    /// Seconds without a client `Pong` before the client is dropped.
    #[serde(
        rename = "HeartbeatTimeout",
        default,
        deserialize_with = "values::seconds"
    )]
    pub heartbeat_timeout: Option<f64>,
    /// Seconds a login waits for a front that has not connected before the client is
    /// told the front is down (webctp keeps retrying it). Default 3.
    #[serde(rename = "FrontWait", default, deserialize_with = "values::front_wait")]
    pub front_wait: Option<f64>,
    /// Milliseconds between two queries on one native trading session.
    #[serde(rename = "QueryInterval")]
    pub query_interval_ms: Option<u64>,
    #[serde(rename = "Sim")]
    pub sim: Option<SimFileConfig>,
    #[serde(rename = "Limits")]
    pub limits: Option<LimitsFileConfig>,
    #[serde(rename = "Tls")]
    pub tls: Option<TlsConfig>,
}

/// `Sim:` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimFileConfig {
    /// Ticks per second per instrument.
    #[serde(rename = "TickRate", default, deserialize_with = "values::tick_rate")]
    pub tick_rate: Option<f64>,
    /// Funds of an account opened on its first login.
    #[serde(rename = "InitialFunds", default, deserialize_with = "values::funds")]
    pub initial_funds: Option<f64>,
    /// Open an unknown UserID on its first login, as SimNow accounts start.
    #[serde(rename = "AutoOpenAccounts")]
    pub auto_open_accounts: Option<bool>,
    /// Accounts opened automatically per minute, at most.
    #[serde(rename = "AutoOpenPerMinute")]
    pub auto_open_per_minute: Option<u32>,
    /// No account is opened automatically once the sim holds this many.
    #[serde(rename = "AutoOpenMax")]
    pub auto_open_max: Option<usize>,
    #[serde(rename = "Accounts")]
    pub accounts: Option<Vec<SimAccount>>,
    /// `fsync` (default): an order is acknowledged once its journal record is on disk.
    /// `os`: once it is in the operating system's cache (survives a crash of webctp,
    /// not of the machine).
    #[serde(rename = "Durability")]
    pub durability: Option<Durability>,
    /// Seed of the random walk, for reproducible runs.
    #[serde(rename = "Seed")]
    pub seed: Option<u64>,
    /// Settle automatically when the clock passes into the next trading day (18:00
    /// Beijing time, weekends skipped). Off, the day only ends on `settle`.
    #[serde(rename = "AutoSettle")]
    pub auto_settle: Option<bool>,
    /// Put `<generation time in ns since the epoch>:<tick number of the instrument>`
    /// into `reserve2` of every tick, so that a benchmark can measure latency and
    /// count gaps. Off by default.
    #[serde(rename = "StampTicks")]
    pub stamp_ticks: Option<bool>,
    /// Drop the simulated front for a while: `{After: s, For: s}`.
    #[serde(rename = "FrontOutage")]
    pub front_outage: Option<FrontOutage>,
    /// What happens to a trading day's journal once the day has ended and its
    /// snapshot is written: `archive` (default: moved to `sim/archive/`, the audit
    /// trail) or `delete`. Start-up never reads closed days either way.
    #[serde(rename = "ClosedJournals")]
    pub closed_journals: Option<ClosedJournals>,
    /// Start the sim's clock on this date (`2025-12-03`) or moment (`2026-11-25 22:20`);
    /// it then runs at the normal pace. Default: today.
    #[serde(rename = "StartDate", default, deserialize_with = "values::start_date")]
    pub start_date: Option<String>,
    /// `always` (default): ticks and trading around the clock, like SimNow 7x24.
    /// `exchange`: each product only in its own day and night sessions.
    #[serde(rename = "Sessions")]
    pub sessions: Option<SessionsMode>,
    /// A product table to use instead of the built-in one (see config/products.yaml).
    #[serde(rename = "Products")]
    pub products: Option<PathBuf>,
}

/// A pre-configured sim account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimAccount {
    #[serde(rename = "UserID")]
    pub user_id: String,
    #[serde(rename = "Password")]
    pub password: String,
    #[serde(rename = "Funds")]
    pub funds: Option<f64>,
}

/// A scheduled outage of the simulated front.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontOutage {
    #[serde(rename = "After", deserialize_with = "values::outage_seconds")]
    pub after_secs: f64,
    #[serde(rename = "For", deserialize_with = "values::outage_seconds")]
    pub for_secs: f64,
}

/// `Limits:` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFileConfig {
    #[serde(rename = "MaxConnections")]
    pub max_connections: Option<usize>,
    #[serde(rename = "MaxSubscriptionsPerClient")]
    pub max_subscriptions_per_client: Option<usize>,
    #[serde(rename = "RequestsPerSecond")]
    pub requests_per_second: Option<u32>,
    #[serde(
        rename = "MaxFrameBytes",
        default,
        deserialize_with = "values::frame_bytes"
    )]
    pub max_frame_bytes: Option<usize>,
    /// Market data messages queued per client before conflation starts.
    #[serde(rename = "MdQueueDepth")]
    pub md_queue_depth: Option<usize>,
    /// Trading messages queued per client before it is disconnected as too slow.
    #[serde(rename = "TdQueueDepth")]
    pub td_queue_depth: Option<usize>,
    /// Bytes of answers and trading messages queued per client before it is
    /// disconnected as too slow.
    #[serde(
        rename = "TdQueueBytes",
        default,
        deserialize_with = "values::queue_bytes"
    )]
    pub td_queue_bytes: Option<usize>,
    /// Instruments one SubscribeMarketData or UnSubscribeMarketData may name.
    #[serde(rename = "MaxInstrumentsPerRequest")]
    pub max_instruments_per_request: Option<usize>,
    /// Seconds a connection may take to send its upgrade (or any HTTP request).
    #[serde(
        rename = "HandshakeTimeout",
        default,
        deserialize_with = "values::seconds"
    )]
    pub handshake_timeout: Option<f64>,
}

/// `Tls:` section: serve `wss://` with this certificate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    #[serde(rename = "CertFile")]
    pub cert_file: PathBuf,
    #[serde(rename = "KeyFile")]
    pub key_file: PathBuf,
}

impl FileConfig {
    /// Reads and parses a YAML config file. Errors name the file, the key and the line.
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        FileConfig::parse(&text).map_err(|e| e.in_file(path))
    }

    /// Parses YAML text; an empty document is an empty config.
    pub fn parse(text: &str) -> Result<FileConfig, ConfigError> {
        if text.trim().is_empty() {
            return Ok(FileConfig::default());
        }
        yaml_serde::from_str::<Option<FileConfig>>(text)
            .map(Option::unwrap_or_default)
            .map_err(|e| {
                let error_line = e.location().map(|l| l.line());
                let message = match tab_indented_line(text) {
                    // libyaml's words for a tab indent ("found character that cannot
                    // start any token") do not say tab, and on line 1 give no line.
                    Some(line) if error_line.is_none_or(|at| at >= line) => {
                        format!("line {line} is indented with a tab; YAML indents with spaces only")
                    }
                    _ => e.to_string(),
                };
                ConfigError::File {
                    path: None,
                    message,
                }
            })
    }
}

/// The first line (1-based) whose indentation holds a tab.
fn tab_indented_line(text: &str) -> Option<usize> {
    text.lines().enumerate().find_map(|(i, line)| {
        let content = line.trim_start_matches([' ', '\t']);
        let indent = &line[..line.len() - content.len()];
        (indent.contains('\t') && !content.is_empty() && !content.starts_with('#')).then_some(i + 1)
    })
}

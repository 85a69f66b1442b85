//! Configuration: a YAML file with the seed webctp keys, overridden by `WEBCTP_*`
//! environment variables and command-line flags (clap binds each flag to its variable).
//!
//! The file keeps CTP's own spelling (`BrokerID`, `TdFrontAddress`, ...) so that a
//! config written for the Python webctp projects loads unchanged. Unknown keys are an
//! error: a typo such as `BrokerId` would otherwise silently fall back to a default.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use webctp_protocol::clock::StartAt;

mod private_dir;
mod sessions_mode;
pub use private_dir::create_private_dir;
pub use sessions_mode::SessionsMode;

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
    pub log_level: Option<String>,
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
    #[serde(rename = "HeartbeatInterval")]
    pub heartbeat_interval: Option<f64>,
    /// Seconds without a client `Pong` before the client is dropped.
    #[serde(rename = "HeartbeatTimeout")]
    pub heartbeat_timeout: Option<f64>,
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
    #[serde(rename = "TickRate")]
    pub tick_rate: Option<f64>,
    /// Funds of an account opened on its first login.
    #[serde(rename = "InitialFunds")]
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
    #[serde(rename = "StartDate")]
    pub start_date: Option<String>,
    /// `always` (default): ticks and trading around the clock, like SimNow 7x24.
    /// `exchange`: each product only in its own day and night sessions.
    #[serde(rename = "Sessions")]
    pub sessions: Option<SessionsMode>,
    /// A product table to use instead of the built-in one (see config/products.yaml).
    #[serde(rename = "Products")]
    pub products: Option<PathBuf>,
}

/// What to do with closed days' journals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClosedJournals {
    #[default]
    Archive,
    Delete,
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
    #[serde(rename = "After")]
    pub after_secs: f64,
    #[serde(rename = "For")]
    pub for_secs: f64,
}

/// How hard the sim ledger pushes its journal to disk before acknowledging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    #[default]
    Fsync,
    Os,
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
    #[serde(rename = "MaxFrameBytes")]
    pub max_frame_bytes: Option<usize>,
    /// Market data messages queued per client before conflation starts.
    #[serde(rename = "MdQueueDepth")]
    pub md_queue_depth: Option<usize>,
    /// Trading messages queued per client before it is disconnected as too slow.
    #[serde(rename = "TdQueueDepth")]
    pub td_queue_depth: Option<usize>,
    /// Bytes of answers and trading messages queued per client before it is
    /// disconnected as too slow.
    #[serde(rename = "TdQueueBytes")]
    pub td_queue_bytes: Option<usize>,
    /// Instruments one SubscribeMarketData or UnSubscribeMarketData may name.
    #[serde(rename = "MaxInstrumentsPerRequest")]
    pub max_instruments_per_request: Option<usize>,
    /// Seconds a connection may take to send its upgrade (or any HTTP request).
    #[serde(rename = "HandshakeTimeout")]
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

/// Values given on the command line or in the environment; `None` keeps the file's.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub backend: Option<BackendKind>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub log_level: Option<String>,
    pub token: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub ctp_lib_dir: Option<PathBuf>,
    pub td_front_address: Option<String>,
    pub md_front_address: Option<String>,
    pub broker_id: Option<String>,
    pub app_id: Option<String>,
    pub auth_code: Option<String>,
    pub user_id: Option<String>,
    pub password: Option<String>,
    pub tick_rate: Option<f64>,
    /// `Sim.StartDate`.
    pub sim_start_date: Option<String>,
    /// `Sim.Sessions`.
    pub sim_sessions: Option<SessionsMode>,
    /// `Bus`.
    pub bus: Option<String>,
    /// `MdFrom`.
    pub md_from: Option<String>,
}

/// Connection limits with their effective values.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    pub max_subscriptions_per_client: usize,
    pub requests_per_second: u32,
    pub max_frame_bytes: usize,
    pub md_queue_depth: usize,
    pub td_queue_depth: usize,
    pub td_queue_bytes: usize,
    pub max_instruments_per_request: usize,
    pub handshake_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 4096,
            max_subscriptions_per_client: 2000,
            requests_per_second: 1000,
            max_frame_bytes: 1 << 20,
            md_queue_depth: 4096,
            td_queue_depth: 100_000,
            td_queue_bytes: 32 << 20,
            max_instruments_per_request: 2000,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// Sim settings with their effective values.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub tick_rate: f64,
    pub initial_funds: f64,
    pub auto_open_accounts: bool,
    pub auto_open_per_minute: u32,
    pub auto_open_max: usize,
    pub accounts: Vec<SimAccount>,
    pub durability: Durability,
    pub seed: Option<u64>,
    pub stamp_ticks: bool,
    pub auto_settle: bool,
    pub front_outage: Option<FrontOutage>,
    pub closed_journals: ClosedJournals,
    /// Where the sim's clock starts (`None`: now).
    pub start: Option<StartAt>,
    pub sessions: SessionsMode,
    /// A product table file instead of the built-in one.
    pub products: Option<PathBuf>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            tick_rate: 2.0,
            initial_funds: 20_000_000.0,
            auto_open_accounts: true,
            auto_open_per_minute: 60,
            auto_open_max: 1000,
            accounts: Vec::new(),
            durability: Durability::Fsync,
            seed: None,
            stamp_ticks: false,
            auto_settle: true,
            front_outage: None,
            closed_journals: ClosedJournals::Archive,
            start: None,
            sessions: SessionsMode::Always,
            products: None,
        }
    }
}

/// The effective configuration after file, environment and flags are merged.
#[derive(Clone)]
pub struct Config {
    /// The file it came from, if any (for messages).
    pub source: Option<PathBuf>,
    pub backend: BackendKind,
    pub host: String,
    pub port: u16,
    pub md_port: Option<u16>,
    pub td_port: Option<u16>,
    pub log_level: String,
    pub token: Option<String>,
    /// Origins of web pages allowed in (normalized by the server).
    pub allowed_origins: Vec<String>,
    /// Whether `/admin/*` is served.
    pub admin_endpoints: bool,
    pub data_dir: PathBuf,
    pub ctp_lib_dir: Option<PathBuf>,
    /// Redis URL to publish ticks and order events to.
    pub bus: Option<String>,
    /// Redis URL to serve `/md/` from (an edge gateway).
    pub md_from: Option<String>,
    pub td_front_address: Option<String>,
    pub md_front_address: Option<String>,
    pub broker_id: String,
    pub auth_code: Option<String>,
    pub app_id: Option<String>,
    pub user_id: Option<String>,
    pub password: Option<String>,
    pub user_product_info: String,
    pub resume_type: ResumeType,
    pub auto_confirm_settlement: bool,
    /// Unknown request keys are refused (-400) rather than ignored.
    pub strict: bool,
    pub heartbeat_interval: Duration,
    pub heartbeat_timeout: Duration,
    pub query_interval: Duration,
    pub sim: SimConfig,
    pub limits: Limits,
    pub tls: Option<TlsConfig>,
}

// Passwords and tokens must never reach a log line, so Debug is written by hand.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("source", &self.source)
            .field("backend", &self.backend)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("md_port", &self.md_port)
            .field("td_port", &self.td_port)
            .field("data_dir", &self.data_dir)
            .field("td_front_address", &self.td_front_address)
            .field("md_front_address", &self.md_front_address)
            .field("broker_id", &self.broker_id)
            .field("user_id", &self.user_id)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

/// A configuration problem, worded for the person who wrote the file.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl FileConfig {
    /// Reads and parses a YAML config file. Errors name the file, the key and the line.
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
        FileConfig::parse(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))
    }

    /// Parses YAML text; an empty document is an empty config.
    pub fn parse(text: &str) -> Result<FileConfig, String> {
        if text.trim().is_empty() {
            return Ok(FileConfig::default());
        }
        yaml_serde::from_str::<Option<FileConfig>>(text)
            .map(Option::unwrap_or_default)
            .map_err(|e| e.to_string())
    }
}

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

fn seconds(value: Option<f64>, default: f64, key: &str) -> Result<Duration, ConfigError> {
    let v = value.unwrap_or(default);
    Duration::try_from_secs_f64(v)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            ConfigError(format!(
                "{key} must be a positive number of seconds, got {v}"
            ))
        })
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

impl Config {
    /// Merges a parsed file (or none) with overrides into the effective configuration.
    pub fn resolve(
        file: FileConfig,
        source: Option<PathBuf>,
        o: Overrides,
    ) -> Result<Config, ConfigError> {
        let bus = non_empty(o.bus.or(file.bus));
        let md_from = non_empty(o.md_from.or(file.md_from));
        if bus.is_some() && md_from.is_some() {
            return Err(ConfigError(
                "Bus and MdFrom cannot both be set: an edge gateway (MdFrom) reads the bus, the ingest gateway (Bus) writes it"
                    .into(),
            ));
        }
        let td_front_address = non_empty(o.td_front_address.or(file.td_front_address));
        let md_front_address = non_empty(o.md_front_address.or(file.md_front_address));
        let fronts_configured = td_front_address.is_some() || md_front_address.is_some();
        let backend = o.backend.or(file.backend).unwrap_or(if fronts_configured {
            BackendKind::Native
        } else {
            BackendKind::Sim
        });
        if backend == BackendKind::Native && !fronts_configured {
            return Err(ConfigError(
                "the native backend needs TdFrontAddress and MdFrontAddress (see config/simnow-7x24.yaml)"
                    .into(),
            ));
        }
        let sim_file = file.sim.unwrap_or_default();
        let defaults = SimConfig::default();
        let start = match non_empty(o.sim_start_date.or(sim_file.start_date)) {
            None => None,
            Some(text) => Some(StartAt::parse(&text).ok_or_else(|| {
                ConfigError(format!(
                    "Sim.StartDate `{text}` is not a date like 2025-12-03 or a moment like 2026-11-25 22:20"
                ))
            })?),
        };
        let sim = SimConfig {
            tick_rate: o
                .tick_rate
                .or(sim_file.tick_rate)
                .unwrap_or(defaults.tick_rate),
            initial_funds: sim_file.initial_funds.unwrap_or(defaults.initial_funds),
            auto_open_accounts: sim_file
                .auto_open_accounts
                .unwrap_or(defaults.auto_open_accounts),
            auto_open_per_minute: sim_file
                .auto_open_per_minute
                .unwrap_or(defaults.auto_open_per_minute),
            auto_open_max: sim_file.auto_open_max.unwrap_or(defaults.auto_open_max),
            accounts: sim_file.accounts.unwrap_or_default(),
            durability: sim_file.durability.unwrap_or_default(),
            seed: sim_file.seed,
            stamp_ticks: sim_file.stamp_ticks.unwrap_or(false),
            auto_settle: sim_file.auto_settle.unwrap_or(true),
            front_outage: sim_file.front_outage,
            closed_journals: sim_file.closed_journals.unwrap_or_default(),
            start,
            sessions: o
                .sim_sessions
                .or(sim_file.sessions)
                .unwrap_or(defaults.sessions),
            products: sim_file.products,
        };
        if !(sim.tick_rate.is_finite() && sim.tick_rate >= 0.0 && sim.tick_rate <= 1_000_000.0) {
            return Err(ConfigError(format!(
                "Sim.TickRate must be between 0 and 1000000 ticks per second, got {}",
                sim.tick_rate
            )));
        }
        if !(sim.initial_funds.is_finite() && sim.initial_funds >= 0.0) {
            return Err(ConfigError(
                "Sim.InitialFunds must be a non-negative amount".into(),
            ));
        }
        let lf = file.limits.unwrap_or_default();
        let ld = Limits::default();
        let limits = Limits {
            max_connections: lf.max_connections.unwrap_or(ld.max_connections),
            max_subscriptions_per_client: lf
                .max_subscriptions_per_client
                .unwrap_or(ld.max_subscriptions_per_client),
            requests_per_second: lf.requests_per_second.unwrap_or(ld.requests_per_second),
            max_frame_bytes: lf.max_frame_bytes.unwrap_or(ld.max_frame_bytes),
            md_queue_depth: lf.md_queue_depth.unwrap_or(ld.md_queue_depth).max(1),
            td_queue_depth: lf.td_queue_depth.unwrap_or(ld.td_queue_depth).max(16),
            td_queue_bytes: lf.td_queue_bytes.unwrap_or(ld.td_queue_bytes),
            max_instruments_per_request: lf
                .max_instruments_per_request
                .unwrap_or(ld.max_instruments_per_request)
                .max(1),
            handshake_timeout: seconds(
                lf.handshake_timeout,
                ld.handshake_timeout.as_secs_f64(),
                "Limits.HandshakeTimeout",
            )?,
        };
        if limits.td_queue_bytes < 64 * 1024 {
            return Err(ConfigError(
                "Limits.TdQueueBytes must be at least 65536".into(),
            ));
        }
        if limits.max_frame_bytes < 1024 {
            return Err(ConfigError(
                "Limits.MaxFrameBytes must be at least 1024".into(),
            ));
        }
        let heartbeat_interval = seconds(file.heartbeat_interval, 30.0, "HeartbeatInterval")?;
        let heartbeat_timeout = seconds(file.heartbeat_timeout, 60.0, "HeartbeatTimeout")?;
        Ok(Config {
            source,
            backend,
            host: o.host.or(file.host).unwrap_or_else(|| "127.0.0.1".into()),
            port: o.port.or(file.port).unwrap_or(8080),
            md_port: file.md_port,
            td_port: file.td_port,
            log_level: o
                .log_level
                .or(file.log_level)
                .unwrap_or_else(|| "info".into()),
            token: non_empty(o.token.or(file.token)),
            allowed_origins: file.allowed_origins.unwrap_or_default(),
            admin_endpoints: file.admin_endpoints.unwrap_or(false),
            data_dir: o
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(default_data_dir),
            ctp_lib_dir: o.ctp_lib_dir.or(file.ctp_lib_dir),
            bus,
            md_from,
            td_front_address,
            md_front_address,
            broker_id: o
                .broker_id
                .or(file.broker_id)
                .unwrap_or_else(|| "9999".into()),
            auth_code: non_empty(o.auth_code.or(file.auth_code)),
            app_id: non_empty(o.app_id.or(file.app_id)),
            user_id: non_empty(o.user_id.or(file.user_id)),
            password: non_empty(o.password.or(file.password)),
            user_product_info: file.user_product_info.unwrap_or_else(|| "webctp".into()),
            resume_type: file.resume_type.unwrap_or_default(),
            auto_confirm_settlement: file.auto_confirm_settlement.unwrap_or(true),
            strict: file.strict.unwrap_or(false),
            heartbeat_interval,
            heartbeat_timeout,
            query_interval: Duration::from_millis(file.query_interval_ms.unwrap_or(1000)),
            sim,
            limits,
            tls: file.tls,
        })
    }

    /// The secrets of this configuration (token, passwords, AuthCode), which no log
    /// line may show.
    pub fn secrets(&self) -> Vec<String> {
        let mut out: Vec<String> = [&self.token, &self.password, &self.auth_code]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        out.extend(self.sim.accounts.iter().map(|a| a.password.clone()));
        out
    }

    /// The configuration used when nothing is given: the sim on 127.0.0.1:8080.
    pub fn sim_default() -> Config {
        // Resolving an empty file with no overrides cannot fail.
        Config::resolve(FileConfig::default(), None, Overrides::default())
            .unwrap_or_else(|e| unreachable!("default config is valid: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_keys_parse() {
        let f = FileConfig::parse(
            "TdFrontAddress: tcp://182.254.243.31:40001\nMdFrontAddress: tcp://182.254.243.31:40011\nBrokerID: \"9999\"\nAuthCode: \"0000000000000000\"\nAppID: simnow_client_test\nPort: 8081\nHost: 0.0.0.0\nLogLevel: INFO\n",
        )
        .unwrap();
        let c = Config::resolve(f, None, Overrides::default()).unwrap();
        assert_eq!(c.backend, BackendKind::Native);
        assert_eq!(c.port, 8081);
        assert_eq!(c.broker_id, "9999");
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let err = FileConfig::parse("Port: 8080\nBrokerId: \"9999\"\n").unwrap_err();
        assert!(err.contains("BrokerId"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn wrong_type_is_named() {
        let err = FileConfig::parse("Port: eighty\n").unwrap_err();
        assert!(err.contains("Port"), "{err}");
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn empty_file_is_the_sim() {
        let c =
            Config::resolve(FileConfig::parse("").unwrap(), None, Overrides::default()).unwrap();
        assert_eq!(c.backend, BackendKind::Sim);
        assert_eq!(c.port, 8080);
        assert_eq!(c.sim.tick_rate, 2.0);
    }

    #[test]
    fn overrides_win() {
        let f = FileConfig::parse("Port: 9000\nHost: 0.0.0.0\n").unwrap();
        let o = Overrides {
            port: Some(9100),
            ..Default::default()
        };
        let c = Config::resolve(f, None, o).unwrap();
        assert_eq!(c.port, 9100);
        assert_eq!(c.host, "0.0.0.0");
    }

    #[test]
    fn shipped_configs_parse() {
        for (name, text) in [
            ("sim.yaml", include_str!("../../../config/sim.yaml")),
            (
                "simnow-7x24.yaml",
                include_str!("../../../config/simnow-7x24.yaml"),
            ),
            (
                "simnow-standard.yaml",
                include_str!("../../../config/simnow-standard.yaml"),
            ),
        ] {
            let f = FileConfig::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            Config::resolve(f, None, Overrides::default())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn sim_start_date_and_sessions() {
        let f = FileConfig::parse("Sim: {StartDate: 2025-12-03, Sessions: exchange}\n").unwrap();
        let c = Config::resolve(f, None, Overrides::default()).unwrap();
        assert_eq!(
            c.sim
                .start
                .map(|s| webctp_protocol::clock::date_string(s.day)),
            Some("20251203".into())
        );
        assert_eq!(c.sim.sessions, SessionsMode::Exchange);
        assert_eq!(Config::sim_default().sim.sessions, SessionsMode::Always);
        let f = FileConfig::parse("Sim: {StartDate: soon}\n").unwrap();
        let e = Config::resolve(f, None, Overrides::default()).unwrap_err();
        assert!(e.0.contains("Sim.StartDate") && e.0.contains("soon"), "{e}");
        let f = FileConfig::parse("Sim: {Sessions: weekdays}\n").unwrap_err();
        assert!(f.contains("weekdays"), "{f}");
        // The flag (or WEBCTP_SIM_START_DATE) wins over the file.
        let f = FileConfig::parse("Sim: {StartDate: 2025-12-03}\n").unwrap();
        let o = Overrides {
            sim_start_date: Some("2026-12-25".into()),
            ..Default::default()
        };
        let c = Config::resolve(f, None, o).unwrap();
        assert_eq!(
            c.sim
                .start
                .map(|s| webctp_protocol::clock::date_string(s.day)),
            Some("20261225".into())
        );
    }

    #[test]
    fn debug_hides_secrets() {
        let o = Overrides {
            password: Some("hunter2".into()),
            token: Some("s3cret".into()),
            ..Default::default()
        };
        let c = Config::resolve(FileConfig::default(), None, o).unwrap();
        let s = format!("{c:?}");
        assert!(!s.contains("hunter2") && !s.contains("s3cret"), "{s}");
    }
}

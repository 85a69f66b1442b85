//! The effective configuration: every setting with its value after the file, the
//! environment and the flags are merged (see [`crate::resolve`]).

use std::path::PathBuf;
use std::time::Duration;

use webctp_protocol::clock::StartAt;

use crate::choices::{BackendKind, ClosedJournals, Durability, LogLevel, ResumeType};
use crate::file::{FileConfig, FrontOutage, SimAccount, TlsConfig};
use crate::resolve::Overrides;
use crate::sessions_mode::SessionsMode;

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
    pub log_level: LogLevel,
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
    /// How long a login waits for a front that has not connected before the client is
    /// told the front is down (`FrontWait`, default 3 s).
    pub front_wait: Duration,
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

impl Config {
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

//! Merging: the file's values, overridden by environment variables and flags.
//!
//! A port given as a flag or variable (`--port`, `WEBCTP_PORT`) serves both `/md/`
//! and `/td/` and replaces the file's `MdPort`/`TdPort`: flags override the file, and
//! a layout half from the file and half from the command line would surprise.

use std::path::PathBuf;
use std::time::Duration;

use webctp_protocol::clock::StartAt;

use crate::choices::{BackendKind, LogLevel};
use crate::effective::{Config, Limits, SimConfig};
use crate::error::ConfigError;
use crate::file::{FileConfig, LimitsFileConfig, SimFileConfig};
use crate::sessions_mode::SessionsMode;
use crate::values;

/// Values given on the command line or in the environment; `None` keeps the file's.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub backend: Option<BackendKind>,
    pub host: Option<String>,
    /// Serves both `/md/` and `/td/`, replacing the file's `MdPort`/`TdPort`.
    pub port: Option<u16>,
    /// Checked against [`LogLevel::ALLOWED`] when resolved.
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
            return Err(ConfigError::Conflict(
                "Bus and MdFrom cannot both be set: an edge gateway (MdFrom) reads the bus, the ingest gateway (Bus) writes it",
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
            return Err(ConfigError::Conflict(
                "the native backend needs TdFrontAddress and MdFrontAddress (see config/simnow-7x24.yaml)",
            ));
        }
        let log_level = match o.log_level {
            Some(text) => LogLevel::parse(&text).ok_or_else(|| ConfigError::Value {
                key: "--log-level (or WEBCTP_LOG_LEVEL)".into(),
                problem: LogLevel::refusal(&text),
            })?,
            None => file.log_level.unwrap_or_default(),
        };
        let sim = sim_config(
            file.sim.unwrap_or_default(),
            &o.sim_start_date,
            o.tick_rate,
            o.sim_sessions,
        )?;
        let limits = limits(file.limits.unwrap_or_default())?;
        let heartbeat_interval = seconds(file.heartbeat_interval, 30.0, "HeartbeatInterval")?;
        let heartbeat_timeout = seconds(file.heartbeat_timeout, 60.0, "HeartbeatTimeout")?;
        let front_wait = Duration::from_secs_f64(file.front_wait.unwrap_or(3.0));
        // A port from the command line or the environment serves both endpoints.
        let (md_port, td_port) = match o.port {
            Some(_) => (None, None),
            None => (file.md_port, file.td_port),
        };
        Ok(Config {
            source,
            backend,
            host: o.host.or(file.host).unwrap_or_else(|| "127.0.0.1".into()),
            port: o.port.or(file.port).unwrap_or(8080),
            md_port,
            td_port,
            log_level,
            token: non_empty(o.token.or(file.token)),
            allowed_origins: file.allowed_origins.unwrap_or_default(),
            admin_endpoints: file.admin_endpoints.unwrap_or(false),
            data_dir: o
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(crate::default_data_dir),
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
            front_wait,
            query_interval: Duration::from_millis(file.query_interval_ms.unwrap_or(1000)),
            sim,
            limits,
            tls: file.tls,
        })
    }
}

/// The `Sim:` section with the flags that override it.
fn sim_config(
    sim_file: SimFileConfig,
    start_flag: &Option<String>,
    tick_rate_flag: Option<f64>,
    sessions_flag: Option<SessionsMode>,
) -> Result<SimConfig, ConfigError> {
    let defaults = SimConfig::default();
    let start_key = if non_empty(start_flag.clone()).is_some() {
        "--start-date (or WEBCTP_SIM_START_DATE)"
    } else {
        "Sim.StartDate"
    };
    let start = match non_empty(start_flag.clone().or(sim_file.start_date)) {
        None => None,
        Some(text) => Some(StartAt::parse(&text).ok_or_else(|| ConfigError::Value {
            key: start_key.into(),
            problem: values::start_date_problem(&text).unwrap_or_default(),
        })?),
    };
    let tick_rate = tick_rate_flag
        .or(sim_file.tick_rate)
        .unwrap_or(defaults.tick_rate);
    if let Some(problem) = values::tick_rate_problem(tick_rate) {
        let key = if tick_rate_flag.is_some() {
            "--tick-rate (or WEBCTP_TICK_RATE)"
        } else {
            "Sim.TickRate"
        };
        return Err(ConfigError::Value {
            key: key.into(),
            problem,
        });
    }
    let initial_funds = sim_file.initial_funds.unwrap_or(defaults.initial_funds);
    if let Some(problem) = values::funds_problem(initial_funds) {
        return Err(ConfigError::Value {
            key: "Sim.InitialFunds".into(),
            problem,
        });
    }
    Ok(SimConfig {
        tick_rate,
        initial_funds,
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
        sessions: sessions_flag
            .or(sim_file.sessions)
            .unwrap_or(defaults.sessions),
        products: sim_file.products,
    })
}

/// The `Limits:` section.
fn limits(lf: LimitsFileConfig) -> Result<Limits, ConfigError> {
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
    for (key, problem) in [
        (
            "Limits.TdQueueBytes",
            values::queue_bytes_problem(limits.td_queue_bytes),
        ),
        (
            "Limits.MaxFrameBytes",
            values::frame_bytes_problem(limits.max_frame_bytes),
        ),
    ] {
        if let Some(problem) = problem {
            return Err(ConfigError::Value {
                key: key.into(),
                problem,
            });
        }
    }
    Ok(limits)
}

fn seconds(value: Option<f64>, default: f64, key: &str) -> Result<Duration, ConfigError> {
    let v = value.unwrap_or(default);
    match values::seconds_problem(v) {
        Some(problem) => Err(ConfigError::Value {
            key: key.into(),
            problem,
        }),
        None => Ok(Duration::from_secs_f64(v)),
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

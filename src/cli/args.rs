//! Command-line arguments. Every option can also come from a `WEBCTP_*` variable;
//! flags win over variables, which win over the config file.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{BackendKind, Overrides, SessionsMode};

/// webctp: a CTP futures gateway (WebSocket JSON, webctp-compatible) and a trading
/// terminal. With no front configured it runs against an embedded simulated exchange.
#[derive(Debug, Parser)]
#[command(name = "webctp", version = crate::build_info::LONG_VERSION, about, long_about = None)]
#[command(
    after_help = "Examples:\n  webctp                         gateway on 127.0.0.1:8080 + interactive terminal (sim)\n  webctp serve --port 9000       gateway only\n  webctp attach                  terminal on the running gateway (127.0.0.1:8080)\n  webctp exec positions --json   one command, then exit\n  webctp exec buy rb2605 1 @3170\n  webctp --config config/simnow-7x24.yaml   SimNow via the official CTP libraries"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Open the terminal without serving /md/ and /td/.
    #[arg(long)]
    pub no_server: bool,
}

/// Options shared by every command.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// YAML config file (keys as in webctp: TdFrontAddress, MdFrontAddress, BrokerID, ...).
    #[arg(short, long, env = "WEBCTP_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "WEBCTP_HOST", global = true, help_heading = "Gateway")]
    pub host: Option<String>,
    /// Port serving /md/ and /td/ (0 picks a free port); replaces the file's
    /// MdPort/TdPort.
    #[arg(
        short,
        long,
        env = "WEBCTP_PORT",
        global = true,
        help_heading = "Gateway"
    )]
    pub port: Option<u16>,
    /// Access token clients must present (Authorization: Bearer, or ?token=).
    #[arg(
        long,
        env = "WEBCTP_TOKEN",
        global = true,
        hide_env_values = true,
        help_heading = "Gateway"
    )]
    pub token: Option<String>,
    /// Publish ticks and order events to Redis (`redis://host:port/db`; docs/scaling.md).
    #[arg(
        long,
        env = "WEBCTP_BUS",
        global = true,
        value_name = "REDIS_URL",
        help_heading = "Gateway"
    )]
    pub bus: Option<String>,
    /// Serve /md/ from a Redis bus another gateway publishes to: an edge gateway, with no
    /// CTP session of its own and no trading.
    #[arg(
        long,
        env = "WEBCTP_MD_FROM",
        global = true,
        value_name = "REDIS_URL",
        help_heading = "Gateway"
    )]
    pub md_from: Option<String>,
    /// `sim` (embedded exchange) or `native` (official CTP libraries).
    #[arg(
        long,
        env = "WEBCTP_BACKEND",
        global = true,
        value_enum,
        help_heading = "Backend"
    )]
    pub backend: Option<BackendKind>,
    /// Where the sim keeps its ledger and native flow files live.
    #[arg(
        long,
        env = "WEBCTP_DATA_DIR",
        global = true,
        value_name = "DIR",
        help_heading = "Backend"
    )]
    pub data_dir: Option<PathBuf>,
    /// Directory holding libthostmduserapi_se.so and libthosttraderapi_se.so.
    #[arg(
        long,
        env = "WEBCTP_CTP_LIB_DIR",
        global = true,
        value_name = "DIR",
        help_heading = "Backend"
    )]
    pub ctp_lib_dir: Option<PathBuf>,
    /// Trading front, e.g. tcp://182.254.243.31:40001.
    #[arg(
        long,
        env = "WEBCTP_TD_FRONT",
        global = true,
        value_name = "ADDR",
        help_heading = "Backend"
    )]
    pub td_front: Option<String>,
    /// Market-data front, e.g. tcp://182.254.243.31:40011.
    #[arg(
        long,
        env = "WEBCTP_MD_FRONT",
        global = true,
        value_name = "ADDR",
        help_heading = "Backend"
    )]
    pub md_front: Option<String>,
    #[arg(
        long,
        env = "WEBCTP_BROKER_ID",
        global = true,
        help_heading = "Backend"
    )]
    pub broker_id: Option<String>,
    #[arg(long, env = "WEBCTP_APP_ID", global = true, help_heading = "Backend")]
    pub app_id: Option<String>,
    #[arg(
        long,
        env = "WEBCTP_AUTH_CODE",
        global = true,
        hide_env_values = true,
        help_heading = "Backend"
    )]
    pub auth_code: Option<String>,
    /// Sim ticks per second per instrument (default 2).
    #[arg(
        long,
        env = "WEBCTP_TICK_RATE",
        global = true,
        help_heading = "Backend"
    )]
    pub tick_rate: Option<f64>,
    /// Sim clock start: a date (2025-12-03) or a moment (2026-11-25 22:20); default today.
    #[arg(
        long,
        env = "WEBCTP_SIM_START_DATE",
        global = true,
        value_name = "DATE",
        help_heading = "Backend"
    )]
    pub start_date: Option<String>,
    /// Sim trading hours: `always` (default, like SimNow 7x24) or `exchange`.
    #[arg(
        long,
        env = "WEBCTP_SIM_SESSIONS",
        global = true,
        value_enum,
        help_heading = "Backend"
    )]
    pub sessions: Option<SessionsMode>,
    /// Account for `login` and `exec`.
    #[arg(
        short,
        long,
        env = "WEBCTP_USER",
        global = true,
        help_heading = "Account"
    )]
    pub user: Option<String>,
    /// Password for `login` and `exec` (prefer the variable: flags show up in `ps`).
    #[arg(
        long,
        env = "WEBCTP_PASSWORD",
        global = true,
        hide_env_values = true,
        help_heading = "Account"
    )]
    pub password: Option<String>,
    /// error, warn, info, debug or trace.
    #[arg(long, env = "WEBCTP_LOG_LEVEL", global = true, help_heading = "Output")]
    pub log_level: Option<String>,
    /// Print protocol JSON instead of tables.
    #[arg(long, global = true, help_heading = "Output")]
    pub json: bool,
}

impl GlobalArgs {
    /// The values that override the config file.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            backend: self.backend,
            host: self.host.clone(),
            port: self.port,
            log_level: self.log_level.clone(),
            token: self.token.clone(),
            data_dir: self.data_dir.clone(),
            ctp_lib_dir: self.ctp_lib_dir.clone(),
            td_front_address: self.td_front.clone(),
            md_front_address: self.md_front.clone(),
            broker_id: self.broker_id.clone(),
            app_id: self.app_id.clone(),
            auth_code: self.auth_code.clone(),
            user_id: self.user.clone(),
            password: self.password.clone(),
            tick_rate: self.tick_rate,
            sim_start_date: self.start_date.clone(),
            sim_sessions: self.sessions,
            bus: self.bus.clone(),
            md_from: self.md_from.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway only (no terminal).
    Serve,
    /// Run one terminal command and exit (`-` reads commands from stdin, one per line).
    Exec(ExecArgs),
    /// Open the terminal on a running gateway over WebSockets (it keeps running when
    /// you leave).
    Attach(AttachArgs),
    /// Load-test a sim gateway over WebSockets (see docs/performance.md).
    #[command(subcommand)]
    Bench(crate::bench::BenchCommand),
    /// Inspect or repair the sim's ledger (in DATA_DIR/sim) without starting the gateway.
    #[command(subcommand)]
    Ledger(LedgerCommand),
}

/// `webctp ledger`.
#[derive(Debug, Clone, Subcommand)]
pub enum LedgerCommand {
    /// Read the ledger as a start would and report records, days, accounts and any
    /// damage (exit 1 if a start would be refused). Changes nothing.
    Check,
    /// Drop everything from OFFSET on in a damaged journal (as `check` reports it),
    /// after copying the file to DATA_DIR/sim/repair/. Records after OFFSET are lost.
    Repair {
        /// Where to cut: the byte where a record starts (the damage offset `check` names).
        #[arg(long, value_name = "OFFSET")]
        truncate_at: u64,
        /// The journal to repair (a file name in DATA_DIR/sim); default: the last one.
        #[arg(long, value_name = "NAME")]
        file: Option<String>,
    },
}

/// `webctp attach`.
#[derive(Debug, Clone, Args)]
pub struct AttachArgs {
    /// The gateway, e.g. ws://127.0.0.1:8080 (default: this config's Host and Port).
    #[arg(long, value_name = "WS_URL")]
    pub url: Option<String>,
}

/// `webctp exec`.
#[derive(Debug, Clone, Args)]
pub struct ExecArgs {
    /// Talk to a running gateway instead of starting the backend in-process.
    #[arg(long, value_name = "WS_URL")]
    pub url: Option<String>,
    /// Seconds to wait for an order to reach a final state (or any answer).
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub wait: f64,
    /// The command and its arguments, e.g. `buy rb2605 1 @3170`; `-` reads stdin.
    #[arg(required = true, num_args = 1..)]
    pub command: Vec<String>,
}

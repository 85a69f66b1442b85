//! The command line: `webctp` (gateway + terminal), `webctp serve`, `webctp exec`.

pub mod args;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use crate::config::{Config, ConfigError, FileConfig};
use crate::ctp;
use crate::gateway::Dispatcher;
use crate::server;

use self::args::{Cli, Command, GlobalArgs};

/// Loads the config file (if any) and applies environment and flags.
pub fn load_config(g: &GlobalArgs) -> Result<Config, ConfigError> {
    let (file, source) = match &g.config {
        Some(path) => (FileConfig::load(path)?, Some(path.clone())),
        None => (FileConfig::default(), None),
    };
    Config::resolve(file, source, g.overrides())
}

/// Sends logs to stderr at the configured level (`RUST_LOG` refines it).
fn init_logging(level: &str) {
    use tracing_subscriber::EnvFilter;
    let level = match level.to_ascii_lowercase().as_str() {
        "warning" | "warn" => "warn".to_string(),
        "critical" | "fatal" => "error".to_string(),
        "notset" => "trace".to_string(),
        other => other.to_string(),
    };
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| EnvFilter::try_new(format!("webctp={level},warp=warn,{level}")))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Resolves when SIGINT or SIGTERM arrives.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// Starts the backend and the dispatcher.
pub fn start_dispatcher(config: Config) -> Result<Arc<Dispatcher>, String> {
    let backend = ctp::open(&config).map_err(|e| e.to_string())?;
    Dispatcher::start(config, backend).map_err(|e| e.to_string())
}

async fn serve(config: Config) -> Result<(), String> {
    if config.token.is_none() && !is_loopback(&config.host) {
        tracing::warn!(
            host = %config.host,
            "listening on a non-loopback address without a Token: anyone who can reach this port can trade"
        );
    }
    let dispatcher = start_dispatcher(config)?;
    let (listeners, bound) = server::bind(&dispatcher).await.map_err(|e| e.to_string())?;
    let d = &dispatcher;
    // One stable line on stdout, for people and for scripts waiting for readiness.
    println!(
        "webctp {} gateway ({}) on ws://{}/md/ and ws://{}/td/",
        env!("CARGO_PKG_VERSION"),
        d.backend.name(),
        bound.md,
        bound.td
    );
    tracing::info!(
        backend = d.backend.name(),
        version = %d.backend.version(),
        "webctp gateway listening on ws://{}/md/ and ws://{}/td/",
        bound.md,
        bound.td
    );
    server::serve(dispatcher.clone(), listeners, shutdown_signal()).await;
    tracing::info!("stopped");
    Ok(())
}

/// Whether a listen address only accepts local connections.
pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match load_config(&cli.global) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("webctp: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("webctp: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Some(Command::Serve) | None => serve(config).await,
            Some(Command::Exec(_)) => Err("exec is not available yet".to_string()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("webctp: {e}");
            ExitCode::FAILURE
        }
    }
}

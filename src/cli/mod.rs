//! The command line: `webctp` (gateway + terminal), `webctp serve`, `webctp exec`.
//!
//! The terminal turns typed commands ([`commands`]) into the same JSON requests as
//! WebSocket clients send, through the same dispatcher ([`link`]), and draws the
//! answers ([`render`]); [`session`] matches answers to commands.

pub mod advertise;
pub mod args;
pub mod commands;
pub mod error;
pub mod exec;
pub mod help;
pub mod ledger;
pub mod link;
pub mod live;
pub mod render;
pub mod repl;
pub mod session;
pub mod table;
pub mod tty;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use crate::config::{Config, ConfigError, FileConfig};
use crate::ctp;
use crate::gateway::Dispatcher;
use crate::server;

use self::args::{Cli, Command, GlobalArgs};
use self::error::{CliError, Result};

/// Loads the config file (if any) and applies environment and flags.
pub fn load_config(g: &GlobalArgs) -> std::result::Result<Config, ConfigError> {
    let (file, source) = match &g.config {
        Some(path) => (FileConfig::load(path)?, Some(path.clone())),
        None => (FileConfig::default(), None),
    };
    Config::resolve(file, source, g.overrides())
}

/// Where logs go.
enum LogTo {
    Stderr,
    /// A file (the terminal owns the screen); warnings are also printed.
    File(std::path::PathBuf, Arc<repl::ReplPrinter>),
}

fn log_filter(level: &str) -> tracing_subscriber::EnvFilter {
    use tracing_subscriber::EnvFilter;
    let level = match level.to_ascii_lowercase().as_str() {
        "warning" | "warn" => "warn".to_string(),
        "critical" | "fatal" => "error".to_string(),
        "notset" => "trace".to_string(),
        other => other.to_string(),
    };
    // Other crates log at most at info: their debug and trace output can contain frame
    // payloads, and with them passwords.
    let others = match level.as_str() {
        "trace" | "debug" => "info",
        other => other,
    };
    EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| EnvFilter::try_new(format!("webctp={level},warp=warn,{others}")))
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// A log writer that hands each line to the terminal's printer.
#[derive(Clone)]
struct PrinterWriter(Arc<repl::ReplPrinter>);

impl std::io::Write for PrinterWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use session::Printer;
        let text = String::from_utf8_lossy(buf);
        self.0.print(text.trim_end());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Opens the terminal's log file (its directory private to the user), or says why
/// it cannot be written.
fn open_log_file(path: &std::path::Path) -> Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        crate::config::create_private_dir(dir).map_err(|source| CliError::LogDir {
            dir: dir.to_path_buf(),
            source,
        })?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| CliError::LogFile {
            path: path.to_path_buf(),
            source,
        })
}

/// Starts logging at the configured level (`RUST_LOG` refines it). Whatever the
/// filter, other crates log at most at debug, and every line goes through
/// [`crate::logsafe`]: secrets redacted, control characters escaped.
fn init_logging(level: &str, to: LogTo) {
    use crate::logsafe::{MakeSafe, allowed};
    use tracing_subscriber::Layer;
    use tracing_subscriber::filter::{FilterExt, filter_fn};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let ceiling = || filter_fn(allowed);
    match to {
        // Under systemd, journald stamps each line itself.
        LogTo::Stderr if std::env::var_os("JOURNAL_STREAM").is_some() => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(log_filter(level))
                .with_writer(std::io::stderr)
                .with_target(false)
                .with_ansi(false)
                .without_time()
                .try_init();
        }
        LogTo::Stderr => {
            let layer = tracing_subscriber::fmt::layer()
                .with_writer(MakeSafe(std::io::stderr))
                .with_target(false)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_filter(log_filter(level).and(ceiling()));
            let _ = tracing_subscriber::registry().with(layer).try_init();
        }
        LogTo::File(path, printer) => {
            let file = match open_log_file(&path) {
                Ok(f) => Some(f),
                Err(e) => {
                    // Said on the screen: a log that silently goes nowhere is lost
                    // exactly when it is needed.
                    use session::Printer;
                    printer.print(&format!(
                        "warning: {e}; this session's log is not kept (warnings still show here)"
                    ));
                    None
                }
            };
            let warn_layer = tracing_subscriber::fmt::layer()
                .with_writer(MakeSafe(move || PrinterWriter(printer.clone())))
                .with_target(false)
                .without_time()
                .with_ansi(false)
                .with_filter(tracing_subscriber::filter::LevelFilter::WARN.and(ceiling()));
            let file_layer = file.map(|f| {
                tracing_subscriber::fmt::layer()
                    .with_writer(MakeSafe(Arc::new(f)))
                    .with_ansi(false)
                    .with_target(false)
                    .with_filter(log_filter(level).and(ceiling()))
            });
            let _ = tracing_subscriber::registry()
                .with(file_layer)
                .with(warn_layer)
                .try_init();
        }
    }
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

/// SIGHUP would end the process by default; a service manager's `reload` sends it. The
/// gateway cannot swap its config under live sessions, so it says so instead.
#[cfg(unix)]
async fn explain_sighup() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        tracing::warn!(
            "SIGHUP received: webctp does not re-read its config while running; restart it to apply changes (systemctl restart webctp)"
        );
    }
}

/// Starts the backend and the dispatcher.
pub fn start_dispatcher(config: Config) -> Result<Arc<Dispatcher>> {
    let data_dir = config.data_dir.clone();
    let backend = ctp::open(&config)?;
    // The directory is ours now: what an earlier holder advertised is stale.
    advertise::clear(&data_dir);
    Ok(Dispatcher::start(config, backend)?)
}

/// `webctp`: the gateway (unless `--no-server`) and the terminal in one process.
async fn terminal(
    config: Config,
    serve_too: bool,
    json: bool,
    printer: Arc<repl::ReplPrinter>,
) -> Result<()> {
    // Ctrl-C abandons the command in progress, never the process: the gateway may be
    // serving clients from it. `quit` or Ctrl-D leaves.
    let interrupts = repl::Interrupts::install();
    let history = repl::history_path(&config.data_dir);
    if serve_too {
        warn_if_open(&config);
    }
    let dispatcher = start_dispatcher(config)?;
    let mut banner = format!(
        "webctp {} on the {} backend ({})",
        crate::build_info::LONG_VERSION,
        dispatcher.backend.name(),
        dispatcher.backend.version()
    );
    if let Some(about) = dispatcher.backend.describe() {
        banner.push('\n');
        banner.push_str(&about);
    }
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = if serve_too {
        let (listeners, bound) = server::bind(&dispatcher).await.map_err(CliError::Listen)?;
        let scheme = if dispatcher.config.tls.is_some() {
            "wss"
        } else {
            "ws"
        };
        banner.push_str(&format!(
            "\ngateway on {scheme}://{}/md/ and {scheme}://{}/td/",
            bound.md, bound.td
        ));
        advertise::publish(
            &dispatcher.config.data_dir,
            &advertise::local_url(bound.td, dispatcher.config.tls.is_some()),
        );
        let d = dispatcher.clone();
        Some(tokio::spawn(server::serve(d, listeners, async move {
            let _ = stop_rx.await;
        })))
    } else {
        None
    };
    banner.push_str("\ntype `help` for commands, `login` to start trading, Ctrl-D to leave");
    {
        use session::Printer;
        printer.print(&banner);
    }
    let (link, rx) = link::Link::in_process(&dispatcher)?;
    let waits = session::Waits {
        answer: std::time::Duration::from_secs(10),
        order_final: false,
    };
    let sess = session::Session::start(
        link,
        rx,
        dispatcher.config.clone(),
        Some(dispatcher.backend.clone()),
        printer.clone(),
        Some(Box::new(tty::read_secret)),
        waits,
    );
    if json {
        sess.set_mode(commands::OutputMode::Json);
    }
    repl::run(sess, printer, history, interrupts).await;
    let _ = stop_tx.send(());
    if let Some(s) = server {
        advertise::clear(&dispatcher.config.data_dir);
        let _ = s.await;
    } else {
        dispatcher.backend.flush();
    }
    Ok(())
}

/// The address of this config's gateway, for `attach` and `exec` without `--url`.
pub fn default_gateway_url(config: &Config) -> String {
    let host = match config.host.as_str() {
        "0.0.0.0" | "" => "127.0.0.1",
        "::" => "[::1]",
        h => h,
    };
    let scheme = if config.tls.is_some() { "wss" } else { "ws" };
    format!(
        "{scheme}://{host}:{}",
        config.td_port.unwrap_or(config.port)
    )
}

/// `webctp attach`: the terminal on a running gateway, over WebSockets.
async fn attach(
    config: Config,
    url: Option<String>,
    json: bool,
    printer: Arc<repl::ReplPrinter>,
) -> Result<()> {
    let interrupts = repl::Interrupts::install();
    let url = url.unwrap_or_else(|| default_gateway_url(&config));
    let (link, rx) = link::Link::remote(&url, config.token.as_deref())
        .await
        .map_err(|e| CliError::NoGateway(Box::new(e)))?;
    {
        use session::Printer;
        printer.print(&format!(
            "webctp {} attached to the gateway at {url}\ntype `help` for commands, `login` to start trading; Ctrl-D leaves (the gateway keeps running)",
            env!("CARGO_PKG_VERSION")
        ));
    }
    let history = repl::history_path(&config.data_dir);
    let waits = session::Waits {
        answer: std::time::Duration::from_secs(10),
        order_final: false,
    };
    let sess = session::Session::start(
        link,
        rx,
        Arc::new(config),
        None,
        printer.clone(),
        Some(Box::new(tty::read_secret)),
        waits,
    );
    sess.set_remote(&url);
    if json {
        sess.set_mode(commands::OutputMode::Json);
    }
    repl::run(sess, printer, history, interrupts).await;
    Ok(())
}

/// Warns when the gateway is reachable from the network without a token.
fn warn_if_open(config: &Config) {
    if config.token.is_none() && !is_loopback(&config.host) {
        tracing::warn!(
            host = %config.host,
            "listening on a non-loopback address without a Token: anyone who can reach this port can trade"
        );
    }
}

async fn serve(config: Config) -> Result<()> {
    warn_if_open(&config);
    let dispatcher = start_dispatcher(config)?;
    let (listeners, bound) = server::bind(&dispatcher).await.map_err(CliError::Listen)?;
    let d = &dispatcher;
    let scheme = if d.config.tls.is_some() { "wss" } else { "ws" };
    // One stable line on stdout, for people and for scripts waiting for readiness.
    println!(
        "webctp {} gateway ({}) on {scheme}://{}/md/ and {scheme}://{}/td/",
        crate::build_info::LONG_VERSION,
        d.backend.name(),
        bound.md,
        bound.td
    );
    tracing::info!(
        backend = d.backend.name(),
        version = %d.backend.version(),
        "webctp gateway listening on {scheme}://{}/md/ and {scheme}://{}/td/",
        bound.md,
        bound.td
    );
    if let Some(about) = d.backend.describe() {
        tracing::info!("{about}");
    }
    advertise::publish(
        &d.config.data_dir,
        &advertise::local_url(bound.td, d.config.tls.is_some()),
    );
    #[cfg(unix)]
    tokio::spawn(explain_sighup());
    let dir = d.config.data_dir.clone();
    server::serve(dispatcher.clone(), listeners, async move {
        shutdown_signal().await;
        advertise::clear(&dir);
    })
    .await;
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
    crate::logsafe::add_secrets(config.secrets());
    let printer = Arc::new(repl::ReplPrinter::stdout());
    let level = match (&cli.command, cli.global.log_level.is_some()) {
        // `exec` prints results; its logs stay quiet unless asked for.
        (Some(Command::Exec(_) | Command::Bench(_) | Command::Ledger(_)), false) => {
            "warn".to_string()
        }
        _ => config.log_level.to_string(),
    };
    let to = match &cli.command {
        None => LogTo::File(config.data_dir.join("webctp.log"), printer.clone()),
        Some(Command::Attach(_)) => {
            LogTo::File(config.data_dir.join("attach.log"), printer.clone())
        }
        Some(_) => LogTo::Stderr,
    };
    init_logging(&level, to);
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
    let json = cli.global.json;
    let code = runtime.block_on(async move {
        let result = match cli.command {
            Some(Command::Serve) => serve(config).await,
            None => terminal(config, !cli.no_server, json, printer).await,
            Some(Command::Attach(a)) => attach(config, a.url, json, printer).await,
            // These say what happened themselves and choose their exit codes.
            Some(Command::Exec(a)) => return exec::run(config, a, json).await,
            Some(Command::Bench(b)) => return crate::bench::run(b).await,
            Some(Command::Ledger(l)) => return ledger::run(&config, &l, json),
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("webctp: {e}");
                ExitCode::FAILURE
            }
        }
    });
    // The runtime may hold tasks blocked on sockets; do not wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    code
}

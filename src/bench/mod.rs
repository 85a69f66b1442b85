//! The load tool, `webctp bench`: it starts a sim gateway in its own process (so its CPU
//! and memory are measured apart from the load) and drives it over real WebSockets.
//! Each run prints a summary, or one JSON object with `--json`, and exits non-zero if
//! a correctness check fails (a tick out of order, an order without a final state).

mod error;
pub mod gateway;
pub mod hostile;
pub mod idle;
pub mod md;
pub mod redis;
pub mod soak;
pub mod stats;
pub mod td;

use std::process::ExitCode;

pub use error::BenchError;

/// `webctp bench` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum BenchCommand {
    /// Market data fan-out: clients x instruments at a tick rate; latency, conflation.
    Md(md::MdArgs),
    /// Orders: insert -> RtnOrder / RtnTrade latency, throughput, final states.
    Td(td::TdArgs),
    /// Memory of an idle gateway and of idle connections.
    Idle(idle::IdleArgs),
    /// Process start to accepting WebSocket connections.
    Startup(idle::StartupArgs),
    /// Many clients connecting, trading and leaving for a while; memory must stay flat.
    Soak(soak::SoakArgs),
    /// Normal clients' tick latency and the gateway's memory while slowloris sockets
    /// and unread query floods attack it.
    Hostile(hostile::HostileArgs),
}

fn print<T: serde::Serialize + std::fmt::Display>(json: bool, report: &T) {
    if json {
        println!("{}", serde_json::to_string(report).unwrap_or_default());
    } else {
        print!("{report}");
    }
}

/// Runs a bench command.
pub async fn run(cmd: BenchCommand) -> ExitCode {
    let result = match &cmd {
        BenchCommand::Md(a) => md::run_all(a).await.map(|reports| {
            let mut ok = true;
            for r in &reports {
                print(a.json, r);
                ok &= r.out_of_order == 0 && r.errors.is_empty() && r.messages_delivered > 0;
            }
            ok
        }),
        BenchCommand::Td(a) => td::run(a).await.map(|r| {
            print(a.json, &r);
            r.missing_final == 0 && r.errors.is_empty() && r.orders_sent > 0
        }),
        BenchCommand::Idle(a) => idle::idle(a).await.map(|r| {
            print(a.json, &r);
            r.connected == r.connections
        }),
        BenchCommand::Startup(a) => idle::startup(a).await.map(|r| {
            print(a.json, &r);
            true
        }),
        BenchCommand::Soak(a) => soak::run(a).await.map(|r| {
            print(a.json, &r);
            r.flat
        }),
        BenchCommand::Hostile(a) => hostile::run(a).await.map(|r| {
            print(a.json, &r);
            r.out_of_order == 0 && r.messages_delivered > 0
        }),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("webctp bench: a correctness check failed (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("webctp bench: {e}");
            ExitCode::from(3)
        }
    }
}

//! `webctp exec`: one terminal command (or one per stdin line with `-`), for scripts.
//! It logs in first when the command needs it, waits for the complete answer, and
//! exits 0 on success, 1 when CTP or the gateway refused, 2 on a usage error and 3
//! when the gateway could not be reached or did not answer.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use super::args::ExecArgs;
use super::commands::{Command, OutputMode, parse};
use super::link::Link;
use super::session::{Outcome, Session, Stdout, Waits};
use crate::config::Config;

fn code(o: Outcome) -> u8 {
    match o {
        Outcome::Ok | Outcome::Exit => 0,
        Outcome::Refused => 1,
        Outcome::Usage => 2,
        Outcome::Failed => 3,
    }
}

/// Whether a command needs a trading login.
fn needs_login(c: &Command) -> bool {
    matches!(
        c,
        Command::Logout
            | Command::Order(_)
            | Command::Cancel(_)
            | Command::Orders
            | Command::Trades
            | Command::Positions
            | Command::Account
            | Command::Instrument(_)
            | Command::Margin(_)
            | Command::Commission(_)
            | Command::Confirm
            | Command::Settlement
            | Command::Passwd
    )
}

/// Runs `exec`.
pub async fn run(config: Config, args: ExecArgs, json: bool) -> ExitCode {
    let lines: Vec<String> = if args.command == ["-"] {
        use std::io::BufRead;
        let mut v = Vec::new();
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(l) => v.push(l),
                Err(e) => {
                    eprintln!("webctp: cannot read stdin: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        v
    } else {
        vec![args.command.join(" ")]
    };
    // Check the whole script before doing anything.
    let mut commands = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        match parse(line) {
            Ok(Some(c)) => commands.push(c),
            Ok(None) => {}
            Err(e) => {
                if lines.len() > 1 {
                    eprintln!("webctp: line {}: {e}", n + 1);
                } else {
                    eprintln!("webctp: {e}");
                }
                return ExitCode::from(2);
            }
        }
    }
    if !(args.wait.is_finite() && args.wait > 0.0 && args.wait <= 3600.0) {
        eprintln!("webctp: --wait must be between 0 and 3600 seconds");
        return ExitCode::from(2);
    }
    let config = Arc::new(config);
    let (link, rx, backend, dispatcher) = match &args.url {
        Some(url) => match Link::remote(url, config.token.as_deref()).await {
            Ok((l, rx)) => (l, rx, None, None),
            Err(e) => {
                eprintln!("webctp: {e}");
                return ExitCode::from(3);
            }
        },
        None => {
            let d = match super::start_dispatcher((*config).clone()) {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("webctp: {e}");
                    return ExitCode::from(3);
                }
            };
            match Link::in_process(&d) {
                Ok((l, rx)) => (l, rx, Some(d.backend.clone()), Some(d)),
                Err(e) => {
                    eprintln!("webctp: {e}");
                    return ExitCode::from(3);
                }
            }
        }
    };
    let waits = Waits {
        answer: Duration::from_secs_f64(args.wait),
        order_final: true,
    };
    let session = Session::start(
        link,
        rx,
        config.clone(),
        backend.clone(),
        Arc::new(Stdout),
        None,
        waits,
    );
    if json {
        session.set_mode(OutputMode::Json);
    }
    if let Some(url) = &args.url {
        session.set_remote(url);
    }
    let mut logged_in = false;
    let mut result = 0u8;
    let have_credentials = config.user_id.is_some() && config.password.is_some();
    for cmd in commands {
        // A quote is better with a login (tick sizes, an instant answer) but does
        // not need one.
        let helped = matches!(cmd, Command::Quote(_) | Command::Depth(_)) && have_credentials;
        if (needs_login(&cmd) || helped) && !logged_in {
            if config.user_id.is_none() || config.password.is_none() {
                eprintln!(
                    "webctp: `exec` logs in first: give --user (or WEBCTP_USER) and WEBCTP_PASSWORD (or User/Password in the config)"
                );
                result = 2;
                break;
            }
            let o = session.login(None, true).await.unwrap_or_else(|e| {
                eprintln!("webctp: {e}");
                Outcome::Failed
            });
            if o != Outcome::Ok {
                result = code(o);
                break;
            }
            logged_in = true;
        }
        if matches!(cmd, Command::Login { .. }) {
            logged_in = true;
        }
        let o = session.run(cmd).await;
        if o == Outcome::Exit {
            break;
        }
        if o != Outcome::Ok {
            result = code(o);
            break;
        }
    }
    // Everything acknowledged is on disk before the process ends.
    if let Some(b) = &backend {
        b.flush();
    }
    drop(session);
    drop(dispatcher);
    ExitCode::from(result)
}

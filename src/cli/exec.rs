//! `webctp exec`: one terminal command (or one per stdin line with `-`), for scripts.
//! It logs in first when the command needs it, waits for the complete answer, and
//! exits 0 on success, 1 when CTP or the gateway refused, 2 on a usage error and 3
//! when the gateway could not be reached or did not answer.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use super::advertise;
use super::args::ExecArgs;
use super::commands::{Command, OutputMode, parse};
use super::error::Result;
use super::link::Link;
use super::session::{Outcome, Session, Stdout, Waits};
use crate::config::Config;
use crate::ctp::Backend;
use crate::gateway::Dispatcher;
use crate::protocol::Endpoint;

fn code(o: Outcome) -> u8 {
    match o {
        Outcome::Ok | Outcome::Exit => 0,
        Outcome::Refused => 1,
        Outcome::Usage => 2,
        Outcome::Failed => 3,
    }
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
    let Target {
        link,
        rx,
        backend,
        dispatcher,
        side,
        remote_url,
    } = match connect(&config, args.url.as_deref()).await {
        Ok(t) => t,
        Err(e) => {
            eprintln!("webctp: {e}");
            return ExitCode::from(3);
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
    if let Some(url) = &remote_url {
        session.set_remote(url);
    }
    let mut logged_in = false;
    let mut result = 0u8;
    let have_credentials = config.user_id.is_some() && config.password.is_some();
    for cmd in commands {
        // A quote is better with a login (tick sizes, an instant answer) but does
        // not need one.
        let helped = matches!(cmd, Command::Quote(_) | Command::Depth(_)) && have_credentials;
        if (cmd.needs_login() || helped) && !logged_in {
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
        let watching = matches!(cmd, Command::Watch(_));
        let o = session.run(cmd).await;
        if watching && o == Outcome::Ok {
            // `exec watch` prints ticks for --wait seconds (or until Ctrl-C).
            tokio::time::sleep(waits.answer).await;
        }
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
    if let (Some(side), Some(d)) = (side, &dispatcher) {
        side.finish(d).await;
    }
    drop(dispatcher);
    ExitCode::from(result)
}

/// What `exec` talks to: its own dispatcher on the data directory, or the gateway
/// of the process that holds it.
struct Target {
    link: Link,
    rx: tokio::sync::mpsc::UnboundedReceiver<super::link::Incoming>,
    backend: Option<Arc<dyn Backend>>,
    dispatcher: Option<Arc<Dispatcher>>,
    side: Option<SideGateway>,
    remote_url: Option<String>,
}

impl Target {
    async fn remote(url: &str, config: &Config) -> Result<Target> {
        let (link, rx) = Link::remote(url, config.token.as_deref()).await?;
        Ok(Target {
            link,
            rx,
            backend: None,
            dispatcher: None,
            side: None,
            remote_url: Some(url.to_string()),
        })
    }

    async fn in_process(d: Arc<Dispatcher>) -> Result<Target> {
        let (link, rx) = Link::in_process(&d)?;
        let side = SideGateway::start(&d).await;
        Ok(Target {
            link,
            rx,
            backend: Some(d.backend.clone()),
            dispatcher: Some(d),
            side,
            remote_url: None,
        })
    }
}

/// Opens the data directory, or — when another process holds it — talks to that
/// process's gateway: the one it advertised (`gateway.url`), else the config's
/// address.
async fn connect(config: &Arc<Config>, url: Option<&str>) -> Result<Target> {
    if let Some(url) = url {
        return Target::remote(url, config).await;
    }
    let mut tries = 0;
    loop {
        tries += 1;
        let busy = match super::start_dispatcher((**config).clone()) {
            Ok(d) => return Target::in_process(d).await,
            Err(e) if e.data_dir_in_use() => e,
            Err(e) => return Err(e),
        };
        let advertised = advertise::read(&config.data_dir);
        let url = advertised
            .clone()
            .unwrap_or_else(|| super::default_gateway_url(config));
        match Target::remote(&url, config).await {
            Ok(t) => {
                eprintln!("webctp: the data directory is in use; using the gateway at {url}");
                return Ok(t);
            }
            // The holder advertised a gateway that no longer answers: it is ending,
            // and the directory is about to be free.
            Err(_) if advertised.is_some() && tries < 3 => {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(_) => return Err(busy),
        }
    }
}

/// The gateway an in-process `exec` serves on a loopback port while it holds the
/// data directory, so that an `exec` run beside it (say `positions` while this one
/// waits for an order to fill) talks to it instead of finding the directory locked.
struct SideGateway {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// How long an ending `exec` waits for the clients of its side gateway to finish.
const LINGER: Duration = Duration::from_secs(10);

impl SideGateway {
    async fn start(d: &Arc<Dispatcher>) -> Option<SideGateway> {
        let listener = match tokio::net::TcpListener::bind(("127.0.0.1", 0)).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(
                    "cannot listen on a loopback port ({e}); an exec beside this one will find the data directory locked"
                );
                return None;
            }
        };
        let addr = listener.local_addr().ok()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(crate::server::serve(
            d.clone(),
            vec![(listener, vec![Endpoint::Md, Endpoint::Td])],
            async move {
                let _ = stopped.await;
            },
        ));
        advertise::publish(
            &d.config.data_dir,
            &advertise::local_url(addr, d.config.tls.is_some()),
        );
        Some(SideGateway { stop, task })
    }

    /// Stops advertising, lets the clients that came in finish (at most [`LINGER`]),
    /// then stops serving. Call after this process's own session is gone.
    async fn finish(self, d: &Dispatcher) {
        advertise::clear(&d.config.data_dir);
        let clients = d.connection_count();
        if clients > 0 {
            eprintln!(
                "webctp: waiting for {clients} connection(s) from another exec to finish (at most {} s)",
                LINGER.as_secs()
            );
            let deadline = tokio::time::Instant::now() + LINGER;
            while d.connection_count() > 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

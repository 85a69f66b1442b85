//! The terminal's session: it turns commands into protocol requests, sends them over a
//! [`Link`], waits for their answers (matched by RequestID, or by the order they
//! concern), prints results, and prints pushes — order and trade events, errors, front
//! status, watched ticks — as they arrive.
//!
//! - [`route`]: what the gateway sends goes to the command waiting for it, else it is
//!   printed as a push ([`printer`]);
//! - [`refusals`]: CTP's second answer to a refusal is not printed twice;
//! - one file per group of commands: [`market`] (sub, quote, watch), [`trading`]
//!   (orders and cancels), [`account`] (login and queries), [`admin`] (sim controls,
//!   raw messages).

mod account;
mod admin;
mod closing;
mod depth;
mod market;
mod orders;
mod printer;
mod refusals;
mod route;
mod trading;

pub use printer::{Printer, Stdout};

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc;

use super::commands::{Command, OutputMode};
use super::error::{CliError, Result};
use super::help::help_text;
use super::link::{Inbound, Incoming, Link};
use super::render::{self, Instruments};
use super::table::Style;
use super::tty::Secret;
use crate::config::Config;
use crate::ctp::Backend;
use crate::protocol::client::{BodyOf, MsgKind, md_request_json, td_request_json};
use crate::protocol::{Endpoint, MdRequest, TdRequest};

/// Reads a secret (no echo when a terminal is attached).
pub type SecretPrompt = Box<dyn Fn(&str) -> Secret + Send + Sync>;

/// How a command ended, for `exec`'s exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// CTP or the gateway refused it.
    Refused,
    /// Bad command or arguments.
    Usage,
    /// The gateway could not be reached or did not answer in time.
    Failed,
    Exit,
}

/// Decides whether a message belongs to a waiting command.
type Accepts = Box<dyn Fn(Endpoint, &Inbound) -> bool + Send>;

struct Watcher {
    id: u64,
    accepts: Accepts,
    tx: mpsc::UnboundedSender<(Endpoint, Inbound)>,
}

/// A command's claim on the messages it waits for; see [`Session::watch`].
struct Watch {
    id: u64,
    rx: mpsc::UnboundedReceiver<(Endpoint, Inbound)>,
}

impl Watch {
    async fn recv(&mut self) -> Option<Inbound> {
        self.rx.recv().await.map(|(_, v)| v)
    }

    /// What has already arrived, without waiting.
    fn try_recv(&mut self) -> Option<Inbound> {
        self.rx.try_recv().ok().map(|(_, v)| v)
    }
}

#[derive(Default)]
struct State {
    watchers: Vec<Watcher>,
    md_logged_in: bool,
    user: Option<String>,
    broker: String,
    front_session: Option<(i64, i64)>,
    ticks: HashMap<String, Inbound>,
    exchanges: HashMap<String, String>,
    instruments: Instruments,
    instrument_ids: Vec<String>,
    orders: orders::OrderBook,
    subscribed: HashSet<String>,
    watching: HashSet<String>,
    watch_all: bool,
    closed: Option<String>,
    /// What the gateway last said of each front (md, td): `None` up or unknown,
    /// else why it is down.
    md_down: Option<String>,
    td_down: Option<String>,
    /// Refusals a command has printed: CTP answers a refused order or cancel twice
    /// (RspOrderInsert and ErrRtnOrderInsert, RspOrderAction and ErrRtnOrderAction),
    /// and the second is not news. Each entry holds the ways the second answer may
    /// name the same request (its RequestID, its order).
    reported: Vec<Vec<String>>,
}

/// A terminal session on one link.
pub struct Session {
    link: Link,
    state: Mutex<State>,
    next_rid: AtomicI32,
    next_watcher: AtomicU64,
    /// Held while a message is routed and printed, so that pushes a finished command
    /// hands back print in arrival order.
    push_order: Mutex<()>,
    printer: Arc<dyn Printer>,
    mode: Mutex<OutputMode>,
    config: Arc<Config>,
    /// The backend, when it runs in this process (admin commands).
    backend: Option<Arc<dyn Backend>>,
    secret: Option<SecretPrompt>,
    wait: Duration,
    wait_final: bool,
    /// Whether prices and P&L are coloured (a terminal, and no NO_COLOR).
    color: bool,
    /// The gateway's URL when talking to a running gateway (admin commands go there).
    remote: Mutex<Option<String>>,
}

/// How a session waits.
#[derive(Debug, Clone, Copy)]
pub struct Waits {
    /// How long to wait for an answer, and for an order to become final.
    pub answer: Duration,
    /// Wait for orders to be final (exec) rather than accepted (REPL).
    pub order_final: bool,
}

/// An endpoint's path, as the gateway serves it (`md`, `td`).
fn path_of(ep: Endpoint) -> &'static str {
    match ep {
        Endpoint::Md => "md",
        Endpoint::Td => "td",
    }
}

impl Session {
    /// Starts a session and the task that routes what the gateway sends.
    pub fn start(
        link: Link,
        rx: mpsc::UnboundedReceiver<Incoming>,
        config: Arc<Config>,
        backend: Option<Arc<dyn Backend>>,
        printer: Arc<dyn Printer>,
        secret: Option<SecretPrompt>,
        waits: Waits,
    ) -> Arc<Session> {
        let s = Arc::new(Session {
            link,
            state: Mutex::new(State {
                broker: config.broker_id.clone(),
                ..State::default()
            }),
            next_rid: AtomicI32::new(1),
            next_watcher: AtomicU64::new(1),
            push_order: Mutex::new(()),
            printer,
            mode: Mutex::new(OutputMode::Table),
            config,
            backend,
            secret,
            wait: waits.answer,
            wait_final: waits.order_final,
            remote: Mutex::new(None),
            color: super::tty::colors(),
        });
        tokio::spawn(route::route(Arc::downgrade(&s), rx));
        s
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends admin commands to the running gateway at `url`.
    pub fn set_remote(&self, url: &str) {
        *self.remote.lock().unwrap_or_else(|e| e.into_inner()) = Some(url.to_string());
    }

    /// `settle` and `drop-front`: on the backend in this process, or over HTTP.
    /// Prints JSON instead of tables from now on.
    pub fn set_mode(&self, mode: OutputMode) {
        *self.mode.lock().unwrap_or_else(|e| e.into_inner()) = mode;
    }

    fn json_mode(&self) -> bool {
        *self.mode.lock().unwrap_or_else(|e| e.into_inner()) == OutputMode::Json
    }

    /// Instrument IDs known from queries (for completion).
    pub fn instrument_ids(&self) -> Vec<String> {
        self.lock().instrument_ids.clone()
    }

    /// The front an endpoint's requests go to, in words.
    pub(super) fn front_name(&self, ep: Endpoint) -> String {
        let (what, addr) = match ep {
            Endpoint::Md => ("market-data", &self.config.md_front_address),
            Endpoint::Td => ("trading", &self.config.td_front_address),
        };
        match (addr, &self.backend) {
            (Some(a), _) => format!("the {what} front {a}"),
            (None, Some(b)) => format!("the {what} front (embedded {})", b.name()),
            (None, None) => format!("the gateway's {what} front"),
        }
    }

    /// "front down, retrying" when the gateway said the endpoint's front is down.
    fn front_down(&self, ep: Endpoint) -> Option<String> {
        let why = match ep {
            Endpoint::Md => self.lock().md_down.clone(),
            Endpoint::Td => self.lock().td_down.clone(),
        }?;
        Some(format!(
            "front down, retrying: {} is unreachable ({why}); nothing was sent — try again once it is back (`status`)",
            self.front_name(ep)
        ))
    }

    /// `status`: the backend, the fronts and whether they are up, the login.
    pub(super) fn status(&self) -> Outcome {
        let st = self.lock();
        let mut lines = Vec::new();
        match &self.backend {
            Some(b) => lines.push(format!("backend: {} ({})", b.name(), b.version())),
            None => lines.push(format!(
                "gateway: {}",
                self.remote
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone()
                    .unwrap_or_else(|| "remote".into())
            )),
        }
        let front = |down: &Option<String>, ep| match down {
            None => format!("{}: up", self.front_name(ep)),
            Some(why) => format!("{}: DOWN ({why}), retrying", self.front_name(ep)),
        };
        lines.push(front(&st.td_down, Endpoint::Td));
        lines.push(front(&st.md_down, Endpoint::Md));
        if let Some(c) = &st.closed {
            lines.push(format!("connection to the gateway: closed ({c})"));
        }
        lines.push(match (&st.user, st.front_session) {
            (Some(u), Some((f, s))) => format!("logged in as {u} (front {f}, session {s})"),
            (Some(u), None) => format!("logged in as {u}"),
            _ => "not logged in".into(),
        });
        let mut subs: Vec<&String> = st.subscribed.iter().collect();
        subs.sort();
        lines.push(if subs.is_empty() {
            "subscribed: nothing".into()
        } else {
            format!(
                "subscribed: {}",
                subs.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        });
        drop(st);
        self.say(lines.join("\n"));
        Outcome::Ok
    }

    /// How tables are drawn now: the terminal's width, colours when they are on.
    fn style(&self) -> Style {
        Style {
            width: super::tty::width(),
            color: self.color,
        }
    }

    fn say(&self, text: impl AsRef<str>) {
        self.printer.print(text.as_ref());
    }

    fn rid(&self) -> i32 {
        self.next_rid.fetch_add(1, Ordering::Relaxed)
    }

    /// Claims the messages `accepts` picks: they go to the command instead of being
    /// printed as pushes.
    fn watch(&self, accepts: Accepts) -> Watch {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.next_watcher.fetch_add(1, Ordering::Relaxed);
        self.lock().watchers.push(Watcher { id, accepts, tx });
        Watch { id, rx }
    }

    /// Ends a claim. What reached it after the command stopped reading (an order's
    /// later status, say) is printed as the push it is, before any later push.
    fn unwatch(&self, mut w: Watch) {
        let _in_order = self.push_order.lock().unwrap_or_else(|e| e.into_inner());
        self.lock().watchers.retain(|x| x.id != w.id);
        while let Ok((ep, v)) = w.rx.try_recv() {
            self.on_push(ep, &v);
        }
    }

    /// Sends the request `write` writes for a fresh RequestID and collects its
    /// answers until IsLast.
    ///
    /// A front-down push that comes while the request waits is held: when the answer
    /// is a refusal, the refusal says that the front is down (one line, not two);
    /// otherwise the push is printed once the answers are in, before the command
    /// prints them.
    async fn call(&self, ep: Endpoint, write: impl FnOnce(i32) -> String) -> Result<Vec<Inbound>> {
        let rid = self.rid();
        let rid64 = i64::from(rid);
        let hold_front = !self.json_mode();
        let mut rx = self.watch(Box::new(move |e, v| {
            e == ep && (v.answers(rid64) || (hold_front && v.kind == MsgKind::OnFrontDisconnected))
        }));
        let mut held = Vec::new();
        let result = async {
            self.link.send(ep, write(rid))?;
            let mut out = Vec::new();
            loop {
                let v = tokio::time::timeout(self.wait, rx.recv())
                    .await
                    .map_err(|_| self.no_answer(ep, "answer"))?
                    .ok_or_else(|| self.closed_reason())?;
                if !v.answers(rid64) {
                    held.push(v);
                    continue;
                }
                let last = v.is_last;
                out.push(v);
                if last {
                    return Ok(out);
                }
            }
        }
        .await;
        let refused = result
            .as_ref()
            .is_ok_and(|a| a.iter().any(|m| m.error_id() != 0));
        {
            let _in_order = self.push_order.lock().unwrap_or_else(|e| e.into_inner());
            self.lock().watchers.retain(|x| x.id != rx.id);
            if !refused {
                for v in &held {
                    self.on_push(ep, v);
                }
            }
            while let Ok((ep, v)) = rx.rx.try_recv() {
                self.on_push(ep, &v);
            }
        }
        result
    }

    /// Why nothing came within the wait: said with the front it depends on, which
    /// may be down or unreachable without the gateway having said so yet.
    fn no_answer(&self, ep: Endpoint, what: &'static str) -> CliError {
        let secs = self.wait.as_secs_f64();
        match self.front_down(ep) {
            Some(down) => CliError::FrontDown { what, secs, down },
            None => CliError::NoAnswer {
                what,
                secs,
                front: self.front_name(ep),
            },
        }
    }

    fn closed_reason(&self) -> CliError {
        CliError::Closed(
            self.lock()
                .closed
                .clone()
                .unwrap_or_else(|| "the gateway closed the connection".into()),
        )
    }

    /// Prints answers: JSON, the error sentence, or what `table` draws of the bodies.
    fn show<T: BodyOf>(&self, answers: &[Inbound], table: impl Fn(&[&T]) -> String) -> Outcome {
        if self.json_mode() {
            for a in answers {
                self.say(a.json());
            }
            return if answers.iter().any(|a| a.error_id() != 0) {
                Outcome::Refused
            } else {
                Outcome::Ok
            };
        }
        if let Some(e) = answers.iter().find_map(|a| render::error_sentence(a)) {
            self.say(e);
            return Outcome::Refused;
        }
        let bodies: Vec<&T> = answers.iter().filter_map(|a| a.body::<T>()).collect();
        self.say(table(&bodies));
        Outcome::Ok
    }

    /// Sends a trading request, typed as the protocol crate types it, and collects
    /// its answers until IsLast.
    async fn request(&self, req: TdRequest) -> Result<Vec<Inbound>> {
        self.call(Endpoint::Td, |rid| td_request_json(&req, rid))
            .await
    }

    /// Sends a market-data request and collects its answers until IsLast.
    async fn md_request(&self, req: MdRequest) -> Result<Vec<Inbound>> {
        self.call(Endpoint::Md, |rid| md_request_json(&req, rid))
            .await
    }

    /// The logged-in user and broker that requests are made on behalf of.
    fn identity(&self) -> (String, String) {
        let st = self.lock();
        (st.user.clone().unwrap_or_default(), st.broker.clone())
    }

    fn need_login(&self) -> Option<Outcome> {
        if self.lock().user.is_none() {
            self.say("not logged in: run `login` first");
            return Some(Outcome::Refused);
        }
        None
    }

    /// Runs one command and prints its result.
    pub async fn run(&self, cmd: Command) -> Outcome {
        match self.run_inner(cmd).await {
            Ok(o) => o,
            Err(e) => {
                self.say(format!("error: {e}"));
                Outcome::Failed
            }
        }
    }

    async fn run_inner(&self, cmd: Command) -> Result<Outcome> {
        let needs_login = cmd.needs_login();
        if needs_login && let Some(o) = self.need_login() {
            return Ok(o);
        }
        let md_cmd = matches!(cmd, Command::Sub(_) | Command::Unsub(_) | Command::Watch(_));
        // A quote asks the trading front when logged in.
        let td_quote =
            matches!(cmd, Command::Quote(_) | Command::Depth(_)) && self.lock().user.is_some();
        if (needs_login || md_cmd || td_quote)
            && !matches!(cmd, Command::Logout)
            && let Some(why) = self.front_down(if md_cmd { Endpoint::Md } else { Endpoint::Td })
        {
            // Said at once: waiting for an answer the front cannot give helps nobody.
            self.say(why);
            return Ok(Outcome::Failed);
        }
        match cmd {
            Command::Help(topic) => {
                self.say(help_text(topic.as_deref()));
                Ok(Outcome::Ok)
            }
            Command::Exit => Ok(Outcome::Exit),
            Command::Set(mode) => {
                self.set_mode(mode);
                self.say(format!(
                    "output: {}",
                    if mode == OutputMode::Json {
                        "json"
                    } else {
                        "table"
                    }
                ));
                Ok(Outcome::Ok)
            }
            Command::Login { user } => self.login(user, false).await,
            Command::Logout => self.logout().await,
            Command::Sub(ids) => self.subscribe(&ids, true).await,
            Command::Unsub(ids) => self.unsubscribe(&ids).await,
            Command::Quote(id) => self.quote(&id, false).await,
            Command::Depth(id) => self.depth(&id).await,
            Command::Status => Ok(self.status()),
            Command::Watch(ids) => self.watch_ticks(ids).await,
            Command::Unwatch => Ok(self.unwatch_ticks()),
            Command::Order(args) => self.order(args).await,
            Command::Cancel(id) => self.cancel(&id).await,
            Command::CancelAll(inst) => self.cancel_all(inst.as_deref()).await,
            Command::Close(args) => self.close(args).await,
            Command::Flatten(inst) => self.flatten(inst.as_deref()).await,
            Command::Orders { open } => self.orders(open).await,
            Command::Trades => self.trades().await,
            Command::Positions => self.positions().await,
            Command::Account => self.account().await,
            Command::Instrument(prefix) => self.instrument(&prefix).await,
            Command::Margin(id) => self.margin(&id).await,
            Command::Commission(id) => self.commission(&id).await,
            Command::Confirm => self.confirm().await,
            Command::Settlement => self.settlement().await,
            Command::Passwd => self.passwd().await,
            Command::Raw { target, json } => self.raw(target, &json).await,
            Command::Settle => Ok(self.settle().await),
            Command::DropFront(secs) => Ok(self.drop_front(secs).await),
        }
    }
}

#[cfg(test)]
mod tests;

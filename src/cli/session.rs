//! The terminal's session: it turns commands into protocol requests, sends them over a
//! [`Link`], waits for their answers (matched by RequestID, or by the order they
//! concern), prints results, and prints pushes — order and trade events, errors, front
//! status, watched ticks — as they arrive.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::commands::{
    COMMANDS, Command, Immediate, OrderArgs, OutputMode, Price, RawTarget, Side, usage,
};
use super::link::{Incoming, Link};
use super::render::{self, Instruments};
use crate::config::Config;
use crate::ctp::Backend;
use crate::protocol::Endpoint;

/// Where the terminal's text goes (stdout, or above the REPL prompt).
pub trait Printer: Send + Sync {
    fn print(&self, text: &str);
}

/// Prints to stdout.
pub struct Stdout;

impl Printer for Stdout {
    fn print(&self, text: &str) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }
}

/// Reads a secret (no echo when a terminal is attached).
pub type SecretPrompt = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

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
type Accepts = Box<dyn Fn(Endpoint, &Value) -> bool + Send>;

struct Watcher {
    id: u64,
    accepts: Accepts,
    tx: mpsc::UnboundedSender<(Endpoint, Value)>,
}

/// A command's claim on the messages it waits for; see [`Session::watch`].
struct Watch {
    id: u64,
    rx: mpsc::UnboundedReceiver<(Endpoint, Value)>,
}

impl Watch {
    async fn recv(&mut self) -> Option<Value> {
        self.rx.recv().await.map(|(_, v)| v)
    }
}

#[derive(Default)]
struct State {
    watchers: Vec<Watcher>,
    md_logged_in: bool,
    user: Option<String>,
    broker: String,
    front_session: Option<(i64, i64)>,
    ticks: HashMap<String, Value>,
    exchanges: HashMap<String, String>,
    instruments: Instruments,
    instrument_ids: Vec<String>,
    orders: HashMap<String, Value>,
    subscribed: HashSet<String>,
    watching: HashSet<String>,
    watch_all: bool,
    closed: Option<String>,
    /// Refusals a command has printed: CTP answers a refused order or cancel twice
    /// (RspOrderInsert and ErrRtnOrderInsert, RspOrderAction and ErrRtnOrderAction),
    /// and the second is not news.
    reported: HashSet<Refusal>,
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

fn rid_of(v: &Value) -> Option<i64> {
    v["RequestID"].as_i64()
}

/// Which request a refusal answers: the order insert or the order action, and its
/// RequestID (the same in both of CTP's answers).
type Refusal = (bool, i64);

fn refusal_of(v: &Value) -> Option<Refusal> {
    if v["RspInfo"]["ErrorID"].as_i64().unwrap_or(0) == 0 {
        return None;
    }
    match v["MsgType"].as_str()? {
        "RspOrderInsert" => Some((true, rid_of(v)?)),
        "ErrRtnOrderInsert" => Some((true, v["InputOrder"]["RequestID"].as_i64()?)),
        "RspOrderAction" => Some((false, rid_of(v)?)),
        "ErrRtnOrderAction" => Some((false, v["OrderAction"]["RequestID"].as_i64()?)),
        _ => None,
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
        });
        tokio::spawn(route(Arc::downgrade(&s), rx));
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
    async fn admin(
        &self,
        local: impl FnOnce(&dyn Backend) -> Result<String, String>,
        path: &str,
    ) -> Outcome {
        let result = match &self.backend {
            Some(b) => local(b.as_ref()),
            None => {
                let url = self
                    .remote
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                match url {
                    Some(u) => {
                        super::link::admin_post(&u, path, self.config.token.as_deref()).await
                    }
                    None => Err("no backend to command".into()),
                }
            }
        };
        match result {
            Ok(msg) => {
                self.say(msg);
                Outcome::Ok
            }
            Err(e) => {
                self.say(format!("error: {e}"));
                Outcome::Refused
            }
        }
    }

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

    /// Remembers a refusal the command printed, so that CTP's second answer to the
    /// same request is not printed again as a push.
    fn note_reported(&self, answer: &Value) {
        if let Some(r) = refusal_of(answer) {
            self.lock().reported.insert(r);
        }
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

    /// Sends `msg` (given a fresh RequestID) and collects its answers until IsLast.
    async fn call(&self, ep: Endpoint, mut msg: Value) -> Result<Vec<Value>, String> {
        let rid = self.rid();
        msg["RequestID"] = json!(rid);
        let mut rx = self.watch(Box::new(move |e, v| {
            e == ep && rid_of(v) == Some(i64::from(rid))
        }));
        let result = async {
            self.link.send(ep, msg.to_string())?;
            let mut out = Vec::new();
            loop {
                let v = tokio::time::timeout(self.wait, rx.recv())
                    .await
                    .map_err(|_| format!("no answer within {} s", self.wait.as_secs_f64()))?
                    .ok_or_else(|| self.closed_reason())?;
                let last = v["IsLast"] != false;
                out.push(v);
                if last {
                    return Ok(out);
                }
            }
        }
        .await;
        self.unwatch(rx);
        result
    }

    fn closed_reason(&self) -> String {
        self.lock()
            .closed
            .clone()
            .unwrap_or_else(|| "the gateway closed the connection".into())
    }

    /// Prints answers: JSON, the error sentence, or what `table` draws of the bodies.
    fn show(&self, answers: &[Value], key: &str, table: impl Fn(&[&Value]) -> String) -> Outcome {
        if self.json_mode() {
            for a in answers {
                self.say(a.to_string());
            }
            return if answers
                .iter()
                .any(|a| a["RspInfo"]["ErrorID"].as_i64().unwrap_or(0) != 0)
            {
                Outcome::Refused
            } else {
                Outcome::Ok
            };
        }
        if let Some(e) = answers.iter().find_map(render::error_sentence) {
            self.say(e);
            return Outcome::Refused;
        }
        let bodies: Vec<&Value> = answers
            .iter()
            .map(|a| &a[key])
            .filter(|b| b.is_object())
            .collect();
        self.say(table(&bodies));
        Outcome::Ok
    }

    async fn query(&self, msg_type: &str, filter: Value) -> Result<Vec<Value>, String> {
        let key = msg_type.trim_start_matches("Req");
        self.call(Endpoint::Td, json!({"MsgType": msg_type, key: filter}))
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

    async fn md_login(&self) -> Result<(), String> {
        if self.lock().md_logged_in {
            return Ok(());
        }
        let user = self.lock().user.clone().unwrap_or_default();
        let a = self
            .call(
                Endpoint::Md,
                json!({"MsgType": "ReqUserLogin", "ReqUserLogin": {"UserID": user, "Password": ""}}),
            )
            .await?;
        match a.iter().find_map(render::error_sentence) {
            Some(e) => Err(e),
            None => {
                self.lock().md_logged_in = true;
                Ok(())
            }
        }
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

    async fn run_inner(&self, cmd: Command) -> Result<Outcome, String> {
        let inst = || self.lock().instruments.clone();
        Ok(match cmd {
            Command::Help(topic) => {
                self.say(help_text(topic.as_deref()));
                Outcome::Ok
            }
            Command::Exit => Outcome::Exit,
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
                Outcome::Ok
            }
            Command::Login { user } => self.login(user, false).await?,
            Command::Logout => {
                if let Some(o) = self.need_login() {
                    return Ok(o);
                }
                let (user, broker) = self.identity();
                let a = self
                    .call(Endpoint::Td, json!({"MsgType": "ReqUserLogout", "UserLogout": {"BrokerID": broker, "UserID": user}}))
                    .await?;
                let o = self.show(&a, "UserLogout", |_| format!("logged out {user}"));
                if o == Outcome::Ok {
                    let mut st = self.lock();
                    st.user = None;
                    st.front_session = None;
                }
                o
            }
            Command::Sub(ids) => self.subscribe(&ids, true).await?,
            Command::Unsub(ids) => {
                self.md_login().await?;
                let a = self
                    .call(
                        Endpoint::Md,
                        json!({"MsgType": "UnSubscribeMarketData", "InstrumentID": ids}),
                    )
                    .await?;
                {
                    let mut st = self.lock();
                    for id in &ids {
                        st.subscribed.remove(id);
                        st.watching.remove(id);
                    }
                }
                self.show(&a, "SpecificInstrument", |b| {
                    format!(
                        "unsubscribed {}",
                        b.iter()
                            .map(|x| x["InstrumentID"].as_str().unwrap_or(""))
                            .collect::<Vec<_>>()
                            .join(" ")
                    )
                })
            }
            Command::Quote(id) => self.quote(&id).await?,
            Command::Watch(ids) => {
                if ids.is_empty() {
                    let mut st = self.lock();
                    if st.subscribed.is_empty() {
                        drop(st);
                        self.say("nothing subscribed: `watch <instrument>...` or `sub` first");
                        return Ok(Outcome::Refused);
                    }
                    st.watch_all = true;
                    let list: Vec<String> = st.subscribed.iter().cloned().collect();
                    drop(st);
                    self.say(format!("watching {} (unwatch to stop)", list.join(" ")));
                    return Ok(Outcome::Ok);
                }
                let missing: Vec<String> = {
                    let st = self.lock();
                    ids.iter()
                        .filter(|i| !st.subscribed.contains(*i))
                        .cloned()
                        .collect()
                };
                if !missing.is_empty() && self.subscribe(&missing, false).await? != Outcome::Ok {
                    return Ok(Outcome::Refused);
                }
                self.lock().watching.extend(ids.iter().cloned());
                self.say(format!("watching {} (unwatch to stop)", ids.join(" ")));
                Outcome::Ok
            }
            Command::Unwatch => {
                let mut st = self.lock();
                st.watching.clear();
                st.watch_all = false;
                drop(st);
                self.say("stopped watching");
                Outcome::Ok
            }
            Command::Order(args) => {
                if let Some(o) = self.need_login() {
                    return Ok(o);
                }
                self.order(args).await?
            }
            Command::Cancel(id) => {
                if let Some(o) = self.need_login() {
                    return Ok(o);
                }
                self.cancel(&id).await?
            }
            Command::Orders | Command::Trades | Command::Positions | Command::Account => {
                if let Some(o) = self.need_login() {
                    return Ok(o);
                }
                let i = inst();
                match cmd {
                    Command::Orders => {
                        let a = self.query("ReqQryOrder", json!({})).await?;
                        self.remember_orders(&a);
                        self.show(&a, "Order", |b| render::orders(b, &i))
                    }
                    Command::Trades => {
                        let a = self.query("ReqQryTrade", json!({})).await?;
                        self.show(&a, "Trade", |b| render::trades(b, &i))
                    }
                    Command::Positions => {
                        let a = self.query("ReqQryInvestorPosition", json!({})).await?;
                        self.show(&a, "InvestorPosition", |b| render::positions(b, &i))
                    }
                    _ => {
                        let a = self.query("ReqQryTradingAccount", json!({})).await?;
                        self.show(&a, "TradingAccount", |b| {
                            b.first()
                                .map_or_else(|| "no account".into(), |x| render::account(x))
                        })
                    }
                }
            }
            Command::Instrument(prefix) => {
                if let Some(o) = self.need_login() {
                    return Ok(o);
                }
                let filter = if instruments_known(&self.lock(), &prefix) {
                    json!({"InstrumentID": prefix})
                } else {
                    json!({})
                };
                let mut a = self.query("ReqQryInstrument", filter).await?;
                self.remember_instruments(&a);
                // Keep the records whose ID starts with the prefix, and mark the last.
                a.retain(|m| {
                    m["Instrument"]["InstrumentID"]
                        .as_str()
                        .is_some_and(|i| i.starts_with(prefix.as_str()))
                        || m["RspInfo"]["ErrorID"].as_i64().unwrap_or(0) != 0
                });
                if let Some(l) = a.last_mut() {
                    l["IsLast"] = json!(true);
                }
                self.show(&a, "Instrument", render::instruments)
            }
            Command::Margin(id) => {
                if let Some(o) = self.need_login() {
                    return Ok(o);
                }
                let a = self
                    .query(
                        "ReqQryInstrumentMarginRate",
                        json!({"InstrumentID": id, "HedgeFlag": "1"}),
                    )
                    .await?;
                self.show(&a, "InstrumentMarginRate", render::margin)
            }
            Command::Commission(id) => {
                if let Some(o) = self.need_login() {
                    return Ok(o);
                }
                let a = self
                    .query(
                        "ReqQryInstrumentCommissionRate",
                        json!({"InstrumentID": id}),
                    )
                    .await?;
                self.show(&a, "InstrumentCommissionRate", render::commission)
            }
            Command::Confirm => {
                if let Some(o) = self.need_login() {
                    return Ok(o);
                }
                let (user, broker) = self.identity();
                let a = self
                    .call(Endpoint::Td, json!({"MsgType": "ReqSettlementInfoConfirm", "SettlementInfoConfirm": {"BrokerID": broker, "InvestorID": user}}))
                    .await?;
                self.show(&a, "SettlementInfoConfirm", |b| {
                    b.first().map_or_else(
                        || "settlement confirmed".into(),
                        |c| {
                            format!(
                                "settlement confirmed on {} at {}",
                                c["ConfirmDate"].as_str().unwrap_or(""),
                                c["ConfirmTime"].as_str().unwrap_or("")
                            )
                        },
                    )
                })
            }
            Command::Settlement => {
                if let Some(o) = self.need_login() {
                    return Ok(o);
                }
                let a = self.query("ReqQrySettlementInfo", json!({})).await?;
                self.show(&a, "SettlementInfo", |b| {
                    if b.is_empty() {
                        "no settlement statement yet".into()
                    } else {
                        b.iter()
                            .map(|x| x["Content"].as_str().unwrap_or(""))
                            .collect::<String>()
                    }
                })
            }
            Command::Passwd => self.passwd().await?,
            Command::Raw { target, json } => self.raw(target, &json).await?,
            Command::Settle => {
                self.admin(
                    |b| {
                        b.settle()
                            .map(|day| format!("trading day settled; the new trading day is {day} (confirm the settlement before trading)"))
                    },
                    "/admin/settle",
                )
                .await
            }
            Command::DropFront(secs) => {
                self.admin(
                    |b| b.drop_front(Duration::from_secs_f64(secs)).map(|()| format!("front dropped for {secs} s")),
                    &format!("/admin/drop-front?seconds={secs}"),
                )
                .await
            }
        })
    }

    /// Logs in; `quiet` prints only failures (exec's automatic login).
    pub async fn login(&self, user: Option<String>, quiet: bool) -> Result<Outcome, String> {
        let Some(user) = user.or_else(|| self.config.user_id.clone()) else {
            self.say("login needs a user: `login <user>`, --user or WEBCTP_USER");
            return Ok(Outcome::Usage);
        };
        let password = match self.config.password.clone() {
            Some(p) => p,
            None => match self
                .secret
                .as_ref()
                .and_then(|ask| ask(&format!("password for {user}: ")))
            {
                Some(p) => p,
                None => {
                    self.say("no password: set WEBCTP_PASSWORD (or Password in the config), or run interactively");
                    return Ok(Outcome::Usage);
                }
            },
        };
        let broker = self.lock().broker.clone();
        let a = self
            .call(
                Endpoint::Td,
                json!({"MsgType": "ReqUserLogin", "ReqUserLogin": {"BrokerID": broker, "UserID": user, "Password": password}}),
            )
            .await?;
        if self.json_mode() && !quiet {
            for m in &a {
                self.say(m.to_string());
            }
        }
        let answer = a
            .iter()
            .rev()
            .find(|m| m["MsgType"] == "RspUserLogin")
            .or(a.last());
        let Some(answer) = answer else {
            return Err("no answer to the login".into());
        };
        if let Some(e) = render::error_sentence(answer) {
            if !self.json_mode() || quiet {
                self.say(e);
            }
            return Ok(Outcome::Refused);
        }
        let body = &answer["RspUserLogin"];
        {
            let mut st = self.lock();
            st.user = Some(user.clone());
            st.front_session = Some((
                body["FrontID"].as_i64().unwrap_or(0),
                body["SessionID"].as_i64().unwrap_or(0),
            ));
        }
        if !self.json_mode() && !quiet {
            self.say(format!(
                "logged in as {user}: trading day {}, front {}, session {}",
                body["TradingDay"].as_str().unwrap_or("?"),
                body["FrontID"],
                body["SessionID"]
            ));
        }
        Ok(Outcome::Ok)
    }

    /// Loads the instrument list (for completion and price precision).
    pub async fn load_instruments(&self) {
        if let Ok(a) = self.query("ReqQryInstrument", json!({})).await {
            self.remember_instruments(&a);
        }
    }

    fn remember_instruments(&self, answers: &[Value]) {
        let mut st = self.lock();
        for m in answers {
            let i = &m["Instrument"];
            if let (Some(id), Some(tick)) = (i["InstrumentID"].as_str(), i["PriceTick"].as_f64()) {
                st.instruments.ticks.insert(id.to_string(), tick);
                if let Some(ex) = i["ExchangeID"].as_str() {
                    st.exchanges.insert(id.to_string(), ex.to_string());
                }
                if !st.instrument_ids.iter().any(|x| x == id) {
                    st.instrument_ids.push(id.to_string());
                }
            }
        }
        st.instrument_ids.sort();
    }

    fn remember_orders(&self, answers: &[Value]) {
        let mut st = self.lock();
        for m in answers {
            let o = &m["Order"];
            if let Some(sys) = o["OrderSysID"]
                .as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                st.orders.insert(sys.to_string(), o.clone());
            }
        }
    }

    async fn subscribe(&self, ids: &[String], report: bool) -> Result<Outcome, String> {
        self.md_login().await?;
        let a = self
            .call(
                Endpoint::Md,
                json!({"MsgType": "SubscribeMarketData", "InstrumentID": ids}),
            )
            .await?;
        let mut ok = Vec::new();
        let mut failed = Vec::new();
        for m in &a {
            let id = m["SpecificInstrument"]["InstrumentID"]
                .as_str()
                .unwrap_or("?")
                .to_string();
            match render::error_sentence(m) {
                None => ok.push(id),
                Some(e) => failed.push(format!("{id}: {}", e.replacen("error: ", "", 1))),
            }
        }
        self.lock().subscribed.extend(ok.iter().cloned());
        if self.json_mode() {
            for m in &a {
                self.say(m.to_string());
            }
        } else {
            if report && !ok.is_empty() {
                self.say(format!("subscribed {}", ok.join(" ")));
            }
            for f in &failed {
                self.say(format!("not subscribed: {f}"));
            }
        }
        Ok(if failed.is_empty() {
            Outcome::Ok
        } else {
            Outcome::Refused
        })
    }

    async fn quote(&self, id: &str) -> Result<Outcome, String> {
        let cached = self.lock().ticks.get(id).cloned();
        let tick = match cached {
            Some(t) => t,
            None => {
                let was = self.lock().subscribed.contains(id);
                let wanted = id.to_string();
                let mut rx = self.watch(Box::new(move |_, v| {
                    v["MsgType"] == "RtnDepthMarketData"
                        && v["DepthMarketData"]["InstrumentID"] == wanted.as_str()
                }));
                let res = async {
                    if !was && self.subscribe(&[id.to_string()], false).await? != Outcome::Ok {
                        return Ok(None);
                    }
                    let t = tokio::time::timeout(self.wait, rx.recv()).await;
                    Ok::<_, String>(t.ok().flatten())
                }
                .await;
                self.unwatch(rx);
                if !was && self.lock().subscribed.remove(id) {
                    let _ = self
                        .call(
                            Endpoint::Md,
                            json!({"MsgType": "UnSubscribeMarketData", "InstrumentID": [id]}),
                        )
                        .await;
                }
                match res? {
                    Some(t) => t,
                    None => {
                        self.say(format!(
                            "no quote for {id} within {} s",
                            self.wait.as_secs_f64()
                        ));
                        return Ok(Outcome::Refused);
                    }
                }
            }
        };
        if self.json_mode() {
            self.say(tick.to_string());
        } else {
            let inst = self.lock().instruments.clone();
            self.say(render::quote(&tick["DepthMarketData"], &inst));
        }
        Ok(Outcome::Ok)
    }

    /// The opposite best price (and the exchange) of an instrument.
    async fn opposite(&self, id: &str, side: Side) -> Result<(f64, Option<String>), String> {
        let a = self
            .query("ReqQryDepthMarketData", json!({"InstrumentID": id}))
            .await?;
        if let Some(e) = a.iter().find_map(render::error_sentence) {
            return Err(e);
        }
        let d = a
            .iter()
            .map(|m| &m["DepthMarketData"])
            .find(|d| d.is_object())
            .ok_or_else(|| format!("no quote for {id}"))?;
        let key = if side == Side::Buy {
            "AskPrice1"
        } else {
            "BidPrice1"
        };
        let p = d[key]
            .as_f64()
            .filter(|p| *p > 0.0 && *p < f64::MAX / 2.0)
            .ok_or_else(|| format!("{id} has no {key} to trade against; give a price"))?;
        Ok((
            p,
            d["ExchangeID"]
                .as_str()
                .filter(|e| !e.is_empty())
                .map(String::from),
        ))
    }

    async fn order(&self, o: OrderArgs) -> Result<Outcome, String> {
        let mut exchange = self.lock().exchanges.get(&o.instrument).cloned();
        let (price_type, limit) = match o.price {
            Price::Limit(p) => ("2", p),
            Price::Market => ("1", 0.0),
            Price::Opposite => {
                let (p, ex) = self.opposite(&o.instrument, o.side).await?;
                exchange = exchange.or(ex);
                ("2", p)
            }
        };
        let immediate = o
            .immediate
            .or((o.price == Price::Market).then_some(Immediate::Fak));
        let (user, broker, fs) = {
            let st = self.lock();
            (
                st.user.clone().unwrap_or_default(),
                st.broker.clone(),
                st.front_session,
            )
        };
        let rid = self.rid();
        let body = json!({
            "BrokerID": broker, "InvestorID": user, "UserID": user,
            "InstrumentID": o.instrument, "ExchangeID": exchange.unwrap_or_default(),
            "Direction": if o.side == Side::Buy { "0" } else { "1" },
            "CombOffsetFlag": o.offset.code(), "CombHedgeFlag": "1",
            "OrderPriceType": price_type, "LimitPrice": limit,
            "VolumeTotalOriginal": o.volume,
            "TimeCondition": if immediate.is_some() { "1" } else { "3" },
            "VolumeCondition": if immediate == Some(Immediate::Fok) { "3" } else { "1" },
            "MinVolume": 1, "ContingentCondition": "1", "ForceCloseReason": "0",
            "IsAutoSuspend": 0, "UserForceClose": 0,
        });
        let msg = json!({"MsgType": "ReqOrderInsert", "RequestID": rid, "InputOrder": body});
        let rid64 = i64::from(rid);
        let mut rx = self.watch(Box::new(move |ep, v| {
            if ep != Endpoint::Td {
                return false;
            }
            let ours = |o: &Value| {
                o["RequestID"].as_i64() == Some(rid64)
                    && fs.is_none_or(|(f, s)| {
                        o["FrontID"].as_i64() == Some(f) && o["SessionID"].as_i64() == Some(s)
                    })
            };
            match v["MsgType"].as_str() {
                Some("RspOrderInsert") => rid_of(v) == Some(rid64),
                Some("ErrRtnOrderInsert") => v["InputOrder"]["RequestID"].as_i64() == Some(rid64),
                Some("RtnOrder") => ours(&v["Order"]),
                _ => false,
            }
        }));
        let result = async {
            self.link.send(Endpoint::Td, msg.to_string())?;
            let mut seen = Vec::new();
            let deadline = tokio::time::Instant::now() + self.wait;
            loop {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                let Ok(v) = tokio::time::timeout(left, rx.recv()).await else {
                    return Ok(seen);
                };
                let v = v.ok_or_else(|| self.closed_reason())?;
                let status = v["Order"]["OrderStatus"].as_str().unwrap_or("").to_string();
                let rejected = v["MsgType"] != "RtnOrder";
                seen.push(v);
                let done = rejected
                    || matches!(status.as_str(), "0" | "5")
                    || (!self.wait_final && !status.is_empty() && status != "a");
                if done {
                    return Ok::<_, String>(seen);
                }
            }
        }
        .await;
        // The answer is printed before whatever status came after it.
        let outcome = result.map(|seen| self.report_order(&seen));
        self.unwatch(rx);
        outcome
    }

    /// Prints an order's answers: the last state seen, or the refusal.
    fn report_order(&self, seen: &[Value]) -> Outcome {
        if self.json_mode() {
            for m in seen {
                self.say(m.to_string());
            }
        }
        let Some(last) = seen.last() else {
            self.say(format!(
                "no answer to the order within {} s",
                self.wait.as_secs_f64()
            ));
            return Outcome::Failed;
        };
        if let Some(e) = render::error_sentence(last) {
            self.note_reported(last);
            if !self.json_mode() {
                self.say(e);
            }
            return Outcome::Refused;
        }
        // `remember` has cached the order for `cancel` as each RtnOrder arrived.
        if !self.json_mode() {
            let inst = self.lock().instruments.clone();
            self.say(render::orders(&[&last["Order"]], &inst));
        }
        Outcome::Ok
    }

    async fn cancel(&self, id: &str) -> Result<Outcome, String> {
        let find = |st: &State| {
            st.orders.get(id.trim()).cloned().or_else(|| {
                st.orders
                    .values()
                    .find(|o| o["OrderRef"].as_str().map(str::trim) == Some(id.trim()))
                    .cloned()
            })
        };
        let mut order = find(&self.lock());
        if order.is_none() {
            let a = self.query("ReqQryOrder", json!({})).await?;
            self.remember_orders(&a);
            order = find(&self.lock());
        }
        let Some(order) = order else {
            self.say(format!(
                "no order with OrderSysID or OrderRef `{id}` today (see `orders`)"
            ));
            return Ok(Outcome::Refused);
        };
        let sys = order["OrderSysID"].as_str().unwrap_or("").to_string();
        let (user, broker) = self.identity();
        let rid = self.rid();
        let msg = json!({"MsgType": "ReqOrderAction", "RequestID": rid, "InputOrderAction": {
            "BrokerID": broker, "InvestorID": user, "UserID": user, "ActionFlag": "0",
            "OrderSysID": sys, "ExchangeID": order["ExchangeID"], "InstrumentID": order["InstrumentID"],
            "OrderRef": order["OrderRef"], "FrontID": order["FrontID"], "SessionID": order["SessionID"]}});
        let sys_key = sys.trim().to_string();
        let rid64 = i64::from(rid);
        let mut rx = self.watch(Box::new(move |ep, v| {
            ep == Endpoint::Td
                && match v["MsgType"].as_str() {
                    Some("RspOrderAction") => rid_of(v) == Some(rid64),
                    Some("ErrRtnOrderAction") => {
                        v["OrderAction"]["OrderSysID"].as_str().map(str::trim)
                            == Some(sys_key.as_str())
                    }
                    Some("RtnOrder") => {
                        v["Order"]["OrderSysID"].as_str().map(str::trim) == Some(sys_key.as_str())
                            && v["Order"]["OrderStatus"] == "5"
                    }
                    _ => false,
                }
        }));
        let answer = async {
            self.link.send(Endpoint::Td, msg.to_string())?;
            tokio::time::timeout(self.wait, rx.recv())
                .await
                .map_err(|_| {
                    format!(
                        "no answer to the cancel within {} s",
                        self.wait.as_secs_f64()
                    )
                })?
                .ok_or_else(|| self.closed_reason())
        }
        .await;
        self.unwatch(rx);
        let v = answer?;
        if self.json_mode() {
            self.say(v.to_string());
        }
        if let Some(e) = render::error_sentence(&v) {
            self.note_reported(&v);
            if !self.json_mode() {
                self.say(e);
            }
            return Ok(Outcome::Refused);
        }
        if !self.json_mode() {
            self.say(format!("canceled order {}", sys.trim()));
        }
        Ok(Outcome::Ok)
    }

    async fn passwd(&self) -> Result<Outcome, String> {
        if let Some(o) = self.need_login() {
            return Ok(o);
        }
        let Some(ask) = self.secret.as_ref() else {
            self.say("passwd needs a terminal to ask for the passwords");
            return Ok(Outcome::Usage);
        };
        let (Some(old), Some(new), Some(again)) = (
            ask("current password: "),
            ask("new password: "),
            ask("new password again: "),
        ) else {
            self.say("password change abandoned");
            return Ok(Outcome::Refused);
        };
        if new != again {
            self.say("the new passwords differ; nothing changed");
            return Ok(Outcome::Refused);
        }
        let (user, broker) = self.identity();
        let a = self
            .call(
                Endpoint::Td,
                json!({"MsgType": "ReqUserPasswordUpdate", "UserPasswordUpdate": {
                "BrokerID": broker, "UserID": user, "OldPassword": old, "NewPassword": new}}),
            )
            .await?;
        Ok(self.show(&a, "UserPasswordUpdate", |_| "password changed".into()))
    }

    async fn raw(&self, target: RawTarget, text: &str) -> Result<Outcome, String> {
        let parsed: Option<Value> = serde_json::from_str(text).ok().filter(Value::is_object);
        let ep = match target {
            RawTarget::Md => Endpoint::Md,
            RawTarget::Td => Endpoint::Td,
            RawTarget::Auto => match parsed.as_ref().and_then(|v| v["MsgType"].as_str()) {
                Some("SubscribeMarketData" | "UnSubscribeMarketData") => Endpoint::Md,
                _ => Endpoint::Td,
            },
        };
        let answers = match parsed {
            Some(mut v) if v["MsgType"] != "Ping" => {
                if v.get("RequestID").is_none() {
                    v["RequestID"] = json!(self.rid());
                }
                let rid = rid_of(&v);
                let mut rx = self.watch(Box::new(move |e, m| e == ep && rid_of(m) == rid));
                let res = async {
                    self.link.send(ep, v.to_string())?;
                    let mut out = Vec::new();
                    loop {
                        match tokio::time::timeout(self.wait, rx.recv()).await {
                            Ok(Some(m)) => {
                                let last = m["IsLast"] != false;
                                out.push(m);
                                if last {
                                    return Ok::<_, String>(out);
                                }
                            }
                            Ok(None) => return Err(self.closed_reason()),
                            Err(_) => return Ok(out),
                        }
                    }
                }
                .await;
                self.unwatch(rx);
                res?
            }
            // Pings and text that is not a JSON object: show whatever comes back first.
            _ => {
                let mut rx = self.watch(Box::new(move |e, m| {
                    e == ep
                        && (m["MsgType"] == "Pong"
                            || m["RspInfo"]["ErrorID"].as_i64().unwrap_or(0) < 0)
                }));
                let res = async {
                    self.link.send(ep, text.to_string())?;
                    Ok::<_, String>(
                        tokio::time::timeout(self.wait, rx.recv())
                            .await
                            .ok()
                            .flatten(),
                    )
                }
                .await;
                self.unwatch(rx);
                res?.into_iter().collect()
            }
        };
        if answers.is_empty() {
            self.say(format!("no answer within {} s", self.wait.as_secs_f64()));
            return Ok(Outcome::Failed);
        }
        for a in &answers {
            self.say(if self.json_mode() {
                a.to_string()
            } else {
                serde_json::to_string_pretty(a).unwrap_or_default()
            });
        }
        Ok(
            if answers
                .iter()
                .any(|a| a["RspInfo"]["ErrorID"].as_i64().unwrap_or(0) != 0)
            {
                Outcome::Refused
            } else {
                Outcome::Ok
            },
        )
    }

    /// Prints a push that no command is waiting for.
    fn on_push(&self, ep: Endpoint, v: &Value) {
        if let Some(r) = refusal_of(v)
            && self.lock().reported.remove(&r)
        {
            return;
        }
        let json = self.json_mode();
        match v["MsgType"].as_str() {
            Some("RtnDepthMarketData") => {
                let d = &v["DepthMarketData"];
                let id = d["InstrumentID"].as_str().unwrap_or("");
                let (show, inst) = {
                    let st = self.lock();
                    (
                        st.watch_all || st.watching.contains(id),
                        st.instruments.clone(),
                    )
                };
                if show {
                    self.say(if json {
                        v.to_string()
                    } else {
                        render::tick_line(d, &inst)
                    });
                }
            }
            Some("Pong") | Some("Ping") => {}
            _ => {
                let inst = self.lock().instruments.clone();
                let line = if json {
                    Some(v.to_string())
                } else {
                    render::push_line(v, &inst).or_else(|| {
                        render::error_sentence(v).map(|e| {
                            format!(
                                "{e} [{} on /{}/]",
                                v["MsgType"].as_str().unwrap_or(""),
                                if ep == Endpoint::Md { "md" } else { "td" }
                            )
                        })
                    })
                };
                if let Some(l) = line {
                    self.say(l);
                }
            }
        }
    }
}

fn instruments_known(st: &State, prefix: &str) -> bool {
    st.instrument_ids.iter().any(|i| i == prefix)
}

/// `help` and `help <command>`.
pub fn help_text(topic: Option<&str>) -> String {
    match topic {
        Some(t) => match COMMANDS.iter().find(|c| c.0 == t) {
            Some((_, u, d)) => format!("usage: {u}\n  {d}"),
            None => match super::commands::closest(t) {
                Some(c) => format!(
                    "no command `{t}`; did you mean `{c}`?\nusage: {}",
                    usage(c).unwrap_or(c)
                ),
                None => format!("no command `{t}`; type `help` for the list"),
            },
        },
        None => {
            let width = COMMANDS.iter().map(|c| c.0.len()).max().unwrap_or(8);
            let mut s = String::from("commands:\n");
            for (name, _, d) in COMMANDS {
                s.push_str(&format!("  {name:<width$}  {d}\n"));
            }
            s.push_str("`help <command>` shows its usage.");
            s
        }
    }
}

/// Routes what the gateway sends: to the commands waiting for it, else printed.
async fn route(session: std::sync::Weak<Session>, mut rx: mpsc::UnboundedReceiver<Incoming>) {
    while let Some(incoming) = rx.recv().await {
        let Some(s) = session.upgrade() else { return };
        match incoming {
            Incoming::Message(ep, v) => {
                let _in_order = s.push_order.lock().unwrap_or_else(|e| e.into_inner());
                let mut consumed = false;
                {
                    let mut st = s.lock();
                    remember(&mut st, &v);
                    st.watchers.retain(|w| !w.tx.is_closed());
                    for w in &st.watchers {
                        if (w.accepts)(ep, &v) {
                            let _ = w.tx.send((ep, v.clone()));
                            consumed = true;
                        }
                    }
                }
                if !consumed {
                    s.on_push(ep, &v);
                }
            }
            Incoming::Closed(ep, reason) => {
                let mut st = s.lock();
                if st.closed.is_none() {
                    st.closed = Some(reason.clone());
                    drop(st);
                    s.say(format!(
                        "connection to /{}/ closed: {reason}",
                        if ep == Endpoint::Md { "md" } else { "td" }
                    ));
                }
                // Waiting commands see their channel end.
                s.lock().watchers.clear();
            }
        }
    }
}

/// Caches what later commands need: ticks for `quote`, orders for `cancel`.
fn remember(st: &mut State, v: &Value) {
    match v["MsgType"].as_str() {
        Some("RtnDepthMarketData") => {
            if let Some(id) = v["DepthMarketData"]["InstrumentID"].as_str() {
                st.ticks.insert(id.to_string(), v.clone());
            }
        }
        Some("RtnOrder") => {
            let o = &v["Order"];
            if let Some(sys) = o["OrderSysID"]
                .as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                st.orders.insert(sys.to_string(), o.clone());
            }
        }
        _ => {}
    }
}

//! The state machine of order truth (issue #10), shared by `tests/order_state_machine.rs`
//! (the sim in process) and `tests/order_restarts.rs` (the real binary, sim and native
//! over the fake CTP library, with `kill -9` and restarts).
//!
//! Random sequences of limit, FAK, FOK and market orders, cancels, front drops and
//! restarts are sent by two clients logged in as one user. Every client keeps the log
//! of each of its connections (a restart ends one and starts the next). After every
//! step each client's view is checked against the ledger's (its ReqQryOrder and
//! ReqQryTrade answers):
//!
//! - no order the ledger holds was reported refused or failed to its sender;
//! - every order carries the RequestID its sender's client used (in pushes and in the
//!   ledger: never another session's, never the gateway's own numbering);
//! - no RtnTrade is told twice on one connection, and every trade told is in the ledger;
//! - every order a connection was told of is in the ledger (nothing acknowledged is
//!   lost by a `kill -9`), never behind what was told, and exactly as told if it was
//!   told final;
//! - on the live connection, every final order of its own session ends with exactly
//!   the ledger's status and traded volume and all its trades told; with `others`, so
//!   does every order of another session it was told of (it must learn their truth
//!   too after a front drop).
//!
//! At the end everything still resting is cancelled, the full check runs once more and
//! the gateway must follow no order any more.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::{Value, json};

use super::truth::{self, collect_until};
use super::{Binary, Client, Event, InProcess, TempDir, WAIT};

/// The user every client logs in as.
const USER: &str = "u-machine";

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Limit,
    Fak,
    Fok,
    Market,
}

#[derive(Debug, Clone)]
pub enum Step {
    /// Client `client` sends an order: `ticks` from the touch (>= 0 crosses the book,
    /// < 0 rests behind it).
    Order {
        client: usize,
        instrument: &'static str,
        buy: bool,
        kind: Kind,
        ticks: i32,
        volume: i32,
    },
    /// Client `client` cancels the `nth` order it knows resting (if any).
    Cancel { client: usize, nth: usize },
    /// The trading front drops for a moment; both sessions log in again by themselves.
    DropFront,
    /// The gateway is killed (`kill -9`) and started again on the same data; both
    /// clients connect and log in again. `in_flight`: client 0 sends a crossing order
    /// just before the kill (it may or may not be acknowledged, or filled, first).
    Restart { in_flight: bool },
}

fn order_step() -> impl Strategy<Value = Step> {
    (
        0..2usize,
        prop_oneof![Just("rb2605"), Just("m2605")],
        any::<bool>(),
        prop_oneof![
            4 => Just(Kind::Limit),
            1 => Just(Kind::Fak),
            1 => Just(Kind::Fok),
            1 => Just(Kind::Market)
        ],
        -3..3i32,
        1..4i32,
    )
        .prop_map(
            |(client, instrument, buy, kind, ticks, volume)| Step::Order {
                client,
                instrument,
                buy,
                kind,
                ticks,
                volume,
            },
        )
}

/// One step; `Restart` only when the gateway is a process of its own.
pub fn step(restarts: bool) -> BoxedStrategy<Step> {
    let cancel = (0..2usize, 0..4usize).prop_map(|(client, nth)| Step::Cancel { client, nth });
    if restarts {
        prop_oneof![
            6 => order_step(),
            2 => cancel,
            1 => Just(Step::DropFront),
            1 => any::<bool>().prop_map(|in_flight| Step::Restart { in_flight }),
        ]
        .boxed()
    } else {
        prop_oneof![
            6 => order_step(),
            2 => cancel,
            1 => Just(Step::DropFront),
        ]
        .boxed()
    }
}

/// The gateway a machine drives.
#[derive(Clone)]
pub enum Target {
    /// The sim inside the test's runtime, with this config.
    InProcess(&'static str),
    /// `webctp serve` on the sim, with this config.
    Sim(&'static str),
    /// `webctp serve --backend native` over the fake CTP library: the gateway's config
    /// and the fake's environment.
    Native(&'static str, &'static [(&'static str, &'static str)]),
}

enum Running {
    InProcess(InProcess),
    Process(Binary),
}

/// A running gateway and how to start it again.
pub struct Gateway {
    target: Target,
    dir: TempDir,
    running: Running,
}

impl Gateway {
    pub async fn start(target: &Target) -> Gateway {
        let dir = TempDir::new("machine");
        let running = Self::spawn(target, &dir).await;
        Gateway {
            target: target.clone(),
            dir,
            running,
        }
    }

    async fn spawn(target: &Target, dir: &TempDir) -> Running {
        match target {
            Target::InProcess(yaml) => Running::InProcess(InProcess::start(yaml).await),
            Target::Sim(yaml) => Running::Process(Binary::serve(dir, yaml, &[])),
            Target::Native(yaml, env) => Running::Process(Binary::native_with(dir, yaml, env)),
        }
    }

    pub fn td_url(&self) -> String {
        match &self.running {
            Running::InProcess(g) => g.td_url.clone(),
            Running::Process(b) => b.td_url.clone(),
        }
    }

    /// `kill -9` and a start on the same data dir (the sim's ledger, the fake's).
    pub async fn restart(&mut self) -> Result<(), String> {
        let Running::Process(b) = &mut self.running else {
            return Err("a gateway in the test's process cannot be killed".into());
        };
        b.signal("-9");
        let deadline = std::time::Instant::now() + WAIT;
        while !matches!(b.child.try_wait(), Ok(Some(_))) {
            if std::time::Instant::now() > deadline {
                return Err("the gateway did not die of kill -9".into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.running = Self::spawn(&self.target, &self.dir).await;
        Ok(())
    }
}

/// One connection of a client: everything it received, and its login's SessionID.
pub struct Conn {
    pub log: Vec<Value>,
    pub session: i64,
}

/// One client: its connection (none while the gateway is down), the logs of all its
/// connections, the RequestIDs it used.
pub struct Peer {
    c: Option<Client>,
    pub conns: Vec<Conn>,
    ids: HashSet<i64>,
    next_id: i64,
    /// RequestIDs of this client's orders and cancels: 1, 2, 3... — the other
    /// client's are the same numbers.
    next_order_id: i64,
}

impl Peer {
    fn new() -> Peer {
        Peer {
            c: None,
            conns: Vec::new(),
            ids: HashSet::new(),
            next_id: 100_000,
            next_order_id: 0,
        }
    }

    fn id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    fn client(&mut self) -> Result<&mut Client, String> {
        self.c
            .as_mut()
            .ok_or_else(|| "client not connected".to_string())
    }

    fn log(&mut self, msgs: Vec<Value>) {
        if let Some(c) = self.conns.last_mut() {
            c.log.extend(msgs);
        }
    }

    /// Connects and logs in: a new connection (a new CTP session).
    async fn connect(&mut self, td_url: &str) -> Result<(), String> {
        let mut c = Client::connect(td_url).await;
        let login = c.td_login(USER, "pw").await;
        if login["RspInfo"]["ErrorID"] != 0 {
            return Err(format!("login: {login}"));
        }
        self.conns.push(Conn {
            log: Vec::new(),
            session: login["RspUserLogin"]["SessionID"]
                .as_i64()
                .unwrap_or_default(),
        });
        self.c = Some(c);
        Ok(())
    }

    /// The gateway died: whatever still arrives is logged, then the connection is gone.
    async fn lose_connection(&mut self) {
        let Some(mut c) = self.c.take() else { return };
        let mut msgs = Vec::new();
        while let Event::Msg(v) = c.next_event(WAIT).await {
            msgs.push(v);
        }
        self.log(msgs);
    }

    async fn send(&mut self, v: Value) -> Result<(), String> {
        self.client()?.send(v).await;
        Ok(())
    }

    /// Sends a query, logs everything up to its last answer, returns the answer.
    async fn ask(&mut self, msg_type: &str, filter: Value) -> Result<Vec<Value>, String> {
        let rid = self.id();
        let c = self.client()?;
        c.send(super::query(msg_type, rid, filter)).await;
        let rsp = format!("Rsp{}", msg_type.trim_start_matches("Req"));
        let msgs = collect_until(c, |v| {
            v["MsgType"] == rsp.as_str() && v["RequestID"] == rid && v["IsLast"] == true
        })
        .await;
        let answer: Vec<Value> = msgs
            .iter()
            .filter(|v| v["MsgType"] == rsp.as_str() && v["RequestID"] == rid)
            .cloned()
            .collect();
        self.log(msgs);
        Ok(answer)
    }
}

fn order_request(rid: i64, step: &Step, book: &Value) -> Option<Value> {
    let Step::Order {
        instrument,
        buy,
        kind,
        ticks,
        volume,
        ..
    } = step
    else {
        return None;
    };
    let d = &book["DepthMarketData"];
    let (bid, ask) = (d["BidPrice1"].as_f64()?, d["AskPrice1"].as_f64()?);
    let (up, low) = (
        d["UpperLimitPrice"].as_f64()?,
        d["LowerLimitPrice"].as_f64()?,
    );
    let tick = 1.0;
    let price = if *buy {
        ask + f64::from(*ticks) * tick
    } else {
        bid - f64::from(*ticks) * tick
    }
    .clamp(low, up);
    let (price_type, tc, vc, price) = match kind {
        Kind::Limit => ("2", "3", "1", price),
        Kind::Fak => ("2", "1", "1", price),
        Kind::Fok => ("2", "1", "3", price),
        Kind::Market => ("1", "1", "1", 0.0),
    };
    Some(
        json!({"MsgType": "ReqOrderInsert", "RequestID": rid, "InputOrder": {
        "InstrumentID": instrument, "Direction": if *buy { "0" } else { "1" },
        "CombOffsetFlag": "0", "CombHedgeFlag": "1", "OrderPriceType": price_type,
        "LimitPrice": price, "VolumeTotalOriginal": volume, "TimeCondition": tc,
        "VolumeCondition": vc, "ContingentCondition": "1", "ForceCloseReason": "0"}}),
    )
}

/// What the ledger says, as one client's queries answered.
pub struct Ledger {
    /// OrderSysID -> the Order body.
    pub orders: HashMap<String, Value>,
    /// TradeID -> the Trade body.
    pub trades: HashMap<String, Value>,
    /// How much of the live connection's log the orders answer follows: pushes after
    /// it may be newer than the answer, so they are checked against the next one.
    pub seen: usize,
}

fn text(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().trim().to_string()
}

async fn ledger(p: &mut Peer) -> Result<Ledger, String> {
    let orders = p.ask("ReqQryOrder", json!({})).await?;
    let seen = p.conns.last().map_or(0, |c| c.log.len());
    let trades = p.ask("ReqQryTrade", json!({})).await?;
    Ok(Ledger {
        orders: orders
            .iter()
            .filter(|m| !m["Order"].is_null())
            .map(|m| (text(&m["Order"], "OrderSysID"), m["Order"].clone()))
            .collect(),
        trades: trades
            .iter()
            .filter(|m| !m["Trade"].is_null())
            .map(|m| (text(&m["Trade"], "TradeID"), m["Trade"].clone()))
            .collect(),
        seen,
    })
}

fn is_final(status: &str) -> bool {
    matches!(status, "0" | "2" | "4" | "5")
}

/// What one connection was told about orders and trades.
#[derive(Default)]
struct Told {
    /// OrderSysID -> (last OrderStatus, last VolumeTraded).
    last: HashMap<String, (String, i64)>,
    /// OrderSysID -> VolumeTraded of the first RtnOrder heard (0: heard from the start).
    first_traded: HashMap<String, i64>,
    /// TradeID -> times told.
    trades: HashMap<String, usize>,
    /// OrderSysID -> volume of the trades told.
    traded_of: HashMap<String, i64>,
}

/// Checks every connection of one client against the ledger (see the module's docs).
fn check(
    p: &Peer,
    ledger: &Ledger,
    ids_of: &HashMap<i64, HashSet<i64>>,
    others: bool,
    step: usize,
) -> Result<(), String> {
    let live = p.c.is_some();
    for (k, conn) in p.conns.iter().enumerate() {
        let current = live && k + 1 == p.conns.len();
        let fail = |what: String| {
            Err(format!(
                "after step {step}, connection {k} (session {}): {what}",
                conn.session
            ))
        };
        let mut told = Told::default();
        let log = if current {
            &conn.log[..ledger.seen.min(conn.log.len())]
        } else {
            &conn.log[..]
        };
        for m in log {
            match m["MsgType"].as_str() {
                Some("RtnOrder") => {
                    let o = &m["Order"];
                    let session = o["SessionID"].as_i64().unwrap_or_default();
                    let rid = o["RequestID"].as_i64().unwrap_or_default();
                    if let Some(ids) = ids_of.get(&session)
                        && !ids.contains(&rid)
                    {
                        return fail(format!(
                            "an order of session {session} carries RequestID {rid}, which its client never used: {o}"
                        ));
                    }
                    let sys = text(o, "OrderSysID");
                    if sys.is_empty() {
                        continue;
                    }
                    let traded = o["VolumeTraded"].as_i64().unwrap_or_default();
                    told.first_traded.entry(sys.clone()).or_insert(traded);
                    told.last.insert(sys, (text(o, "OrderStatus"), traded));
                }
                Some("RtnTrade") => {
                    let t = &m["Trade"];
                    let id = text(t, "TradeID");
                    let n = told.trades.entry(id.clone()).or_default();
                    *n += 1;
                    if *n > 1 {
                        return fail(format!("trade {id} told twice"));
                    }
                    *told.traded_of.entry(text(t, "OrderSysID")).or_default() +=
                        t["Volume"].as_i64().unwrap_or_default();
                }
                Some("RspOrderInsert") => {
                    let r = text(&m["InputOrder"], "OrderRef");
                    let held = ledger.orders.values().any(|o| {
                        o["SessionID"].as_i64() == Some(conn.session) && text(o, "OrderRef") == r
                    });
                    if held {
                        return fail(format!(
                            "an order the ledger holds was reported refused: {m}"
                        ));
                    }
                }
                _ => {}
            }
        }
        for id in told.trades.keys() {
            if !ledger.trades.contains_key(id) {
                return fail(format!("trade {id} told but not in the ledger"));
            }
        }
        // Nothing told is lost or undone (a kill -9 included).
        for (sys, (status, traded)) in &told.last {
            let Some(o) = ledger.orders.get(sys) else {
                return fail(format!(
                    "order {sys} was told ({status}/{traded}) but is not in the ledger"
                ));
            };
            let (ls, lt) = (
                text(o, "OrderStatus"),
                o["VolumeTraded"].as_i64().unwrap_or_default(),
            );
            if lt < *traded || (is_final(status) && (&ls != status || lt != *traded)) {
                return fail(format!(
                    "order {sys}: told {status}/{traded}, the ledger says {ls}/{lt}"
                ));
            }
        }
        if !current {
            continue;
        }
        // The live connection knows the final state of its orders (and, with `others`,
        // of every order it was told of).
        for (sys, o) in &ledger.orders {
            let (status, traded) = (
                text(o, "OrderStatus"),
                o["VolumeTraded"].as_i64().unwrap_or_default(),
            );
            if !is_final(&status) {
                continue;
            }
            let own = o["SessionID"].as_i64() == Some(conn.session);
            let heard = told.last.get(sys);
            if !(own || others && heard.is_some()) {
                continue;
            }
            match heard {
                Some((s, v)) if *s == status && *v == traded => {}
                other => {
                    return fail(format!(
                        "order {sys} of session {}: the ledger says {status}/{traded}, the client was told {other:?}",
                        o["SessionID"]
                    ));
                }
            }
            if own || told.first_traded.get(sys) == Some(&0) {
                let sum = told.traded_of.get(sys).copied().unwrap_or_default();
                if sum != traded {
                    return fail(format!(
                        "order {sys}: {traded} traded in the ledger, trades told add up to {sum}"
                    ));
                }
            }
        }
    }
    for (sys, o) in &ledger.orders {
        let session = o["SessionID"].as_i64().unwrap_or_default();
        let rid = o["RequestID"].as_i64().unwrap_or_default();
        if let Some(ids) = ids_of.get(&session)
            && !ids.contains(&rid)
        {
            return Err(format!(
                "after step {step}: the ledger's order {sys} of session {session} carries RequestID {rid}, which its client never used"
            ));
        }
    }
    Ok(())
}

/// Each connected client reads up to an answer of its own, then all its connections
/// are checked against the ledger as that answer gives it.
async fn verify(peers: &mut [Peer], others: bool, step: usize) -> Result<(), String> {
    let ids_of: HashMap<i64, HashSet<i64>> = peers
        .iter()
        .flat_map(|p| p.conns.iter().map(|c| (c.session, p.ids.clone())))
        .collect();
    for p in peers.iter_mut() {
        let l = ledger(p).await?;
        check(p, &l, &ids_of, others, step)?;
    }
    Ok(())
}

/// Runs one sequence against a fresh gateway. `Err` is the broken promise as the test
/// reports it: plain text, because proptest takes it as the failure's reason and shrinks
/// the sequence on it (a panic would print at every shrinking step).
pub async fn run_case(target: &Target, steps: &[Step], others: bool) -> Result<(), String> {
    let mut gw = Gateway::start(target).await;
    let mut peers = vec![Peer::new(), Peer::new()];
    for p in &mut peers {
        p.connect(&gw.td_url()).await?;
    }
    for (i, s) in steps.iter().enumerate() {
        match s {
            Step::Order {
                client, instrument, ..
            } => {
                let p = &mut peers[*client];
                let book = p
                    .ask("ReqQryDepthMarketData", json!({"InstrumentID": instrument}))
                    .await?;
                p.next_order_id += 1;
                let rid = p.next_order_id;
                p.ids.insert(rid);
                let Some(req) = order_request(rid, s, &book[0]) else {
                    return Err(format!("no book for {instrument}: {book:?}"));
                };
                p.send(req).await?;
            }
            Step::Cancel { client, nth } => {
                let p = &mut peers[*client];
                let l = ledger(p).await?;
                let mut resting: Vec<&Value> = l
                    .orders
                    .values()
                    .filter(|o| !is_final(o["OrderStatus"].as_str().unwrap_or_default()))
                    .collect();
                resting.sort_by_key(|o| text(o, "OrderSysID"));
                if let Some(o) = resting.get(*nth) {
                    p.next_order_id += 1;
                    let rid = p.next_order_id;
                    p.ids.insert(rid);
                    p.send(json!({"MsgType": "ReqOrderAction", "RequestID": rid,
                        "InputOrderAction": {"ExchangeID": o["ExchangeID"], "OrderSysID": o["OrderSysID"],
                        "ActionFlag": "0", "InstrumentID": o["InstrumentID"]}}))
                        .await?;
                }
            }
            Step::DropFront => {
                truth::drop_front(&gw.td_url(), 0.3).await;
                for p in &mut peers {
                    let msgs =
                        collect_until(p.client()?, |v| v["MsgType"] == "OnFrontConnected").await;
                    p.log(msgs);
                }
            }
            Step::Restart { in_flight } => {
                if *in_flight {
                    let p = &mut peers[0];
                    let book = p
                        .ask("ReqQryDepthMarketData", json!({"InstrumentID": "rb2605"}))
                        .await?;
                    p.next_order_id += 1;
                    let rid = p.next_order_id;
                    p.ids.insert(rid);
                    let cross = Step::Order {
                        client: 0,
                        instrument: "rb2605",
                        buy: rid % 2 == 0,
                        kind: Kind::Limit,
                        ticks: 1,
                        volume: 1,
                    };
                    let Some(req) = order_request(rid, &cross, &book[0]) else {
                        return Err(format!("no book for rb2605: {book:?}"));
                    };
                    p.send(req).await?;
                }
                gw.restart().await?;
                for p in &mut peers {
                    p.lose_connection().await;
                }
                for p in &mut peers {
                    p.connect(&gw.td_url()).await?;
                }
            }
        }
        verify(&mut peers, others, i).await?;
    }
    // Everything still resting is cancelled; then every order is final.
    let l = ledger(&mut peers[0]).await?;
    for o in l.orders.values() {
        if !is_final(o["OrderStatus"].as_str().unwrap_or_default()) {
            peers[0].ids.insert(99_999);
            peers[0]
                .send(json!({"MsgType": "ReqOrderAction", "RequestID": 99_999,
                    "InputOrderAction": {"ExchangeID": o["ExchangeID"], "OrderSysID": o["OrderSysID"],
                    "ActionFlag": "0", "InstrumentID": o["InstrumentID"]}}))
                .await?;
        }
    }
    verify(&mut peers, others, steps.len()).await?;
    // Nothing is left followed once every order is final.
    let l = ledger(&mut peers[0]).await?;
    if l.orders
        .values()
        .all(|o| is_final(o["OrderStatus"].as_str().unwrap_or_default()))
    {
        let deadline = tokio::time::Instant::now() + WAIT;
        while truth::tracked_orders(&gw.td_url()).await != 0 {
            if tokio::time::Instant::now() > deadline {
                return Err("orders still followed after all are final".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}

/// Cases to run: `WEBCTP_PROPTEST_CASES`, else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("WEBCTP_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs the machine on `target`: `cases(default_cases)` sequences of 1 to `max_len`
/// steps from a fixed seed (`WEBCTP_PROPTEST_SEED` picks another); a failure panics
/// with the minimal (shrunk) sequence.
pub fn run(target: Target, default_cases: u32, max_len: usize, restarts: bool, others: bool) {
    let seed: u64 = std::env::var("WEBCTP_PROPTEST_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases: cases(default_cases),
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let started = std::time::Instant::now();
    let n = std::cell::Cell::new(0u32);
    let result = runner.run(
        &prop::collection::vec(step(restarts), 1..max_len),
        |steps| {
            n.set(n.get() + 1);
            rt.block_on(run_case(&target, &steps, others))
                .map_err(TestCaseError::fail)
        },
    );
    eprintln!(
        "state machine: {} sequences (shrinking included) in {:.1} s, seed {seed}",
        n.get(),
        started.elapsed().as_secs_f64()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Runs one given sequence on `target` (a regression, or a path the suite must cover
/// whatever the seed draws).
pub fn run_fixed(target: Target, steps: &[Step], others: bool) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if let Err(e) = rt.block_on(run_case(&target, steps, others)) {
        panic!("{e}\nsequence: {steps:#?}");
    }
}

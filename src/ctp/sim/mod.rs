//! The embedded simulated exchange: instruments on all six exchanges, a market data
//! generator, order matching, accounts and a crash-safe ledger — behind the same
//! interface as the official CTP libraries.
//!
//! Threads: the market thread moves prices at the configured rate, matches resting
//! orders and rolls the trading day; the ledger thread writes the journal and then
//! delivers trading answers; a delivery thread hands market-data answers to the
//! gateway, so that (as with real CTP) no answer arrives inside the call that caused it.

pub mod account;
pub mod clock;
pub mod day_state;
pub mod decide;
pub mod exchange;
#[cfg(test)]
mod exchange_tests;
pub mod fast_hash;
pub mod instruments;
pub mod ledger;
pub mod market;
pub mod orders;
pub mod queries;
pub mod record;
pub mod rng;
pub mod td;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Weak};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use self::clock::BeijingTime;
use self::exchange::{Exchange, Record};
use self::instruments::INSTRUMENTS;
use self::ledger::{Ledger, Replay};
use self::market::Quote;
use self::rng::Rng;
use self::td::{LoginGuard, SimTdSession};
use crate::config::{ClosedJournals, SimConfig};
use crate::ctp::{Backend, BackendError, FrontEvent, MdEvents, MdSession, TdEvents, TdSession};
use crate::protocol::Reply;
use crate::protocol::errors::{ctp, rsp_info};
use crate::protocol::fields::{Body, ReqUserLogin, RspUserLogin, SpecificInstrument};

/// FrontID the sim reports.
pub const FRONT_ID: i32 = 1;
/// SysVersion the sim reports.
pub const VERSION: &str = concat!("webctp-sim ", env!("CARGO_PKG_VERSION"));
/// CTP's `OnFrontDisconnected` reason for a failed network read.
const REASON_READ_FAILED: i32 = 0x1001;

type Job = Box<dyn FnOnce() + Send>;

struct Front {
    down_until: Option<Instant>,
}

/// Last prices saved between runs, so a restarted sim continues the same market.
#[derive(Debug, Default, Serialize, Deserialize)]
struct MarketSnapshot {
    trading_day: String,
    last: Vec<(String, f64)>,
}

/// State shared by the sim's threads and sessions.
pub(crate) struct SimCore {
    config: SimConfig,
    data_dir: PathBuf,
    exchange: Mutex<Exchange>,
    ledger: Ledger,
    md_sessions: Mutex<Vec<Weak<SimMdSession>>>,
    td_sessions: Mutex<Vec<Weak<SimTdSession>>>,
    front: Mutex<Front>,
    deliver: Mutex<mpsc::Sender<Job>>,
    logins: Mutex<LoginGuard>,
    next_session: AtomicI32,
    shutdown: AtomicBool,
}

impl SimCore {
    fn post(&self, job: Job) {
        let tx = self.deliver.lock().unwrap_or_else(|e| e.into_inner());
        // The delivery thread only stops at shutdown, when answers no longer matter.
        let _ = tx.send(job);
    }

    fn front_up(&self) -> bool {
        let f = self.front.lock().unwrap_or_else(|e| e.into_inner());
        f.down_until.is_none_or(|t| Instant::now() >= t)
    }

    fn md_sessions(&self) -> Vec<Arc<SimMdSession>> {
        let mut v = self.md_sessions.lock().unwrap_or_else(|e| e.into_inner());
        v.retain(|w| w.strong_count() > 0);
        v.iter().filter_map(Weak::upgrade).collect()
    }

    pub(crate) fn td_sessions(&self) -> Vec<Arc<SimTdSession>> {
        let mut v = self.td_sessions.lock().unwrap_or_else(|e| e.into_inner());
        v.retain(|w| w.strong_count() > 0);
        v.iter().filter_map(Weak::upgrade).collect()
    }

    fn trading_day(&self) -> String {
        self.exchange
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .trading_day
            .clone()
    }

    fn snapshot_path(&self) -> PathBuf {
        self.data_dir.join("market.json")
    }

    /// Saves last prices (not critical: a lost snapshot only restarts the walk).
    fn save_market(&self) {
        let snap = {
            let ex = self.exchange.lock().unwrap_or_else(|e| e.into_inner());
            MarketSnapshot {
                trading_day: ex.trading_day.clone(),
                last: INSTRUMENTS
                    .iter()
                    .zip(&ex.quotes)
                    .map(|(s, q)| (s.id.to_string(), q.last))
                    .collect(),
            }
        };
        let tmp = self.data_dir.join("market.json.tmp");
        let ok = serde_json::to_vec(&snap)
            .ok()
            .and_then(|b| std::fs::write(&tmp, b).ok())
            .and_then(|_| std::fs::rename(&tmp, self.snapshot_path()).ok());
        if ok.is_none() {
            tracing::debug!("could not save the market snapshot");
        }
    }

    /// Ends the trading day if the clock has moved past it.
    fn roll_if_due(&self, ex: &mut Exchange) {
        let today = BeijingTime::now().trading_day();
        let ledger_day = clock::parse_date(&ex.trading_day).unwrap_or(today);
        if today > ledger_day {
            self.roll(ex, &clock::date_string(today));
        }
    }

    /// Takes the front down for `duration`: every session hears OnFrontDisconnected,
    /// requests fail with -1, and OnFrontConnected follows (the clients log in again).
    fn drop_front(self: &Arc<Self>, duration: Duration) {
        {
            let mut f = self.front.lock().unwrap_or_else(|e| e.into_inner());
            f.down_until = Some(Instant::now() + duration);
        }
        tracing::warn!(?duration, "sim front dropped");
        let down = FrontEvent::Disconnected {
            reason: REASON_READ_FAILED,
        };
        for s in self.md_sessions() {
            s.logged_in.store(false, Ordering::Relaxed);
            s.subscribed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
            let ev = s.events.clone();
            self.post(Box::new(move || ev.front(down)));
        }
        let mut jobs: Vec<ledger::Delivery> = Vec::new();
        for s in self.td_sessions() {
            s.disconnected();
            let ev = s.events.clone();
            jobs.push(Box::new(move || ev.front(down)));
        }
        let _ = self.ledger.append_deferred(&[], jobs);
        let core = Arc::downgrade(self);
        thread::spawn(move || {
            thread::sleep(duration);
            let Some(core) = core.upgrade() else { return };
            core.front
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .down_until = None;
            tracing::info!("sim front is back");
            for s in core.md_sessions() {
                let ev = s.events.clone();
                core.post(Box::new(move || ev.front(FrontEvent::Connected)));
            }
            let mut jobs: Vec<ledger::Delivery> = Vec::new();
            for s in core.td_sessions() {
                let ev = s.events.clone();
                jobs.push(Box::new(move || ev.front(FrontEvent::Connected)));
            }
            let _ = core.ledger.append_deferred(&[], jobs);
        });
    }

    /// Ends the trading day: the settlement is journaled, then the ledger starts the
    /// next day's journal from a snapshot (a restart replays only the new day).
    fn roll(&self, ex: &mut Exchange, next_day: &str) {
        tracing::info!(from = %ex.trading_day, to = next_day, "settling the trading day");
        ledger::failpoint::reached("roll-start");
        let records = ex.decide_roll(next_day, &BeijingTime::now());
        td::commit_and_flush(self, ex, records);
        if let Err(e) = self.ledger.rotate(ex.day_state()) {
            tracing::error!(
                "could not start the next day's journal ({e}); the closed day's journal stays in use and start-up finishes the change"
            );
        }
    }
}

/// The embedded exchange as a [`Backend`].
pub struct SimBackend {
    core: Arc<SimCore>,
}

impl SimBackend {
    /// Opens the ledger in `data_dir/sim` (replaying and checking it) and starts the
    /// exchange's threads.
    pub fn start(config: SimConfig, data_dir: &Path) -> Result<SimBackend, BackendError> {
        let dir = data_dir.join("sim");
        let rng = config.seed.map_or_else(Rng::from_time, Rng::new);
        let day = clock::date_string(BeijingTime::now().trading_day());
        let mut ex = Exchange::new(day, rng);
        let started = Instant::now();
        let opts = ledger::Options {
            durability: config.durability,
            keep_closed: config.closed_journals == ClosedJournals::Archive,
        };
        let opened = Ledger::open(&dir, opts, &mut ex).map_err(|e| BackendError(e.to_string()))?;
        let ledger = opened.ledger;
        if !opened.fresh {
            tracing::info!(
                records = opened.report.records(),
                accounts = ex.accounts.len(),
                orders = ex.orders.len(),
                trades = ex.trades.len(),
                trading_day = %ex.trading_day,
                elapsed = ?started.elapsed(),
                "sim ledger replayed and checked"
            );
        }
        // Continue the walk from the saved last prices of the same day.
        if let Ok(bytes) = std::fs::read(dir.join("market.json"))
            && let Ok(snap) = serde_json::from_slice::<MarketSnapshot>(&bytes)
            && snap.trading_day == ex.trading_day
        {
            let Exchange { quotes, rng, .. } = &mut ex;
            for (id, last) in snap.last {
                if let Some(i) = instruments::index_of(&id) {
                    let pre = quotes[i].pre_settlement;
                    quotes[i] = Quote::new(&INSTRUMENTS[i], pre, Some(last), rng);
                }
            }
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let mut initial = Vec::new();
        if opened.fresh {
            initial.push(Record::Start {
                day: ex.trading_day.clone(),
            });
        }
        for acc in &config.accounts {
            if !ex.accounts.contains_key(&acc.user_id) {
                let funds = acc.funds.unwrap_or(config.initial_funds);
                initial.push(ex.open_account(&acc.user_id, &acc.password, funds));
            }
        }
        if !initial.is_empty() {
            ledger.append(&initial, Vec::new()).map_err(BackendError)?;
        }
        let core = Arc::new(SimCore {
            config,
            data_dir: dir,
            exchange: Mutex::new(ex),
            ledger,
            md_sessions: Mutex::new(Vec::new()),
            td_sessions: Mutex::new(Vec::new()),
            front: Mutex::new(Front { down_until: None }),
            deliver: Mutex::new(tx),
            logins: Mutex::new(LoginGuard::default()),
            next_session: AtomicI32::new((std::process::id() as i32 & 0xffff) << 12),
            shutdown: AtomicBool::new(false),
        });
        if core.config.auto_settle {
            let mut ex = core.exchange.lock().unwrap_or_else(|e| e.into_inner());
            core.roll_if_due(&mut ex);
        }
        thread::Builder::new()
            .name("sim-deliver".into())
            .spawn(move || {
                for job in rx {
                    job();
                }
            })
            .map_err(|e| BackendError(format!("cannot start the sim: {e}")))?;
        let weak = Arc::downgrade(&core);
        thread::Builder::new()
            .name("sim-market".into())
            .spawn(move || market_thread(weak))
            .map_err(|e| BackendError(format!("cannot start the sim: {e}")))?;
        if let Some(outage) = core.config.front_outage {
            let weak = Arc::downgrade(&core);
            thread::spawn(move || {
                thread::sleep(Duration::from_secs_f64(outage.after_secs.max(0.0)));
                if let Some(core) = weak.upgrade() {
                    core.drop_front(Duration::from_secs_f64(outage.for_secs.max(0.0)));
                }
            });
        }
        Ok(SimBackend { core })
    }

    /// Ends the trading day now: resting orders are cancelled, positions settle at the
    /// last prices and move to yesterday's, and a new day starts.
    pub fn settle(&self) -> String {
        let mut ex = self.core.exchange.lock().unwrap_or_else(|e| e.into_inner());
        let next = clock::parse_date(&ex.trading_day)
            .map(|d| clock::date_string(clock::next_business_day(d + 1)))
            .unwrap_or_else(|| clock::date_string(BeijingTime::now().trading_day()));
        self.core.roll(&mut ex, &next);
        drop(ex);
        self.core.ledger.flush();
        next
    }
}

impl Drop for SimBackend {
    fn drop(&mut self) {
        self.core.shutdown.store(true, Ordering::Relaxed);
        self.core.save_market();
        self.core.ledger.flush();
    }
}

/// Moves prices at the configured rate, fills resting orders the new book crosses,
/// sends ticks to subscribed sessions and rolls the trading day.
fn market_thread(core: Weak<SimCore>) {
    let mut next: Vec<Instant> = Vec::new();
    let mut last_housekeeping = Instant::now();
    loop {
        let Some(core) = core.upgrade() else { return };
        if core.shutdown.load(Ordering::Relaxed) {
            return;
        }
        if last_housekeeping.elapsed() >= Duration::from_secs(1) {
            last_housekeeping = Instant::now();
            if core.config.auto_settle {
                let mut ex = core.exchange.lock().unwrap_or_else(|e| e.into_inner());
                core.roll_if_due(&mut ex);
            }
            core.save_market();
        }
        let rate = core.config.tick_rate;
        if rate <= 0.0 {
            drop(core);
            thread::sleep(Duration::from_millis(100));
            continue;
        }
        let interval = Duration::from_secs_f64(1.0 / rate);
        let now = Instant::now();
        if next.len() != INSTRUMENTS.len() {
            // Spread the instruments over one interval so ticks do not come in bursts.
            let step = interval / INSTRUMENTS.len() as u32;
            next = (0..INSTRUMENTS.len())
                .map(|i| now + step * i as u32)
                .collect();
        }
        let sessions = core.md_sessions();
        let up = core.front_up();
        let mut ticks = Vec::new();
        {
            let mut ex = core.exchange.lock().unwrap_or_else(|e| e.into_inner());
            let stamp_now = BeijingTime::now();
            for i in 0..INSTRUMENTS.len() {
                // Catch up at most a few steps; a stalled thread should not burst.
                let mut steps = 0;
                while next[i] <= now && steps < 64 {
                    let Exchange { quotes, rng, .. } = &mut *ex;
                    quotes[i].step(rng);
                    next[i] += interval;
                    steps += 1;
                    for idx in ex.crossing_orders(i) {
                        // Applied at once: the next step must see what this one filled.
                        let fills = ex.decide_match(idx, &stamp_now);
                        if !fills.is_empty() {
                            td::commit_and_flush(&core, &mut ex, fills);
                        }
                    }
                    if up && sessions.iter().any(|s| s.wants(i)) {
                        let mut d = ex.quotes[i].snapshot(&ex.trading_day, &stamp_now);
                        if core.config.stamp_ticks {
                            // Generation time and the instrument's tick number, so a
                            // benchmark can measure latency and see gaps.
                            d.reserve2 =
                                format!("{}:{}", clock::unix_nanos(), ex.quotes[i].sequence);
                        }
                        ticks.push((i, d));
                    }
                }
                if next[i] + interval < now {
                    next[i] = now;
                }
            }
        }
        core.ledger.drain();
        for (i, d) in ticks {
            for s in &sessions {
                if s.wants(i) {
                    s.events.tick(d.clone());
                }
            }
        }
        let wake = next.iter().min().copied().unwrap_or(now + interval);
        drop(sessions);
        drop(core);
        let now = Instant::now();
        if wake > now {
            thread::sleep((wake - now).min(Duration::from_millis(100)));
        }
    }
}

impl Backend for SimBackend {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn version(&self) -> String {
        VERSION.to_string()
    }

    fn md_session(&self, events: Arc<dyn MdEvents>) -> Result<Arc<dyn MdSession>, BackendError> {
        let s = Arc::new(SimMdSession {
            core: Arc::downgrade(&self.core),
            events: events.clone(),
            logged_in: AtomicBool::new(false),
            subscribed: Mutex::new(HashSet::new()),
        });
        self.core
            .md_sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(&s));
        if self.core.front_up() {
            self.core
                .post(Box::new(move || events.front(FrontEvent::Connected)));
        }
        Ok(s)
    }

    fn td_session(
        &self,
        events: Arc<dyn TdEvents>,
        _user: &str,
    ) -> Result<Arc<dyn TdSession>, BackendError> {
        let id = self.core.next_session.fetch_add(1, Ordering::Relaxed);
        let s = Arc::new(SimTdSession::new(
            Arc::downgrade(&self.core),
            events.clone(),
            id,
        ));
        self.core
            .td_sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(&s));
        if self.core.front_up() {
            // Through the ledger's queue, so it reaches the session after nothing else.
            let ev = events.clone();
            let _ = self
                .core
                .ledger
                .append_deferred(&[], vec![Box::new(move || ev.front(FrontEvent::Connected))]);
        }
        Ok(s)
    }

    fn query_interval(&self) -> Duration {
        Duration::ZERO
    }

    fn drop_front(&self, duration: Duration) -> Result<(), String> {
        self.core.drop_front(duration);
        Ok(())
    }

    fn flush(&self) {
        self.core.save_market();
        self.core.ledger.flush();
    }

    fn settle(&self) -> Result<String, String> {
        Ok(SimBackend::settle(self))
    }
}

/// The sim's market-data session.
pub struct SimMdSession {
    core: Weak<SimCore>,
    events: Arc<dyn MdEvents>,
    logged_in: AtomicBool,
    subscribed: Mutex<HashSet<usize>>,
}

impl SimMdSession {
    fn wants(&self, instrument: usize) -> bool {
        self.logged_in.load(Ordering::Relaxed)
            && self
                .subscribed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&instrument)
    }

    fn core(&self) -> Option<Arc<SimCore>> {
        self.core.upgrade().filter(|c| c.front_up())
    }

    fn answer_each(
        &self,
        core: &SimCore,
        msg_type: &'static str,
        ids: &[String],
        result: impl Fn(&str) -> i32,
    ) {
        let n = ids.len();
        for (i, id) in ids.iter().enumerate() {
            let reply = Reply::response(
                msg_type,
                "SpecificInstrument",
                Some(Body::from(SpecificInstrument {
                    InstrumentID: id.clone(),
                    ..SpecificInstrument::default()
                })),
                Some(rsp_info(result(id))),
                0,
                i + 1 == n,
            );
            let ev = self.events.clone();
            core.post(Box::new(move || ev.reply(reply)));
        }
    }
}

impl MdSession for SimMdSession {
    fn login(&self, req: &ReqUserLogin, request_id: i32) -> i32 {
        let Some(core) = self.core() else { return -1 };
        self.logged_in.store(true, Ordering::Relaxed);
        let now = BeijingTime::now();
        let body = RspUserLogin {
            TradingDay: core.trading_day(),
            LoginTime: now.time(),
            BrokerID: req.BrokerID.clone(),
            UserID: req.UserID.clone(),
            SystemName: "webctp sim".into(),
            FrontID: FRONT_ID,
            SessionID: 0,
            MaxOrderRef: "1".into(),
            SHFETime: now.time(),
            DCETime: now.time(),
            CZCETime: now.time(),
            FFEXTime: now.time(),
            INETime: now.time(),
            SysVersion: VERSION.into(),
            GFEXTime: now.time(),
            ..RspUserLogin::default()
        };
        let reply = Reply::response(
            "RspUserLogin",
            "RspUserLogin",
            Some(body.into()),
            Some(rsp_info(0)),
            request_id,
            true,
        );
        let ev = self.events.clone();
        core.post(Box::new(move || ev.reply(reply)));
        0
    }

    fn subscribe(&self, instruments: &[String]) -> i32 {
        let Some(core) = self.core() else { return -1 };
        {
            let mut subs = self.subscribed.lock().unwrap_or_else(|e| e.into_inner());
            for id in instruments {
                if let Some(i) = instruments::index_of(id) {
                    subs.insert(i);
                }
            }
        }
        self.answer_each(&core, "RspSubMarketData", instruments, |id| {
            if instruments::find(id).is_some() {
                0
            } else {
                ctp::INSTRUMENT_NOT_FOUND
            }
        });
        0
    }

    fn unsubscribe(&self, instruments: &[String]) -> i32 {
        let Some(core) = self.core() else { return -1 };
        {
            let mut subs = self.subscribed.lock().unwrap_or_else(|e| e.into_inner());
            for id in instruments {
                if let Some(i) = instruments::index_of(id) {
                    subs.remove(&i);
                }
            }
        }
        self.answer_each(&core, "RspUnSubMarketData", instruments, |_| 0);
        0
    }
}

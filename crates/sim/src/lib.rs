//! The embedded simulated exchange: every futures product of the six exchanges (a
//! product table, `config/products.yaml`) with contracts generated for the trading day
//! and rolled at every day roll, option chains, a market data generator, trading
//! sessions, order matching, accounts and a crash-safe ledger — behind the same
//! interface as the official CTP libraries.
//!
//! Threads: the market thread ([`ticker`]) moves the prices of subscribed instruments
//! at the configured rate, matches resting orders and rolls the trading day; the ledger
//! thread writes the journal and then delivers trading answers; a delivery thread hands
//! market-data answers to the gateway, so that (as with real CTP) no answer arrives
//! inside the call that caused it.
//!
//! The sim implements the backend trait of `webctp-protocol` and reads its settings
//! from `webctp-config`; it knows nothing of the gateway, the server or the terminal.

pub mod account;
pub mod calendar;
mod catalog;
/// Beijing time and CTP's date strings live with the protocol; the sim's modules and
/// older paths (`sim::clock`) reach them here.
pub use webctp_protocol::clock;
pub mod day_state;
pub mod decide;
pub mod error;
pub mod exchange;
#[cfg(test)]
mod exchange_tests;
pub mod instruments;
pub mod ledger;
pub mod listing;
pub mod market;
mod md;
pub mod options;
pub mod orders;
pub mod products;
pub mod queries;
mod rates;
pub mod record;
pub mod rng;
pub mod rules;
pub mod sessions;
pub mod spec;
pub mod td;
mod ticker;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Weak};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use self::clock::SimClock;
pub use self::error::SimError;
use self::exchange::{Exchange, Record};
use self::ledger::{Ledger, Replay};
use self::market::Quote;
pub use self::md::SimMdSession;
use self::products::ProductTable;
use self::rng::Rng;
use self::td::{LoginGuard, SimTdSession};
use webctp_config::{ClosedJournals, SimConfig};
use webctp_protocol::backend::{
    Backend, BackendError, FrontEvent, MdEvents, MdSession, TdEvents, TdSession,
};

/// FrontID the sim reports.
pub const FRONT_ID: i32 = 1;
/// SysVersion the sim reports.
pub const VERSION: &str = concat!("webctp-sim ", env!("CARGO_PKG_VERSION"));
/// CTP's `OnFrontDisconnected` reason for a failed network read.
const REASON_READ_FAILED: i32 = 0x1001;

type Job = Box<dyn FnOnce() + Send>;

struct Front {
    down_until: Option<Instant>,
    /// Fault injection: the front drops for this long at the next order insert, which
    /// is lost on its way (false) or placed with every answer to it lost (true).
    at_next_order: Option<(Duration, bool)>,
}

/// Last prices saved between runs, so a restarted sim continues the same market.
#[derive(Debug, Default, Serialize, Deserialize)]
struct MarketSnapshot {
    trading_day: String,
    last: Vec<(String, f64)>,
}

/// Which instruments some md session subscribed to, counted.
#[derive(Default)]
struct Watch {
    counts: HashMap<usize, u32>,
    /// Changes on every (un)subscription, so the market thread notices.
    generation: u64,
}

/// State shared by the sim's threads and sessions.
pub(crate) struct SimCore {
    config: SimConfig,
    /// The sim's clock (the wall clock, or shifted to `Sim.StartDate`).
    clock: SimClock,
    watch: Mutex<Watch>,
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

    /// The fault armed for the next order insert, if any (taken: it happens once).
    fn take_order_fault(&self) -> Option<(Duration, bool)> {
        self.front
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .at_next_order
            .take()
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

    /// Counts a session's interest in `instruments` up (`true`) or down.
    fn watch(&self, instruments: impl IntoIterator<Item = usize>, add: bool) {
        let mut w = self.watch.lock().unwrap_or_else(|e| e.into_inner());
        for i in instruments {
            let c = w.counts.entry(i).or_default();
            if add {
                *c += 1;
            } else {
                *c = c.saturating_sub(1);
                if *c == 0 {
                    w.counts.remove(&i);
                }
            }
        }
        w.generation += 1;
    }

    fn watch_generation(&self) -> u64 {
        self.watch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .generation
    }

    /// The instruments the market thread steps, ascending: those subscribed to (and
    /// listed) and those with resting orders.
    fn active_instruments(&self) -> Vec<usize> {
        let mut active: Vec<usize> = {
            let w = self.watch.lock().unwrap_or_else(|e| e.into_inner());
            w.counts.keys().copied().collect()
        };
        let ex = self.exchange.lock().unwrap_or_else(|e| e.into_inner());
        active.extend(
            ex.resting
                .iter()
                .enumerate()
                .filter(|(_, r)| !r.is_empty())
                .map(|(i, _)| i),
        );
        // An unlisted contract's market stands still, even under an order that an
        // earlier webctp accepted in it: the day's end cancels that order.
        active.retain(|&i| ex.instruments.is_listed(i));
        active.sort_unstable();
        active.dedup();
        active
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
                // Only what moved: an instrument nobody watched is still at its
                // settlement price.
                last: ex
                    .instruments
                    .listed()
                    .map(|(i, s)| (s, &ex.quotes[i]))
                    .filter(|(_, q)| q.sequence > 0 || q.volume > 0)
                    .map(|(s, q)| (s.id.clone(), q.last))
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
        let today = ex
            .instruments
            .products()
            .calendar
            .trading_day_at(&self.clock.now());
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
            let dropped: Vec<usize> = s
                .subscribed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain()
                .collect();
            self.watch(dropped, false);
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
        let records = ex.decide_roll(next_day, &self.clock.now());
        td::commit_and_flush(self, ex, records);
        if let Err(e) = self.ledger.rotate(ex.day_state()) {
            tracing::error!(
                "could not start the next day's journal ({e}); the closed day's journal stays in use and start-up finishes the change"
            );
        }
    }
}

/// The product table a sim config names (`Sim.Products`), else the built-in one.
pub fn product_table(config: &SimConfig) -> Result<Arc<ProductTable>, SimError> {
    match &config.products {
        Some(path) => Ok(Arc::new(ProductTable::load(path)?)),
        None => Ok(ProductTable::embedded()),
    }
}

/// The sim's clock as a config sets it (`Sim.StartDate`), else the wall clock.
pub fn clock_of(config: &SimConfig) -> SimClock {
    config.start.map_or_else(SimClock::wall, SimClock::starting)
}

/// The embedded exchange as a [`Backend`].
pub struct SimBackend {
    core: Arc<SimCore>,
}

impl SimBackend {
    /// Opens the ledger in `data_dir/sim` (replaying and checking it) and starts the
    /// exchange's threads.
    pub fn start(config: SimConfig, data_dir: &Path) -> Result<SimBackend, SimError> {
        let dir = data_dir.join("sim");
        let products = product_table(&config)?;
        let clock = clock_of(&config);
        let rng = config.seed.map_or_else(Rng::from_time, Rng::new);
        let day = clock::date_string(products.calendar.trading_day_at(&clock.now()));
        let started = Instant::now();
        let mut ex = Exchange::with_products(day, rng, products);
        let opts = ledger::Options {
            durability: config.durability,
            keep_closed: config.closed_journals == ClosedJournals::Archive,
        };
        let opened = Ledger::open(&dir, opts, &mut ex)?;
        let ledger = opened.ledger;
        let listed_in = started.elapsed();
        ex.sessions = config.sessions;
        if let Some(start) = config.start
            && clock::parse_date(&ex.trading_day).is_some_and(|d| d > start.day + 7)
        {
            tracing::warn!(
                ledger_day = %ex.trading_day,
                start_date = %clock::date_string(start.day),
                "the sim ledger is already on a later trading day than Sim.StartDate; it stays there (use a fresh data dir to start over)"
            );
        }
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
            let Exchange {
                quotes,
                rng,
                instruments,
                ..
            } = &mut ex;
            for (id, last) in snap.last {
                if let Some(i) = instruments.listed_index(&id) {
                    let pre = quotes[i].pre_settlement;
                    let activity = quotes[i].activity;
                    let oi = quotes[i].open_interest;
                    quotes[i] = Quote::new(instruments.get(i).clone(), pre, Some(last), rng);
                    quotes[i].activity = activity;
                    quotes[i].open_interest = oi;
                    quotes[i].pre_open_interest = oi;
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
            ledger.append(&initial, Vec::new())?;
        }
        tracing::info!(
            trading_day = %ex.trading_day,
            listed = ex.instruments.listed().count(),
            sessions = config.sessions.describe(),
            ?listed_in,
            "sim exchange open"
        );
        let core = Arc::new(SimCore {
            config,
            clock,
            watch: Mutex::new(Watch::default()),
            data_dir: dir,
            exchange: Mutex::new(ex),
            ledger,
            md_sessions: Mutex::new(Vec::new()),
            td_sessions: Mutex::new(Vec::new()),
            front: Mutex::new(Front {
                down_until: None,
                at_next_order: None,
            }),
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
            .map_err(|source| SimError::Thread {
                name: "delivery",
                source,
            })?;
        let weak = Arc::downgrade(&core);
        thread::Builder::new()
            .name("sim-market".into())
            .spawn(move || ticker::market_thread(weak))
            .map_err(|source| SimError::Thread {
                name: "market",
                source,
            })?;
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
        let calendar = &ex.instruments.products().calendar;
        let next = clock::parse_date(&ex.trading_day)
            .map(|d| clock::date_string(calendar.after(d)))
            .unwrap_or_else(|| clock::date_string(calendar.trading_day_at(&self.core.clock.now())));
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

    fn drop_front(&self, duration: Duration) -> Result<(), BackendError> {
        self.core.drop_front(duration);
        Ok(())
    }

    fn drop_front_at_next_order(
        &self,
        duration: Duration,
        placed: bool,
    ) -> Result<(), BackendError> {
        self.core
            .front
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .at_next_order = Some((duration, placed));
        Ok(())
    }

    fn flush(&self) {
        self.core.save_market();
        self.core.ledger.flush();
    }

    fn settle(&self) -> Result<String, BackendError> {
        Ok(SimBackend::settle(self))
    }

    fn describe(&self) -> Option<String> {
        let ex = self.core.exchange.lock().unwrap_or_else(|e| e.into_inner());
        let listed = ex.instruments.listed().count();
        let clock = match self.core.config.start {
            Some(start) => format!(
                " (clock from Sim.StartDate {})",
                clock::date_string(start.day)
            ),
            None => String::new(),
        };
        // Two short lines: the terminal may be 80 columns wide.
        Some(format!(
            "sim sessions: {}\ntrading day {}, {listed} contracts listed{clock}",
            self.core.config.sessions.describe(),
            ex.trading_day
        ))
    }
}

//! The embedded simulated exchange: instruments on all six exchanges, a market data
//! generator, order matching, accounts and a crash-safe ledger — behind the same
//! interface as the official CTP libraries.
//!
//! Threads: a market thread moves prices at the configured rate and matches resting
//! orders; a delivery thread hands answers to the gateway, so that (as with real
//! CTP) no answer arrives inside the call that caused it.

pub mod clock;
pub mod instruments;
pub mod market;
pub mod rng;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Weak};
use std::thread;
use std::time::{Duration, Instant};

use self::clock::BeijingTime;
use self::instruments::INSTRUMENTS;
use self::market::Quote;
use self::rng::Rng;
use crate::config::SimConfig;
use crate::ctp::{Backend, BackendError, FrontEvent, MdEvents, MdSession, TdEvents, TdSession};
use crate::protocol::Reply;
use crate::protocol::errors::{ctp, rsp_info};
use crate::protocol::fields::{Body, ReqUserLogin, RspUserLogin, SpecificInstrument};

/// FrontID the sim reports.
pub const FRONT_ID: i32 = 1;
/// CTP's `OnFrontDisconnected` reason for a failed network read.
const REASON_READ_FAILED: i32 = 0x1001;

type Job = Box<dyn FnOnce() + Send>;

struct Market {
    quotes: Vec<Quote>,
    rng: Rng,
    trading_day: String,
}

struct Front {
    down_until: Option<Instant>,
}

/// State shared by the sim's threads and sessions.
pub(crate) struct SimCore {
    config: SimConfig,
    market: Mutex<Market>,
    md_sessions: Mutex<Vec<Weak<SimMdSession>>>,
    front: Mutex<Front>,
    deliver: Mutex<mpsc::Sender<Job>>,
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

    fn trading_day(&self) -> String {
        self.market
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .trading_day
            .clone()
    }
}

/// The embedded exchange as a [`Backend`].
pub struct SimBackend {
    core: Arc<SimCore>,
}

impl SimBackend {
    /// Starts the exchange's threads.
    pub fn start(config: SimConfig) -> Result<SimBackend, BackendError> {
        let mut rng = config.seed.map_or_else(Rng::from_time, Rng::new);
        let quotes = INSTRUMENTS
            .iter()
            .map(|s| Quote::new(s, None, &mut rng))
            .collect();
        let trading_day = clock::date_string(BeijingTime::now().trading_day());
        let (tx, rx) = mpsc::channel::<Job>();
        let core = Arc::new(SimCore {
            config,
            market: Mutex::new(Market {
                quotes,
                rng,
                trading_day,
            }),
            md_sessions: Mutex::new(Vec::new()),
            front: Mutex::new(Front { down_until: None }),
            deliver: Mutex::new(tx),
            shutdown: AtomicBool::new(false),
        });
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
            let backend = SimBackend { core: core.clone() };
            thread::spawn(move || {
                thread::sleep(Duration::from_secs_f64(outage.after_secs.max(0.0)));
                let _ = backend.drop_front(Duration::from_secs_f64(outage.for_secs.max(0.0)));
            });
        }
        Ok(SimBackend { core })
    }
}

impl Drop for SimBackend {
    fn drop(&mut self) {
        self.core.shutdown.store(true, Ordering::Relaxed);
    }
}

/// Moves prices at the configured rate and sends ticks to subscribed sessions.
fn market_thread(core: Weak<SimCore>) {
    let mut next: Vec<Instant> = Vec::new();
    loop {
        let Some(core) = core.upgrade() else { return };
        if core.shutdown.load(Ordering::Relaxed) {
            return;
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
            let mut m = core.market.lock().unwrap_or_else(|e| e.into_inner());
            let Market {
                quotes,
                rng,
                trading_day,
            } = &mut *m;
            let stamp_now = BeijingTime::now();
            for (i, q) in quotes.iter_mut().enumerate() {
                // Catch up at most a few steps; a stalled thread should not burst.
                let mut steps = 0;
                while next[i] <= now && steps < 64 {
                    q.step(rng);
                    next[i] += interval;
                    steps += 1;
                    if up && sessions.iter().any(|s| s.wants(i)) {
                        let mut d = q.snapshot(trading_day, &stamp_now);
                        if core.config.stamp_ticks {
                            d.reserve2 = clock::unix_nanos().to_string();
                        }
                        ticks.push((i, d));
                    }
                }
                if next[i] + interval < now {
                    next[i] = now;
                }
            }
        }
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
        format!("webctp sim {}", env!("CARGO_PKG_VERSION"))
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

    fn td_session(&self, _events: Arc<dyn TdEvents>) -> Result<Arc<dyn TdSession>, BackendError> {
        Err(BackendError(
            "the simulated exchange does not trade yet".into(),
        ))
    }

    fn query_interval(&self) -> Duration {
        Duration::ZERO
    }

    fn drop_front(&self, duration: Duration) -> Result<(), String> {
        {
            let mut f = self.core.front.lock().unwrap_or_else(|e| e.into_inner());
            f.down_until = Some(Instant::now() + duration);
        }
        tracing::warn!(?duration, "sim front dropped");
        for s in self.core.md_sessions() {
            s.logged_in.store(false, Ordering::Relaxed);
            s.subscribed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
            let ev = s.events.clone();
            self.core.post(Box::new(move || {
                ev.front(FrontEvent::Disconnected {
                    reason: REASON_READ_FAILED,
                })
            }));
        }
        let core = Arc::downgrade(&self.core);
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
        });
        Ok(())
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
            SysVersion: self::VERSION.into(),
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

/// SysVersion the sim reports.
pub const VERSION: &str = concat!("webctp-sim ", env!("CARGO_PKG_VERSION"));

//! The one market-data session every `/md/` client shares.
//!
//! Subscriptions are reference-counted: the upstream front is asked for an instrument
//! when the first client wants it and released when the last one leaves. Each tick is
//! serialized once; the same bytes go to every subscriber's [`Outbox`], which conflates
//! per instrument if that client falls behind.
//!
//! The hub is a pure state machine ([`state::Machine`]: events in,
//! [`Actions`](actions::Actions) out — no backend, no outbox, no lock, no task inside)
//! and this driver around it. [`MdHub`] feeds it clients' requests, the front's
//! answers and events with the time they happen at, under one mutex; while still
//! holding it, it updates the tick routes and queues the clients' messages (so both
//! keep the machine's order), and it calls the front only after releasing it, because
//! a backend may answer on the same thread. The tick path takes only a read lock on
//! the routing table. The driver's timers (the front wait, a login's or subscription's
//! longest wait, the login retry) are tokio sleeps that send the machine an event.
//!
//! Split by concept: [`actions`] (what goes in and comes out), [`state`] (clients,
//! routes, subscriptions waiting for the front), `login` (the hub's login to the
//! front, clients' logins, the front's events), `subscriptions` (reference-counted
//! subscribe/unsubscribe and their answers) and `ticks` (the hot path).

mod actions;
mod login;
mod state;
mod subscriptions;
#[cfg(test)]
mod tests;
mod ticks;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::front_watch::{self, FrontWatch};
use super::outbox::Outbox;
use crate::ctp::{Backend, BackendError, FrontEvent, MdEvents, MdSession};
use crate::protocol::Reply;
use crate::protocol::fields::{DepthMarketData, ReqUserLogin};
use actions::{Actions, Call, Event};
use state::{Config, Machine, Upstream};

/// Identifies a client connection.
pub type ClientId = u64;

/// CTP's FRONT_NOT_ACTIVE: the request cannot reach the front right now.
const FRONT_NOT_ACTIVE: i32 = 8;
/// How long a client's login or subscription waits for the front before failing.
const UPSTREAM_WAIT: Duration = Duration::from_secs(15);
/// How long after a refused or unsent front login it is sent again.
const LOGIN_RETRY: Duration = Duration::from_secs(3);
/// How often the hub looks whether a "front still down" line is due.
const WATCH_TICK: Duration = Duration::from_secs(1);

/// One instrument's tick route: its conflation key and who receives it.
struct Route {
    key: u32,
    subscribers: Vec<(ClientId, Arc<Outbox>)>,
}

/// The shared market-data session: the driver of its [`Machine`].
pub struct MdHub {
    upstream: OnceLock<Arc<dyn MdSession>>,
    inner: Mutex<Inner>,
    routes: RwLock<HashMap<String, Route>>,
    login: ReqUserLogin,
    runtime: tokio::runtime::Handle,
    me: Weak<MdHub>,
    /// Ticks received from the backend.
    pub ticks: AtomicU64,
    /// Where every tick also goes, serialized (the Redis bus), when set.
    tick_sink: OnceLock<TickSink>,
}

/// What the mutex guards: the machine and the clients' outboxes.
struct Inner {
    machine: Machine,
    outboxes: HashMap<ClientId, Arc<Outbox>>,
}

/// Receives every tick's instrument and JSON (the bytes clients get). Must not block.
pub type TickSink = Box<dyn Fn(&str, &Bytes) + Send + Sync>;

impl MdHub {
    /// Starts the shared session on `backend`. Must be called inside a tokio runtime.
    /// A client's login waits `front_wait` for a front that has not connected before
    /// it is told the front is down.
    pub fn start(
        backend: &dyn Backend,
        login: ReqUserLogin,
        max_subscriptions: usize,
        front: String,
        front_wait: Duration,
    ) -> Result<Arc<MdHub>, BackendError> {
        tracing::info!("{front}: connecting");
        let now = Instant::now();
        let watch = FrontWatch::connecting(front, now);
        let cfg = Config {
            max_subscriptions,
            front_wait,
        };
        let hub = Arc::new_cyclic(|me| MdHub {
            upstream: OnceLock::new(),
            inner: Mutex::new(Inner {
                machine: Machine::new(cfg, watch, now),
                outboxes: HashMap::new(),
            }),
            routes: RwLock::new(HashMap::new()),
            login,
            runtime: tokio::runtime::Handle::current(),
            me: me.clone(),
            ticks: AtomicU64::new(0),
            tick_sink: OnceLock::new(),
        });
        // Outside the lock: the backend may report Connected from its own thread
        // before this returns; the machine holds that until it hears `Opened`.
        let session = backend.md_session(hub.clone())?;
        let _ = hub.upstream.set(session);
        hub.feed(Event::Opened);
        hub.runtime.spawn(watch_front(Arc::downgrade(&hub)));
        Ok(hub)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells the machine what happened now and does what it decides: routes and
    /// messages under the lock (in the machine's order), calls and timers after it.
    fn feed(&self, event: Event) {
        let a = {
            let mut g = self.lock();
            let a = g.machine.handle(Instant::now(), event);
            self.route_and_send(&g, &a);
            a
        };
        self.run(a);
    }

    fn route_and_send(&self, g: &Inner, a: &Actions) {
        if !a.join.is_empty() || !a.leave.is_empty() {
            let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
            for (inst, id) in &a.leave {
                if let Some(route) = routes.get_mut(inst) {
                    route.subscribers.retain(|(c, _)| c != id);
                    if route.subscribers.is_empty() {
                        routes.remove(inst);
                    }
                }
            }
            for (inst, key, id) in &a.join {
                let Some(outbox) = g.outboxes.get(id) else {
                    continue;
                };
                let route = routes.entry(inst.clone()).or_insert_with(|| Route {
                    key: *key,
                    subscribers: Vec::new(),
                });
                if !route.subscribers.iter().any(|(c, _)| c == id) {
                    route.subscribers.push((*id, outbox.clone()));
                }
            }
        }
        for (id, bytes) in &a.send {
            if let Some(outbox) = g.outboxes.get(id) {
                outbox.push(bytes.clone());
            }
        }
    }

    /// Calls the front, arms timers and logs, outside the lock.
    fn run(&self, a: Actions) {
        for call in a.calls {
            let code = match self.upstream.get() {
                Some(up) => match &call {
                    Call::Login(rid) => up.login(&self.login, *rid),
                    Call::Subscribe(instruments) => up.subscribe(instruments),
                    Call::Unsubscribe(instruments) => up.unsubscribe(instruments),
                },
                None => crate::protocol::errors::request::NETWORK_FAILURE,
            };
            if code != 0 {
                self.feed(Event::Refused { call, code });
            }
        }
        for (at, timer) in a.timers {
            let me = self.me.clone();
            self.runtime.spawn(async move {
                tokio::time::sleep_until(at).await;
                if let Some(hub) = me.upgrade() {
                    hub.feed(Event::Timer(timer));
                }
            });
        }
        for note in a.notes {
            front_watch::log(note);
        }
    }

    /// Registers a client; its pushes go to `outbox`.
    pub fn add_client(&self, id: ClientId, outbox: Arc<Outbox>) {
        self.lock().outboxes.insert(id, outbox);
        self.feed(Event::ClientAdded(id));
    }

    /// Removes a client and releases what only it was subscribed to.
    pub fn remove_client(&self, id: ClientId) {
        self.feed(Event::ClientRemoved(id));
        self.lock().outboxes.remove(&id);
    }

    /// A client's ReqUserLogin: answered from the shared session once it is logged in.
    pub fn client_login(&self, id: ClientId, request_id: i32) {
        self.feed(Event::Login {
            client: id,
            request_id,
        });
    }

    /// A client's SubscribeMarketData: one RspSubMarketData per instrument, in order,
    /// the last with IsLast.
    pub fn subscribe(&self, id: ClientId, request_id: i32, instruments: &[String]) {
        self.feed(Event::Subscribe {
            client: id,
            request_id,
            instruments: instruments.to_vec(),
        });
    }

    /// A client's UnSubscribeMarketData.
    pub fn unsubscribe(&self, id: ClientId, request_id: i32, instruments: &[String]) {
        self.feed(Event::Unsubscribe {
            client: id,
            request_id,
            instruments: instruments.to_vec(),
        });
    }

    /// Whether the client has logged in on /md/.
    pub fn is_logged_in(&self, id: ClientId) -> bool {
        self.lock()
            .machine
            .clients
            .get(&id)
            .is_some_and(|c| c.logged_in)
    }

    /// Instruments the client is subscribed to.
    pub fn subscriptions(&self, id: ClientId) -> Vec<String> {
        let g = self.lock();
        let mut v: Vec<String> = g
            .machine
            .clients
            .get(&id)
            .map(|c| c.wanted.iter().cloned().collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Number of instruments subscribed upstream.
    pub fn upstream_subscriptions(&self) -> usize {
        self.lock().machine.subscribed.len()
    }

    /// Clients that logged in on /md/.
    pub fn logged_in_clients(&self) -> usize {
        self.lock()
            .machine
            .clients
            .values()
            .filter(|c| c.logged_in)
            .count()
    }

    /// Sends every tick from now on to `sink` too (first caller wins).
    pub fn set_tick_sink(&self, sink: TickSink) {
        let _ = self.tick_sink.set(sink);
    }

    /// Whether the front is logged in.
    pub fn is_up(&self) -> bool {
        matches!(self.lock().machine.upstream, Upstream::LoggedIn(_))
    }
}

impl MdEvents for MdHub {
    fn reply(&self, reply: Reply) {
        self.feed(Event::Reply(reply));
    }

    fn tick(&self, data: DepthMarketData) {
        self.on_tick(data);
    }

    fn tick_json(&self, instrument: &str, json: Vec<u8>) -> Result<(), BackendError> {
        self.on_tick_json(instrument, json)
    }

    fn front(&self, event: FrontEvent) {
        self.feed(Event::Front(event));
    }
}

/// Writes "front still down" lines to the log while the front is down; ends with the hub.
async fn watch_front(me: Weak<MdHub>) {
    loop {
        tokio::time::sleep(WATCH_TICK).await;
        let Some(hub) = me.upgrade() else { return };
        hub.feed(Event::WatchTick);
    }
}

//! The one market-data session every `/md/` client shares.
//!
//! Subscriptions are reference-counted: the upstream front is asked for an instrument
//! when the first client wants it and released when the last one leaves. Each tick is
//! serialized once; the same bytes go to every subscriber's [`Outbox`], which conflates
//! per instrument if that client falls behind.
//!
//! The tick path takes only a read lock on the routing table; everything else
//! (subscriptions, login, front status) goes through one mutex. The hub never calls
//! the backend while holding a lock, because a backend may answer on the same thread.
//!
//! Split by concept: [`state`] (clients, routes, subscriptions waiting for the front),
//! `login` (the hub's login to the front, clients' logins, the front's events),
//! `subscriptions` (reference-counted subscribe/unsubscribe and their answers) and
//! `ticks` (the hot path).

mod login;
mod state;
mod subscriptions;
#[cfg(test)]
mod tests;
mod ticks;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::Duration;

use bytes::Bytes;

use super::front_watch::{self, FrontWatch};
use super::outbox::Outbox;
use crate::ctp::{Backend, BackendError, FrontEvent, MdEvents, MdSession};
use crate::protocol::Reply;
use crate::protocol::fields::{DepthMarketData, ReqUserLogin};
use state::{ClientEntry, HubState, Route, Upstream};

/// Identifies a client connection.
pub type ClientId = u64;

/// CTP's FRONT_NOT_ACTIVE: the request cannot reach the front right now.
const FRONT_NOT_ACTIVE: i32 = 8;
/// How long a client's login or subscription waits for the front before failing.
const UPSTREAM_WAIT: Duration = Duration::from_secs(15);
/// How long a client's login waits for a front that has not connected before the
/// client is told the front is down (webctp keeps retrying it).
const FRONT_WAIT: Duration = Duration::from_secs(3);
/// How often the hub looks whether a "front still down" line is due.
const WATCH_TICK: Duration = Duration::from_secs(1);

/// The shared market-data session.
pub struct MdHub {
    upstream: OnceLock<Arc<dyn MdSession>>,
    state: Mutex<HubState>,
    routes: RwLock<HashMap<String, Route>>,
    login: ReqUserLogin,
    max_subscriptions: usize,
    runtime: tokio::runtime::Handle,
    me: Weak<MdHub>,
    /// Ticks received from the backend.
    pub ticks: AtomicU64,
    /// Where every tick also goes, serialized (the Redis bus), when set.
    tick_sink: OnceLock<TickSink>,
}

/// Receives every tick's instrument and JSON (the bytes clients get). Must not block.
pub type TickSink = Box<dyn Fn(&str, &Bytes) + Send + Sync>;

/// What the hub forwards to clients after releasing its lock.
type Outgoing = Vec<(Arc<Outbox>, Bytes)>;

impl MdHub {
    /// Starts the shared session on `backend`. Must be called inside a tokio runtime.
    pub fn start(
        backend: &dyn Backend,
        login: ReqUserLogin,
        max_subscriptions: usize,
        front: String,
    ) -> Result<Arc<MdHub>, BackendError> {
        tracing::info!("{front}: connecting");
        let watch = FrontWatch::connecting(front, tokio::time::Instant::now());
        let hub = Arc::new_cyclic(|me| MdHub {
            upstream: OnceLock::new(),
            state: Mutex::new(HubState::new(watch)),
            routes: RwLock::new(HashMap::new()),
            login,
            max_subscriptions,
            runtime: tokio::runtime::Handle::current(),
            me: me.clone(),
            ticks: AtomicU64::new(0),
            tick_sink: OnceLock::new(),
        });
        let session = backend.md_session(hub.clone())?;
        // Under the lock: `front` decides under it too, so a Connected that arrives
        // while the session is being stored is either seen here or sees the session.
        let connected = {
            let mut st = hub.lock();
            let _ = hub.upstream.set(session);
            std::mem::take(&mut st.connect_pending)
        };
        if connected {
            hub.send_login();
        }
        hub.runtime.spawn(watch_front(Arc::downgrade(&hub)));
        Ok(hub)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send(out: Outgoing) {
        for (outbox, bytes) in out {
            outbox.push(bytes);
        }
    }

    /// Registers a client; its pushes go to `outbox`.
    pub fn add_client(&self, id: ClientId, outbox: Arc<Outbox>) {
        self.lock().clients.insert(
            id,
            ClientEntry {
                outbox,
                logged_in: false,
                wanted: HashSet::new(),
            },
        );
    }

    /// Removes a client and releases what only it was subscribed to.
    pub fn remove_client(&self, id: ClientId) {
        let mut st = self.lock();
        let Some(entry) = st.clients.remove(&id) else {
            return;
        };
        st.pending.retain(|_, p| p.client != id);
        st.login_waiters.retain(|(c, _)| *c != id);
        let release = self.leave_routes(&mut st, id, entry.wanted.iter());
        drop(st);
        self.unsubscribe_upstream(release);
    }

    /// Whether the client has logged in on /md/.
    pub fn is_logged_in(&self, id: ClientId) -> bool {
        self.lock().clients.get(&id).is_some_and(|c| c.logged_in)
    }

    /// Instruments the client is subscribed to.
    pub fn subscriptions(&self, id: ClientId) -> Vec<String> {
        let st = self.lock();
        let mut v: Vec<String> = st
            .clients
            .get(&id)
            .map(|c| c.wanted.iter().cloned().collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Number of instruments subscribed upstream.
    pub fn upstream_subscriptions(&self) -> usize {
        self.lock().subscribed.len()
    }

    /// Clients that logged in on /md/.
    pub fn logged_in_clients(&self) -> usize {
        self.lock().clients.values().filter(|c| c.logged_in).count()
    }

    /// Sends every tick from now on to `sink` too (first caller wins).
    pub fn set_tick_sink(&self, sink: TickSink) {
        let _ = self.tick_sink.set(sink);
    }

    /// Whether the front is logged in.
    pub fn is_up(&self) -> bool {
        matches!(self.lock().upstream, Upstream::LoggedIn(_))
    }
}

impl MdEvents for MdHub {
    fn reply(&self, reply: Reply) {
        self.on_reply(reply);
    }

    fn tick(&self, data: DepthMarketData) {
        self.on_tick(data);
    }

    fn tick_json(&self, instrument: &str, json: Vec<u8>) -> Result<(), BackendError> {
        self.on_tick_json(instrument, json)
    }

    fn front(&self, event: FrontEvent) {
        self.on_front(event);
    }
}

/// Writes "front still down" lines to the log while the front is down; ends with the hub.
async fn watch_front(me: Weak<MdHub>) {
    loop {
        tokio::time::sleep(WATCH_TICK).await;
        let Some(hub) = me.upgrade() else { return };
        let note = hub.lock().watch.due(tokio::time::Instant::now());
        if let Some(note) = note {
            front_watch::log(note);
        }
    }
}

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

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::Duration;

use bytes::Bytes;

use super::outbox::Outbox;
use crate::ctp::{Backend, BackendError, FrontEvent, MdEvents, MdSession};
use crate::protocol::Reply;
use crate::protocol::errors::{self, rsp_info};
use crate::protocol::fields::{
    Body, DepthMarketData, ReqUserLogin, RspInfo, RspUserLogin, SpecificInstrument,
};
use crate::protocol::message::{front_status, market_data_json};

/// Identifies a client connection.
pub type ClientId = u64;

/// CTP's FRONT_NOT_ACTIVE: the request cannot reach the front right now.
const FRONT_NOT_ACTIVE: i32 = 8;
/// How long a client's login or subscription waits for the front before failing.
const UPSTREAM_WAIT: Duration = Duration::from_secs(15);

struct Route {
    key: u32,
    subscribers: Vec<(ClientId, Arc<Outbox>)>,
}

struct ClientEntry {
    outbox: Arc<Outbox>,
    logged_in: bool,
    /// Instruments the client asked for and has not given up.
    wanted: HashSet<String>,
}

/// One subscribe request waiting for the front's answers.
struct PendingSub {
    client: ClientId,
    request_id: i32,
    items: Vec<(String, Option<RspInfo>)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Upstream {
    /// Not connected (or the front went away).
    Down,
    /// Connected, login sent.
    LoggingIn,
    LoggedIn(Box<RspUserLogin>),
}

struct HubState {
    clients: HashMap<ClientId, ClientEntry>,
    upstream: Upstream,
    /// Ever logged in (a later login is a reconnect).
    was_logged_in: bool,
    /// The front connected before the session object was stored.
    connect_pending: bool,
    subscribed: HashSet<String>,
    /// Instruments asked of the front and not yet answered.
    in_flight: HashSet<String>,
    pending: HashMap<u64, PendingSub>,
    next_pending: u64,
    login_waiters: Vec<(ClientId, i32)>,
    keys: HashMap<String, u32>,
    next_request_id: i32,
}

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
    ) -> Result<Arc<MdHub>, BackendError> {
        let hub = Arc::new_cyclic(|me| MdHub {
            upstream: OnceLock::new(),
            state: Mutex::new(HubState {
                clients: HashMap::new(),
                upstream: Upstream::Down,
                was_logged_in: false,
                connect_pending: false,
                subscribed: HashSet::new(),
                in_flight: HashSet::new(),
                pending: HashMap::new(),
                next_pending: 0,
                login_waiters: Vec::new(),
                keys: HashMap::new(),
                next_request_id: 0,
            }),
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

    fn login_reply(login: Option<&RspUserLogin>, info: RspInfo, request_id: i32) -> Bytes {
        Bytes::from(
            Reply::response(
                "RspUserLogin",
                "RspUserLogin",
                login.cloned().map(Body::from),
                Some(info),
                request_id,
                true,
            )
            .to_json(),
        )
    }

    /// A client's ReqUserLogin: answered from the shared session once it is logged in.
    pub fn client_login(&self, id: ClientId, request_id: i32) {
        {
            let mut guard = self.lock();
            let st = &mut *guard;
            let Some(client) = st.clients.get_mut(&id) else {
                return;
            };
            if let Upstream::LoggedIn(login) = &st.upstream {
                client.logged_in = true;
                let msg = Self::login_reply(Some(login), rsp_info(0), request_id);
                client.outbox.push(msg);
                return;
            }
            st.login_waiters.push((id, request_id));
        }
        let me = self.me.clone();
        self.runtime.spawn(async move {
            tokio::time::sleep(UPSTREAM_WAIT).await;
            if let Some(hub) = me.upgrade() {
                hub.expire_login(id, request_id);
            }
        });
    }

    fn expire_login(&self, id: ClientId, request_id: i32) {
        let mut st = self.lock();
        let before = st.login_waiters.len();
        st.login_waiters.retain(|w| *w != (id, request_id));
        if st.login_waiters.len() == before {
            return;
        }
        if let Some(c) = st.clients.get(&id) {
            c.outbox.push(Self::login_reply(
                None,
                rsp_info(FRONT_NOT_ACTIVE),
                request_id,
            ));
        }
    }

    /// A client's SubscribeMarketData: one RspSubMarketData per instrument, in order,
    /// the last with IsLast.
    pub fn subscribe(&self, id: ClientId, request_id: i32, instruments: &[String]) {
        let mut st = self.lock();
        let mut ask = Vec::new();
        let mut items = Vec::with_capacity(instruments.len());
        let mut waiting = false;
        let up = matches!(st.upstream, Upstream::LoggedIn(_));
        for inst in instruments {
            let Some(client) = st.clients.get(&id) else {
                return;
            };
            let known = client.wanted.contains(inst);
            if !known && client.wanted.len() >= self.max_subscriptions {
                items.push((inst.clone(), Some(limit_info(self.max_subscriptions))));
                continue;
            }
            if known && st.subscribed.contains(inst) {
                items.push((inst.clone(), Some(rsp_info(0))));
            } else if st.subscribed.contains(inst) {
                if let Some(c) = st.clients.get_mut(&id) {
                    c.wanted.insert(inst.clone());
                }
                self.join_route(&mut st, id, inst);
                items.push((inst.clone(), Some(rsp_info(0))));
            } else if !up {
                items.push((inst.clone(), Some(rsp_info(FRONT_NOT_ACTIVE))));
            } else {
                if let Some(c) = st.clients.get_mut(&id) {
                    c.wanted.insert(inst.clone());
                }
                if st.in_flight.insert(inst.clone()) {
                    ask.push(inst.clone());
                }
                items.push((inst.clone(), None));
                waiting = true;
            }
        }
        if !waiting {
            let out = Self::sub_replies(&st, id, request_id, "RspSubMarketData", &items);
            drop(st);
            Self::send(out);
            return;
        }
        let key = st.next_pending;
        st.next_pending += 1;
        st.pending.insert(
            key,
            PendingSub {
                client: id,
                request_id,
                items,
            },
        );
        drop(st);
        self.subscribe_upstream(ask);
        let me = self.me.clone();
        self.runtime.spawn(async move {
            tokio::time::sleep(UPSTREAM_WAIT).await;
            if let Some(hub) = me.upgrade() {
                hub.expire_pending(key);
            }
        });
    }

    fn expire_pending(&self, key: u64) {
        let mut st = self.lock();
        let Some(mut p) = st.pending.remove(&key) else {
            return;
        };
        for (inst, result) in &mut p.items {
            if result.is_none() {
                *result = Some(rsp_info(FRONT_NOT_ACTIVE));
                st.in_flight.remove(inst.as_str());
                if let Some(c) = st.clients.get_mut(&p.client) {
                    c.wanted.remove(inst.as_str());
                }
            }
        }
        let out = Self::sub_replies(&st, p.client, p.request_id, "RspSubMarketData", &p.items);
        drop(st);
        Self::send(out);
    }

    /// A client's UnSubscribeMarketData.
    pub fn unsubscribe(&self, id: ClientId, request_id: i32, instruments: &[String]) {
        let mut st = self.lock();
        let Some(client) = st.clients.get_mut(&id) else {
            return;
        };
        for inst in instruments {
            client.wanted.remove(inst);
        }
        let release = self.leave_routes(&mut st, id, instruments.iter());
        let items: Vec<(String, Option<RspInfo>)> = instruments
            .iter()
            .map(|i| (i.clone(), Some(rsp_info(0))))
            .collect();
        let out = Self::sub_replies(&st, id, request_id, "RspUnSubMarketData", &items);
        drop(st);
        Self::send(out);
        self.unsubscribe_upstream(release);
    }

    fn sub_replies(
        st: &HubState,
        id: ClientId,
        request_id: i32,
        msg_type: &'static str,
        items: &[(String, Option<RspInfo>)],
    ) -> Outgoing {
        let Some(c) = st.clients.get(&id) else {
            return Vec::new();
        };
        let n = items.len();
        items
            .iter()
            .enumerate()
            .map(|(i, (inst, info))| {
                let body = SpecificInstrument {
                    InstrumentID: inst.clone(),
                    ..SpecificInstrument::default()
                };
                let reply = Reply::response(
                    msg_type,
                    "SpecificInstrument",
                    Some(body.into()),
                    info.clone(),
                    request_id,
                    i + 1 == n,
                );
                (c.outbox.clone(), Bytes::from(reply.to_json()))
            })
            .collect()
    }

    fn key_of(st: &mut HubState, inst: &str) -> u32 {
        let next = st.keys.len() as u32;
        *st.keys.entry(inst.to_string()).or_insert(next)
    }

    fn join_route(&self, st: &mut HubState, id: ClientId, inst: &str) {
        let Some(outbox) = st.clients.get(&id).map(|c| c.outbox.clone()) else {
            return;
        };
        let key = Self::key_of(st, inst);
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        let route = routes.entry(inst.to_string()).or_insert_with(|| Route {
            key,
            subscribers: Vec::new(),
        });
        if !route.subscribers.iter().any(|(c, _)| *c == id) {
            route.subscribers.push((id, outbox));
        }
    }

    /// Takes the client out of the routes of `instruments`; returns the instruments no
    /// one wants any more.
    fn leave_routes<'a>(
        &self,
        st: &mut HubState,
        id: ClientId,
        instruments: impl Iterator<Item = &'a String>,
    ) -> Vec<String> {
        let mut release = Vec::new();
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        for inst in instruments {
            if let Some(route) = routes.get_mut(inst) {
                route.subscribers.retain(|(c, _)| *c != id);
                if route.subscribers.is_empty() {
                    routes.remove(inst);
                    if st.subscribed.remove(inst) {
                        release.push(inst.clone());
                    }
                }
            }
        }
        release
    }

    fn subscribe_upstream(&self, instruments: Vec<String>) {
        if instruments.is_empty() {
            return;
        }
        let Some(up) = self.upstream.get() else {
            return;
        };
        let code = up.subscribe(&instruments);
        if code != 0 {
            tracing::warn!(code, ?instruments, "SubscribeMarketData was not sent");
            for inst in &instruments {
                self.resolve(inst, rsp_info(code));
            }
        }
    }

    fn unsubscribe_upstream(&self, instruments: Vec<String>) {
        if instruments.is_empty() {
            return;
        }
        if let Some(up) = self.upstream.get() {
            let code = up.unsubscribe(&instruments);
            if code != 0 {
                tracing::warn!(code, ?instruments, "UnSubscribeMarketData was not sent");
            }
        }
    }

    /// The front answered a subscription of `inst`.
    fn resolve(&self, inst: &str, info: RspInfo) {
        let mut st = self.lock();
        st.in_flight.remove(inst);
        let ok = info.ErrorID == 0;
        if ok {
            st.subscribed.insert(inst.to_string());
        }
        let mut done = Vec::new();
        let keys: Vec<u64> = st.pending.keys().copied().collect();
        for key in keys {
            let Some(p) = st.pending.get_mut(&key) else {
                continue;
            };
            let mut touched = false;
            for (i, r) in p.items.iter_mut() {
                if i == inst && r.is_none() {
                    *r = Some(info.clone());
                    touched = true;
                }
            }
            if touched {
                let client = p.client;
                let complete = p.items.iter().all(|(_, r)| r.is_some());
                let wanted = st
                    .clients
                    .get(&client)
                    .is_some_and(|c| c.wanted.contains(inst));
                if ok && wanted {
                    self.join_route(&mut st, client, inst);
                } else if !ok && let Some(c) = st.clients.get_mut(&client) {
                    c.wanted.remove(inst);
                }
                if complete && let Some(p) = st.pending.remove(&key) {
                    done.push(p);
                }
            }
        }
        // A subscription nobody waits for any more (the client left) is released.
        let orphan = ok
            && !st.clients.values().any(|c| c.wanted.contains(inst))
            && !self
                .routes
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(inst);
        if orphan {
            st.subscribed.remove(inst);
        }
        let mut out = Vec::new();
        for p in done {
            out.extend(Self::sub_replies(
                &st,
                p.client,
                p.request_id,
                "RspSubMarketData",
                &p.items,
            ));
        }
        drop(st);
        Self::send(out);
        if orphan {
            self.unsubscribe_upstream(vec![inst.to_string()]);
        }
    }

    fn send_login(&self) {
        let Some(up) = self.upstream.get() else {
            return;
        };
        let rid = {
            let mut st = self.lock();
            st.upstream = Upstream::LoggingIn;
            st.next_request_id += 1;
            st.next_request_id
        };
        let code = up.login(&self.login, rid);
        if code != 0 {
            tracing::warn!(code, "md ReqUserLogin was not sent; retrying");
            self.retry_login();
        }
    }

    fn retry_login(&self) {
        let me = self.me.clone();
        self.runtime.spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            if let Some(hub) = me.upgrade() {
                let again = matches!(hub.lock().upstream, Upstream::LoggingIn);
                if again {
                    hub.send_login();
                }
            }
        });
    }

    fn on_login(&self, reply: Reply) {
        let info = reply.rsp_info.clone().unwrap_or_else(|| rsp_info(0));
        let login = match reply.body {
            Some(Body::RspUserLogin(l)) => *l,
            _ => RspUserLogin::default(),
        };
        let mut st = self.lock();
        if info.ErrorID != 0 {
            tracing::error!(error = info.ErrorID, msg = %info.ErrorMsg, "market data login refused");
            let waiters = std::mem::take(&mut st.login_waiters);
            let out: Outgoing = waiters
                .into_iter()
                .filter_map(|(c, rid)| {
                    let e = st.clients.get(&c)?;
                    Some((e.outbox.clone(), Self::login_reply(None, info.clone(), rid)))
                })
                .collect();
            drop(st);
            Self::send(out);
            self.retry_login();
            return;
        }
        tracing::info!(trading_day = %login.TradingDay, "market data front logged in");
        st.upstream = Upstream::LoggedIn(Box::new(login.clone()));
        let reconnect = std::mem::replace(&mut st.was_logged_in, true);
        let waiters = std::mem::take(&mut st.login_waiters);
        let mut out: Outgoing = Vec::new();
        for (c, rid) in waiters {
            if let Some(e) = st.clients.get_mut(&c) {
                e.logged_in = true;
                out.push((
                    e.outbox.clone(),
                    Self::login_reply(Some(&login), rsp_info(0), rid),
                ));
            }
        }
        // Re-subscribe what clients hold: after a reconnect the front has forgotten.
        let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
        let mut again: Vec<String> = routes.keys().cloned().collect();
        drop(routes);
        again.retain(|i| !st.subscribed.contains(i) && st.in_flight.insert(i.clone()));
        again.sort();
        if reconnect {
            let msg = Bytes::from(front_status(
                true,
                0,
                "market data front is back; subscriptions restored",
            ));
            out.extend(st.clients.values().map(|c| (c.outbox.clone(), msg.clone())));
        }
        drop(st);
        if !again.is_empty() {
            tracing::info!(count = again.len(), "re-subscribing market data");
        }
        self.subscribe_upstream(again);
        Self::send(out);
    }
}

fn limit_info(max: usize) -> RspInfo {
    RspInfo {
        ErrorID: errors::LIMIT_EXCEEDED,
        ErrorMsg: format!("订阅数量超过上限 ({max})"),
    }
}

impl MdEvents for MdHub {
    fn reply(&self, reply: Reply) {
        match reply.msg_type {
            "RspUserLogin" => self.on_login(reply),
            "RspSubMarketData" => {
                let info = reply.rsp_info.clone().unwrap_or_else(|| rsp_info(0));
                if let Some(Body::SpecificInstrument(s)) = &reply.body {
                    self.resolve(&s.InstrumentID, info);
                }
            }
            "RspUnSubMarketData" | "RspUserLogout" => {}
            other => {
                tracing::debug!(
                    msg_type = other,
                    error = reply.error_id(),
                    "md reply not forwarded"
                );
            }
        }
    }

    fn tick(&self, data: DepthMarketData) {
        self.ticks.fetch_add(1, Ordering::Relaxed);
        let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
        let route = routes.get(&data.InstrumentID);
        let sink = self.tick_sink.get();
        if route.is_none() && sink.is_none() {
            return;
        }
        // Unset prices (DBL_MAX) are written as 0 by the serializer.
        let bytes = Bytes::from(market_data_json(&data));
        if let Some(sink) = sink {
            sink(&data.InstrumentID, &bytes);
        }
        if let Some(route) = route {
            for (_, outbox) in &route.subscribers {
                outbox.push_md(route.key, bytes.clone());
            }
        }
    }

    fn tick_json(&self, instrument: &str, json: Vec<u8>) -> Result<(), BackendError> {
        let json = Bytes::from(json);
        self.ticks.fetch_add(1, Ordering::Relaxed);
        let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
        if let Some(sink) = self.tick_sink.get() {
            sink(instrument, &json);
        }
        if let Some(route) = routes.get(instrument) {
            for (_, outbox) in &route.subscribers {
                outbox.push_md(route.key, json.clone());
            }
        }
        Ok(())
    }

    fn front(&self, event: FrontEvent) {
        match event {
            FrontEvent::Connected => {
                tracing::info!("market data front connected");
                {
                    let mut st = self.lock();
                    if self.upstream.get().is_none() {
                        // `start` has not stored the session yet: it logs in when it has.
                        st.connect_pending = true;
                        return;
                    }
                }
                self.send_login();
            }
            FrontEvent::Disconnected { reason } => {
                tracing::warn!(reason, "market data front disconnected");
                let mut st = self.lock();
                st.upstream = Upstream::Down;
                st.subscribed.clear();
                st.in_flight.clear();
                let pending: Vec<u64> = st.pending.keys().copied().collect();
                drop(st);
                for key in pending {
                    self.expire_pending(key);
                }
                let st = self.lock();
                let msg = Bytes::from(front_status(
                    false,
                    reason,
                    "market data front disconnected; webctp reconnects and restores subscriptions",
                ));
                let out: Outgoing = st
                    .clients
                    .values()
                    .map(|c| (c.outbox.clone(), msg.clone()))
                    .collect();
                drop(st);
                Self::send(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::{Arc, Barrier};

    use super::*;
    use crate::ctp::{Backend, BackendError, MdEvents, MdSession, TdEvents, TdSession};

    /// Counts the logins it is asked for.
    #[derive(Default)]
    struct CountingMd {
        logins: AtomicUsize,
    }

    impl MdSession for CountingMd {
        fn login(&self, _req: &ReqUserLogin, _request_id: i32) -> i32 {
            self.logins.fetch_add(1, Ordering::SeqCst);
            0
        }
        fn subscribe(&self, _instruments: &[String]) -> i32 {
            0
        }
        fn unsubscribe(&self, _instruments: &[String]) -> i32 {
            0
        }
    }

    /// A backend whose front reports Connected from its own thread at the very moment
    /// `md_session` returns — the start-up race of finding 3 in issue #10.
    struct RacingBackend {
        session: Arc<CountingMd>,
        front: Mutex<Option<std::thread::JoinHandle<()>>>,
        /// Busy-loop turns before the front reports, to sweep the interleavings.
        delay: u32,
    }

    impl Backend for RacingBackend {
        fn name(&self) -> &'static str {
            "racing"
        }
        fn version(&self) -> String {
            String::new()
        }
        fn md_session(
            &self,
            events: Arc<dyn MdEvents>,
        ) -> Result<Arc<dyn MdSession>, BackendError> {
            let start = Arc::new(Barrier::new(2));
            let go = start.clone();
            let delay = self.delay;
            *self.front.lock().unwrap() = Some(std::thread::spawn(move || {
                go.wait();
                for i in 0..delay {
                    std::hint::black_box(i);
                }
                events.front(FrontEvent::Connected);
            }));
            start.wait();
            Ok(self.session.clone())
        }
        fn td_session(
            &self,
            _events: Arc<dyn TdEvents>,
            _user: &str,
        ) -> Result<Arc<dyn TdSession>, BackendError> {
            Err(BackendError::Session("no trading here".into()))
        }
        fn query_interval(&self) -> Duration {
            Duration::ZERO
        }
    }

    #[tokio::test]
    async fn a_front_connected_during_start_always_leads_to_one_login() {
        for round in 0..20_000 {
            let backend = RacingBackend {
                session: Arc::new(CountingMd::default()),
                front: Mutex::new(None),
                delay: round % 1000,
            };
            let hub = MdHub::start(&backend, ReqUserLogin::default(), 10).unwrap();
            let front = backend.front.lock().unwrap().take().unwrap();
            front.join().unwrap();
            assert_eq!(
                backend.session.logins.load(Ordering::SeqCst),
                1,
                "round {round}: the md login was lost or sent twice"
            );
            drop(hub);
        }
    }
}

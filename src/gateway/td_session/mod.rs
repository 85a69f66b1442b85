//! One trading session: a client's login on `/td/` (or the REPL's), its upstream CTP
//! session, and everything between them.
//!
//! - **Login** follows what a CTP client must do and what webctp clients expect: on
//!   `ReqUserLogin` the session connects, authenticates (`ReqAuthenticate`, when an
//!   AppID is configured), logs in, confirms the settlement (configurable), and only
//!   then answers `RspUserLogin` — carrying the confirm's error if it failed.
//! - **Request IDs**: order inserts and cancels go to CTP with the client's own
//!   RequestID (as in the Python webctp projects), so every session that sees an order
//!   sees the RequestID its sender used. They are not waited on — CTP answers them only
//!   when it refuses them — and the [`OrderTracker`] follows each order only until it is
//!   final. Queries and the session's own requests get IDs of the session's own (from
//!   2^30 up), so clients may reuse theirs (webctp examples send 0 everywhere);
//!   answers carry the client's ID.
//! - **Queries** are queued and paced at the backend's interval, one in flight, and
//!   retried on CTP's flow-control codes (-2/-3), so clients never see them.
//! - **Reconnects**: when the front drops, the client is told; when it is back the
//!   session logs in again by itself (with backoff if the front keeps dropping), unless
//!   CTP refused the credentials — retrying those would lock the account (CTP 75).
//!   A query in flight at the drop is answered -1 (it did not complete); orders are
//!   never reported failed: after the re-login `ReqQryOrder`/`ReqQryTrade` recover what
//!   the client missed and it is pushed as `RtnOrder`/`RtnTrade`.
//!
//! Backend events arrive on the backend's threads; the state is behind one mutex that
//! is never held while calling into the backend.
//!
//! The session is split by concept: [`state`] (phase, pending requests, the
//! [`Actions`](state::Actions) decided under the lock), `login` (connect, authenticate,
//! log in, re-login with backoff, the stop after refused credentials), `requests`
//! (client requests and the RequestID map of answers), `pacing` (the query pump, -2/-3
//! retry, query timeout) and `recovery` (orders' truth after a re-login).

mod front_down;
mod login;
mod pacing;
mod recovery;
mod requests;
mod state;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use super::order_tracker::{OrderKey, OrderTracker};
use super::outbox::Outbox;
use crate::ctp::{Backend, FrontEvent, TdEvents};
use crate::protocol::errors::rsp_info;
use crate::protocol::fields::{ReqUserLogin, RspUserLogin};
use crate::protocol::message::call_failed;
use crate::protocol::{Reply, TdRequest};
use state::{Actions, Pending, Phase, State};

/// Settings a session takes from the configuration.
#[derive(Clone)]
pub struct TdSettings {
    pub broker_id: String,
    pub app_id: Option<String>,
    pub auth_code: Option<String>,
    pub user_product_info: String,
    pub auto_confirm_settlement: bool,
    pub query_interval: Duration,
    /// How long a query may stay unanswered before the client is told it failed.
    pub query_timeout: Duration,
    /// Orders followed by all sessions (see [`OrderTracker`]), for `/healthz`.
    pub tracked_orders: Arc<std::sync::atomic::AtomicUsize>,
    /// Where order events are also published (the Redis bus), if configured.
    pub bus: Option<Arc<crate::bus::Bus>>,
    /// The trading front in words for logs and clients, e.g. "trading front
    /// tcp://180.168.146.187:10201".
    pub front: String,
    /// How long a login waits for the front to connect before the client is told the
    /// front is down (the session keeps retrying it).
    pub front_wait: Duration,
}

/// A client's trading session.
pub struct TdSession {
    outbox: Arc<Outbox>,
    backend: Arc<dyn Backend>,
    settings: TdSettings,
    state: Mutex<State>,
    pump: Notify,
    runtime: tokio::runtime::Handle,
    me: Weak<TdSession>,
    /// Counts live sessions (a leak shows as a count that does not come down).
    live: Arc<std::sync::atomic::AtomicUsize>,
    /// Times ReqOrderInsert -> first RtnOrder for the metrics.
    order_clock: crate::metrics::OrderClock,
    /// Counts each pacing wait once, however often the pump looks.
    pacing_clock: crate::metrics::PacingClock,
}

impl Drop for TdSession {
    fn drop(&mut self) {
        self.live.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl TdSession {
    /// A session that answers into `outbox`. Must be created inside a tokio runtime.
    pub fn new(
        outbox: Arc<Outbox>,
        backend: Arc<dyn Backend>,
        settings: TdSettings,
        live: Arc<std::sync::atomic::AtomicUsize>,
    ) -> Arc<TdSession> {
        live.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tracked = settings.tracked_orders.clone();
        let s = Arc::new_cyclic(|me| TdSession {
            live,
            outbox,
            backend,
            settings,
            state: Mutex::new(State::new(OrderTracker::new(tracked))),
            pump: Notify::new(),
            runtime: tokio::runtime::Handle::current(),
            me: me.clone(),
            order_clock: crate::metrics::OrderClock::default(),
            pacing_clock: crate::metrics::PacingClock::default(),
        });
        crate::metrics::global().track_td(&s);
        let me = Arc::downgrade(&s);
        s.runtime.spawn(pacing::query_pump(me));
        s
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether requests other than login may be sent.
    pub fn is_logged_in(&self) -> bool {
        self.lock().phase == Phase::LoggedIn
    }

    /// Whether the upstream front is connected (logged in or not).
    pub fn front_connected(&self) -> bool {
        !matches!(self.lock().phase, Phase::Idle | Phase::Connecting)
    }

    /// Whether the front dropped after a login and the session waits to reconnect.
    pub fn front_reconnecting(&self) -> bool {
        let st = self.lock();
        st.phase == Phase::Connecting && st.was_logged_in && !st.closed
    }

    /// Queries queued behind the pacing.
    pub fn queued_queries(&self) -> usize {
        self.lock().queries.len()
    }

    /// Whether the client's login was refused and none is under way (requests then go
    /// to CTP, which answers them with its error).
    pub fn login_refused(&self) -> bool {
        let st = self.lock();
        st.login_refused && st.login_request.is_none() && st.phase != Phase::LoggedIn
    }

    /// Whether `login` is the login this session is logged in with (same user and
    /// password; the broker when given).
    pub fn same_login(&self, login: &ReqUserLogin) -> bool {
        let st = self.lock();
        st.phase == Phase::LoggedIn && st.is_session_login(login)
    }

    /// The login answer, once logged in.
    pub fn login_info(&self) -> Option<RspUserLogin> {
        let st = self.lock();
        (st.phase == Phase::LoggedIn)
            .then(|| st.login.as_ref().map(|l| l.0.clone()))
            .flatten()
    }

    /// Ends the session: the upstream session is released.
    pub fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        st.upstream = None;
        st.queries.clear();
        drop(st);
        self.pump.notify_one();
    }

    fn run(&self, a: Actions) {
        for m in a.send {
            self.outbox.push(m);
        }
        for (rid, req) in a.calls {
            self.call(rid, &req);
        }
        for (rid, req, key) in a.orders {
            self.call_order(rid, &req, key);
        }
        if a.wake_pump {
            self.pump.notify_one();
        }
        if let Some(delay) = a.relogin_after {
            let me = self.me.clone();
            self.runtime.spawn(async move {
                tokio::time::sleep(delay).await;
                if let Some(s) = me.upgrade() {
                    let a = {
                        let mut st = s.lock();
                        if st.phase == Phase::Connected && !st.closed {
                            s.start_auth(&mut st)
                        } else {
                            Actions::default()
                        }
                    };
                    s.run(a);
                }
            });
        }
        if let Some(delay) = a.front_check_after {
            let me = self.me.clone();
            self.runtime.spawn(async move {
                tokio::time::sleep(delay).await;
                if let Some(s) = me.upgrade() {
                    s.front_overdue();
                }
            });
        }
    }

    /// Sends one request upstream; a refused call is answered at once.
    fn call(&self, rid: i32, req: &TdRequest) {
        let upstream = self.lock().upstream.clone();
        let code = match upstream {
            Some(u) => u.request(req, rid),
            None => -1,
        };
        if code == 0 {
            return;
        }
        let mut st = self.lock();
        let pending = st.pending.remove(&rid);
        if matches!(pending, Some(Pending::Client { is_query: true, .. })) {
            st.query_in_flight = None;
        }
        drop(st);
        match pending {
            Some(Pending::Client {
                request_id,
                response,
                ..
            }) => {
                self.outbox.push(call_failed(response, code, request_id));
                self.pump.notify_one();
            }
            Some(Pending::Auth | Pending::Login | Pending::Confirm) => {
                let a = {
                    let mut st = self.lock();
                    self.fail_login(&mut st, rsp_info(code), "RspUserLogin")
                };
                self.run(a);
            }
            Some(Pending::Recover { .. }) | None => {}
        }
    }

    /// Sends an order insert or cancel with the client's RequestID; a refused call is
    /// answered at once (CTP did not take it, so that is the truth).
    fn call_order(&self, request_id: i32, req: &TdRequest, key: Option<OrderKey>) {
        let upstream = self.lock().upstream.clone();
        let code = match upstream {
            Some(u) => u.request(req, request_id),
            None => -1,
        };
        if code == 0 {
            return;
        }
        if let Some(k) = key {
            self.lock().orders.refused(&k);
        }
        self.outbox
            .push(call_failed(req.spec().response, code, request_id));
    }
}

impl TdEvents for TdSession {
    fn reply(&self, r: Reply) {
        self.on_reply(r);
    }

    fn front(&self, event: FrontEvent) {
        self.on_front(event);
    }
}

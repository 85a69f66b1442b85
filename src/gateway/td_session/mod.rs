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
//! The session is a pure state machine ([`state::Machine`]: events in,
//! [`Actions`](actions::Actions) out — no backend, no outbox, no lock, no task inside)
//! and this driver around it: [`TdSession`] feeds it the client's requests, the
//! backend's answers and the front's events (from the backend's threads) with the time
//! they happen at, under one mutex, and carries out what it decides after releasing
//! the mutex — so a backend call never runs under the lock, and a backend may answer
//! on the calling thread. The driver's timers (re-login backoff, the login's wait for
//! the front, the query pump's pacing) are tokio sleeps that send the machine an event.
//!
//! Split by concept: [`actions`] (what goes in and comes out), [`state`] (phase,
//! pending requests), `login` (connect, authenticate, log in, re-login with backoff,
//! the stop after refused credentials), `front_down` (a front that does not connect),
//! `requests` (client requests and the RequestID map of answers), `pacing` (the query
//! pump, -2/-3 retry, query timeout) and `recovery` (orders' truth after a re-login).

mod actions;
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
use tokio::time::Instant;

use super::front_watch;
use super::order_tracker::OrderTracker;
use super::outbox::Outbox;
use crate::ctp::{Backend, FrontEvent, TdEvents, TdSession as UpstreamSession};
use crate::protocol::errors::request;
use crate::protocol::fields::{Body, ReqUserLogin, RspUserLogin};
use crate::protocol::{Reply, TdRequest};
use actions::{Actions, CallKind, Event};
use state::{Config, Machine, Phase};

/// How often the driver asks the machine whether a "front still down" line is due.
const WATCH_TICK: Duration = Duration::from_secs(1);

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

/// A client's trading session: the driver of its [`Machine`].
pub struct TdSession {
    outbox: Arc<Outbox>,
    backend: Arc<dyn Backend>,
    settings: TdSettings,
    inner: Mutex<Inner>,
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

/// What the mutex guards: the machine, and the upstream session it asked for.
struct Inner {
    machine: Machine,
    upstream: Option<Arc<dyn UpstreamSession>>,
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
        let machine = Machine::new(
            Config::from_settings(&settings),
            OrderTracker::new(settings.tracked_orders.clone()),
            Instant::now(),
        );
        let s = Arc::new_cyclic(|me| TdSession {
            live,
            outbox,
            backend,
            settings,
            inner: Mutex::new(Inner {
                machine,
                upstream: None,
            }),
            pump: Notify::new(),
            runtime: tokio::runtime::Handle::current(),
            me: me.clone(),
            order_clock: crate::metrics::OrderClock::default(),
            pacing_clock: crate::metrics::PacingClock::default(),
        });
        crate::metrics::global().track_td(&s);
        let me = Arc::downgrade(&s);
        s.runtime.spawn(query_pump(me));
        s
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether requests other than login may be sent.
    pub fn is_logged_in(&self) -> bool {
        self.lock().machine.phase == Phase::LoggedIn
    }

    /// Whether the upstream front is connected (logged in or not).
    pub fn front_connected(&self) -> bool {
        !matches!(self.lock().machine.phase, Phase::Idle | Phase::Connecting)
    }

    /// Whether the front dropped after a login and the session waits to reconnect.
    pub fn front_reconnecting(&self) -> bool {
        let g = self.lock();
        let m = &g.machine;
        m.phase == Phase::Connecting && m.was_logged_in && !m.closed
    }

    /// Whether the session opened its upstream session and the front is not connected
    /// (never yet, or dropped): requests are answered -1 with the front's state, as
    /// CTP's API refuses them then.
    pub fn front_down(&self) -> bool {
        let g = self.lock();
        g.machine.phase == Phase::Connecting && !g.machine.closed
    }

    /// Queries queued behind the pacing.
    pub fn queued_queries(&self) -> usize {
        self.lock().machine.queries.len()
    }

    /// Whether the client's login was refused and none is under way (requests then go
    /// to CTP, which answers them with its error).
    pub fn login_refused(&self) -> bool {
        let g = self.lock();
        let m = &g.machine;
        m.login_refused && m.login_request.is_none() && m.phase != Phase::LoggedIn
    }

    /// Whether `login` is the login this session is logged in with (same user and
    /// password; the broker when given).
    pub fn same_login(&self, login: &ReqUserLogin) -> bool {
        let g = self.lock();
        g.machine.phase == Phase::LoggedIn && g.machine.is_session_login(login)
    }

    /// The login answer, once logged in.
    pub fn login_info(&self) -> Option<RspUserLogin> {
        let g = self.lock();
        (g.machine.phase == Phase::LoggedIn)
            .then(|| g.machine.login.as_ref().map(|l| l.0.clone()))
            .flatten()
    }

    /// Handles a client's trading request (the dispatcher checked the login).
    pub fn request(&self, req: TdRequest, request_id: i32) {
        self.feed(Event::Request { req, request_id });
    }

    /// Ends the session: the upstream session is released.
    pub fn close(&self) {
        self.feed(Event::Close);
    }

    /// Tells the machine what happened now and does what it decides.
    fn feed(&self, event: Event) -> Option<Duration> {
        let a = self.lock().machine.handle(Instant::now(), event);
        self.run(a)
    }

    /// Carries out the machine's decisions, outside the lock. Returns when the query
    /// pump should look again, if a refused query says so.
    fn run(&self, a: Actions) -> Option<Duration> {
        let mut pump_again = None;
        if let Some(user) = a.open {
            pump_again = self.open(&user);
        }
        for m in a.send {
            self.outbox.push(m);
        }
        if let (Some(bus), Some((msg_type, broker, user, json))) = (&self.settings.bus, a.publish) {
            bus.td_event(msg_type, &broker, &user, &json);
        }
        if a.release {
            self.lock().upstream = None;
        }
        for call in a.calls {
            if let TdRequest::ReqOrderInsert(o) = &call.req {
                self.order_clock.sent(o.OrderRef.trim());
            }
            let upstream = self.lock().upstream.clone();
            let code = upstream.map_or(request::NETWORK_FAILURE, |u| u.request(&call.req, call.id));
            if code == 0 {
                continue;
            }
            if call.kind == CallKind::Query && request::is_flow_control(code) {
                crate::metrics::global().flow_control_retries.inc();
            }
            if let Some(d) = self.feed(Event::Refused { call, code }) {
                pump_again = Some(d);
            }
        }
        if a.wake_pump {
            self.pump.notify_one();
        }
        for (at, timer) in a.timers {
            let me = self.me.clone();
            self.runtime.spawn(async move {
                tokio::time::sleep_until(at).await;
                if let Some(s) = me.upgrade() {
                    s.feed(Event::Timer(timer));
                }
            });
        }
        if a.start_watch {
            self.runtime.spawn(watch_front(self.me.clone()));
        }
        for note in a.notes {
            front_watch::log(note);
        }
        if let Some(until) = a.pacing_wait {
            self.pacing_clock.waiting(until.into_std());
        }
        pump_again.or(a.pump_again)
    }

    /// Opens the upstream session the machine asked for, outside the lock (a backend
    /// may report the front's connect from its own thread before this returns: the
    /// machine holds that event until it hears the session is open).
    fn open(&self, user: &str) -> Option<Duration> {
        // The session is being dropped when it cannot be upgraded: nothing to open.
        let events: Arc<dyn TdEvents> = self.me.upgrade()?;
        let result = match self.backend.td_session(events, user) {
            Ok(upstream) => {
                self.lock().upstream = Some(upstream);
                Ok(())
            }
            Err(e) => Err(e),
        };
        self.feed(Event::Opened(result))
    }
}

impl TdEvents for TdSession {
    fn reply(&self, r: Reply) {
        if r.request_id.is_none()
            && let Some(Body::Order(o)) = &r.body
        {
            self.order_clock.rtn_order(o.OrderRef.trim());
        }
        self.feed(Event::Reply(r));
    }

    fn front(&self, event: FrontEvent) {
        self.feed(Event::Front(event));
    }
}

/// Sends queued queries one at a time, paced. Runs until the session is closed.
async fn query_pump(me: Weak<TdSession>) {
    let Some(s) = me.upgrade() else { return };
    loop {
        if s.lock().machine.closed {
            return;
        }
        // Notify keeps a permit, so a wake-up between the check and the wait is not lost.
        let backed_up = s.outbox.is_backed_up();
        match s.feed(Event::Pump { backed_up }) {
            Some(d) if d.is_zero() => continue,
            Some(d) => {
                tokio::select! {
                    _ = tokio::time::sleep(d) => {}
                    _ = s.pump.notified() => {}
                }
            }
            None => s.pump.notified().await,
        }
    }
}

/// Writes "front still down" lines to the log while the session's front is down; ends
/// with the session.
async fn watch_front(me: Weak<TdSession>) {
    loop {
        tokio::time::sleep(WATCH_TICK).await;
        let Some(s) = me.upgrade() else { return };
        if s.lock().machine.closed {
            return;
        }
        s.feed(Event::WatchTick);
    }
}

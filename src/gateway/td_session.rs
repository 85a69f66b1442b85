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

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;

use super::order_tracker::{OrderKey, OrderTracker};
use super::outbox::Outbox;
use crate::ctp::{Backend, FrontEvent, TdEvents, TdSession as UpstreamSession};
use crate::protocol::errors::{ctp, request, rsp_info};
use crate::protocol::fields::{
    Body, QryOrder, QryTrade, ReqAuthenticate, ReqUserLogin, RspInfo, RspUserLogin,
    SettlementInfoConfirm,
};
use crate::protocol::message::{call_failed, front_status};
use crate::protocol::{Reply, TdRequest};

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No upstream session.
    Idle,
    /// Waiting for the front.
    Connecting,
    /// Connected, not logged in.
    Connected,
    Authenticating,
    LoggingIn,
    Confirming,
    LoggedIn,
}

#[derive(Debug, Clone)]
enum Pending {
    Client {
        request_id: i32,
        response: &'static str,
        body_key: &'static str,
        is_query: bool,
    },
    Auth,
    Login,
    Confirm,
    /// The session's own ReqQryOrder (or ReqQryTrade) after a re-login.
    Recover {
        trades: bool,
    },
}

/// Queries one session may have waiting; more are refused (-429) rather than held.
const MAX_QUEUED_QUERIES: usize = 512;
/// How often a paused query pump looks whether its client has read its answers.
const BACKED_UP_RETRY: Duration = Duration::from_millis(20);

fn too_many_queries(response: &str, request_id: i32) -> Bytes {
    crate::protocol::message::gateway_error(
        response,
        crate::protocol::errors::RATE_LIMITED,
        &format!("{MAX_QUEUED_QUERIES} queries are waiting already; read their answers first"),
        Some(i64::from(request_id)),
    )
    .into()
}

/// Who asked a queued query.
#[derive(Debug, Clone, Copy)]
enum Asker {
    /// A client, with its RequestID.
    Client(i32),
    /// The session, recovering the truth about its orders after a re-login.
    Recover { trades: bool },
}

/// First ID of the session's own requests: far from the small numbers clients use,
/// since order answers carry the client's ID on the same upstream session.
const OWN_IDS_FROM: i32 = 1 << 30;

/// Login errors after which logging in again is pointless or harmful.
fn refuses_credentials(code: i32) -> bool {
    matches!(
        code,
        ctp::INVALID_LOGIN
            | ctp::USER_NOT_FOUND
            | ctp::INVESTOR_NOT_FOUND
            | ctp::INVALID_INVESTORIDORPASSWORD
            | ctp::AUTH_FAILED
            | ctp::LOGIN_FORBIDDEN
            | ctp::FIRST_LOGIN
            | ctp::PWD_OUT_OF_DATE
            | ctp::IP_FORBIDDEN
            | ctp::IP_BLACK
    )
}

struct State {
    phase: Phase,
    upstream: Option<Arc<dyn UpstreamSession>>,
    /// The login to (re)play, with the password; never logged.
    credentials: Option<ReqUserLogin>,
    /// An explicit ReqAuthenticate from the client, sent once connected.
    explicit_auth: Option<(ReqAuthenticate, i32)>,
    authenticated: bool,
    /// The client's RequestID of the login being answered (None for a re-login).
    login_request: Option<i32>,
    login: Option<(RspUserLogin, RspInfo)>,
    /// Ever logged in: later logins are automatic re-logins.
    was_logged_in: bool,
    /// The client's last login was refused and no other is under way: requests are
    /// passed to CTP, which answers them with its own error (as the Python projects
    /// pass them through).
    login_refused: bool,
    relogin_blocked: bool,
    pending: HashMap<i32, Pending>,
    next_rid: i32,
    /// What the client was told about each order it sent, until final.
    orders: OrderTracker,
    /// The last OrderRef used; empty OrderRefs get the next one.
    last_order_ref: i64,
    queries: VecDeque<(TdRequest, Asker)>,
    query_in_flight: Option<(i32, Instant)>,
    last_query: Option<Instant>,
    last_connect: Option<Instant>,
    backoff: Duration,
    closed: bool,
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

/// Work decided under the lock and done after releasing it.
#[derive(Default)]
struct Actions {
    send: Vec<Bytes>,
    calls: Vec<(i32, TdRequest)>,
    /// Order inserts and cancels, with the client's RequestID and the order's key.
    orders: Vec<(i32, TdRequest, Option<OrderKey>)>,
    wake_pump: bool,
    relogin_after: Option<Duration>,
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
            state: Mutex::new(State {
                phase: Phase::Idle,
                upstream: None,
                credentials: None,
                explicit_auth: None,
                authenticated: false,
                login_request: None,
                login: None,
                was_logged_in: false,
                login_refused: false,
                relogin_blocked: false,
                pending: HashMap::new(),
                next_rid: OWN_IDS_FROM,
                orders: OrderTracker::new(tracked),
                last_order_ref: 0,
                queries: VecDeque::new(),
                query_in_flight: None,
                last_query: None,
                last_connect: None,
                backoff: Duration::ZERO,
                closed: false,
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
        st.phase == Phase::LoggedIn && Self::is_session_login(&st, login)
    }

    fn is_session_login(st: &State, login: &ReqUserLogin) -> bool {
        st.credentials.as_ref().is_some_and(|c| {
            c.UserID == login.UserID
                && c.Password == login.Password
                && (login.BrokerID.is_empty() || login.BrokerID == c.BrokerID)
        })
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

    fn alloc(st: &mut State, p: Pending) -> i32 {
        st.next_rid = st.next_rid.wrapping_add(1).max(OWN_IDS_FROM);
        st.pending.insert(st.next_rid, p);
        st.next_rid
    }

    /// Handles a client's trading request (the dispatcher checked the login).
    pub fn request(&self, req: TdRequest, request_id: i32) {
        let a = {
            let mut st = self.lock();
            if st.closed {
                return;
            }
            match req {
                TdRequest::ReqUserLogin(login) => self.begin_login(&mut st, login, request_id),
                TdRequest::ReqAuthenticate(auth) => self.begin_auth(&mut st, auth, request_id),
                other => {
                    let spec = other.spec();
                    let logged_in = st.phase == Phase::LoggedIn;
                    if !logged_in && matches!(st.phase, Phase::Idle | Phase::Connecting) {
                        // No front: CTP's API would refuse the call (-1).
                        Actions {
                            send: vec![Bytes::from(call_failed(spec.response, -1, request_id))],
                            ..Actions::default()
                        }
                    } else if spec.is_query && logged_in && st.queries.len() >= MAX_QUEUED_QUERIES {
                        Actions {
                            send: vec![too_many_queries(spec.response, request_id)],
                            ..Actions::default()
                        }
                    } else if spec.is_query && logged_in {
                        st.queries.push_back((other, Asker::Client(request_id)));
                        Actions {
                            wake_pump: true,
                            ..Actions::default()
                        }
                    } else if let TdRequest::ReqOrderInsert(mut o) = other {
                        let key = Self::order_sent(&mut st, &mut o, request_id);
                        self.order_clock.sent(o.OrderRef.trim());
                        Actions {
                            orders: vec![(request_id, TdRequest::ReqOrderInsert(o), key)],
                            ..Actions::default()
                        }
                    } else if let TdRequest::ReqOrderAction(a) = other {
                        Actions {
                            orders: vec![(request_id, TdRequest::ReqOrderAction(a), None)],
                            ..Actions::default()
                        }
                    } else {
                        let rid = Self::alloc(
                            &mut st,
                            Pending::Client {
                                request_id,
                                response: spec.response,
                                body_key: spec.response_body_key,
                                is_query: false,
                            },
                        );
                        Actions {
                            calls: vec![(rid, other)],
                            ..Actions::default()
                        }
                    }
                }
            }
        };
        self.run(a);
    }

    /// Gives an order without OrderRef the session's next one (so that the order can be
    /// found again after a front drop) and starts following it.
    fn order_sent(
        st: &mut State,
        o: &mut crate::protocol::fields::InputOrder,
        request_id: i32,
    ) -> Option<OrderKey> {
        if o.OrderRef.trim().is_empty() {
            st.last_order_ref += 1;
            o.OrderRef = format!("{:>12}", st.last_order_ref);
        } else if let Ok(n) = o.OrderRef.trim().parse::<i64>() {
            st.last_order_ref = st.last_order_ref.max(n);
        }
        let (front_id, session_id) = st.login.as_ref().map(|(l, _)| (l.FrontID, l.SessionID))?;
        let key = OrderKey {
            front_id,
            session_id,
            order_ref: o.OrderRef.trim().to_string(),
        };
        st.orders.sent(key.clone(), request_id);
        Some(key)
    }

    /// The key of an order this session sends now with `order_ref`.
    fn own_key(st: &State, order_ref: &str) -> Option<OrderKey> {
        st.login.as_ref().map(|(l, _)| OrderKey {
            front_id: l.FrontID,
            session_id: l.SessionID,
            order_ref: order_ref.trim().to_string(),
        })
    }

    fn connect(&self, st: &mut State, user: &str) -> Result<(), String> {
        let me: Arc<dyn TdEvents> = match self.me.upgrade() {
            Some(m) => m,
            None => return Err("session closed".into()),
        };
        let upstream = self
            .backend
            .td_session(me, user)
            .map_err(|e| e.to_string())?;
        st.upstream = Some(upstream);
        st.phase = Phase::Connecting;
        Ok(())
    }

    fn begin_login(&self, st: &mut State, mut login: ReqUserLogin, request_id: i32) -> Actions {
        if st.phase == Phase::LoggedIn
            && Self::is_session_login(st, &login)
            && let Some((body, info)) = st.login.clone()
        {
            // The same login again (the Python projects answer it too): this session's
            // answer, with the client's new RequestID.
            let msg = Reply::response(
                "RspUserLogin",
                "RspUserLogin",
                Some(Body::from(body)),
                Some(info),
                request_id,
                true,
            );
            return Actions {
                send: vec![Bytes::from(msg.to_json())],
                ..Actions::default()
            };
        }
        // Another account while logged in is a new session (the dispatcher's); while a
        // login is under way, CTP's answer to a second one.
        if st.phase == Phase::LoggedIn || st.login_request.is_some() {
            let msg = Reply::response(
                "RspUserLogin",
                "RspUserLogin",
                None,
                Some(rsp_info(ctp::DUPLICATE_LOGIN)),
                request_id,
                true,
            );
            return Actions {
                send: vec![Bytes::from(msg.to_json())],
                ..Actions::default()
            };
        }
        if login.BrokerID.is_empty() {
            login.BrokerID = self.settings.broker_id.clone();
        }
        if login.UserProductInfo.is_empty() {
            login.UserProductInfo = self.settings.user_product_info.clone();
        }
        let user = login.UserID.clone();
        st.credentials = Some(login);
        st.login_request = Some(request_id);
        st.login_refused = false;
        st.relogin_blocked = false;
        match st.phase {
            Phase::Idle => {
                if let Err(e) = self.connect(st, &user) {
                    tracing::error!(error = %e, "cannot open a trading session");
                    return self.fail_login(st, rsp_info(request::NETWORK_FAILURE), "RspUserLogin");
                }
                Actions::default()
            }
            Phase::Connected => self.start_auth(st),
            // Connecting: the login starts when the front answers.
            _ => Actions::default(),
        }
    }

    fn begin_auth(&self, st: &mut State, auth: ReqAuthenticate, request_id: i32) -> Actions {
        match st.phase {
            Phase::Idle => {
                let user = auth.UserID.clone();
                st.explicit_auth = Some((auth, request_id));
                if let Err(e) = self.connect(st, &user) {
                    tracing::error!(error = %e, "cannot open a trading session");
                    st.explicit_auth = None;
                    let msg = call_failed("RspAuthenticate", -1, request_id);
                    return Actions {
                        send: vec![Bytes::from(msg)],
                        ..Actions::default()
                    };
                }
                Actions::default()
            }
            Phase::Connecting => {
                st.explicit_auth = Some((auth, request_id));
                Actions::default()
            }
            _ => {
                let rid = Self::alloc(
                    st,
                    Pending::Client {
                        request_id,
                        response: "RspAuthenticate",
                        body_key: "RspAuthenticate",
                        is_query: false,
                    },
                );
                Actions {
                    calls: vec![(rid, TdRequest::ReqAuthenticate(auth))],
                    ..Actions::default()
                }
            }
        }
    }

    /// Connected with credentials: authenticate if needed, then log in.
    fn start_auth(&self, st: &mut State) -> Actions {
        let Some(cred) = st.credentials.clone() else {
            return Actions::default();
        };
        if !st.authenticated
            && let Some(app_id) = self.settings.app_id.clone()
        {
            st.phase = Phase::Authenticating;
            let auth = ReqAuthenticate {
                BrokerID: cred.BrokerID.clone(),
                UserID: cred.UserID.clone(),
                UserProductInfo: cred.UserProductInfo.clone(),
                AuthCode: self.settings.auth_code.clone().unwrap_or_default(),
                AppID: app_id,
            };
            let rid = Self::alloc(st, Pending::Auth);
            return Actions {
                calls: vec![(rid, TdRequest::ReqAuthenticate(auth))],
                ..Actions::default()
            };
        }
        st.phase = Phase::LoggingIn;
        let rid = Self::alloc(st, Pending::Login);
        Actions {
            calls: vec![(rid, TdRequest::ReqUserLogin(cred))],
            ..Actions::default()
        }
    }

    /// The login failed with `info`: answer the client (or tell it the re-login failed).
    fn fail_login(&self, st: &mut State, info: RspInfo, msg_type: &'static str) -> Actions {
        let mut a = Actions::default();
        if st.phase != Phase::Idle && st.phase != Phase::Connecting {
            st.phase = Phase::Connected;
        }
        if let Some(rid) = st.login_request.take() {
            st.login_refused = true;
            if msg_type != "RspUserLogin" {
                a.send.push(Bytes::from(
                    Reply::response(msg_type, msg_type, None, Some(info.clone()), rid, true)
                        .to_json(),
                ));
            }
            a.send.push(Bytes::from(
                Reply::response(
                    "RspUserLogin",
                    "RspUserLogin",
                    None,
                    Some(info.clone()),
                    rid,
                    true,
                )
                .to_json(),
            ));
            st.credentials = None;
        } else if st.was_logged_in {
            let blocked = refuses_credentials(info.ErrorID);
            let detail = if blocked {
                st.relogin_blocked = true;
                st.credentials = None;
                format!(
                    "automatic re-login refused: {} (CTP {}); not retrying, log in again",
                    info.ErrorMsg, info.ErrorID
                )
            } else {
                a.relogin_after = Some(self.next_backoff(st));
                format!(
                    "automatic re-login failed: {} (CTP {}); retrying",
                    info.ErrorMsg, info.ErrorID
                )
            };
            tracing::warn!(error = info.ErrorID, "{detail}");
            a.send
                .push(Bytes::from(front_status(false, info.ErrorID, &detail)));
        }
        a
    }

    fn next_backoff(&self, st: &mut State) -> Duration {
        st.backoff = if st.backoff.is_zero() {
            Duration::from_secs(1)
        } else {
            (st.backoff * 2).min(Duration::from_secs(30))
        };
        st.backoff
    }

    fn finish_login(&self, st: &mut State, info: RspInfo) -> Actions {
        let mut a = Actions::default();
        let login = st.login.as_ref().map(|l| l.0.clone());
        if info.ErrorID != 0 {
            return self.fail_login(st, info, "RspUserLogin");
        }
        st.phase = Phase::LoggedIn;
        if let Some(max) = login
            .as_ref()
            .and_then(|l| l.MaxOrderRef.trim().parse::<i64>().ok())
        {
            st.last_order_ref = st.last_order_ref.max(max);
        }
        if st.orders.needs_recovery() {
            // Orders followed, or the front dropped: what happened while the session
            // was away?
            st.queries.push_front((
                TdRequest::ReqQryOrder(QryOrder::default()),
                Asker::Recover { trades: false },
            ));
        }
        let relogin = std::mem::replace(&mut st.was_logged_in, true) && st.login_request.is_none();
        if let Some(rid) = st.login_request.take() {
            a.send.push(Bytes::from(
                Reply::response(
                    "RspUserLogin",
                    "RspUserLogin",
                    login.map(Body::from),
                    Some(info),
                    rid,
                    true,
                )
                .to_json(),
            ));
        } else if relogin {
            tracing::info!("trading session logged in again after a reconnect");
            a.send.push(Bytes::from(front_status(
                true,
                0,
                "trading front is back; session logged in again",
            )));
        }
        a.wake_pump = true;
        a
    }

    fn on_internal(&self, st: &mut State, kind: Pending, r: Reply) -> Actions {
        let info = r.rsp_info.clone().unwrap_or_else(|| rsp_info(0));
        match kind {
            Pending::Auth => {
                if info.ErrorID != 0 {
                    tracing::warn!(error = info.ErrorID, "ReqAuthenticate refused");
                    return self.fail_login(st, info, "RspAuthenticate");
                }
                st.authenticated = true;
                self.start_auth(st)
            }
            Pending::Login => {
                if info.ErrorID != 0 {
                    tracing::warn!(error = info.ErrorID, msg = %info.ErrorMsg, "ReqUserLogin refused");
                    return self.fail_login(st, info, "RspUserLogin");
                }
                let login = match r.body {
                    Some(Body::RspUserLogin(l)) => *l,
                    _ => RspUserLogin::default(),
                };
                st.login = Some((login.clone(), info.clone()));
                if self.settings.auto_confirm_settlement {
                    st.phase = Phase::Confirming;
                    let now = crate::ctp::sim::clock::BeijingTime::now();
                    let confirm = SettlementInfoConfirm {
                        BrokerID: login.BrokerID.clone(),
                        InvestorID: login.UserID.clone(),
                        ConfirmDate: now.date(),
                        ConfirmTime: now.time(),
                        ..SettlementInfoConfirm::default()
                    };
                    let rid = Self::alloc(st, Pending::Confirm);
                    Actions {
                        calls: vec![(rid, TdRequest::ReqSettlementInfoConfirm(confirm))],
                        ..Actions::default()
                    }
                } else {
                    self.finish_login(st, info)
                }
            }
            Pending::Confirm => {
                if info.ErrorID != 0 {
                    tracing::warn!(error = info.ErrorID, "automatic settlement confirm failed");
                    return self.finish_login(st, info);
                }
                let login_info = st
                    .login
                    .as_ref()
                    .map_or_else(|| rsp_info(0), |l| l.1.clone());
                self.finish_login(st, login_info)
            }
            Pending::Client { .. } | Pending::Recover { .. } => Actions::default(),
        }
    }

    /// Clears what must not reach logs or screens. (RequestIDs inside order bodies need
    /// no mapping: CTP got the client's own; unset market prices are written as 0 by
    /// the serializer.)
    fn clean_body(body: &mut Option<Body>) {
        if let Some(Body::UserPasswordUpdate(u)) = body {
            // CTP echoes the request; passwords must not reach logs or screens.
            u.OldPassword.clear();
            u.NewPassword.clear();
        }
    }

    /// An answer to the session's recovery queries after a re-login: pushes what the
    /// client has not been told about its orders.
    fn on_recover(&self, st: &mut State, trades: bool, r: Reply) -> Actions {
        let mut a = Actions::default();
        if r.msg_type == "RspError" || r.error_id() != 0 {
            // The truth stays unknown for now; the next re-login asks again.
            tracing::warn!(
                error = r.error_id(),
                "recovering the orders' state after a re-login failed"
            );
            st.query_in_flight = None;
            a.wake_pump = true;
            return a;
        }
        match r.body {
            Some(Body::Order(o)) if !trades && st.orders.recovered_order(&o) => {
                let push = Reply::push("RtnOrder", "Order", Some(Body::Order(o)), None);
                a.send.push(Bytes::from(push.to_json()));
            }
            Some(Body::Trade(t)) if trades && st.orders.recovered_trade(&t) => {
                let push = Reply::push("RtnTrade", "Trade", Some(Body::Trade(t)), None);
                a.send.push(Bytes::from(push.to_json()));
            }
            _ => {}
        }
        if r.is_last {
            st.query_in_flight = None;
            a.wake_pump = true;
            if !trades {
                let (lost, missing_trades) = st.orders.orders_recovered();
                for l in lost {
                    tracing::warn!(order_ref = %l.order_ref, "an order sent before the front dropped never reached CTP");
                    a.send
                        .push(Bytes::from(not_placed(l.request_id, &l.order_ref)));
                }
                if missing_trades {
                    st.queries.push_front((
                        TdRequest::ReqQryTrade(QryTrade::default()),
                        Asker::Recover { trades: true },
                    ));
                }
            }
        }
        a
    }

    /// Picks the next query to send, if the pacing allows; else how long to wait.
    fn next_query(&self, st: &mut State) -> Result<Option<(i32, TdRequest)>, Duration> {
        if st.phase != Phase::LoggedIn || st.closed || st.queries.is_empty() {
            return Ok(None);
        }
        if let Some((_, since)) = st.query_in_flight {
            let waited = since.elapsed();
            if waited < self.settings.query_timeout {
                return Err(self.settings.query_timeout - waited);
            }
            // The answer is lost (front trouble): fail it so the client is not stuck.
            if let Some((rid, _)) = st.query_in_flight.take()
                && let Some(Pending::Client {
                    request_id,
                    response,
                    ..
                }) = st.pending.remove(&rid)
            {
                tracing::warn!(response, "query unanswered; reported as failed");
                self.outbox.push(call_failed(response, -1, request_id));
            }
        }
        // A client that does not read its answers gets no new ones: the next query
        // waits until it has read most of what is queued for it.
        if self.outbox.is_backed_up() {
            return Err(BACKED_UP_RETRY);
        }
        if let Some(last) = st.last_query {
            let gap = last.elapsed();
            if gap < self.settings.query_interval {
                self.pacing_clock
                    .waiting(last + self.settings.query_interval);
                return Err(self.settings.query_interval - gap);
            }
        }
        let Some((req, asker)) = st.queries.pop_front() else {
            return Ok(None);
        };
        let spec = req.spec();
        let pending = match asker {
            Asker::Client(request_id) => Pending::Client {
                request_id,
                response: spec.response,
                body_key: spec.response_body_key,
                is_query: true,
            },
            Asker::Recover { trades } => Pending::Recover { trades },
        };
        let rid = Self::alloc(st, pending);
        st.query_in_flight = Some((rid, Instant::now()));
        st.last_query = Some(Instant::now());
        Ok(Some((rid, req)))
    }

    /// Sends a paced query; returns how long to wait before trying again.
    fn pump_once(&self) -> Option<Duration> {
        let next = {
            let mut st = self.lock();
            self.next_query(&mut st)
        };
        match next {
            Ok(Some((rid, req))) => {
                let upstream = self.lock().upstream.clone();
                let code = upstream.map_or(request::NETWORK_FAILURE, |u| u.request(&req, rid));
                match code {
                    0 => Some(Duration::ZERO),
                    code if request::is_flow_control(code) => {
                        // CTP's flow control: put it back and wait; the client never sees it.
                        crate::metrics::global().flow_control_retries.inc();
                        let mut st = self.lock();
                        st.query_in_flight = None;
                        match st.pending.remove(&rid) {
                            Some(Pending::Client { request_id, .. }) => {
                                st.queries.push_front((req, Asker::Client(request_id)));
                            }
                            Some(Pending::Recover { trades }) => {
                                st.queries.push_front((req, Asker::Recover { trades }));
                            }
                            _ => {}
                        }
                        Some(self.settings.query_interval.max(Duration::from_millis(100)))
                    }
                    code => {
                        let mut st = self.lock();
                        st.query_in_flight = None;
                        let p = st.pending.remove(&rid);
                        drop(st);
                        if let Some(Pending::Client {
                            request_id,
                            response,
                            ..
                        }) = p
                        {
                            self.outbox.push(call_failed(response, code, request_id));
                        }
                        Some(Duration::ZERO)
                    }
                }
            }
            Ok(None) => None,
            Err(wait) => Some(wait),
        }
    }
}

/// Sends queued queries one at a time, paced. Runs until the session is closed.
async fn query_pump(me: Weak<TdSession>) {
    let Some(s) = me.upgrade() else { return };
    loop {
        if s.lock().closed {
            return;
        }
        // Notify keeps a permit, so a wake-up between the check and the wait is not lost.
        match s.pump_once() {
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

impl TdEvents for TdSession {
    fn reply(&self, mut r: Reply) {
        let a = {
            let mut st = self.lock();
            if st.closed {
                return;
            }
            let Some(rid) = r.request_id else {
                // A push (RtnOrder, RtnTrade, ErrRtnOrderInsert...).
                match &r.body {
                    Some(Body::Order(o)) => {
                        self.order_clock.rtn_order(o.OrderRef.trim());
                        st.orders.on_order(o)
                    }
                    Some(Body::Trade(t)) if !st.orders.on_trade(t) => {
                        tracing::debug!(trade = %t.TradeID, "a trade the client already has; not repeated");
                        return;
                    }
                    _ => {}
                }
                // The account of the session's stream on the bus, when there is a bus.
                let account = self.settings.bus.as_ref().and_then(|_| {
                    st.credentials
                        .as_ref()
                        .map(|c| (c.BrokerID.clone(), c.UserID.clone()))
                });
                drop(st);
                Self::clean_body(&mut r.body);
                let json = Bytes::from(r.to_json());
                if let (Some(bus), Some((broker, user))) = (&self.settings.bus, &account) {
                    bus.td_event(r.msg_type, broker, user, &json);
                }
                self.outbox.push(json);
                return;
            };
            if matches!(r.msg_type, "RspOrderInsert" | "RspOrderAction") {
                // CTP refused an insert or cancel, sent with the client's RequestID.
                if let Some(Body::InputOrder(o)) = &r.body
                    && let Some(k) = Self::own_key(&st, &o.OrderRef)
                {
                    st.orders.refused(&k);
                }
                drop(st);
                self.outbox.push(r.to_json());
                return;
            }
            let pending = if r.is_last || r.msg_type == "RspError" {
                st.pending.remove(&rid)
            } else {
                st.pending.get(&rid).cloned()
            };
            match pending {
                Some(Pending::Client {
                    request_id,
                    response,
                    body_key,
                    is_query,
                }) => {
                    if r.msg_type == "RspError" {
                        // Answer as the request's own response so the client sees its IsLast.
                        r.msg_type = response;
                        r.body_key = body_key;
                        r.body = None;
                        r.is_last = true;
                    }
                    if is_query && r.is_last {
                        st.query_in_flight = None;
                    }
                    Self::clean_body(&mut r.body);
                    r.request_id = Some(request_id);
                    let mut a = Actions::default();
                    if r.msg_type == "RspUserLogout" && r.error_id() == 0 {
                        st.phase = Phase::Idle;
                        st.upstream = None;
                        st.credentials = None;
                        st.authenticated = false;
                        st.was_logged_in = false;
                    }
                    if r.msg_type == "RspAuthenticate" && r.error_id() == 0 {
                        st.authenticated = true;
                    }
                    a.send.push(Bytes::from(r.to_json()));
                    a.wake_pump = is_query && r.is_last;
                    a
                }
                Some(Pending::Recover { trades }) => self.on_recover(&mut st, trades, r),
                Some(kind) => {
                    if !r.is_last {
                        return;
                    }
                    self.on_internal(&mut st, kind, r)
                }
                None if r.msg_type == "RspError" => {
                    // OnRspError for a request sent with the client's own RequestID (an
                    // order insert or cancel CTP could not read): the client's to see.
                    drop(st);
                    self.outbox.push(r.to_json());
                    return;
                }
                None => {
                    tracing::debug!(
                        msg_type = r.msg_type,
                        rid,
                        "answer to an unknown request dropped"
                    );
                    Actions::default()
                }
            }
        };
        self.run(a);
    }

    fn front(&self, event: FrontEvent) {
        let a = {
            let mut st = self.lock();
            if st.closed {
                return;
            }
            match event {
                FrontEvent::Connected => {
                    let quick = st
                        .last_connect
                        .is_some_and(|t| t.elapsed() < Duration::from_secs(10));
                    st.last_connect = Some(Instant::now());
                    if !quick {
                        st.backoff = Duration::ZERO;
                    }
                    st.phase = Phase::Connected;
                    st.authenticated = false;
                    let mut a = Actions::default();
                    if let Some((auth, rid)) = st.explicit_auth.take() {
                        let id = Self::alloc(
                            &mut st,
                            Pending::Client {
                                request_id: rid,
                                response: "RspAuthenticate",
                                body_key: "RspAuthenticate",
                                is_query: false,
                            },
                        );
                        a.calls.push((id, TdRequest::ReqAuthenticate(auth)));
                        a
                    } else if st.credentials.is_none() || st.relogin_blocked {
                        a
                    } else if st.was_logged_in && st.login_request.is_none() && quick {
                        // The front keeps dropping: do not storm it with logins.
                        a.relogin_after = Some(self.next_backoff(&mut st));
                        tracing::warn!(delay = ?a.relogin_after, "front reconnected quickly again; delaying re-login");
                        a
                    } else {
                        self.start_auth(&mut st)
                    }
                }
                FrontEvent::Disconnected { reason } => {
                    let mut a = Actions::default();
                    let was_up = st.phase == Phase::LoggedIn;
                    if st.phase != Phase::Idle {
                        st.phase = Phase::Connecting;
                    }
                    st.query_in_flight = None;
                    // Orders nothing was heard of are in doubt until recovered.
                    let logged_in = st.was_logged_in;
                    st.orders.front_dropped(logged_in);
                    // Queries (and the session's own requests) in flight will never be
                    // answered: they did not complete, so say so. Orders are not among
                    // them: CTP answers an order only when it refuses it.
                    let pending: Vec<(i32, Pending)> = st.pending.drain().collect();
                    for (_, p) in pending {
                        if let Pending::Client {
                            request_id,
                            response,
                            ..
                        } = p
                        {
                            a.send
                                .push(Bytes::from(call_failed(response, -1, request_id)));
                        }
                    }
                    if was_up {
                        tracing::warn!(reason, "trading front disconnected");
                        a.send.push(Bytes::from(front_status(
                            false,
                            reason,
                            "trading front disconnected; webctp logs in again when it is back",
                        )));
                    }
                    a
                }
            }
        };
        self.run(a);
    }
}

/// Tells a client that an order it sent before the front dropped was not placed:
/// nothing was heard of it and CTP does not list it after the re-login.
fn not_placed(request_id: i32, order_ref: &str) -> String {
    serde_json::json!({
        "MsgType": "RspOrderInsert",
        "RspInfo": {"ErrorID": -1, "ErrorMsg": crate::protocol::errors::gateway_message(-1)},
        "RequestID": request_id,
        "IsLast": true,
        "InputOrder": {"OrderRef": order_ref},
        "Detail": "the trading front dropped before CTP received this order: ReqQryOrder after the re-login does not list it, so it was not placed",
    })
    .to_string()
}

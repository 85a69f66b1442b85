//! Connect, authenticate, log in, confirm the settlement; log in again after a front
//! drop (with backoff when the front keeps dropping), and stop after CTP refused the
//! credentials (retrying those would lock the account).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::super::front_watch::{self, FrontWatch};
use super::TdSession;
use super::state::{Actions, Asker, Pending, Phase, State, refuses_credentials};
use crate::ctp::{BackendError, FrontEvent, TdEvents};
use crate::protocol::errors::{ctp, request, rsp_info};
use crate::protocol::fields::{
    Body, QryOrder, ReqAuthenticate, ReqUserLogin, RspInfo, RspUserLogin, SettlementInfoConfirm,
};
use crate::protocol::message::{call_failed, front_status};
use crate::protocol::{Reply, TdRequest};

impl TdSession {
    fn connect(&self, st: &mut State, user: &str) -> Result<(), BackendError> {
        let me: Arc<dyn TdEvents> = match self.me.upgrade() {
            Some(m) => m,
            None => {
                return Err(BackendError::Session(
                    "the trading session closed while connecting".into(),
                ));
            }
        };
        let upstream = self.backend.td_session(me, user)?;
        st.upstream = Some(upstream);
        st.phase = Phase::Connecting;
        let name = format!("{} (user {user})", self.settings.front);
        tracing::info!("{name}: connecting");
        let first = st.watch.is_none();
        st.watch = Some(FrontWatch::connecting(name, Instant::now()));
        if first {
            self.watch_front();
        }
        Ok(())
    }

    pub(super) fn begin_login(
        &self,
        st: &mut State,
        mut login: ReqUserLogin,
        request_id: i32,
    ) -> Actions {
        if st.phase == Phase::LoggedIn
            && st.is_session_login(&login)
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
                Actions {
                    front_check_after: Some(self.settings.front_wait),
                    ..Actions::default()
                }
            }
            Phase::Connected => self.start_auth(st),
            // Connecting: the login starts when the front answers; a front down for
            // a while already is said at once, else after the rest of the wait.
            Phase::Connecting => {
                let down_for = st
                    .watch
                    .as_ref()
                    .map_or(Duration::ZERO, |w| w.down_for(Instant::now()));
                match self.settings.front_wait.checked_sub(down_for) {
                    Some(rest) if !rest.is_zero() => Actions {
                        front_check_after: Some(rest),
                        ..Actions::default()
                    },
                    _ => self.front_down_answer(st),
                }
            }
            _ => Actions::default(),
        }
    }

    pub(super) fn begin_auth(
        &self,
        st: &mut State,
        auth: ReqAuthenticate,
        request_id: i32,
    ) -> Actions {
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
                let rid = st.alloc(Pending::Client {
                    request_id,
                    response: "RspAuthenticate",
                    body_key: "RspAuthenticate",
                    is_query: false,
                });
                Actions {
                    calls: vec![(rid, TdRequest::ReqAuthenticate(auth))],
                    ..Actions::default()
                }
            }
        }
    }

    /// Connected with credentials: authenticate if needed, then log in.
    pub(super) fn start_auth(&self, st: &mut State) -> Actions {
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
            let rid = st.alloc(Pending::Auth);
            return Actions {
                calls: vec![(rid, TdRequest::ReqAuthenticate(auth))],
                ..Actions::default()
            };
        }
        st.phase = Phase::LoggingIn;
        let rid = st.alloc(Pending::Login);
        Actions {
            calls: vec![(rid, TdRequest::ReqUserLogin(cred))],
            ..Actions::default()
        }
    }

    /// The login failed with `info`: answer the client (or tell it the re-login failed).
    pub(super) fn fail_login(
        &self,
        st: &mut State,
        info: RspInfo,
        msg_type: &'static str,
    ) -> Actions {
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
        st.told_down = false;
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

    pub(super) fn on_internal(&self, st: &mut State, kind: Pending, r: Reply) -> Actions {
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
                    let now = crate::protocol::clock::BeijingTime::now();
                    let confirm = SettlementInfoConfirm {
                        BrokerID: login.BrokerID.clone(),
                        InvestorID: login.UserID.clone(),
                        ConfirmDate: now.date(),
                        ConfirmTime: now.time(),
                        ..SettlementInfoConfirm::default()
                    };
                    let rid = st.alloc(Pending::Confirm);
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

    /// The front connected or went away.
    pub(super) fn on_front(&self, event: FrontEvent) {
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
                    if let Some(w) = st.watch.as_mut() {
                        front_watch::log(w.connected(Instant::now()));
                    }
                    let mut a = Actions::default();
                    if st.told_down && (st.credentials.is_none() || st.relogin_blocked) {
                        // Nobody logs in by itself: the client hears the front is back.
                        st.told_down = false;
                        a.send.push(Bytes::from(front_status(
                            true,
                            0,
                            &format!("{} is up again; log in", self.settings.front),
                        )));
                    }
                    if let Some((auth, rid)) = st.explicit_auth.take() {
                        let id = st.alloc(Pending::Client {
                            request_id: rid,
                            response: "RspAuthenticate",
                            body_key: "RspAuthenticate",
                            is_query: false,
                        });
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
                    if let Some(note) = st
                        .watch
                        .as_mut()
                        .and_then(|w| w.disconnected(reason, Instant::now()))
                    {
                        front_watch::log(note);
                    }
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
                        st.told_down = true;
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

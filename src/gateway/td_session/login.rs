//! Connect, authenticate, log in, confirm the settlement; log in again after a front
//! drop (with backoff when the front keeps dropping), and stop after CTP refused the
//! credentials (retrying those would lock the account). Pure: see [`Machine`].

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::super::front_watch::FrontWatch;
use super::actions::{Actions, CallKind, Timer};
use super::state::{Asker, Machine, Pending, Phase, refuses_credentials};
use crate::ctp::BackendError;
use crate::protocol::errors::{ctp, request, rsp_info};
use crate::protocol::fields::{
    Body, QryOrder, ReqAuthenticate, ReqUserLogin, RspInfo, RspUserLogin, SettlementInfoConfirm,
};
use crate::protocol::message::{call_failed, front_status};
use crate::protocol::{Reply, TdRequest};

impl Machine {
    /// Asks the driver to open the upstream session for `user`; the front's events
    /// follow once it is open ([`Machine::on_opened`]).
    fn open(&mut self, user: &str) -> Actions {
        self.phase = Phase::Connecting;
        self.opening = true;
        self.connected_early = false;
        Actions {
            open: Some(user.to_string()),
            ..Actions::default()
        }
    }

    /// The driver opened the upstream session (or could not).
    pub(super) fn on_opened(&mut self, now: Instant, result: Result<(), BackendError>) -> Actions {
        self.opening = false;
        let early = std::mem::take(&mut self.connected_early);
        let user = self
            .credentials
            .as_ref()
            .map(|c| c.UserID.clone())
            .or_else(|| self.explicit_auth.as_ref().map(|(a, _)| a.UserID.clone()))
            .unwrap_or_default();
        if let Err(e) = result {
            tracing::error!(error = %e, "cannot open a trading session");
            self.phase = Phase::Idle;
            if let Some((_, request_id)) = self.explicit_auth.take() {
                return Actions::send(call_failed("RspAuthenticate", -1, request_id));
            }
            return self.fail_login(rsp_info(request::NETWORK_FAILURE), "RspUserLogin");
        }
        let name = format!("{} (user {user})", self.cfg.front);
        tracing::info!("{name}: connecting");
        let first = self.watch.is_none();
        self.watch = Some(FrontWatch::connecting(name, now));
        let mut a = if early {
            self.on_connected(now)
        } else {
            Actions::default()
        };
        a.start_watch = first;
        a
    }

    pub(super) fn begin_login(
        &mut self,
        now: Instant,
        mut login: ReqUserLogin,
        request_id: i32,
    ) -> Actions {
        if self.phase == Phase::LoggedIn
            && self.is_session_login(&login)
            && let Some((body, info)) = self.login.clone()
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
            return Actions::send(msg.to_json());
        }
        // Another account while logged in is a new session (the dispatcher's); while a
        // login is under way, CTP's answer to a second one.
        if self.phase == Phase::LoggedIn || self.login_request.is_some() {
            let msg = Reply::response(
                "RspUserLogin",
                "RspUserLogin",
                None,
                Some(rsp_info(ctp::DUPLICATE_LOGIN)),
                request_id,
                true,
            );
            return Actions::send(msg.to_json());
        }
        if login.BrokerID.is_empty() {
            login.BrokerID = self.cfg.broker_id.clone();
        }
        if login.UserProductInfo.is_empty() {
            login.UserProductInfo = self.cfg.user_product_info.clone();
        }
        let user = login.UserID.clone();
        self.credentials = Some(login);
        self.login_request = Some(request_id);
        self.login_refused = false;
        self.relogin_blocked = false;
        match self.phase {
            Phase::Idle => {
                let mut a = self.open(&user);
                a.timers
                    .push((now + self.cfg.front_wait, Timer::FrontCheck));
                a
            }
            Phase::Connected => self.start_auth(),
            // Connecting: the login starts when the front answers; a front down for
            // a while already is said at once, else after the rest of the wait.
            Phase::Connecting => {
                let down_for = self
                    .watch
                    .as_ref()
                    .map_or(Duration::ZERO, |w| w.down_for(now));
                match self.cfg.front_wait.checked_sub(down_for) {
                    Some(rest) if !rest.is_zero() => Actions {
                        timers: vec![(now + rest, Timer::FrontCheck)],
                        ..Actions::default()
                    },
                    _ => self.front_down_answer(now),
                }
            }
            _ => Actions::default(),
        }
    }

    pub(super) fn begin_auth(&mut self, auth: ReqAuthenticate, request_id: i32) -> Actions {
        match self.phase {
            Phase::Idle => {
                let user = auth.UserID.clone();
                self.explicit_auth = Some((auth, request_id));
                self.open(&user)
            }
            Phase::Connecting => {
                self.explicit_auth = Some((auth, request_id));
                Actions::default()
            }
            _ => {
                let rid = self.alloc(Pending::Client {
                    request_id,
                    response: "RspAuthenticate",
                    body_key: "RspAuthenticate",
                    is_query: false,
                });
                Actions::call(rid, TdRequest::ReqAuthenticate(auth), CallKind::Session)
            }
        }
    }

    /// Connected with credentials: authenticate if needed, then log in.
    pub(super) fn start_auth(&mut self) -> Actions {
        let Some(cred) = self.credentials.clone() else {
            return Actions::default();
        };
        if !self.authenticated
            && let Some(app_id) = self.cfg.app_id.clone()
        {
            self.phase = Phase::Authenticating;
            let auth = ReqAuthenticate {
                BrokerID: cred.BrokerID.clone(),
                UserID: cred.UserID.clone(),
                UserProductInfo: cred.UserProductInfo.clone(),
                AuthCode: self.cfg.auth_code.clone().unwrap_or_default(),
                AppID: app_id,
            };
            let rid = self.alloc(Pending::Auth);
            return Actions::call(rid, TdRequest::ReqAuthenticate(auth), CallKind::Session);
        }
        self.phase = Phase::LoggingIn;
        let rid = self.alloc(Pending::Login);
        Actions::call(rid, TdRequest::ReqUserLogin(cred), CallKind::Session)
    }

    /// The backoff before a re-login is over: log in if still connected.
    pub(super) fn relogin_due(&mut self) -> Actions {
        if self.phase == Phase::Connected {
            self.start_auth()
        } else {
            Actions::default()
        }
    }

    /// The login failed with `info`: answer the client (or tell it the re-login failed).
    pub(super) fn fail_login(&mut self, info: RspInfo, msg_type: &'static str) -> Actions {
        let mut a = Actions::default();
        if self.phase != Phase::Idle && self.phase != Phase::Connecting {
            self.phase = Phase::Connected;
        }
        if let Some(rid) = self.login_request.take() {
            self.login_refused = true;
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
            self.credentials = None;
        } else if self.was_logged_in {
            let blocked = refuses_credentials(info.ErrorID);
            let detail = if blocked {
                self.relogin_blocked = true;
                self.credentials = None;
                format!(
                    "automatic re-login refused: {} (CTP {}); not retrying, log in again",
                    info.ErrorMsg, info.ErrorID
                )
            } else {
                let delay = self.next_backoff();
                self.relogin_at(&mut a, delay);
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

    /// Arms the re-login timer `delay` from the last event's time.
    fn relogin_at(&self, a: &mut Actions, delay: Duration) {
        a.timers.push((self.now + delay, Timer::Relogin));
    }

    fn next_backoff(&mut self) -> Duration {
        self.backoff = if self.backoff.is_zero() {
            Duration::from_secs(1)
        } else {
            (self.backoff * 2).min(Duration::from_secs(30))
        };
        self.backoff
    }

    fn finish_login(&mut self, info: RspInfo) -> Actions {
        let mut a = Actions::default();
        let login = self.login.as_ref().map(|l| l.0.clone());
        if info.ErrorID != 0 {
            return self.fail_login(info, "RspUserLogin");
        }
        self.phase = Phase::LoggedIn;
        self.told_down = false;
        if let Some(max) = login
            .as_ref()
            .and_then(|l| l.MaxOrderRef.trim().parse::<i64>().ok())
        {
            self.last_order_ref = self.last_order_ref.max(max);
        }
        if self.orders.needs_recovery() {
            // Orders followed, or the front dropped: what happened while the session
            // was away?
            self.queries.push_front((
                TdRequest::ReqQryOrder(QryOrder::default()),
                Asker::Recover { trades: false },
            ));
        }
        let relogin =
            std::mem::replace(&mut self.was_logged_in, true) && self.login_request.is_none();
        if let Some(rid) = self.login_request.take() {
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

    pub(super) fn on_internal(&mut self, kind: Pending, r: Reply) -> Actions {
        let info = r.rsp_info.clone().unwrap_or_else(|| rsp_info(0));
        match kind {
            Pending::Auth => {
                if info.ErrorID != 0 {
                    tracing::warn!(error = info.ErrorID, "ReqAuthenticate refused");
                    return self.fail_login(info, "RspAuthenticate");
                }
                self.authenticated = true;
                self.start_auth()
            }
            Pending::Login => {
                if info.ErrorID != 0 {
                    tracing::warn!(error = info.ErrorID, msg = %info.ErrorMsg, "ReqUserLogin refused");
                    return self.fail_login(info, "RspUserLogin");
                }
                let login = match r.body {
                    Some(Body::RspUserLogin(l)) => *l,
                    _ => RspUserLogin::default(),
                };
                self.login = Some((login.clone(), info.clone()));
                if self.cfg.auto_confirm_settlement {
                    self.phase = Phase::Confirming;
                    let now = (self.cfg.today)();
                    let confirm = SettlementInfoConfirm {
                        BrokerID: login.BrokerID.clone(),
                        InvestorID: login.UserID.clone(),
                        ConfirmDate: now.date(),
                        ConfirmTime: now.time(),
                        ..SettlementInfoConfirm::default()
                    };
                    let rid = self.alloc(Pending::Confirm);
                    Actions::call(
                        rid,
                        TdRequest::ReqSettlementInfoConfirm(confirm),
                        CallKind::Session,
                    )
                } else {
                    self.finish_login(info)
                }
            }
            Pending::Confirm => {
                if info.ErrorID != 0 {
                    tracing::warn!(error = info.ErrorID, "automatic settlement confirm failed");
                    return self.finish_login(info);
                }
                let login_info = self
                    .login
                    .as_ref()
                    .map_or_else(|| rsp_info(0), |l| l.1.clone());
                self.finish_login(login_info)
            }
            Pending::Client { .. } | Pending::Recover { .. } => Actions::default(),
        }
    }

    /// `OnFrontConnected`.
    pub(super) fn on_connected(&mut self, now: Instant) -> Actions {
        if self.opening {
            // Its requests would find no upstream session yet: handled once open.
            self.connected_early = true;
            return Actions::default();
        }
        let quick = self
            .last_connect
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(10));
        self.last_connect = Some(now);
        if !quick {
            self.backoff = Duration::ZERO;
        }
        self.phase = Phase::Connected;
        self.authenticated = false;
        let mut a = Actions::default();
        if let Some(w) = self.watch.as_mut() {
            a.notes.push(w.connected(now));
        }
        if self.told_down && (self.credentials.is_none() || self.relogin_blocked) {
            // Nobody logs in by itself: the client hears the front is back.
            self.told_down = false;
            a.send.push(Bytes::from(front_status(
                true,
                0,
                &format!("{} is up again; log in", self.cfg.front),
            )));
        }
        if let Some((auth, rid)) = self.explicit_auth.take() {
            let id = self.alloc(Pending::Client {
                request_id: rid,
                response: "RspAuthenticate",
                body_key: "RspAuthenticate",
                is_query: false,
            });
            a.calls.push(super::actions::Call {
                id,
                req: TdRequest::ReqAuthenticate(auth),
                kind: CallKind::Session,
            });
            a
        } else if self.credentials.is_none() || self.relogin_blocked {
            a
        } else if self.was_logged_in && self.login_request.is_none() && quick {
            // The front keeps dropping: do not storm it with logins.
            let delay = self.next_backoff();
            self.relogin_at(&mut a, delay);
            tracing::warn!(?delay, "front reconnected quickly again; delaying re-login");
            a
        } else {
            let mut login = self.start_auth();
            a.calls.append(&mut login.calls);
            a
        }
    }

    /// `OnFrontDisconnected(reason)`.
    pub(super) fn on_disconnected(&mut self, now: Instant, reason: i32) -> Actions {
        let mut a = Actions::default();
        if self.opening {
            self.connected_early = false;
        }
        let was_up = self.phase == Phase::LoggedIn;
        if let Some(note) = self
            .watch
            .as_mut()
            .and_then(|w| w.disconnected(reason, now))
        {
            a.notes.push(note);
        }
        if self.phase != Phase::Idle {
            self.phase = Phase::Connecting;
        }
        self.query_in_flight = None;
        // Orders nothing was heard of are in doubt until recovered.
        let logged_in = self.was_logged_in;
        self.orders.front_dropped(logged_in);
        // Queries (and the session's own requests) in flight will never be
        // answered: they did not complete, so say so. Orders are not among
        // them: CTP answers an order only when it refuses it.
        let pending: Vec<(i32, Pending)> = self.pending.drain().collect();
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
            self.told_down = true;
            a.send.push(Bytes::from(front_status(
                false,
                reason,
                "trading front disconnected; webctp logs in again when it is back",
            )));
        }
        a
    }
}

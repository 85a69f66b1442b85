//! The hub's one login to the market-data front (retried while refused or unsent),
//! clients' logins answered from it, and the front's connects and drops. Pure: see
//! [`Machine`].

use bytes::Bytes;

use super::actions::{Actions, Call, Timer};
use super::state::{Machine, Upstream};
use super::{ClientId, FRONT_NOT_ACTIVE, LOGIN_RETRY, UPSTREAM_WAIT};
use crate::protocol::Reply;
use crate::protocol::errors::rsp_info;
use crate::protocol::fields::{Body, RspInfo, RspUserLogin};
use crate::protocol::message::front_status;

/// A client's RspUserLogin.
pub(super) fn login_reply(login: Option<&RspUserLogin>, info: RspInfo, request_id: i32) -> Bytes {
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

impl Machine {
    /// A client's ReqUserLogin: answered from the shared session once it is logged in.
    pub(super) fn client_login(&mut self, id: ClientId, request_id: i32) -> Actions {
        let mut a = Actions::default();
        let Some(client) = self.clients.get_mut(&id) else {
            return a;
        };
        if let Upstream::LoggedIn(login) = &self.upstream {
            client.logged_in = true;
            a.send
                .push((id, login_reply(Some(login), rsp_info(0), request_id)));
            return a;
        }
        self.login_waiters.push((id, request_id));
        a.timers.push((
            self.now + UPSTREAM_WAIT,
            Timer::LoginExpired {
                client: id,
                request_id,
            },
        ));
        if self.upstream == Upstream::Down {
            // A front that has not connected: the client hears so after the front
            // wait (at once when it has been down that long already).
            let down_for = self.watch.down_for(self.now);
            let rest = self.cfg.front_wait.saturating_sub(down_for);
            if rest.is_zero() {
                a.extend(self.front_overdue(id, request_id));
            } else {
                a.timers.push((
                    self.now + rest,
                    Timer::FrontCheck {
                        client: id,
                        request_id,
                    },
                ));
            }
        }
        a
    }

    /// A client's login waited the front wait: if the front still has not connected,
    /// the client is told it is down, naming it, and that webctp keeps retrying it.
    pub(super) fn front_overdue(&mut self, id: ClientId, request_id: i32) -> Actions {
        let mut a = Actions::default();
        if self.upstream != Upstream::Down {
            return a;
        }
        let before = self.login_waiters.len();
        self.login_waiters.retain(|w| *w != (id, request_id));
        if self.login_waiters.len() == before || !self.clients.contains_key(&id) {
            return a;
        }
        let reason = self.watch.reason();
        let detail = format!(
            "{} is down: {}; webctp keeps retrying it — log in again once it is back",
            self.watch.name(),
            self.watch.why(self.now)
        );
        let down = format!("{} is down; webctp keeps retrying it", self.watch.name());
        self.told_down = true;
        tracing::warn!(client = id, "market-data login answered at once: {detail}");
        a.send.push((
            id,
            Bytes::from(crate::protocol::message::front_down(reason, &down)),
        ));
        a.send.push((
            id,
            Bytes::from(
                serde_json::json!({
                    "MsgType": "RspUserLogin",
                    "RspInfo": rsp_info(FRONT_NOT_ACTIVE),
                    "RequestID": request_id,
                    "IsLast": true,
                    "RspUserLogin": null,
                    "Detail": detail,
                })
                .to_string(),
            ),
        ));
        a
    }

    /// A client's login waited the longest it may: the front is not active.
    pub(super) fn expire_login(&mut self, id: ClientId, request_id: i32) -> Actions {
        let mut a = Actions::default();
        let before = self.login_waiters.len();
        self.login_waiters.retain(|w| *w != (id, request_id));
        if self.login_waiters.len() != before && self.clients.contains_key(&id) {
            a.send.push((
                id,
                login_reply(None, rsp_info(FRONT_NOT_ACTIVE), request_id),
            ));
        }
        a
    }

    /// Sends the hub's login, once the upstream session is open.
    pub(super) fn send_login(&mut self) -> Actions {
        if !self.opened {
            return Actions::default();
        }
        self.upstream = Upstream::LoggingIn;
        self.next_request_id += 1;
        Actions {
            calls: vec![Call::Login(self.next_request_id)],
            ..Actions::default()
        }
    }

    /// Tries the login again after [`LOGIN_RETRY`] (if it is still not done then).
    pub(super) fn retry_login(&self) -> Actions {
        Actions {
            timers: vec![(self.now + LOGIN_RETRY, Timer::RetryLogin)],
            ..Actions::default()
        }
    }

    /// The driver holds the upstream session now.
    pub(super) fn on_opened(&mut self) -> Actions {
        self.opened = true;
        if std::mem::take(&mut self.connect_pending) {
            self.send_login()
        } else {
            Actions::default()
        }
    }

    pub(super) fn on_login(&mut self, reply: Reply) -> Actions {
        let mut a = Actions::default();
        let info = reply.rsp_info.clone().unwrap_or_else(|| rsp_info(0));
        let login = match reply.body {
            Some(Body::RspUserLogin(l)) => *l,
            _ => RspUserLogin::default(),
        };
        if info.ErrorID != 0 {
            tracing::error!(error = info.ErrorID, msg = %info.ErrorMsg, "market data login refused");
            for (c, rid) in std::mem::take(&mut self.login_waiters) {
                if self.clients.contains_key(&c) {
                    a.send.push((c, login_reply(None, info.clone(), rid)));
                }
            }
            a.extend(self.retry_login());
            return a;
        }
        tracing::info!(trading_day = %login.TradingDay, "market data front logged in");
        self.upstream = Upstream::LoggedIn(Box::new(login.clone()));
        let reconnect =
            std::mem::replace(&mut self.was_logged_in, true) || std::mem::take(&mut self.told_down);
        for (c, rid) in std::mem::take(&mut self.login_waiters) {
            if let Some(e) = self.clients.get_mut(&c) {
                e.logged_in = true;
                a.send
                    .push((c, login_reply(Some(&login), rsp_info(0), rid)));
            }
        }
        // Re-subscribe what clients hold: after a reconnect the front has forgotten.
        let mut again: Vec<String> = self.routes.keys().cloned().collect();
        again.retain(|i| !self.subscribed.contains(i) && self.in_flight.insert(i.clone()));
        again.sort();
        if reconnect {
            let msg = Bytes::from(front_status(
                true,
                0,
                "market data front is back; subscriptions restored",
            ));
            a.send
                .extend(self.clients.keys().map(|c| (*c, msg.clone())));
        }
        if !again.is_empty() {
            tracing::info!(count = again.len(), "re-subscribing market data");
            a.calls.push(Call::Subscribe(again));
        }
        a
    }

    /// An answer from the front.
    pub(super) fn on_reply(&mut self, reply: Reply) -> Actions {
        match reply.msg_type {
            "RspUserLogin" => self.on_login(reply),
            "RspSubMarketData" => {
                let info = reply.rsp_info.clone().unwrap_or_else(|| rsp_info(0));
                if let Some(Body::SpecificInstrument(s)) = &reply.body {
                    self.resolve(&s.InstrumentID, info)
                } else {
                    Actions::default()
                }
            }
            "RspUnSubMarketData" | "RspUserLogout" => Actions::default(),
            other => {
                tracing::debug!(
                    msg_type = other,
                    error = reply.error_id(),
                    "md reply not forwarded"
                );
                Actions::default()
            }
        }
    }

    /// The front did not take a call.
    pub(super) fn on_refused(&mut self, call: Call, code: i32) -> Actions {
        match call {
            Call::Login(_) => {
                tracing::warn!(code, "md ReqUserLogin was not sent; retrying");
                self.retry_login()
            }
            Call::Subscribe(instruments) => {
                tracing::warn!(code, ?instruments, "SubscribeMarketData was not sent");
                let mut a = Actions::default();
                for inst in &instruments {
                    a.extend(self.resolve(inst, rsp_info(code)));
                }
                a
            }
            Call::Unsubscribe(instruments) => {
                tracing::warn!(code, ?instruments, "UnSubscribeMarketData was not sent");
                Actions::default()
            }
        }
    }

    /// `OnFrontConnected`.
    pub(super) fn on_connected(&mut self) -> Actions {
        let mut a = Actions::default();
        a.notes.push(self.watch.connected(self.now));
        if !self.opened {
            // The session is not stored yet: the login goes when it is.
            self.connect_pending = true;
            return a;
        }
        a.extend(self.send_login());
        a
    }

    /// `OnFrontDisconnected(reason)`.
    pub(super) fn on_disconnected(&mut self, reason: i32) -> Actions {
        let mut a = Actions::default();
        if let Some(note) = self.watch.disconnected(reason, self.now) {
            a.notes.push(note);
        }
        self.connect_pending = false;
        self.upstream = Upstream::Down;
        self.subscribed.clear();
        self.in_flight.clear();
        let mut pending: Vec<u64> = self.pending.keys().copied().collect();
        pending.sort_unstable();
        for key in pending {
            a.extend(self.expire_pending(key));
        }
        let msg = Bytes::from(front_status(
            false,
            reason,
            "market data front disconnected; webctp reconnects and restores subscriptions",
        ));
        a.send
            .extend(self.clients.keys().map(|c| (*c, msg.clone())));
        a
    }
}

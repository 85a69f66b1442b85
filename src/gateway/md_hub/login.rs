//! The hub's one login to the market-data front (retried while refused or unsent),
//! clients' logins answered from it, and the front's connects and drops.

use std::time::Duration;

use bytes::Bytes;

use super::state::Upstream;
use tokio::time::Instant;

use super::super::front_watch;
use super::{ClientId, FRONT_NOT_ACTIVE, FRONT_WAIT, MdHub, Outgoing, UPSTREAM_WAIT};
use crate::ctp::FrontEvent;
use crate::protocol::Reply;
use crate::protocol::errors::rsp_info;
use crate::protocol::fields::{Body, RspInfo, RspUserLogin};
use crate::protocol::message::front_status;

impl MdHub {
    pub(super) fn login_reply(
        login: Option<&RspUserLogin>,
        info: RspInfo,
        request_id: i32,
    ) -> Bytes {
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
            if st.upstream == Upstream::Down {
                // A front that has not connected: the client hears so after FRONT_WAIT
                // (at once when it has been down that long already).
                let down_for = st.watch.down_for(Instant::now());
                let me = self.me.clone();
                self.runtime.spawn(async move {
                    tokio::time::sleep(FRONT_WAIT.saturating_sub(down_for)).await;
                    if let Some(hub) = me.upgrade() {
                        hub.front_overdue(id, request_id);
                    }
                });
            }
        }
        let me = self.me.clone();
        self.runtime.spawn(async move {
            tokio::time::sleep(UPSTREAM_WAIT).await;
            if let Some(hub) = me.upgrade() {
                hub.expire_login(id, request_id);
            }
        });
    }

    /// A client's login waited FRONT_WAIT: if the front still has not connected, the
    /// client is told it is down, naming it, and that webctp keeps retrying it.
    fn front_overdue(&self, id: ClientId, request_id: i32) {
        let mut st = self.lock();
        if st.upstream != Upstream::Down {
            return;
        }
        let before = st.login_waiters.len();
        st.login_waiters.retain(|w| *w != (id, request_id));
        if st.login_waiters.len() == before {
            return;
        }
        let Some(c) = st.clients.get(&id) else {
            return;
        };
        let outbox = c.outbox.clone();
        let now = Instant::now();
        let reason = st.watch.reason();
        let detail = format!(
            "{} is down: {}; webctp keeps retrying it — log in again once it is back",
            st.watch.name(),
            st.watch.why(now)
        );
        let down = format!("{} is down; webctp keeps retrying it", st.watch.name());
        st.told_down = true;
        drop(st);
        tracing::warn!(client = id, "market-data login answered at once: {detail}");
        outbox.push(
            serde_json::json!({
                "MsgType": "OnFrontDisconnected",
                "RspInfo": {
                    "ErrorID": reason.unwrap_or(0),
                    "ErrorMsg": match reason {
                        Some(r) => crate::protocol::message::front_reason(r),
                        None => "unreachable or not answering",
                    },
                },
                "Detail": down,
            })
            .to_string(),
        );
        let info = rsp_info(FRONT_NOT_ACTIVE);
        outbox.push(
            serde_json::json!({
                "MsgType": "RspUserLogin",
                "RspInfo": info,
                "RequestID": request_id,
                "IsLast": true,
                "RspUserLogin": null,
                "Detail": detail,
            })
            .to_string(),
        );
    }

    pub(super) fn expire_login(&self, id: ClientId, request_id: i32) {
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

    pub(super) fn send_login(&self) {
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

    pub(super) fn retry_login(&self) {
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

    pub(super) fn on_login(&self, reply: Reply) {
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
        let reconnect =
            std::mem::replace(&mut st.was_logged_in, true) || std::mem::take(&mut st.told_down);
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

    /// An answer from the front.
    pub(super) fn on_reply(&self, reply: Reply) {
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

    /// The front connected or went away.
    pub(super) fn on_front(&self, event: FrontEvent) {
        match event {
            FrontEvent::Connected => {
                {
                    let mut st = self.lock();
                    let note = st.watch.connected(Instant::now());
                    front_watch::log(note);
                    if self.upstream.get().is_none() {
                        // `start` has not stored the session yet: it logs in when it has.
                        st.connect_pending = true;
                        return;
                    }
                }
                self.send_login();
            }
            FrontEvent::Disconnected { reason } => {
                let mut st = self.lock();
                if let Some(note) = st.watch.disconnected(reason, Instant::now()) {
                    front_watch::log(note);
                }
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

//! A front that does not connect: the official library says nothing while it cannot
//! reach a front, so a login would wait forever. After `front_wait` the client is told,
//! in words naming the front, that it is down and that webctp keeps retrying it; the
//! log says so too, at growing intervals, for as long as it lasts (the driver's
//! [`Event::WatchTick`](super::actions::Event::WatchTick)).

use bytes::Bytes;
use tokio::time::Instant;

use super::actions::Actions;
use super::state::{Machine, Phase};
use crate::protocol::errors::gateway_message;

impl Machine {
    /// The login's wait for the front is over: if the front still has not connected,
    /// the client hears so now.
    pub(super) fn front_overdue(&mut self, now: Instant) -> Actions {
        if self.phase != Phase::Connecting || self.login_request.is_none() {
            return Actions::default();
        }
        self.front_down_answer(now)
    }

    /// A request sent while the front is not connected: -1 (what CTP's API returns
    /// then, and what the Python projects pass on) with a `Detail` naming the front.
    pub(super) fn front_down_refusal(&self, response: &str, request_id: i32) -> String {
        let detail = match &self.watch {
            Some(w) if self.login_request.is_some() => {
                format!("{} is not connected yet; the login waits for it", w.name())
            }
            Some(w) => {
                let then =
                    if self.was_logged_in && self.credentials.is_some() && !self.relogin_blocked {
                        "webctp keeps retrying it and logs in again when it is back"
                    } else {
                        "webctp keeps retrying it — log in again once it is back"
                    };
                format!("{} is down: {}; {then}", w.name(), w.why(self.now))
            }
            None => format!("{} is not connected yet", self.cfg.front),
        };
        serde_json::json!({
            "MsgType": response,
            "RspInfo": {"ErrorID": -1, "ErrorMsg": gateway_message(-1)},
            "RequestID": request_id,
            "IsLast": true,
            "Detail": detail,
        })
        .to_string()
    }

    /// Answers the waiting login: the front is down, webctp keeps retrying it. A
    /// session that was logged in keeps its credentials and logs in again by itself
    /// when the front is back; a first login must be sent again.
    pub(super) fn front_down_answer(&mut self, now: Instant) -> Actions {
        let mut a = Actions::default();
        let Some(request_id) = self.login_request.take() else {
            return a;
        };
        let (name, why, reason) = match &self.watch {
            Some(w) => (w.name().to_string(), w.why(now), w.reason()),
            None => (self.cfg.front.clone(), "not connected".into(), None),
        };
        let automatic = self.was_logged_in && !self.relogin_blocked;
        if !automatic {
            self.credentials = None;
        }
        let detail = if automatic {
            format!(
                "{name} is down: {why}; webctp keeps retrying it and logs in again when it is back"
            )
        } else {
            format!(
                "{name} is down: {why}; webctp keeps retrying it — log in again once it is back"
            )
        };
        tracing::warn!("login answered at once: {detail}");
        let down = format!("{name} is down; webctp keeps retrying it");
        self.told_down = true;
        a.send
            .push(Bytes::from(crate::protocol::message::front_down(
                reason, &down,
            )));
        a.send.push(Bytes::from(
            serde_json::json!({
                "MsgType": "RspUserLogin",
                "RspInfo": {"ErrorID": -1, "ErrorMsg": gateway_message(-1)},
                "RequestID": request_id,
                "IsLast": true,
                "RspUserLogin": null,
                "Detail": detail,
            })
            .to_string(),
        ));
        a
    }
}

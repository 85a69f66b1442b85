//! A front that does not connect: the official library says nothing while it cannot
//! reach a front, so a login would wait forever. After `front_wait` the client is told,
//! in words naming the front, that it is down and that webctp keeps retrying it; the
//! log says so too, at growing intervals, for as long as it lasts.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::super::front_watch;
use super::TdSession;
use super::state::{Actions, Phase, State};
use crate::protocol::errors::gateway_message;

/// How often a session looks whether a "front still down" line is due.
const WATCH_TICK: Duration = Duration::from_secs(1);

impl TdSession {
    /// The login's wait for the front is over: if the front still has not connected,
    /// the client hears so now.
    pub(super) fn front_overdue(&self) {
        let a = {
            let mut st = self.lock();
            if st.closed || st.phase != Phase::Connecting || st.login_request.is_none() {
                return;
            }
            self.front_down_answer(&mut st)
        };
        self.run(a);
    }

    /// Answers the waiting login: the front is down, webctp keeps retrying it. A
    /// session that was logged in keeps its credentials and logs in again by itself
    /// when the front is back; a first login must be sent again.
    pub(super) fn front_down_answer(&self, st: &mut State) -> Actions {
        let mut a = Actions::default();
        let Some(request_id) = st.login_request.take() else {
            return a;
        };
        let now = Instant::now();
        let (name, why, reason) = match &st.watch {
            Some(w) => (w.name().to_string(), w.why(now), w.reason()),
            None => (self.settings.front.clone(), "not connected".into(), None),
        };
        let automatic = st.was_logged_in && !st.relogin_blocked;
        if !automatic {
            st.credentials = None;
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
        st.told_down = true;
        a.send.push(Bytes::from(
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
        ));
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

    /// Starts the task that writes "front still down" lines to the log while the
    /// session's front is down; it ends with the session.
    pub(super) fn watch_front(&self) {
        let me = self.me.clone();
        self.runtime.spawn(async move {
            loop {
                tokio::time::sleep(WATCH_TICK).await;
                let Some(s) = me.upgrade() else { return };
                let mut st = s.lock();
                if st.closed {
                    return;
                }
                if let Some(note) = st.watch.as_mut().and_then(|w| w.due(Instant::now())) {
                    drop(st);
                    front_watch::log(note);
                }
            }
        });
    }
}

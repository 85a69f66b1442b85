//! Queries are queued and sent one at a time, paced at the backend's interval; CTP's
//! flow-control codes (-2/-3) put the query back, and a query unanswered for
//! `query_timeout` is reported failed so its client is not stuck.

use std::sync::Weak;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::TdSession;
use super::state::{Asker, Pending, Phase, State};
use crate::protocol::TdRequest;
use crate::protocol::errors::request;
use crate::protocol::message::call_failed;

/// Queries one session may have waiting; more are refused (-429) rather than held.
pub(super) const MAX_QUEUED_QUERIES: usize = 512;
/// How often a paused query pump looks whether its client has read its answers.
const BACKED_UP_RETRY: Duration = Duration::from_millis(20);

pub(super) fn too_many_queries(response: &str, request_id: i32) -> Bytes {
    crate::protocol::message::gateway_error(
        response,
        crate::protocol::errors::RATE_LIMITED,
        &format!("{MAX_QUEUED_QUERIES} queries are waiting already; read their answers first"),
        Some(i64::from(request_id)),
    )
    .into()
}

impl TdSession {
    /// Picks the next query to send, if the pacing allows; else how long to wait.
    pub(super) fn next_query(&self, st: &mut State) -> Result<Option<(i32, TdRequest)>, Duration> {
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
                    .waiting((last + self.settings.query_interval).into_std());
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
        let rid = st.alloc(pending);
        let now = Instant::now();
        st.query_in_flight = Some((rid, now));
        st.last_query = Some(now);
        Ok(Some((rid, req)))
    }

    /// Sends a paced query; returns how long to wait before trying again.
    pub(super) fn pump_once(&self) -> Option<Duration> {
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
pub(super) async fn query_pump(me: Weak<TdSession>) {
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

//! Queries are queued and sent one at a time, paced at the backend's interval; CTP's
//! flow-control codes (-2/-3) put the query back, and a query unanswered for
//! `query_timeout` is reported failed so its client is not stuck. Pure: the driver's
//! pump task sends [`Event::Pump`](super::actions::Event::Pump) and sleeps as told.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::actions::{Actions, Call, CallKind};
use super::state::{Asker, Machine, Pending, Phase};
use crate::protocol::errors::request;
use crate::protocol::message::call_failed;

/// Queries one session may have waiting; more are refused (-429) rather than held.
pub(super) const MAX_QUEUED_QUERIES: usize = 512;
/// How often a paused query pump looks whether its client has read its answers.
pub(super) const BACKED_UP_RETRY: Duration = Duration::from_millis(20);
/// The least wait after CTP's flow control refused a query.
const FLOW_CONTROL_WAIT: Duration = Duration::from_millis(100);

pub(super) fn too_many_queries(response: &str, request_id: i32) -> Bytes {
    crate::protocol::message::gateway_error(
        response,
        crate::protocol::errors::RATE_LIMITED,
        &format!("{MAX_QUEUED_QUERIES} queries are waiting already; read their answers first"),
        Some(i64::from(request_id)),
    )
    .into()
}

impl Machine {
    /// One step of the query pump at `now`: fails a query unanswered too long, sends
    /// the next one when the pacing allows, and says when to look again
    /// ([`Actions::pump_again`]).
    pub(super) fn pump(&mut self, now: Instant, backed_up: bool) -> Actions {
        let mut a = Actions::default();
        if self.phase != Phase::LoggedIn || self.queries.is_empty() {
            return a;
        }
        if let Some((_, since)) = self.query_in_flight {
            let waited = now.saturating_duration_since(since);
            if waited < self.cfg.query_timeout {
                a.pump_again = Some(self.cfg.query_timeout - waited);
                return a;
            }
            // The answer is lost (front trouble): fail it so the client is not stuck.
            if let Some((rid, _)) = self.query_in_flight.take()
                && let Some(Pending::Client {
                    request_id,
                    response,
                    ..
                }) = self.pending.remove(&rid)
            {
                tracing::warn!(response, "query unanswered; reported as failed");
                a.send
                    .push(Bytes::from(call_failed(response, -1, request_id)));
            }
        }
        // A client that does not read its answers gets no new ones: the next query
        // waits until it has read most of what is queued for it.
        if backed_up {
            a.pump_again = Some(BACKED_UP_RETRY);
            return a;
        }
        if let Some(last) = self.last_query {
            let gap = now.saturating_duration_since(last);
            if gap < self.cfg.query_interval {
                a.pacing_wait = Some(last + self.cfg.query_interval);
                a.pump_again = Some(self.cfg.query_interval - gap);
                return a;
            }
        }
        let Some((req, asker)) = self.queries.pop_front() else {
            return a;
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
        let rid = self.alloc(pending);
        self.query_in_flight = Some((rid, now));
        self.last_query = Some(now);
        a.calls.push(Call {
            id: rid,
            req,
            kind: CallKind::Query,
        });
        a.pump_again = Some(Duration::ZERO);
        a
    }

    /// The backend did not take a paced query: CTP's flow control puts it back (the
    /// client never sees it); any other code is the client's answer.
    pub(super) fn query_refused(&mut self, call: Call, code: i32) -> Actions {
        let mut a = Actions::default();
        self.query_in_flight = None;
        let pending = self.pending.remove(&call.id);
        if request::is_flow_control(code) {
            match pending {
                Some(Pending::Client { request_id, .. }) => {
                    self.queries
                        .push_front((call.req, Asker::Client(request_id)));
                }
                Some(Pending::Recover { trades }) => {
                    self.queries
                        .push_front((call.req, Asker::Recover { trades }));
                }
                _ => {}
            }
            a.pump_again = Some(self.cfg.query_interval.max(FLOW_CONTROL_WAIT));
            return a;
        }
        if let Some(Pending::Client {
            request_id,
            response,
            ..
        }) = pending
        {
            a.send
                .push(Bytes::from(call_failed(response, code, request_id)));
        }
        a.pump_again = Some(Duration::ZERO);
        a
    }
}

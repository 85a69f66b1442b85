//! A client's requests into the session, and the answers back: the RequestID map
//! (the session's own IDs upstream, the client's in the answer) and the pushes.
//! Pure: see [`Machine`].

use bytes::Bytes;
use tokio::time::Instant;

use super::super::order_tracker::OrderKey;
use super::actions::{Actions, Call, CallKind};
use super::pacing::{MAX_QUEUED_QUERIES, too_many_queries};
use super::state::{Asker, Machine, Pending, Phase};
use crate::protocol::fields::Body;
use crate::protocol::message::call_failed;
use crate::protocol::{Reply, TdRequest};

impl Machine {
    /// A client's trading request (the dispatcher checked the login).
    pub(super) fn on_request(&mut self, now: Instant, req: TdRequest, request_id: i32) -> Actions {
        match req {
            TdRequest::ReqUserLogin(login) => self.begin_login(now, login, request_id),
            TdRequest::ReqAuthenticate(auth) => self.begin_auth(auth, request_id),
            other => {
                let spec = other.spec();
                let logged_in = self.phase == Phase::LoggedIn;
                if !logged_in && self.phase == Phase::Connecting {
                    // The front is not connected: CTP's API refuses the call (-1), as
                    // the Python projects pass it on; the Detail says why.
                    Actions::send(self.front_down_refusal(spec.response, request_id))
                } else if !logged_in && self.phase == Phase::Idle {
                    Actions::send(call_failed(spec.response, -1, request_id))
                } else if spec.is_query && logged_in && self.queries.len() >= MAX_QUEUED_QUERIES {
                    Actions::send(too_many_queries(spec.response, request_id))
                } else if spec.is_query && logged_in {
                    self.queries.push_back((other, Asker::Client(request_id)));
                    Actions {
                        wake_pump: true,
                        ..Actions::default()
                    }
                } else if let TdRequest::ReqOrderInsert(mut o) = other {
                    let key = self.order_sent(&mut o, request_id);
                    Actions::call(
                        request_id,
                        TdRequest::ReqOrderInsert(o),
                        CallKind::Order(key),
                    )
                } else if let TdRequest::ReqOrderAction(a) = other {
                    Actions::call(
                        request_id,
                        TdRequest::ReqOrderAction(a),
                        CallKind::Order(None),
                    )
                } else {
                    let rid = self.alloc(Pending::Client {
                        request_id,
                        response: spec.response,
                        body_key: spec.response_body_key,
                        is_query: false,
                    });
                    Actions::call(rid, other, CallKind::Session)
                }
            }
        }
    }

    /// Gives an order without OrderRef the session's next one (so that the order can be
    /// found again after a front drop) and starts following it.
    pub(super) fn order_sent(
        &mut self,
        o: &mut crate::protocol::fields::InputOrder,
        request_id: i32,
    ) -> Option<OrderKey> {
        if o.OrderRef.trim().is_empty() {
            self.last_order_ref += 1;
            o.OrderRef = format!("{:>12}", self.last_order_ref);
        } else if let Ok(n) = o.OrderRef.trim().parse::<i64>() {
            self.last_order_ref = self.last_order_ref.max(n);
        }
        let (front_id, session_id) = self.login.as_ref().map(|(l, _)| (l.FrontID, l.SessionID))?;
        let key = OrderKey {
            front_id,
            session_id,
            order_ref: o.OrderRef.trim().to_string(),
        };
        self.orders.sent(key.clone(), request_id);
        Some(key)
    }

    /// The key of an order this session sends now with `order_ref`.
    pub(super) fn own_key(&self, order_ref: &str) -> Option<OrderKey> {
        self.login.as_ref().map(|(l, _)| OrderKey {
            front_id: l.FrontID,
            session_id: l.SessionID,
            order_ref: order_ref.trim().to_string(),
        })
    }

    /// Clears what must not reach logs or screens. (RequestIDs inside order bodies need
    /// no mapping: CTP got the client's own; unset market prices are written as 0 by
    /// the serializer.)
    pub(super) fn clean_body(body: &mut Option<Body>) {
        if let Some(Body::UserPasswordUpdate(u)) = body {
            // CTP echoes the request; passwords must not reach logs or screens.
            u.OldPassword.clear();
            u.NewPassword.clear();
        }
    }

    /// The backend did not take a call: the truth is that it was not sent.
    pub(super) fn on_refused(&mut self, call: Call, code: i32) -> Actions {
        match call.kind {
            CallKind::Order(key) => {
                // CTP did not take it, so that is the truth.
                if let Some(k) = key {
                    self.orders.refused(&k);
                }
                Actions::send(call_failed(call.req.spec().response, code, call.id))
            }
            CallKind::Query => self.query_refused(call, code),
            CallKind::Session => {
                let pending = self.pending.remove(&call.id);
                if matches!(pending, Some(Pending::Client { is_query: true, .. })) {
                    self.query_in_flight = None;
                }
                match pending {
                    Some(Pending::Client {
                        request_id,
                        response,
                        ..
                    }) => Actions {
                        send: vec![Bytes::from(call_failed(response, code, request_id))],
                        wake_pump: true,
                        ..Actions::default()
                    },
                    Some(Pending::Auth | Pending::Login | Pending::Confirm) => {
                        self.fail_login(crate::protocol::errors::rsp_info(code), "RspUserLogin")
                    }
                    Some(Pending::Recover { .. }) | None => Actions::default(),
                }
            }
        }
    }

    /// A reply or push from the backend.
    pub(super) fn on_reply(&mut self, mut r: Reply) -> Actions {
        let Some(rid) = r.request_id else {
            // A push (RtnOrder, RtnTrade, ErrRtnOrderInsert...).
            match &r.body {
                Some(Body::Order(o)) => self.orders.on_order(o),
                Some(Body::Trade(t)) if !self.orders.on_trade(t) => {
                    tracing::debug!(trade = %t.TradeID, "a trade the client already has; not repeated");
                    return Actions::default();
                }
                _ => {}
            }
            Self::clean_body(&mut r.body);
            let json = Bytes::from(r.to_json());
            // The account of the session's stream on the bus, when there is a bus.
            let publish = if self.cfg.publishes {
                self.credentials.as_ref().map(|c| {
                    (
                        r.msg_type,
                        c.BrokerID.clone(),
                        c.UserID.clone(),
                        json.clone(),
                    )
                })
            } else {
                None
            };
            return Actions {
                send: vec![json],
                publish,
                ..Actions::default()
            };
        };
        if matches!(r.msg_type, "RspOrderInsert" | "RspOrderAction") {
            // CTP refused an insert or cancel, sent with the client's RequestID.
            if let Some(Body::InputOrder(o)) = &r.body
                && let Some(k) = self.own_key(&o.OrderRef)
            {
                self.orders.refused(&k);
            }
            return Actions::send(r.to_json());
        }
        let pending = if r.is_last || r.msg_type == "RspError" {
            self.pending.remove(&rid)
        } else {
            self.pending.get(&rid).cloned()
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
                    self.query_in_flight = None;
                }
                Self::clean_body(&mut r.body);
                r.request_id = Some(request_id);
                let mut a = Actions::default();
                if r.msg_type == "RspUserLogout" && r.error_id() == 0 {
                    self.phase = Phase::Idle;
                    a.release = true;
                    self.credentials = None;
                    self.authenticated = false;
                    self.was_logged_in = false;
                }
                if r.msg_type == "RspAuthenticate" && r.error_id() == 0 {
                    self.authenticated = true;
                }
                a.send.push(Bytes::from(r.to_json()));
                a.wake_pump = is_query && r.is_last;
                a
            }
            Some(Pending::Recover { trades }) => self.on_recover(trades, r),
            Some(kind) => {
                if !r.is_last {
                    return Actions::default();
                }
                self.on_internal(kind, r)
            }
            None if r.msg_type == "RspError" => {
                // OnRspError for a request sent with the client's own RequestID (an
                // order insert or cancel CTP could not read): the client's to see.
                Actions::send(r.to_json())
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
    }
}

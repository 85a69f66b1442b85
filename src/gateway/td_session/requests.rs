//! A client's requests into the session, and the answers back: the RequestID map
//! (the session's own IDs upstream, the client's in the answer) and the pushes.

use bytes::Bytes;

use super::super::order_tracker::OrderKey;
use super::TdSession;
use super::pacing::{MAX_QUEUED_QUERIES, too_many_queries};
use super::state::{Actions, Asker, Pending, Phase, State};
use crate::protocol::fields::Body;
use crate::protocol::message::call_failed;
use crate::protocol::{Reply, TdRequest};

impl TdSession {
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
                        let rid = st.alloc(Pending::Client {
                            request_id,
                            response: spec.response,
                            body_key: spec.response_body_key,
                            is_query: false,
                        });
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
    pub(super) fn order_sent(
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
    pub(super) fn own_key(st: &State, order_ref: &str) -> Option<OrderKey> {
        st.login.as_ref().map(|(l, _)| OrderKey {
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

    /// A reply or push from the backend.
    pub(super) fn on_reply(&self, mut r: Reply) {
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
}

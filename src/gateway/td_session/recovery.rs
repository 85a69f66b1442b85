//! After a re-login: what became of the orders sent before the front dropped
//! (`ReqQryOrder`, then `ReqQryTrade` when fills may be missing), pushed to the client.
//! Pure: see [`Machine`].

use bytes::Bytes;

use super::actions::Actions;
use super::state::{Asker, Machine};
use crate::protocol::fields::{Body, QryTrade};
use crate::protocol::{Reply, TdRequest};

impl Machine {
    /// An answer to the session's recovery queries after a re-login: pushes what the
    /// client has not been told about its orders.
    pub(super) fn on_recover(&mut self, trades: bool, r: Reply) -> Actions {
        let mut a = Actions::default();
        if r.msg_type == "RspError" || r.error_id() != 0 {
            // The truth stays unknown for now; the next re-login asks again.
            tracing::warn!(
                error = r.error_id(),
                "recovering the orders' state after a re-login failed"
            );
            self.query_in_flight = None;
            a.wake_pump = true;
            return a;
        }
        match r.body {
            Some(Body::Order(o)) if !trades && self.orders.recovered_order(&o) => {
                let push = Reply::push("RtnOrder", "Order", Some(Body::Order(o)), None);
                a.send.push(Bytes::from(push.to_json()));
            }
            Some(Body::Trade(t)) if trades && self.orders.recovered_trade(&t) => {
                let push = Reply::push("RtnTrade", "Trade", Some(Body::Trade(t)), None);
                a.send.push(Bytes::from(push.to_json()));
            }
            _ => {}
        }
        if r.is_last {
            self.query_in_flight = None;
            a.wake_pump = true;
            if !trades {
                let (lost, missing_trades) = self.orders.orders_recovered();
                for l in lost {
                    tracing::warn!(order_ref = %l.order_ref, "an order sent before the front dropped never reached CTP");
                    a.send
                        .push(Bytes::from(not_placed(l.request_id, &l.order_ref)));
                }
                if missing_trades {
                    self.queries.push_front((
                        TdRequest::ReqQryTrade(QryTrade::default()),
                        Asker::Recover { trades: true },
                    ));
                }
            }
        }
        a
    }
}

/// Tells a client that an order it sent before the front dropped was not placed:
/// nothing was heard of it and CTP does not list it after the re-login.
fn not_placed(request_id: i32, order_ref: &str) -> String {
    serde_json::json!({
        "MsgType": "RspOrderInsert",
        "RspInfo": {"ErrorID": -1, "ErrorMsg": crate::protocol::errors::gateway_message(-1)},
        "RequestID": request_id,
        "IsLast": true,
        "InputOrder": {"OrderRef": order_ref},
        "Detail": "the trading front dropped before CTP received this order: ReqQryOrder after the re-login does not list it, so it was not placed",
    })
    .to_string()
}

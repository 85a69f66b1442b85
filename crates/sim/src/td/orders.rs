//! Inserting and cancelling orders: the exchange decides, a refusal goes back as
//! CTP's Rsp and ErrRtn to every session of the user.

use super::{Out, SimTdSession, commit, sessions_of};
use crate::clock::BeijingTime;
use crate::exchange::{Exchange, Record, Stamp, StatusMsg, code};
use crate::{FRONT_ID, SimCore};
use webctp_protocol::errors::{ctp, rsp_info};
use webctp_protocol::fields::*;
use webctp_protocol::{CtpChar, Reply};

impl SimTdSession {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn insert(
        &self,
        core: &SimCore,
        ex: &mut Exchange,
        user: &str,
        o: &InputOrder,
        rid: i32,
        now: &BeijingTime,
        out: &mut Out,
    ) {
        let order_ref = if o.OrderRef.trim().is_empty() {
            let mut s = self.lock();
            s.next_order_ref += 1;
            format!("{:>12}", s.next_order_ref)
        } else {
            o.OrderRef.clone()
        };
        if let Ok(n) = order_ref.trim().parse::<i64>() {
            let mut s = self.lock();
            s.next_order_ref = s.next_order_ref.max(n);
        }
        let origin = crate::exchange::Origin {
            user,
            front_id: FRONT_ID,
            session_id: self.session_id,
            order_ref: &order_ref,
        };
        match ex.decide_insert(&origin, o, rid, now) {
            Ok(records) => {
                let before = ex.orders.len();
                commit(core, ex, records, out);
                if ex.orders.len() > before {
                    let fills = ex.decide_match(before, now);
                    commit(core, ex, fills, out);
                }
            }
            Err(code) => {
                let mut echo = o.clone();
                echo.OrderRef = order_ref;
                echo.InvestorID = user.to_string();
                echo.UserID = user.to_string();
                echo.RequestID = rid;
                tracing::debug!(user, code, instrument = %o.InstrumentID, "order rejected");
                self.respond(
                    out,
                    "RspOrderInsert",
                    "InputOrder",
                    Some(echo.clone().into()),
                    code,
                    rid,
                );
                let err = Reply::push(
                    "ErrRtnOrderInsert",
                    "InputOrder",
                    Some(echo.into()),
                    Some(rsp_info(code)),
                );
                for t in sessions_of(core, user) {
                    out.reply(&t, err.clone());
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn cancel(
        &self,
        core: &SimCore,
        ex: &mut Exchange,
        user: &str,
        a: &InputOrderAction,
        rid: i32,
        now: &BeijingTime,
        out: &mut Out,
    ) {
        let found = if a.ActionFlag.is_set() && a.ActionFlag.0 != b'0' {
            Err(ctp::UNSUPPORTED_FUNCTION)
        } else {
            ex.find_order(user, a, FRONT_ID, self.session_id)
                .and_then(|i| {
                    if ex.orders[i].is_final() {
                        Err(ctp::INSUITABLE_ORDER_STATUS)
                    } else {
                        Ok(i)
                    }
                })
        };
        match found {
            Ok(i) => {
                let rec = Record::Cancel {
                    sys_id: ex.orders[i].sys_id,
                    time: Stamp::new(&now.time()),
                    msg: StatusMsg::Canceled,
                };
                commit(core, ex, vec![rec], out);
            }
            Err(code) => {
                self.respond(
                    out,
                    "RspOrderAction",
                    "InputOrderAction",
                    Some(a.clone().into()),
                    code,
                    rid,
                );
                let action = OrderAction {
                    BrokerID: a.BrokerID.clone(),
                    InvestorID: user.to_string(),
                    OrderActionRef: a.OrderActionRef,
                    OrderRef: a.OrderRef.clone(),
                    RequestID: rid,
                    FrontID: a.FrontID,
                    SessionID: a.SessionID,
                    ExchangeID: a.ExchangeID.clone(),
                    OrderSysID: a.OrderSysID.clone(),
                    ActionFlag: CtpChar(b'0'),
                    ActionDate: now.date(),
                    ActionTime: now.time(),
                    OrderActionStatus: CtpChar(code::ACTION_REJECTED),
                    UserID: user.to_string(),
                    StatusMsg: webctp_protocol::errors::ctp_message(code)
                        .unwrap_or_default()
                        .into(),
                    InstrumentID: a.InstrumentID.clone(),
                    ..OrderAction::default()
                };
                let err = Reply::push(
                    "ErrRtnOrderAction",
                    "OrderAction",
                    Some(action.into()),
                    Some(rsp_info(code)),
                );
                for t in sessions_of(core, user) {
                    out.reply(&t, err.clone());
                }
            }
        }
    }
}

//! Trading commands: `buy`, `sell` and `cancel`.

use std::sync::{Arc, Mutex};

use super::orders::{self, Named};
use super::{Outcome, Session};
use crate::cli::commands::{Immediate, OrderArgs, Price, Side};
use crate::cli::error::{CliError, Result};
use crate::cli::link::Inbound;
use crate::cli::render;
use crate::protocol::client::{MsgKind, td_request_json};
use crate::protocol::codes::{
    self, action_flag, contingent_condition, direction, force_close_reason, hedge_flag,
    order_status, price_type, time_condition, volume_condition,
};
use crate::protocol::fields::{
    DepthMarketData, InputOrder, InputOrderAction, Order, OrderAction, QryDepthMarketData, Trade,
};
use crate::protocol::{Endpoint, TdRequest};

impl Session {
    pub(super) async fn opposite(&self, id: &str, side: Side) -> Result<(f64, Option<String>)> {
        let a = self
            .request(TdRequest::ReqQryDepthMarketData(QryDepthMarketData {
                InstrumentID: id.to_string(),
                ..QryDepthMarketData::default()
            }))
            .await?;
        if let Some(e) = a.iter().find_map(|m| render::error_sentence(m)) {
            return Err(CliError::StepRefused(e));
        }
        let d = a
            .iter()
            .find_map(|m| m.body::<DepthMarketData>())
            .ok_or_else(|| CliError::NoQuote(id.to_string()))?;
        let (p, name) = if side == Side::Buy {
            (d.AskPrice1, "AskPrice1")
        } else {
            (d.BidPrice1, "BidPrice1")
        };
        if !(p > 0.0 && p < f64::MAX / 2.0) {
            return Err(CliError::NothingToTradeAgainst {
                instrument: id.to_string(),
                price: name,
            });
        }
        Ok((p, Some(d.ExchangeID.clone()).filter(|e| !e.is_empty())))
    }

    pub(super) async fn order(&self, o: OrderArgs) -> Result<Outcome> {
        let mut exchange = self.lock().exchanges.get(&o.instrument).cloned();
        let (price_type, limit) = match o.price {
            Price::Limit(p) => (price_type::LIMIT_PRICE, p),
            Price::Market => (price_type::ANY_PRICE, 0.0),
            Price::Opposite => {
                let (p, ex) = self.opposite(&o.instrument, o.side).await?;
                exchange = exchange.or(ex);
                (price_type::LIMIT_PRICE, p)
            }
        };
        let immediate = o
            .immediate
            .or((o.price == Price::Market).then_some(Immediate::Fak));
        let (user, broker, fs) = {
            let st = self.lock();
            (
                st.user.clone().unwrap_or_default(),
                st.broker.clone(),
                st.front_session,
            )
        };
        let rid = self.rid();
        let body = InputOrder {
            BrokerID: broker,
            InvestorID: user.clone(),
            UserID: user,
            InstrumentID: o.instrument.clone(),
            ExchangeID: exchange.unwrap_or_default(),
            Direction: match o.side {
                Side::Buy => direction::BUY,
                Side::Sell => direction::SELL,
            },
            CombOffsetFlag: codes::comb(o.offset.code()),
            CombHedgeFlag: codes::comb(hedge_flag::SPECULATION),
            OrderPriceType: price_type,
            LimitPrice: limit,
            VolumeTotalOriginal: o.volume,
            TimeCondition: if immediate.is_some() {
                time_condition::IOC
            } else {
                time_condition::GFD
            },
            VolumeCondition: if immediate == Some(Immediate::Fok) {
                volume_condition::COMPLETE_VOLUME
            } else {
                volume_condition::ANY_VOLUME
            },
            MinVolume: 1,
            ContingentCondition: contingent_condition::IMMEDIATELY,
            ForceCloseReason: force_close_reason::NOT_FORCE_CLOSE,
            RequestID: rid,
            ..InputOrder::default()
        };
        // FAK/FOK orders are final as soon as they are matched: the terminal waits for
        // that rather than printing them "queueing" a moment before they fill.
        let immediate_order = body.TimeCondition == time_condition::IOC;
        let msg = td_request_json(&TdRequest::ReqOrderInsert(body), rid);
        let rid64 = i64::from(rid);
        // The order's exchange number, once known, claims its trades too: they print
        // after the order's table, not before it.
        let sys_seen: Arc<Mutex<Option<(String, String)>>> = Arc::default();
        let sys_w = sys_seen.clone();
        let mut rx = self.watch(Box::new(move |ep, v| {
            if ep != Endpoint::Td {
                return false;
            }
            let ours = |o: &Order| {
                i64::from(o.RequestID) == rid64
                    && fs.is_none_or(|(f, s)| {
                        i64::from(o.FrontID) == f && i64::from(o.SessionID) == s
                    })
            };
            let sys_of = |exchange: &str, sys: &str| (exchange.to_string(), sys.trim().to_string());
            match v.kind {
                MsgKind::RspOrderInsert => v.answers(rid64),
                MsgKind::ErrRtnOrderInsert => v
                    .body::<InputOrder>()
                    .is_some_and(|o| i64::from(o.RequestID) == rid64),
                MsgKind::RtnOrder => match v.body::<Order>() {
                    Some(o) if ours(o) => {
                        let (ex, sys) = sys_of(&o.ExchangeID, &o.OrderSysID);
                        if !sys.is_empty() {
                            *sys_w.lock().unwrap_or_else(|e| e.into_inner()) = Some((ex, sys));
                        }
                        true
                    }
                    _ => false,
                },
                MsgKind::RtnTrade => {
                    let known = sys_w.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    v.body::<Trade>().is_some_and(|t| {
                        known.is_some_and(|k| k == sys_of(&t.ExchangeID, &t.OrderSysID))
                    })
                }
                _ => false,
            }
        }));
        let result = async {
            self.link.send(Endpoint::Td, msg)?;
            let mut seen = Vec::new();
            let deadline = tokio::time::Instant::now() + self.wait;
            loop {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                let Ok(v) = tokio::time::timeout(left, rx.recv()).await else {
                    return Ok(seen);
                };
                let v = v.ok_or_else(|| self.closed_reason())?;
                if v.kind == MsgKind::RtnTrade {
                    seen.push(v);
                    continue;
                }
                let status = v
                    .body::<Order>()
                    .map_or(crate::protocol::CtpChar::NUL, |o| o.OrderStatus);
                let rejected = v.kind != MsgKind::RtnOrder;
                seen.push(v);
                let done = rejected
                    || matches!(status, order_status::ALL_TRADED | order_status::CANCELED)
                    || (!self.wait_final
                        && !immediate_order
                        && status.is_set()
                        && status != order_status::UNKNOWN);
                if done {
                    // What has already arrived belongs to this answer too: the table
                    // shows the order's latest state.
                    while let Some(more) = rx.try_recv() {
                        seen.push(more);
                    }
                    return Ok::<_, CliError>(seen);
                }
            }
        }
        .await;
        // The answer is printed before whatever status came after it.
        let outcome = result.map(|seen| self.report_order(&seen));
        self.unwatch(rx);
        outcome
    }

    /// Prints an order's answers: its latest state and its trades, or the refusal.
    pub(super) fn report_order(&self, seen: &[Inbound]) -> Outcome {
        if self.json_mode() {
            for m in seen {
                self.say(m.json());
            }
        }
        let Some(last) = seen.iter().rev().find(|m| m.kind != MsgKind::RtnTrade) else {
            self.say(format!(
                "{}; the order's state is unknown until it does — see `orders`",
                self.no_answer(Endpoint::Td, "answer to the order")
            ));
            return Outcome::Failed;
        };
        if let Some(e) = render::error_sentence(last) {
            self.note_reported(last);
            if !self.json_mode() {
                self.say(e);
            }
            return Outcome::Refused;
        }
        if !self.json_mode() {
            let answered = last.body::<Order>().cloned().unwrap_or_default();
            let (inst, latest) = {
                let st = self.lock();
                (st.instruments.clone(), st.orders.latest(&answered).cloned())
            };
            let order = latest.unwrap_or(answered);
            self.say(render::orders(&[&order], &inst, self.style()));
            for t in seen.iter().filter(|m| m.kind == MsgKind::RtnTrade) {
                if let Some(line) = render::push_line(t, &inst) {
                    self.say(line);
                }
            }
        }
        Outcome::Ok
    }

    pub(super) async fn cancel(&self, id: &str) -> Result<Outcome> {
        let me = self.lock().front_session;
        let mut named = self.lock().orders.name(id, me);
        if named == Named::Nothing || matches!(named, Named::Refused(_)) {
            // Orders sent before this process started (or by other sessions) are
            // learnt from the gateway.
            let a = self
                .request(TdRequest::ReqQryOrder(Default::default()))
                .await?;
            self.remember_orders(&a);
            named = self.lock().orders.name(id, me);
        }
        let order = match named {
            Named::One(o) => *o,
            Named::Nothing => {
                self.say(format!(
                    "no order with OrderSysID `{id}`, nor with OrderRef `{id}` in this session, today (see `orders`)"
                ));
                return Ok(Outcome::Refused);
            }
            Named::Refused(why) => {
                self.say(why);
                return Ok(Outcome::Refused);
            }
        };
        self.cancel_order(order).await
    }

    /// Sends a cancel for `order` and reports how it ended.
    pub(super) async fn cancel_order(&self, order: Order) -> Result<Outcome> {
        let sys = order.OrderSysID.trim().to_string();
        let (user, broker) = self.identity();
        let rid = self.rid();
        let action = InputOrderAction {
            BrokerID: broker,
            InvestorID: user.clone(),
            UserID: user,
            ActionFlag: action_flag::DELETE,
            OrderSysID: order.OrderSysID.clone(),
            ExchangeID: order.ExchangeID.clone(),
            InstrumentID: order.InstrumentID.clone(),
            OrderRef: order.OrderRef.clone(),
            FrontID: order.FrontID,
            SessionID: order.SessionID,
            RequestID: rid,
            ..InputOrderAction::default()
        };
        let msg = td_request_json(&TdRequest::ReqOrderAction(action), rid);
        let key = orders::key_of(&order);
        let exchange = order.ExchangeID.clone();
        let sys_key = sys.clone();
        let rid64 = i64::from(rid);
        // The order this cancel is for, named by CTP's key or by its exchange number.
        let same = move |(front, session, order_ref): (i32, i32, &str), sys: &str, ex: &str| {
            (key.is_some() && orders::key(front, session, order_ref) == key)
                || (!sys_key.is_empty()
                    && sys.trim() == sys_key
                    && (ex.is_empty() || ex == exchange))
        };
        let mut rx = self.watch(Box::new(move |ep, v| {
            ep == Endpoint::Td
                && match v.kind {
                    MsgKind::RspOrderAction => v.answers(rid64),
                    MsgKind::ErrRtnOrderAction => v.body::<OrderAction>().is_some_and(|a| {
                        i64::from(a.RequestID) == rid64
                            || same(
                                (a.FrontID, a.SessionID, &a.OrderRef),
                                &a.OrderSysID,
                                &a.ExchangeID,
                            )
                    }),
                    MsgKind::RtnOrder => v.body::<Order>().is_some_and(|o| {
                        same(
                            (o.FrontID, o.SessionID, &o.OrderRef),
                            &o.OrderSysID,
                            &o.ExchangeID,
                        ) && o.OrderStatus == order_status::CANCELED
                    }),
                    _ => false,
                }
        }));
        let answer = async {
            self.link.send(Endpoint::Td, msg)?;
            tokio::time::timeout(self.wait, rx.recv())
                .await
                .map_err(|_| self.no_answer(Endpoint::Td, "answer to the cancel"))?
                .ok_or_else(|| self.closed_reason())
        }
        .await;
        let v = match answer {
            Ok(v) => v,
            Err(e) => {
                self.unwatch(rx);
                return Err(e);
            }
        };
        let refusal = render::error_sentence(&v);
        if refusal.is_some() {
            // Its twin (CTP answers a refused cancel twice) is not news.
            self.note_reported(&v);
        }
        self.unwatch(rx);
        if self.json_mode() {
            self.say(v.json());
        }
        if let Some(e) = refusal {
            if !self.json_mode() {
                self.say(e);
            }
            return Ok(Outcome::Refused);
        }
        if !self.json_mode() {
            let name = if sys.is_empty() {
                format!("ref {}", order.OrderRef.trim())
            } else {
                sys
            };
            self.say(format!("canceled order {name}"));
        }
        Ok(Outcome::Ok)
    }
}

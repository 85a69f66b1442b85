//! Trading commands: `buy`, `sell` and `cancel`.

use serde_json::{Value, json};

use std::sync::{Arc, Mutex};

use super::orders::{self, Named};
use super::{Outcome, Session, rid_of};
use crate::cli::commands::{Immediate, OrderArgs, Price, Side};
use crate::cli::render;
use crate::protocol::codes::{
    self, action_flag, contingent_condition, direction, force_close_reason, hedge_flag,
    order_status, price_type, time_condition, volume_condition,
};
use crate::protocol::fields::{InputOrder, InputOrderAction, QryDepthMarketData};
use crate::protocol::{Endpoint, TdRequest};

impl Session {
    pub(super) async fn opposite(
        &self,
        id: &str,
        side: Side,
    ) -> Result<(f64, Option<String>), String> {
        let a = self
            .request(TdRequest::ReqQryDepthMarketData(QryDepthMarketData {
                InstrumentID: id.to_string(),
                ..QryDepthMarketData::default()
            }))
            .await?;
        if let Some(e) = a.iter().find_map(render::error_sentence) {
            return Err(e);
        }
        let d = a
            .iter()
            .map(|m| &m["DepthMarketData"])
            .find(|d| d.is_object())
            .ok_or_else(|| format!("no quote for {id}"))?;
        let key = if side == Side::Buy {
            "AskPrice1"
        } else {
            "BidPrice1"
        };
        let p = d[key]
            .as_f64()
            .filter(|p| *p > 0.0 && *p < f64::MAX / 2.0)
            .ok_or_else(|| format!("{id} has no {key} to trade against; give a price"))?;
        Ok((
            p,
            d["ExchangeID"]
                .as_str()
                .filter(|e| !e.is_empty())
                .map(String::from),
        ))
    }

    pub(super) async fn order(&self, o: OrderArgs) -> Result<Outcome, String> {
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
        let mut msg = super::envelope(&TdRequest::ReqOrderInsert(body));
        msg["RequestID"] = json!(rid);
        let rid64 = i64::from(rid);
        // The order's exchange number, once known, claims its trades too: they print
        // after the order's table, not before it.
        let sys_seen: Arc<Mutex<Option<(String, String)>>> = Arc::default();
        let sys_w = sys_seen.clone();
        let mut rx = self.watch(Box::new(move |ep, v| {
            if ep != Endpoint::Td {
                return false;
            }
            let ours = |o: &Value| {
                o["RequestID"].as_i64() == Some(rid64)
                    && fs.is_none_or(|(f, s)| {
                        o["FrontID"].as_i64() == Some(f) && o["SessionID"].as_i64() == Some(s)
                    })
            };
            let sys_of = |o: &Value| {
                (
                    o["ExchangeID"].as_str().unwrap_or("").to_string(),
                    o["OrderSysID"].as_str().map_or("", str::trim).to_string(),
                )
            };
            match v["MsgType"].as_str() {
                Some("RspOrderInsert") => rid_of(v) == Some(rid64),
                Some("ErrRtnOrderInsert") => v["InputOrder"]["RequestID"].as_i64() == Some(rid64),
                Some("RtnOrder") if ours(&v["Order"]) => {
                    let (ex, sys) = sys_of(&v["Order"]);
                    if !sys.is_empty() {
                        *sys_w.lock().unwrap_or_else(|e| e.into_inner()) = Some((ex, sys));
                    }
                    true
                }
                Some("RtnTrade") => {
                    let known = sys_w.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    known.is_some_and(|k| k == sys_of(&v["Trade"]))
                }
                _ => false,
            }
        }));
        let result = async {
            self.link.send(Endpoint::Td, msg.to_string())?;
            let mut seen = Vec::new();
            let deadline = tokio::time::Instant::now() + self.wait;
            loop {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                let Ok(v) = tokio::time::timeout(left, rx.recv()).await else {
                    return Ok(seen);
                };
                let v = v.ok_or_else(|| self.closed_reason())?;
                if v["MsgType"] == "RtnTrade" {
                    seen.push(v);
                    continue;
                }
                let status = codes::first(v["Order"]["OrderStatus"].as_str().unwrap_or(""));
                let rejected = v["MsgType"] != "RtnOrder";
                seen.push(v);
                let done = rejected
                    || matches!(status, order_status::ALL_TRADED | order_status::CANCELED)
                    || (!self.wait_final && status.is_set() && status != order_status::UNKNOWN);
                if done {
                    // What has already arrived belongs to this answer too: the table
                    // shows the order's latest state.
                    while let Some(more) = rx.try_recv() {
                        seen.push(more);
                    }
                    return Ok::<_, String>(seen);
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
    pub(super) fn report_order(&self, seen: &[Value]) -> Outcome {
        if self.json_mode() {
            for m in seen {
                self.say(m.to_string());
            }
        }
        let Some(last) = seen.iter().rev().find(|m| m["MsgType"] != "RtnTrade") else {
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
            let (inst, latest) = {
                let st = self.lock();
                (
                    st.instruments.clone(),
                    st.orders.latest(&last["Order"]).cloned(),
                )
            };
            let order = latest.unwrap_or_else(|| last["Order"].clone());
            self.say(render::orders(&[&order], &inst, self.style()));
            for t in seen.iter().filter(|m| m["MsgType"] == "RtnTrade") {
                if let Some(line) = render::push_line(t, &inst) {
                    self.say(line);
                }
            }
        }
        Outcome::Ok
    }

    pub(super) async fn cancel(&self, id: &str) -> Result<Outcome, String> {
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
            Named::One(o) => o,
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
    pub(super) async fn cancel_order(&self, order: Value) -> Result<Outcome, String> {
        let sys = order["OrderSysID"]
            .as_str()
            .map_or("", str::trim)
            .to_string();
        let (user, broker) = self.identity();
        let rid = self.rid();
        let text = |k: &str| order[k].as_str().unwrap_or("").to_string();
        let number = |k: &str| {
            order[k]
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .unwrap_or(0)
        };
        let action = InputOrderAction {
            BrokerID: broker,
            InvestorID: user.clone(),
            UserID: user,
            ActionFlag: action_flag::DELETE,
            OrderSysID: text("OrderSysID"),
            ExchangeID: text("ExchangeID"),
            InstrumentID: text("InstrumentID"),
            OrderRef: text("OrderRef"),
            FrontID: number("FrontID"),
            SessionID: number("SessionID"),
            RequestID: rid,
            ..InputOrderAction::default()
        };
        let mut msg = super::envelope(&TdRequest::ReqOrderAction(action));
        msg["RequestID"] = json!(rid);
        let key = orders::key_of(&order);
        let exchange = order["ExchangeID"].as_str().unwrap_or("").to_string();
        let sys_key = sys.clone();
        let rid64 = i64::from(rid);
        let same = move |o: &Value| {
            (key.is_some() && orders::key_of(o) == key)
                || (!sys_key.is_empty()
                    && o["OrderSysID"].as_str().map(str::trim) == Some(sys_key.as_str())
                    && o["ExchangeID"].as_str().is_none_or(|e| e == exchange))
        };
        let mut rx = self.watch(Box::new(move |ep, v| {
            ep == Endpoint::Td
                && match v["MsgType"].as_str() {
                    Some("RspOrderAction") => rid_of(v) == Some(rid64),
                    Some("ErrRtnOrderAction") => {
                        v["OrderAction"]["RequestID"].as_i64() == Some(rid64)
                            || same(&v["OrderAction"])
                    }
                    Some("RtnOrder") => {
                        same(&v["Order"])
                            && codes::first(v["Order"]["OrderStatus"].as_str().unwrap_or(""))
                                == order_status::CANCELED
                    }
                    _ => false,
                }
        }));
        let answer = async {
            self.link.send(Endpoint::Td, msg.to_string())?;
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
            self.say(v.to_string());
        }
        if let Some(e) = refusal {
            if !self.json_mode() {
                self.say(e);
            }
            return Ok(Outcome::Refused);
        }
        if !self.json_mode() {
            let name = if sys.is_empty() {
                format!("ref {}", order["OrderRef"].as_str().map_or("", str::trim))
            } else {
                sys
            };
            self.say(format!("canceled order {name}"));
        }
        Ok(Outcome::Ok)
    }
}

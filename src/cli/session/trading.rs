//! Trading commands: `buy`, `sell` and `cancel`.

use serde_json::{Value, json};

use std::sync::{Arc, Mutex};

use super::orders::{self, Named};
use super::{Outcome, Session, rid_of};
use crate::cli::commands::{Immediate, OrderArgs, Price, Side};
use crate::cli::render;
use crate::protocol::Endpoint;

impl Session {
    pub(super) async fn opposite(
        &self,
        id: &str,
        side: Side,
    ) -> Result<(f64, Option<String>), String> {
        let a = self
            .query("ReqQryDepthMarketData", json!({"InstrumentID": id}))
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
            Price::Limit(p) => ("2", p),
            Price::Market => ("1", 0.0),
            Price::Opposite => {
                let (p, ex) = self.opposite(&o.instrument, o.side).await?;
                exchange = exchange.or(ex);
                ("2", p)
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
        let body = json!({
            "BrokerID": broker, "InvestorID": user, "UserID": user,
            "InstrumentID": o.instrument, "ExchangeID": exchange.unwrap_or_default(),
            "Direction": if o.side == Side::Buy { "0" } else { "1" },
            "CombOffsetFlag": o.offset.code(), "CombHedgeFlag": "1",
            "OrderPriceType": price_type, "LimitPrice": limit,
            "VolumeTotalOriginal": o.volume,
            "TimeCondition": if immediate.is_some() { "1" } else { "3" },
            "VolumeCondition": if immediate == Some(Immediate::Fok) { "3" } else { "1" },
            "MinVolume": 1, "ContingentCondition": "1", "ForceCloseReason": "0",
            "IsAutoSuspend": 0, "UserForceClose": 0,
        });
        let msg = json!({"MsgType": "ReqOrderInsert", "RequestID": rid, "InputOrder": body});
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
                let status = v["Order"]["OrderStatus"].as_str().unwrap_or("").to_string();
                let rejected = v["MsgType"] != "RtnOrder";
                seen.push(v);
                let done = rejected
                    || matches!(status.as_str(), "0" | "5")
                    || (!self.wait_final && !status.is_empty() && status != "a");
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
            let a = self.query("ReqQryOrder", json!({})).await?;
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
        let msg = json!({"MsgType": "ReqOrderAction", "RequestID": rid, "InputOrderAction": {
            "BrokerID": broker, "InvestorID": user, "UserID": user, "ActionFlag": "0",
            "OrderSysID": order["OrderSysID"], "ExchangeID": order["ExchangeID"], "InstrumentID": order["InstrumentID"],
            "OrderRef": order["OrderRef"], "FrontID": order["FrontID"], "SessionID": order["SessionID"]}});
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
                    Some("RtnOrder") => same(&v["Order"]) && v["Order"]["OrderStatus"] == "5",
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

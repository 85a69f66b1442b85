//! Login, logout, passwords, and the queries that draw tables: orders, trades,
//! positions, account, instruments, rates, settlement.

use serde_json::{Value, json};

use super::{Outcome, Session, State};
use crate::cli::render;
use crate::protocol::Endpoint;

impl Session {
    pub async fn login(&self, user: Option<String>, quiet: bool) -> Result<Outcome, String> {
        let Some(user) = user.or_else(|| self.config.user_id.clone()) else {
            self.say("login needs a user: `login <user>`, --user or WEBCTP_USER");
            return Ok(Outcome::Usage);
        };
        let password = match self.config.password.clone() {
            Some(p) => p,
            None => match self
                .secret
                .as_ref()
                .and_then(|ask| ask(&format!("password for {user}: ")))
            {
                Some(p) => p,
                None => {
                    self.say("no password: set WEBCTP_PASSWORD (or Password in the config), or run interactively");
                    return Ok(Outcome::Usage);
                }
            },
        };
        let broker = self.lock().broker.clone();
        let a = self
            .call(
                Endpoint::Td,
                json!({"MsgType": "ReqUserLogin", "ReqUserLogin": {"BrokerID": broker, "UserID": user, "Password": password}}),
            )
            .await?;
        if self.json_mode() && !quiet {
            for m in &a {
                self.say(m.to_string());
            }
        }
        let answer = a
            .iter()
            .rev()
            .find(|m| m["MsgType"] == "RspUserLogin")
            .or(a.last());
        let Some(answer) = answer else {
            return Err("no answer to the login".into());
        };
        if let Some(e) = render::error_sentence(answer) {
            if !self.json_mode() || quiet {
                self.say(e);
            }
            return Ok(Outcome::Refused);
        }
        let body = &answer["RspUserLogin"];
        {
            let mut st = self.lock();
            st.user = Some(user.clone());
            st.front_session = Some((
                body["FrontID"].as_i64().unwrap_or(0),
                body["SessionID"].as_i64().unwrap_or(0),
            ));
        }
        if !self.json_mode() && !quiet {
            self.say(format!(
                "logged in as {user}: trading day {}, front {}, session {}",
                body["TradingDay"].as_str().unwrap_or("?"),
                body["FrontID"],
                body["SessionID"]
            ));
        }
        Ok(Outcome::Ok)
    }

    /// Loads the instrument list (for completion and price precision).
    pub async fn load_instruments(&self) {
        if let Ok(a) = self.query("ReqQryInstrument", json!({})).await {
            self.remember_instruments(&a);
        }
    }

    pub(super) fn remember_instruments(&self, answers: &[Value]) {
        let mut st = self.lock();
        for m in answers {
            let i = &m["Instrument"];
            if let (Some(id), Some(tick)) = (i["InstrumentID"].as_str(), i["PriceTick"].as_f64()) {
                st.instruments.ticks.insert(id.to_string(), tick);
                if let Some(ex) = i["ExchangeID"].as_str() {
                    st.exchanges.insert(id.to_string(), ex.to_string());
                }
                if !st.instrument_ids.iter().any(|x| x == id) {
                    st.instrument_ids.push(id.to_string());
                }
            }
        }
        st.instrument_ids.sort();
    }

    pub(super) fn remember_orders(&self, answers: &[Value]) {
        let mut st = self.lock();
        for m in answers {
            let o = &m["Order"];
            if let Some(sys) = o["OrderSysID"]
                .as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                st.orders.insert(sys.to_string(), o.clone());
            }
        }
    }

    pub(super) async fn logout(&self) -> Result<Outcome, String> {
        let (user, broker) = self.identity();
        let a = self
            .call(
                Endpoint::Td,
                json!({"MsgType": "ReqUserLogout", "UserLogout": {"BrokerID": broker, "UserID": user}}),
            )
            .await?;
        let o = self.show(&a, "UserLogout", |_| format!("logged out {user}"));
        if o == Outcome::Ok {
            let mut st = self.lock();
            st.user = None;
            st.front_session = None;
        }
        Ok(o)
    }

    pub(super) async fn orders(&self) -> Result<Outcome, String> {
        let a = self.query("ReqQryOrder", json!({})).await?;
        self.remember_orders(&a);
        let i = self.lock().instruments.clone();
        Ok(self.show(&a, "Order", |b| render::orders(b, &i)))
    }

    pub(super) async fn trades(&self) -> Result<Outcome, String> {
        let a = self.query("ReqQryTrade", json!({})).await?;
        let i = self.lock().instruments.clone();
        Ok(self.show(&a, "Trade", |b| render::trades(b, &i)))
    }

    pub(super) async fn positions(&self) -> Result<Outcome, String> {
        let a = self.query("ReqQryInvestorPosition", json!({})).await?;
        let i = self.lock().instruments.clone();
        Ok(self.show(&a, "InvestorPosition", |b| render::positions(b, &i)))
    }

    pub(super) async fn account(&self) -> Result<Outcome, String> {
        let a = self.query("ReqQryTradingAccount", json!({})).await?;
        Ok(self.show(&a, "TradingAccount", |b| {
            b.first()
                .map_or_else(|| "no account".into(), |x| render::account(x))
        }))
    }

    pub(super) async fn instrument(&self, prefix: &str) -> Result<Outcome, String> {
        let filter = if instruments_known(&self.lock(), prefix) {
            json!({"InstrumentID": prefix})
        } else {
            json!({})
        };
        let mut a = self.query("ReqQryInstrument", filter).await?;
        self.remember_instruments(&a);
        // Keep the records whose ID starts with the prefix, and mark the last.
        a.retain(|m| {
            m["Instrument"]["InstrumentID"]
                .as_str()
                .is_some_and(|i| i.starts_with(prefix))
                || m["RspInfo"]["ErrorID"].as_i64().unwrap_or(0) != 0
        });
        if let Some(l) = a.last_mut() {
            l["IsLast"] = json!(true);
        }
        Ok(self.show(&a, "Instrument", render::instruments))
    }

    pub(super) async fn margin(&self, id: &str) -> Result<Outcome, String> {
        let a = self
            .query(
                "ReqQryInstrumentMarginRate",
                json!({"InstrumentID": id, "HedgeFlag": "1"}),
            )
            .await?;
        Ok(self.show(&a, "InstrumentMarginRate", render::margin))
    }

    pub(super) async fn commission(&self, id: &str) -> Result<Outcome, String> {
        let a = self
            .query(
                "ReqQryInstrumentCommissionRate",
                json!({"InstrumentID": id}),
            )
            .await?;
        Ok(self.show(&a, "InstrumentCommissionRate", render::commission))
    }

    pub(super) async fn confirm(&self) -> Result<Outcome, String> {
        let (user, broker) = self.identity();
        let a = self
            .call(
                Endpoint::Td,
                json!({"MsgType": "ReqSettlementInfoConfirm", "SettlementInfoConfirm": {"BrokerID": broker, "InvestorID": user}}),
            )
            .await?;
        Ok(self.show(&a, "SettlementInfoConfirm", |b| {
            b.first().map_or_else(
                || "settlement confirmed".into(),
                |c| {
                    format!(
                        "settlement confirmed on {} at {}",
                        c["ConfirmDate"].as_str().unwrap_or(""),
                        c["ConfirmTime"].as_str().unwrap_or("")
                    )
                },
            )
        }))
    }

    pub(super) async fn settlement(&self) -> Result<Outcome, String> {
        let a = self.query("ReqQrySettlementInfo", json!({})).await?;
        Ok(self.show(&a, "SettlementInfo", |b| {
            if b.is_empty() {
                "no settlement statement yet".into()
            } else {
                b.iter()
                    .map(|x| x["Content"].as_str().unwrap_or(""))
                    .collect::<String>()
            }
        }))
    }

    pub(super) async fn passwd(&self) -> Result<Outcome, String> {
        if let Some(o) = self.need_login() {
            return Ok(o);
        }
        let Some(ask) = self.secret.as_ref() else {
            self.say("passwd needs a terminal to ask for the passwords");
            return Ok(Outcome::Usage);
        };
        let (Some(old), Some(new), Some(again)) = (
            ask("current password: "),
            ask("new password: "),
            ask("new password again: "),
        ) else {
            self.say("password change abandoned");
            return Ok(Outcome::Refused);
        };
        if new != again {
            self.say("the new passwords differ; nothing changed");
            return Ok(Outcome::Refused);
        }
        let (user, broker) = self.identity();
        let a = self
            .call(
                Endpoint::Td,
                json!({"MsgType": "ReqUserPasswordUpdate", "UserPasswordUpdate": {
                "BrokerID": broker, "UserID": user, "OldPassword": old, "NewPassword": new}}),
            )
            .await?;
        Ok(self.show(&a, "UserPasswordUpdate", |_| "password changed".into()))
    }
}

fn instruments_known(st: &State, prefix: &str) -> bool {
    st.instrument_ids.iter().any(|i| i == prefix)
}

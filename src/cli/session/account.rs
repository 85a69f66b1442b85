//! Login, logout, passwords, and the queries that draw tables: orders, trades,
//! positions, account, instruments, rates, settlement.

use super::{Outcome, Session, State};
use crate::cli::error::{CliError, Result};
use crate::cli::link::Inbound;
use crate::cli::render;
use crate::cli::tty::Secret;
use crate::protocol::TdRequest;
use crate::protocol::client::{BodyOf, MsgKind};
use crate::protocol::codes::hedge_flag;
use crate::protocol::fields::{
    Instrument, InstrumentCommissionRate, InstrumentMarginRate, InvestorPosition, Order,
    QryInstrument, QryInstrumentCommissionRate, QryInstrumentMarginRate, QryInvestorPosition,
    QryOrder, QrySettlementInfo, QryTrade, QryTradingAccount, ReqUserLogin, RspUserLogin,
    SettlementInfo, SettlementInfoConfirm, Trade, TradingAccount, UserLogout, UserPasswordUpdate,
};

impl Session {
    pub async fn login(&self, user: Option<String>, quiet: bool) -> Result<Outcome> {
        let Some(user) = user.or_else(|| self.config.user_id.clone()) else {
            self.say("login needs a user: `login <user>`, --user or WEBCTP_USER");
            return Ok(Outcome::Usage);
        };
        let password = match self.config.password.clone() {
            Some(p) => p,
            None => match self.ask(&format!("password for {user}: ")) {
                Secret::Entered(p) if !p.is_empty() => p,
                Secret::Entered(_) | Secret::Abandoned => {
                    self.say("login abandoned");
                    return Ok(Outcome::Refused);
                }
                Secret::NoTerminal => {
                    self.say("no password: set WEBCTP_PASSWORD (or Password in the config), or run interactively");
                    return Ok(Outcome::Usage);
                }
            },
        };
        let broker = self.lock().broker.clone();
        let a = self
            .request(TdRequest::ReqUserLogin(ReqUserLogin {
                BrokerID: broker,
                UserID: user.clone(),
                Password: password,
                ..ReqUserLogin::default()
            }))
            .await?;
        if self.json_mode() && !quiet {
            for m in &a {
                self.say(m.json());
            }
        }
        let answer = a
            .iter()
            .rev()
            .find(|m| m.kind == MsgKind::RspUserLogin)
            .or(a.last());
        let Some(answer) = answer else {
            return Err(CliError::NoLoginAnswer);
        };
        if let Some(e) = render::error_sentence(answer) {
            if !self.json_mode() || quiet {
                self.say(e);
            }
            return Ok(Outcome::Refused);
        }
        let body = answer.body::<RspUserLogin>().cloned().unwrap_or_default();
        {
            let mut st = self.lock();
            st.user = Some(user.clone());
            st.front_session = Some((i64::from(body.FrontID), i64::from(body.SessionID)));
        }
        if !self.json_mode() && !quiet {
            self.say(format!(
                "logged in as {user}: trading day {}, front {}, session {}",
                match body.TradingDay.as_str() {
                    "" => "?",
                    day => day,
                },
                body.FrontID,
                body.SessionID
            ));
        }
        Ok(Outcome::Ok)
    }

    /// Loads the instrument list (for completion and price precision).
    pub async fn load_instruments(&self) {
        if let Ok(a) = self
            .request(TdRequest::ReqQryInstrument(QryInstrument::default()))
            .await
        {
            self.remember_instruments(&a);
        }
    }

    pub(super) fn remember_instruments(&self, answers: &[Inbound]) {
        let mut st = self.lock();
        for i in answers.iter().filter_map(|m| m.body::<Instrument>()) {
            let id = &i.InstrumentID;
            if st
                .instruments
                .ticks
                .insert(id.clone(), i.PriceTick)
                .is_none()
            {
                st.instrument_ids.push(id.clone());
            }
            st.instruments
                .multiples
                .insert(id.clone(), f64::from(i.VolumeMultiple));
            st.exchanges.insert(id.clone(), i.ExchangeID.clone());
        }
        st.instrument_ids.sort();
    }

    pub(super) fn remember_orders(&self, answers: &[Inbound]) {
        let mut st = self.lock();
        for o in answers.iter().filter_map(|m| m.body::<Order>()) {
            st.orders.update(o);
        }
    }

    /// Makes sure the tick sizes (and multiples) of `ids` are known before prices are
    /// shown: one query per instrument for a few, the whole list for many. Without a
    /// login there is nobody to ask; prices then show the digits they need.
    pub(super) async fn know_instruments<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let missing: Vec<String> = {
            let st = self.lock();
            if st.user.is_none() {
                return;
            }
            let mut v: Vec<String> = ids
                .into_iter()
                .filter(|id| !id.is_empty() && !st.instruments.ticks.contains_key(*id))
                .map(String::from)
                .collect();
            v.sort();
            v.dedup();
            v
        };
        if missing.len() > 3 {
            self.load_instruments().await;
            return;
        }
        for id in missing {
            if let Ok(a) = self
                .request(TdRequest::ReqQryInstrument(QryInstrument {
                    InstrumentID: id,
                    ..QryInstrument::default()
                }))
                .await
            {
                self.remember_instruments(&a);
            }
        }
    }

    /// Asks for a secret on the terminal, off the async threads.
    fn ask(&self, prompt: &str) -> Secret {
        let Some(ask) = self.secret.as_ref() else {
            return Secret::NoTerminal;
        };
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {
                tokio::task::block_in_place(|| ask(prompt))
            }
            _ => ask(prompt),
        }
    }

    pub(super) async fn logout(&self) -> Result<Outcome> {
        let (user, broker) = self.identity();
        let a = self
            .request(TdRequest::ReqUserLogout(UserLogout {
                BrokerID: broker,
                UserID: user.clone(),
            }))
            .await?;
        let o = self.show(&a, |_: &[&UserLogout]| format!("logged out {user}"));
        if o == Outcome::Ok {
            let mut st = self.lock();
            st.user = None;
            st.front_session = None;
        }
        Ok(o)
    }

    pub(super) async fn orders(&self, open: bool) -> Result<Outcome> {
        let mut a = self
            .request(TdRequest::ReqQryOrder(QryOrder::default()))
            .await?;
        if open && !self.json_mode() {
            a.retain(|m| m.body::<Order>().is_none_or(render::is_working));
        }
        self.remember_orders(&a);
        self.know_instruments(ids_in::<Order>(&a, |o| &o.InstrumentID))
            .await;
        let i = self.lock().instruments.clone();
        Ok(self.show(&a, |b| render::orders(b, &i, self.style())))
    }

    pub(super) async fn trades(&self) -> Result<Outcome> {
        let a = self
            .request(TdRequest::ReqQryTrade(QryTrade::default()))
            .await?;
        self.know_instruments(ids_in::<Trade>(&a, |t| &t.InstrumentID))
            .await;
        let i = self.lock().instruments.clone();
        Ok(self.show(&a, |b| render::trades(b, &i, self.style())))
    }

    pub(super) async fn positions(&self) -> Result<Outcome> {
        let a = self
            .request(TdRequest::ReqQryInvestorPosition(
                QryInvestorPosition::default(),
            ))
            .await?;
        self.know_instruments(ids_in::<InvestorPosition>(&a, |p| &p.InstrumentID))
            .await;
        let i = self.lock().instruments.clone();
        Ok(self.show(&a, |b| render::positions(b, &i, self.style())))
    }

    pub(super) async fn account(&self) -> Result<Outcome> {
        let a = self
            .request(TdRequest::ReqQryTradingAccount(QryTradingAccount::default()))
            .await?;
        Ok(self.show(&a, |b: &[&TradingAccount]| {
            b.first()
                .map_or_else(|| "no account".into(), |x| render::account(x, self.style()))
        }))
    }

    pub(super) async fn instrument(&self, prefix: &str) -> Result<Outcome> {
        let filter = if instruments_known(&self.lock(), prefix) {
            QryInstrument {
                InstrumentID: prefix.to_string(),
                ..QryInstrument::default()
            }
        } else {
            QryInstrument::default()
        };
        let mut a = self.request(TdRequest::ReqQryInstrument(filter)).await?;
        self.remember_instruments(&a);
        // Keep the records whose ID starts with the prefix, and mark the last.
        a.retain(|m| {
            m.body::<Instrument>()
                .is_some_and(|i| i.InstrumentID.starts_with(prefix))
                || m.error_id() != 0
        });
        if let Some(l) = a.last_mut()
            && !l.is_last
            && let Ok(marked) = l.with("IsLast", true.into())
        {
            *l = marked;
        }
        Ok(self.show(&a, |b: &[&Instrument]| render::instruments(b, self.style())))
    }

    pub(super) async fn margin(&self, id: &str) -> Result<Outcome> {
        let a = self
            .request(TdRequest::ReqQryInstrumentMarginRate(
                QryInstrumentMarginRate {
                    InstrumentID: id.to_string(),
                    HedgeFlag: hedge_flag::SPECULATION,
                    ..QryInstrumentMarginRate::default()
                },
            ))
            .await?;
        Ok(self.show(&a, |b: &[&InstrumentMarginRate]| {
            render::margin(b, self.style())
        }))
    }

    pub(super) async fn commission(&self, id: &str) -> Result<Outcome> {
        let a = self
            .request(TdRequest::ReqQryInstrumentCommissionRate(
                QryInstrumentCommissionRate {
                    InstrumentID: id.to_string(),
                    ..QryInstrumentCommissionRate::default()
                },
            ))
            .await?;
        Ok(self.show(&a, |b: &[&InstrumentCommissionRate]| {
            render::commission(b, self.style())
        }))
    }

    pub(super) async fn confirm(&self) -> Result<Outcome> {
        let (user, broker) = self.identity();
        let a = self
            .request(TdRequest::ReqSettlementInfoConfirm(SettlementInfoConfirm {
                BrokerID: broker,
                InvestorID: user,
                ..SettlementInfoConfirm::default()
            }))
            .await?;
        Ok(self.show(&a, |b: &[&SettlementInfoConfirm]| {
            b.first().map_or_else(
                || "settlement confirmed".into(),
                |c| {
                    format!(
                        "settlement confirmed on {} at {}",
                        c.ConfirmDate, c.ConfirmTime
                    )
                },
            )
        }))
    }

    pub(super) async fn settlement(&self) -> Result<Outcome> {
        let a = self
            .request(TdRequest::ReqQrySettlementInfo(QrySettlementInfo::default()))
            .await?;
        Ok(self.show(&a, |b: &[&SettlementInfo]| {
            if b.is_empty() {
                "no settlement statement yet".into()
            } else {
                b.iter().map(|x| x.Content.as_str()).collect::<String>()
            }
        }))
    }

    pub(super) async fn passwd(&self) -> Result<Outcome> {
        if let Some(o) = self.need_login() {
            return Ok(o);
        }
        if self.secret.is_none() {
            self.say("passwd needs a terminal to ask for the passwords");
            return Ok(Outcome::Usage);
        }
        let mut answers = Vec::new();
        for prompt in [
            "current password: ",
            "new password: ",
            "new password again: ",
        ] {
            match self.ask(prompt) {
                Secret::Entered(p) => answers.push(p),
                _ => {
                    self.say("password change abandoned");
                    return Ok(Outcome::Refused);
                }
            }
        }
        let [old, new, again] = <[String; 3]>::try_from(answers).unwrap_or_default();
        if new != again {
            self.say("the new passwords differ; nothing changed");
            return Ok(Outcome::Refused);
        }
        let (user, broker) = self.identity();
        let a = self
            .request(TdRequest::ReqUserPasswordUpdate(UserPasswordUpdate {
                BrokerID: broker,
                UserID: user,
                OldPassword: old,
                NewPassword: new,
            }))
            .await?;
        Ok(self.show(&a, |_: &[&UserPasswordUpdate]| "password changed".into()))
    }
}

fn instruments_known(st: &State, prefix: &str) -> bool {
    st.instrument_ids.iter().any(|i| i == prefix)
}

/// The instrument IDs of the `T` bodies of answers.
pub(super) fn ids_in<'a, T: BodyOf + 'a>(
    answers: &'a [Inbound],
    id: impl Fn(&'a T) -> &'a String + 'a,
) -> impl Iterator<Item = &'a str> + 'a {
    answers
        .iter()
        .filter_map(move |a| a.body::<T>().map(|b| id(b).as_str()))
}

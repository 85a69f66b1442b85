//! What a logged-in session may ask: password, settlement, and every query.

use super::{Out, SimTdSession};
use crate::clock::BeijingTime;
use crate::exchange::{Exchange, Record};
use crate::{SimCore, queries};
use webctp_protocol::TdRequest;
use webctp_protocol::errors::ctp;
use webctp_protocol::fields::*;

impl SimTdSession {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn logged_in(
        &self,
        core: &SimCore,
        ex: &mut Exchange,
        user: &str,
        req: &TdRequest,
        rid: i32,
        now: &BeijingTime,
        out: &mut Out,
    ) {
        let spec = req.spec();
        let (rsp, key) = (spec.response, spec.response_body_key);
        match req {
            TdRequest::ReqUserPasswordUpdate(u) => {
                let code = if u.UserID != user {
                    ctp::NO_PRIVILEGE
                } else if !ex.password_ok(user, &u.OldPassword) {
                    ctp::OLD_PASSWORD_MISMATCH
                } else if u.NewPassword.is_empty() {
                    ctp::BAD_FIELD
                } else if u.NewPassword == u.OldPassword {
                    ctp::PWD_MUST_DIFF
                } else {
                    0
                };
                if code == 0 {
                    let salt = format!("{:016x}", ex.rng.next_u64());
                    let rec = Record::Password {
                        user: user.to_string(),
                        digest: crate::account::digest_password(&salt, &u.NewPassword),
                        salt,
                    };
                    ex.apply(&rec);
                    out.records.push(rec);
                }
                // The answer echoes the request without the passwords.
                let body = UserPasswordUpdate {
                    BrokerID: u.BrokerID.clone(),
                    UserID: u.UserID.clone(),
                    ..UserPasswordUpdate::default()
                };
                self.respond(out, rsp, key, Some(body.into()), code, rid);
            }
            TdRequest::ReqSettlementInfoConfirm(c) => {
                let rec = Record::Confirm {
                    user: user.to_string(),
                    day: ex.trading_day.clone(),
                    date: now.date(),
                    time: now.time(),
                };
                ex.apply(&rec);
                out.records.push(rec);
                let body = SettlementInfoConfirm {
                    BrokerID: c.BrokerID.clone(),
                    InvestorID: user.to_string(),
                    ConfirmDate: now.date(),
                    ConfirmTime: now.time(),
                    SettlementID: 1,
                    CurrencyID: "CNY".into(),
                    ..SettlementInfoConfirm::default()
                };
                self.respond(out, rsp, key, Some(body.into()), 0, rid);
            }
            TdRequest::ReqQrySettlementInfoConfirm(_) => {
                let body = ex.accounts.get(user).and_then(|a| a.confirmed.clone()).map(
                    |(_, date, time)| {
                        Body::from(SettlementInfoConfirm {
                            BrokerID: "9999".into(),
                            InvestorID: user.to_string(),
                            ConfirmDate: date,
                            ConfirmTime: time,
                            SettlementID: 1,
                            CurrencyID: "CNY".into(),
                            ..SettlementInfoConfirm::default()
                        })
                    },
                );
                self.answer_all(out, rsp, key, body.into_iter().collect(), rid);
            }
            TdRequest::ReqQrySettlementInfo(_) => {
                let body = ex
                    .accounts
                    .get(user)
                    .filter(|a| !a.settlement_text.is_empty())
                    .map(|a| {
                        Body::from(SettlementInfo {
                            TradingDay: a.settlement_day.clone(),
                            SettlementID: 1,
                            BrokerID: "9999".into(),
                            InvestorID: user.to_string(),
                            SequenceNo: 1,
                            Content: a.settlement_text.clone(),
                            CurrencyID: "CNY".into(),
                            ..SettlementInfo::default()
                        })
                    });
                self.answer_all(out, rsp, key, body.into_iter().collect(), rid);
            }
            TdRequest::ReqOrderInsert(o) => self.insert(core, ex, user, o, rid, now, out),
            TdRequest::ReqOrderAction(a) => self.cancel(core, ex, user, a, rid, now, out),
            TdRequest::ReqQryOrder(q) => {
                self.answer_rows(out, rsp, key, queries::orders(ex, user, q), rid)
            }
            TdRequest::ReqQryTrade(q) => {
                self.answer_rows(out, rsp, key, queries::trades(ex, user, q), rid)
            }
            TdRequest::ReqQryInvestorPosition(q) => {
                self.answer_all(out, rsp, key, queries::positions(ex, user, q), rid)
            }
            TdRequest::ReqQryInvestorPositionDetail(q) => {
                self.answer_all(out, rsp, key, queries::position_details(ex, user, q), rid)
            }
            TdRequest::ReqQryTradingAccount(_) => {
                let body = ex
                    .accounts
                    .get(user)
                    .map(|a| Body::from(queries::trading_account(ex, a)));
                self.answer_all(out, rsp, key, body.into_iter().collect(), rid);
            }
            TdRequest::ReqQryInvestor(_) => self.answer_all(
                out,
                rsp,
                key,
                vec![queries::investor(user, now).into()],
                rid,
            ),
            TdRequest::ReqQryTradingCode(q) => {
                self.answer_all(out, rsp, key, queries::trading_codes(user, q), rid)
            }
            TdRequest::ReqQryInstrumentMarginRate(q) => {
                self.answer_all(out, rsp, key, queries::margin_rates(ex, user, q), rid)
            }
            TdRequest::ReqQryInstrumentCommissionRate(q) => {
                self.answer_all(out, rsp, key, queries::commission_rates(ex, user, q), rid)
            }
            TdRequest::ReqQryExchangeMarginRate(q) => {
                self.answer_all(out, rsp, key, queries::exchange_margin_rates(ex, q), rid)
            }
            TdRequest::ReqQryInstrumentOrderCommRate(q) => {
                self.answer_all(out, rsp, key, queries::order_comm_rates(ex, user, q), rid)
            }
            TdRequest::ReqQryOptionInstrTradeCost(q) => {
                let bodies = queries::option_trade_costs(ex, user, q);
                self.answer_all(out, rsp, key, bodies, rid)
            }
            TdRequest::ReqQryOptionInstrCommRate(q) => {
                self.answer_all(out, rsp, key, queries::option_comm_rates(ex, user, q), rid)
            }
            TdRequest::ReqQryDepthMarketData(q) => {
                self.answer_all(out, rsp, key, queries::depth(ex, q, now), rid)
            }
            TdRequest::ReqQryProduct(q) => {
                self.answer_all(out, rsp, key, queries::products(ex, q), rid)
            }
            TdRequest::ReqQryExchange(q) => {
                self.answer_all(out, rsp, key, queries::exchanges(ex, q), rid)
            }
            TdRequest::ReqQryInstrument(q) => {
                self.answer_all(out, rsp, key, queries::instruments(ex, q), rid)
            }
            TdRequest::ReqQryMaxOrderVolume(q) => {
                let body = ex
                    .accounts
                    .get(user)
                    .map(|a| Body::from(queries::max_order_volume(ex, a, q)));
                self.answer_all(out, rsp, key, body.into_iter().collect(), rid);
            }
            // Handled before login; listed for completeness.
            TdRequest::ReqAuthenticate(_)
            | TdRequest::ReqUserLogin(_)
            | TdRequest::ReqUserLogout(_) => {}
        }
    }
}

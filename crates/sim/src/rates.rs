//! Answers to the rate queries (margin, commission, option trade costs) of listed
//! instruments, read from their specs; the other trading queries are `queries.rs`.

use super::exchange::Exchange;
use super::instruments::InstrumentSpec;
use super::queries::{BROKER, matches};
use webctp_protocol::CtpChar;
use webctp_protocol::fields::*;

/// Listed futures matching a filter (rate queries are about futures; options have
/// their own).
fn selected<'a>(
    ex: &'a Exchange,
    instrument: &'a str,
    exchange: &'a str,
) -> impl Iterator<Item = &'a InstrumentSpec> + 'a {
    listed(ex, instrument, exchange).filter(|s| s.option.is_none())
}

/// Listed instruments matching a filter: one lookup for an ID, a scan otherwise.
pub(crate) fn listed<'a>(
    ex: &'a Exchange,
    instrument: &'a str,
    exchange: &'a str,
) -> Box<dyn Iterator<Item = &'a InstrumentSpec> + 'a> {
    if instrument.is_empty() {
        Box::new(
            ex.instruments
                .listed()
                .map(|(_, s)| &**s)
                .filter(move |s| matches(exchange, s.exchange)),
        )
    } else {
        Box::new(
            ex.instruments
                .find(instrument)
                .map(|s| &**s)
                .into_iter()
                .filter(move |s| matches(exchange, s.exchange)),
        )
    }
}

/// ReqQryInstrumentMarginRate (the broker's rates).
pub fn margin_rates(ex: &Exchange, user: &str, q: &QryInstrumentMarginRate) -> Vec<Body> {
    selected(ex, &q.InstrumentID, &q.ExchangeID)
        .map(|s| {
            Body::from(InstrumentMarginRate {
                InvestorRange: CtpChar(b'1'),
                BrokerID: BROKER.into(),
                InvestorID: user.into(),
                HedgeFlag: CtpChar(b'1'),
                LongMarginRatioByMoney: s.long_margin_ratio,
                ShortMarginRatioByMoney: s.short_margin_ratio,
                ExchangeID: s.exchange.into(),
                InstrumentID: s.id.clone(),
                ..InstrumentMarginRate::default()
            })
        })
        .collect()
}

/// ReqQryExchangeMarginRate (the exchange's minimum, below the broker's).
pub fn exchange_margin_rates(ex: &Exchange, q: &QryExchangeMarginRate) -> Vec<Body> {
    selected(ex, &q.InstrumentID, &q.ExchangeID)
        .map(|s| {
            Body::from(ExchangeMarginRate {
                BrokerID: BROKER.into(),
                HedgeFlag: CtpChar(b'1'),
                LongMarginRatioByMoney: (s.long_margin_ratio - 0.02).max(s.long_margin_ratio / 2.0),
                ShortMarginRatioByMoney: (s.short_margin_ratio - 0.02)
                    .max(s.short_margin_ratio / 2.0),
                ExchangeID: s.exchange.into(),
                InstrumentID: s.id.clone(),
                ..ExchangeMarginRate::default()
            })
        })
        .collect()
}

/// ReqQryInstrumentCommissionRate.
pub fn commission_rates(ex: &Exchange, user: &str, q: &QryInstrumentCommissionRate) -> Vec<Body> {
    selected(ex, &q.InstrumentID, &q.ExchangeID)
        .map(|s| {
            Body::from(InstrumentCommissionRate {
                InvestorRange: CtpChar(b'1'),
                BrokerID: BROKER.into(),
                InvestorID: user.into(),
                OpenRatioByMoney: s.open_commission.by_money,
                OpenRatioByVolume: s.open_commission.by_volume,
                CloseRatioByMoney: s.close_commission.by_money,
                CloseRatioByVolume: s.close_commission.by_volume,
                CloseTodayRatioByMoney: s.close_today_commission.by_money,
                CloseTodayRatioByVolume: s.close_today_commission.by_volume,
                ExchangeID: s.exchange.into(),
                InstrumentID: s.id.clone(),
                ..InstrumentCommissionRate::default()
            })
        })
        .collect()
}

/// ReqQryInstrumentOrderCommRate: the sim charges nothing per order or cancel.
pub fn order_comm_rates(ex: &Exchange, user: &str, q: &QryInstrumentOrderCommRate) -> Vec<Body> {
    selected(ex, &q.InstrumentID, "")
        .map(|s| {
            Body::from(InstrumentOrderCommRate {
                InvestorRange: CtpChar(b'1'),
                BrokerID: BROKER.into(),
                InvestorID: user.into(),
                HedgeFlag: CtpChar(b'1'),
                ExchangeID: s.exchange.into(),
                InstrumentID: s.id.clone(),
                ..InstrumentOrderCommRate::default()
            })
        })
        .collect()
}

/// ReqQryOptionInstrTradeCost: what opening one option costs (the premium, and a
/// seller's margin on top).
pub fn option_trade_costs(ex: &Exchange, user: &str, q: &QryOptionInstrTradeCost) -> Vec<Body> {
    listed(ex, &q.InstrumentID, &q.ExchangeID)
        .filter(|s| s.option.is_some())
        .map(|s| {
            let price = if q.InputPrice > 0.0 && q.InputPrice.is_finite() {
                q.InputPrice
            } else {
                ex.instruments
                    .index_of(&s.id)
                    .map_or(s.pre_settlement, |i| ex.quotes[i].last)
            };
            let premium = price * f64::from(s.multiple);
            Body::from(OptionInstrTradeCost {
                BrokerID: BROKER.into(),
                InvestorID: user.into(),
                HedgeFlag: CtpChar(b'1'),
                FixedMargin: s.short_margin_fixed,
                MiniMargin: s.short_margin_fixed,
                Royalty: premium,
                ExchFixedMargin: s.short_margin_fixed,
                ExchMiniMargin: s.short_margin_fixed,
                ExchangeID: s.exchange.into(),
                InstrumentID: s.id.clone(),
                ..OptionInstrTradeCost::default()
            })
        })
        .collect()
}

/// ReqQryOptionInstrCommRate.
pub fn option_comm_rates(ex: &Exchange, user: &str, q: &QryOptionInstrCommRate) -> Vec<Body> {
    listed(ex, &q.InstrumentID, &q.ExchangeID)
        .filter(|s| s.option.is_some())
        .map(|s| {
            Body::from(OptionInstrCommRate {
                InvestorRange: CtpChar(b'1'),
                BrokerID: BROKER.into(),
                InvestorID: user.into(),
                OpenRatioByVolume: s.open_commission.by_volume,
                CloseRatioByVolume: s.close_commission.by_volume,
                CloseTodayRatioByVolume: s.close_today_commission.by_volume,
                StrikeRatioByVolume: s.open_commission.by_volume,
                ExchangeID: s.exchange.into(),
                InstrumentID: s.id.clone(),
                ..OptionInstrCommRate::default()
            })
        })
        .collect()
}

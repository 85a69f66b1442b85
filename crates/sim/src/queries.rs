//! Answers to the trading queries, read from the exchange's state. Each returns the
//! records of one answer; an empty list is answered with a null body.

use std::sync::Arc;

use super::account::{Account, Position, Side, margin_per_lot};
use super::clock::BeijingTime;
use super::exchange::Exchange;
use super::instruments::InstrumentSpec;
use super::orders::{OrderState, TradeState};
use super::record::parse_id;
use webctp_protocol::CtpChar;
use webctp_protocol::fields::*;

const BROKER: &str = "9999";

fn matches(filter: &str, value: &str) -> bool {
    filter.is_empty() || filter == value
}

fn spec_matches(s: &InstrumentSpec, instrument: &str, exchange: &str) -> bool {
    matches(instrument, &s.id) && matches(exchange, s.exchange)
}

/// Bodies of a long answer, built one at a time as they are sent.
pub type Rows = Box<dyn Iterator<Item = Body> + Send>;

/// ReqQryOrder: the matching orders are copied in their compact form; each CTP
/// `Order` is built only when its message is sent.
pub fn orders(ex: &Exchange, user: &str, q: &QryOrder) -> Rows {
    let sys_id = q.OrderSysID.trim();
    let rows: Vec<(OrderState, Arc<InstrumentSpec>)> = ex
        .orders
        .iter()
        .filter(|o| *o.user == *user)
        .map(|o| (o, ex.instruments.get(o.inst())))
        .filter(|(_, s)| spec_matches(s, &q.InstrumentID, &q.ExchangeID))
        .filter(|(o, _)| sys_id.is_empty() || parse_id(sys_id) == Some(o.sys_id))
        .filter(|(o, _)| {
            q.InsertTimeStart.is_empty() || o.insert_time.as_str() >= q.InsertTimeStart.as_str()
        })
        .filter(|(o, _)| {
            q.InsertTimeEnd.is_empty() || o.insert_time.as_str() <= q.InsertTimeEnd.as_str()
        })
        .map(|(o, s)| (o.clone(), s.clone()))
        .collect();
    let day = ex.trading_day.clone();
    Box::new(
        rows.into_iter()
            .map(move |(o, s)| Body::from(o.to_order(&s, &day))),
    )
}

/// ReqQryTrade, built as it is sent like [`orders`].
pub fn trades(ex: &Exchange, user: &str, q: &QryTrade) -> Rows {
    let trade_id = q.TradeID.trim();
    let rows: Vec<(TradeState, OrderState, Arc<InstrumentSpec>)> = ex
        .trades
        .iter()
        .map(|t| (t, &ex.orders[t.order as usize]))
        .filter(|(_, o)| *o.user == *user)
        .map(|(t, o)| (t, o, ex.instruments.get(o.inst())))
        .filter(|(_, _, s)| spec_matches(s, &q.InstrumentID, &q.ExchangeID))
        .filter(|(t, _, _)| trade_id.is_empty() || parse_id(trade_id) == Some(t.trade_id))
        .filter(|(t, _, _)| {
            q.TradeTimeStart.is_empty() || t.time.as_str() >= q.TradeTimeStart.as_str()
        })
        .filter(|(t, _, _)| q.TradeTimeEnd.is_empty() || t.time.as_str() <= q.TradeTimeEnd.as_str())
        .map(|(t, o, s)| (*t, o.clone(), s.clone()))
        .collect();
    let day = ex.trading_day.clone();
    Box::new(
        rows.into_iter()
            .map(move |(t, o, s)| Body::from(t.to_trade(&o, &s, &day))),
    )
}

/// One InvestorPosition row over the lots `today` selects (None = all).
fn position_row(
    ex: &Exchange,
    user: &str,
    inst: usize,
    side: Side,
    p: &Position,
    today: Option<bool>,
) -> InvestorPosition {
    let spec = ex.instruments.get(inst);
    let day = &ex.trading_day;
    let last = ex.quotes[inst].last;
    let mult = f64::from(spec.multiple);
    let lots: Vec<_> = p
        .lots
        .iter()
        .filter(|l| today.is_none_or(|t| (l.open_date == *day) == t))
        .collect();
    let volume: i32 = lots.iter().map(|l| l.volume).sum();
    let today_volume: i32 = lots
        .iter()
        .filter(|l| l.open_date == *day)
        .map(|l| l.volume)
        .sum();
    let margin: f64 = lots.iter().map(|l| l.margin * f64::from(l.volume)).sum();
    let cost: f64 = lots
        .iter()
        .map(|l| l.ref_price * f64::from(l.volume) * mult)
        .sum();
    let open_cost: f64 = lots
        .iter()
        .map(|l| l.open_price * f64::from(l.volume) * mult)
        .sum();
    let profit: f64 = lots
        .iter()
        .map(|l| (last - l.ref_price) * side.sign() * f64::from(l.volume) * mult)
        .sum();
    // Today's activity belongs to the today row (or the only row).
    let activity = today != Some(false);
    let (long_frozen, short_frozen) = {
        let close_frozen = match today {
            Some(true) => p.frozen_close.today,
            Some(false) => p.frozen_close.yesterday,
            None => p.frozen_close.total(),
        };
        let open_frozen = if activity { p.frozen_open } else { 0 };
        match side {
            Side::Long => (open_frozen, close_frozen),
            Side::Short => (close_frozen, open_frozen),
        }
    };
    let ratio = match side {
        Side::Long => spec.long_margin_ratio,
        Side::Short => spec.short_margin_ratio,
    };
    InvestorPosition {
        BrokerID: BROKER.into(),
        InvestorID: user.into(),
        PosiDirection: CtpChar(side.posi_direction()),
        HedgeFlag: CtpChar(b'1'),
        PositionDate: CtpChar(if today == Some(false) { b'2' } else { b'1' }),
        YdPosition: if today == Some(true) { 0 } else { p.yd_start },
        Position: volume,
        LongFrozen: long_frozen,
        ShortFrozen: short_frozen,
        OpenVolume: if activity { p.open_volume } else { 0 },
        CloseVolume: if activity { p.close_volume } else { 0 },
        OpenAmount: if activity { p.open_amount } else { 0.0 },
        CloseAmount: if activity { p.close_amount } else { 0.0 },
        PositionCost: cost,
        PreMargin: 0.0,
        UseMargin: margin,
        Commission: if activity { p.commission } else { 0.0 },
        CloseProfit: if activity {
            p.close_profit_by_date
        } else {
            0.0
        },
        PositionProfit: profit,
        PreSettlementPrice: ex.quotes[inst].pre_settlement,
        SettlementPrice: last,
        TradingDay: day.clone(),
        SettlementID: 1,
        OpenCost: open_cost,
        ExchangeMargin: margin,
        CloseProfitByDate: if activity {
            p.close_profit_by_date
        } else {
            0.0
        },
        CloseProfitByTrade: if activity {
            p.close_profit_by_trade
        } else {
            0.0
        },
        TodayPosition: today_volume,
        MarginRateByMoney: ratio,
        ExchangeID: spec.exchange.into(),
        InstrumentID: spec.id.clone(),
        ..InvestorPosition::default()
    }
}

/// ReqQryInvestorPosition: SHFE and INE report today's and yesterday's lots in
/// separate rows (PositionDate 1 and 2); the other exchanges in one row.
pub fn positions(ex: &Exchange, user: &str, q: &QryInvestorPosition) -> Vec<Body> {
    let Some(a) = ex.accounts.get(user) else {
        return Vec::new();
    };
    let day = &ex.trading_day;
    let mut out = Vec::new();
    for ((inst, side), p) in &a.positions {
        let spec = ex.instruments.get(*inst);
        if !spec_matches(spec, &q.InstrumentID, &q.ExchangeID) {
            continue;
        }
        if spec.splits_today() {
            let has_today = p.today(day) > 0
                || p.open_volume > 0
                || p.frozen_open > 0
                || p.frozen_close.today > 0;
            let has_yd = p.yd_start > 0 || p.yesterday(day) > 0;
            if has_today || !has_yd {
                out.push(Body::from(position_row(
                    ex,
                    user,
                    *inst,
                    *side,
                    p,
                    Some(true),
                )));
            }
            if has_yd {
                out.push(Body::from(position_row(
                    ex,
                    user,
                    *inst,
                    *side,
                    p,
                    Some(false),
                )));
            }
        } else {
            out.push(Body::from(position_row(ex, user, *inst, *side, p, None)));
        }
    }
    out
}

/// ReqQryInvestorPositionDetail: one record per open lot.
pub fn position_details(ex: &Exchange, user: &str, q: &QryInvestorPositionDetail) -> Vec<Body> {
    let Some(a) = ex.accounts.get(user) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for ((inst, side), p) in &a.positions {
        let spec = ex.instruments.get(*inst);
        if !spec_matches(spec, &q.InstrumentID, &q.ExchangeID) {
            continue;
        }
        let last = ex.quotes[*inst].last;
        let mult = f64::from(spec.multiple);
        for l in &p.lots {
            let v = f64::from(l.volume) * mult * side.sign();
            out.push(Body::from(InvestorPositionDetail {
                BrokerID: BROKER.into(),
                InvestorID: user.into(),
                HedgeFlag: CtpChar(b'1'),
                Direction: CtpChar(side.open_direction()),
                OpenDate: l.open_date.clone(),
                TradeID: l.trade_id.clone(),
                Volume: l.volume,
                OpenPrice: l.open_price,
                TradingDay: ex.trading_day.clone(),
                SettlementID: 1,
                TradeType: CtpChar(b'0'),
                ExchangeID: spec.exchange.into(),
                PositionProfitByDate: (last - l.ref_price) * v,
                PositionProfitByTrade: (last - l.open_price) * v,
                Margin: l.margin * f64::from(l.volume),
                ExchMargin: l.margin * f64::from(l.volume),
                MarginRateByMoney: match side {
                    Side::Long => spec.long_margin_ratio,
                    Side::Short => spec.short_margin_ratio,
                },
                LastSettlementPrice: if l.open_date == ex.trading_day {
                    ex.quotes[*inst].pre_settlement
                } else {
                    l.ref_price
                },
                SettlementPrice: last,
                InstrumentID: spec.id.clone(),
                ..InvestorPositionDetail::default()
            }));
        }
    }
    out
}

/// ReqQryTradingAccount.
pub fn trading_account(ex: &Exchange, a: &Account) -> TradingAccount {
    let last = ex.quotes.as_slice();
    let balance = a.balance(last);
    let curr_margin = a.curr_margin();
    let available = a.available(last);
    TradingAccount {
        BrokerID: BROKER.into(),
        AccountID: a.user_id.clone(),
        PreBalance: a.pre_balance,
        PreMargin: a.pre_margin,
        Deposit: a.deposit,
        Withdraw: a.withdraw,
        FrozenMargin: a.frozen_margin,
        FrozenCommission: a.frozen_commission,
        CurrMargin: curr_margin,
        Commission: a.commission,
        CloseProfit: a.close_profit,
        PositionProfit: a.position_profit(last),
        Balance: balance,
        Available: available,
        WithdrawQuota: available.max(0.0),
        TradingDay: ex.trading_day.clone(),
        SettlementID: 1,
        ExchangeMargin: curr_margin,
        CurrencyID: "CNY".into(),
        ..TradingAccount::default()
    }
}

/// ReqQryInvestor.
pub fn investor(user: &str, now: &BeijingTime) -> Investor {
    Investor {
        InvestorID: user.into(),
        BrokerID: BROKER.into(),
        InvestorGroupID: "sim".into(),
        InvestorName: format!("模拟账户 {user}"),
        IdentifiedCardType: CtpChar(b'1'),
        IsActive: 1,
        OpenDate: now.date(),
        ..Investor::default()
    }
}

/// ReqQryTradingCode: one client ID per exchange.
pub fn trading_codes(user: &str, q: &QryTradingCode) -> Vec<Body> {
    super::products::EXCHANGE_IDS
        .iter()
        .filter(|ex| matches(&q.ExchangeID, ex))
        .map(|ex| {
            Body::from(TradingCode {
                InvestorID: user.into(),
                BrokerID: BROKER.into(),
                ExchangeID: (*ex).into(),
                ClientID: format!("9999{user}"),
                IsActive: 1,
                ClientIDType: CtpChar(b'1'),
                ..TradingCode::default()
            })
        })
        .collect()
}

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
fn listed<'a>(
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

/// ReqQryDepthMarketData: the current snapshot (every listed instrument for an empty
/// filter).
pub fn depth(ex: &Exchange, q: &QryDepthMarketData, now: &BeijingTime) -> Vec<Body> {
    listed(ex, &q.InstrumentID, &q.ExchangeID)
        .filter_map(|s| ex.instruments.index_of(&s.id))
        .map(|i| Body::from(ex.quotes[i].snapshot(&ex.trading_day, now)))
        .collect()
}

/// ReqQryInstrument.
pub fn instruments(ex: &Exchange, q: &QryInstrument) -> Vec<Body> {
    listed(ex, &q.InstrumentID, &q.ExchangeID)
        .filter(|s| matches(&q.ProductID, &s.product))
        .filter(|s| matches(&q.ExchangeInstID, &s.id))
        .map(|s| Body::from(instrument(s)))
        .collect()
}

/// The Instrument record of a listed contract.
pub fn instrument(s: &InstrumentSpec) -> Instrument {
    let option = s.option.as_ref();
    Instrument {
        ExchangeID: s.exchange.into(),
        InstrumentName: s.name.clone(),
        ProductClass: CtpChar(if option.is_some() { b'2' } else { b'1' }),
        DeliveryYear: s.delivery_year,
        DeliveryMonth: s.delivery_month,
        MaxMarketOrderVolume: s.max_market_volume,
        MinMarketOrderVolume: 1,
        MaxLimitOrderVolume: s.max_limit_volume,
        MinLimitOrderVolume: 1,
        VolumeMultiple: s.multiple,
        PriceTick: s.price_tick,
        CreateDate: s.create_date.clone(),
        OpenDate: s.create_date.clone(),
        ExpireDate: s.expire_date.clone(),
        StartDelivDate: s.expire_date.clone(),
        EndDelivDate: s.expire_date.clone(),
        InstLifePhase: CtpChar(b'1'),
        IsTrading: 1,
        PositionType: CtpChar(b'2'),
        PositionDateType: CtpChar(if s.splits_today() { b'1' } else { b'2' }),
        LongMarginRatio: s.long_margin_ratio,
        ShortMarginRatio: s.short_margin_ratio,
        MaxMarginSideAlgorithm: CtpChar(b'1'),
        StrikePrice: option.map_or(0.0, |o| o.strike),
        OptionsType: match option {
            Some(o) if o.call => CtpChar(b'1'),
            Some(_) => CtpChar(b'2'),
            None => CtpChar::NUL,
        },
        UnderlyingMultiple: 1.0,
        CombinationType: CtpChar(b'0'),
        InstrumentID: s.id.clone(),
        ExchangeInstID: s.id.clone(),
        ProductID: s.product.clone(),
        UnderlyingInstrID: option.map_or_else(String::new, |o| o.underlying_id.clone()),
        ..Instrument::default()
    }
}

/// ReqQryProduct: the futures products of the table, then their option products.
pub fn products(ex: &Exchange, q: &QryProduct) -> Vec<Body> {
    let table = ex.instruments.products();
    let futures = table.products.iter().map(|p| (p, false));
    let options = table
        .products
        .iter()
        .filter(|p| p.options.is_some())
        .map(|p| (p, true));
    futures
        .chain(options)
        .filter(|(p, _)| matches(&q.ExchangeID, p.exchange))
        .filter(|(_, opt)| {
            !q.ProductClass.is_set() || q.ProductClass.0 == if *opt { b'2' } else { b'1' }
        })
        .filter_map(|(p, opt)| {
            let (id, name, multiple, tick) = match (&p.options, opt) {
                (Some(o), true) => (o.id.clone(), format!("{}期权", p.name), o.multiple, o.tick),
                (_, true) => return None,
                (_, false) => (p.id.clone(), p.name.clone(), p.multiple, p.tick),
            };
            matches(&q.ProductID, &id).then(|| {
                Body::from(Product {
                    ProductName: name,
                    ExchangeID: p.exchange.into(),
                    ProductClass: CtpChar(if opt { b'2' } else { b'1' }),
                    VolumeMultiple: multiple,
                    PriceTick: tick,
                    MaxMarketOrderVolume: p.max_volume.min(100),
                    MinMarketOrderVolume: 1,
                    MaxLimitOrderVolume: p.max_volume,
                    MinLimitOrderVolume: 1,
                    PositionType: CtpChar(b'2'),
                    PositionDateType: CtpChar(if matches!(p.exchange, "SHFE" | "INE") {
                        b'1'
                    } else {
                        b'2'
                    }),
                    CloseDealType: CtpChar(b'0'),
                    TradeCurrencyID: "CNY".into(),
                    MortgageFundUseRange: CtpChar(b'0'),
                    UnderlyingMultiple: 1.0,
                    ExchangeProductID: id.clone(),
                    ProductID: id,
                    ..Product::default()
                })
            })
        })
        .collect()
}

/// ReqQryExchange.
pub fn exchanges(ex: &Exchange, q: &QryExchange) -> Vec<Body> {
    ex.instruments
        .products()
        .exchanges
        .iter()
        .filter(|e| matches(&q.ExchangeID, e.id))
        .map(|e| {
            Body::from(webctp_protocol::fields::Exchange {
                ExchangeID: e.id.into(),
                ExchangeName: e.name.clone(),
                ExchangeProperty: CtpChar(b'0'),
            })
        })
        .collect()
}

/// ReqQryMaxOrderVolume: how many lots the account could open (or close) now.
pub fn max_order_volume(ex: &Exchange, a: &Account, q: &QryMaxOrderVolume) -> QryMaxOrderVolume {
    let mut out = q.clone();
    out.BrokerID = BROKER.into();
    out.InvestorID = a.user_id.clone();
    let Some(inst) = ex.instruments.listed_index(&q.InstrumentID) else {
        out.MaxVolume = 0;
        return out;
    };
    let spec = ex.instruments.get(inst);
    out.ExchangeID = spec.exchange.into();
    let buy = q.Direction.0 != b'1';
    let open = !q.OffsetFlag.is_set() || q.OffsetFlag.0 == b'0';
    out.MaxVolume = if open {
        let side = if buy { Side::Long } else { Side::Short };
        let price = ex.quotes[inst].last;
        let per_lot =
            margin_per_lot(spec, side, price) + spec.open_commission.of(price, 1, spec.multiple);
        let affordable = (a.available(ex.quotes.as_slice()) / per_lot).floor();
        (affordable.max(0.0) as i32).min(spec.max_limit_volume)
    } else {
        let side = if buy { Side::Short } else { Side::Long };
        let free = a
            .positions
            .get(&(inst, side))
            .map(|p| p.closable(&ex.trading_day))
            .unwrap_or_default();
        match (spec.splits_today(), q.OffsetFlag.0) {
            (true, b'3') => free.today,
            (true, _) => free.yesterday,
            (false, _) => free.total(),
        }
    };
    out
}

//! The exchange's state and its one way of changing: [`Record`]s.
//!
//! Every change — an account opened, an order accepted, a fill, a cancel, the end of a
//! trading day — is a record. The live path decides a record, applies it and journals
//! it; a restart replays the journal through the same [`Exchange::apply`], so the state
//! after a crash is exactly the state the clients were told about.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::account::{
    Account, CloseFrom, CloseSplit, Lot, Position, PriceMarks, Side, digest_password,
    margin_per_lot,
};
use super::clock::BeijingTime;
use super::instruments::{InstrumentSpec, InstrumentTable};
use super::market::Quote;
use super::products::ProductTable;
use super::rng::Rng;
use super::sessions::SessionsMode;
use crate::protocol::CtpChar;
use crate::protocol::errors::ctp;
use crate::protocol::fields::{InputOrder, InputOrderAction, Order, Trade};

/// CTP's codes used here.
pub mod code {
    pub const BUY: u8 = b'0';
    pub const SELL: u8 = b'1';
    pub const OPEN: u8 = b'0';
    pub const CLOSE: u8 = b'1';
    pub const FORCE_CLOSE: u8 = b'2';
    pub const CLOSE_TODAY: u8 = b'3';
    pub const CLOSE_YESTERDAY: u8 = b'4';
    pub const ANY_PRICE: u8 = b'1';
    pub const LIMIT_PRICE: u8 = b'2';
    pub const IOC: u8 = b'1';
    pub const GFD: u8 = b'3';
    pub const ANY_VOLUME: u8 = b'1';
    pub const MIN_VOLUME: u8 = b'2';
    pub const ALL_VOLUME: u8 = b'3';
    pub const ALL_TRADED: u8 = b'0';
    pub const PART_TRADED_QUEUEING: u8 = b'1';
    pub const NO_TRADE_QUEUEING: u8 = b'3';
    pub const CANCELED: u8 = b'5';
    pub const UNKNOWN: u8 = b'a';
    pub const INSERT_SUBMITTED: u8 = b'0';
    pub const ACCEPTED: u8 = b'3';
    pub const SPECULATION: u8 = b'1';
}

/// Participant and trader IDs the sim reports.
const PARTICIPANT: &str = "9999";
const TRADER: &str = "9999sim01";

/// One accepted order as journaled: the client's input and what the exchange decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InsertRecord {
    pub user: String,
    pub instrument: String,
    pub direction: u8,
    pub offset: u8,
    pub price_type: u8,
    pub limit_price: f64,
    pub volume: i32,
    pub time_condition: u8,
    pub volume_condition: u8,
    pub min_volume: i32,
    pub hedge: u8,
    pub order_ref: String,
    pub front_id: i32,
    pub session_id: i32,
    pub request_id: i32,
    pub sys_id: String,
    pub local_id: String,
    pub date: String,
    pub time: String,
    pub broker_seq: i32,
    pub plan: CloseSplit,
    pub margin_per_lot: f64,
    pub commission_per_lot: f64,
}

/// A change to the exchange's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k")]
pub enum Record {
    /// The first record of a journal: the trading day it starts on.
    Start {
        day: String,
    },
    /// An account opened with `funds`.
    Open {
        user: String,
        salt: String,
        digest: String,
        funds: f64,
    },
    Password {
        user: String,
        salt: String,
        digest: String,
    },
    /// Settlement of `day` confirmed.
    Confirm {
        user: String,
        day: String,
        date: String,
        time: String,
    },
    Insert(Box<InsertRecord>),
    /// A fill; `commission` and `close_profit` are what it cost and realized, kept to
    /// check the replay.
    Fill {
        sys_id: String,
        trade_id: String,
        price: f64,
        volume: i32,
        date: String,
        time: String,
        commission: f64,
        close_profit: f64,
    },
    Cancel {
        sys_id: String,
        time: String,
        msg: String,
    },
    /// The end of a trading day: positions settle at these prices; `profit` is what
    /// each account's positions made on the settlement, kept to check the replay.
    Roll {
        next_day: String,
        settlement: Vec<(String, f64)>,
        profit: Vec<(String, f64)>,
    },
}

/// Who sends an order: the user and the session's identity.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub user: &'a str,
    pub front_id: i32,
    pub session_id: i32,
    pub order_ref: &'a str,
}

/// An order and what the exchange keeps about it.
#[derive(Debug, Clone)]
pub struct OrderState {
    pub order: Order,
    pub inst: usize,
    pub user: String,
    pub side: Side,
    pub is_open: bool,
    pub buy: bool,
    /// `None` for market orders.
    pub limit: Option<f64>,
    pub ioc: bool,
    pub volume_condition: u8,
    pub min_volume: i32,
    pub remaining: i32,
    pub plan: CloseSplit,
    pub margin_per_lot: f64,
    pub commission_per_lot: f64,
}

impl OrderState {
    pub fn is_final(&self) -> bool {
        matches!(self.order.OrderStatus.0, code::ALL_TRADED | code::CANCELED)
    }
}

/// What a client sees of a change: pushes to the order's user.
#[derive(Debug, Clone, PartialEq)]
pub enum Push {
    Order(Box<Order>),
    Trade(Box<Trade>),
}

/// Running totals kept while replaying, to check the rebuilt state independently.
#[derive(Debug, Clone, Default)]
pub struct Audit {
    /// Per user: funds in, commissions, close profits, settlement profits.
    pub cash: HashMap<String, (f64, f64, f64, f64)>,
    /// Per (user, instrument, side): opened minus closed lots.
    pub net: HashMap<(String, usize, Side), i64>,
    /// Fills whose recomputed cost differs from the journaled one.
    pub mismatches: Vec<String>,
}

/// The whole state of the simulated exchange.
pub struct Exchange {
    pub trading_day: String,
    /// What is listed (indexed like `quotes` and `resting`).
    pub instruments: InstrumentTable,
    /// Whether orders are refused outside each product's sessions.
    pub sessions: SessionsMode,
    pub quotes: Vec<Quote>,
    pub rng: Rng,
    pub accounts: BTreeMap<String, Account>,
    pub orders: Vec<OrderState>,
    pub by_sys_id: HashMap<String, usize>,
    pub by_ref: HashMap<(i32, i32, String), usize>,
    pub trades: Vec<Trade>,
    /// Orders waiting in the book, per instrument, in time priority.
    pub resting: Vec<Vec<usize>>,
    pub next_sys_id: u64,
    pub next_trade_id: u64,
    pub next_broker_seq: i32,
    pub sequence: i32,
    pub audit: Audit,
    /// What the last applied fill cost and realized.
    last_fill_cost: Option<(f64, f64)>,
}

fn pad(n: u64) -> String {
    format!("{n:>12}")
}

fn max_id(s: &str) -> u64 {
    s.trim().parse().unwrap_or(0)
}

impl Exchange {
    /// A fresh exchange for `trading_day`, listing the built-in product table.
    pub fn new(trading_day: String, rng: Rng) -> Exchange {
        Exchange::with_products(trading_day, rng, ProductTable::embedded())
    }

    /// A fresh exchange for `trading_day` over `products`.
    pub fn with_products(trading_day: String, rng: Rng, products: Arc<ProductTable>) -> Exchange {
        let mut ex = Exchange {
            instruments: InstrumentTable::new(products),
            sessions: SessionsMode::Always,
            quotes: Vec::new(),
            trading_day,
            rng,
            accounts: BTreeMap::new(),
            orders: Vec::new(),
            by_sys_id: HashMap::new(),
            by_ref: HashMap::new(),
            trades: Vec::new(),
            resting: Vec::new(),
            next_sys_id: 100_000,
            next_trade_id: 100_000,
            next_broker_seq: 0,
            sequence: 0,
            audit: Audit::default(),
            last_fill_cost: None,
        };
        ex.start_listing();
        ex
    }

    /// Last prices, indexed like the instrument table.
    pub fn last_prices(&self) -> Vec<f64> {
        self.quotes.iter().map(|q| q.last).collect()
    }

    fn next_seq(&mut self) -> i32 {
        self.sequence += 1;
        self.sequence
    }

    // ----------------------------------------------------------------- apply

    /// Applies one record. Returns what clients are told.
    pub fn apply(&mut self, rec: &Record) -> Vec<Push> {
        match rec {
            Record::Start { day } => {
                self.trading_day = day.clone();
                self.start_listing();
                Vec::new()
            }
            Record::Open {
                user,
                salt,
                digest,
                funds,
            } => {
                let a = self.accounts.entry(user.clone()).or_default();
                a.user_id = user.clone();
                a.salt = salt.clone();
                a.digest = digest.clone();
                a.pre_balance += funds;
                self.audit.cash.entry(user.clone()).or_default().0 += funds;
                Vec::new()
            }
            Record::Password { user, salt, digest } => {
                if let Some(a) = self.accounts.get_mut(user) {
                    a.salt = salt.clone();
                    a.digest = digest.clone();
                }
                Vec::new()
            }
            Record::Confirm {
                user,
                day,
                date,
                time,
            } => {
                if let Some(a) = self.accounts.get_mut(user) {
                    a.confirmed = Some((day.clone(), date.clone(), time.clone()));
                }
                Vec::new()
            }
            Record::Insert(r) => self.apply_insert(r),
            Record::Fill {
                sys_id,
                trade_id,
                price,
                volume,
                date,
                time,
                commission,
                close_profit,
            } => self.apply_fill(
                sys_id,
                trade_id,
                *price,
                *volume,
                (date, time),
                (*commission, *close_profit),
            ),
            Record::Cancel { sys_id, time, msg } => self.apply_cancel(sys_id, time, msg),
            Record::Roll {
                next_day,
                settlement,
                profit,
            } => {
                self.apply_roll(next_day, settlement, profit);
                Vec::new()
            }
        }
    }

    fn apply_insert(&mut self, r: &InsertRecord) -> Vec<Push> {
        let Some(inst) = self.resolve_instrument(&r.instrument) else {
            self.audit.mismatches.push(format!(
                "order {} is for {}, which the product table does not list",
                r.sys_id.trim(),
                r.instrument
            ));
            return Vec::new();
        };
        let spec = self.instruments.get(inst).clone();
        let buy = r.direction == code::BUY;
        let is_open = r.offset == code::OPEN;
        let side = match (buy, is_open) {
            (true, true) | (false, false) => Side::Long,
            _ => Side::Short,
        };
        let market = r.price_type == code::ANY_PRICE;
        self.next_sys_id = self.next_sys_id.max(max_id(&r.sys_id));
        self.next_broker_seq = self.next_broker_seq.max(r.broker_seq);
        let day = self.trading_day.clone();
        let Some(account) = self.accounts.get_mut(&r.user) else {
            return Vec::new();
        };
        if is_open {
            account.frozen_margin += r.margin_per_lot * f64::from(r.volume);
            account.frozen_commission += r.commission_per_lot * f64::from(r.volume);
            account.position_mut(inst, side).frozen_open += r.volume;
        } else {
            account.frozen_commission += r.commission_per_lot * f64::from(r.volume);
            let p = account.position_mut(inst, side);
            p.frozen_close.today += r.plan.today;
            p.frozen_close.yesterday += r.plan.yesterday;
        }
        let mut order = Order {
            BrokerID: PARTICIPANT.into(),
            InvestorID: r.user.clone(),
            OrderRef: r.order_ref.clone(),
            UserID: r.user.clone(),
            OrderPriceType: CtpChar(r.price_type),
            Direction: CtpChar(r.direction),
            CombOffsetFlag: char::from(r.offset).to_string(),
            CombHedgeFlag: char::from(r.hedge).to_string(),
            LimitPrice: r.limit_price,
            VolumeTotalOriginal: r.volume,
            TimeCondition: CtpChar(r.time_condition),
            VolumeCondition: CtpChar(r.volume_condition),
            MinVolume: r.min_volume,
            ContingentCondition: CtpChar(b'1'),
            ForceCloseReason: CtpChar(b'0'),
            RequestID: r.request_id,
            OrderLocalID: r.local_id.clone(),
            ExchangeID: spec.exchange.into(),
            ParticipantID: PARTICIPANT.into(),
            ClientID: format!("{PARTICIPANT}{}", r.user),
            TraderID: TRADER.into(),
            InstallID: 1,
            OrderSubmitStatus: CtpChar(code::INSERT_SUBMITTED),
            TradingDay: day.clone(),
            SettlementID: 1,
            OrderSource: CtpChar(b'0'),
            OrderStatus: CtpChar(code::UNKNOWN),
            OrderType: CtpChar(b'0'),
            VolumeTotal: r.volume,
            InsertDate: r.date.clone(),
            InsertTime: r.time.clone(),
            FrontID: r.front_id,
            SessionID: r.session_id,
            StatusMsg: "报单已提交".into(),
            BrokerOrderSeq: r.broker_seq,
            CurrencyID: "CNY".into(),
            InstrumentID: spec.id.clone(),
            ExchangeInstID: spec.id.clone(),
            ..Order::default()
        };
        order.SequenceNo = self.next_seq();
        let submitted = order.clone();
        order.OrderSysID = r.sys_id.clone();
        order.OrderSubmitStatus = CtpChar(code::ACCEPTED);
        order.OrderStatus = CtpChar(code::NO_TRADE_QUEUEING);
        order.StatusMsg = "未成交".into();
        order.UpdateTime = r.time.clone();
        order.NotifySequence = 1;
        order.SequenceNo = self.next_seq();
        let accepted = order.clone();
        let idx = self.orders.len();
        self.orders.push(OrderState {
            order,
            inst,
            user: r.user.clone(),
            side,
            is_open,
            buy,
            limit: (!market).then_some(r.limit_price),
            ioc: market || r.time_condition == code::IOC,
            volume_condition: r.volume_condition,
            min_volume: r.min_volume,
            remaining: r.volume,
            plan: r.plan,
            margin_per_lot: r.margin_per_lot,
            commission_per_lot: r.commission_per_lot,
        });
        self.by_sys_id.insert(r.sys_id.trim().to_string(), idx);
        self.by_ref
            .insert((r.front_id, r.session_id, r.order_ref.clone()), idx);
        self.resting[inst].push(idx);
        vec![
            Push::Order(Box::new(submitted)),
            Push::Order(Box::new(accepted)),
        ]
    }

    fn apply_fill(
        &mut self,
        sys_id: &str,
        trade_id: &str,
        price: f64,
        volume: i32,
        (date, time): (&str, &str),
        (journaled_commission, journaled_close_profit): (f64, f64),
    ) -> Vec<Push> {
        let Some(&idx) = self.by_sys_id.get(sys_id.trim()) else {
            self.audit
                .mismatches
                .push(format!("fill {trade_id} of unknown order {sys_id}"));
            return Vec::new();
        };
        self.next_trade_id = self.next_trade_id.max(max_id(trade_id));
        let day = self.trading_day.clone();
        let seq = self.next_seq();
        let o = &mut self.orders[idx];
        let spec: Arc<InstrumentSpec> = self.instruments.get(o.inst).clone();
        let volume = volume.min(o.remaining);
        let Some(account) = self.accounts.get_mut(&o.user) else {
            return Vec::new();
        };
        let (commission, close_profit, offset) = if o.is_open {
            account.frozen_margin -= o.margin_per_lot * f64::from(volume);
            account.frozen_commission -= o.commission_per_lot * f64::from(volume);
            let commission = spec.open_commission.of(price, volume, spec.multiple);
            let margin = margin_per_lot(&spec, o.side, price);
            let p = account.position_mut(o.inst, o.side);
            p.frozen_open -= volume;
            p.lots.push_back(Lot {
                trade_id: trade_id.to_string(),
                open_date: day.clone(),
                open_price: price,
                ref_price: price,
                volume,
                margin,
            });
            p.open_volume += volume;
            p.open_amount += price * f64::from(volume) * f64::from(spec.multiple);
            p.commission += commission;
            (commission, 0.0, code::OPEN)
        } else {
            account.frozen_commission -= o.commission_per_lot * f64::from(volume);
            let split = o.plan.take(volume);
            let p = account.position_mut(o.inst, o.side);
            p.frozen_close.today -= split.today;
            p.frozen_close.yesterday -= split.yesterday;
            let closed = p.close(split, price, o.side, &day, spec.multiple);
            let commission = spec
                .close_today_commission
                .of(price, closed.today, spec.multiple)
                + spec
                    .close_commission
                    .of(price, closed.yesterday, spec.multiple);
            p.close_volume += volume;
            p.close_amount += price * f64::from(volume) * f64::from(spec.multiple);
            p.commission += commission;
            p.close_profit_by_date += closed.profit_by_date;
            p.close_profit_by_trade += closed.profit_by_trade;
            account.close_profit += closed.profit_by_date;
            let offset = o.order.CombOffsetFlag.bytes().next().unwrap_or(code::CLOSE);
            (commission, closed.profit_by_date, offset)
        };
        account.commission += commission;
        let user = o.user.clone();
        let cash = self.audit.cash.entry(user.clone()).or_default();
        cash.1 += commission;
        cash.2 += close_profit;
        let net = self.audit.net.entry((user, o.inst, o.side)).or_default();
        *net += if o.is_open {
            i64::from(volume)
        } else {
            -i64::from(volume)
        };
        self.last_fill_cost = Some((commission, close_profit));
        if journaled_commission.is_finite()
            && ((journaled_commission - commission).abs() > 1e-6
                || (journaled_close_profit - close_profit).abs() > 1e-6)
        {
            self.audit.mismatches.push(format!(
                "fill {trade_id}: journal says commission {journaled_commission} and close profit {journaled_close_profit}, replay computes {commission} and {close_profit}"
            ));
        }

        o.remaining -= volume;
        let ord = &mut o.order;
        ord.VolumeTraded += volume;
        ord.VolumeTotal = o.remaining;
        ord.UpdateTime = time.to_string();
        ord.SequenceNo = seq;
        ord.NotifySequence += 1;
        if o.remaining == 0 {
            ord.OrderStatus = CtpChar(code::ALL_TRADED);
            ord.StatusMsg = "全部成交".into();
        } else {
            ord.OrderStatus = CtpChar(code::PART_TRADED_QUEUEING);
            ord.StatusMsg = "部分成交".into();
        }
        if o.remaining == 0 {
            let inst = o.inst;
            self.resting[inst].retain(|&i| i != idx);
        }
        let o = &self.orders[idx];
        let trade = Trade {
            BrokerID: PARTICIPANT.into(),
            InvestorID: o.user.clone(),
            OrderRef: o.order.OrderRef.clone(),
            UserID: o.user.clone(),
            ExchangeID: spec.exchange.into(),
            TradeID: trade_id.to_string(),
            Direction: o.order.Direction,
            OrderSysID: o.order.OrderSysID.clone(),
            ParticipantID: PARTICIPANT.into(),
            ClientID: o.order.ClientID.clone(),
            TradingRole: CtpChar(b'1'),
            OffsetFlag: CtpChar(offset),
            HedgeFlag: CtpChar(code::SPECULATION),
            Price: price,
            Volume: volume,
            TradeDate: date.to_string(),
            TradeTime: time.to_string(),
            TradeType: CtpChar(b'0'),
            PriceSource: CtpChar(b'0'),
            TraderID: TRADER.into(),
            OrderLocalID: o.order.OrderLocalID.clone(),
            ClearingPartID: PARTICIPANT.into(),
            SequenceNo: seq,
            TradingDay: day,
            SettlementID: 1,
            BrokerOrderSeq: o.order.BrokerOrderSeq,
            TradeSource: CtpChar(b'0'),
            InstrumentID: spec.id.clone(),
            ExchangeInstID: spec.id.clone(),
            ..Trade::default()
        };
        let order = o.order.clone();
        self.trades.push(trade.clone());
        vec![Push::Order(Box::new(order)), Push::Trade(Box::new(trade))]
    }

    fn apply_cancel(&mut self, sys_id: &str, time: &str, msg: &str) -> Vec<Push> {
        let Some(&idx) = self.by_sys_id.get(sys_id.trim()) else {
            return Vec::new();
        };
        let seq = self.next_seq();
        let o = &mut self.orders[idx];
        if o.is_final() {
            return Vec::new();
        }
        let left = o.remaining;
        if let Some(account) = self.accounts.get_mut(&o.user) {
            account.frozen_commission -= o.commission_per_lot * f64::from(left);
            if o.is_open {
                account.frozen_margin -= o.margin_per_lot * f64::from(left);
                account.position_mut(o.inst, o.side).frozen_open -= left;
            } else {
                let p = account.position_mut(o.inst, o.side);
                p.frozen_close.today -= o.plan.today;
                p.frozen_close.yesterday -= o.plan.yesterday;
                o.plan = CloseSplit::default();
            }
        }
        o.remaining = 0;
        let ord = &mut o.order;
        ord.OrderStatus = CtpChar(code::CANCELED);
        ord.VolumeTotal = 0;
        ord.CancelTime = time.to_string();
        ord.UpdateTime = time.to_string();
        ord.StatusMsg = msg.to_string();
        ord.SequenceNo = seq;
        ord.NotifySequence += 1;
        let inst = o.inst;
        let order = ord.clone();
        self.resting[inst].retain(|&i| i != idx);
        vec![Push::Order(Box::new(order))]
    }

    fn apply_roll(
        &mut self,
        next_day: &str,
        settlement: &[(String, f64)],
        profit: &[(String, f64)],
    ) {
        let settle: HashMap<&str, f64> = settlement.iter().map(|(i, p)| (i.as_str(), *p)).collect();
        let prices: Vec<f64> = self
            .instruments
            .all()
            .iter()
            .zip(&self.quotes)
            .map(|(s, q)| settle.get(s.id.as_str()).copied().unwrap_or(q.last))
            .collect();
        let day = self.trading_day.clone();
        let marks = PriceMarks {
            prices: &prices,
            table: &self.instruments,
        };
        for account in self.accounts.values_mut() {
            let settled = account.position_profit(&marks);
            let journaled = profit
                .iter()
                .find(|(u, _)| *u == account.user_id)
                .map(|p| p.1);
            if let Some(j) = journaled
                && (j - settled).abs() > 1e-6
            {
                self.audit.mismatches.push(format!(
                    "settlement of {} on {day}: journal says {j}, replay computes {settled}",
                    account.user_id
                ));
            }
            self.audit
                .cash
                .entry(account.user_id.clone())
                .or_default()
                .3 += settled;
            account.settlement_text =
                settlement_text(account, &day, &prices, settled, &self.instruments);
            account.settlement_day = day.clone();
            account.pre_balance = account.pre_balance + account.deposit - account.withdraw
                + account.close_profit
                + settled
                - account.commission;
            account.deposit = 0.0;
            account.withdraw = 0.0;
            account.close_profit = 0.0;
            account.commission = 0.0;
            account.frozen_margin = 0.0;
            account.frozen_commission = 0.0;
            account.confirmed = None;
            for ((inst, side), p) in account.positions.iter_mut() {
                let spec = self.instruments.get(*inst);
                for lot in p.lots.iter_mut() {
                    lot.ref_price = prices[*inst];
                    lot.margin = margin_per_lot(spec, *side, prices[*inst]);
                }
                let held = p.total();
                *p = Position {
                    lots: std::mem::take(&mut p.lots),
                    yd_start: held,
                    ..Position::default()
                };
            }
            account.prune();
            account.pre_margin = account.curr_margin();
        }
        self.trading_day = next_day.to_string();
        let mut quotes = Vec::with_capacity(self.quotes.len());
        for (i, s) in self.instruments.all().iter().enumerate() {
            let mut q = Quote::new(s.clone(), prices[i], Some(prices[i]), &mut self.rng);
            q.activity = self.quotes[i].activity;
            quotes.push(q);
        }
        self.quotes = quotes;
        self.roll_listing();
        self.orders.clear();
        self.by_sys_id.clear();
        self.by_ref.clear();
        self.trades.clear();
        for r in &mut self.resting {
            r.clear();
        }
    }

    /// Applies a record decided live: a fill's cost and profit are written into it so
    /// that the journal carries them for the replay check.
    pub fn apply_live(&mut self, mut rec: Record) -> (Record, Vec<Push>) {
        self.last_fill_cost = None;
        let pushes = self.apply(&rec);
        if let Record::Fill {
            commission,
            close_profit,
            ..
        } = &mut rec
            && let Some((c, p)) = self.last_fill_cost.take()
        {
            *commission = c;
            *close_profit = p;
        }
        (rec, pushes)
    }

    // ----------------------------------------------------------------- decide

    /// Opens `user` with `password` and `funds`.
    pub fn open_account(&mut self, user: &str, password: &str, funds: f64) -> Record {
        let salt = format!("{:016x}", self.rng.next_u64());
        let rec = Record::Open {
            user: user.to_string(),
            digest: digest_password(&salt, password),
            salt,
            funds,
        };
        self.apply(&rec);
        rec
    }

    /// Checks a password.
    pub fn password_ok(&self, user: &str, password: &str) -> bool {
        self.accounts
            .get(user)
            .is_some_and(|a| digest_password(&a.salt, password) == a.digest)
    }

    /// Validates an order insert and decides its records, or CTP's error ID.
    pub fn decide_insert(
        &mut self,
        origin: &Origin<'_>,
        input: &InputOrder,
        request_id: i32,
        now: &BeijingTime,
    ) -> Result<Vec<Record>, i32> {
        let Origin {
            user,
            front_id,
            session_id,
            order_ref,
        } = *origin;
        let account = self.accounts.get(user).ok_or(ctp::NOT_LOGIN_YET)?;
        if account
            .confirmed
            .as_ref()
            .is_none_or(|(day, _, _)| *day != self.trading_day)
        {
            return Err(ctp::SETTLEMENT_INFO_NOT_CONFIRMED);
        }
        let inst = self
            .instruments
            .listed_index(&input.InstrumentID)
            .ok_or(ctp::INSTRUMENT_NOT_FOUND)?;
        let spec = self.instruments.get(inst).clone();
        if !input.ExchangeID.is_empty() && input.ExchangeID != spec.exchange {
            return Err(ctp::INSTRUMENT_NOT_FOUND);
        }
        if !self.is_open(inst, now) {
            return Err(ctp::NOT_TRADING_PERIOD);
        }
        let direction = input.Direction.0;
        if direction != code::BUY && direction != code::SELL {
            return Err(ctp::BAD_FIELD);
        }
        let offset = input.CombOffsetFlag.bytes().next().unwrap_or(0);
        if !(b'0'..=b'6').contains(&offset) {
            return Err(ctp::BAD_FIELD);
        }
        if input.VolumeTotalOriginal <= 0 {
            return Err(ctp::BAD_FIELD);
        }
        let market = match input.OrderPriceType.0 {
            code::ANY_PRICE if spec.allows_market_orders() => true,
            code::LIMIT_PRICE => false,
            _ => return Err(ctp::PRICETYPE_NOTSUPPORT_BYEXCHANGE),
        };
        let max = if market {
            spec.max_market_volume
        } else {
            spec.max_limit_volume
        };
        if input.VolumeTotalOriginal > max {
            return Err(ctp::VOLUME_NOT_VALID);
        }
        let time_condition = if market {
            code::IOC
        } else {
            match input.TimeCondition.0 {
                code::IOC => code::IOC,
                code::GFD | 0 => code::GFD,
                _ => return Err(ctp::BAD_FIELD),
            }
        };
        let volume_condition = match input.VolumeCondition.0 {
            0 | code::ANY_VOLUME => code::ANY_VOLUME,
            code::MIN_VOLUME
                if input.MinVolume > 0 && input.MinVolume <= input.VolumeTotalOriginal =>
            {
                code::MIN_VOLUME
            }
            code::ALL_VOLUME => code::ALL_VOLUME,
            _ => return Err(ctp::BAD_FIELD),
        };
        let quote = &self.quotes[inst];
        let limit = if market {
            0.0
        } else {
            let p = input.LimitPrice;
            if !p.is_finite() || p <= 0.0 || !spec.on_tick(p) {
                return Err(ctp::PRICE_WRONG_TICK);
            }
            if p > quote.upper_limit + 1e-9 || p < quote.lower_limit - 1e-9 {
                return Err(ctp::PRICE_OVER_LIMIT);
            }
            spec.round_to_tick(p)
        };
        if self
            .by_ref
            .contains_key(&(front_id, session_id, order_ref.to_string()))
        {
            return Err(ctp::DUPLICATE_ORDER_REF);
        }
        let buy = direction == code::BUY;
        let is_open = offset == code::OPEN;
        let side = match (buy, is_open) {
            (true, true) | (false, false) => Side::Long,
            _ => Side::Short,
        };
        let volume = input.VolumeTotalOriginal;
        // Margin is frozen at the worst price the order can trade at.
        let freeze_price = if market {
            if buy {
                quote.upper_limit
            } else {
                quote.lower_limit
            }
        } else {
            limit
        };
        let account = self.accounts.get(user).ok_or(ctp::NOT_LOGIN_YET)?;
        let (plan, margin_per, commission_per) = if is_open {
            let m = margin_per_lot(&spec, side, freeze_price);
            let c = spec.open_commission.of(freeze_price, 1, spec.multiple);
            let need = (m + c) * f64::from(volume);
            if need > account.available(self.quotes.as_slice()) + 1e-6 {
                return Err(ctp::INSUFFICIENT_MONEY);
            }
            (CloseSplit::default(), m, c)
        } else {
            let from = if spec.splits_today() {
                match offset {
                    code::CLOSE_TODAY => CloseFrom::Today,
                    _ => CloseFrom::Yesterday,
                }
            } else {
                CloseFrom::TodayFirst
            };
            let empty = Position::default();
            let pos = account.positions.get(&(inst, side)).unwrap_or(&empty);
            let plan = pos.plan_close(volume, from, &self.trading_day)?;
            let c = spec
                .close_today_commission
                .of(freeze_price, 1, spec.multiple)
                .max(spec.close_commission.of(freeze_price, 1, spec.multiple));
            (plan, 0.0, c)
        };
        self.next_sys_id += 1;
        self.next_broker_seq += 1;
        let sys_id = pad(self.next_sys_id);
        let insert = InsertRecord {
            user: user.to_string(),
            instrument: spec.id.clone(),
            direction,
            offset,
            price_type: if market {
                code::ANY_PRICE
            } else {
                code::LIMIT_PRICE
            },
            limit_price: limit,
            volume,
            time_condition,
            volume_condition,
            min_volume: input.MinVolume,
            hedge: input
                .CombHedgeFlag
                .bytes()
                .next()
                .filter(|b| *b != 0)
                .unwrap_or(code::SPECULATION),
            order_ref: order_ref.to_string(),
            front_id,
            session_id,
            request_id,
            sys_id: sys_id.clone(),
            local_id: pad(self.next_sys_id),
            date: now.date(),
            time: now.time(),
            broker_seq: self.next_broker_seq,
            plan,
            margin_per_lot: margin_per,
            commission_per_lot: commission_per,
        };
        Ok(vec![Record::Insert(Box::new(insert))])
    }

    /// After an insert was applied: fill what the book allows now, and cancel what an
    /// immediate-or-cancel order could not fill.
    pub fn decide_match(&mut self, idx: usize, now: &BeijingTime) -> Vec<Record> {
        let o = &self.orders[idx];
        if o.is_final() || o.remaining == 0 {
            return Vec::new();
        }
        let (inst, buy, limit, remaining) = (o.inst, o.buy, o.limit, o.remaining);
        let (ioc, vc, min_volume) = (o.ioc, o.volume_condition, o.min_volume);
        let sys_id = o.order.OrderSysID.clone();
        // FOK and minimum-volume orders fill only if enough is there.
        let needed = match vc {
            code::ALL_VOLUME => remaining,
            code::MIN_VOLUME => min_volume,
            _ => 1,
        };
        let mut out = Vec::new();
        let available: i32 = {
            let mut probe = self.quotes[inst].clone();
            probe.take(buy, remaining, limit).iter().map(|f| f.1).sum()
        };
        if available >= needed {
            for (price, volume) in self.quotes[inst].take(buy, remaining, limit) {
                self.quotes[inst].record_trade(price, volume);
                self.next_trade_id += 1;
                out.push(Record::Fill {
                    sys_id: sys_id.clone(),
                    trade_id: pad(self.next_trade_id),
                    price,
                    volume,
                    date: now.date(),
                    time: now.time(),
                    commission: f64::NAN,
                    close_profit: f64::NAN,
                });
            }
        }
        let filled: i32 = out
            .iter()
            .map(|r| match r {
                Record::Fill { volume, .. } => *volume,
                _ => 0,
            })
            .sum();
        if ioc && filled < remaining {
            out.push(Record::Cancel {
                sys_id,
                time: now.time(),
                msg: if filled > 0 {
                    "部分成交剩余已撤单".into()
                } else {
                    "已撤单".into()
                },
            });
        }
        out
    }

    /// Resting orders of `inst` that the current book crosses.
    pub fn crossing_orders(&self, inst: usize) -> Vec<usize> {
        let q = &self.quotes[inst];
        self.resting[inst]
            .iter()
            .copied()
            .filter(|&i| {
                let o = &self.orders[i];
                match (o.buy, o.limit) {
                    (true, Some(l)) => q.asks[0].volume > 0 && q.asks[0].price <= l + 1e-9,
                    (false, Some(l)) => q.bids[0].volume > 0 && q.bids[0].price >= l - 1e-9,
                    _ => false,
                }
            })
            .collect()
    }

    /// Finds the order a cancel request names: by OrderSysID (+ExchangeID), else by
    /// FrontID+SessionID+OrderRef.
    pub fn find_order(
        &self,
        user: &str,
        action: &InputOrderAction,
        front_id: i32,
        session_id: i32,
    ) -> Result<usize, i32> {
        let idx = if !action.OrderSysID.trim().is_empty() {
            let i = *self
                .by_sys_id
                .get(action.OrderSysID.trim())
                .ok_or(ctp::ORDER_NOT_FOUND)?;
            let ex = &self.orders[i].order.ExchangeID;
            if !action.ExchangeID.is_empty() && action.ExchangeID != *ex {
                return Err(ctp::ORDER_NOT_FOUND);
            }
            i
        } else {
            let front = if action.FrontID != 0 {
                action.FrontID
            } else {
                front_id
            };
            let session = if action.SessionID != 0 {
                action.SessionID
            } else {
                session_id
            };
            *self
                .by_ref
                .get(&(front, session, action.OrderRef.clone()))
                .ok_or(ctp::ORDER_NOT_FOUND)?
        };
        if self.orders[idx].user != user {
            return Err(ctp::ORDER_NOT_FOUND);
        }
        Ok(idx)
    }

    /// The settlement records that end the current trading day and start `next_day`:
    /// resting orders are cancelled, positions settle at the last prices.
    pub fn decide_roll(&mut self, next_day: &str, now: &BeijingTime) -> Vec<Record> {
        let mut out: Vec<Record> = self
            .resting
            .iter()
            .flatten()
            .map(|&i| Record::Cancel {
                sys_id: self.orders[i].order.OrderSysID.clone(),
                time: now.time(),
                msg: "收盘撤单".into(),
            })
            .collect();
        let (settlement, prices) = self.settlement_prices();
        let marks = PriceMarks {
            prices: &prices,
            table: &self.instruments,
        };
        let profit = self
            .accounts
            .values()
            .map(|a| (a.user_id.clone(), a.position_profit(&marks)))
            .collect();
        out.push(Record::Roll {
            next_day: next_day.to_string(),
            settlement,
            profit,
        });
        out
    }

    /// Checks the rebuilt state against the journal's own totals: positions against
    /// the sum of fills, funds against the sum of their movements.
    pub fn verify(&self) -> Result<(), String> {
        let mut problems = self.audit.mismatches.clone();
        for a in self.accounts.values() {
            let (funds, commission, close_profit, settled) =
                self.audit.cash.get(&a.user_id).copied().unwrap_or_default();
            // Everything before today is in pre_balance; today's moves are separate.
            let expected = funds - commission + close_profit + settled;
            let actual = a.pre_balance + a.deposit - a.withdraw + a.close_profit - a.commission;
            if (expected - actual).abs() > 1e-4 * expected.abs().max(1.0) {
                problems.push(format!(
                    "funds of {}: movements sum to {expected:.2}, the account holds {actual:.2}",
                    a.user_id
                ));
            }
            if a.frozen_margin < -1e-6 || a.frozen_commission < -1e-6 {
                problems.push(format!("negative frozen funds on {}", a.user_id));
            }
        }
        for ((user, inst, side), net) in &self.audit.net {
            let held = self
                .accounts
                .get(user)
                .and_then(|a| a.positions.get(&(*inst, *side)))
                .map_or(0, |p| i64::from(p.total()));
            if held != *net {
                problems.push(format!(
                    "position {user} {} {side:?}: fills sum to {net}, the account holds {held}",
                    self.instruments.get(*inst).id
                ));
            }
        }
        for a in self.accounts.values() {
            for ((inst, side), p) in &a.positions {
                let key = (a.user_id.clone(), *inst, *side);
                if p.total() != 0 && !self.audit.net.contains_key(&key) {
                    problems.push(format!(
                        "position {} {} has no fills",
                        a.user_id,
                        self.instruments.get(*inst).id
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// A settlement statement in the style of a futures company's daily statement.
fn settlement_text(
    a: &Account,
    day: &str,
    prices: &[f64],
    settled_profit: f64,
    table: &InstrumentTable,
) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "webctp 模拟交易所 结算单 / settlement statement");
    let _ = writeln!(
        s,
        "交易日 Trading day: {day}    投资者 Investor: {}",
        a.user_id
    );
    let _ = writeln!(s, "期初结存 Balance b/f: {:.2}", a.pre_balance);
    let _ = writeln!(s, "平仓盈亏 Realized P/L: {:.2}", a.close_profit);
    let _ = writeln!(s, "持仓盯市盈亏 MTM P/L: {settled_profit:.2}");
    let _ = writeln!(s, "手续费 Commission: {:.2}", a.commission);
    let end =
        a.pre_balance + a.deposit - a.withdraw + a.close_profit + settled_profit - a.commission;
    let _ = writeln!(s, "期末结存 Balance c/f: {end:.2}");
    let _ = writeln!(s, "持仓 Positions:");
    for ((inst, side), p) in &a.positions {
        if p.total() > 0 {
            let _ = writeln!(
                s,
                "  {} {} {} 手 lots @ 结算价 settlement {}",
                table.get(*inst).id,
                match side {
                    Side::Long => "多 long",
                    Side::Short => "空 short",
                },
                p.total(),
                prices[*inst]
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An exchange on the seed's day (its instruments: au2602, rb2605, m2605...).
    fn exchange() -> Exchange {
        let mut ex = Exchange::new("20251203".into(), Rng::new(3));
        let r = ex.open_account("u1", "pw", 1_000_000.0);
        let _ = r;
        ex.apply(&Record::Confirm {
            user: "u1".into(),
            day: "20251203".into(),
            date: "20251203".into(),
            time: "09:00:00".into(),
        });
        ex
    }

    fn order(inst: &str, dir: u8, offset: u8, price: f64, volume: i32) -> InputOrder {
        InputOrder {
            InstrumentID: inst.into(),
            Direction: CtpChar(dir),
            CombOffsetFlag: char::from(offset).to_string(),
            OrderPriceType: CtpChar(code::LIMIT_PRICE),
            LimitPrice: price,
            VolumeTotalOriginal: volume,
            TimeCondition: CtpChar(code::GFD),
            VolumeCondition: CtpChar(code::ANY_VOLUME),
            ..InputOrder::default()
        }
    }

    fn run(ex: &mut Exchange, recs: Vec<Record>, journal: &mut Vec<Record>) -> Vec<Push> {
        let mut pushes = Vec::new();
        for r in recs {
            let (r, p) = ex.apply_live(r);
            pushes.extend(p);
            journal.push(r);
        }
        pushes
    }

    /// Inserts `input` for u1 and runs one matching pass over it; returns the
    /// pushes of the insert and of the match.
    fn insert_and_match(
        ex: &mut Exchange,
        journal: &mut Vec<Record>,
        order_ref: &str,
        input: &InputOrder,
        request_id: i32,
        now: &BeijingTime,
    ) -> (Vec<Push>, Vec<Push>) {
        let origin = Origin {
            user: "u1",
            front_id: 1,
            session_id: 7,
            order_ref,
        };
        let recs = ex.decide_insert(&origin, input, request_id, now).unwrap();
        let inserted = run(ex, recs, journal);
        let idx = ex.orders.len() - 1;
        let recs = ex.decide_match(idx, now);
        (inserted, run(ex, recs, journal))
    }

    #[test]
    fn rejections_use_ctp_error_ids() {
        let mut ex = exchange();
        let now = BeijingTime::now();
        let rb = ex.quotes[ex.instruments.index_of("rb2605").unwrap()].clone();
        let cases = [
            (
                order("zz9999", code::BUY, code::OPEN, 3000.0, 1),
                ctp::INSTRUMENT_NOT_FOUND,
            ),
            (
                order("rb2605", code::BUY, code::OPEN, rb.last + 0.5, 1),
                ctp::PRICE_WRONG_TICK,
            ),
            (
                order("rb2605", code::BUY, code::OPEN, rb.upper_limit + 1.0, 1),
                ctp::PRICE_OVER_LIMIT,
            ),
            (
                order("rb2605", code::SELL, code::CLOSE_TODAY, rb.last, 1),
                ctp::OVER_CLOSETODAY_POSITION,
            ),
            (
                order("rb2605", code::SELL, code::CLOSE, rb.last, 1),
                ctp::OVER_CLOSEYESTERDAY_POSITION,
            ),
            (
                order("m2605", code::SELL, code::CLOSE, 2950.0, 1),
                ctp::OVER_CLOSE_POSITION,
            ),
            (
                order("rb2605", code::BUY, code::OPEN, rb.last, 0),
                ctp::BAD_FIELD,
            ),
            (
                order("rb2605", code::BUY, code::OPEN, rb.last, 501),
                ctp::VOLUME_NOT_VALID,
            ),
            (
                order("au2602", code::BUY, code::OPEN, 952.40, 9),
                ctp::INSUFFICIENT_MONEY,
            ),
        ];
        for (input, want) in cases {
            let got = ex.decide_insert(
                &Origin {
                    user: "u1",
                    front_id: 1,
                    session_id: 1,
                    order_ref: "1",
                },
                &input,
                0,
                &now,
            );
            assert_eq!(got.err(), Some(want), "{}", input.InstrumentID);
        }
        let mut market = order("rb2605", code::BUY, code::OPEN, 0.0, 1);
        market.OrderPriceType = CtpChar(code::ANY_PRICE);
        assert_eq!(
            ex.decide_insert(
                &Origin {
                    user: "u1",
                    front_id: 1,
                    session_id: 1,
                    order_ref: "2"
                },
                &market,
                0,
                &now
            )
            .err(),
            Some(ctp::PRICETYPE_NOTSUPPORT_BYEXCHANGE)
        );
    }

    #[test]
    fn open_fill_close_and_replay_agree() {
        let mut ex = exchange();
        let now = BeijingTime::now();
        let mut journal = Vec::new();
        let i = ex.instruments.index_of("rb2605").unwrap();
        let ask = ex.quotes[i].asks[0].price;
        let (inserted, filled) = insert_and_match(
            &mut ex,
            &mut journal,
            "1",
            &order("rb2605", code::BUY, code::OPEN, ask + 5.0, 2),
            3,
            &now,
        );
        assert_eq!(inserted.len(), 2);
        assert!(filled.iter().any(|p| matches!(p, Push::Trade(_))));
        let idx = ex.orders.len() - 1;
        assert_eq!(ex.orders[idx].order.OrderStatus.0, code::ALL_TRADED);
        let pos = &ex.accounts["u1"].positions[&(i, Side::Long)];
        assert_eq!(pos.total(), 2);
        let bid = ex.quotes[i].bids[0].price;
        insert_and_match(
            &mut ex,
            &mut journal,
            "2",
            &order("rb2605", code::SELL, code::CLOSE_TODAY, bid, 1),
            4,
            &now,
        );
        assert_eq!(ex.accounts["u1"].positions[&(i, Side::Long)].total(), 1);
        assert!(ex.accounts["u1"].commission > 0.0);
        ex.verify().unwrap();

        // Replaying the journal rebuilds the same account.
        let mut again = Exchange::new("20251203".into(), Rng::new(99));
        for r in &journal_with_open(&ex, &journal) {
            again.apply(r);
        }
        again.verify().unwrap();
        let (a, b) = (&ex.accounts["u1"], &again.accounts["u1"]);
        assert_eq!(a.positions, b.positions);
        assert!((a.close_profit - b.close_profit).abs() < 1e-9);
        assert!((a.commission - b.commission).abs() < 1e-9);
        assert_eq!(ex.trades.len(), again.trades.len());
    }

    fn journal_with_open(ex: &Exchange, journal: &[Record]) -> Vec<Record> {
        let a = &ex.accounts["u1"];
        let mut v = vec![
            Record::Open {
                user: "u1".into(),
                salt: a.salt.clone(),
                digest: a.digest.clone(),
                funds: 1_000_000.0,
            },
            Record::Confirm {
                user: "u1".into(),
                day: "20251203".into(),
                date: "20251203".into(),
                time: "09:00:00".into(),
            },
        ];
        v.extend(journal.iter().cloned());
        v
    }

    #[test]
    fn roll_moves_today_to_yesterday_and_settles() {
        let mut ex = exchange();
        let now = BeijingTime::now();
        let mut journal = Vec::new();
        let i = ex.instruments.index_of("rb2605").unwrap();
        let ask = ex.quotes[i].asks[0].price;
        insert_and_match(
            &mut ex,
            &mut journal,
            "1",
            &order("rb2605", code::BUY, code::OPEN, ask, 1),
            0,
            &now,
        );
        let recs = ex.decide_roll("20251204", &now);
        run(&mut ex, recs, &mut journal);
        assert_eq!(ex.trading_day, "20251204");
        let p = &ex.accounts["u1"].positions[&(i, Side::Long)];
        assert_eq!(p.yd_start, 1);
        assert_eq!(p.yesterday("20251204"), 1);
        assert!(ex.accounts["u1"].confirmed.is_none());
        assert!(ex.accounts["u1"].settlement_text.contains("rb2605"));
        ex.verify().unwrap();
    }
}

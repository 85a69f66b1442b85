//! The exchange's state and its one way of changing: [`Record`]s.
//!
//! Every change — an account opened, an order accepted, a fill, a cancel, the end of a
//! trading day — is a record. The live path decides a record (`decide.rs`), applies it
//! and journals it; a restart replays the journal through the same [`Exchange::apply`],
//! so the state after a crash is exactly the state the clients were told about. The
//! replay builds no CTP structs: [`Exchange::pushes`] makes them for the live path.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::account::{Account, Lot, Position, PriceMarks, Side, margin_per_lot};
use super::fast_hash::FastMap;
use super::instruments::{InstrumentSpec, InstrumentTable};
use super::market::Quote;
pub use super::orders::code;
use super::orders::{OrderState, TradeState};
use super::products::ProductTable;
pub use super::record::{InsertRecord, Record, Stamp, StatusMsg, pad};
use super::rng::Rng;
use super::sessions::SessionsMode;
use webctp_protocol::fields::{Order, Trade};

/// Who sends an order: the user and the session's identity.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub user: &'a str,
    pub front_id: i32,
    pub session_id: i32,
    pub order_ref: &'a str,
}

/// What a client sees of a change: pushes to the order's user.
#[derive(Debug, Clone, PartialEq)]
pub enum Push {
    Order(Box<Order>),
    Trade(Box<Trade>),
}

/// A record applied live: what to journal, and what to tell whom.
#[derive(Debug)]
pub struct Live {
    pub record: Record,
    pub pushes: Vec<Push>,
    /// The user whose order changed (the pushes go to all of their sessions).
    pub user: Option<Arc<str>>,
}

/// What applying a record changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Nothing (an order that traded or went in the meantime, an unknown account).
    Nothing,
    /// Accounts or the day, nothing a push reports.
    State,
    Insert(usize),
    Fill {
        order: usize,
        trade: usize,
    },
    Cancel(usize),
}

/// Running totals kept while replaying, to check the rebuilt state independently.
#[derive(Debug, Clone, Default)]
pub struct Audit {
    /// Per user: funds in, commissions, close profits, settlement profits.
    pub cash: FastMap<Arc<str>, (f64, f64, f64, f64)>,
    /// Per (user, instrument, side): opened minus closed lots.
    pub net: FastMap<(Arc<str>, usize, Side), i64>,
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
    /// The day's orders and trades (cleared when the day ends, as CTP's are). Orders
    /// are in OrderSysID order (IDs are handed out in the order they are journaled),
    /// so an ID is found by position, without an index.
    pub orders: Vec<OrderState>,
    pub by_ref: HashMap<(i32, i32, Box<str>), u32>,
    pub trades: Vec<TradeState>,
    /// Orders waiting in the book, per instrument, in time priority.
    pub resting: Vec<BTreeSet<u32>>,
    pub next_sys_id: u64,
    pub next_trade_id: u64,
    pub next_broker_seq: i32,
    pub sequence: i32,
    pub audit: Audit,
    /// One shared copy of each user's name for the order rows.
    names: FastMap<String, Arc<str>>,
    /// What the last applied fill cost and realized.
    last_fill_cost: Option<(f64, f64)>,
}

impl Exchange {
    /// A fresh exchange for `trading_day`, listing the built-in product table.
    pub fn new(trading_day: String, rng: Rng) -> Exchange {
        Exchange::with_products(trading_day, rng, ProductTable::embedded())
    }

    /// A fresh exchange for `trading_day` over `products`.
    pub fn with_products(trading_day: String, rng: Rng, products: Arc<ProductTable>) -> Exchange {
        let mut ex = Exchange {
            trading_day,
            instruments: InstrumentTable::new(products),
            sessions: SessionsMode::Always,
            quotes: Vec::new(),
            rng,
            accounts: BTreeMap::new(),
            orders: Vec::new(),
            by_ref: HashMap::new(),
            trades: Vec::new(),
            resting: Vec::new(),
            next_sys_id: 100_000,
            next_trade_id: 100_000,
            next_broker_seq: 0,
            sequence: 0,
            audit: Audit::default(),
            names: FastMap::default(),
            last_fill_cost: None,
        };
        ex.start_listing();
        ex
    }

    /// Last prices, indexed like the instrument table.
    pub fn last_prices(&self) -> Vec<f64> {
        self.quotes.iter().map(|q| q.last).collect()
    }

    pub(super) fn next_seq(&mut self) -> i32 {
        self.sequence += 1;
        self.sequence
    }

    /// The shared name of `user`.
    pub(super) fn name(&mut self, user: &str) -> Arc<str> {
        if let Some(n) = self.names.get(user) {
            return n.clone();
        }
        let n: Arc<str> = Arc::from(user);
        self.names.insert(user.to_string(), n.clone());
        n
    }

    /// The order an OrderSysID names.
    pub fn order_by_sys_id(&self, sys_id: u64) -> Option<usize> {
        let first = self.orders.first()?.sys_id;
        // IDs are usually consecutive within a day; else search (they only increase).
        let guess = usize::try_from(sys_id.checked_sub(first)?).ok()?;
        if self.orders.get(guess).is_some_and(|o| o.sys_id == sys_id) {
            return Some(guess);
        }
        self.orders.binary_search_by_key(&sys_id, |o| o.sys_id).ok()
    }

    // ----------------------------------------------------------------- apply

    /// Applies one record.
    pub fn apply(&mut self, rec: &Record) -> Applied {
        match rec {
            Record::Start { day } => {
                self.trading_day = day.clone();
                self.start_listing();
                Applied::State
            }
            Record::Open {
                user,
                salt,
                digest,
                funds,
            } => {
                let name = self.name(user);
                let a = self.accounts.entry(user.clone()).or_default();
                a.user_id = user.clone();
                a.salt = salt.clone();
                a.digest = digest.clone();
                a.pre_balance += funds;
                self.audit.cash.entry(name).or_default().0 += funds;
                Applied::State
            }
            Record::Password { user, salt, digest } => match self.accounts.get_mut(user) {
                Some(a) => {
                    a.salt = salt.clone();
                    a.digest = digest.clone();
                    Applied::State
                }
                None => Applied::Nothing,
            },
            Record::Confirm {
                user,
                day,
                date,
                time,
            } => match self.accounts.get_mut(user) {
                Some(a) => {
                    a.confirmed = Some((day.clone(), date.clone(), time.clone()));
                    Applied::State
                }
                None => Applied::Nothing,
            },
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
                *sys_id,
                *trade_id,
                *price,
                *volume,
                (*date, *time),
                (*commission, *close_profit),
            ),
            Record::Cancel { sys_id, time, msg } => self.apply_cancel(*sys_id, *time, *msg),
            Record::Roll {
                next_day,
                settlement,
                profit,
            } => {
                self.apply_roll(next_day, settlement, profit, &[]);
                Applied::State
            }
            Record::Settle {
                next_day,
                settlement,
                profit,
                expired,
            } => {
                self.apply_roll(next_day, settlement, profit, expired);
                Applied::State
            }
        }
    }

    fn apply_insert(&mut self, r: &InsertRecord) -> Applied {
        let Some(inst) = self.resolve_instrument(&r.instrument) else {
            self.audit.mismatches.push(format!(
                "order {} is for {}, which the product table does not list",
                r.sys_id, r.instrument
            ));
            return Applied::Nothing;
        };
        let is_open = r.offset == code::OPEN;
        if self.orders.last().is_some_and(|o| o.sys_id >= r.sys_id) {
            self.audit.mismatches.push(format!(
                "order {} is journaled after order {}",
                r.sys_id,
                self.orders.last().map_or(0, |o| o.sys_id)
            ));
            return Applied::Nothing;
        }
        self.next_sys_id = self.next_sys_id.max(r.sys_id);
        self.next_broker_seq = self.next_broker_seq.max(r.broker_seq);
        if !self.accounts.contains_key(&r.user) {
            return Applied::Nothing;
        }
        let user = self.name(&r.user);
        self.sequence += 2;
        let o = OrderState {
            user,
            order_ref: r.order_ref.as_str().into(),
            sys_id: r.sys_id,
            limit_price: r.limit_price,
            margin_per_lot: r.margin_per_lot,
            commission_per_lot: r.commission_per_lot,
            inst: inst as u32,
            front_id: r.front_id,
            session_id: r.session_id,
            request_id: r.request_id,
            volume: r.volume,
            min_volume: r.min_volume,
            remaining: r.volume,
            traded: 0,
            broker_seq: r.broker_seq,
            sequence_no: self.sequence,
            notify_sequence: 1,
            plan: r.plan,
            insert_date: r.date,
            insert_time: r.time,
            update_time: r.time,
            cancel_time: Stamp::default(),
            direction: r.direction,
            offset: r.offset,
            hedge: r.hedge,
            price_type: r.price_type,
            time_condition: r.time_condition,
            volume_condition: r.volume_condition,
            status: code::NO_TRADE_QUEUEING,
            msg: StatusMsg::NoTrade,
        };
        let side = o.side();
        let Some(account) = self.accounts.get_mut(&r.user) else {
            return Applied::Nothing;
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
        let idx = self.orders.len();
        self.by_ref
            .insert((r.front_id, r.session_id, o.order_ref.clone()), idx as u32);
        self.resting[inst].insert(idx as u32);
        self.orders.push(o);
        Applied::Insert(idx)
    }

    fn apply_fill(
        &mut self,
        sys_id: u64,
        trade_id: u64,
        price: f64,
        volume: i32,
        (date, time): (Stamp, Stamp),
        (journaled_commission, journaled_close_profit): (f64, f64),
    ) -> Applied {
        let Some(idx) = self.order_by_sys_id(sys_id) else {
            self.audit
                .mismatches
                .push(format!("fill {trade_id} of unknown order {sys_id}"));
            return Applied::Nothing;
        };
        self.next_trade_id = self.next_trade_id.max(trade_id);
        let volume = volume.min(self.orders[idx].remaining);
        if volume <= 0 || self.orders[idx].is_final() {
            // A fill decided for an order that has traded or gone since: nothing to do.
            return Applied::Nothing;
        }
        let seq = self.next_seq();
        let o = &mut self.orders[idx];
        let inst = o.inst();
        let side = o.side();
        let spec: Arc<InstrumentSpec> = self.instruments.get(inst).clone();
        let Some(account) = self.accounts.get_mut(&*o.user) else {
            return Applied::Nothing;
        };
        let (commission, close_profit, offset) = if o.is_open() {
            account.frozen_margin -= o.margin_per_lot * f64::from(volume);
            account.frozen_commission -= o.commission_per_lot * f64::from(volume);
            let commission = spec.open_commission.of(price, volume, spec.multiple);
            let margin = margin_per_lot(&spec, side, price);
            let p = account.position_mut(inst, side);
            p.frozen_open -= volume;
            p.lots.push_back(Lot {
                trade_id: pad(trade_id),
                open_date: self.trading_day.clone(),
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
            let p = account.position_mut(inst, side);
            p.frozen_close.today -= split.today;
            p.frozen_close.yesterday -= split.yesterday;
            let closed = p.close(split, price, side, &self.trading_day, spec.multiple);
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
            (commission, closed.profit_by_date, o.offset)
        };
        account.commission += commission;
        let cash = self.audit.cash.entry(o.user.clone()).or_default();
        cash.1 += commission;
        cash.2 += close_profit;
        let net = self
            .audit
            .net
            .entry((o.user.clone(), inst, side))
            .or_default();
        *net += if o.is_open() {
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
        o.traded += volume;
        o.update_time = time;
        o.sequence_no = seq;
        o.notify_sequence += 1;
        if o.remaining == 0 {
            o.status = code::ALL_TRADED;
            o.msg = StatusMsg::AllTraded;
            self.resting[inst].remove(&(idx as u32));
        } else {
            o.status = code::PART_TRADED_QUEUEING;
            o.msg = StatusMsg::PartTraded;
        }
        let trade = self.trades.len();
        self.trades.push(TradeState {
            order: idx as u32,
            trade_id,
            price,
            volume,
            sequence_no: seq,
            offset,
            date,
            time,
        });
        Applied::Fill { order: idx, trade }
    }

    fn apply_cancel(&mut self, sys_id: u64, time: Stamp, msg: StatusMsg) -> Applied {
        let Some(idx) = self.order_by_sys_id(sys_id) else {
            return Applied::Nothing;
        };
        if self.orders[idx].is_final() {
            return Applied::Nothing;
        }
        let seq = self.next_seq();
        let o = &mut self.orders[idx];
        let left = o.remaining;
        let (inst, side) = (o.inst(), o.side());
        if let Some(account) = self.accounts.get_mut(&*o.user) {
            account.frozen_commission -= o.commission_per_lot * f64::from(left);
            if o.is_open() {
                account.frozen_margin -= o.margin_per_lot * f64::from(left);
                account.position_mut(inst, side).frozen_open -= left;
            } else {
                let p = account.position_mut(inst, side);
                p.frozen_close.today -= o.plan.today;
                p.frozen_close.yesterday -= o.plan.yesterday;
                o.plan = Default::default();
            }
        }
        o.remaining = 0;
        o.status = code::CANCELED;
        o.cancel_time = time;
        o.update_time = time;
        o.msg = msg;
        o.sequence_no = seq;
        o.notify_sequence += 1;
        self.resting[inst].remove(&(idx as u32));
        Applied::Cancel(idx)
    }

    /// Ends the day: positions are marked to `settlement`, the next day's contracts
    /// are listed, and positions in `expired` contracts are closed at that price.
    fn apply_roll(
        &mut self,
        next_day: &str,
        settlement: &[(String, f64)],
        profit: &[(String, f64)],
        expired: &[String],
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
            let name = match self.names.get(&account.user_id) {
                Some(n) => n.clone(),
                None => Arc::from(account.user_id.as_str()),
            };
            self.audit.cash.entry(name).or_default().3 += settled;
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
        self.start_quotes(&prices);
        self.roll_listing(expired);
        self.orders = Vec::new();
        self.by_ref = HashMap::new();
        self.trades = Vec::new();
        for r in &mut self.resting {
            r.clear();
        }
    }

    /// Starts the day's market at these settlement prices (indexed like the instrument
    /// table); each quote keeps its share of the product's activity.
    pub(super) fn start_quotes(&mut self, prices: &[f64]) {
        let mut quotes = Vec::with_capacity(self.quotes.len());
        for (i, s) in self.instruments.all().iter().enumerate() {
            let mut q = Quote::new(s.clone(), prices[i], Some(prices[i]), &mut self.rng);
            if let Some(old) = self.quotes.get(i) {
                q.activity = old.activity;
            }
            quotes.push(q);
        }
        self.quotes = quotes;
    }

    /// What clients are told of an applied change.
    pub fn pushes(&self, applied: Applied) -> Vec<Push> {
        let day = &self.trading_day;
        let spec = |o: &OrderState| self.instruments.get(o.inst());
        match applied {
            Applied::Insert(i) => {
                let o = &self.orders[i];
                vec![
                    Push::Order(Box::new(o.to_submitted(spec(o), day))),
                    Push::Order(Box::new(o.to_order(spec(o), day))),
                ]
            }
            Applied::Fill { order, trade } => {
                let o = &self.orders[order];
                vec![
                    Push::Order(Box::new(o.to_order(spec(o), day))),
                    Push::Trade(Box::new(self.trades[trade].to_trade(o, spec(o), day))),
                ]
            }
            Applied::Cancel(i) => {
                let o = &self.orders[i];
                vec![Push::Order(Box::new(o.to_order(spec(o), day)))]
            }
            Applied::Nothing | Applied::State => Vec::new(),
        }
    }

    /// Applies a record decided live: a fill's cost and profit are written into it so
    /// that the journal carries them for the replay check. `None` when the record
    /// changed nothing (an order that filled or went in the meantime): then there is
    /// nothing to journal or tell.
    pub fn apply_live(&mut self, mut rec: Record) -> Option<Live> {
        self.last_fill_cost = None;
        let applied = self.apply(&rec);
        if applied == Applied::Nothing {
            return None;
        }
        if let Record::Fill {
            commission,
            close_profit,
            ..
        } = &mut rec
        {
            let (c, p) = self.last_fill_cost.take()?;
            *commission = c;
            *close_profit = p;
        }
        let user = match applied {
            Applied::Insert(i) | Applied::Fill { order: i, .. } | Applied::Cancel(i) => {
                Some(self.orders[i].user.clone())
            }
            Applied::Nothing | Applied::State => None,
        };
        Some(Live {
            record: rec,
            pushes: self.pushes(applied),
            user,
        })
    }

    /// Checks the rebuilt state against the journal's own totals: positions against
    /// the sum of fills, funds against the sum of their movements.
    pub fn verify(&self) -> Result<(), String> {
        let mut problems = self.audit.mismatches.clone();
        for a in self.accounts.values() {
            let (funds, commission, close_profit, settled) = self
                .audit
                .cash
                .get(a.user_id.as_str())
                .copied()
                .unwrap_or_default();
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
                .get(&**user)
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
                let key = (Arc::from(a.user_id.as_str()), *inst, *side);
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

//! The exchange's state and its one way of changing: [`Record`]s.
//!
//! Every change — an account opened, an order accepted, a fill, a cancel, the end of a
//! trading day — is a record. The live path decides a record (`decide.rs`), applies it
//! and journals it; a restart replays the journal through the same [`Exchange::apply`],
//! so the state after a crash is exactly the state the clients were told about. The
//! replay builds no CTP structs: [`Exchange::pushes`] makes them for the live path.
//!
//! Here: the state and [`Exchange::apply`], which hands each record to [`orders`]
//! (insert, fill, cancel) or [`day_end`] (settlement, the next day's listing);
//! [`audit`] checks a replayed state against the journal's own totals.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

// FxHash (rustc-hash) for the exchange's own keys — IDs it hands out, account names —
// that a replay hashes a million times; keys a client picks (OrderRef) keep SipHash.
use rustc_hash::FxHashMap as FastMap;

use super::account::Account;
use super::instruments::InstrumentTable;
use super::market::Quote;
pub use super::orders::code;
use super::orders::{OrderState, TradeState};
use super::products::ProductTable;
pub use super::record::{InsertRecord, Record, Stamp, StatusMsg, pad};
use super::rng::Rng;
use super::sessions::SessionsMode;
use webctp_protocol::fields::{Order, Trade};

mod audit;
mod day_end;
mod orders;

pub use audit::Audit;

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
}

//! The exchange between two trading days — accounts, positions, counters and the
//! settlement prices — as the ledger's snapshot keeps it. After a day's end there are
//! no orders, so this is the whole state: a restart reads it and replays only the
//! current day's journal.

use serde::{Deserialize, Serialize};

use super::account::{Account, Position, Side};
use super::exchange::Exchange;
use super::instruments::{self, INSTRUMENTS};
use super::ledger::Replay;
use super::record::Record;

/// One position, keyed by instrument ID (indexes change between versions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionState {
    pub instrument: String,
    pub side: Side,
    #[serde(flatten)]
    pub position: Position,
}

/// One account with its positions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountState {
    #[serde(flatten)]
    pub account: Account,
    pub positions: Vec<PositionState>,
}

/// The exchange's state at the start of a trading day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayState {
    pub trading_day: String,
    pub next_sys_id: u64,
    pub next_trade_id: u64,
    pub next_broker_seq: i32,
    pub sequence: i32,
    /// The day's pre-settlement prices, where the market starts.
    pub settlement: Vec<(String, f64)>,
    pub accounts: Vec<AccountState>,
}

impl Replay for Exchange {
    fn restore(&mut self, s: &DayState) -> Result<(), String> {
        self.trading_day = s.trading_day.clone();
        self.next_sys_id = s.next_sys_id;
        self.next_trade_id = s.next_trade_id;
        self.next_broker_seq = s.next_broker_seq;
        self.sequence = s.sequence;
        let mut prices: Vec<f64> = INSTRUMENTS.iter().map(|i| i.pre_settlement).collect();
        for (id, p) in &s.settlement {
            if let Some(i) = instruments::index_of(id) {
                prices[i] = *p;
            }
        }
        self.start_quotes(&prices);
        self.accounts.clear();
        self.audit = Default::default();
        for a in &s.accounts {
            let mut account = a.account.clone();
            let name = self.name(&account.user_id);
            for p in &a.positions {
                let inst = instruments::index_of(&p.instrument).ok_or_else(|| {
                    format!(
                        "{} holds a position in {}, which this version does not list",
                        account.user_id, p.instrument
                    )
                })?;
                let total = i64::from(p.position.total());
                if total != 0 {
                    self.audit.net.insert((name.clone(), inst, p.side), total);
                }
                account.positions.insert((inst, p.side), p.position.clone());
            }
            let cash = self.audit.cash.entry(name).or_default();
            *cash = (
                account.pre_balance + account.deposit - account.withdraw,
                account.commission,
                account.close_profit,
                0.0,
            );
            self.accounts.insert(account.user_id.clone(), account);
        }
        Ok(())
    }

    fn apply(&mut self, rec: &Record) {
        Exchange::apply(self, rec);
    }

    fn reserve(&mut self, bytes: u64) {
        // An order takes over 100 bytes of journal, a trade over 60; capacity that is
        // never filled is never touched, so it costs address space, not memory.
        let orders = (bytes / 100) as usize;
        self.orders.reserve(orders);
        self.by_ref.reserve(orders);
        self.trades.reserve((bytes / 60) as usize);
    }

    fn day_state(&self) -> DayState {
        DayState {
            trading_day: self.trading_day.clone(),
            next_sys_id: self.next_sys_id,
            next_trade_id: self.next_trade_id,
            next_broker_seq: self.next_broker_seq,
            sequence: self.sequence,
            settlement: INSTRUMENTS
                .iter()
                .zip(&self.quotes)
                .map(|(s, q)| (s.id.to_string(), q.pre_settlement))
                .collect(),
            accounts: self
                .accounts
                .values()
                .map(|a| AccountState {
                    account: a.clone(),
                    positions: a
                        .positions
                        .iter()
                        .map(|((inst, side), p)| PositionState {
                            instrument: INSTRUMENTS[*inst].id.to_string(),
                            side: *side,
                            position: p.clone(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    fn verify(&self) -> Result<(), String> {
        Exchange::verify(self)
    }

    fn summary(&self) -> super::ledger::StateSummary {
        super::ledger::StateSummary {
            trading_day: self.trading_day.clone(),
            accounts: self.accounts.keys().cloned().collect(),
            orders: self.orders.len() as u64,
            trades: self.trades.len() as u64,
        }
    }
}

//! The exchange between two trading days — accounts, positions, counters, the
//! instruments of the day and their settlement prices — as the ledger's snapshot keeps
//! it. After a day's end there are no orders, so this is the whole state: a restart
//! reads it and replays only the current day's journal.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::account::{Account, Position, Side};
use super::exchange::Exchange;
use super::instruments::{InstrumentSpec, InstrumentTable};
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
    /// The instruments listed on the day or held in a position, in the table's order
    /// (an option after its underlying), as they were listed: an option's strike,
    /// premium and limits depend on the prices of the day it was listed, so they are
    /// kept rather than worked out again. Empty in a snapshot written before the
    /// product table: the day is then listed afresh.
    #[serde(default)]
    pub instruments: Vec<InstrumentSpec>,
}

impl Replay for Exchange {
    fn restore(&mut self, s: &DayState) -> Result<(), String> {
        self.trading_day = s.trading_day.clone();
        self.next_sys_id = s.next_sys_id;
        self.next_trade_id = s.next_trade_id;
        self.next_broker_seq = s.next_broker_seq;
        self.sequence = s.sequence;
        self.restore_instruments(s)?;
        self.accounts.clear();
        self.audit = Default::default();
        for a in &s.accounts {
            let mut account = a.account.clone();
            let name = self.name(&account.user_id);
            for p in &a.positions {
                let inst = self.instruments.index_of(&p.instrument).ok_or_else(|| {
                    format!(
                        "{} holds a position in {}, which the product table does not list",
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
        let kept = self.kept_instruments();
        DayState {
            trading_day: self.trading_day.clone(),
            next_sys_id: self.next_sys_id,
            next_trade_id: self.next_trade_id,
            next_broker_seq: self.next_broker_seq,
            sequence: self.sequence,
            settlement: kept
                .iter()
                .map(|&i| {
                    (
                        self.instruments.get(i).id.clone(),
                        self.quotes[i].pre_settlement,
                    )
                })
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
                            instrument: self.instruments.get(*inst).id.clone(),
                            side: *side,
                            position: p.clone(),
                        })
                        .collect(),
                })
                .collect(),
            instruments: kept
                .iter()
                .map(|&i| InstrumentSpec::clone(self.instruments.get(i)))
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

impl Exchange {
    /// What a snapshot keeps of the instrument table, in its order: the listed
    /// instruments, the held ones, and the underlyings of the options among them.
    fn kept_instruments(&self) -> Vec<usize> {
        let table = &self.instruments;
        let mut kept: BTreeSet<usize> = table.listed().map(|(i, _)| i).collect();
        kept.extend(
            self.accounts
                .values()
                .flat_map(|a| a.positions.keys().map(|(i, _)| *i)),
        );
        let underlyings: Vec<usize> = kept
            .iter()
            .filter_map(|&i| table.get(i).option.as_ref().map(|o| o.underlying))
            .collect();
        kept.extend(underlyings);
        kept.into_iter().collect()
    }

    /// Rebuilds the instrument table and the quotes of a snapshot's day: the kept
    /// instruments first (same specs, same order), then the day's listing, which adds
    /// what the product table lists besides (everything, for a snapshot written before
    /// the product table), then the held contracts the table no longer lists.
    fn restore_instruments(&mut self, s: &DayState) -> Result<(), String> {
        let held: HashSet<&str> = s
            .accounts
            .iter()
            .flat_map(|a| a.positions.iter().map(|p| p.instrument.as_str()))
            .collect();
        let mut table = InstrumentTable::new(self.instruments.products().clone());
        for spec in &s.instruments {
            if let Err(problem) = table.restore(spec.clone())
                && held.contains(spec.id.as_str())
            {
                return Err(format!(
                    "a position is held in {}, which cannot be restored: {problem}",
                    spec.id
                ));
            }
            // Else nobody holds it: a contract of a product the table no longer
            // lists is simply not listed any more.
        }
        let settle: HashMap<&str, f64> =
            s.settlement.iter().map(|(i, p)| (i.as_str(), *p)).collect();
        let price_of = |spec: &InstrumentSpec| {
            settle
                .get(spec.id.as_str())
                .copied()
                .unwrap_or(spec.pre_settlement)
        };
        let prices: Vec<f64> = table.all().iter().map(|s| price_of(s)).collect();
        let day = super::clock::parse_date(&s.trading_day).unwrap_or_else(|| table.day());
        table.list_for(day, &|i| prices.get(i).copied().unwrap_or(0.0));
        for id in &held {
            table.resolve(id);
        }
        self.instruments = table;
        let prices: Vec<f64> = self.instruments.all().iter().map(|s| price_of(s)).collect();
        self.quotes.clear();
        self.start_quotes(&prices);
        self.resting = vec![BTreeSet::new(); self.instruments.len()];
        self.apply_weights();
        Ok(())
    }
}

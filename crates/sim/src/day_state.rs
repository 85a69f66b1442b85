//! The exchange between two trading days — accounts, positions, counters, the
//! instruments of the day and their settlement prices — as the ledger's snapshot keeps
//! it. After a day's end there are no orders, so this is the whole state: a restart
//! reads it and replays only the current day's journal.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::account::{Account, Position, Side};
use super::error::SimError;
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
    fn restore(&mut self, s: &DayState) -> Result<(), SimError> {
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
            // Positions are keyed by instrument ID here, never by index.
            account.positions.clear();
            let name = self.name(&account.user_id);
            for p in &a.positions {
                let inst = self.instruments.index_of(&p.instrument).ok_or_else(|| {
                    SimError::UnlistedPosition {
                        user: account.user_id.clone(),
                        instrument: p.instrument.clone(),
                    }
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

    fn verify(&self) -> Result<(), SimError> {
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
    fn restore_instruments(&mut self, s: &DayState) -> Result<(), SimError> {
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
                return Err(SimError::UnrestorablePosition {
                    instrument: spec.id.clone(),
                    problem: Box::new(problem),
                });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::tests::{hold, live};
    use crate::clock::BeijingTime;
    use crate::rng::Rng;

    /// The state as the snapshot writes and reads it (JSON: indices are not kept).
    fn as_written(s: &DayState) -> serde_json::Value {
        serde_json::to_value(s).unwrap()
    }

    /// Asserts that two states are the same as written, naming the first difference
    /// (the whole state is far too long to print).
    fn assert_same(a: &DayState, b: &DayState) {
        let (a, b) = (as_written(a), as_written(b));
        for key in ["trading_day", "accounts", "settlement", "instruments"] {
            let (x, y) = (&a[key], &b[key]);
            if let (Some(x), Some(y)) = (x.as_array(), y.as_array()) {
                let at = x.iter().zip(y).position(|(x, y)| x != y);
                assert!(
                    at.is_none() && x.len() == y.len(),
                    "{key} differ at {at:?} ({} and {} entries): {:?} / {:?}",
                    x.len(),
                    y.len(),
                    at.map(|i| &x[i]),
                    at.map(|i| &y[i])
                );
            }
            assert!(x == y, "{key} differ");
        }
        assert!(a == b, "the states differ");
    }

    /// A restart after a day's end (snapshot, then today's journal) rebuilds the same
    /// instrument table — options listed on earlier days at other prices included —
    /// with the same positions, and the next day's end decides the same records.
    #[test]
    fn a_snapshot_restores_the_listing_and_the_next_day_end() {
        let now = BeijingTime::now();
        let mut ex = Exchange::new("20261214".into(), Rng::new(5));
        hold(&mut ex, "u1", "rb2612", 2);
        hold(&mut ex, "u1", "rb2705", 1);
        let option = ex
            .instruments
            .listed()
            .find(|(_, s)| s.product == "au_o")
            .map(|(_, s)| s.id.clone())
            .unwrap();
        hold(&mut ex, "u2", &option, 1);
        // Two days' ends with the market moving in between, so that strikes are
        // listed on different days around different prices; rb2612 expires at the
        // second.
        for next in ["20261215", "20261216"] {
            for _ in 0..200 {
                let listed: Vec<usize> = ex.instruments.listed().map(|(i, _)| i).collect();
                for i in listed {
                    ex.step_instrument(i);
                }
            }
            let recs = ex.decide_roll(next, &now);
            live(&mut ex, recs);
        }
        assert!(ex.instruments.find("rb2612").is_none());
        assert!(ex.accounts["u1"].settlement_text.contains("rb2612"));
        ex.verify().unwrap();
        let listed_on: BTreeSet<&str> = ex
            .instruments
            .listed()
            .filter(|(_, s)| s.product == "au_o")
            .map(|(_, s)| s.create_date.as_str())
            .collect();
        assert!(listed_on.len() > 1, "strikes listed on {listed_on:?}");

        let state = ex.day_state();
        let read: DayState = serde_json::from_value(as_written(&state)).unwrap();
        let mut back = Exchange::new("20250102".into(), Rng::new(99));
        Replay::restore(&mut back, &read).unwrap();
        back.verify().unwrap();
        assert_same(&back.day_state(), &state);
        let listed = |e: &Exchange| -> Vec<(String, f64, f64, f64)> {
            e.instruments
                .listed()
                .map(|(i, s)| {
                    let q = &e.quotes[i];
                    (s.id.clone(), q.pre_settlement, q.upper_limit, q.lower_limit)
                })
                .collect()
        };
        assert_eq!(listed(&back), listed(&ex));
        for (i, s) in ex.instruments.listed() {
            let j = back.instruments.index_of(&s.id).unwrap();
            assert_eq!(
                serde_json::to_value(&**back.instruments.get(j)).unwrap(),
                serde_json::to_value(&**s).unwrap()
            );
            assert_eq!(back.quotes[j].activity, ex.quotes[i].activity, "{}", s.id);
        }

        // The next day's end is the same from both.
        let a = ex.decide_roll("20261217", &now);
        let b = back.decide_roll("20261217", &now);
        assert_eq!(a, b);
        live(&mut ex, a);
        live(&mut back, b);
        assert_same(&back.day_state(), &ex.day_state());
        assert_eq!(listed(&back), listed(&ex));
        back.verify().unwrap();
    }

    /// A snapshot written before the product table (no instruments, positions in
    /// contracts such as rb2605) lists the day afresh and keeps the positions, unlisted.
    #[test]
    fn a_snapshot_without_instruments_lists_the_day_and_keeps_old_contracts() {
        let mut ex = Exchange::new("20251203".into(), Rng::new(5));
        hold(&mut ex, "u1", "rb2605", 1);
        let mut state = ex.day_state();
        state.trading_day = "20261127".into();
        state.instruments.clear();
        state.settlement = vec![("rb2605".into(), 3170.0)];
        let mut back = Exchange::new("20250102".into(), Rng::new(99));
        Replay::restore(&mut back, &state).unwrap();
        back.verify().unwrap();
        let rb = back.instruments.index_of("rb2605").unwrap();
        assert!(!back.instruments.is_listed(rb));
        assert_eq!(back.quotes[rb].pre_settlement, 3170.0);
        assert!(back.instruments.find("rb2701").is_some());
        assert_eq!(back.accounts["u1"].positions.len(), 1);
        // A product the table does not have is refused, naming the contract.
        state.accounts[0].positions[0].instrument = "zz2701".into();
        let err = Replay::restore(&mut back, &state).unwrap_err();
        assert!(err.to_string().contains("zz2701"), "{err}");
    }
}

//! The exchange's listing over time: contracts listed for the trading day when the
//! exchange starts and at every roll, positions in expired contracts settled (the day's
//! end decides and journals which), quotes kept in step with the instrument table,
//! sessions checked, instruments stepped.
//!
//! These are the parts of [`Exchange`] that follow the product table; the records and
//! their replay stay in `exchange.rs`.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use super::account::Side;
use super::clock;
use super::exchange::Exchange;
use super::instruments::InstrumentTable;
use super::market::Quote;
use super::options;
use super::sessions;

/// Open interest of an at-the-money option (its weight is 0.05).
const OPTION_OPEN_INTEREST: f64 = 40_000.0;

impl Exchange {
    /// The trading day as a day number.
    fn day_number(&self) -> i64 {
        clock::parse_date(&self.trading_day).unwrap_or_else(|| self.instruments.day())
    }

    /// Lists the contracts of the trading day from scratch (a new exchange, or the
    /// first record of a journal).
    pub(super) fn start_listing(&mut self) {
        self.instruments = InstrumentTable::new(self.instruments.products().clone());
        self.quotes.clear();
        self.resting.clear();
        let day = self.day_number();
        self.instruments.list_for(day, &|_| 0.0);
        self.ensure_quotes();
        self.apply_weights();
    }

    /// After a roll: lists the new day's contracts, priced from the settled ones, and
    /// settles positions in the `expired` contracts that the day's end journaled (at
    /// the settlement price they were just marked to: nothing more to pay, the margin
    /// is released). A contract that is unlisted but not in `expired` stays held (a
    /// day's end written by an earlier webctp expired nothing); the next day's end
    /// settles it.
    pub(super) fn roll_listing(&mut self, expired: &[String]) {
        let day = self.day_number();
        let last: Vec<f64> = self.quotes.iter().map(|q| q.last).collect();
        self.instruments
            .list_for(day, &|i| last.get(i).copied().unwrap_or(0.0));
        self.ensure_quotes();
        self.apply_weights();
        let table = &self.instruments;
        let expired: HashSet<usize> = expired.iter().filter_map(|id| table.index_of(id)).collect();
        for account in self.accounts.values_mut() {
            let expired: Vec<(usize, Side)> = account
                .positions
                .keys()
                .filter(|(i, _)| expired.contains(i))
                .copied()
                .collect();
            for key in expired {
                let Some(p) = account.positions.remove(&key) else {
                    continue;
                };
                let held = p.total();
                if held > 0 {
                    let spec = table.get(key.0);
                    let price = p.lots.front().map_or(0.0, |l| l.ref_price);
                    account.settlement_text.push_str(&format!(
                        "到期了结 Expired: {} {} {held} 手 lots @ {price}\n",
                        spec.id,
                        match key.1 {
                            Side::Long => "多 long",
                            Side::Short => "空 short",
                        },
                    ));
                }
                let name: Arc<str> = Arc::from(account.user_id.as_str());
                self.audit.net.remove(&(name, key.0, key.1));
            }
            account.pre_margin = account.curr_margin();
        }
    }

    /// The contracts held in some account that `next_day` does not list: at the day's
    /// end their positions are closed at the settlement price. Worked out on a copy of
    /// the table listed for `next_day` at the settlement `prices`, as the roll will.
    pub(super) fn expiring(&self, next_day: &str, prices: &[f64]) -> Vec<String> {
        let held: BTreeSet<usize> = self
            .accounts
            .values()
            .flat_map(|a| a.positions.iter())
            .filter(|(_, p)| p.total() > 0)
            .map(|((i, _), _)| *i)
            .collect();
        if held.is_empty() {
            return Vec::new();
        }
        let Some(day) = clock::parse_date(next_day) else {
            return Vec::new();
        };
        let mut next = self.instruments.clone();
        next.list_for(day, &|i| prices.get(i).copied().unwrap_or(0.0));
        held.into_iter()
            .filter(|&i| !next.is_listed(i))
            .map(|i| self.instruments.get(i).id.clone())
            .collect()
    }

    /// The index of an instrument a record names, adding it (unlisted) if it was listed
    /// on another day.
    pub(super) fn resolve_instrument(&mut self, id: &str) -> Option<usize> {
        let i = self.instruments.resolve(id)?;
        self.ensure_quotes();
        Some(i)
    }

    /// Gives every instrument of the table a quote and a resting-order queue.
    fn ensure_quotes(&mut self) {
        for i in self.quotes.len()..self.instruments.len() {
            let spec = self.instruments.get(i).clone();
            let pre = spec.pre_settlement;
            self.quotes.push(Quote::new(spec, pre, None, &mut self.rng));
        }
        self.resting
            .resize(self.instruments.len(), std::collections::BTreeSet::new());
    }

    /// Volume and open interest follow each contract's share of its product.
    pub(super) fn apply_weights(&mut self) {
        let table = &self.instruments;
        for (i, spec) in table.listed() {
            let base = if spec.option.is_some() {
                OPTION_OPEN_INTEREST
            } else {
                table.product_of(i).open_interest
            };
            self.quotes[i].set_activity(table.weight(i), base);
        }
    }

    /// The prices that settle the day: each listed or held instrument at its last price,
    /// an option expiring today at its intrinsic value on the underlying's last price.
    /// Returns the journal's list and the prices of the whole table.
    pub(super) fn settlement_prices(&self) -> (Vec<(String, f64)>, Vec<f64>) {
        let today = self.day_number();
        let held: std::collections::HashSet<usize> = self
            .accounts
            .values()
            .flat_map(|a| a.positions.keys().map(|(i, _)| *i))
            .collect();
        let mut list = Vec::new();
        let mut prices = Vec::with_capacity(self.quotes.len());
        for (i, q) in self.quotes.iter().enumerate() {
            let mut price = q.last;
            if let Some(o) = &q.spec.option
                && o.expiry <= today
            {
                let f = self.quotes[o.underlying].last;
                let value = options::black76(o.call, f, o.strike, 0.0, o.vol, 0.0);
                price = q.spec.round_to_tick(value);
            }
            if self.instruments.is_listed(i) || held.contains(&i) {
                list.push((q.spec.id.clone(), price));
            }
            prices.push(price);
        }
        (list, prices)
    }

    /// Whether instrument `inst` takes orders at `now` (its sessions, in
    /// `Sessions: exchange` mode).
    pub fn is_open(&self, inst: usize, now: &clock::BeijingTime) -> bool {
        let spec = self.instruments.get(inst);
        sessions::is_open(
            self.sessions,
            self.instruments.products(),
            spec.product_index,
            now,
        )
    }

    /// Moves instrument `i`'s market one step (an option to its value on the
    /// underlying's current price).
    pub fn step_instrument(&mut self, i: usize) {
        let today = self.instruments.day();
        let Exchange { quotes, rng, .. } = self;
        match quotes[i].spec.option.as_ref().map(|o| o.underlying) {
            Some(u) => {
                let f = quotes[u].last;
                quotes[i].step_option(f, today, rng);
            }
            None => quotes[i].step(rng),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::exchange::{InsertRecord, Origin, Record, Stamp, code};
    use crate::rng::Rng;
    use webctp_protocol::CtpChar;
    use webctp_protocol::errors::ctp;
    use webctp_protocol::fields::InputOrder;

    /// Applies decided records as the live path does; returns what it journals.
    pub(crate) fn live(ex: &mut Exchange, recs: Vec<Record>) -> Vec<Record> {
        recs.into_iter()
            .filter_map(|r| ex.apply_live(r))
            .map(|l| l.record)
            .collect()
    }

    /// An order of `user` for `volume` lots of `id` at the price limit on the side of
    /// `direction`, as a client would send it.
    fn input(id: &str, direction: u8, offset: &str, price: f64, volume: i32) -> InputOrder {
        InputOrder {
            InstrumentID: id.into(),
            Direction: CtpChar(direction),
            CombOffsetFlag: offset.into(),
            OrderPriceType: CtpChar(code::LIMIT_PRICE),
            LimitPrice: price,
            VolumeTotalOriginal: volume,
            TimeCondition: CtpChar(code::GFD),
            VolumeCondition: CtpChar(code::ANY_VOLUME),
            ..InputOrder::default()
        }
    }

    /// Buys `volume` lots of `id` for `user` through the live path (the account opened
    /// and the day confirmed as needed); returns the journaled records.
    pub(crate) fn hold(ex: &mut Exchange, user: &str, id: &str, volume: i32) -> Vec<Record> {
        let now = clock::BeijingTime::now();
        let mut journal = Vec::new();
        if !ex.accounts.contains_key(user) {
            journal.push(ex.open_account(user, "pw", 50_000_000.0));
        }
        let confirm = Record::Confirm {
            user: user.into(),
            day: ex.trading_day.clone(),
            date: ex.trading_day.clone(),
            time: "09:00:00".into(),
        };
        journal.extend(live(ex, vec![confirm]));
        let i = ex.instruments.listed_index(id).unwrap();
        let order_ref = (ex.orders.len() + 1).to_string();
        let origin = Origin {
            user,
            front_id: 1,
            session_id: 1,
            order_ref: &order_ref,
        };
        let buy = input(id, code::BUY, "0", ex.quotes[i].upper_limit, volume);
        let recs = ex.decide_insert(&origin, &buy, 1, &now).unwrap();
        journal.extend(live(ex, recs));
        let fills = ex.decide_match(ex.orders.len() - 1, &now);
        journal.extend(live(ex, fills));
        assert_eq!(ex.orders.last().unwrap().remaining, 0, "{id} did not fill");
        journal
    }

    fn held(ex: &Exchange, user: &str, id: &str) -> i32 {
        ex.accounts[user]
            .positions
            .iter()
            .filter(|((i, _), _)| ex.instruments.get(*i).id == id)
            .map(|(_, p)| p.total())
            .sum()
    }

    /// A journal written before contracts expired ended its days with `Roll`, which
    /// expires nothing: replaying it keeps a position in a contract that is no longer
    /// listed (as the webctp that wrote it did), and the next day's end settles it.
    #[test]
    fn a_day_end_of_an_earlier_webctp_expires_nothing_and_the_next_one_does() {
        let now = clock::BeijingTime::now();
        let mut ex = Exchange::new("20261215".into(), Rng::new(5));
        let mut journal = hold(&mut ex, "u1", "rb2612", 2);
        let Some(Record::Settle {
            next_day,
            settlement,
            profit,
            expired,
        }) = ex.decide_roll("20261216", &now).pop()
        else {
            panic!("a day's end is a Settle record");
        };
        assert_eq!(expired, ["rb2612"]);
        let roll = Record::Roll {
            next_day,
            settlement,
            profit,
        };
        journal.extend(live(&mut ex, vec![roll]));
        assert!(ex.instruments.find("rb2612").is_none());
        assert_eq!(held(&ex, "u1", "rb2612"), 2);
        ex.verify().unwrap();
        // It cannot be traded any more...
        let confirm = Record::Confirm {
            user: "u1".into(),
            day: "20261216".into(),
            date: "20261216".into(),
            time: "09:00:00".into(),
        };
        journal.extend(live(&mut ex, vec![confirm]));
        let origin = Origin {
            user: "u1",
            front_id: 1,
            session_id: 1,
            order_ref: "99",
        };
        let sell = input("rb2612", code::SELL, "4", 3000.0, 1);
        assert_eq!(
            ex.decide_insert(&origin, &sell, 1, &now).err(),
            Some(ctp::INSTRUMENT_NOT_FOUND)
        );
        // ...and the next day's end settles it.
        let recs = ex.decide_roll("20261217", &now);
        assert!(
            matches!(recs.last(), Some(Record::Settle { expired, .. }) if expired == &["rb2612"])
        );
        journal.extend(live(&mut ex, recs));
        assert_eq!(held(&ex, "u1", "rb2612"), 0);
        assert!(
            ex.accounts["u1"]
                .settlement_text
                .contains("到期了结 Expired: rb2612 多 long 2 手")
        );
        ex.verify().unwrap();
        // The journal replays to the same account.
        let mut again = Exchange::new("20261215".into(), Rng::new(77));
        for r in &journal {
            again.apply(r);
        }
        again.verify().unwrap();
        assert_eq!(again.accounts, ex.accounts);
    }

    #[test]
    fn a_roll_lists_new_months_and_settles_expired_positions() {
        let mut ex = Exchange::new("20261215".into(), Rng::new(5));
        let rb = ex.instruments.listed_index("rb2612").unwrap();
        assert!(ex.instruments.find("rb2712").is_none());
        let mut journal = vec![ex.open_account("u1", "pw", 1_000_000.0)];
        let price = ex.quotes[rb].last;
        let insert = InsertRecord {
            user: "u1".into(),
            instrument: "rb2612".into(),
            direction: code::BUY,
            offset: code::OPEN,
            price_type: code::LIMIT_PRICE,
            limit_price: price,
            volume: 2,
            time_condition: code::GFD,
            volume_condition: code::ANY_VOLUME,
            min_volume: 0,
            hedge: code::SPECULATION,
            order_ref: "1".into(),
            front_id: 1,
            session_id: 1,
            request_id: 0,
            sys_id: 1,
            date: Stamp::new("20261215"),
            time: Stamp::new("09:30:00"),
            broker_seq: 1,
            plan: Default::default(),
            margin_per_lot: 3_500.0,
            commission_per_lot: 4.0,
        };
        journal.extend(live(&mut ex, vec![Record::Insert(Box::new(insert))]));
        let fill = Record::Fill {
            sys_id: 1,
            trade_id: 1,
            price,
            volume: 2,
            date: Stamp::new("20261215"),
            time: Stamp::new("09:30:01"),
            commission: f64::NAN,
            close_profit: f64::NAN,
        };
        journal.extend(live(&mut ex, vec![fill]));
        assert!(ex.accounts["u1"].curr_margin() > 0.0);
        let now = clock::BeijingTime::now();
        let recs = ex.decide_roll("20261216", &now);
        // The day's end names what expires, so a replay does the same.
        assert!(
            matches!(recs.last(), Some(Record::Settle { expired, .. }) if expired == &["rb2612"])
        );
        journal.extend(live(&mut ex, recs));
        // rb2612 expired on the 15th: delisted, the position settled and gone.
        assert!(ex.instruments.find("rb2612").is_none());
        assert!(ex.instruments.find("rb2712").is_some());
        let a = &ex.accounts["u1"];
        assert!(a.positions.is_empty());
        assert_eq!(a.curr_margin(), 0.0);
        assert!(a.settlement_text.contains("rb2612"));
        ex.verify().unwrap();
        let mut again = Exchange::new("20261215".into(), Rng::new(6));
        for r in &journal {
            again.apply(r);
        }
        again.verify().unwrap();
        assert_eq!(again.accounts, ex.accounts);
        // The new month starts at the price of the furthest one listed before.
        let rb2711 = ex.instruments.index_of("rb2711").unwrap();
        let rb2712 = ex.instruments.index_of("rb2712").unwrap();
        assert_eq!(
            ex.quotes[rb2712].pre_settlement,
            ex.quotes[rb2711].pre_settlement
        );
    }

    #[test]
    fn option_chains_bracket_the_underlying_and_keep_parity() {
        let ex = Exchange::new("20261125".into(), Rng::new(9));
        let rate = ex.instruments.products().risk_free_rate;
        let today = clock::parse_date("20261125").unwrap();
        for product in ["au_o", "cu_o", "m_o", "SR_o", "IO"] {
            // Group each product's options by underlying and month.
            let mut chains: std::collections::BTreeMap<(usize, i32), Vec<usize>> =
                Default::default();
            for (i, s) in ex.instruments.listed() {
                if s.product == product {
                    let o = s.option.as_ref().unwrap();
                    chains
                        .entry((o.underlying, s.delivery_month))
                        .or_default()
                        .push(i);
                }
            }
            assert!(chains.len() >= 3, "{product}: {} months", chains.len());
            for ((u, _), idx) in chains {
                let f = ex.quotes[u].last;
                let mut strikes: Vec<(f64, f64, f64, f64)> = Vec::new();
                for &i in &idx {
                    let o = ex.instruments.get(i).option.clone().unwrap();
                    if !o.call {
                        continue;
                    }
                    let put = idx
                        .iter()
                        .find(|&&j| {
                            let p = ex.instruments.get(j).option.clone().unwrap();
                            !p.call && p.strike == o.strike
                        })
                        .copied()
                        .unwrap();
                    let t = options::years_to(o.expiry, today);
                    strikes.push((o.strike, ex.quotes[i].last, ex.quotes[put].last, t));
                }
                strikes.sort_by(|a, b| a.0.total_cmp(&b.0));
                let tick = ex.instruments.get(idx[0]).price_tick;
                assert!(strikes.first().unwrap().0 < f && strikes.last().unwrap().0 > f);
                for w in strikes.windows(2) {
                    assert!(w[1].1 <= w[0].1, "{product}: calls fall with the strike");
                    assert!(w[1].2 >= w[0].2, "{product}: puts rise with the strike");
                }
                for (k, c, p, t) in strikes {
                    let parity = (-rate * t).exp() * (f - k);
                    assert!(
                        (c - p - parity).abs() <= tick + 1e-9,
                        "{product} K={k}: C={c} P={p} F={f}"
                    );
                }
            }
        }
    }
}

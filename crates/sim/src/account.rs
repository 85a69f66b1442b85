//! Accounts of the simulated exchange: funds and positions, with CTP's bookkeeping
//! (today/yesterday split, margin and commission frozen on insert and used on fill,
//! close profit and position profit marked to the market).

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::instruments::{InstrumentSpec, InstrumentTable};
use super::market::Quote;

/// Where positions are marked: the price and multiple of an instrument.
pub trait Marks {
    fn mark(&self, instrument: usize) -> (f64, i32);
}

/// The current quotes.
impl Marks for [Quote] {
    fn mark(&self, instrument: usize) -> (f64, i32) {
        self.get(instrument)
            .map_or((0.0, 0), |q| (q.last, q.spec.multiple))
    }
}

/// Settlement prices, indexed like the instrument table.
pub struct PriceMarks<'a> {
    pub prices: &'a [f64],
    pub table: &'a InstrumentTable,
}

impl Marks for PriceMarks<'_> {
    fn mark(&self, instrument: usize) -> (f64, i32) {
        let price = self.prices.get(instrument).copied().unwrap_or(0.0);
        (price, self.table.get(instrument).multiple)
    }
}

/// Long or short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Side {
    Long,
    Short,
}

impl Side {
    /// +1 for long, -1 for short: the sign of a price move's profit.
    pub fn sign(self) -> f64 {
        match self {
            Side::Long => 1.0,
            Side::Short => -1.0,
        }
    }

    /// CTP's PosiDirection code.
    pub fn posi_direction(self) -> u8 {
        match self {
            Side::Long => b'2',
            Side::Short => b'3',
        }
    }

    /// CTP's Direction code of the trade that opens this side.
    pub fn open_direction(self) -> u8 {
        match self {
            Side::Long => b'0',
            Side::Short => b'1',
        }
    }
}

/// Lots opened by one trade, still held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lot {
    pub trade_id: String,
    pub open_date: String,
    pub open_price: f64,
    /// The price profit is measured from: the open price on the day of opening, the
    /// settlement price after each day.
    pub ref_price: f64,
    pub volume: i32,
    /// Margin held per lot.
    pub margin: f64,
}

/// Which lots a close takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CloseFrom {
    /// CloseToday on SHFE/INE.
    Today,
    /// Close/CloseYesterday on SHFE/INE.
    Yesterday,
    /// Elsewhere: today's lots first, then yesterday's.
    TodayFirst,
}

/// A close split into today's and yesterday's volume.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseSplit {
    pub today: i32,
    pub yesterday: i32,
}

impl CloseSplit {
    pub fn total(&self) -> i32 {
        self.today + self.yesterday
    }

    /// Takes `v` lots off the split, today's first; returns what was taken.
    pub fn take(&mut self, v: i32) -> CloseSplit {
        let t = v.min(self.today);
        let y = (v - t).min(self.yesterday);
        self.today -= t;
        self.yesterday -= y;
        CloseSplit {
            today: t,
            yesterday: y,
        }
    }
}

/// What closing some lots realized.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Closed {
    pub profit_by_date: f64,
    pub profit_by_trade: f64,
    pub margin: f64,
    pub today: i32,
    pub yesterday: i32,
}

/// One direction of one instrument in one account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Position {
    /// Oldest first.
    pub lots: VecDeque<Lot>,
    /// CTP's YdPosition: what was held at the start of the day (closes do not reduce it).
    pub yd_start: i32,
    /// Pending open orders in this direction.
    pub frozen_open: i32,
    /// Pending close orders against today's and yesterday's lots.
    pub frozen_close: CloseSplit,
    pub open_volume: i32,
    pub close_volume: i32,
    pub open_amount: f64,
    pub close_amount: f64,
    pub commission: f64,
    pub close_profit_by_date: f64,
    pub close_profit_by_trade: f64,
}

impl Position {
    pub fn today(&self, day: &str) -> i32 {
        self.lots
            .iter()
            .filter(|l| l.open_date == day)
            .map(|l| l.volume)
            .sum()
    }

    pub fn yesterday(&self, day: &str) -> i32 {
        self.lots
            .iter()
            .filter(|l| l.open_date != day)
            .map(|l| l.volume)
            .sum()
    }

    pub fn total(&self) -> i32 {
        self.lots.iter().map(|l| l.volume).sum()
    }

    /// Lots that pending closes have not claimed.
    pub fn closable(&self, day: &str) -> CloseSplit {
        CloseSplit {
            today: self.today(day) - self.frozen_close.today,
            yesterday: self.yesterday(day) - self.frozen_close.yesterday,
        }
    }

    pub fn margin(&self) -> f64 {
        self.lots
            .iter()
            .map(|l| l.margin * f64::from(l.volume))
            .sum()
    }

    /// Profit of the held lots at `price`, measured from each lot's reference price.
    pub fn profit_at(&self, price: f64, side: Side, multiple: i32) -> f64 {
        self.lots
            .iter()
            .map(|l| {
                (price - l.ref_price) * side.sign() * f64::from(l.volume) * f64::from(multiple)
            })
            .sum()
    }

    /// Closes `split` lots at `price` (today's and yesterday's FIFO each).
    pub fn close(
        &mut self,
        split: CloseSplit,
        price: f64,
        side: Side,
        day: &str,
        multiple: i32,
    ) -> Closed {
        let mut out = Closed::default();
        for (want_today, mut left) in [(true, split.today), (false, split.yesterday)] {
            let mut i = 0;
            while left > 0 && i < self.lots.len() {
                let lot = &mut self.lots[i];
                if (lot.open_date == day) != want_today {
                    i += 1;
                    continue;
                }
                let n = left.min(lot.volume);
                let m = f64::from(multiple) * f64::from(n) * side.sign();
                out.profit_by_date += (price - lot.ref_price) * m;
                out.profit_by_trade += (price - lot.open_price) * m;
                out.margin += lot.margin * f64::from(n);
                if want_today {
                    out.today += n;
                } else {
                    out.yesterday += n;
                }
                lot.volume -= n;
                left -= n;
                if lot.volume == 0 {
                    self.lots.remove(i);
                } else {
                    i += 1;
                }
            }
        }
        out
    }

    /// Plans which lots a close of `volume` takes; `Err` with CTP's error ID if the
    /// position cannot cover it.
    pub fn plan_close(&self, volume: i32, from: CloseFrom, day: &str) -> Result<CloseSplit, i32> {
        use webctp_protocol::errors::ctp;
        let free = self.closable(day);
        match from {
            CloseFrom::Today if volume > free.today => Err(ctp::OVER_CLOSETODAY_POSITION),
            CloseFrom::Today => Ok(CloseSplit {
                today: volume,
                yesterday: 0,
            }),
            CloseFrom::Yesterday if volume > free.yesterday => {
                Err(ctp::OVER_CLOSEYESTERDAY_POSITION)
            }
            CloseFrom::Yesterday => Ok(CloseSplit {
                today: 0,
                yesterday: volume,
            }),
            CloseFrom::TodayFirst if volume > free.total() => Err(ctp::OVER_CLOSE_POSITION),
            CloseFrom::TodayFirst => {
                let t = volume.min(free.today);
                Ok(CloseSplit {
                    today: t,
                    yesterday: volume - t,
                })
            }
        }
    }
}

/// A trading account of the sim. Serialized in the ledger's snapshots (positions
/// apart, keyed by instrument ID: see `day_state`); new fields need a default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Account {
    pub user_id: String,
    pub salt: String,
    pub digest: String,
    /// Balance at the start of the trading day (after the last settlement).
    pub pre_balance: f64,
    pub pre_margin: f64,
    pub deposit: f64,
    pub withdraw: f64,
    pub close_profit: f64,
    pub commission: f64,
    pub frozen_margin: f64,
    pub frozen_commission: f64,
    /// The trading day whose settlement was confirmed, with date and time of the confirm.
    pub confirmed: Option<(String, String, String)>,
    /// The last settlement statement, for ReqQrySettlementInfo.
    pub settlement_text: String,
    pub settlement_day: String,
    #[serde(skip)]
    pub positions: BTreeMap<(usize, Side), Position>,
}

impl Account {
    /// Margin held by all positions.
    pub fn curr_margin(&self) -> f64 {
        self.positions.values().map(Position::margin).sum()
    }

    /// Profit of all positions at the given marks.
    pub fn position_profit(&self, last: &(impl Marks + ?Sized)) -> f64 {
        self.positions
            .iter()
            .map(|((i, side), p)| {
                let (price, multiple) = last.mark(*i);
                p.profit_at(price, *side, multiple)
            })
            .sum()
    }

    /// Dynamic equity: static balance plus today's profit and loss.
    pub fn balance(&self, last: &(impl Marks + ?Sized)) -> f64 {
        self.pre_balance + self.deposit - self.withdraw
            + self.close_profit
            + self.position_profit(last)
            - self.commission
    }

    /// What new orders may use.
    pub fn available(&self, last: &(impl Marks + ?Sized)) -> f64 {
        self.balance(last) - self.curr_margin() - self.frozen_margin - self.frozen_commission
    }

    /// The position of one side, created empty if absent.
    pub fn position_mut(&mut self, instrument: usize, side: Side) -> &mut Position {
        self.positions.entry((instrument, side)).or_default()
    }

    /// Drops positions that hold nothing and have no activity today.
    pub fn prune(&mut self) {
        self.positions.retain(|_, p| {
            !p.lots.is_empty()
                || p.frozen_open > 0
                || p.frozen_close.total() > 0
                || p.open_volume > 0
                || p.close_volume > 0
        });
    }
}

/// Margin of one lot at `price` (for an option: the premium, plus a fixed part for a
/// seller).
pub fn margin_per_lot(spec: &InstrumentSpec, side: Side, price: f64) -> f64 {
    let (ratio, fixed) = match side {
        Side::Long => (spec.long_margin_ratio, 0.0),
        Side::Short => (spec.short_margin_ratio, spec.short_margin_fixed),
    };
    price * f64::from(spec.multiple) * ratio + fixed
}

/// A salted SHA-256 of a password, so the ledger does not keep passwords in clear.
pub fn digest_password(salt: &str, password: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0u8]);
    h.update(password.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lot(day: &str, price: f64, volume: i32) -> Lot {
        Lot {
            trade_id: "1".into(),
            open_date: day.into(),
            open_price: price,
            ref_price: price,
            volume,
            margin: 100.0,
        }
    }

    #[test]
    fn close_plans_follow_the_exchange_rules() {
        let mut p = Position::default();
        p.lots.push_back(lot("20261123", 3100.0, 2));
        p.lots.push_back(lot("20261124", 3150.0, 3));
        let day = "20261124";
        assert_eq!(
            p.plan_close(3, CloseFrom::Today, day),
            Ok(CloseSplit {
                today: 3,
                yesterday: 0
            })
        );
        assert_eq!(p.plan_close(4, CloseFrom::Today, day), Err(50));
        assert_eq!(p.plan_close(3, CloseFrom::Yesterday, day), Err(51));
        assert_eq!(
            p.plan_close(4, CloseFrom::TodayFirst, day),
            Ok(CloseSplit {
                today: 3,
                yesterday: 1
            })
        );
        assert_eq!(p.plan_close(6, CloseFrom::TodayFirst, day), Err(30));
        p.frozen_close.today = 3;
        assert_eq!(p.plan_close(1, CloseFrom::Today, day), Err(50));
    }

    #[test]
    fn closing_realizes_profit_by_date_and_by_trade() {
        let mut p = Position::default();
        let mut old = lot("20261123", 3100.0, 2);
        old.ref_price = 3120.0; // yesterday's settlement
        p.lots.push_back(old);
        p.lots.push_back(lot("20261124", 3150.0, 3));
        let c = p.close(
            CloseSplit {
                today: 1,
                yesterday: 1,
            },
            3160.0,
            Side::Long,
            "20261124",
            10,
        );
        assert_eq!(c.today, 1);
        assert_eq!(c.yesterday, 1);
        assert!(
            (c.profit_by_date - ((3160.0 - 3150.0) * 10.0 + (3160.0 - 3120.0) * 10.0)).abs() < 1e-9
        );
        assert!(
            (c.profit_by_trade - ((3160.0 - 3150.0) * 10.0 + (3160.0 - 3100.0) * 10.0)).abs()
                < 1e-9
        );
        assert_eq!(p.total(), 3);
        assert_eq!(p.today("20261124"), 2);
    }

    #[test]
    fn password_digest_depends_on_salt() {
        assert_ne!(
            digest_password("a", "123456"),
            digest_password("b", "123456")
        );
        assert_eq!(digest_password("a", "x").len(), 64);
    }
}

//! The trading calendar of China's futures exchanges: weekdays minus the holidays the
//! product table lists, trading days counted within a month, and whether a trading
//! day is preceded by a night session (not after a holiday).
//!
//! Years the table does not cover fall back to weekends plus Jan 1, May 1-5 and
//! Oct 1-7 — close, but the lunar holidays (Spring Festival, Qingming, Dragon Boat,
//! Mid-Autumn) are then missing.

use std::collections::{BTreeSet, HashSet};

use super::clock::{self, BeijingTime};

/// The night session opens at 21:00; from 18:00 the clock belongs to the next trading
/// day (the sim rolls its day then).
pub const DAY_ROLL_HOUR: u32 = 18;

/// Trading days.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    holidays: HashSet<i64>,
    years: BTreeSet<i64>,
}

impl Calendar {
    /// A calendar closed on `holidays`, which cover `years` completely.
    pub fn new(holidays: Vec<i64>, years: Vec<i64>) -> Calendar {
        Calendar {
            holidays: holidays.into_iter().collect(),
            years: years.into_iter().collect(),
        }
    }

    /// Whether the exchanges trade on day `d`.
    pub fn is_trading_day(&self, d: i64) -> bool {
        if clock::weekday(d) >= 5 || self.holidays.contains(&d) {
            return false;
        }
        let (y, m, day) = clock::ymd(d);
        if self.years.contains(&y) {
            return true;
        }
        // Fixed-date holidays of the years the table does not list.
        !matches!((m, day), (1, 1) | (5, 1..=5) | (10, 1..=7))
    }

    /// `d` if it is a trading day, else the next one.
    pub fn next_trading_day(&self, mut d: i64) -> i64 {
        // Holidays last at most about ten days; the bound only guards bad tables.
        for _ in 0..40 {
            if self.is_trading_day(d) {
                return d;
            }
            d += 1;
        }
        d
    }

    /// The first trading day after `d`.
    pub fn after(&self, d: i64) -> i64 {
        self.next_trading_day(d + 1)
    }

    /// The last trading day before `d`.
    pub fn before(&self, mut d: i64) -> i64 {
        for _ in 0..40 {
            d -= 1;
            if self.is_trading_day(d) {
                return d;
            }
        }
        d
    }

    /// The `n`th trading day in `first..=last` (the last one if there are fewer).
    pub fn nth_trading_day(&self, first: i64, last: i64, n: u32) -> i64 {
        let mut found = 0;
        let mut latest = first;
        for d in first..=last {
            if self.is_trading_day(d) {
                found += 1;
                latest = d;
                if found == n {
                    return d;
                }
            }
        }
        latest
    }

    /// The `n`th trading day counted back from `last` (1 = the last) in `first..=last`.
    pub fn nth_last_trading_day(&self, first: i64, last: i64, n: u32) -> i64 {
        let mut found = 0;
        let mut earliest = last;
        for d in (first..=last).rev() {
            if self.is_trading_day(d) {
                found += 1;
                earliest = d;
                if found == n {
                    return d;
                }
            }
        }
        earliest
    }

    /// The trading day a moment belongs to: from 18:00 the next one; a closed day's
    /// moments belong to the next trading day.
    pub fn trading_day_at(&self, t: &BeijingTime) -> i64 {
        if t.hour >= DAY_ROLL_HOUR {
            self.after(t.day)
        } else {
            self.next_trading_day(t.day)
        }
    }

    /// Whether trading day `d` opens with a night session on the evening before: only
    /// when nothing but a weekend lies between it and the previous trading day (no
    /// night session on the eve of a holiday).
    pub fn has_night_before(&self, d: i64) -> bool {
        let prev = self.before(d);
        (prev + 1..d).all(|x| clock::weekday(x) >= 5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::products::{EMBEDDED, ProductTable};

    fn day(s: &str) -> i64 {
        clock::parse_date(s).unwrap()
    }

    #[test]
    fn holidays_and_night_sessions_follow_the_2026_notice() {
        let t = ProductTable::parse(EMBEDDED).unwrap();
        let c = &t.calendar;
        // Spring Festival 2026: closed Feb 16-23, open again on Tuesday the 24th.
        assert!(!c.is_trading_day(day("20260216")));
        assert_eq!(clock::date_string(c.after(day("20260213"))), "20260224");
        // No night session on Friday the 13th: the 24th has none before it.
        assert!(!c.has_night_before(day("20260224")));
        // An ordinary Monday has Friday's night session before it.
        assert!(c.has_night_before(day("20261130")));
        // National Day: Sep 30 (Wed) is followed by Oct 8.
        assert_eq!(clock::date_string(c.after(day("20260930"))), "20261008");
        // Friday 21:00 belongs to Monday; Saturday noon too.
        let fri = BeijingTime {
            day: day("20261127"),
            hour: 21,
            minute: 0,
            second: 0,
            millis: 0,
        };
        assert_eq!(clock::date_string(c.trading_day_at(&fri)), "20261130");
        let sat = BeijingTime {
            day: day("20261128"),
            hour: 12,
            ..fri
        };
        assert_eq!(clock::date_string(c.trading_day_at(&sat)), "20261130");
        // A year the table does not list keeps the fixed-date holidays.
        assert!(!c.is_trading_day(day("20301001")));
        assert!(c.is_trading_day(day("20301008")));
    }
}

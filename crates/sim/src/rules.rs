//! The rules of the product table, as phrases people write ("10th trading day",
//! "3rd Friday", "25 below 2000, 50"): their parsers and what they resolve to.

use super::calendar::Calendar;
use super::clock;

/// Which contract months a product lists on a day, counted from the nearest month that
/// still trades (the "base").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listing {
    /// The first `consecutive` months from the base, whatever their month.
    pub consecutive: u32,
    /// Allowed months within this many months from the base...
    pub window: Option<u32>,
    /// ...or the next this many allowed months after the consecutive ones.
    pub next: Option<u32>,
}

/// A day of a month, as a contract rule names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayRule {
    /// That day of the month; the next trading day if the exchange is closed.
    Date(u32),
    /// The nth trading day of the month.
    TradingDay(u32),
    /// The nth trading day counted from the month's end (1 = the last).
    TradingDayFromEnd(u32),
    /// The nth-from-last trading day on or before a date of the month.
    TradingDayFromEndBefore { n: u32, date: u32 },
    /// The nth weekday (0 = Monday) of the month; the next trading day if closed.
    Weekday { n: u32, weekday: u32 },
    /// The last such weekday of the month; the next trading day if closed.
    LastWeekday(u32),
}

/// A last-trading-day rule: a day of the delivery month, or of the month before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastDay {
    pub rule: DayRule,
    pub previous_month: bool,
}

impl LastDay {
    /// Parses phrases such as `15th`, `10th trading day`, `4th last trading day`,
    /// `3rd Friday`, `last Monday`, `last trading day of previous month`,
    /// `3rd last trading day on or before the 15th of previous month`.
    pub fn parse(text: &str) -> Option<LastDay> {
        let t = text.trim().to_ascii_lowercase();
        let (t, previous_month) = match t.strip_suffix(" of previous month") {
            Some(rest) => (rest.trim().to_string(), true),
            None => (t, false),
        };
        let words: Vec<&str> = t.split_whitespace().collect();
        let rule = match words.as_slice() {
            [n] => DayRule::Date(ordinal(n).filter(|d| (1..=31).contains(d))?),
            ["last", "trading", "day"] => DayRule::TradingDayFromEnd(1),
            [n, "trading", "day"] => DayRule::TradingDay(ordinal(n)?),
            [n, "last", "trading", "day"] => DayRule::TradingDayFromEnd(ordinal(n)?),
            [n, "last", "trading", "day", "on", "or", "before", "the", d] => {
                DayRule::TradingDayFromEndBefore {
                    n: ordinal(n)?,
                    date: ordinal(d).filter(|d| (1..=31).contains(d))?,
                }
            }
            ["last", w] => DayRule::LastWeekday(weekday(w)?),
            [n, w] => DayRule::Weekday {
                n: ordinal(n).filter(|n| (1..=5).contains(n))?,
                weekday: weekday(w)?,
            },
            _ => return None,
        };
        Some(LastDay {
            rule,
            previous_month,
        })
    }

    /// The day this rule names for contract month `(y, m)`.
    pub fn resolve(&self, cal: &Calendar, y: i64, m: u32) -> i64 {
        let (y, m) = if self.previous_month {
            add_months(y, m, -1)
        } else {
            (y, m)
        };
        let first = clock::from_ymd(y, m, 1);
        let last = first + i64::from(clock::days_in_month(y, m)) - 1;
        match self.rule {
            DayRule::Date(d) => {
                let d = d.min(clock::days_in_month(y, m));
                cal.next_trading_day(clock::from_ymd(y, m, d))
            }
            DayRule::TradingDay(n) => cal.nth_trading_day(first, last, n),
            DayRule::TradingDayFromEnd(n) => cal.nth_last_trading_day(first, last, n),
            DayRule::TradingDayFromEndBefore { n, date } => {
                let end = first + i64::from(date.min(clock::days_in_month(y, m))) - 1;
                cal.nth_last_trading_day(first, end, n)
            }
            DayRule::Weekday { n, weekday } => {
                let offset = (i64::from(weekday) - clock::weekday(first)).rem_euclid(7);
                cal.next_trading_day(first + offset + 7 * (i64::from(n) - 1))
            }
            DayRule::LastWeekday(weekday) => {
                let back = (clock::weekday(last) - i64::from(weekday)).rem_euclid(7);
                cal.next_trading_day(last - back)
            }
        }
    }
}

fn ordinal(w: &str) -> Option<u32> {
    let digits = w
        .strip_suffix("st")
        .or_else(|| w.strip_suffix("nd"))
        .or_else(|| w.strip_suffix("rd"))
        .or_else(|| w.strip_suffix("th"))?;
    digits.parse().ok().filter(|n| *n >= 1)
}

fn weekday(w: &str) -> Option<u32> {
    ["monday", "tuesday", "wednesday", "thursday", "friday"]
        .iter()
        .position(|d| *d == w)
        .map(|p| p as u32)
}

/// `(y, m)` moved by `n` months.
pub fn add_months(y: i64, m: u32, n: i64) -> (i64, u32) {
    let idx = y * 12 + i64::from(m) - 1 + n;
    (idx.div_euclid(12), (idx.rem_euclid(12) + 1) as u32)
}

/// A trading session of a day, in seconds since midnight; `end < start` runs past
/// midnight (a night session ending at 01:00 or 02:30).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

pub fn parse_span(text: &str) -> Option<Span> {
    let (a, b) = text.split_once('-')?;
    let hm = |s: &str| -> Option<u32> {
        let (h, m) = s.trim().split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 3600 + m * 60)
    };
    let span = Span {
        start: hm(a)?,
        end: hm(b)?,
    };
    (span.start != span.end).then_some(span)
}

/// Strike spacing: the step of the first band whose bound is above the price.
#[derive(Debug, Clone, PartialEq)]
pub struct StrikeSteps(pub Vec<(f64, Option<f64>)>);

impl StrikeSteps {
    /// Parses `25 below 2000, 50 below 5000, 100`.
    pub fn parse(text: &str) -> Option<StrikeSteps> {
        let mut out = Vec::new();
        for part in text.split(',') {
            let words: Vec<&str> = part.split_whitespace().collect();
            let band: (f64, Option<f64>) = match words.as_slice() {
                [step, "below", bound] => (step.parse().ok()?, Some(bound.parse().ok()?)),
                [step] => (step.parse().ok()?, None),
                _ => return None,
            };
            if band.0 <= 0.0 || band.0.is_nan() {
                return None;
            }
            out.push(band);
        }
        // The last band must be open-ended so every price has a step.
        matches!(out.last(), Some((_, None))).then_some(StrikeSteps(out))
    }

    /// The strike step around `price`.
    pub fn step_at(&self, price: f64) -> f64 {
        self.0
            .iter()
            .find(|(_, below)| below.is_none_or(|b| price < b))
            .map_or(1.0, |(s, _)| *s)
    }
}

/// Parses a set of months such as `1,5,9` or `1-12`.
pub fn parse_months(text: &str) -> Option<[bool; 12]> {
    let mut out = [false; 12];
    for part in text.split(',') {
        let part = part.trim();
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?),
            None => {
                let n = part.parse::<u32>().ok()?;
                (n, n)
            }
        };
        if !(1..=12).contains(&a) || !(a..=12).contains(&b) {
            return None;
        }
        for m in a..=b {
            out[m as usize - 1] = true;
        }
    }
    out.iter().any(|m| *m).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse() {
        let p = |s| LastDay::parse(s).unwrap().rule;
        assert_eq!(p("15th"), DayRule::Date(15));
        assert_eq!(p("10th trading day"), DayRule::TradingDay(10));
        assert_eq!(p("4th last trading day"), DayRule::TradingDayFromEnd(4));
        assert_eq!(p("3rd Friday"), DayRule::Weekday { n: 3, weekday: 4 });
        assert_eq!(p("last Monday"), DayRule::LastWeekday(0));
        let prev = LastDay::parse("last trading day of previous month").unwrap();
        assert!(prev.previous_month);
        assert_eq!(prev.rule, DayRule::TradingDayFromEnd(1));
        assert_eq!(
            p("3rd last trading day on or before the 15th"),
            DayRule::TradingDayFromEndBefore { n: 3, date: 15 }
        );
        for bad in [
            "",
            "15",
            "tenth trading day",
            "3rd Sunday",
            "0th trading day",
        ] {
            assert!(LastDay::parse(bad).is_none(), "{bad}");
        }
        let s = StrikeSteps::parse("25 below 2000, 50 below 5000, 100").unwrap();
        assert_eq!(
            (s.step_at(1999.0), s.step_at(2000.0), s.step_at(9000.0)),
            (25.0, 50.0, 100.0)
        );
        assert!(StrikeSteps::parse("25 below 2000").is_none());
        assert_eq!(add_months(2026, 12, 1), (2027, 1));
        assert_eq!(add_months(2026, 1, -1), (2025, 12));
    }
}

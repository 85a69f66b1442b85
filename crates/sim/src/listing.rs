//! Which contracts the exchanges list on a trading day, from the product table's rules:
//! the contract months of each product, their first and last trading days, the main
//! contract, and the option months with their underlyings.
//!
//! Everything here is a pure function of the table and the day, so a replayed journal
//! lists exactly what the live sim listed.

use super::calendar::Calendar;
use super::products::{Listing, Main, Product, ProductTable, add_months};

/// One futures contract of a product.
#[derive(Debug, Clone, PartialEq)]
pub struct Contract {
    /// Index of the product in the table.
    pub product: usize,
    pub year: i64,
    pub month: u32,
    /// The day it first traded (day number).
    pub first_day: i64,
    /// Its last trading day.
    pub last_day: i64,
    /// Share of the product's open interest and volume (1.0 for the main contract).
    pub weight: f64,
}

/// The nearest delivery month that still trades on `day`: the first month (from two
/// months back) whose last trading day is not past.
fn base_month(p: &Product, cal: &Calendar, day: i64) -> (i64, u32) {
    let (y, m, _) = super::clock::ymd(day);
    let mut ym = add_months(y, m, -2);
    for _ in 0..48 {
        if p.last_day.resolve(cal, ym.0, ym.1) >= day {
            return ym;
        }
        ym = add_months(ym.0, ym.1, 1);
    }
    ym
}

/// The months a listing rule lists when `base` is the nearest live month.
pub fn months_from(listing: &Listing, allowed: &[bool; 12], base: (i64, u32)) -> Vec<(i64, u32)> {
    let mut out = Vec::new();
    for i in 0..listing.consecutive {
        out.push(add_months(base.0, base.1, i64::from(i)));
    }
    let allowed_month = |ym: (i64, u32)| allowed[ym.1 as usize - 1];
    match (listing.window, listing.next) {
        (Some(w), _) => {
            for i in listing.consecutive..w {
                let ym = add_months(base.0, base.1, i64::from(i));
                if allowed_month(ym) {
                    out.push(ym);
                }
            }
        }
        (None, Some(n)) => {
            let mut i = i64::from(listing.consecutive);
            let mut added = 0;
            while added < n && i < 240 {
                let ym = add_months(base.0, base.1, i);
                if allowed_month(ym) {
                    out.push(ym);
                    added += 1;
                }
                i += 1;
            }
        }
        (None, None) => {}
    }
    out
}

/// The day contract month `ym` first traded: the trading day after the last trading
/// day of the latest base month under which it was not yet listed.
fn first_day(p: &Product, cal: &Calendar, ym: (i64, u32)) -> i64 {
    let l = &p.listing;
    let back = match l.window {
        // Listed while it is within the consecutive months, or (an allowed month)
        // within the window: first under the base that many months earlier.
        Some(w) if p.months[ym.1 as usize - 1] => i64::from(w.max(l.consecutive)),
        Some(_) => i64::from(l.consecutive).max(1),
        None => (1..=72)
            .find(|&back| {
                let b = add_months(ym.0, ym.1, -back);
                !months_from(l, &p.months, b).contains(&ym)
            })
            .unwrap_or(72),
    };
    let b = add_months(ym.0, ym.1, -back);
    cal.after(p.last_day.resolve(cal, b.0, b.1))
}

/// The futures contracts of product `index` listed on `day`, nearest first.
pub fn contracts_of(table: &ProductTable, index: usize, day: i64) -> Vec<Contract> {
    let p = &table.products[index];
    let cal = &table.calendar;
    let base = base_month(p, cal, day);
    let months = months_from(&p.listing, &p.months, base);
    let mut out: Vec<Contract> = months
        .into_iter()
        .map(|(y, m)| Contract {
            product: index,
            year: y,
            month: m,
            first_day: first_day(p, cal, (y, m)),
            last_day: p.last_day.resolve(cal, y, m),
            weight: 0.0,
        })
        .filter(|c| c.first_day <= day && c.last_day >= day)
        .collect();
    let main = main_index(p, &out, day);
    for (i, c) in out.iter_mut().enumerate() {
        let distance = (i as i32 - main as i32).unsigned_abs();
        c.weight = 0.25f64.powi(distance as i32).max(0.02);
    }
    out
}

/// Which of the listed contracts is the main one.
fn main_index(p: &Product, listed: &[Contract], day: i64) -> usize {
    // A contract in its last weeks hands the volume to the next one.
    let fading = |c: &Contract| c.last_day - day < 20;
    match &p.main {
        Main::Front => usize::from(listed.len() > 1 && listed[0].last_day - day < 3),
        Main::Next => usize::from(listed.len() > 1),
        Main::Months(months) => listed
            .iter()
            .position(|c| months.contains(&c.month) && !fading(c))
            .or_else(|| listed.iter().position(|c| !fading(c)))
            .unwrap_or(0),
    }
}

/// The futures contracts of every product listed on `day`, in table order.
pub fn contracts(table: &ProductTable, day: i64) -> Vec<Contract> {
    (0..table.products.len())
        .flat_map(|i| contracts_of(table, i, day))
        .collect()
}

/// The month of the main contract among `listed` (for prices along the curve).
pub fn main_month(listed: &[Contract]) -> Option<(i64, u32)> {
    listed
        .iter()
        .max_by(|a, b| a.weight.total_cmp(&b.weight))
        .map(|c| (c.year, c.month))
}

/// One option month of a product: its expiry and the futures contract it is on.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionMonth {
    pub year: i64,
    pub month: u32,
    pub expiry: i64,
    /// Index into the product's listed futures contracts.
    pub underlying: usize,
}

/// The option months of product `index` on `day`, given its listed futures contracts.
pub fn option_months(
    table: &ProductTable,
    index: usize,
    futures: &[Contract],
    day: i64,
) -> Vec<OptionMonth> {
    let p = &table.products[index];
    let Some(o) = &p.options else {
        return Vec::new();
    };
    if futures.is_empty() {
        return Vec::new();
    }
    let cal = &table.calendar;
    match &o.listing {
        // Months of their own (index options): on the futures contract nearest in time.
        Some(listing) => {
            let (y, m, _) = super::clock::ymd(day);
            let mut base = add_months(y, m, -1);
            while o.last_day.resolve(cal, base.0, base.1) < day {
                base = add_months(base.0, base.1, 1);
            }
            // Beyond the consecutive months, the futures' months (quarterly for CFFEX).
            months_from(listing, &p.months, base)
                .into_iter()
                .map(|(y, m)| {
                    let index = y * 12 + i64::from(m);
                    let underlying = futures
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, c)| ((c.year * 12 + i64::from(c.month)) - index).abs())
                        .map_or(0, |(i, _)| i);
                    OptionMonth {
                        year: y,
                        month: m,
                        expiry: o.last_day.resolve(cal, y, m),
                        underlying,
                    }
                })
                .filter(|om| om.expiry >= day)
                .collect()
        }
        // On the nearest futures months whose options still trade.
        None => futures
            .iter()
            .enumerate()
            .map(|(i, c)| OptionMonth {
                year: c.year,
                month: c.month,
                expiry: o.last_day.resolve(cal, c.year, c.month),
                underlying: i,
            })
            .filter(|om| om.expiry >= day)
            .take(o.months as usize)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{date_string, parse_date};
    use crate::products::{EMBEDDED, ProductTable};

    fn listed(t: &ProductTable, product: &str, day: &str) -> Vec<(String, String)> {
        let i = t.product_index(product).unwrap();
        let p = &t.products[i];
        contracts_of(t, i, parse_date(day).unwrap())
            .into_iter()
            .map(|c| (p.code_for(c.year, c.month), date_string(c.last_day)))
            .collect()
    }

    fn codes(v: &[(String, String)]) -> Vec<&str> {
        v.iter().map(|c| c.0.as_str()).collect()
    }

    #[test]
    fn shfe_rebar_lists_twelve_months_and_rolls_on_the_15th() {
        let t = ProductTable::parse(EMBEDDED).unwrap();
        let rb = listed(&t, "rb", "20261125");
        assert_eq!(codes(&rb)[0], "rb2612");
        assert_eq!(codes(&rb).last().copied(), Some("rb2711"));
        assert_eq!(rb.len(), 12);
        // rb2612's last day: Tuesday 2026-12-15.
        assert_eq!(rb[0].1, "20261215");
        // The day after, rb2612 is gone and rb2712 lists.
        let after = listed(&t, "rb", "20261216");
        assert_eq!(codes(&after)[0], "rb2701");
        assert_eq!(codes(&after).last().copied(), Some("rb2712"));
        // 2026-11-15 was a Sunday: rb2611 traded until Monday the 16th.
        assert_eq!(
            listed(&t, "rb", "20261116")[0],
            ("rb2611".to_string(), "20261116".to_string())
        );
    }

    #[test]
    fn dce_soybean_meal_expires_on_the_tenth_trading_day() {
        let t = ProductTable::parse(EMBEDDED).unwrap();
        let m = listed(&t, "m", "20261125");
        assert_eq!(
            codes(&m),
            [
                "m2612", "m2701", "m2703", "m2705", "m2707", "m2708", "m2709", "m2711"
            ]
        );
        // January 2027: Jan 1 closed; the 10th trading day is Friday the 15th.
        assert_eq!(m[1].1, "20270115");
        // May 2026: closed May 1, 4, 5; the 10th trading day is Tuesday May 19.
        let may = listed(&t, "m", "20260506");
        assert_eq!(may[0], ("m2605".to_string(), "20260519".to_string()));
    }

    #[test]
    fn czce_pta_uses_three_digits_and_the_tenth_trading_day() {
        let t = ProductTable::parse(EMBEDDED).unwrap();
        let ta = listed(&t, "TA", "20251203");
        assert_eq!(codes(&ta)[0], "TA512");
        assert!(codes(&ta).contains(&"TA601"));
        // October 2026: closed Oct 1-7; the 10th trading day is Wednesday Oct 21.
        let oct = listed(&t, "TA", "20261009");
        assert_eq!(oct[0], ("TA610".to_string(), "20261021".to_string()));
    }

    #[test]
    fn cffex_index_futures_list_two_months_and_two_quarters() {
        let t = ProductTable::parse(EMBEDDED).unwrap();
        let f = listed(&t, "IF", "20261125");
        assert_eq!(codes(&f), ["IF2612", "IF2701", "IF2703", "IF2706"]);
        // Third Friday of December 2026.
        assert_eq!(f[0].1, "20261218");
        // The seed's day.
        let seed = listed(&t, "IF", "20251203");
        assert_eq!(codes(&seed), ["IF2512", "IF2601", "IF2603", "IF2606"]);
        assert_eq!(seed[0].1, "20251219");
        // Treasury futures: the next three quarterly months, second Friday.
        let tf = listed(&t, "T", "20261125");
        assert_eq!(codes(&tf), ["T2612", "T2703", "T2706"]);
        assert_eq!(tf[0].1, "20261211");
    }

    #[test]
    fn ine_crude_expires_the_month_before_and_gfex_on_the_fifth_trading_day() {
        let t = ProductTable::parse(EMBEDDED).unwrap();
        let sc = listed(&t, "sc", "20261125");
        // sc2612's last trading day is the last trading day of November 2026.
        assert_eq!(sc[0], ("sc2612".to_string(), "20261130".to_string()));
        assert_eq!(sc.len(), 12 + 8); // 12 consecutive, then quarterly within 36 months
        let si = listed(&t, "si", "20261125");
        assert_eq!(si[0].0, "si2612");
        // December 2026: the 5th trading day is Monday the 7th.
        assert_eq!(si[0].1, "20261207");
    }

    #[test]
    fn gold_lists_three_consecutive_and_the_even_months() {
        let t = ProductTable::parse(EMBEDDED).unwrap();
        let au = listed(&t, "au", "20251203");
        assert_eq!(
            codes(&au),
            [
                "au2512", "au2601", "au2602", "au2604", "au2606", "au2608", "au2610", "au2612"
            ]
        );
    }

    #[test]
    fn first_days_agree_with_walking_the_bases_back() {
        let t = ProductTable::parse(EMBEDDED).unwrap();
        for p in &t.products {
            for m in 0..24 {
                let ym = add_months(2026, 1, m);
                if !p.months[ym.1 as usize - 1] && p.listing.consecutive == 0 {
                    continue; // never listed
                }
                let brute = (1..=72)
                    .map(|back| add_months(ym.0, ym.1, -back))
                    .find(|b| !months_from(&p.listing, &p.months, *b).contains(&ym))
                    .unwrap();
                let want = t
                    .calendar
                    .after(p.last_day.resolve(&t.calendar, brute.0, brute.1));
                assert_eq!(first_day(p, &t.calendar, ym), want, "{} {ym:?}", p.id);
            }
        }
    }

    #[test]
    fn the_main_contract_carries_the_most_weight() {
        let t = ProductTable::parse(EMBEDDED).unwrap();
        let i = t.product_index("rb").unwrap();
        let c = contracts_of(&t, i, parse_date("20261125").unwrap());
        let main = c
            .iter()
            .max_by(|a, b| a.weight.total_cmp(&b.weight))
            .unwrap();
        assert_eq!((main.year, main.month), (2027, 1));
    }

    #[test]
    fn options_follow_their_futures_and_index_options_their_own_months() {
        let t = ProductTable::parse(EMBEDDED).unwrap();
        let day = parse_date("20261125").unwrap();
        let i = t.product_index("m").unwrap();
        let fut = contracts_of(&t, i, day);
        let om = option_months(&t, i, &fut, day);
        // m2612's options expired on the 5th trading day of November.
        assert_eq!((om[0].year, om[0].month), (2027, 1));
        assert_eq!(date_string(om[0].expiry), "20261207");
        let i = t.product_index("IF").unwrap();
        let fut = contracts_of(&t, i, day);
        let io: Vec<_> = option_months(&t, i, &fut, day)
            .iter()
            .map(|o| o.year * 100 + i64::from(o.month))
            .collect();
        assert_eq!(io, [202612, 202701, 202702, 202703, 202706, 202709]);
    }
}

//! Trading sessions: when a product ticks and takes orders.
//!
//! `Sessions: always` (the default) trades around the clock, like SimNow's 7x24
//! environment, so a newcomer sees ticks at any hour. `Sessions: exchange` keeps each
//! product to its own day and night sessions on trading days; there is no night
//! session on the eve of a holiday.

use super::clock::BeijingTime;
use super::products::ProductTable;

pub use webctp_config::SessionsMode;

/// Whether product `product` (an index into the table) trades at `now`.
pub fn is_open(
    mode: SessionsMode,
    table: &ProductTable,
    product: usize,
    now: &BeijingTime,
) -> bool {
    if mode == SessionsMode::Always {
        return true;
    }
    let p = &table.products[product];
    let cal = &table.calendar;
    let t = now.second_of_day();
    let day = &table.sessions[p.day].1;
    if cal.is_trading_day(now.day) && day.iter().any(|s| s.start <= t && t < s.end) {
        return true;
    }
    let Some(night) = p.night else {
        return false;
    };
    table.sessions[night].1.iter().any(|s| {
        if s.end > s.start {
            // Ends before midnight: the evening of a trading day before a night session.
            s.start <= t && t < s.end && evening_trades(table, now.day)
        } else {
            // Runs past midnight: the evening part, or the small hours of the next day.
            (s.start <= t && evening_trades(table, now.day))
                || (t < s.end && evening_trades(table, now.day - 1))
        }
    })
}

/// Whether the evening of calendar day `d` holds a night session: `d` trades and the
/// next trading day is not after a holiday.
fn evening_trades(table: &ProductTable, d: i64) -> bool {
    let cal = &table.calendar;
    cal.is_trading_day(d) && cal.has_night_before(cal.after(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::parse_date;
    use crate::products::{EMBEDDED, ProductTable};

    fn at(date: &str, hour: u32, minute: u32) -> BeijingTime {
        BeijingTime {
            day: parse_date(date).unwrap(),
            hour,
            minute,
            second: 0,
            millis: 0,
        }
    }

    #[test]
    fn at_22_20_rebar_trades_and_index_futures_do_not() {
        let t = ProductTable::parse(EMBEDDED).unwrap();
        let open = |p: &str, when: &BeijingTime| {
            is_open(
                SessionsMode::Exchange,
                &t,
                t.product_index(p).unwrap(),
                when,
            )
        };
        // Wednesday 2026-11-25, 22:20 Beijing time.
        let night = at("20261125", 22, 20);
        assert!(open("rb", &night));
        assert!(!open("IF", &night));
        assert!(is_open(
            SessionsMode::Always,
            &t,
            t.product_index("IF").unwrap(),
            &night
        ));
        // rb's night ends at 23:00; gold trades until 02:30 the next morning.
        assert!(!open("rb", &at("20261125", 23, 0)));
        assert!(open("au", &at("20261126", 2, 29)));
        assert!(!open("au", &at("20261126", 2, 30)));
        // Friday night runs into Saturday's small hours; Saturday daytime is closed.
        assert!(open("au", &at("20261128", 1, 0)));
        assert!(!open("rb", &at("20261128", 10, 0)));
        // Day sessions, with the 10:15-10:30 break for commodities only.
        assert!(open("rb", &at("20261126", 10, 0)));
        assert!(!open("rb", &at("20261126", 10, 20)));
        assert!(open("IF", &at("20261126", 10, 20)));
        assert!(!open("IF", &at("20261126", 9, 15)));
        // Treasury futures trade until 15:15.
        assert!(open("T", &at("20261126", 15, 10)));
        assert!(!open("IF", &at("20261126", 15, 10)));
        // No night session on the eve of National Day (Wednesday 2026-09-30).
        assert!(!open("rb", &at("20260930", 21, 30)));
        assert!(open("rb", &at("20260929", 21, 30)));
        // Products without a night session.
        assert!(!open("jd", &at("20261125", 21, 30)));
    }
}

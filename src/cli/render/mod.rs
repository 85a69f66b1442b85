//! Drawing answers for people: tables sized to the terminal, prices at the
//! instrument's tick precision, CTP's char codes as words, errors as sentences.
//!
//! - [`words`]: CTP's codes and errors in words;
//! - [`trading`]: orders, trades and their one-line pushes;
//! - [`account`]: positions (added up per instrument and side) and funds;
//! - [`market`]: quotes, the book, tick lines;
//! - [`reference`]: instruments and their rates.

mod account;
mod market;
mod reference;
mod trading;
mod words;

pub use account::*;
pub use market::*;
pub use reference::*;
pub use trading::*;
pub use words::*;

use std::collections::HashMap;

use super::table::{Cell, Table};

/// What the renderer knows about instruments: tick sizes for price precision.
#[derive(Debug, Default, Clone)]
pub struct Instruments {
    pub ticks: HashMap<String, f64>,
    /// Volume multiples, for average open prices.
    pub multiples: HashMap<String, f64>,
}

impl Instruments {
    /// Decimal places for prices of `id` (from its tick; else what the value needs).
    pub fn decimals(&self, id: &str, value: f64) -> usize {
        match self.ticks.get(id) {
            Some(t) => decimals_of(*t),
            None => {
                let mut d = 0;
                while d < 4
                    && ((value * 10f64.powi(d as i32)).round() - value * 10f64.powi(d as i32)).abs()
                        > 1e-6
                {
                    d += 1;
                }
                d
            }
        }
    }
}

/// Decimal places of a tick size such as 0.02 (2) or 5 (0).
pub fn decimals_of(tick: f64) -> usize {
    (0..8)
        .find(|&d| {
            let s = tick * 10f64.powi(d as i32);
            (s - s.round()).abs() < 1e-9
        })
        .unwrap_or(8)
}

/// A price, or `-` for CTP's DBL_MAX (and the 0 webctp sends for it).
pub fn price(value: f64, decimals: usize) -> String {
    if value >= f64::MAX / 2.0 || value == 0.0 || !value.is_finite() {
        "-".into()
    } else {
        format!("{value:.decimals$}")
    }
}

/// An amount of money with two decimals.
pub fn money(value: f64) -> String {
    if value >= f64::MAX / 2.0 || !value.is_finite() {
        return "-".into();
    }
    let raw = format!("{:.2}", value.abs());
    let (int, frac) = raw.split_once('.').unwrap_or((&raw, "00"));
    let mut grouped = String::new();
    for (n, ch) in int.chars().enumerate() {
        if n > 0 && (int.len() - n) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("{}{grouped}.{frac}", if value < 0.0 { "-" } else { "" })
}

fn put(t: &mut Table, cells: Vec<Cell>) {
    t.row(cells);
}

/// A line cut to `w` columns (never wrapped by the terminal).
pub fn fit(line: &str, w: usize) -> String {
    if unicode_width::UnicodeWidthStr::width(line) <= w {
        return line.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for ch in line.chars() {
        let cw = unicode_width::UnicodeWidthChar::width(ch).unwrap_or(0);
        if used + cw > w {
            break;
        }
        out.push(ch);
        used += cw;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::link::Inbound;
    use crate::cli::table::Style;
    use crate::protocol::codes;
    use crate::protocol::fields::Order;

    fn msg(text: &str) -> Inbound {
        Inbound::decode(text.as_bytes()).unwrap()
    }

    #[test]
    fn numbers_and_words() {
        assert_eq!(price(f64::MAX, 2), "-");
        assert_eq!(price(3170.0, 0), "3170");
        assert_eq!(price(952.4, 2), "952.40");
        assert_eq!(money(-1234567.891), "-1,234,567.89");
        assert_eq!(money(20_000_000.0), "20,000,000.00");
        assert_eq!(order_status(codes::order_status::CANCELED), "Canceled");
        assert_eq!(direction(codes::direction::BUY), "Buy");
        assert_eq!(offset(codes::first("3")), "CloseToday");
        let inst = Instruments::default();
        assert_eq!(inst.decimals("x", 952.4), 1);
        assert_eq!(inst.decimals("x", 3170.0), 0);
    }

    #[test]
    fn errors_read_as_sentences() {
        let m = msg(
            r#"{"MsgType": "RspOrderInsert", "RspInfo": {"ErrorID": 31, "ErrorMsg": "CTP:资金不足"}}"#,
        );
        assert_eq!(
            error_sentence(&m).unwrap(),
            "rejected: insufficient funds (CTP 31)"
        );
        let m = msg(
            r#"{"MsgType": "ReqQryOrder", "RspInfo": {"ErrorID": -401, "ErrorMsg": "未登录"}, "Detail": "log in first"}"#,
        );
        assert_eq!(
            error_sentence(&m).unwrap(),
            "error: not logged in (gateway -401): log in first"
        );
        assert!(
            error_sentence(&msg(
                r#"{"MsgType": "RspQryOrder", "RspInfo": {"ErrorID": 0}}"#
            ))
            .is_none()
        );
        assert_eq!(error_words(33), "cannot find pk");
    }

    #[test]
    fn order_table_has_words_and_aligned_prices() {
        let o = Order {
            OrderSysID: "      100001".into(),
            InstrumentID: "rb2605".into(),
            Direction: codes::direction::BUY,
            CombOffsetFlag: "0".into(),
            OrderPriceType: codes::price_type::LIMIT_PRICE,
            LimitPrice: 3170.0,
            VolumeTraded: 1,
            VolumeTotalOriginal: 2,
            OrderStatus: codes::order_status::PART_TRADED_QUEUEING,
            InsertTime: "09:00:01".into(),
            StatusMsg: "部分成交".into(),
            ..Order::default()
        };
        let mut inst = Instruments::default();
        inst.ticks.insert("rb2605".into(), 1.0);
        let t = orders(&[&o], &inst, Style::default());
        assert!(
            t.contains("PartTradedQueueing")
                && t.contains("Buy")
                && t.contains("3170")
                && t.contains("1/2"),
            "{t}"
        );
    }
}

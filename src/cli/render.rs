//! Drawing answers for people: tables sized to the terminal, prices at the
//! instrument's tick precision, CTP's char codes as words, errors as sentences.

use std::collections::HashMap;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};
use serde_json::Value;

use crate::protocol::errors::{ctp_message, ctp_name};

/// What the renderer knows about instruments: tick sizes for price precision.
#[derive(Debug, Default, Clone)]
pub struct Instruments {
    pub ticks: HashMap<String, f64>,
}

impl Instruments {
    /// Decimal places for prices of `id` (from its tick; else what the value needs).
    pub fn decimals(&self, id: &str, value: f64) -> usize {
        match self.ticks.get(id) {
            Some(t) => crate::ctp::sim::instruments::decimals_of(*t),
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

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or(0.0)
}

fn i(v: &Value, k: &str) -> i64 {
    v[k].as_i64().unwrap_or(0)
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

/// Words for CTP's char codes.
pub fn direction(code: &str) -> &'static str {
    match code {
        "0" => "Buy",
        "1" => "Sell",
        _ => "-",
    }
}

pub fn offset(code: &str) -> &'static str {
    match code.chars().next() {
        Some('0') => "Open",
        Some('1') => "Close",
        Some('2') => "ForceClose",
        Some('3') => "CloseToday",
        Some('4') => "CloseYesterday",
        _ => "-",
    }
}

pub fn order_status(code: &str) -> &'static str {
    match code {
        "0" => "AllTraded",
        "1" => "PartTradedQueueing",
        "2" => "PartTradedNotQueueing",
        "3" => "NoTradeQueueing",
        "4" => "NoTradeNotQueueing",
        "5" => "Canceled",
        "a" => "Unknown",
        "b" => "NotTouched",
        "c" => "Touched",
        _ => "-",
    }
}

pub fn posi_direction(code: &str) -> &'static str {
    match code {
        "1" => "Net",
        "2" => "Long",
        "3" => "Short",
        _ => "-",
    }
}

fn position_date(code: &str) -> &'static str {
    match code {
        "1" => "Today",
        "2" => "History",
        _ => "-",
    }
}

fn price_type(code: &str) -> &'static str {
    match code {
        "1" => "Market",
        "2" => "Limit",
        _ => "Other",
    }
}

/// CTP's error in English words, from its symbolic name (with better words for the
/// common ones).
pub fn error_words(id: i64) -> String {
    let known = match id {
        3 => Some("invalid login: wrong user or password"),
        6 => Some("not logged in"),
        8 => Some("the front is not active"),
        15 => Some("bad order field"),
        16 => Some("instrument not found"),
        22 => Some("duplicate OrderRef"),
        25 => Some("order to cancel not found"),
        26 => Some("order already traded or canceled"),
        30 => Some("close volume exceeds the position"),
        31 => Some("insufficient funds"),
        42 => Some("settlement not confirmed (run `confirm`)"),
        50 => Some("close-today volume exceeds today's position"),
        51 => Some("close-yesterday volume exceeds yesterday's position"),
        63 => Some("client authentication failed"),
        75 => Some("too many failed logins; login forbidden for a while"),
        80 => Some("the exchange does not accept this price type"),
        163 => Some("price outside the daily limits"),
        164 => Some("volume not allowed by the exchange"),
        165 => Some("price is not a multiple of the tick"),
        -1 => Some("the request could not be sent to the front"),
        -2 => Some("too many requests in flight"),
        -3 => Some("too many requests per second"),
        -400 => Some("bad parameters"),
        -401 => Some("not logged in"),
        -404 => Some("not implemented"),
        -413 => Some("limit exceeded"),
        -429 => Some("too many requests; slow down"),
        _ => None,
    };
    if let Some(k) = known {
        return k.to_string();
    }
    match i32::try_from(id).ok().and_then(ctp_name) {
        Some(name) => name.to_ascii_lowercase().replace('_', " "),
        None => "error".into(),
    }
}

/// `rejected: insufficient funds (CTP 31)`, from a message's RspInfo and Detail.
pub fn error_sentence(msg: &Value) -> Option<String> {
    let info = msg.get("RspInfo")?;
    let id = info["ErrorID"].as_i64()?;
    if id == 0 {
        return None;
    }
    let what = error_words(id);
    let verb = match s(msg, "MsgType") {
        "RspOrderInsert" | "ErrRtnOrderInsert" => "rejected",
        "RspOrderAction" | "ErrRtnOrderAction" => "cancel refused",
        "RspUserLogin" | "RspAuthenticate" => "login failed",
        _ => "error",
    };
    let source = if id < 0 { "gateway" } else { "CTP" };
    let mut out = format!("{verb}: {what} ({source} {id})");
    if let Some(d) = msg["Detail"].as_str().filter(|d| !d.is_empty()) {
        out.push_str(&format!(": {d}"));
    } else if id > 0
        && ctp_message(id as i32).is_none()
        && let Some(m) = info["ErrorMsg"].as_str()
    {
        out.push_str(&format!(": {m}"));
    }
    Some(out)
}

fn table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(headers.iter().map(Cell::new));
    t
}

fn right(text: impl ToString) -> Cell {
    Cell::new(text).set_alignment(CellAlignment::Right)
}

/// Orders (RtnOrder / RspQryOrder bodies).
pub fn orders(list: &[&Value], inst: &Instruments) -> String {
    if list.is_empty() {
        return "no orders".into();
    }
    let mut t = table(&[
        "OrderSysID",
        "OrderRef",
        "Instrument",
        "Side",
        "Offset",
        "Type",
        "Price",
        "Traded/Vol",
        "Status",
        "Time",
        "Message",
    ]);
    for o in list {
        let id = s(o, "InstrumentID");
        let p = f(o, "LimitPrice");
        let is_market = s(o, "OrderPriceType") == "1";
        t.add_row(vec![
            Cell::new(s(o, "OrderSysID").trim()),
            Cell::new(s(o, "OrderRef").trim()),
            Cell::new(id),
            Cell::new(direction(s(o, "Direction"))),
            Cell::new(offset(s(o, "CombOffsetFlag"))),
            Cell::new(price_type(s(o, "OrderPriceType"))),
            right(if is_market {
                "market".into()
            } else {
                price(p, inst.decimals(id, p))
            }),
            right(format!(
                "{}/{}",
                i(o, "VolumeTraded"),
                i(o, "VolumeTotalOriginal")
            )),
            Cell::new(order_status(s(o, "OrderStatus"))),
            Cell::new(s(o, "InsertTime")),
            Cell::new(s(o, "StatusMsg")),
        ]);
    }
    t.to_string()
}

/// Trades.
pub fn trades(list: &[&Value], inst: &Instruments) -> String {
    if list.is_empty() {
        return "no trades".into();
    }
    let mut t = table(&[
        "TradeID",
        "OrderSysID",
        "Instrument",
        "Side",
        "Offset",
        "Price",
        "Volume",
        "Time",
    ]);
    for x in list {
        let id = s(x, "InstrumentID");
        let p = f(x, "Price");
        t.add_row(vec![
            Cell::new(s(x, "TradeID").trim()),
            Cell::new(s(x, "OrderSysID").trim()),
            Cell::new(id),
            Cell::new(direction(s(x, "Direction"))),
            Cell::new(offset(s(x, "OffsetFlag"))),
            right(price(p, inst.decimals(id, p))),
            right(i(x, "Volume")),
            Cell::new(s(x, "TradeTime")),
        ]);
    }
    t.to_string()
}

/// Positions.
pub fn positions(list: &[&Value], inst: &Instruments) -> String {
    if list.is_empty() {
        return "no positions".into();
    }
    let mut t = table(&[
        "Instrument",
        "Exchange",
        "Side",
        "Date",
        "Position",
        "Today",
        "Yd",
        "Frozen",
        "Settle",
        "P&L",
        "Margin",
    ]);
    for p in list {
        let id = s(p, "InstrumentID");
        let side = posi_direction(s(p, "PosiDirection"));
        // Orders closing a long position freeze ShortFrozen, and the other way round.
        let frozen = if side == "Long" {
            i(p, "ShortFrozen")
        } else {
            i(p, "LongFrozen")
        };
        let settle = f(p, "SettlementPrice");
        t.add_row(vec![
            Cell::new(id),
            Cell::new(s(p, "ExchangeID")),
            Cell::new(side),
            Cell::new(position_date(s(p, "PositionDate"))),
            right(i(p, "Position")),
            right(i(p, "TodayPosition")),
            right(i(p, "YdPosition")),
            right(frozen),
            right(price(settle, inst.decimals(id, settle))),
            right(money(f(p, "PositionProfit"))),
            right(money(f(p, "UseMargin"))),
        ]);
    }
    t.to_string()
}

/// A key/value table of chosen fields.
fn fields(v: &Value, rows: &[(&str, &str, bool)]) -> String {
    let mut t = table(&["Field", "Value"]);
    for (label, key, is_money) in rows {
        let cell = match &v[*key] {
            Value::Number(n) if *is_money => right(money(n.as_f64().unwrap_or(0.0))),
            Value::Number(n) => right(n),
            Value::String(x) => Cell::new(x),
            other => Cell::new(other),
        };
        t.add_row(vec![Cell::new(label), cell]);
    }
    t.to_string()
}

/// The trading account.
pub fn account(a: &Value) -> String {
    fields(
        a,
        &[
            ("Account", "AccountID", false),
            ("Trading day", "TradingDay", false),
            ("Balance", "Balance", true),
            ("Available", "Available", true),
            ("Margin used", "CurrMargin", true),
            ("Margin frozen", "FrozenMargin", true),
            ("Commission frozen", "FrozenCommission", true),
            ("Commission", "Commission", true),
            ("Close profit", "CloseProfit", true),
            ("Position profit", "PositionProfit", true),
            ("Pre-balance", "PreBalance", true),
            ("Withdraw quota", "WithdrawQuota", true),
        ],
    )
}

/// One instrument's quote.
pub fn quote(d: &Value, inst: &Instruments) -> String {
    let id = s(d, "InstrumentID");
    let dec = |k: &str| {
        let v = f(d, k);
        price(v, inst.decimals(id, v))
    };
    let last = f(d, "LastPrice");
    let pre = f(d, "PreSettlementPrice");
    let change = if pre > 0.0 && last > 0.0 {
        format!("{:+.2}%", (last - pre) / pre * 100.0)
    } else {
        "-".into()
    };
    let mut t = table(&[
        "Instrument",
        "Last",
        "Change",
        "Bid",
        "BidVol",
        "Ask",
        "AskVol",
        "Volume",
        "OpenInt",
        "Time",
    ]);
    t.add_row(vec![
        Cell::new(id),
        right(dec("LastPrice")),
        right(change),
        right(dec("BidPrice1")),
        right(i(d, "BidVolume1")),
        right(dec("AskPrice1")),
        right(i(d, "AskVolume1")),
        right(i(d, "Volume")),
        right(format!("{:.0}", f(d, "OpenInterest"))),
        Cell::new(format!(
            "{}.{:03}",
            s(d, "UpdateTime"),
            i(d, "UpdateMillisec")
        )),
    ]);
    t.to_string()
}

/// A tick as one line (for `watch`).
pub fn tick_line(d: &Value, inst: &Instruments) -> String {
    let id = s(d, "InstrumentID");
    let p = |k: &str| {
        let v = f(d, k);
        price(v, inst.decimals(id, v))
    };
    format!(
        "{} {:<8} last {:>10}  bid {:>10} x {:<4} ask {:>10} x {:<4} vol {}",
        s(d, "UpdateTime"),
        id,
        p("LastPrice"),
        p("BidPrice1"),
        i(d, "BidVolume1"),
        p("AskPrice1"),
        i(d, "AskVolume1"),
        i(d, "Volume")
    )
}

/// Instruments.
pub fn instruments(list: &[&Value]) -> String {
    if list.is_empty() {
        return "no such instrument".into();
    }
    let mut t = table(&[
        "Instrument",
        "Exchange",
        "Name",
        "Multiple",
        "Tick",
        "Long margin",
        "Short margin",
        "Expires",
    ]);
    for x in list {
        t.add_row(vec![
            Cell::new(s(x, "InstrumentID")),
            Cell::new(s(x, "ExchangeID")),
            Cell::new(s(x, "InstrumentName")),
            right(i(x, "VolumeMultiple")),
            right(f(x, "PriceTick")),
            right(format!("{:.2}%", f(x, "LongMarginRatio") * 100.0)),
            right(format!("{:.2}%", f(x, "ShortMarginRatio") * 100.0)),
            Cell::new(s(x, "ExpireDate")),
        ]);
    }
    t.to_string()
}

/// Margin rates.
pub fn margin(list: &[&Value]) -> String {
    if list.is_empty() {
        return "no margin rate".into();
    }
    let mut t = table(&[
        "Instrument",
        "Long by money",
        "Long per lot",
        "Short by money",
        "Short per lot",
    ]);
    for x in list {
        t.add_row(vec![
            Cell::new(s(x, "InstrumentID")),
            right(format!("{:.2}%", f(x, "LongMarginRatioByMoney") * 100.0)),
            right(f(x, "LongMarginRatioByVolume")),
            right(format!("{:.2}%", f(x, "ShortMarginRatioByMoney") * 100.0)),
            right(f(x, "ShortMarginRatioByVolume")),
        ]);
    }
    t.to_string()
}

/// Commission rates.
pub fn commission(list: &[&Value]) -> String {
    if list.is_empty() {
        return "no commission rate".into();
    }
    let mut t = table(&["Instrument", "Open", "Close", "Close today"]);
    let both = |x: &Value, money_key: &str, lot_key: &str| {
        let (m, l) = (f(x, money_key), f(x, lot_key));
        match (m > 0.0, l > 0.0) {
            (true, true) => format!("{:.4}‱ + {l}/lot", m * 10_000.0),
            (true, false) => format!("{:.4}‱", m * 10_000.0),
            (false, _) => format!("{l}/lot"),
        }
    };
    for x in list {
        t.add_row(vec![
            Cell::new(s(x, "InstrumentID")),
            right(both(x, "OpenRatioByMoney", "OpenRatioByVolume")),
            right(both(x, "CloseRatioByMoney", "CloseRatioByVolume")),
            right(both(x, "CloseTodayRatioByMoney", "CloseTodayRatioByVolume")),
        ]);
    }
    t.to_string()
}

/// A one-line summary of an order or trade push.
pub fn push_line(msg: &Value, inst: &Instruments) -> Option<String> {
    match s(msg, "MsgType") {
        "RtnOrder" => {
            let o = &msg["Order"];
            let id = s(o, "InstrumentID");
            let p = f(o, "LimitPrice");
            Some(format!(
                "order {} {} {} {} {}/{} @ {} {} {}",
                s(o, "OrderSysID").trim(),
                direction(s(o, "Direction")),
                offset(s(o, "CombOffsetFlag")),
                id,
                i(o, "VolumeTraded"),
                i(o, "VolumeTotalOriginal"),
                if s(o, "OrderPriceType") == "1" {
                    "market".into()
                } else {
                    price(p, inst.decimals(id, p))
                },
                order_status(s(o, "OrderStatus")),
                s(o, "StatusMsg"),
            ))
        }
        "RtnTrade" => {
            let x = &msg["Trade"];
            let id = s(x, "InstrumentID");
            let p = f(x, "Price");
            Some(format!(
                "trade {} {} {} {} {} @ {} (order {})",
                s(x, "TradeID").trim(),
                direction(s(x, "Direction")),
                offset(s(x, "OffsetFlag")),
                id,
                i(x, "Volume"),
                price(p, inst.decimals(id, p)),
                s(x, "OrderSysID").trim()
            ))
        }
        "ErrRtnOrderInsert" | "ErrRtnOrderAction" => error_sentence(msg),
        "OnFrontDisconnected" | "OnFrontConnected" => Some(format!(
            "{}: {}",
            if s(msg, "MsgType") == "OnFrontConnected" {
                "front connected"
            } else {
                "front disconnected"
            },
            msg["Detail"].as_str().unwrap_or("")
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_and_words() {
        assert_eq!(price(f64::MAX, 2), "-");
        assert_eq!(price(3170.0, 0), "3170");
        assert_eq!(price(952.4, 2), "952.40");
        assert_eq!(money(-1234567.891), "-1,234,567.89");
        assert_eq!(money(20_000_000.0), "20,000,000.00");
        assert_eq!(order_status("5"), "Canceled");
        assert_eq!(direction("0"), "Buy");
        let inst = Instruments::default();
        assert_eq!(inst.decimals("x", 952.4), 1);
        assert_eq!(inst.decimals("x", 3170.0), 0);
    }

    #[test]
    fn errors_read_as_sentences() {
        let m = json!({"MsgType": "RspOrderInsert", "RspInfo": {"ErrorID": 31, "ErrorMsg": "CTP:资金不足"}});
        assert_eq!(
            error_sentence(&m).unwrap(),
            "rejected: insufficient funds (CTP 31)"
        );
        let m = json!({"MsgType": "ReqQryOrder", "RspInfo": {"ErrorID": -401, "ErrorMsg": "未登录"}, "Detail": "log in first"});
        assert_eq!(
            error_sentence(&m).unwrap(),
            "error: not logged in (gateway -401): log in first"
        );
        assert!(error_sentence(&json!({"RspInfo": {"ErrorID": 0}})).is_none());
        assert_eq!(error_words(33), "cannot find pk");
    }

    #[test]
    fn order_table_has_words_and_aligned_prices() {
        let o = json!({"OrderSysID": "      100001", "InstrumentID": "rb2605", "Direction": "0",
            "CombOffsetFlag": "0", "OrderPriceType": "2", "LimitPrice": 3170.0, "VolumeTraded": 1,
            "VolumeTotalOriginal": 2, "OrderStatus": "1", "InsertTime": "09:00:01", "StatusMsg": "部分成交"});
        let mut inst = Instruments::default();
        inst.ticks.insert("rb2605".into(), 1.0);
        let t = orders(&[&o], &inst);
        assert!(
            t.contains("PartTradedQueueing")
                && t.contains("Buy")
                && t.contains("3170")
                && t.contains("1/2"),
            "{t}"
        );
    }
}

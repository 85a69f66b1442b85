//! Drawing answers for people: tables sized to the terminal, prices at the
//! instrument's tick precision, CTP's char codes as words, errors as sentences.

use std::collections::HashMap;

use serde_json::Value;

use super::table::{Cell, Style, Table, num, paint, text, toned};

use crate::protocol::errors::{ctp_message, ctp_name};

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
        // CTP's "unknown": sent, the exchange has not answered yet.
        "a" => "Submitted",
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
    use crate::protocol::errors::{self as e, ctp, request};
    let known = i32::try_from(id).ok().and_then(|id| match id {
        ctp::INVALID_LOGIN => Some("invalid login: wrong user or password"),
        ctp::NOT_LOGIN_YET => Some("not logged in"),
        ctp::FRONT_NOT_ACTIVE => Some("the front is not active"),
        ctp::BAD_FIELD => Some("bad order field"),
        ctp::INSTRUMENT_NOT_FOUND => Some("instrument not found"),
        ctp::DUPLICATE_ORDER_REF => Some("duplicate OrderRef"),
        ctp::ORDER_NOT_FOUND => Some("order to cancel not found"),
        ctp::INSUITABLE_ORDER_STATUS => Some("order already traded or canceled"),
        ctp::OVER_CLOSE_POSITION => Some("close volume exceeds the position"),
        ctp::INSUFFICIENT_MONEY => Some("insufficient funds"),
        ctp::SETTLEMENT_INFO_NOT_CONFIRMED => Some("settlement not confirmed (run `confirm`)"),
        ctp::OVER_CLOSETODAY_POSITION => Some("close-today volume exceeds today's position"),
        ctp::OVER_CLOSEYESTERDAY_POSITION => {
            Some("close-yesterday volume exceeds yesterday's position")
        }
        ctp::AUTH_FAILED => Some("client authentication failed"),
        ctp::LOGIN_FORBIDDEN => Some("too many failed logins; login forbidden for a while"),
        ctp::PRICETYPE_NOTSUPPORT_BYEXCHANGE => {
            Some("the exchange does not accept this price type")
        }
        ctp::PRICE_OVER_LIMIT => Some("price outside the daily limits"),
        ctp::VOLUME_NOT_VALID => Some("volume not allowed by the exchange"),
        ctp::PRICE_WRONG_TICK => Some("price is not a multiple of the tick"),
        request::NETWORK_FAILURE => Some("the request could not be sent to the front"),
        request::TOO_MANY_UNANSWERED => Some("too many requests in flight"),
        request::TOO_MANY_PER_SECOND => Some("too many requests per second"),
        e::BAD_PARAMETERS => Some("bad parameters"),
        e::NOT_LOGGED_IN => Some("not logged in"),
        e::NOT_IMPLEMENTED => Some("not implemented"),
        e::LIMIT_EXCEEDED => Some("limit exceeded"),
        e::RATE_LIMITED => Some("too many requests; slow down"),
        _ => None,
    });
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

fn put(t: &mut Table, cells: Vec<Cell>) {
    t.row(cells);
}

/// Whether an order still works at the exchange (queueing, or not yet answered).
pub fn is_working(o: &Value) -> bool {
    matches!(s(o, "OrderStatus"), "1" | "3" | "a" | "b")
}

/// An order's type in words: Limit, Market, FAK or FOK.
pub fn order_type(o: &Value) -> &'static str {
    let immediate = s(o, "TimeCondition") == "1";
    match (s(o, "OrderPriceType"), immediate, s(o, "VolumeCondition")) {
        ("1", _, _) => "Market",
        (_, true, "3") => "FOK",
        (_, true, _) => "FAK",
        (code, _, _) => price_type(code),
    }
}

/// Orders (RtnOrder / RspQryOrder bodies).
pub fn orders(list: &[&Value], inst: &Instruments, style: Style) -> String {
    if list.is_empty() {
        return "no orders".into();
    }
    let mut t = Table::new(&[
        text("OrderSysID", 0),
        text("Ref", 4),
        text("Instrument", 0),
        text("Side", 0),
        text("Offset", 1),
        text("Type", 2),
        num("Price", 0),
        num("Filled", 0),
        text("Status", 0),
        text("Time", 3),
        text("Message", 5),
    ]);
    for o in list {
        let id = s(o, "InstrumentID");
        let p = f(o, "LimitPrice");
        let is_market = s(o, "OrderPriceType") == "1";
        put(
            &mut t,
            vec![
                s(o, "OrderSysID").trim().into(),
                s(o, "OrderRef").trim().into(),
                id.into(),
                direction(s(o, "Direction")).into(),
                offset(s(o, "CombOffsetFlag")).into(),
                order_type(o).into(),
                if is_market {
                    "market".into()
                } else {
                    price(p, inst.decimals(id, p)).into()
                },
                format!("{}/{}", i(o, "VolumeTraded"), i(o, "VolumeTotalOriginal")).into(),
                order_status(s(o, "OrderStatus")).into(),
                s(o, "InsertTime").into(),
                s(o, "StatusMsg").into(),
            ],
        );
    }
    t.render(style)
}

/// Trades.
pub fn trades(list: &[&Value], inst: &Instruments, style: Style) -> String {
    if list.is_empty() {
        return "no trades".into();
    }
    let mut t = Table::new(&[
        text("TradeID", 0),
        text("OrderSysID", 2),
        text("Instrument", 0),
        text("Side", 0),
        text("Offset", 0),
        num("Price", 0),
        num("Volume", 0),
        text("Time", 1),
    ]);
    for x in list {
        let id = s(x, "InstrumentID");
        let p = f(x, "Price");
        put(
            &mut t,
            vec![
                s(x, "TradeID").trim().into(),
                s(x, "OrderSysID").trim().into(),
                id.into(),
                direction(s(x, "Direction")).into(),
                offset(s(x, "OffsetFlag")).into(),
                price(p, inst.decimals(id, p)).into(),
                i(x, "Volume").to_string().into(),
                s(x, "TradeTime").into(),
            ],
        );
    }
    t.render(style)
}

/// One instrument and side of the positions table: CTP's rows (SHFE and INE keep
/// today's and yesterday's in separate rows) added up.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PositionLine {
    pub instrument: String,
    pub exchange: String,
    pub side: &'static str,
    pub position: i64,
    pub today: i64,
    pub frozen: i64,
    pub open_cost: f64,
    pub mark: f64,
    pub profit: f64,
    pub margin: f64,
}

impl PositionLine {
    /// What is left of yesterday's position (CTP's YdPosition is the day's opening
    /// figure and does not shrink as it is closed).
    pub fn yesterday(&self) -> i64 {
        self.position - self.today
    }
}

/// Adds CTP's position rows up per instrument and side, leaving out closed ones.
pub fn position_lines(list: &[&Value]) -> Vec<PositionLine> {
    let mut out: Vec<PositionLine> = Vec::new();
    for p in list {
        let id = s(p, "InstrumentID");
        let side = posi_direction(s(p, "PosiDirection"));
        let k = match out
            .iter()
            .position(|l| l.instrument == id && l.side == side)
        {
            Some(k) => k,
            None => {
                out.push(PositionLine {
                    instrument: id.to_string(),
                    exchange: s(p, "ExchangeID").to_string(),
                    side,
                    ..PositionLine::default()
                });
                out.len() - 1
            }
        };
        let l = &mut out[k];
        l.position += i(p, "Position");
        l.today += i(p, "TodayPosition");
        // Orders closing a long position freeze ShortFrozen, and the other way round.
        l.frozen += if side == "Long" {
            i(p, "ShortFrozen")
        } else {
            i(p, "LongFrozen")
        };
        l.open_cost += f(p, "OpenCost");
        let mark = f(p, "SettlementPrice");
        if mark > 0.0 && mark < f64::MAX / 2.0 {
            l.mark = mark;
        }
        l.profit += f(p, "PositionProfit");
        l.margin += f(p, "UseMargin");
    }
    out.retain(|l| l.position != 0 || l.frozen != 0);
    out.sort_by(|a, b| (&a.instrument, a.side).cmp(&(&b.instrument, b.side)));
    out
}

/// Positions: one line per instrument and side, with the average open price.
pub fn positions(list: &[&Value], inst: &Instruments, style: Style) -> String {
    let lines = position_lines(list);
    if lines.is_empty() {
        return "no positions".into();
    }
    let mut t = Table::new(&[
        text("Instrument", 0),
        text("Exchange", 4),
        text("Side", 0),
        num("Position", 0),
        num("Today", 0),
        num("Yd", 0),
        num("AvgOpen", 1),
        num("Mark", 3),
        num("Frozen", 5),
        num("P&L", 0),
        num("Margin", 2),
    ]);
    for l in &lines {
        let id = l.instrument.as_str();
        let avg = match inst.multiples.get(id) {
            Some(m) if *m > 0.0 && l.position != 0 => l.open_cost / (l.position as f64 * m),
            _ => 0.0,
        };
        put(
            &mut t,
            vec![
                id.into(),
                l.exchange.clone().into(),
                l.side.into(),
                l.position.to_string().into(),
                l.today.to_string().into(),
                l.yesterday().to_string().into(),
                price(avg, inst.decimals(id, avg)).into(),
                price(l.mark, inst.decimals(id, l.mark)).into(),
                l.frozen.to_string().into(),
                toned(money(l.profit), l.profit),
                money(l.margin).into(),
            ],
        );
    }
    t.render(style)
}

/// A key/value table of chosen fields.
fn fields(v: &Value, rows: &[(&str, &str, bool)], style: Style) -> String {
    let mut t = Table::new(&[text("Field", 0), num("Value", 0)]);
    for (label, key, is_money) in rows {
        let cell: Cell = match &v[*key] {
            Value::Number(n) if *is_money => money(n.as_f64().unwrap_or(0.0)).into(),
            Value::Number(n) => n.to_string().into(),
            Value::String(x) => x.clone().into(),
            other => other.to_string().into(),
        };
        put(&mut t, vec![(*label).into(), cell]);
    }
    t.render(style)
}

/// The trading account: funds, then the day's P&L and the risk ratio.
pub fn account(a: &Value, style: Style) -> String {
    let pnl = f(a, "CloseProfit") + f(a, "PositionProfit") - f(a, "Commission");
    let balance = f(a, "Balance");
    let margin = f(a, "CurrMargin");
    let risk = if balance > 0.0 {
        format!("{:.2}%", margin / balance * 100.0)
    } else {
        "-".into()
    };
    let table = fields(
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
        style,
    );
    format!(
        "{table}\nP&L today {} (close {} + position {} - commission {}); risk ratio {risk} (margin / balance)",
        paint(&money(pnl), toned("", pnl).tone, style.color),
        money(f(a, "CloseProfit")),
        money(f(a, "PositionProfit")),
        money(f(a, "Commission")),
    )
}

/// One instrument's quote.
pub fn quote(d: &Value, inst: &Instruments, style: Style) -> String {
    let id = s(d, "InstrumentID");
    let dec = |k: &str| {
        let v = f(d, k);
        price(v, inst.decimals(id, v))
    };
    let last = f(d, "LastPrice");
    let pre = f(d, "PreSettlementPrice");
    let valid = |x: f64| x > 0.0 && x < f64::MAX / 2.0;
    let move_ = if valid(pre) && valid(last) {
        last - pre
    } else {
        0.0
    };
    let change = if valid(pre) && valid(last) {
        format!("{:+.2}%", move_ / pre * 100.0)
    } else {
        "-".into()
    };
    let mut t = Table::new(&[
        text("Instrument", 0),
        num("Last", 0),
        num("Change", 1),
        num("Bid", 0),
        num("BidVol", 2),
        num("Ask", 0),
        num("AskVol", 2),
        num("Volume", 3),
        num("OpenInt", 4),
        text("Time", 3),
    ]);
    put(
        &mut t,
        vec![
            id.into(),
            toned(dec("LastPrice"), move_),
            toned(change, move_),
            dec("BidPrice1").into(),
            i(d, "BidVolume1").to_string().into(),
            dec("AskPrice1").into(),
            i(d, "AskVolume1").to_string().into(),
            i(d, "Volume").to_string().into(),
            format!("{:.0}", f(d, "OpenInterest")).into(),
            format!("{}.{:03}", s(d, "UpdateTime"), i(d, "UpdateMillisec")).into(),
        ],
    );
    t.render(style)
}

/// Five levels of the book, asks above bids (`depth`).
pub fn depth(d: &Value, inst: &Instruments, style: Style) -> String {
    let id = s(d, "InstrumentID");
    let pre = f(d, "PreSettlementPrice");
    let valid = |x: f64| x > 0.0 && x < f64::MAX / 2.0;
    let mut t = Table::new(&[text("Level", 0), num("Price", 0), num("Volume", 0)]);
    let level = |t: &mut Table, name: String, pk: String, vk: String| {
        let p = f(d, &pk);
        let v = i(d, &vk);
        let mv = if valid(p) && valid(pre) { p - pre } else { 0.0 };
        put(
            t,
            vec![
                name.into(),
                toned(price(p, inst.decimals(id, p)), mv),
                if valid(p) { v.to_string() } else { "-".into() }.into(),
            ],
        );
    };
    for n in (1..=5).rev() {
        level(
            &mut t,
            format!("Ask {n}"),
            format!("AskPrice{n}"),
            format!("AskVolume{n}"),
        );
    }
    for n in 1..=5 {
        level(
            &mut t,
            format!("Bid {n}"),
            format!("BidPrice{n}"),
            format!("BidVolume{n}"),
        );
    }
    let last = f(d, "LastPrice");
    format!(
        "{id} last {} at {}.{:03}\n{}",
        paint(
            &price(last, inst.decimals(id, last)),
            toned("", if valid(pre) { last - pre } else { 0.0 }).tone,
            style.color
        ),
        s(d, "UpdateTime"),
        i(d, "UpdateMillisec"),
        t.render(style)
    )
}

/// A tick as one line (for `watch`), with milliseconds.
pub fn tick_line(d: &Value, inst: &Instruments, style: Style) -> String {
    let id = s(d, "InstrumentID");
    let p = |k: &str| {
        let v = f(d, k);
        price(v, inst.decimals(id, v))
    };
    let last = f(d, "LastPrice");
    let pre = f(d, "PreSettlementPrice");
    let mv = if pre > 0.0 && pre < f64::MAX / 2.0 && last > 0.0 && last < f64::MAX / 2.0 {
        last - pre
    } else {
        0.0
    };
    let line = format!(
        "{}.{:03} {:<8} last {:>9}  bid {:>9} x{:<4} ask {:>9} x{:<4} vol {}",
        s(d, "UpdateTime"),
        i(d, "UpdateMillisec"),
        id,
        p("LastPrice"),
        p("BidPrice1"),
        i(d, "BidVolume1"),
        p("AskPrice1"),
        i(d, "AskVolume1"),
        i(d, "Volume")
    );
    let line = match style.width {
        Some(w) => fit(&line, w),
        None => line,
    };
    if style.color && mv != 0.0 {
        // Only the last price is coloured.
        let shown = p("LastPrice");
        let at = line.find(" last ").map(|k| k + 6);
        if let Some(at) = at
            && let Some(rel) = line[at..].find(shown.as_str())
        {
            let k = at + rel;
            return format!(
                "{}{}{}",
                &line[..k],
                paint(&shown, toned("", mv).tone, true),
                &line[k + shown.len()..]
            );
        }
    }
    line
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

/// Instruments.
pub fn instruments(list: &[&Value], style: Style) -> String {
    if list.is_empty() {
        return "no such instrument".into();
    }
    let mut t = Table::new(&[
        text("Instrument", 0),
        text("Exchange", 0),
        text("Name", 3),
        num("Multiple", 0),
        num("Tick", 0),
        num("LongMargin", 2),
        num("ShortMargin", 2),
        text("Expires", 1),
    ]);
    for x in list {
        put(
            &mut t,
            vec![
                s(x, "InstrumentID").into(),
                s(x, "ExchangeID").into(),
                s(x, "InstrumentName").into(),
                i(x, "VolumeMultiple").to_string().into(),
                f(x, "PriceTick").to_string().into(),
                format!("{:.2}%", f(x, "LongMarginRatio") * 100.0).into(),
                format!("{:.2}%", f(x, "ShortMarginRatio") * 100.0).into(),
                s(x, "ExpireDate").into(),
            ],
        );
    }
    t.render(style)
}

/// Margin rates.
pub fn margin(list: &[&Value], style: Style) -> String {
    if list.is_empty() {
        return "no margin rate".into();
    }
    let mut t = Table::new(&[
        text("Instrument", 0),
        num("Long by money", 0),
        num("Long per lot", 1),
        num("Short by money", 0),
        num("Short per lot", 1),
    ]);
    for x in list {
        put(
            &mut t,
            vec![
                s(x, "InstrumentID").into(),
                format!("{:.2}%", f(x, "LongMarginRatioByMoney") * 100.0).into(),
                f(x, "LongMarginRatioByVolume").to_string().into(),
                format!("{:.2}%", f(x, "ShortMarginRatioByMoney") * 100.0).into(),
                f(x, "ShortMarginRatioByVolume").to_string().into(),
            ],
        );
    }
    t.render(style)
}

/// Commission rates.
pub fn commission(list: &[&Value], style: Style) -> String {
    if list.is_empty() {
        return "no commission rate".into();
    }
    let mut t = Table::new(&[
        text("Instrument", 0),
        num("Open", 0),
        num("Close", 0),
        num("Close today", 0),
    ]);
    let both = |x: &Value, money_key: &str, lot_key: &str| {
        let (m, l) = (f(x, money_key), f(x, lot_key));
        match (m > 0.0, l > 0.0) {
            (true, true) => format!("{:.4}‱ + {l}/lot", m * 10_000.0),
            (true, false) => format!("{:.4}‱", m * 10_000.0),
            (false, _) => format!("{l}/lot"),
        }
    };
    for x in list {
        put(
            &mut t,
            vec![
                s(x, "InstrumentID").into(),
                both(x, "OpenRatioByMoney", "OpenRatioByVolume").into(),
                both(x, "CloseRatioByMoney", "CloseRatioByVolume").into(),
                both(x, "CloseTodayRatioByMoney", "CloseTodayRatioByVolume").into(),
            ],
        );
    }
    t.render(style)
}

/// A one-line summary of an order or trade push.
pub fn push_line(msg: &Value, inst: &Instruments) -> Option<String> {
    match s(msg, "MsgType") {
        "RtnOrder" => {
            let o = &msg["Order"];
            let id = s(o, "InstrumentID");
            let p = f(o, "LimitPrice");
            // Before the exchange numbers it, an order is known by its session's
            // OrderRef.
            let name = match s(o, "OrderSysID").trim() {
                "" => format!(
                    "ref {} (session {})",
                    s(o, "OrderRef").trim(),
                    i(o, "SessionID")
                ),
                sys => sys.to_string(),
            };
            Some(format!(
                "order {} {} {} {} {}/{} @ {} {} {}",
                name,
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

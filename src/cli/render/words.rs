//! CTP's char codes as words, and errors as sentences.

use serde_json::Value;

use super::{code, s};
use crate::protocol::CtpChar;
use crate::protocol::codes;
use crate::protocol::errors::{ctp_message, ctp_name};

/// Words for CTP's char codes.
pub fn direction(code: CtpChar) -> &'static str {
    match code {
        codes::direction::BUY => "Buy",
        codes::direction::SELL => "Sell",
        _ => "-",
    }
}

/// An offset flag (the first of a `CombOffsetFlag`) in words.
pub fn offset(code: CtpChar) -> &'static str {
    use codes::offset::*;
    match code {
        OPEN => "Open",
        CLOSE => "Close",
        FORCE_CLOSE => "ForceClose",
        CLOSE_TODAY => "CloseToday",
        CLOSE_YESTERDAY => "CloseYesterday",
        _ => "-",
    }
}

/// An order status in words.
pub fn order_status(code: CtpChar) -> &'static str {
    use codes::order_status::*;
    match code {
        ALL_TRADED => "AllTraded",
        PART_TRADED_QUEUEING => "PartTradedQueueing",
        PART_TRADED_NOT_QUEUEING => "PartTradedNotQueueing",
        NO_TRADE_QUEUEING => "NoTradeQueueing",
        NO_TRADE_NOT_QUEUEING => "NoTradeNotQueueing",
        CANCELED => "Canceled",
        // CTP's "unknown": sent, the exchange has not answered yet.
        UNKNOWN => "Submitted",
        NOT_TOUCHED => "NotTouched",
        TOUCHED => "Touched",
        _ => "-",
    }
}

/// A position's direction in words.
pub fn posi_direction(code: CtpChar) -> &'static str {
    use codes::posi_direction::*;
    match code {
        NET => "Net",
        LONG => "Long",
        SHORT => "Short",
        _ => "-",
    }
}

fn price_type(code: CtpChar) -> &'static str {
    match code {
        codes::price_type::ANY_PRICE => "Market",
        codes::price_type::LIMIT_PRICE => "Limit",
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

/// Whether an order still works at the exchange (queueing, or not yet answered).
pub fn is_working(o: &Value) -> bool {
    use codes::order_status::*;
    matches!(
        code(o, "OrderStatus"),
        PART_TRADED_QUEUEING | NO_TRADE_QUEUEING | UNKNOWN | NOT_TOUCHED
    )
}

/// An order's type in words: Limit, Market, FAK or FOK.
pub fn order_type(o: &Value) -> &'static str {
    let immediate = code(o, "TimeCondition") == codes::time_condition::IOC;
    let all_or_none = code(o, "VolumeCondition") == codes::volume_condition::COMPLETE_VOLUME;
    match code(o, "OrderPriceType") {
        codes::price_type::ANY_PRICE => "Market",
        _ if immediate && all_or_none => "FOK",
        _ if immediate => "FAK",
        other => price_type(other),
    }
}

//! CTP's char codes as words, and errors as sentences.

use crate::protocol::CtpChar;
use crate::protocol::client::{MsgKind, Received};
use crate::protocol::codes;
use crate::protocol::errors::{ctp_message, ctp_name};
use crate::protocol::fields::Order;

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
pub fn error_sentence(msg: &Received) -> Option<String> {
    let info = msg.rsp_info.as_ref()?;
    let id = i64::from(info.ErrorID);
    if id == 0 {
        return None;
    }
    let what = error_words(id);
    let verb = match msg.kind {
        MsgKind::RspOrderInsert | MsgKind::ErrRtnOrderInsert => "rejected",
        MsgKind::RspOrderAction | MsgKind::ErrRtnOrderAction => "cancel refused",
        MsgKind::RspUserLogin | MsgKind::RspAuthenticate => "login failed",
        _ => "error",
    };
    let source = if id < 0 { "gateway" } else { "CTP" };
    let mut out = format!("{verb}: {what} ({source} {id})");
    if let Some(d) = msg.detail.as_deref().filter(|d| !d.is_empty()) {
        out.push_str(&format!(": {d}"));
    } else if id > 0 && ctp_message(info.ErrorID).is_none() && !info.ErrorMsg.is_empty() {
        out.push_str(&format!(": {}", info.ErrorMsg));
    }
    Some(out)
}

/// Whether an order still works at the exchange (queueing, or not yet answered).
pub fn is_working(o: &Order) -> bool {
    use codes::order_status::*;
    matches!(
        o.OrderStatus,
        PART_TRADED_QUEUEING | NO_TRADE_QUEUEING | UNKNOWN | NOT_TOUCHED
    )
}

/// An order's type in words: Limit, Market, FAK or FOK.
pub fn order_type(o: &Order) -> &'static str {
    let immediate = o.TimeCondition == codes::time_condition::IOC;
    let all_or_none = o.VolumeCondition == codes::volume_condition::COMPLETE_VOLUME;
    match o.OrderPriceType {
        codes::price_type::ANY_PRICE => "Market",
        _ if immediate && all_or_none => "FOK",
        _ if immediate => "FAK",
        other => price_type(other),
    }
}

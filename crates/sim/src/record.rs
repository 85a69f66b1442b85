//! The vocabulary of the journal: every change to the exchange is a [`Record`].
//!
//! Records are encoded with postcard (see `ledger::format`), which is positional: a new
//! variant goes at the end (as `Settle` did), and a changed field means a new journal
//! version. Journals of the first, JSON format are read through `ledger::legacy`, which
//! maps them here.

use serde::{Deserialize, Serialize};

use super::account::CloseSplit;

/// An 8-byte ASCII stamp kept inline: a date (`20261124`) or a time (`09:00:00`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Stamp([u8; 8]);

impl Stamp {
    /// The first 8 bytes of `s` (dates and times are exactly 8).
    pub fn new(s: &str) -> Stamp {
        let mut b = [0u8; 8];
        let mut n = s.len().min(8);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        b[..n].copy_from_slice(&s.as_bytes()[..n]);
        Stamp(b)
    }

    pub fn as_str(&self) -> &str {
        let n = self.0.iter().position(|&c| c == 0).unwrap_or(8);
        std::str::from_utf8(&self.0[..n]).unwrap_or_default()
    }
}

impl std::fmt::Debug for Stamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl Serialize for Stamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Stamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Stamp, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Stamp;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a date or time of at most 8 characters")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Stamp, E> {
                if v.len() > 8 {
                    return Err(E::invalid_length(v.len(), &self));
                }
                Ok(Stamp::new(v))
            }
        }
        d.deserialize_str(V)
    }
}

/// CTP's StatusMsg of an order, kept as a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum StatusMsg {
    #[default]
    Submitted,
    NoTrade,
    AllTraded,
    PartTraded,
    /// Cancelled by request, or an immediate-or-cancel order that found nothing.
    Canceled,
    /// What an immediate-or-cancel order could not fill was cancelled.
    PartCanceled,
    /// Cancelled by the day's end.
    ClosedCanceled,
}

impl StatusMsg {
    pub fn text(self) -> &'static str {
        match self {
            StatusMsg::Submitted => "报单已提交",
            StatusMsg::NoTrade => "未成交",
            StatusMsg::AllTraded => "全部成交",
            StatusMsg::PartTraded => "部分成交",
            StatusMsg::Canceled => "已撤单",
            StatusMsg::PartCanceled => "部分成交剩余已撤单",
            StatusMsg::ClosedCanceled => "收盘撤单",
        }
    }

    /// The code of a cancel message (the JSON journal kept the text).
    pub fn of_cancel(text: &str) -> StatusMsg {
        match text {
            "部分成交剩余已撤单" => StatusMsg::PartCanceled,
            "收盘撤单" => StatusMsg::ClosedCanceled,
            _ => StatusMsg::Canceled,
        }
    }
}

/// One accepted order as journaled: the client's input and what the exchange decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InsertRecord {
    pub user: String,
    pub instrument: String,
    pub order_ref: String,
    /// OrderSysID (and OrderLocalID), printed padded to 12.
    pub sys_id: u64,
    pub direction: u8,
    pub offset: u8,
    pub price_type: u8,
    pub time_condition: u8,
    pub volume_condition: u8,
    pub hedge: u8,
    pub limit_price: f64,
    pub volume: i32,
    pub min_volume: i32,
    pub front_id: i32,
    pub session_id: i32,
    pub request_id: i32,
    pub date: Stamp,
    pub time: Stamp,
    pub broker_seq: i32,
    pub plan: CloseSplit,
    pub margin_per_lot: f64,
    pub commission_per_lot: f64,
}

/// A change to the exchange's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Record {
    /// The first record of a new ledger: the trading day it starts on.
    Start {
        day: String,
    },
    /// An account opened with `funds`.
    Open {
        user: String,
        salt: String,
        digest: String,
        funds: f64,
    },
    Password {
        user: String,
        salt: String,
        digest: String,
    },
    /// Settlement of `day` confirmed.
    Confirm {
        user: String,
        day: String,
        date: String,
        time: String,
    },
    Insert(Box<InsertRecord>),
    /// A fill; `commission` and `close_profit` are what it cost and realized, kept to
    /// check the replay.
    Fill {
        sys_id: u64,
        trade_id: u64,
        price: f64,
        volume: i32,
        date: Stamp,
        time: Stamp,
        commission: f64,
        close_profit: f64,
    },
    Cancel {
        sys_id: u64,
        time: Stamp,
        msg: StatusMsg,
    },
    /// The end of a trading day as webctp wrote it before contracts expired (journals
    /// of earlier versions, the first format included): positions settle at these
    /// prices and all of them carry over, listed or not; `profit` is what each
    /// account's positions made on the settlement, kept to check the replay.
    Roll {
        next_day: String,
        settlement: Vec<(String, f64)>,
        profit: Vec<(String, f64)>,
    },
    /// The end of a trading day: as [`Record::Roll`], and then positions in the
    /// `expired` contracts (held, but not listed on `next_day`) are closed at their
    /// settlement price. The list is decided when the day ends and journaled, so a
    /// replay never re-decides an expiry with other listing rules.
    Settle {
        next_day: String,
        settlement: Vec<(String, f64)>,
        profit: Vec<(String, f64)>,
        expired: Vec<String>,
    },
}

impl Record {
    /// A short name for reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::Start { .. } => "start",
            Record::Open { .. } => "open",
            Record::Password { .. } => "password",
            Record::Confirm { .. } => "confirm",
            Record::Insert(_) => "insert",
            Record::Fill { .. } => "fill",
            Record::Cancel { .. } => "cancel",
            Record::Roll { .. } => "roll",
            Record::Settle { .. } => "settle",
        }
    }

    /// Whether it ends a trading day (the last record of a day's journal).
    pub fn ends_day(&self) -> bool {
        matches!(self, Record::Roll { .. } | Record::Settle { .. })
    }

    /// The trading day that a day's end starts.
    pub fn next_day(&self) -> Option<&str> {
        match self {
            Record::Roll { next_day, .. } | Record::Settle { next_day, .. } => Some(next_day),
            _ => None,
        }
    }
}

/// OrderSysID, TradeID and OrderLocalID as CTP prints them: right-aligned in 12.
pub fn pad(n: u64) -> String {
    format!("{n:>12}")
}

/// The number in a padded ID, if it is one.
pub fn parse_id(s: &str) -> Option<u64> {
    s.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_in_both_encodings() {
        let s = Stamp::new("09:30:01");
        assert_eq!(s.as_str(), "09:30:01");
        assert_eq!(Stamp::new("").as_str(), "");
        assert_eq!(Stamp::new("2026112499").as_str(), "20261124");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"09:30:01\"");
        assert_eq!(serde_json::from_str::<Stamp>(&json).unwrap(), s);
        let bin = postcard::to_stdvec(&s).unwrap();
        assert_eq!(postcard::from_bytes::<Stamp>(&bin).unwrap(), s);
        assert!(serde_json::from_str::<Stamp>("\"123456789\"").is_err());
    }
}

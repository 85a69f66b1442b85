//! The terminal's command grammar: one variant per command, one place that maps the
//! typed words to it, and the usage text of each.
//!
//! - [`catalog`]: every command's name, usage and description, and their aliases;
//! - [`grammar`]: the typed words to a [`Command`].

mod catalog;
mod grammar;

pub use catalog::*;
pub use grammar::parse;

use std::fmt;

use crate::protocol::CtpChar;
use crate::protocol::codes::offset;

/// Which side an order takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Buy,
    Sell,
}

/// How an order is priced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Price {
    /// A limit price.
    Limit(f64),
    /// Any price (exchanges other than SHFE and INE).
    Market,
    /// The opposite best price of the latest quote (ask for a buy, bid for a sell).
    Opposite,
}

/// CTP's open/close flag, as typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offset {
    Open,
    Close,
    CloseToday,
    CloseYesterday,
}

impl Offset {
    /// CTP's offset flag.
    pub fn code(self) -> CtpChar {
        match self {
            Offset::Open => offset::OPEN,
            Offset::Close => offset::CLOSE,
            Offset::CloseToday => offset::CLOSE_TODAY,
            Offset::CloseYesterday => offset::CLOSE_YESTERDAY,
        }
    }
}

/// Fill-and-kill or fill-or-kill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Immediate {
    Fak,
    Fok,
}

/// An order as typed: `buy rb2605 1 @3170 close fak`.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderArgs {
    pub side: Side,
    pub instrument: String,
    pub volume: i32,
    pub price: Price,
    pub offset: Offset,
    pub immediate: Option<Immediate>,
}

/// Which side of a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holding {
    Long,
    Short,
}

/// A close as typed: `close rb2605 long 2 @3170`.
#[derive(Debug, Clone, PartialEq)]
pub struct CloseArgs {
    pub instrument: String,
    /// Which side, when both are held.
    pub side: Option<Holding>,
    /// How many lots (default: all that can be closed).
    pub volume: Option<i32>,
    pub price: Price,
}

/// Which endpoint a `raw` message goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawTarget {
    Md,
    Td,
    /// Decided from the MsgType.
    Auto,
}

/// Output style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    Table,
    Json,
}

/// A terminal command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Login {
        user: Option<String>,
    },
    Logout,
    Sub(Vec<String>),
    Unsub(Vec<String>),
    Quote(String),
    Depth(String),
    Watch(Vec<String>),
    Unwatch,
    Order(OrderArgs),
    /// `close <inst> [long|short] [volume] [@price|market]`.
    Close(CloseArgs),
    /// `flatten [inst|all]`: close every position (of one instrument).
    Flatten(Option<String>),
    Cancel(String),
    /// `cancel all [inst]`: every open order (of one instrument).
    CancelAll(Option<String>),
    Orders {
        /// Only orders still working (`orders open`).
        open: bool,
    },
    Trades,
    Positions,
    Account,
    Instrument(String),
    Margin(String),
    Commission(String),
    Confirm,
    Settlement,
    Passwd,
    Raw {
        target: RawTarget,
        json: String,
    },
    Set(OutputMode),
    Settle,
    DropFront(f64),
    Status,
    Help(Option<String>),
    Exit,
}

impl Command {
    /// Whether the command needs a trading login.
    pub fn needs_login(&self) -> bool {
        matches!(
            self,
            Command::Logout
                | Command::Order(_)
                | Command::Cancel(_)
                | Command::CancelAll(_)
                | Command::Close(_)
                | Command::Flatten(_)
                | Command::Orders { .. }
                | Command::Trades
                | Command::Positions
                | Command::Account
                | Command::Instrument(_)
                | Command::Margin(_)
                | Command::Commission(_)
                | Command::Confirm
                | Command::Settlement
                | Command::Passwd
        )
    }
}

/// A line the grammar does not accept, with what to show the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

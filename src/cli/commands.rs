//! The terminal's command grammar: one variant per command, one place that maps the
//! typed words to it, and the usage text of each.

use std::fmt;

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
    /// CTP's CombOffsetFlag.
    pub fn code(self) -> &'static str {
        match self {
            Offset::Open => "0",
            Offset::Close => "1",
            Offset::CloseToday => "3",
            Offset::CloseYesterday => "4",
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

/// A line the grammar does not accept, with what to show the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Name, usage and one-line description of every command.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "login",
        "login [user]",
        "log in to the trading front (password from WEBCTP_PASSWORD, config, or a prompt)",
    ),
    ("logout", "logout", "log out of the trading front"),
    ("sub", "sub <instrument>...", "subscribe to market data"),
    (
        "unsub",
        "unsub <instrument>...",
        "unsubscribe from market data",
    ),
    ("quote", "quote <instrument>", "show the latest quote"),
    (
        "depth",
        "depth <instrument>",
        "five levels of the book, updated live until q or Ctrl-C (a snapshot in exec)",
    ),
    (
        "watch",
        "watch [instrument...]",
        "print ticks as they arrive (all subscribed if none given)",
    ),
    ("unwatch", "unwatch", "stop printing ticks"),
    (
        "buy",
        "buy <instrument> <volume> [@price|market] [open|close|closetoday|closeyesterday] [fak|fok]",
        "insert a buy order (default: open, limit at the best ask)",
    ),
    (
        "sell",
        "sell <instrument> <volume> [@price|market] [open|close|closetoday|closeyesterday] [fak|fok]",
        "insert a sell order (default: open, limit at the best bid)",
    ),
    (
        "close",
        "close <instrument> [long|short] [volume] [@price|market]",
        "close a position (CloseToday/CloseYesterday split on SHFE and INE)",
    ),
    (
        "flatten",
        "flatten [instrument|all]",
        "close every position (of one instrument) at the opposite best price",
    ),
    (
        "cancel",
        "cancel <OrderSysID|OrderRef>|all [instrument]",
        "cancel an order (an OrderRef names this session's orders only), or all open ones",
    ),
    (
        "orders",
        "orders [open]",
        "list today's orders (only working ones with `open`)",
    ),
    ("trades", "trades", "list today's trades"),
    ("positions", "positions", "list positions"),
    ("account", "account", "show the trading account's funds"),
    (
        "instrument",
        "instrument <id|prefix>",
        "show instruments whose ID starts with the text",
    ),
    ("margin", "margin <instrument>", "show the margin rate"),
    (
        "commission",
        "commission <instrument>",
        "show the commission rate",
    ),
    ("confirm", "confirm", "confirm the settlement statement"),
    (
        "settlement",
        "settlement",
        "show the last settlement statement",
    ),
    (
        "passwd",
        "passwd",
        "change the password (prompts for the old and new one)",
    ),
    (
        "raw",
        "raw [md|td] <json>",
        "send a protocol message and print every answer",
    ),
    (
        "set",
        "set output json|table",
        "print protocol JSON or tables",
    ),
    (
        "settle",
        "settle",
        "sim only: end the trading day now (positions settle and move to yesterday)",
    ),
    (
        "drop-front",
        "drop-front <seconds>",
        "sim only: take the front down for a while",
    ),
    (
        "status",
        "status",
        "the backend, its fronts (address, up or down), the login and subscriptions",
    ),
    (
        "help",
        "help [command]",
        "list commands, or show one command's usage",
    ),
    ("exit", "exit", "leave (also quit, Ctrl-D)"),
];

/// Short and alternative names of commands.
pub const ALIASES: &[(&str, &str)] = &[
    ("b", "buy"),
    ("s", "sell"),
    ("c", "cancel"),
    ("q", "quote"),
    ("book", "depth"),
    ("pos", "positions"),
    ("acc", "account"),
    ("funds", "account"),
    ("subscribe", "sub"),
    ("unsubscribe", "unsub"),
    ("inst", "instrument"),
    ("instruments", "instrument"),
    ("password", "passwd"),
    ("quit", "exit"),
    ("?", "help"),
];

/// The command a word names (itself, or what it is short for).
pub fn canonical(word: &str) -> &str {
    ALIASES.iter().find(|a| a.0 == word).map_or(word, |a| a.1)
}

/// The aliases of a command.
pub fn aliases_of(name: &str) -> Vec<&'static str> {
    ALIASES
        .iter()
        .filter(|a| a.1 == name)
        .map(|a| a.0)
        .collect()
}

/// The usage line of a command.
pub fn usage(name: &str) -> Option<&'static str> {
    COMMANDS.iter().find(|c| c.0 == name).map(|c| c.1)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The known command closest to a typo, if any is close.
pub fn closest(word: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .map(|c| (edit_distance(word, c.0), c.0))
        .filter(|(d, name)| *d <= 2.max(name.len() / 3) || name.starts_with(word))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

fn err(name: &str, what: impl fmt::Display) -> UsageError {
    UsageError(format!("{what}\nusage: {}", usage(name).unwrap_or(name)))
}

fn instrument_arg(name: &str, s: &str) -> Result<String, UsageError> {
    let ok = !s.is_empty()
        && s.len() <= 80
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '&' || c == ' ');
    if ok {
        Ok(s.to_string())
    } else {
        Err(err(name, format!("`{s}` is not an instrument ID")))
    }
}

fn parse_order(side: Side, name: &str, args: &[&str]) -> Result<OrderArgs, UsageError> {
    let [instrument, volume, rest @ ..] = args else {
        return Err(err(name, "missing instrument or volume"));
    };
    let instrument = instrument_arg(name, instrument)?;
    let volume: i32 = volume.parse().ok().filter(|v| *v > 0).ok_or_else(|| {
        err(
            name,
            format!("volume must be a positive whole number, not `{volume}`"),
        )
    })?;
    let mut price = None;
    let mut offset = None;
    let mut immediate = None;
    for word in rest {
        let w = word.to_ascii_lowercase();
        fn set_once<T>(
            slot: &mut Option<T>,
            v: T,
            name: &str,
            what: &str,
        ) -> Result<(), UsageError> {
            if slot.is_some() {
                return Err(err(name, format!("{what} given twice")));
            }
            *slot = Some(v);
            Ok(())
        }
        match w.as_str() {
            "market" | "mkt" => set_once(&mut price, Price::Market, name, "price")?,
            "open" => set_once(&mut offset, Offset::Open, name, "open/close")?,
            "close" => set_once(&mut offset, Offset::Close, name, "open/close")?,
            "closetoday" | "ct" => set_once(&mut offset, Offset::CloseToday, name, "open/close")?,
            "closeyesterday" | "cy" => {
                set_once(&mut offset, Offset::CloseYesterday, name, "open/close")?
            }
            "fak" | "ioc" => set_once(&mut immediate, Immediate::Fak, name, "fak/fok")?,
            "fok" => set_once(&mut immediate, Immediate::Fok, name, "fak/fok")?,
            _ => {
                let num = w.strip_prefix('@').unwrap_or(&w);
                match num.parse::<f64>() {
                    Ok(p) if p.is_finite() && p > 0.0 => {
                        set_once(&mut price, Price::Limit(p), name, "price")?
                    }
                    _ => {
                        return Err(err(
                            name,
                            format!(
                                "`{word}` is not a price (@3170), market, an offset or fak/fok"
                            ),
                        ));
                    }
                }
            }
        }
    }
    Ok(OrderArgs {
        side,
        instrument,
        volume,
        price: price.unwrap_or(Price::Opposite),
        offset: offset.unwrap_or(Offset::Open),
        immediate,
    })
}

fn parse_close(args: &[&str]) -> Result<CloseArgs, UsageError> {
    let [instrument, rest @ ..] = args else {
        return Err(err("close", "missing instrument"));
    };
    let instrument = instrument_arg("close", instrument)?;
    let (mut side, mut volume, mut price) = (None, None, None);
    for word in rest {
        let w = word.to_ascii_lowercase();
        match w.as_str() {
            "long" | "short" if side.is_none() => {
                side = Some(if w == "long" {
                    Holding::Long
                } else {
                    Holding::Short
                })
            }
            "market" | "mkt" if price.is_none() => price = Some(Price::Market),
            _ if w.starts_with('@') && price.is_none() => match w[1..].parse::<f64>() {
                Ok(p) if p.is_finite() && p > 0.0 => price = Some(Price::Limit(p)),
                _ => return Err(err("close", format!("`{word}` is not a price"))),
            },
            _ if volume.is_none() => match w.parse::<i32>() {
                Ok(v) if v > 0 => volume = Some(v),
                _ => {
                    return Err(err(
                        "close",
                        format!("`{word}` is not long/short, a volume, @price or market"),
                    ));
                }
            },
            _ => {
                return Err(err(
                    "close",
                    format!("`{word}` given twice or not understood"),
                ));
            }
        }
    }
    Ok(CloseArgs {
        instrument,
        side,
        volume,
        price: price.unwrap_or(Price::Opposite),
    })
}

/// Parses one line. `Ok(None)` for an empty line.
pub fn parse(line: &str) -> Result<Option<Command>, UsageError> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (head, tail) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let typed = head.to_ascii_lowercase();
    let name = canonical(&typed).to_string();
    let args: Vec<&str> = tail.split_whitespace().collect();
    let no_args = |cmd: Command| {
        if args.is_empty() {
            Ok(Some(cmd))
        } else {
            Err(err(&name, "this command takes no arguments"))
        }
    };
    let one = |name: &str| -> Result<String, UsageError> {
        match args.as_slice() {
            [a] => instrument_arg(name, a),
            [] => Err(err(name, "missing instrument")),
            _ => Err(err(name, "one instrument, please")),
        }
    };
    let cmd = match name.as_str() {
        "login" => match args.as_slice() {
            [] => Command::Login { user: None },
            [u] => Command::Login {
                user: Some((*u).to_string()),
            },
            _ => return Err(err("login", "too many arguments")),
        },
        "logout" => return no_args(Command::Logout),
        "sub" | "unsub" => {
            let canonical = if name.starts_with("un") {
                "unsub"
            } else {
                "sub"
            };
            if args.is_empty() {
                return Err(err(canonical, "missing instrument"));
            }
            let ids = args
                .iter()
                .map(|a| instrument_arg(canonical, a))
                .collect::<Result<Vec<_>, _>>()?;
            if canonical == "sub" {
                Command::Sub(ids)
            } else {
                Command::Unsub(ids)
            }
        }
        "quote" => Command::Quote(one("quote")?),
        "depth" => Command::Depth(one("depth")?),
        "status" => return no_args(Command::Status),
        "watch" => Command::Watch(
            args.iter()
                .map(|a| instrument_arg("watch", a))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        "unwatch" => return no_args(Command::Unwatch),
        "buy" => Command::Order(parse_order(Side::Buy, "buy", &args)?),
        "sell" => Command::Order(parse_order(Side::Sell, "sell", &args)?),
        "close" => Command::Close(parse_close(&args)?),
        "flatten" => match args.as_slice() {
            [] => Command::Flatten(None),
            [a] if a.eq_ignore_ascii_case("all") => Command::Flatten(None),
            [i] => Command::Flatten(Some(instrument_arg("flatten", i)?)),
            _ => return Err(err("flatten", "one instrument, or all")),
        },
        "cancel" => match args.as_slice() {
            [a] if a.eq_ignore_ascii_case("all") => Command::CancelAll(None),
            [a, i] if a.eq_ignore_ascii_case("all") => {
                Command::CancelAll(Some(instrument_arg("cancel", i)?))
            }
            [id] => Command::Cancel((*id).to_string()),
            _ => return Err(err("cancel", "give one OrderSysID or OrderRef, or all")),
        },
        "orders" => match args.as_slice() {
            [] => Command::Orders { open: false },
            [a] if a.eq_ignore_ascii_case("open") => Command::Orders { open: true },
            _ => return Err(err("orders", "only `orders` and `orders open` exist")),
        },
        "trades" => return no_args(Command::Trades),
        "positions" => return no_args(Command::Positions),
        "account" => return no_args(Command::Account),
        "instrument" => match args.as_slice() {
            [] => Command::Instrument(String::new()),
            [p] => Command::Instrument(instrument_arg("instrument", p)?),
            _ => return Err(err("instrument", "one ID or prefix, please")),
        },
        "margin" => Command::Margin(one("margin")?),
        "commission" => Command::Commission(one("commission")?),
        "confirm" => return no_args(Command::Confirm),
        "settlement" => return no_args(Command::Settlement),
        "passwd" => return no_args(Command::Passwd),
        "raw" => {
            let (target, json) = match tail.trim_start().split_once(char::is_whitespace) {
                Some(("md", rest)) => (RawTarget::Md, rest.trim()),
                Some(("td", rest)) => (RawTarget::Td, rest.trim()),
                _ => (RawTarget::Auto, tail.trim()),
            };
            if json.is_empty() {
                return Err(err("raw", "missing the JSON message"));
            }
            Command::Raw {
                target,
                json: json.to_string(),
            }
        }
        "set" => match args.as_slice() {
            ["output", "json"] => Command::Set(OutputMode::Json),
            ["output", "table"] => Command::Set(OutputMode::Table),
            _ => {
                return Err(err(
                    "set",
                    "only `set output json` and `set output table` exist",
                ));
            }
        },
        "settle" => return no_args(Command::Settle),
        "drop-front" => match args.as_slice() {
            [s] => match s.parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 && v <= 3600.0 => Command::DropFront(v),
                _ => {
                    return Err(err(
                        "drop-front",
                        format!("`{s}` is not a number of seconds (0-3600)"),
                    ));
                }
            },
            _ => return Err(err("drop-front", "give the outage in seconds")),
        },
        "help" => Command::Help(args.first().map(|s| s.to_ascii_lowercase())),
        "exit" => return no_args(Command::Exit),
        _ => {
            let other = typed.as_str();
            let hint = match closest(other) {
                Some(c) => format!(
                    "unknown command `{other}`; did you mean `{c}`?\nusage: {}",
                    usage(c).unwrap_or(c)
                ),
                None => format!("unknown command `{other}`; type `help` for the list"),
            };
            return Err(UsageError(hint));
        }
    };
    Ok(Some(cmd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_parse_with_defaults() {
        let Some(Command::Order(o)) = parse("buy rb2605 1 @3170").unwrap() else {
            panic!()
        };
        assert_eq!(o.side, Side::Buy);
        assert_eq!(o.volume, 1);
        assert_eq!(o.price, Price::Limit(3170.0));
        assert_eq!(o.offset, Offset::Open);
        let Some(Command::Order(o)) = parse("sell m2605 2 market close fak").unwrap() else {
            panic!()
        };
        assert_eq!(
            (o.price, o.offset, o.immediate),
            (Price::Market, Offset::Close, Some(Immediate::Fak))
        );
        let Some(Command::Order(o)) = parse("SELL au2602 3 closetoday").unwrap() else {
            panic!()
        };
        assert_eq!(o.price, Price::Opposite);
        assert_eq!(o.offset, Offset::CloseToday);
    }

    #[test]
    fn mistakes_get_usage_and_suggestions() {
        let e = parse("buy rb2605").unwrap_err();
        assert!(e.0.contains("usage: buy"), "{e}");
        let e = parse("buy rb2605 0").unwrap_err();
        assert!(e.0.contains("positive"), "{e}");
        let e = parse("buy rb2605 1 @abc").unwrap_err();
        assert!(e.0.contains("not a price"), "{e}");
        let e = parse("buy rb2605 1 @3170 @3171").unwrap_err();
        assert!(e.0.contains("twice"), "{e}");
        let e = parse("postions").unwrap_err();
        assert!(e.0.contains("did you mean `positions`"), "{e}");
        let e = parse("accont").unwrap_err();
        assert!(e.0.contains("`account`"), "{e}");
        assert!(parse("xyzzy").unwrap_err().0.contains("help"));
        assert!(parse("orders now").is_err());
        assert_eq!(parse("   ").unwrap(), None);
    }

    #[test]
    fn raw_keeps_the_json() {
        let Some(Command::Raw { target, json }) = parse(r#"raw md {"MsgType":"Ping"}"#).unwrap()
        else {
            panic!()
        };
        assert_eq!(target, RawTarget::Md);
        assert_eq!(json, r#"{"MsgType":"Ping"}"#);
        let Some(Command::Raw { target, .. }) = parse(r#"raw {"MsgType": "Ping"}"#).unwrap() else {
            panic!()
        };
        assert_eq!(target, RawTarget::Auto);
    }

    #[test]
    fn every_command_has_a_usage() {
        for (name, use_line, _) in COMMANDS {
            assert!(use_line.starts_with(name));
        }
    }
}

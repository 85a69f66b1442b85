//! The grammar: a typed line to a [`Command`], or the usage to show.

use std::fmt;

use super::{
    CloseArgs, Command, Holding, Immediate, Offset, OrderArgs, OutputMode, Price, RawTarget, Side,
    UsageError, canonical, closest, usage,
};

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
    use crate::cli::commands::COMMANDS;

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

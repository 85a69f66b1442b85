//! Orders and trades: tables, and the one-line pushes printed as they arrive.

use serde_json::Value;

use super::{
    Instruments, code, direction, error_sentence, f, i, offset, order_status, order_type, price,
    put, s,
};
use crate::cli::table::{Style, Table, num, text};
use crate::protocol::codes;

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
        let is_market = code(o, "OrderPriceType") == codes::price_type::ANY_PRICE;
        put(
            &mut t,
            vec![
                s(o, "OrderSysID").trim().into(),
                s(o, "OrderRef").trim().into(),
                id.into(),
                direction(code(o, "Direction")).into(),
                offset(code(o, "CombOffsetFlag")).into(),
                order_type(o).into(),
                if is_market {
                    "market".into()
                } else {
                    price(p, inst.decimals(id, p)).into()
                },
                format!("{}/{}", i(o, "VolumeTraded"), i(o, "VolumeTotalOriginal")).into(),
                order_status(code(o, "OrderStatus")).into(),
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
                direction(code(x, "Direction")).into(),
                offset(code(x, "OffsetFlag")).into(),
                price(p, inst.decimals(id, p)).into(),
                i(x, "Volume").to_string().into(),
                s(x, "TradeTime").into(),
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
                direction(code(o, "Direction")),
                offset(code(o, "CombOffsetFlag")),
                id,
                i(o, "VolumeTraded"),
                i(o, "VolumeTotalOriginal"),
                if code(o, "OrderPriceType") == codes::price_type::ANY_PRICE {
                    "market".into()
                } else {
                    price(p, inst.decimals(id, p))
                },
                order_status(code(o, "OrderStatus")),
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
                direction(code(x, "Direction")),
                offset(code(x, "OffsetFlag")),
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

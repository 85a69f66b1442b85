//! Orders and trades: tables, and the one-line pushes printed as they arrive.

use super::{Instruments, direction, error_sentence, offset, order_status, order_type, price, put};
use crate::cli::table::{Style, Table, num, text};
use crate::protocol::client::{MsgKind, Received};
use crate::protocol::codes;
use crate::protocol::fields::{Order, Trade};

/// Orders (RtnOrder / RspQryOrder bodies).
pub fn orders(list: &[&Order], inst: &Instruments, style: Style) -> String {
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
        let id = o.InstrumentID.as_str();
        let p = o.LimitPrice;
        let is_market = o.OrderPriceType == codes::price_type::ANY_PRICE;
        put(
            &mut t,
            vec![
                o.OrderSysID.trim().into(),
                o.OrderRef.trim().into(),
                id.into(),
                direction(o.Direction).into(),
                offset(codes::first(&o.CombOffsetFlag)).into(),
                order_type(o).into(),
                if is_market {
                    "market".into()
                } else {
                    price(p, inst.decimals(id, p)).into()
                },
                format!("{}/{}", o.VolumeTraded, o.VolumeTotalOriginal).into(),
                order_status(o.OrderStatus).into(),
                o.InsertTime.as_str().into(),
                o.StatusMsg.as_str().into(),
            ],
        );
    }
    t.render(style)
}

/// Trades.
pub fn trades(list: &[&Trade], inst: &Instruments, style: Style) -> String {
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
        let id = x.InstrumentID.as_str();
        let p = x.Price;
        put(
            &mut t,
            vec![
                x.TradeID.trim().into(),
                x.OrderSysID.trim().into(),
                id.into(),
                direction(x.Direction).into(),
                offset(x.OffsetFlag).into(),
                price(p, inst.decimals(id, p)).into(),
                x.Volume.to_string().into(),
                x.TradeTime.as_str().into(),
            ],
        );
    }
    t.render(style)
}

/// A one-line summary of an order or trade push.
pub fn push_line(msg: &Received, inst: &Instruments) -> Option<String> {
    match msg.kind {
        MsgKind::RtnOrder => {
            let o = msg.body::<Order>()?;
            let id = o.InstrumentID.as_str();
            let p = o.LimitPrice;
            // Before the exchange numbers it, an order is known by its session's
            // OrderRef.
            let name = match o.OrderSysID.trim() {
                "" => format!("ref {} (session {})", o.OrderRef.trim(), o.SessionID),
                sys => sys.to_string(),
            };
            Some(format!(
                "order {} {} {} {} {}/{} @ {} {} {}",
                name,
                direction(o.Direction),
                offset(codes::first(&o.CombOffsetFlag)),
                id,
                o.VolumeTraded,
                o.VolumeTotalOriginal,
                if o.OrderPriceType == codes::price_type::ANY_PRICE {
                    "market".into()
                } else {
                    price(p, inst.decimals(id, p))
                },
                order_status(o.OrderStatus),
                o.StatusMsg,
            ))
        }
        MsgKind::RtnTrade => {
            let x = msg.body::<Trade>()?;
            let id = x.InstrumentID.as_str();
            let p = x.Price;
            Some(format!(
                "trade {} {} {} {} {} @ {} (order {})",
                x.TradeID.trim(),
                direction(x.Direction),
                offset(x.OffsetFlag),
                id,
                x.Volume,
                price(p, inst.decimals(id, p)),
                x.OrderSysID.trim()
            ))
        }
        MsgKind::ErrRtnOrderInsert | MsgKind::ErrRtnOrderAction => error_sentence(msg),
        MsgKind::OnFrontDisconnected | MsgKind::OnFrontConnected => Some(format!(
            "{}: {}",
            if msg.kind == MsgKind::OnFrontConnected {
                "front connected"
            } else {
                "front disconnected"
            },
            msg.detail.as_deref().unwrap_or("")
        )),
        _ => None,
    }
}

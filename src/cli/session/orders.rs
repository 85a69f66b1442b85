//! What the terminal knows of today's orders — the latest state of each, keyed as CTP
//! keys them (FrontID, SessionID, OrderRef) — and how `cancel` names one.
//!
//! Every session numbers its orders from OrderRef 1, so an OrderRef alone names an
//! order only within the session that sent it; an OrderSysID names it on its exchange.
//! `cancel` takes either, and refuses with a sentence when the text could mean more
//! than one order or only another session's order.

use std::collections::HashMap;

use crate::protocol::fields::Order;

/// CTP's key of an order: FrontID, SessionID and the (trimmed) OrderRef.
pub(super) type OrderKey = (i64, i64, String);

/// The key of an order from its parts; `None` without an OrderRef.
pub(super) fn key(front: i32, session: i32, order_ref: &str) -> Option<OrderKey> {
    let r = order_ref.trim();
    (!r.is_empty()).then(|| (i64::from(front), i64::from(session), r.to_string()))
}

/// The key of an order.
pub(super) fn key_of(o: &Order) -> Option<OrderKey> {
    key(o.FrontID, o.SessionID, &o.OrderRef)
}

/// What `cancel <text>` names.
#[derive(Debug, PartialEq)]
pub(super) enum Named {
    One(Box<Order>),
    /// Nothing today carries that ID.
    Nothing,
    /// The refusal to show: more than one order, or only other sessions' orders.
    Refused(String),
}

/// Orders seen today, newest state of each.
#[derive(Debug, Default)]
pub(super) struct OrderBook {
    orders: HashMap<OrderKey, Order>,
}

fn describe(o: &Order) -> String {
    format!(
        "{} {} {}",
        o.InstrumentID.trim(),
        crate::cli::render::direction(o.Direction),
        crate::cli::render::order_status(o.OrderStatus),
    )
}

impl OrderBook {
    /// Keeps the order's latest state.
    pub(super) fn update(&mut self, o: &Order) {
        if let Some(k) = key_of(o) {
            self.orders.insert(k, o.clone());
        }
    }

    /// The latest state of the order `o` is a state of.
    pub(super) fn latest(&self, o: &Order) -> Option<&Order> {
        self.orders.get(&key_of(o)?)
    }

    /// The order `text` names: an OrderSysID, or an OrderRef of the session `me`
    /// (FrontID, SessionID). `sys:` or `ref:` in front says which is meant.
    pub(super) fn name(&self, text: &str, me: Option<(i64, i64)>) -> Named {
        let text = text.trim();
        let (by_sys_only, by_ref_only, id) = match text.split_once(':') {
            Some(("sys", rest)) => (true, false, rest.trim()),
            Some(("ref", rest)) => (false, true, rest.trim()),
            _ => (false, false, text),
        };
        let mut sorted: Vec<(&OrderKey, &Order)> = self.orders.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let by_sys: Vec<&Order> = sorted
            .iter()
            .filter(|(_, o)| !by_ref_only && o.OrderSysID.trim() == id)
            .map(|(_, o)| *o)
            .collect();
        let (mine, others): (Vec<_>, Vec<_>) = sorted
            .iter()
            .filter(|(k, _)| !by_sys_only && k.2 == id)
            .partition(|(k, _)| me == Some((k.0, k.1)));
        let mut found: Vec<&Order> = by_sys.clone();
        for (_, o) in &mine {
            if !found.iter().any(|f| key_of(f) == key_of(o)) {
                found.push(o);
            }
        }
        match found.as_slice() {
            [one] => Named::One(Box::new((*one).clone())),
            [] if !others.is_empty() => {
                let sys: Vec<String> = others
                    .iter()
                    .map(|(_, o)| match o.OrderSysID.trim() {
                        "" => format!("an unnumbered {}", describe(o)),
                        s => format!("{s} ({})", describe(o)),
                    })
                    .collect();
                Named::Refused(format!(
                    "OrderRef {id} is not an order of this session (every session counts its \
                     OrderRefs from 1); other sessions' order{} with that OrderRef: {}; cancel \
                     by OrderSysID",
                    if others.len() > 1 { "s" } else { "" },
                    sys.join(", ")
                ))
            }
            [] => Named::Nothing,
            many => {
                let list: Vec<String> = many
                    .iter()
                    .map(|o| {
                        format!(
                            "OrderSysID {} / OrderRef {} ({} on {})",
                            match o.OrderSysID.trim() {
                                "" => "-",
                                s => s,
                            },
                            o.OrderRef.trim(),
                            describe(o),
                            o.ExchangeID.trim()
                        )
                    })
                    .collect();
                Named::Refused(format!(
                    "`{id}` names {} orders: {}; say `cancel sys:{id}` or `cancel ref:{id}`, \
                     or cancel by another ID",
                    many.len(),
                    list.join("; ")
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::codes::{direction, order_status};

    fn order(front: i32, session: i32, r: &str, sys: &str, exchange: &str) -> Order {
        Order {
            FrontID: front,
            SessionID: session,
            OrderRef: format!("{r:>12}"),
            OrderSysID: format!("{sys:>12}"),
            ExchangeID: exchange.into(),
            InstrumentID: "rb2605".into(),
            Direction: direction::BUY,
            OrderStatus: order_status::NO_TRADE_QUEUEING,
            ..Order::default()
        }
    }

    #[test]
    fn an_order_ref_names_only_this_sessions_order() {
        let mut b = OrderBook::default();
        // Two processes, each with its own OrderRef 1.
        b.update(&order(1, 10, "1", "100001", "SHFE"));
        b.update(&order(1, 20, "1", "100002", "SHFE"));
        let Named::One(o) = b.name("1", Some((1, 20))) else {
            panic!()
        };
        assert_eq!(o.OrderSysID.trim(), "100002");
        // A third session has no OrderRef 1: it is told so, and nothing is picked.
        let Named::Refused(why) = b.name("1", Some((1, 30))) else {
            panic!()
        };
        assert!(
            why.contains("not an order of this session") && why.contains("100001"),
            "{why}"
        );
        assert_eq!(b.name("7", Some((1, 30))), Named::Nothing);
        // An OrderSysID names an order whoever sent it.
        assert!(matches!(b.name("100001", Some((1, 30))), Named::One(_)));
    }

    #[test]
    fn ambiguity_is_refused_and_can_be_resolved() {
        let mut b = OrderBook::default();
        b.update(&order(1, 10, "100001", "", "SHFE"));
        b.update(&order(1, 20, "3", "100001", "DCE"));
        let Named::Refused(why) = b.name("100001", Some((1, 10))) else {
            panic!()
        };
        assert!(
            why.contains("names 2 orders") && why.contains("sys:"),
            "{why}"
        );
        let Named::One(o) = b.name("sys:100001", Some((1, 10))) else {
            panic!()
        };
        assert_eq!(o.ExchangeID, "DCE");
        let Named::One(o) = b.name("ref:100001", Some((1, 10))) else {
            panic!()
        };
        assert_eq!(o.ExchangeID, "SHFE");
    }

    #[test]
    fn the_latest_state_wins() {
        let mut b = OrderBook::default();
        b.update(&order(1, 10, "1", "100001", "SHFE"));
        let mut done = order(1, 10, "1", "100001", "SHFE");
        done.OrderStatus = order_status::ALL_TRADED;
        b.update(&done);
        assert_eq!(
            b.latest(&order(1, 10, "1", "", "SHFE"))
                .unwrap()
                .OrderStatus,
            order_status::ALL_TRADED
        );
    }
}

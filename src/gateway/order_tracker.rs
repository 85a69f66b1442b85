//! What a trading session has told its client about each order it sent, kept only
//! until the order is final and all its trades were told — so that a front drop
//! never turns into an invented answer, and the truth is recovered after re-login.
//!
//! CTP answers an order insert or cancel only when it refuses it; an accepted order
//! is heard of through `RtnOrder`/`RtnTrade`. So nothing here waits for an answer:
//! an entry records the client's RequestID, the last status and traded volume the
//! client saw, and the TradeIDs it saw. At a front drop, orders nothing was heard of
//! are *in doubt*; after the re-login a `ReqQryOrder` (and `ReqQryTrade` when fills
//! are missing) tells what became of every entry, and only what the client has not
//! seen yet is pushed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::protocol::fields::{Order, Trade};

/// An order as CTP names it across sessions: FrontID, SessionID, OrderRef (trimmed).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrderKey {
    pub front_id: i32,
    pub session_id: i32,
    pub order_ref: String,
}

impl OrderKey {
    fn of(o: &Order) -> OrderKey {
        OrderKey {
            front_id: o.FrontID,
            session_id: o.SessionID,
            order_ref: o.OrderRef.trim().to_string(),
        }
    }
}

/// What the client was told about one order.
#[derive(Debug)]
struct Told {
    request_id: i32,
    /// Any RtnOrder seen (CTP accepted it).
    heard: bool,
    /// Nothing was heard of it when the front dropped.
    in_doubt: bool,
    /// Sent before the last front drop (the recovery query must list it).
    before_drop: bool,
    /// The last OrderStatus told (0 before any).
    status: u8,
    volume_traded: i32,
    /// (ExchangeID, OrderSysID) once known: trades name their order by it.
    sys: Option<(String, String)>,
    trade_ids: Vec<String>,
    trade_volume: i32,
    /// Seen in the recovery query now running.
    found: bool,
}

impl Told {
    fn is_done(&self) -> bool {
        is_final(self.status) && self.trade_volume >= self.volume_traded
    }
}

/// CTP's final order statuses: all traded, part traded / not traded and not
/// queueing, canceled.
pub fn is_final(status: u8) -> bool {
    matches!(status, b'0' | b'2' | b'4' | b'5')
}

/// How far an order has come: traded volume first, then the status's stage.
fn progress(status: u8, volume_traded: i32) -> (i32, u8) {
    let stage = match status {
        0 => 0,
        b'a' => 1,
        b'1' | b'3' | b'b' | b'c' => 2,
        _ if is_final(status) => 3,
        _ => 1,
    };
    (volume_traded, stage)
}

/// An order the recovery found missing: sent before the front dropped, never heard
/// of, and not listed by CTP after the re-login — it was not placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotPlaced {
    pub request_id: i32,
    pub order_ref: String,
}

/// The orders one session sent and has not finished telling its client about.
pub struct OrderTracker {
    told: HashMap<OrderKey, Told>,
    by_sys: HashMap<(String, String), OrderKey>,
    /// Entries of every session of the gateway (for `/healthz`).
    counter: Arc<AtomicUsize>,
}

impl OrderTracker {
    /// An empty tracker counting its entries into `counter`.
    pub fn new(counter: Arc<AtomicUsize>) -> OrderTracker {
        OrderTracker {
            told: HashMap::new(),
            by_sys: HashMap::new(),
            counter,
        }
    }

    /// Orders not yet final (or with trades still to come).
    pub fn len(&self) -> usize {
        self.told.len()
    }

    /// Whether no order is being followed.
    pub fn is_empty(&self) -> bool {
        self.told.is_empty()
    }

    /// The client sent this order.
    pub fn sent(&mut self, key: OrderKey, request_id: i32) {
        let t = Told {
            request_id,
            heard: false,
            in_doubt: false,
            before_drop: false,
            status: 0,
            volume_traded: 0,
            sys: None,
            trade_ids: Vec::new(),
            trade_volume: 0,
            found: false,
        };
        if self.told.insert(key, t).is_none() {
            self.counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// CTP refused the order (or the call failed): no order exists, unless an
    /// RtnOrder was already heard under this key (then the refusal was of a
    /// duplicate OrderRef, and the first order lives on).
    pub fn refused(&mut self, key: &OrderKey) {
        if self.told.get(key).is_some_and(|t| !t.heard) {
            self.remove(key);
        }
    }

    fn remove(&mut self, key: &OrderKey) {
        if let Some(t) = self.told.remove(key) {
            self.counter.fetch_sub(1, Ordering::Relaxed);
            if let Some(sys) = t.sys {
                self.by_sys.remove(&sys);
            }
        }
    }

    fn note(&mut self, key: &OrderKey, o: &Order) {
        let Some(t) = self.told.get_mut(key) else {
            return;
        };
        t.heard = true;
        t.in_doubt = false;
        t.status = o.OrderStatus.0;
        t.volume_traded = o.VolumeTraded;
        if t.sys.is_none() && !o.OrderSysID.trim().is_empty() {
            let sys = (o.ExchangeID.clone(), o.OrderSysID.clone());
            t.sys = Some(sys.clone());
            self.by_sys.insert(sys, key.clone());
        }
        if t.is_done() {
            self.remove(key);
        }
    }

    /// A live RtnOrder: always passed on; updates the entry if it is one of ours.
    pub fn on_order(&mut self, o: &Order) {
        let key = OrderKey::of(o);
        self.note(&key, o);
    }

    /// A live RtnTrade: whether to pass it on (false only for a trade of ours the
    /// client was already told, e.g. replayed by a resumed private flow).
    pub fn on_trade(&mut self, tr: &Trade) -> bool {
        let sys = (tr.ExchangeID.clone(), tr.OrderSysID.clone());
        let Some(key) = self.by_sys.get(&sys).cloned() else {
            return true;
        };
        let Some(t) = self.told.get_mut(&key) else {
            return true;
        };
        if t.trade_ids.contains(&tr.TradeID) {
            return false;
        }
        t.trade_ids.push(tr.TradeID.clone());
        t.trade_volume += tr.Volume;
        if t.is_done() {
            self.remove(&key);
        }
        true
    }

    /// The front dropped: what nothing was heard of is in doubt until recovered.
    pub fn front_dropped(&mut self) {
        for t in self.told.values_mut() {
            t.in_doubt |= !t.heard;
            t.before_drop = true;
            t.found = false;
        }
    }

    /// A row of the recovery's ReqQryOrder: whether to push it as an RtnOrder (it is
    /// ours and further along than what the client was told).
    pub fn recovered_order(&mut self, o: &Order) -> bool {
        let key = OrderKey::of(o);
        let Some(t) = self.told.get_mut(&key) else {
            return false;
        };
        t.found = true;
        let ahead = progress(o.OrderStatus.0, o.VolumeTraded) > progress(t.status, t.volume_traded);
        if ahead {
            self.note(&key, o);
        }
        ahead
    }

    /// The recovery's ReqQryOrder ended: the in-doubt orders CTP does not list (they
    /// are forgotten), and whether trades are missing (then ReqQryTrade follows).
    /// Orders sent before the drop that were heard of but are no longer listed belong
    /// to an ended trading day: nothing more will come of them, they are forgotten.
    pub fn orders_recovered(&mut self) -> (Vec<NotPlaced>, bool) {
        let gone: Vec<OrderKey> = self
            .told
            .iter()
            .filter(|(_, t)| t.before_drop && !t.found)
            .map(|(k, _)| k.clone())
            .collect();
        let mut out = Vec::new();
        for k in gone {
            if let Some(t) = self.told.get(&k)
                && t.in_doubt
                && !t.heard
            {
                out.push(NotPlaced {
                    request_id: t.request_id,
                    order_ref: k.order_ref.clone(),
                });
            }
            self.remove(&k);
        }
        for t in self.told.values_mut() {
            t.found = false;
            t.before_drop = false;
        }
        let missing_trades = self.told.values().any(|t| t.trade_volume < t.volume_traded);
        (out, missing_trades)
    }

    /// A row of the recovery's ReqQryTrade: whether to push it as an RtnTrade (a
    /// trade of ours the client has not seen).
    pub fn recovered_trade(&mut self, tr: &Trade) -> bool {
        let sys = (tr.ExchangeID.clone(), tr.OrderSysID.clone());
        if !self.by_sys.contains_key(&sys) {
            return false;
        }
        self.on_trade(tr)
    }
}

impl Drop for OrderTracker {
    fn drop(&mut self) {
        self.counter.fetch_sub(self.told.len(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::CtpChar;

    fn key(r: &str) -> OrderKey {
        OrderKey {
            front_id: 1,
            session_id: 7,
            order_ref: r.into(),
        }
    }

    fn order(r: &str, status: u8, traded: i32, sys: &str) -> Order {
        Order {
            FrontID: 1,
            SessionID: 7,
            OrderRef: format!("{r:>12}"),
            OrderStatus: CtpChar(status),
            VolumeTraded: traded,
            ExchangeID: "SHFE".into(),
            OrderSysID: sys.into(),
            ..Order::default()
        }
    }

    fn trade(sys: &str, id: &str, v: i32) -> Trade {
        Trade {
            ExchangeID: "SHFE".into(),
            OrderSysID: sys.into(),
            TradeID: id.into(),
            Volume: v,
            ..Trade::default()
        }
    }

    #[test]
    fn a_filled_order_leaves_nothing_behind() {
        let n = Arc::new(AtomicUsize::new(0));
        let mut t = OrderTracker::new(n.clone());
        t.sent(key("1"), 10);
        assert_eq!(n.load(Ordering::Relaxed), 1);
        t.on_order(&order("1", b'a', 0, ""));
        t.on_order(&order("1", b'3', 0, "9"));
        t.on_order(&order("1", b'0', 2, "9"));
        assert_eq!(t.len(), 1, "trades still to come");
        assert!(t.on_trade(&trade("9", "t1", 1)));
        assert!(t.on_trade(&trade("9", "t2", 1)));
        assert!(t.is_empty());
        assert_eq!(n.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_refusal_forgets_only_an_unheard_order() {
        let n = Arc::new(AtomicUsize::new(0));
        let mut t = OrderTracker::new(n.clone());
        t.sent(key("1"), 10);
        t.on_order(&order("1", b'3', 0, "9"));
        // A second insert with the same OrderRef is refused (22): the first lives.
        t.refused(&key("1"));
        assert_eq!(t.len(), 1);
        t.sent(key("2"), 11);
        t.refused(&key("2"));
        assert_eq!(t.len(), 1);
        drop(t);
        assert_eq!(n.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn recovery_pushes_only_what_is_new_and_names_orders_never_placed() {
        let n = Arc::new(AtomicUsize::new(0));
        let mut t = OrderTracker::new(n.clone());
        t.sent(key("1"), 10);
        t.on_order(&order("1", b'3', 0, "9"));
        t.sent(key("2"), 11);
        t.sent(key("3"), 12);
        t.front_dropped();
        // Order 1 filled during the drop, order 2 rests, order 3 never arrived.
        assert!(t.recovered_order(&order("1", b'0', 1, "9")));
        assert!(t.recovered_order(&order("2", b'3', 0, "10")));
        assert!(!t.recovered_order(&order("2", b'3', 0, "10")), "not ahead");
        let (lost, missing) = t.orders_recovered();
        assert_eq!(
            lost,
            vec![NotPlaced {
                request_id: 12,
                order_ref: "3".into()
            }]
        );
        assert!(missing);
        assert!(t.recovered_trade(&trade("9", "t1", 1)));
        assert!(!t.recovered_trade(&trade("9", "t1", 1)));
        assert_eq!(t.len(), 1, "order 2 still rests");
    }
}

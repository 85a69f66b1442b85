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
//!
//! The orders of the user's other sessions are followed too, from their first
//! `RtnOrder` until final: a session that misses their pushes while its front is down
//! learns their truth after its re-login like that of its own. Orders it never heard
//! of that were placed while it was away (their `BrokerOrderSeq` is past the last one
//! it was told, and nothing was heard of them since) are pushed then as well.

use std::collections::{HashMap, HashSet};
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
    /// The client was told the order's whole life (it sent it, or heard of it before
    /// any fill): its trades are recovered too. An order of another session first
    /// heard part-traded is followed for its status only — which trades the client
    /// was told before is unknown.
    whole: bool,
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
        is_final(self.status) && (!self.whole || self.trade_volume >= self.volume_traded)
    }

    fn missing_trades(&self) -> bool {
        self.whole && self.trade_volume < self.volume_traded
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

/// What happened since the front dropped, until the recovery ends.
#[derive(Debug, Default)]
struct SinceDrop {
    /// The highest BrokerOrderSeq the client had been told of at the drop.
    seq: i32,
    /// Orders heard of live since (after the re-login, before the recovery's answer).
    heard: HashSet<OrderKey>,
}

/// The orders of one session's user it has not finished telling its client about.
pub struct OrderTracker {
    told: HashMap<OrderKey, Told>,
    by_sys: HashMap<(String, String), OrderKey>,
    /// The highest BrokerOrderSeq told to the client.
    max_seq: i32,
    /// Set at a front drop of a session that had been logged in, until recovered.
    since_drop: Option<SinceDrop>,
    /// Entries of every session of the gateway (for `/healthz`).
    counter: Arc<AtomicUsize>,
}

impl OrderTracker {
    /// An empty tracker counting its entries into `counter`.
    pub fn new(counter: Arc<AtomicUsize>) -> OrderTracker {
        OrderTracker {
            told: HashMap::new(),
            by_sys: HashMap::new(),
            max_seq: 0,
            since_drop: None,
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

    /// Whether a re-login must ask CTP what the client missed: orders are followed,
    /// or the front dropped after a login (orders may have been placed meanwhile).
    pub fn needs_recovery(&self) -> bool {
        !self.told.is_empty() || self.since_drop.is_some()
    }

    /// The client sent this order.
    pub fn sent(&mut self, key: OrderKey, request_id: i32) {
        let t = Told {
            request_id,
            whole: true,
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

    /// Starts following an order the client is told of now (another session's, or
    /// one the recovery found), unless nothing more can come of it.
    fn follow(&mut self, key: &OrderKey, o: &Order, whole: bool) {
        let t = Told {
            request_id: o.RequestID,
            whole,
            heard: true,
            in_doubt: false,
            before_drop: false,
            status: 0,
            volume_traded: 0,
            sys: None,
            trade_ids: Vec::new(),
            trade_volume: 0,
            found: false,
        };
        self.told.insert(key.clone(), t);
        self.counter.fetch_add(1, Ordering::Relaxed);
        self.note(key, o);
    }

    fn saw_seq(&mut self, o: &Order) {
        self.max_seq = self.max_seq.max(o.BrokerOrderSeq);
    }

    /// A live RtnOrder: always passed on; updates the entry (or starts following an
    /// order of another session that is not final yet).
    pub fn on_order(&mut self, o: &Order) {
        let key = OrderKey::of(o);
        self.saw_seq(o);
        if let Some(d) = &mut self.since_drop {
            d.heard.insert(key.clone());
        }
        if self.told.contains_key(&key) {
            self.note(&key, o);
        } else if !is_final(o.OrderStatus.0) {
            self.follow(&key, o, o.VolumeTraded == 0);
        }
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
    /// `logged_in`: the client had been logged in (it follows the user's order flow;
    /// orders placed while it is away are new to it). Only once it was told an order
    /// is there a BrokerOrderSeq to tell older orders from new ones by: a session told
    /// none learns of orders placed while it was away from ReqQryOrder (a real front's
    /// resumed private flow replays them).
    pub fn front_dropped(&mut self, logged_in: bool) {
        if logged_in && self.since_drop.is_none() && self.max_seq > 0 {
            self.since_drop = Some(SinceDrop {
                seq: self.max_seq,
                heard: HashSet::new(),
            });
        }
        for t in self.told.values_mut() {
            t.in_doubt |= !t.heard;
            t.before_drop = true;
            t.found = false;
        }
    }

    /// A row of the recovery's ReqQryOrder: whether to push it as an RtnOrder (it is
    /// followed and further along than what the client was told, or it was placed
    /// while the client was away and it never heard of it).
    pub fn recovered_order(&mut self, o: &Order) -> bool {
        let key = OrderKey::of(o);
        let Some(t) = self.told.get_mut(&key) else {
            let new = self
                .since_drop
                .as_mut()
                .is_some_and(|d| o.BrokerOrderSeq > d.seq && d.heard.insert(key.clone()));
            if new {
                // Its whole life is new to the client: its trades are recovered too.
                self.saw_seq(o);
                self.follow(&key, o, true);
            }
            return new;
        };
        t.found = true;
        let ahead = progress(o.OrderStatus.0, o.VolumeTraded) > progress(t.status, t.volume_traded);
        if ahead {
            self.saw_seq(o);
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
        self.since_drop = None;
        let missing_trades = self.told.values().any(Told::missing_trades);
        (out, missing_trades)
    }

    /// A row of the recovery's ReqQryTrade: whether to push it as an RtnTrade (a
    /// trade of ours the client has not seen).
    pub fn recovered_trade(&mut self, tr: &Trade) -> bool {
        let sys = (tr.ExchangeID.clone(), tr.OrderSysID.clone());
        let whole = self
            .by_sys
            .get(&sys)
            .and_then(|k| self.told.get(k))
            .is_some_and(|t| t.whole);
        whole && self.on_trade(tr)
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
        t.front_dropped(true);
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

    /// An order of session 8 (another session of the same user), with its BrokerOrderSeq.
    fn other(r: &str, status: u8, traded: i32, sys: &str, seq: i32) -> Order {
        Order {
            SessionID: 8,
            BrokerOrderSeq: seq,
            RequestID: 500,
            ..order(r, status, traded, sys)
        }
    }

    #[test]
    fn another_sessions_order_is_followed_and_recovered() {
        let n = Arc::new(AtomicUsize::new(0));
        let mut t = OrderTracker::new(n.clone());
        t.on_order(&other("1", b'a', 0, "", 1));
        t.on_order(&other("1", b'3', 0, "20", 1));
        assert_eq!(t.len(), 1, "a resting order of another session is followed");
        t.front_dropped(true);
        assert!(t.needs_recovery());
        // It filled while the front was down.
        assert!(t.recovered_order(&other("1", b'0', 2, "20", 1)));
        let (lost, missing) = t.orders_recovered();
        assert!(
            lost.is_empty(),
            "another session's order is never 'not placed'"
        );
        assert!(missing);
        assert!(t.recovered_trade(&trade("20", "t9", 2)));
        assert!(t.is_empty());
        assert_eq!(n.load(Ordering::Relaxed), 0);
        // Final at first sight: nothing more can come, nothing is followed.
        t.on_order(&other("2", b'5', 0, "21", 2));
        assert!(t.is_empty());
    }

    #[test]
    fn an_order_placed_while_away_is_pushed_once_after_the_relogin() {
        let n = Arc::new(AtomicUsize::new(0));
        let mut t = OrderTracker::new(n.clone());
        t.on_order(&other("1", b'a', 0, "", 3));
        t.on_order(&other("1", b'0', 1, "30", 3));
        assert!(t.on_trade(&trade("30", "t1", 1)));
        assert!(t.is_empty());
        t.front_dropped(true);
        // After the re-login, before the recovery's answer, order 5 is heard live.
        t.on_order(&other("5", b'3', 0, "35", 5));
        assert!(
            !t.recovered_order(&other("1", b'0', 1, "30", 3)),
            "told before the drop"
        );
        assert!(
            t.recovered_order(&other("4", b'0', 2, "34", 4)),
            "placed while away"
        );
        assert!(
            !t.recovered_order(&other("4", b'0', 2, "34", 4)),
            "pushed once"
        );
        assert!(
            !t.recovered_order(&other("5", b'3', 0, "35", 5)),
            "heard live"
        );
        let (lost, missing) = t.orders_recovered();
        assert!(lost.is_empty());
        assert!(missing, "the trades of order 4 are recovered");
        assert!(t.recovered_trade(&trade("34", "t4", 2)));
        assert!(
            !t.recovered_trade(&trade("30", "t1", 1)),
            "told before the drop"
        );
        assert_eq!(t.len(), 1, "order 5 rests");
        // Later drops compare with what the client was told since.
        t.front_dropped(true);
        assert!(!t.recovered_order(&other("4", b'0', 2, "34", 4)));
        t.orders_recovered();
        drop(t);
        assert_eq!(n.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn without_a_told_order_nothing_is_new() {
        let n = Arc::new(AtomicUsize::new(0));
        let mut t = OrderTracker::new(n);
        // Never logged in, or told no order yet: no BrokerOrderSeq to compare with.
        t.front_dropped(false);
        assert!(!t.needs_recovery());
        t.front_dropped(true);
        assert!(!t.needs_recovery());
        assert!(!t.recovered_order(&other("4", b'0', 2, "34", 4)));
        // Told an order (but not logged in when the front dropped): nothing either.
        t.on_order(&other("1", b'5', 0, "31", 1));
        t.front_dropped(false);
        assert!(!t.recovered_order(&other("4", b'0', 2, "34", 4)));
    }

    #[test]
    fn an_order_first_heard_part_traded_is_followed_for_its_status_only() {
        let n = Arc::new(AtomicUsize::new(0));
        let mut t = OrderTracker::new(n.clone());
        t.on_order(&other("1", b'1', 2, "40", 1));
        assert_eq!(t.len(), 1);
        t.front_dropped(true);
        assert!(t.recovered_order(&other("1", b'0', 3, "40", 1)));
        let (_, missing) = t.orders_recovered();
        assert!(
            !missing,
            "which trades the client has is unknown: none are recovered"
        );
        assert!(!t.recovered_trade(&trade("40", "t1", 2)));
        assert!(t.is_empty());
        assert_eq!(n.load(Ordering::Relaxed), 0);
    }
}

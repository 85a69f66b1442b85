//! CTP answers a refused order or cancel twice (RspOrderInsert and ErrRtnOrderInsert,
//! RspOrderAction and ErrRtnOrderAction); the terminal prints the first and knows the
//! second for what it is.

use super::{Session, orders};
use crate::protocol::client::{MsgKind, Received};
use crate::protocol::fields::{InputOrder, InputOrderAction, OrderAction};

/// The ways a refusal names the request it answers: its RequestID and its order
/// (the two answers CTP gives a refusal carry the same request, in different bodies).
fn refusal_keys(v: &Received) -> Vec<String> {
    if v.error_id() == 0 {
        return Vec::new();
    }
    // A cancel's order, as CTP keys it and as its exchange numbers it.
    let action = |a: (i32, i32, &str), sys: &str, exchange: &str| {
        let mut keys = Vec::new();
        if let Some((f, s, r)) = orders::key(a.0, a.1, a.2) {
            keys.push(format!("action order {f}/{s}/{r}"));
        }
        let sys = sys.trim();
        if !sys.is_empty() {
            keys.push(format!("action sys {exchange}/{sys}"));
        }
        keys
    };
    let (kind, rid, mut keys) = match v.kind {
        MsgKind::RspOrderInsert => ("insert", v.request_id, Vec::new()),
        MsgKind::ErrRtnOrderInsert => (
            "insert",
            v.body::<InputOrder>().map(|o| i64::from(o.RequestID)),
            Vec::new(),
        ),
        MsgKind::RspOrderAction => {
            let a = v.body::<InputOrderAction>();
            (
                "action",
                v.request_id,
                a.map_or_else(Vec::new, |a| {
                    action(
                        (a.FrontID, a.SessionID, &a.OrderRef),
                        &a.OrderSysID,
                        &a.ExchangeID,
                    )
                }),
            )
        }
        MsgKind::ErrRtnOrderAction => {
            let a = v.body::<OrderAction>();
            (
                "action",
                a.map(|a| i64::from(a.RequestID)),
                a.map_or_else(Vec::new, |a| {
                    action(
                        (a.FrontID, a.SessionID, &a.OrderRef),
                        &a.OrderSysID,
                        &a.ExchangeID,
                    )
                }),
            )
        }
        _ => return Vec::new(),
    };
    if let Some(r) = rid.filter(|r| *r != 0) {
        keys.insert(0, format!("{kind} rid {r}"));
    }
    keys
}

impl Session {
    /// Remembers a refusal the command printed, so that CTP's second answer to the
    /// same request is not printed again as a push.
    pub(super) fn note_reported(&self, answer: &Received) {
        let keys = refusal_keys(answer);
        if !keys.is_empty() {
            let mut st = self.lock();
            st.reported.push(keys);
            // Bounded: a refusal whose twin never comes is forgotten eventually.
            if st.reported.len() > 64 {
                st.reported.remove(0);
            }
        }
    }

    /// Whether `v` is the second answer to a refusal already printed (it is then
    /// forgotten: a third is news again).
    pub(super) fn already_reported(&self, v: &Received) -> bool {
        let keys = refusal_keys(v);
        if keys.is_empty() {
            return false;
        }
        let mut st = self.lock();
        match st
            .reported
            .iter()
            .position(|group| group.iter().any(|k| keys.contains(k)))
        {
            Some(i) => {
                st.reported.remove(i);
                true
            }
            None => false,
        }
    }
}

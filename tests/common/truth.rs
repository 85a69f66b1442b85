//! Scenarios of "order truth" (issue #10) run against any gateway URL — the sim in
//! process and the native backend over the fake CTP library alike.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use super::{Client, WAIT, order};

/// Every message until (and with) the first for which `pred` holds.
pub async fn collect_until(c: &mut Client, mut pred: impl FnMut(&Value) -> bool) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let v = c.recv().await;
        let done = pred(&v);
        out.push(v);
        if done {
            return out;
        }
    }
}

/// An HTTP request off the runtime's thread (the gateway may be in this runtime).
pub async fn http(ws_url: &str, method: &'static str, path: &str) -> String {
    let (url, path) = (ws_url.to_string(), path.to_string());
    tokio::task::spawn_blocking(move || super::http(&url, method, &path))
        .await
        .expect("http thread")
}

/// `/healthz`'s count of orders the gateway's sessions still follow.
pub async fn tracked_orders(ws_url: &str) -> i64 {
    let text = http(ws_url, "GET", "/healthz").await;
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"));
    v["td_orders_tracked"]
        .as_i64()
        .unwrap_or_else(|| panic!("no td_orders_tracked in {v}"))
}

/// Waits until the gateway follows no order any more.
pub async fn no_order_tracked(ws_url: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let n = tracked_orders(ws_url).await;
        if n == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the gateway still follows {n} orders"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Takes the front down for `seconds` through the admin endpoint.
pub async fn drop_front(ws_url: &str, seconds: f64) {
    let r = http(
        ws_url,
        "POST",
        &format!("/admin/drop-front?seconds={seconds}"),
    )
    .await;
    assert!(r.contains("\"ok\":true"), "{r}");
}

/// Drops the front for a second, then reads `c` until every order of `rids` (`lots`
/// lots each, sent by this client or another session of its user) is all traded in
/// what the client was told — `seen` so far and what follows — and its trades add up.
/// Then that view is checked against the ledger (the client's own ReqQryOrder and
/// ReqQryTrade): nothing reported refused, exactly these orders, each with its final
/// state and every trade told once, each under its sender's RequestID; and the gateway
/// follows no order any more.
pub async fn all_fill_across_a_front_drop(
    url: &str,
    td_url: &str,
    c: &mut Client,
    mut seen: Vec<Value>,
    rids: &[i64],
    lots: i64,
) {
    drop_front(url, 1.0).await;
    seen.extend(collect_until(c, |v| v["MsgType"] == "OnFrontConnected").await);
    let total = lots * rids.len() as i64;
    loop {
        let mut view = View::default();
        view.add(&seen);
        let all_traded = view.orders.len() == rids.len()
            && view.orders.values().all(|o| o.0 == "0" && o.1 == lots);
        let traded: i64 = view.trades.values().map(|t| t.1).sum();
        if all_traded && traded >= total {
            break;
        }
        seen.push(c.recv().await);
    }
    let mut view = View::default();
    view.add(&seen);
    assert!(view.refusals.is_empty(), "{:?}", view.refusals);
    let ledger_orders = c.ask("ReqQryOrder", 900, json!({})).await;
    let ledger_trades = c.ask("ReqQryTrade", 901, json!({})).await;
    let ids: HashSet<String> = super::order_sys_ids(&ledger_orders);
    assert_eq!(ids.len(), rids.len());
    view.check_against(&ledger_orders, &ledger_trades, &ids);
    let requested: HashSet<i64> = view.orders.values().map(|o| o.2).collect();
    assert_eq!(requested, rids.iter().copied().collect());
    no_order_tracked(td_url).await;
}

/// Finding 1: three orders fill, the front drops, the session logs in again — and the
/// client is never told that one of them failed.
pub async fn filled_orders_are_not_reported_failed(td_url: &str, user: &str, password: &str) {
    let mut c = Client::connect(td_url).await;
    c.td_login_ok(user, password).await;
    let (_, ask, _, _) = c.book("rb2605").await;
    for rid in 10..13 {
        c.send(order(rid, "rb2605", "0", "0", ask + 5.0, 1)).await;
        let (orders, trades) = c.until_final().await;
        let last = &orders.last().unwrap()["Order"];
        assert_eq!(last["OrderStatus"], "0", "{orders:?}");
        assert_eq!(last["RequestID"], rid);
        assert_eq!(trades.len(), 1);
    }
    no_order_tracked(td_url).await;
    drop_front(td_url, 1.0).await;
    let mut seen = collect_until(&mut c, |v| v["MsgType"] == "OnFrontConnected").await;
    // A query after the re-login is answered after anything the re-login brought.
    c.send(super::query("ReqQryTradingAccount", 20, json!({})))
        .await;
    seen.extend(
        collect_until(&mut c, |v| {
            v["MsgType"] == "RspQryTradingAccount" && v["IsLast"] == true
        })
        .await,
    );
    assert!(
        seen.iter().any(|v| v["MsgType"] == "OnFrontDisconnected"),
        "{seen:?}"
    );
    let failed: Vec<&Value> = seen
        .iter()
        .filter(|v| {
            matches!(
                v["MsgType"].as_str(),
                Some("RspOrderInsert" | "ErrRtnOrderInsert" | "RspOrderAction")
            )
        })
        .collect();
    assert!(
        failed.is_empty(),
        "filled orders reported failed: {failed:?}"
    );
    let acc = seen.last().unwrap();
    assert_eq!(acc["RspInfo"]["ErrorID"], 0, "{acc}");
    // The ledger holds the three fills.
    let trades = c
        .ask("ReqQryTrade", 21, json!({"InstrumentID": "rb2605"}))
        .await;
    assert_eq!(trades.len(), 3, "{trades:?}");
    no_order_tracked(td_url).await;
}

/// Order pushes seen by one client: (SessionID, OrderRef) -> the RequestIDs they carried.
fn request_ids_by_order(msgs: &[Value]) -> HashMap<(i64, String), HashSet<i64>> {
    let mut out: HashMap<(i64, String), HashSet<i64>> = HashMap::new();
    for m in msgs.iter().filter(|m| m["MsgType"] == "RtnOrder") {
        let o = &m["Order"];
        let key = (
            o["SessionID"].as_i64().unwrap(),
            o["OrderRef"].as_str().unwrap().trim().to_string(),
        );
        out.entry(key)
            .or_default()
            .insert(o["RequestID"].as_i64().unwrap());
    }
    out
}

/// Finding 2: two sessions of one user; each order carries, in both sessions, the
/// RequestID its sender's client used — never the gateway's numbering, never the
/// other client's.
pub async fn every_session_sees_the_senders_request_ids(td_url: &str, user: &str, password: &str) {
    let mut a = Client::connect(td_url).await;
    let la = a.td_login_ok(user, password).await;
    let mut b = Client::connect(td_url).await;
    let lb = b.td_login_ok(user, password).await;
    let sa = la["RspUserLogin"]["SessionID"].as_i64().unwrap();
    let sb = lb["RspUserLogin"]["SessionID"].as_i64().unwrap();
    assert_ne!(sa, sb);
    let (_, _, _, low) = a.book("rb2605").await;
    // Resting orders (at the lower limit): each client's ids are small numbers the
    // gateway itself could have used upstream.
    let a_ids = [3_i64, 4, 500];
    let b_ids = [3_i64, 5, 6];
    for (&ra, &rb) in a_ids.iter().zip(&b_ids) {
        a.send(order(ra, "rb2605", "0", "0", low, 1)).await;
        b.send(order(rb, "rb2605", "0", "0", low, 1)).await;
    }
    let resting = |v: &Value| v["MsgType"] == "RtnOrder" && v["Order"]["OrderStatus"] == "3";
    let mut seen_a = Vec::new();
    let mut seen_b = Vec::new();
    for (c, seen) in [(&mut a, &mut seen_a), (&mut b, &mut seen_b)] {
        let mut n = 0;
        while n < 6 {
            let v = c.recv().await;
            assert_ne!(v["MsgType"], "RspOrderInsert", "{v}");
            if resting(&v) {
                n += 1;
            }
            seen.push(v);
        }
    }
    let va = request_ids_by_order(&seen_a);
    let vb = request_ids_by_order(&seen_b);
    assert_eq!(
        va, vb,
        "both sessions see the same RequestID for each order"
    );
    assert_eq!(va.len(), 6, "{va:?}");
    for ((session, order_ref), ids) in &va {
        assert_eq!(ids.len(), 1, "order {order_ref} of {session}: {ids:?}");
        let id = *ids.iter().next().unwrap();
        let sender = if *session == sa { &a_ids } else { &b_ids };
        assert!(
            *session == sa || *session == sb,
            "an order of another session: {session}"
        );
        assert!(sender.contains(&id), "order {order_ref} of {session}: {id}");
    }
    let of = |s: i64| -> Vec<i64> {
        let mut v: Vec<i64> = va
            .iter()
            .filter(|((sess, _), _)| *sess == s)
            .flat_map(|(_, ids)| ids.iter().copied())
            .collect();
        v.sort_unstable();
        v
    };
    assert_eq!(of(sa), a_ids.to_vec());
    assert_eq!(of(sb), b_ids.to_vec());
    // Queried later, each order still carries its sender's RequestID.
    let listed = a
        .ask("ReqQryOrder", 7, json!({"InstrumentID": "rb2605"}))
        .await;
    let mut queried: Vec<(i64, i64)> = listed
        .iter()
        .map(|m| {
            (
                m["Order"]["SessionID"].as_i64().unwrap(),
                m["Order"]["RequestID"].as_i64().unwrap(),
            )
        })
        .collect();
    queried.sort_unstable();
    let mut expected: Vec<(i64, i64)> = a_ids
        .iter()
        .map(|&r| (sa, r))
        .chain(b_ids.iter().map(|&r| (sb, r)))
        .collect();
    expected.sort_unstable();
    assert_eq!(queried, expected);
}

/// What one client has been told about orders and trades, from its messages.
#[derive(Debug, Default)]
pub struct View {
    /// OrderSysID -> (last OrderStatus, last VolumeTraded, RequestID), in arrival order.
    pub orders: HashMap<String, (String, i64, i64)>,
    /// TradeIDs told, with how often each was told.
    pub trades: HashMap<String, (String, i64, usize)>,
    /// Order answers with an error (RspOrderInsert and the like), as received.
    pub refusals: Vec<Value>,
}

impl View {
    /// Folds a client's messages into its view.
    pub fn add(&mut self, msgs: &[Value]) {
        for m in msgs {
            match m["MsgType"].as_str() {
                Some("RtnOrder") => {
                    let o = &m["Order"];
                    let sys = o["OrderSysID"].as_str().unwrap().trim().to_string();
                    if sys.is_empty() {
                        continue;
                    }
                    self.orders.insert(
                        sys,
                        (
                            o["OrderStatus"].as_str().unwrap().to_string(),
                            o["VolumeTraded"].as_i64().unwrap(),
                            o["RequestID"].as_i64().unwrap(),
                        ),
                    );
                }
                Some("RtnTrade") => {
                    let t = &m["Trade"];
                    let e = self
                        .trades
                        .entry(t["TradeID"].as_str().unwrap().trim().to_string())
                        .or_insert((
                            t["OrderSysID"].as_str().unwrap().trim().to_string(),
                            t["Volume"].as_i64().unwrap(),
                            0,
                        ));
                    e.2 += 1;
                }
                Some("RspOrderInsert" | "ErrRtnOrderInsert") => self.refusals.push(m.clone()),
                _ => {}
            }
        }
    }

    /// Checks the view against the ledger's (ReqQryOrder and ReqQryTrade answers) for
    /// the orders in `sys_ids`: same final status and traded volume, every trade told
    /// exactly once.
    pub fn check_against(
        &self,
        ledger_orders: &[Value],
        ledger_trades: &[Value],
        sys_ids: &HashSet<String>,
    ) {
        for m in ledger_orders {
            let o = &m["Order"];
            let sys = o["OrderSysID"].as_str().unwrap().trim().to_string();
            if !sys_ids.contains(&sys) {
                continue;
            }
            let told = self
                .orders
                .get(&sys)
                .unwrap_or_else(|| panic!("order {sys} never told: ledger {o}"));
            assert_eq!(
                (told.0.as_str(), told.1),
                (
                    o["OrderStatus"].as_str().unwrap(),
                    o["VolumeTraded"].as_i64().unwrap()
                ),
                "order {sys}: told {told:?}, ledger {o}"
            );
            assert_eq!(told.2, o["RequestID"].as_i64().unwrap(), "order {sys}");
        }
        let mut ledger_ids = HashSet::new();
        for m in ledger_trades {
            let t = &m["Trade"];
            if t.is_null() {
                continue;
            }
            let sys = t["OrderSysID"].as_str().unwrap().trim().to_string();
            if !sys_ids.contains(&sys) {
                continue;
            }
            let id = t["TradeID"].as_str().unwrap().trim().to_string();
            let told = self
                .trades
                .get(&id)
                .unwrap_or_else(|| panic!("trade {id} of order {sys} never told"));
            assert_eq!(told.2, 1, "trade {id} told {} times", told.2);
            ledger_ids.insert(id);
        }
        for (id, (sys, _, _)) in &self.trades {
            if sys_ids.contains(sys) {
                assert!(
                    ledger_ids.contains(id),
                    "trade {id} told but not in the ledger"
                );
            }
        }
    }
}

//! Order truth (issue #10) on the embedded sim over real WebSockets: a client is only
//! ever told what the exchange said, through front drops and second sessions. The
//! same scenarios run over the native backend in `tests/native.rs`.

mod common;

use std::collections::HashSet;

use common::truth::{self, View, collect_until};
use common::{Client, InProcess, order};
use serde_json::{Value, json};

/// A still market (tick rate 0), so prices are known when orders go in.
/// The admin endpoints are on: the tests drop the front and read /healthz through them.
const STILL: &str = "AdminEndpoints: true\nSim: {TickRate: 0, AutoSettle: false}";

#[tokio::test]
async fn filled_orders_are_not_reported_failed_after_a_front_drop() {
    let gw = InProcess::start(STILL).await;
    truth::filled_orders_are_not_reported_failed(&gw.td_url, "u-truth-1", "pw").await;
}

#[tokio::test]
async fn every_session_sees_the_senders_request_ids() {
    let gw = InProcess::start(STILL).await;
    truth::every_session_sees_the_senders_request_ids(&gw.td_url, "u-truth-2", "pw").await;
}

/// Orders keep filling while the front is down (the market thread crosses them); the
/// client misses those pushes, and after the re-login the gateway recovers them
/// (ReqQryOrder, ReqQryTrade) and pushes what the client has not seen — every trade
/// exactly once, every order's last status the ledger's.
#[tokio::test]
async fn fills_during_a_front_drop_reach_the_client_after_the_relogin() {
    let gw = InProcess::start(
        "AdminEndpoints: true\nSim: {TickRate: 4, AutoSettle: false, Seed: 7, InitialFunds: 10000000000.0}",
    )
    .await;
    let mut c = Client::connect(&gw.td_url).await;
    assert_eq!(c.td_login("u-truth-3", "pw").await["RspInfo"]["ErrorID"], 0);
    let (_, _, up, _) = c.book("rb2605").await;
    // More than the book holds: the first fill at once, the rest over a few seconds
    // of ticks (each redraws the book, up to 1,500 lots).
    let rids: Vec<i64> = (100..120).collect();
    for &rid in &rids {
        c.send(order(rid, "rb2605", "0", "0", up, 500)).await;
    }
    let mut seen = collect_until(&mut c, |v| {
        v["MsgType"] == "RtnOrder" && v["Order"]["OrderStatus"] == "3"
    })
    .await;
    truth::drop_front(&gw.url, 1.0).await;
    seen.extend(collect_until(&mut c, |v| v["MsgType"] == "OnFrontConnected").await);
    // Until every order is all traded in the client's view and its trades add up.
    let total = 500 * rids.len() as i64;
    loop {
        let mut view = View::default();
        view.add(&seen);
        let all_traded = view.orders.len() == rids.len()
            && view.orders.values().all(|o| o.0 == "0" && o.1 == 500);
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
    let ids: HashSet<String> = common::order_sys_ids(&ledger_orders);
    assert_eq!(ids.len(), rids.len());
    view.check_against(&ledger_orders, &ledger_trades, &ids);
    let requested: HashSet<i64> = view.orders.values().map(|o| o.2).collect();
    assert_eq!(requested, rids.iter().copied().collect());
    truth::no_order_tracked(&gw.td_url).await;
    // Nothing more arrives: no trade repeated late.
    let late: Vec<Value> = c
        .drain_for(std::time::Duration::from_millis(300))
        .await
        .into_iter()
        .filter(|v| v["MsgType"] == "RtnTrade")
        .collect();
    assert!(late.is_empty(), "{late:?}");
}

/// No per-order state outlives its order: N crossing orders fill (RtnOrder all traded
/// and RtnTrade each), and with the client still connected the gateway follows none.
/// The suite sends 2,000; `WEBCTP_TRACKED_ORDERS=100000` runs the figure.
#[tokio::test]
async fn filled_orders_leave_no_state_behind() {
    let n: usize = std::env::var("WEBCTP_TRACKED_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let gw = InProcess::start(
        // A long run outlasts the heartbeat's timeout; this client does not answer Pings.
        "AdminEndpoints: true\nHeartbeatTimeout: 3600\nSim: {TickRate: 200, AutoSettle: false, Durability: os, InitialFunds: 100000000000.0}",
    )
    .await;
    let mut c = Client::connect(&gw.td_url).await;
    assert_eq!(c.td_login("u-truth-4", "pw").await["RspInfo"]["ErrorID"], 0);
    let (_, _, up, _) = c.book("m2605").await;
    let batch = 200;
    let mut sent = 0;
    let mut trades = 0;
    while sent < n {
        let k = batch.min(n - sent);
        for i in 0..k {
            // Buy at the upper limit: fills against the book at once, or on the next
            // ticks when a batch has emptied it.
            c.send(order((sent + i) as i64, "m2605", "0", "0", up, 1))
                .await;
        }
        sent += k;
        while trades < sent {
            let v = c.recv().await;
            assert_ne!(v["MsgType"], "RspOrderInsert", "{v}");
            if v["MsgType"] == "RtnTrade" {
                trades += 1;
            }
        }
    }
    // Every order's last RtnOrder precedes its RtnTrade; all are in.
    assert_eq!(gw.dispatcher.tracked_orders(), 0);
    truth::no_order_tracked(&gw.td_url).await;
}

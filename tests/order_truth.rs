//! Order truth (issue #10) on the embedded sim over real WebSockets: a client is only
//! ever told what the exchange said, through front drops and second sessions. The
//! same scenarios run over the native backend in `tests/native.rs`.

mod common;

use std::collections::HashSet;

use common::truth::{self, collect_until};
use common::{Client, InProcess, order};
use serde_json::{Value, json};
use webctp::protocol::errors::request;

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
    c.td_login_ok("u-truth-3", "pw").await;
    let (_, _, up, _) = c.book("rb2605").await;
    // More than the book holds: the first fill at once, the rest over a few seconds
    // of ticks (each redraws the book, up to 1,500 lots).
    let rids: Vec<i64> = (100..120).collect();
    for &rid in &rids {
        c.send(order(rid, "rb2605", "0", "0", up, 500)).await;
    }
    let seen = collect_until(&mut c, |v| {
        v["MsgType"] == "RtnOrder" && v["Order"]["OrderStatus"] == "3"
    })
    .await;
    truth::all_fill_across_a_front_drop(&gw.url, &gw.td_url, &mut c, seen, &rids, 500).await;
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
    c.td_login_ok("u-truth-4", "pw").await;
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

/// Everything a client receives from sending `order` (with the front armed to drop at
/// it) until the answer to a query sent after the re-login — which comes after anything
/// the re-login's recovery pushed.
async fn around_a_drop_at_an_order(
    gw: &InProcess,
    c: &mut Client,
    fate: &str,
    order: Value,
) -> Vec<Value> {
    let r = truth::http(
        &gw.url,
        "POST",
        &format!("/admin/drop-front?seconds=0.5&at_next_order={fate}"),
    )
    .await;
    assert!(r.contains("\"ok\":true"), "{r}");
    c.send(order).await;
    let mut seen = collect_until(c, |v| v["MsgType"] == "OnFrontConnected").await;
    c.send(common::query("ReqQryTradingAccount", 90, json!({})))
        .await;
    seen.extend(
        collect_until(c, |v| {
            v["MsgType"] == "RspQryTradingAccount" && v["IsLast"] == true
        })
        .await,
    );
    seen
}

/// An order sent as the front goes down, that CTP never got: after the re-login it is
/// answered exactly once, with the documented RspOrderInsert (-1, its own RequestID, a
/// Detail saying it was not placed) — and nothing else is said of it.
#[tokio::test]
async fn an_order_lost_in_a_front_drop_is_answered_not_placed_and_nothing_else() {
    let gw = InProcess::start(STILL).await;
    let mut c = Client::connect(&gw.td_url).await;
    c.td_login_ok("u-truth-5", "pw").await;
    let (_, _, _, low) = c.book("rb2605").await;
    let seen =
        around_a_drop_at_an_order(&gw, &mut c, "lost", order(41, "rb2605", "0", "0", low, 1)).await;
    let about: Vec<&Value> = seen
        .iter()
        .filter(|v| {
            !matches!(
                v["MsgType"].as_str(),
                Some("OnFrontDisconnected" | "OnFrontConnected" | "RspQryTradingAccount")
            )
        })
        .collect();
    assert_eq!(about.len(), 1, "one answer and nothing else: {seen:?}");
    let a = about[0];
    assert_eq!(a["MsgType"], "RspOrderInsert", "{a}");
    assert_eq!(a["RspInfo"]["ErrorID"], request::NETWORK_FAILURE, "{a}");
    assert_eq!(a["RequestID"], 41, "{a}");
    assert_eq!(a["IsLast"], true, "{a}");
    assert!(
        a["Detail"]
            .as_str()
            .unwrap_or_default()
            .contains("not placed"),
        "{a}"
    );
    let order_ref = a["InputOrder"]["OrderRef"].as_str().unwrap_or_default();
    assert!(!order_ref.trim().is_empty(), "{a}");
    // The ledger never heard of it, and the gateway follows nothing.
    let listed = c.ask("ReqQryOrder", 91, json!({})).await;
    assert!(listed.iter().all(|m| m["Order"].is_null()), "{listed:?}");
    truth::no_order_tracked(&gw.td_url).await;
}

/// An order the exchange got as the front went down, of which nothing was heard: it
/// is never answered "not placed"; after the re-login the client is told it rests,
/// under its own RequestID.
#[tokio::test]
async fn an_order_placed_as_the_front_drops_is_never_answered_not_placed() {
    let gw = InProcess::start(STILL).await;
    let mut c = Client::connect(&gw.td_url).await;
    c.td_login_ok("u-truth-6", "pw").await;
    let (_, _, _, low) = c.book("rb2605").await;
    let seen =
        around_a_drop_at_an_order(&gw, &mut c, "placed", order(51, "rb2605", "0", "0", low, 1))
            .await;
    let refused: Vec<&Value> = seen
        .iter()
        .filter(|v| {
            matches!(
                v["MsgType"].as_str(),
                Some("RspOrderInsert" | "ErrRtnOrderInsert" | "RspError")
            )
        })
        .collect();
    assert!(
        refused.is_empty(),
        "a placed order reported failed: {refused:?}"
    );
    let told: Vec<&Value> = seen.iter().filter(|v| v["MsgType"] == "RtnOrder").collect();
    assert_eq!(told.len(), 1, "{seen:?}");
    let o = &told[0]["Order"];
    assert_eq!(o["RequestID"], 51, "{o}");
    assert_eq!(o["OrderStatus"], "3", "{o}");
    let listed = c.ask("ReqQryOrder", 92, json!({})).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["Order"]["OrderSysID"], o["OrderSysID"]);
    assert_eq!(listed[0]["Order"]["RequestID"], 51);
}

/// Another session of the same user misses the pushes of the first one's orders while
/// the front is down (they fill meanwhile); after its re-login it learns their truth
/// too: every order's final state and every trade, exactly once.
#[tokio::test]
async fn another_session_learns_the_truth_after_the_relogin() {
    let gw = InProcess::start(
        "AdminEndpoints: true\nSim: {TickRate: 4, AutoSettle: false, Seed: 7, InitialFunds: 10000000000.0}",
    )
    .await;
    let mut a = Client::connect(&gw.td_url).await;
    a.td_login_ok("u-truth-7", "pw").await;
    let mut b = Client::connect(&gw.td_url).await;
    b.td_login_ok("u-truth-7", "pw").await;
    let (_, _, up, _) = a.book("rb2605").await;
    // More than the book holds: they fill over a few seconds of ticks.
    let rids: Vec<i64> = (200..210).collect();
    for &rid in &rids {
        a.send(order(rid, "rb2605", "0", "0", up, 500)).await;
    }
    // B has heard of every order before the drop.
    let mut seen_b = Vec::new();
    let mut heard = HashSet::new();
    while heard.len() < rids.len() {
        let v = b.recv().await;
        if v["MsgType"] == "RtnOrder"
            && !v["Order"]["OrderSysID"]
                .as_str()
                .unwrap_or("")
                .trim()
                .is_empty()
        {
            heard.insert(v["Order"]["OrderSysID"].as_str().unwrap().to_string());
        }
        seen_b.push(v);
    }
    truth::all_fill_across_a_front_drop(&gw.url, &gw.td_url, &mut b, seen_b, &rids, 500).await;
}

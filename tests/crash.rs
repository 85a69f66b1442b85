//! The sim ledger survives `kill -9` in the middle of a burst of orders.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Binary, Client, TempDir, order, order_sys_ids};
use serde_json::json;

/// The burst runs on a moving market (seeded); the restart on a still one, so that the
/// queries after it all describe one state (a tick would fill a crossing buy that the
/// kill left resting between two of them).
fn start(dir: &TempDir, tick_rate: u32) -> Binary {
    Binary::serve(
        dir,
        &format!("Sim: {{TickRate: {tick_rate}, AutoSettle: false, Seed: 5}}\n"),
        &[("WEBCTP_LOG_LEVEL", "info")],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_burst_loses_no_acknowledged_order() {
    let dir = TempDir::new("crash");
    let mut gw = start(&dir, 20);
    let mut c = Client::connect(&gw.td_url).await;
    c.td_login_ok("u-crash", "123456").await;
    let (_, _, up, low) = c.book("rb2605").await;

    let (mut tx, mut rx) = {
        use futures_util::StreamExt;
        c.into_inner().split()
    };
    // Send orders as fast as possible: crossing buys (they fill) and resting buys.
    let sender = tokio::spawn(async move {
        use futures_util::SinkExt;
        use tokio_tungstenite::tungstenite::Message;
        for i in 0..50_000i64 {
            let price = if i % 2 == 0 { up } else { low };
            let o = order(i + 10, "rb2605", "0", "0", price, 1);
            if tx.send(Message::text(o.to_string())).await.is_err() {
                return i;
            }
        }
        50_000
    });
    let mut acked = HashSet::new();
    let mut trades = HashSet::new();
    let mut traded_volume = 0i64;
    let mut killed = false;
    loop {
        use futures_util::StreamExt;
        let m = tokio::time::timeout(Duration::from_secs(10), rx.next()).await;
        let Ok(Some(Ok(m))) = m else { break };
        let Ok(text) = m.to_text() else { continue };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            continue;
        };
        match v["MsgType"].as_str() {
            Some("RtnOrder") => {
                let sys = v["Order"]["OrderSysID"]
                    .as_str()
                    .unwrap()
                    .trim()
                    .to_string();
                if !sys.is_empty() {
                    acked.insert(sys);
                }
            }
            Some("RtnTrade") => {
                trades.insert(v["Trade"]["TradeID"].as_str().unwrap().trim().to_string());
                traded_volume += v["Trade"]["Volume"].as_i64().unwrap();
            }
            _ => {}
        }
        if !killed && acked.len() >= 150 {
            gw.signal("-9");
            killed = true;
        }
    }
    assert!(killed, "the gateway never acknowledged 150 orders");
    eprintln!(
        "acknowledged {} orders and {} trades before the kill",
        acked.len(),
        trades.len()
    );
    sender.abort();
    gw.wait(Duration::from_secs(5));

    let gw = start(&dir, 0);
    let log = gw.stderr();
    assert!(log.contains("replayed and checked"), "{log}");
    let mut c = Client::connect(&gw.td_url).await;
    c.td_login_ok("u-crash", "123456").await;
    let orders = c.ask("ReqQryOrder", 1, json!({})).await;
    let known = order_sys_ids(&orders);
    eprintln!("after restart: {} orders known", known.len());
    assert!(
        known.len() < 50_000,
        "the kill should have cut the burst short"
    );
    let lost: Vec<_> = acked.difference(&known).collect();
    assert!(lost.is_empty(), "acknowledged orders lost: {lost:?}");
    let listed = c.ask("ReqQryTrade", 2, json!({})).await;
    let listed_ids: HashSet<String> = listed
        .iter()
        .map(|t| t["Trade"]["TradeID"].as_str().unwrap().trim().to_string())
        .collect();
    assert!(trades.is_subset(&listed_ids), "trades lost");
    let (volume, cost) = common::trades_volume_and_cost(&listed);
    assert!(volume >= traded_volume);
    // Positions equal the sum of trades; funds equal the sum of their movements.
    let pos = c
        .ask(
            "ReqQryInvestorPosition",
            3,
            json!({"InstrumentID": "rb2605"}),
        )
        .await;
    assert_eq!(
        pos[0]["InvestorPosition"]["Position"].as_i64().unwrap(),
        volume
    );
    let acc = c.ask("ReqQryTradingAccount", 4, json!({})).await;
    let a = &acc[0]["TradingAccount"];
    let f = |k: &str| a[k].as_f64().unwrap();
    assert!((f("Commission") - cost * 10.0 * 0.0001).abs() < 1e-4, "{a}");
    assert!((f("CurrMargin") - cost * 10.0 * 0.10).abs() < 1e-4, "{a}");
    assert!(
        (f("Balance") - (20_000_000.0 + f("PositionProfit") - f("Commission"))).abs() < 1e-4,
        "{a}"
    );
    // Resting orders came back resting, with their funds frozen again at their own
    // price: most are the buys at the lower limit, but a crossing buy rests too when
    // the kill came after it was journaled and before it filled — the book's asks ran
    // out and no tick had refilled them yet, or the kill cut the write of a batch
    // after the order's record and before its fill's.
    let resting: Vec<&serde_json::Value> = orders
        .iter()
        .map(|o| &o["Order"])
        .filter(|o| o["OrderStatus"] == "3")
        .collect();
    let frozen: f64 = resting
        .iter()
        .map(|o| o["LimitPrice"].as_f64().unwrap() * o["VolumeTotal"].as_f64().unwrap())
        .sum::<f64>()
        * 10.0
        * 0.10;
    let crossing = resting
        .iter()
        .filter(|o| o["LimitPrice"].as_f64() == Some(up))
        .count();
    eprintln!(
        "{} orders resting after restart, {crossing} of them crossing buys",
        resting.len()
    );
    assert!(!resting.is_empty(), "no resting order came back");
    assert!((f("FrozenMargin") - frozen).abs() < 1e-4, "{a}");
}

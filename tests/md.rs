//! Market data over real WebSockets against the embedded sim.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::{Client, InProcess};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use webctp::protocol::errors::{BAD_PARAMETERS, NOT_IMPLEMENTED, NOT_LOGGED_IN, ctp};

/// The instrument and the sim's tick number (`reserve2` is `<ns>:<tick number>`).
fn tick_number(tick: &serde_json::Value) -> (String, u64) {
    let d = &tick["DepthMarketData"];
    let stamp = d["reserve2"].as_str().unwrap();
    let n = stamp.rsplit(':').next().unwrap().parse().unwrap();
    (d["InstrumentID"].as_str().unwrap().to_string(), n)
}

#[tokio::test]
async fn seed_examples_verbatim() {
    let gw = InProcess::start("Sim: {TickRate: 20}").await;
    let mut c = Client::connect(&gw.md_url).await;
    c.send_text(r#"{"MsgType": "ReqUserLogin", "ReqUserLogin": {"UserID": "028742", "Password": "123456"}}"#)
        .await;
    let login = c.recv().await;
    assert_eq!(login["MsgType"], "RspUserLogin");
    assert_eq!(login["RspInfo"]["ErrorID"], 0);
    assert_eq!(login["IsLast"], true);
    assert_eq!(login["RequestID"], 0);
    assert_eq!(
        login["RspUserLogin"]["TradingDay"].as_str().unwrap().len(),
        8
    );

    c.send_text(
        r#"{"MsgType": "SubscribeMarketData", "InstrumentID": ["au2602", "rb2605", "TA601"]}"#,
    )
    .await;
    let subs = c.recv_all("RspSubMarketData").await;
    let ids = common::instrument_ids(&subs);
    assert_eq!(ids, ["au2602", "rb2605", "TA601"]);
    assert!(subs.iter().all(|v| v["RspInfo"]["ErrorID"] == 0));
    assert_eq!(subs[0]["IsLast"], false);

    let mut seen = HashSet::new();
    while seen.len() < 3 {
        let t = c.recv_until(|v| v["MsgType"] == "RtnDepthMarketData").await;
        let d = &t["DepthMarketData"];
        let id = d["InstrumentID"].as_str().unwrap().to_string();
        assert!(["au2602", "rb2605", "TA601"].contains(&id.as_str()), "{id}");
        assert!(t.get("RspInfo").is_none());
        // Unset prices go out as 0 (webctp's convention); CurrDelta keeps DBL_MAX.
        assert_eq!(d["ClosePrice"], 0.0);
        assert_eq!(d["CurrDelta"], f64::MAX);
        assert!(d["LastPrice"].as_f64().unwrap() > 0.0);
        assert!(d["UpperLimitPrice"].as_f64() > d["LowerLimitPrice"].as_f64());
        assert_eq!(d["UpdateTime"].as_str().unwrap().len(), 8);
        seen.insert(id);
    }

    c.send_text(
        r#"{"MsgType": "UnSubscribeMarketData", "InstrumentID": ["au2602", "rb2605", "TA601"]}"#,
    )
    .await;
    let unsubs = c.recv_all("RspUnSubMarketData").await;
    assert_eq!(unsubs.len(), 3);
    // Ticks already queued may still arrive; after that, silence.
    let _ = c.drain_for(Duration::from_millis(200)).await;
    let later = c.drain_for(Duration::from_millis(600)).await;
    assert!(
        later.iter().all(|v| v["MsgType"] != "RtnDepthMarketData"),
        "{later:?}"
    );
    assert_eq!(gw.dispatcher.md.upstream_subscriptions(), 0);
}

#[tokio::test]
async fn three_exchanges_exactly_those_ticks() {
    let gw = InProcess::start("Sim: {TickRate: 50}").await;
    let mut c = Client::connect(&gw.md_url).await;
    c.md_login().await;
    let wanted = ["au2602", "m2605", "IF2512"];
    c.send(json!({"MsgType": "SubscribeMarketData", "InstrumentID": wanted, "RequestID": 9}))
        .await;
    let subs = c.recv_all("RspSubMarketData").await;
    assert!(subs.iter().all(|v| v["RequestID"] == 9));
    let msgs = c.drain_for(Duration::from_millis(800)).await;
    let mut exchanges = HashSet::new();
    for m in msgs.iter().filter(|m| m["MsgType"] == "RtnDepthMarketData") {
        let d = &m["DepthMarketData"];
        assert!(wanted.contains(&d["InstrumentID"].as_str().unwrap()));
        exchanges.insert(d["ExchangeID"].as_str().unwrap().to_string());
    }
    assert_eq!(
        exchanges,
        HashSet::from(["SHFE".into(), "DCE".into(), "CFFEX".into()])
    );
}

#[tokio::test]
async fn unknown_instrument_gets_ctp_error_16() {
    let gw = InProcess::start("Sim: {TickRate: 5}").await;
    let mut c = Client::connect(&gw.md_url).await;
    c.md_login().await;
    c.send(json!({"MsgType": "SubscribeMarketData", "InstrumentID": ["rb2605", "zz9999"]}))
        .await;
    let subs = c.recv_all("RspSubMarketData").await;
    assert_eq!(subs.len(), 2);
    assert_eq!(subs[0]["RspInfo"]["ErrorID"], 0);
    assert_eq!(subs[1]["SpecificInstrument"]["InstrumentID"], "zz9999");
    assert_eq!(subs[1]["RspInfo"]["ErrorID"], ctp::INSTRUMENT_NOT_FOUND);
    assert_eq!(subs[1]["RspInfo"]["ErrorMsg"], "CTP:找不到合约");
    assert_eq!(gw.dispatcher.md.upstream_subscriptions(), 1);
}

#[tokio::test]
async fn gateway_errors_keep_the_connection_open() {
    let gw = InProcess::start("Sim: {TickRate: 5}").await;
    let mut c = Client::connect(&gw.md_url).await;
    // -401: subscribing before login.
    c.send(json!({"MsgType": "SubscribeMarketData", "InstrumentID": ["rb2605"], "RequestID": 4}))
        .await;
    let e = c.recv().await;
    assert_eq!(e["RspInfo"]["ErrorID"], NOT_LOGGED_IN);
    assert_eq!(e["MsgType"], "SubscribeMarketData");
    assert_eq!(e["RequestID"], 4);
    // -400: malformed JSON, wrong types, missing fields.
    for bad in [
        "{not json",
        r#"{"MsgType": 5}"#,
        r#"{"MsgType": "SubscribeMarketData"}"#,
        r#"{"MsgType": "SubscribeMarketData", "InstrumentID": [1]}"#,
    ] {
        c.send_text(bad).await;
        let e = c.recv().await;
        assert_eq!(e["RspInfo"]["ErrorID"], BAD_PARAMETERS, "{bad}: {e}");
        assert!(e["Detail"].as_str().unwrap().len() > 3);
    }
    c.send_raw(Message::binary(vec![1u8, 2, 3])).await;
    assert_eq!(c.recv().await["RspInfo"]["ErrorID"], BAD_PARAMETERS);
    // -404: unknown MsgType, and a trading request on /md/.
    c.send(json!({"MsgType": "ReqFly", "RequestID": 2})).await;
    let e = c.recv().await;
    assert_eq!(e["RspInfo"]["ErrorID"], NOT_IMPLEMENTED);
    c.send(json!({"MsgType": "ReqQryOrder", "QryOrder": {}}))
        .await;
    let e = c.recv().await;
    assert_eq!(e["RspInfo"]["ErrorID"], NOT_IMPLEMENTED);
    assert!(e["Detail"].as_str().unwrap().contains("/td/"));
    // Still usable.
    c.send(json!({"MsgType": "Ping", "Timestamp": 42})).await;
    let p = c.recv().await;
    assert_eq!(p, json!({"MsgType": "Pong", "Timestamp": 42}));
    c.md_login().await;
    c.send(json!({"MsgType": "SubscribeMarketData", "InstrumentID": ["rb2605"]}))
        .await;
    assert_eq!(
        c.recv_all("RspSubMarketData").await[0]["RspInfo"]["ErrorID"],
        0
    );
}

#[tokio::test]
async fn server_heartbeat_drops_silent_clients() {
    let gw =
        InProcess::start("HeartbeatInterval: 0.2\nHeartbeatTimeout: 2\nSim: {TickRate: 1}").await;
    let mut silent = Client::connect(&gw.md_url).await;
    silent.keep_pings = true;
    let mut polite = Client::connect(&gw.md_url).await;
    polite.keep_pings = true;
    // Counted, not timed: the polite client answers Pings until it has answered more
    // than the timeout's worth (2 s / 0.2 s), so the silent one is past its timeout.
    let deadline = tokio::time::Instant::now() + common::WAIT;
    let mut pings = 0;
    while pings < 12 && tokio::time::Instant::now() < deadline {
        for m in polite.drain_for(Duration::from_millis(100)).await {
            if m["MsgType"] == "Ping" {
                assert!(m["Timestamp"].as_u64().unwrap() > 1_600_000_000_000);
                pings += 1;
                polite
                    .send(json!({"MsgType": "Pong", "Timestamp": m["Timestamp"]}))
                    .await;
            }
        }
    }
    assert!(pings >= 12, "{pings} Pings in {:?}", common::WAIT);
    let (code, reason) = silent.close_frame().await.expect("close frame");
    assert_eq!(code, 1001);
    assert!(reason.contains("Pong"), "{reason}");
    // The polite one is still served.
    polite.send(json!({"MsgType": "Ping"})).await;
    let pong = polite.recv_until(|v| v["MsgType"] == "Pong").await;
    assert_eq!(pong["MsgType"], "Pong");
}

#[tokio::test]
async fn shared_subscription_survives_one_unsubscribe() {
    let gw = InProcess::start("Sim: {TickRate: 40}").await;
    let mut a = Client::connect(&gw.md_url).await;
    let mut b = Client::connect(&gw.md_url).await;
    a.md_login().await;
    b.md_login().await;
    for c in [&mut a, &mut b] {
        c.send(json!({"MsgType": "SubscribeMarketData", "InstrumentID": ["rb2605"]}))
            .await;
        c.recv_all("RspSubMarketData").await;
    }
    assert_eq!(gw.dispatcher.md.upstream_subscriptions(), 1);
    for c in [&mut a, &mut b] {
        c.recv_until(|v| v["MsgType"] == "RtnDepthMarketData").await;
    }
    a.send(json!({"MsgType": "UnSubscribeMarketData", "InstrumentID": ["rb2605"]}))
        .await;
    a.recv_all("RspUnSubMarketData").await;
    assert_eq!(gw.dispatcher.md.upstream_subscriptions(), 1);
    // b keeps getting ticks; a gets none after its answer (every tick queued for it
    // before the unsubscribe came before the answer, in its one queue).
    for _ in 0..5 {
        b.recv_until(|v| v["MsgType"] == "RtnDepthMarketData").await;
    }
    let a_msgs = a.drain_for(Duration::from_millis(300)).await;
    assert!(a_msgs.iter().all(|m| m["MsgType"] != "RtnDepthMarketData"));
    // The last subscriber leaving releases the upstream subscription.
    drop(b);
    common::wait_until_async("the upstream subscription to be released", || {
        gw.dispatcher.md.upstream_subscriptions() == 0
    })
    .await;
}

/// A client that reads nothing does not hold up one that reads: the fast client gets
/// thousands of ticks while the slow one's queue is full, the slow one is not dropped,
/// and what it reads afterwards catches up with the market (conflation kept the
/// latest tick per instrument, not a backlog). Counted in ticks, not timed: how fast
/// the machine is does not matter (latency is measured by `webctp bench md`).
#[tokio::test]
async fn slow_client_does_not_delay_a_fast_one() {
    let gw =
        InProcess::start("Sim: {TickRate: 1500, StampTicks: true}\nLimits: {MdQueueDepth: 64}")
            .await;
    let ids = ["rb2605", "au2602", "m2605", "TA601"];
    let mut slow = Client::connect(&gw.md_url).await;
    slow.md_login().await;
    slow.send(json!({"MsgType": "SubscribeMarketData", "InstrumentID": ids}))
        .await;
    slow.recv_all("RspSubMarketData").await;
    let mut fast = Client::connect(&gw.md_url).await;
    fast.md_login().await;
    fast.send(json!({"MsgType": "SubscribeMarketData", "InstrumentID": ids}))
        .await;
    fast.recv_all("RspSubMarketData").await;

    // The fast client reads 10,000 ticks while the slow one reads nothing.
    let mut newest: HashMap<String, u64> = HashMap::new();
    for _ in 0..10_000 {
        let t = fast
            .recv_until(|v| v["MsgType"] == "RtnDepthMarketData")
            .await;
        let (id, n) = tick_number(&t);
        let last = newest.entry(id.clone()).or_default();
        assert!(n > *last, "{id}: tick {n} after {last}");
        *last = n;
    }

    // The slow client is still connected and catches up: for every instrument it
    // reads a tick at least as new as the newest the fast client had seen, in order,
    // having skipped ticks on the way (its queue kept the latest tick per instrument
    // instead of the whole backlog). Kernel socket buffers hold a few thousand old
    // ticks, fewer than the 10,000 it missed.
    let mut behind: HashMap<String, u64> = newest;
    let mut last: HashMap<String, u64> = HashMap::new();
    let mut skipped = 0;
    while !behind.is_empty() {
        let t = slow
            .recv_until(|v| v["MsgType"] == "RtnDepthMarketData")
            .await;
        let (id, n) = tick_number(&t);
        if let Some(prev) = last.insert(id.clone(), n) {
            assert!(n > prev, "{id}: tick {n} after {prev}");
            skipped += n - prev - 1;
        }
        if behind.get(&id).is_some_and(|&want| n >= want) {
            behind.remove(&id);
        }
    }
    assert!(
        skipped > 0,
        "the slow client was sent every tick: nothing conflated"
    );
}

/// Two distinct free loopback ports: both listeners are held until both are known,
/// then released for the gateway to bind.
fn two_free_ports() -> (u16, u16) {
    let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

#[tokio::test]
async fn seed_two_port_layout() {
    let (md_port, td_port) = two_free_ports();
    let yaml = format!("MdPort: {md_port}\nTdPort: {td_port}\nSim: {{TickRate: 0}}");
    let gw = InProcess::start(&yaml).await;
    assert!(
        gw.md_url.contains(&format!(":{md_port}/md/")),
        "{}",
        gw.md_url
    );
    assert!(
        gw.td_url.contains(&format!(":{td_port}/td/")),
        "{}",
        gw.td_url
    );
    let mut md = Client::connect(&gw.md_url).await;
    md.md_login().await;
    let mut td = Client::connect(&gw.td_url).await;
    td.td_login_ok("u-2port", "pw").await;
    // Each port serves only its endpoint.
    let wrong = format!("ws://127.0.0.1:{md_port}/td/");
    assert!(
        tokio_tungstenite::connect_async(wrong.as_str())
            .await
            .is_err()
    );
}

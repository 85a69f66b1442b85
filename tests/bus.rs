//! The Redis bus end to end, with a real `redis-server` on a loopback port and the real
//! binary: ticks and order events read back by a plain Redis client, an edge gateway
//! serving a WebSocket client from the bus, and Redis killed and restarted mid-run.
//!
//! Skipped (with a printed reason) where `redis-server` is not installed;
//! `scripts/install-redis.sh` (run by `scripts/test.sh`) installs it.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Binary, Client, TempDir, WAIT, order};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// A redis-server of the test's own, killed on drop.
struct Redis {
    child: Option<Child>,
    port: u16,
}

impl Redis {
    /// Starts one, or None (with the reason printed) when redis-server is missing.
    fn start() -> Option<Redis> {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok();
        if !found {
            eprintln!(
                "skipped: redis-server is not installed (scripts/install-redis.sh installs it)"
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let mut r = Redis { child: None, port };
        r.spawn();
        Some(r)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(mut c) = redis::Client::open(self.url()).and_then(|c| c.get_connection())
                && redis::cmd("PING").query::<String>(&mut c).is_ok()
            {
                return;
            }
            assert!(Instant::now() < deadline, "redis-server did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills it (SIGKILL: no goodbye to clients).
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("a Redis URL")
    }

    fn get(&self, key: &str) -> Option<String> {
        let mut c = self.client().get_connection().ok()?;
        redis::cmd("GET").arg(key).query(&mut c).ok()?
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads raw text frames (skipping the server's Pings) until `pred` holds.
async fn raw_until(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    mut pred: impl FnMut(&str) -> bool,
) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let m = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("a message before the timeout")
            .expect("the connection stays open")
            .expect("a frame");
        if let Message::Text(t) = m
            && pred(t.as_str())
        {
            return t.to_string();
        }
    }
}

fn is_tick(t: &str) -> bool {
    t.starts_with(r#"{"MsgType":"RtnDepthMarketData""#)
}

/// (ActionDay, UpdateTime, UpdateMillisec) of a tick.
fn stamp(t: &str) -> (String, String, i64) {
    let v: Value = serde_json::from_str(t).expect("a tick is JSON");
    let d = &v["DepthMarketData"];
    (
        d["ActionDay"].as_str().unwrap_or_default().to_string(),
        d["UpdateTime"].as_str().unwrap_or_default().to_string(),
        d["UpdateMillisec"].as_i64().unwrap_or_default(),
    )
}

/// A counter or gauge from `/metrics` (labels included in `name`, as printed).
fn metric(ws_url: &str, name: &str) -> Option<f64> {
    let text = common::http(ws_url, "GET", "/metrics");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

fn poll(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn md_client(url: &str, instruments: &[&str]) -> Client {
    let mut c = Client::connect(url).await;
    let login = c.md_login().await;
    assert_eq!(login["RspInfo"]["ErrorID"], 0, "{login}");
    c.send(json!({"MsgType": "SubscribeMarketData", "InstrumentID": instruments}))
        .await;
    let subs = c.recv_all("RspSubMarketData").await;
    assert!(
        subs.iter().all(|s| s["RspInfo"]["ErrorID"] == 0),
        "{subs:?}"
    );
    c
}

#[tokio::test]
async fn ticks_and_order_events_are_published_and_read_back() {
    let Some(redis) = Redis::start() else { return };
    let dir = TempDir::new("bus-publish");
    let gw = Binary::serve(
        &dir,
        &format!("Bus: {}\nSim: {{TickRate: 200}}\n", redis.url()),
        &[],
    );

    // A plain Redis subscriber, and a WebSocket client of the gateway.
    let mut sub = redis.client().get_async_pubsub().await.unwrap();
    sub.subscribe("md:tick:rb2605").await.unwrap();
    let c = md_client(&gw.md_url, &["rb2605"]).await;
    let mut ws = c.into_inner();
    let mut from_redis = sub.on_message();
    let first = tokio::time::timeout(WAIT, from_redis.next())
        .await
        .expect("a tick on md:tick:rb2605")
        .expect("the subscription stays open");
    let published: String = first.get_payload().unwrap();
    assert!(is_tick(&published), "{published}");
    // The client gets the very same bytes.
    let mut seen = 0;
    raw_until(&mut ws, |t| {
        seen += 1;
        assert!(seen < 2000, "the published tick never reached the client");
        t == published
    })
    .await;
    drop(from_redis);
    // The latest tick is kept as the snapshot.
    let snap = redis.get("md:snapshot:rb2605").expect("a snapshot");
    let v: Value = serde_json::from_str(&snap).unwrap();
    assert_eq!(v["MsgType"], "RtnDepthMarketData");
    assert_eq!(v["DepthMarketData"]["InstrumentID"], "rb2605");
    // The market-data login is there for edges.
    let session: Value = serde_json::from_str(&redis.get("md:session").unwrap()).unwrap();
    assert_eq!(
        session["TradingDay"].as_str().unwrap().len(),
        8,
        "{session}"
    );

    // Order events of a trading session, in its account's stream, as the client got them.
    let mut td = Client::connect(&gw.td_url).await;
    td.td_login_ok("bus-user", "123456").await;
    let (bid, ask, up, _) = td.book("rb2605").await;
    td.send(order(5, "rb2605", "0", "0", bid, 1)).await;
    td.send(order(6, "rb2605", "0", "0", ask, 1)).await;
    td.send(order(7, "rb2605", "0", "0", up + 10.0, 1)).await;
    let mut tdws = td.into_inner();
    let mut got = Vec::new();
    while got
        .iter()
        .filter(|t: &&String| t.contains("\"RtnTrade\""))
        .count()
        < 1
        || !got.iter().any(|t| t.contains("\"ErrRtnOrderInsert\""))
    {
        let t = raw_until(&mut tdws, |t| {
            [
                "RtnOrder",
                "RtnTrade",
                "ErrRtnOrderInsert",
                "ErrRtnOrderAction",
            ]
            .iter()
            .any(|m| t.contains(&format!("\"MsgType\":\"{m}\"")))
        })
        .await;
        got.push(t);
    }
    let mut conn = redis
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let deadline = Instant::now() + WAIT;
    let entries: Vec<String> = loop {
        let r: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg("td:9999:bus-user")
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await
            .unwrap();
        let msgs: Vec<String> = r
            .ids
            .iter()
            .filter_map(|e| e.get::<String>("msg"))
            .collect();
        if msgs.len() >= got.len() || Instant::now() > deadline {
            break msgs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // In order, byte for byte.
    assert_eq!(
        entries[..got.len()],
        got[..],
        "stream entries differ from the client's"
    );
    assert!(entries.iter().any(|m| m.contains("\"RtnOrder\"")));
    assert!(entries.iter().any(|m| m.contains("\"RtnTrade\"")));
    assert!(entries.iter().any(|m| m.contains("\"ErrRtnOrderInsert\"")));

    assert!(metric(&gw.md_url, "webctp_bus_published_total{kind=\"tick\"}").unwrap() > 0.0);
    assert!(metric(&gw.md_url, "webctp_bus_published_total{kind=\"td\"}").unwrap() >= 3.0);
    assert_eq!(metric(&gw.md_url, "webctp_bus_connected"), Some(1.0));
}

#[tokio::test]
async fn an_edge_serves_market_data_from_the_bus() {
    let Some(redis) = Redis::start() else { return };
    let dir = TempDir::new("bus-ingest");
    let ingest = Binary::serve(
        &dir,
        &format!(
            "AdminEndpoints: true\nBus: {}\nSim: {{TickRate: 100}}\n",
            redis.url()
        ),
        &[],
    );
    let edge_config = format!("MdFrom: {}\n", redis.url());
    let adir = TempDir::new("bus-edge-a");
    let edge_a = Binary::serve(&adir, &edge_config, &[]);
    let bdir = TempDir::new("bus-edge-b");
    let edge_b = Binary::serve(&bdir, &edge_config, &[]);

    // The edge's login carries the ingest's session (its trading day).
    let mut direct = Client::connect(&ingest.md_url).await;
    let ingest_login = direct.md_login().await;
    let mut c = Client::connect(&edge_a.md_url).await;
    let login = c.md_login().await;
    assert_eq!(login["RspInfo"]["ErrorID"], 0, "{login}");
    assert_eq!(
        login["RspUserLogin"]["TradingDay"],
        ingest_login["RspUserLogin"]["TradingDay"]
    );

    // No one on the ingest holds au2602: the edge's demand makes it subscribe upstream.
    c.send(json!({"MsgType": "SubscribeMarketData", "InstrumentID": ["au2602"]}))
        .await;
    let sub = c.recv_until(|v| v["MsgType"] == "RspSubMarketData").await;
    assert_eq!(sub["RspInfo"]["ErrorID"], 0, "{sub}");
    let mut ws = c.into_inner();
    let mut last = stamp(&raw_until(&mut ws, is_tick).await);
    for _ in 0..5 {
        let t = raw_until(&mut ws, is_tick).await;
        assert!(t.contains("\"InstrumentID\":\"au2602\""), "{t}");
        let s = stamp(&t);
        assert!(s >= last, "time went backwards: {last:?} then {s:?}");
        last = s;
    }
    poll("the ingest to hold au2602 for the edge", || {
        metric(&ingest.md_url, "webctp_md_subscriptions").unwrap_or(0.0) >= 1.0
    });

    // With the ingest's front down the snapshot stands still: a client of the other
    // edge gets exactly it, first.
    let dropped = common::http(&ingest.md_url, "POST", "/admin/drop-front?seconds=5");
    assert!(dropped.starts_with("HTTP/1.1 200"), "{dropped}");
    poll("the ingest's front to be down", || {
        metric(&ingest.md_url, "webctp_front_up{front=\"md\"}") == Some(0.0)
    });
    let snap = redis.get("md:snapshot:au2602").expect("a snapshot");
    let mut b = Client::connect(&edge_b.md_url).await;
    assert_eq!(b.md_login().await["RspInfo"]["ErrorID"], 0);
    b.send(json!({"MsgType": "SubscribeMarketData", "InstrumentID": ["au2602"]}))
        .await;
    let sub = b.recv_until(|v| v["MsgType"] == "RspSubMarketData").await;
    assert_eq!(sub["RspInfo"]["ErrorID"], 0, "{sub}");
    let mut wsb = b.into_inner();
    assert_eq!(raw_until(&mut wsb, is_tick).await, snap);
    // Then live ticks again once the front is back, never older than the snapshot.
    let next = raw_until(&mut wsb, is_tick).await;
    assert!(stamp(&next) > stamp(&snap), "{next}");

    // Trading is not served by an edge, and it says so.
    let mut td = Client::connect(&edge_a.td_url).await;
    let refused = td.td_login("edge-user", "123456").await;
    assert_ne!(refused["RspInfo"]["ErrorID"], 0, "{refused}");
    poll("the edge to say why", || {
        edge_a.stderr().contains("serves market data only")
    });
}

#[tokio::test]
async fn redis_restart_mid_run_leaves_clients_alone_and_publishing_resumes() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let dir = TempDir::new("bus-restart");
    let gw = Binary::serve(
        &dir,
        &format!("Bus: {}\nSim: {{TickRate: 200}}\n", redis.url()),
        &[],
    );
    let edir = TempDir::new("bus-restart-edge");
    let edge = Binary::serve(&edir, &format!("MdFrom: {}\n", redis.url()), &[]);
    let mut direct = md_client(&gw.md_url, &["rb2605"]).await;
    let mut at_edge = md_client(&edge.md_url, &["rb2605"]).await;
    at_edge
        .recv_until(|v| v["MsgType"] == "RtnDepthMarketData")
        .await;
    poll("the bus to publish", || {
        metric(&gw.md_url, "webctp_bus_published_total{kind=\"tick\"}").unwrap_or(0.0) > 0.0
    });

    redis.kill();
    // The gateway's own clients go on as if nothing happened: ticks and no disconnect
    // until the publisher has noticed, and 20 ticks after that (counted, not timed,
    // so a slow machine cannot fail it).
    let deadline = Instant::now() + WAIT;
    let mut noticed = false;
    let mut after = 0;
    while after < 20 {
        let v = direct.recv().await;
        assert_ne!(v["MsgType"], "OnFrontDisconnected", "{v}");
        if v["MsgType"] != "RtnDepthMarketData" {
            continue;
        }
        if noticed {
            after += 1;
        } else {
            noticed = metric(&gw.md_url, "webctp_bus_connected") == Some(0.0);
            assert!(Instant::now() < deadline, "the publisher never noticed");
        }
    }
    // The edge's clients are told their source is gone.
    let down = at_edge
        .recv_until(|v| v["MsgType"] == "OnFrontDisconnected")
        .await;
    assert!(down["Detail"].is_string(), "{down}");

    redis.spawn();
    poll("the publisher to reconnect", || {
        metric(&gw.md_url, "webctp_bus_connected") == Some(1.0)
    });
    let mut sub = redis.client().get_async_pubsub().await.unwrap();
    sub.subscribe("md:tick:rb2605").await.unwrap();
    let again = tokio::time::timeout(WAIT, sub.on_message().next()).await;
    assert!(
        matches!(again, Ok(Some(_))),
        "no tick published after the restart"
    );
    assert!(redis.get("md:snapshot:rb2605").is_some());
    assert!(
        redis.get("md:session").is_some(),
        "md:session not published again"
    );
    // The gap while Redis was away was counted.
    assert!(gw.stderr().contains("bus: lost Redis"), "{}", gw.stderr());
    // The edge is back and serving.
    at_edge
        .recv_until(|v| v["MsgType"] == "OnFrontConnected")
        .await;
    at_edge
        .recv_until(|v| v["MsgType"] == "RtnDepthMarketData")
        .await;
    // And the direct client never stopped.
    direct
        .recv_until(|v| v["MsgType"] == "RtnDepthMarketData")
        .await;
}

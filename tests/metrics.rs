//! `GET /metrics` of the real binary, parsed with a Prometheus text parser: the token
//! guards it, every listed metric is present, and each one moves when its event
//! happens (ticks, messages, conflation, dropped clients, requests, order latency,
//! journal syncs, sessions, process figures).

mod common;

use std::time::{Duration, Instant};

use common::{Binary, Client, RawWs, TempDir, WAIT, order};
use prometheus_parse::{Scrape, Value};
use serde_json::json;
use webctp::protocol::errors::BAD_PARAMETERS;

const TOKEN: &str = "metrics-secret";

/// The HTTP response of `GET path` (status line, headers and body).
fn get(ws_url: &str, path: &str) -> String {
    common::http(ws_url, "GET", path)
}

fn scrape(ws_url: &str) -> Scrape {
    let text = get(ws_url, &format!("/metrics?token={TOKEN}"));
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{text}"
    );
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).expect("the exposition parses")
}

/// The value of `metric` with the given labels (all of them must match); None if absent.
fn value(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    s.samples
        .iter()
        .find(|x| x.metric == metric && labels.iter().all(|(k, v)| x.labels.get(k) == Some(v)))
        .map(|x| match &x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(b) => b.last().map_or(0.0, |c| c.count),
            Value::Summary(_) => f64::NAN,
        })
}

fn must(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    value(s, metric, labels).unwrap_or_else(|| {
        let names: Vec<&str> = s.samples.iter().map(|x| x.metric.as_str()).collect();
        panic!("{metric} {labels:?} missing; present: {names:?}")
    })
}

/// Polls the scrape until `f` holds.
fn eventually(url: &str, what: &str, f: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + WAIT;
    loop {
        let s = scrape(url);
        if f(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn metrics_are_guarded_parsed_present_and_moving() {
    let dir = TempDir::new("metrics");
    let gw = Binary::serve(
        &dir,
        &format!(
            "Token: {TOKEN}\nSim: {{TickRate: 3000}}\nLimits: {{MdQueueDepth: 1}}\nHeartbeatInterval: 60\n"
        ),
        &[],
    );
    let url = gw.md_url.clone();

    // The token guards the metrics like the WebSockets.
    let refused = get(&url, "/metrics");
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    let wrong = get(&url, "/metrics?token=nope");
    assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");

    // The sim's market-data session logs in just after start.
    let before = eventually(&url, "the md front to log in", |s| {
        value(s, "webctp_front_up", &[("front", "md")]) == Some(1.0)
    });
    // Everything listed is there from the first scrape.
    for (m, l) in [
        ("webctp_connections", &[("endpoint", "md")][..]),
        ("webctp_connections", &[("endpoint", "td")]),
        ("webctp_logged_in", &[("endpoint", "md")]),
        ("webctp_logged_in", &[("endpoint", "td")]),
        ("webctp_front_up", &[("front", "md")]),
        ("webctp_front_up", &[("front", "td")]),
        ("webctp_ticks_in_total", &[]),
        ("webctp_messages_out_total", &[("endpoint", "md")]),
        ("webctp_messages_out_total", &[("endpoint", "td")]),
        ("webctp_conflated_total", &[]),
        ("webctp_order_insert_to_rtn_order_seconds_count", &[]),
        ("webctp_query_queue_depth", &[]),
        ("webctp_query_pacing_waits_total", &[]),
        ("webctp_query_pacing_wait_seconds_total", &[]),
        ("webctp_query_flow_control_retries_total", &[]),
        ("webctp_journal_sync_seconds_count", &[]),
        ("process_resident_memory_bytes", &[]),
        ("process_cpu_seconds_total", &[]),
        ("process_open_fds", &[]),
    ] {
        must(&before, m, l);
    }
    assert!(must(&before, "process_resident_memory_bytes", &[]) > 1e6);
    assert!(must(&before, "process_open_fds", &[]) > 3.0);

    // A market-data client that reads, and one that does not (its queue conflates).
    let md_url = format!("{}?token={TOKEN}", gw.md_url);
    let mut reader = Client::connect(&md_url).await;
    reader.md_login().await;
    reader
        .send(json!({"MsgType": "SubscribeMarketData", "InstrumentID": ["au2602", "rb2605"]}))
        .await;
    reader.recv_all("RspSubMarketData").await;
    reader
        .recv_until(|v| v["MsgType"] == "RtnDepthMarketData")
        .await;
    let mut sleeper = Client::connect(&md_url).await;
    sleeper.md_login().await;
    sleeper
        .send(json!({"MsgType": "SubscribeMarketData", "InstrumentID": ["au2602", "rb2605"]}))
        .await;
    sleeper.recv_all("RspSubMarketData").await;

    // A trading client: an order (insert -> RtnOrder), a query, bad requests.
    let td_url = format!("{}?token={TOKEN}", gw.td_url);
    let mut td = Client::connect(&td_url).await;
    td.td_login_ok("metrics-user", "123456").await;
    let (bid, _, _, _) = td.book("rb2605").await;
    td.send(order(7, "rb2605", "0", "0", bid, 1)).await;
    td.recv_until(|v| v["MsgType"] == "RtnOrder").await;
    td.ask("ReqQryTradingAccount", 8, json!({})).await;
    td.send(json!({"MsgType": "ReqQryNoSuchThing", "RequestID": 9}))
        .await;
    td.recv_until(|v| v["RequestID"] == 9).await;
    td.send_text("{not json").await;
    td.recv_until(|v| v["RspInfo"]["ErrorID"] == BAD_PARAMETERS)
        .await;
    let mut anon = Client::connect(&td_url).await;
    anon.send(common::query("ReqQryInvestor", 10, json!({})))
        .await;
    anon.recv_until(|v| v["RequestID"] == 10).await;

    // A client whose text frame is not UTF-8 is dropped.
    let addr = gw
        .md_url
        .trim_start_matches("ws://")
        .trim_end_matches("/md/");
    let mut raw = RawWs::connect(addr, &format!("/md/?token={TOKEN}"));
    raw.send_frame(0x1, &[0xff, 0xfe, 0xfd]);
    assert_eq!(raw.close_code(), Some(1007));

    let after = eventually(&url, "conflation in the sleeping client's queue", |s| {
        value(s, "webctp_conflated_total", &[]).unwrap_or(0.0) > 0.0
    });
    let moved = |m: &str, l: &[(&str, &str)]| {
        let (a, b) = (must(&before, m, l), must(&after, m, l));
        assert!(b > a, "{m} {l:?} did not move: {a} -> {b}");
    };
    moved("webctp_ticks_in_total", &[]);
    moved("webctp_messages_out_total", &[("endpoint", "md")]);
    moved("webctp_messages_out_total", &[("endpoint", "td")]);
    moved("webctp_order_insert_to_rtn_order_seconds_count", &[]);
    moved("webctp_journal_sync_seconds_count", &[]);
    moved("process_cpu_seconds_total", &[]);
    // The dropped client's connection ends just after its close frame.
    eventually(&url, "the dropped client's connection to end", |s| {
        value(s, "webctp_connections", &[("endpoint", "md")]) == Some(2.0)
            && value(s, "webctp_connections", &[("endpoint", "td")]) == Some(2.0)
    });
    assert_eq!(must(&after, "webctp_logged_in", &[("endpoint", "md")]), 2.0);
    assert_eq!(must(&after, "webctp_logged_in", &[("endpoint", "td")]), 1.0);
    assert_eq!(must(&after, "webctp_front_up", &[("front", "td")]), 1.0);
    assert!(must(&after, "webctp_md_subscriptions", &[]) >= 2.0);
    let req = |t: &str, r: &str| {
        value(
            &after,
            "webctp_requests_total",
            &[("msg_type", t), ("result", r)],
        )
    };
    assert_eq!(req("ReqOrderInsert", "accepted"), Some(1.0));
    assert_eq!(req("ReqQryTradingAccount", "accepted"), Some(1.0));
    assert_eq!(req("ReqQryDepthMarketData", "accepted"), Some(1.0));
    assert_eq!(req("SubscribeMarketData", "accepted"), Some(2.0));
    assert_eq!(req("unknown", "not_implemented"), Some(1.0));
    assert_eq!(req("unknown", "bad_request"), Some(1.0));
    assert_eq!(req("ReqQryInvestor", "not_logged_in"), Some(1.0));
    assert_eq!(
        value(
            &after,
            "webctp_dropped_clients_total",
            &[("reason", "invalid_utf8")]
        ),
        Some(1.0)
    );

    // Closing connections brings the gauges down.
    drop(sleeper);
    drop(anon);
    eventually(&url, "the connection gauges to come down", |s| {
        value(s, "webctp_connections", &[("endpoint", "md")]) == Some(1.0)
            && value(s, "webctp_connections", &[("endpoint", "td")]) == Some(1.0)
    });
}

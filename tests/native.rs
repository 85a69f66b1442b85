//! The native backend end to end: the real `webctp` binary loads `libfakectp.so` (built
//! from this repository, symlinked under the official file names) with dlopen, calls
//! its factories and vtables, and receives callbacks on the fake's threads with GBK
//! strings in C structs — the whole FFI path, without a network. Clients talk to the
//! gateway over WebSockets exactly as they would with the sim.
//!
//! One more test runs the official 6.7.11 libraries when they are present (`libs/` or
//! `WEBCTP_TEST_CTP_LIB_DIR`) against a front that does not answer.

mod common;

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Binary, Client, TempDir, WAIT, fake_lib_dir, order};
use serde_json::{Value, json};
use webctp::protocol::errors::ctp;

/// A gateway on the native backend over the fake library.
struct Gateway {
    bin: Binary,
    data: PathBuf,
    _dir: TempDir,
}

impl Gateway {
    fn start(tag: &str, fake_env: &[(&str, &str)]) -> Gateway {
        Gateway::start_with(tag, "QueryInterval: 10\n", fake_env)
    }

    fn start_with(tag: &str, yaml: &str, fake_env: &[(&str, &str)]) -> Gateway {
        let dir = TempDir::new(tag);
        let data = dir.path().join("data");
        let bin = Binary::native_with(&dir, yaml, fake_env);
        Gateway {
            bin,
            data,
            _dir: dir,
        }
    }

    fn health(&self) -> Value {
        http_json(&self.bin.md_url, "/healthz")
    }
}

/// GET `path` on the gateway of a `ws://host:port/...` URL; the JSON body.
fn http_json(ws_url: &str, path: &str) -> Value {
    let text = common::http(ws_url, "GET", path);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Waits until `f` holds, polling.
fn eventually(what: &str, f: impl FnMut() -> bool) {
    common::wait_until(what, f);
}

#[tokio::test]
async fn market_data_through_the_library() {
    let gw = Gateway::start("native-md", &[("FAKECTP_TICK_RATE", "20")]);
    eventually("the md front", || gw.health()["md_front_up"] == true);
    let h = gw.health();
    assert_eq!(h["backend"], "native");
    assert!(h["version"].as_str().unwrap().contains("fakectp"), "{h}");

    let mut c = Client::connect(&gw.bin.md_url).await;
    let login = c.md_login().await;
    assert_eq!(login["RspInfo"]["ErrorID"], 0, "{login}");
    assert_eq!(
        login["RspUserLogin"]["TradingDay"].as_str().unwrap().len(),
        8
    );

    let wanted = ["au2602", "rb2605", "TA601"];
    c.send(json!({"MsgType": "SubscribeMarketData", "InstrumentID": wanted, "RequestID": 3}))
        .await;
    let subs = c.recv_all("RspSubMarketData").await;
    let ids = common::instrument_ids(&subs);
    assert_eq!(ids, wanted);
    assert!(subs.iter().all(|v| v["RspInfo"]["ErrorID"] == 0));

    let mut seen = HashSet::new();
    while seen.len() < 3 {
        let t = c.recv_until(|v| v["MsgType"] == "RtnDepthMarketData").await;
        let d = &t["DepthMarketData"];
        let id = d["InstrumentID"].as_str().unwrap().to_string();
        assert!(wanted.contains(&id.as_str()), "{id}");
        // DBL_MAX crossed the C struct: unset prices go out as 0, CurrDelta keeps it.
        assert_eq!(d["ClosePrice"], 0.0);
        assert_eq!(d["CurrDelta"], f64::MAX);
        assert!(d["LastPrice"].as_f64().unwrap() > 0.0);
        assert_eq!(d["UpdateTime"].as_str().unwrap().len(), 8);
        seen.insert(id);
    }

    // CTP's error text arrives in GBK and is decoded.
    c.send(json!({"MsgType": "SubscribeMarketData", "InstrumentID": ["zz9999"]}))
        .await;
    let bad = c.recv_until(|v| v["MsgType"] == "RspSubMarketData").await;
    assert_eq!(bad["RspInfo"]["ErrorID"], ctp::INSTRUMENT_NOT_FOUND);
    assert_eq!(bad["RspInfo"]["ErrorMsg"], "CTP:找不到合约");

    c.send(json!({"MsgType": "UnSubscribeMarketData", "InstrumentID": wanted}))
        .await;
    assert_eq!(c.recv_all("RspUnSubMarketData").await.len(), 3);
    let _ = c.drain_for(Duration::from_millis(200)).await;
    let later = c.drain_for(Duration::from_millis(500)).await;
    assert!(
        later.iter().all(|v| v["MsgType"] != "RtnDepthMarketData"),
        "{later:?}"
    );
    assert!(
        gw.data
            .join("native/md/tcp___127.0.0.1_1/DialogRsp.con")
            .is_file()
    );
}

/// How many trader API objects the gateway has released (it logs each at debug).
fn released_td(gw: &Gateway) -> usize {
    gw.bin
        .stderr()
        .matches("CTP API object released api=\"td\"")
        .count()
}

#[tokio::test]
async fn gateway_paces_queries_against_the_librarys_flow_control() {
    // The fake refuses a query within 1000 ms of the last one with -3, as CTP does; the
    // gateway is told to pace at 10 ms, so it runs into the refusals and must retry.
    let gw = Gateway::start(
        "native-flow",
        &[
            ("FAKECTP_TICK_RATE", "0"),
            ("FAKECTP_QUERY_INTERVAL_MS", "1000"),
            ("FAKECTP_LOG", "info"),
        ],
    );
    let mut c = Client::connect(&gw.bin.td_url).await;
    c.td_login_ok("u-flow", "123456").await;
    let queries = [
        ("ReqQryTradingAccount", "TradingAccount"),
        ("ReqQryInvestor", "Investor"),
        ("ReqQryExchange", "Exchange"),
    ];
    // All at once, as a client may send them.
    for (i, (q, _)) in queries.iter().enumerate() {
        c.send(common::query(q, 20 + i as i64, json!({}))).await;
    }
    let mut answered = 0;
    while answered < queries.len() {
        let v = c
            .recv_until(|v| {
                v["RequestID"]
                    .as_i64()
                    .is_some_and(|r| (20..23).contains(&r))
            })
            .await;
        // No flow-control code ever reaches the client.
        assert_eq!(v["RspInfo"]["ErrorID"], 0, "{v}");
        let (_, key) = queries[(v["RequestID"].as_i64().unwrap() - 20) as usize];
        assert!(v[key].is_object(), "{v}");
        if v["IsLast"] == true {
            answered += 1;
        }
    }
    // And the refusals did happen: the fake logged them.
    eventually("the fake to report a refused query", || {
        gw.bin.stderr().contains("query refused by flow control")
    });
    assert!(gw.bin.stderr().contains("code=-3"), "{}", gw.bin.stderr());
    // /metrics counted the pacing and the retries.
    let text = common::http(&gw.bin.md_url, "GET", "/metrics");
    let count = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing: {text}"))
    };
    assert!(
        count("webctp_query_flow_control_retries_total") >= 1.0,
        "{text}"
    );
    assert_eq!(count("webctp_query_queue_depth"), 0.0, "{text}");
}

/// A counter or gauge without labels from `/metrics`.
fn metric(gw: &Gateway, name: &str) -> f64 {
    let text = common::http(&gw.bin.md_url, "GET", "/metrics");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing: {text}"))
}

#[tokio::test]
async fn metrics_count_query_pacing() {
    // CTP's own pace, one query a second: of two queries sent at once, the second waits.
    let gw = Gateway::start_with(
        "native-pacing",
        "QueryInterval: 1000\n",
        &[("FAKECTP_TICK_RATE", "0")],
    );
    let mut c = Client::connect(&gw.bin.td_url).await;
    c.td_login_ok("u-pace", "123456").await;
    assert_eq!(metric(&gw, "webctp_query_pacing_waits_total"), 0.0);
    c.send(common::query("ReqQryTradingAccount", 1, json!({})))
        .await;
    c.send(common::query("ReqQryInvestor", 2, json!({}))).await;
    eventually("a query queued behind the pacing", || {
        metric(&gw, "webctp_query_queue_depth") >= 1.0
    });
    c.recv_until(|v| v["RequestID"] == 2 && v["IsLast"] == true)
        .await;
    assert_eq!(metric(&gw, "webctp_query_pacing_waits_total"), 1.0);
    assert!(metric(&gw, "webctp_query_pacing_wait_seconds_total") > 0.5);
    assert_eq!(metric(&gw, "webctp_query_queue_depth"), 0.0);
}

#[tokio::test]
async fn trading_through_the_library() {
    let gw = Gateway::start(
        "native-td",
        &[
            ("FAKECTP_TICK_RATE", "0"),
            ("FAKECTP_ACCOUNTS", "u-native:123456"),
            ("FAKECTP_SETTLE", "1"),
            ("WEBCTP_LOG_LEVEL", "debug"),
        ],
    );
    let mut c = Client::connect(&gw.bin.td_url).await;
    let login = c.td_login_ok("u-native", "123456").await;
    assert_eq!(login["RspInfo"]["ErrorMsg"], "CTP:正确");
    let body = &login["RspUserLogin"];
    assert_eq!(body["UserID"], "u-native");
    assert_eq!(body["FrontID"], 1);
    assert_ne!(body["SessionID"], 0);
    // One flow directory per user and front.
    assert!(
        gw.data
            .join("native/td/u-native/tcp___127.0.0.1_1/DialogRsp.con")
            .is_file()
    );

    // A second session of the same user gets flow files of its own.
    let mut c2 = Client::connect(&gw.bin.td_url).await;
    c2.td_login_ok("u-native", "123456").await;
    assert!(
        gw.data
            .join("native/td/u-native/tcp___127.0.0.1_1-2/DialogRsp.con")
            .is_file()
    );
    drop(c2);
    eventually("the second trader API to be released", || {
        released_td(&gw) == 1
    });

    // The statement came in parts cut inside GBK characters; it arrives whole.
    let info = c.ask("ReqQrySettlementInfo", 2, json!({})).await;
    assert_eq!(info.len(), 1, "{info:?}");
    let content = info[0]["SettlementInfo"]["Content"].as_str().unwrap();
    assert!(content.contains("结算单"), "{content}");
    assert!(content.contains("期末结存"), "{content}");
    assert!(content.contains("u-native"), "{content}");
    assert!(!content.contains('\u{FFFD}'), "{content}");
    let confirm = c.ask("ReqQrySettlementInfoConfirm", 3, json!({})).await;
    assert_eq!(
        confirm[0]["SettlementInfoConfirm"]["InvestorID"],
        "u-native"
    );

    // A filled order: RtnOrder statuses and RtnTrade, Chinese status text decoded.
    let (_, ask, _, low) = c.book("rb2605").await;
    c.send(order(10, "rb2605", "0", "0", ask + 3.0, 2)).await;
    let (orders, trades) = c.until_final().await;
    assert_eq!(orders[0]["Order"]["OrderStatus"], "a");
    assert_eq!(orders[0]["Order"]["StatusMsg"], "报单已提交");
    assert_eq!(orders.last().unwrap()["Order"]["OrderStatus"], "0");
    let volume: i64 = trades
        .iter()
        .map(|t| t["Trade"]["Volume"].as_i64().unwrap())
        .sum();
    assert_eq!(volume, 2);

    // A resting order, cancelled.
    c.send(order(11, "rb2605", "0", "0", low, 1)).await;
    let resting = c
        .recv_until(|v| v["MsgType"] == "RtnOrder" && v["Order"]["OrderStatus"] == "3")
        .await;
    let sys_id = resting["Order"]["OrderSysID"].as_str().unwrap().to_string();
    c.send(
        json!({"MsgType": "ReqOrderAction", "RequestID": 12, "InputOrderAction": {
        "ExchangeID": "SHFE", "OrderSysID": sys_id, "ActionFlag": "0", "InstrumentID": "rb2605"}}),
    )
    .await;
    let cancelled = c.recv_until(|v| v["MsgType"] == "RtnOrder").await;
    assert_eq!(cancelled["Order"]["OrderStatus"], "5");

    // A rejection: CTP's GBK error text, in the answer and in the error push.
    c.send(order(13, "zz9999", "0", "0", 100.0, 1)).await;
    let rsp = c.recv_until(|v| v["MsgType"] == "RspOrderInsert").await;
    assert_eq!(rsp["RequestID"], 13);
    assert_eq!(rsp["RspInfo"]["ErrorID"], ctp::INSTRUMENT_NOT_FOUND);
    assert_eq!(rsp["RspInfo"]["ErrorMsg"], "CTP:找不到合约");
    let err = c.recv_until(|v| v["MsgType"] == "ErrRtnOrderInsert").await;
    assert_eq!(err["RspInfo"]["ErrorMsg"], "CTP:找不到合约");

    // Queries: one message per record, IsLast on the last only.
    let pos = c
        .ask(
            "ReqQryInvestorPosition",
            20,
            json!({"InstrumentID": "rb2605"}),
        )
        .await;
    assert_eq!(pos.len(), 1, "{pos:?}");
    assert_eq!(pos[0]["InvestorPosition"]["Position"], 2);
    let orders = c.ask("ReqQryOrder", 21, json!({})).await;
    assert_eq!(orders.len(), 2, "{orders:?}");
    assert_eq!(orders[0]["IsLast"], false);
    assert_eq!(orders[1]["IsLast"], true);
    let ex = c.ask("ReqQryExchange", 22, json!({})).await;
    assert_eq!(ex.len(), 6);
    assert!(ex[..5].iter().all(|m| m["IsLast"] == false));
    let ins = c
        .ask("ReqQryInstrument", 23, json!({"InstrumentID": "rb2605"}))
        .await;
    assert_eq!(ins[0]["Instrument"]["InstrumentName"], "螺纹钢2605");
    let acc = c.ask("ReqQryTradingAccount", 24, json!({})).await;
    assert!(acc[0]["TradingAccount"]["CurrMargin"].as_f64().unwrap() > 0.0);
    let none = c
        .ask("ReqQryTrade", 25, json!({"InstrumentID": "au2602"}))
        .await;
    assert_eq!(none.len(), 1);
    assert!(none[0]["Trade"].is_null());

    // Logging out drops the session inside the library's callback: the API object is
    // released on a thread of its own, then a new login gets a new one.
    c.send(
        json!({"MsgType": "ReqUserLogout", "RequestID": 30, "UserLogout": {"UserID": "u-native"}}),
    )
    .await;
    let out = c.recv_until(|v| v["MsgType"] == "RspUserLogout").await;
    assert_eq!(out["RspInfo"]["ErrorID"], 0, "{out}");
    eventually("the trader API to be released", || released_td(&gw) == 2);
    c.td_login_ok("u-native", "123456").await;
    let acc = c.ask("ReqQryTradingAccount", 31, json!({})).await;
    assert!(acc[0]["TradingAccount"].is_object());
}

#[tokio::test]
async fn front_outage_disconnects_and_reconnects() {
    // The fake's sim starts with the gateway; its front drops 3 s later for 1 s.
    let gw = Gateway::start(
        "native-outage",
        &[("FAKECTP_TICK_RATE", "20"), ("FAKECTP_OUTAGE", "3,1")],
    );
    let mut md = Client::connect(&gw.bin.md_url).await;
    assert_eq!(md.md_login().await["RspInfo"]["ErrorID"], 0);
    md.send(json!({"MsgType": "SubscribeMarketData", "InstrumentID": ["rb2605"]}))
        .await;
    md.recv_until(|v| v["MsgType"] == "RtnDepthMarketData")
        .await;
    let mut td = Client::connect(&gw.bin.td_url).await;
    td.td_login_ok("u-outage", "pw").await;

    let down = md
        .recv_until(|v| v["MsgType"] == "OnFrontDisconnected")
        .await;
    assert_ne!(down["RspInfo"]["ErrorID"], 0);
    md.recv_until(|v| v["MsgType"] == "OnFrontConnected").await;
    let tick = md
        .recv_until(|v| v["MsgType"] == "RtnDepthMarketData")
        .await;
    assert_eq!(tick["DepthMarketData"]["InstrumentID"], "rb2605");

    td.recv_until(|v| v["MsgType"] == "OnFrontDisconnected")
        .await;
    let back = td.recv_until(|v| v["MsgType"] == "OnFrontConnected").await;
    assert!(back["Detail"].as_str().unwrap().contains("logged in again"));
    let acc = td.ask("ReqQryTradingAccount", 5, json!({})).await;
    assert_eq!(acc[0]["RspInfo"]["ErrorID"], 0);
    assert!(acc[0]["TradingAccount"].is_object());
}

/// Order truth (issue #10) through the library: filled orders are not reported failed
/// after a front drop (`/admin/drop-front` reaches the fake's sim), and every session
/// sees each order under its sender's RequestID.
#[tokio::test]
async fn order_truth_through_the_library() {
    let gw = Gateway::start("native-truth", &[("FAKECTP_TICK_RATE", "0")]);
    common::truth::filled_orders_are_not_reported_failed(&gw.bin.td_url, "u-nt-1", "pw").await;
    common::truth::every_session_sees_the_senders_request_ids(&gw.bin.td_url, "u-nt-2", "pw").await;
}

/// Runs the binary until it exits (it must, within the timeout): (code, stderr).
fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = common::webctp();
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env_remove("WEBCTP_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            return (status.code(), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("webctp {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn missing_or_wrong_libraries_are_clear_errors() {
    let dir = TempDir::new("native-nolib");
    let data = dir.path().join("data");
    let base = |lib_dir: &str| {
        vec![
            "serve".to_string(),
            "--port".into(),
            "0".into(),
            "--backend".into(),
            "native".into(),
            "--ctp-lib-dir".into(),
            lib_dir.to_string(),
            "--td-front".into(),
            "tcp://127.0.0.1:1".into(),
            "--data-dir".into(),
            data.to_str().unwrap().to_string(),
        ]
    };
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let args = base(empty.to_str().unwrap());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, err) = run_to_exit(&args, &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("libthostmduserapi_se"), "{err}");
    assert!(err.contains(empty.to_str().unwrap()), "{err}");

    // A library that says it is another CTP version is refused by name.
    let args = base(fake_lib_dir().to_str().unwrap());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, err) = run_to_exit(&args, &[("FAKECTP_API_VERSION", "v6.6.9_20220920 fake")]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("v6.6.9_20220920 fake"), "{err}");
    assert!(err.contains("6.7"), "{err}");
}

/// Where the official libraries are, if anywhere.
fn official_lib_dir() -> Option<PathBuf> {
    let dirs = std::env::var_os("WEBCTP_TEST_CTP_LIB_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([Path::new(env!("CARGO_MANIFEST_DIR")).join("libs")]);
    for dir in dirs {
        let has = |prefix: &str| {
            std::fs::read_dir(&dir).is_ok_and(|entries| {
                entries.filter_map(Result::ok).any(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.starts_with(prefix) && n.ends_with(".so")
                })
            })
        };
        if has("libthostmduserapi_se") && has("libthosttraderapi_se") {
            return Some(dir);
        }
    }
    None
}

#[tokio::test]
async fn official_libraries_start_against_an_unreachable_front() {
    let Some(lib_dir) = official_lib_dir() else {
        common::skip(
            "official_libraries_start_against_an_unreachable_front",
            "the official CTP libraries are not in libs/ (scripts/install-ctp-libs.sh) \
             and WEBCTP_TEST_CTP_LIB_DIR is not set",
        );
        return;
    };
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let front = format!("tcp://127.0.0.1:{port}");
    let dir = TempDir::new("native-official");
    let data = dir.path().join("data");
    // /healthz shows the front's state and the library's version to the operator.
    let mut bin = Binary::native_serve(
        &dir,
        &lib_dir,
        &front,
        "AdminEndpoints: true\n",
        &[("WEBCTP_LOG_LEVEL", "debug")],
    );
    let err = bin.stderr();
    assert!(err.contains("v6.7.11"), "{err}");
    // A trading login creates a trader API object too; it waits for the front.
    let mut td = Client::connect(&bin.td_url).await;
    td.send(json!({"MsgType": "ReqUserLogin", "RequestID": 1,
        "ReqUserLogin": {"UserID": "u1", "Password": "pw"}}))
        .await;
    // Both API objects exist once their flow files do; the library keeps trying the
    // front on its own threads meanwhile.
    let md_flow = data.join(format!("native/md/tcp___127.0.0.1_{port}/DialogRsp.con"));
    let td_flow = data.join(format!("native/td/u1/tcp___127.0.0.1_{port}/DialogRsp.con"));
    eventually("both API objects' flow files", || {
        md_flow.is_file() && td_flow.is_file()
    });
    assert!(
        bin.child.try_wait().unwrap().is_none(),
        "webctp died: {}",
        bin.stderr()
    );
    let h = http_json(&bin.md_url, "/healthz");
    assert_eq!(h["md_front_up"], false, "{h}");
    assert!(h["version"].as_str().unwrap().contains("v6.7.11"), "{h}");
    // Closing the client releases the trader API off the library's threads.
    drop(td);
    eventually("the trader API to be released", || {
        bin.stderr().contains("CTP API object released api=\"td\"")
    });
    bin.signal("-TERM");
    assert_eq!(bin.wait(WAIT), Some(0), "{}", bin.stderr());
}

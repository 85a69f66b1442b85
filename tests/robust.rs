//! Hostile input, limits, access control, faults and shutdown.

mod common;

use std::time::Duration;

use common::{Binary, Client, InProcess, RawWs, TempDir, order, order_sys_ids};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use webctp::protocol::errors::{BAD_PARAMETERS, LIMIT_EXCEEDED, RATE_LIMITED, ctp};

#[tokio::test]
async fn every_bad_input_class_is_400_and_the_session_survives() {
    let gw = InProcess::start("Sim: {TickRate: 0, AutoSettle: false}").await;
    let mut c = Client::connect(&gw.td_url).await;
    let deep = format!("{}1{}", "[".repeat(500), "]".repeat(500));
    let long = "x".repeat(200);
    let cases: Vec<(String, &str)> = vec![
        ("{\"MsgType\": ".into(), "malformed JSON"),
        ("\"just a string\"".into(), "JSON object"),
        (
            r#"{"MsgType":"ReqQryOrder","RequestID":1,"QryOrder":{"InstrumentID":5}}"#.into(),
            "QryOrder.InstrumentID",
        ),
        (
            r#"{"MsgType":"ReqQryOrder","RequestID":99999999999999999999,"QryOrder":{}}"#.into(),
            "RequestID",
        ),
        (
            r#"{"MsgType":"ReqOrderInsert","InputOrder":{"VolumeTotalOriginal":1e40}}"#.into(),
            "InputOrder.VolumeTotalOriginal",
        ),
        (
            r#"{"MsgType":"ReqOrderInsert","InputOrder":{"LimitPrice":1e999}}"#.into(),
            "",
        ),
        (deep, "recursion"),
        // Unknown keys are ignored (as the Python projects do); a known one with the
        // wrong type is refused.
        (
            r#"{"MsgType":"ReqQryOrder","Nope":1,"QryOrder":{"Nope":1,"InstrumentID":7}}"#.into(),
            "QryOrder.InstrumentID",
        ),
        (
            format!(r#"{{"MsgType":"ReqQryOrder","QryOrder":{{"InstrumentID":"{long}"}}}}"#),
            "QryOrder.InstrumentID",
        ),
        (format!(r#"{{"MsgType":"{long}"}}"#), "MsgType"),
        (
            r#"{"MsgType":"ReqUserLogin","ReqUserLogin":{"UserID":"u","Password":654321}}"#.into(),
            "Password",
        ),
    ];
    for (text, needle) in &cases {
        c.send_text(text).await;
        let e = c.recv().await;
        assert_eq!(e["RspInfo"]["ErrorID"], BAD_PARAMETERS, "{text}: {e}");
        let detail = e["Detail"].as_str().unwrap();
        assert!(detail.contains(needle), "{text}: {detail}");
        assert!(!detail.contains("654321"), "a password came back: {detail}");
    }
    // Binary frames, valid UTF-8 or not.
    c.send_raw(Message::binary(b"{\"MsgType\":\"Ping\"}".to_vec()))
        .await;
    assert_eq!(c.recv().await["RspInfo"]["ErrorID"], BAD_PARAMETERS);
    c.send_raw(Message::binary(vec![0xff, 0xfe, 0x00])).await;
    assert_eq!(c.recv().await["RspInfo"]["ErrorID"], BAD_PARAMETERS);
    // Still usable.
    c.td_login_ok("u-robust", "pw").await;
    c.send(json!({"MsgType": "Ping"})).await;
    assert_eq!(
        c.recv_until(|v| v["MsgType"] == "Pong").await["MsgType"],
        "Pong"
    );
}

#[tokio::test]
async fn invalid_utf8_text_and_oversized_frames_close_the_connection() {
    let gw =
        InProcess::start("Limits: {MaxFrameBytes: 2048}\nSim: {TickRate: 0, AutoSettle: false}")
            .await;
    let addr = gw.url.trim_start_matches("ws://").to_string();
    let a = addr.clone();
    let code = tokio::task::spawn_blocking(move || {
        let mut ws = RawWs::connect(&a, "/md/");
        ws.send_frame(1, &[0x7b, 0xff, 0xfe, 0x7d]);
        ws.close_code()
    })
    .await
    .unwrap();
    assert_eq!(code, Some(1007));
    let code = tokio::task::spawn_blocking(move || {
        let mut ws = RawWs::connect(&addr, "/md/");
        let big = format!(r#"{{"MsgType":"Ping","Pad":"{}"}}"#, "x".repeat(4096));
        ws.send_frame(1, big.as_bytes());
        ws.close_code()
    })
    .await
    .unwrap();
    assert_eq!(code, Some(1009));
    // A frame under the limit is fine.
    let mut c = Client::connect(&gw.md_url).await;
    c.send(json!({"MsgType": "Ping", "Timestamp": "x".repeat(1000)}))
        .await;
    assert_eq!(c.recv().await["MsgType"], "Pong");
}

#[tokio::test]
async fn token_is_required_when_configured() {
    let gw = InProcess::start("Token: s3cret-token\nSim: {TickRate: 0, AutoSettle: false}").await;
    for url in [gw.md_url.clone(), format!("{}?token=wrong", gw.md_url)] {
        let err = tokio_tungstenite::connect_async(url.as_str())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("401"), "{url}: {err}");
    }
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        gw.td_url.as_str(),
    )
    .unwrap();
    req.headers_mut()
        .insert("authorization", "Bearer wrong".parse().unwrap());
    let err = tokio_tungstenite::connect_async(req).await.unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
    // Both accepted forms.
    let mut c = Client::connect(&format!("{}?token=s3cret-token", gw.md_url)).await;
    c.send(json!({"MsgType": "Ping"})).await;
    assert_eq!(c.recv().await["MsgType"], "Pong");
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        gw.td_url.as_str(),
    )
    .unwrap();
    req.headers_mut()
        .insert("authorization", "Bearer s3cret-token".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let pong = answer_to(&mut ws, r#"{"MsgType":"Ping"}"#).await;
    assert!(pong.contains("Pong"), "{pong}");
}

/// Sends `text` on a WebSocket of any transport (plain, TLS) and returns the first
/// text message that comes back.
async fn answer_to<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>, text: &str) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::{SinkExt, StreamExt};
    ws.send(Message::text(text)).await.unwrap();
    let m = tokio::time::timeout(common::WAIT, ws.next())
        .await
        .expect("an answer within the wait")
        .expect("the connection still open")
        .unwrap();
    m.to_text().unwrap().to_string()
}

#[tokio::test]
async fn limits_answer_with_errors_not_disconnects() {
    let gw = InProcess::start(
        "Limits: {RequestsPerSecond: 20, MaxSubscriptionsPerClient: 2, MaxConnections: 3}\nSim: {TickRate: 0, AutoSettle: false}",
    )
    .await;
    let mut c = Client::connect(&gw.md_url).await;
    // The -429 answers to a Ping carry MsgType "Ping": keep them.
    c.keep_pings = true;
    // Sixty Pings at once against 20 a second (a one-second burst): each is answered,
    // either with a Pong or with -429 (answers to a Ping carry MsgType "Ping").
    for _ in 0..60 {
        c.send(json!({"MsgType": "Ping"})).await;
    }
    let mut limited = 0;
    let mut pongs = 0;
    while limited + pongs < 60 {
        let m = c.recv().await;
        if m["MsgType"] == "Pong" {
            pongs += 1;
        } else if m["RspInfo"]["ErrorID"] == RATE_LIMITED {
            limited += 1;
        }
    }
    assert!(
        limited > 0 && pongs >= 20,
        "limited {limited}, pongs {pongs}"
    );
    // The bucket is per connection: the rest runs on a fresh one, once the gateway
    // has let this one go (no waiting for a refill, however slow the machine).
    drop(c);
    common::wait_until_async("the first connection to be released", || {
        gw.dispatcher.connection_count() == 0
    })
    .await;
    let mut c = Client::connect(&gw.md_url).await;
    c.md_login().await;
    c.send(
        json!({"MsgType": "SubscribeMarketData", "InstrumentID": ["rb2605", "au2602", "m2605"]}),
    )
    .await;
    let subs = c.recv_all("RspSubMarketData").await;
    let codes: Vec<&Value> = subs.iter().map(|m| &m["RspInfo"]["ErrorID"]).collect();
    assert_eq!(codes, vec![0, 0, LIMIT_EXCEEDED]);
    // Connections: two more fit, the fourth is refused before its upgrade.
    let _b = Client::connect(&gw.md_url).await;
    let _c = Client::connect(&gw.td_url).await;
    let err = tokio_tungstenite::connect_async(gw.td_url.as_str())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("503"), "{err}");
}

#[tokio::test]
async fn front_drop_and_recovery_resubscribes_and_relogs_in() {
    let gw = InProcess::start("Sim: {TickRate: 20, AutoSettle: false}").await;
    let mut md = Client::connect(&gw.md_url).await;
    md.md_login().await;
    md.send(json!({"MsgType": "SubscribeMarketData", "InstrumentID": ["rb2605"]}))
        .await;
    md.recv_all("RspSubMarketData").await;
    md.recv_until(|v| v["MsgType"] == "RtnDepthMarketData")
        .await;
    let mut td = Client::connect(&gw.td_url).await;
    td.td_login_ok("u-front", "pw").await;

    gw.dispatcher
        .backend
        .drop_front(Duration::from_secs(1))
        .unwrap();
    let down = md
        .recv_until(|v| v["MsgType"] == "OnFrontDisconnected")
        .await;
    assert!(down["RspInfo"]["ErrorID"].as_i64().unwrap() != 0);
    td.recv_until(|v| v["MsgType"] == "OnFrontDisconnected")
        .await;
    md.recv_until(|v| v["MsgType"] == "OnFrontConnected").await;
    // Ticks resume without the client subscribing again.
    let t = md
        .recv_until(|v| v["MsgType"] == "RtnDepthMarketData")
        .await;
    assert_eq!(t["DepthMarketData"]["InstrumentID"], "rb2605");
    // The trading session logged in again by itself.
    td.recv_until(|v| v["MsgType"] == "OnFrontConnected").await;
    let acc = td.ask("ReqQryTradingAccount", 5, json!({})).await;
    assert_eq!(acc[0]["RspInfo"]["ErrorID"], 0);
}

#[tokio::test]
async fn refused_relogin_stops_instead_of_locking_the_account() {
    let gw = InProcess::start("Sim: {TickRate: 0, AutoSettle: false}").await;
    let mut a = Client::connect(&gw.td_url).await;
    a.td_login_ok("u-lock", "old-pw").await;
    // Another session changes the password; then the front drops.
    let mut b = Client::connect(&gw.td_url).await;
    b.td_login_ok("u-lock", "old-pw").await;
    assert_eq!(
        b.password_update(
            2,
            json!({"UserID": "u-lock", "OldPassword": "old-pw", "NewPassword": "new-pw"})
        )
        .await["RspInfo"]["ErrorID"],
        0
    );
    gw.dispatcher
        .backend
        .drop_front(Duration::from_millis(300))
        .unwrap();
    let down = a
        .recv_until(|v| {
            v["MsgType"] == "OnFrontDisconnected"
                && v["Detail"].as_str().is_some_and(|d| d.contains("refused"))
        })
        .await;
    assert_eq!(down["RspInfo"]["ErrorID"], ctp::INVALID_LOGIN);
    assert!(down["Detail"].as_str().unwrap().contains("not retrying"));
    // No further attempts: another drop brings no second refusal.
    gw.dispatcher
        .backend
        .drop_front(Duration::from_millis(300))
        .unwrap();
    let later = a.drain_for(Duration::from_millis(1500)).await;
    assert!(
        !later
            .iter()
            .any(|m| m["Detail"].as_str().is_some_and(|d| d.contains("refused"))),
        "{later:?}"
    );
}

#[tokio::test]
async fn clients_leaving_mid_flow_leak_no_session() {
    let gw = InProcess::start("Sim: {TickRate: 50, AutoSettle: false}").await;
    for i in 0..20 {
        let mut c = Client::connect(&gw.td_url).await;
        c.td_login_ok(&format!("u-leak-{i}"), "pw").await;
        c.send(order(1, "m2605", "0", "0", 2900.0, 1)).await;
        c.send(json!({"MsgType": "ReqQryInstrument", "RequestID": 2, "QryInstrument": {}}))
            .await;
        // Gone without waiting for the answers.
        drop(c);
        let mut m = Client::connect(&gw.md_url).await;
        m.md_login().await;
        m.send(json!({"MsgType": "SubscribeMarketData", "InstrumentID": ["m2605"]}))
            .await;
        drop(m);
    }
    let d = &gw.dispatcher;
    common::wait_until_async(
        "every connection, trading session and subscription to be released",
        || {
            d.connection_count() == 0
                && d.td_sessions.load(std::sync::atomic::Ordering::Relaxed) == 0
                && d.md.upstream_subscriptions() == 0
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_clients_with_1001_and_keeps_every_acknowledged_order() {
    let dir = TempDir::new("sigterm");
    const CONFIG: &str = "Sim: {TickRate: 20, AutoSettle: false}\n";
    let mut gw = Binary::serve(&dir, CONFIG, &[]);
    let mut c = Client::connect(&gw.td_url).await;
    c.td_login_ok("u-term", "pw").await;
    let mut acked = std::collections::HashSet::new();
    let mut sent = 0;
    let mut signalled = false;
    let close = loop {
        if sent < 2000 && !signalled {
            sent += 1;
            c.send(order(sent, "m2605", "0", "0", 2900.0, 1)).await;
        }
        match c.next_event(Duration::from_millis(2)).await {
            common::Event::Msg(v) => {
                if v["MsgType"] == "RtnOrder"
                    && let Some(s) = v["Order"]["OrderSysID"]
                        .as_str()
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                {
                    acked.insert(s.to_string());
                }
            }
            common::Event::Closed(f) => break f,
            common::Event::Timeout => {}
        }
        if acked.len() >= 100 && !signalled {
            gw.signal("-TERM");
            signalled = true;
        }
    };
    assert!(signalled);
    assert_eq!(close.map(|c| c.0), Some(1001));
    assert_eq!(gw.wait(Duration::from_secs(10)), Some(0), "{}", gw.stderr());
    let gw = Binary::serve(&dir, CONFIG, &[]);
    let mut c = Client::connect(&gw.td_url).await;
    c.td_login("u-term", "pw").await;
    let orders = c.ask("ReqQryOrder", 1, json!({})).await;
    let known = order_sys_ids(&orders);
    assert!(
        acked.is_subset(&known),
        "acknowledged orders lost in shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_never_reach_the_logs_and_dirs_are_private() {
    let dir = TempDir::new("secrets");
    let data = dir.path().join("data");
    let gw = Binary::spawn(
        &[
            "serve",
            "--port",
            "0",
            "--data-dir",
            data.to_str().unwrap(),
            "--log-level",
            "trace",
            "--host",
            "0.0.0.0",
        ],
        &[("WEBCTP_TOKEN", "tok-SECRET-42")],
        dir.path(),
    );
    let url = |ep: &str| {
        format!(
            "ws://127.0.0.1:{}/{ep}/?token=tok-SECRET-42",
            gw.td_url
                .rsplit(':')
                .next()
                .unwrap()
                .trim_end_matches("/td/")
        )
    };
    let mut c = Client::connect(&url("td")).await;
    c.td_login_ok("u-secret", "pw-SECRET-1").await;
    let r = c.password_update(2, json!({"UserID": "u-secret", "OldPassword": "pw-SECRET-1", "NewPassword": "pw-SECRET-2"})).await;
    assert!(!r.to_string().contains("SECRET"), "{r}");
    c.send_text(r#"{"MsgType":"ReqUserLogin","RequestID":3,"ReqUserLogin":{"UserID":"x","Password":["pw-SECRET-3"]}}"#)
        .await;
    let e = c.recv().await;
    assert!(!e.to_string().contains("SECRET"), "{e}");
    let mut bad = Client::connect(&url("td")).await;
    bad.td_login("u-secret", "pw-SECRET-4").await;
    drop(bad);
    drop(c);
    // Everything above is in the log once both clients' disconnections are.
    let log = common::wait_for("both clients' disconnections in the log", || {
        let log = gw.stderr();
        (log.matches("client disconnected").count() >= 2).then_some(log)
    });
    assert!(!log.contains("SECRET"), "a secret reached the log:\n{log}");
    // Without a token, an open address gets a warning.
    let open = Binary::spawn(
        &[
            "serve",
            "--port",
            "0",
            "--data-dir",
            dir.path().join("open").to_str().unwrap(),
            "--host",
            "0.0.0.0",
        ],
        &[],
        dir.path(),
    );
    common::wait_until("the non-loopback warning", || {
        open.stderr().contains("non-loopback")
    });
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for d in [data.clone(), data.join("sim")] {
            let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", d.display());
        }
    }
}

#[tokio::test]
async fn tls_serves_wss() {
    use std::sync::Arc;
    use tokio_rustls::rustls;
    let dir = TempDir::new("tls");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let gw = InProcess::start(&format!(
        "Tls: {{CertFile: {}, KeyFile: {}}}\nSim: {{TickRate: 0, AutoSettle: false}}",
        cert_path.display(),
        key_path.display()
    ))
    .await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let addr = gw.url.trim_start_matches("ws://");
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .unwrap();
    let port = addr.rsplit(':').next().unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(format!("wss://localhost:{port}/md/"), tls)
        .await
        .unwrap();
    assert_eq!(
        answer_to(&mut ws, r#"{"MsgType":"Ping","Timestamp":7}"#).await,
        r#"{"MsgType":"Pong","Timestamp":7}"#
    );
    // Plain ws:// to the same port is refused.
    assert!(
        tokio_tungstenite::connect_async(gw.md_url.as_str())
            .await
            .is_err()
    );
}

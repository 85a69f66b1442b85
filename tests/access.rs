//! Who may use the gateway and what it tells them (issue #12): web pages, the admin
//! endpoints, `/healthz`, secrets and client text in the logs, account opening and
//! the login lockout. Over real sockets on 127.0.0.1.

mod common;

use std::time::Duration;

use common::{Binary, Client, InProcess, TempDir, WAIT};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use webctp::protocol::errors::{BAD_PARAMETERS, ctp};

/// `host:port` of a `ws://host:port/...` URL.
fn addr_of(url: &str) -> String {
    url.trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap()
        .to_string()
}

/// Sends an HTTP request with extra headers; (status, JSON body or Null).
async fn http(url: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = addr_of(url);
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(WAIT, s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Tries a WebSocket upgrade with `headers`: `None` when the gateway accepts it, else
/// the HTTP status it refused it with. Anything else (no answer, a broken socket)
/// fails the test.
async fn upgrade(url: &str, headers: &[(&'static str, String)]) -> Option<u16> {
    let mut req = url.into_client_request().unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(*k, v.parse().unwrap());
    }
    match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req)).await {
        Ok(Ok(_)) => None,
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(refusal))) => {
            Some(refusal.status().as_u16())
        }
        Ok(Err(e)) => panic!("the upgrade to {url} failed without an HTTP answer: {e}"),
        Err(_) => panic!("the upgrade to {url} had no answer within {WAIT:?}"),
    }
}

/// Finding 1: a web page on another site cannot open a WebSocket to the gateway, nor
/// settle the day through `/admin/*`; programs (no Origin) and the gateway's own
/// address still can, and `AllowedOrigins` lets a named page in.
#[tokio::test]
async fn web_pages_from_other_sites_are_refused() {
    let gw = InProcess::start("Sim: {TickRate: 0, AutoSettle: false}").await;
    let own = format!("http://{}", addr_of(&gw.td_url));
    let evil = [("origin", "http://evil.example".to_string())];
    assert_eq!(upgrade(&gw.td_url, &evil).await, Some(403));
    assert_eq!(
        upgrade(&gw.md_url, &[("origin", "null".to_string())]).await,
        Some(403)
    );
    assert_eq!(upgrade(&gw.td_url, &[]).await, None, "a program connects");
    assert_eq!(
        upgrade(&gw.td_url, &[("origin", own.clone())]).await,
        None,
        "the gateway's own page connects"
    );
    // The admin endpoints are off by default, for everyone.
    let (status, body) = http(&gw.td_url, "POST", "/admin/settle", &[]).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("AdminEndpoints"),
        "{body}"
    );
    let (status, _) = http(&gw.td_url, "GET", "/nothing-here", &[]).await;
    assert_eq!(status, 404);

    let gw = InProcess::start(
        "AdminEndpoints: true\nAllowedOrigins: [\"https://app.example\"]\nSim: {TickRate: 0, AutoSettle: false}",
    )
    .await;
    let (status, body) = http(
        &gw.td_url,
        "POST",
        "/admin/settle",
        &[("Origin", "http://evil.example")],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("AllowedOrigins"),
        "{body}"
    );
    assert_eq!(
        upgrade(&gw.td_url, &[("origin", "https://app.example".to_string())]).await,
        None,
        "an allowed page connects"
    );
    // Let in: the request reaches the endpoint, which wants a valid duration.
    let (status, body) = http(&gw.td_url, "POST", "/admin/drop-front?seconds=x", &[]).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("seconds"),
        "{body}"
    );
}

/// Finding 1: with a Token, `/admin/*` needs it in a header (not in the URL, which
/// any page can put in a form's action).
#[tokio::test]
async fn admin_with_a_token_needs_it_in_a_header() {
    let gw = InProcess::start(
        "Token: tok-123456\nAdminEndpoints: true\nSim: {TickRate: 0, AutoSettle: false}",
    )
    .await;
    let (status, _) = http(&gw.td_url, "POST", "/admin/drop-front?seconds=x", &[]).await;
    assert_eq!(status, 401);
    let (status, _) = http(
        &gw.td_url,
        "POST",
        "/admin/drop-front?seconds=x&token=tok-123456",
        &[],
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) = http(
        &gw.td_url,
        "POST",
        "/admin/drop-front?seconds=x",
        &[("Authorization", "Bearer tok-123456")],
    )
    .await;
    // Let in: the request reaches the endpoint, which wants a valid duration.
    assert_eq!(status, 400, "{body}");
}

/// Finding 8: `/healthz` says up or down to anyone; versions, counters and sessions
/// only with the token (or, without a Token, with the admin endpoints on).
#[tokio::test]
async fn healthz_tells_strangers_only_up_or_down() {
    let gw = InProcess::start("Sim: {TickRate: 0, AutoSettle: false}").await;
    // Down (503) until the market-data front is logged in, then up.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = http(&gw.td_url, "GET", "/healthz", &[]).await;
        if status == 200 {
            assert_eq!(body, json!({"status": "up"}));
            break;
        }
        assert_eq!((status, body), (503, json!({"status": "down"})));
        assert!(tokio::time::Instant::now() < deadline, "never up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let gw = InProcess::start("Token: tok-654321\nSim: {TickRate: 0, AutoSettle: false}").await;
    while !gw.dispatcher.md.is_up() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, body) = http(&gw.td_url, "GET", "/healthz", &[]).await;
    assert_eq!(body, json!({"status": "up"}));
    let (_, body) = http(&gw.td_url, "GET", "/healthz?token=tok-654321", &[]).await;
    assert_eq!(body, json!({"status": "up"}));
    let (_, body) = http(
        &gw.td_url,
        "GET",
        "/healthz",
        &[("Authorization", "Bearer tok-654321")],
    )
    .await;
    assert_eq!(body["status"], "up");
    assert_eq!(body["backend"], "sim", "{body}");
    assert!(body["connections"].is_u64(), "{body}");
}

/// Findings 5 and 6: at `RUST_LOG=trace` no password, AuthCode or token reaches the
/// log; a UserID with control characters is refused, and nothing a client sends can
/// start a log line of its own or reach the terminal as an escape sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_filter_prints_a_secret_and_clients_cannot_forge_log_lines() {
    let dir = TempDir::new("logs");
    let gw = Binary::serve(
        &dir,
        "Token: tok-s3cret-XYZ\nAuthCode: auth-c0de-XYZ\nAppID: app\nLogLevel: trace\nSim: {TickRate: 5, AutoSettle: false}\n",
        &[("RUST_LOG", "trace"), ("WEBCTP_LOG_LEVEL", "trace")],
    );
    let url = format!("{}?token=tok-s3cret-XYZ", gw.td_url);
    let mut c = Client::connect(&url).await;
    c.td_login_ok("alice", "s3cr3t-PASS").await;
    let rsp = c
        .password_update(
            2,
            json!({"UserID": "alice", "OldPassword": "s3cr3t-PASS", "NewPassword": "n3w-s3cr3t-PASS"}),
        )
        .await;
    assert_eq!(rsp["RspInfo"]["ErrorID"], 0, "{rsp}");
    c.send_text(r#"{"MsgType":"ReqUserLogin","ReqUserLogin":{"UserID":"u","Password":"s3cr3t-PASS","Bad":1}}"#)
        .await;
    c.recv().await;
    // Control characters in a UserID: refused, naming the field.
    for user in ["x\nINFO fake", "\u{1b}[2Jx", "a\rb"] {
        c.send(json!({"MsgType": "ReqUserLogin", "RequestID": 3,
            "ReqUserLogin": {"UserID": user, "Password": "pw"}}))
            .await;
        let e = c
            .recv_until(|v| v["RequestID"] == 3 || v["RspInfo"]["ErrorID"] == BAD_PARAMETERS)
            .await;
        assert_eq!(e["RspInfo"]["ErrorID"], BAD_PARAMETERS, "{e}");
        assert!(
            e["Detail"].as_str().unwrap().contains("UserID")
                && e["Detail"].as_str().unwrap().contains("control character"),
            "{e}"
        );
    }
    // Client text in other requests (logged at debug when refused).
    c.send_text("{\"MsgType\": \"Req\\nINFO forged\u{1b}[31m\"}")
        .await;
    c.recv().await;
    drop(c);
    let mut md = Client::connect(&format!("{}?token=tok-s3cret-XYZ", gw.md_url)).await;
    md.md_login().await;
    drop(md);
    // Everything above is in the log once both clients' disconnections are.
    let log = common::wait_for("both clients' disconnections in the log", || {
        let log = gw.stderr();
        (log.matches("client disconnected").count() >= 2).then_some(log)
    });
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "trace logging is on: {log}"
    );
    for secret in [
        "s3cr3t-PASS",
        "n3w-s3cr3t-PASS",
        "tok-s3cret-XYZ",
        "auth-c0de-XYZ",
    ] {
        assert!(
            !log.contains(secret),
            "{secret} in the log:\n{}",
            log.lines()
                .filter(|l| l.contains(secret))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    assert!(!log.contains('\u{1b}'), "a raw escape in the log");
    for line in log.lines() {
        assert!(
            !line.trim_start().starts_with("INFO fake")
                && !line.trim_start().starts_with("INFO forged"),
            "a forged line: {line}"
        );
    }
}

/// Finding 7: accounts are opened automatically only up to a rate and a total.
#[tokio::test]
async fn automatic_account_opening_is_limited() {
    let gw = InProcess::start(
        "Sim: {TickRate: 0, AutoSettle: false, AutoOpenPerMinute: 3, AutoOpenMax: 100}",
    )
    .await;
    let mut codes = Vec::new();
    for i in 0..5 {
        let mut c = Client::connect(&gw.td_url).await;
        codes.push(c.td_login(&format!("new-{i}"), "pw").await["RspInfo"]["ErrorID"].clone());
    }
    assert_eq!(codes, vec![0, 0, 0, ctp::INVALID_LOGIN, ctp::INVALID_LOGIN]);
    // An account that exists still logs in.
    let mut c = Client::connect(&gw.td_url).await;
    c.td_login_ok("new-1", "pw").await;

    let gw = InProcess::start(
        "Sim: {TickRate: 0, AutoSettle: false, AutoOpenMax: 2, Accounts: [{UserID: cfg, Password: pw}]}",
    )
    .await;
    let mut codes = Vec::new();
    for i in 0..3 {
        let mut c = Client::connect(&gw.td_url).await;
        codes.push(c.td_login(&format!("more-{i}"), "pw").await["RspInfo"]["ErrorID"].clone());
    }
    assert_eq!(codes, vec![0, ctp::INVALID_LOGIN, ctp::INVALID_LOGIN]);
}

/// A WebSocket client whose connection comes from `source` (another loopback address).
async fn client_from(source: &str, url: &str) -> Client {
    let addr: std::net::SocketAddr = addr_of(url).parse().unwrap();
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let stream = tokio::time::timeout(WAIT, sock.connect(addr))
        .await
        .unwrap()
        .unwrap();
    let (ws, _) = tokio::time::timeout(
        WAIT,
        tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream)),
    )
    .await
    .unwrap()
    .unwrap();
    Client::from_stream(ws)
}

/// Finding 7: wrong passwords from one address lock that address out of the account,
/// not its owner elsewhere; a client cannot claim another's address.
#[tokio::test]
async fn wrong_passwords_cannot_lock_the_owner_out() {
    let gw = InProcess::start(
        "Sim: {TickRate: 0, AutoSettle: false, Accounts: [{UserID: victim, Password: right-pw}]}",
    )
    .await;
    let mut codes = Vec::new();
    for _ in 0..7 {
        let mut c = client_from("127.0.0.2", &gw.td_url).await;
        c.send(json!({"MsgType": "ReqUserLogin", "RequestID": 1,
            "ReqUserLogin": {"UserID": "victim", "Password": "guess", "ClientIPAddress": "127.0.0.1"}}))
            .await;
        let r = c.recv_until(|v| v["MsgType"] == "RspUserLogin").await;
        codes.push(r["RspInfo"]["ErrorID"].clone());
    }
    assert_eq!(
        codes,
        vec![
            ctp::INVALID_LOGIN,
            ctp::INVALID_LOGIN,
            ctp::INVALID_LOGIN,
            ctp::INVALID_LOGIN,
            ctp::LOGIN_FORBIDDEN,
            ctp::LOGIN_FORBIDDEN,
            ctp::LOGIN_FORBIDDEN
        ]
    );
    // The right password from that address is refused too, for now...
    let mut c = client_from("127.0.0.2", &gw.td_url).await;
    assert_eq!(
        c.td_login("victim", "right-pw").await["RspInfo"]["ErrorID"],
        ctp::LOGIN_FORBIDDEN
    );
    // ...but the owner, elsewhere, logs in.
    let mut owner = Client::connect(&gw.td_url).await;
    owner.td_login_ok("victim", "right-pw").await;
}

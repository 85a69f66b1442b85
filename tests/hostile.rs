//! Hostile and slow peers (issue #12): a client that does not read is still heard,
//! what a client can make the gateway hold is bounded in bytes and given back when it
//! leaves. Every test runs over real sockets on 127.0.0.1.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{Binary, Client, InProcess, TempDir, WAIT};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use webctp::protocol::errors::BAD_PARAMETERS;

/// Polls `cond` every 10 ms until it holds; panics with `what` after [`WAIT`].
async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A WebSocket client whose socket has a small receive buffer, so that the gateway's
/// writes block as soon as it stops reading.
async fn tight_client(url: &str) -> WebSocketStream<TcpStream> {
    let addr: std::net::SocketAddr = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let stream = tokio::time::timeout(WAIT, sock.connect(addr))
        .await
        .unwrap()
        .unwrap();
    let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::client_async(url, stream))
        .await
        .unwrap()
        .unwrap();
    ws
}

async fn send(ws: &mut WebSocketStream<TcpStream>, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// Reads until a message of `msg_type` arrives (skipping everything else).
async fn read_until(ws: &mut WebSocketStream<TcpStream>, msg_type: &str) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let m = tokio::time::timeout(left, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {msg_type} in time"))
            .expect("connection open")
            .expect("read");
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["MsgType"] == msg_type {
                return v;
            }
        }
    }
}

const INSTRUMENTS: [&str; 5] = ["rb2605", "au2602", "m2605", "TA601", "IF2512"];

/// Finding 3: a /md/ client that reads nothing while ticks flow keeps the writer
/// waiting on its socket; its UnSubscribe, Pings and Pongs must still be handled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_is_still_heard() {
    let gw = InProcess::start(
        "Sim: {TickRate: 1000, AutoSettle: false, Seed: 3}\nLimits: {MdQueueDepth: 256}\nHeartbeatInterval: 0.2\nHeartbeatTimeout: 3\n",
    )
    .await;
    let d = gw.dispatcher.clone();
    let mut ws = tight_client(&gw.md_url).await;
    send(
        &mut ws,
        json!({"MsgType": "ReqUserLogin", "ReqUserLogin": {"UserID": "", "Password": ""}}),
    )
    .await;
    read_until(&mut ws, "RspUserLogin").await;
    send(
        &mut ws,
        json!({"MsgType": "SubscribeMarketData", "RequestID": 1, "InstrumentID": INSTRUMENTS}),
    )
    .await;
    read_until(&mut ws, "RtnDepthMarketData").await;
    assert_eq!(d.md.upstream_subscriptions(), INSTRUMENTS.len());
    // Stop reading: the socket's buffers fill, the gateway's writer waits, and what is
    // not yet written piles up in the client's outbox.
    wait_until("the writer to back up", || {
        d.queued_bytes.load(Ordering::Relaxed) > 64 * 1024
    })
    .await;
    let before = d.requests.load(Ordering::Relaxed);
    // Pongs keep the heartbeat alive for longer than its timeout, unread. Sent every
    // 100 ms against a 3 s timeout: only a stall of ~3 s could end the connection
    // (1.5 s was reached once with four test suites sharing two cores).
    for _ in 0..35 {
        send(&mut ws, json!({"MsgType": "Pong"})).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    send(&mut ws, json!({"MsgType": "Ping"})).await;
    send(
        &mut ws,
        json!({"MsgType": "UnSubscribeMarketData", "RequestID": 2, "InstrumentID": INSTRUMENTS}),
    )
    .await;
    wait_until(
        "the UnSubscribe to be handled while the client reads nothing",
        || d.md.upstream_subscriptions() == 0,
    )
    .await;
    assert!(d.requests.load(Ordering::Relaxed) >= before + 37);
    // Reading again, the client finds its answers, not a close for "no Pong".
    let mut seen_pong = false;
    loop {
        let m = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("answers arrive")
            .expect("connection open")
            .expect("read");
        match m {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                seen_pong |= v["MsgType"] == "Pong";
                if v["MsgType"] == "RspUnSubMarketData" && v["IsLast"] == true {
                    break;
                }
            }
            Message::Close(f) => panic!("closed while alive: {f:?}"),
            _ => {}
        }
    }
    assert!(seen_pong, "the Ping was answered");
}

/// Finding 4: one SubscribeMarketData naming 100,000 instruments is one error, not
/// 100,000 answers; the connection stays usable.
#[tokio::test]
async fn a_huge_subscribe_frame_is_one_error() {
    let gw = InProcess::start("Sim: {TickRate: 0, AutoSettle: false}").await;
    let mut c = Client::connect(&gw.md_url).await;
    c.md_login().await;
    let ids: Vec<String> = (0..100_000).map(|i| format!("x{i}")).collect();
    c.send(json!({"MsgType": "SubscribeMarketData", "RequestID": 7, "InstrumentID": ids}))
        .await;
    let e = c.recv().await;
    assert_eq!(e["RspInfo"]["ErrorID"], BAD_PARAMETERS, "{e}");
    assert_eq!(e["RequestID"], 7);
    assert!(
        e["Detail"].as_str().unwrap().contains("100000 instruments"),
        "{e}"
    );
    c.send(json!({"MsgType": "UnSubscribeMarketData", "RequestID": 8, "InstrumentID": ids}))
        .await;
    assert_eq!(c.recv().await["RspInfo"]["ErrorID"], BAD_PARAMETERS);
    c.send(json!({"MsgType": "SubscribeMarketData", "RequestID": 9, "InstrumentID": ["rb2605"]}))
        .await;
    let ok = c.recv().await;
    assert_eq!(ok["MsgType"], "RspSubMarketData", "{ok}");
    assert_eq!(ok["RspInfo"]["ErrorID"], 0);
    // Nothing else was queued for it.
    assert!(c.drain_for(Duration::from_millis(200)).await.is_empty());
}

/// The resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Finding 4: clients that send thousands of queries and read none of the answers
/// cost the gateway a bounded amount of memory, given back when they leave.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_query_floods_are_bounded_and_memory_comes_back() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("skipped: no /proc to read the gateway's memory from");
        return;
    }
    let dir = TempDir::new("flood");
    let gw = Binary::serve(
        &dir,
        "AdminEndpoints: true\nSim: {TickRate: 0, AutoSettle: false, Durability: os}\nLimits: {RequestsPerSecond: 100000}\n",
        &[],
    );
    let pid = gw.child.id();
    let mut c = Client::connect(&gw.td_url).await;
    c.td_login("flood-probe", "pw").await;
    let one = c.ask("ReqQryInstrument", 1, json!({})).await;
    drop(c);
    let base = rss_kib(pid);
    const CLIENTS: usize = 8;
    const QUERIES: usize = 2000;
    let mut flooders = Vec::new();
    for i in 0..CLIENTS {
        let mut ws = tight_client(&gw.td_url).await;
        send(
            &mut ws,
            json!({"MsgType": "ReqUserLogin", "RequestID": 1,
                "ReqUserLogin": {"UserID": format!("flood-{i}"), "Password": "pw"}}),
        )
        .await;
        read_until(&mut ws, "RspUserLogin").await;
        flooders.push(ws);
    }
    // Every client asks for the whole instrument table 2,000 times, reading nothing.
    let q = json!({"MsgType": "ReqQryInstrument", "RequestID": 2, "QryInstrument": {}}).to_string();
    for ws in &mut flooders {
        for _ in 0..QUERIES {
            if ws.feed(Message::text(q.clone())).await.is_err() {
                break;
            }
        }
        let _ = ws.flush().await;
    }
    let mut peak = 0;
    for _ in 0..30 {
        peak = peak.max(rss_kib(pid));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer_kib = one.iter().map(|v| v.to_string().len()).sum::<usize>() / 1024;
    eprintln!(
        "RSS before {base} KiB, peak {peak} KiB under {CLIENTS} unread floods; one answer {answer_kib} KiB"
    );
    // Unbounded, each client would make the gateway hold 2,000 answers.
    let bound = base + 64 * 1024;
    assert!(
        peak < bound,
        "RSS grew from {base} KiB to {peak} KiB under {CLIENTS} unread floods (bound {bound} KiB)"
    );
    drop(flooders);
    // First the gateway's own accounting: every connection, session and queued byte gone.
    common::wait_until(
        "the floods' connections, sessions and queues to be released",
        || {
            let health = common::http(&gw.td_url, "GET", "/healthz");
            let body = health.split("\r\n\r\n").nth(1).unwrap_or_default();
            serde_json::from_str::<Value>(body).is_ok_and(|v| {
                v["connections"] == 0 && v["td_sessions"] == 0 && v["queued_bytes"] == 0
            })
        },
    );
    let mut after = u64::MAX;
    for _ in 0..200 {
        after = rss_kib(pid);
        if after < base + 16 * 1024 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        after < base + 16 * 1024,
        "after the floods left RSS is {after} KiB (before {base} KiB)"
    );
}

/// After unread floods end, the bytes held for clients come back to zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_held_for_a_client_come_back_when_it_leaves() {
    let gw = InProcess::start(
        "Sim: {TickRate: 0, AutoSettle: false, Durability: os}\nLimits: {RequestsPerSecond: 100000, TdQueueBytes: 4194304}\n",
    )
    .await;
    let d = gw.dispatcher.clone();
    let mut ws = tight_client(&gw.td_url).await;
    send(
        &mut ws,
        json!({"MsgType": "ReqUserLogin", "RequestID": 1,
            "ReqUserLogin": {"UserID": "flood", "Password": "pw"}}),
    )
    .await;
    read_until(&mut ws, "RspUserLogin").await;
    let q = json!({"MsgType": "ReqQryInstrument", "RequestID": 2, "QryInstrument": {}}).to_string();
    for _ in 0..1000 {
        ws.feed(Message::text(q.clone())).await.unwrap();
    }
    ws.flush().await.unwrap();
    let mut peak = 0;
    for _ in 0..100 {
        peak = peak.max(d.queued_bytes.load(Ordering::Relaxed));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(peak > 0, "answers were queued");
    assert!(peak <= 4 << 20, "{peak} bytes held, over the budget");
    drop(ws);
    wait_until("the bytes held to come back to zero", || {
        d.queued_bytes.load(Ordering::Relaxed) == 0
            && d.td_sessions.load(Ordering::Relaxed) == 0
            && d.connection_count() == 0
    })
    .await;
    let _ = common::WAIT;
}

/// `host:port` of a `ws://host:port/...` URL.
fn addr_of(url: &str) -> std::net::SocketAddr {
    url.trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Waits until the server closes `s` (EOF or reset); panics after [`WAIT`].
async fn closed_by_server(s: &mut TcpStream, what: &str) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => panic!("{what}: still open after {WAIT:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(_)) => continue,
        }
    }
}

/// Finding 2: a silent connection and an upgrade sent a byte at a time (slowloris)
/// count against MaxConnections while they last, and are closed after
/// HandshakeTimeout; then real clients get in again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_silent_handshakes_are_counted_and_closed() {
    use tokio::io::AsyncWriteExt;
    let gw = InProcess::start(
        "Limits: {MaxConnections: 3, HandshakeTimeout: 0.5}\nSim: {TickRate: 0, AutoSettle: false}",
    )
    .await;
    let addr = addr_of(&gw.md_url);
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /md/ HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    let (mut slow_read, mut slow_write) = slow.split();
    let dribble = async {
        for b in request.as_bytes() {
            if slow_write.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let checks = async {
        // Three sockets in their HTTP phase fill the three places.
        let err = tokio_tungstenite::connect_async(gw.md_url.as_str())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("503"), "{err}");
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 256];
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, slow_read.read(&mut buf)).await {
                Err(_) => panic!("the slowloris upgrade is still open"),
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(_)) => continue,
            }
        }
    };
    tokio::select! {
        () = dribble => panic!("the whole upgrade request was sent a byte at a time"),
        () = checks => {}
    }
    for s in &mut silent {
        closed_by_server(s, "a silent connection").await;
    }
    let mut c = Client::connect(&gw.md_url).await;
    c.send(json!({"MsgType": "Ping"})).await;
    assert_eq!(c.recv().await["MsgType"], "Pong");
}

/// `webctp serve` with at most `files` open files, as `ulimit -n` sets it.
fn serve_with_file_limit(dir: &TempDir, config: &str, files: u32) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let cfg = dir.path().join("webctp.yaml");
    std::fs::write(&cfg, config).unwrap();
    let webctp = common::webctp();
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -n {files} && exec \"$0\" \"$@\""))
        .arg(webctp.get_program())
        .args(["serve", "--port", "0", "--config"])
        .arg(&cfg)
        .arg("--data-dir")
        .arg(dir.path().join("data"));
    for (k, v) in webctp.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let stderr = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
    cmd.stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .stdin(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("ws://")) {
                let _ = tx.send(url.to_string());
            }
        }
    });
    let url = rx.recv_timeout(WAIT).expect("the gateway serves");
    (child, url)
}

/// Finding 2: with few file descriptors, a flood of idle sockets neither makes the
/// accept loop spin on EMFILE nor keeps real clients out once the flood's sockets
/// time out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_flood_under_a_low_file_limit_does_not_spin() {
    let dir = TempDir::new("emfile");
    let (mut child, md_url) = serve_with_file_limit(
        &dir,
        "Limits: {HandshakeTimeout: 1}\nSim: {TickRate: 0, AutoSettle: false}\n",
        100,
    );
    let addr = addr_of(&md_url);
    let mut flood = Vec::new();
    for _ in 0..150 {
        match tokio::time::timeout(WAIT, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => flood.push(s),
            _ => break,
        }
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The flood's sockets have been closed or refused; a real client gets in.
    let mut c = Client::connect(&md_url).await;
    c.send(json!({"MsgType": "Ping"})).await;
    assert_eq!(c.recv().await["MsgType"], "Pong");
    drop(flood);
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    let failures = log.matches("accept failed").count();
    assert!(
        failures <= 5,
        "accept failed logged {failures} times:\n{log}"
    );
    assert!(log.contains("serving at most"), "{log}");
}

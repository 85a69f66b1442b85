//! `webctp bench hostile`: normal market-data clients measure tick latency while
//! hostile peers attack the same gateway — slowloris sockets sending an upgrade request
//! a byte a second, and clients flooding queries whose answers they never read — and
//! the gateway's memory is sampled throughout and after the attackers leave.
//!
//! `--gateway PATH` runs another build, to compare before and after a change; the
//! config it is given uses only keys every build knows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use super::BenchError;
use super::gateway::GatewayProcess;
use super::md::{BENCH_DAY, client as md_client};
use super::stats::{Percentiles, Samples, proc_stats};
use crate::ctp::sim::instruments::main_contracts_on;

/// Options of `bench hostile`.
#[derive(Debug, Clone, clap::Args)]
pub struct HostileArgs {
    /// Normal market-data clients, measuring tick latency.
    #[arg(long, default_value_t = 10)]
    pub clients: usize,
    /// Instruments each normal client subscribes to.
    #[arg(long, default_value_t = 10)]
    pub instruments: usize,
    /// Ticks per second generated in total.
    #[arg(long, default_value_t = 2_000.0)]
    pub rate: f64,
    /// Slowloris sockets (an upgrade request sent a byte a second; reopened when closed).
    #[arg(long, default_value_t = 200)]
    pub slowloris: usize,
    /// Clients flooding queries without reading the answers (reconnecting when closed).
    #[arg(long, default_value_t = 20)]
    pub floods: usize,
    /// Queries each flooding client sends per connection.
    #[arg(long, default_value_t = 2_000)]
    pub queries: usize,
    /// The query's filter: ReqQryInstrument of this exchange ("" = every instrument).
    #[arg(long, default_value = "SHFE")]
    pub exchange: String,
    /// Seconds to measure, with every attacker at work.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Open files the gateway may have (`ulimit -n`); 0 keeps this process's limit.
    #[arg(long, default_value_t = 0)]
    pub gateway_files: u32,
    /// Run this gateway binary instead of this one (e.g. an older build).
    #[arg(long)]
    pub gateway: Option<std::path::PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// The result of `bench hostile`.
#[derive(Debug, Serialize)]
pub struct HostileReport {
    pub clients: usize,
    pub instruments: usize,
    pub rate: f64,
    pub slowloris: usize,
    pub floods: usize,
    pub queries: usize,
    pub duration_s: f64,
    pub messages_delivered: u64,
    pub latency: Percentiles,
    pub conflated_total: u64,
    pub out_of_order: u64,
    /// Normal clients that lost their connection or saw an error.
    pub normal_client_errors: Vec<String>,
    /// Slowloris sockets the gateway closed.
    pub slowloris_closed: u64,
    /// Flooding connections the gateway closed (they reconnect and flood again).
    pub floods_closed: u64,
    /// Flooding connections opened (including reconnects) and logged in.
    pub floods_logged_in: u64,
    pub gateway_cpu_percent: f64,
    pub gateway_rss_start_kb: u64,
    pub gateway_rss_peak_kb: u64,
    /// RSS 3 s after every attacker has left.
    pub gateway_rss_after_kb: u64,
    pub gateway_fds_peak: usize,
}

/// Sends an upgrade request a byte a second until the gateway closes the socket or
/// `stop`; then opens another.
async fn slowloris(url: String, closed: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    let host = url.trim_start_matches("ws://").to_string();
    // Long enough never to finish within a run.
    let mut request = format!(
        "GET /md/ HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    );
    for i in 0..100 {
        request.push_str(&format!("X-Padding-{i}: slow\r\n"));
    }
    while !stop.load(Ordering::Relaxed) {
        let Ok(Ok(mut s)) =
            tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(&host)).await
        else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        for b in request.as_bytes() {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let write = tokio::time::timeout(Duration::from_secs(5), s.write_all(&[*b])).await;
            if !matches!(write, Ok(Ok(()))) {
                closed.fetch_add(1, Ordering::Relaxed);
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Logs in on `/td/`, sends `queries` queries and reads nothing more; when the
/// gateway closes the connection, starts over.
async fn flood(
    url: String,
    user: String,
    queries: usize,
    exchange: String,
    closed: Arc<AtomicU64>,
    logged_in: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) {
    let host = url.trim_start_matches("ws://").to_string();
    let query = serde_json::json!({"MsgType": "ReqQryInstrument", "RequestID": 2,
        "QryInstrument": {"ExchangeID": exchange}})
    .to_string();
    let login = serde_json::json!({"MsgType": "ReqUserLogin", "RequestID": 1,
        "ReqUserLogin": {"UserID": user, "Password": "flood"}})
    .to_string();
    while !stop.load(Ordering::Relaxed) {
        // A small receive buffer: the gateway's writes to it block at once.
        let Ok(addr) = host.parse::<std::net::SocketAddr>() else {
            return;
        };
        let Ok(sock) = tokio::net::TcpSocket::new_v4() else {
            return;
        };
        let _ = sock.set_recv_buffer_size(4096);
        let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_secs(5), sock.connect(addr)).await
        else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let Ok(Ok((mut ws, _))) = tokio::time::timeout(
            Duration::from_secs(5),
            tokio_tungstenite::client_async(format!("{url}/td/"), stream),
        )
        .await
        else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        if ws.send(Message::text(login.clone())).await.is_err() {
            continue;
        }
        let answered = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(Ok(m)) = ws.next().await {
                if m.to_text().is_ok_and(|t| t.contains("RspUserLogin")) {
                    return true;
                }
            }
            false
        })
        .await;
        if !matches!(answered, Ok(true)) {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        logged_in.fetch_add(1, Ordering::Relaxed);
        let mut sent_all = true;
        for _ in 0..queries {
            if ws.feed(Message::text(query.clone())).await.is_err() {
                sent_all = false;
                break;
            }
        }
        sent_all &= ws.flush().await.is_ok();
        // Read nothing; a Ping now and then finds out whether the gateway closed us.
        while sent_all && !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let ping = ws.send(Message::Ping(Vec::new().into()));
            if !matches!(
                tokio::time::timeout(Duration::from_secs(1), ping).await,
                Ok(Ok(()))
            ) && tcp_closed(&ws)
            {
                break;
            }
        }
        if !stop.load(Ordering::Relaxed) {
            closed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Whether the peer has closed `ws`'s socket (a zero-length peek).
fn tcp_closed(ws: &tokio_tungstenite::WebSocketStream<TcpStream>) -> bool {
    let mut buf = [0u8; 1];
    match ws.get_ref().try_read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

/// Runs `bench hostile`.
pub async fn run(a: &HostileArgs) -> Result<HostileReport, BenchError> {
    let all = main_contracts_on(BENCH_DAY);
    let k = a.instruments.clamp(1, all.len().max(1));
    let per_instrument = a.rate / k as f64;
    // Only keys every build knows, so that --gateway can run an older one.
    let yaml = format!(
        "Sim: {{TickRate: {per_instrument}, StampTicks: true, AutoSettle: false, Durability: os, StartDate: \"{BENCH_DAY}\"}}\nLimits: {{RequestsPerSecond: 100000}}\nHeartbeatInterval: 30\n"
    );
    let files = (a.gateway_files > 0).then_some(a.gateway_files);
    let gw = GatewayProcess::start_limited(&yaml, a.gateway.as_deref(), files)?;
    let ids: Vec<String> = all.into_iter().take(k).collect();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(a.clients.max(1));
    let (window_tx, window_rx) = watch::channel((false, false));
    let mut normal = Vec::new();
    for _ in 0..a.clients {
        normal.push(tokio::spawn(md_client(
            gw.url.clone(),
            ids.clone(),
            ready_tx.clone(),
            window_rx.clone(),
        )));
    }
    for _ in 0..a.clients {
        if tokio::time::timeout(Duration::from_secs(30), ready_rx.recv())
            .await
            .is_err()
        {
            return Err(BenchError::timeout(
                "the normal clients did not subscribe",
                Duration::from_secs(30),
            ));
        }
    }
    let start = proc_stats(gw.pid());
    let stop = Arc::new(AtomicBool::new(false));
    let slow_closed = Arc::new(AtomicU64::new(0));
    let floods_closed = Arc::new(AtomicU64::new(0));
    let floods_in = Arc::new(AtomicU64::new(0));
    let mut attackers = Vec::new();
    for _ in 0..a.slowloris {
        attackers.push(tokio::spawn(slowloris(
            gw.url.clone(),
            slow_closed.clone(),
            stop.clone(),
        )));
    }
    for i in 0..a.floods {
        attackers.push(tokio::spawn(flood(
            gw.url.clone(),
            format!("flood-{i}"),
            a.queries,
            a.exchange.clone(),
            floods_closed.clone(),
            floods_in.clone(),
            stop.clone(),
        )));
    }
    // The attack gets going, then the window.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = proc_stats(gw.pid());
    let started = Instant::now();
    let _ = window_tx.send((true, false));
    let mut peak_rss = before.rss_kb;
    let mut peak_fds = before.fds;
    while started.elapsed().as_secs_f64() < a.duration {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let s = proc_stats(gw.pid());
        peak_rss = peak_rss.max(s.rss_kb);
        peak_fds = peak_fds.max(s.fds);
    }
    let _ = window_tx.send((false, false));
    let elapsed = started.elapsed().as_secs_f64();
    let after = proc_stats(gw.pid());
    stop.store(true, Ordering::Relaxed);
    for t in attackers {
        t.abort();
    }
    let _ = window_tx.send((false, true));
    let mut all = Samples::default();
    let mut received = 0;
    let mut conflated = 0;
    let mut out_of_order = 0;
    let mut errors = Vec::new();
    for t in normal {
        match tokio::time::timeout(Duration::from_secs(10), t).await {
            Ok(Ok(r)) => {
                received += r.received;
                conflated += r.gaps;
                out_of_order += r.out_of_order;
                all.merge(r.latency);
                if let Some(e) = r.error {
                    errors.push(e);
                }
            }
            _ => errors.push("a normal client did not finish".into()),
        }
    }
    // Memory once everyone has left.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let left = proc_stats(gw.pid());
    Ok(HostileReport {
        clients: a.clients,
        instruments: k,
        rate: a.rate,
        slowloris: a.slowloris,
        floods: a.floods,
        queries: a.queries,
        duration_s: elapsed,
        messages_delivered: received,
        latency: all.summary(),
        conflated_total: conflated,
        out_of_order,
        normal_client_errors: errors,
        slowloris_closed: slow_closed.load(Ordering::Relaxed),
        floods_closed: floods_closed.load(Ordering::Relaxed),
        floods_logged_in: floods_in.load(Ordering::Relaxed),
        gateway_cpu_percent: (after.cpu_s - before.cpu_s) / elapsed * 100.0,
        gateway_rss_start_kb: start.rss_kb,
        gateway_rss_peak_kb: peak_rss,
        gateway_rss_after_kb: left.rss_kb,
        gateway_fds_peak: peak_fds,
    })
}

impl std::fmt::Display for HostileReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "hostile peers: {} slowloris, {} query floods x {} unread queries; {} normal clients x {} instruments, {:.0} ticks/s, {:.1} s",
            self.slowloris,
            self.floods,
            self.queries,
            self.clients,
            self.instruments,
            self.rate,
            self.duration_s
        )?;
        writeln!(
            f,
            "  normal clients    {} ticks received",
            self.messages_delivered
        )?;
        writeln!(f, "  tick latency      {}", self.latency)?;
        writeln!(
            f,
            "  conflated         {}, out of order {}, errors {}",
            self.conflated_total,
            self.out_of_order,
            self.normal_client_errors.len()
        )?;
        writeln!(
            f,
            "  attackers closed  {} slowloris sockets, {} flooding connections ({} logins)",
            self.slowloris_closed, self.floods_closed, self.floods_logged_in
        )?;
        writeln!(
            f,
            "  gateway           {:.0}% of one core; RSS {} KiB at start, peak {} KiB, {} KiB after the attackers left; {} fds at most",
            self.gateway_cpu_percent,
            self.gateway_rss_start_kb,
            self.gateway_rss_peak_kb,
            self.gateway_rss_after_kb,
            self.gateway_fds_peak
        )?;
        if !self.normal_client_errors.is_empty() {
            writeln!(
                f,
                "  errors            {}",
                self.normal_client_errors.join("; ")
            )?;
        }
        Ok(())
    }
}

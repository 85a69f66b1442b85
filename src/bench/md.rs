//! `webctp bench md`: N WebSocket clients, each subscribed to K instruments, against a
//! sim gateway ticking R times per second in total. Each tick carries its generation
//! time and its instrument's tick number (`Sim.StampTicks`), so every client measures
//! latency and counts gaps (conflated ticks) and reorderings itself.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use super::BenchError;
use super::gateway::GatewayProcess;
use super::stats::{Percentiles, ProcStats, Samples, now_ns, proc_stats};
use crate::ctp::sim::instruments::main_contracts_on;

/// The sim's date in benchmarks, so that runs on different days list the same contracts.
pub const BENCH_DAY: &str = "20251203";

/// Options of `bench md`.
#[derive(Debug, Clone, clap::Args)]
pub struct MdArgs {
    /// WebSocket clients.
    #[arg(long, default_value_t = 10)]
    pub clients: usize,
    /// Instruments each client subscribes to (main contracts of the products, at most one
    /// per product).
    #[arg(long, default_value_t = 10)]
    pub instruments: usize,
    /// Ticks per second generated in total.
    #[arg(long, default_value_t = 10_000.0)]
    pub rate: f64,
    /// Seconds to measure (after everyone is subscribed).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Market data queued per client before conflation starts.
    #[arg(long, default_value_t = 4096)]
    pub md_queue_depth: usize,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Run this gateway binary instead of this one (to compare two builds).
    #[arg(long, value_name = "PATH")]
    pub gateway: Option<std::path::PathBuf>,
    /// Edge gateways between the ingest and the clients: ingest -> Redis -> N edges ->
    /// clients (spread evenly). 0 is the direct gateway. A list (`0,1,2`) runs each in
    /// turn. Needs redis-server on the PATH.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0",
        value_name = "N[,N...]"
    )]
    pub edges: Vec<usize>,
}

/// What one client saw.
#[derive(Debug, Default)]
pub(super) struct ClientResult {
    pub(super) received: u64,
    pub(super) gaps: u64,
    pub(super) out_of_order: u64,
    pub(super) latency: Samples,
    pub(super) error: Option<String>,
}

/// The result of `bench md`.
#[derive(Debug, Serialize)]
pub struct MdReport {
    pub clients: usize,
    pub instruments: usize,
    pub target_ticks_per_s: f64,
    pub duration_s: f64,
    pub ticks_generated: u64,
    pub ticks_per_s: f64,
    pub messages_delivered: u64,
    pub messages_per_s: f64,
    pub latency: Percentiles,
    /// Ticks replaced by newer ones (per client: total, min, max).
    pub conflated_total: u64,
    pub conflated_min: u64,
    pub conflated_max: u64,
    pub out_of_order: u64,
    pub gateway_cpu_percent: f64,
    pub gateway_rss_kb: u64,
    pub gateway_peak_rss_kb: u64,
    /// Edge gateways between the ingest and the clients (0: direct).
    pub edges: usize,
    /// CPU of each edge, percent of one core.
    pub edges_cpu_percent: Vec<f64>,
    /// CPU of redis-server, percent of one core.
    pub redis_cpu_percent: f64,
    pub errors: Vec<String>,
}

/// Reads `/healthz` over plain HTTP.
pub async fn healthz(url: &str) -> Option<serde_json::Value> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = url.trim_start_matches("ws://").trim_end_matches('/');
    let mut s = tokio::net::TcpStream::connect(host).await.ok()?;
    s.write_all(format!("GET /healthz HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&buf);
    let body = text.split("\r\n\r\n").nth(1)?;
    serde_json::from_str(body).ok()
}

/// The text of a string field in a serialized message (no escapes in these fields).
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(key)? + key.len();
    let rest = &text[start..];
    Some(&rest[..rest.find('"')?])
}

/// One market-data client: subscribes, then measures latency, gaps and order of
/// the ticks while `window` says so, until it says stop.
pub(super) async fn client(
    url: String,
    instruments: Vec<String>,
    ready: tokio::sync::mpsc::Sender<()>,
    mut window: watch::Receiver<(bool, bool)>,
) -> ClientResult {
    let mut r = ClientResult::default();
    let (mut ws, _) = match tokio_tungstenite::connect_async_with_config(
        format!("{url}/md/"),
        None,
        true,
    )
    .await
    {
        Ok(x) => x,
        Err(e) => {
            r.error = Some(format!("connect: {e}"));
            let _ = ready.send(()).await;
            return r;
        }
    };
    let login = r#"{"MsgType":"ReqUserLogin","ReqUserLogin":{"UserID":"bench","Password":""}}"#;
    let sub = serde_json::json!({"MsgType": "SubscribeMarketData", "InstrumentID": instruments})
        .to_string();
    // Subscribing waits for the login's answer: before it the gateway answers -401
    // (the shared md session may still be logging in when a client connects).
    if ws.send(Message::text(login)).await.is_err() {
        r.error = Some("send failed".into());
        let _ = ready.send(()).await;
        return r;
    }
    let mut sub = Some(sub);
    let mut subscribed = 0;
    let mut last_seq: HashMap<String, u64> = HashMap::new();
    let mut announced = false;
    loop {
        tokio::select! {
            m = ws.next() => {
                let Some(Ok(m)) = m else {
                    r.error = Some("connection closed".into());
                    break;
                };
                let Ok(text) = m.to_text() else { continue };
                if text.starts_with(r#"{"MsgType":"RtnDepthMarketData""#) {
                    let (measuring, _) = *window.borrow();
                    let (Some(inst), Some(stamp)) = (field(text, r#""reserve1":""#), field(text, r#""reserve2":""#)) else {
                        continue;
                    };
                    let (ns, seq) = stamp.split_once(':').unwrap_or((stamp, "0"));
                    let (ns, seq): (u64, u64) = (ns.parse().unwrap_or(0), seq.parse().unwrap_or(0));
                    if let Some(prev) = last_seq.get(inst) {
                        if seq <= *prev {
                            r.out_of_order += 1;
                        } else if measuring {
                            r.gaps += seq - prev - 1;
                        }
                    }
                    last_seq.insert(inst.to_string(), seq);
                    if measuring {
                        r.received += 1;
                        r.latency.add_ns(now_ns().saturating_sub(ns));
                    }
                } else if text.starts_with(r#"{"MsgType":"RspUserLogin""#) {
                    if !text.contains(r#""ErrorID":0"#) {
                        r.error = Some(format!("login refused: {text}"));
                        break;
                    }
                    if let Some(sub) = sub.take()
                        && ws.send(Message::text(sub)).await.is_err()
                    {
                        r.error = Some("send failed".into());
                        break;
                    }
                } else if text.contains(r#""MsgType":"RspSubMarketData""#) {
                    subscribed += 1;
                    if subscribed == instruments.len() && !announced {
                        announced = true;
                        let _ = ready.send(()).await;
                    }
                } else if text.starts_with(r#"{"MsgType":"Ping""#) {
                    let _ = ws.send(Message::text(r#"{"MsgType":"Pong"}"#)).await;
                }
            }
            _ = window.changed() => {
                if window.borrow().1 {
                    break;
                }
            }
        }
    }
    if !announced {
        let _ = ready.send(()).await;
    }
    let _ = ws.close(None).await;
    r
}

/// Runs `bench md` once per `--edges` value.
pub async fn run_all(a: &MdArgs) -> Result<Vec<MdReport>, BenchError> {
    let mut out = Vec::new();
    for &edges in &a.edges {
        out.push(run_with(a, edges).await?);
    }
    Ok(out)
}

/// Runs `bench md` against the direct gateway.
pub async fn run(a: &MdArgs) -> Result<MdReport, BenchError> {
    run_with(a, 0).await
}

/// Runs `bench md` through `edges` edge gateways (0: direct).
async fn run_with(a: &MdArgs, edges: usize) -> Result<MdReport, BenchError> {
    let all = main_contracts_on(BENCH_DAY);
    let k = a.instruments.clamp(1, all.len().max(1));
    let per_instrument = a.rate / k as f64;
    let yaml = format!(
        "AdminEndpoints: true\nSim: {{TickRate: {per_instrument}, StampTicks: true, AutoSettle: false, Durability: os, StartDate: \"{BENCH_DAY}\"}}\nLimits: {{MaxConnections: {}, MdQueueDepth: {}, RequestsPerSecond: 100000}}\nHeartbeatInterval: 30\n",
        a.clients + 64,
        a.md_queue_depth
    );
    let redis = if edges > 0 {
        Some(super::redis::RedisProcess::start()?)
    } else {
        None
    };
    let yaml = match &redis {
        Some(r) => format!("{yaml}Bus: {}\n", r.url),
        None => yaml,
    };
    let gw = GatewayProcess::start_binary(&yaml, a.gateway.as_deref())?;
    let mut edge_gws = Vec::new();
    if let Some(r) = &redis {
        let edge_yaml = format!(
            "MdFrom: {}\nLimits: {{MaxConnections: {}, MdQueueDepth: {}, RequestsPerSecond: 100000}}\nHeartbeatInterval: 30\n",
            r.url,
            a.clients + 64,
            a.md_queue_depth
        );
        for _ in 0..edges {
            edge_gws.push(GatewayProcess::start_binary(
                &edge_yaml,
                a.gateway.as_deref(),
            )?);
        }
    }
    let urls: Vec<String> = if edge_gws.is_empty() {
        vec![gw.url.clone()]
    } else {
        edge_gws.iter().map(|e| e.url.clone()).collect()
    };
    let ids: Vec<String> = all.into_iter().take(k).collect();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(a.clients.max(1));
    let (window_tx, window_rx) = watch::channel((false, false));
    let mut tasks = Vec::new();
    for i in 0..a.clients {
        tasks.push(tokio::spawn(client(
            urls[i % urls.len()].clone(),
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
                "the clients did not subscribe",
                Duration::from_secs(30),
            ));
        }
    }
    // Let queues settle, then measure a window.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = proc_stats(gw.pid());
    let edges_before: Vec<ProcStats> = edge_gws.iter().map(|e| proc_stats(e.pid())).collect();
    let redis_before = redis.as_ref().map(|r| proc_stats(r.pid()));
    let ticks_before = healthz(&gw.url)
        .await
        .and_then(|h| h["ticks"].as_u64())
        .unwrap_or(0);
    let started = Instant::now();
    let _ = window_tx.send((true, false));
    tokio::time::sleep(Duration::from_secs_f64(a.duration)).await;
    let _ = window_tx.send((false, false));
    let elapsed = started.elapsed().as_secs_f64();
    let ticks_after = healthz(&gw.url)
        .await
        .and_then(|h| h["ticks"].as_u64())
        .unwrap_or(0);
    let after: ProcStats = proc_stats(gw.pid());
    let edges_cpu_percent: Vec<f64> = edge_gws
        .iter()
        .zip(&edges_before)
        .map(|(e, b)| (proc_stats(e.pid()).cpu_s - b.cpu_s) / elapsed * 100.0)
        .collect();
    let redis_cpu_percent = match (&redis, &redis_before) {
        (Some(r), Some(b)) => (proc_stats(r.pid()).cpu_s - b.cpu_s) / elapsed * 100.0,
        _ => 0.0,
    };
    let _ = window_tx.send((false, true));
    let mut all = Samples::default();
    let mut received = 0;
    let mut gaps = Vec::new();
    let mut out_of_order = 0;
    let mut errors = Vec::new();
    for t in tasks {
        match tokio::time::timeout(Duration::from_secs(10), t).await {
            Ok(Ok(r)) => {
                received += r.received;
                gaps.push(r.gaps);
                out_of_order += r.out_of_order;
                all.merge(r.latency);
                if let Some(e) = r.error {
                    errors.push(e);
                }
            }
            _ => errors.push("a client did not finish".into()),
        }
    }
    let generated = ticks_after.saturating_sub(ticks_before);
    Ok(MdReport {
        clients: a.clients,
        instruments: k,
        target_ticks_per_s: a.rate,
        duration_s: elapsed,
        ticks_generated: generated,
        ticks_per_s: generated as f64 / elapsed,
        messages_delivered: received,
        messages_per_s: received as f64 / elapsed,
        latency: all.summary(),
        conflated_total: gaps.iter().sum(),
        conflated_min: gaps.iter().copied().min().unwrap_or(0),
        conflated_max: gaps.iter().copied().max().unwrap_or(0),
        out_of_order,
        gateway_cpu_percent: (after.cpu_s - before.cpu_s) / elapsed * 100.0,
        gateway_rss_kb: after.rss_kb,
        gateway_peak_rss_kb: after.peak_rss_kb,
        edges,
        edges_cpu_percent,
        redis_cpu_percent,
        errors,
    })
}

impl std::fmt::Display for MdReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = match self.edges {
            0 => "direct".to_string(),
            1 => "ingest -> Redis -> 1 edge".to_string(),
            n => format!("ingest -> Redis -> {n} edges"),
        };
        writeln!(
            f,
            "market data ({path}): {} clients x {} instruments, {:.0} ticks/s asked, {:.1} s",
            self.clients, self.instruments, self.target_ticks_per_s, self.duration_s
        )?;
        writeln!(
            f,
            "  ticks generated   {} ({:.0}/s)",
            self.ticks_generated, self.ticks_per_s
        )?;
        writeln!(
            f,
            "  messages received {} ({:.0}/s)",
            self.messages_delivered, self.messages_per_s
        )?;
        writeln!(f, "  tick latency      {}", self.latency)?;
        writeln!(
            f,
            "  conflated         {} in total (per client {}..{}), out of order {}",
            self.conflated_total, self.conflated_min, self.conflated_max, self.out_of_order
        )?;
        writeln!(
            f,
            "  gateway           {:.0}% of one core, RSS {} KiB (peak {} KiB)",
            self.gateway_cpu_percent, self.gateway_rss_kb, self.gateway_peak_rss_kb
        )?;
        if self.edges > 0 {
            let each: Vec<String> = self
                .edges_cpu_percent
                .iter()
                .map(|c| format!("{c:.0}%"))
                .collect();
            writeln!(
                f,
                "  edges             {} of one core each; redis-server {:.0}%",
                each.join(", "),
                self.redis_cpu_percent
            )?;
        }
        if !self.errors.is_empty() {
            writeln!(f, "  errors            {}", self.errors.join("; "))?;
        }
        Ok(())
    }
}

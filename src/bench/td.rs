//! `webctp bench td`: M trading clients sending orders to a sim gateway — fill-and-kill
//! buys that cross the book, sells that close what was bought, and resting orders that
//! are then cancelled — measuring insert -> RtnOrder and insert -> RtnTrade latency,
//! and checking that every order reaches a final state.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use super::BenchError;
use super::gateway::GatewayProcess;
use super::stats::{Percentiles, Samples, now_ns, proc_stats};

/// Options of `bench td`.
#[derive(Debug, Clone, clap::Args)]
pub struct TdArgs {
    /// Trading clients (each its own account and session).
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Orders per second in total; 0 sends as fast as the gateway answers.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Ledger durability: fsync (acknowledged orders are on disk) or os.
    #[arg(long, default_value = "fsync")]
    pub durability: String,
    /// Orders a client keeps in flight when --rate is 0.
    #[arg(long, default_value_t = 32)]
    pub window: usize,
    /// Stop after this many orders in total instead of after --duration.
    #[arg(long, value_name = "N")]
    pub orders: Option<u64>,
    /// Then measure restarts: stop the gateway, start it again on the same data (RSS,
    /// time to accepting connections), query one client's orders, end the trading
    /// day, and restart once more.
    #[arg(long)]
    pub restart: bool,
    /// Run this webctp binary as the gateway (e.g. another build, to compare).
    #[arg(long, value_name = "PATH")]
    pub gateway: Option<std::path::PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// What restarts cost after the run (`--restart`).
#[derive(Debug, Serialize, Default)]
pub struct RestartReport {
    /// The sim's data directory after the run.
    pub data_bytes: u64,
    pub restart_ms: f64,
    pub rss_after_restart_kb: u64,
    pub query_rows: u64,
    pub rss_after_query_kb: u64,
    pub peak_rss_after_query_kb: u64,
    pub settle: String,
    pub data_bytes_after_roll: u64,
    pub restart_after_roll_ms: f64,
    pub rss_after_roll_restart_kb: u64,
}

/// The result of `bench td`.
#[derive(Debug, Serialize)]
pub struct TdReport {
    pub clients: usize,
    pub target_orders_per_s: f64,
    pub durability: String,
    pub duration_s: f64,
    pub orders_sent: u64,
    pub orders_per_s: f64,
    pub final_states: u64,
    pub missing_final: u64,
    pub traded: u64,
    pub canceled: u64,
    pub rejected: u64,
    pub insert_to_rtn_order: Percentiles,
    pub insert_to_rtn_trade: Percentiles,
    pub gateway_cpu_percent: f64,
    pub gateway_peak_rss_kb: u64,
    pub restart: Option<RestartReport>,
    pub errors: Vec<String>,
}

fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(key)? + key.len();
    let rest = &text[start..];
    Some(&rest[..rest.find('"')?])
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Buy,
    Close,
    Rest,
}

struct Pending {
    kind: Kind,
    sent: u64,
    acked: bool,
    traded: bool,
}

#[derive(Default)]
struct ClientResult {
    sent: u64,
    finals: u64,
    missing: u64,
    traded: u64,
    canceled: u64,
    rejected: u64,
    to_order: Samples,
    to_trade: Samples,
    error: Option<String>,
}

async fn client(
    url: String,
    user: String,
    a: TdArgs,
    per_client_rate: f64,
    mut stop: watch::Receiver<bool>,
    total: Arc<AtomicU64>,
) -> ClientResult {
    let mut r = ClientResult::default();
    let Ok((mut ws, _)) =
        tokio_tungstenite::connect_async_with_config(format!("{url}/td/"), None, true).await
    else {
        r.error = Some("connect failed".into());
        return r;
    };
    let login = json!({"MsgType": "ReqUserLogin", "RequestID": 1, "ReqUserLogin": {"UserID": user, "Password": "bench"}});
    let depth = json!({"MsgType": "ReqQryDepthMarketData", "RequestID": 2, "QryDepthMarketData": {"InstrumentID": "m2605"}});
    if ws.send(Message::text(login.to_string())).await.is_err() {
        r.error = Some("send failed".into());
        return r;
    }
    let (mut upper, mut lower) = (0.0, 0.0);
    while let Some(Ok(m)) = ws.next().await {
        let Ok(text) = m.to_text() else { continue };
        let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        match v["MsgType"].as_str() {
            Some("RspUserLogin") => {
                if v["RspInfo"]["ErrorID"] != 0 {
                    r.error = Some(format!("login failed: {}", v["RspInfo"]));
                    return r;
                }
                let _ = ws.send(Message::text(depth.to_string())).await;
            }
            Some("RspQryDepthMarketData") => {
                upper = v["DepthMarketData"]["UpperLimitPrice"]
                    .as_f64()
                    .unwrap_or(0.0);
                lower = v["DepthMarketData"]["LowerLimitPrice"]
                    .as_f64()
                    .unwrap_or(0.0);
                break;
            }
            _ => {}
        }
    }
    if upper <= 0.0 {
        r.error = Some("no quote for m2605".into());
        return r;
    }
    let mut pending: HashMap<u64, Pending> = HashMap::new();
    // CTP sends the final RtnOrder before the RtnTrade: keep the send time of filled
    // orders until their trade arrives.
    let mut awaiting_trade: HashMap<u64, u64> = HashMap::new();
    let mut next_ref: u64 = 0;
    let mut held: i64 = 0;
    let mut sending = true;
    let period = if per_client_rate > 0.0 {
        Duration::from_secs_f64(1.0 / per_client_rate)
    } else {
        Duration::from_millis(1)
    };
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut drain_until: Option<tokio::time::Instant> = None;
    loop {
        if !sending && pending.is_empty() {
            break;
        }
        if let Some(d) = drain_until
            && tokio::time::Instant::now() > d
        {
            break;
        }
        tokio::select! {
            _ = tick.tick(), if sending => {
                let burst = if per_client_rate > 0.0 { 1 } else { a.window.saturating_sub(pending.len()) };
                for _ in 0..burst {
                    if a.orders.is_some_and(|max| total.fetch_add(1, Ordering::Relaxed) >= max) {
                        sending = false;
                        drain_until = Some(tokio::time::Instant::now() + Duration::from_secs(30));
                        break;
                    }
                    next_ref += 1;
                    let kind = if next_ref.is_multiple_of(3) { Kind::Rest } else if held > 0 { Kind::Close } else { Kind::Buy };
                    let (dir, offset, price, tc) = match kind {
                        Kind::Buy => ("0", "0", upper, "1"),
                        Kind::Close => ("1", "1", lower, "1"),
                        Kind::Rest => ("0", "0", lower, "3"),
                    };
                    if kind == Kind::Close {
                        held -= 1;
                    }
                    let o = json!({"MsgType": "ReqOrderInsert", "RequestID": next_ref, "InputOrder": {
                        "InstrumentID": "m2605", "ExchangeID": "DCE", "OrderRef": next_ref.to_string(),
                        "Direction": dir, "CombOffsetFlag": offset, "CombHedgeFlag": "1",
                        "OrderPriceType": "2", "LimitPrice": price, "VolumeTotalOriginal": 1,
                        "TimeCondition": tc, "VolumeCondition": "1", "ContingentCondition": "1", "ForceCloseReason": "0"}});
                    pending.insert(next_ref, Pending { kind, sent: now_ns(), acked: false, traded: false });
                    r.sent += 1;
                    if ws.send(Message::text(o.to_string())).await.is_err() {
                        r.error = Some("connection lost".into());
                        return r;
                    }
                }
            }
            _ = stop.changed(), if sending => {
                sending = false;
                drain_until = Some(tokio::time::Instant::now() + Duration::from_secs(10));
            }
            m = ws.next() => {
                let Some(Ok(m)) = m else {
                    r.error = Some("connection closed".into());
                    break;
                };
                let Ok(text) = m.to_text() else { continue };
                let now = now_ns();
                let msg = field(text, r#"{"MsgType":""#).unwrap_or("");
                match msg {
                    "RtnOrder" => {
                        let Some(oref) = field(text, r#""OrderRef":""#).and_then(|s| s.trim().parse::<u64>().ok()) else { continue };
                        let status = field(text, r#""OrderStatus":""#).unwrap_or("");
                        let Some(p) = pending.get_mut(&oref) else { continue };
                        if !p.acked {
                            p.acked = true;
                            r.to_order.add_ns(now.saturating_sub(p.sent));
                        }
                        if p.kind == Kind::Rest && status == "3" {
                            let sys = field(text, r#""OrderSysID":""#).unwrap_or("").to_string();
                            let c = json!({"MsgType": "ReqOrderAction", "RequestID": 0, "InputOrderAction": {
                                "ExchangeID": "DCE", "OrderSysID": sys, "ActionFlag": "0", "InstrumentID": "m2605"}});
                            let _ = ws.send(Message::text(c.to_string())).await;
                        }
                        if (status == "0" || status == "5")
                            && let Some(p) = pending.remove(&oref)
                        {
                            r.finals += 1;
                            if status == "0" { r.traded += 1 } else { r.canceled += 1 }
                            if status == "0" && !p.traded {
                                awaiting_trade.insert(oref, p.sent);
                            }
                            // Track what is held so closes have something to close.
                            if (p.kind == Kind::Buy && status == "0") || (p.kind == Kind::Close && status != "0") {
                                held += 1;
                            }
                        }
                    }
                    "RtnTrade" => {
                        let Some(oref) = field(text, r#""OrderRef":""#).and_then(|s| s.trim().parse::<u64>().ok()) else { continue };
                        if let Some(p) = pending.get_mut(&oref)
                            && !p.traded
                        {
                            p.traded = true;
                            r.to_trade.add_ns(now.saturating_sub(p.sent));
                        } else if let Some(sent) = awaiting_trade.remove(&oref) {
                            r.to_trade.add_ns(now.saturating_sub(sent));
                        }
                    }
                    "RspOrderInsert" => {
                        if let Some(oref) = field(text, r#""OrderRef":""#).and_then(|s| s.trim().parse::<u64>().ok())
                            && let Some(p) = pending.remove(&oref)
                        {
                            r.finals += 1;
                            r.rejected += 1;
                            if p.kind == Kind::Close {
                                held += 1;
                            }
                        }
                    }
                    "Ping" => {
                        let _ = ws.send(Message::text(r#"{"MsgType":"Pong"}"#)).await;
                    }
                    _ => {}
                }
            }
        }
    }
    r.missing = pending.len() as u64;
    let _ = ws.close(None).await;
    r
}

/// Runs `bench td`.
pub async fn run(a: &TdArgs) -> Result<TdReport, BenchError> {
    if !matches!(a.durability.as_str(), "fsync" | "os") {
        return Err(BenchError::Arg {
            flag: "--durability",
            allowed: "fsync or os",
            given: a.durability.clone(),
        });
    }
    let yaml = format!(
        "AdminEndpoints: true\nSim: {{TickRate: 100, AutoSettle: false, Durability: {}, StartDate: \"{}\"}}\nLimits: {{RequestsPerSecond: 1000000, TdQueueDepth: 1000000}}\n",
        a.durability,
        super::md::BENCH_DAY
    );
    let mut gw = GatewayProcess::start_binary(&yaml, a.gateway.as_deref())?;
    let total = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let per_client = if a.rate > 0.0 {
        a.rate / a.clients.max(1) as f64
    } else {
        0.0
    };
    let before = proc_stats(gw.pid());
    let started = Instant::now();
    let tasks: Vec<_> = (0..a.clients)
        .map(|i| {
            tokio::spawn(client(
                gw.url.clone(),
                format!("bench-{i}"),
                a.clone(),
                per_client,
                stop_rx.clone(),
                total.clone(),
            ))
        })
        .collect();
    match a.orders {
        Some(max) => {
            while total.load(Ordering::Relaxed) < max && tasks.iter().any(|t| !t.is_finished()) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        None => tokio::time::sleep(Duration::from_secs_f64(a.duration)).await,
    }
    let _ = stop_tx.send(true);
    let sending_time = started.elapsed().as_secs_f64();
    let after = proc_stats(gw.pid());
    let mut total = ClientResult::default();
    let mut errors = Vec::new();
    for t in tasks {
        match tokio::time::timeout(Duration::from_secs(60), t).await {
            Ok(Ok(r)) => {
                total.sent += r.sent;
                total.finals += r.finals;
                total.missing += r.missing;
                total.traded += r.traded;
                total.canceled += r.canceled;
                total.rejected += r.rejected;
                total.to_order.merge(r.to_order);
                total.to_trade.merge(r.to_trade);
                if let Some(e) = r.error {
                    errors.push(e);
                }
            }
            _ => errors.push("a client did not finish".into()),
        }
    }
    let peak = proc_stats(gw.pid()).peak_rss_kb.max(after.peak_rss_kb);
    let restart = if a.restart {
        Some(measure_restarts(&mut gw).await?)
    } else {
        None
    };
    Ok(TdReport {
        clients: a.clients,
        target_orders_per_s: a.rate,
        durability: a.durability.clone(),
        duration_s: sending_time,
        orders_sent: total.sent,
        orders_per_s: total.sent as f64 / sending_time,
        final_states: total.finals,
        missing_final: total.missing,
        traded: total.traded,
        canceled: total.canceled,
        rejected: total.rejected,
        insert_to_rtn_order: total.to_order.summary(),
        insert_to_rtn_trade: total.to_trade.summary(),
        gateway_cpu_percent: (after.cpu_s - before.cpu_s) / sending_time * 100.0,
        gateway_peak_rss_kb: peak,
        restart,
        errors,
    })
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => dirs.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// Counts the records of one client's ReqQryOrder.
async fn query_orders(url: &str, user: &str) -> Result<u64, BenchError> {
    let url = format!("{url}/td/");
    let (mut ws, _) = tokio_tungstenite::connect_async(&url)
        .await
        .map_err(BenchError::connect(url, ""))?;
    let login = json!({"MsgType": "ReqUserLogin", "RequestID": 1, "ReqUserLogin": {"UserID": user, "Password": "bench"}});
    let query = json!({"MsgType": "ReqQryOrder", "RequestID": 2, "QryOrder": {}});
    ws.send(Message::text(login.to_string())).await?;
    let mut rows = 0;
    loop {
        let m = tokio::time::timeout(Duration::from_secs(60), ws.next())
            .await
            .map_err(|_| {
                BenchError::timeout("the order query did not finish", Duration::from_secs(60))
            })?;
        let Some(Ok(m)) = m else {
            return Err(BenchError::Closed {
                during: "the order query",
            });
        };
        let Ok(text) = m.to_text() else { continue };
        match field(text, r#"{"MsgType":""#).unwrap_or("") {
            "RspUserLogin" => ws.send(Message::text(query.to_string())).await?,
            "RspQryOrder" => {
                rows += 1;
                if text.contains(r#""IsLast":true"#) {
                    return Ok(rows);
                }
            }
            _ => {}
        }
    }
}

/// Restart, query, end the day, restart again: time and memory of each.
async fn measure_restarts(gw: &mut GatewayProcess) -> Result<RestartReport, BenchError> {
    let sim = gw.dir.join("data/sim");
    let mut r = RestartReport {
        data_bytes: dir_bytes(&sim),
        ..RestartReport::default()
    };
    r.restart_ms = gw.restart()?.as_secs_f64() * 1000.0;
    r.rss_after_restart_kb = proc_stats(gw.pid()).rss_kb;
    r.query_rows = query_orders(&gw.url, "bench-0").await?;
    let s = proc_stats(gw.pid());
    r.rss_after_query_kb = s.rss_kb;
    r.peak_rss_after_query_kb = s.peak_rss_kb;
    r.settle = crate::cli::link::admin_post(&gw.url, "/admin/settle", None)
        .await
        .unwrap_or_else(|e| format!("settle failed: {e}"));
    r.restart_after_roll_ms = gw.restart()?.as_secs_f64() * 1000.0;
    r.rss_after_roll_restart_kb = proc_stats(gw.pid()).rss_kb;
    r.data_bytes_after_roll = dir_bytes(&sim);
    Ok(r)
}

impl std::fmt::Display for TdReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = if self.target_orders_per_s > 0.0 {
            format!("{:.0} orders/s asked", self.target_orders_per_s)
        } else {
            "as fast as answered".into()
        };
        writeln!(
            f,
            "trading: {} clients, {target}, ledger {}, {:.1} s",
            self.clients, self.durability, self.duration_s
        )?;
        writeln!(
            f,
            "  orders sent        {} ({:.0}/s)",
            self.orders_sent, self.orders_per_s
        )?;
        writeln!(
            f,
            "  final states       {} (traded {}, canceled {}, rejected {}), missing {}",
            self.final_states, self.traded, self.canceled, self.rejected, self.missing_final
        )?;
        writeln!(f, "  insert -> RtnOrder {}", self.insert_to_rtn_order)?;
        writeln!(f, "  insert -> RtnTrade {}", self.insert_to_rtn_trade)?;
        writeln!(
            f,
            "  gateway            {:.0}% of one core, peak RSS {} KiB",
            self.gateway_cpu_percent, self.gateway_peak_rss_kb
        )?;
        if let Some(r) = &self.restart {
            writeln!(
                f,
                "  restart            {:.0} ms to accepting connections ({} MB of ledger), RSS {} KiB",
                r.restart_ms,
                r.data_bytes / 1_000_000,
                r.rss_after_restart_kb
            )?;
            writeln!(
                f,
                "  ReqQryOrder        {} rows to one client, then RSS {} KiB (peak {} KiB)",
                r.query_rows, r.rss_after_query_kb, r.peak_rss_after_query_kb
            )?;
            writeln!(f, "  day end            {}", r.settle.trim())?;
            writeln!(
                f,
                "  restart after it   {:.0} ms ({} MB of ledger), RSS {} KiB",
                r.restart_after_roll_ms,
                r.data_bytes_after_roll / 1_000_000,
                r.rss_after_roll_restart_kb
            )?;
        }
        if !self.errors.is_empty() {
            writeln!(f, "  errors             {}", self.errors.join("; "))?;
        }
        Ok(())
    }
}

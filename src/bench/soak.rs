//! `webctp bench soak`: hundreds of clients connecting, subscribing, ordering and
//! disconnecting (often mid-flow) for a while; the gateway's memory and open file
//! descriptors are sampled and must not keep growing.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::BenchError;
use super::gateway::GatewayProcess;
use super::md::BENCH_DAY;
use super::stats::proc_stats;
use crate::ctp::sim::instruments::main_contracts_on;
use crate::ctp::sim::rng::Rng;

/// Options of `bench soak`.
#[derive(Debug, Clone, clap::Args)]
pub struct SoakArgs {
    /// Clients running at the same time.
    #[arg(long, default_value_t = 200)]
    pub clients: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 60.0)]
    pub duration: f64,
    /// Seconds between memory samples.
    #[arg(long, default_value_t = 10.0)]
    pub sample_every: f64,
    /// Seconds between day ends. The sim keeps the day's orders and trades in memory,
    /// as CTP does; ending the day lets a long soak show whether anything else grows.
    #[arg(long, default_value_t = 60.0)]
    pub settle_every: f64,
    #[arg(long)]
    pub json: bool,
}

/// One sample of the gateway process.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sample {
    pub at_s: f64,
    pub rss_kb: u64,
    pub fds: usize,
    pub connections: u64,
}

/// The result of `bench soak`.
#[derive(Debug, Serialize)]
pub struct SoakReport {
    pub clients: usize,
    pub duration_s: f64,
    pub sessions: u64,
    pub orders: u64,
    /// The first sample, taken after a short warm-up.
    pub start: Sample,
    /// The steady-state baseline: the sample a quarter into the run, once a trading
    /// day's worth of orders has built up and been settled at least once.
    pub baseline: Sample,
    /// The last sample under load.
    pub loaded_end: Sample,
    /// RSS growth from the baseline to the last sample under load, in percent.
    pub growth_percent: f64,
    /// After every client left.
    pub end: Sample,
    pub peak_rss_kb: u64,
    pub samples: Vec<Sample>,
    /// RSS and fds after the clients left are within bounds of the start.
    pub flat: bool,
}

async fn sample(gw: &GatewayProcess, t0: Instant) -> Sample {
    let p = proc_stats(gw.pid());
    let connections = super::md::healthz(&gw.url)
        .await
        .and_then(|h| h["connections"].as_u64())
        .unwrap_or(0);
    Sample {
        at_s: t0.elapsed().as_secs_f64(),
        rss_kb: p.rss_kb,
        fds: p.fds,
        connections,
    }
}

/// One client's life: connect, do something, leave (sometimes abruptly).
async fn life(url: &str, n: u64, rng: &mut Rng) -> (u64, u64) {
    let md = rng.unit() < 0.5;
    let path = if md { "md" } else { "td" };
    let Ok((mut ws, _)) =
        tokio_tungstenite::connect_async_with_config(format!("{url}/{path}/"), None, true).await
    else {
        return (0, 0);
    };
    let mut orders = 0;
    let user = format!("soak-{}", n % 50);
    let login = json!({"MsgType": "ReqUserLogin", "RequestID": 1, "ReqUserLogin": {"UserID": user, "Password": "soak"}});
    let _ = ws.send(Message::text(login.to_string())).await;
    if md {
        let all = main_contracts_on(BENCH_DAY);
        let ids: Vec<&str> = (0..3)
            .map(|_| all[rng.range(0, all.len() as i64 - 1) as usize].as_str())
            .collect();
        let _ = ws
            .send(Message::text(
                json!({"MsgType": "SubscribeMarketData", "InstrumentID": ids}).to_string(),
            ))
            .await;
    } else {
        for i in 0..rng.range(1, 6) {
            let price = if rng.unit() < 0.5 { 2800 } else { 3100 };
            let o = json!({"MsgType": "ReqOrderInsert", "RequestID": 10 + i, "InputOrder": {
                "InstrumentID": "m2605", "Direction": "0", "CombOffsetFlag": "0", "CombHedgeFlag": "1",
                "OrderPriceType": "2", "LimitPrice": price, "VolumeTotalOriginal": 1,
                "TimeCondition": if i % 2 == 0 { "1" } else { "3" }, "VolumeCondition": "1"}});
            let _ = ws.send(Message::text(o.to_string())).await;
            orders += 1;
        }
        let q = json!({"MsgType": "ReqQryOrder", "RequestID": 99, "QryOrder": {}});
        let _ = ws.send(Message::text(q.to_string())).await;
    }
    // Read for a while; a third of the clients vanish without reading at all.
    if rng.unit() > 0.33 {
        let until =
            tokio::time::Instant::now() + Duration::from_millis(rng.range(100, 1500) as u64);
        while let Ok(Some(Ok(m))) = tokio::time::timeout_at(until, ws.next()).await {
            if m.to_text()
                .is_ok_and(|t| t.starts_with(r#"{"MsgType":"Ping""#))
            {
                let _ = ws.send(Message::text(r#"{"MsgType":"Pong"}"#)).await;
            }
        }
        let _ = ws.close(None).await;
    }
    (1, orders)
}

/// Runs `bench soak`.
pub async fn run(a: &SoakArgs) -> Result<SoakReport, BenchError> {
    let gw = GatewayProcess::start(&format!(
        "AdminEndpoints: true\nSim: {{TickRate: 20, AutoSettle: false, Durability: os, StartDate: \"{BENCH_DAY}\"}}\nLimits: {{MaxConnections: {}, RequestsPerSecond: 100000}}\n",
        a.clients * 4 + 64
    ))?;
    let t0 = Instant::now();
    let stop_at = t0 + Duration::from_secs_f64(a.duration);
    let mut tasks = Vec::new();
    for i in 0..a.clients {
        let url = gw.url.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(i as u64 + 1);
            let (mut sessions, mut orders, mut n) = (0, 0, i as u64);
            while Instant::now() < stop_at {
                let (s, o) = life(&url, n, &mut rng).await;
                sessions += s;
                orders += o;
                n += 1;
            }
            (sessions, orders)
        }));
    }
    let settler = {
        let url = gw.url.clone();
        let every = Duration::from_secs_f64(a.settle_every.max(1.0));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if Instant::now() >= stop_at {
                    return;
                }
                if let Err(e) = crate::cli::link::admin_post(&url, "/admin/settle", None).await {
                    tracing::warn!("settle failed: {e}");
                }
            }
        })
    };
    // The first sample after warm-up is the baseline.
    tokio::time::sleep(Duration::from_secs_f64(
        (a.duration / 10.0).clamp(1.0, 10.0),
    ))
    .await;
    let start = sample(&gw, t0).await;
    let mut samples = vec![start];
    while Instant::now() + Duration::from_secs_f64(a.sample_every) < stop_at {
        tokio::time::sleep(Duration::from_secs_f64(a.sample_every)).await;
        samples.push(sample(&gw, t0).await);
    }
    let (mut sessions, mut orders) = (0, 0);
    for t in tasks {
        if let Ok((s, o)) = t.await {
            sessions += s;
            orders += o;
        }
    }
    settler.abort();
    // Let the gateway notice the last disconnects.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let end = sample(&gw, t0).await;
    samples.push(end);
    let peak_rss_kb = proc_stats(gw.pid()).peak_rss_kb;
    let loaded: Vec<Sample> = samples[..samples.len() - 1].to_vec();
    let baseline = loaded.get(loaded.len() / 4).copied().unwrap_or(start);
    let loaded_end = loaded.last().copied().unwrap_or(start);
    let growth_percent =
        (loaded_end.rss_kb as f64 - baseline.rss_kb as f64) / baseline.rss_kb.max(1) as f64 * 100.0;
    // Under steady load memory must level off, and once everyone has left the
    // descriptors and connections must be back to idle.
    let flat = growth_percent < 10.0 && end.fds <= 32 && end.connections == 0;
    Ok(SoakReport {
        clients: a.clients,
        duration_s: a.duration,
        sessions,
        orders,
        start,
        baseline,
        loaded_end,
        growth_percent,
        end,
        peak_rss_kb,
        samples,
        flat,
    })
}

impl std::fmt::Display for SoakReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "soak: {} clients for {:.0} s, {} sessions, {} orders",
            self.clients, self.duration_s, self.sessions, self.orders
        )?;
        for s in &self.samples {
            writeln!(
                f,
                "  t={:>6.0} s  RSS {:>7} KiB  fds {:>5}  connections {:>5}",
                s.at_s, s.rss_kb, s.fds, s.connections
            )?;
        }
        writeln!(
            f,
            "  steady-state RSS {} KiB at {:.0} s -> {} KiB at {:.0} s ({:+.1}%); after the clients left: {} KiB, {} fds, {} connections; peak {} KiB: {}",
            self.baseline.rss_kb,
            self.baseline.at_s,
            self.loaded_end.rss_kb,
            self.loaded_end.at_s,
            self.growth_percent,
            self.end.rss_kb,
            self.end.fds,
            self.end.connections,
            self.peak_rss_kb,
            if self.flat { "flat" } else { "GROWING" }
        )
    }
}

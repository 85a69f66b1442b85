//! `webctp bench soak`: hundreds of clients connecting, subscribing, ordering and
//! disconnecting (often mid-flow) for a while; the gateway's memory and open file
//! descriptors are sampled and must not keep growing.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::gateway::GatewayProcess;
use super::stats::proc_stats;
use crate::ctp::sim::instruments::INSTRUMENTS;
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
    pub start: Sample,
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
        let ids: Vec<&str> = (0..3)
            .map(|_| INSTRUMENTS[rng.range(0, INSTRUMENTS.len() as i64 - 1) as usize].id)
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
pub async fn run(a: &SoakArgs) -> Result<SoakReport, String> {
    let gw = GatewayProcess::start(&format!(
        "Sim: {{TickRate: 20, AutoSettle: false, Durability: os}}\nLimits: {{MaxConnections: {}, RequestsPerSecond: 100000}}\n",
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
    // The baseline was taken under full load; after everyone left nothing may remain
    // beyond allocator slack, and descriptors must be back near the idle count.
    let flat = end.rss_kb <= start.rss_kb + start.rss_kb / 2 + 8 * 1024
        && end.fds <= 32
        && end.connections == 0;
    Ok(SoakReport {
        clients: a.clients,
        duration_s: a.duration,
        sessions,
        orders,
        start,
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
            "  start RSS {} KiB / {} fds; end RSS {} KiB / {} fds; peak RSS {} KiB: {}",
            self.start.rss_kb,
            self.start.fds,
            self.end.rss_kb,
            self.end.fds,
            self.peak_rss_kb,
            if self.flat { "flat" } else { "GROWING" }
        )
    }
}

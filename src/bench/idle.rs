//! `webctp bench idle` (memory of an idle gateway and of idle connections) and
//! `webctp bench startup` (process start to accepting WebSocket connections).

use std::time::{Duration, Instant};

use serde::Serialize;

use super::BenchError;
use super::gateway::GatewayProcess;
use super::stats::proc_stats;

/// Options of `bench idle`.
#[derive(Debug, Clone, clap::Args)]
pub struct IdleArgs {
    /// Idle WebSocket connections to open.
    #[arg(long, default_value_t = 1000)]
    pub connections: usize,
    #[arg(long)]
    pub json: bool,
}

/// Options of `bench startup`.
#[derive(Debug, Clone, clap::Args)]
pub struct StartupArgs {
    /// How many times to start the gateway.
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
    #[arg(long)]
    pub json: bool,
}

/// The result of `bench idle`.
#[derive(Debug, Serialize)]
pub struct IdleReport {
    pub idle_rss_kb: u64,
    pub connections: usize,
    pub connected: usize,
    pub rss_with_connections_kb: u64,
    pub added_kb: u64,
    pub added_kb_per_connection: f64,
    pub fds: usize,
}

/// Runs `bench idle`.
pub async fn idle(a: &IdleArgs) -> Result<IdleReport, BenchError> {
    let gw = GatewayProcess::start(&format!(
        "Limits: {{MaxConnections: {}}}\nSim: {{AutoSettle: false}}\n",
        a.connections + 64
    ))?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = proc_stats(gw.pid());
    let mut conns = Vec::with_capacity(a.connections);
    for i in 0..a.connections {
        let path = if i % 2 == 0 { "md" } else { "td" };
        let url = format!("{}/{path}/", gw.url);
        match tokio_tungstenite::connect_async(&url).await {
            Ok((ws, _)) => conns.push(ws),
            Err(e) => {
                return Err(BenchError::connect(
                    format!("{url} (connection {})", i + 1),
                    " (raise `ulimit -n`?)",
                )(e));
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded = proc_stats(gw.pid());
    let added = loaded.rss_kb.saturating_sub(idle.rss_kb);
    let connected = conns.len();
    drop(conns);
    Ok(IdleReport {
        idle_rss_kb: idle.rss_kb,
        connections: a.connections,
        connected,
        rss_with_connections_kb: loaded.rss_kb,
        added_kb: added,
        added_kb_per_connection: added as f64 / connected.max(1) as f64,
        fds: loaded.fds,
    })
}

impl std::fmt::Display for IdleReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "idle gateway RSS       {} KiB", self.idle_rss_kb)?;
        writeln!(
            f,
            "with {} connections  {} KiB (+{} KiB, {:.1} KiB each), {} fds",
            self.connected,
            self.rss_with_connections_kb,
            self.added_kb,
            self.added_kb_per_connection,
            self.fds
        )
    }
}

/// The result of `bench startup`.
#[derive(Debug, Serialize)]
pub struct StartupReport {
    pub runs: usize,
    /// Spawn to the first accepted WebSocket handshake, in milliseconds.
    pub median_ms: f64,
    pub max_ms: f64,
    pub min_ms: f64,
}

/// Runs `bench startup`.
pub async fn startup(a: &StartupArgs) -> Result<StartupReport, BenchError> {
    let mut times = Vec::with_capacity(a.runs);
    for _ in 0..a.runs.max(1) {
        let started = Instant::now();
        let gw = GatewayProcess::start("Sim: {AutoSettle: false}\n")?;
        let url = format!("{}/md/", gw.url);
        tokio_tungstenite::connect_async(&url)
            .await
            .map_err(BenchError::connect(url, ""))?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        drop(gw);
    }
    times.sort_by(|x, y| x.total_cmp(y));
    Ok(StartupReport {
        runs: times.len(),
        median_ms: times[times.len() / 2],
        max_ms: times.last().copied().unwrap_or(0.0),
        min_ms: times.first().copied().unwrap_or(0.0),
    })
}

impl std::fmt::Display for StartupReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "start to accepting WebSocket connections over {} runs: median {:.1} ms, min {:.1} ms, max {:.1} ms",
            self.runs, self.median_ms, self.min_ms, self.max_ms
        )
    }
}

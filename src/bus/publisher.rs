//! The ingest's writer to Redis: bounded queues in front of one task that pipelines
//! what they hold, so the tick path and the trading sessions never wait for Redis.
//!
//! - Ticks and order events have separate queues, so a flood of ticks cannot crowd out
//!   an order event. A message that finds its queue full is not published: the gap is
//!   counted (`webctp_bus_gaps_total{kind}`) and logged once a second while it grows.
//! - When Redis fails, the task reconnects with backoff (100 ms doubling to 2 s). The
//!   order events of the batch that failed are sent again after the reconnect (a
//!   stream reader may see one twice, never miss one that fit in the queue); ticks of
//!   that batch are counted as gaps — the next tick replaces them anyway.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::BusError;
use super::keys;

/// Order events kept per account stream (`XADD … MAXLEN ~`).
pub const STREAM_MAXLEN: usize = 100_000;
/// Ticks waiting for Redis (about 1 KB each).
pub const TICK_QUEUE: usize = 8_192;
/// Order events waiting for Redis.
pub const TD_QUEUE: usize = 65_536;
/// Messages per pipeline.
const BATCH: usize = 512;
/// A pipeline that takes longer than this counts as a failed connection.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// What the publisher has done, for `/metrics` and logs.
#[derive(Debug, Default)]
pub struct BusStats {
    pub ticks_published: AtomicU64,
    pub td_published: AtomicU64,
    pub tick_gaps: AtomicU64,
    pub td_gaps: AtomicU64,
    pub connected: AtomicBool,
}

/// The handle hooks use; cheap to call from any thread.
pub struct Publisher {
    ticks: mpsc::Sender<(Box<str>, Bytes)>,
    td: mpsc::Sender<(String, Bytes)>,
    session: mpsc::Sender<Bytes>,
    /// Counters shared with the task.
    pub stats: Arc<BusStats>,
}

impl Publisher {
    /// Starts the task writing to `client`. Must be called inside a tokio runtime.
    pub fn start(client: redis::Client, url: &str) -> Arc<Publisher> {
        let (ticks, tick_rx) = mpsc::channel(TICK_QUEUE);
        let (td, td_rx) = mpsc::channel(TD_QUEUE);
        let (session, session_rx) = mpsc::channel(4);
        let stats = Arc::new(BusStats::default());
        let task = Task {
            client,
            url: redact(url),
            ticks: tick_rx,
            td: td_rx,
            session: session_rx,
            stats: stats.clone(),
        };
        tokio::spawn(task.run());
        Arc::new(Publisher {
            ticks,
            td,
            session,
            stats,
        })
    }

    /// A tick, as its subscribers got it.
    pub fn tick(&self, instrument: &str, json: &Bytes) {
        if self
            .ticks
            .try_send((Box::from(instrument), json.clone()))
            .is_err()
        {
            self.stats.tick_gaps.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// An order event for the stream `stream`.
    pub fn td(&self, stream: String, json: &Bytes) {
        if self.td.try_send((stream, json.clone())).is_err() {
            self.stats.td_gaps.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The market-data login body (JSON) edges answer their clients' logins with.
    pub fn session(&self, json: Bytes) {
        // Only the latest matters; a full queue already holds a newer one soon.
        let _ = self.session.try_send(json);
    }
}

/// The URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

struct Task {
    client: redis::Client,
    url: String,
    ticks: mpsc::Receiver<(Box<str>, Bytes)>,
    td: mpsc::Receiver<(String, Bytes)>,
    session: mpsc::Receiver<Bytes>,
    stats: Arc<BusStats>,
}

/// Whether Redis refused a command for good (a key of another type, a bad argument),
/// as opposed to a failure of the connection or a passing state of the server, after
/// which the batch is sent again on a new connection.
fn is_refusal(e: &redis::RedisError) -> bool {
    use redis::{ErrorKind, ServerErrorKind as S};
    match e.kind() {
        ErrorKind::Server(
            S::BusyLoading | S::MasterDown | S::ReadOnly | S::TryAgain | S::ClusterDown,
        ) => false,
        ErrorKind::Server(_) | ErrorKind::UnexpectedReturnType => true,
        _ => false,
    }
}

impl Task {
    async fn connect(&self) -> Result<redis::aio::MultiplexedConnection, BusError> {
        match tokio::time::timeout(IO_TIMEOUT, self.client.get_multiplexed_async_connection()).await
        {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(BusError::Timeout(IO_TIMEOUT)),
        }
    }

    async fn run(mut self) {
        let mut backoff = Duration::from_millis(100);
        let mut retry_td: Vec<(String, Bytes)> = Vec::new();
        let mut latest_session: Option<Bytes> = None;
        let mut reported = (0u64, 0u64);
        let mut ever_connected = false;
        loop {
            let mut conn = match self.connect().await {
                Ok(c) => c,
                Err(e) => {
                    if backoff == Duration::from_millis(100) {
                        tracing::warn!(url = %self.url, error = %e, "bus: Redis unreachable; publishing paused, retrying");
                    }
                    self.report_gaps(&mut reported);
                    // Keep the latest login; nothing else is read while down.
                    while let Ok(s) = self.session.try_recv() {
                        latest_session = Some(s);
                    }
                    if self.ticks.is_closed() && self.td.is_closed() {
                        return;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            };
            backoff = Duration::from_millis(100);
            self.stats.connected.store(true, Ordering::Relaxed);
            if ever_connected {
                tracing::info!(url = %self.url, "bus: Redis is back; publishing resumed");
            } else {
                tracing::info!(url = %self.url, "bus: publishing to Redis");
            }
            ever_connected = true;
            match self
                .serve(&mut conn, &mut retry_td, &mut latest_session, &mut reported)
                .await
            {
                Ok(()) => return,
                Err(e) => {
                    self.stats.connected.store(false, Ordering::Relaxed);
                    tracing::warn!(url = %self.url, error = %e, "bus: lost Redis; reconnecting");
                }
            }
        }
    }

    /// Logs the gaps since the last report.
    fn report_gaps(&self, reported: &mut (u64, u64)) {
        let now = (
            self.stats.tick_gaps.load(Ordering::Relaxed),
            self.stats.td_gaps.load(Ordering::Relaxed),
        );
        if now != *reported {
            tracing::warn!(
                ticks = now.0 - reported.0,
                order_events = now.1 - reported.1,
                total_ticks = now.0,
                total_order_events = now.1,
                "bus: messages not published (Redis slow or down, queue full)"
            );
            *reported = now;
        }
    }

    /// Publishes until the queues close (Ok) or Redis fails (Err).
    async fn serve(
        &mut self,
        conn: &mut redis::aio::MultiplexedConnection,
        retry_td: &mut Vec<(String, Bytes)>,
        latest_session: &mut Option<Bytes>,
        reported: &mut (u64, u64),
    ) -> Result<(), BusError> {
        let mut ticks: Vec<(Box<str>, Bytes)> = Vec::with_capacity(BATCH);
        let mut td: Vec<(String, Bytes)> = std::mem::take(retry_td);
        let mut report = tokio::time::interval(Duration::from_secs(1));
        let mut session = latest_session.clone();
        loop {
            if td.is_empty() && ticks.is_empty() && session.is_none() {
                tokio::select! {
                    biased;
                    // A closed queue means the publisher was dropped (all three
                    // senders live in it): nothing more will come.
                    n = self.td.recv_many(&mut td, BATCH) => {
                        if n == 0 {
                            return Ok(());
                        }
                    }
                    n = self.ticks.recv_many(&mut ticks, BATCH) => {
                        if n == 0 {
                            return Ok(());
                        }
                    }
                    s = self.session.recv() => {
                        if s.is_none() {
                            return Ok(());
                        }
                        latest_session.clone_from(&s);
                        session = s;
                    }
                    _ = report.tick() => {
                        self.report_gaps(reported);
                        continue;
                    }
                }
            }
            // Take what else is waiting, up to a batch of each.
            while td.len() < BATCH
                && let Ok(m) = self.td.try_recv()
            {
                td.push(m);
            }
            while ticks.len() < BATCH
                && let Ok(m) = self.ticks.try_recv()
            {
                ticks.push(m);
            }
            let mut pipe = redis::pipe();
            if let Some(s) = &session {
                pipe.cmd("SET").arg(keys::MD_SESSION).arg(&s[..]).ignore();
            }
            for (stream, json) in &td {
                pipe.cmd("XADD")
                    .arg(stream)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(STREAM_MAXLEN)
                    .arg("*")
                    .arg("msg")
                    .arg(&json[..])
                    .ignore();
            }
            for (inst, json) in &ticks {
                pipe.cmd("PUBLISH")
                    .arg(keys::tick_channel(inst))
                    .arg(&json[..])
                    .ignore();
                pipe.cmd("SET")
                    .arg(keys::snapshot_key(inst))
                    .arg(&json[..])
                    .ignore();
            }
            let sent = tokio::time::timeout(IO_TIMEOUT, pipe.query_async::<()>(conn)).await;
            let failure = match sent {
                Ok(Ok(())) => None,
                Ok(Err(e)) if !is_refusal(&e) => Some(BusError::Redis(e)),
                Ok(Err(e)) => {
                    // Redis refused a command (e.g. a key of another type): retrying the
                    // same batch would fail forever.
                    tracing::error!(error = %e, "bus: Redis refused a batch; its messages are counted as gaps");
                    self.stats
                        .td_gaps
                        .fetch_add(td.len() as u64, Ordering::Relaxed);
                    self.stats
                        .tick_gaps
                        .fetch_add(ticks.len() as u64, Ordering::Relaxed);
                    td.clear();
                    ticks.clear();
                    session = None;
                    continue;
                }
                Err(_) => Some(BusError::Timeout(IO_TIMEOUT)),
            };
            if let Some(e) = failure {
                self.stats
                    .tick_gaps
                    .fetch_add(ticks.len() as u64, Ordering::Relaxed);
                *retry_td = td;
                return Err(e);
            }
            self.stats
                .td_published
                .fetch_add(td.len() as u64, Ordering::Relaxed);
            self.stats
                .ticks_published
                .fetch_add(ticks.len() as u64, Ordering::Relaxed);
            td.clear();
            ticks.clear();
            session = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_stay_out_of_logs() {
        assert_eq!(
            redact("redis://user:pw@10.0.0.1:6379/0"),
            "redis://…@10.0.0.1:6379/0"
        );
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}

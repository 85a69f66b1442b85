//! The ingest's side of edges' demand: which instruments to hold upstream for them.
//!
//! The ingest joins its own market-data hub as one more `/md/` client (so the hub's
//! reference counting, re-subscription after a reconnect and limits apply unchanged)
//! and subscribes what `md:wanted` lists with a score (Unix ms) still in the future. It
//! re-reads the set every few seconds and when an edge announces an instrument on
//! `md:want`; an instrument no edge renews expires and is unsubscribed. The answers to
//! its own login are published at `md:session` for edges' logins.
//!
//! Ticks reaching this client are dropped here: the hub publishes every tick itself.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;

use super::{Publisher, keys};
use crate::gateway::{Connection, Dispatcher};
use crate::protocol::Endpoint;

/// How often the wanted set is read again (besides `md:want` announcements).
const RESCAN: Duration = Duration::from_secs(5);
/// Backoff while Redis is down.
const RETRY: Duration = Duration::from_secs(1);

/// Unix time in ms.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Starts the demand task of an ingest gateway; returns its client's outbox (closing it
/// ends the task).
pub fn start(
    publisher: Arc<Publisher>,
    dispatcher: Arc<Dispatcher>,
    client: redis::Client,
) -> Option<Arc<crate::gateway::Outbox>> {
    let conn = match dispatcher.connect(Endpoint::Md) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(reason = %e.0, "bus: cannot follow edges' demand");
            return None;
        }
    };
    let outbox = conn.outbox.clone();
    tokio::spawn(Demand::new(conn, publisher, client).run());
    Some(outbox)
}

struct Demand {
    conn: Connection,
    publisher: Arc<Publisher>,
    client: redis::Client,
    held: HashSet<String>,
    logged_in: bool,
    next_rid: i32,
}

/// What the hub answered the demand client, as far as this task cares.
#[derive(serde::Deserialize)]
#[allow(non_snake_case)]
struct Answer {
    MsgType: String,
    #[serde(default)]
    RspInfo: Option<Info>,
    #[serde(default)]
    RspUserLogin: Option<serde_json::Value>,
    #[serde(default)]
    SpecificInstrument: Option<Specific>,
}

#[derive(serde::Deserialize)]
#[allow(non_snake_case)]
struct Info {
    ErrorID: i32,
    #[serde(default)]
    ErrorMsg: String,
}

#[derive(serde::Deserialize)]
#[allow(non_snake_case)]
struct Specific {
    InstrumentID: String,
}

impl Demand {
    fn new(conn: Connection, publisher: Arc<Publisher>, client: redis::Client) -> Demand {
        Demand {
            conn,
            publisher,
            client,
            held: HashSet::new(),
            logged_in: false,
            next_rid: 0,
        }
    }

    fn send(&mut self, msg: serde_json::Value) {
        self.next_rid = self.next_rid.wrapping_add(1).max(1);
        let mut msg = msg;
        msg["RequestID"] = self.next_rid.into();
        self.conn.handle(&msg.to_string());
    }

    fn login(&mut self) {
        self.send(serde_json::json!({"MsgType": "ReqUserLogin"}));
    }

    /// Brings the held set to `wanted`.
    fn apply(&mut self, wanted: HashSet<String>) {
        if !self.logged_in {
            return;
        }
        let mut add: Vec<String> = wanted.difference(&self.held).cloned().collect();
        let mut drop: Vec<String> = self.held.difference(&wanted).cloned().collect();
        add.sort();
        drop.sort();
        if !add.is_empty() {
            tracing::info!(instruments = ?add, "bus: edges want market data; subscribing");
            self.held.extend(add.iter().cloned());
            self.send(serde_json::json!({"MsgType": "SubscribeMarketData", "InstrumentID": add}));
        }
        if !drop.is_empty() {
            tracing::info!(instruments = ?drop, "bus: no edge wants these any more; unsubscribing");
            for i in &drop {
                self.held.remove(i);
            }
            self.send(
                serde_json::json!({"MsgType": "UnSubscribeMarketData", "InstrumentID": drop}),
            );
        }
    }

    /// Handles what the hub sent this client.
    fn answer(&mut self, json: &Bytes) {
        // Ticks are the bulk; they are published by the hub, not here.
        if json.starts_with(br#"{"MsgType":"RtnDepthMarketData""#) {
            return;
        }
        let Ok(a) = serde_json::from_slice::<Answer>(json) else {
            return;
        };
        let ok = a.RspInfo.as_ref().is_none_or(|i| i.ErrorID == 0);
        match a.MsgType.as_str() {
            "RspUserLogin" if ok => {
                self.logged_in = true;
                if let Some(body) = a.RspUserLogin {
                    self.publisher.session(Bytes::from(body.to_string()));
                }
            }
            "RspUserLogin" => {
                // The front is not up yet; the hub answered after waiting. Ask again.
                self.login();
            }
            "RspSubMarketData" if !ok => {
                let inst = a.SpecificInstrument.map(|s| s.InstrumentID);
                let info = a.RspInfo.map(|i| (i.ErrorID, i.ErrorMsg));
                tracing::warn!(instrument = ?inst, error = ?info, "bus: an instrument edges want could not be subscribed");
                if let Some(i) = inst {
                    // Asked again at the next rescan while edges still want it.
                    self.held.remove(&i);
                }
            }
            // The front came back: log in again so md:session carries today's login.
            "OnFrontConnected" => self.login(),
            _ => {}
        }
    }

    async fn run(mut self) {
        self.login();
        let outbox = self.conn.outbox.clone();
        let mut batch = Vec::new();
        loop {
            // Redis side: one connection for commands, one for announcements.
            let redis = async {
                let conn = self.client.get_multiplexed_async_connection().await?;
                let mut pubsub = self.client.get_async_pubsub().await?;
                pubsub.subscribe(keys::WANT).await?;
                Ok::<_, redis::RedisError>((conn, pubsub))
            };
            let (mut conn, pubsub) = match tokio::time::timeout(Duration::from_secs(5), redis).await
            {
                Ok(Ok(x)) => x,
                _ => {
                    // Keep serving the hub's answers while Redis is away.
                    let until = tokio::time::Instant::now() + RETRY;
                    while let Ok(r) =
                        tokio::time::timeout_at(until, outbox.next_batch(&mut batch, 256)).await
                    {
                        if r.is_err() {
                            return;
                        }
                        for m in std::mem::take(&mut batch) {
                            self.answer(&m);
                        }
                    }
                    continue;
                }
            };
            let mut announcements = pubsub.into_on_message();
            let mut rescan = tokio::time::interval(RESCAN);
            loop {
                tokio::select! {
                    r = outbox.next_batch(&mut batch, 256) => {
                        if r.is_err() {
                            return;
                        }
                        let was = self.logged_in;
                        for m in std::mem::take(&mut batch) {
                            self.answer(&m);
                        }
                        if !was && self.logged_in {
                            rescan.reset_immediately();
                        }
                    }
                    m = announcements.next() => {
                        if m.is_none() {
                            break;
                        }
                        rescan.reset_immediately();
                    }
                    _ = rescan.tick() => {
                        match wanted_now(&mut conn).await {
                            Ok(w) => self.apply(w),
                            Err(e) => {
                                tracing::warn!(error = %e, "bus: cannot read md:wanted; retrying");
                                break;
                            }
                        }
                    }
                }
            }
            tokio::time::sleep(RETRY).await;
        }
    }
}

/// Drops expired entries of `md:wanted` and returns the rest.
async fn wanted_now(
    conn: &mut redis::aio::MultiplexedConnection,
) -> redis::RedisResult<HashSet<String>> {
    let now = unix_ms();
    let (list,): (Vec<String>,) = redis::pipe()
        .cmd("ZREMRANGEBYSCORE")
        .arg(keys::WANTED)
        .arg("-inf")
        .arg(now)
        .ignore()
        .cmd("ZRANGE")
        .arg(keys::WANTED)
        .arg(0)
        .arg(-1)
        .query_async(conn)
        .await?;
    Ok(list.into_iter().collect())
}

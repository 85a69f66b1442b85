//! An edge gateway's market data: a backend whose "front" is the Redis bus.
//!
//! `webctp serve --md-from redis://…` serves `/md/` to its own clients with no CTP
//! session: the shared hub above is the same as on any gateway (reference-counted
//! subscriptions, conflating per-client queues), and this backend feeds it.
//!
//! - "Connected" means both Redis connections are up (commands, and pub/sub).
//! - Login answers with the ingest's `RspUserLogin` (`md:session`); until the ingest
//!   has logged in, the answer is CTP's 8 (front not active) and the hub retries.
//! - Subscribing an instrument subscribes `md:tick:<id>`, renews it in `md:wanted`
//!   (and says so on `md:want`, so the ingest subscribes it upstream at once), answers
//!   `RspSubMarketData`, then sends the snapshot `md:snapshot:<id>`, then the live
//!   ticks. Live ticks published before the snapshot was read are skipped by their
//!   timestamp, so a client never sees time go backwards.
//! - When Redis goes away the hub is told the front dropped (clients get
//!   `OnFrontDisconnected`); when it is back the hub logs in and re-subscribes.
//!
//! Trading stays on the gateway that holds the CTP session: `/td/` logins are refused
//! with a message saying so.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::BusError;
use super::demand::unix_ms;
use super::keys;
use crate::ctp::{Backend, BackendError, FrontEvent, MdEvents, MdSession, TdEvents, TdSession};
use crate::protocol::Reply;
use crate::protocol::errors::ctp::FRONT_NOT_ACTIVE;
use crate::protocol::errors::rsp_info;
use crate::protocol::fields::{Body, ReqUserLogin, RspInfo, RspUserLogin, SpecificInstrument};

/// How long an edge's interest in an instrument lasts unless renewed.
const WANT_TTL: Duration = Duration::from_secs(30);
/// How often held instruments are renewed in `md:wanted`.
const RENEW: Duration = Duration::from_secs(10);
/// The reason reported when Redis drops (CTP's "network read failed").
const REDIS_LOST: i32 = 0x1001;

/// How long connecting to Redis may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The edge backend.
pub struct EdgeBackend {
    client: redis::Client,
    url: String,
}

impl EdgeBackend {
    /// A backend reading market data from the bus at `url`.
    pub fn new(url: &str) -> Result<EdgeBackend, BackendError> {
        let client = super::client(url, "--md-from")?;
        Ok(EdgeBackend {
            client,
            url: super::publisher::redact(url),
        })
    }
}

impl Backend for EdgeBackend {
    fn name(&self) -> &'static str {
        "edge"
    }

    fn version(&self) -> String {
        format!("market data from the Redis bus at {}", self.url)
    }

    fn md_session(&self, events: Arc<dyn MdEvents>) -> Result<Arc<dyn MdSession>, BackendError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let driver = Driver {
            client: self.client.clone(),
            url: self.url.clone(),
            events,
            commands: rx,
            channels: HashSet::new(),
            guards: HashMap::new(),
        };
        tokio::spawn(driver.run());
        Ok(Arc::new(EdgeMd { commands: tx }))
    }

    fn td_session(
        &self,
        _events: Arc<dyn TdEvents>,
        _user: &str,
    ) -> Result<Arc<dyn TdSession>, BackendError> {
        Err(BackendError::Session(
            "this is an edge gateway (--md-from): it serves market data only; trade on the gateway that holds the CTP session".into(),
        ))
    }

    fn query_interval(&self) -> Duration {
        Duration::ZERO
    }

    fn describe(&self) -> Option<String> {
        Some(format!(
            "edge gateway: /md/ from the Redis bus at {}; no trading here",
            self.url
        ))
    }
}

enum Command {
    Login(i32),
    Subscribe(Vec<String>),
    Unsubscribe(Vec<String>),
}

/// The hub's handle: requests become commands for the driver task.
struct EdgeMd {
    commands: mpsc::UnboundedSender<Command>,
}

impl EdgeMd {
    fn send(&self, c: Command) -> i32 {
        if self.commands.send(c).is_ok() { 0 } else { -1 }
    }
}

impl MdSession for EdgeMd {
    fn login(&self, _req: &ReqUserLogin, request_id: i32) -> i32 {
        self.send(Command::Login(request_id))
    }
    fn subscribe(&self, instruments: &[String]) -> i32 {
        self.send(Command::Subscribe(instruments.to_vec()))
    }
    fn unsubscribe(&self, instruments: &[String]) -> i32 {
        self.send(Command::Unsubscribe(instruments.to_vec()))
    }
}

/// When a tick happened, as far as ordering goes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
#[allow(non_snake_case)]
struct Stamp {
    #[serde(default)]
    ActionDay: String,
    #[serde(default)]
    UpdateTime: String,
    #[serde(default)]
    UpdateMillisec: i32,
}

#[derive(serde::Deserialize)]
#[allow(non_snake_case)]
struct Stamped {
    DepthMarketData: Stamp,
}

fn stamp_of(json: &[u8]) -> Option<Stamp> {
    serde_json::from_slice::<Stamped>(json)
        .ok()
        .map(|s| s.DepthMarketData)
}

struct Driver {
    client: redis::Client,
    url: String,
    events: Arc<dyn MdEvents>,
    commands: mpsc::UnboundedReceiver<Command>,
    /// Instruments subscribed on the current pub/sub connection.
    channels: HashSet<String>,
    /// Instruments whose snapshot was sent, with its stamp: older live ticks are skipped.
    guards: HashMap<String, (Stamp, Vec<u8>)>,
}

type Conns = (redis::aio::MultiplexedConnection, redis::aio::PubSub);

impl Driver {
    async fn connect(&self) -> redis::RedisResult<Conns> {
        let conn = self.client.get_multiplexed_async_connection().await?;
        let pubsub = self.client.get_async_pubsub().await?;
        Ok((conn, pubsub))
    }

    async fn run(mut self) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let conns = match tokio::time::timeout(CONNECT_TIMEOUT, self.connect()).await {
                Ok(Ok(c)) => Ok(c),
                Ok(Err(e)) => Err(BusError::Redis(e)),
                Err(_) => Err(BusError::Timeout(CONNECT_TIMEOUT)),
            };
            let (conn, pubsub) = match conns {
                Ok(c) => c,
                Err(e) => {
                    if backoff == Duration::from_millis(100) {
                        tracing::warn!(url = %self.url, error = %e, "edge: Redis bus unreachable; retrying");
                    }
                    // Requests meanwhile are answered as a CTP front would: not active.
                    if !self.refuse_while_down(backoff).await {
                        return;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            };
            backoff = Duration::from_millis(100);
            tracing::info!(url = %self.url, "edge: connected to the Redis bus");
            self.channels.clear();
            self.guards.clear();
            self.events.front(FrontEvent::Connected);
            match self.serve(conn, pubsub).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(url = %self.url, error = %e, "edge: lost the Redis bus; reconnecting");
                }
            }
            self.events
                .front(FrontEvent::Disconnected { reason: REDIS_LOST });
        }
    }

    /// Waits `d`, answering requests as a front that is down would. False once the hub
    /// is gone.
    async fn refuse_while_down(&mut self, d: Duration) -> bool {
        let until = tokio::time::Instant::now() + d;
        loop {
            match tokio::time::timeout_at(until, self.commands.recv()).await {
                Err(_) => return true,
                Ok(None) => return false,
                Ok(Some(Command::Login(rid))) => self.login_reply(None, rid),
                Ok(Some(Command::Subscribe(list))) => {
                    for inst in list {
                        self.sub_reply(&inst, rsp_info(FRONT_NOT_ACTIVE));
                    }
                }
                Ok(Some(Command::Unsubscribe(_))) => {}
            }
        }
    }

    fn relay(&self, inst: &str, json: Vec<u8>) {
        if let Err(e) = self.events.tick_json(inst, json) {
            tracing::warn!(error = %e, "edge: a message on the bus is not a tick; dropped");
        }
    }

    fn login_reply(&self, login: Option<RspUserLogin>, rid: i32) {
        let info = if login.is_some() {
            rsp_info(0)
        } else {
            RspInfo {
                ErrorID: FRONT_NOT_ACTIVE,
                ErrorMsg:
                    "the ingest gateway has not published its market-data login (md:session) yet"
                        .into(),
            }
        };
        self.events.reply(Reply::response(
            "RspUserLogin",
            "RspUserLogin",
            login.map(Body::from),
            Some(info),
            rid,
            true,
        ));
    }

    fn sub_reply(&self, inst: &str, info: RspInfo) {
        let body = SpecificInstrument {
            InstrumentID: inst.to_string(),
            ..SpecificInstrument::default()
        };
        self.events.reply(Reply::response(
            "RspSubMarketData",
            "SpecificInstrument",
            Some(body.into()),
            Some(info),
            0,
            true,
        ));
    }

    /// Serves until the hub is gone (Ok) or Redis fails (Err).
    async fn serve(
        &mut self,
        mut conn: redis::aio::MultiplexedConnection,
        pubsub: redis::aio::PubSub,
    ) -> Result<(), BusError> {
        let (mut sink, mut stream) = pubsub.split();
        let mut renew = tokio::time::interval(RENEW);
        loop {
            tokio::select! {
                c = self.commands.recv() => {
                    let Some(c) = c else { return Ok(()) };
                    match c {
                        Command::Login(rid) => {
                            let body: Option<Vec<u8>> = redis::cmd("GET")
                                .arg(keys::MD_SESSION)
                                .query_async(&mut conn)
                                .await
                                ?;
                            let login = body.and_then(|b| serde_json::from_slice::<RspUserLogin>(&b).ok());
                            self.login_reply(login, rid);
                        }
                        Command::Subscribe(list) => {
                            let (held, fresh): (Vec<String>, Vec<String>) =
                                list.into_iter().partition(|i| self.channels.contains(i));
                            for inst in &held {
                                self.sub_reply(inst, rsp_info(0));
                            }
                            if fresh.is_empty() {
                                continue;
                            }
                            let names: Vec<String> = fresh.iter().map(|i| keys::tick_channel(i)).collect();
                            sink.subscribe(&names).await?;
                            self.channels.extend(fresh.iter().cloned());
                            want(&mut conn, &fresh, true).await?;
                            let snaps: Vec<Option<Vec<u8>>> = if fresh.len() == 1 {
                                vec![redis::cmd("GET").arg(keys::snapshot_key(&fresh[0])).query_async(&mut conn).await?]
                            } else {
                                let keys: Vec<String> = fresh.iter().map(|i| keys::snapshot_key(i)).collect();
                                redis::cmd("MGET").arg(&keys).query_async(&mut conn).await?
                            };
                            // The hub joins clients to the route on the answer; then the
                            // snapshot reaches them first.
                            for inst in &fresh {
                                self.sub_reply(inst, rsp_info(0));
                            }
                            for (inst, snap) in fresh.iter().zip(snaps) {
                                let Some(snap) = snap else { continue };
                                if let Some(stamp) = stamp_of(&snap) {
                                    self.guards.insert(inst.clone(), (stamp, snap.clone()));
                                }
                                self.relay(inst, snap);
                            }
                        }
                        Command::Unsubscribe(list) => {
                            let gone: Vec<String> =
                                list.into_iter().filter(|i| self.channels.remove(i)).collect();
                            if gone.is_empty() {
                                continue;
                            }
                            for i in &gone {
                                self.guards.remove(i);
                            }
                            let names: Vec<String> = gone.iter().map(|i| keys::tick_channel(i)).collect();
                            sink.unsubscribe(&names).await?;
                        }
                    }
                }
                m = stream.next() => {
                    let Some(m) = m else {
                        return Err(BusError::PubSubClosed);
                    };
                    let Some(inst) = m.get_channel_name().strip_prefix(keys::TICK_PREFIX) else {
                        continue;
                    };
                    if !self.channels.contains(inst) {
                        continue;
                    }
                    let json = m.get_payload_bytes().to_vec();
                    if let Some((snap_stamp, snap)) = self.guards.get(inst) {
                        // Published before the snapshot was read: already delivered.
                        if json == *snap || stamp_of(&json).is_some_and(|s| s < *snap_stamp) {
                            continue;
                        }
                        self.guards.remove(inst);
                    }
                    let inst = inst.to_string();
                    self.relay(&inst, json);
                }
                _ = renew.tick() => {
                    let held: Vec<String> = self.channels.iter().cloned().collect();
                    if !held.is_empty() {
                        want(&mut conn, &held, false).await?;
                    }
                }
            }
        }
    }
}

/// Renews `instruments` in `md:wanted`; announces them on `md:want` when `announce`.
async fn want(
    conn: &mut redis::aio::MultiplexedConnection,
    instruments: &[String],
    announce: bool,
) -> redis::RedisResult<()> {
    let until = unix_ms() + WANT_TTL.as_millis() as u64;
    let mut pipe = redis::pipe();
    let mut zadd = redis::cmd("ZADD");
    zadd.arg(keys::WANTED);
    for i in instruments {
        zadd.arg(until).arg(i);
    }
    pipe.add_command(zadd).ignore();
    if announce {
        for i in instruments {
            pipe.cmd("PUBLISH").arg(keys::WANT).arg(i).ignore();
        }
    }
    pipe.query_async::<()>(conn).await
}

//! The bus: market data and order events over Redis, so that other programs and
//! other gateways ("edges") get them without a CTP session of their own.
//!
//! An **ingest** gateway (`Bus: redis://…` or `--bus`) publishes
//!
//! - every tick once, to the channel `md:tick:<InstrumentID>`, with the same JSON bytes
//!   its own clients get, and keeps the latest at the key `md:snapshot:<InstrumentID>`;
//! - every `RtnOrder`, `RtnTrade`, `ErrRtnOrderInsert` and `ErrRtnOrderAction` of every
//!   trading session, appended to the stream `td:<BrokerID>:<UserID>` (capped at about
//!   [`publisher::STREAM_MAXLEN`] entries; field `msg` holds the JSON the client got);
//! - its market-data login (`RspUserLogin`) at `md:session`, for edges' logins.
//!
//! Publishing never waits for Redis: hooks hand messages to bounded queues
//! ([`publisher`]); what does not fit while Redis is slow or down is counted as a gap
//! (`webctp_bus_gaps_total`) and logged, and publishing resumes when Redis is back.
//!
//! An **edge** gateway (`--md-from redis://…`, [`edge`]) serves `/md/` from the bus:
//! a subscription sends the snapshot first, then the live ticks. Edges tell the ingest
//! which instruments they need through the sorted set `md:wanted` (score: until when,
//! in Unix ms) and the channel `md:want`; the ingest subscribes them upstream
//! ([`demand`]) and lets them go when no edge renews them.

pub mod demand;
pub mod edge;
mod error;
pub mod keys;
pub mod publisher;

use std::sync::Arc;

use bytes::Bytes;

use crate::gateway::Dispatcher;

pub use error::BusError;
pub use publisher::Publisher;

/// Opens the Redis client for `url`, with a message that names the setting.
pub fn client(url: &str, setting: &'static str) -> Result<redis::Client, BusError> {
    redis::Client::open(url).map_err(|source| BusError::Url {
        setting,
        url: publisher::redact(url),
        source,
    })
}

/// The ingest side, attached to a gateway.
pub struct Bus {
    publisher: Arc<Publisher>,
    client: redis::Client,
    /// The outbox of the ingest's demand client, closed on shutdown.
    demand: std::sync::OnceLock<Arc<crate::gateway::Outbox>>,
}

impl Bus {
    /// Starts publishing to `url`. Must be called inside a tokio runtime. Redis need not
    /// be up yet: the publisher connects (and reconnects) on its own.
    pub fn start(url: &str) -> Result<Arc<Bus>, BusError> {
        let client = client(url, "Bus")?;
        Ok(Arc::new(Bus {
            publisher: Publisher::start(client.clone(), url),
            client,
            demand: std::sync::OnceLock::new(),
        }))
    }

    /// Hooks the bus into a started gateway: ticks from the hub, edges' demand.
    pub fn attach(self: &Arc<Bus>, dispatcher: &Arc<Dispatcher>) {
        let p = self.publisher.clone();
        dispatcher
            .md
            .set_tick_sink(Box::new(move |inst: &str, json: &Bytes| p.tick(inst, json)));
        if let Some(outbox) = demand::start(
            self.publisher.clone(),
            dispatcher.clone(),
            self.client.clone(),
        ) {
            let _ = self.demand.set(outbox);
        }
    }

    /// A trading push as the client of account `broker`/`user` got it: order events go
    /// to the account's stream.
    pub fn td_event(&self, msg_type: &str, broker: &str, user: &str, json: &Bytes) {
        if matches!(
            msg_type,
            "RtnOrder" | "RtnTrade" | "ErrRtnOrderInsert" | "ErrRtnOrderAction"
        ) {
            self.publisher.td(keys::td_stream(broker, user), json);
        }
    }

    /// Ends the demand client (its connection counts as open until then), on shutdown.
    pub fn shutdown(&self) {
        if let Some(o) = self.demand.get() {
            o.close(1001, "server shutting down");
        }
    }

    /// The publisher (for its counters).
    pub fn publisher(&self) -> &Arc<Publisher> {
        &self.publisher
    }
}

//! Prometheus metrics: what the gateway counts while it runs, and `/metrics`.
//!
//! Counters that code paths bump live in one process-wide [`Metrics`] ([`global`]),
//! so a hook is one line wherever the event happens, with no handle to pass around.
//! Values that already exist somewhere (ticks received, whether a front is up, open
//! sessions, queued queries, the process's memory) are not counted twice: they are read
//! when `/metrics` is scraped ([`scrape::render`]).
//!
//! The tick path pays nothing new: ticks are the hub's existing counter, read at scrape
//! time; delivered messages are added once per written batch, not per message; a
//! conflation bumps one relaxed atomic under the outbox lock it already holds.

pub mod scrape;

use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use crate::gateway::TdSession;
use crate::protocol::Endpoint;

/// Labels naming an endpoint (`md` or `td`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabel {
    pub endpoint: &'static str,
}

/// Why a client was dropped by the gateway.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

/// A request's MsgType (only names the parser knows, so the label set stays bounded)
/// and what became of it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub msg_type: String,
    pub result: &'static str,
}

/// Dropped-client reasons, as label values.
pub mod reason {
    /// More unsent trading messages than the queue holds.
    pub const SLOW_TD: &str = "td_queue_full";
    /// The socket took nothing for the write timeout.
    pub const WRITE_TIMEOUT: &str = "write_timeout";
    /// No Pong within the heartbeat timeout.
    pub const HEARTBEAT: &str = "heartbeat_timeout";
    /// A frame over the size limit.
    pub const FRAME_TOO_LARGE: &str = "frame_too_large";
    /// A text frame that is not UTF-8.
    pub const BAD_UTF8: &str = "invalid_utf8";
    /// The connection limit was reached.
    pub const CONNECTION_LIMIT: &str = "connection_limit";
}

/// Request results, as label values.
pub mod result {
    /// Parsed and routed to the hub or the session.
    pub const ACCEPTED: &str = "accepted";
    /// Refused by the parser (-400).
    pub const BAD_REQUEST: &str = "bad_request";
    /// An unknown MsgType (-404).
    pub const NOT_IMPLEMENTED: &str = "not_implemented";
    /// Over the request rate limit.
    pub const RATE_LIMITED: &str = "rate_limited";
    /// Sent before logging in.
    pub const NOT_LOGGED_IN: &str = "not_logged_in";
}

/// Counters and histograms fed by hooks in the gateway.
#[derive(Debug)]
pub struct Metrics {
    /// Open WebSocket connections by endpoint.
    pub connections: Family<EndpointLabel, Gauge>,
    md_connections: Gauge,
    td_connections: Gauge,
    /// Messages written to clients' sockets, by endpoint.
    pub messages_out: Family<EndpointLabel, Counter>,
    md_out: Counter,
    td_out: Counter,
    /// Ticks replaced in a slow client's queue by a newer one.
    pub conflated: Counter,
    /// Clients the gateway dropped, by reason.
    pub dropped_clients: Family<ReasonLabel, Counter>,
    /// Requests by MsgType and result.
    pub requests: Family<RequestLabels, Counter>,
    /// ReqOrderInsert sent upstream -> first RtnOrder of that order, in seconds.
    pub order_latency: Histogram,
    /// Queries that had to wait for the pacing interval.
    pub pacing_waits: Counter,
    /// Seconds queries waited for the pacing interval.
    pub pacing_wait_seconds: Counter<f64, std::sync::atomic::AtomicU64>,
    /// Queries CTP refused with its flow-control codes (-2/-3) and the gateway re-queued.
    pub flow_control_retries: Counter,
    /// Journal write + fdatasync of one group commit, in seconds.
    pub journal_sync: Histogram,
    /// Trading sessions, looked at when scraped.
    td_sessions: Mutex<Vec<Weak<TdSession>>>,
}

/// The process's metrics.
pub fn global() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

impl Metrics {
    fn new() -> Metrics {
        let connections = Family::<EndpointLabel, Gauge>::default();
        let messages_out = Family::<EndpointLabel, Counter>::default();
        let label = |endpoint| EndpointLabel { endpoint };
        // The sim's ledger lives below this crate's layers: it reports through a hook.
        crate::ctp::sim::ledger::observe::set_sync_observer(|d| {
            global().journal_sync.observe(d.as_secs_f64());
        });
        Metrics {
            md_connections: connections.get_or_create_owned(&label("md")),
            td_connections: connections.get_or_create_owned(&label("td")),
            connections,
            md_out: messages_out.get_or_create_owned(&label("md")),
            td_out: messages_out.get_or_create_owned(&label("td")),
            messages_out,
            conflated: Counter::default(),
            dropped_clients: Family::default(),
            requests: Family::default(),
            // 50 µs .. ~26 s
            order_latency: Histogram::new(exponential_buckets(0.000_05, 2.0, 20)),
            pacing_waits: Counter::default(),
            pacing_wait_seconds: Counter::default(),
            flow_control_retries: Counter::default(),
            // 10 µs .. ~5 s
            journal_sync: Histogram::new(exponential_buckets(0.000_01, 2.0, 20)),
            td_sessions: Mutex::new(Vec::new()),
        }
    }

    fn connections_of(&self, e: Endpoint) -> &Gauge {
        match e {
            Endpoint::Md => &self.md_connections,
            Endpoint::Td => &self.td_connections,
        }
    }

    /// A connection opened on `e`.
    pub fn connected(&self, e: Endpoint) {
        self.connections_of(e).inc();
    }

    /// A connection on `e` closed.
    pub fn disconnected(&self, e: Endpoint) {
        self.connections_of(e).dec();
    }

    /// `n` messages were written to a client of `e`.
    pub fn sent(&self, e: Endpoint, n: usize) {
        match e {
            Endpoint::Md => self.md_out.inc_by(n as u64),
            Endpoint::Td => self.td_out.inc_by(n as u64),
        };
    }

    /// The gateway dropped a client.
    pub fn dropped(&self, reason: &'static str) {
        self.dropped_clients
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    /// A request was handled with `result`.
    pub fn request(&self, msg_type: &str, result: &'static str) {
        let labels = RequestLabels {
            msg_type: msg_type.to_string(),
            result,
        };
        self.requests.get_or_create(&labels).inc();
    }

    /// The parser refused a request. Only MsgTypes the protocol knows become labels,
    /// so a client cannot grow the label set.
    pub fn refused(&self, e: &crate::protocol::RequestError) {
        let result = if e.code == crate::protocol::errors::NOT_IMPLEMENTED {
            result::NOT_IMPLEMENTED
        } else {
            result::BAD_REQUEST
        };
        let known = matches!(
            e.msg_type.as_str(),
            "Ping"
                | "Pong"
                | "ReqUserLogin"
                | "ReqUserLogout"
                | "SubscribeMarketData"
                | "UnSubscribeMarketData"
                | "ReqInputOrder"
        ) || crate::protocol::TD_REQUEST_SPECS
            .iter()
            .any(|s| s.msg_type == e.msg_type);
        self.request(if known { &e.msg_type } else { "unknown" }, result);
    }

    /// Looks at `session` when scraped, for as long as it lives.
    pub fn track_td(&self, session: &Arc<TdSession>) {
        let mut v = self.td_sessions.lock().unwrap_or_else(|e| e.into_inner());
        v.retain(|w| w.strong_count() > 0);
        v.push(Arc::downgrade(session));
    }

    /// The trading sessions alive now.
    fn live_td(&self) -> Vec<Arc<TdSession>> {
        let mut v = self.td_sessions.lock().unwrap_or_else(|e| e.into_inner());
        v.retain(|w| w.strong_count() > 0);
        v.iter().filter_map(Weak::upgrade).collect()
    }
}

/// Times ReqOrderInsert -> first RtnOrder for one trading session: the session notes
/// the OrderRef it sent, the first RtnOrder carrying it closes the measurement.
#[derive(Debug, Default)]
pub struct OrderClock {
    sent: Mutex<std::collections::HashMap<String, Instant>>,
}

/// Orders awaiting their first RtnOrder beyond which the oldest are forgotten (an order
/// the front never acknowledged must not grow the map forever).
const ORDER_CLOCK_LIMIT: usize = 4096;

impl OrderClock {
    /// A ReqOrderInsert with `order_ref` goes out.
    pub fn sent(&self, order_ref: &str) {
        let mut m = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= ORDER_CLOCK_LIMIT {
            m.clear();
        }
        m.insert(order_ref.to_string(), Instant::now());
    }

    /// An RtnOrder of `order_ref` arrived.
    pub fn rtn_order(&self, order_ref: &str) {
        let t = self
            .sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(order_ref);
        if let Some(t) = t {
            global().order_latency.observe(t.elapsed().as_secs_f64());
        }
    }
}

/// Counts a trading session's pacing waits: the pump may look several times during
/// one wait (woken by a new query), and each wait must count once.
#[derive(Debug, Default)]
pub struct PacingClock {
    until: Mutex<Option<Instant>>,
}

impl PacingClock {
    /// The next query may not go before `until`.
    pub fn waiting(&self, until: Instant) {
        let mut u = self.until.lock().unwrap_or_else(|e| e.into_inner());
        if *u == Some(until) {
            return;
        }
        *u = Some(until);
        let m = global();
        m.pacing_waits.inc();
        m.pacing_wait_seconds.inc_by(
            until
                .saturating_duration_since(Instant::now())
                .as_secs_f64(),
        );
    }
}

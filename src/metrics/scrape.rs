//! One scrape of `/metrics`: the hooked counters of [`super::global`] plus the values
//! read from the gateway at this moment, encoded in the Prometheus text format by
//! `prometheus-client`.

use std::sync::atomic::Ordering;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::{Registry, Unit};

use super::{EndpointLabel, global};
use crate::gateway::Dispatcher;

/// The content type of what [`render`] returns.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FrontLabel {
    front: &'static str,
}

/// Values read at scrape time.
fn gauge_family<L>(values: &[(L, i64)]) -> Family<L, Gauge>
where
    L: Clone + std::hash::Hash + Eq + EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static,
{
    let f = Family::<L, Gauge>::default();
    for (l, v) in values {
        f.get_or_create(l).set(*v);
    }
    f
}

/// The whole exposition for `dispatcher`'s process.
pub fn render(d: &Dispatcher) -> String {
    let m = global();
    let mut r = Registry::with_prefix("webctp");
    let ep = |endpoint| EndpointLabel { endpoint };

    r.register(
        "connections",
        "Open WebSocket connections by endpoint",
        m.connections.clone(),
    );
    let sessions = m.live_td();
    let td_logged_in = sessions.iter().filter(|s| s.is_logged_in()).count() as i64;
    let td_front_connected = sessions.iter().filter(|s| s.front_connected()).count() as i64;
    let td_front_waiting = sessions.iter().filter(|s| s.front_reconnecting()).count() as i64;
    r.register(
        "logged_in",
        "Logged-in clients by endpoint (md: clients answered RspUserLogin; td: trading sessions logged in upstream)",
        gauge_family(&[
            (ep("md"), d.md.logged_in_clients() as i64),
            (ep("td"), td_logged_in),
        ]),
    );
    let md_up = i64::from(d.md.is_up());
    // td fronts belong to sessions: up when at least one session is connected and none
    // is waiting to reconnect.
    let td_up = i64::from(td_front_connected > 0 && td_front_waiting == 0);
    r.register(
        "front_up",
        "1 when the front is connected and logged in (md: the shared session; td: every open trading session's front connected)",
        gauge_family(&[
            (FrontLabel { front: "md" }, md_up),
            (FrontLabel { front: "td" }, td_up),
        ]),
    );
    r.register(
        "td_fronts_reconnecting",
        "Trading sessions whose front dropped and that are waiting to reconnect",
        ConstGauge::new(td_front_waiting),
    );
    r.register(
        "md_subscriptions",
        "Instruments subscribed upstream by the shared market-data session",
        ConstGauge::new(d.md.upstream_subscriptions() as i64),
    );
    r.register(
        "ticks_in",
        "Ticks received from the market-data front",
        ConstCounter::new(d.md.ticks.load(Ordering::Relaxed)),
    );
    r.register(
        "messages_out",
        "Messages written to clients' sockets by endpoint",
        m.messages_out.clone(),
    );
    r.register(
        "conflated",
        "Ticks replaced in a slow client's queue by a newer tick of the same instrument",
        m.conflated.clone(),
    );
    r.register(
        "dropped_clients",
        "Clients the gateway dropped or refused, by reason",
        m.dropped_clients.clone(),
    );
    r.register(
        "requests",
        "Requests by MsgType and result",
        m.requests.clone(),
    );
    r.register_with_unit(
        "order_insert_to_rtn_order",
        "ReqOrderInsert sent upstream to the order's first RtnOrder",
        Unit::Seconds,
        m.order_latency.clone(),
    );
    let queued: usize = sessions.iter().map(|s| s.queued_queries()).sum();
    r.register(
        "query_queue_depth",
        "Queries waiting for their turn under CTP's query pacing, all sessions",
        ConstGauge::new(queued as i64),
    );
    r.register(
        "query_pacing_waits",
        "Times a query waited for the pacing interval",
        m.pacing_waits.clone(),
    );
    r.register_with_unit(
        "query_pacing_wait",
        "Time queries waited for the pacing interval",
        Unit::Seconds,
        m.pacing_wait_seconds.clone(),
    );
    r.register(
        "query_flow_control_retries",
        "Queries CTP refused with flow control (-2/-3) and the gateway queued again",
        m.flow_control_retries.clone(),
    );
    r.register_with_unit(
        "journal_sync",
        "Journal write and fdatasync of one group commit (sim ledger, Durability: fsync)",
        Unit::Seconds,
        m.journal_sync.clone(),
    );
    if let Some(bus) = &d.bus {
        let s = &bus.publisher().stats;
        let kind = |kind| KindLabel { kind };
        let counters = |values: [(KindLabel, u64); 2]| {
            let f = Family::<KindLabel, prometheus_client::metrics::counter::Counter>::default();
            for (l, v) in values {
                f.get_or_create(&l).inc_by(v);
            }
            f
        };
        r.register(
            "bus_published",
            "Messages published to the Redis bus (tick: PUBLISH + snapshot; td: stream entries)",
            counters([
                (kind("tick"), s.ticks_published.load(Ordering::Relaxed)),
                (kind("td"), s.td_published.load(Ordering::Relaxed)),
            ]),
        );
        r.register(
            "bus_gaps",
            "Messages not published to the Redis bus (queue full or Redis down)",
            counters([
                (kind("tick"), s.tick_gaps.load(Ordering::Relaxed)),
                (kind("td"), s.td_gaps.load(Ordering::Relaxed)),
            ]),
        );
        r.register(
            "bus_connected",
            "1 while the publisher is connected to Redis",
            ConstGauge::new(i64::from(s.connected.load(Ordering::Relaxed))),
        );
    }
    r.register(
        "uptime_seconds",
        "Seconds since the gateway started",
        ConstGauge::new(d.started.elapsed().as_secs() as i64),
    );

    // The conventional process_* names, as the official client libraries export them.
    let p = crate::bench::stats::proc_stats(std::process::id());
    let mut proc_reg = Registry::with_prefix("process");
    proc_reg.register_with_unit(
        "resident_memory",
        "Resident memory size",
        Unit::Bytes,
        ConstGauge::new((p.rss_kb * 1024) as i64),
    );
    proc_reg.register_with_unit(
        "cpu",
        "User and system CPU time spent",
        Unit::Seconds,
        ConstCounter::new(p.cpu_s),
    );
    proc_reg.register(
        "open_fds",
        "Open file descriptors",
        ConstGauge::new(p.fds as i64),
    );

    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &r);
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &proc_reg);
    out
}

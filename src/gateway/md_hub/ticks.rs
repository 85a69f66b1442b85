//! The hot path: a tick is serialized once and the same bytes go to every subscriber
//! (and the bus), under a read lock on the routing table only.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::MdHub;
use crate::ctp::BackendError;
use crate::protocol::fields::DepthMarketData;
use crate::protocol::message::market_data_json;

impl MdHub {
    /// A tick from the backend, serialized once for every subscriber.
    pub(super) fn on_tick(&self, data: DepthMarketData) {
        self.ticks.fetch_add(1, Ordering::Relaxed);
        let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
        let route = routes.get(&data.InstrumentID);
        let sink = self.tick_sink.get();
        if route.is_none() && sink.is_none() {
            return;
        }
        // Unset prices (DBL_MAX) are written as 0 by the serializer.
        let bytes = Bytes::from(market_data_json(&data));
        if let Some(sink) = sink {
            sink(&data.InstrumentID, &bytes);
        }
        if let Some(route) = route {
            for (_, outbox) in &route.subscribers {
                outbox.push_md(route.key, bytes.clone());
            }
        }
    }

    /// A tick already serialized (an edge gateway relays the ingest's bytes).
    pub(super) fn on_tick_json(&self, instrument: &str, json: Vec<u8>) -> Result<(), BackendError> {
        let json = Bytes::from(json);
        self.ticks.fetch_add(1, Ordering::Relaxed);
        let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
        if let Some(sink) = self.tick_sink.get() {
            sink(instrument, &json);
        }
        if let Some(route) = routes.get(instrument) {
            for (_, outbox) in &route.subscribers {
                outbox.push_md(route.key, json.clone());
            }
        }
        Ok(())
    }
}

//! A trading session: one `CThostFtdcTraderApi` per login, its SPI forwarding to
//! [`TdEvents`], settlement statements joined before they go up.

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::flow::FlowLease;
use super::handle::ApiHandle;
use super::loader::CreateTraderApi;
use super::settlement::SettlementJoiner;
use super::spi::{SpiObject, SpiSink};
use super::spi_glue::{TD_SPI_VTBL, trader_request};
use super::vtables::{CThostFtdcTraderApi, THOST_TE_RESUME_TYPE};
use webctp_protocol::backend::{BackendError, FrontEvent, TdEvents, TdSession};
use webctp_protocol::fields::{RspInfo, SettlementInfo};
use webctp_protocol::{Reply, TdRequest};

/// Forwards the trading callbacks.
struct TdSink {
    events: Arc<dyn TdEvents>,
    alive: Arc<AtomicBool>,
    settlement: Mutex<SettlementJoiner>,
}

impl TdSink {
    fn alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    fn joiner(&self) -> std::sync::MutexGuard<'_, SettlementJoiner> {
        self.settlement.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SpiSink for TdSink {
    fn reply(&self, reply: Reply) {
        if self.alive() {
            self.events.reply(reply);
        }
    }

    fn front_connected(&self) {
        if self.alive() {
            self.events.front(FrontEvent::Connected);
        }
    }

    fn front_disconnected(&self, reason: i32) {
        self.joiner().clear();
        if self.alive() {
            self.events.front(FrontEvent::Disconnected { reason });
        }
    }

    fn heartbeat_warning(&self, time_lapse: i32) {
        tracing::warn!(
            seconds = time_lapse,
            "no message from the trading front for a while"
        );
    }

    fn unhandled(&self, callback: &'static str) {
        tracing::debug!(callback, "trading callback not carried by the protocol");
    }

    fn settlement_chunk(
        &self,
        chunk: Option<(SettlementInfo, Vec<u8>)>,
        info: Option<RspInfo>,
        request_id: i32,
        is_last: bool,
    ) {
        let whole = self.joiner().add(chunk, info, request_id, is_last);
        if let Some(reply) = whole {
            self.reply(reply);
        }
    }
}

/// One trading session on the official library.
pub struct NativeTdSession {
    handle: ApiHandle<CThostFtdcTraderApi>,
}

impl NativeTdSession {
    /// Creates the API object with its flow files in `flow`, subscribes the private
    /// and public flows from `resume`, registers the fronts and starts it;
    /// `OnFrontConnected` follows on the library's thread.
    pub fn open(
        create: CreateTraderApi,
        flow: FlowLease,
        fronts: &[CString],
        resume: THOST_TE_RESUME_TYPE,
        events: Arc<dyn TdEvents>,
    ) -> Result<NativeTdSession, BackendError> {
        let prefix = super::flow::prepare(flow.path())?;
        let alive = Arc::new(AtomicBool::new(true));
        let spi = SpiObject::new(
            &TD_SPI_VTBL.vtbl,
            Box::new(TdSink {
                events,
                alive: alive.clone(),
                settlement: Mutex::new(SettlementJoiner::default()),
            }),
        );
        let api = unsafe { create(prefix.as_ptr(), true) };
        let handle = ApiHandle::new(api, spi, alive, Box::new(flow), "td").ok_or_else(|| {
            BackendError::Session("CreateFtdcTraderApi returned no API object".into())
        })?;
        unsafe {
            let api = handle.api();
            let v = &*(*api).vtbl;
            (v.RegisterSpi)(api, handle.spi());
            // Both must be chosen before Init, or the library uses its default (RESTART).
            (v.SubscribePrivateTopic)(api, resume);
            (v.SubscribePublicTopic)(api, resume);
            for front in fronts {
                (v.RegisterFront)(api, front.as_ptr().cast_mut());
            }
            (v.Init)(api);
        }
        Ok(NativeTdSession { handle })
    }
}

impl TdSession for NativeTdSession {
    fn request(&self, req: &TdRequest, request_id: i32) -> i32 {
        // The handle keeps the API object alive for as long as `self` is.
        unsafe { trader_request(self.handle.api(), req, request_id) }
    }
}

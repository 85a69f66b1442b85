//! The market-data session: one `CThostFtdcMdApi`, its SPI forwarding to [`MdEvents`].

use std::ffi::{CString, c_char, c_int};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::convert::CtpStruct;
use super::flow::FlowLease;
use super::handle::ApiHandle;
use super::loader::CreateMdApi;
use super::spi::{SpiObject, SpiSink};
use super::spi_glue::MD_SPI_VTBL;
use super::vtables::{CThostFtdcMdApi, CThostFtdcMdApiVtbl};
use webctp_protocol::Reply;
use webctp_protocol::backend::{BackendError, FrontEvent, MdEvents, MdSession};
use webctp_protocol::errors::request;
use webctp_protocol::fields::{Body, ReqUserLogin, RspInfo, SettlementInfo};

/// Forwards the market-data callbacks.
struct MdSink {
    events: Arc<dyn MdEvents>,
    alive: Arc<AtomicBool>,
}

impl MdSink {
    fn alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }
}

impl SpiSink for MdSink {
    fn reply(&self, reply: Reply) {
        if !self.alive() {
            return;
        }
        if reply.msg_type == "RtnDepthMarketData" {
            if let Some(Body::DepthMarketData(d)) = reply.body {
                self.events.tick(*d);
            }
            return;
        }
        self.events.reply(reply);
    }

    fn front_connected(&self) {
        if self.alive() {
            self.events.front(FrontEvent::Connected);
        }
    }

    fn front_disconnected(&self, reason: i32) {
        if self.alive() {
            self.events.front(FrontEvent::Disconnected { reason });
        }
    }

    fn heartbeat_warning(&self, time_lapse: i32) {
        tracing::warn!(
            seconds = time_lapse,
            "no message from the market data front for a while"
        );
    }

    fn unhandled(&self, callback: &'static str) {
        tracing::debug!(callback, "market data callback not carried by the protocol");
    }

    fn settlement_chunk(
        &self,
        _chunk: Option<(SettlementInfo, Vec<u8>)>,
        _info: Option<RspInfo>,
        _request_id: i32,
        _is_last: bool,
    ) {
        // Only trading sessions answer settlement queries.
    }
}

/// The shared market-data session on the official library.
pub struct NativeMdSession {
    handle: ApiHandle<CThostFtdcMdApi>,
}

impl NativeMdSession {
    /// Creates the API object with its flow files in `flow`, registers the fronts
    /// and starts it; `OnFrontConnected` follows on the library's thread.
    pub fn open(
        create: CreateMdApi,
        flow: FlowLease,
        fronts: &[CString],
        events: Arc<dyn MdEvents>,
    ) -> Result<NativeMdSession, BackendError> {
        let prefix = super::flow::prepare(flow.path())?;
        let alive = Arc::new(AtomicBool::new(true));
        let spi = SpiObject::new(
            &MD_SPI_VTBL.vtbl,
            Box::new(MdSink {
                events,
                alive: alive.clone(),
            }),
        );
        // Plain TCP market data: no UDP, no multicast; production (not evaluation) mode.
        let api = unsafe { create(prefix.as_ptr(), false, false, true) };
        let handle = ApiHandle::new(api, spi, alive, Box::new(flow), "md").ok_or_else(|| {
            BackendError::Session("CreateFtdcMdApi returned no API object".into())
        })?;
        unsafe {
            let api = handle.api();
            let v = vtbl(api);
            (v.RegisterSpi)(api, handle.spi());
            for front in fronts {
                // The library copies the address; it only takes `char*` for old C++.
                (v.RegisterFront)(api, front.as_ptr().cast_mut());
            }
            (v.Init)(api);
        }
        Ok(NativeMdSession { handle })
    }

    /// Calls a `(char* ppInstrumentID[], int nCount)` method.
    fn with_ids(
        &self,
        ids: &[String],
        method: unsafe extern "C" fn(*mut CThostFtdcMdApi, *mut *mut c_char, c_int) -> c_int,
    ) -> i32 {
        if ids.is_empty() {
            return 0;
        }
        let Ok(count) = c_int::try_from(ids.len()) else {
            return request::NETWORK_FAILURE;
        };
        let Ok(owned) = ids
            .iter()
            .map(|id| CString::new(id.as_bytes()))
            .collect::<Result<Vec<CString>, _>>()
        else {
            return request::NETWORK_FAILURE;
        };
        let mut ptrs: Vec<*mut c_char> = owned.iter().map(|c| c.as_ptr().cast_mut()).collect();
        unsafe { method(self.handle.api(), ptrs.as_mut_ptr(), count) }
    }
}

/// The vtable of a live API object.
///
/// # Safety
/// `api` must point at a live API object.
unsafe fn vtbl<'a>(api: *mut CThostFtdcMdApi) -> &'a CThostFtdcMdApiVtbl {
    unsafe { &*(*api).vtbl }
}

impl MdSession for NativeMdSession {
    fn login(&self, req: &ReqUserLogin, request_id: i32) -> i32 {
        let mut c = req.to_c();
        let api = self.handle.api();
        unsafe { (vtbl(api).ReqUserLogin)(api, &mut c, request_id) }
    }

    fn subscribe(&self, instruments: &[String]) -> i32 {
        let m = unsafe { vtbl(self.handle.api()) }.SubscribeMarketData;
        self.with_ids(instruments, m)
    }

    fn unsubscribe(&self, instruments: &[String]) -> i32 {
        let m = unsafe { vtbl(self.handle.api()) }.UnSubscribeMarketData;
        self.with_ids(instruments, m)
    }
}

/// The session used when no market-data front is configured: every call fails and
/// no front ever connects.
pub struct NoMdFront;

impl MdSession for NoMdFront {
    fn login(&self, _req: &ReqUserLogin, _request_id: i32) -> i32 {
        -1
    }

    fn subscribe(&self, _instruments: &[String]) -> i32 {
        -1
    }

    fn unsubscribe(&self, _instruments: &[String]) -> i32 {
        -1
    }
}

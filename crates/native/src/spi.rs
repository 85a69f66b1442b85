//! The Rust side of an SPI object: the library calls its vtable from its own threads;
//! every call ends in a [`SpiSink`] method, inside `catch_unwind`.

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

use webctp_protocol::Reply;
use webctp_protocol::fields::{RspInfo, SettlementInfo};

/// Receives what the library reports. Implementations must not block: they run on the
/// library's network thread.
pub trait SpiSink: Send + Sync {
    /// An `OnRsp*`, `OnRtn*` or `OnErrRtn*` callback, converted.
    fn reply(&self, reply: Reply);
    /// `OnFrontConnected`.
    fn front_connected(&self);
    /// `OnFrontDisconnected(nReason)`.
    fn front_disconnected(&self, reason: i32);
    /// `OnHeartBeatWarning(nTimeLapse)`.
    fn heartbeat_warning(&self, _time_lapse: i32) {}
    /// A callback the protocol does not carry.
    fn unhandled(&self, _callback: &'static str) {}
    /// One `OnRspQrySettlementInfo` callback: the record and its raw GBK `Content`,
    /// which may end in the middle of a character continued by the next callback.
    fn settlement_chunk(
        &self,
        chunk: Option<(SettlementInfo, Vec<u8>)>,
        info: Option<RspInfo>,
        request_id: i32,
        is_last: bool,
    );
}

/// An SPI object as C++ sees it: the vtable pointer first, then our data.
#[repr(C)]
pub struct SpiObject {
    vtbl: *const c_void,
    sink: Box<dyn SpiSink>,
}

impl SpiObject {
    /// A boxed object whose vtable is `vtbl` (one of the generated `*_SPI_VTBL`s).
    pub fn new<V>(vtbl: &'static V, sink: Box<dyn SpiSink>) -> Box<SpiObject> {
        Box::new(SpiObject {
            vtbl: (vtbl as *const V).cast(),
            sink,
        })
    }
}

/// Runs `f` with the sink of `this`; a panic is logged and stops there.
pub(crate) fn with_sink(this: *const SpiObject, f: impl FnOnce(&dyn SpiSink)) {
    let result = catch_unwind(AssertUnwindSafe(|| {
        // The library only calls us with the pointer we registered, which lives as long
        // as the API object.
        if let Some(obj) = unsafe { this.as_ref() } {
            f(&*obj.sink);
        }
    }));
    if result.is_err() {
        tracing::error!("panic in a CTP callback; the callback was dropped");
    }
}

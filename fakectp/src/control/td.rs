//! `CThostFtdcTraderApi` methods backed by a sim trading session; the request slots
//! (generated in `api_glue`) end in [`request`].

use std::ffi::{c_char, c_int, c_void};
use std::sync::Arc;

use webctp_native::vtables::*;
use webctp_protocol::errors::request::NETWORK_FAILURE;
use webctp_protocol::errors::{ctp, rsp_info};
use webctp_protocol::{Reply, TdRequest};

use super::{c_str, guard};
use crate::api::{ApiState, FakeApi, Kind};
use crate::api_glue::TD_API_VTBL;
use crate::engine;

type Obj = FakeApi<CThostFtdcTraderApiVtbl>;

/// A new trading API object.
pub fn create() -> *mut CThostFtdcTraderApi {
    Obj::create(&TD_API_VTBL.vtbl, Kind::Td).cast()
}

/// Runs `f` with the object's state (`fallback` for a null object or a panic).
fn with<T: Copy>(
    this: *mut CThostFtdcTraderApi,
    fallback: T,
    f: impl FnOnce(&Arc<ApiState>) -> T,
) -> T {
    super::with::<CThostFtdcTraderApiVtbl, T>(this.cast(), fallback, f)
}

/// A decoded request: to the sim session, whose answer code is CTP's (-1 while the
/// front is down), after the library's own checks (see the crate docs): malformed
/// requests get `OnRspError`, queries obey the flow control.
pub fn request(this: *mut CThostFtdcTraderApi, req: TdRequest, nRequestID: c_int) -> c_int {
    with(this, NETWORK_FAILURE, |s| {
        send(s, &req, nRequestID, engine::flow_limits())
    })
}

fn send(s: &ApiState, req: &TdRequest, rid: c_int, limits: engine::FlowLimits) -> c_int {
    let Some(td) = s.td() else {
        return NETWORK_FAILURE;
    };
    if let Err(e) = req.validate() {
        tracing::debug!(request = req.spec().msg_type, error = %e, "fakectp: malformed request");
        s.post(Reply::response(
            "RspError",
            "",
            None,
            Some(rsp_info(ctp::BAD_FIELD)),
            rid,
            true,
        ));
        return 0;
    }
    let is_query = req.spec().is_query;
    if is_query && let Err(code) = s.admit_query(rid, limits) {
        tracing::info!(
            request = req.spec().msg_type,
            code,
            "fakectp: query refused by flow control"
        );
        return code;
    }
    let code = td.request(req, rid);
    if is_query && code != 0 {
        s.forget_query(rid);
    }
    code
}

/// A request the sim does not serve: it cannot be sent.
pub fn unsupported(this: *mut CThostFtdcTraderApi, name: &str) -> c_int {
    let _ = this;
    tracing::debug!(request = name, "fakectp does not serve this request");
    NETWORK_FAILURE
}

pub unsafe extern "C" fn Release(this: *mut CThostFtdcTraderApi) {
    guard((), || unsafe { Obj::release(this.cast()) })
}

pub unsafe extern "C" fn Init(this: *mut CThostFtdcTraderApi) {
    with(this, (), |s| s.init())
}

pub unsafe extern "C" fn Join(this: *mut CThostFtdcTraderApi) -> c_int {
    with(this, 0, |s| {
        let s = s.clone();
        while !s.stopped.load(std::sync::atomic::Ordering::Acquire) {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        0
    })
}

pub unsafe extern "C" fn GetTradingDay(this: *mut CThostFtdcTraderApi) -> *const c_char {
    with(this, std::ptr::null(), |s| s.trading_day_ptr())
}

pub unsafe extern "C" fn GetFrontInfo(this: *mut CThostFtdcTraderApi, pFrontInfo: *mut c_void) {
    // CThostFtdcFrontInfoField is not among the bound structs; left as it is.
    let _ = (this, pFrontInfo);
}

pub unsafe extern "C" fn RegisterFront(
    this: *mut CThostFtdcTraderApi,
    pszFrontAddress: *mut c_char,
) {
    with(this, (), |s| {
        if let Some(f) = unsafe { c_str(pszFrontAddress) } {
            s.add_front(f);
        }
    })
}

pub unsafe extern "C" fn RegisterNameServer(
    this: *mut CThostFtdcTraderApi,
    pszNsAddress: *mut c_char,
) {
    // A name server leads to fronts; here it is one.
    unsafe { RegisterFront(this, pszNsAddress) }
}

pub unsafe extern "C" fn RegisterFensUserInfo(
    this: *mut CThostFtdcTraderApi,
    pFensUserInfo: *mut c_void,
) {
    let _ = (this, pFensUserInfo);
}

pub unsafe extern "C" fn RegisterSpi(
    this: *mut CThostFtdcTraderApi,
    pSpi: *mut CThostFtdcTraderSpi,
) {
    with(this, (), |s| s.set_spi(pSpi.cast()))
}

pub unsafe extern "C" fn SubscribePrivateTopic(
    this: *mut CThostFtdcTraderApi,
    nResumeType: THOST_TE_RESUME_TYPE,
) {
    // The sim only has live flows: every resume type behaves like QUICK.
    let _ = this;
    guard((), || {
        tracing::debug!(resume = nResumeType, "private topic")
    })
}

pub unsafe extern "C" fn SubscribePublicTopic(
    this: *mut CThostFtdcTraderApi,
    nResumeType: THOST_TE_RESUME_TYPE,
) {
    let _ = this;
    guard((), || tracing::debug!(resume = nResumeType, "public topic"))
}

pub unsafe extern "C" fn RegisterUserSystemInfo(
    this: *mut CThostFtdcTraderApi,
    pUserSystemInfo: *mut c_void,
) -> c_int {
    let _ = (this, pUserSystemInfo);
    0
}

pub unsafe extern "C" fn SubmitUserSystemInfo(
    this: *mut CThostFtdcTraderApi,
    pUserSystemInfo: *mut c_void,
) -> c_int {
    let _ = (this, pUserSystemInfo);
    0
}

pub unsafe extern "C" fn RegisterWechatUserSystemInfo(
    this: *mut CThostFtdcTraderApi,
    pUserSystemInfo: *mut c_void,
) -> c_int {
    let _ = (this, pUserSystemInfo);
    0
}

pub unsafe extern "C" fn SubmitWechatUserSystemInfo(
    this: *mut CThostFtdcTraderApi,
    pUserSystemInfo: *mut c_void,
) -> c_int {
    let _ = (this, pUserSystemInfo);
    0
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use webctp_protocol::backend::TdSession;
    use webctp_protocol::fields::{QryInstrument, QryTradingAccount};

    use super::*;
    use crate::api::Event;

    /// Counts what reaches the sim.
    #[derive(Default)]
    struct Counting(AtomicUsize);

    impl TdSession for Counting {
        fn request(&self, _req: &TdRequest, _rid: i32) -> i32 {
            self.0.fetch_add(1, Ordering::Relaxed);
            0
        }
    }

    fn answer(rid: i32) -> Reply {
        Reply::response(
            "RspQryTradingAccount",
            "TradingAccount",
            None,
            None,
            rid,
            true,
        )
    }

    #[test]
    fn queries_obey_the_flow_limits_and_malformed_requests_get_rsp_error() {
        let sim = Arc::new(Counting::default());
        let (s, rx) = ApiState::connected_for_test(sim.clone());
        let limits = engine::FlowLimits {
            query_interval: Duration::from_secs(3600),
            max_pending_queries: 1,
        };
        let q = TdRequest::ReqQryTradingAccount(QryTradingAccount::default());
        assert_eq!(send(&s, &q, 1, limits), 0);
        // Unanswered: a second query is over the pending limit.
        assert_eq!(send(&s, &q, 2, limits), -2);
        s.answered(&answer(1));
        // Answered, but within the interval.
        assert_eq!(send(&s, &q, 3, limits), -3);
        let fast = engine::FlowLimits {
            query_interval: Duration::ZERO,
            max_pending_queries: 1,
        };
        assert_eq!(send(&s, &q, 4, fast), 0);
        assert_eq!(sim.0.load(Ordering::Relaxed), 2);

        // An InstrumentID that fills its C field without a NUL decodes 81 bytes long.
        let bad = TdRequest::ReqQryInstrument(QryInstrument {
            InstrumentID: "x".repeat(81),
            ..QryInstrument::default()
        });
        assert_eq!(send(&s, &bad, 9, fast), 0);
        assert_eq!(sim.0.load(Ordering::Relaxed), 2, "not sent to the sim");
        match rx.try_recv() {
            Ok(Event::Reply(r)) => {
                assert_eq!(r.msg_type, "RspError");
                assert_eq!(r.request_id, Some(9));
                assert_eq!(r.rsp_info.map(|i| i.ErrorID), Some(ctp::BAD_FIELD));
            }
            _ => panic!("no OnRspError"),
        }
    }
}

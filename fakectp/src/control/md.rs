//! `CThostFtdcMdApi` methods backed by a sim market-data session.

use std::ffi::{c_char, c_int, c_void};
use std::sync::Arc;

use webctp_native::convert::CtpStruct;
use webctp_native::ffi::{CThostFtdcReqUserLoginField, CThostFtdcUserLogoutField};
use webctp_native::vtables::*;
use webctp_protocol::Reply;
use webctp_protocol::errors::request::NETWORK_FAILURE;
use webctp_protocol::errors::rsp_info;
use webctp_protocol::fields::{Body, ReqUserLogin as Login, SpecificInstrument, UserLogout};

use super::{c_str, guard};
use crate::api::{ApiState, FakeApi, Kind};
use crate::api_glue::MD_API_VTBL;

type Obj = FakeApi<CThostFtdcMdApiVtbl>;

/// A new market-data API object.
pub fn create() -> *mut CThostFtdcMdApi {
    Obj::create(&MD_API_VTBL.vtbl, Kind::Md).cast()
}

/// Runs `f` with the object's state (`fallback` for a null object or a panic).
fn with<T: Copy>(
    this: *mut CThostFtdcMdApi,
    fallback: T,
    f: impl FnOnce(&Arc<ApiState>) -> T,
) -> T {
    super::with::<CThostFtdcMdApiVtbl, T>(this.cast(), fallback, f)
}

pub unsafe extern "C" fn Release(this: *mut CThostFtdcMdApi) {
    guard((), || unsafe { Obj::release(this.cast()) })
}

pub unsafe extern "C" fn Init(this: *mut CThostFtdcMdApi) {
    with(this, (), |s| s.init())
}

pub unsafe extern "C" fn Join(this: *mut CThostFtdcMdApi) -> c_int {
    with(this, 0, |s| {
        let s = s.clone();
        while !s.stopped.load(std::sync::atomic::Ordering::Acquire) {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        0
    })
}

pub unsafe extern "C" fn GetTradingDay(this: *mut CThostFtdcMdApi) -> *const c_char {
    with(this, std::ptr::null(), |s| s.trading_day_ptr())
}

pub unsafe extern "C" fn RegisterFront(this: *mut CThostFtdcMdApi, pszFrontAddress: *mut c_char) {
    with(this, (), |s| {
        if let Some(f) = unsafe { c_str(pszFrontAddress) } {
            s.add_front(f);
        }
    })
}

pub unsafe extern "C" fn RegisterNameServer(this: *mut CThostFtdcMdApi, pszNsAddress: *mut c_char) {
    // A name server leads to fronts; here it is one.
    unsafe { RegisterFront(this, pszNsAddress) }
}

pub unsafe extern "C" fn RegisterFensUserInfo(
    this: *mut CThostFtdcMdApi,
    pFensUserInfo: *mut c_void,
) {
    let _ = (this, pFensUserInfo);
}

pub unsafe extern "C" fn RegisterSpi(this: *mut CThostFtdcMdApi, pSpi: *mut CThostFtdcMdSpi) {
    with(this, (), |s| s.set_spi(pSpi.cast()))
}

/// The instrument IDs of a `char* ppInstrumentID[]` argument.
///
/// # Safety
/// `pp` must be null or hold `n` pointers to NUL-terminated strings (or nulls).
unsafe fn ids(pp: *mut *mut c_char, n: c_int) -> Option<Vec<String>> {
    if pp.is_null() || n < 0 {
        return None;
    }
    let ptrs = unsafe { std::slice::from_raw_parts(pp, n as usize) };
    Some(ptrs.iter().filter_map(|&p| unsafe { c_str(p) }).collect())
}

pub unsafe extern "C" fn SubscribeMarketData(
    this: *mut CThostFtdcMdApi,
    ppInstrumentID: *mut *mut c_char,
    nCount: c_int,
) -> c_int {
    with(this, NETWORK_FAILURE, |s| {
        let (Some(ids), Some(md)) = (unsafe { ids(ppInstrumentID, nCount) }, s.md()) else {
            return NETWORK_FAILURE;
        };
        md.subscribe(&ids)
    })
}

pub unsafe extern "C" fn UnSubscribeMarketData(
    this: *mut CThostFtdcMdApi,
    ppInstrumentID: *mut *mut c_char,
    nCount: c_int,
) -> c_int {
    with(this, NETWORK_FAILURE, |s| {
        let (Some(ids), Some(md)) = (unsafe { ids(ppInstrumentID, nCount) }, s.md()) else {
            return NETWORK_FAILURE;
        };
        md.unsubscribe(&ids)
    })
}

/// Answers a quote-request (un)subscription: accepted, though no quote request ever
/// comes.
fn answer_each(s: &ApiState, msg_type: &'static str, ids: Vec<String>) -> c_int {
    if s.md().is_none() {
        return NETWORK_FAILURE;
    }
    let n = ids.len();
    for (i, id) in ids.into_iter().enumerate() {
        let body = Body::from(SpecificInstrument {
            InstrumentID: id,
            ..SpecificInstrument::default()
        });
        s.post(Reply::response(
            msg_type,
            "SpecificInstrument",
            Some(body),
            Some(rsp_info(0)),
            0,
            i + 1 == n,
        ));
    }
    0
}

pub unsafe extern "C" fn SubscribeForQuoteRsp(
    this: *mut CThostFtdcMdApi,
    ppInstrumentID: *mut *mut c_char,
    nCount: c_int,
) -> c_int {
    with(this, NETWORK_FAILURE, |s| {
        match unsafe { ids(ppInstrumentID, nCount) } {
            Some(ids) => answer_each(s, "RspSubForQuoteRsp", ids),
            None => NETWORK_FAILURE,
        }
    })
}

pub unsafe extern "C" fn UnSubscribeForQuoteRsp(
    this: *mut CThostFtdcMdApi,
    ppInstrumentID: *mut *mut c_char,
    nCount: c_int,
) -> c_int {
    with(this, NETWORK_FAILURE, |s| {
        match unsafe { ids(ppInstrumentID, nCount) } {
            Some(ids) => answer_each(s, "RspUnSubForQuoteRsp", ids),
            None => NETWORK_FAILURE,
        }
    })
}

pub unsafe extern "C" fn ReqUserLogin(
    this: *mut CThostFtdcMdApi,
    pReqUserLoginField: *mut CThostFtdcReqUserLoginField,
    nRequestID: c_int,
) -> c_int {
    with(this, NETWORK_FAILURE, |s| {
        let (Some(c), Some(md)) = (unsafe { pReqUserLoginField.as_ref() }, s.md()) else {
            return NETWORK_FAILURE;
        };
        md.login(&Login::from_c(c), nRequestID)
    })
}

pub unsafe extern "C" fn ReqUserLogout(
    this: *mut CThostFtdcMdApi,
    pUserLogout: *mut CThostFtdcUserLogoutField,
    nRequestID: c_int,
) -> c_int {
    with(this, NETWORK_FAILURE, |s| {
        let Some(c) = (unsafe { pUserLogout.as_ref() }) else {
            return NETWORK_FAILURE;
        };
        if s.md().is_none() {
            return NETWORK_FAILURE;
        }
        let body = Body::from(UserLogout::from_c(c));
        s.post(Reply::response(
            "RspUserLogout",
            "UserLogout",
            Some(body),
            Some(rsp_info(0)),
            nRequestID,
            true,
        ));
        0
    })
}

pub unsafe extern "C" fn ReqQryMulticastInstrument(
    this: *mut CThostFtdcMdApi,
    pQryMulticastInstrument: *mut c_void,
    nRequestID: c_int,
) -> c_int {
    // No multicast here: the request cannot be sent.
    let _ = (this, pQryMulticastInstrument, nRequestID);
    NETWORK_FAILURE
}

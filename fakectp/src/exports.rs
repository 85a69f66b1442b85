//! The four symbols a CTP client resolves: the factories and `GetApiVersion` of both
//! classes, under their Itanium-mangled names (static member functions are plain C
//! calls on x86-64).

use std::ffi::{CStr, CString, c_char};
use std::ptr::null_mut;
use std::sync::OnceLock;

use webctp_native::vtables::{CThostFtdcMdApi, CThostFtdcTraderApi};

use crate::control::{self, guard};
use crate::engine;

/// What `GetApiVersion()` returns: a 6.7.11 version that says it is the fake.
fn version() -> *const c_char {
    static VERSION: OnceLock<CString> = OnceLock::new();
    VERSION
        .get_or_init(|| {
            std::env::var("FAKECTP_API_VERSION")
                .ok()
                .and_then(|v| CString::new(v).ok())
                .unwrap_or_else(|| {
                    CString::new(concat!(
                        "v6.7.11_fakectp webctp-",
                        env!("CARGO_PKG_VERSION")
                    ))
                    .unwrap_or_default()
                })
        })
        .as_ptr()
}

/// Creates the flow files the real library creates: the path is a prefix.
fn touch_flow_files(flow: *const c_char) {
    if flow.is_null() {
        return;
    }
    let prefix = unsafe { CStr::from_ptr(flow) }.to_string_lossy();
    for name in ["DialogRsp.con", "QueryRsp.con", "TradingDay.con"] {
        let path = format!("{prefix}{name}");
        if let Err(e) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            tracing::warn!("fakectp cannot create the flow file {path}: {e}");
        }
    }
}

/// `CThostFtdcMdApi::CreateFtdcMdApi(const char*, bool, bool, bool)`.
#[unsafe(export_name = "_ZN15CThostFtdcMdApi15CreateFtdcMdApiEPKcbbb")]
pub extern "C" fn create_md_api(
    flow_path: *const c_char,
    is_using_udp: bool,
    is_multicast: bool,
    is_production_mode: bool,
) -> *mut CThostFtdcMdApi {
    guard(null_mut(), || {
        engine::init_logging();
        tracing::debug!(
            is_using_udp,
            is_multicast,
            is_production_mode,
            "CreateFtdcMdApi"
        );
        touch_flow_files(flow_path);
        control::md::create()
    })
}

/// `CThostFtdcMdApi::GetApiVersion()`.
#[unsafe(export_name = "_ZN15CThostFtdcMdApi13GetApiVersionEv")]
pub extern "C" fn md_api_version() -> *const c_char {
    guard(std::ptr::null(), version)
}

/// `CThostFtdcTraderApi::CreateFtdcTraderApi(const char*, bool)`.
#[unsafe(export_name = "_ZN19CThostFtdcTraderApi19CreateFtdcTraderApiEPKcb")]
pub extern "C" fn create_trader_api(
    flow_path: *const c_char,
    is_production_mode: bool,
) -> *mut CThostFtdcTraderApi {
    guard(null_mut(), || {
        engine::init_logging();
        tracing::debug!(is_production_mode, "CreateFtdcTraderApi");
        touch_flow_files(flow_path);
        control::td::create()
    })
}

/// `CThostFtdcTraderApi::GetApiVersion()`.
#[unsafe(export_name = "_ZN19CThostFtdcTraderApi13GetApiVersionEv")]
pub extern "C" fn trader_api_version() -> *const c_char {
    guard(std::ptr::null(), version)
}

/// Takes the sim's front down for `seconds` (what `/admin/drop-front` does on the sim
/// backend): every API object hears `OnFrontDisconnected`, then `OnFrontConnected`.
/// Not a CTP symbol: webctp's loader looks for it to test front drops offline.
#[unsafe(no_mangle)]
pub extern "C" fn webctp_fake_drop_front(seconds: f64) -> std::ffi::c_int {
    guard(-1, || {
        if !(seconds.is_finite() && seconds > 0.0) {
            return -1;
        }
        match engine::sim() {
            Ok(sim) => match webctp_protocol::backend::Backend::drop_front(
                sim,
                std::time::Duration::from_secs_f64(seconds),
            ) {
                Ok(()) => 0,
                Err(_) => -1,
            },
            Err(_) => -1,
        }
    })
}

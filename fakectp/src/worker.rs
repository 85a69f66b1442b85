//! The callback thread of an API object: delivers the sim's events to the client's
//! SPI vtable, one at a time, in order — as the real library's network thread does.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;

use webctp_native::vtables::{CThostFtdcMdSpi, CThostFtdcTraderSpi};
use webctp_protocol::Reply;
use webctp_protocol::backend::FrontEvent;
use webctp_protocol::fields::Body;

use crate::api::{ApiState, Event, Kind};
use crate::settlement;
use crate::spi_calls::{call_md_spi, call_td_spi};

/// Runs until `Release()` sends `Stop`.
pub fn run(state: Arc<ApiState>, rx: Receiver<Event>) {
    for event in rx {
        if matches!(event, Event::Stop) {
            break;
        }
        if catch_unwind(AssertUnwindSafe(|| deliver(&state, event))).is_err() {
            tracing::error!("fakectp: panic while delivering a callback");
        }
    }
}

fn deliver(state: &ApiState, event: Event) {
    if state.stopped.load(Ordering::Acquire) {
        return;
    }
    if let Event::Front(FrontEvent::Disconnected { .. }) = &event {
        state.front_lost();
    }
    if let Event::Reply(r) = &event {
        state.answered(r);
        if r.msg_type == "RspUserLogin"
            && let Some(Body::RspUserLogin(l)) = &r.body
        {
            state.set_trading_day(&l.TradingDay);
        }
    }
    let spi = state.spi.load(Ordering::Acquire);
    if spi.is_null() {
        return;
    }
    // The client keeps its SPI object alive until Release() returns, and Release()
    // waits for this thread.
    match state.kind {
        Kind::Md => unsafe { deliver_md(spi.cast(), event) },
        Kind::Td => unsafe { deliver_td(spi.cast(), event) },
    }
}

/// # Safety
/// `spi` must be the client's live `CThostFtdcMdSpi`.
unsafe fn deliver_md(spi: *mut CThostFtdcMdSpi, event: Event) {
    let v = unsafe { &*(*spi).vtbl };
    match event {
        Event::Front(FrontEvent::Connected) => unsafe { (v.OnFrontConnected)(spi) },
        Event::Front(FrontEvent::Disconnected { reason }) => unsafe {
            (v.OnFrontDisconnected)(spi, reason)
        },
        Event::Tick(d) => {
            let r = Reply::push(
                "RtnDepthMarketData",
                "DepthMarketData",
                Some(Body::DepthMarketData(d)),
                None,
            );
            unsafe { call_md_spi(spi, &r) };
        }
        Event::Reply(r) => {
            if !unsafe { call_md_spi(spi, &r) } {
                tracing::debug!(msg_type = r.msg_type, "fakectp: no md callback for this");
            }
        }
        Event::Stop => {}
    }
}

/// # Safety
/// `spi` must be the client's live `CThostFtdcTraderSpi`.
unsafe fn deliver_td(spi: *mut CThostFtdcTraderSpi, event: Event) {
    let v = unsafe { &*(*spi).vtbl };
    match event {
        Event::Front(FrontEvent::Connected) => unsafe { (v.OnFrontConnected)(spi) },
        Event::Front(FrontEvent::Disconnected { reason }) => unsafe {
            (v.OnFrontDisconnected)(spi, reason)
        },
        Event::Reply(r) if r.msg_type == "RspQrySettlementInfo" => unsafe {
            settlement::deliver(spi, &r)
        },
        Event::Reply(r) => {
            if !unsafe { call_td_spi(spi, &r) } {
                tracing::debug!(msg_type = r.msg_type, "fakectp: no td callback for this");
            }
        }
        Event::Tick(_) | Event::Stop => {}
    }
}

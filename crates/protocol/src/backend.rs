//! The backend trait: the one interface through which the gateway drives CTP. The
//! embedded exchange (`webctp-sim`) and the official libraries (`webctp-native`)
//! implement it; the `webctp` crate re-exports it as `webctp::ctp`.
//!
//! A backend reports through event sinks ([`MdEvents`], [`TdEvents`]) that may be
//! called from any thread (the native library calls from its own); they never block.

use std::sync::Arc;
use std::time::Duration;

use crate::fields::{DepthMarketData, ReqUserLogin};
use crate::{Reply, TdRequest};

/// What a backend reports about the connection to its front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontEvent {
    /// `OnFrontConnected`: requests (login first) can be sent.
    Connected,
    /// `OnFrontDisconnected(nReason)`: the library reconnects by itself.
    Disconnected { reason: i32 },
}

/// Receives what the market-data front reports.
pub trait MdEvents: Send + Sync {
    /// `OnRspUserLogin`, `OnRspSubMarketData`, `OnRspUnSubMarketData`, `OnRspError`...
    fn reply(&self, reply: Reply);
    /// `OnRtnDepthMarketData`.
    fn tick(&self, data: DepthMarketData);
    /// A tick already serialized as the protocol's `RtnDepthMarketData` message (an
    /// edge gateway relays the ingest's bytes). Sinks that can pass the bytes on as
    /// they are override this; the default parses them into a [`DepthMarketData`].
    fn tick_json(&self, instrument: &str, json: Vec<u8>) -> Result<(), BackendError> {
        #[derive(serde::Deserialize)]
        #[allow(non_snake_case)]
        struct Rtn {
            DepthMarketData: DepthMarketData,
        }
        let r = serde_json::from_slice::<Rtn>(&json).map_err(|e| BackendError::RelayedTick {
            instrument: instrument.to_string(),
            reason: e.to_string(),
        })?;
        self.tick(r.DepthMarketData);
        Ok(())
    }
    /// The front connected or went away.
    fn front(&self, event: FrontEvent);
}

/// Receives what a trading session reports.
pub trait TdEvents: Send + Sync {
    /// Answers (`OnRsp*`) and pushes (`OnRtn*`, `OnErrRtn*`).
    fn reply(&self, reply: Reply);
    /// The front connected or went away.
    fn front(&self, event: FrontEvent);
}

/// The shared market-data session of a backend. Calls return CTP's return code: 0 when
/// the request was sent, -1/-2/-3 when it was not.
pub trait MdSession: Send + Sync {
    fn login(&self, req: &ReqUserLogin, request_id: i32) -> i32;
    fn subscribe(&self, instruments: &[String]) -> i32;
    fn unsubscribe(&self, instruments: &[String]) -> i32;
}

/// One trading session (one per login). Dropping it disconnects.
pub trait TdSession: Send + Sync {
    /// Sends a request; the answers arrive through [`TdEvents`]. Returns CTP's return
    /// code: 0 sent, -1 failed, -2/-3 over the query flow limits.
    fn request(&self, req: &TdRequest, request_id: i32) -> i32;
}

/// What a backend could not do, worded for the person running the gateway.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BackendError {
    /// A session (or the backend itself) could not start; the text says why.
    #[error("{0}")]
    Session(String),
    /// This backend has no such operation (the official libraries cannot drop their
    /// front; a broker settles the day, not webctp).
    #[error("the {backend} backend {cannot}")]
    Unsupported {
        backend: &'static str,
        cannot: &'static str,
    },
    /// A tick relayed by an ingest gateway is not an `RtnDepthMarketData` message.
    #[error("a relayed tick of {instrument} is not RtnDepthMarketData: {reason}")]
    RelayedTick { instrument: String, reason: String },
    /// The backend was asked and said no.
    #[error("{0}")]
    Refused(String),
}

/// A source of market data and trading sessions.
pub trait Backend: Send + Sync {
    /// `sim` or `native`.
    fn name(&self) -> &'static str;
    /// A line for logs and `/healthz`, e.g. the CTP API version.
    fn version(&self) -> String;
    /// Starts the shared market-data session; it reports `Connected` when ready.
    fn md_session(&self, events: Arc<dyn MdEvents>) -> Result<Arc<dyn MdSession>, BackendError>;
    /// Opens a trading session for `user` (the UserID about to log in; it names the
    /// session's flow files); it reports `Connected` when requests can be sent.
    fn td_session(
        &self,
        events: Arc<dyn TdEvents>,
        user: &str,
    ) -> Result<Arc<dyn TdSession>, BackendError>;
    /// The pause CTP requires between two queries of one session (zero for the sim).
    fn query_interval(&self) -> Duration;
    /// Takes the front down for `duration` (the sim's fault injection).
    fn drop_front(&self, duration: Duration) -> Result<(), BackendError> {
        let _ = duration;
        Err(BackendError::Unsupported {
            backend: self.name(),
            cannot: "cannot drop its front",
        })
    }
    /// Fault injection (tests): the front drops for `duration` when the next order
    /// insert arrives; the call is taken (0), and the order is lost on its way
    /// (`placed` false: the exchange never gets it) or placed with every answer to it
    /// lost in the drop (`placed` true).
    fn drop_front_at_next_order(
        &self,
        duration: Duration,
        placed: bool,
    ) -> Result<(), BackendError> {
        let _ = (duration, placed);
        Err(BackendError::Unsupported {
            backend: self.name(),
            cannot: "cannot drop its front at an order",
        })
    }
    /// Writes everything that must survive a restart (called on shutdown).
    fn flush(&self) {}
    /// What a person watching the terminal should know about this backend beyond its
    /// name (the sim: its sessions mode and trading day).
    fn describe(&self) -> Option<String> {
        None
    }
    /// Ends the trading day now (the sim's settlement); returns the new trading day.
    fn settle(&self) -> Result<String, BackendError> {
        Err(BackendError::Unsupported {
            backend: self.name(),
            cannot: "is settled by its broker",
        })
    }
}

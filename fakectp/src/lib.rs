//! fakectp: a stand-in for the official CTP 6.7.11 libraries, so that webctp's native
//! backend can be tested without a network or a broker.
//!
//! Built as a shared library that exports the same four C++ symbols as
//! `libthostmduserapi_se.so` / `libthosttraderapi_se.so` (symlink both names to
//! `libfakectp.so`) and hands out API objects with the same vtable layout. Behind them
//! runs webctp's own sim (`engine`), started once per process:
//!
//! - a request arrives through the API vtable (`api_glue`, generated), is decoded
//!   from its C struct (GBK strings) into a protocol request and goes to a sim session;
//! - the sim's answers come back as protocol replies, are encoded into C structs again
//!   (`spi_calls`, generated) and delivered by calling the client's SPI vtable from a
//!   callback thread of the API object (`worker`) — never from the caller's thread,
//!   as with the real library;
//! - settlement statements are cut into 500-byte parts, inside GBK characters when
//!   possible (`settlement`); the sim's front outages become `OnFrontDisconnected`
//!   followed by `OnFrontConnected`.
//!
//! Environment: `FAKECTP_DATA_DIR` (the sim's ledger; default a fresh temp dir),
//! `FAKECTP_TICK_RATE` (ticks per second per instrument, default 2),
//! `FAKECTP_OUTAGE=after_secs,for_secs` (drop the front once), `FAKECTP_ACCOUNTS=
//! user:password,...` (accounts opened at start), `FAKECTP_SETTLE=1` (settle the day
//! once at start, so the accounts have a statement), `FAKECTP_SETTLEMENT_CHUNK` (bytes
//! per settlement part, default 100, at most 500), `FAKECTP_API_VERSION` (what
//! `GetApiVersion` returns), `FAKECTP_LOG` (a log filter such as `debug`; logs go to
//! stderr).

mod api;
mod api_glue;
mod control;
mod engine;
mod exports;
mod settlement;
mod spi_calls;
mod worker;

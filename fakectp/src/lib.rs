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
//! stderr), `FAKECTP_START_DATE` and `FAKECTP_SESSIONS` (the sim's `Sim.StartDate` and
//! `Sim.Sessions`), `FAKECTP_QUERY_INTERVAL_MS` and `FAKECTP_MAX_PENDING_QUERIES` (the
//! query flow control below).
//!
//! Quirks of the real library that the fake mirrors, because the gateway must cope:
//!
//! - **Query flow control.** A trading `ReqQry*` call returns -3 when it comes sooner
//!   than one query interval after the last accepted query (CTP allows one query per
//!   second: "CTP有查询流控，每秒所有类型请求都只能发起一个", vn.py's maintainer in
//!   vnpy/vnpy#2869), and -2 when as many queries as allowed are still unanswered; the
//!   request is then not sent at all. The meanings are those of the return values in
//!   the official headers' documentation ("-2 表示未处理请求超过许可数；-3 表示每秒发送
//!   请求数超过许可数"). Default: one query per 1000 ms, one unanswered at a time;
//!   tests shorten the interval.
//! - **OnRspError for a malformed request.** A request whose C strings do not fit
//!   their fields (no NUL inside the array) is answered with
//!   `OnRspError` (`ErrorID` 15, CTP's BAD_FIELD) and the call returns 0: the front,
//!   not the library, refuses it. `OnRspError` is CTP's "错误应答" for a request the
//!   front cannot answer with its own response (ThostFtdcTraderApi.h); which ErrorID a
//!   real front uses for this case is not documented, so the fake uses BAD_FIELD.

mod api;
mod control;
mod engine;
mod error;
mod exports;
mod generated;
mod settlement;
mod worker;

use generated::{api_glue, spi_calls};

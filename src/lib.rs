//! webctp: a gateway and terminal for China's futures markets (CTP).
//!
//! # Layout
//!
//! A request travels **transport -> dispatcher -> session -> backend**, and events
//! travel back the same way:
//!
//! - [`server`] is the WebSocket transport (warp): `/md/` and `/td/`, one task reading
//!   frames and one writing them per client, heartbeats, `/healthz`.
//! - [`cli`] is the other transport: the REPL and `webctp exec` turn typed commands
//!   into the same JSON requests and draw the answers as tables.
//! - [`protocol`] (the `webctp-protocol` crate) holds the wire types: CTP's structs
//!   (generated from the official headers), the request parser that validates every
//!   message, the replies, and the backend trait.
//! - [`gateway`] is where a message is handled: [`gateway::Dispatcher`] parses each
//!   request and routes it; [`gateway::MdHub`] is the one market-data session shared
//!   by all clients (reference-counted subscriptions, one serialization per tick,
//!   per-client conflating queues); [`gateway::TdSession`] is one trading session per
//!   login (login sequence, query pacing, reconnects).
//! - [`ctp`] holds the backends behind one trait: [`ctp::sim`] (the `webctp-sim`
//!   crate), an embedded exchange with a crash-safe ledger, and [`ctp::native`]
//!   (`webctp-native`), the official CTP libraries loaded with dlopen.
//! - [`config`] (`webctp-config`) reads the YAML file, environment and flags.
//! - [`metrics`] counts what happens for Prometheus (`GET /metrics`).
//! - [`bus`] publishes ticks and order events to Redis, and feeds edge gateways' `/md/`
//!   from it.
//!
//! The lower layers are crates of one workspace (`crates/`), so the arrows point one
//! way: protocol at the bottom, sim and native beside each other on it, this crate on
//! top. They are re-exported here under the paths the code has always used.

pub mod bench;
pub mod build_info;
pub mod bus;
pub mod cli;
pub mod ctp;
pub mod gateway;
pub mod logsafe;
pub mod metrics;
pub mod server;

pub use webctp_config as config;
pub use webctp_protocol as protocol;

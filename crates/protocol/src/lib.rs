//! The webctp protocol: CTP's structs as JSON, the requests clients send, and the
//! messages the gateway sends back — the bottom layer of the workspace.
//!
//! - [`fields`] and [`td_requests`] are generated from the official headers by
//!   `tools/ctp-codegen` (they live in `src/generated/`); everything else is written
//!   by hand.
//! - [`request`] parses and validates what clients send; [`message`] builds replies;
//!   [`client`] is the other end: requests as a client writes them, replies decoded;
//!   [`wire`] writes CTP's numbers the way webctp's clients expect them.
//! - [`backend`] is the interface every backend implements (the sim and the official
//!   libraries); [`clock`] is Beijing time and CTP's date strings; [`price`] rounds
//!   prices to their tick's decimals.

pub mod backend;
pub mod client;
pub mod clock;
pub mod codes;
pub mod ctp_types;
pub mod errors;
pub mod generated;
pub mod message;
pub mod price;
pub mod request;
pub mod wire;

pub use generated::{fields, td_requests};

pub use ctp_types::{CtpChar, FieldError, Validate};
pub use message::Reply;
pub use request::{Endpoint, IgnoredKeys, MdRequest, ParsedRequest, Request, RequestError, parse};
pub use td_requests::{TD_REQUEST_SPECS, TdRequest, TdRequestSpec};

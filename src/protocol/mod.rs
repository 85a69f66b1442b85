//! The webctp protocol: CTP's structs as JSON, the requests clients send, and the
//! messages the gateway sends back.

pub mod ctp_types;
pub mod errors;
pub mod fields;
pub mod message;
pub mod request;
pub mod td_requests;
pub mod wire;

pub use ctp_types::{CtpChar, FieldError, Validate};
pub use message::Reply;
pub use request::{Endpoint, IgnoredKeys, MdRequest, ParsedRequest, Request, RequestError, parse};
pub use td_requests::{TD_REQUEST_SPECS, TdRequest, TdRequestSpec};

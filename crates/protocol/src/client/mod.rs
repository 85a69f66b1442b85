//! The client's side of the protocol: requests as a client writes them, and the
//! messages a client receives, decoded into the same typed structs the gateway sends
//! ([`Received`], named by a [`MsgKind`]). The terminal talks to the gateway through
//! these, so that both ends of the wire share one set of types.

mod kind;
mod received;
#[cfg(test)]
mod tests;

pub use kind::MsgKind;
pub use received::{BodyOf, DecodeError, Received};

use serde::Serialize;
use serde::ser::SerializeMap;

use super::fields::ReqUserLogin;
use super::request::MdRequest;
use super::td_requests::TdRequest;

/// A trading request as the wire carries it:
/// `{"MsgType":"<ReqName>","<body key>":{...},"RequestID":n}`.
pub fn td_request_json(req: &TdRequest, request_id: i32) -> String {
    let spec = req.spec();
    envelope(
        spec.msg_type,
        &[(spec.body_key, req.body_to_json())],
        request_id,
    )
}

/// A market-data request as the wire carries it: a login or logout with its body, a
/// (un)subscription with its `InstrumentID` list.
pub fn md_request_json(req: &MdRequest, request_id: i32) -> String {
    let to_value = |v: serde_json::Result<serde_json::Value>| v.unwrap_or_default();
    match req {
        MdRequest::Login(login) => envelope(
            "ReqUserLogin",
            &[("ReqUserLogin", to_value(serde_json::to_value(login)))],
            request_id,
        ),
        MdRequest::Logout(logout) => envelope(
            "ReqUserLogout",
            &[("UserLogout", to_value(serde_json::to_value(logout)))],
            request_id,
        ),
        MdRequest::Subscribe(ids) => envelope(
            "SubscribeMarketData",
            &[("InstrumentID", to_value(serde_json::to_value(ids)))],
            request_id,
        ),
        MdRequest::Unsubscribe(ids) => envelope(
            "UnSubscribeMarketData",
            &[("InstrumentID", to_value(serde_json::to_value(ids)))],
            request_id,
        ),
    }
}

/// The market-data login a client sends: the md front needs no password, only who
/// is asking.
pub fn md_login(user: &str) -> MdRequest {
    MdRequest::Login(Box::new(ReqUserLogin {
        UserID: user.to_string(),
        ..ReqUserLogin::default()
    }))
}

/// Writes `MsgType`, the given entries and `RequestID`, in that order.
fn envelope(msg_type: &str, entries: &[(&str, serde_json::Value)], request_id: i32) -> String {
    struct Envelope<'a> {
        msg_type: &'a str,
        entries: &'a [(&'a str, serde_json::Value)],
        request_id: i32,
    }
    impl Serialize for Envelope<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(Some(self.entries.len() + 2))?;
            m.serialize_entry("MsgType", self.msg_type)?;
            for (k, v) in self.entries {
                m.serialize_entry(k, v)?;
            }
            m.serialize_entry("RequestID", &self.request_id)?;
            m.end()
        }
    }
    super::wire::to_string(&Envelope {
        msg_type,
        entries,
        request_id,
    })
}

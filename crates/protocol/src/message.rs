//! The messages the gateway sends: CTP's answers and pushes ([`Reply`]) and the
//! gateway's own messages (errors, heartbeats, front status).

use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::{Value, json};

use super::errors::{gateway_message, rsp_info};
use super::fields::{Body, DepthMarketData, RspInfo};
use super::wire;

/// One message from CTP (or the sim) to a client: an `OnRsp*` answer, or an
/// `OnRtn*`/`OnErrRtn*` push.
///
/// On the wire the keys come in webctp's order: `MsgType`, `RspInfo`, `RequestID`,
/// `IsLast`, then the body under its struct name (`null` for an empty answer).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// e.g. `RspQryOrder`, `RtnTrade`.
    pub msg_type: &'static str,
    /// The JSON key of the body, e.g. `Order`; empty for messages without a body.
    pub body_key: &'static str,
    pub body: Option<Body>,
    pub rsp_info: Option<RspInfo>,
    /// `Some` for answers to a request, `None` for pushes.
    pub request_id: Option<i32>,
    pub is_last: bool,
}

impl Reply {
    /// An answer to the request `request_id`.
    pub fn response(
        msg_type: &'static str,
        body_key: &'static str,
        body: Option<Body>,
        rsp_info: Option<RspInfo>,
        request_id: i32,
        is_last: bool,
    ) -> Reply {
        Reply {
            msg_type,
            body_key,
            body,
            rsp_info,
            request_id: Some(request_id),
            is_last,
        }
    }

    /// A push that answers no request.
    pub fn push(
        msg_type: &'static str,
        body_key: &'static str,
        body: Option<Body>,
        rsp_info: Option<RspInfo>,
    ) -> Reply {
        Reply {
            msg_type,
            body_key,
            body,
            rsp_info,
            request_id: None,
            is_last: true,
        }
    }

    /// The CTP ErrorID (0 when there is no RspInfo).
    pub fn error_id(&self) -> i32 {
        self.rsp_info.as_ref().map_or(0, |i| i.ErrorID)
    }

    /// The JSON text of the message.
    pub fn to_json(&self) -> Vec<u8> {
        wire::to_vec(self)
    }
}

impl Serialize for Reply {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("MsgType", self.msg_type)?;
        m.serialize_entry("RspInfo", &self.rsp_info)?;
        if let Some(id) = self.request_id {
            m.serialize_entry("RequestID", &id)?;
            m.serialize_entry("IsLast", &self.is_last)?;
        }
        // An envelope key as the body's (RspError's body *is* its RspInfo) would be
        // written twice, and JSON readers keep the last copy: the null body.
        if !matches!(
            self.body_key,
            "" | "MsgType" | "RspInfo" | "RequestID" | "IsLast"
        ) {
            m.serialize_entry(self.body_key, &self.body)?;
        }
        m.end()
    }
}

/// `{"MsgType":"RtnDepthMarketData","DepthMarketData":{...}}` (no RspInfo, as webctp).
pub fn market_data_json(d: &DepthMarketData) -> Vec<u8> {
    let mut out = Vec::with_capacity(1400);
    out.extend_from_slice(br#"{"MsgType":"RtnDepthMarketData","DepthMarketData":"#);
    d.write_json(&mut out);
    out.push(b'}');
    out
}

/// A gateway error (-400, -401, -404, ...) answering the request `msg_type`.
/// `request_id` is echoed when the request had one that could be read.
pub fn gateway_error(msg_type: &str, code: i32, detail: &str, request_id: Option<i64>) -> String {
    let mut v = json!({
        "MsgType": msg_type,
        "RspInfo": {"ErrorID": code, "ErrorMsg": gateway_message(code)},
    });
    if let Some(id) = request_id {
        v["RequestID"] = json!(id);
        v["IsLast"] = json!(true);
    }
    v["Detail"] = json!(detail);
    v.to_string()
}

/// The answer to a CTP call that returned `code` (-1/-2/-3): the response MsgType
/// with the library's return code as ErrorID.
pub fn call_failed(response_msg_type: &str, code: i32, request_id: i32) -> String {
    json!({
        "MsgType": response_msg_type,
        "RspInfo": {"ErrorID": code, "ErrorMsg": gateway_message(code)},
        "RequestID": request_id,
        "IsLast": true,
    })
    .to_string()
}

/// `{"MsgType":"Pong"}`, the answer to a client's Ping.
pub fn pong(timestamp: Option<&Value>) -> String {
    match timestamp {
        Some(t) => json!({"MsgType": "Pong", "Timestamp": t}).to_string(),
        None => r#"{"MsgType":"Pong"}"#.to_string(),
    }
}

/// The server's heartbeat, `{"MsgType":"Ping","Timestamp":ms}`.
pub fn ping(timestamp_ms: u64) -> String {
    format!(r#"{{"MsgType":"Ping","Timestamp":{timestamp_ms}}}"#)
}

/// Tells a client that the upstream front went away (`OnFrontDisconnected`) or came
/// back (`OnFrontConnected`).
pub fn front_status(connected: bool, reason: i32, detail: &str) -> String {
    if connected {
        json!({
            "MsgType": "OnFrontConnected",
            "RspInfo": rsp_info(0),
            "Detail": detail,
        })
        .to_string()
    } else {
        front_down(Some(reason), detail)
    }
}

/// `OnFrontDisconnected` with CTP's reason, or with none (ErrorID 0) for a front that
/// never connected: "unreachable or not answering".
pub fn front_down(reason: Option<i32>, detail: &str) -> String {
    json!({
        "MsgType": "OnFrontDisconnected",
        "RspInfo": {
            "ErrorID": reason.unwrap_or(0),
            "ErrorMsg": reason.map_or("unreachable or not answering", front_reason),
        },
        "Detail": detail,
    })
    .to_string()
}

/// CTP's `OnFrontDisconnected` reason codes in words.
pub fn front_reason(reason: i32) -> &'static str {
    match reason {
        0x1001 => "network read failed",
        0x1002 => "network write failed",
        0x2001 => "heartbeat receive timeout",
        0x2002 => "heartbeat send failed",
        0x2003 => "received an invalid packet",
        _ => "front disconnected",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::NOT_LOGGED_IN;
    use crate::fields::{Order, SpecificInstrument};

    /// CTP's OnRspError has no body: its RspInfo is written once, never as a null body
    /// after it (a JSON reader keeps the last of two equal keys and lost the error).
    #[test]
    fn rsp_error_carries_its_rsp_info_once() {
        for key in ["", "RspInfo"] {
            let r = Reply::response("RspError", key, None, Some(rsp_info(15)), 3, true);
            let text = String::from_utf8(r.to_json()).unwrap();
            assert_eq!(text.matches("\"RspInfo\"").count(), 1, "{text}");
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["RspInfo"]["ErrorID"], 15, "{text}");
        }
    }

    #[test]
    fn response_key_order_and_empty_body() {
        let r = Reply::response("RspQryTrade", "Trade", None, None, 7, true);
        assert_eq!(
            String::from_utf8(r.to_json()).unwrap(),
            r#"{"MsgType":"RspQryTrade","RspInfo":null,"RequestID":7,"IsLast":true,"Trade":null}"#
        );
        let r = Reply::response(
            "RspSubMarketData",
            "SpecificInstrument",
            Some(
                SpecificInstrument {
                    InstrumentID: "au2602".into(),
                    ..SpecificInstrument::default()
                }
                .into(),
            ),
            Some(rsp_info(0)),
            0,
            false,
        );
        assert_eq!(
            String::from_utf8(r.to_json()).unwrap(),
            r#"{"MsgType":"RspSubMarketData","RspInfo":{"ErrorID":0,"ErrorMsg":"CTP:正确"},"RequestID":0,"IsLast":false,"SpecificInstrument":{"InstrumentID":"au2602"}}"#
        );
    }

    #[test]
    fn market_data_writer_matches_serde() {
        let mut d = DepthMarketData {
            TradingDay: "20261124".into(),
            reserve1: "rb2605".into(),
            ExchangeID: "SHFE".into(),
            LastPrice: 3170.0,
            ClosePrice: f64::MAX,
            OpenPrice: 0.0,
            CurrDelta: f64::MAX,
            AveragePrice: 31645.592201667798,
            Volume: 584843,
            UpdateTime: "13:41:23".into(),
            UpdateMillisec: 500,
            InstrumentID: "rb2605".into(),
            ..DepthMarketData::default()
        };
        let serde = |d: &DepthMarketData| {
            #[derive(Serialize)]
            struct Rtn<'a> {
                #[serde(rename = "MsgType")]
                msg_type: &'static str,
                #[serde(rename = "DepthMarketData")]
                data: &'a DepthMarketData,
            }
            wire::to_vec(&Rtn {
                msg_type: "RtnDepthMarketData",
                data: d,
            })
        };
        assert_eq!(
            String::from_utf8(market_data_json(&d)).unwrap(),
            String::from_utf8(serde(&d)).unwrap()
        );
        // Unset prices are the integer 0, reserve fields are always there (as the
        // Python webctp projects send them); other DBL_MAX values stay as they are.
        let v: Value = serde_json::from_slice(&market_data_json(&d)).unwrap();
        let tick = &v["DepthMarketData"];
        assert_eq!(tick["ClosePrice"], json!(0));
        assert!(tick["ClosePrice"].is_u64());
        assert!(tick["LastPrice"].is_f64() && tick["OpenPrice"].is_f64());
        assert_eq!(tick["CurrDelta"], json!(f64::MAX));
        assert_eq!(
            (&tick["reserve1"], &tick["reserve2"]),
            (&json!("rb2605"), &json!(""))
        );
        d.reserve2 = "1795482000000000000:17".into();
        d.ExchangeInstID = "a\"b\\c\u{1}".into();
        assert_eq!(
            String::from_utf8(market_data_json(&d)).unwrap(),
            String::from_utf8(serde(&d)).unwrap()
        );
    }

    #[test]
    fn push_has_no_request_id() {
        let r = Reply::push("RtnOrder", "Order", Some(Order::default().into()), None);
        let v: Value = serde_json::from_slice(&r.to_json()).unwrap();
        assert!(v.get("RequestID").is_none());
        assert_eq!(v["Order"]["Direction"], "");
    }

    #[test]
    fn errors_echo_msg_type_and_request_id() {
        let v: Value = serde_json::from_str(&gateway_error(
            "ReqQryOrder",
            NOT_LOGGED_IN,
            "log in first",
            Some(0),
        ))
        .unwrap();
        assert_eq!(v["MsgType"], "ReqQryOrder");
        assert_eq!(v["RspInfo"]["ErrorID"], NOT_LOGGED_IN);
        assert_eq!(v["RequestID"], 0);
        assert_eq!(v["Detail"], "log in first");
    }
}

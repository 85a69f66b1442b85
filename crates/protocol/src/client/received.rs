//! Decoding what the gateway sends into typed values: the envelope (`MsgType`,
//! `RspInfo`, `RequestID`, `IsLast`, `Detail`) and the body as its CTP struct.

use serde_json::Value;

use super::MsgKind;
use crate::ctp_types::FieldError;
use crate::fields::*;

/// One message from the gateway, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub kind: MsgKind,
    /// The MsgType as sent (for a [`MsgKind::GatewayError`], the request's).
    pub msg_type: String,
    pub rsp_info: Option<RspInfo>,
    /// `Some` for answers to a request, `None` for pushes.
    pub request_id: Option<i64>,
    /// `false` only when the gateway says more answers follow.
    pub is_last: bool,
    /// The gateway's words on an error or a front's status.
    pub detail: Option<String>,
    /// The body as its CTP struct (`None` for an empty answer or a message without
    /// one).
    pub body: Option<Body>,
}

/// Why a message from the gateway could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("the message is not JSON: {0}")]
    NotJson(String),
    #[error("the message is not a JSON object with a string MsgType")]
    NoMsgType,
    #[error("{msg_type} is not a message the gateway sends")]
    UnknownMsgType { msg_type: String },
    #[error("{msg_type} has a field that cannot be read: {error}")]
    Field { msg_type: String, error: FieldError },
}

impl DecodeError {
    /// The MsgType of the message, when it could be read.
    pub fn msg_type(&self) -> Option<&str> {
        match self {
            DecodeError::UnknownMsgType { msg_type } | DecodeError::Field { msg_type, .. } => {
                Some(msg_type)
            }
            DecodeError::NotJson(_) | DecodeError::NoMsgType => None,
        }
    }
}

/// A body struct that can be borrowed out of a [`Body`].
pub trait BodyOf: Sized {
    /// The struct, if `body` holds one of this type.
    fn of(body: &Body) -> Option<&Self>;
}

macro_rules! bodies {
    ($($name:ident),* $(,)?) => {
        /// Reads the body found under `key` as the struct of that name.
        fn body_from_json(key: &str, v: Value) -> Result<Body, FieldError> {
            match key {
                $( stringify!($name) => from_json::<$name>(v).map(Body::from), )*
                _ => Err(FieldError::new("", "is not a body this client knows")),
            }
        }

        $(
            impl BodyOf for $name {
                fn of(body: &Body) -> Option<&Self> {
                    match body {
                        Body::$name(b) => Some(b),
                        _ => None,
                    }
                }
            }
        )*
    };
}

// Every body a message from the gateway carries (MsgKind::body_key).
bodies!(
    RspAuthenticate,
    RspUserLogin,
    UserLogout,
    UserPasswordUpdate,
    SettlementInfoConfirm,
    SettlementInfo,
    InputOrder,
    InputOrderAction,
    OrderAction,
    QryMaxOrderVolume,
    Order,
    Trade,
    InvestorPosition,
    InvestorPositionDetail,
    TradingAccount,
    Investor,
    TradingCode,
    InstrumentMarginRate,
    InstrumentCommissionRate,
    ExchangeMarginRate,
    InstrumentOrderCommRate,
    OptionInstrTradeCost,
    OptionInstrCommRate,
    DepthMarketData,
    Product,
    Exchange,
    Instrument,
    SpecificInstrument,
    InstrumentStatus,
);

fn from_json<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(v).map_err(FieldError::from_serde)
}

impl Received {
    /// Decodes one message's JSON text.
    pub fn decode(text: &[u8]) -> Result<Received, DecodeError> {
        let value: Value =
            serde_json::from_slice(text).map_err(|e| DecodeError::NotJson(e.to_string()))?;
        Received::from_value(value)
    }

    /// Decodes one message already parsed as JSON.
    pub fn from_value(value: Value) -> Result<Received, DecodeError> {
        let Value::Object(mut obj) = value else {
            return Err(DecodeError::NoMsgType);
        };
        let Some(Value::String(msg_type)) = obj.remove("MsgType") else {
            return Err(DecodeError::NoMsgType);
        };
        let field = |error: FieldError| DecodeError::Field {
            msg_type: msg_type.clone(),
            error,
        };
        let rsp_info = match obj.remove("RspInfo") {
            None | Some(Value::Null) => None,
            Some(v) => Some(from_json::<RspInfo>(v).map_err(|e| field(e.within("RspInfo")))?),
        };
        let request_id = match obj.remove("RequestID") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
            Some(other) => {
                return Err(field(FieldError::new(
                    "RequestID",
                    format!("must be an integer, got {other}"),
                )));
            }
        };
        let is_last = match obj.remove("IsLast") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => b,
            Some(other) => {
                return Err(field(FieldError::new(
                    "IsLast",
                    format!("must be true or false, got {other}"),
                )));
            }
        };
        let detail = match obj.remove("Detail") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => {
                return Err(field(FieldError::new(
                    "Detail",
                    format!("must be a string, got {other}"),
                )));
            }
        };
        let kind = match MsgKind::from_msg_type(&msg_type) {
            Some(k) => k,
            None if rsp_info.as_ref().is_some_and(|i| i.ErrorID != 0) => MsgKind::GatewayError,
            None => return Err(DecodeError::UnknownMsgType { msg_type }),
        };
        let body = match kind.body_key() {
            Some(key) => match obj.remove(key) {
                None | Some(Value::Null) => None,
                Some(v) => Some(body_from_json(key, v).map_err(|e| field(e.within(key)))?),
            },
            None => None,
        };
        Ok(Received {
            kind,
            msg_type,
            rsp_info,
            request_id,
            is_last,
            detail,
            body,
        })
    }

    /// The body, if it is a `T`.
    pub fn body<T: BodyOf>(&self) -> Option<&T> {
        self.body.as_ref().and_then(T::of)
    }

    /// The CTP or gateway ErrorID (0 when there is no RspInfo).
    pub fn error_id(&self) -> i32 {
        self.rsp_info.as_ref().map_or(0, |i| i.ErrorID)
    }

    /// The ErrorMsg (empty when there is no RspInfo).
    pub fn error_msg(&self) -> &str {
        self.rsp_info.as_ref().map_or("", |i| i.ErrorMsg.as_str())
    }

    /// Whether this answers the request `request_id`.
    pub fn answers(&self, request_id: i64) -> bool {
        self.request_id == Some(request_id)
    }
}

//! Parsing and validating a client request. Every WebSocket frame and every REPL
//! command passes through [`parse`]; what it accepts is well-formed down to the CTP
//! field sizes, and what it refuses gets an error that names the field.
//!
//! Like the Python webctp projects (pydantic models, which ignore extra keys), the
//! parser skips keys it does not know, at the top level and inside a body, and lists
//! them in [`ParsedRequest::ignored`]: the gateway logs and counts them, or refuses
//! them when configured `Strict` ([`ParsedRequest::strict_error`]). A known key with a
//! value of the wrong type is always refused (-400): nothing is silently misread.

use serde_json::{Map, Value};

use super::ctp_types::{FieldError, Validate, check_str};
use super::errors::{BAD_PARAMETERS, NOT_IMPLEMENTED};
use super::fields::{ReqUserLogin, UserLogout};
use super::message::gateway_error;
use super::td_requests::{TD_REQUEST_SPECS, TdRequest};

/// The endpoint a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/md/`, market data.
    Md,
    /// `/td/`, trading.
    Td,
}

/// A market-data request.
#[derive(Debug, Clone, PartialEq)]
pub enum MdRequest {
    Login(Box<ReqUserLogin>),
    Logout(UserLogout),
    Subscribe(Vec<String>),
    Unsubscribe(Vec<String>),
}

/// What a client asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// A heartbeat from the client (answered with `Pong`).
    Ping {
        timestamp: Option<Value>,
    },
    /// The client's answer to the server's heartbeat.
    Pong,
    Md(MdRequest),
    Td(Box<TdRequest>),
}

/// A request with its envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRequest {
    pub msg_type: String,
    /// The client's RequestID (0 when absent), echoed on every answer.
    pub request_id: i32,
    pub request: Request,
    /// Keys the parser skipped.
    pub ignored: IgnoredKeys,
}

/// Keys of a request the gateway does not know and skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoredKeys {
    /// Paths of the first few (at most [`IgnoredKeys::KEPT`]), e.g. `ClientTag`,
    /// `InputOrder.Foo`.
    pub paths: Vec<String>,
    /// How many were skipped in all.
    pub total: usize,
    /// Two body keys for the same body (`QryInstrument` and `ReqQryInstrument`): the
    /// one read and the one skipped.
    pub duplicate_body: Option<(String, String)>,
}

impl IgnoredKeys {
    /// How many paths are kept for the log and the strict error.
    pub const KEPT: usize = 8;
    /// Longest path kept, in bytes; a longer one is cut (keys are client text).
    const MAX_PATH: usize = 120;

    /// Records one skipped key.
    pub fn add(&mut self, path: &str) {
        self.total += 1;
        if self.paths.len() < Self::KEPT {
            let mut end = path.len().min(Self::MAX_PATH);
            while !path.is_char_boundary(end) {
                end -= 1;
            }
            self.paths.push(path[..end].to_string());
        }
    }

    /// Whether nothing was skipped.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

impl ParsedRequest {
    /// The -400 a `Strict` gateway answers when keys were skipped (the error a
    /// request with unknown keys got before webctp followed the Python projects).
    pub fn strict_error(&self) -> Option<RequestError> {
        if self.ignored.is_empty() {
            return None;
        }
        let detail = match (&self.ignored.duplicate_body, self.ignored.paths.first()) {
            (Some((read, skipped)), _) => {
                format!("both `{read}` and `{skipped}` given; send one (Strict)")
            }
            (None, Some(path)) => format!("unknown field `{path}` (Strict)"),
            (None, None) => "unknown fields (Strict)".to_string(),
        };
        Some(RequestError::new(
            &self.msg_type,
            BAD_PARAMETERS,
            detail,
            Some(i64::from(self.request_id)),
        ))
    }
}

/// Deserializes a request body, skipping the keys the struct does not have and
/// recording their paths in `ignored`. Errors name the field's path.
pub(crate) fn deserialize_body<T: serde::de::DeserializeOwned>(
    body: Value,
    ignored: &mut IgnoredKeys,
) -> Result<T, FieldError> {
    let mut note = |path: serde_ignored::Path<'_>| ignored.add(&path.to_string());
    let de = serde_ignored::Deserializer::new(body, &mut note);
    serde_path_to_error::deserialize(de).map_err(FieldError::from_serde)
}

/// A request that cannot be served, as the gateway error it is answered with.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestError {
    /// The request's MsgType, echoed (empty if it could not be read).
    pub msg_type: String,
    /// -400 or -404.
    pub code: i32,
    /// What is wrong, naming the field.
    pub detail: String,
    /// The RequestID, when it could be read.
    pub request_id: Option<i64>,
}

impl RequestError {
    fn new(msg_type: &str, code: i32, detail: impl Into<String>, request_id: Option<i64>) -> Self {
        RequestError {
            msg_type: msg_type.to_string(),
            code,
            detail: detail.into(),
            request_id,
        }
    }

    /// The error message sent to the client.
    pub fn to_json(&self) -> String {
        gateway_error(&self.msg_type, self.code, &self.detail, self.request_id)
    }
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

/// Aliases for request MsgTypes seen in webctp documents.
fn canonical_msg_type(msg_type: &str) -> &str {
    match msg_type {
        // openctp's td_protocol.md spells the order insert this way.
        "ReqInputOrder" => "ReqOrderInsert",
        other => other,
    }
}

/// Alternative body keys seen in webctp code, besides the MsgType itself.
fn body_key_aliases(msg_type: &str) -> &'static [&'static str] {
    match msg_type {
        // openctp's request model names the max-volume body this way.
        "ReqQryMaxOrderVolume" => &["QueryMaxOrderVolume"],
        _ => &[],
    }
}

/// Parses one frame received on `endpoint`.
pub fn parse(text: &str, endpoint: Endpoint) -> Result<ParsedRequest, RequestError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| RequestError::new("", BAD_PARAMETERS, format!("malformed JSON: {e}"), None))?;
    let Value::Object(mut obj) = value else {
        return Err(RequestError::new(
            "",
            BAD_PARAMETERS,
            "a request must be a JSON object with a MsgType",
            None,
        ));
    };
    let msg_type = match obj.remove("MsgType") {
        Some(Value::String(s)) => s,
        Some(_) => {
            return Err(RequestError::new(
                "",
                BAD_PARAMETERS,
                "MsgType: must be a string",
                None,
            ));
        }
        None => {
            return Err(RequestError::new(
                "",
                BAD_PARAMETERS,
                "missing field `MsgType`",
                None,
            ));
        }
    };
    if let Err(e) = check_str("MsgType", &msg_type, 64) {
        return Err(RequestError::new("", BAD_PARAMETERS, e.to_string(), None));
    }
    let request_id = match obj.remove("RequestID") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => match n.as_i64().and_then(|v| i32::try_from(v).ok()) {
            Some(v) => v,
            None => {
                return Err(RequestError::new(
                    &msg_type,
                    BAD_PARAMETERS,
                    format!("RequestID: {n} is not an integer between -2147483648 and 2147483647"),
                    None,
                ));
            }
        },
        Some(other) => {
            return Err(RequestError::new(
                &msg_type,
                BAD_PARAMETERS,
                format!("RequestID: must be an integer, got {}", type_name(&other)),
                None,
            ));
        }
    };
    let err = |code: i32, detail: String| {
        RequestError::new(&msg_type, code, detail, Some(i64::from(request_id)))
    };
    let mut ignored = IgnoredKeys::default();
    let request = match msg_type.as_str() {
        "Ping" => Request::Ping {
            timestamp: obj.remove("Timestamp"),
        },
        "Pong" => Request::Pong,
        _ => match endpoint {
            Endpoint::Md => Request::Md(
                parse_md(&msg_type, &mut obj, &mut ignored).map_err(|(c, d)| err(c, d))?,
            ),
            Endpoint::Td => Request::Td(Box::new(
                parse_td(&msg_type, &mut obj, &mut ignored).map_err(|(c, d)| err(c, d))?,
            )),
        },
    };
    // A heartbeat's extra keys are nobody's concern.
    if !matches!(request, Request::Ping { .. } | Request::Pong) {
        for key in obj.keys() {
            ignored.add(key);
        }
    }
    Ok(ParsedRequest {
        msg_type,
        request_id,
        request,
        ignored,
    })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

type Failure = (i32, String);

fn bad(e: FieldError) -> Failure {
    (BAD_PARAMETERS, e.to_string())
}

/// Takes the body object stored under one of `keys`. When a client sends more than
/// one (to work with both Python projects, e.g. `QryInstrument` and
/// `ReqQryInstrument`), the first of `keys` is read — the CTP struct's name — and the
/// others are skipped, as any unknown key.
fn take_body(
    obj: &mut Map<String, Value>,
    keys: &[&str],
    required: bool,
    ignored: &mut IgnoredKeys,
) -> Result<Option<(String, Value)>, Failure> {
    let mut present = keys.iter().copied().filter(|k| obj.contains_key(*k));
    let Some(key) = present.next() else {
        return if required {
            Err((
                BAD_PARAMETERS,
                format!("missing field `{}` (send {{}} for no filter)", keys[0]),
            ))
        } else {
            Ok(None)
        };
    };
    for other in present {
        // Left in `obj`, so that it is recorded with the other unknown keys.
        ignored.duplicate_body = Some((key.to_string(), other.to_string()));
    }
    let v = obj.remove(key).unwrap_or(Value::Null);
    if v.is_object() || (!required && v.is_null()) {
        Ok(Some((key.to_string(), v)))
    } else {
        Err((
            BAD_PARAMETERS,
            format!("{key}: must be an object, got {}", type_name(&v)),
        ))
    }
}

/// Runs `f` on a body found under `key`; the keys it skips are recorded with `key.`
/// before their paths.
fn within_body<T>(
    key: &str,
    ignored: &mut IgnoredKeys,
    f: impl FnOnce(&mut IgnoredKeys) -> T,
) -> T {
    let mut inner = IgnoredKeys::default();
    let t = f(&mut inner);
    ignored.total += inner.total - inner.paths.len();
    for p in inner.paths {
        ignored.add(&format!("{key}.{p}"));
    }
    t
}

fn body_of<T: serde::de::DeserializeOwned + Default + Validate>(
    key: &str,
    v: Value,
    ignored: &mut IgnoredKeys,
) -> Result<T, Failure> {
    let t: T = if v.is_null() {
        T::default()
    } else {
        within_body(key, ignored, |i| deserialize_body(v, i)).map_err(|e| bad(e.within(key)))?
    };
    t.validate().map_err(|e| bad(e.within(key)))?;
    Ok(t)
}

fn instrument_list(obj: &mut Map<String, Value>) -> Result<Vec<String>, Failure> {
    let v = obj.remove("InstrumentID").ok_or_else(|| {
        (
            BAD_PARAMETERS,
            "missing field `InstrumentID` (an array of instrument IDs)".to_string(),
        )
    })?;
    let items = match v {
        Value::Array(items) => items,
        // A lone string is what a hand-typed request often looks like.
        Value::String(s) => vec![Value::String(s)],
        other => {
            return Err((
                BAD_PARAMETERS,
                format!(
                    "InstrumentID: must be an array of strings, got {}",
                    type_name(&other)
                ),
            ));
        }
    };
    if items.is_empty() {
        return Err((BAD_PARAMETERS, "InstrumentID: the list is empty".into()));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let path = format!("InstrumentID[{i}]");
        let Value::String(s) = item else {
            return Err((
                BAD_PARAMETERS,
                format!("{path}: must be a string, got {}", type_name(&item)),
            ));
        };
        if s.trim().is_empty() {
            return Err((BAD_PARAMETERS, format!("{path}: is empty")));
        }
        check_str(&path, &s, 80).map_err(bad)?;
        out.push(s);
    }
    Ok(out)
}

fn parse_md(
    msg_type: &str,
    obj: &mut Map<String, Value>,
    ignored: &mut IgnoredKeys,
) -> Result<MdRequest, Failure> {
    match msg_type {
        "ReqUserLogin" => {
            // md login needs no credentials; the body may be left out.
            let body = take_body(obj, &["ReqUserLogin"], false, ignored)?;
            let login = match body {
                Some((k, v)) => body_of::<ReqUserLogin>(&k, v, ignored)?,
                None => ReqUserLogin::default(),
            };
            Ok(MdRequest::Login(Box::new(login)))
        }
        "ReqUserLogout" => {
            let body = take_body(obj, &["UserLogout", "ReqUserLogout"], false, ignored)?;
            let logout = match body {
                Some((k, v)) => body_of::<UserLogout>(&k, v, ignored)?,
                None => UserLogout::default(),
            };
            Ok(MdRequest::Logout(logout))
        }
        "SubscribeMarketData" => Ok(MdRequest::Subscribe(instrument_list(obj)?)),
        "UnSubscribeMarketData" => Ok(MdRequest::Unsubscribe(instrument_list(obj)?)),
        other => {
            let hint = if TD_REQUEST_SPECS
                .iter()
                .any(|s| s.msg_type == canonical_msg_type(other))
            {
                format!("{other} is a trading request: send it to /td/")
            } else {
                format!(
                    "unknown MsgType `{other}` on /md/ (known: ReqUserLogin, SubscribeMarketData, UnSubscribeMarketData, ReqUserLogout, Ping)"
                )
            };
            Err((NOT_IMPLEMENTED, hint))
        }
    }
}

fn parse_td(
    msg_type: &str,
    obj: &mut Map<String, Value>,
    ignored: &mut IgnoredKeys,
) -> Result<TdRequest, Failure> {
    let canonical = canonical_msg_type(msg_type);
    let Some(spec) = TD_REQUEST_SPECS.iter().find(|s| s.msg_type == canonical) else {
        let detail = if matches!(msg_type, "SubscribeMarketData" | "UnSubscribeMarketData") {
            format!("{msg_type} is a market data request: send it to /md/")
        } else if msg_type.starts_with("Req") {
            format!("{msg_type} is not implemented by webctp")
        } else {
            format!("unknown MsgType `{msg_type}`")
        };
        return Err((NOT_IMPLEMENTED, detail));
    };
    let mut keys = vec![spec.body_key, spec.msg_type];
    if msg_type != spec.msg_type {
        keys.push(msg_type);
    }
    keys.extend_from_slice(body_key_aliases(spec.msg_type));
    keys.dedup();
    let Some((key, body)) = take_body(obj, &keys, true, ignored)? else {
        return Err((BAD_PARAMETERS, format!("missing field `{}`", spec.body_key)));
    };
    match within_body(&key, ignored, |i| {
        TdRequest::from_json(spec.msg_type, body, i)
    }) {
        Some(Ok(req)) => {
            req.validate().map_err(|e| bad(e.within(&key)))?;
            Ok(req)
        }
        Some(Err(e)) => Err(bad(e.within(&key))),
        None => Err((NOT_IMPLEMENTED, format!("{msg_type} is not implemented"))),
    }
}

#[cfg(test)]
mod tests;

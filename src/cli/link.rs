//! How the terminal reaches the gateway: in-process through the dispatcher (the same
//! path as WebSocket clients, without the socket), or over WebSockets to a running
//! gateway (`exec --url`). Either way it sends JSON text and receives messages, which
//! are decoded here into the protocol's types ([`Inbound`]).

use std::ops::Deref;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::error::{CliError, Result};
use crate::gateway::{Connection, Dispatcher};
use crate::protocol::Endpoint;
use crate::protocol::client::{DecodeError, MsgKind, Received};

/// One message from the gateway: decoded, and its text, which `--json` and `raw`
/// print.
#[derive(Debug, Clone)]
pub struct Inbound {
    msg: Received,
    text: Arc<str>,
}

impl Deref for Inbound {
    type Target = Received;
    fn deref(&self) -> &Received {
        &self.msg
    }
}

impl Inbound {
    /// Decodes one message's text.
    pub fn decode(text: &[u8]) -> std::result::Result<Inbound, DecodeError> {
        let msg = Received::decode(text)?;
        Ok(Inbound {
            msg,
            text: String::from_utf8_lossy(text).into(),
        })
    }

    fn value(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// The message as one line of compact JSON (what `--json` prints).
    pub fn json(&self) -> String {
        self.value().to_string()
    }

    /// The message as indented JSON (what `raw` prints in table mode).
    pub fn pretty(&self) -> String {
        serde_json::to_string_pretty(&self.value()).unwrap_or_default()
    }

    /// The same message with one top-level key set (e.g. an answer relabelled as the
    /// push it stands for, or marked as the last of its answers).
    pub fn with(&self, key: &str, value: Value) -> std::result::Result<Inbound, DecodeError> {
        let mut v = self.value();
        if let Value::Object(m) = &mut v {
            m.insert(key.to_string(), value);
        }
        Inbound::decode(v.to_string().as_bytes())
    }
}

/// Something the gateway sent.
#[derive(Debug, Clone)]
pub enum Incoming {
    Message(Endpoint, Inbound),
    /// A message that could not be decoded: said on the screen, never dropped
    /// silently.
    Unreadable(Endpoint, DecodeError),
    /// The connection closed, with the reason the gateway gave.
    Closed(Endpoint, String),
}

impl Incoming {
    /// Decodes what arrived on `ep`: the message, or why it cannot be read.
    pub fn read(ep: Endpoint, bytes: &[u8]) -> Incoming {
        match Inbound::decode(bytes) {
            Ok(m) => Incoming::Message(ep, m),
            Err(e) => Incoming::Unreadable(ep, e),
        }
    }
}

/// A connection pair (md and td) to the gateway.
pub enum Link {
    InProcess {
        md: Arc<Mutex<Connection>>,
        td: Arc<Mutex<Connection>>,
    },
    Remote {
        md: mpsc::UnboundedSender<String>,
        td: mpsc::UnboundedSender<String>,
    },
}

/// What a connection yields: the link, and what the gateway sends on it.
pub type Connected = (Link, mpsc::UnboundedReceiver<Incoming>);

impl Link {
    /// Connects to the dispatcher of this process.
    pub fn in_process(d: &Arc<Dispatcher>) -> Result<Connected> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut pair = Vec::new();
        for ep in [Endpoint::Md, Endpoint::Td] {
            let conn = d
                .connect(ep)
                .map_err(|r| CliError::ConnectionRefused(r.0))?;
            let outbox = conn.outbox.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(bytes) = outbox.recv().await {
                    if tx.send(Incoming::read(ep, &bytes)).is_err() {
                        return;
                    }
                }
                let _ = tx.send(Incoming::Closed(ep, "closed".into()));
            });
            pair.push(Arc::new(Mutex::new(conn)));
        }
        let (Some(td), Some(md)) = (pair.pop(), pair.pop()) else {
            return Err(CliError::NotSent);
        };
        Ok((Link::InProcess { md, td }, rx))
    }

    /// Connects to a running gateway at `url` (`ws://host:port`; `/md/` and `/td/`
    /// are appended).
    pub async fn remote(url: &str, token: Option<&str>) -> Result<Connected> {
        let base = url.trim_end_matches('/');
        let base = base
            .strip_suffix("/md")
            .or_else(|| base.strip_suffix("/td"))
            .unwrap_or(base);
        let (tx, rx) = mpsc::unbounded_channel();
        let mut senders = Vec::new();
        for (ep, path) in [(Endpoint::Md, "md"), (Endpoint::Td, "td")] {
            let target = format!("{base}/{path}/");
            let mut req = target
                .as_str()
                .into_client_request()
                .map_err(|e| CliError::BadUrl {
                    url: target.clone(),
                    reason: e.to_string(),
                })?;
            if let Some(t) = token {
                let value = format!("Bearer {t}")
                    .parse()
                    .map_err(|_| CliError::BadToken)?;
                req.headers_mut().insert("authorization", value);
            }
            let (ws, _) = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                tokio_tungstenite::connect_async_with_config(req, None, true),
            )
            .await
            .map_err(|_| CliError::ConnectTimeout(target.clone()))?
            .map_err(|e| CliError::Connect {
                url: target.clone(),
                reason: e.to_string(),
            })?;
            let (mut sink, mut stream) = ws.split();
            let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
            let tx = tx.clone();
            let pong_tx = out_tx.clone();
            tokio::spawn(async move {
                while let Some(text) = out_rx.recv().await {
                    if sink.send(Message::text(text)).await.is_err() {
                        return;
                    }
                }
                let _ = sink.close().await;
            });
            tokio::spawn(async move {
                let mut reason = "connection closed".to_string();
                while let Some(m) = stream.next().await {
                    match m {
                        Ok(Message::Text(t)) => {
                            let incoming = Incoming::read(ep, t.as_bytes());
                            // Keep the gateway's heartbeat answered.
                            if let Incoming::Message(_, m) = &incoming
                                && m.kind == MsgKind::Ping
                            {
                                let _ = pong_tx.send(r#"{"MsgType":"Pong"}"#.to_string());
                                continue;
                            }
                            if tx.send(incoming).is_err() {
                                return;
                            }
                        }
                        Ok(Message::Close(Some(f))) => {
                            reason = format!(
                                "closed by the gateway ({}): {}",
                                u16::from(f.code),
                                f.reason
                            );
                        }
                        Ok(_) => {}
                        Err(e) => {
                            reason = format!("connection lost: {e}");
                            break;
                        }
                    }
                }
                let _ = tx.send(Incoming::Closed(ep, reason));
            });
            senders.push(out_tx);
        }
        let (Some(td), Some(md)) = (senders.pop(), senders.pop()) else {
            return Err(CliError::NotSent);
        };
        Ok((Link::Remote { md, td }, rx))
    }

    /// Sends one JSON request.
    pub fn send(&self, ep: Endpoint, text: String) -> Result<()> {
        match self {
            Link::InProcess { md, td } => {
                let conn = if ep == Endpoint::Md { md } else { td };
                conn.lock().unwrap_or_else(|e| e.into_inner()).handle(&text);
                Ok(())
            }
            Link::Remote { md, td } => {
                let tx = if ep == Endpoint::Md { md } else { td };
                tx.send(text).map_err(|_| CliError::NotSent)
            }
        }
    }
}

/// Sends `POST <path>` to the gateway behind a `ws://` URL (its admin endpoints).
pub async fn admin_post(url: &str, path: &str, token: Option<&str>) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some(host) = url.strip_prefix("ws://") else {
        return Err(CliError::AdminNeedsWs);
    };
    let host = host.split('/').next().unwrap_or(host);
    let mut s = tokio::net::TcpStream::connect(host)
        .await
        .map_err(|source| CliError::Unreachable {
            host: host.to_string(),
            source,
        })?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!("POST {path} HTTP/1.0\r\nHost: {host}\r\n{auth}Content-Length: 0\r\n\r\n");
    s.write_all(req.as_bytes())
        .await
        .map_err(CliError::AdminIo)?;
    let mut buf = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .map_err(|_| CliError::AdminTimeout)?
        .map_err(CliError::AdminIo)?;
    let text = String::from_utf8_lossy(&buf);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    /// The admin endpoints' answer.
    #[derive(serde::Deserialize)]
    struct AdminAnswer {
        ok: bool,
        #[serde(default)]
        detail: String,
    }
    let answer: AdminAnswer = serde_json::from_str(body)
        .map_err(|_| CliError::AdminUnexpected(text.lines().next().unwrap_or("").to_string()))?;
    if answer.ok {
        Ok(answer.detail)
    } else {
        Err(CliError::AdminRefused(answer.detail))
    }
}

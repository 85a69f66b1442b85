//! How the terminal reaches the gateway: in-process through the dispatcher (the same
//! path as WebSocket clients, without the socket), or over WebSockets to a running
//! gateway (`exec --url`). Either way it sends JSON text and receives JSON messages.

use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::gateway::{Connection, Dispatcher};
use crate::protocol::Endpoint;

/// Something the gateway sent.
#[derive(Debug, Clone)]
pub enum Incoming {
    Message(Endpoint, Value),
    /// The connection closed, with the reason the gateway gave.
    Closed(Endpoint, String),
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

fn parse(text: &[u8]) -> Option<Value> {
    serde_json::from_slice(text).ok()
}

impl Link {
    /// Connects to the dispatcher of this process.
    pub fn in_process(
        d: &Arc<Dispatcher>,
    ) -> Result<(Link, mpsc::UnboundedReceiver<Incoming>), String> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut pair = Vec::new();
        for ep in [Endpoint::Md, Endpoint::Td] {
            let conn = d.connect(ep).map_err(|r| r.0)?;
            let outbox = conn.outbox.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(bytes) = outbox.recv().await {
                    if let Some(v) = parse(&bytes)
                        && tx.send(Incoming::Message(ep, v)).is_err()
                    {
                        return;
                    }
                }
                let _ = tx.send(Incoming::Closed(ep, "closed".into()));
            });
            pair.push(Arc::new(Mutex::new(conn)));
        }
        let td = pair.pop().ok_or("no td connection")?;
        let md = pair.pop().ok_or("no md connection")?;
        Ok((Link::InProcess { md, td }, rx))
    }

    /// Connects to a running gateway at `url` (`ws://host:port`; `/md/` and `/td/`
    /// are appended).
    pub async fn remote(
        url: &str,
        token: Option<&str>,
    ) -> Result<(Link, mpsc::UnboundedReceiver<Incoming>), String> {
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
                .map_err(|e| format!("bad gateway URL {target}: {e}"))?;
            if let Some(t) = token {
                let value = format!("Bearer {t}")
                    .parse()
                    .map_err(|_| "the token cannot be sent in a header".to_string())?;
                req.headers_mut().insert("authorization", value);
            }
            let (ws, _) = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                tokio_tungstenite::connect_async_with_config(req, None, true),
            )
            .await
            .map_err(|_| format!("timed out connecting to {target}"))?
            .map_err(|e| format!("cannot connect to {target}: {e}"))?;
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
                            let Some(v) = parse(t.as_bytes()) else {
                                continue;
                            };
                            // Keep the gateway's heartbeat answered.
                            if v["MsgType"] == "Ping" {
                                let _ = pong_tx.send(r#"{"MsgType":"Pong"}"#.to_string());
                                continue;
                            }
                            if tx.send(Incoming::Message(ep, v)).is_err() {
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
        let td = senders.pop().ok_or("no td connection")?;
        let md = senders.pop().ok_or("no md connection")?;
        Ok((Link::Remote { md, td }, rx))
    }

    /// Sends one JSON request.
    pub fn send(&self, ep: Endpoint, text: String) -> Result<(), String> {
        match self {
            Link::InProcess { md, td } => {
                let conn = if ep == Endpoint::Md { md } else { td };
                conn.lock().unwrap_or_else(|e| e.into_inner()).handle(&text);
                Ok(())
            }
            Link::Remote { md, td } => {
                let tx = if ep == Endpoint::Md { md } else { td };
                tx.send(text)
                    .map_err(|_| "the connection to the gateway is closed".to_string())
            }
        }
    }
}

/// Sends `POST <path>` to the gateway behind a `ws://` URL (its admin endpoints).
pub async fn admin_post(url: &str, path: &str, token: Option<&str>) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some(host) = url.strip_prefix("ws://") else {
        return Err("admin commands need a ws:// gateway URL".into());
    };
    let host = host.split('/').next().unwrap_or(host);
    let mut s = tokio::net::TcpStream::connect(host)
        .await
        .map_err(|e| format!("cannot reach {host}: {e}"))?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!("POST {path} HTTP/1.0\r\nHost: {host}\r\n{auth}Content-Length: 0\r\n\r\n");
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .map_err(|_| "the gateway did not answer".to_string())?
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    let v: Value = serde_json::from_str(body)
        .map_err(|_| format!("unexpected answer: {}", text.lines().next().unwrap_or("")))?;
    let detail = v["detail"].as_str().unwrap_or("").to_string();
    if v["ok"] == true {
        Ok(detail)
    } else {
        Err(detail)
    }
}

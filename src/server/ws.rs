//! One WebSocket client, served by one task: it feeds incoming frames to the
//! dispatcher, writes what the client's outbox holds (in batches, one flush each),
//! keeps the heartbeat, and closes with a reason.
//!
//! Reading and writing share the task so that an answer produced while handling a
//! request goes out on the next turn of the loop, without waking another task.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{Sink, SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

use crate::gateway::{Dispatcher, Handled};
use crate::protocol::Endpoint;
use crate::protocol::message::ping;

/// Messages written before the socket is flushed.
const BATCH: usize = 256;
/// A client that takes nothing from its socket for this long is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
const WRITE_TIMED_OUT: &str = "the client has not read anything for 30 s";

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Writes a batch of messages and flushes once.
async fn write_batch<S>(sink: &mut S, batch: &mut Vec<Bytes>) -> Result<(), String>
where
    S: Sink<Message, Error = WsError> + Unpin,
{
    let write = async {
        for bytes in batch.drain(..) {
            // Every producer writes serde_json output, which is UTF-8; the bytes are
            // shared, not copied, by all subscribers of a tick.
            let Ok(text) = Utf8Bytes::try_from(bytes) else {
                continue;
            };
            sink.feed(Message::Text(text))
                .await
                .map_err(|e| e.to_string())?;
        }
        sink.flush().await.map_err(|e| e.to_string())
    };
    tokio::time::timeout(WRITE_TIMEOUT, write)
        .await
        .map_err(|_| WRITE_TIMED_OUT.to_string())?
}

fn close(code: u16, reason: impl Into<String>) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from(reason.into()),
    }))
}

/// Serves one upgraded connection until it closes.
pub async fn serve_client<S>(
    ws: WebSocketStream<S>,
    dispatcher: Arc<Dispatcher>,
    endpoint: Endpoint,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = ws.split();
    let mut conn = match dispatcher.connect(endpoint) {
        Ok(c) => c,
        Err(refused) => {
            tracing::warn!(reason = %refused.0, "connection refused");
            let _ = sink.send(close(1013, refused.0)).await;
            return;
        }
    };
    let id = conn.id;
    tracing::info!(client = id, ?endpoint, "client connected");
    let outbox = conn.outbox.clone();
    let cfg = &dispatcher.config;
    let interval = cfg.heartbeat_interval;
    let timeout = cfg.heartbeat_timeout;
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    let mut last_pong = Instant::now();
    let max_frame = cfg.limits.max_frame_bytes;
    let mut batch = Vec::with_capacity(BATCH);
    let mut reading = true;
    let mut closing = false;
    loop {
        tokio::select! {
            // Pending answers go out first.
            biased;
            r = outbox.next_batch(&mut batch, BATCH) => match r {
                Ok(()) => {
                    let n = batch.len();
                    if let Err(e) = write_batch(&mut sink, &mut batch).await {
                        if e == WRITE_TIMED_OUT {
                            crate::metrics::global().dropped(crate::metrics::reason::WRITE_TIMEOUT);
                        }
                        tracing::info!(client = id, error = %e, "dropping the client");
                        break;
                    }
                    crate::metrics::global().sent(endpoint, n);
                }
                Err(reason) => {
                    tracing::info!(client = id, code = reason.code, reason = %reason.reason, "closing client");
                    let frame = sink.send(close(reason.code, reason.reason));
                    let _ = tokio::time::timeout(Duration::from_secs(5), frame).await;
                    break;
                }
            },
            msg = stream.next(), if reading => match msg {
                Some(Ok(Message::Text(text))) => {
                    if conn.handle(text.as_str()) == Handled::Pong {
                        last_pong = Instant::now();
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    conn.refuse_binary("binary frames are not part of the protocol: send JSON as a text frame");
                }
                Some(Ok(Message::Close(_))) | None => break,
                // WebSocket pings are answered by tungstenite itself.
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    reading = false;
                    match e {
                        // The error's text carries the frame's size.
                        WsError::Capacity(e) => {
                            tracing::warn!(client = id, error = %e, "frame over the size limit");
                            crate::metrics::global().dropped(crate::metrics::reason::FRAME_TOO_LARGE);
                            conn.outbox.close(1009, format!("frame larger than {max_frame} bytes"));
                        }
                        WsError::Utf8(_) => {
                            crate::metrics::global().dropped(crate::metrics::reason::BAD_UTF8);
                            conn.outbox.close(1007, "text frame is not valid UTF-8");
                        }
                        other => {
                            tracing::debug!(client = id, error = %other, "websocket read error");
                            break;
                        }
                    }
                }
            },
            _ = heartbeat.tick() => {
                if last_pong.elapsed() > timeout {
                    tracing::warn!(client = id, "no Pong within the heartbeat timeout; dropping the client");
                    crate::metrics::global().dropped(crate::metrics::reason::HEARTBEAT);
                    conn.outbox.close(1001, format!("no Pong received for {} s", timeout.as_secs()));
                } else {
                    conn.outbox.push(ping(unix_ms()));
                }
            }
            _ = shutdown.changed(), if !closing => {
                // Queued messages still go out, then the close frame.
                closing = true;
                conn.outbox.close(1001, "server shutting down");
            }
        }
    }
    drop(conn);
    tracing::info!(client = id, "client disconnected");
}

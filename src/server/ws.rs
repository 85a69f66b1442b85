//! One WebSocket client: a reader loop that feeds frames to the dispatcher and keeps
//! the heartbeat, and a writer task that drains the client's outbox in batches.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use warp::ws::{Message, WebSocket};

use crate::gateway::{Dispatcher, Handled};
use crate::protocol::Endpoint;
use crate::protocol::message::ping;

/// Messages written before the socket is flushed.
const BATCH: usize = 256;

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Serves one upgraded connection until it closes.
pub async fn serve_client(
    ws: WebSocket,
    dispatcher: Arc<Dispatcher>,
    endpoint: Endpoint,
    mut shutdown: watch::Receiver<bool>,
) {
    let (mut sink, mut stream) = ws.split();
    let mut conn = match dispatcher.connect(endpoint) {
        Ok(c) => c,
        Err(refused) => {
            tracing::warn!(reason = %refused.0, "connection refused");
            let _ = sink.send(Message::close_with(1013u16, refused.0)).await;
            return;
        }
    };
    let id = conn.id;
    tracing::info!(client = id, ?endpoint, "client connected");
    let outbox = conn.outbox.clone();
    let writer = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            match outbox.next_batch(&mut batch, BATCH).await {
                Ok(()) => {
                    for bytes in batch.drain(..) {
                        let text = match String::from_utf8(bytes.to_vec()) {
                            Ok(t) => t,
                            Err(_) => continue,
                        };
                        if sink.feed(Message::text(text)).await.is_err() {
                            return;
                        }
                    }
                    if sink.flush().await.is_err() {
                        return;
                    }
                }
                Err(reason) => {
                    tracing::info!(client = id, code = reason.code, reason = %reason.reason, "closing client");
                    let _ = sink
                        .send(Message::close_with(reason.code, reason.reason))
                        .await;
                    let _ = sink.close().await;
                    return;
                }
            }
        }
    });

    let cfg = &dispatcher.config;
    let interval = cfg.heartbeat_interval;
    let timeout = cfg.heartbeat_timeout;
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    let mut last_pong = Instant::now();
    let max_frame = cfg.limits.max_frame_bytes;
    loop {
        tokio::select! {
            msg = stream.next() => match msg {
                Some(Ok(m)) => {
                    if let Ok(text) = m.to_str() {
                        if conn.handle(text) == Handled::Pong {
                            last_pong = Instant::now();
                        }
                    } else if m.is_binary() {
                        conn.refuse_binary("binary frames are not part of the protocol: send JSON as a text frame");
                    } else if m.is_close() {
                        break;
                    }
                }
                Some(Err(e)) => {
                    let text = e.to_string();
                    if text.contains("too long") || text.contains("Space limit") || text.contains("too big") {
                        tracing::warn!(client = id, error = %text, "frame over the size limit");
                        conn.outbox.close(1009, format!("frame larger than {max_frame} bytes"));
                    } else if text.contains("utf-8") || text.contains("UTF-8") || text.contains("Utf8") {
                        conn.outbox.close(1007, "text frame is not valid UTF-8");
                    } else {
                        tracing::debug!(client = id, error = %text, "websocket read error");
                    }
                    break;
                }
                None => break,
            },
            _ = heartbeat.tick() => {
                if last_pong.elapsed() > timeout {
                    tracing::warn!(client = id, "no Pong within the heartbeat timeout; dropping the client");
                    conn.outbox.close(1001, format!("no Pong received for {} s", timeout.as_secs()));
                    break;
                }
                conn.outbox.push(ping(unix_ms()));
            }
            _ = shutdown.changed() => {
                conn.outbox.close(1001, "server shutting down");
                break;
            }
        }
        if conn.outbox.is_closed() {
            break;
        }
    }
    drop(conn);
    // Let the writer flush what is queued and send the close frame, but not forever.
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
    tracing::info!(client = id, "client disconnected");
}

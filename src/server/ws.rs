//! One WebSocket client, served by one task with two halves that never wait on each
//! other: the reader feeds incoming frames to the dispatcher and keeps the heartbeat;
//! the writer sends what the client's outbox holds (in batches, one flush each).
//!
//! They must not wait on each other: a client that reads slowly keeps the writer
//! waiting on the socket, and its Pongs, Pings and UnSubscribe must still be handled
//! (its market data conflates meanwhile, its answers count against its byte budget).
//! Both halves run in the same task, so an answer produced while handling a request
//! goes out without waking another task.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

use super::ServerError;
use super::heartbeat::{Beat, Heartbeat};
use crate::gateway::{Connection, Dispatcher, Handled, Outbox};
use crate::protocol::Endpoint;
use crate::protocol::message::ping;

/// Messages written before the socket is flushed.
const BATCH: usize = 256;
/// A client that takes nothing from its socket for this long is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a closed connection waits for the client's close frame.
const CLOSE_REPLY_WAIT: Duration = Duration::from_secs(2);

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Writes a batch of messages and flushes once.
async fn write_batch<S>(sink: &mut S, batch: &mut Vec<Bytes>) -> Result<(), ServerError>
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
            sink.feed(Message::Text(text)).await?;
        }
        Ok(sink.flush().await?)
    };
    tokio::time::timeout(WRITE_TIMEOUT, write)
        .await
        .map_err(|_| ServerError::WriteTimeout(WRITE_TIMEOUT))?
}

fn close(code: u16, reason: impl Into<String>) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from(reason.into()),
    }))
}

/// How the reader stopped.
enum ReadEnd {
    /// The client closed the connection or it broke: nothing more can be sent.
    Gone,
    /// The outbox was closed (heartbeat lost, bad frame, shutdown): the writer sends
    /// what is queued, then the close frame.
    Closing,
}

/// Sends the outbox's messages until it is closed (then the close frame) or the
/// client stops taking them. True if the close frame went out.
async fn write_loop<S>(sink: &mut S, outbox: &Outbox, id: u64, endpoint: Endpoint) -> bool
where
    S: Sink<Message, Error = WsError> + Unpin,
{
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        match outbox.next_batch(&mut batch, BATCH).await {
            Ok(()) => {
                let n = batch.len();
                if let Err(e) = write_batch(sink, &mut batch).await {
                    if matches!(e, ServerError::WriteTimeout(_)) {
                        crate::metrics::global().dropped(crate::metrics::reason::WRITE_TIMEOUT);
                    }
                    tracing::info!(client = id, error = %e, "dropping the client");
                    return false;
                }
                crate::metrics::global().sent(endpoint, n);
            }
            Err(reason) => {
                tracing::info!(client = id, code = reason.code, reason = %reason.reason, "closing client");
                let frame = sink.send(close(reason.code, reason.reason));
                return matches!(
                    tokio::time::timeout(Duration::from_secs(5), frame).await,
                    Ok(Ok(()))
                );
            }
        }
    }
}

/// After our close frame, reads (and discards) until the client's close frame, as RFC
/// 6455 section 7.1.1 asks. Closing the socket with requests still unread in our
/// receive buffer would make the kernel send a reset, and the client would lose the
/// answers and the close frame still on their way to it.
async fn await_close_reply<R>(stream: &mut R)
where
    R: Stream<Item = Result<Message, WsError>> + Unpin,
{
    let drain = async {
        while let Some(Ok(msg)) = stream.next().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_REPLY_WAIT, drain).await;
}

/// Reads frames and hands them to the dispatcher; keeps the heartbeat.
async fn read_loop<R>(
    stream: &mut R,
    conn: &mut Connection,
    dispatcher: &Dispatcher,
    shutdown: &mut watch::Receiver<bool>,
) -> ReadEnd
where
    R: Stream<Item = Result<Message, WsError>> + Unpin,
{
    let id = conn.id;
    let cfg = &dispatcher.config;
    let now = tokio::time::Instant::now();
    let mut beat = Heartbeat::new(cfg.heartbeat_interval, cfg.heartbeat_timeout, now);
    let mut heartbeat = tokio::time::interval_at(now + beat.interval(), beat.interval());
    let max_frame = cfg.limits.max_frame_bytes;
    loop {
        tokio::select! {
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    if conn.handle(text.as_str()) == Handled::Pong {
                        beat.pong(tokio::time::Instant::now());
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    conn.refuse_binary("binary frames are not part of the protocol: send JSON as a text frame");
                }
                Some(Ok(Message::Close(_))) | None => return ReadEnd::Gone,
                // WebSocket pings are answered by tungstenite itself.
                Some(Ok(_)) => {}
                Some(Err(e)) => match e {
                    // The error's text carries the frame's size.
                    WsError::Capacity(e) => {
                        tracing::warn!(client = id, error = %e, "frame over the size limit");
                        crate::metrics::global().dropped(crate::metrics::reason::FRAME_TOO_LARGE);
                        conn.outbox.close(1009, format!("frame larger than {max_frame} bytes"));
                        return ReadEnd::Closing;
                    }
                    WsError::Utf8(_) => {
                        crate::metrics::global().dropped(crate::metrics::reason::BAD_UTF8);
                        conn.outbox.close(1007, "text frame is not valid UTF-8");
                        return ReadEnd::Closing;
                    }
                    other => {
                        tracing::debug!(client = id, error = %other, "websocket read error");
                        return ReadEnd::Gone;
                    }
                },
            },
            _ = heartbeat.tick() => {
                if beat.tick(tokio::time::Instant::now()) == Beat::Dead {
                    tracing::warn!(client = id, "no Pong within the heartbeat timeout; dropping the client");
                    crate::metrics::global().dropped(crate::metrics::reason::HEARTBEAT);
                    conn.outbox.close(1001, format!("no Pong received for {} s", beat.timeout().as_secs()));
                    return ReadEnd::Closing;
                }
                conn.outbox.push_control(ping(unix_ms()));
            }
            _ = shutdown.changed() => {
                // Queued messages still go out, then the close frame.
                conn.outbox.close(1001, "server shutting down");
                return ReadEnd::Closing;
            }
        }
    }
}

/// Serves one upgraded connection until it closes.
pub async fn serve_client<S>(
    ws: WebSocketStream<S>,
    dispatcher: Arc<Dispatcher>,
    endpoint: Endpoint,
    peer: Option<std::net::SocketAddr>,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = ws.split();
    let mut conn = match dispatcher.connect_from(endpoint, peer.map(|p| p.ip())) {
        Ok(c) => c,
        Err(refused) => {
            tracing::warn!(reason = %refused.0, "connection refused");
            let _ = sink.send(close(1013, refused.0)).await;
            return;
        }
    };
    let id = conn.id;
    match peer {
        Some(peer) => tracing::info!(client = id, ?endpoint, %peer, "client connected"),
        None => tracing::info!(client = id, ?endpoint, "client connected"),
    }
    let outbox = conn.outbox.clone();
    let sent_close = {
        let writer = write_loop(&mut sink, &outbox, id, endpoint);
        tokio::pin!(writer);
        let reader = read_loop(&mut stream, &mut conn, &dispatcher, &mut shutdown);
        tokio::select! {
            sent = &mut writer => sent,
            end = reader => match end {
                ReadEnd::Closing => writer.await,
                ReadEnd::Gone => false,
            },
        }
    };
    // Whatever is still queued can no longer be delivered: give the memory back now,
    // not when the last producer lets go of the outbox.
    outbox.discard();
    if sent_close {
        await_close_reply(&mut stream).await;
    }
    drop(conn);
    tracing::info!(client = id, "client disconnected");
}

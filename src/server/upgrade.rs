//! The WebSocket upgrade of `/md/` and `/td/`, done here rather than by `warp::ws`:
//! warp does not expose tungstenite's buffer sizes, whose 128 KiB defaults cost about
//! 140 KiB of memory per idle connection, and its `Message::text` copies every frame.
//! Everything else (`/healthz`, `/admin`, 401 and 404 answers) stays with warp.

use std::sync::Arc;

use tokio::sync::watch;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use warp::Reply;
use warp::http::{Request, StatusCode, header};
use warp::hyper::body::Incoming;

use super::auth::Access;
use crate::gateway::Dispatcher;
use crate::protocol::Endpoint;

/// Read and write buffers per connection: small, and grown only for large frames.
const BUFFER: usize = 4 * 1024;

/// The endpoint a request upgrades to, if it is a WebSocket upgrade of `/md/` or `/td/`
/// that this listener serves.
pub fn endpoint_of(req: &Request<Incoming>, served: &[Endpoint]) -> Option<Endpoint> {
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !upgrade {
        return None;
    }
    let ep = match req.uri().path() {
        "/md/" | "/md" => Endpoint::Md,
        "/td/" | "/td" => Endpoint::Td,
        _ => return None,
    };
    served.contains(&ep).then_some(ep)
}

fn refuse(status: StatusCode, error: &str, detail: &str) -> warp::reply::Response {
    let body = warp::reply::json(&serde_json::json!({"error": error, "detail": detail}));
    warp::reply::with_status(body, status).into_response()
}

/// Answers the upgrade request and, once the connection is switched, serves it.
pub fn upgrade(
    mut req: Request<Incoming>,
    endpoint: Endpoint,
    dispatcher: Arc<Dispatcher>,
    access: &Access,
    peer: std::net::SocketAddr,
    shutdown: watch::Receiver<bool>,
) -> warp::reply::Response {
    let headers = req.headers();
    // A web page must not open a trading connection from the user's browser.
    if let Err(denied) = access.check_origin(headers) {
        tracing::warn!(refused = ?denied, "WebSocket upgrade from a web page refused");
        return denied.reply();
    }
    if !access.token_ok(headers, Some(req.uri().query().unwrap_or(""))) {
        return super::auth::Denied::Token { header_only: false }.reply();
    }
    let version_ok = headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|v| v.as_bytes() == b"13");
    let Some(key) = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .filter(|_| version_ok)
    else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "bad upgrade",
            "a WebSocket upgrade needs Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key",
        );
    };
    let accept = derive_accept_key(key.as_bytes());
    let on_upgrade = warp::hyper::upgrade::on(&mut req);
    let max = dispatcher.config.limits.max_frame_bytes;
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(error = %e, "WebSocket upgrade failed");
                return;
            }
        };
        let config = WebSocketConfig::default()
            .read_buffer_size(BUFFER)
            .write_buffer_size(BUFFER)
            .max_write_buffer_size(64 << 20)
            .max_message_size(Some(max))
            .max_frame_size(Some(max));
        let io = hyper_util::rt::TokioIo::new(upgraded);
        let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
        super::ws::serve_client(ws, dispatcher, endpoint, Some(peer), shutdown).await;
    });
    let reply = warp::reply::with_header(warp::reply(), header::CONNECTION, "upgrade");
    let reply = warp::reply::with_header(reply, header::UPGRADE, "websocket");
    let reply = warp::reply::with_header(reply, header::SEC_WEBSOCKET_ACCEPT, accept);
    warp::reply::with_status(reply, StatusCode::SWITCHING_PROTOCOLS).into_response()
}

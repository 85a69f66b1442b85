//! The WebSocket transport: `/md/` and `/td/` (on one port, or on two as the seed's
//! layout has them), `/healthz`, `/metrics`, the token check, and graceful shutdown.

pub mod admission;
pub mod auth;
mod error;
pub mod heartbeat;
pub mod tls;
pub mod upgrade;
pub mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use warp::Filter;

use crate::gateway::Dispatcher;
use crate::protocol::Endpoint;

pub use error::ServerError;

/// The addresses the gateway listens on.
#[derive(Debug, Clone)]
pub struct Bound {
    pub md: SocketAddr,
    pub td: SocketAddr,
}

/// A boxed reply, so the route table can be built from optional parts.
type AnyReply = Box<dyn warp::Reply>;

/// `GET /healthz`: `{"status": "up"}` (or `"down"` with 503 while the market-data
/// front is away) for anyone; versions, counters and sessions only for those
/// [`auth::Access::details_allowed`] lets see them.
fn health(
    dispatcher: Arc<Dispatcher>,
    access: Arc<auth::Access>,
) -> warp::filters::BoxedFilter<(AnyReply,)> {
    use std::sync::atomic::Ordering::Relaxed;
    warp::path("healthz")
        .and(warp::path::end())
        .and(warp::header::headers_cloned())
        .map(move |headers: warp::http::HeaderMap| {
            let d = &dispatcher;
            let up = d.md.is_up();
            let status = if up { "up" } else { "down" };
            let code = if up {
                warp::http::StatusCode::OK
            } else {
                warp::http::StatusCode::SERVICE_UNAVAILABLE
            };
            let body = if access.details_allowed(&headers) {
                serde_json::json!({
                    "status": status,
                    "backend": d.backend.name(),
                    "version": d.backend.version(),
                    "webctp_version": crate::build_info::VERSION,
                    "commit": crate::build_info::COMMIT,
                    "uptime_s": d.started.elapsed().as_secs(),
                    "connections": d.connection_count(),
                    "md_front_up": up,
                    "md_subscriptions": d.md.upstream_subscriptions(),
                    "ticks": d.md.ticks.load(Relaxed),
                    "requests": d.requests.load(Relaxed),
                    "ignored_keys": d.ignored_keys.load(Relaxed),
                    "td_sessions": d.td_sessions.load(Relaxed),
                    "td_orders_tracked": d.tracked_orders(),
                    "queued_bytes": d.queued_bytes.load(Relaxed),
                })
            } else {
                serde_json::json!({"status": status})
            };
            Box::new(warp::reply::with_status(warp::reply::json(&body), code)) as AnyReply
        })
        .boxed()
}

/// `GET /metrics`: Prometheus text format, behind the token when one is set.
fn metrics(dispatcher: Arc<Dispatcher>) -> warp::filters::BoxedFilter<(AnyReply,)> {
    let token = dispatcher.config.token.clone().map(Arc::new);
    warp::get()
        .and(warp::path("metrics"))
        .and(warp::path::end())
        .and(auth::require_token(token))
        .map(move || {
            let body = crate::metrics::scrape::render(&dispatcher);
            Box::new(warp::reply::with_header(
                body,
                "content-type",
                crate::metrics::scrape::CONTENT_TYPE,
            )) as AnyReply
        })
        .boxed()
}

/// `POST /admin/drop-front?seconds=N` and `POST /admin/settle`: the sim's fault
/// injection and end of day, for tests and operators. Off unless `AdminEndpoints`,
/// and behind [`auth::Access::admin_allowed`].
fn admin(
    dispatcher: Arc<Dispatcher>,
    access: Arc<auth::Access>,
) -> warp::filters::BoxedFilter<(AnyReply,)> {
    use std::collections::HashMap;
    let answer = |r: Result<String, ServerError>| -> AnyReply {
        let (status, body) = match r {
            Ok(detail) => (
                warp::http::StatusCode::OK,
                serde_json::json!({"ok": true, "detail": detail}),
            ),
            Err(e) => (
                warp::http::StatusCode::BAD_REQUEST,
                serde_json::json!({"ok": false, "detail": e.to_string()}),
            ),
        };
        Box::new(warp::reply::with_status(warp::reply::json(&body), status))
    };
    let d1 = dispatcher.clone();
    let drop_front = warp::path!("drop-front")
        .and(warp::query::<HashMap<String, String>>())
        .map(move |q: HashMap<String, String>| {
            let secs = q
                .get("seconds")
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s > 0.0 && *s <= 3600.0);
            let at_next_order = q.get("at_next_order").map(String::as_str);
            answer(match (secs, at_next_order) {
                (None, _) => Err(ServerError::AdminQuery(
                    "give ?seconds=N (0 < N <= 3600)".into(),
                )),
                (Some(s), None) => d1
                    .backend
                    .drop_front(std::time::Duration::from_secs_f64(s))
                    .map(|()| format!("front dropped for {s} s"))
                    .map_err(ServerError::from),
                (Some(s), Some(fate @ ("lost" | "placed"))) => d1
                    .backend
                    .drop_front_at_next_order(
                        std::time::Duration::from_secs_f64(s),
                        fate == "placed",
                    )
                    .map(|()| {
                        format!("the front drops for {s} s at the next order insert ({fate})")
                    })
                    .map_err(ServerError::from),
                (Some(_), Some(other)) => Err(ServerError::AdminQuery(format!(
                    "at_next_order is lost or placed, not {other:?}"
                ))),
            })
        });
    let settle = warp::path!("settle").map(move || {
        answer(
            dispatcher
                .backend
                .settle()
                .map(|day| format!("settled; the new trading day is {day}"))
                .map_err(ServerError::from),
        )
    });
    // The path first, so that other paths are still 404; then who may.
    warp::path("admin")
        .and(auth::admin_guard(access))
        .and(warp::post())
        .and(drop_front.or(settle).unify())
        .boxed()
}

/// Binds the configured ports. Port 0 picks a free port (tests use that).
pub async fn bind(
    dispatcher: &Dispatcher,
) -> std::io::Result<(Vec<(TcpListener, Vec<Endpoint>)>, Bound)> {
    let cfg = &dispatcher.config;
    if let Some(t) = &cfg.tls {
        tls::acceptor(t).map_err(std::io::Error::other)?;
    }
    let md_port = cfg.md_port.unwrap_or(cfg.port);
    let td_port = cfg.td_port.unwrap_or(cfg.port);
    let host = cfg.host.as_str();
    let bind_one = |port: u16| async move {
        TcpListener::bind((host, port)).await.map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot listen on {host}:{port}: {e}"))
        })
    };
    if md_port == td_port {
        let l = bind_one(md_port).await?;
        let addr = l.local_addr()?;
        Ok((
            vec![(l, vec![Endpoint::Md, Endpoint::Td])],
            Bound { md: addr, td: addr },
        ))
    } else {
        let md = bind_one(md_port).await?;
        let td = bind_one(td_port).await?;
        let bound = Bound {
            md: md.local_addr()?,
            td: td.local_addr()?,
        };
        Ok((
            vec![(md, vec![Endpoint::Md]), (td, vec![Endpoint::Td])],
            bound,
        ))
    }
}

/// Accepts connections on `listener` and serves them with `routes` until `stop`.
///
/// webctp runs the accept loop itself (instead of `warp::serve`) to set TCP_NODELAY on
/// every socket: without it, small WebSocket frames wait for Nagle's algorithm and a
/// delayed ACK, tens of milliseconds on loopback.
/// What one listener serves.
#[derive(Clone)]
struct Site<F> {
    dispatcher: Arc<Dispatcher>,
    endpoints: Vec<Endpoint>,
    routes: F,
    shutdown: watch::Receiver<bool>,
    admission: Arc<admission::Admission>,
    access: Arc<auth::Access>,
}

async fn accept_loop<F>(
    listener: TcpListener,
    site: Site<F>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut stop: tokio::sync::broadcast::Receiver<()>,
) where
    F: Filter + Clone + Send + Sync + 'static,
    F::Extract: warp::Reply,
{
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder;
    use tower_service::Service;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut backoff = admission::AcceptBackoff::default();
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => {
                    backoff.succeeded();
                    x
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    let wait = backoff.failed(&e);
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.recv() => break,
                    }
                    continue;
                }
            },
            _ = stop.recv() => break,
        };
        let Some(slot) = site.admission.admit(site.dispatcher.connection_count()) else {
            tracing::warn!(%peer, "too many connections; refusing one");
            site.admission.refuse(stream);
            continue;
        };
        let handshake_timeout = site.admission.handshake_timeout;
        let _ = stream.set_nodelay(true);
        let site = site.clone();
        // /md/ and /td/ upgrades are served here; every other request goes to warp.
        let service = warp::hyper::service::service_fn(
            move |req: warp::http::Request<warp::hyper::body::Incoming>| {
                let site = site.clone();
                async move {
                    if let Some(ep) = upgrade::endpoint_of(&req, &site.endpoints) {
                        let reply = upgrade::upgrade(
                            req,
                            ep,
                            site.dispatcher.clone(),
                            &site.access,
                            peer,
                            site.shutdown.clone(),
                        );
                        return Ok::<_, std::convert::Infallible>(reply);
                    }
                    warp::service(site.routes.clone()).call(req).await
                }
            },
        );
        match &tls {
            None => {
                let conn = Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    // Until the upgrade (or the end of a plain HTTP exchange) the
                    // socket holds a place; once upgraded, the WebSocket counts.
                    let _slot = slot;
                    match tokio::time::timeout(handshake_timeout, conn).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "connection error"),
                        Err(_) => {
                            tracing::debug!(%peer, "HTTP phase over the handshake timeout; closed")
                        }
                    }
                });
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let _slot = slot;
                    let deadline = tokio::time::Instant::now() + handshake_timeout;
                    // A client that never finishes its handshake must not hold a task forever.
                    let handshake =
                        tokio::time::timeout_at(deadline, acceptor.accept(stream)).await;
                    let stream = match handshake {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                    let conn = Builder::new(TokioExecutor::new())
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned();
                    match tokio::time::timeout_at(deadline, watcher.watch(conn)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "connection error"),
                        Err(_) => {
                            tracing::debug!(%peer, "HTTP phase over the handshake timeout; closed")
                        }
                    }
                });
            }
        }
    }
    drop(listener);
    // Plain HTTP requests in progress finish; upgraded WebSockets are closed separately.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), graceful.shutdown()).await;
}

/// Serves the listeners until `shutdown` resolves; then stops accepting and closes
/// every client with code 1001.
pub async fn serve(
    dispatcher: Arc<Dispatcher>,
    listeners: Vec<(TcpListener, Vec<Endpoint>)>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let tls = match &dispatcher.config.tls {
        Some(cfg) => match tls::acceptor(cfg) {
            Ok(a) => Some(a),
            Err(e) => {
                // bind() checked the files; this only happens if they changed since.
                tracing::error!("{e}");
                return;
            }
        },
        None => None,
    };
    let (tx, rx) = watch::channel(false);
    let mut servers = Vec::new();
    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let limits = &dispatcher.config.limits;
    let admission = admission::Admission::new(
        admission::effective_max_connections(limits.max_connections),
        limits.handshake_timeout,
    );
    let access = Arc::new(auth::Access::from_config(&dispatcher.config));
    for (listener, endpoints) in listeners {
        let routes = health(dispatcher.clone(), access.clone())
            .or(metrics(dispatcher.clone()))
            .unify()
            .or(admin(dispatcher.clone(), access.clone()))
            .unify()
            .recover(auth::handle_rejection);
        let site = Site {
            dispatcher: dispatcher.clone(),
            endpoints,
            routes,
            shutdown: rx.clone(),
            admission: admission.clone(),
            access: access.clone(),
        };
        servers.push(tokio::spawn(accept_loop(
            listener,
            site,
            tls.clone(),
            stop_tx.subscribe(),
        )));
    }
    shutdown.await;
    tracing::info!("shutting down: no new connections, closing clients");
    let _ = stop_tx.send(());
    let _ = tx.send(true);
    if let Some(bus) = &dispatcher.bus {
        bus.shutdown();
    }
    for s in servers {
        let _ = s.await;
    }
    // Give client tasks a moment to send their close frames.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
    while dispatcher.connection_count() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    dispatcher.backend.flush();
}

//! The WebSocket transport: `/md/` and `/td/` (on one port, or on two as the seed's
//! layout has them), `/healthz`, the token check, and graceful shutdown.

pub mod auth;
pub mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use warp::Filter;

use crate::gateway::Dispatcher;
use crate::protocol::Endpoint;

/// The addresses the gateway listens on.
#[derive(Debug, Clone)]
pub struct Bound {
    pub md: SocketAddr,
    pub td: SocketAddr,
}

fn endpoint_route(
    dispatcher: Arc<Dispatcher>,
    endpoint: Endpoint,
    shutdown: watch::Receiver<bool>,
) -> warp::filters::BoxedFilter<(impl warp::Reply,)> {
    let path = match endpoint {
        Endpoint::Md => "md",
        Endpoint::Td => "td",
    };
    let token = dispatcher.config.token.clone().map(Arc::new);
    let max = dispatcher.config.limits.max_frame_bytes;
    warp::path(path)
        .and(warp::path::end())
        .and(auth::require_token(token))
        .and(warp::ws())
        .map(move |ws: warp::ws::Ws| {
            let d = dispatcher.clone();
            let shutdown = shutdown.clone();
            ws.max_message_size(max)
                .max_frame_size(max)
                .on_upgrade(move |socket| ws::serve_client(socket, d, endpoint, shutdown))
        })
        .boxed()
}

fn health(dispatcher: Arc<Dispatcher>) -> warp::filters::BoxedFilter<(impl warp::Reply,)> {
    warp::path("healthz")
        .and(warp::path::end())
        .map(move || {
            let d = &dispatcher;
            warp::reply::json(&serde_json::json!({
                "status": "ok",
                "backend": d.backend.name(),
                "version": d.backend.version(),
                "uptime_s": d.started.elapsed().as_secs(),
                "connections": d.connection_count(),
                "md_front_up": d.md.is_up(),
                "md_subscriptions": d.md.upstream_subscriptions(),
                "ticks": d.md.ticks.load(std::sync::atomic::Ordering::Relaxed),
                "requests": d.requests.load(std::sync::atomic::Ordering::Relaxed),
            }))
        })
        .boxed()
}

/// Binds the configured ports. Port 0 picks a free port (tests use that).
pub async fn bind(
    dispatcher: &Dispatcher,
) -> std::io::Result<(Vec<(TcpListener, Vec<Endpoint>)>, Bound)> {
    let cfg = &dispatcher.config;
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

/// Serves the listeners until `shutdown` resolves; then stops accepting and closes
/// every client with code 1001.
pub async fn serve(
    dispatcher: Arc<Dispatcher>,
    listeners: Vec<(TcpListener, Vec<Endpoint>)>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let (tx, rx) = watch::channel(false);
    let mut servers = Vec::new();
    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    for (listener, endpoints) in listeners {
        let md = endpoints
            .contains(&Endpoint::Md)
            .then(|| endpoint_route(dispatcher.clone(), Endpoint::Md, rx.clone()));
        let td = endpoints
            .contains(&Endpoint::Td)
            .then(|| endpoint_route(dispatcher.clone(), Endpoint::Td, rx.clone()));
        let mut stop = stop_tx.subscribe();
        let graceful = async move {
            let _ = stop.recv().await;
        };
        let health = health(dispatcher.clone());
        let routes = match (md, td) {
            (Some(md), Some(td)) => md
                .or(td)
                .map(|r| Box::new(r) as Box<dyn warp::Reply>)
                .or(health.map(|r| Box::new(r) as Box<dyn warp::Reply>))
                .unify()
                .boxed(),
            (Some(md), None) => md
                .map(|r| Box::new(r) as Box<dyn warp::Reply>)
                .or(health.map(|r| Box::new(r) as Box<dyn warp::Reply>))
                .unify()
                .boxed(),
            (None, Some(td)) => td
                .map(|r| Box::new(r) as Box<dyn warp::Reply>)
                .or(health.map(|r| Box::new(r) as Box<dyn warp::Reply>))
                .unify()
                .boxed(),
            (None, None) => health.map(|r| Box::new(r) as Box<dyn warp::Reply>).boxed(),
        };
        let routes = routes.recover(auth::handle_rejection);
        servers.push(tokio::spawn(
            warp::serve(routes)
                .incoming(listener)
                .graceful(graceful)
                .run(),
        ));
    }
    shutdown.await;
    tracing::info!("shutting down: no new connections, closing clients");
    let _ = stop_tx.send(());
    let _ = tx.send(true);
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

//! The dispatcher: every request from every client — WebSocket frames and REPL
//! commands alike — enters here as JSON text, is validated by the protocol parser,
//! checked against the connection's login and rate limit, and routed to the shared
//! market-data hub or to the connection's trading session. Answers go to the
//! connection's [`Outbox`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::md_hub::{ClientId, MdHub};
use super::outbox::Outbox;
use super::td_session::{TdSession, TdSettings};
use crate::config::Config;
use crate::ctp::{Backend, BackendError};
use crate::protocol::errors::{NOT_LOGGED_IN, RATE_LIMITED};
use crate::protocol::fields::{Body, ReqUserLogin, UserLogout};
use crate::protocol::message::{gateway_error, pong};
use crate::protocol::{Endpoint, MdRequest, ParsedRequest, Reply, Request, TdRequest, parse};

/// Shared state of the gateway: the backend, the market-data hub, limits and counters.
pub struct Dispatcher {
    pub config: Arc<Config>,
    pub backend: Arc<dyn Backend>,
    pub md: Arc<MdHub>,
    td_settings: TdSettings,
    next_client: AtomicU64,
    connections: AtomicUsize,
    /// Requests handled since start.
    pub requests: AtomicU64,
    /// Request keys webctp does not know and skipped (or refused, when `Strict`).
    pub ignored_keys: AtomicU64,
    /// Trading sessions alive (including ones being torn down).
    pub td_sessions: Arc<AtomicUsize>,
    /// The Redis bus this gateway publishes to, if configured.
    pub bus: Option<Arc<crate::bus::Bus>>,
    /// Bytes queued for all clients and not yet taken by their writers.
    pub queued_bytes: Arc<AtomicUsize>,
    pub started: Instant,
}

/// A connection was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl Dispatcher {
    /// Starts the shared market-data session on `backend`. Call inside a tokio runtime.
    pub fn start(
        config: Config,
        backend: Arc<dyn Backend>,
    ) -> Result<Arc<Dispatcher>, BackendError> {
        let login = ReqUserLogin {
            BrokerID: config.broker_id.clone(),
            UserID: config.user_id.clone().unwrap_or_default(),
            Password: config.password.clone().unwrap_or_default(),
            UserProductInfo: config.user_product_info.clone(),
            ..ReqUserLogin::default()
        };
        // Sets the metrics' hooks (the ledger's sync observer) before traffic starts.
        crate::metrics::global();
        let bus = match &config.bus {
            Some(url) => Some(crate::bus::Bus::start(url)?),
            None => None,
        };
        let front = |what: &str, address: &Option<String>| match address {
            Some(a) => format!("{what} front {a}"),
            None => format!("{what} front (embedded {})", backend.name()),
        };
        let md = MdHub::start(
            &*backend,
            login,
            config.limits.max_subscriptions_per_client,
            front("market-data", &config.md_front_address),
            config.front_wait,
        )?;
        let td_settings = TdSettings {
            broker_id: config.broker_id.clone(),
            app_id: config.app_id.clone(),
            auth_code: config.auth_code.clone(),
            user_product_info: config.user_product_info.clone(),
            auto_confirm_settlement: config.auto_confirm_settlement,
            query_interval: backend.query_interval(),
            query_timeout: Duration::from_secs(30),
            tracked_orders: Arc::new(AtomicUsize::new(0)),
            bus: bus.clone(),
            front: front("trading", &config.td_front_address),
            front_wait: config.front_wait,
        };
        let dispatcher = Arc::new(Dispatcher {
            config: Arc::new(config),
            backend,
            md,
            td_settings,
            next_client: AtomicU64::new(1),
            connections: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            ignored_keys: AtomicU64::new(0),
            td_sessions: Arc::new(AtomicUsize::new(0)),
            queued_bytes: Arc::new(AtomicUsize::new(0)),
            started: Instant::now(),
            bus: bus.clone(),
        });
        if let Some(bus) = &bus {
            bus.attach(&dispatcher);
        }
        Ok(dispatcher)
    }

    /// Orders the trading sessions still follow (sent, not yet final or with trades
    /// still to come); it comes back to zero when every order is final.
    pub fn tracked_orders(&self) -> usize {
        self.td_settings.tracked_orders.load(Ordering::Relaxed)
    }

    /// Open connections.
    pub fn connection_count(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    /// Opens a client connection on `endpoint`, unless the connection limit is reached.
    pub fn connect(self: &Arc<Self>, endpoint: Endpoint) -> Result<Connection, Refused> {
        self.connect_from(endpoint, None)
    }

    /// Opens a connection of a client at `peer` (a WebSocket's remote address): its
    /// logins carry that address as `ClientIPAddress`, whatever the client wrote there.
    pub fn connect_from(
        self: &Arc<Self>,
        endpoint: Endpoint,
        peer: Option<std::net::IpAddr>,
    ) -> Result<Connection, Refused> {
        let max = self.config.limits.max_connections;
        let n = self.connections.fetch_add(1, Ordering::AcqRel);
        if n >= max {
            self.connections.fetch_sub(1, Ordering::AcqRel);
            crate::metrics::global().dropped(crate::metrics::reason::CONNECTION_LIMIT);
            return Err(Refused(format!("too many connections (limit {max})")));
        }
        let id = self.next_client.fetch_add(1, Ordering::Relaxed);
        let limits = &self.config.limits;
        let outbox = Arc::new(
            Outbox::new(limits.md_queue_depth, limits.td_queue_depth)
                .with_byte_budget(limits.td_queue_bytes)
                .with_gauge(self.queued_bytes.clone()),
        );
        if endpoint == Endpoint::Md {
            self.md.add_client(id, outbox.clone());
        }
        crate::metrics::global().connected(endpoint);
        Ok(Connection {
            id,
            endpoint,
            outbox,
            dispatcher: self.clone(),
            td: None,
            bucket: TokenBucket::new(limits.requests_per_second),
            peer,
        })
    }
}

/// What the transport needs to know about a handled frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// A request (or an error answer to one).
    Request,
    /// The client answered the server's heartbeat.
    Pong,
}

/// Requests per second with a one-second burst.
struct TokenBucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(per_second: u32) -> TokenBucket {
        TokenBucket {
            rate: f64::from(per_second.max(1)),
            tokens: f64::from(per_second.max(1)),
            last: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.rate);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One client's connection to the gateway.
pub struct Connection {
    pub id: ClientId,
    pub endpoint: Endpoint,
    /// Everything the gateway sends this client.
    pub outbox: Arc<Outbox>,
    dispatcher: Arc<Dispatcher>,
    td: Option<Arc<TdSession>>,
    bucket: TokenBucket,
    /// The client's address, for a WebSocket client.
    peer: Option<std::net::IpAddr>,
}

impl Connection {
    /// Handles one frame of JSON text from the client.
    pub fn handle(&mut self, text: &str) -> Handled {
        self.dispatcher.requests.fetch_add(1, Ordering::Relaxed);
        let parsed = match parse(text, self.endpoint) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(client = self.id, code = e.code, detail = %e.detail, "request refused");
                crate::metrics::global().refused(&e);
                self.outbox.push(e.to_json());
                return Handled::Request;
            }
        };
        if parsed.request == Request::Pong {
            return Handled::Pong;
        }
        if !parsed.ignored.is_empty() {
            self.dispatcher
                .ignored_keys
                .fetch_add(parsed.ignored.total as u64, Ordering::Relaxed);
            if self.dispatcher.config.strict
                && let Some(e) = parsed.strict_error()
            {
                tracing::debug!(client = self.id, detail = %e.detail, "request refused");
                self.outbox.push(e.to_json());
                return Handled::Request;
            }
            tracing::debug!(
                client = self.id,
                msg_type = %parsed.msg_type,
                keys = ?parsed.ignored.paths,
                total = parsed.ignored.total,
                "unknown request keys ignored"
            );
        }
        if !self.bucket.take() {
            crate::metrics::global()
                .request(&parsed.msg_type, crate::metrics::result::RATE_LIMITED);
            self.outbox.push(gateway_error(
                &parsed.msg_type,
                RATE_LIMITED,
                &format!(
                    "more than {} requests per second; slow down",
                    self.dispatcher.config.limits.requests_per_second
                ),
                Some(i64::from(parsed.request_id)),
            ));
            return Handled::Request;
        }
        self.route(parsed);
        Handled::Request
    }

    /// Sends a frame the transport could not read as text (binary or not UTF-8).
    pub fn refuse_binary(&self, detail: &str) {
        self.outbox.push(gateway_error(
            "",
            crate::protocol::errors::BAD_PARAMETERS,
            detail,
            None,
        ));
    }

    fn not_logged_in(&self, p: &ParsedRequest, what: &str) {
        crate::metrics::global().request(&p.msg_type, crate::metrics::result::NOT_LOGGED_IN);
        self.outbox.push(gateway_error(
            &p.msg_type,
            NOT_LOGGED_IN,
            &format!(
                "log in first: send ReqUserLogin on {what} before {}",
                p.msg_type
            ),
            Some(i64::from(p.request_id)),
        ));
    }

    fn route(&mut self, p: ParsedRequest) {
        let rid = p.request_id;
        let accepted = |p: &ParsedRequest| {
            crate::metrics::global().request(&p.msg_type, crate::metrics::result::ACCEPTED);
        };
        match &p.request {
            Request::Ping { timestamp } => {
                accepted(&p);
                self.outbox.push_control(pong(timestamp.as_ref()));
            }
            Request::Pong => {}
            Request::Md(md) => {
                let hub = &self.dispatcher.md;
                if matches!(md, MdRequest::Login(_) | MdRequest::Logout(_)) {
                    accepted(&p);
                }
                match md {
                    MdRequest::Login(_) => hub.client_login(self.id, rid),
                    MdRequest::Logout(l) => {
                        let reply = Reply::response(
                            "RspUserLogout",
                            "UserLogout",
                            Some(Body::from(UserLogout {
                                BrokerID: l.BrokerID.clone(),
                                UserID: l.UserID.clone(),
                            })),
                            Some(crate::protocol::errors::rsp_info(0)),
                            rid,
                            true,
                        );
                        self.outbox.push(reply.to_json());
                    }
                    MdRequest::Subscribe(ids) | MdRequest::Unsubscribe(ids) => {
                        if !hub.is_logged_in(self.id) {
                            return self.not_logged_in(&p, "/md/");
                        }
                        // Each instrument is answered on its own: a frame naming
                        // 100,000 must not make 100,000 answers.
                        let max = self.dispatcher.config.limits.max_instruments_per_request;
                        if ids.len() > max {
                            self.outbox.push(gateway_error(
                                &p.msg_type,
                                crate::protocol::errors::BAD_PARAMETERS,
                                &format!(
                                    "{} instruments in one request; at most {max} (Limits.MaxInstrumentsPerRequest)",
                                    ids.len()
                                ),
                                Some(i64::from(rid)),
                            ));
                            return;
                        }
                        accepted(&p);
                        if matches!(md, MdRequest::Subscribe(_)) {
                            hub.subscribe(self.id, rid, ids);
                        } else {
                            hub.unsubscribe(self.id, rid, ids);
                        }
                    }
                }
            }
            Request::Td(req) => {
                let opens = matches!(
                    **req,
                    TdRequest::ReqUserLogin(_) | TdRequest::ReqAuthenticate(_)
                );
                // After a refused login a request goes to CTP, which answers it with its
                // own error (6, not logged in), as the Python projects pass it through;
                // while the front is down after a login was sent it is CTP's -1 (its API
                // refuses calls then), with the front's state; before any login it is
                // the gateway's -401, as there.
                let may_send = self
                    .td
                    .as_ref()
                    .is_some_and(|s| s.is_logged_in() || s.login_refused() || s.front_down());
                if !opens && !may_send {
                    return self.not_logged_in(&p, "/td/");
                }
                accepted(&p);
                if let TdRequest::ReqUserLogin(login) = &**req
                    && let Some(old) = &self.td
                    && old.is_logged_in()
                    && !old.same_login(login)
                {
                    // Another account on a logged-in connection: a new session, as in
                    // the Python projects; the old one is closed and its pushes end.
                    tracing::info!(
                        client = self.id,
                        "a second login on the connection; its trading session is replaced"
                    );
                    old.close();
                    self.td = None;
                }
                let d = &self.dispatcher;
                let session = self
                    .td
                    .get_or_insert_with(|| {
                        TdSession::new(
                            self.outbox.clone(),
                            d.backend.clone(),
                            d.td_settings.clone(),
                            d.td_sessions.clone(),
                        )
                    })
                    .clone();
                let Request::Td(mut req) = p.request else {
                    return;
                };
                // The backend (and the sim's login lockout) sees where the client
                // really is; a client cannot claim another's address.
                if let (TdRequest::ReqUserLogin(l), Some(ip)) = (&mut *req, self.peer) {
                    let ip = ip.to_string();
                    if ip.len() <= 32 {
                        l.ClientIPAddress = ip;
                    }
                }
                session.request(*req, rid);
            }
        }
    }

    /// The trading session, once one was opened.
    pub fn td_session(&self) -> Option<&Arc<TdSession>> {
        self.td.as_ref()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if self.endpoint == Endpoint::Md {
            self.dispatcher.md.remove_client(self.id);
        }
        if let Some(td) = self.td.take() {
            td.close();
        }
        self.outbox.close(1000, "connection closed");
        self.dispatcher.connections.fetch_sub(1, Ordering::AcqRel);
        crate::metrics::global().disconnected(self.endpoint);
    }
}

//! What the hub knows — its clients, the front's login, the subscriptions upstream and
//! those waiting for the front's answer — as a pure state machine: [`Machine`] holds
//! no backend, no outbox, no lock and no task; it takes
//! [`Event`](super::actions::Event)s with the time they happen at and returns
//! [`Actions`](super::actions::Actions) for the driver ([`MdHub`](super::MdHub)).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::time::Instant;

use super::super::front_watch::FrontWatch;
use super::ClientId;
use crate::protocol::fields::{RspInfo, RspUserLogin};

pub(super) struct ClientEntry {
    pub(super) logged_in: bool,
    /// Instruments the client asked for and has not given up.
    pub(super) wanted: HashSet<String>,
}

/// One subscribe request waiting for the front's answers.
pub(super) struct PendingSub {
    pub(super) client: ClientId,
    pub(super) request_id: i32,
    pub(super) items: Vec<(String, Option<RspInfo>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Upstream {
    /// Not connected (or the front went away).
    Down,
    /// Connected, login sent.
    LoggingIn,
    LoggedIn(Box<RspUserLogin>),
}

/// What the machine takes from the configuration.
pub(super) struct Config {
    /// Instruments one client may hold.
    pub(super) max_subscriptions: usize,
    /// How long a client's login waits for a front that has not connected before the
    /// client is told the front is down.
    pub(super) front_wait: Duration,
}

/// The shared market-data session's state machine (see the module docs).
pub(super) struct Machine {
    pub(super) cfg: Config,
    /// When the event being handled happened.
    pub(super) now: Instant,
    pub(super) clients: HashMap<ClientId, ClientEntry>,
    pub(super) upstream: Upstream,
    /// Ever logged in (a later login is a reconnect).
    pub(super) was_logged_in: bool,
    /// The driver holds the upstream session (calls can be made).
    pub(super) opened: bool,
    /// The front connected before the session was open.
    pub(super) connect_pending: bool,
    pub(super) subscribed: HashSet<String>,
    /// Instruments asked of the front and not yet answered.
    pub(super) in_flight: HashSet<String>,
    pub(super) pending: HashMap<u64, PendingSub>,
    pub(super) next_pending: u64,
    pub(super) login_waiters: Vec<(ClientId, i32)>,
    /// Each instrument's conflation key in the clients' outboxes.
    pub(super) keys: HashMap<String, u32>,
    /// Who receives each instrument's ticks (the driver's routing table mirrors it).
    pub(super) routes: HashMap<String, Vec<ClientId>>,
    pub(super) next_request_id: i32,
    /// The front's connection as the log tells it.
    pub(super) watch: FrontWatch,
    /// Clients were told the front is down before it was ever logged in.
    pub(super) told_down: bool,
}

impl Machine {
    pub(super) fn new(cfg: Config, watch: FrontWatch, now: Instant) -> Machine {
        Machine {
            cfg,
            now,
            clients: HashMap::new(),
            upstream: Upstream::Down,
            was_logged_in: false,
            opened: false,
            connect_pending: false,
            subscribed: HashSet::new(),
            in_flight: HashSet::new(),
            pending: HashMap::new(),
            next_pending: 0,
            login_waiters: Vec::new(),
            keys: HashMap::new(),
            routes: HashMap::new(),
            next_request_id: 0,
            watch,
            told_down: false,
        }
    }
}

//! What the hub knows: its clients, the front's login, the subscriptions upstream and
//! those waiting for the front's answer.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::super::front_watch::FrontWatch;
use super::super::outbox::Outbox;
use super::ClientId;
use crate::protocol::fields::{RspInfo, RspUserLogin};

pub(super) struct Route {
    pub(super) key: u32,
    pub(super) subscribers: Vec<(ClientId, Arc<Outbox>)>,
}

pub(super) struct ClientEntry {
    pub(super) outbox: Arc<Outbox>,
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

pub(super) struct HubState {
    pub(super) clients: HashMap<ClientId, ClientEntry>,
    pub(super) upstream: Upstream,
    /// Ever logged in (a later login is a reconnect).
    pub(super) was_logged_in: bool,
    /// The front connected before the session object was stored.
    pub(super) connect_pending: bool,
    pub(super) subscribed: HashSet<String>,
    /// Instruments asked of the front and not yet answered.
    pub(super) in_flight: HashSet<String>,
    pub(super) pending: HashMap<u64, PendingSub>,
    pub(super) next_pending: u64,
    pub(super) login_waiters: Vec<(ClientId, i32)>,
    pub(super) keys: HashMap<String, u32>,
    pub(super) next_request_id: i32,
    /// The front's connection as the log tells it.
    pub(super) watch: FrontWatch,
    /// Clients were told the front is down before it was ever logged in.
    pub(super) told_down: bool,
}

impl HubState {
    pub(super) fn new(watch: FrontWatch) -> HubState {
        HubState {
            clients: HashMap::new(),
            upstream: Upstream::Down,
            was_logged_in: false,
            connect_pending: false,
            subscribed: HashSet::new(),
            in_flight: HashSet::new(),
            pending: HashMap::new(),
            next_pending: 0,
            login_waiters: Vec::new(),
            keys: HashMap::new(),
            next_request_id: 0,
            watch,
            told_down: false,
        }
    }
}

//! What goes into the hub's state machine ([`Event`]) and what comes out
//! ([`Actions`]): the machine decides, the driver ([`MdHub`](super::MdHub)) does —
//! calls the front, writes to clients' outboxes, updates the tick routes, arms timers,
//! logs — outside the hub's lock.

use bytes::Bytes;
use tokio::time::Instant;

use super::super::front_watch::Note;
use super::ClientId;
use super::state::Machine;
use crate::ctp::FrontEvent;
use crate::protocol::Reply;

/// Something that happened to the hub, as the driver tells the machine.
#[derive(Debug)]
pub(super) enum Event {
    /// The driver holds the upstream session now: calls can be made.
    Opened,
    /// The front connected or went away.
    Front(FrontEvent),
    /// An answer from the front.
    Reply(Reply),
    /// The front did not take a call (its return code, never 0).
    Refused { call: Call, code: i32 },
    /// A client connected on `/md/`.
    ClientAdded(ClientId),
    /// A client left.
    ClientRemoved(ClientId),
    /// A client's ReqUserLogin.
    Login { client: ClientId, request_id: i32 },
    /// A client's SubscribeMarketData.
    Subscribe {
        client: ClientId,
        request_id: i32,
        instruments: Vec<String>,
    },
    /// A client's UnSubscribeMarketData.
    Unsubscribe {
        client: ClientId,
        request_id: i32,
        instruments: Vec<String>,
    },
    /// A timer armed by [`Actions::timers`] went off.
    Timer(Timer),
    /// The driver's once-a-second look whether a "front still down" line is due.
    WatchTick,
}

/// A call into the upstream market-data session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Call {
    /// The hub's ReqUserLogin with this request ID.
    Login(i32),
    Subscribe(Vec<String>),
    Unsubscribe(Vec<String>),
}

/// What a timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// A client's login waited the front wait for a front that has not connected.
    FrontCheck { client: ClientId, request_id: i32 },
    /// A client's login waited the longest it may.
    LoginExpired { client: ClientId, request_id: i32 },
    /// A subscription waited the longest it may for the front's answer.
    SubscriptionExpired(u64),
    /// Send the refused (or unsent) front login again.
    RetryLogin,
}

/// Work the machine decided; the driver does it in this order: routes, send, calls,
/// timers, log.
#[derive(Debug, Default)]
pub(super) struct Actions {
    /// Add a client to an instrument's tick route (with the instrument's conflation
    /// key).
    pub(super) join: Vec<(String, u32, ClientId)>,
    /// Take a client out of an instrument's tick route (the route goes when empty).
    pub(super) leave: Vec<(String, ClientId)>,
    /// Messages to clients, in order.
    pub(super) send: Vec<(ClientId, Bytes)>,
    /// Calls into the upstream session; a refused one comes back as
    /// [`Event::Refused`].
    pub(super) calls: Vec<Call>,
    /// Timers to arm: the driver sends [`Event::Timer`] at that instant.
    pub(super) timers: Vec<(Instant, Timer)>,
    /// Lines about the front for the log.
    pub(super) notes: Vec<Note>,
}

impl Actions {
    /// Appends `other`'s work after this one's.
    pub(super) fn extend(&mut self, other: Actions) {
        self.join.extend(other.join);
        self.leave.extend(other.leave);
        self.send.extend(other.send);
        self.calls.extend(other.calls);
        self.timers.extend(other.timers);
        self.notes.extend(other.notes);
    }

    /// Whether there is nothing to do.
    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.join.is_empty()
            && self.leave.is_empty()
            && self.send.is_empty()
            && self.calls.is_empty()
            && self.timers.is_empty()
            && self.notes.is_empty()
    }
}

impl Machine {
    /// The one way in: what happened at `now`, and what to do about it.
    pub(super) fn handle(&mut self, now: Instant, event: Event) -> Actions {
        self.now = now;
        match event {
            Event::Opened => self.on_opened(),
            Event::Front(FrontEvent::Connected) => self.on_connected(),
            Event::Front(FrontEvent::Disconnected { reason }) => self.on_disconnected(reason),
            Event::Reply(r) => self.on_reply(r),
            Event::Refused { call, code } => self.on_refused(call, code),
            Event::ClientAdded(id) => {
                self.clients.insert(
                    id,
                    super::state::ClientEntry {
                        logged_in: false,
                        wanted: Default::default(),
                    },
                );
                Actions::default()
            }
            Event::ClientRemoved(id) => self.remove_client(id),
            Event::Login { client, request_id } => self.client_login(client, request_id),
            Event::Subscribe {
                client,
                request_id,
                instruments,
            } => self.subscribe(client, request_id, &instruments),
            Event::Unsubscribe {
                client,
                request_id,
                instruments,
            } => self.unsubscribe(client, request_id, &instruments),
            Event::Timer(Timer::FrontCheck { client, request_id }) => {
                self.front_overdue(client, request_id)
            }
            Event::Timer(Timer::LoginExpired { client, request_id }) => {
                self.expire_login(client, request_id)
            }
            Event::Timer(Timer::SubscriptionExpired(key)) => self.expire_pending(key),
            Event::Timer(Timer::RetryLogin) => {
                if self.upstream == super::state::Upstream::LoggingIn {
                    self.send_login()
                } else {
                    Actions::default()
                }
            }
            Event::WatchTick => Actions {
                notes: self.watch.due(now).into_iter().collect(),
                ..Actions::default()
            },
        }
    }
}

//! What goes into the trading session's state machine ([`Event`]) and what comes out
//! ([`Actions`]): the machine decides, the driver ([`TdSession`](super::TdSession))
//! does — calls the backend, writes to the client's outbox, arms timers, logs — always
//! outside the session's lock.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::super::front_watch::Note;
use super::super::order_tracker::OrderKey;
use super::state::Machine;
use crate::ctp::{BackendError, FrontEvent};
use crate::protocol::{Reply, TdRequest};

/// Something that happened to the session, as the driver tells the machine.
#[derive(Debug)]
pub(super) enum Event {
    /// A client's request (the dispatcher checked the login).
    Request { req: TdRequest, request_id: i32 },
    /// An answer or push from the backend.
    Reply(Reply),
    /// The front connected or went away.
    Front(FrontEvent),
    /// The upstream session asked for by [`Actions::open`] is open, or could not be
    /// opened (the backend's error).
    Opened(Result<(), BackendError>),
    /// The backend did not take a call (its return code, never 0).
    Refused { call: Call, code: i32 },
    /// A timer armed by [`Actions::timers`] went off.
    Timer(Timer),
    /// The query pump looks whether a query may go; `backed_up` says whether the
    /// client still has most of its earlier answers unread.
    Pump { backed_up: bool },
    /// The driver's once-a-second look whether a "front still down" line is due.
    WatchTick,
    /// The client is gone: the session ends.
    Close,
}

/// A call into the upstream session.
#[derive(Debug, Clone)]
pub(super) struct Call {
    /// The ID the request goes upstream with (the client's for orders, the
    /// session's own otherwise).
    pub(super) id: i32,
    pub(super) req: TdRequest,
    pub(super) kind: CallKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum CallKind {
    /// Login, authentication, settlement confirm, a client's non-query request.
    Session,
    /// A paced query (sent by the pump).
    Query,
    /// An order insert (with the key it is followed by) or cancel.
    Order(Option<OrderKey>),
}

/// What a timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// The backoff before a re-login is over.
    Relogin,
    /// The login's wait for the front is over.
    FrontCheck,
}

/// Work the machine decided; the driver does it in this order: open, send, publish,
/// release, calls, pump, timers, log.
#[derive(Debug, Default)]
pub(super) struct Actions {
    /// Open the upstream session for this UserID; the driver answers with
    /// [`Event::Opened`].
    pub(super) open: Option<String>,
    /// Messages to the client, in order.
    pub(super) send: Vec<Bytes>,
    /// A push to publish on the bus too: its MsgType and (broker, user).
    pub(super) publish: Option<(&'static str, String, String, Bytes)>,
    /// Let the upstream session go (after a logout).
    pub(super) release: bool,
    /// Calls into the upstream session; a refused one comes back as
    /// [`Event::Refused`].
    pub(super) calls: Vec<Call>,
    /// A query may be able to go: wake the pump.
    pub(super) wake_pump: bool,
    /// After a pump step: look again after this long (zero: at once); `None`: wait to
    /// be woken.
    pub(super) pump_again: Option<Duration>,
    /// Timers to arm: the driver sends [`Event::Timer`] at that instant.
    pub(super) timers: Vec<(Instant, Timer)>,
    /// Start the once-a-second [`Event::WatchTick`] (at the first connect).
    pub(super) start_watch: bool,
    /// Lines about the front for the log.
    pub(super) notes: Vec<Note>,
    /// The next query waits for the pacing until then (for the metrics).
    pub(super) pacing_wait: Option<Instant>,
}

impl Actions {
    pub(super) fn send(msg: impl Into<Bytes>) -> Actions {
        Actions {
            send: vec![msg.into()],
            ..Actions::default()
        }
    }

    pub(super) fn call(id: i32, req: TdRequest, kind: CallKind) -> Actions {
        Actions {
            calls: vec![Call { id, req, kind }],
            ..Actions::default()
        }
    }

    /// Whether there is nothing to do.
    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.open.is_none()
            && self.send.is_empty()
            && self.publish.is_none()
            && !self.release
            && self.calls.is_empty()
            && !self.wake_pump
            && self.pump_again.is_none()
            && self.timers.is_empty()
            && !self.start_watch
            && self.notes.is_empty()
    }
}

impl Machine {
    /// The one way in: what happened at `now`, and what to do about it.
    pub(super) fn handle(&mut self, now: Instant, event: Event) -> Actions {
        if self.closed {
            return Actions::default();
        }
        self.now = now;
        match event {
            Event::Request { req, request_id } => self.on_request(now, req, request_id),
            Event::Reply(r) => self.on_reply(r),
            Event::Front(FrontEvent::Connected) => self.on_connected(now),
            Event::Front(FrontEvent::Disconnected { reason }) => self.on_disconnected(now, reason),
            Event::Opened(result) => self.on_opened(now, result),
            Event::Refused { call, code } => self.on_refused(call, code),
            Event::Timer(Timer::Relogin) => self.relogin_due(),
            Event::Timer(Timer::FrontCheck) => self.front_overdue(now),
            Event::Pump { backed_up } => self.pump(now, backed_up),
            Event::WatchTick => Actions {
                notes: self
                    .watch
                    .as_mut()
                    .and_then(|w| w.due(now))
                    .into_iter()
                    .collect(),
                ..Actions::default()
            },
            Event::Close => {
                self.closed = true;
                self.queries.clear();
                Actions {
                    release: true,
                    wake_pump: true,
                    ..Actions::default()
                }
            }
        }
    }
}

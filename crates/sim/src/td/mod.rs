//! A trading session on the simulated exchange: what a CTP trading front does with
//! each request, answered with CTP's messages and error IDs.
//!
//! Every request runs under the exchange lock; its records and answers are handed to
//! the ledger in the same critical section, so answers leave in the order the
//! exchange decided them, and only once the records they depend on are on disk.
//!
//! Here: the session, how answers are collected and handed to the ledger, and the
//! requests before login. [`login`]: logging in and its guard against guessing;
//! [`requests`]: what a logged-in session may ask; [`orders`]: inserting and
//! cancelling.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use super::SimCore;
use super::exchange::{Exchange, Push, Record};
use super::ledger::{Delivery, SimError};
use super::queries;
use webctp_protocol::backend::{TdEvents, TdSession};
use webctp_protocol::errors::{ctp, request, rsp_info};
use webctp_protocol::fields::*;
use webctp_protocol::{CtpChar, Reply, TdRequest};

mod login;
mod orders;
mod requests;

pub(crate) use login::LoginGuard;

#[derive(Default)]
struct SessionState {
    user: Option<String>,
    authenticated: bool,
    next_order_ref: i64,
}

/// One client's session on the sim's trading front.
pub struct SimTdSession {
    core: Weak<SimCore>,
    pub(super) events: Arc<dyn TdEvents>,
    pub(super) session_id: i32,
    state: Mutex<SessionState>,
}

/// Answers and pushes collected while the exchange is locked.
#[derive(Default)]
struct Out {
    records: Vec<Record>,
    deliveries: Vec<Delivery>,
}

impl Out {
    fn reply(&mut self, to: &Arc<dyn TdEvents>, r: Reply) {
        let to = to.clone();
        self.deliveries.push(Box::new(move || to.reply(r)));
    }
}

impl SimTdSession {
    pub(super) fn new(
        core: Weak<SimCore>,
        events: Arc<dyn TdEvents>,
        session_id: i32,
    ) -> SimTdSession {
        SimTdSession {
            core,
            events,
            session_id,
            state: Mutex::new(SessionState::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SessionState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The logged-in user.
    pub(super) fn user(&self) -> Option<String> {
        self.lock().user.clone()
    }

    /// Forgets the login (the front went away).
    pub(super) fn disconnected(&self) {
        let mut s = self.lock();
        s.user = None;
        s.authenticated = false;
    }

    fn respond(
        &self,
        out: &mut Out,
        msg_type: &'static str,
        body_key: &'static str,
        body: Option<Body>,
        code: i32,
        rid: i32,
    ) {
        out.reply(
            &self.events,
            Reply::response(msg_type, body_key, body, Some(rsp_info(code)), rid, true),
        );
    }

    /// Answers a query with one message per record, IsLast on the last, and one null
    /// body for an empty result.
    fn answer_all(
        &self,
        out: &mut Out,
        spec_msg: &'static str,
        key: &'static str,
        bodies: Vec<Body>,
        rid: i32,
    ) {
        if bodies.is_empty() {
            out.reply(
                &self.events,
                Reply::response(spec_msg, key, None, None, rid, true),
            );
            return;
        }
        let n = bodies.len();
        for (i, b) in bodies.into_iter().enumerate() {
            out.reply(
                &self.events,
                Reply::response(spec_msg, key, Some(b), Some(rsp_info(0)), rid, i + 1 == n),
            );
        }
    }
}

impl SimTdSession {
    /// Like [`SimTdSession::answer_all`] for a long answer: one delivery builds and
    /// sends each message in turn, so the whole answer never exists at once.
    fn answer_rows(
        &self,
        out: &mut Out,
        spec_msg: &'static str,
        key: &'static str,
        rows: queries::Rows,
        rid: i32,
    ) {
        let to = self.events.clone();
        out.deliveries.push(Box::new(move || {
            let mut rows = rows.peekable();
            if rows.peek().is_none() {
                to.reply(Reply::response(spec_msg, key, None, None, rid, true));
                return;
            }
            while let Some(b) = rows.next() {
                let last = rows.peek().is_none();
                to.reply(Reply::response(
                    spec_msg,
                    key,
                    Some(b),
                    Some(rsp_info(0)),
                    rid,
                    last,
                ));
            }
        }));
    }
}

/// The event sinks of every logged-in session of `user`: a user's pushes reach all
/// of them, as CTP sends private-flow returns to every session of an investor.
fn sessions_of(core: &SimCore, user: &str) -> Vec<Arc<dyn TdEvents>> {
    core.td_sessions()
        .into_iter()
        .filter(|s| s.user().as_deref() == Some(user))
        .map(|s| s.events.clone())
        .collect()
}

/// Deliveries of pushes to every logged-in session of `user`.
fn pushes_to(core: &SimCore, user: &str, pushes: Vec<Push>, out: &mut Out) {
    if pushes.is_empty() {
        return;
    }
    let targets = sessions_of(core, user);
    for p in pushes {
        let reply = match p {
            Push::Order(o) => Reply::push("RtnOrder", "Order", Some(Body::Order(o)), None),
            Push::Trade(t) => Reply::push("RtnTrade", "Trade", Some(Body::Trade(t)), None),
        };
        for t in &targets {
            out.reply(t, reply.clone());
        }
    }
}

/// Applies decided records, journals them and queues the pushes they cause.
fn commit(core: &SimCore, ex: &mut Exchange, records: Vec<Record>, out: &mut Out) {
    for rec in records {
        let Some(live) = ex.apply_live(rec) else {
            continue;
        };
        out.records.push(live.record);
        if let Some(u) = live.user {
            pushes_to(core, &u, live.pushes, out);
        }
    }
}

/// Hands collected records and deliveries to the ledger (caller holds the exchange lock).
fn flush(core: &SimCore, out: Out) -> Result<(), SimError> {
    if out.records.is_empty() && out.deliveries.is_empty() {
        return Ok(());
    }
    core.ledger.append(&out.records, out.deliveries)
}

/// Records decided outside a request (market moves, day roll), committed the same way.
pub(super) fn commit_and_flush(core: &SimCore, ex: &mut Exchange, records: Vec<Record>) {
    let mut out = Out::default();
    commit(core, ex, records, &mut out);
    if let Err(e) = flush(core, out) {
        tracing::error!("{e}");
    }
}

impl TdSession for SimTdSession {
    fn request(&self, req: &TdRequest, rid: i32) -> i32 {
        let Some(core) = self.core.upgrade() else {
            return request::NETWORK_FAILURE;
        };
        if !core.front_up() || core.ledger.failed().is_some() {
            return request::NETWORK_FAILURE;
        }
        if matches!(req, TdRequest::ReqOrderInsert(_))
            && let Some((duration, placed)) = core.take_order_fault()
        {
            return self.order_in_a_drop(&core, req, rid, duration, placed);
        }
        let mut ex = core.exchange.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Out::default();
        self.handle(&core, &mut ex, req, rid, &mut out);
        let result = flush(&core, out);
        drop(ex);
        // Answers go out from this thread once the lock is released (Durability: os);
        // with fsync the ledger thread sends them after the sync.
        core.ledger.drain();
        match result {
            Ok(()) => 0,
            Err(e) => {
                tracing::error!("{e}");
                request::NETWORK_FAILURE
            }
        }
    }
}

impl SimTdSession {
    /// Fault injection: the front goes down as this order insert arrives. The API took
    /// it (0); either it is lost on the way (`placed` false: the exchange never gets
    /// it), or the exchange places it and every answer to it is lost in the drop.
    fn order_in_a_drop(
        &self,
        core: &Arc<SimCore>,
        req: &TdRequest,
        rid: i32,
        duration: Duration,
        placed: bool,
    ) -> i32 {
        tracing::warn!(placed, "sim: the front drops as an order insert arrives");
        if placed {
            let mut ex = core.exchange.lock().unwrap_or_else(|e| e.into_inner());
            let mut out = Out::default();
            self.handle(core, &mut ex, req, rid, &mut out);
            out.deliveries.clear();
            if let Err(e) = flush(core, out) {
                tracing::error!("{e}");
            }
            drop(ex);
            core.ledger.drain();
        }
        core.drop_front(duration);
        0
    }

    fn handle(&self, core: &SimCore, ex: &mut Exchange, req: &TdRequest, rid: i32, out: &mut Out) {
        let user = self.user();
        let now = core.clock.now();
        match req {
            TdRequest::ReqAuthenticate(a) => {
                let code = if a.AppID.is_empty() || a.AuthCode.is_empty() {
                    ctp::AUTH_FAILED
                } else {
                    self.lock().authenticated = true;
                    0
                };
                let body = RspAuthenticate {
                    BrokerID: a.BrokerID.clone(),
                    UserID: a.UserID.clone(),
                    UserProductInfo: a.UserProductInfo.clone(),
                    AppID: a.AppID.clone(),
                    AppType: CtpChar(b'1'),
                };
                self.respond(
                    out,
                    "RspAuthenticate",
                    "RspAuthenticate",
                    Some(body.into()),
                    code,
                    rid,
                );
            }
            TdRequest::ReqUserLogin(l) => self.login(core, ex, l, rid, &now, out),
            TdRequest::ReqUserLogout(l) => {
                self.lock().user = None;
                self.respond(
                    out,
                    "RspUserLogout",
                    "UserLogout",
                    Some(l.clone().into()),
                    0,
                    rid,
                );
            }
            other => {
                let spec = other.spec();
                let Some(user) = user else {
                    self.respond(
                        out,
                        spec.response,
                        spec.response_body_key,
                        None,
                        ctp::NOT_LOGIN_YET,
                        rid,
                    );
                    return;
                };
                self.logged_in(core, ex, &user, other, rid, &now, out);
            }
        }
    }
}

//! What a trading session knows — its phase, the requests it waits on — as a pure
//! state machine: [`Machine`] holds no backend, no outbox, no lock and no task; it
//! takes [`Event`](super::actions::Event)s with the time they happen at and returns
//! [`Actions`](super::actions::Actions) for the driver ([`TdSession`](super::TdSession))
//! to carry out.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use super::super::front_watch::FrontWatch;
use super::super::order_tracker::OrderTracker;
use super::TdSettings;
use crate::protocol::TdRequest;
use crate::protocol::clock::BeijingTime;
use crate::protocol::errors::ctp;
use crate::protocol::fields::{ReqAuthenticate, ReqUserLogin, RspInfo, RspUserLogin};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// No upstream session.
    Idle,
    /// Waiting for the front.
    Connecting,
    /// Connected, not logged in.
    Connected,
    Authenticating,
    LoggingIn,
    Confirming,
    LoggedIn,
}

#[derive(Debug, Clone)]
pub(super) enum Pending {
    Client {
        request_id: i32,
        response: &'static str,
        body_key: &'static str,
        is_query: bool,
    },
    Auth,
    Login,
    Confirm,
    /// The session's own ReqQryOrder (or ReqQryTrade) after a re-login.
    Recover {
        trades: bool,
    },
}

/// Who asked a queued query.
#[derive(Debug, Clone, Copy)]
pub(super) enum Asker {
    /// A client, with its RequestID.
    Client(i32),
    /// The session, recovering the truth about its orders after a re-login.
    Recover { trades: bool },
}

/// First ID of the session's own requests: far from the small numbers clients use,
/// since order answers carry the client's ID on the same upstream session.
pub(super) const OWN_IDS_FROM: i32 = 1 << 30;

/// Login errors after which logging in again is pointless or harmful.
pub(super) fn refuses_credentials(code: i32) -> bool {
    matches!(
        code,
        ctp::INVALID_LOGIN
            | ctp::USER_NOT_FOUND
            | ctp::INVESTOR_NOT_FOUND
            | ctp::INVALID_INVESTORIDORPASSWORD
            | ctp::AUTH_FAILED
            | ctp::LOGIN_FORBIDDEN
            | ctp::FIRST_LOGIN
            | ctp::PWD_OUT_OF_DATE
            | ctp::IP_FORBIDDEN
            | ctp::IP_BLACK
    )
}

/// What the machine takes from the configuration (the pure part of [`TdSettings`]).
#[derive(Clone)]
pub(super) struct Config {
    pub(super) broker_id: String,
    pub(super) app_id: Option<String>,
    pub(super) auth_code: Option<String>,
    pub(super) user_product_info: String,
    pub(super) auto_confirm_settlement: bool,
    pub(super) query_interval: Duration,
    pub(super) query_timeout: Duration,
    /// The trading front in words, e.g. "trading front tcp://180.168.146.187:10201".
    pub(super) front: String,
    pub(super) front_wait: Duration,
    /// Whether order events are also published (a bus is configured).
    pub(super) publishes: bool,
    /// Today's date and time for the settlement confirm (the wall clock in the driver;
    /// fixed in tests).
    pub(super) today: fn() -> BeijingTime,
}

impl Config {
    pub(super) fn from_settings(s: &TdSettings) -> Config {
        Config {
            broker_id: s.broker_id.clone(),
            app_id: s.app_id.clone(),
            auth_code: s.auth_code.clone(),
            user_product_info: s.user_product_info.clone(),
            auto_confirm_settlement: s.auto_confirm_settlement,
            query_interval: s.query_interval,
            query_timeout: s.query_timeout,
            front: s.front.clone(),
            front_wait: s.front_wait,
            publishes: s.bus.is_some(),
            today: BeijingTime::now,
        }
    }
}

/// One trading session's state machine (see the module docs).
pub(super) struct Machine {
    pub(super) cfg: Config,
    /// When the event being handled happened.
    pub(super) now: Instant,
    pub(super) phase: Phase,
    /// The driver was asked to open the upstream session and has not said it did.
    pub(super) opening: bool,
    /// The front connected while the upstream session was being opened: handled once
    /// it is open (its requests would find no session before).
    pub(super) connected_early: bool,
    /// The login to (re)play, with the password; never logged.
    pub(super) credentials: Option<ReqUserLogin>,
    /// An explicit ReqAuthenticate from the client, sent once connected.
    pub(super) explicit_auth: Option<(ReqAuthenticate, i32)>,
    pub(super) authenticated: bool,
    /// The client's RequestID of the login being answered (None for a re-login).
    pub(super) login_request: Option<i32>,
    pub(super) login: Option<(RspUserLogin, RspInfo)>,
    /// Ever logged in: later logins are automatic re-logins.
    pub(super) was_logged_in: bool,
    /// The client's last login was refused and no other is under way: requests are
    /// passed to CTP, which answers them with its own error (as the Python projects
    /// pass them through).
    pub(super) login_refused: bool,
    pub(super) relogin_blocked: bool,
    pub(super) pending: HashMap<i32, Pending>,
    pub(super) next_rid: i32,
    /// What the client was told about each order it sent, until final.
    pub(super) orders: OrderTracker,
    /// The last OrderRef used; empty OrderRefs get the next one.
    pub(super) last_order_ref: i64,
    pub(super) queries: VecDeque<(TdRequest, Asker)>,
    pub(super) query_in_flight: Option<(i32, Instant)>,
    pub(super) last_query: Option<Instant>,
    pub(super) last_connect: Option<Instant>,
    pub(super) backoff: Duration,
    pub(super) closed: bool,
    /// The front's connection as the log tells it (from the first connect).
    pub(super) watch: Option<FrontWatch>,
    /// The client was told the front is down and has not been told it is back.
    pub(super) told_down: bool,
}

impl Machine {
    pub(super) fn new(cfg: Config, orders: OrderTracker, now: Instant) -> Machine {
        Machine {
            cfg,
            now,
            phase: Phase::Idle,
            opening: false,
            connected_early: false,
            credentials: None,
            explicit_auth: None,
            authenticated: false,
            login_request: None,
            login: None,
            was_logged_in: false,
            login_refused: false,
            relogin_blocked: false,
            pending: HashMap::new(),
            next_rid: OWN_IDS_FROM,
            orders,
            last_order_ref: 0,
            queries: VecDeque::new(),
            query_in_flight: None,
            last_query: None,
            last_connect: None,
            backoff: Duration::ZERO,
            closed: false,
            watch: None,
            told_down: false,
        }
    }

    /// Records what the session waits for under a new ID of its own.
    pub(super) fn alloc(&mut self, p: Pending) -> i32 {
        self.next_rid = self.next_rid.wrapping_add(1).max(OWN_IDS_FROM);
        self.pending.insert(self.next_rid, p);
        self.next_rid
    }

    /// Whether `login` is the login of this session (same user and password; the
    /// broker when given).
    pub(super) fn is_session_login(&self, login: &ReqUserLogin) -> bool {
        self.credentials.as_ref().is_some_and(|c| {
            c.UserID == login.UserID
                && c.Password == login.Password
                && (login.BrokerID.is_empty() || login.BrokerID == c.BrokerID)
        })
    }
}

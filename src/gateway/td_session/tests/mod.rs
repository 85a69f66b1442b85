//! Two kinds of tests. `machine_*`: the pure [`Machine`] driven by events at chosen
//! instants, asserting the actions it returns — no runtime, no clock, no backend.
//! `front_down`, `login`, `pacing`: the driver ([`TdSession`]) with a fake upstream
//! that records what the session sends and returns the codes a test chooses; time is
//! tokio's paused clock, so the driver's timers (backoff, the front wait, pacing,
//! timeouts) are exact and never depend on the machine's speed.

mod front_down;
mod login;
mod machine_login;
mod machine_pacing;
mod pacing;

use std::collections::VecDeque;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use tokio::time::Instant;

use super::actions::{Actions, Event};
use super::state::{Config, Machine};
use super::{TdSession, TdSettings};
use crate::ctp::{
    Backend, BackendError, FrontEvent, MdEvents, MdSession, TdEvents, TdSession as UpstreamSession,
};
use crate::gateway::outbox::Outbox;
use crate::protocol::fields::{Body, ReqUserLogin, RspInfo, RspUserLogin};
use crate::protocol::{Reply, TdRequest};

/// What the session sent upstream, and the codes its next calls return.
#[derive(Default)]
pub(super) struct Upstream {
    pub(super) sent: Mutex<Vec<(&'static str, i32)>>,
    pub(super) codes: Mutex<VecDeque<i32>>,
}

impl UpstreamSession for Upstream {
    fn request(&self, req: &TdRequest, request_id: i32) -> i32 {
        let code = self.codes.lock().unwrap().pop_front().unwrap_or(0);
        if code == 0 {
            self.sent
                .lock()
                .unwrap()
                .push((req.spec().msg_type, request_id));
        }
        code
    }
}

#[derive(Default)]
pub(super) struct FakeBackend {
    pub(super) upstream: Arc<Upstream>,
    pub(super) sessions: AtomicUsize,
}

impl Backend for FakeBackend {
    fn name(&self) -> &'static str {
        "fake"
    }
    fn version(&self) -> String {
        String::new()
    }
    fn md_session(&self, _events: Arc<dyn MdEvents>) -> Result<Arc<dyn MdSession>, BackendError> {
        Err(BackendError::Session("no market data here".into()))
    }
    fn td_session(
        &self,
        _events: Arc<dyn TdEvents>,
        _user: &str,
    ) -> Result<Arc<dyn UpstreamSession>, BackendError> {
        self.sessions
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(self.upstream.clone())
    }
    fn query_interval(&self) -> Duration {
        Duration::from_secs(1)
    }
}

pub(super) struct Rig {
    pub(super) backend: Arc<FakeBackend>,
    pub(super) outbox: Arc<Outbox>,
    pub(super) session: Arc<TdSession>,
}

pub(super) fn settings() -> TdSettings {
    TdSettings {
        broker_id: "9999".into(),
        app_id: None,
        auth_code: None,
        user_product_info: "webctp".into(),
        auto_confirm_settlement: false,
        query_interval: Duration::from_secs(1),
        query_timeout: Duration::from_secs(30),
        tracked_orders: Arc::new(AtomicUsize::new(0)),
        bus: None,
        front: "trading front tcp://192.0.2.1:41205".into(),
        front_wait: Duration::from_secs(3),
    }
}

pub(super) fn rig(settings: TdSettings) -> Rig {
    let backend = Arc::new(FakeBackend::default());
    let outbox = Arc::new(Outbox::new(64, 1024));
    let session = TdSession::new(
        outbox.clone(),
        backend.clone(),
        settings,
        Arc::new(AtomicUsize::new(0)),
    );
    Rig {
        backend,
        outbox,
        session,
    }
}

impl Rig {
    /// What the session sent upstream since the last look.
    pub(super) fn sent(&self) -> Vec<(&'static str, i32)> {
        std::mem::take(&mut *self.backend.upstream.sent.lock().unwrap())
    }

    /// What the client got since the last look.
    pub(super) fn got(&self) -> Vec<Value> {
        let mut v = Vec::new();
        while let Some(b) = self.outbox.try_recv() {
            v.push(serde_json::from_slice(&b).unwrap());
        }
        v
    }

    pub(super) fn login(&self, request_id: i32) {
        let login = ReqUserLogin {
            UserID: "u1".into(),
            Password: "secret".into(),
            ..ReqUserLogin::default()
        };
        self.session
            .request(TdRequest::ReqUserLogin(login), request_id);
    }

    /// The front answers the session's request `rid` of type `msg_type`.
    pub(super) fn answer(
        &self,
        msg_type: &'static str,
        body_key: &'static str,
        body: Option<Body>,
        error: i32,
        rid: i32,
    ) {
        let info = RspInfo {
            ErrorID: error,
            ErrorMsg: if error == 0 {
                "正确".into()
            } else {
                "refused".into()
            },
        };
        self.session.reply(Reply::response(
            msg_type,
            body_key,
            body,
            Some(info),
            rid,
            true,
        ));
    }

    pub(super) fn answer_login(&self, error: i32, rid: i32) {
        let body = (error == 0).then(|| {
            Body::from(RspUserLogin {
                TradingDay: "20261207".into(),
                FrontID: 1,
                SessionID: 7,
                MaxOrderRef: "12".into(),
                ..RspUserLogin::default()
            })
        });
        self.answer("RspUserLogin", "RspUserLogin", body, error, rid);
    }

    /// Logs in from scratch and returns the client's login answer.
    pub(super) fn logged_in(&self) -> Value {
        self.login(5);
        self.session.front(FrontEvent::Connected);
        let sent = self.sent();
        assert_eq!(sent.len(), 1, "{sent:?}");
        self.answer_login(0, sent[0].1);
        let got = self.got();
        assert_eq!(got.len(), 1, "{got:?}");
        got[0].clone()
    }
}

/// Lets the spawned tasks (the query pump, delayed re-logins) run at the current instant.
pub(super) async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

/// A pure machine and the instant its test started.
pub(super) struct Pure {
    pub(super) m: Machine,
    pub(super) t0: Instant,
}

/// The fixed "today" of the pure tests' settlement confirms.
fn fixed_today() -> crate::protocol::clock::BeijingTime {
    crate::protocol::clock::BeijingTime::from_unix_ms(1_796_608_800_000)
}

pub(super) fn pure(settings: TdSettings) -> Pure {
    let t0 = Instant::now();
    let mut cfg = Config::from_settings(&settings);
    cfg.today = fixed_today;
    let tracker = crate::gateway::order_tracker::OrderTracker::new(settings.tracked_orders);
    Pure {
        m: Machine::new(cfg, tracker, t0),
        t0,
    }
}

/// The messages of `a` to the client, as JSON.
pub(super) fn sent(a: &Actions) -> Vec<Value> {
    a.send
        .iter()
        .map(|b| serde_json::from_slice(b).unwrap())
        .collect()
}

/// The MsgTypes and IDs of `a`'s calls upstream.
pub(super) fn calls(a: &Actions) -> Vec<(&'static str, i32)> {
    a.calls
        .iter()
        .map(|c| (c.req.spec().msg_type, c.id))
        .collect()
}

impl Pure {
    /// The instant `secs` (may be fractional) after the start.
    pub(super) fn at(&self, secs: f64) -> Instant {
        self.t0 + Duration::from_secs_f64(secs)
    }

    /// `event` at `secs` after the start.
    pub(super) fn ev(&mut self, secs: f64, event: Event) -> Actions {
        let now = self.at(secs);
        self.m.handle(now, event)
    }

    pub(super) fn front(&mut self, secs: f64, event: FrontEvent) -> Actions {
        self.ev(secs, Event::Front(event))
    }

    pub(super) fn request(&mut self, secs: f64, req: TdRequest, request_id: i32) -> Actions {
        self.ev(secs, Event::Request { req, request_id })
    }

    pub(super) fn login(&mut self, secs: f64, request_id: i32) -> Actions {
        let login = ReqUserLogin {
            UserID: "u1".into(),
            Password: "secret".into(),
            ..ReqUserLogin::default()
        };
        self.request(secs, TdRequest::ReqUserLogin(login), request_id)
    }

    /// The front answers the session's request `rid`.
    pub(super) fn answer(
        &mut self,
        secs: f64,
        msg_type: &'static str,
        body_key: &'static str,
        body: Option<Body>,
        error: i32,
        rid: i32,
    ) -> Actions {
        let info = RspInfo {
            ErrorID: error,
            ErrorMsg: if error == 0 {
                "正确".into()
            } else {
                "refused".into()
            },
        };
        self.ev(
            secs,
            Event::Reply(Reply::response(
                msg_type,
                body_key,
                body,
                Some(info),
                rid,
                true,
            )),
        )
    }

    pub(super) fn answer_login(&mut self, secs: f64, error: i32, rid: i32) -> Actions {
        let body = (error == 0).then(|| {
            Body::from(RspUserLogin {
                TradingDay: "20261207".into(),
                FrontID: 1,
                SessionID: 7,
                MaxOrderRef: "12".into(),
                ..RspUserLogin::default()
            })
        });
        self.answer(secs, "RspUserLogin", "RspUserLogin", body, error, rid)
    }

    /// Logs in at `secs` (session opened, front connected, login answered).
    pub(super) fn logged_in(&mut self, secs: f64) {
        let a = self.login(secs, 5);
        assert_eq!(a.open.as_deref(), Some("u1"));
        self.ev(secs, Event::Opened(Ok(())));
        let a = self.front(secs, FrontEvent::Connected);
        let c = calls(&a);
        assert_eq!(c.len(), 1, "{c:?}");
        let a = self.answer_login(secs, 0, c[0].1);
        assert_eq!(sent(&a)[0]["RspInfo"]["ErrorID"], 0);
        assert!(self.m.phase == super::state::Phase::LoggedIn);
    }
}

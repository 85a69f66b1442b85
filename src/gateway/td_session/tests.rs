//! The session's state machine driven by hand: a fake upstream records what the session
//! sends and returns the codes a test chooses; the test plays the front's events and
//! reads what the client would get. Time is tokio's paused clock, so backoff, pacing
//! and timeouts are exact and never depend on the machine's speed.

use std::collections::VecDeque;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::{TdSession, TdSettings};
use crate::ctp::{
    Backend, BackendError, FrontEvent, MdEvents, MdSession, TdEvents, TdSession as UpstreamSession,
};
use crate::gateway::outbox::Outbox;
use crate::protocol::errors::rsp_info;
use crate::protocol::fields::{
    Body, QryTradingAccount, ReqUserLogin, RspInfo, RspUserLogin, TradingAccount,
};
use crate::protocol::{Reply, TdRequest};

/// What the session sent upstream, and the codes its next calls return.
#[derive(Default)]
struct Upstream {
    sent: Mutex<Vec<(&'static str, i32)>>,
    codes: Mutex<VecDeque<i32>>,
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
struct FakeBackend {
    upstream: Arc<Upstream>,
    sessions: AtomicUsize,
}

impl Backend for FakeBackend {
    fn name(&self) -> &'static str {
        "fake"
    }
    fn version(&self) -> String {
        String::new()
    }
    fn md_session(&self, _events: Arc<dyn MdEvents>) -> Result<Arc<dyn MdSession>, BackendError> {
        Err(BackendError("no market data here".into()))
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

struct Rig {
    backend: Arc<FakeBackend>,
    outbox: Arc<Outbox>,
    session: Arc<TdSession>,
}

fn settings() -> TdSettings {
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

fn rig(settings: TdSettings) -> Rig {
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
    fn sent(&self) -> Vec<(&'static str, i32)> {
        std::mem::take(&mut *self.backend.upstream.sent.lock().unwrap())
    }

    /// What the client got since the last look.
    fn got(&self) -> Vec<Value> {
        let mut v = Vec::new();
        while let Some(b) = self.outbox.try_recv() {
            v.push(serde_json::from_slice(&b).unwrap());
        }
        v
    }

    fn login(&self, request_id: i32) {
        let login = ReqUserLogin {
            UserID: "u1".into(),
            Password: "secret".into(),
            ..ReqUserLogin::default()
        };
        self.session
            .request(TdRequest::ReqUserLogin(login), request_id);
    }

    /// The front answers the session's request `rid` of type `msg_type`.
    fn answer(
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

    fn answer_login(&self, error: i32, rid: i32) {
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
    fn logged_in(&self) -> Value {
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
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn login_waits_for_the_front_then_answers_with_the_clients_request_id() {
    let r = rig(settings());
    r.login(5);
    assert_eq!(
        r.backend.sessions.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    assert!(
        r.sent().is_empty(),
        "nothing is sent before the front connects"
    );
    assert!(r.got().is_empty());
    assert!(!r.session.front_connected());

    r.session.front(FrontEvent::Connected);
    let sent = r.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "ReqUserLogin");
    assert!(
        sent[0].1 >= super::state::OWN_IDS_FROM,
        "the session's own ID upstream"
    );

    r.answer_login(0, sent[0].1);
    let got = r.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["MsgType"], "RspUserLogin");
    assert_eq!(got[0]["RequestID"], 5);
    assert_eq!(got[0]["RspInfo"]["ErrorID"], 0);
    assert_eq!(got[0]["RspUserLogin"]["TradingDay"], "20261207");
    assert!(r.session.is_logged_in());
}

#[tokio::test(start_paused = true)]
async fn login_authenticates_and_confirms_the_settlement_first_when_configured() {
    let mut s = settings();
    s.app_id = Some("client_webctp_1.0".into());
    s.auth_code = Some("0000000000000000".into());
    s.auto_confirm_settlement = true;
    let r = rig(s);
    r.login(9);
    r.session.front(FrontEvent::Connected);
    let sent = r.sent();
    assert_eq!(
        sent.iter().map(|s| s.0).collect::<Vec<_>>(),
        ["ReqAuthenticate"]
    );
    r.answer("RspAuthenticate", "RspAuthenticate", None, 0, sent[0].1);
    let sent = r.sent();
    assert_eq!(
        sent.iter().map(|s| s.0).collect::<Vec<_>>(),
        ["ReqUserLogin"]
    );
    r.answer_login(0, sent[0].1);
    let sent = r.sent();
    assert_eq!(
        sent.iter().map(|s| s.0).collect::<Vec<_>>(),
        ["ReqSettlementInfoConfirm"]
    );
    assert!(
        r.got().is_empty(),
        "the client is answered after the confirm"
    );
    assert!(!r.session.is_logged_in());
    r.answer(
        "RspSettlementInfoConfirm",
        "SettlementInfoConfirm",
        None,
        0,
        sent[0].1,
    );
    let got = r.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["MsgType"], "RspUserLogin");
    assert_eq!(got[0]["RequestID"], 9);
    assert!(r.session.is_logged_in());
}

#[tokio::test(start_paused = true)]
async fn a_refused_login_is_answered_and_not_retried() {
    let r = rig(settings());
    r.login(3);
    r.session.front(FrontEvent::Connected);
    let sent = r.sent();
    r.answer_login(3, sent[0].1);
    let got = r.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["RspInfo"]["ErrorID"], 3);
    assert_eq!(got[0]["RequestID"], 3);
    assert!(r.session.login_refused());
    // The front reconnecting does not replay refused credentials.
    r.session.front(FrontEvent::Disconnected { reason: 0x1001 });
    r.session.front(FrontEvent::Connected);
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert!(r.sent().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_session_logs_in_again_after_a_front_drop() {
    let r = rig(settings());
    r.logged_in();
    r.session.front(FrontEvent::Disconnected { reason: 0x1001 });
    let got = r.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["MsgType"], "OnFrontDisconnected");
    assert_eq!(got[0]["RspInfo"]["ErrorID"], 0x1001);
    assert!(!r.session.is_logged_in());
    assert!(r.session.front_reconnecting());

    // Long after the last connect: no backoff, the re-login goes at once.
    tokio::time::sleep(Duration::from_secs(60)).await;
    r.session.front(FrontEvent::Connected);
    let sent = r.sent();
    assert_eq!(
        sent.iter().map(|s| s.0).collect::<Vec<_>>(),
        ["ReqUserLogin"]
    );
    r.answer_login(0, sent[0].1);
    let got = r.got();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["MsgType"], "OnFrontConnected");
    assert!(r.session.is_logged_in());
}

#[tokio::test(start_paused = true)]
async fn a_front_that_keeps_dropping_gets_re_logins_with_growing_backoff() {
    let r = rig(settings());
    r.logged_in();
    // Doubling from 1 s; "quick" means within 10 s of the last connect, so a delay
    // of 16 s already counts as a front that stayed up (see below).
    let mut expected = [1u64, 2, 4, 8].into_iter();
    for round in 0..4 {
        r.session.front(FrontEvent::Disconnected { reason: 0x2001 });
        // Back within 10 s of the last connect: the re-login waits.
        r.session.front(FrontEvent::Connected);
        settle().await;
        assert!(r.sent().is_empty(), "round {round}: re-login not delayed");
        let delay = Duration::from_secs(expected.next().unwrap());
        tokio::time::sleep(delay - Duration::from_millis(1)).await;
        settle().await;
        assert!(
            r.sent().is_empty(),
            "round {round}: re-login before {delay:?}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
        settle().await;
        let sent = r.sent();
        assert_eq!(
            sent.iter().map(|s| s.0).collect::<Vec<_>>(),
            ["ReqUserLogin"],
            "round {round}: re-login after {delay:?}"
        );
        r.answer_login(0, sent[0].1);
        r.got();
        // The next drop comes within 10 s of this connect: still quick.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // A front that stays up for a while resets the backoff.
    tokio::time::sleep(Duration::from_secs(11)).await;
    r.session.front(FrontEvent::Disconnected { reason: 0x2001 });
    tokio::time::sleep(Duration::from_secs(11)).await;
    r.session.front(FrontEvent::Connected);
    let sent = r.sent();
    assert_eq!(
        sent.iter().map(|s| s.0).collect::<Vec<_>>(),
        ["ReqUserLogin"]
    );
}

#[tokio::test(start_paused = true)]
async fn re_login_stops_after_ctp_refuses_the_credentials() {
    let r = rig(settings());
    r.logged_in();
    r.session.front(FrontEvent::Disconnected { reason: 0x1001 });
    r.got();
    tokio::time::sleep(Duration::from_secs(60)).await;
    r.session.front(FrontEvent::Connected);
    let sent = r.sent();
    // CTP 3: invalid login (the password was changed meanwhile).
    r.answer_login(3, sent[0].1);
    let got = r.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["MsgType"], "OnFrontDisconnected");
    let detail = got[0]["Detail"].as_str().unwrap();
    assert!(detail.contains("not retrying"), "{detail}");
    // Neither a later reconnect nor time brings another login (it would lock the account).
    r.session.front(FrontEvent::Disconnected { reason: 0x1001 });
    tokio::time::sleep(Duration::from_secs(60)).await;
    r.session.front(FrontEvent::Connected);
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert!(r.sent().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_failed_re_login_is_retried_after_a_backoff() {
    let r = rig(settings());
    r.logged_in();
    r.session.front(FrontEvent::Disconnected { reason: 0x1001 });
    r.got();
    tokio::time::sleep(Duration::from_secs(60)).await;
    r.session.front(FrontEvent::Connected);
    let sent = r.sent();
    // CTP 8: the front is not ready; worth retrying.
    r.answer_login(8, sent[0].1);
    let got = r.got();
    assert!(got[0]["Detail"].as_str().unwrap().contains("retrying"));
    tokio::time::sleep(Duration::from_millis(999)).await;
    settle().await;
    assert!(r.sent().is_empty());
    tokio::time::sleep(Duration::from_millis(1)).await;
    settle().await;
    assert_eq!(
        r.sent().iter().map(|s| s.0).collect::<Vec<_>>(),
        ["ReqUserLogin"]
    );
}

fn qry_account() -> TdRequest {
    TdRequest::ReqQryTradingAccount(QryTradingAccount::default())
}

#[tokio::test(start_paused = true)]
async fn queries_are_paced_and_flow_control_is_retried_unseen() {
    let r = rig(settings());
    r.logged_in();
    let start = tokio::time::Instant::now();
    r.session.request(qry_account(), 101);
    r.session.request(qry_account(), 102);
    settle().await;
    let first = r.sent();
    assert_eq!(first.len(), 1, "one query in flight: {first:?}");
    r.answer(
        "RspQryTradingAccount",
        "TradingAccount",
        Some(Body::from(TradingAccount::default())),
        0,
        first[0].1,
    );
    let got = r.got();
    assert_eq!(
        got[0]["RequestID"], 101,
        "the client's RequestID comes back"
    );
    // CTP's flow control refuses the second query twice (-2 then -3).
    r.backend.upstream.codes.lock().unwrap().extend([-2, -3]);
    settle().await;
    assert!(r.sent().is_empty(), "the next query waits for the interval");
    tokio::time::sleep(Duration::from_millis(999)).await;
    settle().await;
    assert!(r.sent().is_empty());
    // At 1 s it is tried (-2), at 2 s again (-3), at 3 s it goes.
    tokio::time::sleep_until(start + Duration::from_secs(3)).await;
    settle().await;
    let second = r.sent();
    assert_eq!(second.len(), 1, "{second:?}");
    assert!(r.backend.upstream.codes.lock().unwrap().is_empty());
    assert!(r.got().is_empty(), "the client never sees -2/-3");
    r.answer(
        "RspQryTradingAccount",
        "TradingAccount",
        Some(Body::from(TradingAccount::default())),
        0,
        second[0].1,
    );
    let got = r.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["RequestID"], 102);
    assert_eq!(got[0]["RspInfo"]["ErrorID"], 0);
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_query_fails_after_the_timeout_and_the_next_goes() {
    let r = rig(settings());
    r.logged_in();
    r.session.request(qry_account(), 201);
    r.session.request(qry_account(), 202);
    settle().await;
    assert_eq!(r.sent().len(), 1);
    tokio::time::sleep(Duration::from_secs(29)).await;
    settle().await;
    assert!(r.got().is_empty());
    assert!(r.sent().is_empty(), "one query in flight at a time");
    tokio::time::sleep(Duration::from_secs(1)).await;
    settle().await;
    let got = r.got();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["RequestID"], 201);
    assert_eq!(got[0]["RspInfo"]["ErrorID"], -1);
    assert_eq!(r.sent().len(), 1, "the next query is sent");
}

#[tokio::test(start_paused = true)]
async fn a_query_in_flight_at_a_front_drop_is_answered_failed() {
    let r = rig(settings());
    r.logged_in();
    r.session.request(qry_account(), 301);
    settle().await;
    assert_eq!(r.sent().len(), 1);
    r.session.front(FrontEvent::Disconnected { reason: 0x1001 });
    let got = r.got();
    let failed = got
        .iter()
        .find(|m| m["RequestID"] == 301)
        .expect("the query's answer");
    assert_eq!(failed["RspInfo"]["ErrorID"], -1);
    let _ = rsp_info(0);
}

#[tokio::test(start_paused = true)]
async fn a_login_on_a_front_that_does_not_connect_is_answered_after_3_s() {
    let r = rig(settings());
    r.login(5);
    tokio::time::sleep(Duration::from_millis(2_999)).await;
    settle().await;
    assert!(r.got().is_empty());
    tokio::time::sleep(Duration::from_millis(1)).await;
    settle().await;
    let got = r.got();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0]["MsgType"], "OnFrontDisconnected");
    assert_eq!(
        got[0]["RspInfo"]["ErrorMsg"],
        "unreachable or not answering"
    );
    assert_eq!(got[1]["MsgType"], "RspUserLogin");
    assert_eq!(got[1]["RequestID"], 5);
    assert_eq!(got[1]["RspInfo"]["ErrorID"], -1);
    let detail = got[1]["Detail"].as_str().unwrap();
    assert!(
        detail.contains("trading front tcp://192.0.2.1:41205 (user u1) is down"),
        "{detail}"
    );
    assert!(detail.contains("keeps retrying"), "{detail}");

    // A second login while it is still down: answered at once, never "duplicate login".
    r.login(6);
    let got = r.got();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1]["RequestID"], 6);
    assert_eq!(got[1]["RspInfo"]["ErrorID"], -1);

    // The front comes: the client hears it is up; nobody logs in by itself.
    r.session.front(FrontEvent::Connected);
    let got = r.got();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["MsgType"], "OnFrontConnected");
    assert!(r.sent().is_empty());
    r.login(7);
    let sent = r.sent();
    assert_eq!(
        sent.iter().map(|s| s.0).collect::<Vec<_>>(),
        ["ReqUserLogin"]
    );
    r.answer_login(0, sent[0].1);
    let got = r.got();
    assert_eq!(got[0]["RequestID"], 7);
    assert_eq!(got[0]["RspInfo"]["ErrorID"], 0);
    assert!(r.session.is_logged_in());
    assert_eq!(
        r.backend.sessions.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one upstream session throughout"
    );
}

#[tokio::test(start_paused = true)]
async fn a_front_that_connects_within_the_wait_logs_in_as_usual() {
    let r = rig(settings());
    r.login(5);
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    r.session.front(FrontEvent::Connected);
    let sent = r.sent();
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    settle().await;
    assert!(
        r.got().is_empty(),
        "the login is under way: no front-down answer"
    );
    r.answer_login(0, sent[0].1);
    let got = r.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["RspInfo"]["ErrorID"], 0);
}

#[tokio::test(start_paused = true)]
async fn a_login_during_an_outage_is_answered_at_once_and_the_re_login_still_happens() {
    let r = rig(settings());
    r.logged_in();
    r.session.front(FrontEvent::Disconnected { reason: 0x1001 });
    r.got();
    tokio::time::sleep(Duration::from_secs(5)).await;
    r.login(8);
    let got = r.got();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1]["RequestID"], 8);
    let detail = got[1]["Detail"].as_str().unwrap();
    assert!(detail.contains("dropped (network read failed"), "{detail}");
    assert!(detail.contains("logs in again when it is back"), "{detail}");
    // Back 5 s after the last connect: the re-login comes after the 1 s backoff.
    r.session.front(FrontEvent::Connected);
    tokio::time::sleep(Duration::from_secs(1)).await;
    settle().await;
    let sent = r.sent();
    assert_eq!(
        sent.iter().map(|s| s.0).collect::<Vec<_>>(),
        ["ReqUserLogin"]
    );
    r.answer_login(0, sent[0].1);
    assert!(r.session.is_logged_in());
}

//! Two kinds of tests. `machine`: the pure [`Machine`](super::state::Machine) driven
//! by events at chosen instants, asserting the actions it returns. Here: the driver
//! ([`MdHub`]) with fake backends — the start-up race on real threads, and the
//! driver's timers on tokio's paused clock.

mod machine;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::MdHub;
use crate::ctp::{Backend, BackendError, FrontEvent, MdEvents, MdSession, TdEvents, TdSession};
use crate::gateway::outbox::Outbox;
use crate::protocol::Reply;
use crate::protocol::fields::{Body, ReqUserLogin, RspInfo, RspUserLogin, SpecificInstrument};

/// Counts the logins it is asked for.
#[derive(Default)]
struct CountingMd {
    logins: AtomicUsize,
}

impl MdSession for CountingMd {
    fn login(&self, _req: &ReqUserLogin, _request_id: i32) -> i32 {
        self.logins.fetch_add(1, Ordering::SeqCst);
        0
    }
    fn subscribe(&self, _instruments: &[String]) -> i32 {
        0
    }
    fn unsubscribe(&self, _instruments: &[String]) -> i32 {
        0
    }
}

/// A backend whose front reports Connected from its own thread at the very moment
/// `md_session` returns — the start-up race of finding 3 in issue #10.
struct RacingBackend {
    session: Arc<CountingMd>,
    front: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Busy-loop turns before the front reports, to sweep the interleavings.
    delay: u32,
}

impl Backend for RacingBackend {
    fn name(&self) -> &'static str {
        "racing"
    }
    fn version(&self) -> String {
        String::new()
    }
    fn md_session(&self, events: Arc<dyn MdEvents>) -> Result<Arc<dyn MdSession>, BackendError> {
        let start = Arc::new(Barrier::new(2));
        let go = start.clone();
        let delay = self.delay;
        *self.front.lock().unwrap() = Some(std::thread::spawn(move || {
            go.wait();
            for i in 0..delay {
                std::hint::black_box(i);
            }
            events.front(FrontEvent::Connected);
        }));
        start.wait();
        Ok(self.session.clone())
    }
    fn td_session(
        &self,
        _events: Arc<dyn TdEvents>,
        _user: &str,
    ) -> Result<Arc<dyn TdSession>, BackendError> {
        Err(BackendError::Session("no trading here".into()))
    }
    fn query_interval(&self) -> Duration {
        Duration::ZERO
    }
}

#[tokio::test]
async fn a_front_connected_during_start_always_leads_to_one_login() {
    for round in 0..20_000 {
        let backend = RacingBackend {
            session: Arc::new(CountingMd::default()),
            front: Mutex::new(None),
            delay: round % 1000,
        };
        let hub = MdHub::start(
            &backend,
            ReqUserLogin::default(),
            10,
            "market-data front tcp://192.0.2.1:41213".into(),
            Duration::from_secs(3),
        )
        .unwrap();
        let front = backend.front.lock().unwrap().take().unwrap();
        front.join().unwrap();
        assert_eq!(
            backend.session.logins.load(Ordering::SeqCst),
            1,
            "round {round}: the md login was lost or sent twice"
        );
        drop(hub);
    }
}

/// Records what the hub asks of the front.
#[derive(Default)]
struct RecordingMd {
    logins: AtomicUsize,
    subscribed: Mutex<Vec<String>>,
}

impl MdSession for RecordingMd {
    fn login(&self, _req: &ReqUserLogin, _request_id: i32) -> i32 {
        self.logins.fetch_add(1, Ordering::SeqCst);
        0
    }
    fn subscribe(&self, instruments: &[String]) -> i32 {
        self.subscribed
            .lock()
            .unwrap()
            .extend(instruments.iter().cloned());
        0
    }
    fn unsubscribe(&self, _instruments: &[String]) -> i32 {
        0
    }
}

/// A backend whose front events the test plays by hand.
#[derive(Default)]
struct ManualBackend {
    session: Arc<RecordingMd>,
}

impl Backend for ManualBackend {
    fn name(&self) -> &'static str {
        "manual"
    }
    fn version(&self) -> String {
        String::new()
    }
    fn md_session(&self, _events: Arc<dyn MdEvents>) -> Result<Arc<dyn MdSession>, BackendError> {
        Ok(self.session.clone())
    }
    fn td_session(
        &self,
        _events: Arc<dyn TdEvents>,
        _user: &str,
    ) -> Result<Arc<dyn TdSession>, BackendError> {
        Err(BackendError::Session("no trading here".into()))
    }
    fn query_interval(&self) -> Duration {
        Duration::ZERO
    }
}

struct Rig {
    backend: ManualBackend,
    hub: Arc<MdHub>,
    outbox: Arc<Outbox>,
}

fn rig() -> Rig {
    let backend = ManualBackend::default();
    let hub = MdHub::start(
        &backend,
        ReqUserLogin::default(),
        10,
        "market-data front tcp://192.0.2.1:41213".into(),
        Duration::from_secs(3),
    )
    .unwrap();
    let outbox = Arc::new(Outbox::new(64, 1024));
    hub.add_client(1, outbox.clone());
    Rig {
        backend,
        hub,
        outbox,
    }
}

impl Rig {
    fn got(&self) -> Vec<Value> {
        let mut v = Vec::new();
        while let Some(b) = self.outbox.try_recv() {
            v.push(serde_json::from_slice(&b).unwrap());
        }
        v
    }

    fn logins(&self) -> usize {
        self.backend.session.logins.load(Ordering::SeqCst)
    }

    fn subscribed(&self) -> Vec<String> {
        std::mem::take(&mut *self.backend.session.subscribed.lock().unwrap())
    }

    fn answer_login(&self, error: i32) {
        let body = (error == 0).then(|| {
            Body::from(RspUserLogin {
                TradingDay: "20261207".into(),
                ..RspUserLogin::default()
            })
        });
        self.hub.reply(Reply::response(
            "RspUserLogin",
            "RspUserLogin",
            body,
            Some(RspInfo {
                ErrorID: error,
                ErrorMsg: String::new(),
            }),
            1,
            true,
        ));
    }

    fn answer_sub(&self, inst: &str) {
        let body = SpecificInstrument {
            InstrumentID: inst.into(),
            ..SpecificInstrument::default()
        };
        self.hub.reply(Reply::response(
            "RspSubMarketData",
            "SpecificInstrument",
            Some(body.into()),
            Some(RspInfo::default()),
            0,
            true,
        ));
    }

    fn up(&self) {
        self.hub.front(FrontEvent::Connected);
        self.answer_login(0);
    }
}

async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_client_login_waits_for_the_front_and_is_answered_once_logged_in() {
    let r = rig();
    r.hub.client_login(1, 42);
    assert!(r.got().is_empty());
    r.hub.front(FrontEvent::Connected);
    assert_eq!(r.logins(), 1);
    assert!(r.got().is_empty(), "answered after the front's login");
    r.answer_login(0);
    let got = r.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["MsgType"], "RspUserLogin");
    assert_eq!(got[0]["RequestID"], 42);
    assert_eq!(got[0]["RspInfo"]["ErrorID"], 0);
    assert!(r.hub.is_logged_in(1));
    // Not answered twice when the wait ends.
    tokio::time::sleep(Duration::from_secs(20)).await;
    settle().await;
    assert!(r.got().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_login_is_told_at_once_that_a_front_that_never_connected_is_down() {
    let r = rig();
    r.hub.client_login(1, 7);
    tokio::time::sleep(Duration::from_millis(2_999)).await;
    settle().await;
    assert!(r.got().is_empty());
    tokio::time::sleep(Duration::from_millis(1)).await;
    settle().await;
    let got = r.got();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0]["MsgType"], "OnFrontDisconnected");
    assert_eq!(got[1]["MsgType"], "RspUserLogin");
    assert_eq!(got[1]["RequestID"], 7);
    assert_eq!(got[1]["RspInfo"]["ErrorID"], 8, "FRONT_NOT_ACTIVE");
    let detail = got[1]["Detail"].as_str().unwrap();
    assert!(
        detail.contains("market-data front tcp://192.0.2.1:41213"),
        "{detail}"
    );
    assert!(detail.contains("keeps retrying"), "{detail}");
    assert!(!r.hub.is_logged_in(1));
    // Asked again while it is still down: answered at once, not after another wait.
    r.hub.client_login(1, 8);
    settle().await;
    let got = r.got();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1]["RequestID"], 8);
    // Nothing more when the old 15 s waits end.
    tokio::time::sleep(Duration::from_secs(20)).await;
    settle().await;
    assert!(r.got().is_empty());
    // When the front comes, the client told it was down hears it is up.
    r.up();
    let got = r.got();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["MsgType"], "OnFrontConnected");
}

#[tokio::test(start_paused = true)]
async fn a_login_during_the_front_login_waits_up_to_15_s() {
    let r = rig();
    r.hub.front(FrontEvent::Connected);
    r.hub.client_login(1, 7);
    tokio::time::sleep(Duration::from_millis(14_999)).await;
    settle().await;
    assert!(
        r.got().is_empty(),
        "the front is connected: its login answer is awaited"
    );
    tokio::time::sleep(Duration::from_millis(1)).await;
    settle().await;
    let got = r.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["RequestID"], 7);
    assert_eq!(got[0]["RspInfo"]["ErrorID"], 8);
}

#[tokio::test(start_paused = true)]
async fn a_refused_front_login_is_retried_every_3_s() {
    let r = rig();
    r.hub.client_login(1, 7);
    r.hub.front(FrontEvent::Connected);
    r.answer_login(75);
    let got = r.got();
    assert_eq!(
        got[0]["RspInfo"]["ErrorID"], 75,
        "the waiting client hears why"
    );
    tokio::time::sleep(Duration::from_millis(2_999)).await;
    settle().await;
    assert_eq!(r.logins(), 1);
    tokio::time::sleep(Duration::from_millis(1)).await;
    settle().await;
    assert_eq!(r.logins(), 2);
}

#[tokio::test(start_paused = true)]
async fn after_a_front_drop_subscriptions_are_restored_and_clients_told() {
    let r = rig();
    r.up();
    r.hub.client_login(1, 1);
    r.hub.subscribe(1, 2, &["rb2605".to_string()]);
    assert_eq!(r.subscribed(), ["rb2605"]);
    r.answer_sub("rb2605");
    let got = r.got();
    assert_eq!(got.last().unwrap()["MsgType"], "RspSubMarketData");
    assert_eq!(got.last().unwrap()["RspInfo"]["ErrorID"], 0);

    r.hub.front(FrontEvent::Disconnected { reason: 0x2001 });
    let got = r.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["MsgType"], "OnFrontDisconnected");
    assert_eq!(got[0]["RspInfo"]["ErrorID"], 0x2001);
    assert!(!r.hub.is_up());

    r.hub.front(FrontEvent::Connected);
    assert_eq!(r.logins(), 2);
    r.answer_login(0);
    assert_eq!(
        r.subscribed(),
        ["rb2605"],
        "re-subscribed after the re-login"
    );
    let got = r.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["MsgType"], "OnFrontConnected");
    assert_eq!(r.hub.subscriptions(1), ["rb2605"]);
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_subscription_fails_after_15_s() {
    let r = rig();
    r.up();
    r.hub
        .subscribe(1, 3, &["rb2605".to_string(), "au2606".to_string()]);
    r.answer_sub("rb2605");
    assert!(r.got().is_empty(), "answered in order, once complete");
    tokio::time::sleep(Duration::from_secs(15)).await;
    settle().await;
    let got = r.got();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["SpecificInstrument"]["InstrumentID"], "rb2605");
    assert_eq!(got[0]["RspInfo"]["ErrorID"], 0);
    assert_eq!(got[0]["IsLast"], false);
    assert_eq!(got[1]["SpecificInstrument"]["InstrumentID"], "au2606");
    assert_eq!(got[1]["RspInfo"]["ErrorID"], 8);
    assert_eq!(got[1]["IsLast"], true);
    assert_eq!(r.hub.subscriptions(1), ["rb2605"]);
}

#[tokio::test(start_paused = true)]
async fn the_last_client_leaving_releases_the_subscription() {
    let r = rig();
    r.up();
    let other = Arc::new(Outbox::new(64, 1024));
    r.hub.add_client(2, other);
    r.hub.subscribe(1, 1, &["rb2605".to_string()]);
    r.answer_sub("rb2605");
    r.hub.subscribe(2, 1, &["rb2605".to_string()]);
    assert!(r.subscribed().len() == 1, "asked of the front once");
    assert_eq!(r.hub.upstream_subscriptions(), 1);
    r.hub.remove_client(1);
    assert_eq!(r.hub.upstream_subscriptions(), 1);
    r.hub.remove_client(2);
    assert_eq!(r.hub.upstream_subscriptions(), 0);
}

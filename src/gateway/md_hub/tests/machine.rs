//! The pure hub: events in at chosen instants, actions out; no runtime, no clock, no
//! backend. Covers the front's login (held until the session is open, retried every
//! 3 s), clients' logins (the front wait, the 15 s wait), reference-counted
//! subscriptions and their routes, the re-subscribe after a reconnect and the waits.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::super::ClientId;
use super::super::actions::{Actions, Call, Event, Timer};
use super::super::state::{Config, Machine};
use crate::ctp::FrontEvent;
use crate::gateway::front_watch::FrontWatch;
use crate::protocol::Reply;
use crate::protocol::fields::{Body, RspInfo, RspUserLogin, SpecificInstrument};

struct Pure {
    m: Machine,
    t0: Instant,
}

fn pure() -> Pure {
    let t0 = Instant::now();
    let watch = FrontWatch::connecting("market-data front tcp://192.0.2.1:41213".into(), t0);
    let cfg = Config {
        max_subscriptions: 3,
        front_wait: Duration::from_secs(3),
    };
    Pure {
        m: Machine::new(cfg, watch, t0),
        t0,
    }
}

/// What client `id` gets in `a`, as JSON.
fn to(a: &Actions, id: ClientId) -> Vec<Value> {
    a.send
        .iter()
        .filter(|(c, _)| *c == id)
        .map(|(_, b)| serde_json::from_slice(b).unwrap())
        .collect()
}

fn inst(i: &str) -> Vec<String> {
    vec![i.to_string()]
}

impl Pure {
    fn at(&self, secs: f64) -> Instant {
        self.t0 + Duration::from_secs_f64(secs)
    }

    fn ev(&mut self, secs: f64, event: Event) -> Actions {
        let now = self.at(secs);
        self.m.handle(now, event)
    }

    fn login(&mut self, secs: f64, client: ClientId, request_id: i32) -> Actions {
        self.ev(secs, Event::Login { client, request_id })
    }

    fn sub(&mut self, secs: f64, client: ClientId, request_id: i32, i: &[&str]) -> Actions {
        let instruments = i.iter().map(|s| s.to_string()).collect();
        self.ev(
            secs,
            Event::Subscribe {
                client,
                request_id,
                instruments,
            },
        )
    }

    fn answer_login(&mut self, secs: f64, error: i32) -> Actions {
        let body = (error == 0).then(|| {
            Body::from(RspUserLogin {
                TradingDay: "20261207".into(),
                ..RspUserLogin::default()
            })
        });
        let info = RspInfo {
            ErrorID: error,
            ErrorMsg: String::new(),
        };
        self.ev(
            secs,
            Event::Reply(Reply::response(
                "RspUserLogin",
                "RspUserLogin",
                body,
                Some(info),
                1,
                true,
            )),
        )
    }

    fn answer_sub(&mut self, secs: f64, i: &str, error: i32) -> Actions {
        let body = SpecificInstrument {
            InstrumentID: i.into(),
            ..SpecificInstrument::default()
        };
        let info = RspInfo {
            ErrorID: error,
            ErrorMsg: String::new(),
        };
        self.ev(
            secs,
            Event::Reply(Reply::response(
                "RspSubMarketData",
                "SpecificInstrument",
                Some(body.into()),
                Some(info),
                0,
                true,
            )),
        )
    }

    /// The session open, the front connected and logged in, clients 1 and 2 there.
    fn up(&mut self, secs: f64) {
        self.ev(secs, Event::ClientAdded(1));
        self.ev(secs, Event::ClientAdded(2));
        self.ev(secs, Event::Opened);
        let a = self.ev(secs, Event::Front(FrontEvent::Connected));
        assert_eq!(a.calls, [Call::Login(1)]);
        self.answer_login(secs, 0);
    }
}

#[test]
fn a_front_connected_before_the_session_is_open_is_logged_in_once_it_is() {
    let mut p = pure();
    let a = p.ev(0.0, Event::Front(FrontEvent::Connected));
    assert!(a.calls.is_empty(), "no session to call yet");
    assert_eq!(a.notes.len(), 1, "the log hears the front connected");
    assert_eq!(p.ev(0.0, Event::Opened).calls, [Call::Login(1)]);
    // Opened without a connect: nothing to send yet.
    let mut q = pure();
    assert!(q.ev(0.0, Event::Opened).is_empty());
    assert_eq!(
        q.ev(0.1, Event::Front(FrontEvent::Connected)).calls,
        [Call::Login(1)]
    );
}

#[test]
fn a_client_login_waits_for_the_front_and_is_answered_once_logged_in() {
    let mut p = pure();
    p.ev(0.0, Event::ClientAdded(1));
    p.ev(0.0, Event::Opened);
    let a = p.login(0.0, 1, 42);
    assert!(a.send.is_empty());
    assert_eq!(
        a.timers,
        [
            (
                p.at(15.0),
                Timer::LoginExpired {
                    client: 1,
                    request_id: 42
                }
            ),
            (
                p.at(3.0),
                Timer::FrontCheck {
                    client: 1,
                    request_id: 42
                }
            ),
        ]
    );
    assert_eq!(
        p.ev(1.0, Event::Front(FrontEvent::Connected)).calls,
        [Call::Login(1)]
    );
    // The front is connected: the front wait ends without an answer.
    let a = p.ev(
        3.0,
        Event::Timer(Timer::FrontCheck {
            client: 1,
            request_id: 42,
        }),
    );
    assert!(a.is_empty(), "{a:?}");
    let got = to(&p.answer_login(4.0, 0), 1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["MsgType"], "RspUserLogin");
    assert_eq!(got[0]["RequestID"], 42);
    assert_eq!(got[0]["RspInfo"]["ErrorID"], 0);
    assert!(p.m.clients[&1].logged_in);
    // Not answered twice when the longest wait ends.
    let a = p.ev(
        15.0,
        Event::Timer(Timer::LoginExpired {
            client: 1,
            request_id: 42,
        }),
    );
    assert!(a.is_empty());
    // A later login is answered at once.
    let got = to(&p.login(20.0, 1, 43), 1);
    assert_eq!(got[0]["RequestID"], 43);
}

#[test]
fn a_login_is_told_the_front_is_down_after_the_wait_and_at_once_after_that() {
    let mut p = pure();
    p.ev(0.0, Event::ClientAdded(1));
    p.ev(0.0, Event::Opened);
    p.login(0.0, 1, 7);
    let got = to(
        &p.ev(
            3.0,
            Event::Timer(Timer::FrontCheck {
                client: 1,
                request_id: 7,
            }),
        ),
        1,
    );
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0]["MsgType"], "OnFrontDisconnected");
    assert_eq!(got[1]["MsgType"], "RspUserLogin");
    assert_eq!(got[1]["RequestID"], 7);
    assert_eq!(got[1]["RspInfo"]["ErrorID"], 8, "FRONT_NOT_ACTIVE");
    let detail = got[1]["Detail"].as_str().unwrap();
    assert!(
        detail.contains("market-data front tcp://192.0.2.1:41213 is down: not connected after 3 s"),
        "{detail}"
    );
    // Asked again while it is still down: answered at once.
    let a = p.login(5.0, 1, 8);
    let got = to(&a, 1);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1]["RequestID"], 8);
    // Nothing more when the 15 s waits end.
    for (t, rid) in [(15.0, 7), (20.0, 8)] {
        let a = p.ev(
            t,
            Event::Timer(Timer::LoginExpired {
                client: 1,
                request_id: rid,
            }),
        );
        assert!(a.is_empty());
    }
    // When the front comes, the client told it was down hears it is up.
    p.ev(30.0, Event::Front(FrontEvent::Connected));
    let got = to(&p.answer_login(30.0, 0), 1);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["MsgType"], "OnFrontConnected");
}

#[test]
fn a_login_during_the_front_login_fails_after_15_s() {
    let mut p = pure();
    p.ev(0.0, Event::ClientAdded(1));
    p.ev(0.0, Event::Opened);
    p.ev(0.0, Event::Front(FrontEvent::Connected));
    let a = p.login(0.0, 1, 7);
    assert_eq!(a.timers.len(), 1, "no front wait: the front is connected");
    let got = to(
        &p.ev(
            15.0,
            Event::Timer(Timer::LoginExpired {
                client: 1,
                request_id: 7,
            }),
        ),
        1,
    );
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["RequestID"], 7);
    assert_eq!(got[0]["RspInfo"]["ErrorID"], 8);
}

#[test]
fn a_refused_front_login_is_retried_every_3_s() {
    let mut p = pure();
    p.ev(0.0, Event::ClientAdded(1));
    p.ev(0.0, Event::Opened);
    p.login(0.0, 1, 7);
    p.ev(0.0, Event::Front(FrontEvent::Connected));
    let a = p.answer_login(0.5, 75);
    assert_eq!(
        to(&a, 1)[0]["RspInfo"]["ErrorID"],
        75,
        "the waiting client hears why"
    );
    assert_eq!(a.timers, [(p.at(3.5), Timer::RetryLogin)]);
    assert_eq!(
        p.ev(3.5, Event::Timer(Timer::RetryLogin)).calls,
        [Call::Login(2)]
    );
    // A login the front did not take (-1) is retried the same way.
    let a = p.ev(
        3.5,
        Event::Refused {
            call: Call::Login(2),
            code: -1,
        },
    );
    assert_eq!(a.timers, [(p.at(6.5), Timer::RetryLogin)]);
    // Once logged in, a stale retry does nothing.
    p.answer_login(4.0, 0);
    assert!(p.ev(6.5, Event::Timer(Timer::RetryLogin)).calls.is_empty());
}

#[test]
fn subscriptions_are_asked_once_routed_to_each_client_and_released_by_the_last() {
    let mut p = pure();
    p.up(0.0);
    let a = p.sub(1.0, 1, 2, &["rb2605"]);
    assert_eq!(a.calls, [Call::Subscribe(inst("rb2605"))]);
    assert_eq!(a.timers.len(), 1);
    assert!(a.send.is_empty(), "answered once the front has");
    let a = p.answer_sub(1.1, "rb2605", 0);
    assert_eq!(a.join, [("rb2605".to_string(), 0, 1)]);
    let got = to(&a, 1);
    assert_eq!(got[0]["MsgType"], "RspSubMarketData");
    assert_eq!(got[0]["RequestID"], 2);
    assert_eq!(got[0]["IsLast"], true);
    // The second client joins the route; the front is not asked again.
    let a = p.sub(2.0, 2, 1, &["rb2605"]);
    assert!(a.calls.is_empty());
    assert_eq!(a.join, [("rb2605".to_string(), 0, 2)]);
    assert_eq!(to(&a, 2)[0]["RspInfo"]["ErrorID"], 0);
    // The first leaves: the front keeps it for the second.
    let a = p.ev(3.0, Event::ClientRemoved(1));
    assert_eq!(a.leave, [("rb2605".to_string(), 1)]);
    assert!(a.calls.is_empty());
    // The second gives it up: released.
    let a = p.ev(
        4.0,
        Event::Unsubscribe {
            client: 2,
            request_id: 9,
            instruments: inst("rb2605"),
        },
    );
    assert_eq!(a.leave, [("rb2605".to_string(), 2)]);
    assert_eq!(a.calls, [Call::Unsubscribe(inst("rb2605"))]);
    assert_eq!(to(&a, 2)[0]["MsgType"], "RspUnSubMarketData");
    assert!(p.m.subscribed.is_empty() && p.m.routes.is_empty());
}

#[test]
fn after_a_front_drop_subscriptions_are_restored_and_clients_told() {
    let mut p = pure();
    p.up(0.0);
    p.sub(1.0, 1, 2, &["rb2605"]);
    p.answer_sub(1.0, "rb2605", 0);
    // One still waiting for the front when it drops: answered 8.
    p.sub(2.0, 2, 3, &["au2606"]);
    let a = p.ev(
        3.0,
        Event::Front(FrontEvent::Disconnected { reason: 0x2001 }),
    );
    let got1 = to(&a, 1);
    assert_eq!(got1.len(), 1);
    assert_eq!(got1[0]["MsgType"], "OnFrontDisconnected");
    assert_eq!(got1[0]["RspInfo"]["ErrorID"], 0x2001);
    let got2 = to(&a, 2);
    assert_eq!(got2[0]["MsgType"], "RspSubMarketData");
    assert_eq!(got2[0]["RspInfo"]["ErrorID"], 8);
    assert_eq!(got2[1]["MsgType"], "OnFrontDisconnected");
    // While down, a subscription is refused at once.
    let got = to(&p.sub(4.0, 2, 4, &["ag2606"]), 2);
    assert_eq!(got[0]["RspInfo"]["ErrorID"], 8);

    assert_eq!(
        p.ev(10.0, Event::Front(FrontEvent::Connected)).calls,
        [Call::Login(2)]
    );
    let a = p.answer_login(10.0, 0);
    assert_eq!(
        a.calls,
        [Call::Subscribe(inst("rb2605"))],
        "re-subscribed after the re-login"
    );
    assert_eq!(to(&a, 1)[0]["MsgType"], "OnFrontConnected");
    assert!(a.join.is_empty(), "the route stayed");
}

#[test]
fn an_unanswered_subscription_fails_after_15_s_in_order() {
    let mut p = pure();
    p.up(0.0);
    let a = p.sub(0.0, 1, 3, &["rb2605", "au2606"]);
    assert_eq!(a.timers, [(p.at(15.0), Timer::SubscriptionExpired(0))]);
    assert!(
        to(&p.answer_sub(1.0, "rb2605", 0), 1).is_empty(),
        "answered once complete"
    );
    let got = to(&p.ev(15.0, Event::Timer(Timer::SubscriptionExpired(0))), 1);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["SpecificInstrument"]["InstrumentID"], "rb2605");
    assert_eq!(got[0]["RspInfo"]["ErrorID"], 0);
    assert_eq!(got[0]["IsLast"], false);
    assert_eq!(got[1]["SpecificInstrument"]["InstrumentID"], "au2606");
    assert_eq!(got[1]["RspInfo"]["ErrorID"], 8);
    assert_eq!(got[1]["IsLast"], true);
    assert!(!p.m.clients[&1].wanted.contains("au2606"));
}

#[test]
fn a_subscription_the_front_does_not_take_is_answered_with_its_code() {
    let mut p = pure();
    p.up(0.0);
    let mut a = p.sub(0.0, 1, 3, &["rb2605"]);
    let call = a.calls.remove(0);
    let got = to(&p.ev(0.0, Event::Refused { call, code: -3 }), 1);
    assert_eq!(got[0]["RspInfo"]["ErrorID"], -3);
    assert!(p.m.clients[&1].wanted.is_empty());
}

#[test]
fn a_client_holds_at_most_the_limit() {
    let mut p = pure();
    p.up(0.0);
    let got = to(&p.sub(0.0, 1, 1, &["a1", "a2", "a3", "a4"]), 1);
    assert!(got.is_empty(), "waiting for the front's answers");
    p.answer_sub(0.1, "a1", 0);
    p.answer_sub(0.1, "a2", 0);
    let got = to(&p.answer_sub(0.1, "a3", 0), 1);
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(got[3]["SpecificInstrument"]["InstrumentID"], "a4");
    assert_eq!(
        got[3]["RspInfo"]["ErrorID"],
        crate::protocol::errors::LIMIT_EXCEEDED
    );
    assert_eq!(p.m.clients[&1].wanted.len(), 3);
    let a = p.ev(15.0, Event::Timer(Timer::SubscriptionExpired(0)));
    assert!(a.is_empty(), "already answered when complete");
}

#[test]
fn an_answer_for_a_client_that_left_releases_the_subscription() {
    let mut p = pure();
    p.up(0.0);
    p.sub(0.0, 1, 1, &["rb2605"]);
    assert!(p.ev(0.5, Event::ClientRemoved(1)).calls.is_empty());
    let a = p.answer_sub(1.0, "rb2605", 0);
    assert_eq!(a.calls, [Call::Unsubscribe(inst("rb2605"))]);
    assert!(a.join.is_empty() && a.send.is_empty());
    assert!(p.m.subscribed.is_empty());
}

//! The pure machine: login, re-login after a drop, backoff, the stop after refused
//! credentials, a front that does not connect. Events in at chosen instants, actions
//! out; no runtime, no clock.

use super::super::actions::{Event, Timer};
use super::super::state::{OWN_IDS_FROM, Phase};
use super::{calls, pure, sent, settings};
use crate::ctp::FrontEvent;
use crate::protocol::TdRequest;
use crate::protocol::fields::QryTradingAccount;

#[test]
fn a_login_opens_the_session_and_logs_in_once_the_front_connects() {
    let mut p = pure(settings());
    let a = p.login(0.0, 5);
    assert_eq!(
        a.open.as_deref(),
        Some("u1"),
        "the driver opens the session"
    );
    assert_eq!(a.timers, [(p.at(3.0), Timer::FrontCheck)]);
    assert!(a.calls.is_empty() && a.send.is_empty());

    let a = p.ev(0.0, Event::Opened(Ok(())));
    assert!(a.start_watch, "the first open starts the front's watch");
    assert!(
        a.calls.is_empty(),
        "nothing is sent before the front connects"
    );

    let a = p.front(0.5, FrontEvent::Connected);
    let c = calls(&a);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].0, "ReqUserLogin");
    assert!(c[0].1 >= OWN_IDS_FROM, "the session's own ID upstream");
    assert_eq!(a.notes.len(), 1, "the log hears the front connected");

    let a = p.answer_login(0.6, 0, c[0].1);
    let got = sent(&a);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["MsgType"], "RspUserLogin");
    assert_eq!(got[0]["RequestID"], 5);
    assert_eq!(got[0]["RspUserLogin"]["TradingDay"], "20261207");
    assert!(a.wake_pump);
    assert_eq!(p.m.phase, Phase::LoggedIn);
    // The wait for the front is over, but the login is answered: nothing more.
    assert!(p.ev(3.0, Event::Timer(Timer::FrontCheck)).is_empty());
}

#[test]
fn a_connect_reported_while_the_session_opens_is_held_until_it_is_open() {
    let mut p = pure(settings());
    p.login(0.0, 5);
    // The backend reports Connected from its thread before td_session() returned.
    let a = p.front(0.0, FrontEvent::Connected);
    assert!(a.calls.is_empty(), "no upstream session to call yet: {a:?}");
    let a = p.ev(0.0, Event::Opened(Ok(())));
    assert_eq!(
        calls(&a).iter().map(|c| c.0).collect::<Vec<_>>(),
        ["ReqUserLogin"]
    );
}

#[test]
fn a_session_that_cannot_be_opened_answers_the_login() {
    let mut p = pure(settings());
    p.login(0.0, 5);
    let a = p.ev(
        0.0,
        Event::Opened(Err(crate::ctp::BackendError::Session("no library".into()))),
    );
    let got = sent(&a);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["MsgType"], "RspUserLogin");
    assert_eq!(got[0]["RequestID"], 5);
    assert_eq!(got[0]["RspInfo"]["ErrorID"], -1);
    assert_eq!(p.m.phase, Phase::Idle);
}

#[test]
fn login_authenticates_and_confirms_the_settlement_first_when_configured() {
    let mut s = settings();
    s.app_id = Some("client_webctp_1.0".into());
    s.auth_code = Some("0000000000000000".into());
    s.auto_confirm_settlement = true;
    let mut p = pure(s);
    p.login(0.0, 9);
    p.ev(0.0, Event::Opened(Ok(())));
    let a = p.front(0.0, FrontEvent::Connected);
    let c = calls(&a);
    assert_eq!(
        c.iter().map(|c| c.0).collect::<Vec<_>>(),
        ["ReqAuthenticate"]
    );
    let a = p.answer(0.1, "RspAuthenticate", "RspAuthenticate", None, 0, c[0].1);
    let c = calls(&a);
    assert_eq!(c.iter().map(|c| c.0).collect::<Vec<_>>(), ["ReqUserLogin"]);
    let a = p.answer_login(0.2, 0, c[0].1);
    assert!(
        a.send.is_empty(),
        "the client is answered after the confirm"
    );
    let TdRequest::ReqSettlementInfoConfirm(confirm) = &a.calls[0].req else {
        panic!("{a:?}");
    };
    assert_eq!(
        confirm.ConfirmDate, "20261207",
        "the machine's today, not the wall clock"
    );
    let rid = a.calls[0].id;
    let a = p.answer(
        0.3,
        "RspSettlementInfoConfirm",
        "SettlementInfoConfirm",
        None,
        0,
        rid,
    );
    let got = sent(&a);
    assert_eq!(got[0]["MsgType"], "RspUserLogin");
    assert_eq!(got[0]["RequestID"], 9);
    assert_eq!(p.m.phase, Phase::LoggedIn);
}

#[test]
fn a_refused_login_is_answered_and_not_retried() {
    let mut p = pure(settings());
    p.login(0.0, 3);
    p.ev(0.0, Event::Opened(Ok(())));
    let c = calls(&p.front(0.0, FrontEvent::Connected));
    let a = p.answer_login(0.1, 3, c[0].1);
    let got = sent(&a);
    assert_eq!(got[0]["RspInfo"]["ErrorID"], 3);
    assert_eq!(got[0]["RequestID"], 3);
    assert!(a.timers.is_empty());
    // The front reconnecting does not replay refused credentials.
    p.front(1.0, FrontEvent::Disconnected { reason: 0x1001 });
    let a = p.front(2.0, FrontEvent::Connected);
    assert!(a.calls.is_empty() && a.timers.is_empty(), "{a:?}");
}

#[test]
fn the_session_logs_in_again_after_a_front_drop() {
    let mut p = pure(settings());
    p.logged_in(0.0);
    let a = p.front(1.0, FrontEvent::Disconnected { reason: 0x1001 });
    let got = sent(&a);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["MsgType"], "OnFrontDisconnected");
    assert_eq!(got[0]["RspInfo"]["ErrorID"], 0x1001);
    assert_eq!(p.m.phase, Phase::Connecting);
    // Long after the last connect: no backoff, the re-login goes at once.
    let a = p.front(61.0, FrontEvent::Connected);
    assert!(a.timers.is_empty());
    let c = calls(&a);
    assert_eq!(c.iter().map(|c| c.0).collect::<Vec<_>>(), ["ReqUserLogin"]);
    let got = sent(&p.answer_login(61.1, 0, c[0].1));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["MsgType"], "OnFrontConnected");
    assert_eq!(p.m.phase, Phase::LoggedIn);
}

#[test]
fn a_front_that_keeps_dropping_gets_re_logins_after_1_2_4_8_s() {
    let mut p = pure(settings());
    p.logged_in(0.0);
    let mut t = 0.0;
    for delay in [1.0, 2.0, 4.0, 8.0] {
        t += 1.0;
        p.front(t, FrontEvent::Disconnected { reason: 0x2001 });
        // Back within 10 s of the last connect: the re-login waits.
        let a = p.front(t, FrontEvent::Connected);
        assert!(a.calls.is_empty(), "at {t} s: re-login not delayed");
        assert_eq!(a.timers, [(p.at(t + delay), Timer::Relogin)], "at {t} s");
        t += delay;
        let c = calls(&p.ev(t, Event::Timer(Timer::Relogin)));
        assert_eq!(c.iter().map(|c| c.0).collect::<Vec<_>>(), ["ReqUserLogin"]);
        p.answer_login(t, 0, c[0].1);
    }
    // A front that stayed up for more than 10 s resets the backoff.
    p.front(t + 11.0, FrontEvent::Disconnected { reason: 0x2001 });
    let a = p.front(t + 22.0, FrontEvent::Connected);
    assert!(a.timers.is_empty());
    assert_eq!(calls(&a).len(), 1);
}

#[test]
fn a_relogin_timer_for_a_front_that_dropped_again_does_nothing() {
    let mut p = pure(settings());
    p.logged_in(0.0);
    p.front(1.0, FrontEvent::Disconnected { reason: 0x2001 });
    let a = p.front(1.0, FrontEvent::Connected);
    assert_eq!(a.timers, [(p.at(2.0), Timer::Relogin)]);
    p.front(1.5, FrontEvent::Disconnected { reason: 0x2001 });
    assert!(p.ev(2.0, Event::Timer(Timer::Relogin)).calls.is_empty());
}

#[test]
fn re_login_stops_after_ctp_refuses_the_credentials() {
    let mut p = pure(settings());
    p.logged_in(0.0);
    p.front(1.0, FrontEvent::Disconnected { reason: 0x1001 });
    let c = calls(&p.front(61.0, FrontEvent::Connected));
    // CTP 3: invalid login (the password was changed meanwhile).
    let a = p.answer_login(61.1, 3, c[0].1);
    let got = sent(&a);
    assert_eq!(got[0]["MsgType"], "OnFrontDisconnected");
    assert!(got[0]["Detail"].as_str().unwrap().contains("not retrying"));
    assert!(a.timers.is_empty(), "no retry is armed");
    // Neither a later reconnect nor time brings another login (it would lock the account).
    p.front(62.0, FrontEvent::Disconnected { reason: 0x1001 });
    let a = p.front(122.0, FrontEvent::Connected);
    assert!(a.calls.is_empty() && a.timers.is_empty(), "{a:?}");
    assert!(p.ev(700.0, Event::Timer(Timer::Relogin)).calls.is_empty());
}

#[test]
fn a_failed_re_login_is_retried_after_a_backoff() {
    let mut p = pure(settings());
    p.logged_in(0.0);
    p.front(1.0, FrontEvent::Disconnected { reason: 0x1001 });
    let c = calls(&p.front(61.0, FrontEvent::Connected));
    // CTP 8: the front is not ready; worth retrying.
    let a = p.answer_login(61.0, 8, c[0].1);
    assert!(sent(&a)[0]["Detail"].as_str().unwrap().contains("retrying"));
    assert_eq!(a.timers, [(p.at(62.0), Timer::Relogin)]);
    let c = calls(&p.ev(62.0, Event::Timer(Timer::Relogin)));
    assert_eq!(c.iter().map(|c| c.0).collect::<Vec<_>>(), ["ReqUserLogin"]);
}

#[test]
fn a_login_call_the_backend_refuses_answers_the_client() {
    let mut p = pure(settings());
    p.login(0.0, 4);
    p.ev(0.0, Event::Opened(Ok(())));
    let mut a = p.front(0.0, FrontEvent::Connected);
    let call = a.calls.remove(0);
    let a = p.ev(0.0, Event::Refused { call, code: -1 });
    let got = sent(&a);
    assert_eq!(got[0]["MsgType"], "RspUserLogin");
    assert_eq!(got[0]["RequestID"], 4);
    assert_eq!(got[0]["RspInfo"]["ErrorID"], -1);
}

#[test]
fn a_login_on_a_front_that_does_not_connect_is_answered_after_the_wait() {
    let mut p = pure(settings());
    let a = p.login(0.0, 5);
    assert_eq!(a.timers, [(p.at(3.0), Timer::FrontCheck)]);
    p.ev(0.0, Event::Opened(Ok(())));
    let got = sent(&p.ev(3.0, Event::Timer(Timer::FrontCheck)));
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
        detail.contains(
            "trading front tcp://192.0.2.1:41205 (user u1) is down: not connected after 3 s"
        ),
        "{detail}"
    );
    // A second login while it is still down: answered at once, never "duplicate login".
    let a = p.login(5.0, 6);
    assert!(a.timers.is_empty() && a.open.is_none());
    let got = sent(&a);
    assert_eq!(got[1]["RequestID"], 6);
    assert_eq!(got[1]["RspInfo"]["ErrorID"], -1);
    // The front comes: the client hears it is up; nobody logs in by itself.
    let a = p.front(9.0, FrontEvent::Connected);
    assert_eq!(sent(&a)[0]["MsgType"], "OnFrontConnected");
    assert!(a.calls.is_empty());
    let c = calls(&p.login(10.0, 7));
    assert_eq!(c.iter().map(|c| c.0).collect::<Vec<_>>(), ["ReqUserLogin"]);
}

#[test]
fn a_login_during_an_outage_after_a_login_waits_only_the_rest_of_the_wait() {
    let mut p = pure(settings());
    p.logged_in(0.0);
    p.front(10.0, FrontEvent::Disconnected { reason: 0x1001 });
    // 1 s into the outage: 2 s of the 3 s wait are left.
    let a = p.login(11.0, 8);
    assert_eq!(a.timers, [(p.at(13.0), Timer::FrontCheck)]);
    let got = sent(&p.ev(13.0, Event::Timer(Timer::FrontCheck)));
    let detail = got[1]["Detail"].as_str().unwrap();
    assert!(detail.contains("logs in again when it is back"), "{detail}");
    // The credentials are kept: the re-login still happens.
    let a = p.front(30.0, FrontEvent::Connected);
    assert_eq!(calls(&a).len(), 1);
}

#[test]
fn requests_before_the_front_connects_are_answered_as_ctp_would() {
    let mut p = pure(settings());
    p.login(0.0, 5);
    let a = p.request(
        0.1,
        TdRequest::ReqQryTradingAccount(QryTradingAccount::default()),
        11,
    );
    let got = sent(&a);
    assert_eq!(got[0]["MsgType"], "RspQryTradingAccount");
    assert_eq!(got[0]["RequestID"], 11);
    assert_eq!(got[0]["RspInfo"]["ErrorID"], -1);
    assert_eq!(
        got[0]["Detail"],
        "trading front tcp://192.0.2.1:41205 is not connected yet"
    );
    assert!(a.calls.is_empty());
    p.ev(0.1, Event::Opened(Ok(())));
    let got = sent(&p.request(
        0.2,
        TdRequest::ReqQryTradingAccount(QryTradingAccount::default()),
        12,
    ));
    assert_eq!(
        got[0]["Detail"],
        "trading front tcp://192.0.2.1:41205 (user u1) is not connected yet; the login waits for it"
    );
}

#[test]
fn requests_after_the_front_down_answer_name_the_front() {
    let mut p = pure(settings());
    p.login(0.0, 5);
    p.ev(0.0, Event::Opened(Ok(())));
    p.ev(3.0, Event::Timer(Timer::FrontCheck));
    let got = sent(&p.request(
        10.0,
        TdRequest::ReqQryTradingAccount(QryTradingAccount::default()),
        12,
    ));
    assert_eq!(got[0]["RequestID"], 12);
    assert_eq!(
        got[0]["RspInfo"]["ErrorID"], -1,
        "CTP's refusal while the front is down"
    );
    let detail = got[0]["Detail"].as_str().unwrap();
    assert_eq!(
        detail,
        "trading front tcp://192.0.2.1:41205 (user u1) is down: not connected after 10 s: \
         unreachable or not answering; webctp keeps retrying it — log in again once it is back"
    );
    // After a login and a drop: the session logs in again by itself.
    let mut p = pure(settings());
    p.logged_in(0.0);
    p.front(1.0, FrontEvent::Disconnected { reason: 0x1001 });
    let got = sent(&p.request(
        2.0,
        TdRequest::ReqQryTradingAccount(QryTradingAccount::default()),
        13,
    ));
    let detail = got[0]["Detail"].as_str().unwrap();
    assert!(detail.contains("is down: it dropped"), "{detail}");
    assert!(
        detail.ends_with("logs in again when it is back"),
        "{detail}"
    );
}

#[test]
fn a_closed_session_does_nothing_more() {
    let mut p = pure(settings());
    p.logged_in(0.0);
    let a = p.ev(1.0, Event::Close);
    assert!(a.release, "the upstream session is let go");
    assert!(
        p.front(2.0, FrontEvent::Disconnected { reason: 1 })
            .is_empty()
    );
    assert!(p.login(3.0, 9).is_empty());
}

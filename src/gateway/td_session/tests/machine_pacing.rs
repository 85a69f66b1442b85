//! The pure machine's query pacing: one query in flight, paced at the interval, CTP's
//! -2/-3 put back unseen, a query unanswered for the timeout failed, a query in flight
//! at a drop failed, orders refused by the backend answered.

use std::time::Duration;

use super::super::actions::Event;
use super::{calls, pure, sent, settings};
use crate::ctp::FrontEvent;
use crate::protocol::TdRequest;
use crate::protocol::fields::{Body, InputOrder, QryTradingAccount, TradingAccount};

fn qry_account() -> TdRequest {
    TdRequest::ReqQryTradingAccount(QryTradingAccount::default())
}

fn pump(p: &mut super::Pure, secs: f64) -> super::Actions {
    p.ev(secs, Event::Pump { backed_up: false })
}

fn answer_account(p: &mut super::Pure, secs: f64, rid: i32) -> Vec<serde_json::Value> {
    sent(&p.answer(
        secs,
        "RspQryTradingAccount",
        "TradingAccount",
        Some(Body::from(TradingAccount::default())),
        0,
        rid,
    ))
}

#[test]
fn queries_are_paced_and_flow_control_is_retried_unseen() {
    let mut p = pure(settings());
    p.logged_in(0.0);
    assert!(p.request(0.0, qry_account(), 101).wake_pump);
    p.request(0.0, qry_account(), 102);
    let a = pump(&mut p, 0.0);
    let first = calls(&a);
    assert_eq!(first.len(), 1, "one query per step: {first:?}");
    assert_eq!(a.pump_again, Some(Duration::ZERO));
    // One in flight: the next waits for its answer (up to the timeout).
    let a = pump(&mut p, 0.0);
    assert!(a.calls.is_empty());
    assert_eq!(a.pump_again, Some(Duration::from_secs(30)));
    let got = answer_account(&mut p, 0.2, first[0].1);
    assert_eq!(
        got[0]["RequestID"], 101,
        "the client's RequestID comes back"
    );

    // Answered at 0.2 s: the next may go 1 s after the last was sent.
    let a = pump(&mut p, 0.2);
    assert!(a.calls.is_empty());
    assert_eq!(a.pump_again, Some(Duration::from_millis(800)));
    assert_eq!(a.pacing_wait, Some(p.at(1.0)));

    // At 1 s it goes and CTP's flow control refuses it (-2): put back, unseen.
    let mut a = pump(&mut p, 1.0);
    let call = a.calls.remove(0);
    let a = p.ev(1.0, Event::Refused { call, code: -2 });
    assert!(a.send.is_empty(), "the client never sees -2");
    assert_eq!(a.pump_again, Some(Duration::from_secs(1)));
    assert_eq!(p.m.queries.len(), 1);
    // At 2 s again (-3).
    let mut a = pump(&mut p, 2.0);
    let call = a.calls.remove(0);
    assert!(p.ev(2.0, Event::Refused { call, code: -3 }).send.is_empty());
    // At 3 s it goes.
    let a = pump(&mut p, 3.0);
    let second = calls(&a);
    assert_eq!(second.len(), 1);
    let got = answer_account(&mut p, 3.1, second[0].1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["RequestID"], 102);
    assert_eq!(got[0]["RspInfo"]["ErrorID"], 0);
    // Nothing queued: the pump waits to be woken.
    assert_eq!(pump(&mut p, 3.1).pump_again, None);
}

#[test]
fn a_query_the_backend_refuses_otherwise_is_answered_with_its_code() {
    let mut p = pure(settings());
    p.logged_in(0.0);
    p.request(0.0, qry_account(), 7);
    let mut a = pump(&mut p, 0.0);
    let call = a.calls.remove(0);
    let got = sent(&p.ev(0.0, Event::Refused { call, code: -1 }));
    assert_eq!(got[0]["RequestID"], 7);
    assert_eq!(got[0]["RspInfo"]["ErrorID"], -1);
    assert!(p.m.queries.is_empty());
}

#[test]
fn an_unanswered_query_fails_after_the_timeout_and_the_next_goes() {
    let mut p = pure(settings());
    p.logged_in(0.0);
    p.request(0.0, qry_account(), 201);
    p.request(0.0, qry_account(), 202);
    assert_eq!(calls(&pump(&mut p, 0.0)).len(), 1);
    let a = pump(&mut p, 29.0);
    assert!(a.send.is_empty() && a.calls.is_empty());
    assert_eq!(a.pump_again, Some(Duration::from_secs(1)));
    let a = pump(&mut p, 30.0);
    let got = sent(&a);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["RequestID"], 201);
    assert_eq!(got[0]["RspInfo"]["ErrorID"], -1);
    assert_eq!(calls(&a).len(), 1, "the next query is sent");
}

#[test]
fn a_client_that_does_not_read_gets_no_new_answers() {
    let mut p = pure(settings());
    p.logged_in(0.0);
    p.request(0.0, qry_account(), 1);
    let a = p.ev(0.0, Event::Pump { backed_up: true });
    assert!(a.calls.is_empty());
    assert_eq!(a.pump_again, Some(Duration::from_millis(20)));
    assert_eq!(calls(&pump(&mut p, 0.02)).len(), 1);
}

#[test]
fn a_query_in_flight_at_a_front_drop_is_answered_failed() {
    let mut p = pure(settings());
    p.logged_in(0.0);
    p.request(0.0, qry_account(), 301);
    assert_eq!(calls(&pump(&mut p, 0.0)).len(), 1);
    let got = sent(&p.front(0.5, FrontEvent::Disconnected { reason: 0x1001 }));
    let failed = got
        .iter()
        .find(|m| m["RequestID"] == 301)
        .expect("the query's answer");
    assert_eq!(failed["RspInfo"]["ErrorID"], -1);
    assert!(p.m.query_in_flight.is_none());
}

#[test]
fn an_order_gets_an_order_ref_and_a_refused_call_is_answered() {
    let mut p = pure(settings());
    p.logged_in(0.0);
    let order = InputOrder {
        InstrumentID: "rb2605".into(),
        ..InputOrder::default()
    };
    let mut a = p.request(0.0, TdRequest::ReqOrderInsert(order), 42);
    assert_eq!(a.calls.len(), 1);
    let call = a.calls.remove(0);
    assert_eq!(
        call.id, 42,
        "orders go upstream with the client's RequestID"
    );
    let TdRequest::ReqOrderInsert(o) = &call.req else {
        panic!("{call:?}");
    };
    assert_eq!(o.OrderRef.trim(), "13", "after the login's MaxOrderRef 12");
    let got = sent(&p.ev(0.0, Event::Refused { call, code: -1 }));
    assert_eq!(got[0]["MsgType"], "RspOrderInsert");
    assert_eq!(got[0]["RequestID"], 42);
    assert_eq!(got[0]["RspInfo"]["ErrorID"], -1);
}

#[test]
fn a_logout_lets_the_upstream_session_go() {
    let mut p = pure(settings());
    p.logged_in(0.0);
    let a = p.request(
        0.0,
        TdRequest::ReqUserLogout(crate::protocol::fields::UserLogout::default()),
        50,
    );
    let rid = calls(&a)[0].1;
    let a = p.answer(0.1, "RspUserLogout", "UserLogout", None, 0, rid);
    assert!(a.release);
    assert_eq!(sent(&a)[0]["RequestID"], 50);
    // The next login opens a new one.
    assert_eq!(p.login(1.0, 51).open.as_deref(), Some("u1"));
}

//! Queries: paced, -2/-3 retried unseen, timed out, failed at a drop.

use std::time::Duration;

use super::{rig, settings, settle};
use crate::ctp::{FrontEvent, TdEvents};
use crate::protocol::TdRequest;
use crate::protocol::fields::{Body, QryTradingAccount, TradingAccount};

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
}

//! A front that does not connect: the login is answered naming it, never a timeout.

use std::time::Duration;

use super::{rig, settings, settle};
use crate::ctp::{FrontEvent, TdEvents};

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

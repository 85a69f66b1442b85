//! Login, re-login after a drop, backoff, the stop after refused credentials.

use std::time::Duration;

use super::{rig, settings, settle};
use crate::ctp::{FrontEvent, TdEvents};

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
        sent[0].1 >= super::super::state::OWN_IDS_FROM,
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

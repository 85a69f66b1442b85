//! A front that is down or drops, through the real binary (issue #16 finding 4): a
//! login is answered in words naming the front and saying webctp keeps retrying (never
//! a timeout, never "duplicate login"), and `serve` logs the front's connects, drops
//! and, while it stays down, that it is still retrying.
//!
//! The native backend runs on the fake CTP library with `FAKECTP_OUTAGE`: a front that
//! is down is silent, as the official library is towards an unreachable address.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Binary, Client, TempDir};
use serde_json::json;
use webctp::protocol::errors::request;

/// The front address `Binary::native` gives the gateway.
const FRONT: &str = "tcp://127.0.0.1:1";

/// Polls the gateway's log until `cond` holds; the notes come on the front's schedule
/// (seconds apart), so the deadline is generous rather than tight.
fn log_until(gw: &Binary, what: &str, cond: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let err = gw.stderr();
        if cond(&err) {
            return;
        }
        assert!(Instant::now() < deadline, "no {what} in the log:\n{err}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn a_login_on_a_down_front_is_answered_naming_it_and_a_second_is_not_a_duplicate() {
    let dir = TempDir::new("fronts-login");
    // The front is down from the start for ten minutes.
    let gw = Binary::native(&dir, &[("FAKECTP_OUTAGE", "0,600")]);
    let mut td = Client::connect(&gw.td_url).await;
    for rid in [1, 2] {
        td.send(json!({"MsgType": "ReqUserLogin", "RequestID": rid,
            "ReqUserLogin": {"UserID": "u1", "Password": "pw"}}))
            .await;
        let down = td
            .recv_until(|m| m["MsgType"] == "OnFrontDisconnected")
            .await;
        // Never connected, or (on a loaded machine) connected and dropped by the
        // fake's outage before the wait ended: either way a reason is given.
        let why = down["RspInfo"]["ErrorMsg"].as_str().unwrap_or_default();
        assert!(
            why == "unreachable or not answering" || why == "network read failed",
            "{down}"
        );
        let answer = td.recv_until(|m| m["MsgType"] == "RspUserLogin").await;
        assert_eq!(answer["RequestID"], rid, "{answer}");
        assert_eq!(
            answer["RspInfo"]["ErrorID"],
            request::NETWORK_FAILURE,
            "{answer}"
        );
        let detail = answer["Detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(&format!("trading front {FRONT} (user u1) is down")),
            "{answer}"
        );
        assert!(detail.contains("keeps retrying"), "{answer}");
    }
    // Another request meanwhile: CTP's -1 (its API refuses calls while the front is
    // down, as the Python projects pass on), naming the front — not "log in first".
    td.send(json!({"MsgType": "ReqQryTradingAccount", "RequestID": 3,
        "QryTradingAccount": {}}))
        .await;
    let answer = td
        .recv_until(|m| m["MsgType"] == "RspQryTradingAccount")
        .await;
    assert_eq!(answer["RequestID"], 3, "{answer}");
    assert_eq!(answer["RspInfo"]["ErrorID"], -1, "{answer}");
    let detail = answer["Detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&format!("trading front {FRONT} (user u1) is down")),
        "{answer}"
    );
    let err = gw.stderr();
    assert!(
        err.contains(&format!("trading front {FRONT} (user u1): connecting")),
        "{err}"
    );
    assert!(err.contains("login answered at once"), "{err}");
}

/// `exec login` against the gateway: the answer names the front and says it is retried
/// (`exec` stops at a failed command, so each login is its own process; a second login
/// on one connection is the test above).
#[test]
fn the_terminal_says_the_front_is_down_instead_of_timing_out() {
    let dir = TempDir::new("fronts-cli");
    let gw = Binary::native(&dir, &[("FAKECTP_OUTAGE", "0,600")]);
    let url = gw.td_url.trim_end_matches("/td/").to_string();
    for _ in 0..2 {
        let out = common::webctp()
            .args(["exec", "--url", &url, "--wait", "60", "login", "u1"])
            .env("WEBCTP_PASSWORD", "pw")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_ne!(out.status.code(), Some(0), "{text}");
        let failed = text
            .lines()
            .find(|l| l.contains("login failed"))
            .unwrap_or_else(|| panic!("no login failure in:\n{text}"));
        assert!(
            failed.contains(FRONT) && failed.contains("keeps retrying"),
            "{text}"
        );
        assert!(!text.contains("no answer within"), "{text}");
        assert!(!text.contains("duplicate"), "{text}");
    }
}

#[test]
fn serve_logs_the_fronts_connects_drops_and_retries() {
    let dir = TempDir::new("fronts-log");
    // Up at start, down after 1 s for 8 s: a connect, a drop, "still down", a reconnect.
    let gw = Binary::native(&dir, &[("FAKECTP_OUTAGE", "1,8")]);
    let md = format!("market-data front {FRONT}");
    log_until(&gw, "md front connect", |e| {
        e.contains(&format!("{md} connected"))
    });
    log_until(&gw, "md front drop", |e| {
        e.contains(&format!("{md} disconnected:"))
    });
    log_until(&gw, "note that the md front is still down", |e| {
        e.contains(&format!("{md} is down: it dropped")) && e.contains("keeps retrying")
    });
    log_until(&gw, "md front reconnect", |e| {
        e.contains(&format!("{md} connected again after"))
    });
    let err = gw.stderr();
    assert!(err.contains(&format!("{md}: connecting")), "{err}");
    // The drop says why (CTP's reason, in words and as its code).
    let drop_line = err
        .lines()
        .find(|l| l.contains(&format!("{md} disconnected:")))
        .unwrap();
    assert!(drop_line.contains("(reason 0x"), "{drop_line}");
}

#[test]
fn serve_logs_a_front_that_never_connects_at_growing_intervals() {
    let dir = TempDir::new("fronts-never");
    let gw = Binary::native(&dir, &[("FAKECTP_OUTAGE", "0,600")]);
    let md = format!("market-data front {FRONT} is down");
    // The first note 5 s after start, the second 10 s later (then 20, 40 ... 600 s).
    log_until(&gw, "two notes that the md front is down", |e| {
        e.matches(&md).count() >= 2
    });
    let err = gw.stderr();
    let notes: Vec<&str> = err.lines().filter(|l| l.contains(&md)).collect();
    assert!(notes[0].contains("next note in 10 s"), "{notes:?}");
    assert!(notes[1].contains("next note in 20 s"), "{notes:?}");
}

//! `webctp serve` as a service: SIGHUP is answered with an explanation (the process
//! stays up), SIGTERM closes clients with 1001 and exits 0; under journald (the
//! JOURNAL_STREAM variable set) log lines carry no timestamp of their own.

mod common;

use std::time::Duration;

use common::{Binary, Client, TempDir, WAIT};

fn poll(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn sighup_explains_and_sigterm_stops_cleanly() {
    let dir = TempDir::new("service");
    let mut gw = Binary::serve(
        &dir,
        "Sim: {TickRate: 0}\n",
        &[("JOURNAL_STREAM", "8:12345")],
    );
    let mut c = Client::connect(&gw.md_url).await;
    c.md_login().await;

    gw.signal("-HUP");
    poll("the SIGHUP explanation", || {
        gw.stderr().contains("does not re-read its config")
    });
    assert!(
        gw.child.try_wait().unwrap().is_none(),
        "SIGHUP ended the process"
    );
    // journald adds the time; the line starts with the level.
    let line = gw
        .stderr()
        .lines()
        .find(|l| l.contains("SIGHUP"))
        .unwrap_or_default()
        .to_string();
    assert!(line.trim_start().starts_with("WARN"), "{line}");

    gw.signal("-TERM");
    let (code, reason) = c.close_frame().await.expect("a close frame");
    assert_eq!(code, 1001, "{reason}");
    assert_eq!(gw.wait(WAIT), Some(0));
    assert!(gw.stderr().contains("stopped"), "{}", gw.stderr());
}

//! Kill points for crash tests: with `WEBCTP_TEST_KILL_AT=<point>[:<bytes>]` in its
//! environment, the process sends itself SIGKILL when it first reaches `<point>` —
//! the same as a `kill -9` at that instant, chosen exactly instead of by timing. At a
//! point that writes a file, `<bytes>` writes only that many bytes of it first. Not
//! for production use; nothing happens without the variable.

use std::sync::OnceLock;

fn armed() -> Option<&'static (String, Option<usize>)> {
    static ARMED: OnceLock<Option<(String, Option<usize>)>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let v = std::env::var("WEBCTP_TEST_KILL_AT").ok()?;
            let (point, bytes) = match v.split_once(':') {
                Some((p, b)) => (p.to_string(), b.parse().ok()),
                None => (v, None),
            };
            Some((point, bytes))
        })
        .as_ref()
}

/// How many bytes to write before dying at `point`, if armed for it.
pub fn partial(point: &str) -> Option<usize> {
    armed()
        .filter(|(p, _)| p == point)
        .map(|(_, b)| b.unwrap_or(0))
}

/// Dies here if armed for `point`.
pub fn reached(point: &str) {
    if armed().is_some_and(|(p, _)| p == point) {
        die();
    }
}

/// SIGKILL to ourselves: no destructor, no flush, as `kill -9`.
pub fn die() -> ! {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &std::process::id().to_string()])
        .status();
    std::process::abort()
}

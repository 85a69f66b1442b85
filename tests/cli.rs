//! The real binary: the REPL driven through piped stdin, and `exec`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Binary, TempDir};

/// `webctp` with piped stdin and stdout, read line by line.
struct Repl {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Repl {
    fn start(dir: &TempDir, extra: &[&str]) -> Repl {
        let mut args = vec!["--data-dir", dir.path().to_str().unwrap(), "--port", "0"];
        args.extend_from_slice(extra);
        let mut child = common::webctp()
            .args(&args)
            .env("WEBCTP_USER", "repl-user")
            .env("WEBCTP_PASSWORD", "123456")
            .env_remove("WEBCTP_CONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Repl {
            child,
            stdin,
            lines: rx,
            seen: Vec::new(),
        }
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Reads output until a line contains `needle`; returns everything read.
    fn expect(&mut self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + common::WAIT;
        let mut got = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(needle);
                    self.seen.push(l.clone());
                    got.push(l);
                    if hit {
                        return got;
                    }
                }
                Err(_) => panic!(
                    "`{needle}` never appeared; output so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

impl Drop for Repl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The OrderSysID in the first data row of an orders table (its first column).
fn first_order_id(lines: &[String]) -> String {
    lines
        .iter()
        .filter(|l| l.contains("rb2605"))
        .filter_map(|l| l.split_whitespace().next())
        .find(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit()))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn repl_session_logs_in_subscribes_trades_and_cancels() {
    let dir = TempDir::new("repl");
    let mut r = Repl::start(&dir, &["--no-server"]);
    // The banner says which sessions mode runs and the sim's day.
    let banner = r.expect("type `help`");
    assert!(
        banner.iter().any(|l| l.contains("sim sessions: always")),
        "{banner:?}"
    );
    assert!(
        banner.iter().any(|l| l.contains("Sim.StartDate 20251203")),
        "{banner:?}"
    );
    r.send("login");
    r.expect("logged in as repl-user");
    r.send("sub rb2605 au2602");
    r.expect("subscribed rb2605 au2602");
    r.send("quote rb2605");
    let q = r.expect("rb2605");
    assert!(
        q.iter()
            .any(|l| l.contains("Last") && l.contains("Bid") && l.contains("Ask")),
        "{q:?}"
    );
    // A buy at the ask fills; a buy far below rests and is cancelled.
    r.send("buy rb2605 1");
    let fill = r.expect("AllTraded");
    assert!(
        fill.iter().any(|l| l.contains("Buy") && l.contains("Open")),
        "{fill:?}"
    );
    r.send("buy rb2605 1 @3000");
    let rest = r.expect("NoTradeQueueing");
    let id = first_order_id(&rest);
    assert!(!id.is_empty(), "{rest:?}");
    r.send(&format!("cancel {id}"));
    r.expect(&format!("canceled order {id}"));
    r.send("orders");
    let orders = r.expect("Canceled");
    assert!(
        orders.iter().any(|l| l.contains("OrderSysID")),
        "{orders:?}"
    );
    r.send("positions");
    let pos = r.expect("Long");
    assert!(
        pos.iter()
            .any(|l| l.contains("rb2605") && l.contains("SHFE")),
        "{pos:?}"
    );
    r.send("account");
    let acc = r.expect("Withdraw quota");
    assert!(
        acc.iter().any(|l| l.contains("Balance") && l.contains(',')),
        "{acc:?}"
    );
    // Mistakes get a usage line and the session goes on.
    r.send("buy rb2605");
    r.expect("usage: buy");
    r.send("postions");
    r.expect("did you mean `positions`");
    r.send("buy zz9999 1 @10");
    r.expect("rejected: instrument not found (CTP 16)");
    r.send("set output json");
    r.send("account");
    let j = r.expect("RspQryTradingAccount");
    let line = j
        .iter()
        .find(|l| l.contains("RspQryTradingAccount"))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["MsgType"], "RspQryTradingAccount");
    assert!(
        line.starts_with(r#"{"MsgType":"RspQryTradingAccount","RspInfo""#),
        "{line}"
    );
    r.send("exit");
    let start = Instant::now();
    while start.elapsed() < common::WAIT {
        if let Ok(Some(s)) = r.child.try_wait() {
            assert!(s.success());
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the REPL did not exit");
}

fn exec(dir: &TempDir, args: &[&str]) -> (i32, String, String) {
    let out = common::webctp()
        .args(["--data-dir", dir.path().to_str().unwrap(), "exec"])
        .args(args)
        .env("WEBCTP_USER", "exec-user")
        .env("WEBCTP_PASSWORD", "123456")
        .env_remove("WEBCTP_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn exec_buy_then_positions_in_a_second_process() {
    let dir = TempDir::new("exec");
    let (code, out, err) = exec(&dir, &["buy", "m2605", "2"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("AllTraded"), "{out}");
    let (code, out, err) = exec(&dir, &["positions", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(v["MsgType"], "RspQryInvestorPosition");
    assert_eq!(v["InvestorPosition"]["InstrumentID"], "m2605");
    assert_eq!(v["InvestorPosition"]["Position"], 2);
    // A refused order exits 1 with CTP's error.
    let (code, out, _) = exec(&dir, &["sell", "m2605", "5", "close"]);
    assert_eq!(code, 1);
    // CTP answers a refusal twice (RspOrderInsert, ErrRtnOrderInsert); it is said once.
    assert_eq!(out.matches("(CTP 30)").count(), 1, "{out}");
    // Commands from stdin, one per line.
    let mut child = common::webctp()
        .args(["--data-dir", dir.path().to_str().unwrap(), "exec", "-"])
        .env("WEBCTP_USER", "exec-user")
        .env("WEBCTP_PASSWORD", "123456")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"sell m2605 1 close\npositions\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("AllTraded") && text.contains("m2605"),
        "{text}"
    );
}

#[test]
fn exec_usage_errors_exit_2() {
    let dir = TempDir::new("usage");
    for args in [
        vec!["postions"],
        vec!["buy", "rb2605"],
        vec!["buy", "rb2605", "-1"],
        vec!["set", "output", "xml"],
    ] {
        let (code, out, err) = exec(&dir, &args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        let lower = err.to_lowercase();
        assert!(
            lower.contains("usage:") || lower.contains("did you mean"),
            "{args:?}: {err}"
        );
    }
    let out = common::webctp().args(["exec"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = common::webctp().args(["--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("serve") && help.contains("exec") && help.contains("--config"),
        "{help}"
    );
}

#[test]
fn exec_url_talks_to_a_running_gateway() {
    let dir = TempDir::new("url");
    let data = dir.path().join("gw");
    let gw = Binary::spawn(
        &["serve", "--port", "0", "--data-dir", data.to_str().unwrap()],
        &[],
        dir.path(),
    );
    let base = gw.td_url.trim_end_matches("/td/").to_string();
    let (code, out, err) = exec(&dir, &["--url", &base, "buy", "TA601", "1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("AllTraded"), "{out}");
    let (code, out, _) = exec(&dir, &["--url", &base, "trades", "--json"]);
    assert_eq!(code, 0);
    assert!(out.contains("\"InstrumentID\":\"TA601\""), "{out}");
    // The gateway's data dir is locked: an in-process exec on it says why and how.
    let out = common::webctp()
        .args(["--data-dir", data.to_str().unwrap(), "exec", "account"])
        .env("WEBCTP_USER", "exec-user")
        .env("WEBCTP_PASSWORD", "123456")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use") && err.contains("--url"), "{err}");
}

#[test]
fn config_mistakes_name_the_file_key_and_line() {
    let dir = TempDir::new("cfg");
    let missing = dir.path().join("nope.yaml");
    let out = common::webctp()
        .args(["--config", missing.to_str().unwrap(), "serve"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nope.yaml") && err.lines().count() == 1,
        "{err}"
    );
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "Port: 8080\nBrokerId: \"9999\"\n").unwrap();
    let out = common::webctp()
        .args(["--config", bad.to_str().unwrap(), "serve"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml") && err.contains("BrokerId") && err.contains("line 2"),
        "{err}"
    );
    std::fs::write(&bad, "Port: [1, 2]\n").unwrap();
    let out = common::webctp()
        .args(["--config", bad.to_str().unwrap(), "serve"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Port") && err.contains("line 1"), "{err}");
}

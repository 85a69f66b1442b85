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

    /// Like [`Repl::expect`]; some line read must also hold every one of `parts` (a
    /// table row, a field and its value).
    fn expect_row(&mut self, needle: &str, parts: &[&str]) -> Vec<String> {
        let got = self.expect(needle);
        assert!(
            got.iter().any(|l| parts.iter().all(|p| l.contains(p))),
            "no line holds all of {parts:?} up to `{needle}`: {got:?}"
        );
        got
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
    let banner = r.expect_row("type `help`", &["sim sessions: always"]);
    assert!(
        banner.iter().any(|l| l.contains("Sim.StartDate 20251203")),
        "{banner:?}"
    );
    r.send("login");
    r.expect("logged in as repl-user");
    r.send("sub rb2605 au2602");
    r.expect("subscribed rb2605 au2602");
    r.send("quote rb2605");
    r.expect_row("rb2605", &["Last", "Bid", "Ask"]);
    // A buy at the ask fills; a buy far below rests and is cancelled.
    r.send("buy rb2605 1");
    r.expect_row("AllTraded", &["Buy", "Open"]);
    r.send("buy rb2605 1 @3000");
    let rest = r.expect("NoTradeQueueing");
    let id = first_order_id(&rest);
    assert!(!id.is_empty(), "{rest:?}");
    r.send(&format!("cancel {id}"));
    r.expect(&format!("canceled order {id}"));
    r.send("orders");
    r.expect_row("Canceled", &["OrderSysID"]);
    r.send("positions");
    r.expect_row("Long", &["rb2605", "SHFE"]);
    r.send("account");
    r.expect_row("Withdraw quota", &["Balance", ","]);
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

/// A `webctp serve` on a data dir of its own (`dir/gw`), and the base URL
/// (`ws://host:port`) that `exec --url` and `attach --url` take.
fn gateway(dir: &TempDir) -> (Binary, String) {
    let data = dir.path().join("gw");
    let gw = Binary::spawn(
        &["serve", "--port", "0", "--data-dir", data.to_str().unwrap()],
        &[],
        dir.path(),
    );
    let base = gw.td_url.trim_end_matches("/td/").to_string();
    (gw, base)
}

/// Runs `webctp <args>` as `user` with `input` on its standard input; its output.
fn with_input(args: &[&str], user: &str, input: &str) -> std::process::Output {
    let mut child = common::webctp()
        .args(args)
        .env("WEBCTP_USER", user)
        .env("WEBCTP_PASSWORD", "123456")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Dropping stdin after the write is the end of the input.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
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
    let out = with_input(
        &["--data-dir", dir.path().to_str().unwrap(), "exec", "-"],
        "exec-user",
        "sell m2605 1 close\npositions\n",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    let (_gateway, base) = gateway(&dir);
    let data = dir.path().join("gw");
    let (code, out, err) = exec(&dir, &["--url", &base, "buy", "TA601", "1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("AllTraded"), "{out}");
    let (code, out, _) = exec(&dir, &["--url", &base, "trades", "--json"]);
    assert_eq!(code, 0);
    assert!(out.contains("\"InstrumentID\":\"TA601\""), "{out}");
    // The gateway's data dir is locked: an exec on it uses the gateway the holder
    // advertised.
    let out = common::webctp()
        .args(["--data-dir", data.to_str().unwrap(), "exec", "trades"])
        .env("WEBCTP_USER", "exec-user")
        .env("WEBCTP_PASSWORD", "123456")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!("using the gateway at {base}")),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("TA601"));
    // Without the advertisement (and nobody on the config's address) it says why
    // and how.
    std::fs::remove_file(data.join("gateway.url")).unwrap();
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

/// Issue #16, finding 8: a value outside its list, a tab indent and a port flag beside
/// the file's MdPort/TdPort, through the real binary.
#[test]
fn config_values_are_checked_and_the_port_flag_wins() {
    let dir = TempDir::new("cfgval");
    let bad = dir.path().join("loud.yaml");
    let refused = |text: &str| {
        std::fs::write(&bad, text).unwrap();
        let out = common::webctp()
            .args(["--config", bad.to_str().unwrap(), "serve"])
            .env_remove("WEBCTP_LOG_LEVEL")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{text:?} was accepted");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = refused("Port: 0\nLogLevel: LOUD\n");
    for needle in ["loud.yaml", "LogLevel", "LOUD", "line 2", "info, debug"] {
        assert!(err.contains(needle), "{needle} missing: {err}");
    }
    let err = refused("\tPort: 0\n\tHost: 127.0.0.1\n");
    assert!(err.contains("line 1") && err.contains("tab"), "{err}");
    let err = refused("Sim:\n  Durability: always\n");
    for needle in ["Sim.Durability", "line 2", "fsync", "os"] {
        assert!(err.contains(needle), "{needle} missing: {err}");
    }
    // The flag's value is checked too, and named as the flag.
    let out = common::webctp()
        .args(["--log-level", "LOUD", "serve", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--log-level") && err.contains("LOUD"), "{err}");
    // --port serves both endpoints on its port, whatever MdPort/TdPort say (here two
    // ports the test could not bind to if they were used: one held by the test).
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let held_port = held.local_addr().unwrap().port();
    let two = dir.path().join("two.yaml");
    std::fs::write(
        &two,
        format!("MdPort: {held_port}\nTdPort: {held_port}\nSim: {{TickRate: 0}}\n"),
    )
    .unwrap();
    let data = dir.path().join("data");
    let gw = Binary::spawn(
        &[
            "--config",
            two.to_str().unwrap(),
            "serve",
            "--port",
            "0",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
        dir.path(),
    );
    let port_of = |url: &str| {
        url.rsplit(':')
            .next()
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        port_of(&gw.md_url),
        port_of(&gw.td_url),
        "{} {}",
        gw.md_url,
        gw.td_url
    );
    assert_ne!(port_of(&gw.md_url), held_port.to_string());
    drop(held);
}

/// Issue #16, finding 7: an `exec` waiting for its order holds the data directory;
/// an `exec` run beside it talks to the first one's gateway instead of failing.
#[test]
fn exec_beside_an_exec_waiting_for_its_order_uses_its_gateway() {
    let dir = TempDir::new("beside");
    let waiting = common::webctp()
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "exec",
            "--wait",
            "120",
            "buy",
            "rb2605",
            "1",
            "@3000",
        ])
        .env("WEBCTP_USER", "exec-user")
        .env("WEBCTP_PASSWORD", "123456")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first exec holds the directory (and says where its gateway is)...
    common::wait_until("the first exec to hold the data directory", || {
        dir.path().join("gateway.url").exists()
    });
    // ...and its order rests: it waits (up to 120 s) for the order to be final.
    let (out, err) = common::wait_for("the resting order, seen from a second exec", || {
        let (code, out, err) = exec(&dir, &["orders"]);
        (code == 0 && out.contains("NoTradeQueueing")).then_some((out, err))
    });
    assert!(
        err.contains("using the gateway at ws://127.0.0.1:"),
        "{err}"
    );
    let (code, out2, err2) = exec(&dir, &["positions"]);
    assert_eq!(code, 0, "{out2}{err2}");
    // Cancelling it from beside ends the first exec's wait: it prints the order
    // canceled and exits.
    let sys = first_order_id(&out.lines().map(String::from).collect::<Vec<_>>());
    let (code, out, err) = exec(&dir, &["cancel", &sys]);
    assert_eq!(code, 0, "{out}{err}");
    let done = waiting.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(text.contains("Canceled"), "{text}");
    // The directory is free again, and nothing points at the gateway that is gone.
    assert!(!dir.path().join("gateway.url").exists());
    let (code, out, err) = exec(&dir, &["orders"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("using the gateway"), "{err}");
}

fn exec_with_wait(dir: &TempDir, wait: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["--wait", wait];
    all.extend_from_slice(args);
    exec(dir, &all)
}

/// Issue #10, finding 6: every `exec` process numbers its orders from OrderRef 1, so
/// an OrderRef names an order only in the session that sent it.
#[test]
fn exec_cancel_never_picks_another_sessions_order_ref() {
    let dir = TempDir::new("cancelref");
    // Process A leaves an order resting (OrderRef 1 of its session). `--wait` bounds
    // the order's first answer too, so it is not short: 0.5 s failed on a loaded
    // machine; a resting order holds the exec for the whole wait.
    let (code, out, err) = exec_with_wait(&dir, "5", &["buy", "rb2605", "1", "@3000"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("NoTradeQueueing"), "{out}");
    let sys = first_order_id(&out.lines().map(String::from).collect::<Vec<_>>());
    assert!(!sys.is_empty(), "{out}");
    // Process B's `cancel 1` does not cancel A's order: it says why.
    let (code, out, err) = exec(&dir, &["cancel", "1"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("not an order of this session") && out.contains(&sys),
        "{out}"
    );
    let (_, out, _) = exec(&dir, &["orders"]);
    assert!(out.contains("NoTradeQueueing"), "{out}");
    // By its OrderSysID it is cancelled, from any session.
    let (code, out, err) = exec(&dir, &["cancel", &sys]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("canceled order {sys}")), "{out}");
    // A refused cancel is said once (CTP answers it twice).
    let (code, out, _) = exec(&dir, &["cancel", &sys]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out.matches("cancel refused").count(), 1, "{out}");
    // FAK and FOK orders show their type.
    let (code, out, err) = exec(&dir, &["buy", "m2605", "1", "fak"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(" FAK "), "{out}");
    let (_, out, _) = exec(&dir, &["orders"]);
    assert!(out.contains(" FAK ") && out.contains(" Limit "), "{out}");
}

/// Issue #10, finding 6: an order pushed from another session prints with an ID and
/// a real status word; the order table after a fill shows its latest state.
#[test]
fn pushes_from_another_session_name_the_order() {
    let dir = TempDir::new("otherpush");
    let mut r = Repl::start(&dir, &[]);
    let banner = r.expect("type `help`");
    let url = banner
        .iter()
        .flat_map(|l| l.split_whitespace())
        .find(|w| w.starts_with("ws://") && w.ends_with("/td/"))
        .map(|w| w.trim_end_matches("/td/").to_string())
        .expect("the banner names the gateway");
    r.send("login");
    r.expect("logged in as repl-user");
    let out = common::webctp()
        .args([
            "exec", "--url", &url, "--wait", "3", "buy", "rb2605", "1", "@3000",
        ])
        .env("WEBCTP_USER", "repl-user")
        .env("WEBCTP_PASSWORD", "123456")
        .env(
            "WEBCTP_DATA_DIR",
            dir.path().join("other").to_str().unwrap(),
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let pushed = r.expect("NoTradeQueueing");
    let line = pushed
        .iter()
        .rev()
        .find(|l| l.starts_with("order ") && l.contains("rb2605"))
        .unwrap();
    assert!(!line.starts_with("order  "), "no ID: {line}");
    assert!(
        pushed
            .iter()
            .filter(|l| l.starts_with("order "))
            .all(|l| !l.contains("Unknown")),
        "{pushed:?}"
    );
}

/// Issue #16: one `flatten` closes a 2-lot SHFE position bought yesterday and today
/// with a CloseYesterday and a CloseToday order.
#[test]
fn flatten_closes_yesterday_and_today_on_shfe() {
    let dir = TempDir::new("flatten");
    let mut r = Repl::start(&dir, &["--no-server"]);
    r.expect("type `help`");
    r.send("login");
    r.expect("logged in as repl-user");
    r.send("buy rb2605 1");
    r.expect("AllTraded");
    // The day ends: the lot becomes yesterday's.
    r.send("settle");
    r.expect("trading day settled");
    r.send("confirm");
    r.expect("settlement confirmed");
    r.send("buy rb2605 1");
    r.expect("AllTraded");
    r.send("positions");
    let pos = r.expect(" Long ");
    let row: Vec<String> = pos
        .iter()
        .find(|l| l.starts_with("rb2605") && l.contains(" Long "))
        .unwrap()
        .split_whitespace()
        .map(String::from)
        .collect();
    // Instrument Exchange Side Position Today Yd: today's and yesterday's add up.
    assert_eq!(
        &row[..6],
        ["rb2605", "SHFE", "Long", "2", "1", "1"],
        "{pos:?}"
    );
    r.send("flatten rb2605");
    // Two orders: yesterday's lot first, then today's; both trade.
    let (mut yd, mut td) = (false, false);
    while !(yd && td) {
        for l in r.expect("trade ") {
            if l.starts_with("trade ") && l.contains("Sell CloseYesterday rb2605 1 @") {
                yd = true;
            }
            if l.starts_with("trade ") && l.contains("Sell CloseToday rb2605 1 @") {
                td = true;
            }
        }
    }
    r.send("positions");
    r.expect("no positions");
}

/// Issue #16: `attach` is the whole terminal against a running `serve`; leaving it
/// leaves the gateway running.
#[test]
fn attach_drives_a_running_gateway() {
    let dir = TempDir::new("attach");
    let (_gateway, base) = gateway(&dir);
    let terminal = dir.path().join("t");
    let attach = |lines: &str| {
        let out = with_input(
            &[
                "--data-dir",
                terminal.to_str().unwrap(),
                "attach",
                "--url",
                &base,
            ],
            "attach-user",
            lines,
        );
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, out) = attach("login\nbuy m2605 2 fok\nstatus\nexit\n");
    assert!(ok, "{out}");
    assert!(out.contains("attached to the gateway at"), "{out}");
    assert!(out.contains("AllTraded") && out.contains("FOK"), "{out}");
    assert!(out.contains(&format!("gateway: {base}")), "{out}");
    // The gateway kept running; a new terminal sees the position.
    let (ok, out) = attach("login\npositions\nexit\n");
    assert!(ok, "{out}");
    let row = out
        .lines()
        .find(|l| l.starts_with("m2605"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(row.split_whitespace().nth(3) == Some("2"), "{out}");
    // Nobody there: a sentence, exit 1.
    let out = common::webctp()
        .args(["attach", "--url", "ws://127.0.0.1:9"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("webctp serve"), "{err}");
}

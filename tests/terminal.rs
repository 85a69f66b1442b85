//! The real terminal on a real terminal: `webctp` inside tmux at 80x24 and 160x50.
//! What a trader sees: no line wider than the window, Ctrl-C that never ends the
//! process, colours on a terminal only. Each test prints SKIPPED when tmux is absent
//! (scripts/test.sh installs it).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::TempDir;
use unicode_width::UnicodeWidthStr;

/// The last line of a live view while it runs.
const LIVE_HINT: &str = "live: q or Ctrl-C stops";

/// A tmux server of its own, with one window running `webctp`.
struct Tmux {
    socket: String,
    width: usize,
}

fn have_tmux() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Tmux {
    /// Starts `webctp <args>` in a `width`x`height` window, with the sim on the seed's
    /// day and `env` set.
    fn start(tag: &str, width: usize, height: usize, args: &[&str], env: &[(&str, &str)]) -> Tmux {
        let socket = format!("webctp-test-{tag}-{}", std::process::id());
        let mut line = format!(
            "env -u WEBCTP_CONFIG -u WEBCTP_USER -u WEBCTP_PASSWORD -u NO_COLOR TERM=xterm-256color WEBCTP_SIM_START_DATE={}",
            common::SEED_DAY
        );
        for (k, v) in env {
            line.push_str(&format!(" {k}={}", shell_quote(v)));
        }
        line.push(' ');
        line.push_str(&shell_quote(env!("CARGO_BIN_EXE_webctp")));
        for a in args {
            line.push(' ');
            line.push_str(&shell_quote(a));
        }
        let t = Tmux { socket, width };
        let ok = t
            .tmux(&[
                "new-session",
                "-d",
                "-s",
                "w",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
                &line,
            ])
            .status
            .success();
        assert!(ok, "tmux did not start: {line}");
        t.tmux(&["set-option", "-t", "w", "remain-on-exit", "on"]);
        t.tmux(&["set-option", "-t", "w", "history-limit", "5000"]);
        t
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs")
    }

    /// Types `text` and Enter.
    fn line(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "w", "-l", text]);
        self.tmux(&["send-keys", "-t", "w", "Enter"]);
    }

    fn key(&self, key: &str) {
        self.tmux(&["send-keys", "-t", "w", key]);
    }

    /// Everything on screen and in the scrollback, wrapped lines joined (so a line
    /// the terminal had to wrap shows as wider than the window).
    fn screen(&self, escapes: bool) -> String {
        let mut args = vec!["capture-pane", "-p", "-J", "-t", "w", "-S", "-"];
        if escapes {
            args.push("-e");
        }
        String::from_utf8_lossy(&self.tmux(&args).stdout).into_owned()
    }

    /// Waits until the screen shows `needle` `count` times in all.
    fn wait_for_n(&self, needle: &str, count: usize) -> String {
        let deadline = Instant::now() + common::WAIT;
        loop {
            let s = self.screen(false);
            if s.matches(needle).count() >= count {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "`{needle}` (x{count}) never appeared:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_for(&self, needle: &str) -> String {
        self.wait_for_n(needle, 1)
    }

    fn prompts(&self) -> usize {
        self.screen(false).matches("webctp> ").count()
    }

    /// Runs a command and waits for the next prompt. (The line editor drops what is
    /// typed before its prompt is up, as a shell does; so do people.)
    fn run(&self, cmd: &str) -> String {
        let prompts = self.prompts();
        self.line(cmd);
        self.wait_for_n("webctp> ", prompts + 1)
    }

    /// Runs a live view (`depth`): waits for its hint, then leaves it with `key`
    /// and waits for the next prompt.
    fn live(&self, cmd: &str, key: &str) -> String {
        let prompts = self.prompts();
        let hints = self.screen(false).matches(LIVE_HINT).count();
        self.line(cmd);
        self.wait_for_n(LIVE_HINT, hints + 1);
        self.key(key);
        self.wait_for_n("webctp> ", prompts + 1)
    }

    fn alive(&self) -> bool {
        let out = self.tmux(&["display-message", "-p", "-t", "w", "#{pane_dead}"]);
        String::from_utf8_lossy(&out.stdout).trim() == "0"
    }

    /// Lines wider than the window.
    fn too_wide(&self) -> Vec<String> {
        self.screen(false)
            .lines()
            .filter(|l| UnicodeWidthStr::width(*l) > self.width)
            .map(String::from)
            .collect()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

macro_rules! need_tmux {
    () => {
        if !have_tmux() {
            eprintln!("SKIPPED: tmux is not installed (scripts/test.sh installs it)");
            return;
        }
    };
}

fn session_at(width: usize, height: usize) -> (TempDir, Tmux) {
    let dir = TempDir::new(&format!("tmux{width}"));
    let t = Tmux::start(
        &format!("fit{width}"),
        width,
        height,
        &["--data-dir", dir.path().to_str().unwrap(), "--port", "0"],
        &[("WEBCTP_USER", "tmux-user"), ("WEBCTP_PASSWORD", "123456")],
    );
    t.wait_for("webctp> ");
    (dir, t)
}

fn every_table(t: &Tmux) {
    t.run("login");
    for cmd in [
        "buy rb2605 1",
        "buy au2602 1 @900.40",
        "buy m2605 2 fok",
        "sell TA601 1 fak",
        "buy rb2605 1 @3000",
        "orders open",
        "cancel all rb2605",
        "close m2605 1",
        "orders",
        "trades",
        "positions",
        "account",
        "quote sc2601",
        "depth au2602",
        "instrument rb26",
        "margin rb2605",
        "commission rb2605",
        "status",
        "help",
        "help b",
        "flatten all",
        "drop-front 0.2",
    ] {
        if cmd.starts_with("depth") {
            t.live(cmd, "q");
        } else {
            t.run(cmd);
        }
    }
}

#[test]
fn nothing_is_wider_than_80_columns() {
    need_tmux!();
    let (_dir, t) = session_at(80, 24);
    every_table(&t);
    let screen = t.screen(false);
    let wide = t.too_wide();
    assert!(
        wide.is_empty(),
        "lines wider than 80:\n{}\n\n{screen}",
        wide.join("\n")
    );
    // Prices at the tick's precision, words never split.
    assert!(screen.contains("900.40"), "{screen}");
    assert!(screen.contains("NoTradeQueueing"), "{screen}");
    assert!(screen.contains("FOK"), "{screen}");
}

#[test]
fn wide_terminals_show_every_column() {
    need_tmux!();
    let (_dir, t) = session_at(160, 50);
    every_table(&t);
    let wide = t.too_wide();
    assert!(
        wide.is_empty(),
        "lines wider than 160:\n{}",
        wide.join("\n")
    );
    let screen = t.screen(false);
    // At 160 columns the orders table keeps its OrderRef, time and message.
    assert!(
        screen
            .lines()
            .any(|l| l.contains("OrderSysID") && l.contains("Ref") && l.contains("Time")),
        "{screen}"
    );
}

#[test]
fn ctrl_c_abandons_the_prompt_or_the_command_never_the_process() {
    need_tmux!();
    let dir = TempDir::new("ctrlc");
    // No password configured: `login` asks for one. No ticks: `quote` before a
    // login waits for one.
    let t = Tmux::start(
        "ctrlc",
        80,
        24,
        &[
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--port",
            "0",
            "--tick-rate",
            "0",
        ],
        &[],
    );
    let banner = t.wait_for("type `help`");
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("ws://") && w.ends_with("/td/"))
        .expect("the banner names the gateway")
        .to_string();
    t.wait_for("webctp> ");
    t.line("login ctrlc-user");
    t.wait_for("password for ctrlc-user:");
    t.tmux(&["send-keys", "-t", "w", "-l", "half"]);
    let prompts = t.prompts();
    t.key("C-c");
    t.wait_for("login abandoned");
    t.wait_for_n("webctp> ", prompts + 1);
    assert!(t.alive(), "Ctrl-C at the password prompt ended the process");
    // During a command that waits.
    let prompts = t.prompts();
    t.line("quote rb2605");
    t.wait_for("quote rb2605");
    std::thread::sleep(Duration::from_millis(300));
    t.key("C-c");
    t.wait_for("interrupted");
    t.wait_for_n("webctp> ", prompts + 1);
    assert!(t.alive(), "Ctrl-C during a command ended the process");
    // The gateway inside still serves.
    let health = common::http(&url, "GET", "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    // And the terminal still works: log in for real, then leave with `exit`.
    t.line("login ctrlc-user");
    t.wait_for_n("password for ctrlc-user:", 2);
    t.line("123456");
    t.wait_for("logged in as ctrlc-user");
    t.wait_for_n("webctp> ", prompts + 2);
    // Ctrl-C at the prompt clears the line.
    t.tmux(&["send-keys", "-t", "w", "-l", "buy rb2605"]);
    let prompts = t.prompts();
    t.key("C-c");
    t.wait_for_n("webctp> ", prompts + 1);
    let s = t.run("status");
    assert!(s.contains("logged in as ctrlc-user"), "{s}");
    assert!(t.alive());
    t.line("exit");
    let deadline = Instant::now() + common::WAIT;
    while t.alive() {
        assert!(
            Instant::now() < deadline,
            "exit did not end the terminal:\n{}",
            t.screen(false)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn has_colour(s: &str) -> bool {
    s.contains("\x1b[31m") || s.contains("\x1b[32m")
}

#[test]
fn colours_on_a_terminal_none_with_no_color_or_piped() {
    need_tmux!();
    let dir = TempDir::new("colour");
    let args = ["--data-dir", dir.path().to_str().unwrap(), "--no-server"];
    let env = [("WEBCTP_USER", "c-user"), ("WEBCTP_PASSWORD", "123456")];
    let t = Tmux::start("colour", 80, 50, &args, &env);
    t.wait_for("type `help`");
    t.run("login");
    t.live("depth rb2605", "q");
    let s = t.screen(true);
    assert!(has_colour(&s), "no colour on a terminal:\n{s}");
    drop(t);
    let mut env_nc = env.to_vec();
    env_nc.push(("NO_COLOR", "1"));
    let t = Tmux::start("nocolour", 80, 50, &args, &env_nc);
    t.wait_for("type `help`");
    t.run("login");
    t.live("depth rb2605", "q");
    let s = t.screen(true);
    assert!(!has_colour(&s), "colour despite NO_COLOR:\n{s}");
    drop(t);
    // Piped: no escapes at all.
    let out = common::webctp()
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "exec",
            "depth",
            "rb2605",
        ])
        .env("WEBCTP_USER", "c-user")
        .env("WEBCTP_PASSWORD", "123456")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Ask 1") && !text.contains('\x1b'), "{text}");
}

/// The header line of the live book (instrument, last, change, volume, time).
fn book_header(screen: &str, inst: &str) -> Option<String> {
    screen
        .lines()
        .rev()
        .find(|l| l.starts_with(&format!("{inst}  last ")))
        .map(String::from)
}

#[test]
fn depth_is_live_in_place_until_q_or_ctrl_c() {
    need_tmux!();
    let dir = TempDir::new("depth");
    let t = Tmux::start(
        "depth",
        80,
        24,
        &["--data-dir", dir.path().to_str().unwrap(), "--port", "0"],
        &[
            ("WEBCTP_USER", "depth-user"),
            ("WEBCTP_PASSWORD", "123456"),
            ("NO_COLOR", "1"),
        ],
    );
    let banner = t.wait_for("type `help`");
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("ws://") && w.ends_with("/td/"))
        .expect("the banner names the gateway")
        .trim_end_matches("/td/")
        .to_string();
    t.wait_for("webctp> ");
    t.run("login");
    let prompts = t.prompts();
    t.line("depth rb2605");
    let first = t.wait_for(LIVE_HINT);
    let header = book_header(&first, "rb2605").expect("the book's header");
    // Ticks redraw the book where it is: the header changes, the book is on screen
    // once.
    let moved = common::wait_for("the book to change", || {
        let s = t.screen(false);
        book_header(&s, "rb2605")
            .filter(|h| *h != header)
            .map(|_| s)
    });
    assert_eq!(moved.matches("Ask 5").count(), 1, "{moved}");
    assert_eq!(moved.matches(LIVE_HINT).count(), 1, "{moved}");
    // A push (the same user's order from another process) prints above the book.
    common::succeeds(
        common::webctp()
            .args([
                "--data-dir",
                dir.path().join("other").to_str().unwrap(),
                "exec",
                "--url",
                &url,
                "buy",
                "rb2605",
                "1",
                "@3000",
            ])
            .env("WEBCTP_USER", "depth-user")
            .env("WEBCTP_PASSWORD", "123456"),
    );
    let s = t.wait_for("NoTradeQueueing");
    let push = s.find("NoTradeQueueing").unwrap();
    let book = s.rfind("rb2605  last ").unwrap();
    assert!(push < book, "the push is not above the book:\n{s}");
    assert_eq!(s.matches("Ask 5").count(), 1, "{s}");
    assert!(t.too_wide().is_empty(), "{:?}", t.too_wide());
    // `q` ends the view: the book stays, the hint goes, the prompt comes back, and
    // the keys work again.
    t.key("q");
    let s = t.wait_for_n("webctp> ", prompts + 1);
    assert_eq!(s.matches(LIVE_HINT).count(), 0, "{s}");
    assert_eq!(s.matches("Ask 5").count(), 1, "{s}");
    let s = t.run("status");
    assert!(s.contains("subscribed: nothing"), "{s}");
    // Ctrl-C ends it too, and never the process.
    let prompts = t.prompts();
    t.line("depth au2602");
    t.wait_for(LIVE_HINT);
    t.key("C-c");
    t.wait_for_n("webctp> ", prompts + 1);
    assert!(t.alive(), "Ctrl-C in the live book ended the process");
    let s = t.run("status");
    assert!(s.contains("logged in as depth-user"), "{s}");
    assert!(t.too_wide().is_empty(), "{:?}", t.too_wide());
}

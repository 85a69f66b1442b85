//! The interactive terminal: rustyline on its own thread (line editing, history,
//! completion of commands and instrument IDs), commands run on the async side, and
//! everything printed goes above the prompt through rustyline's external printer so a
//! half-typed line survives a tick or an order event.

use std::borrow::Cow;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, ExternalPrinter, Helper};
use tokio::sync::mpsc;

use super::commands::{COMMANDS, Command, parse};
use super::live::LiveRegion;
use super::session::{Outcome, Printer, Session};

/// Prints through rustyline's external printer (above the prompt), else to stdout;
/// during a live view (`depth`), above the view, which is then drawn again.
pub struct ReplPrinter {
    external: Mutex<Option<Box<dyn ExternalPrinter + Send>>>,
    live: Mutex<LiveRegion>,
}

impl ReplPrinter {
    pub fn stdout() -> ReplPrinter {
        ReplPrinter {
            external: Mutex::new(None),
            live: Mutex::new(LiveRegion::default()),
        }
    }

    fn live(&self) -> std::sync::MutexGuard<'_, LiveRegion> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Writes bytes to stdout at once (cursor movements included).
fn write_now(bytes: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes.as_bytes());
    let _ = out.flush();
}

impl Printer for ReplPrinter {
    fn print(&self, text: &str) {
        let wrapped = super::tty::wrap(text, super::tty::width());
        let text = wrapped.as_str();
        {
            // A live view runs while no line is being edited: write around it.
            let live = self.live();
            if live.is_active() {
                write_now(&live.print_above(text));
                return;
            }
        }
        let mut g = self.external.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = g.as_mut() {
            // Raw mode needs carriage returns; the external printer writes text as is.
            let msg = format!("{}\n", text.replace('\n', "\r\n"));
            if p.print(msg).is_ok() {
                return;
            }
        }
        drop(g);
        super::session::Stdout.print(text);
    }

    fn can_redraw(&self) -> bool {
        // The external printer exists only when stdin and stdout are terminals.
        self.external
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    fn redraw(&self, frame: &str) {
        let mut live = self.live();
        // Written under the lock: a line printed meanwhile cannot land mid-frame.
        write_now(&live.draw(frame, super::tty::width(), super::tty::height()));
    }

    fn end_redraw(&self) {
        self.live().end();
    }
}

/// Completion of command names, order keywords and instrument IDs.
struct ReplHelper {
    instruments: Arc<dyn Fn() -> Vec<String> + Send + Sync>,
}

const ORDER_WORDS: &[&str] = &[
    "market",
    "open",
    "close",
    "closetoday",
    "closeyesterday",
    "fak",
    "fok",
];

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        let word = &before[start..];
        let first = before[..start].trim().is_empty();
        let pair = |s: &str| Pair {
            display: s.to_string(),
            replacement: s.to_string(),
        };
        let candidates: Vec<Pair> = if first {
            COMMANDS
                .iter()
                .map(|c| c.0)
                .filter(|c| c.starts_with(word))
                .map(pair)
                .collect()
        } else {
            let typed = before
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            let cmd = super::commands::canonical(&typed);
            let args = before[..start].split_whitespace().count();
            let mut v: Vec<Pair> = Vec::new();
            if matches!(cmd, "help") {
                v.extend(
                    COMMANDS
                        .iter()
                        .map(|c| c.0)
                        .filter(|c| c.starts_with(word))
                        .map(pair),
                );
            } else if matches!(cmd, "set") {
                v.extend(
                    ["output", "json", "table"]
                        .iter()
                        .filter(|c| c.starts_with(word))
                        .map(|c| pair(c)),
                );
            } else if cmd == "orders" {
                v.extend(
                    ["open"]
                        .iter()
                        .filter(|c| c.starts_with(word))
                        .map(|c| pair(c)),
                );
            } else if cmd == "close" && args >= 2 {
                v.extend(
                    ["long", "short", "market"]
                        .iter()
                        .filter(|c| c.starts_with(word))
                        .map(|c| pair(c)),
                );
            } else if matches!(cmd, "cancel" | "flatten") && args == 1 {
                v.extend(
                    ["all"]
                        .iter()
                        .filter(|c| c.starts_with(word))
                        .map(|c| pair(c)),
                );
                if cmd == "flatten" {
                    v.extend(
                        (self.instruments)()
                            .iter()
                            .filter(|i| i.starts_with(word))
                            .map(|i| pair(i)),
                    );
                }
            } else if matches!(cmd, "buy" | "sell") && args >= 3 {
                v.extend(
                    ORDER_WORDS
                        .iter()
                        .filter(|c| c.starts_with(word))
                        .map(|c| pair(c)),
                );
            } else {
                v.extend(
                    (self.instruments)()
                        .iter()
                        .filter(|i| i.starts_with(word))
                        .map(|i| pair(i)),
                );
            }
            v
        };
        Ok((start, candidates))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Highlighter for ReplHelper {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        Cow::Borrowed(prompt)
    }
}

impl Validator for ReplHelper {}
impl Helper for ReplHelper {}

/// Where the REPL keeps its history.
pub fn history_path(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("repl_history")
}

/// Reads lines on a thread and hands them over one at a time: the next prompt appears
/// once the previous command is done.
fn reader_thread(
    history: PathBuf,
    printer: Arc<ReplPrinter>,
    instruments: Arc<dyn Fn() -> Vec<String> + Send + Sync>,
) -> (mpsc::Receiver<Option<String>>, std::sync::mpsc::Sender<()>) {
    let (line_tx, line_rx) = mpsc::channel::<Option<String>>(1);
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    std::thread::spawn(move || {
        if !interactive {
            // Piped input: plain lines, no prompt, no line editing.
            use std::io::BufRead;
            let stdin = std::io::stdin();
            let mut lines = stdin.lock().lines();
            loop {
                let line = match lines.next() {
                    Some(Ok(l)) => Some(l),
                    Some(Err(e)) => {
                        printer.print(&format!("cannot read input: {e}"));
                        None
                    }
                    None => None,
                };
                let end = line.is_none();
                if line_tx.blocking_send(line).is_err() || end || done_rx.recv().is_err() {
                    return;
                }
            }
        }
        let mut rl: Editor<ReplHelper, DefaultHistory> = match Editor::new() {
            Ok(rl) => rl,
            Err(e) => {
                printer.print(&format!("cannot start the line editor: {e}"));
                let _ = line_tx.blocking_send(None);
                return;
            }
        };
        rl.set_helper(Some(ReplHelper { instruments }));
        let _ = rl.load_history(&history);
        if let Ok(p) = rl.create_external_printer() {
            *printer.external.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(p));
        }
        loop {
            match rl.readline("webctp> ") {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        let _ = rl.add_history_entry(line.as_str());
                        let _ = rl.append_history(&history);
                    }
                    if line_tx.blocking_send(Some(line)).is_err() || done_rx.recv().is_err() {
                        return;
                    }
                }
                // Ctrl-C clears the line, as in a shell.
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => {
                    let _ = line_tx.blocking_send(None);
                    return;
                }
                Err(e) => {
                    printer.print(&format!("cannot read input: {e}"));
                    let _ = line_tx.blocking_send(None);
                    return;
                }
            }
        }
    });
    (line_rx, done_tx)
}

/// Ctrl-C (SIGINT) while a command runs. Once installed, the signal no longer ends the
/// process; at the prompt the line editor reads Ctrl-C as a key (it clears the line).
pub struct Interrupts(Arc<tokio::sync::Notify>);

impl Interrupts {
    /// Catches SIGINT from now on.
    pub fn install() -> Interrupts {
        let notify = Arc::new(tokio::sync::Notify::new());
        let n = notify.clone();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::interrupt()) {
                Ok(mut s) => {
                    tokio::spawn(async move {
                        while s.recv().await.is_some() {
                            n.notify_waiters();
                        }
                    });
                }
                Err(e) => tracing::warn!("cannot catch Ctrl-C ({e}); it will end the process"),
            }
        }
        #[cfg(not(unix))]
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                n.notify_waiters();
            }
        });
        Interrupts(notify)
    }
}

/// Runs the REPL until `exit` or end of input.
pub async fn run(
    session: Arc<Session>,
    printer: Arc<ReplPrinter>,
    history: PathBuf,
    interrupts: Interrupts,
) {
    let s = session.clone();
    let instruments: Arc<dyn Fn() -> Vec<String> + Send + Sync> =
        Arc::new(move || s.instrument_ids());
    let (mut lines, done) = reader_thread(history, printer.clone(), instruments);
    while let Some(Some(line)) = lines.recv().await {
        let cmd = match parse(&line) {
            Ok(Some(c)) => c,
            Ok(None) => {
                let _ = done.send(());
                continue;
            }
            Err(e) => {
                printer.print(&e.0);
                let _ = done.send(());
                continue;
            }
        };
        let login = matches!(cmd, Command::Login { .. });
        let outcome = tokio::select! {
            o = session.run(cmd) => o,
            _ = interrupts.0.notified() => {
                printer.print("interrupted (answers still on their way print as they arrive)");
                Outcome::Failed
            }
        };
        if outcome == Outcome::Exit {
            break;
        }
        if login && outcome == Outcome::Ok {
            // Instrument IDs for completion and tick sizes for prices, in the background.
            let s = session.clone();
            tokio::spawn(async move { s.load_instruments().await });
        }
        let _ = done.send(());
    }
}

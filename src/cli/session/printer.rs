//! Where the terminal's text goes, and how a push no command waits for is printed.

use super::Session;
use crate::cli::link::Inbound;
use crate::cli::render;
use crate::protocol::Endpoint;
use crate::protocol::client::MsgKind;
use crate::protocol::fields::DepthMarketData;

/// Where the terminal's text goes (stdout, or above the REPL prompt).
pub trait Printer: Send + Sync {
    /// Prints lines (above the live view, when one is on screen).
    fn print(&self, text: &str);

    /// Whether this printer can redraw a block in place: a terminal someone watches,
    /// with keys to end the view.
    fn can_redraw(&self) -> bool {
        false
    }

    /// Draws `frame` in place of the previous frame, below everything printed.
    fn redraw(&self, frame: &str) {
        self.print(frame);
    }

    /// Ends the live view; its last frame stays on screen.
    fn end_redraw(&self) {}
}

/// Prints to stdout.
pub struct Stdout;

impl Printer for Stdout {
    fn print(&self, text: &str) {
        use std::io::Write;
        let wrapped = crate::cli::tty::wrap(text, crate::cli::tty::width());
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{wrapped}");
        let _ = out.flush();
    }
}

impl Session {
    pub(super) fn on_push(&self, ep: Endpoint, v: &Inbound) {
        if self.already_reported(v) {
            return;
        }
        let json = self.json_mode();
        match v.kind {
            MsgKind::RtnDepthMarketData => {
                let Some(d) = v.body::<DepthMarketData>() else {
                    return;
                };
                let (show, inst) = {
                    let st = self.lock();
                    (
                        st.watch_all || st.watching.contains(&d.InstrumentID),
                        st.instruments.clone(),
                    )
                };
                if show {
                    self.say(if json {
                        v.json()
                    } else {
                        render::tick_line(d, &inst, self.style())
                    });
                }
            }
            MsgKind::Pong | MsgKind::Ping => {}
            MsgKind::OnFrontDisconnected | MsgKind::OnFrontConnected if !json => {
                let line = if v.kind == MsgKind::OnFrontConnected {
                    format!("{} is up again", self.front_name(ep))
                } else {
                    format!(
                        "{} is down ({}); the gateway keeps retrying",
                        self.front_name(ep),
                        match v.error_msg() {
                            "" => "disconnected",
                            m => m,
                        }
                    )
                };
                self.say(match v.detail.as_deref().filter(|d| !d.is_empty()) {
                    Some(d) => format!("{line}: {d}"),
                    None => line,
                });
            }
            _ => {
                let inst = self.lock().instruments.clone();
                let line = if json {
                    Some(v.json())
                } else {
                    render::push_line(v, &inst).or_else(|| {
                        render::error_sentence(v)
                            .map(|e| format!("{e} [{} on /{}/]", v.msg_type, super::path_of(ep)))
                    })
                };
                if let Some(l) = line {
                    self.say(l);
                }
            }
        }
    }
}

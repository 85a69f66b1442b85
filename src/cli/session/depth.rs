//! `depth <inst>` in the terminal: five levels of the book, redrawn in place as
//! ticks arrive, until `q` or Ctrl-C. Where nothing can be redrawn (`exec`, piped
//! input, JSON output) it prints one snapshot.

use std::time::Duration;

use super::market::tick_of;
use super::{Outcome, Session};
use crate::cli::error::Result;
use crate::cli::link::Inbound;
use crate::cli::live::{Keys, ends_view};
use crate::cli::render;
use crate::protocol::fields::DepthMarketData;

/// The fastest the view is redrawn: a busy book changes faster than anyone reads.
const FRAME: Duration = Duration::from_millis(100);

/// Ends the live view whatever way the command ends (a dropped future included).
struct ViewGuard<'a>(&'a Session);

impl Drop for ViewGuard<'_> {
    fn drop(&mut self) {
        self.0.printer.end_redraw();
    }
}

impl Session {
    /// `depth <inst>`.
    pub(super) async fn depth(&self, id: &str) -> Result<Outcome> {
        if self.json_mode() || !self.printer.can_redraw() {
            return self.quote(id, true).await;
        }
        let tick = match self.latest_tick(id).await? {
            Ok(t) => t,
            Err(o) => return Ok(o),
        };
        let Some(mut keys) = Keys::start() else {
            return self.quote(id, true).await;
        };
        let was = self.lock().subscribed.contains(id);
        let mut rx = self.watch(tick_of(id));
        let guard = ViewGuard(self);
        let frame = |t: &Inbound, hint: bool| {
            let inst = self.lock().instruments.clone();
            let book = t
                .body::<DepthMarketData>()
                .map(|d| render::depth(d, &inst, self.style()))
                .unwrap_or_default();
            if hint {
                format!("{book}\nlive: q or Ctrl-C stops")
            } else {
                book
            }
        };
        self.printer.redraw(&frame(&tick, true));
        let mut shown = tick;
        let result = async {
            if !was && self.subscribe(&[id.to_string()], false).await? != Outcome::Ok {
                return Ok(Outcome::Refused);
            }
            let mut latest = None;
            let mut pace = tokio::time::interval(FRAME);
            pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    k = keys.next() => match k {
                        Some(k) if !ends_view(&k) => {}
                        _ => return Ok(Outcome::Ok),
                    },
                    t = rx.recv() => match t {
                        Some(t) => latest = Some(t),
                        None => return Err(self.closed_reason()),
                    },
                    _ = pace.tick(), if latest.is_some() => {
                        if let Some(t) = latest.take() {
                            self.printer.redraw(&frame(&t, true));
                            shown = t;
                        }
                    }
                }
            }
        }
        .await;
        // The book as last drawn stays on screen, without the hint; then the keys go
        // back to the line editor.
        self.printer.redraw(&frame(&shown, false));
        drop(guard);
        drop(keys);
        self.unwatch(rx);
        if !was {
            self.drop_subscription(id).await;
        }
        result
    }
}

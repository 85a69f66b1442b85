//! What the log says about a front: when it connects, when it drops (and why), and —
//! while it stays down — that webctp is still retrying, at growing intervals so that a
//! front down all night does not flood the log.
//!
//! A [`FrontWatch`] is a pure state machine: events and the time in, the log line out.
//! The official CTP library reports nothing at all while it cannot reach a front (no
//! `OnFrontDisconnected` for a refused connection), so "still down" lines come from
//! [`FrontWatch::due`], which the owner polls.

use std::time::Duration;

use tokio::time::Instant;

/// The first "still down" line comes this long after the front went down (or after
/// webctp started connecting); each next one after twice the previous interval.
const FIRST_REPORT: Duration = Duration::from_secs(5);
/// The longest gap between two "still down" lines.
const MAX_REPORT_GAP: Duration = Duration::from_secs(600);

/// One front's connection, as the log tells it.
#[derive(Debug)]
pub struct FrontWatch {
    /// e.g. "market-data front tcp://180.168.146.187:10211".
    name: String,
    up: bool,
    /// Since when the front is down (or webctp has been connecting).
    down_since: Instant,
    /// Why it went down (`OnFrontDisconnected`'s reason), if it was ever up.
    reason: Option<i32>,
    next_report: Instant,
    gap: Duration,
}

/// A line for the log and how loud it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// The front connected (info).
    Up(String),
    /// The front dropped or is still down (warn).
    Down(String),
}

impl FrontWatch {
    /// Starts watching `name` ("market-data front tcp://…"), connecting from `now`.
    pub fn connecting(name: String, now: Instant) -> FrontWatch {
        FrontWatch {
            name,
            up: false,
            down_since: now,
            reason: None,
            next_report: now + FIRST_REPORT,
            gap: FIRST_REPORT,
        }
    }

    /// The front's name, e.g. "trading front tcp://127.0.0.1:1".
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The reason of the last drop, if the front was ever up.
    pub fn reason(&self) -> Option<i32> {
        self.reason
    }

    /// Whether the front is connected.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// How long the front has been down (zero while it is up).
    pub fn down_for(&self, now: Instant) -> Duration {
        if self.up {
            Duration::ZERO
        } else {
            now.saturating_duration_since(self.down_since)
        }
    }

    /// Why the front is down, in words.
    pub fn why(&self, now: Instant) -> String {
        let secs = self.down_for(now).as_secs_f64();
        match self.reason {
            Some(r) => format!(
                "it dropped ({}, reason {r:#x}) {secs:.0} s ago and has not reconnected",
                crate::protocol::message::front_reason(r)
            ),
            None => format!("not connected after {secs:.0} s: unreachable or not answering"),
        }
    }

    /// `OnFrontConnected`.
    pub fn connected(&mut self, now: Instant) -> Note {
        let was_down = self.down_for(now);
        self.up = true;
        Note::Up(match self.reason {
            Some(_) => format!(
                "{} connected again after {:.1} s down",
                self.name,
                was_down.as_secs_f64()
            ),
            None => format!("{} connected", self.name),
        })
    }

    /// `OnFrontDisconnected(reason)`; the library reconnects by itself. A drop
    /// reported again while the front is down is not noted again ([`FrontWatch::due`]
    /// keeps its pace).
    pub fn disconnected(&mut self, reason: i32, now: Instant) -> Option<Note> {
        let was_up = self.up;
        self.up = false;
        self.reason = Some(reason);
        if !was_up {
            return None;
        }
        self.down_since = now;
        self.gap = FIRST_REPORT;
        self.next_report = now + FIRST_REPORT;
        Some(Note::Down(format!(
            "{} disconnected: {} (reason {reason:#x}); retrying",
            self.name,
            crate::protocol::message::front_reason(reason)
        )))
    }

    /// A "still down, retrying" line when one is due at `now`.
    pub fn due(&mut self, now: Instant) -> Option<Note> {
        if self.up || now < self.next_report {
            return None;
        }
        self.gap = (self.gap * 2).min(MAX_REPORT_GAP);
        self.next_report = now + self.gap;
        Some(Note::Down(format!(
            "{} is down: {}; the CTP library keeps retrying (next note in {} s)",
            self.name,
            self.why(now),
            self.gap.as_secs()
        )))
    }

    /// When [`FrontWatch::due`] may next have something to say.
    pub fn next_due(&self) -> Option<Instant> {
        (!self.up).then_some(self.next_report)
    }
}

/// Writes `note` to the log.
pub fn log(note: Note) {
    match note {
        Note::Up(line) => tracing::info!("{line}"),
        Note::Down(line) => tracing::warn!("{line}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, secs: u64) -> Instant {
        start + Duration::from_secs(secs)
    }

    #[test]
    fn an_unreachable_front_is_noted_at_growing_intervals() {
        let t0 = Instant::now();
        let mut w = FrontWatch::connecting("trading front tcp://127.0.0.1:1".into(), t0);
        assert_eq!(w.due(at(t0, 4)), None);
        let mut noted = Vec::new();
        for s in 0..=3600 {
            if let Some(Note::Down(line)) = w.due(at(t0, s)) {
                assert!(line.contains("tcp://127.0.0.1:1"), "{line}");
                assert!(line.contains("retrying"), "{line}");
                noted.push(s);
            }
        }
        // 5 s, then gaps of 10, 20, 40 ... up to 600 s.
        assert_eq!(
            noted,
            [5, 15, 35, 75, 155, 315, 635, 1235, 1835, 2435, 3035, 3635]
                .into_iter()
                .filter(|s| *s <= 3600)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn connect_drop_and_reconnect_are_noted_with_reason_and_duration() {
        let t0 = Instant::now();
        let mut w = FrontWatch::connecting("market-data front tcp://10.0.0.1:41213".into(), t0);
        assert_eq!(
            w.connected(at(t0, 1)),
            Note::Up("market-data front tcp://10.0.0.1:41213 connected".into())
        );
        assert_eq!(w.due(at(t0, 100)), None, "nothing while up");
        let Some(Note::Down(line)) = w.disconnected(0x1001, at(t0, 100)) else {
            panic!("a drop is a warning");
        };
        assert!(
            line.contains("network read failed") && line.contains("0x1001"),
            "{line}"
        );
        assert!(w.why(at(t0, 103)).contains("dropped (network read failed"));
        // The library reports the same drop again while retrying: the notes keep their pace.
        assert_eq!(w.disconnected(0x1001, at(t0, 104)), None);
        assert!(w.due(at(t0, 105)).is_some());
        assert_eq!(w.due(at(t0, 106)), None);
        let Note::Up(line) = w.connected(at(t0, 130)) else {
            panic!("a connect is info");
        };
        assert!(line.contains("again after 30.0 s down"), "{line}");
        assert_eq!(w.next_due(), None);
    }
}

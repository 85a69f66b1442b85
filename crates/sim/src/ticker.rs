//! The market thread: moves prices at the configured rate, fills resting orders the new
//! book crosses, sends ticks to subscribed sessions and rolls the trading day.
//!
//! Only *active* instruments cost anything: those some session subscribed to and those
//! with resting orders. With thousands of listed contracts, an idle one is a quote in
//! memory and nothing more; the thread keeps the active ones in a timer heap and wakes
//! for the next one due.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::thread;
use std::time::{Duration, Instant};

use super::clock;
use super::{SimCore, td};

/// When each active instrument steps next.
#[derive(Default)]
struct Schedule {
    heap: BinaryHeap<Reverse<(Instant, usize)>>,
    /// The authoritative next step of each active instrument; heap entries that
    /// disagree are stale and skipped.
    next: HashMap<usize, Instant>,
}

impl Schedule {
    /// Makes `active` the set of instruments to step; new ones start within one
    /// interval, spread so that ticks do not come in bursts.
    fn set_active(&mut self, active: &[usize], now: Instant, interval: Duration) {
        self.next.retain(|i, _| active.binary_search(i).is_ok());
        for &i in active {
            if let std::collections::hash_map::Entry::Vacant(slot) = self.next.entry(i) {
                let spread = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) % 1000;
                let at = now + interval.mul_f64(spread as f64 / 1000.0);
                slot.insert(at);
                self.heap.push(Reverse((at, i)));
            }
        }
        // Stale entries pile up as instruments come and go; rebuild when they dominate.
        if self.heap.len() > 4 * self.next.len() + 64 {
            self.heap = self.next.iter().map(|(i, t)| Reverse((*t, *i))).collect();
        }
    }

    /// The next due instrument and its step time, if one is due at `now`.
    fn pop_due(&mut self, now: Instant) -> Option<(usize, Instant)> {
        while let Some(Reverse((at, i))) = self.heap.peek().copied() {
            if self.next.get(&i) != Some(&at) {
                self.heap.pop();
                continue;
            }
            if at > now {
                return None;
            }
            self.heap.pop();
            return Some((i, at));
        }
        None
    }

    fn reschedule(&mut self, i: usize, at: Instant) {
        self.next.insert(i, at);
        self.heap.push(Reverse((at, i)));
    }

    fn next_wake(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, i))) = self.heap.peek().copied() {
            if self.next.get(&i) == Some(&at) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }
}

/// Runs until the sim shuts down.
pub(super) fn market_thread(core: Weak<SimCore>) {
    let mut schedule = Schedule::default();
    let mut last_housekeeping = Instant::now();
    let mut seen_generation = u64::MAX;
    loop {
        let Some(core) = core.upgrade() else { return };
        if core.shutdown.load(Ordering::Relaxed) {
            return;
        }
        let mut refresh = false;
        if last_housekeeping.elapsed() >= Duration::from_secs(1) {
            last_housekeeping = Instant::now();
            if core.config.auto_settle {
                let mut ex = core.exchange.lock().unwrap_or_else(|e| e.into_inner());
                core.roll_if_due(&mut ex);
            }
            core.save_market();
            // Resting orders come and go with requests; look for them once a second
            // (an insert already matched what the book allowed then).
            refresh = true;
        }
        let rate = core.config.tick_rate;
        if rate <= 0.0 {
            drop(core);
            thread::sleep(Duration::from_millis(100));
            continue;
        }
        let interval = Duration::from_secs_f64(1.0 / rate);
        let generation = core.watch_generation();
        if refresh || generation != seen_generation {
            seen_generation = generation;
            let active = core.active_instruments();
            schedule.set_active(&active, Instant::now(), interval);
        }
        step_due(&core, &mut schedule, interval);
        let now = Instant::now();
        let wake = schedule
            .next_wake()
            .unwrap_or(now + Duration::from_millis(100));
        drop(core);
        let now = Instant::now();
        if wake > now {
            thread::sleep((wake - now).min(Duration::from_millis(100)));
        }
    }
}

/// Steps every due instrument, matches resting orders, delivers the ticks.
fn step_due(core: &Arc<SimCore>, schedule: &mut Schedule, interval: Duration) {
    let now = Instant::now();
    let sessions = core.md_sessions();
    let up = core.front_up();
    let mut ticks = Vec::new();
    {
        let mut ex = core.exchange.lock().unwrap_or_else(|e| e.into_inner());
        let stamp_now = core.clock.now();
        while let Some((i, mut next)) = schedule.pop_due(now) {
            if i >= ex.quotes.len() {
                continue;
            }
            // Outside its sessions (Sessions: exchange) an instrument stands still.
            let open = ex.is_open(i, &stamp_now);
            // Catch up at most a few steps; a stalled thread should not burst.
            let mut steps = 0;
            while next <= now && steps < 64 {
                next += interval;
                steps += 1;
                if !open {
                    continue;
                }
                ex.step_instrument(i);
                for idx in ex.crossing_orders(i) {
                    // Applied at once: the next step must see what this one filled.
                    let fills = ex.decide_match(idx, &stamp_now);
                    if !fills.is_empty() {
                        td::commit_and_flush(core, &mut ex, fills);
                    }
                }
                if up && sessions.iter().any(|s| s.wants(i)) {
                    let mut d = ex.quotes[i].snapshot(&ex.trading_day, &stamp_now);
                    if core.config.stamp_ticks {
                        // Generation time and the instrument's tick number, so a
                        // benchmark can measure latency and see gaps.
                        d.reserve2 = format!("{}:{}", clock::unix_nanos(), ex.quotes[i].sequence);
                    }
                    ticks.push((i, d));
                }
            }
            if next + interval < now {
                next = now;
            }
            schedule.reschedule(i, next);
        }
    }
    core.ledger.drain();
    for (i, d) in ticks {
        for s in &sessions {
            if s.wants(i) {
                s.events.tick(d.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_only_holds_active_instruments() {
        let mut s = Schedule::default();
        let t0 = Instant::now();
        let iv = Duration::from_millis(100);
        s.set_active(&[3, 7], t0, iv);
        let mut due = Vec::new();
        while let Some((i, _)) = s.pop_due(t0 + iv) {
            due.push(i);
            s.reschedule(i, t0 + iv * 2);
        }
        due.sort();
        assert_eq!(due, [3, 7]);
        // 7 leaves: its entry is stale and never comes back.
        s.set_active(&[3], t0, iv);
        let mut due = Vec::new();
        while let Some((i, _)) = s.pop_due(t0 + iv * 3) {
            due.push(i);
            s.reschedule(i, t0 + iv * 4);
        }
        assert_eq!(due, [3]);
        assert_eq!(s.next_wake(), Some(t0 + iv * 4));
    }
}

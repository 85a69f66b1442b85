//! The webctp heartbeat of one connection: a Ping every `interval`, and the client is
//! dropped when no Pong came for longer than `timeout`. A pure type — the reader feeds
//! it Pongs and ticks with the time and does what it answers.

use std::time::Duration;

use tokio::time::Instant;

/// What to do at a heartbeat tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    /// Send a Ping.
    Ping,
    /// No Pong for longer than the timeout: drop the client.
    Dead,
}

/// One connection's heartbeat.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    interval: Duration,
    timeout: Duration,
    last_pong: Instant,
}

impl Heartbeat {
    /// A heartbeat that starts counting at `now` (the connection's start counts as a Pong).
    pub fn new(interval: Duration, timeout: Duration, now: Instant) -> Heartbeat {
        Heartbeat {
            interval,
            timeout,
            last_pong: now,
        }
    }

    /// How often to tick.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The timeout, for the close reason.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The client answered a Ping.
    pub fn pong(&mut self, now: Instant) {
        self.last_pong = now;
    }

    /// A tick at `now`.
    pub fn tick(&self, now: Instant) -> Beat {
        if now.saturating_duration_since(self.last_pong) > self.timeout {
            Beat::Dead
        } else {
            Beat::Ping
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_answering_is_dropped_after_the_timeout() {
        let interval = Duration::from_secs(10);
        let timeout = Duration::from_secs(30);
        let mut hb = Heartbeat::new(interval, timeout, Instant::now());
        let mut ticks = tokio::time::interval_at(Instant::now() + interval, interval);
        // Answers the first two Pings, then goes silent.
        let mut beats = Vec::new();
        for n in 1..=6 {
            ticks.tick().await;
            let beat = hb.tick(Instant::now());
            beats.push(beat);
            if beat == Beat::Dead {
                break;
            }
            if n <= 2 {
                hb.pong(Instant::now());
            }
        }
        // Last Pong at 20 s: Pings at 30 and 40 s; at 50 s it is 30 s old (not over);
        // at 60 s it is 40 s old: dropped.
        assert_eq!(
            beats,
            [
                Beat::Ping,
                Beat::Ping,
                Beat::Ping,
                Beat::Ping,
                Beat::Ping,
                Beat::Dead
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_answers_is_never_dropped() {
        let mut hb = Heartbeat::new(
            Duration::from_secs(1),
            Duration::from_secs(3),
            Instant::now(),
        );
        for _ in 0..1000 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            assert_eq!(hb.tick(Instant::now()), Beat::Ping);
            hb.pong(Instant::now());
        }
    }

    #[test]
    fn the_timeout_is_measured_from_the_last_pong() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(Duration::from_secs(5), Duration::from_secs(15), t0);
        assert_eq!(hb.tick(t0 + Duration::from_secs(15)), Beat::Ping);
        assert_eq!(hb.tick(t0 + Duration::from_millis(15_001)), Beat::Dead);
        hb.pong(t0 + Duration::from_secs(14));
        assert_eq!(hb.tick(t0 + Duration::from_secs(29)), Beat::Ping);
        assert_eq!(hb.tick(t0 + Duration::from_secs(30)), Beat::Dead);
    }
}

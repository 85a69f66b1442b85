//! The queue between the gateway and one client.
//!
//! Producers (the market-data fan-out on the backend's thread, the trading session)
//! push already-serialized messages; one consumer (the client's writer task, or the
//! REPL) drains them in batches. It is bounded so that a slow client never holds up
//! anyone else:
//!
//! - market data is queued in order while the queue is shorter than `md_depth`; past
//!   that, a new tick replaces the still-unsent tick of the same instrument
//!   (conflation), so a slow client gets the latest prices, not a backlog;
//! - trading messages are never dropped: a client with more than `td_depth` of them
//!   unsent is disconnected with a reason, rather than silently losing an order event.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use tokio::sync::Notify;

/// Why an outbox was closed; the transport turns it into a WebSocket close frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReason {
    /// WebSocket close code (1000 normal, 1001 going away, 1008 policy, 1013 try later).
    pub code: u16,
    pub reason: String,
}

struct Entry {
    /// Instrument key for market data (conflatable), `None` for trading messages.
    md_key: Option<u32>,
    data: Bytes,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Entry>,
    /// Sequence number of `queue[0]`.
    head_seq: u64,
    /// For each instrument, the sequence number of its newest queued tick.
    md_latest: HashMap<u32, u64>,
    td_queued: usize,
    closed: Option<CloseReason>,
}

/// Counters of one outbox.
#[derive(Debug, Default)]
pub struct OutboxStats {
    /// Ticks replaced by a newer one before they were sent.
    pub conflated: AtomicU64,
    /// Messages handed to the consumer.
    pub delivered: AtomicU64,
}

/// A bounded, conflating queue of outgoing messages for one client.
pub struct Outbox {
    inner: Mutex<Inner>,
    ready: Notify,
    md_depth: usize,
    td_depth: usize,
    pub stats: OutboxStats,
}

impl Outbox {
    /// An outbox that conflates market data past `md_depth` queued messages and closes
    /// past `td_depth` unsent trading messages.
    pub fn new(md_depth: usize, td_depth: usize) -> Outbox {
        Outbox {
            inner: Mutex::new(Inner::default()),
            ready: Notify::new(),
            md_depth: md_depth.max(1),
            td_depth: td_depth.max(1),
            stats: OutboxStats::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the queue half-updated in a way
        // that matters; keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a tick of instrument `key`.
    pub fn push_md(&self, key: u32, data: Bytes) {
        let mut g = self.lock();
        if g.closed.is_some() {
            return;
        }
        if g.queue.len() >= self.md_depth
            && let Some(&seq) = g.md_latest.get(&key)
            && seq >= g.head_seq
        {
            let idx = (seq - g.head_seq) as usize;
            if let Some(e) = g.queue.get_mut(idx) {
                e.data = data;
                self.stats.conflated.fetch_add(1, Ordering::Relaxed);
                crate::metrics::global().conflated.inc();
                return;
            }
        }
        let seq = g.head_seq + g.queue.len() as u64;
        let was_empty = g.queue.is_empty();
        g.queue.push_back(Entry {
            md_key: Some(key),
            data,
        });
        g.md_latest.insert(key, seq);
        drop(g);
        if was_empty {
            self.ready.notify_one();
        }
    }

    /// Queues a trading (or control) message; never dropped. Returns false if the
    /// outbox is closed, or has just been closed because the client is too slow.
    pub fn push(&self, data: impl Into<Bytes>) -> bool {
        let mut g = self.lock();
        if g.closed.is_some() {
            return false;
        }
        if g.td_queued >= self.td_depth {
            g.closed = Some(CloseReason {
                code: 1008,
                reason: format!(
                    "client too slow: {} trading messages unread; reconnect and query to resync",
                    g.td_queued
                ),
            });
            drop(g);
            crate::metrics::global().dropped(crate::metrics::reason::SLOW_TD);
            self.ready.notify_one();
            return false;
        }
        let was_empty = g.queue.is_empty();
        g.queue.push_back(Entry {
            md_key: None,
            data: data.into(),
        });
        g.td_queued += 1;
        drop(g);
        if was_empty {
            self.ready.notify_one();
        }
        true
    }

    /// Closes the outbox: queued messages are still delivered, then the consumer gets
    /// the reason.
    pub fn close(&self, code: u16, reason: impl Into<String>) {
        let mut g = self.lock();
        if g.closed.is_none() {
            g.closed = Some(CloseReason {
                code,
                reason: reason.into(),
            });
        }
        drop(g);
        self.ready.notify_one();
    }

    /// Whether the outbox was closed.
    pub fn is_closed(&self) -> bool {
        self.lock().closed.is_some()
    }

    /// Messages queued and not yet taken.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Moves up to `max` queued messages into `out`. `Err` once closed and drained.
    fn drain(&self, out: &mut Vec<Bytes>, max: usize) -> Result<(), CloseReason> {
        let mut g = self.lock();
        let n = g.queue.len().min(max);
        for _ in 0..n {
            if let Some(e) = g.queue.pop_front() {
                if e.md_key.is_none() {
                    g.td_queued -= 1;
                }
                out.push(e.data);
            }
        }
        g.head_seq += n as u64;
        if g.queue.is_empty() {
            g.md_latest.clear();
        }
        if n == 0
            && let Some(r) = &g.closed
        {
            return Err(r.clone());
        }
        self.stats.delivered.fetch_add(n as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Waits for messages and moves up to `max` of them into `out` (which is cleared).
    /// Returns the close reason once the outbox is closed and empty.
    pub async fn next_batch(&self, out: &mut Vec<Bytes>, max: usize) -> Result<(), CloseReason> {
        out.clear();
        loop {
            self.drain(out, max)?;
            if !out.is_empty() {
                return Ok(());
            }
            self.ready.notified().await;
        }
    }

    /// Waits for one message; `None` once closed and empty.
    pub async fn recv(&self) -> Option<Bytes> {
        let mut out = Vec::with_capacity(1);
        self.next_batch(&mut out, 1).await.ok()?;
        out.pop()
    }

    /// Takes one message if one is queued.
    pub fn try_recv(&self) -> Option<Bytes> {
        let mut out = Vec::with_capacity(1);
        self.drain(&mut out, 1).ok()?;
        out.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflates_only_when_backed_up() {
        let o = Outbox::new(4, 100);
        for i in 0..4u8 {
            o.push_md(u32::from(i % 2), Bytes::from(vec![i]));
        }
        // Queue is full: the next ticks replace the newest of their instrument.
        o.push_md(0, Bytes::from_static(&[10]));
        o.push_md(1, Bytes::from_static(&[11]));
        o.push_md(2, Bytes::from_static(&[12])); // new instrument: appended
        assert_eq!(o.stats.conflated.load(Ordering::Relaxed), 2);
        let got: Vec<u8> = std::iter::from_fn(|| o.try_recv()).map(|b| b[0]).collect();
        assert_eq!(got, vec![0, 1, 10, 11, 12]);
    }

    #[test]
    fn trading_messages_are_kept_in_order_and_overflow_closes() {
        let o = Outbox::new(1, 3);
        o.push_md(0, Bytes::from_static(b"t1"));
        assert!(o.push(Bytes::from_static(b"a")));
        o.push_md(0, Bytes::from_static(b"t2"));
        assert!(o.push(Bytes::from_static(b"b")));
        assert!(o.push(Bytes::from_static(b"c")));
        assert!(!o.push(Bytes::from_static(b"d")));
        let got: Vec<Bytes> = std::iter::from_fn(|| o.try_recv()).collect();
        // t2 replaced the unsent t1 in place: per-instrument order is what is kept.
        assert_eq!(got, vec!["t2", "a", "b", "c"]);
        assert!(o.is_closed());
    }

    #[tokio::test]
    async fn close_is_seen_after_the_queue_drains() {
        let o = Outbox::new(8, 8);
        o.push(Bytes::from_static(b"x"));
        o.close(1001, "bye");
        assert_eq!(o.recv().await.as_deref(), Some(&b"x"[..]));
        let mut out = Vec::new();
        let r = o.next_batch(&mut out, 8).await.unwrap_err();
        assert_eq!(r.code, 1001);
    }
}

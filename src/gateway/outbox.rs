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
//!   unsent, or with more than its byte budget of them, is disconnected with a reason,
//!   rather than silently losing an order event (or making the gateway hold without
//!   limit what it will not read);
//! - control messages (the heartbeat's Ping, the Pong answering a client's Ping) go
//!   ahead of everything else, so a client that reads slowly still sees its heartbeat.
//!
//! Every outbox adds what it holds to a gauge shared by the gateway, so the bytes held
//! for all clients are one number (and a test can see them come back to zero).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

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
    /// Control messages, sent before anything in `queue`.
    control: VecDeque<Bytes>,
    queue: VecDeque<Entry>,
    /// Sequence number of `queue[0]`.
    head_seq: u64,
    /// For each instrument, the sequence number of its newest queued tick.
    md_latest: HashMap<u32, u64>,
    td_queued: usize,
    /// Bytes of trading and control messages queued (the budget counts these).
    td_bytes: usize,
    /// Bytes of market data queued.
    md_bytes: usize,
    closed: Option<CloseReason>,
}

/// Queues beyond this capacity are given back to the allocator once drained.
const KEEP_CAPACITY: usize = 256;

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
    /// Most bytes of trading and control messages held for the client.
    max_bytes: usize,
    /// Bytes queued in all outboxes sharing this gauge.
    gauge: Arc<AtomicUsize>,
    pub stats: OutboxStats,
}

/// Past this many unread bytes a client is "backed up": the gateway stops producing
/// more answers for it (queries wait) until it reads.
pub const BACKED_UP_BYTES: usize = 1 << 20;

impl Inner {
    fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.control.is_empty()
    }
}

impl Outbox {
    /// An outbox that conflates market data past `md_depth` queued messages and closes
    /// past `td_depth` unsent trading messages; no byte budget.
    pub fn new(md_depth: usize, td_depth: usize) -> Outbox {
        Outbox {
            inner: Mutex::new(Inner::default()),
            ready: Notify::new(),
            md_depth: md_depth.max(1),
            td_depth: td_depth.max(1),
            max_bytes: usize::MAX,
            gauge: Arc::new(AtomicUsize::new(0)),
            stats: OutboxStats::default(),
        }
    }

    /// Closes the outbox once more than `max_bytes` of trading and control messages
    /// are unsent.
    pub fn with_byte_budget(mut self, max_bytes: usize) -> Outbox {
        self.max_bytes = max_bytes.max(1);
        self
    }

    /// Counts the bytes this outbox holds into `gauge` as well.
    pub fn with_gauge(mut self, gauge: Arc<AtomicUsize>) -> Outbox {
        self.gauge = gauge;
        self
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
                let (old, new) = (e.data.len(), data.len());
                e.data = data;
                g.md_bytes = g.md_bytes + new - old;
                self.gauge_swap(old, new);
                self.stats.conflated.fetch_add(1, Ordering::Relaxed);
                crate::metrics::global().conflated.inc();
                return;
            }
        }
        let seq = g.head_seq + g.queue.len() as u64;
        let was_empty = g.is_empty();
        g.md_bytes += data.len();
        self.gauge.fetch_add(data.len(), Ordering::Relaxed);
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

    fn gauge_swap(&self, old: usize, new: usize) {
        if new >= old {
            self.gauge.fetch_add(new - old, Ordering::Relaxed);
        } else {
            self.gauge.fetch_sub(old - new, Ordering::Relaxed);
        }
    }

    /// Closes for a client that does not read: `what` says what piled up.
    fn close_too_slow(&self, g: &mut Inner, what: String) {
        g.closed = Some(CloseReason {
            code: 1008,
            reason: format!("client too slow: {what} unread; reconnect and query to resync"),
        });
        crate::metrics::global().dropped(crate::metrics::reason::SLOW_TD);
    }

    /// Whether a trading or control message of `len` bytes still fits; closes the
    /// outbox (and says why) if not.
    fn admit(&self, g: &mut Inner, len: usize, counted: bool) -> bool {
        if g.closed.is_some() {
            return false;
        }
        if counted && g.td_queued >= self.td_depth {
            let what = format!("{} trading messages", g.td_queued);
            self.close_too_slow(g, what);
            return false;
        }
        if g.td_bytes.saturating_add(len) > self.max_bytes {
            let what = format!(
                "{} KiB of answers (the limit is {} KiB)",
                g.td_bytes.div_ceil(1024),
                self.max_bytes / 1024
            );
            self.close_too_slow(g, what);
            return false;
        }
        true
    }

    /// Queues a trading (or control) message; never dropped. Returns false if the
    /// outbox is closed, or has just been closed because the client is too slow.
    pub fn push(&self, data: impl Into<Bytes>) -> bool {
        let data = data.into();
        let mut g = self.lock();
        let was_closed = g.closed.is_some();
        if !self.admit(&mut g, data.len(), true) {
            drop(g);
            if !was_closed {
                self.ready.notify_one();
            }
            return false;
        }
        let was_empty = g.is_empty();
        g.td_bytes += data.len();
        self.gauge.fetch_add(data.len(), Ordering::Relaxed);
        g.queue.push_back(Entry { md_key: None, data });
        g.td_queued += 1;
        drop(g);
        if was_empty {
            self.ready.notify_one();
        }
        true
    }

    /// Queues a control message (Ping, Pong) ahead of everything not yet taken. It
    /// counts against the byte budget like a trading message.
    pub fn push_control(&self, data: impl Into<Bytes>) -> bool {
        let data = data.into();
        let mut g = self.lock();
        let was_closed = g.closed.is_some();
        if !self.admit(&mut g, data.len(), false) {
            drop(g);
            if !was_closed {
                self.ready.notify_one();
            }
            return false;
        }
        let was_empty = g.is_empty();
        g.td_bytes += data.len();
        self.gauge.fetch_add(data.len(), Ordering::Relaxed);
        g.control.push_back(data);
        drop(g);
        if was_empty {
            self.ready.notify_one();
        }
        true
    }

    /// Bytes of trading and control messages not yet taken by the consumer.
    pub fn backlog_bytes(&self) -> usize {
        self.lock().td_bytes
    }

    /// Whether the client has more than [`BACKED_UP_BYTES`] of answers unread: the
    /// producers of large answers (queries) wait until it reads.
    pub fn is_backed_up(&self) -> bool {
        self.backlog_bytes() > BACKED_UP_BYTES
    }

    /// Closes the outbox and drops what it holds: the client is gone and nothing can
    /// be delivered any more. Gives the memory back at once, even while producers
    /// still hold the outbox.
    pub fn discard(&self) {
        let mut g = self.lock();
        if g.closed.is_none() {
            g.closed = Some(CloseReason {
                code: 1000,
                reason: "connection closed".into(),
            });
        }
        let held = g.td_bytes + g.md_bytes;
        g.control = VecDeque::new();
        g.queue = VecDeque::new();
        g.md_latest = HashMap::new();
        g.td_bytes = 0;
        g.md_bytes = 0;
        g.td_queued = 0;
        drop(g);
        self.gauge.fetch_sub(held, Ordering::Relaxed);
        self.ready.notify_one();
        if held >= TRIM_AFTER_BYTES {
            release_free_memory();
            release_free_memory_soon();
        }
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
        let g = self.lock();
        g.queue.len() + g.control.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Moves up to `max` queued messages into `out`. `Err` once closed and drained.
    fn drain(&self, out: &mut Vec<Bytes>, max: usize) -> Result<(), CloseReason> {
        let mut g = self.lock();
        let mut taken = 0;
        while out.len() < max
            && let Some(c) = g.control.pop_front()
        {
            g.td_bytes -= c.len();
            taken += c.len();
            out.push(c);
        }
        let n = g.queue.len().min(max.saturating_sub(out.len()));
        for _ in 0..n {
            if let Some(e) = g.queue.pop_front() {
                if e.md_key.is_none() {
                    g.td_queued -= 1;
                    g.td_bytes -= e.data.len();
                } else {
                    g.md_bytes -= e.data.len();
                }
                taken += e.data.len();
                out.push(e.data);
            }
        }
        g.head_seq += n as u64;
        if g.queue.is_empty() {
            g.md_latest.clear();
            // A burst grew the queues; do not keep their memory for the client's life.
            if g.queue.capacity() > KEEP_CAPACITY {
                g.queue.shrink_to(KEEP_CAPACITY);
            }
            if g.md_latest.capacity() > KEEP_CAPACITY {
                g.md_latest.shrink_to(KEEP_CAPACITY);
            }
        }
        if g.control.is_empty() && g.control.capacity() > KEEP_CAPACITY {
            g.control.shrink_to(KEEP_CAPACITY);
        }
        self.gauge.fetch_sub(taken, Ordering::Relaxed);
        let n = out.len();
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

impl Drop for Outbox {
    fn drop(&mut self) {
        let g = self.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        self.gauge
            .fetch_sub(g.td_bytes + g.md_bytes, Ordering::Relaxed);
    }
}

/// A client that leaves this much queued makes the gateway hand free memory back.
const TRIM_AFTER_BYTES: usize = 1 << 20;

/// Trims once more a moment later: what the client's session still held (queries
/// waiting, answers on their way) is freed after its queue, as the session ends.
fn release_free_memory_soon() {
    static PENDING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    if PENDING.swap(true, Ordering::AcqRel) {
        return;
    }
    runtime.spawn(async {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        PENDING.store(false, Ordering::Release);
        release_free_memory();
    });
}

/// Hands the allocator's free pages back to the system. glibc keeps what a burst freed
/// in its arenas (RSS stays at the peak after a flooding client is gone); trimming
/// them makes the memory a hostile client cost come back when it leaves.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
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

    #[test]
    fn control_goes_first_and_the_byte_budget_closes() {
        let gauge = Arc::new(AtomicUsize::new(0));
        let o = Outbox::new(8, 100)
            .with_byte_budget(10)
            .with_gauge(gauge.clone());
        o.push_md(0, Bytes::from_static(b"tick"));
        assert!(o.push(Bytes::from_static(b"rsp1")));
        assert!(o.push_control(Bytes::from_static(b"ping")));
        assert_eq!(gauge.load(Ordering::Relaxed), 12);
        assert_eq!(o.try_recv().as_deref(), Some(&b"ping"[..]));
        assert_eq!(o.backlog_bytes(), 4);
        assert!(o.push(Bytes::from_static(b"rsp2")));
        // 8 bytes held: three more do not fit.
        assert!(!o.push(Bytes::from_static(b"rsp")));
        assert!(o.is_closed());
        let got: Vec<Bytes> = std::iter::from_fn(|| o.try_recv()).collect();
        assert_eq!(got, vec!["tick", "rsp1", "rsp2"]);
        assert_eq!(gauge.load(Ordering::Relaxed), 0);
        let o2 = Outbox::new(8, 100).with_gauge(gauge.clone());
        o2.push(Bytes::from_static(b"abc"));
        o2.push_md(1, Bytes::from_static(b"de"));
        assert_eq!(gauge.load(Ordering::Relaxed), 5);
        o2.discard();
        assert_eq!(gauge.load(Ordering::Relaxed), 0);
        assert!(o2.try_recv().is_none());
        let o3 = Outbox::new(8, 100).with_gauge(gauge.clone());
        o3.push(Bytes::from_static(b"abc"));
        drop(o3);
        assert_eq!(gauge.load(Ordering::Relaxed), 0);
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

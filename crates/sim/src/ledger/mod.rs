//! The sim's ledger: every [`Record`] is journaled in the data directory before
//! anything that depends on it reaches a client, and the state is kept compact.
//!
//! - `format`: the journal's framing, and the one rule by which a torn tail is told
//!   from damage. `legacy`: the first, JSON format, read once to migrate it.
//! - `snapshot`: the state at the start of the current trading day, written at each
//!   day's end; a restart reads it and replays only the current day's journal.
//! - `recover`: opening a directory — everything is read and proven before anything
//!   is written, and what cannot be proven is refused with the file and offset.
//! - `files`: the directory's layout and crash-safe file operations; `check`: the
//!   `webctp ledger` commands.
//!
//! At run time a writer thread takes everything appended since its last write,
//! writes it in one go, syncs it (`fdatasync` unless `Durability: os`), and only then
//! runs the deliveries queued with those records — so an acknowledged order is always
//! on disk (group commit). At a day's end [`Ledger::rotate`] starts the next journal
//! and writes the snapshot.

pub mod check;
pub mod failpoint;
pub mod files;
pub mod format;
pub mod legacy;
pub mod observe;
pub mod recover;
mod refusal;
pub mod snapshot;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;

use self::files::Journal;
use self::format::FileHeader;
pub use self::recover::Report;
pub use self::refusal::Refusal;
pub use super::day_state::DayState;
use super::record::Record;
pub use crate::error::SimError;
use webctp_config::Durability;

/// Something to run once the records before it are durable.
pub type Delivery = Box<dyn FnOnce() + Send>;

/// What the ledger replays into (the exchange).
pub trait Replay {
    /// Starts from a snapshot's state.
    fn restore(&mut self, state: &DayState) -> Result<(), SimError>;
    fn apply(&mut self, rec: &Record);
    /// A journal of `bytes` is about to be replayed (room can be made at once).
    fn reserve(&mut self, _bytes: u64) {}
    /// The state right after a day's end.
    fn day_state(&self) -> DayState;
    /// Checks the rebuilt state against the journal's own totals.
    fn verify(&self) -> Result<(), SimError>;
    fn summary(&self) -> StateSummary;
}

/// What a replayed ledger holds, for reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StateSummary {
    pub trading_day: String,
    pub accounts: Vec<String>,
    pub orders: u64,
    pub trades: u64,
}

/// How the ledger keeps closed days' journals.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub durability: Durability,
    /// Keep closed days' journals in `archive/` (the audit trail); else delete them.
    pub keep_closed: bool,
}

#[derive(Default)]
struct Pending {
    /// Framed records not yet written (fsync mode).
    buf: Vec<u8>,
    /// The sequence number of the next record of the current journal.
    next_seq: u64,
    deliveries: std::collections::VecDeque<Delivery>,
    /// Batches appended / fully written and delivered.
    appended: u64,
    done: u64,
    /// Someone is running deliveries (they must run one at a time, in order).
    draining: bool,
    closed: bool,
    failed: Option<String>,
}

struct Shared {
    pending: Mutex<Pending>,
    work: Condvar,
    finished: Condvar,
    journal: Mutex<Journal>,
    /// `Durability: os`: records are written at once by whoever appends.
    direct: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn journal(&self) -> MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fail(&self, e: impl std::fmt::Display) -> String {
        let msg = format!("writing the sim ledger failed: {e}; no further orders are accepted");
        tracing::error!("{msg}");
        self.lock().failed = Some(msg.clone());
        self.finished.notify_all();
        msg
    }

    /// Runs queued deliveries in order, unless someone else already is. Deliveries may
    /// append (and drain) again: those calls return at once and this loop picks up
    /// what they queued.
    fn drain(&self) {
        let mut p = self.lock();
        if p.draining {
            return;
        }
        if p.deliveries.is_empty() {
            // Appends were written when made; with nothing to deliver they are done.
            p.done = p.appended;
            drop(p);
            self.finished.notify_all();
            return;
        }
        p.draining = true;
        loop {
            let batch: Vec<Delivery> = p.deliveries.drain(..).collect();
            if batch.is_empty() {
                break;
            }
            drop(p);
            run_deliveries(batch);
            p = self.lock();
        }
        p.draining = false;
        p.done = p.appended;
        drop(p);
        self.finished.notify_all();
    }
}

fn run_deliveries(batch: Vec<Delivery>) {
    for d in batch {
        // A panic in one delivery must not stop the ledger.
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(d)).is_err() {
            tracing::error!("a delivery panicked");
        }
    }
}

/// The open ledger of one data directory (which it locks).
pub struct Ledger {
    shared: Arc<Shared>,
    writer: Mutex<Option<thread::JoinHandle<()>>>,
    pub dir: PathBuf,
    keep_closed: bool,
    _lock: File,
}

pub use webctp_config::create_private_dir;

/// An opened ledger: the replay's report, and whether it was empty.
pub struct Opened {
    pub ledger: Ledger,
    pub report: Report,
    /// No snapshot and no records: a new ledger.
    pub fresh: bool,
}

impl Ledger {
    /// Locks `dir`, replays it into `sink` (refusing what cannot be proven) and
    /// starts the writer.
    pub fn open(dir: &Path, opts: Options, sink: &mut dyn Replay) -> Result<Opened, SimError> {
        create_private_dir(dir).map_err(SimError::io("create", dir))?;
        let lock = files::lock_dir(dir)?;
        let recovered = recover::recover(
            dir,
            sink,
            recover::Options {
                write: true,
                keep_closed: opts.keep_closed,
            },
        )?;
        if let Some(r) = recovered.report.refusal {
            return Err(SimError::Refused(r));
        }
        let Some((journal, next_seq)) = recovered.active else {
            return Err(SimError::NoJournal {
                dir: dir.to_path_buf(),
            });
        };
        let direct = opts.durability == Durability::Os;
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending {
                next_seq,
                ..Pending::default()
            }),
            work: Condvar::new(),
            finished: Condvar::new(),
            journal: Mutex::new(journal),
            direct,
        });
        let s = shared.clone();
        let writer = thread::Builder::new()
            .name("sim-ledger".into())
            .spawn(move || {
                if direct {
                    deliverer_loop(s)
                } else {
                    writer_loop(s)
                }
            })
            .map_err(SimError::io("start the writer of", dir))?;
        Ok(Opened {
            ledger: Ledger {
                shared,
                writer: Mutex::new(Some(writer)),
                dir: dir.to_path_buf(),
                keep_closed: opts.keep_closed,
                _lock: lock,
            },
            report: recovered.report,
            fresh: recovered.fresh,
        })
    }

    /// Queues records, and deliveries to run once they are durable. Records and
    /// deliveries of successive calls keep their order. With `Durability: os` the
    /// records are written at once, and the caller should [`Ledger::drain`] after
    /// releasing its locks, so answers leave without a thread hop.
    pub fn append(&self, records: &[Record], deliveries: Vec<Delivery>) -> Result<(), SimError> {
        let mut p = self.shared.lock();
        if let Some(e) = &p.failed {
            return Err(SimError::Stopped(e.clone()));
        }
        let mut buf = if self.shared.direct {
            Vec::with_capacity(128 * records.len())
        } else {
            std::mem::take(&mut p.buf)
        };
        for r in records {
            let seq = p.next_seq;
            if let Err(e) = format::encode_record(r, seq, &mut buf) {
                drop(p);
                return Err(SimError::Stopped(self.shared.fail(e)));
            }
            p.next_seq += 1;
        }
        if self.shared.direct {
            if !buf.is_empty() {
                let written = self.shared.journal().write(&buf);
                if let Err(e) = written {
                    drop(p);
                    return Err(SimError::Stopped(self.shared.fail(e)));
                }
            }
        } else {
            p.buf = buf;
        }
        p.deliveries.extend(deliveries);
        p.appended += 1;
        drop(p);
        if !self.shared.direct {
            self.shared.work.notify_one();
        }
        Ok(())
    }

    /// Like [`Ledger::append`], for callers that cannot run deliveries themselves
    /// (they hold a lock a delivery may need): a background thread runs them.
    pub fn append_deferred(
        &self,
        records: &[Record],
        deliveries: Vec<Delivery>,
    ) -> Result<(), SimError> {
        self.append(records, deliveries)?;
        self.shared.work.notify_one();
        Ok(())
    }

    /// Runs the deliveries queued so far on this thread (`Durability: os`). With
    /// fsync they wait for the writer thread's sync, so this does nothing.
    pub fn drain(&self) {
        if self.shared.direct {
            self.shared.drain();
        }
    }

    /// Whether a write failed (then nothing more is accepted).
    pub fn failed(&self) -> Option<String> {
        self.shared.lock().failed.clone()
    }

    /// Waits until everything appended so far is written and delivered.
    pub fn flush(&self) {
        self.drain();
        let mut p = self.shared.lock();
        let target = p.appended;
        while p.done < target && p.failed.is_none() && !p.closed {
            p = self
                .shared
                .finished
                .wait(p)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Ends the current journal after a day's end: everything appended so far (the
    /// settlement record last) is made durable, the next journal is created, then the
    /// snapshot of `state` that it continues, and the closed journal is archived. The
    /// caller holds the exchange, so nothing is appended meanwhile. A crash anywhere
    /// in here loses nothing: start-up finishes what is missing.
    pub fn rotate(&self, state: DayState) -> Result<(), SimError> {
        self.flush();
        if self.shared.direct {
            // With `os` durability the settlement is written, not yet synced.
            let j = self.shared.journal();
            j.file
                .sync_data()
                .map_err(SimError::io("sync", j.path.clone()))?;
        }
        if let Some(e) = self.failed() {
            return Err(SimError::Stopped(e));
        }
        failpoint::reached("roll-durable");
        let mut p = self.shared.lock();
        let mut j = self.shared.journal();
        let generation = j.header.generation + 1;
        let next = Journal::create(
            &self.dir,
            FileHeader::new(generation, &state.trading_day),
            &[],
        )?;
        let closed = std::mem::replace(&mut *j, next);
        p.next_seq = 1;
        drop(j);
        drop(p);
        // From here the new journal is the ledger's tail; if the snapshot cannot be
        // written, start-up replays the closed journal before it (and writes it).
        recover::write_snapshot(&self.dir, generation, None, state)?;
        failpoint::reached("rotated");
        recover::retire_journal(&self.dir, &closed.path, self.keep_closed)?;
        failpoint::reached("retired");
        Ok(())
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.flush();
        self.shared.lock().closed = true;
        self.shared.work.notify_all();
        if let Some(h) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
    }
}

/// `Durability: fsync`: writes what was appended in one go, syncs it, then runs the
/// deliveries queued with it (group commit).
fn writer_loop(shared: Arc<Shared>) {
    loop {
        let (buf, deliveries, batch) = {
            let mut p = shared.lock();
            while p.buf.is_empty() && p.deliveries.is_empty() && !p.closed {
                p = shared.work.wait(p).unwrap_or_else(|e| e.into_inner());
            }
            if p.buf.is_empty() && p.deliveries.is_empty() && p.closed {
                return;
            }
            (
                std::mem::take(&mut p.buf),
                p.deliveries.drain(..).collect::<Vec<_>>(),
                p.appended,
            )
        };
        if !buf.is_empty() {
            let started = std::time::Instant::now();
            let result = {
                let mut j = shared.journal();
                j.write(&buf).and_then(|_| j.file.sync_data())
            };
            observe::synced(started.elapsed());
            if let Err(e) = result {
                shared.fail(e);
                // Nothing that depends on the lost records may be delivered.
                return;
            }
        }
        run_deliveries(deliveries);
        let mut p = shared.lock();
        p.done = p.done.max(batch);
        drop(p);
        shared.finished.notify_all();
    }
}

/// `Durability: os`: runs deliveries that no caller ran itself.
fn deliverer_loop(shared: Arc<Shared>) {
    loop {
        {
            let mut p = shared.lock();
            while (p.deliveries.is_empty() || p.draining) && !p.closed {
                p = shared.work.wait(p).unwrap_or_else(|e| e.into_inner());
            }
            if p.closed && p.deliveries.is_empty() {
                return;
            }
        }
        shared.drain();
    }
}

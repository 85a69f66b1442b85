//! The sim's journal: every [`Record`] is appended to `ledger.journal` in the data
//! directory before anything that depends on it reaches a client.
//!
//! Records are framed as `[length u32][crc32 u32][JSON]`. A writer thread takes
//! everything appended since its last write, writes it in one go, syncs it
//! (`fdatasync` unless `Durability: os`), and only then runs the deliveries queued
//! with those records — so an acknowledged order is always on disk (group commit).
//! A crash can only tear the last, unacknowledged record; replay drops such a tail.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

use super::exchange::Record;
use crate::config::Durability;

/// Something to run once the records before it are durable.
pub type Delivery = Box<dyn FnOnce() + Send>;

/// A problem with the ledger, worded for the user.
#[derive(Debug)]
pub struct LedgerError(pub String);

impl std::fmt::Display for LedgerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Default)]
struct Pending {
    /// Encoded records not yet written (fsync mode).
    buf: Vec<u8>,
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
    /// `Durability: os`: the journal, written at once by whoever appends.
    direct: Option<Mutex<Journal>>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
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

/// The open journal of one data directory (which it locks).
pub struct Ledger {
    shared: Arc<Shared>,
    writer: Mutex<Option<thread::JoinHandle<()>>>,
    pub path: PathBuf,
    _lock: File,
}

/// Creates a directory (and parents) readable only by its owner.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        // An existing directory keeps its mode unless we tighten it.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

fn lock_dir(dir: &Path) -> Result<File, LedgerError> {
    let path = dir.join("LOCK");
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| LedgerError(format!("cannot open {}: {e}", path.display())))?;
    if f.try_lock().is_err() {
        let mut owner = String::new();
        let _ = f.read_to_string(&mut owner);
        let owner = owner.trim();
        return Err(LedgerError(format!(
            "the sim data directory {} is in use by another webctp process{}; stop it, use another --data-dir, or talk to the running gateway with `webctp exec --url ws://HOST:PORT ...`",
            dir.display(),
            if owner.is_empty() {
                String::new()
            } else {
                format!(" (pid {owner})")
            }
        )));
    }
    let _ = f.set_len(0);
    let _ = write!(f, "{}", std::process::id());
    let _ = f.sync_data();
    Ok(f)
}

/// Frames one record.
pub fn encode(rec: &Record, out: &mut Vec<u8>) {
    let json = serde_json::to_vec(rec).unwrap_or_default();
    let len = u32::try_from(json.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&json).to_le_bytes());
    out.extend_from_slice(&json);
}

/// What reading a journal found.
pub struct Replay {
    pub records: Vec<Record>,
    /// Bytes of an incomplete last record that were dropped.
    pub torn_tail: usize,
}

/// Decodes a journal. The file is preallocated with zeros: the records end at the
/// first all-zero header. A damaged record followed only by zeros is a torn write and
/// is dropped; damage followed by anything else is corruption.
pub fn decode(data: &[u8]) -> Result<(Replay, usize), LedgerError> {
    let zeros = |b: &[u8]| b.iter().all(|&x| x == 0);
    let damaged = |pos: usize| {
        LedgerError(format!(
            "the journal is damaged at byte {pos} (a record in the middle does not check out); refusing to start rather than lose trades"
        ))
    };
    let mut records = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let rest = &data[pos..];
        if rest.len() >= 8 && zeros(&rest[..8]) {
            // The end of what was written; the rest must be preallocated zeros.
            return if zeros(rest) {
                Ok((
                    Replay {
                        records,
                        torn_tail: 0,
                    },
                    pos,
                ))
            } else {
                Err(damaged(pos))
            };
        }
        let header_ok = rest.len() >= 8;
        let (len, crc) = if header_ok {
            (
                u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize,
                u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]),
            )
        } else {
            (0, 0)
        };
        let complete = header_ok && rest.len() >= 8 + len;
        let body = if complete { &rest[8..8 + len] } else { &[][..] };
        let valid = complete && crc32fast::hash(body) == crc;
        let parsed = if valid {
            serde_json::from_slice::<Record>(body).ok()
        } else {
            None
        };
        match parsed {
            Some(r) => {
                records.push(r);
                pos += 8 + len;
            }
            None => {
                let claimed_end = if complete { 8 + len } else { rest.len() };
                if !zeros(&rest[claimed_end..]) {
                    return Err(damaged(pos));
                }
                // Only the non-zero part is torn data; zeros are padding.
                let torn = rest.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1);
                return Ok((
                    Replay {
                        records,
                        torn_tail: torn,
                    },
                    pos,
                ));
            }
        }
    }
    Ok((
        Replay {
            records,
            torn_tail: 0,
        },
        pos,
    ))
}

/// Zeros written ahead of the journal's end, so that appends overwrite allocated
/// blocks and a data sync needs no metadata update (about a third faster here).
const PREALLOC: u64 = 4 << 20;
/// Preallocate more when less than this is left.
const HEADROOM: u64 = 256 << 10;

/// The journal file: records are written at `end`; `capacity` bytes exist.
struct Journal {
    file: File,
    end: u64,
    capacity: u64,
}

impl Journal {
    fn open(file: File, end: u64) -> std::io::Result<Journal> {
        let capacity = file.metadata()?.len();
        let mut j = Journal {
            file,
            end,
            capacity,
        };
        j.reserve(0)?;
        Ok(j)
    }

    /// Makes sure `more` bytes fit with headroom to spare.
    fn reserve(&mut self, more: u64) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        if self.end + more + HEADROOM <= self.capacity {
            return Ok(());
        }
        let target = (self.end + more + PREALLOC).div_ceil(PREALLOC) * PREALLOC;
        let chunk = vec![0u8; 1 << 20];
        let mut at = self.capacity;
        while at < target {
            let n = (target - at).min(chunk.len() as u64) as usize;
            self.file.write_all_at(&chunk[..n], at)?;
            at += n as u64;
        }
        // The new size is metadata: sync it once here, not with every record.
        self.file.sync_all()?;
        self.capacity = target;
        Ok(())
    }

    fn write(&mut self, buf: &[u8]) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.reserve(buf.len() as u64)?;
        self.file.write_all_at(buf, self.end)?;
        self.end += buf.len() as u64;
        Ok(())
    }
}

impl Ledger {
    /// Locks `dir`, reads its journal (dropping a torn tail) and starts the writer.
    pub fn open(dir: &Path, durability: Durability) -> Result<(Ledger, Replay), LedgerError> {
        create_private_dir(dir)
            .map_err(|e| LedgerError(format!("cannot create {}: {e}", dir.display())))?;
        let lock = lock_dir(dir)?;
        let path = dir.join("ledger.journal");
        let mut data = Vec::new();
        if path.exists() {
            File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut data))
                .map_err(|e| LedgerError(format!("cannot read {}: {e}", path.display())))?;
        }
        let (replay, good) = decode(&data)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| LedgerError(format!("cannot open {}: {e}", path.display())))?;
        if replay.torn_tail > 0 {
            tracing::warn!(
                bytes = replay.torn_tail,
                "dropping an incomplete record at the end of the journal (it was never acknowledged)"
            );
            use std::os::unix::fs::FileExt;
            file.write_all_at(&vec![0u8; replay.torn_tail], good as u64)
                .and_then(|_| file.sync_data())
                .map_err(|e| LedgerError(format!("cannot repair {}: {e}", path.display())))?;
        }
        let file = Journal::open(file, good as u64)
            .map_err(|e| LedgerError(format!("cannot preallocate {}: {e}", path.display())))?;
        let fsync = durability == Durability::Fsync;
        let (direct, file) = if fsync {
            (None, Some(file))
        } else {
            (Some(Mutex::new(file)), None)
        };
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            work: Condvar::new(),
            finished: Condvar::new(),
            direct,
        });
        let s = shared.clone();
        let writer = thread::Builder::new()
            .name("sim-ledger".into())
            .spawn(move || match file {
                Some(f) => writer_loop(s, f),
                None => deliverer_loop(s),
            })
            .map_err(|e| LedgerError(format!("cannot start the ledger writer: {e}")))?;
        Ok((
            Ledger {
                shared,
                writer: Mutex::new(Some(writer)),
                path,
                _lock: lock,
            },
            replay,
        ))
    }

    /// Queues records, and deliveries to run once they are durable. Records and
    /// deliveries of successive calls keep their order. With `Durability: os` the
    /// records are written at once, and the caller should [`Ledger::drain`] after
    /// releasing its locks, so answers leave without a thread hop.
    pub fn append(&self, records: &[Record], deliveries: Vec<Delivery>) -> Result<(), String> {
        let mut p = self.shared.lock();
        if let Some(e) = &p.failed {
            return Err(e.clone());
        }
        if let Some(file) = &self.shared.direct {
            if !records.is_empty() {
                let mut buf = Vec::with_capacity(256 * records.len());
                for r in records {
                    encode(r, &mut buf);
                }
                let written = file.lock().unwrap_or_else(|e| e.into_inner()).write(&buf);
                if let Err(e) = written {
                    let msg = format!(
                        "writing the sim ledger failed: {e}; no further orders are accepted"
                    );
                    tracing::error!("{msg}");
                    p.failed = Some(msg.clone());
                    drop(p);
                    self.shared.finished.notify_all();
                    return Err(msg);
                }
            }
        } else {
            for r in records {
                encode(r, &mut p.buf);
            }
        }
        p.deliveries.extend(deliveries);
        p.appended += 1;
        let wake = self.shared.direct.is_none();
        drop(p);
        if wake {
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
    ) -> Result<(), String> {
        self.append(records, deliveries)?;
        self.shared.work.notify_one();
        Ok(())
    }

    /// Runs the deliveries queued so far on this thread (`Durability: os`). With
    /// fsync they wait for the writer thread's sync, so this does nothing.
    pub fn drain(&self) {
        if self.shared.direct.is_some() {
            self.shared.drain();
        }
    }

    /// Whether a write failed (then nothing more is accepted).
    pub fn failed(&self) -> Option<String> {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .failed
            .clone()
    }

    /// Waits until everything appended so far is written and delivered.
    pub fn flush(&self) {
        self.drain();
        let mut p = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let target = p.appended;
        while p.done < target && p.failed.is_none() && !p.closed {
            p = self
                .shared
                .finished
                .wait(p)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.flush();
        {
            let mut p = self
                .shared
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            p.closed = true;
        }
        self.shared.work.notify_all();
        if let Some(h) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
    }
}

/// `Durability: fsync`: writes what was appended in one go, syncs it, then runs the
/// deliveries queued with it (group commit).
fn writer_loop(shared: Arc<Shared>, mut file: Journal) {
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
            let result = file.write(&buf).and_then(|_| file.file.sync_data());
            if let Err(e) = result {
                let msg =
                    format!("writing the sim ledger failed: {e}; no further orders are accepted");
                tracing::error!("{msg}");
                let mut p = shared.lock();
                p.failed = Some(msg);
                drop(p);
                shared.finished.notify_all();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: i32) -> Record {
        Record::Confirm {
            user: format!("u{n}"),
            day: "20261124".into(),
            date: "20261124".into(),
            time: "09:00:00".into(),
        }
    }

    #[test]
    fn torn_tail_is_dropped_but_damage_in_the_middle_is_refused() {
        let mut data = Vec::new();
        for i in 0..3 {
            encode(&rec(i), &mut data);
        }
        let full = data.len();
        let (r, good) = decode(&data).unwrap();
        assert_eq!(r.records.len(), 3);
        assert_eq!(good, full);
        // Every prefix decodes to the records that are whole; the rest is torn.
        for cut in 0..full {
            let (r, good) = decode(&data[..cut]).unwrap();
            assert!(good <= cut && r.torn_tail <= cut - good);
            assert!(r.records.len() <= 3);
        }
        // Preallocated zeros after the records are padding, not data.
        let mut padded = data.clone();
        padded.extend(vec![0u8; 4096]);
        let (r, good) = decode(&padded).unwrap();
        assert_eq!((r.records.len(), good, r.torn_tail), (3, full, 0));
        // A record cut short and followed by zeros is a torn write.
        let mut torn = data[..full - 5].to_vec();
        torn.extend(vec![0u8; 4096]);
        let (r, _) = decode(&torn).unwrap();
        assert_eq!(r.records.len(), 2);
        assert!(r.torn_tail > 0);
        // Anything after the zeros is damage.
        let mut stray = padded.clone();
        stray.push(7);
        assert!(decode(&stray).is_err());
        // A flipped byte inside the first record, with records after it: corruption.
        let mut bad = data.clone();
        bad[12] ^= 0xff;
        assert!(decode(&bad).is_err());
        // The same in the last record: a torn tail.
        let mut tail = data.clone();
        let n = tail.len();
        tail[n - 2] ^= 0xff;
        let (r, _) = decode(&tail).unwrap();
        assert_eq!(r.records.len(), 2);
    }

    #[test]
    fn a_torn_record_is_dropped_and_appends_continue_after_it() {
        use std::os::unix::fs::FileExt;
        let dir = std::env::temp_dir().join(format!("webctp-ledger-torn-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let end = {
            let (ledger, _) = Ledger::open(&dir, Durability::Fsync).unwrap();
            ledger.append(&[rec(1), rec(2)], Vec::new()).unwrap();
            ledger.flush();
            let mut one = Vec::new();
            encode(&rec(1), &mut one);
            encode(&rec(2), &mut one);
            one.len() as u64
        };
        // A crash in the middle of writing the third record.
        let mut third = Vec::new();
        encode(&rec(3), &mut third);
        let f = OpenOptions::new()
            .write(true)
            .open(dir.join("ledger.journal"))
            .unwrap();
        f.write_all_at(&third[..third.len() / 2], end).unwrap();
        drop(f);
        {
            let (ledger, replay) = Ledger::open(&dir, Durability::Fsync).unwrap();
            assert_eq!(replay.records, vec![rec(1), rec(2)]);
            assert!(replay.torn_tail > 0);
            // A shorter record over the torn bytes must not leave them behind.
            ledger
                .append(&[Record::Start { day: "x".into() }], Vec::new())
                .unwrap();
            ledger.flush();
        }
        let (_ledger, replay) = Ledger::open(&dir, Durability::Os).unwrap();
        assert_eq!(replay.torn_tail, 0);
        assert_eq!(replay.records.len(), 3);
        assert_eq!(replay.records[2], Record::Start { day: "x".into() });
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn os_mode_delivers_on_the_callers_thread_and_flush_returns() {
        let dir = std::env::temp_dir().join(format!("webctp-ledger-os-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (ledger, _) = Ledger::open(&dir, Durability::Os).unwrap();
        // Records without deliveries must not leave flush waiting.
        ledger.append(&[rec(1)], Vec::new()).unwrap();
        ledger.flush();
        let me = std::thread::current().id();
        let seen = Arc::new(Mutex::new(None));
        let s = seen.clone();
        ledger
            .append(
                &[rec(2)],
                vec![Box::new(move || {
                    *s.lock().unwrap() = Some(std::thread::current().id())
                })],
            )
            .unwrap();
        ledger.drain();
        assert_eq!(*seen.lock().unwrap(), Some(me));
        // Deferred deliveries run on the ledger's thread.
        let s = seen.clone();
        ledger
            .append_deferred(
                &[],
                vec![Box::new(move || {
                    *s.lock().unwrap() = Some(std::thread::current().id())
                })],
            )
            .unwrap();
        ledger.flush();
        drop(ledger);
        let (_ledger, replay) = Ledger::open(&dir, Durability::Os).unwrap();
        assert_eq!(replay.records.len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn deliveries_wait_for_their_records_and_the_dir_is_locked() {
        let dir = std::env::temp_dir().join(format!("webctp-ledger-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let (ledger, replay) = Ledger::open(&dir, Durability::Fsync).unwrap();
            assert!(replay.records.is_empty());
            assert!(Ledger::open(&dir, Durability::Fsync).is_err());
            let seen = Arc::new(Mutex::new(Vec::new()));
            for i in 0..50 {
                let s = seen.clone();
                ledger
                    .append(&[rec(i)], vec![Box::new(move || s.lock().unwrap().push(i))])
                    .unwrap();
            }
            ledger.flush();
            assert_eq!(*seen.lock().unwrap(), (0..50).collect::<Vec<_>>());
        }
        let (_ledger, replay) = Ledger::open(&dir, Durability::Fsync).unwrap();
        assert_eq!(replay.records.len(), 50);
        assert_eq!(replay.records[7], rec(7));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

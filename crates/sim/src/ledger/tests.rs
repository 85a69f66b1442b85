//! The ledger at run time and across restarts, with a recording sink in place of the
//! exchange.

use std::sync::{Arc, Mutex};

use super::*;
use crate::record::Record;

#[derive(Default)]
struct Sink {
    day: String,
    restored: Option<DayState>,
    records: Vec<Record>,
}

impl Replay for Sink {
    fn restore(&mut self, s: &DayState) -> Result<(), SimError> {
        self.day = s.trading_day.clone();
        self.restored = Some(s.clone());
        Ok(())
    }
    fn apply(&mut self, rec: &Record) {
        match rec {
            Record::Start { day } => self.day = day.clone(),
            other => {
                if let Some(next_day) = other.next_day() {
                    self.day = next_day.to_string();
                }
            }
        }
        self.records.push(rec.clone());
    }
    fn day_state(&self) -> DayState {
        DayState {
            trading_day: self.day.clone(),
            next_sys_id: self.records.len() as u64,
            next_trade_id: 0,
            next_broker_seq: 0,
            sequence: 0,
            settlement: Vec::new(),
            accounts: Vec::new(),
            instruments: Vec::new(),
        }
    }
    fn verify(&self) -> Result<(), SimError> {
        Ok(())
    }
    fn summary(&self) -> StateSummary {
        StateSummary {
            trading_day: self.day.clone(),
            accounts: Vec::new(),
            orders: 0,
            trades: 0,
        }
    }
}

fn rec(n: i32) -> Record {
    Record::Confirm {
        user: format!("u{n}"),
        day: "20261124".into(),
        date: "20261124".into(),
        time: "09:00:00".into(),
    }
}

fn roll(to: &str) -> Record {
    Record::Roll {
        next_day: to.into(),
        settlement: Vec::new(),
        profit: Vec::new(),
    }
}

fn opts(durability: Durability) -> Options {
    Options {
        durability,
        keep_closed: true,
    }
}

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!(
            "webctp-ledger-{tag}-{}-{}",
            std::process::id(),
            super::super::clock::unix_nanos()
        ));
        Dir(d)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open(dir: &Path, d: Durability) -> Result<(Ledger, Sink, bool), SimError> {
    let mut sink = Sink::default();
    let o = Ledger::open(dir, opts(d), &mut sink)?;
    Ok((o.ledger, sink, o.fresh))
}

/// The bytes of every file in `dir`, to see that a refused start changed nothing.
fn contents(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file() && e.file_name() != "LOCK")
        .map(|e| (e.path(), std::fs::read(e.path()).unwrap()))
        .collect();
    v.sort();
    v
}

#[test]
fn deliveries_wait_for_their_records_and_the_dir_is_locked() {
    let dir = Dir::new("lock");
    {
        let (ledger, sink, fresh) = open(&dir.0, Durability::Fsync).unwrap();
        assert!(fresh && sink.records.is_empty());
        assert!(matches!(
            open(&dir.0, Durability::Fsync),
            Err(SimError::Busy { .. })
        ));
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
    let (_l, sink, fresh) = open(&dir.0, Durability::Fsync).unwrap();
    assert!(!fresh);
    assert_eq!(sink.records.len(), 50);
    assert_eq!(sink.records[7], rec(7));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&dir.0).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn os_mode_delivers_on_the_callers_thread_and_flush_returns() {
    let dir = Dir::new("os");
    let (ledger, _, _) = open(&dir.0, Durability::Os).unwrap();
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
    let (_l, sink, _) = open(&dir.0, Durability::Os).unwrap();
    assert_eq!(sink.records.len(), 2);
}

#[test]
fn a_torn_write_is_dropped_and_appends_continue_after_it() {
    use std::os::unix::fs::FileExt;
    let dir = Dir::new("torn");
    let end = {
        let (ledger, _, _) = open(&dir.0, Durability::Fsync).unwrap();
        ledger.append(&[rec(1), rec(2)], Vec::new()).unwrap();
        ledger.flush();
        let j = ledger.shared.journal();
        j.end
    };
    // A crash in the middle of writing the next batch, cut at a sector boundary.
    let mut batch = Vec::new();
    for i in 3..40 {
        format::encode_record(&rec(i), i as u64, &mut batch).unwrap();
    }
    let cut = (end + 600).div_ceil(format::SECTOR) * format::SECTOR;
    let path = dir.0.join(files::journal_name(1));
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.write_all_at(&batch[..(cut - end) as usize], end).unwrap();
    drop(f);
    {
        let (ledger, sink, _) = open(&dir.0, Durability::Fsync).unwrap();
        assert!(sink.records.len() >= 2 && sink.records.len() < 39);
        assert_eq!(sink.records[..2], [rec(1), rec(2)]);
        // A record over the torn bytes must not leave them behind.
        ledger
            .append(&[Record::Start { day: "x".into() }], Vec::new())
            .unwrap();
        ledger.flush();
    }
    let (_l, sink, _) = open(&dir.0, Durability::Os).unwrap();
    assert_eq!(
        sink.records.last(),
        Some(&Record::Start { day: "x".into() })
    );
}

#[test]
fn damage_is_refused_and_nothing_is_changed() {
    let dir = Dir::new("damage");
    {
        let (ledger, _, _) = open(&dir.0, Durability::Fsync).unwrap();
        ledger
            .append(&[rec(1), rec(2), rec(3)], Vec::new())
            .unwrap();
    }
    let path = dir.0.join(files::journal_name(1));
    let mut data = std::fs::read(&path).unwrap();
    data[format::FILE_HEADER + 2] ^= 1; // the first record's length
    std::fs::write(&path, &data).unwrap();
    let before = contents(&dir.0);
    let err = open(&dir.0, Durability::Fsync).err().unwrap();
    let msg = err.to_string();
    assert!(msg.contains("journal-00000001.wal at byte 64"), "{msg}");
    assert!(msg.contains("ledger repair"), "{msg}");
    assert!(msg.contains("valid records follow"), "{msg}");
    assert_eq!(contents(&dir.0), before);
    // `check` reports the same without writing.
    let c = check::check(
        &dir.0,
        crate::products::ProductTable::embedded(),
        &crate::clock::BeijingTime::now(),
    )
    .unwrap();
    assert!(!c.ok());
    assert_eq!(c.report.journals[0].damage_at, Some(64));
    assert_eq!(contents(&dir.0), before);
}

#[test]
fn a_day_end_starts_a_new_journal_and_restart_reads_only_the_new_day() {
    let dir = Dir::new("rotate");
    {
        let (ledger, _, _) = open(&dir.0, Durability::Fsync).unwrap();
        ledger
            .append(
                &[
                    Record::Start {
                        day: "20261124".into(),
                    },
                    rec(1),
                ],
                Vec::new(),
            )
            .unwrap();
        ledger.append(&[roll("20261125")], Vec::new()).unwrap();
        let sink = Sink {
            day: "20261125".into(),
            ..Sink::default()
        };
        ledger.rotate(sink.day_state()).unwrap();
        ledger.append(&[rec(2)], Vec::new()).unwrap();
    }
    assert!(!dir.0.join(files::journal_name(1)).exists());
    let archived: Vec<String> = std::fs::read_dir(dir.0.join("archive"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        archived.len() == 1 && archived[0].starts_with("journal-00000001-"),
        "{archived:?}"
    );
    let (_l, sink, fresh) = open(&dir.0, Durability::Fsync).unwrap();
    assert!(!fresh);
    assert_eq!(sink.restored.unwrap().trading_day, "20261125");
    assert_eq!(sink.records, vec![rec(2)]);
}

#[test]
fn start_up_finishes_a_day_end_that_a_crash_interrupted() {
    let dir = Dir::new("finish");
    {
        let (ledger, _, _) = open(&dir.0, Durability::Fsync).unwrap();
        ledger
            .append(
                &[
                    Record::Start {
                        day: "20261124".into(),
                    },
                    rec(1),
                    roll("20261125"),
                ],
                Vec::new(),
            )
            .unwrap();
        // The process dies before the rotation.
    }
    {
        let (ledger, sink, _) = open(&dir.0, Durability::Fsync).unwrap();
        assert_eq!(sink.records.len(), 3);
        assert_eq!(sink.day, "20261125");
        assert!(dir.0.join(files::journal_name(2)).exists());
        ledger.append(&[rec(5)], Vec::new()).unwrap();
    }
    let (_l, sink, _) = open(&dir.0, Durability::Fsync).unwrap();
    assert_eq!(sink.restored.unwrap().trading_day, "20261125");
    assert_eq!(sink.records, vec![rec(5)]);
}

#[test]
fn a_first_format_journal_is_migrated_once_and_kept() {
    use serde_json::json;
    let dir = Dir::new("legacy");
    std::fs::create_dir_all(&dir.0).unwrap();
    let v1 = legacy::tests::v1(&[
        json!({"k": "Start", "day": "20261124"}),
        json!({"k": "Confirm", "user": "u1", "day": "20261124", "date": "20261124", "time": "09:00:00"}),
        json!({"k": "Roll", "next_day": "20261125", "settlement": [], "profit": []}),
        json!({"k": "Confirm", "user": "u2", "day": "20261125", "date": "20261125", "time": "09:00:00"}),
    ]);
    let mut data = v1.clone();
    data.push(7); // a tail that does not check out
    data.extend(vec![0u8; 100]);
    std::fs::write(dir.0.join("ledger.journal"), &data).unwrap();
    let before = contents(&dir.0);
    let msg = open(&dir.0, Durability::Fsync).err().unwrap().to_string();
    assert!(msg.contains(&format!("at byte {}", v1.len())), "{msg}");
    assert!(msg.contains("ledger repair"), "{msg}");
    assert_eq!(contents(&dir.0), before);
    // A person drops the tail; a copy is kept.
    let r = check::repair(&dir.0, v1.len() as u64, None).unwrap();
    assert_eq!(r.dropped_bytes, 1);
    assert!(r.copy.exists());
    {
        let (ledger, sink, _) = open(&dir.0, Durability::Fsync).unwrap();
        assert_eq!(sink.records.len(), 4);
        assert_eq!(sink.day, "20261125");
        ledger.append(&[rec(9)], Vec::new()).unwrap();
    }
    assert!(dir.0.join("archive/ledger.journal.v1").exists());
    assert!(!dir.0.join("ledger.journal").exists());
    let (_l, sink, _) = open(&dir.0, Durability::Fsync).unwrap();
    assert_eq!(sink.restored.unwrap().trading_day, "20261125");
    assert_eq!(sink.records.len(), 2);
    assert_eq!(sink.records[1], rec(9));
}

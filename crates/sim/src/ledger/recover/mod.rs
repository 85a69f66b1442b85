//! Opening a ledger directory: read the snapshot, replay the journals that follow it,
//! and prove the result before anything is written.
//!
//! The only bytes ever dropped are a torn tail of the last journal (see `format`).
//! Everything else that does not check out — a damaged record followed by valid ones,
//! a bad checksum in the middle, a truncated file, a damaged snapshot, a missing
//! journal — is refused with the file, the offset and what to do, and nothing in the
//! directory is touched. Only after the whole ledger has been read and its totals
//! checked does recovery write: it zeroes a torn tail, finishes a day's end that a
//! crash interrupted (new journal, snapshot, old journal archived), migrates a
//! first-format journal, and removes temporaries.
//!
//! Here: the snapshot and the chain of journals. [`report`]: what recovery found and
//! did; [`migrate`]: the first-format journal turned into a snapshot and journal 1.

use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::files::{self, Journal};
use super::format::{self, FileHeader, Fingerprint, Tail};
use super::refusal::Refusal;
use super::snapshot::{self, Snapshot};
use super::{Replay, legacy};
use crate::error::SimError;

mod migrate;
mod report;

use migrate::migrate;
pub use report::{JournalInfo, Report, SnapshotInfo};

/// What recovery may do.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Write (start-up) or only read and report (`webctp ledger check`).
    pub write: bool,
    /// Keep closed days' journals in `archive/` (else delete them).
    pub keep_closed: bool,
}

/// An opened ledger: the journal to append to and its next sequence number.
pub struct Recovered {
    pub report: Report,
    pub active: Option<(Journal, u64)>,
    /// No records and no snapshot: a new ledger.
    pub fresh: bool,
}

fn data_dir_flag(dir: &Path) -> String {
    dir.parent()
        .map(|p| format!(" --data-dir {}", p.display()))
        .unwrap_or_default()
}

fn refuse(report: &mut Report, file: &Path, offset: Option<u64>, problem: String, advice: String) {
    report.refusal = Some(Refusal {
        file: file.to_path_buf(),
        offset,
        problem,
        advice,
    });
}

fn done(report: Report) -> Result<Recovered, SimError> {
    Ok(Recovered {
        report,
        active: None,
        fresh: false,
    })
}

/// Reads (and, with `opts.write`, opens) the ledger in `dir` into `sink`.
pub fn recover(dir: &Path, sink: &mut dyn Replay, opts: Options) -> Result<Recovered, SimError> {
    let mut report = Report::new(dir);
    let flag = data_dir_flag(dir);
    if let Ok(rd) = std::fs::read_dir(dir.join(files::ARCHIVE)) {
        let mut names: Vec<String> = rd
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(String::from))
            .collect();
        names.sort();
        report.archived = names;
    }
    let snap_path = dir.join(snapshot::FILE);
    let snapshot = if snap_path.exists() {
        let data = files::read(&snap_path)?;
        match Snapshot::decode(&data) {
            Ok(s) => {
                report.snapshot = Some(SnapshotInfo {
                    file: snap_path.clone(),
                    trading_day: s.state.trading_day.clone(),
                    accounts: s.state.accounts.len(),
                    next_journal: s.next_journal,
                });
                Some(s)
            }
            Err(problem) => {
                refuse(
                    &mut report,
                    &snap_path,
                    None,
                    format!("the snapshot is damaged: {problem}"),
                    "Restore it from a backup; the journals of the closed days are in archive/ if you need to rebuild it by hand.".into(),
                );
                return done(report);
            }
        }
    } else {
        None
    };
    let journals = files::list_journals(dir)?;
    let legacy_path = dir.join(legacy::FILE);
    let mut legacy_done = None;
    if legacy_path.exists() {
        let data = files::read(&legacy_path)?;
        let fp = Fingerprint::of(&data);
        match &snapshot {
            Some(s) if s.migrated_from == Some(fp) => legacy_done = Some(legacy_path.clone()),
            Some(_) => {
                refuse(
                    &mut report,
                    &legacy_path,
                    None,
                    "a first-format journal sits beside a newer ledger that was not migrated from it (was an older webctp run on this directory after the upgrade?)".into(),
                    format!("Move one of the two away: the newer ledger is {} and the journal-*.wal files.", snapshot::FILE),
                );
                return done(report);
            }
            None => {
                let uncommitted = journals.len() == 1
                    && journals.get(&1).is_some_and(|p| {
                        files::read(p)
                            .ok()
                            .and_then(|d| FileHeader::decode(&d).ok())
                            .is_some_and(|h| h.migrated_from == Some(fp))
                    });
                if !journals.is_empty() && !uncommitted {
                    refuse(
                        &mut report,
                        &legacy_path,
                        None,
                        "a first-format journal sits beside journal files it did not produce"
                            .into(),
                        "Move one of them away.".into(),
                    );
                    return done(report);
                }
                return migrate(dir, &legacy_path, &data, fp, sink, opts, report);
            }
        }
    }

    let first = snapshot.as_ref().map_or(1, |s| s.next_journal);
    if let Some(s) = &snapshot
        && let Err(problem) = sink.restore(&s.state)
    {
        refuse(
            &mut report,
            &snap_path,
            None,
            problem.to_string(),
            "Restore it from a backup.".into(),
        );
        return done(report);
    }
    let chain: Vec<(u64, PathBuf)> = journals
        .range(first..)
        .map(|(g, p)| (*g, p.clone()))
        .collect();
    let older: Vec<PathBuf> = journals.range(..first).map(|(_, p)| p.clone()).collect();
    if let Some((i, (g, _))) = chain
        .iter()
        .enumerate()
        .find(|(i, (g, _))| *g != first + *i as u64)
    {
        let missing = dir.join(files::journal_name(first + i as u64));
        refuse(
            &mut report,
            &missing,
            None,
            format!("this journal is missing, but journal {g} that follows it exists"),
            "Restore it from a backup.".into(),
        );
        return done(report);
    }
    if snapshot.is_some() && chain.is_empty() {
        let missing = dir.join(files::journal_name(first));
        refuse(
            &mut report,
            &missing,
            None,
            "the journal that continues the snapshot is missing".into(),
            "Restore it from a backup.".into(),
        );
        return done(report);
    }

    // Read every journal of the chain; the last may end torn.
    let mut pending: Option<(u64, super::DayState)> = None;
    let mut last_roll = false;
    let mut torn: Option<(PathBuf, u64, u64)> = None;
    let mut last_scan = None;
    for (n, (g, path)) in chain.iter().enumerate() {
        let is_last = n + 1 == chain.len();
        let data = files::read(path)?;
        sink.reserve(data.len() as u64);
        let mut kinds: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut rolls = 0;
        let mut ended_with_roll = false;
        let scanned = format::scan(&data, |_, rec| {
            sink.apply(rec);
            *kinds.entry(rec.kind()).or_default() += 1;
            ended_with_roll = rec.ends_day();
            rolls += u64::from(ended_with_roll);
        });
        let scan = match scanned {
            Ok(s) => s,
            Err(problem) => {
                refuse(
                    &mut report,
                    path,
                    Some(0),
                    format!("the journal's header is damaged: {problem}"),
                    "Restore it from a backup.".into(),
                );
                return done(report);
            }
        };
        report.settlements += rolls;
        let mut info = JournalInfo {
            file: path.clone(),
            generation: scan.header.generation,
            day: scan.header.day.clone(),
            records: scan.records,
            kinds,
            end: scan.end,
            file_len: data.len() as u64,
            tail: "clean",
            torn_bytes: 0,
            damage_at: None,
            valid_after: None,
            problem: None,
        };
        match &scan.tail {
            Tail::Clean => {}
            Tail::Torn { len } if is_last => {
                info.tail = "torn";
                info.torn_bytes = *len;
                torn = Some((path.clone(), scan.end, *len));
                report.actions.push(format!(
                    "drop the {len} bytes of an incomplete last write at byte {} of {} (a crash cut it short, so it was never acknowledged)",
                    scan.end,
                    path.display()
                ));
            }
            Tail::Torn { .. } | Tail::Damaged { .. } => {
                let (problem, valid_after, data_end) = match &scan.tail {
                    Tail::Damaged {
                        problem,
                        valid_after,
                        data_end,
                    } => (problem.to_string(), *valid_after, *data_end),
                    _ => (
                        "a record was cut short, but another journal follows".to_string(),
                        None,
                        scan.end,
                    ),
                };
                info.tail = "damaged";
                info.damage_at = Some(scan.end);
                info.valid_after = valid_after;
                info.problem = Some(problem.clone());
                let after = match valid_after {
                    Some(v) => format!(
                        "; valid records follow (the next at byte {v}), so this is not a write cut short by a crash"
                    ),
                    None => String::new(),
                };
                let lose = match valid_after {
                    Some(_) => {
                        " — including the valid records after the damage, which were acknowledged"
                    }
                    None => "",
                };
                report.journals.push(info);
                refuse(
                    &mut report,
                    path,
                    Some(scan.end),
                    format!(
                        "record {} (after {} whole records) does not check out: {problem}{after}",
                        scan.records + 1,
                        scan.records
                    ),
                    format!(
                        "`webctp ledger check{flag}` shows the details. Restore the file from a backup if you have one; otherwise `webctp ledger repair{flag} --truncate-at {}` drops everything from this byte on ({} bytes{lose}) and keeps a copy of the file.",
                        scan.end,
                        data_end - scan.end
                    ),
                );
                return done(report);
            }
            Tail::Truncated { file_len } => {
                info.tail = "damaged";
                info.damage_at = Some(scan.end);
                info.problem = Some("truncated".into());
                report.journals.push(info);
                refuse(
                    &mut report,
                    path,
                    Some(*file_len),
                    format!(
                        "the file is {file_len} bytes long, but webctp always keeps a journal a whole number of {} bytes with at least {} zero bytes after the last record: it was cut short (or extended) by something else, so records may be missing from its end ({} whole records end at byte {})",
                        scan.header.unit, scan.header.headroom, scan.records, scan.end
                    ),
                    format!(
                        "Restore the file from a backup. If you accept what it still holds, `webctp ledger repair{flag} --truncate-at {}` restores its shape and keeps a copy.",
                        scan.end
                    ),
                );
                return done(report);
            }
        }
        if scan.header.generation != *g {
            report.journals.push(info);
            refuse(
                &mut report,
                path,
                Some(0),
                format!(
                    "its header says generation {}, not {g} as its name does",
                    scan.header.generation
                ),
                "Restore the file from a backup.".into(),
            );
            return done(report);
        }
        report.journals.push(info);
        if !is_last && !ended_with_roll {
            refuse(
                &mut report,
                path,
                Some(scan.end),
                format!(
                    "the journal does not end with a day's settlement, yet journal {} follows it",
                    g + 1
                ),
                "Restore the directory from a backup.".into(),
            );
            return done(report);
        }
        if ended_with_roll {
            pending = Some((g + 1, sink.day_state()));
        }
        last_roll = ended_with_roll;
        if is_last {
            last_scan = Some(scan);
        }
    }
    report.state = Some(sink.summary());
    if let Err(problem) = sink.verify() {
        let file = chain.last().map_or(snap_path.clone(), |c| c.1.clone());
        refuse(
            &mut report,
            &file,
            None,
            format!("the ledger's records do not add up: {problem}"),
            "This is a bug or damage that the checksums did not catch; please report it with the directory. Restore from a backup to trade on.".into(),
        );
        return done(report);
    }
    let fresh = snapshot.is_none() && report.records() == 0;
    let last = chain.last().cloned();
    // A day's end whose snapshot is missing: make one (the last journal then starts
    // the next day), unless the last journal is that next day's already.
    let finish_roll = last_roll;
    if finish_roll {
        report.actions.push(format!(
            "finish the end of trading day (a crash interrupted it): new journal {}, snapshot",
            chain.last().map_or(1, |c| c.0 + 1)
        ));
    } else if let Some((next, _)) = &pending
        && *next > first
    {
        report.actions.push(format!(
            "write the snapshot that continues with journal {next}"
        ));
    }
    if !older.is_empty() {
        report.actions.push(format!(
            "{} {} closed journal(s) that the snapshot already holds",
            if opts.keep_closed {
                "archive"
            } else {
                "delete"
            },
            older.len()
        ));
    }
    if let Some(p) = &legacy_done {
        report.actions.push(format!(
            "archive the migrated first-format journal {}",
            p.display()
        ));
    }
    if !opts.write {
        return Ok(Recovered {
            report,
            active: None,
            fresh,
        });
    }

    // Everything checks out: now write.
    if let Some((path, at, len)) = &torn {
        tracing::warn!(
            file = %path.display(),
            offset = at,
            bytes = len,
            "dropping an incomplete last write (a crash cut it short; it was never acknowledged)"
        );
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(SimError::io("open", path))?;
        f.write_all_at(&vec![0u8; *len as usize], *at)
            .and_then(|_| f.sync_data())
            .map_err(SimError::io("repair", path))?;
    }
    let mut retire: Vec<PathBuf> = older;
    let active = match (last, last_scan) {
        (Some((g, _)), Some(_)) if finish_roll => {
            let state = sink.day_state();
            let journal = Journal::create(dir, FileHeader::new(g + 1, &state.trading_day), &[])?;
            write_snapshot(dir, g + 1, None, state)?;
            retire.extend(chain.iter().map(|c| c.1.clone()));
            (journal, 1)
        }
        (Some((_, path)), Some(scan)) => {
            if let Some((next, state)) = pending
                && next > first
            {
                write_snapshot(dir, next, None, state)?;
                retire.extend(chain.iter().filter(|c| c.0 < next).map(|c| c.1.clone()));
            }
            let next_seq = scan.next_seq();
            (Journal::open(&path, scan.header, scan.end)?, next_seq)
        }
        _ => {
            let day = sink.summary().trading_day;
            (Journal::create(dir, FileHeader::new(first, &day), &[])?, 1)
        }
    };
    for p in retire {
        retire_journal(dir, &p, opts.keep_closed)?;
    }
    if let Some(p) = legacy_done {
        files::retire(dir, &p, "ledger.journal.v1", true)?;
    }
    for t in files::temporaries(dir) {
        let _ = std::fs::remove_file(t);
    }
    Ok(Recovered {
        report,
        active: Some(active),
        fresh,
    })
}

/// Writes the snapshot atomically.
pub fn write_snapshot(
    dir: &Path,
    next_journal: u64,
    migrated_from: Option<Fingerprint>,
    state: super::DayState,
) -> Result<(), SimError> {
    let bytes = Snapshot {
        next_journal,
        migrated_from,
        state,
    }
    .encode()?;
    files::write_atomically(dir, snapshot::FILE, &bytes, "snapshot")
}

/// Archives (or deletes) a closed journal, named by its generation and day.
pub fn retire_journal(dir: &Path, path: &Path, keep: bool) -> Result<(), SimError> {
    let name = files::read(path)
        .ok()
        .and_then(|d| FileHeader::decode(&d).ok())
        .map(|h| format!("journal-{:08}-{}.wal", h.generation, h.day))
        .unwrap_or_else(|| {
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
    files::retire(dir, path, &name, keep)
}

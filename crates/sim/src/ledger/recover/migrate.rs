//! Migrating a first-format journal (written by an earlier webctp).

use std::collections::BTreeMap;
use std::path::Path;

use super::super::files::{self, Journal};
use super::super::format::{self, FileHeader, Fingerprint};
use super::super::{Replay, legacy};
use super::{JournalInfo, Options, Recovered, Report, data_dir_flag, done, refuse, write_snapshot};
use crate::error::SimError;
use crate::record::Record;

/// Migrates a first-format journal: the state after its last day's end becomes the
/// snapshot, the records after it journal 1. The snapshot is the commit point: until
/// it exists, the first-format journal stays the ledger (and a crash redoes this).
#[allow(clippy::too_many_arguments)]
pub(super) fn migrate(
    dir: &Path,
    path: &Path,
    data: &[u8],
    fp: Fingerprint,
    sink: &mut dyn Replay,
    opts: Options,
    mut report: Report,
) -> Result<Recovered, SimError> {
    let flag = data_dir_flag(dir);
    let mut state = sink.day_state();
    let mut day = state.trading_day.clone();
    let mut tail = Vec::new();
    let mut seq = 0u64;
    let mut kinds: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut encode_error = None;
    let read = legacy::read(data, |_, rec| {
        sink.apply(&rec);
        *kinds.entry(rec.kind()).or_default() += 1;
        match rec.next_day() {
            Some(next_day) => {
                state = sink.day_state();
                day = next_day.to_string();
                tail.clear();
                seq = 0;
                report.settlements += 1;
            }
            None => {
                if let Record::Start { day: d } = &rec {
                    day = d.clone();
                }
                seq += 1;
                if let Err(e) = format::encode_record(&rec, seq, &mut tail) {
                    encode_error = Some(e);
                }
            }
        }
    });
    report.legacy = Some(JournalInfo {
        file: path.to_path_buf(),
        generation: 0,
        day: day.clone(),
        records: read.records,
        kinds,
        end: read.end,
        file_len: data.len() as u64,
        tail: if read.bad_tail.is_some() {
            "damaged"
        } else {
            "clean"
        },
        torn_bytes: 0,
        damage_at: read.bad_tail.as_ref().map(|b| b.offset),
        valid_after: None,
        problem: read.bad_tail.as_ref().map(|b| b.problem.clone()),
    });
    if let Some(bad) = &read.bad_tail {
        refuse(
            &mut report,
            path,
            Some(bad.offset),
            format!(
                "this first-format journal (written by an earlier webctp) does not check out from here on: {}; {} non-zero bytes follow. Its format cannot tell a write cut short by a crash from damage",
                bad.problem, bad.bytes
            ),
            format!(
                "If the earlier webctp was stopped by a crash or `kill -9`, this is most likely its last, unacknowledged write: `webctp ledger check{flag}` shows the records, and `webctp ledger repair{flag} --truncate-at {}` drops the tail (a copy of the file is kept). Then start again to migrate the journal to the new format.",
                bad.offset
            ),
        );
        return done(report);
    }
    if let Some(e) = encode_error {
        return Err(SimError::Encode(e));
    }
    report.state = Some(sink.summary());
    if let Err(problem) = sink.verify() {
        refuse(
            &mut report,
            path,
            None,
            format!("the journal's records do not add up: {problem}"),
            "Restore it from a backup.".into(),
        );
        return done(report);
    }
    report.actions.push(format!(
        "migrate {} to the new format: a snapshot of {} and journal 1 with the {} records of the current day; the old file is kept in archive/",
        path.display(),
        state.trading_day,
        seq
    ));
    let fresh = read.records == 0;
    if !opts.write {
        return Ok(Recovered {
            report,
            active: None,
            fresh,
        });
    }
    let mut header = FileHeader::new(1, &day);
    header.migrated_from = Some(fp);
    let journal = Journal::create(dir, header, &tail)?;
    write_snapshot(dir, 1, Some(fp), state)?;
    files::retire(dir, path, "ledger.journal.v1", true)?;
    tracing::info!(
        records = read.records,
        "migrated the first-format sim journal; the old file is in archive/ledger.journal.v1"
    );
    for t in files::temporaries(dir) {
        let _ = std::fs::remove_file(t);
    }
    Ok(Recovered {
        report,
        active: Some((journal, seq + 1)),
        fresh,
    })
}

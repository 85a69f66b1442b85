//! `webctp ledger check` and `webctp ledger repair`: reading a ledger without starting
//! the gateway, and dropping a damaged tail when a person decides to.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::format::{self, FileHeader, Tail};
use super::recover::{self, Report};
use super::{files, legacy};
use crate::clock::{self, BeijingTime};
use crate::error::SimError;
use crate::exchange::Exchange;
use crate::products::ProductTable;
use crate::rng::Rng;

/// A ledger check: what recovery finds, without writing anything.
#[derive(Debug, Serialize)]
pub struct Check {
    #[serde(flatten)]
    pub report: Report,
    /// The pid of a webctp holding the directory (its last journal may be mid-write).
    pub in_use_by: Option<String>,
    /// There is no ledger here at all.
    pub empty: bool,
}

impl Check {
    pub fn ok(&self) -> bool {
        self.report.refusal.is_none()
    }
}

/// Reads the ledger in `dir` as a start would (over `products`, on the trading day of
/// `now` if the ledger is empty), and reports; changes nothing.
pub fn check(
    dir: &Path,
    products: std::sync::Arc<ProductTable>,
    now: &BeijingTime,
) -> Result<Check, SimError> {
    if !dir.exists() {
        return Err(SimError::Io {
            action: "read",
            path: dir.to_path_buf(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    // A shared lock only asks whether a gateway holds the directory; nothing is written.
    let in_use_by = std::fs::File::open(dir.join("LOCK")).ok().and_then(|f| {
        if f.try_lock_shared().is_ok() {
            return None;
        }
        let owner = std::fs::read_to_string(dir.join("LOCK")).unwrap_or_default();
        Some(format!(" (pid {})", owner.trim()))
    });
    let day = clock::date_string(products.calendar.trading_day_at(now));
    let mut ex = Exchange::with_products(day, Rng::new(1), products);
    let recovered = recover::recover(
        dir,
        &mut ex,
        recover::Options {
            write: false,
            keep_closed: true,
        },
    )?;
    let r = recovered.report;
    let empty = r.snapshot.is_none() && r.legacy.is_none() && r.journals.is_empty();
    Ok(Check {
        report: r,
        in_use_by,
        empty,
    })
}

/// What `repair` did.
#[derive(Debug, Serialize)]
pub struct Repaired {
    pub file: PathBuf,
    pub copy: PathBuf,
    pub offset: u64,
    /// Non-zero bytes dropped, and how many of them were whole, valid records.
    pub dropped_bytes: u64,
    pub dropped_records: u64,
}

/// Drops everything from `offset` on in the damaged (or given) journal, after copying
/// the file to `repair/`. `offset` must be where a record starts or where the valid
/// records end, as `check` reports them.
pub fn repair(dir: &Path, offset: u64, file: Option<&str>) -> Result<Repaired, SimError> {
    let _lock = files::lock_dir(dir)?;
    let path = match file {
        Some(f) => dir.join(f),
        None => {
            let legacy = dir.join(legacy::FILE);
            if legacy.exists() {
                legacy
            } else {
                files::list_journals(dir)?
                    .into_values()
                    .next_back()
                    .ok_or_else(|| SimError::NothingToRepair {
                        dir: dir.to_path_buf(),
                    })?
            }
        }
    };
    let data = files::read(&path)?;
    let is_legacy = path.file_name().is_some_and(|n| n == legacy::FILE);
    // Where records start, and where the valid ones end.
    let mut starts = Vec::new();
    let (end, header) = if is_legacy {
        let l = legacy::read(&data, |at, _| starts.push(at));
        (l.end, None)
    } else {
        let s =
            format::scan(&data, |at, _| starts.push(at)).map_err(|e| SimError::Unrepairable {
                file: path.clone(),
                problem: Box::new(e),
            })?;
        if matches!(s.tail, Tail::Clean)
            && offset == s.end
            && (data.len() as u64).is_multiple_of(u64::from(s.header.unit))
        {
            return Err(SimError::RepairClean { file: path, offset });
        }
        (s.end, Some(s.header))
    };
    if offset != end && !starts.contains(&offset) {
        let near: Vec<String> = starts
            .iter()
            .chain(std::iter::once(&end))
            .filter(|&&s| s.abs_diff(offset) < 4096)
            .map(|s| s.to_string())
            .collect();
        return Err(SimError::RepairOffset {
            file: path,
            offset,
            hint: if near.is_empty() {
                format!("the valid records end at byte {end}")
            } else {
                format!("records start near it at bytes {}", near.join(", "))
            },
        });
    }
    let dropped_records = starts.iter().filter(|&&s| s >= offset).count() as u64;
    let dropped_bytes = data[offset as usize..]
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i as u64 + 1);
    // Keep a copy first.
    let copies = dir.join(files::REPAIR);
    super::create_private_dir(&copies).map_err(SimError::io("create", &copies))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let copy = copies.join(format!(
        "{name}.{}.before-repair",
        clock::unix_nanos() / 1_000_000_000
    ));
    std::fs::write(&copy, &data)
        .and_then(|_| std::fs::File::open(&copy)?.sync_all())
        .map_err(SimError::io("copy to", &copy))?;
    files::sync_dir(&copies)?;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(SimError::io("open", &path))?;
    let mut len = data.len() as u64;
    if let Some(FileHeader { unit, headroom, .. }) = header {
        // Restore the writer's invariants: whole units, headroom after the records.
        let want = (offset + u64::from(headroom)).max(len);
        len = want.div_ceil(u64::from(unit)) * u64::from(unit);
        f.set_len(len).map_err(SimError::io("extend", &path))?;
    }
    let zeros = vec![0u8; 1 << 20];
    let mut at = offset;
    while at < len {
        let n = (len - at).min(zeros.len() as u64) as usize;
        f.write_all_at(&zeros[..n], at)
            .map_err(SimError::io("write", &path))?;
        at += n as u64;
    }
    f.sync_all().map_err(SimError::io("sync", &path))?;
    Ok(Repaired {
        file: path,
        copy,
        offset,
        dropped_bytes,
        dropped_records,
    })
}

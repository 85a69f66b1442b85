//! The ledger's directory: who holds it, what its files are called, and the few
//! operations that must survive a crash at any instant (a new file appears whole or
//! not at all; a journal grows before anything is written past its old end).
//!
//! ```text
//! LOCK                         the pid of the process holding the directory
//! state.snapshot               the state at the start of the current trading day
//! journal-00000003.wal         the current day's records (generation 3)
//! archive/journal-00000002-20261124.wal   closed days (Sim.ClosedJournals: archive)
//! archive/ledger.journal.v1    a first-format journal, after its migration
//! repair/...                   copies kept by `webctp ledger repair`
//! ```

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::failpoint;
use super::format::FileHeader;
use crate::error::SimError;

pub const ARCHIVE: &str = "archive";
pub const REPAIR: &str = "repair";

/// `journal-00000003.wal`.
pub fn journal_name(generation: u64) -> String {
    format!("journal-{generation:08}.wal")
}

fn parse_journal_name(name: &str) -> Option<u64> {
    name.strip_prefix("journal-")?
        .strip_suffix(".wal")?
        .parse()
        .ok()
}

/// The journals in `dir` by generation.
pub fn list_journals(dir: &Path) -> Result<BTreeMap<u64, PathBuf>, SimError> {
    let mut out = BTreeMap::new();
    let entries = std::fs::read_dir(dir).map_err(SimError::io("list", dir))?;
    for e in entries.flatten() {
        let name = e.file_name();
        if let Some(g) = name.to_str().and_then(parse_journal_name) {
            out.insert(g, e.path());
        }
    }
    Ok(out)
}

/// Leftovers of writes a crash interrupted (`*.tmp`).
pub fn temporaries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "tmp"))
                .collect()
        })
        .unwrap_or_default()
}

/// Makes a directory's entries (new, renamed, removed files) durable.
pub fn sync_dir(dir: &Path) -> Result<(), SimError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(SimError::io("sync", dir))
}

/// Writes `name` in `dir` whole or not at all: a temporary file, fsync, rename, fsync
/// of the directory. `point` names the kill points of crash tests.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8], point: &str) -> Result<(), SimError> {
    let tmp = dir.join(format!("{name}.tmp"));
    let path = dir.join(name);
    let mut f = File::create(&tmp).map_err(SimError::io("create", &tmp))?;
    if let Some(n) = failpoint::partial(&format!("{point}-partial")) {
        let _ = f.write_all(&bytes[..n.min(bytes.len())]);
        failpoint::die();
    }
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(SimError::io("write", &tmp))?;
    drop(f);
    failpoint::reached(&format!("{point}-synced"));
    std::fs::rename(&tmp, &path).map_err(SimError::io("rename", &tmp))?;
    failpoint::reached(&format!("{point}-renamed"));
    sync_dir(dir)?;
    failpoint::reached(&format!("{point}-durable"));
    Ok(())
}

/// Reads a whole file.
pub fn read(path: &Path) -> Result<Vec<u8>, SimError> {
    let mut data = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(SimError::io("read", path))?;
    Ok(data)
}

/// Moves a closed journal out of the way: into `archive/` (the audit trail), or gone.
pub fn retire(dir: &Path, path: &Path, archived_name: &str, keep: bool) -> Result<(), SimError> {
    if keep {
        let archive = dir.join(ARCHIVE);
        super::create_private_dir(&archive).map_err(SimError::io("create", &archive))?;
        let to = archive.join(archived_name);
        std::fs::rename(path, &to).map_err(SimError::io("archive", path))?;
        sync_dir(&archive)?;
    } else {
        std::fs::remove_file(path).map_err(SimError::io("remove", path))?;
    }
    sync_dir(dir)
}

/// Locks `dir` for this process (another webctp on it is refused) and writes our pid.
pub fn lock_dir(dir: &Path) -> Result<File, SimError> {
    let path = dir.join("LOCK");
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(SimError::io("open", &path))?;
    if f.try_lock().is_err() {
        let mut owner = String::new();
        let _ = f.read_to_string(&mut owner);
        let owner = owner.trim();
        return Err(SimError::Busy {
            dir: dir.to_path_buf(),
            owner: if owner.is_empty() {
                String::new()
            } else {
                format!(" (pid {owner})")
            },
        });
    }
    let _ = f.set_len(0);
    let _ = write!(f, "{}", std::process::id());
    let _ = f.sync_data();
    Ok(f)
}

/// A journal open for appending: records go at `end`; `capacity` bytes exist, all
/// zero past `end`.
pub struct Journal {
    pub file: File,
    pub path: PathBuf,
    pub header: FileHeader,
    pub end: u64,
    pub capacity: u64,
}

impl Journal {
    /// Opens an existing journal whose records end at `end`.
    pub fn open(path: &Path, header: FileHeader, end: u64) -> Result<Journal, SimError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(SimError::io("open", path))?;
        let capacity = file.metadata().map_err(SimError::io("read", path))?.len();
        let mut j = Journal {
            file,
            path: path.to_path_buf(),
            header,
            end,
            capacity,
        };
        j.reserve(0).map_err(SimError::io("preallocate", path))?;
        Ok(j)
    }

    /// Creates journal `header.generation` in `dir` whole (header, zeros) or not at
    /// all, with `records` (already framed) after the header.
    pub fn create(dir: &Path, header: FileHeader, records: &[u8]) -> Result<Journal, SimError> {
        let name = journal_name(header.generation);
        let tmp = dir.join(format!("{name}.tmp"));
        let path = dir.join(&name);
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&tmp)
            .map_err(SimError::io("create", &tmp))?;
        let head = header.encode();
        let mut j = Journal {
            file,
            path: tmp.clone(),
            header,
            end: 0,
            capacity: 0,
        };
        if let Some(n) = failpoint::partial("journal-partial") {
            let _ = j.file.write_all_at(&head[..n.min(head.len())], 0);
            failpoint::die();
        }
        j.write(&head)
            .and_then(|_| j.write(records))
            .and_then(|_| j.file.sync_all())
            .map_err(SimError::io("write", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(SimError::io("rename", &tmp))?;
        sync_dir(dir)?;
        failpoint::reached("journal-created");
        j.path = path;
        Ok(j)
    }

    /// Makes sure `more` bytes fit with the headroom to spare. The new length is set
    /// first (atomically), then zeros are written so that appends overwrite allocated
    /// blocks and a data sync needs no metadata update.
    pub fn reserve(&mut self, more: u64) -> std::io::Result<()> {
        let unit = u64::from(self.header.unit);
        let headroom = u64::from(self.header.headroom);
        if self.end + more + headroom <= self.capacity {
            return Ok(());
        }
        let target = (self.end + more + headroom).div_ceil(unit) * unit;
        self.file.set_len(target)?;
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

    /// Writes framed records at the end (not synced).
    pub fn write(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        self.reserve(buf.len() as u64)?;
        self.file.write_all_at(buf, self.end)?;
        self.end += buf.len() as u64;
        Ok(())
    }

    /// The name a closed journal gets in the archive.
    pub fn archived_name(&self) -> String {
        format!(
            "journal-{:08}-{}.wal",
            self.header.generation, self.header.day
        )
    }
}

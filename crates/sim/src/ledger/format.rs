//! The journal's bytes: a file header, then framed records, then preallocated zeros.
//!
//! ```text
//! file header (64 bytes): "webctpJ2", version, unit, headroom, generation, trading day,
//!                         flags, legacy fingerprint, crc32 of the 60 bytes before it
//! record: length u32 | sequence u64 | crc32 of the body | crc32 of these 16 bytes
//!         body (postcard, `length` bytes) | end mark 0xA5
//! ```
//!
//! The length is protected by its own checksum, so a damaged length is never taken for
//! the end of the data. Sequence numbers count from 1 in each file, so a stale or
//! repeated record is seen. The end mark makes a complete record's last byte non-zero.
//!
//! The writer keeps two invariants that a crash cannot break: the file's length is a
//! whole number of `unit`s (it is extended with `set_len` before anything is written
//! past the old length), and at least `headroom` zero bytes follow the last record. A
//! file that breaks them was truncated or extended by something else.
//!
//! What a crash can leave is a *torn* last write: a prefix of it reached the file and
//! the rest is still zero (a `kill -9` stops a write at a page boundary; a power cut
//! loses whole sectors). [`scan`] drops a tail only when it has exactly that shape —
//! the bad record claims to extend past the sector boundary after the last non-zero
//! byte, and no valid record header follows — so it was never completely written and
//! therefore never acknowledged. Anything else is damage, and the caller refuses.

use super::super::record::Record;
use crate::error::SimError;

pub const MAGIC: &[u8; 8] = b"webctpJ2";
pub const VERSION: u32 = 2;
pub const FILE_HEADER: usize = 64;
pub const RECORD_HEADER: usize = 20;
pub const END_MARK: u8 = 0xA5;
/// Bytes of a record besides its body.
pub const FRAME: usize = RECORD_HEADER + 1;
/// No record is this long; a longer length is damage.
pub const MAX_BODY: u32 = 16 << 20;
/// The unit of torn writes: whole sectors (a page is a whole number of them).
pub const SECTOR: u64 = 512;
/// Preallocation unit and headroom of new journals.
pub const UNIT: u32 = 4 << 20;
pub const HEADROOM: u32 = 256 << 10;

/// Identifies a first-format journal that was migrated: its length and crc32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fingerprint {
    pub len: u64,
    pub crc: u32,
}

impl Fingerprint {
    pub fn of(data: &[u8]) -> Fingerprint {
        Fingerprint {
            len: data.len() as u64,
            crc: crc32fast::hash(data),
        }
    }
}

/// What a journal's first 64 bytes say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHeader {
    pub generation: u64,
    /// The trading day the journal starts on (`YYYYMMDD`).
    pub day: String,
    pub unit: u32,
    pub headroom: u32,
    /// Written while migrating this first-format journal (not yet committed until the
    /// snapshot that names the same fingerprint exists).
    pub migrated_from: Option<Fingerprint>,
}

impl FileHeader {
    pub fn new(generation: u64, day: &str) -> FileHeader {
        FileHeader {
            generation,
            day: day.to_string(),
            unit: UNIT,
            headroom: HEADROOM,
            migrated_from: None,
        }
    }

    pub fn encode(&self) -> [u8; FILE_HEADER] {
        let mut h = [0u8; FILE_HEADER];
        h[..8].copy_from_slice(MAGIC);
        h[8..12].copy_from_slice(&VERSION.to_le_bytes());
        h[12..16].copy_from_slice(&self.unit.to_le_bytes());
        h[16..20].copy_from_slice(&self.headroom.to_le_bytes());
        h[20..28].copy_from_slice(&self.generation.to_le_bytes());
        let day = self.day.as_bytes();
        let n = day.len().min(8);
        h[28..28 + n].copy_from_slice(&day[..n]);
        if let Some(fp) = self.migrated_from {
            h[36] = 1;
            h[40..48].copy_from_slice(&fp.len.to_le_bytes());
            h[48..52].copy_from_slice(&fp.crc.to_le_bytes());
        }
        let crc = crc32fast::hash(&h[..60]);
        h[60..64].copy_from_slice(&crc.to_le_bytes());
        h
    }

    /// Reads a header; `Err` says what is wrong with it.
    pub fn decode(data: &[u8]) -> Result<FileHeader, SimError> {
        if data.len() < FILE_HEADER {
            return Err(SimError::Short {
                len: data.len(),
                header: "a journal header",
            });
        }
        let h = &data[..FILE_HEADER];
        if &h[..8] != MAGIC {
            return Err(SimError::NotOurs {
                header: "a webctp journal header",
            });
        }
        if crc32fast::hash(&h[..60]) != u32_at(h, 60) {
            return Err(SimError::Checksum { part: "header" });
        }
        let version = u32_at(h, 8);
        if version != VERSION {
            return Err(SimError::Version {
                format: "journal",
                found: version,
                reads: VERSION,
            });
        }
        let unit = u32_at(h, 12);
        let headroom = u32_at(h, 16);
        if unit == 0 || headroom >= unit {
            return Err(SimError::Preallocation { unit, headroom });
        }
        let day_bytes = &h[28..36];
        let n = day_bytes.iter().position(|&b| b == 0).unwrap_or(8);
        Ok(FileHeader {
            generation: u64_at(h, 20),
            day: String::from_utf8_lossy(&day_bytes[..n]).into_owned(),
            unit,
            headroom,
            migrated_from: (h[36] == 1).then(|| Fingerprint {
                len: u64_at(h, 40),
                crc: u32_at(h, 48),
            }),
        })
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// Frames one record with sequence number `seq`.
pub fn encode_record(rec: &Record, seq: u64, out: &mut Vec<u8>) -> Result<(), postcard::Error> {
    let body = postcard::to_stdvec(rec)?;
    let len = u32::try_from(body.len()).map_err(|_| postcard::Error::SerializeBufferFull)?;
    let mut h = [0u8; RECORD_HEADER];
    h[..4].copy_from_slice(&len.to_le_bytes());
    h[4..12].copy_from_slice(&seq.to_le_bytes());
    h[12..16].copy_from_slice(&crc32fast::hash(&body).to_le_bytes());
    let hc = crc32fast::hash(&h[..16]);
    h[16..20].copy_from_slice(&hc.to_le_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(&body);
    out.push(END_MARK);
    Ok(())
}

/// A record header whose checksum holds: (body length, sequence, body crc).
fn header_at(data: &[u8], at: usize) -> Option<(usize, u64, u32)> {
    let h = data.get(at..at + RECORD_HEADER)?;
    if h.iter().all(|&b| b == 0) || crc32fast::hash(&h[..16]) != u32_at(h, 16) {
        return None;
    }
    Some((u32_at(h, 0) as usize, u64_at(h, 4), u32_at(h, 12)))
}

/// What is wrong at the first record that does not check out.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    HeaderChecksum,
    BodyChecksum,
    /// The header is valid but carries the wrong sequence number.
    Sequence {
        found: u64,
    },
    TooLong {
        len: u64,
    },
    /// The record claims bytes beyond the end of the file.
    BeyondEnd,
    /// The body checks out but does not decode (written by a newer webctp?).
    Undecodable(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::HeaderChecksum => f.write_str(
                "the record's header (its length and sequence number) does not match its checksum",
            ),
            Problem::BodyChecksum => f.write_str("the record's body does not match its checksum"),
            Problem::Sequence { found } => write!(
                f,
                "the record carries sequence number {found}, out of order"
            ),
            Problem::TooLong { len } => write!(f, "the record claims a length of {len} bytes"),
            Problem::BeyondEnd => f.write_str("the record runs past the end of the file"),
            Problem::Undecodable(e) => write!(
                f,
                "the record checks out but cannot be read ({e}); was it written by a newer webctp?"
            ),
        }
    }
}

/// How the records of a journal end.
#[derive(Debug, Clone, PartialEq)]
pub enum Tail {
    /// Zeros follow the last record.
    Clean,
    /// `len` bytes of a write that never completed follow the last record.
    Torn { len: u64 },
    /// The record at `at` is damaged.
    Damaged {
        problem: Problem,
        /// Where the next valid record header is, if any.
        valid_after: Option<u64>,
        /// Where the last non-zero byte ends.
        data_end: u64,
    },
    /// The file's length breaks the writer's invariants.
    Truncated { file_len: u64 },
}

/// The result of reading a journal.
#[derive(Debug, Clone)]
pub struct Scan {
    pub header: FileHeader,
    /// Whole records read.
    pub records: u64,
    /// Where the last whole record ends (and the next one would start).
    pub end: u64,
    pub tail: Tail,
}

impl Scan {
    /// The sequence number of the next record.
    pub fn next_seq(&self) -> u64 {
        self.records + 1
    }
}

/// Reads a journal, handing each whole record to `each` with its offset. `Err` is a
/// damaged file header.
pub fn scan(data: &[u8], mut each: impl FnMut(u64, &Record)) -> Result<Scan, SimError> {
    let header = FileHeader::decode(data)?;
    let mut pos = FILE_HEADER;
    let mut seq = 1u64;
    let tail = loop {
        let Some((len, found, crc)) = header_at(data, pos) else {
            break classify(data, pos, None);
        };
        if found != seq {
            break damaged(data, pos, Problem::Sequence { found });
        }
        if len as u64 > u64::from(MAX_BODY) {
            break damaged(data, pos, Problem::TooLong { len: len as u64 });
        }
        let end = pos + FRAME + len;
        if end > data.len() {
            break damaged(data, pos, Problem::BeyondEnd);
        }
        let body = &data[pos + RECORD_HEADER..end - 1];
        if crc32fast::hash(body) != crc || data[end - 1] != END_MARK {
            break classify(data, pos, Some(end));
        }
        match postcard::from_bytes::<Record>(body) {
            Ok(rec) => each(pos as u64, &rec),
            Err(e) => break damaged(data, pos, Problem::Undecodable(e.to_string())),
        }
        pos = end;
        seq += 1;
    };
    let len = data.len() as u64;
    let unit = u64::from(header.unit);
    let written_end = match &tail {
        Tail::Torn { len } => pos as u64 + len,
        _ => pos as u64,
    };
    let tail = match tail {
        Tail::Clean | Tail::Torn { .. }
            if !len.is_multiple_of(unit) || written_end + u64::from(header.headroom) > len =>
        {
            Tail::Truncated { file_len: len }
        }
        t => t,
    };
    Ok(Scan {
        header,
        records: seq - 1,
        end: pos as u64,
        tail,
    })
}

fn last_non_zero(data: &[u8], from: usize) -> usize {
    data[from..]
        .iter()
        .rposition(|&b| b != 0)
        .map_or(from, |i| from + i + 1)
}

/// The first offset in `from..to` where a valid record header starts.
fn next_valid_header(data: &[u8], from: usize, to: usize) -> Option<u64> {
    (from..to)
        .find(|&q| header_at(data, q).is_some())
        .map(|q| q as u64)
}

fn damaged(data: &[u8], at: usize, problem: Problem) -> Tail {
    let data_end = last_non_zero(data, at);
    Tail::Damaged {
        problem,
        valid_after: next_valid_header(data, at + 1, data_end),
        data_end: data_end as u64,
    }
}

/// Decides what a record that does not check out at `at` is. `claimed_end` is where
/// it ends by its (valid) header; `None` when the header itself is bad.
fn classify(data: &[u8], at: usize, claimed_end: Option<usize>) -> Tail {
    let data_end = last_non_zero(data, at);
    if data_end == at {
        return Tail::Clean;
    }
    let valid_after = next_valid_header(data, at + 1, data_end);
    let claimed = claimed_end.unwrap_or(at + RECORD_HEADER) as u64;
    let sector_end = (data_end as u64).div_ceil(SECTOR) * SECTOR;
    if valid_after.is_none() && claimed > sector_end {
        return Tail::Torn {
            len: (data_end - at) as u64,
        };
    }
    Tail::Damaged {
        problem: if claimed_end.is_some() {
            Problem::BodyChecksum
        } else {
            Problem::HeaderChecksum
        },
        valid_after,
        data_end: data_end as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: i32) -> Record {
        Record::Confirm {
            user: format!("user-{n}"),
            day: "20261124".into(),
            date: "20261124".into(),
            time: "09:00:00".into(),
        }
    }

    /// A small unit keeps the tests fast.
    fn header() -> FileHeader {
        let mut h = FileHeader::new(1, "20261124");
        h.unit = 1 << 14;
        h.headroom = 1 << 11;
        h
    }

    /// A journal of `n` records padded to one unit; returns it and the records' offsets.
    fn journal(n: i32) -> (Vec<u8>, Vec<usize>) {
        let mut data = header().encode().to_vec();
        let mut at = Vec::new();
        for i in 0..n {
            at.push(data.len());
            encode_record(&rec(i), i as u64 + 1, &mut data).unwrap();
        }
        at.push(data.len());
        data.resize(1 << 14, 0);
        (data, at)
    }

    fn read(data: &[u8]) -> (Vec<Record>, Scan) {
        let mut v = Vec::new();
        let s = scan(data, |_, r| v.push(r.clone())).unwrap();
        (v, s)
    }

    #[test]
    fn whole_records_read_back_and_zeros_end_them() {
        let (data, at) = journal(3);
        let (recs, s) = read(&data);
        assert_eq!(recs, vec![rec(0), rec(1), rec(2)]);
        assert_eq!(s.tail, Tail::Clean);
        assert_eq!(s.end as usize, at[3]);
        assert_eq!(s.next_seq(), 4);
    }

    #[test]
    fn any_flipped_bit_of_a_record_is_damage_or_refused_never_a_silent_loss() {
        let (data, at) = journal(3);
        for r in 0..3 {
            for byte in at[r]..at[r + 1] {
                for bit in [0u8, 3, 7] {
                    let mut d = data.clone();
                    d[byte] ^= 1 << bit;
                    let (recs, s) = read(&d);
                    // Never fewer whole records without saying the file is damaged.
                    assert!(
                        matches!(s.tail, Tail::Damaged { .. }),
                        "record {r} byte {byte} bit {bit}: {:?} with {} records",
                        s.tail,
                        recs.len()
                    );
                    assert_eq!(recs.len(), r);
                }
            }
        }
    }

    #[test]
    fn a_write_cut_at_a_sector_boundary_is_torn_and_dropped() {
        // Records long enough to span sectors.
        let mut data = header().encode().to_vec();
        let mut at = Vec::new();
        for i in 0..40 {
            at.push(data.len());
            encode_record(&rec(i), i as u64 + 1, &mut data).unwrap();
        }
        let full = data.len();
        data.resize(1 << 14, 0);
        // Every cut of the last write (the last 20 records) on a sector boundary.
        let first = at[20];
        let mut cuts = 0;
        for cut in (first as u64..full as u64).filter(|c| c % SECTOR == 0) {
            let mut d = data.clone();
            d[cut as usize..full].fill(0);
            let (recs, s) = read(&d);
            at.push(full);
            let whole = at.windows(2).filter(|w| w[1] <= cut as usize).count();
            at.pop();
            assert_eq!(recs.len(), whole, "cut at {cut}");
            match s.tail {
                Tail::Torn { len } => assert!(s.end + len <= cut),
                Tail::Clean => assert_eq!(s.end, cut),
                other => panic!("cut at {cut}: {other:?}"),
            }
            cuts += 1;
        }
        assert!(cuts > 0);
    }

    #[test]
    fn truncation_garbage_and_zeroed_blocks_are_refused() {
        let (data, at) = journal(5);
        // Truncated anywhere: the length is no longer a whole unit.
        for cut in at[4]..=at[5] {
            let (_, s) = read(&data[..cut]);
            assert!(
                matches!(s.tail, Tail::Truncated { .. } | Tail::Damaged { .. }),
                "cut at {cut}: {:?}",
                s.tail
            );
        }
        // Garbage after the last record.
        let mut d = data.clone();
        d[at[5]..at[5] + 100].fill(0x5a);
        assert!(matches!(read(&d).1.tail, Tail::Damaged { .. }));
        // A zeroed block in the middle, with records after it.
        let mut d = data.clone();
        d[at[1] + 3..at[2] + 10].fill(0);
        let (recs, s) = read(&d);
        assert_eq!(recs.len(), 1);
        assert!(
            matches!(
                s.tail,
                Tail::Damaged {
                    valid_after: Some(_),
                    ..
                }
            ),
            "{:?}",
            s.tail
        );
        // Data too close to the end of the file.
        let mut d = data[..at[5]].to_vec();
        d.resize(at[5] + 100, 0);
        assert!(matches!(read(&d).1.tail, Tail::Truncated { .. }));
    }

    #[test]
    fn file_headers_round_trip_and_damage_is_named() {
        let mut h = FileHeader::new(7, "20261125");
        h.migrated_from = Some(Fingerprint { len: 99, crc: 5 });
        let b = h.encode();
        assert_eq!(FileHeader::decode(&b).unwrap(), h);
        let mut bad = b;
        bad[22] ^= 1;
        assert!(matches!(
            FileHeader::decode(&bad),
            Err(SimError::Checksum { part: "header" })
        ));
        assert_eq!(
            FileHeader::decode(&b[..10]).unwrap_err().to_string(),
            "the file is 10 bytes long, shorter than a journal header"
        );
        // Another version of the format says which, and which this build reads.
        let mut newer = FileHeader::new(7, "20261125").encode();
        newer[8..12].copy_from_slice(&(VERSION + 1).to_le_bytes());
        let crc = crc32fast::hash(&newer[..60]);
        newer[60..64].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            FileHeader::decode(&newer).unwrap_err().to_string(),
            format!(
                "it is version {} of the journal format; this webctp reads version {VERSION}",
                VERSION + 1
            )
        );
    }
}

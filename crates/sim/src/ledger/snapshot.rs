//! The snapshot: the exchange's state at the start of the current trading day, and
//! the journal that continues it. Written at each day's end, atomically (a temporary
//! file, fsync, rename, fsync of the directory), so a crash leaves either the old
//! snapshot or the new one, never a mix.
//!
//! ```text
//! "webctpS1" | version u32 | 0 u32 | body length u64 | crc32 of the body | crc32 of
//! these 28 bytes | body (JSON: new fields get defaults, so it can grow)
//! ```

use serde::{Deserialize, Serialize};

use super::super::day_state::DayState;
use super::format::Fingerprint;
use crate::error::SimError;

const MAGIC: &[u8; 8] = b"webctpS1";
const VERSION: u32 = 1;
const HEADER: usize = 32;
/// The file name of the snapshot.
pub const FILE: &str = "state.snapshot";

/// What a snapshot holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The generation of the journal that continues this state.
    pub next_journal: u64,
    /// Set when this snapshot committed the migration of a first-format journal.
    #[serde(default)]
    pub migrated_from: Option<Fingerprint>,
    pub state: DayState,
}

impl Snapshot {
    pub fn encode(&self) -> Result<Vec<u8>, SimError> {
        let body = serde_json::to_vec(self).map_err(SimError::EncodeSnapshot)?;
        let mut out = Vec::with_capacity(HEADER + body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        let hc = crc32fast::hash(&out);
        out.extend_from_slice(&hc.to_le_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Reads a snapshot; `Err` says what is wrong (nothing is ever guessed: the
    /// snapshot is written atomically, so any damage is damage).
    pub fn decode(data: &[u8]) -> Result<Snapshot, SimError> {
        if data.len() < HEADER {
            return Err(SimError::Short {
                len: data.len(),
                header: "a snapshot header",
            });
        }
        if &data[..8] != MAGIC {
            return Err(SimError::NotOurs {
                header: "a webctp snapshot header",
            });
        }
        let h = &data[..HEADER];
        let word = |at: usize| u32::from_le_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
        if crc32fast::hash(&h[..28]) != word(28) {
            return Err(SimError::Checksum { part: "header" });
        }
        if word(8) != VERSION {
            return Err(SimError::Version {
                format: "snapshot",
                found: word(8),
                reads: VERSION,
            });
        }
        let mut len = [0u8; 8];
        len.copy_from_slice(&h[16..24]);
        let len = u64::from_le_bytes(len);
        if data.len() as u64 != HEADER as u64 + len {
            return Err(SimError::Length {
                expected: HEADER as u64 + len,
                actual: data.len() as u64,
            });
        }
        let body = &data[HEADER..];
        if crc32fast::hash(body) != word(24) {
            return Err(SimError::Checksum { part: "body" });
        }
        serde_json::from_slice(body).map_err(|source| SimError::Json {
            what: "its body",
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap() -> Snapshot {
        Snapshot {
            next_journal: 3,
            migrated_from: None,
            state: DayState {
                trading_day: "20261125".into(),
                next_sys_id: 5,
                next_trade_id: 6,
                next_broker_seq: 7,
                sequence: 8,
                settlement: vec![("rb2605".into(), 3170.0)],
                accounts: Vec::new(),
                instruments: Vec::new(),
            },
        }
    }

    #[test]
    fn snapshots_round_trip_and_any_flipped_bit_is_refused() {
        let b = snap().encode().unwrap();
        assert_eq!(Snapshot::decode(&b).unwrap(), snap());
        for i in 0..b.len() {
            let mut d = b.clone();
            d[i] ^= 0x10;
            assert!(Snapshot::decode(&d).is_err(), "flip at {i} accepted");
        }
        let cut = Snapshot::decode(&b[..b.len() - 1]).unwrap_err().to_string();
        assert_eq!(
            cut,
            format!("it should be {} bytes long but is {}", b.len(), b.len() - 1)
        );
    }
}

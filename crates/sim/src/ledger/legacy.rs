//! The first journal format (webctp before the framed journal): `ledger.journal`,
//! records `[length u32][crc32 u32][JSON]`, preallocated with zeros.
//!
//! Its length is not protected, so a damaged length cannot be told from the end of
//! the data: such a journal is read only when every record checks out up to zeros.
//! Then it is migrated once (see `recover`) and kept in `archive/`. A tail that does
//! not check out is refused with the offset, for a person to look at
//! (`webctp ledger check`) and drop (`webctp ledger repair --truncate-at`).

use serde::Deserialize;

use super::super::account::CloseSplit;
use super::super::record::{InsertRecord, Record, Stamp, StatusMsg, parse_id};
use crate::error::SimError;

/// The file name of a first-format journal.
pub const FILE: &str = "ledger.journal";

#[derive(Deserialize)]
#[serde(tag = "k")]
enum V1Record {
    Start {
        day: String,
    },
    Open {
        user: String,
        salt: String,
        digest: String,
        funds: f64,
    },
    Password {
        user: String,
        salt: String,
        digest: String,
    },
    Confirm {
        user: String,
        day: String,
        date: String,
        time: String,
    },
    Insert(Box<V1Insert>),
    Fill {
        sys_id: String,
        trade_id: String,
        price: f64,
        volume: i32,
        date: String,
        time: String,
        // A fill that changed nothing was written with null here.
        commission: Option<f64>,
        close_profit: Option<f64>,
    },
    Cancel {
        sys_id: String,
        time: String,
        msg: String,
    },
    Roll {
        next_day: String,
        settlement: Vec<(String, f64)>,
        profit: Vec<(String, f64)>,
    },
}

#[derive(Deserialize)]
struct V1Insert {
    user: String,
    instrument: String,
    direction: u8,
    offset: u8,
    price_type: u8,
    limit_price: f64,
    volume: i32,
    time_condition: u8,
    volume_condition: u8,
    min_volume: i32,
    hedge: u8,
    order_ref: String,
    front_id: i32,
    session_id: i32,
    request_id: i32,
    sys_id: String,
    date: String,
    time: String,
    broker_seq: i32,
    plan: CloseSplit,
    margin_per_lot: f64,
    commission_per_lot: f64,
}

fn id(s: &str) -> Result<u64, SimError> {
    parse_id(s).ok_or_else(|| SimError::NotANumber { id: s.to_string() })
}

impl V1Record {
    fn into_record(self) -> Result<Record, SimError> {
        Ok(match self {
            V1Record::Start { day } => Record::Start { day },
            V1Record::Open {
                user,
                salt,
                digest,
                funds,
            } => Record::Open {
                user,
                salt,
                digest,
                funds,
            },
            V1Record::Password { user, salt, digest } => Record::Password { user, salt, digest },
            V1Record::Confirm {
                user,
                day,
                date,
                time,
            } => Record::Confirm {
                user,
                day,
                date,
                time,
            },
            V1Record::Insert(r) => Record::Insert(Box::new(InsertRecord {
                sys_id: id(&r.sys_id)?,
                user: r.user,
                instrument: r.instrument,
                order_ref: r.order_ref,
                direction: r.direction,
                offset: r.offset,
                price_type: r.price_type,
                time_condition: r.time_condition,
                volume_condition: r.volume_condition,
                hedge: r.hedge,
                limit_price: r.limit_price,
                volume: r.volume,
                min_volume: r.min_volume,
                front_id: r.front_id,
                session_id: r.session_id,
                request_id: r.request_id,
                date: Stamp::new(&r.date),
                time: Stamp::new(&r.time),
                broker_seq: r.broker_seq,
                plan: r.plan,
                margin_per_lot: r.margin_per_lot,
                commission_per_lot: r.commission_per_lot,
            })),
            V1Record::Fill {
                sys_id,
                trade_id,
                price,
                volume,
                date,
                time,
                commission,
                close_profit,
            } => Record::Fill {
                sys_id: id(&sys_id)?,
                trade_id: id(&trade_id)?,
                price,
                volume,
                date: Stamp::new(&date),
                time: Stamp::new(&time),
                // Unknown cost: the replay does not check it.
                commission: commission.unwrap_or(f64::NAN),
                close_profit: close_profit.unwrap_or(f64::NAN),
            },
            V1Record::Cancel { sys_id, time, msg } => Record::Cancel {
                sys_id: id(&sys_id)?,
                time: Stamp::new(&time),
                msg: StatusMsg::of_cancel(&msg),
            },
            V1Record::Roll {
                next_day,
                settlement,
                profit,
            } => Record::Roll {
                next_day,
                settlement,
                profit,
            },
        })
    }
}

/// Where and why a first-format journal stops checking out.
#[derive(Debug, Clone, PartialEq)]
pub struct BadTail {
    /// The offset of the first record that does not check out.
    pub offset: u64,
    /// Non-zero bytes from there on.
    pub bytes: u64,
    pub problem: String,
}

/// How far a first-format journal checks out.
#[derive(Debug)]
pub struct Legacy {
    pub records: u64,
    pub end: u64,
    pub bad_tail: Option<BadTail>,
}

/// Reads a first-format journal as far as its records check out, handing each
/// record to `each` with its offset.
pub fn read(data: &[u8], mut each: impl FnMut(u64, Record)) -> Legacy {
    let mut records = 0;
    let mut pos = 0usize;
    let bad = |pos: usize, problem: String| {
        let nz = data[pos..]
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |i| i + 1);
        Some(BadTail {
            offset: pos as u64,
            bytes: nz as u64,
            problem,
        })
    };
    let bad_tail = loop {
        let rest = &data[pos..];
        if rest.iter().all(|&b| b == 0) {
            break None;
        }
        if rest.len() < 8 {
            break bad(pos, "a record header is cut short".into());
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        if rest.len() < 8 + len {
            break bad(
                pos,
                format!("a record claims {len} bytes, more than the file holds"),
            );
        }
        let body = &rest[8..8 + len];
        if crc32fast::hash(body) != crc {
            break bad(pos, "a record does not match its checksum".into());
        }
        let rec = serde_json::from_slice::<V1Record>(body)
            .map_err(|source| SimError::Json {
                what: "a record",
                source,
            })
            .and_then(V1Record::into_record);
        match rec {
            Ok(r) => {
                each(pos as u64, r);
                records += 1;
            }
            Err(e @ SimError::Json { .. }) => break bad(pos, e.to_string()),
            Err(e) => break bad(pos, format!("a record cannot be read: {e}")),
        }
        pos += 8 + len;
    };
    Legacy {
        records,
        end: pos as u64,
        bad_tail,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Frames JSON records the way the first format did.
    pub(crate) fn v1(records: &[serde_json::Value]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in records {
            let json = serde_json::to_vec(r).unwrap();
            out.extend_from_slice(&(json.len() as u32).to_le_bytes());
            out.extend_from_slice(&crc32fast::hash(&json).to_le_bytes());
            out.extend_from_slice(&json);
        }
        out
    }

    #[test]
    fn first_format_records_are_read_and_a_bad_tail_is_reported() {
        use serde_json::json;
        let recs = [
            json!({"k": "Start", "day": "20261124"}),
            json!({"k": "Open", "user": "u", "salt": "s", "digest": "d", "funds": 100.0}),
            json!({"k": "Fill", "sys_id": "      100001", "trade_id": "      100002", "price": 1.5,
                   "volume": 1, "date": "20261124", "time": "09:00:00", "commission": null, "close_profit": null}),
            json!({"k": "Cancel", "sys_id": "      100001", "time": "09:00:01", "msg": "收盘撤单"}),
        ];
        let mut data = v1(&recs);
        let clean_end = data.len() as u64;
        data.extend(vec![0u8; 1000]);
        let mut got = Vec::new();
        let l = read(&data, |_, r| got.push(r));
        assert_eq!(l.records, 4);
        assert_eq!(l.end, clean_end);
        assert!(l.bad_tail.is_none());
        assert!(matches!(
            got[3],
            Record::Cancel {
                sys_id: 100001,
                msg: StatusMsg::ClosedCanceled,
                ..
            }
        ));
        let mut torn = data.clone();
        torn[clean_end as usize] = 9;
        let l = read(&torn, |_, _| {});
        assert_eq!(l.records, 4);
        assert_eq!(l.bad_tail.unwrap().offset, clean_end);
    }
}

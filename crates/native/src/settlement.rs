//! Settlement statements arrive as many `OnRspQrySettlementInfo` callbacks whose
//! `Content` (500 bytes each) is cut wherever the byte count says — often in the middle
//! of a GBK character. Decoding each part on its own would garble those characters,
//! so the raw bytes are joined per request and decoded once, into one answer.

use std::collections::HashMap;

use webctp_protocol::Reply;
use webctp_protocol::fields::{Body, RspInfo, SettlementInfo};

use super::cstr::gbk_decode;

/// A statement larger than this is cut (a real one is a few hundred KiB at most).
const MAX_STATEMENT_BYTES: usize = 64 << 20;

#[derive(Default)]
struct Parts {
    first: Option<SettlementInfo>,
    bytes: Vec<u8>,
    /// The first error reported, else the last RspInfo seen.
    info: Option<RspInfo>,
}

/// Statements being received, by RequestID.
#[derive(Default)]
pub struct SettlementJoiner {
    pending: HashMap<i32, Parts>,
}

impl SettlementJoiner {
    /// Adds one callback; on the last one, returns the whole answer.
    pub fn add(
        &mut self,
        chunk: Option<(SettlementInfo, Vec<u8>)>,
        info: Option<RspInfo>,
        request_id: i32,
        is_last: bool,
    ) -> Option<Reply> {
        let parts = self.pending.entry(request_id).or_default();
        if let Some((record, bytes)) = chunk {
            if parts.first.is_none() {
                parts.first = Some(record);
            }
            if parts.bytes.len() + bytes.len() <= MAX_STATEMENT_BYTES {
                parts.bytes.extend_from_slice(&bytes);
            }
        }
        if let Some(i) = info
            && parts.info.as_ref().is_none_or(|old| old.ErrorID == 0)
        {
            parts.info = Some(i);
        }
        if !is_last {
            return None;
        }
        let parts = self.pending.remove(&request_id)?;
        if parts.bytes.len() >= MAX_STATEMENT_BYTES {
            tracing::warn!(
                bytes = parts.bytes.len(),
                "settlement statement too large; it was cut"
            );
        }
        let body = parts.first.map(|mut s| {
            s.Content = gbk_decode(&parts.bytes);
            Body::from(s)
        });
        Some(Reply::response(
            "RspQrySettlementInfo",
            "SettlementInfo",
            body,
            parts.info,
            request_id,
            true,
        ))
    }

    /// Forgets statements that will never be finished (the front went away).
    pub fn clear(&mut self) {
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: i32) -> SettlementInfo {
        SettlementInfo {
            TradingDay: "20250618".into(),
            InvestorID: "u1".into(),
            SequenceNo: seq,
            ..SettlementInfo::default()
        }
    }

    #[test]
    fn parts_split_inside_characters_are_joined_then_decoded() {
        let text = "结算单 Statement: 期末结存 1000.00 元";
        let gbk = encoding_rs::GB18030.encode(text).0.into_owned();
        let mut j = SettlementJoiner::default();
        // Cut after 1, 4 and 11 bytes: inside 结, inside 单... wherever it lands.
        let cuts = [0, 1, 4, 11, gbk.len()];
        let mut out = None;
        for w in cuts.windows(2) {
            let last = w[1] == gbk.len();
            let r = j.add(
                Some((record(w[0] as i32), gbk[w[0]..w[1]].to_vec())),
                None,
                7,
                last,
            );
            assert_eq!(r.is_some(), last);
            out = r;
        }
        let r = out.unwrap();
        assert_eq!(r.msg_type, "RspQrySettlementInfo");
        assert_eq!(r.request_id, Some(7));
        assert!(r.is_last);
        let Some(Body::SettlementInfo(s)) = r.body else {
            panic!("no body")
        };
        assert_eq!(s.Content, text);
        assert_eq!(s.SequenceNo, 0);
        assert!(j.pending.is_empty());
    }

    #[test]
    fn empty_answer_and_errors_pass_through() {
        let mut j = SettlementJoiner::default();
        let r = j.add(None, None, 3, true).unwrap();
        assert!(r.body.is_none());
        assert!(r.rsp_info.is_none());
        let err = RspInfo {
            ErrorID: webctp_protocol::errors::ctp::NEED_RETRY,
            ErrorMsg: "CTP:查询未就绪，请稍后重试".into(),
        };
        assert!(
            j.add(Some((record(1), b"a".to_vec())), Some(err), 4, false)
                .is_none()
        );
        let ok = RspInfo {
            ErrorID: 0,
            ErrorMsg: "正确".into(),
        };
        let r = j
            .add(Some((record(2), b"b".to_vec())), Some(ok), 4, true)
            .unwrap();
        assert_eq!(r.error_id(), webctp_protocol::errors::ctp::NEED_RETRY);
    }

    #[test]
    fn requests_do_not_mix() {
        let mut j = SettlementJoiner::default();
        assert!(
            j.add(Some((record(1), b"aa".to_vec())), None, 1, false)
                .is_none()
        );
        assert!(
            j.add(Some((record(1), b"bb".to_vec())), None, 2, false)
                .is_none()
        );
        let r1 = j
            .add(Some((record(2), b"A".to_vec())), None, 1, true)
            .unwrap();
        let Some(Body::SettlementInfo(s)) = r1.body else {
            panic!()
        };
        assert_eq!(s.Content, "aaA");
        j.clear();
        assert!(j.pending.is_empty());
    }
}

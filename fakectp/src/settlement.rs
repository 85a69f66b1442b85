//! Settlement statements the way a trading front sends them: the GBK text cut into
//! parts of at most 500 bytes, one `OnRspQrySettlementInfo` each. This fake cuts
//! inside a two-byte character whenever a part holds one, so that a client decoding
//! the parts separately would garble text.

use std::ffi::c_char;
use std::ptr::null_mut;

use webctp_native::convert::CtpStruct;
use webctp_native::vtables::CThostFtdcTraderSpi;
use webctp_protocol::Reply;
use webctp_protocol::fields::Body;

use crate::spi_calls::call_td_spi;

/// `Content` is `char[501]`.
const MAX_PART: usize = 500;
const DEFAULT_PART: usize = 100;

fn part_size() -> usize {
    std::env::var("FAKECTP_SETTLEMENT_CHUNK")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(DEFAULT_PART)
        .clamp(4, MAX_PART)
}

/// Byte length of the GB18030 character starting at `i`.
fn char_len(bytes: &[u8], i: usize) -> usize {
    if bytes[i] < 0x80 {
        1
    } else if bytes.get(i + 1).is_some_and(|b| (0x30..=0x39).contains(b)) {
        4
    } else {
        2
    }
}

/// Cuts `bytes` into parts of at most `size` bytes, each ending inside a multi-byte
/// character when it contains the start of one.
pub fn split(bytes: &[u8], size: usize) -> Vec<&[u8]> {
    let size = size.clamp(4, MAX_PART);
    let mut starts = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        starts.push(i);
        i += char_len(bytes, i);
    }
    let mut parts = Vec::new();
    let mut from = 0;
    while bytes.len() - from > size {
        let limit = from + size;
        // The last multi-byte character starting inside this part: cut after its
        // first byte.
        let cut = starts
            .iter()
            .rev()
            .find(|&&s| s > from && s < limit && bytes[s] >= 0x80)
            .map_or(limit, |&s| s + 1);
        parts.push(&bytes[from..cut]);
        from = cut;
    }
    parts.push(&bytes[from..]);
    parts
}

/// Delivers a settlement answer in parts.
///
/// # Safety
/// `spi` must be the client's live `CThostFtdcTraderSpi`.
pub unsafe fn deliver(spi: *mut CThostFtdcTraderSpi, r: &Reply) {
    let Some(Body::SettlementInfo(s)) = &r.body else {
        // An empty or failed answer has no text to cut.
        unsafe { call_td_spi(spi, r) };
        return;
    };
    let v = unsafe { &*(*spi).vtbl };
    let gbk = encoding_rs::GB18030.encode(&s.Content).0;
    let parts = split(&gbk, part_size());
    let mut info = r.rsp_info.as_ref().map(|i| i.to_c());
    let pinfo = info.as_mut().map_or(null_mut(), |i| i as *mut _);
    let rid = r.request_id.unwrap_or(0);
    let n = parts.len();
    for (k, part) in parts.into_iter().enumerate() {
        let mut c = s.to_c();
        c.Content.fill(0);
        for (d, &b) in c.Content.iter_mut().zip(part) {
            *d = b as c_char;
        }
        c.SequenceNo = s.SequenceNo + k as i32;
        let last = r.is_last && k + 1 == n;
        unsafe { (v.OnRspQrySettlementInfo)(spi, &mut c, pinfo, rid, last) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_end_inside_characters_and_join_back() {
        let text =
            "webctp 模拟交易所 结算单 / settlement statement\n期末结存 Balance c/f: 20000000.00\n";
        let gbk = encoding_rs::GB18030.encode(text).0.into_owned();
        let parts = split(&gbk, 20);
        assert!(parts.len() > 3);
        assert!(parts.iter().all(|p| !p.is_empty() && p.len() <= 20));
        assert_eq!(parts.concat(), gbk);
        // Every part but the last ends on a lone lead byte when it holds GBK text.
        let mid = parts[..parts.len() - 1]
            .iter()
            .filter(|p| {
                encoding_rs::GB18030
                    .decode_without_bom_handling(p)
                    .0
                    .contains('\u{FFFD}')
            })
            .count();
        assert!(mid >= 3, "{mid}");
        let ascii = split(b"abcdefghij", 4);
        assert_eq!(ascii, [&b"abcd"[..], b"efgh", b"ij"]);
        assert_eq!(split(b"", 100), [&b""[..]]);
    }
}

//! C strings of the CTP structs: fixed `char[N]` arrays holding GBK (GB18030) text.

use std::ffi::c_char;

use webctp_protocol::CtpChar;

/// The bytes of a `char[N]` up to its NUL.
pub fn raw_bytes(a: &[c_char]) -> &[u8] {
    // c_char and u8 have the same size and alignment.
    let bytes = unsafe { std::slice::from_raw_parts(a.as_ptr().cast::<u8>(), a.len()) };
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

/// Decodes GBK text (CTP's encoding) into UTF-8. Invalid bytes become U+FFFD.
pub fn gbk_decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if s.is_ascii() => s.to_owned(),
        _ => encoding_rs::GB18030
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    }
}

/// Reads a `char[N]` field.
pub fn str_from_c(a: &[c_char]) -> String {
    gbk_decode(raw_bytes(a))
}

/// Writes `s` into a `char[N]` field as GBK, cut at a character boundary so that the
/// terminating NUL fits.
pub fn str_to_c(s: &str, out: &mut [c_char]) {
    let Some(cap) = out.len().checked_sub(1) else {
        return;
    };
    let encoded;
    let bytes: &[u8] = if s.is_ascii() {
        s.as_bytes()
    } else {
        encoded = encoding_rs::GB18030.encode(s).0;
        &encoded
    };
    let mut n = bytes.len().min(cap);
    if n < bytes.len() && !s.is_ascii() {
        // Do not leave half of a multi-byte character at the end.
        n = gbk_boundary(bytes, n);
    }
    for (o, &b) in out.iter_mut().zip(&bytes[..n]) {
        *o = b as c_char;
    }
    for o in &mut out[n..] {
        *o = 0;
    }
}

/// The largest prefix length <= `limit` that ends on a GB18030 character boundary.
fn gbk_boundary(bytes: &[u8], limit: usize) -> usize {
    let mut i = 0;
    while i < bytes.len() {
        let len = if bytes[i] < 0x80 {
            1
        } else if bytes.get(i + 1).is_some_and(|b| (0x30..=0x39).contains(b)) {
            4
        } else {
            2
        };
        if i + len > limit {
            break;
        }
        i += len;
    }
    i
}

/// Reads a `char` code.
pub fn char_from_c(c: c_char) -> CtpChar {
    CtpChar(c as u8)
}

/// Writes a `char` code.
pub fn char_to_c(c: CtpChar) -> c_char {
    c.0 as c_char
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_round_trip_and_truncation() {
        let mut buf = [0 as c_char; 9];
        str_to_c("黄金2602", &mut buf);
        assert_eq!(str_from_c(&buf), "黄金2602");
        // 5 CJK characters are 10 GBK bytes; only 4 fit in 8.
        str_to_c("全部成交了", &mut buf);
        assert_eq!(str_from_c(&buf), "全部成交");
        let mut small = [0 as c_char; 4];
        str_to_c("abcdef", &mut small);
        assert_eq!(str_from_c(&small), "abc");
    }
}

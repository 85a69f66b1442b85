//! JSON output. One formatter for everything the gateway sends, with a fast path for
//! the numbers market data is made of.

use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;

/// serde_json's compact formatter with a faster `f64`.
///
/// Prices and amounts are whole numbers or have a few decimals. Printing those with
/// integer arithmetic gives exactly the text of the shortest-round-trip algorithm
/// (ryu) at a fraction of its cost; everything else still goes through ryu.
#[derive(Debug, Clone, Copy, Default)]
pub struct WireFormatter;

/// Largest magnitude printed as an integer: beyond it ryu switches to exponents.
const INT_LIMIT: f64 = 1e15;
/// Largest magnitude for the four-decimal path: below it one ulp is far smaller than
/// 1e-4, so at most one four-decimal number rounds to the value and it is the shortest.
const DEC_LIMIT: f64 = 1e9;

impl Formatter for WireFormatter {
    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, v: f64) -> io::Result<()> {
        if let Some(()) = write_simple_f64(w, v)? {
            return Ok(());
        }
        serde_json::ser::CompactFormatter.write_f64(w, v)
    }
}

fn write_simple_f64<W: ?Sized + io::Write>(w: &mut W, v: f64) -> io::Result<Option<()>> {
    if !v.is_finite() {
        // JSON has no NaN/inf; serde_json writes null for them.
        w.write_all(b"null")?;
        return Ok(Some(()));
    }
    let a = v.abs();
    if v.fract() == 0.0 && a < INT_LIMIT {
        if v == 0.0 && v.is_sign_negative() {
            w.write_all(b"-0.0")?;
        } else {
            let mut b = itoa::Buffer::new();
            w.write_all(b.format(v as i64).as_bytes())?;
            w.write_all(b".0")?;
        }
        return Ok(Some(()));
    }
    if a < DEC_LIMIT {
        let n = (a * 10_000.0).round();
        if n / 10_000.0 == a {
            let n = n as u64;
            let (int, mut frac) = (n / 10_000, n % 10_000);
            let mut digits = 4;
            while frac % 10 == 0 {
                frac /= 10;
                digits -= 1;
            }
            if v < 0.0 {
                w.write_all(b"-")?;
            }
            let mut b = itoa::Buffer::new();
            w.write_all(b.format(int).as_bytes())?;
            w.write_all(b".")?;
            let mut f = itoa::Buffer::new();
            let s = f.format(frac);
            for _ in s.len()..digits {
                w.write_all(b"0")?;
            }
            w.write_all(s.as_bytes())?;
            return Ok(Some(()));
        }
    }
    Ok(None)
}

/// Appends a JSON string, escaped exactly as serde_json escapes it.
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends a CTP char code as its `Serialize` writes it (`""` when unset).
pub fn push_char(out: &mut Vec<u8>, c: super::CtpChar) {
    if !c.is_set() {
        out.extend_from_slice(b"\"\"");
        return;
    }
    let mut buf = [0u8; 4];
    push_str(out, c.as_char().encode_utf8(&mut buf));
}

/// CTP's "no price" (DBL_MAX), which webctp sends as the integer `0`: what the Python
/// webctp projects send for an unset market price (their `adjust_price` returns 0).
pub const UNSET_PRICE: f64 = f64::MAX;

/// Appends a market price: the integer `0` when unset (DBL_MAX), else the number.
pub fn push_price(out: &mut Vec<u8>, v: f64) {
    if v == UNSET_PRICE {
        out.push(b'0');
    } else {
        push_f64(out, v);
    }
}

/// `serialize_with` for market prices: the integer `0` when unset, as [`push_price`].
pub fn ser_price<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if *v == UNSET_PRICE {
        s.serialize_u8(0)
    } else {
        s.serialize_f64(*v)
    }
}

/// Appends a number as the wire formatter writes it.
pub fn push_f64(out: &mut Vec<u8>, v: f64) {
    // Writing into a Vec cannot fail.
    let _ = WireFormatter.write_f64(out, v);
}

/// Appends an integer.
pub fn push_int(out: &mut Vec<u8>, v: i64) {
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(v).as_bytes());
}

/// Serializes a value with the wire formatter.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, WireFormatter);
    // Serializing plain data into a Vec cannot fail.
    if value.serialize(&mut ser).is_err() {
        out.clear();
        out.extend_from_slice(b"null");
    }
    out
}

/// Serializes a value with the wire formatter into a `String`.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> String {
    // serde_json only ever writes valid UTF-8.
    String::from_utf8(to_vec(value)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast(v: f64) -> String {
        String::from_utf8(to_vec(&v)).unwrap()
    }

    fn ryu(v: f64) -> String {
        serde_json::to_string(&v).unwrap()
    }

    #[test]
    fn strings_escape_as_serde_does() {
        let mut x: u32 = 7;
        for _ in 0..20_000 {
            let s: String = (0..12)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    match x % 5 {
                        0 => char::from((x >> 8) as u8 % 0x20),
                        1 => ['"', '\\', '/', '黄'][(x >> 8) as usize % 4],
                        _ => char::from(b'a' + (x >> 8) as u8 % 26),
                    }
                })
                .collect();
            let mut ours = Vec::new();
            push_str(&mut ours, &s);
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(&s).unwrap()
            );
        }
        let mut c = Vec::new();
        push_char(&mut c, super::super::CtpChar::NUL);
        assert_eq!(c, br#""""#);
        assert_eq!(
            serde_json::to_string(&super::super::CtpChar::NUL).unwrap(),
            "\"\""
        );
    }

    #[test]
    fn matches_ryu_on_prices() {
        let mut x: u64 = 0x9E3779B97F4A7C15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ticks = (x % 2_000_000) as f64;
            for tick in [1.0, 0.5, 0.2, 0.05, 0.02, 0.01, 0.001, 0.0001] {
                let v = ticks * tick;
                assert_eq!(fast(v), ryu(v), "{v}");
                assert_eq!(fast(-v), ryu(-v), "{v}");
            }
            let raw = f64::from_bits(x);
            if raw.is_finite() {
                assert_eq!(fast(raw), ryu(raw), "{raw:e}");
            }
            let amount = (x % 100_000_000_000) as f64 / 100.0;
            assert_eq!(fast(amount), ryu(amount), "{amount}");
        }
        for v in [
            0.0,
            -0.0,
            1.0,
            3170.0,
            0.1 + 0.2,
            1e15 - 1.0,
            1e15,
            1e16,
            f64::MAX,
            f64::MIN_POSITIVE,
            31645.592201667798,
            5535.000000000001,
        ] {
            assert_eq!(fast(v), ryu(v), "{v:e}");
        }
    }
}

//! The ranges of the numeric and date settings, shared by the file's parser (which
//! names the line) and the resolution of flags and variables.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use webctp_protocol::clock::StartAt;

/// `Sim.TickRate`, `--tick-rate`.
pub(crate) fn tick_rate_problem(v: f64) -> Option<String> {
    (!(v.is_finite() && (0.0..=1_000_000.0).contains(&v)))
        .then(|| format!("must be between 0 and 1000000 ticks per second, got {v}"))
}

/// `Sim.InitialFunds`.
pub(crate) fn funds_problem(v: f64) -> Option<String> {
    (!(v.is_finite() && v >= 0.0)).then(|| format!("must be a non-negative amount, got {v}"))
}

/// Heartbeats and timeouts.
pub(crate) fn seconds_problem(v: f64) -> Option<String> {
    std::time::Duration::try_from_secs_f64(v)
        .ok()
        .filter(|d| !d.is_zero())
        .is_none()
        .then(|| format!("must be a positive number of seconds, got {v}"))
}

/// `FrontWait`: positive, and no longer than a market-data login waits at all (15 s).
pub(crate) fn front_wait_problem(v: f64) -> Option<String> {
    (seconds_problem(v).is_some() || v > 15.0).then(|| {
        format!("must be more than 0 and at most 15 seconds (a login waits 15 s at most), got {v}")
    })
}

/// `Sim.StartDate`, `--start-date`.
pub(crate) fn start_date_problem(text: &str) -> Option<String> {
    StartAt::parse(text).is_none().then(|| {
        format!("`{text}` is not a date like 2025-12-03 or a moment like 2026-11-25 22:20")
    })
}

/// `Limits.TdQueueBytes`.
pub(crate) fn queue_bytes_problem(v: usize) -> Option<String> {
    (v < 64 * 1024).then(|| format!("must be at least 65536, got {v}"))
}

/// `Limits.MaxFrameBytes`.
pub(crate) fn frame_bytes_problem(v: usize) -> Option<String> {
    (v < 1024).then(|| format!("must be at least 1024, got {v}"))
}

// The checks run inside the YAML parser's own visit of the scalar: only there does it
// add the key's path and the line to an error (an error raised after the value is
// read would name the enclosing section, or nothing).

/// A scalar the checks below can drive (the parser is told which type to read).
trait Scalar<'de>: Visitor<'de> + Sized {
    fn drive<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error>;
}

/// A number (YAML integers too), refused when `0` finds a problem.
struct Number<F>(F);

impl<'de, F: Fn(f64) -> Option<String>> Visitor<'de> for Number<F> {
    type Value = f64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        match (self.0)(v) {
            Some(why) => Err(E::custom(why)),
            None => Ok(v),
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        self.visit_f64(v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        self.visit_f64(v as f64)
    }
}

impl<'de, F: Fn(f64) -> Option<String>> Scalar<'de> for Number<F> {
    fn drive<D: Deserializer<'de>>(self, d: D) -> Result<f64, D::Error> {
        d.deserialize_f64(self)
    }
}

/// A count of bytes, refused when `0` finds a problem.
struct Size<F>(F);

impl<'de, F: Fn(usize) -> Option<String>> Visitor<'de> for Size<F> {
    type Value = usize;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a whole number of bytes")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<usize, E> {
        let v = usize::try_from(v).map_err(|_| E::custom(format!("{v} is too large")))?;
        match (self.0)(v) {
            Some(why) => Err(E::custom(why)),
            None => Ok(v),
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<usize, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
        }
    }
}

impl<'de, F: Fn(usize) -> Option<String>> Scalar<'de> for Size<F> {
    fn drive<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_u64(self)
    }
}

/// A word or date: `read` turns the text into a value, `refusal` says why it cannot.
pub(crate) struct Text<P, R> {
    pub(crate) read: P,
    pub(crate) refusal: R,
}

impl<'de, T, P: Fn(&str) -> Option<T>, R: Fn(&str) -> String> Visitor<'de> for Text<P, R> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.read)(v).ok_or_else(|| E::custom((self.refusal)(v)))
    }
}

impl<'de, T, P: Fn(&str) -> Option<T>, R: Fn(&str) -> String> Scalar<'de> for Text<P, R> {
    fn drive<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_str(self)
    }
}

/// An optional key (`null` is absent) whose value `0` checks.
struct Optional<V>(V);

impl<'de, V: Scalar<'de>> Visitor<'de> for Optional<V> {
    type Value = Option<V::Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(f)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.drive(d).map(Some)
    }
}

fn optional<'de, D: Deserializer<'de>, V: Scalar<'de>>(
    d: D,
    v: V,
) -> Result<Option<V::Value>, D::Error> {
    d.deserialize_option(Optional(v))
}

pub(crate) fn tick_rate<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    optional(d, Number(tick_rate_problem))
}

pub(crate) fn funds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    optional(d, Number(funds_problem))
}

pub(crate) fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    optional(d, Number(seconds_problem))
}

pub(crate) fn front_wait<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    optional(d, Number(front_wait_problem))
}

pub(crate) fn start_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    optional(
        d,
        Text {
            read: |v: &str| StartAt::parse(v).map(|_| v.to_string()),
            refusal: |v: &str| start_date_problem(v).unwrap_or_default(),
        },
    )
}

pub(crate) fn queue_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    optional(d, Size(queue_bytes_problem))
}

pub(crate) fn frame_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    optional(d, Size(frame_bytes_problem))
}

/// `Sim.FrontOutage.After` and `.For`: zero or more seconds.
pub(crate) fn outage_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Number(|v: f64| {
        (v != 0.0 && seconds_problem(v).is_some())
            .then(|| format!("must be zero or a positive number of seconds, got {v}"))
    })
    .drive(d)
}

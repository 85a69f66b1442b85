//! Beijing time (UTC+8, no daylight saving), the clock of China's futures markets, and
//! CTP's date and time strings.

use std::time::{SystemTime, UNIX_EPOCH};

/// A moment in Beijing time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeijingTime {
    /// Days since 1970-01-01 (Beijing calendar).
    pub day: i64,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
}

const OFFSET_MS: i64 = 8 * 3600 * 1000;

impl BeijingTime {
    /// Now.
    pub fn now() -> BeijingTime {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        BeijingTime::from_unix_ms(ms)
    }

    /// The Beijing time of a Unix timestamp in milliseconds.
    pub fn from_unix_ms(ms: i64) -> BeijingTime {
        let local = ms + OFFSET_MS;
        let day = local.div_euclid(86_400_000);
        let rest = local.rem_euclid(86_400_000);
        BeijingTime {
            day,
            hour: (rest / 3_600_000) as u32,
            minute: (rest / 60_000 % 60) as u32,
            second: (rest / 1000 % 60) as u32,
            millis: (rest % 1000) as u32,
        }
    }

    /// `YYYYMMDD`.
    pub fn date(&self) -> String {
        date_string(self.day)
    }

    /// `HH:MM:SS`.
    pub fn time(&self) -> String {
        format!("{:02}:{:02}:{:02}", self.hour, self.minute, self.second)
    }

    /// The trading day this moment belongs to: the night session (from 18:00) counts
    /// for the next business day, and weekends roll forward to Monday.
    pub fn trading_day(&self) -> i64 {
        let mut d = self.day;
        if self.hour >= 18 {
            d += 1;
        }
        next_business_day(d)
    }
}

/// Nanoseconds since the Unix epoch (for stamping benchmark ticks).
pub fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// `d` itself if it is Monday to Friday, else the following Monday.
pub fn next_business_day(mut d: i64) -> i64 {
    while weekday(d) >= 5 {
        d += 1;
    }
    d
}

/// 0 = Monday ... 6 = Sunday.
pub fn weekday(day: i64) -> i64 {
    // 1970-01-01 was a Thursday.
    (day + 3).rem_euclid(7)
}

/// `YYYYMMDD` of a day number.
pub fn date_string(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}{m:02}{d:02}")
}

/// Parses `YYYYMMDD` into a day number.
pub fn parse_date(s: &str) -> Option<i64> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: i64 = s[0..4].parse().ok()?;
    let m: u32 = s[4..6].parse().ok()?;
    let d: u32 = s[6..8].parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

// Howard Hinnant's algorithms for the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_trading_days() {
        let d = parse_date("20261124").unwrap();
        assert_eq!(date_string(d), "20261124");
        assert_eq!(weekday(d), 1); // a Tuesday
        // 2026-11-24 01:00 UTC is 09:00 in Beijing.
        let t = BeijingTime::from_unix_ms(1_795_482_000_000);
        assert_eq!(t.date(), "20261124");
        assert_eq!(t.time(), "09:00:00");
        assert_eq!(date_string(t.trading_day()), "20261124");
        // Friday 21:00 trades for Monday.
        let fri = parse_date("20261127").unwrap();
        let night = BeijingTime {
            day: fri,
            hour: 21,
            minute: 0,
            second: 0,
            millis: 0,
        };
        assert_eq!(date_string(night.trading_day()), "20261130");
        assert!(parse_date("2026112").is_none());
    }
}

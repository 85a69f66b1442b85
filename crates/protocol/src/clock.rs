//! Beijing time (UTC+8, no daylight saving), the clock of China's futures markets,
//! CTP's date and time strings, and the sim's clock ([`SimClock`]), which can start on
//! another date (`Sim.StartDate`) and then runs at the wall clock's pace.

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
        BeijingTime::from_unix_ms(unix_ms())
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

    /// Seconds since midnight.
    pub fn second_of_day(&self) -> u32 {
        self.hour * 3600 + self.minute * 60 + self.second
    }
}

/// Where the sim's clock starts: a date (the wall clock's time of day is kept) or a
/// moment (`2026-11-25 22:20`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartAt {
    pub day: i64,
    /// Seconds since midnight, if a time was given.
    pub second_of_day: Option<u32>,
}

impl StartAt {
    /// Parses `2025-12-03`, `20251203`, `2026-11-25 22:20`, `2026-11-25T22:20:05`.
    pub fn parse(text: &str) -> Option<StartAt> {
        let text = text.trim();
        let (date, time) = match text.split_once([' ', 'T']) {
            Some((d, t)) => (d.trim(), Some(t.trim())),
            None => (text, None),
        };
        let compact: String = date.chars().filter(|c| *c != '-').collect();
        if date.contains('-') && date.len() != 10 {
            return None;
        }
        let day = parse_date(&compact)?;
        if date_string(day) != compact {
            return None; // 2026-02-30 and the like
        }
        let second_of_day = match time {
            None => None,
            Some(t) => {
                let parts: Vec<&str> = t.split(':').collect();
                if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.len() != 2) {
                    return None;
                }
                let n: Vec<u32> = parts
                    .iter()
                    .map(|p| p.parse().ok())
                    .collect::<Option<_>>()?;
                let (h, m, sec) = (n[0], n[1], n.get(2).copied().unwrap_or(0));
                if h > 23 || m > 59 || sec > 59 {
                    return None;
                }
                Some(h * 3600 + m * 60 + sec)
            }
        };
        Some(StartAt { day, second_of_day })
    }
}

/// The sim's clock: the wall clock shifted by a fixed offset chosen at start, so a sim
/// can live on another date while seconds still pass at the normal pace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SimClock {
    offset_ms: i64,
}

impl SimClock {
    /// The wall clock itself.
    pub fn wall() -> SimClock {
        SimClock::default()
    }

    /// A clock that reads `start` now.
    pub fn starting(start: StartAt) -> SimClock {
        SimClock::starting_at(start, unix_ms())
    }

    /// A clock that reads `start` at the Unix time `now_ms` (for tests).
    pub fn starting_at(start: StartAt, now_ms: i64) -> SimClock {
        let wall = BeijingTime::from_unix_ms(now_ms);
        let wall_ms_of_day = i64::from(wall.second_of_day()) * 1000 + i64::from(wall.millis);
        let target_ms_of_day = start
            .second_of_day
            .map_or(wall_ms_of_day, |s| i64::from(s) * 1000);
        let offset_ms = (start.day - wall.day) * 86_400_000 + (target_ms_of_day - wall_ms_of_day);
        SimClock { offset_ms }
    }

    /// Now, on this clock.
    pub fn now(&self) -> BeijingTime {
        BeijingTime::from_unix_ms(unix_ms() + self.offset_ms)
    }
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
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

/// The day number of a calendar date.
pub fn from_ymd(y: i64, m: u32, d: u32) -> i64 {
    days_from_civil(y, m, d)
}

/// The calendar date `(year, month, day)` of a day number.
pub fn ymd(day: i64) -> (i64, u32, u32) {
    civil_from_days(day)
}

/// Days in a month.
pub fn days_in_month(y: i64, m: u32) -> u32 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)) as u32
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
        assert!(parse_date("2026112").is_none());
        assert_eq!(days_in_month(2028, 2), 29);
        assert_eq!(days_in_month(2026, 2), 28);
        assert_eq!(ymd(from_ymd(2026, 12, 31)), (2026, 12, 31));
    }

    #[test]
    fn start_dates_parse_and_the_clock_starts_there() {
        let s = StartAt::parse("2025-12-03").unwrap();
        assert_eq!(date_string(s.day), "20251203");
        assert_eq!(s.second_of_day, None);
        assert_eq!(StartAt::parse("20251203"), Some(s));
        let t = StartAt::parse("2026-11-25 22:20").unwrap();
        assert_eq!(t.second_of_day, Some(22 * 3600 + 20 * 60));
        assert_eq!(
            StartAt::parse("2026-11-25T22:20:05").unwrap().second_of_day,
            Some(80405)
        );
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "yesterday",
            "2026-11-25 25:00",
            "2026-1-5",
        ] {
            assert!(StartAt::parse(bad).is_none(), "{bad}");
        }
        // 2026-11-24 01:00 UTC is 09:00 in Beijing; a clock started at 22:20 on the 25th.
        let c = SimClock::starting_at(t, 1_795_482_000_000);
        let then = BeijingTime::from_unix_ms(1_795_482_000_000 + c.offset_ms);
        assert_eq!(
            (then.date(), then.time()),
            ("20261125".into(), "22:20:00".into())
        );
        // A date alone keeps the time of day.
        let c = SimClock::starting_at(s, 1_795_482_000_000);
        let then = BeijingTime::from_unix_ms(1_795_482_000_000 + c.offset_ms);
        assert_eq!(
            (then.date(), then.time()),
            ("20251203".into(), "09:00:00".into())
        );
    }
}

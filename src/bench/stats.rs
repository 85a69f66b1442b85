//! Latency percentiles and the gateway process's CPU and memory, from /proc.

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Latency samples in microseconds.
#[derive(Debug, Default, Clone)]
pub struct Samples(pub Vec<u32>);

impl Samples {
    pub fn add_ns(&mut self, ns: u64) {
        self.0.push(u32::try_from(ns / 1000).unwrap_or(u32::MAX));
    }

    pub fn merge(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    /// p50, p99, p999 and max, in microseconds (sorting the samples).
    pub fn summary(&mut self) -> Percentiles {
        self.0.sort_unstable();
        let at = |q: f64| -> u32 {
            if self.0.is_empty() {
                return 0;
            }
            let i = ((self.0.len() as f64 - 1.0) * q).round() as usize;
            self.0[i.min(self.0.len() - 1)]
        };
        Percentiles {
            count: self.0.len(),
            p50_us: at(0.50),
            p99_us: at(0.99),
            p999_us: at(0.999),
            max_us: self.0.last().copied().unwrap_or(0),
        }
    }
}

/// A latency distribution.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Percentiles {
    pub count: usize,
    pub p50_us: u32,
    pub p99_us: u32,
    pub p999_us: u32,
    pub max_us: u32,
}

impl std::fmt::Display for Percentiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {} µs, p99 {} µs, p99.9 {} µs, max {} µs ({} samples)",
            self.p50_us, self.p99_us, self.p999_us, self.max_us, self.count
        )
    }
}

/// CPU time and memory of a process, from /proc.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcStats {
    /// User + system CPU seconds.
    pub cpu_s: f64,
    pub rss_kb: u64,
    pub peak_rss_kb: u64,
    pub fds: usize,
}

/// Reads /proc/<pid>. Linux only; zeros elsewhere.
pub fn proc_stats(pid: u32) -> ProcStats {
    let mut s = ProcStats::default();
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Fields after the command name (which may contain spaces) start at ')'.
        if let Some(rest) = stat.rsplit_once(')').map(|x| x.1) {
            let f: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of the whole line (11 and 12 here),
            // in clock ticks of 1/100 s on Linux.
            let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            s.cpu_s = (ticks(11) + ticks(12)) / 100.0;
        }
    }
    if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
        for line in status.lines() {
            let kb = || {
                line.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            if line.starts_with("VmRSS:") {
                s.rss_kb = kb();
            } else if line.starts_with("VmHWM:") {
                s.peak_rss_kb = kb();
            }
        }
    }
    s.fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let mut s = Samples((1..=1000).collect());
        let p = s.summary();
        assert_eq!(p.p50_us, 501);
        assert_eq!(p.p99_us, 990);
        assert_eq!(p.max_us, 1000);
        let me = proc_stats(std::process::id());
        assert!(me.rss_kb > 0 && me.fds > 0);
    }
}

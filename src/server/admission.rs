//! Which TCP connections are taken in, before any of them is a WebSocket.
//!
//! A socket costs a file descriptor and a task from the moment it is accepted, so
//! `MaxConnections` counts sockets still in their HTTP phase (a request being read,
//! an upgrade being answered) as well as WebSockets. A socket in its HTTP phase gets
//! `HandshakeTimeout` to finish it: a silent connection, or an upgrade request sent a
//! byte a second (slowloris), is closed then. When `accept` itself fails (out of file
//! descriptors: EMFILE), the loop backs off instead of spinning on the error.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::TcpStream;

/// Sockets being refused at once with a 503 answer; beyond this they are just closed.
const MAX_REFUSING: usize = 32;

/// Counts sockets in their HTTP phase and decides whether a new one may come in.
pub struct Admission {
    handshaking: AtomicUsize,
    refusing: AtomicUsize,
    max_connections: usize,
    /// How long a socket may stay in its HTTP phase.
    pub handshake_timeout: Duration,
}

/// A socket's place while it is in its HTTP phase; dropping it frees the place.
pub struct Slot(Arc<Admission>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.handshaking.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Admission {
    /// Admission for at most `max_connections` sockets, HTTP phase included.
    pub fn new(max_connections: usize, handshake_timeout: Duration) -> Arc<Admission> {
        Arc::new(Admission {
            handshaking: AtomicUsize::new(0),
            refusing: AtomicUsize::new(0),
            max_connections,
            handshake_timeout,
        })
    }

    /// Sockets in their HTTP phase now.
    pub fn handshaking(&self) -> usize {
        self.handshaking.load(Ordering::Acquire)
    }

    /// A place for a new socket, unless `websockets` plus the sockets in their HTTP
    /// phase already reach the limit.
    pub fn admit(self: &Arc<Self>, websockets: usize) -> Option<Slot> {
        let n = self.handshaking.fetch_add(1, Ordering::AcqRel);
        if n + websockets >= self.max_connections {
            self.handshaking.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Slot(self.clone()))
    }

    /// Turns a socket away with `503` and a reason (or, when many are being turned
    /// away at once, just closes it).
    pub fn refuse(self: &Arc<Self>, stream: TcpStream) {
        if self.refusing.fetch_add(1, Ordering::AcqRel) >= MAX_REFUSING {
            self.refusing.fetch_sub(1, Ordering::AcqRel);
            return;
        }
        let me = self.clone();
        let body = format!(
            r#"{{"error":"too many connections","detail":"the gateway serves at most {} connections (Limits.MaxConnections); try again later"}}"#,
            self.max_connections
        );
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut stream = stream;
            let answer = format!(
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let quick = Duration::from_secs(1);
            // Read what the client sent first, so that closing does not reset the
            // connection before it sees the answer.
            let mut buf = [0u8; 4096];
            let _ = tokio::time::timeout(quick, stream.read(&mut buf)).await;
            let _ = tokio::time::timeout(quick, stream.write_all(answer.as_bytes())).await;
            let _ = tokio::time::timeout(quick, stream.shutdown()).await;
            me.refusing.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

/// File descriptors kept for everything but client sockets (listeners, journal, logs,
/// the CTP libraries' own files and sockets).
pub const FD_RESERVE: u64 = 64;

/// Raises the soft limit on open files to the hard limit, as a server should, and
/// returns the limit now in force (`None` where it cannot be read).
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct it is given and nothing else.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
            return None;
        }
        if r.rlim_cur < r.rlim_max {
            let want = libc::rlimit {
                rlim_cur: r.rlim_max,
                rlim_max: r.rlim_max,
            };
            // SAFETY: setrlimit only reads the struct; on failure the old limit stays.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &want) } == 0 {
                r.rlim_cur = r.rlim_max;
            }
        }
        Some(r.rlim_cur)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// `MaxConnections`, lowered (with a warning) to what the open-file limit allows:
/// past it `accept` fails, and real clients wait while the gateway cannot even refuse.
pub fn effective_max_connections(configured: usize) -> usize {
    let Some(files) = raise_fd_limit() else {
        return configured;
    };
    let usable = usize::try_from(files.saturating_sub(FD_RESERVE))
        .unwrap_or(usize::MAX)
        .max(1);
    if usable < configured {
        tracing::warn!(
            "Limits.MaxConnections is {configured} but only {files} files may be open (ulimit -n); serving at most {usable} connections"
        );
        return usable;
    }
    configured
}

/// The accept loop's answer to a failing `accept`: wait, longer while it keeps
/// failing, and log the first failure and then only now and then.
#[derive(Debug, Default)]
pub struct AcceptBackoff {
    failures: u64,
    delay: Duration,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    /// Records a failure; returns how long to wait before accepting again.
    pub fn failed(&mut self, e: &std::io::Error) -> Duration {
        self.failures += 1;
        self.delay = (self.delay * 2).clamp(Self::FIRST, Self::MAX);
        if self.failures.is_power_of_two() {
            tracing::warn!(
                error = %e,
                failures = self.failures,
                wait_ms = self.delay.as_millis() as u64,
                "accept failed (out of file descriptors? see `ulimit -n` and Limits.MaxConnections); backing off"
            );
        }
        self.delay
    }

    /// Records a success: the next failure starts from the shortest wait again.
    pub fn succeeded(&mut self) {
        if self.failures > 0 {
            tracing::info!(failures = self.failures, "accepting connections again");
        }
        self.failures = 0;
        self.delay = Duration::ZERO;
    }

    /// Failures since the last success.
    pub fn failures(&self) -> u64 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_second_and_resets() {
        let mut b = AcceptBackoff::default();
        let e = std::io::Error::from_raw_os_error(24);
        let waits: Vec<u64> = (0..10).map(|_| b.failed(&e).as_millis() as u64).collect();
        assert_eq!(waits, vec![10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        b.succeeded();
        assert_eq!(b.failed(&e), Duration::from_millis(10));
    }

    #[tokio::test]
    async fn http_phase_sockets_count_against_the_limit() {
        let a = Admission::new(3, Duration::from_secs(1));
        let s1 = a.admit(0).unwrap();
        let _s2 = a.admit(1).unwrap();
        assert!(a.admit(1).is_none());
        assert_eq!(a.handshaking(), 2);
        drop(s1);
        assert!(a.admit(1).is_some());
    }
}

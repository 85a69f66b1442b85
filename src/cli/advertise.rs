//! How a process that holds the data directory tells others where its gateway
//! listens: `<data dir>/gateway.url`. `exec` reads it when it finds the directory in
//! use, so that it talks to that process instead of failing — whether the holder is
//! `webctp serve`, the terminal with its gateway, or another `exec` waiting for an
//! order (which serves its dispatcher on a loopback port for as long as it runs).
//!
//! The file is removed by every process that takes the directory (so it never points
//! at a gateway that is gone, or at another directory's) and written once the
//! gateway listens.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// `<data dir>/gateway.url`.
pub fn url_file(data_dir: &Path) -> PathBuf {
    data_dir.join("gateway.url")
}

/// The URL a client on this machine reaches a gateway bound to `addr` at: an
/// unspecified address (0.0.0.0, ::) is reached on loopback.
pub fn local_url(addr: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "wss" } else { "ws" };
    let ip = addr.ip();
    match ip {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => {
            format!("{scheme}://127.0.0.1:{}", addr.port())
        }
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => {
            format!("{scheme}://[::1]:{}", addr.port())
        }
        _ => format!("{scheme}://{addr}"),
    }
}

/// Forgets what an earlier holder of the directory advertised.
pub fn clear(data_dir: &Path) {
    let path = url_file(data_dir);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(
            "cannot remove {}: {e}; `exec` may not find this gateway",
            path.display()
        ),
    }
}

/// Tells later processes that this one's gateway listens at `url`.
pub fn publish(data_dir: &Path, url: &str) {
    if !data_dir.is_dir() {
        // Nothing in this directory to share (no sim ledger): nobody will look.
        tracing::debug!(
            "{} does not exist; gateway URL not advertised",
            data_dir.display()
        );
        return;
    }
    let path = url_file(data_dir);
    let tmp = data_dir.join("gateway.url.tmp");
    // Written whole or not at all: a reader never sees half a URL.
    let result =
        std::fs::write(&tmp, format!("{url}\n")).and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = result {
        tracing::warn!(
            "cannot write {}: {e}; `exec` run beside this process will not find its gateway",
            path.display()
        );
    }
}

/// The URL the holder of the directory advertised, if any.
pub fn read(data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(url_file(data_dir)).ok()?;
    let url = text.trim();
    (url.starts_with("ws://") || url.starts_with("wss://")).then(|| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_reach_unspecified_addresses_on_loopback() {
        assert_eq!(
            local_url("0.0.0.0:8080".parse().unwrap(), false),
            "ws://127.0.0.1:8080"
        );
        assert_eq!(
            local_url("[::]:8080".parse().unwrap(), true),
            "wss://[::1]:8080"
        );
        assert_eq!(
            local_url("127.0.0.1:9".parse().unwrap(), false),
            "ws://127.0.0.1:9"
        );
    }

    #[test]
    fn published_urls_are_read_back_and_cleared() {
        let dir = std::env::temp_dir().join(format!("webctp-advertise-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(read(&dir), None);
        publish(&dir, "ws://127.0.0.1:4242");
        assert_eq!(read(&dir).as_deref(), Some("ws://127.0.0.1:4242"));
        clear(&dir);
        assert_eq!(read(&dir), None);
        std::fs::write(url_file(&dir), "garbage").unwrap();
        assert_eq!(read(&dir), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! Flow files: where the libraries keep their per-session state. CTP takes the flow
//! path as a *prefix* (`<prefix>DialogRsp.con`, ...), so we hand it a directory with
//! a trailing slash — one directory per front (and per user for trading), since two
//! sessions sharing flow files would resume each other's streams.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use crate::ctp::BackendError;
use crate::ctp::sim::ledger::create_private_dir;

/// A path component made from text that may come from a client (a UserID) or the
/// config (a front address): only `[A-Za-z0-9._-]`, never `.`/`..`, never empty.
pub fn component(text: &str) -> String {
    let mut s: String = text
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with('.') {
        s.replace_range(0..1, "_");
    }
    if s.is_empty() {
        s.push('_');
    }
    s
}

/// `<data_dir>/native/md/<front>/`.
pub fn md_dir(data_dir: &Path, front: &str) -> PathBuf {
    data_dir.join("native").join("md").join(component(front))
}

/// `<data_dir>/native/td/<user>/<front>/`.
pub fn td_dir(data_dir: &Path, user: &str, front: &str) -> PathBuf {
    data_dir
        .join("native")
        .join("td")
        .join(component(user))
        .join(component(front))
}

/// Creates `dir` (mode 0700: flow files hold account data) and returns the prefix to
/// pass to the library: the directory with a trailing slash.
pub fn prepare(dir: &Path) -> Result<CString, BackendError> {
    create_private_dir(dir).map_err(|e| {
        BackendError(format!(
            "cannot create the CTP flow directory {}: {e}",
            dir.display()
        ))
    })?;
    let mut bytes = dir.as_os_str().as_encoded_bytes().to_vec();
    if bytes.last() != Some(&b'/') {
        bytes.push(b'/');
    }
    CString::new(bytes).map_err(|_| {
        BackendError(format!(
            "the flow directory {} contains a NUL byte",
            dir.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_cannot_escape() {
        assert_eq!(
            component("tcp://180.168.146.187:10201"),
            "tcp___180.168.146.187_10201"
        );
        assert_eq!(component(".."), "_.");
        assert_eq!(component("../../etc"), "_._.._etc");
        assert_eq!(component(""), "_");
        assert_eq!(component("张三"), "__");
        let d = td_dir(Path::new("/data"), "../x", "tcp://h:1");
        assert!(d.starts_with("/data/native/td"));
        assert_eq!(d.components().count(), 6);
    }

    #[test]
    fn prefix_ends_with_a_slash() {
        let dir = std::env::temp_dir().join(format!("webctp-flow-{}", std::process::id()));
        let p = prepare(&dir.join("md")).unwrap();
        assert!(p.to_bytes().ends_with(b"/md/"));
        assert!(dir.join("md").is_dir());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

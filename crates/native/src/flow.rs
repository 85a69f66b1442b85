//! Flow files: where the libraries keep their per-session state. CTP takes the flow
//! path as a *prefix* (`<prefix>DialogRsp.con`, ...), so we hand it a directory with
//! a trailing slash — one directory per front (and per user for trading), since two
//! sessions sharing flow files would resume each other's streams. Two live API
//! objects never share a directory: a second session of the same user and front gets
//! `<front>-2`, and so on ([`FlowDirs`]).

use std::collections::HashSet;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use webctp_config::create_private_dir;
use webctp_protocol::backend::BackendError;

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
        BackendError::Session(format!(
            "cannot create the CTP flow directory {}: {e}",
            dir.display()
        ))
    })?;
    let mut bytes = dir.as_os_str().as_encoded_bytes().to_vec();
    if bytes.last() != Some(&b'/') {
        bytes.push(b'/');
    }
    CString::new(bytes).map_err(|_| {
        BackendError::Session(format!(
            "the flow directory {} contains a NUL byte",
            dir.display()
        ))
    })
}

/// The flow directories held by live API objects of a backend.
#[derive(Default, Clone)]
pub struct FlowDirs {
    in_use: Arc<Mutex<HashSet<PathBuf>>>,
}

/// A flow directory reserved for one API object; free again when dropped.
pub struct FlowLease {
    dirs: FlowDirs,
    path: PathBuf,
}

impl FlowLease {
    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FlowLease {
    fn drop(&mut self) {
        self.dirs.lock().remove(&self.path);
    }
}

impl FlowDirs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<PathBuf>> {
        self.in_use.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves `base`, or `base-2`, `base-3`... if it is taken.
    pub fn lease(&self, base: &Path) -> FlowLease {
        let mut in_use = self.lock();
        let name = base
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = (1..)
            .map(|n| match n {
                1 => base.to_path_buf(),
                n => base.with_file_name(format!("{name}-{n}")),
            })
            .find(|p| !in_use.contains(p))
            .unwrap_or_else(|| base.to_path_buf());
        in_use.insert(path.clone());
        FlowLease {
            dirs: self.clone(),
            path,
        }
    }
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
    fn live_objects_never_share_a_directory() {
        let dirs = FlowDirs::default();
        let base = Path::new("/d/native/td/u1/tcp___h_1");
        let a = dirs.lease(base);
        let b = dirs.lease(base);
        assert_eq!(a.path(), base);
        assert_eq!(b.path(), Path::new("/d/native/td/u1/tcp___h_1-2"));
        drop(a);
        assert_eq!(dirs.lease(base).path(), base);
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

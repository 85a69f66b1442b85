//! Embeds what was built: the package version and the git commit, for `--version`,
//! the banners and `/healthz` (see `src/build_info.rs`).
//!
//! The commit comes from `WEBCTP_GIT_COMMIT` when set (a build from a tarball can name
//! it), else from `git` when the source is a git checkout, else it is `unknown`: a
//! build never fails for want of git.
//!
//! Regenerating the CTP bindings from the official headers is the opt-in feature
//! `regen-bindings` (`cargo build --features regen-bindings`); it runs in
//! `crates/protocol/build.rs`, before any crate that uses the generated files compiles.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=WEBCTP_GIT_COMMIT");
    let commit = match std::env::var("WEBCTP_GIT_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_string(),
        _ => git_commit().unwrap_or_else(|| "unknown".to_string()),
    };
    println!("cargo:rustc-env=WEBCTP_GIT_COMMIT={commit}");
}

/// The checked-out commit (12 hex digits). Uncommitted edits are not flagged: the
/// script reruns only when HEAD moves, so such a flag would go stale.
fn git_commit() -> Option<String> {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let hash = git(&root, &["rev-parse", "--short=12", "HEAD"])?;
    watch_git_state(&root);
    Some(hash)
}

/// Reruns the build script when HEAD moves: a new commit, a checkout, a merge.
fn watch_git_state(root: &Path) {
    let Some(git_dir) = git(root, &["rev-parse", "--absolute-git-dir"]) else {
        return;
    };
    let git_dir = PathBuf::from(git_dir);
    println!("cargo:rerun-if-changed={}", git_dir.join("HEAD").display());
    let common = git(root, &["rev-parse", "--git-common-dir"])
        .map(|c| root.join(c))
        .unwrap_or_else(|| git_dir.clone());
    if let Some(branch) = git(root, &["symbolic-ref", "-q", "HEAD"]) {
        println!("cargo:rerun-if-changed={}", common.join(branch).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        common.join("packed-refs").display()
    );
}

/// Runs git in `dir`; `None` when git is missing, fails, or this is no checkout.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8(out.stdout).ok()?.trim().to_string())
}

//! What the binary says it was built from: `--version` and `/healthz` name the package
//! version and the git commit that `build.rs` embedded.

mod common;

use common::{Binary, TempDir};

/// The commit the test itself sees, when it runs in a git checkout.
fn checkout_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn version_names_the_commit() {
    let out = common::webctp().arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.trim();
    let prefix = format!("webctp {} (commit ", env!("CARGO_PKG_VERSION"));
    assert!(line.starts_with(&prefix) && line.ends_with(')'), "{line}");
    let commit = &line[prefix.len()..line.len() - 1];
    match checkout_commit() {
        Some(head) => assert_eq!(commit, head, "built from another commit than HEAD?"),
        None => {
            println!("skipped the commit comparison: not a git checkout");
            assert_eq!(commit, "unknown");
        }
    }
}

#[test]
fn healthz_names_version_and_commit() {
    let dir = TempDir::new("build-info");
    let bin = Binary::serve(&dir, &common::sim_config("TickRate: 0"), &[]);
    let reply = common::http(&bin.md_url, "GET", "/healthz");
    let body = reply.split("\r\n\r\n").nth(1).unwrap_or_default();
    let v: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {reply}"));
    assert_eq!(v["webctp_version"], env!("CARGO_PKG_VERSION"), "{v}");
    let commit = v["commit"].as_str().unwrap_or_default();
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{v}"
    );
}

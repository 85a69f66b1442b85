//! With the opt-in feature `regen-bindings` (`cargo build --features regen-bindings` at
//! the workspace root), regenerates every committed CTP binding from the official
//! headers with `tools/ctp-codegen` (bindgen, so libclang is needed) before this crate
//! compiles — and so before `webctp-native` and `fakectp`, which use the generated
//! files too. Without the feature this does nothing: the committed files are built as
//! they are, and no libclang or headers are needed.
//!
//! The headers come from `CTP_HEADERS_DIR`, else `target/ctp-headers/v6.7.11`
//! (`scripts/fetch-ctp-headers.sh`). Without them the committed files are kept, with
//! a warning; a failing generator fails the build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_REGEN_BINDINGS").is_none() {
        return;
    }
    let Some(manifest) = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) else {
        return;
    };
    let root = manifest.join("../..");
    println!("cargo:rerun-if-env-changed=CTP_HEADERS_DIR");
    let headers = std::env::var_os("CTP_HEADERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/ctp-headers/v6.7.11"));
    println!("cargo:rerun-if-changed={}", headers.display());
    println!(
        "cargo:rerun-if-changed={}",
        root.join("tools/ctp-codegen/src").display()
    );
    if !headers.join("ThostFtdcTraderApi.h").is_file() {
        println!(
            "cargo:warning=regen-bindings: no CTP headers in {} (run scripts/fetch-ctp-headers.sh or set CTP_HEADERS_DIR); the committed bindings are used",
            headers.display()
        );
        return;
    }
    if let Err(e) = regenerate(&root, &headers) {
        panic!("regen-bindings: {e}");
    }
}

/// Why the bindings could not be regenerated (the build then fails with it). A plain
/// enum with its own `Display`: a build script's dependencies are not worth adding
/// for three sentences.
enum RegenError {
    NoOutDir,
    Cargo(std::io::Error),
    Codegen { stdout: String, stderr: String },
}

impl std::fmt::Display for RegenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegenError::NoOutDir => f.write_str("cargo did not set OUT_DIR for the build script"),
            RegenError::Cargo(e) => write!(f, "cannot run cargo to build ctp-codegen: {e}"),
            RegenError::Codegen { stdout, stderr } => write!(
                f,
                "ctp-codegen failed (bindgen needs libclang: apt-get install libclang-dev)\n{stdout}\n{stderr}"
            ),
        }
    }
}

/// Runs ctp-codegen in its own target directory (the outer build holds the lock of
/// the workspace's).
fn regenerate(root: &Path, headers: &Path) -> Result<(), RegenError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out_dir = std::env::var_os("OUT_DIR").ok_or(RegenError::NoOutDir)?;
    let out = Command::new(cargo)
        .args([
            "run",
            "--quiet",
            "--package",
            "ctp-codegen",
            "--manifest-path",
        ])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(Path::new(&out_dir).join("ctp-codegen"))
        .arg("--")
        .arg("--headers")
        .arg(headers)
        .arg("--out")
        .arg(root)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .map_err(RegenError::Cargo)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(RegenError::Codegen {
            stdout: stdout.into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    for line in stdout.lines() {
        println!("cargo:warning=regen-bindings: {line}");
    }
    Ok(())
}

//! Regenerates webctp's CTP bindings from the official 6.7.11 headers.
//!
//! ```text
//! ctp-codegen [--headers DIR] [--out REPO] [--check] [--skip-bindgen]
//! ```
//!
//! Writes (relative to the repository):
//! - `crates/native/src/generated/ffi.rs`           C structs, by bindgen (needs libclang)
//! - `crates/native/src/generated/vtables.rs`       the four C++ classes as vtable structs
//! - `crates/native/src/generated/convert.rs`       C struct <-> protocol struct
//! - `crates/native/src/generated/spi_glue.rs`      SPI callbacks -> replies, request calls
//! - `crates/protocol/src/generated/fields.rs`      protocol structs (serde)
//! - `crates/protocol/src/generated/td_requests.rs` the trading request table
//! - `fakectp/src/generated/api_glue.rs`            the fake library's API vtables
//! - `fakectp/src/generated/spi_calls.rs`           the fake library's SPI calls
//!
//! `--check` compares instead of writing and fails on any difference, so a test can
//! prove that the committed files match the headers.

mod emit;
mod error;
mod header;
mod spec;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use error::CodegenError;

fn rustfmt(text: &str) -> Result<String, CodegenError> {
    use std::io::Write;
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(CodegenError::RustfmtRun)?;
    // Piped just above; dropping it after the write ends rustfmt's input.
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(CodegenError::RustfmtRun)?;
    }
    let out = child.wait_with_output().map_err(CodegenError::RustfmtRun)?;
    if !out.status.success() {
        return Err(CodegenError::Rustfmt(
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
    }
    String::from_utf8(out.stdout)
        .map_err(|_| CodegenError::Rustfmt("its output is not UTF-8".into()))
}

fn bindgen_ffi(headers: &Path, h: &header::Headers) -> Result<String, CodegenError> {
    let selected = emit::selected_structs(h);
    let mut b = bindgen::Builder::default()
        .header(
            headers
                .join("ThostFtdcUserApiStruct.h")
                .display()
                .to_string(),
        )
        .clang_arg("-xc++")
        .clang_arg("-std=c++11")
        .derive_default(true)
        .derive_debug(false)
        .layout_tests(true)
        .generate_comments(true)
        .raw_line(emit::BANNER.trim_end())
        .raw_line(
            "//! The C structs of `ThostFtdcUserApiStruct.h` that the protocol uses, by bindgen.",
        )
        .raw_line("#![allow(non_camel_case_types, non_snake_case, clippy::all)]");
    for s in &selected {
        b = b.allowlist_type(&s.c_name);
    }
    let bindings = b.generate()?;
    Ok(bindings.to_string())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out = repo.clone();
    let mut headers = std::env::var_os("CTP_HEADERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target/ctp-headers/v6.7.11"));
    let mut check = false;
    let mut skip_bindgen = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--headers" => headers = args.next().map(PathBuf::from).unwrap_or(headers),
            "--out" => out = args.next().map(PathBuf::from).unwrap_or(out),
            "--check" => check = true,
            "--skip-bindgen" => skip_bindgen = true,
            "-h" | "--help" => {
                println!(
                    "usage: ctp-codegen [--headers DIR] [--out REPO] [--check] [--skip-bindgen]"
                );
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("ctp-codegen: unknown argument {other}");
                return ExitCode::from(2);
            }
        }
    }
    let h = match header::Headers::load(&headers) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("ctp-codegen: {e}\n(fetch the headers with scripts/fetch-ctp-headers.sh)");
            return ExitCode::from(2);
        }
    };
    let mut files: Vec<(&str, Result<String, CodegenError>)> = vec![
        (
            "crates/protocol/src/generated/fields.rs",
            Ok(emit::fields_rs(&h)),
        ),
        (
            "crates/protocol/src/generated/td_requests.rs",
            Ok(emit::td_requests_rs(&h)),
        ),
        (
            "crates/native/src/generated/vtables.rs",
            Ok(emit::vtables_rs(&h)),
        ),
        (
            "crates/native/src/generated/convert.rs",
            Ok(emit::convert_rs(&h)),
        ),
        (
            "crates/native/src/generated/spi_glue.rs",
            Ok(emit::spi_glue_rs(&h)),
        ),
        (
            "fakectp/src/generated/api_glue.rs",
            Ok(emit::fake_api_glue_rs(&h)),
        ),
        (
            "fakectp/src/generated/spi_calls.rs",
            Ok(emit::fake_spi_calls_rs(&h)),
        ),
    ];
    if !skip_bindgen {
        files.push((
            "crates/native/src/generated/ffi.rs",
            bindgen_ffi(&headers, &h),
        ));
    }
    let mut failed = false;
    for (path, text) in files {
        let text = match text.and_then(|t| rustfmt(&t)) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("ctp-codegen: {path}: {e}");
                failed = true;
                continue;
            }
        };
        let target = out.join(path);
        if check {
            let current = std::fs::read_to_string(&target).unwrap_or_default();
            if current != text {
                eprintln!("ctp-codegen: {path} differs from what the headers generate");
                failed = true;
            } else {
                println!("ok {path}");
            }
        } else {
            if let Some(dir) = target.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Err(e) = std::fs::write(&target, text) {
                eprintln!("ctp-codegen: cannot write {}: {e}", target.display());
                failed = true;
            } else {
                println!("wrote {path}");
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

//! The committed generated files (bindings, vtables, conversions, the fake library's
//! glue) are exactly what `tools/ctp-codegen` makes from the official headers — when
//! the headers are there (`scripts/fetch-ctp-headers.sh`); otherwise the test says it
//! skipped. ffi.rs (bindgen, needs libclang) is left out unless WEBCTP_TEST_BINDGEN=1.

use std::path::Path;
use std::process::Command;

#[test]
fn generated_files_match_the_headers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let headers = root.join("target/ctp-headers/v6.7.11");
    if !headers.join("ThostFtdcTraderApi.h").is_file() {
        println!(
            "skipped: no CTP headers in {} (scripts/fetch-ctp-headers.sh)",
            headers.display()
        );
        return;
    }
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args([
        "run",
        "--quiet",
        "--package",
        "ctp-codegen",
        "--",
        "--check",
    ])
    .arg("--headers")
    .arg(&headers)
    .current_dir(root);
    if std::env::var_os("WEBCTP_TEST_BINDGEN").is_none() {
        cmd.arg("--skip-bindgen");
    }
    let out = cmd.output().expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "generated files differ from the headers; run scripts/regen-ctp-bindings.sh\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ok fakectp/src/generated/api_glue.rs"),
        "{stdout}"
    );
}

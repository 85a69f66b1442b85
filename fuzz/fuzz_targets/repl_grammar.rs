//! Every line typed in the terminal goes through this grammar.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(line) = std::str::from_utf8(data) {
        let _ = webctp::cli::commands::parse(line);
    }
});

//! Every frame a client can send goes through this parser: it must answer, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use webctp::protocol::{Endpoint, parse};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        for ep in [Endpoint::Md, Endpoint::Td] {
            if let Err(e) = parse(text, ep) {
                assert!(matches!(e.code, -400 | -404));
                let _ = e.to_json();
            }
        }
    }
});

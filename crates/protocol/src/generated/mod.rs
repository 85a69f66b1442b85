//! Generated from the official CTP 6.7.11 headers by `tools/ctp-codegen`
//! (`scripts/regen-ctp-bindings.sh`); do not edit by hand. `tests/codegen.rs` checks
//! that they are exactly what the headers generate.

pub mod fields;
pub mod td_requests;

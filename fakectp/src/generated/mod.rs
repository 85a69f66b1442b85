//! Generated from the official CTP 6.7.11 headers by `tools/ctp-codegen`
//! (`scripts/regen-ctp-bindings.sh`); do not edit by hand.

pub mod api_glue;
pub mod spi_calls;

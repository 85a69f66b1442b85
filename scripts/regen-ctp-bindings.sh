#!/usr/bin/env bash
# Regenerates the committed CTP bindings from the official 6.7.11 headers:
# crates/native/src/generated/{ffi,vtables,convert,spi_glue}.rs,
# crates/protocol/src/generated/{fields,td_requests}.rs and
# fakectp/src/generated/{api_glue,spi_calls}.rs.
#
# Fetches the headers first (scripts/fetch-ctp-headers.sh). bindgen needs libclang
# (Debian/Ubuntu: apt-get install libclang-dev); without it, pass --skip-bindgen to
# regenerate everything but ffi.rs. Extra arguments go to ctp-codegen, e.g. --check.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/fetch-ctp-headers.sh"
cd "$root"
cargo run --quiet --package ctp-codegen -- --headers "$root/target/ctp-headers/v6.7.11" "$@"

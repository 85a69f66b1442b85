#!/usr/bin/env bash
# Fetches the official CTP 6.7.11 Linux headers (and error.xml) from the `ctp2rs` crate
# on crates.io into target/ctp-headers/v6.7.11. Nothing fetched is committed; the
# headers are only needed to regenerate or check the committed bindings.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/target/ctp-headers/v6.7.11"
if [ -f "$dest/ThostFtdcTraderApi.h" ]; then
    echo "headers already in $dest"
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src"
cat > "$work/Cargo.toml" <<'TOML'
[package]
name = "fetch-ctp-headers"
version = "0.0.0"
edition = "2021"
[dependencies]
ctp2rs = "=0.1.9"
TOML
echo "" > "$work/src/lib.rs"
CARGO_TARGET_DIR="$work/target" cargo fetch --manifest-path "$work/Cargo.toml" --quiet
src=$(cargo metadata --manifest-path "$work/Cargo.toml" --format-version 1 2>/dev/null \
    | python3 -c 'import json,sys; m=json.load(sys.stdin); print([p["manifest_path"] for p in m["packages"] if p["name"]=="ctp2rs"][0])' 2>/dev/null \
    || true)
if [ -z "$src" ]; then
    src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/ctp2rs-0.1.9/Cargo.toml | head -n1)
fi
dir=$(dirname "$src")/api/ctp/v6.7.11
sub=$(ls -d "$dir"/*linux64* | grep -v -i cp | head -n1)
mkdir -p "$dest"
cp "$sub"/*.h "$sub"/error.xml "$dest"/
echo "headers copied to $dest"

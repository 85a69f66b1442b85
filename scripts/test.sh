#!/usr/bin/env bash
# The test suite: what CI runs (.ci/run) and what the README tells newcomers to run.
# Needs only the Rust toolchain and the package registries.
set -euo pipefail
cd "$(dirname "$0")/.."

# The official headers (from the ctp2rs crate) let a test check that the committed
# bindings are exactly what the headers generate.
./scripts/fetch-ctp-headers.sh || echo "note: CTP headers not fetched; the bindings check is skipped"
# The official CTP libraries (from the openctp-ctp wheel on PyPI) let a test start the
# native backend against an unreachable front.
if [ -x scripts/install-ctp-libs.sh ]; then
    ./scripts/install-ctp-libs.sh || echo "note: official CTP libraries not installed; their test is skipped"
fi

# The terminal's tests drive the real binary inside tmux (they print SKIPPED without it).
if ! command -v tmux >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && apt-get install -y -qq tmux) >/dev/null 2>&1 || true
    elif command -v sudo >/dev/null 2>&1; then
        (sudo -n apt-get update -qq && sudo -n apt-get install -y -qq tmux) >/dev/null 2>&1 || true
    fi
    command -v tmux >/dev/null 2>&1 || echo "note: tmux not installed; the terminal's tmux tests are skipped"
fi

if cargo fmt --version >/dev/null 2>&1; then
    cargo fmt --all --check
fi
if cargo clippy --version >/dev/null 2>&1; then
    cargo clippy --workspace --all-targets -- -D warnings
fi
cargo build --workspace --all-targets
cargo test --workspace

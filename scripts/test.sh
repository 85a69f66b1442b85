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

# A redis-server (Debian's package) lets the Redis bus tests run; they skip without it.
./scripts/install-redis.sh || echo "note: redis-server not installed; the Redis bus tests are skipped"

if cargo fmt --version >/dev/null 2>&1; then
    cargo fmt --all --check
fi
if cargo clippy --version >/dev/null 2>&1; then
    cargo clippy --workspace --all-targets -- -D warnings
fi
cargo build --workspace --all-targets
cargo test --workspace --no-fail-fast

# A short fuzz run of every target (20 s each; WEBCTP_FUZZ_SECONDS changes it, 0 skips
# with a note). cargo-fuzz runs on this stable toolchain with RUSTC_BOOTSTRAP=1 and no
# sanitizer (-s none); it is installed from the registry if absent. The targets are
# built in the dev profile: a few minutes less on two cores than the release build,
# at ~1,000-2,000 inputs/s, which is enough for a smoke run. The long run (release) is
# in docs/reliability.md.
fuzz_seconds=${WEBCTP_FUZZ_SECONDS:-20}
if [ "$fuzz_seconds" = 0 ]; then
    echo "SKIPPED fuzzing: WEBCTP_FUZZ_SECONDS=0"
elif ! cargo fuzz --version >/dev/null 2>&1 && ! cargo install cargo-fuzz --locked; then
    echo "SKIPPED fuzzing: cargo-fuzz is not installed and could not be installed"
else
    for target in $(cd fuzz && cargo fuzz list); do
        echo "fuzzing $target for ${fuzz_seconds}s"
        (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none --dev "$target" -- \
            -max_total_time="$fuzz_seconds" -print_final_stats=1)
    done
fi

#!/usr/bin/env bash
# Soak test: hundreds of clients connecting, subscribing, ordering and disconnecting
# against a sim gateway; prints RSS and open descriptors over time and fails if they
# grow. Usage: scripts/soak.sh [seconds] [clients]   (default 600 s, 200 clients)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
exec ./target/release/webctp bench soak --duration "${1:-600}" --clients "${2:-200}" --sample-every 30

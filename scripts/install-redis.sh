#!/usr/bin/env bash
# Installs redis-server (Debian's package) for the Redis bus tests when it is absent.
# Running it again is a no-op once redis-server is on the PATH. The tests start their
# own redis-server on a free loopback port; the package's own service is not used.
#
# Needs: apt-get, as root (or passwordless sudo).
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-redis: no apt-get on this machine; install redis-server yourself" >&2
    exit 1
fi
as_root=()
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        as_root=(sudo -n)
    else
        echo "install-redis: not root and no passwordless sudo; install redis-server yourself" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq redis-server >/dev/null
command -v redis-server >/dev/null 2>&1 || {
    echo "install-redis: redis-server is still not on the PATH" >&2
    exit 1
}
echo "install-redis: $(redis-server --version)"

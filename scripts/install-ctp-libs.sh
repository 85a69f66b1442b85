#!/usr/bin/env bash
# Installs the official CTP 6.7.11 Linux x86-64 libraries into libs/ (or the directory
# given as the first argument) as libthostmduserapi_se.so and libthosttraderapi_se.so.
#
# They come from the openctp-ctp 6.7.11.0 wheel on PyPI, which ships them unchanged
# (renamed with a hash suffix); the two files are checked against known SHA-256 sums
# before anything is installed. Running it again is a no-op once they are in place.
#
# Needs: pip (python3 -m pip) or curl, and python3 or unzip to open the wheel.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-"$root/libs"}
package=openctp-ctp
version=6.7.11.0
md_name=libthostmduserapi_se.so
td_name=libthosttraderapi_se.so
md_sha=25e1041472cc511d877a5ced64cc4c80ace363eac0509ef3a98a40ab2df30d38
td_sha=a8620f7639ca60f8e9d80000821727b4e6591c0ecc8f3563eaf5dff77d56caa6

die() {
    echo "install-ctp-libs: $*" >&2
    exit 1
}

sha256() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d' ' -f1
    elif command -v python3 >/dev/null 2>&1; then
        python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"
    else
        die "no sha256sum, shasum or python3 to check the files with"
    fi
}

installed() {
    [ -f "$dest/$md_name" ] && [ -f "$dest/$td_name" ] &&
        [ "$(sha256 "$dest/$md_name")" = "$md_sha" ] &&
        [ "$(sha256 "$dest/$td_name")" = "$td_sha" ]
}

if installed; then
    echo "the CTP 6.7.11 libraries are already in $dest"
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. The wheel.
fetched=
if python3 -m pip --version >/dev/null 2>&1; then
    echo "downloading $package==$version with pip"
    if python3 -m pip download "$package==$version" --no-deps --only-binary=:all: \
        --platform manylinux2014_x86_64 --dest "$work" --quiet; then
        fetched=yes
    else
        echo "install-ctp-libs: pip download failed; trying PyPI directly" >&2
    fi
fi
if [ -z "$fetched" ]; then
    command -v curl >/dev/null 2>&1 || die "neither pip nor curl can download the wheel"
    command -v python3 >/dev/null 2>&1 || die "python3 is needed to read PyPI's answer"
    echo "downloading $package $version from PyPI"
    # The release's own JSON, else the project's (some mirrors only serve that one).
    curl -fsL "https://pypi.org/pypi/$package/$version/json" -o "$work/release.json" ||
        curl -fsSL "https://pypi.org/pypi/$package/json" -o "$work/release.json" ||
        die "cannot reach https://pypi.org/pypi/$package/json"
    read -r url wheel_sha < <(python3 - "$work/release.json" "$version" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
files = doc.get("releases", {}).get(sys.argv[2]) or doc.get("urls", [])
wheels = [f for f in files
          if f["filename"].endswith(".whl") and "manylinux" in f["filename"] and "x86_64" in f["filename"]]
# The interpreter-independent wheel first: it is the one whose libraries are known.
wheels.sort(key=lambda f: "-py3-none-" not in f["filename"])
if wheels:
    print(wheels[0]["url"], wheels[0]["digests"]["sha256"])
PY
    ) || die "PyPI lists no manylinux x86_64 wheel for $package $version"
    curl -fsSL "$url" -o "$work/${url##*/}" || die "cannot download $url"
    [ "$(sha256 "$work/${url##*/}")" = "$wheel_sha" ] || die "the downloaded wheel does not match PyPI's SHA-256"
fi
wheel=$(find "$work" -maxdepth 1 -name '*.whl' | head -n1)
[ -n "$wheel" ] || die "no wheel was downloaded"

# 2. The two libraries inside it.
mkdir -p "$work/x"
if command -v python3 >/dev/null 2>&1; then
    python3 -m zipfile -e "$wheel" "$work/x" || die "cannot unpack $wheel"
elif command -v unzip >/dev/null 2>&1; then
    unzip -q "$wheel" -d "$work/x" || die "cannot unpack $wheel"
else
    die "neither python3 nor unzip can unpack the wheel"
fi
md_src=$(find "$work/x" -name 'libthostmduserapi_se*.so' | head -n1)
td_src=$(find "$work/x" -name 'libthosttraderapi_se*.so' | head -n1)
[ -n "$md_src" ] && [ -n "$td_src" ] || die "the wheel does not contain the two CTP libraries"
[ "$(sha256 "$md_src")" = "$md_sha" ] || die "$(basename "$md_src") does not have the expected SHA-256 ($md_sha)"
[ "$(sha256 "$td_src")" = "$td_sha" ] || die "$(basename "$td_src") does not have the expected SHA-256 ($td_sha)"

# 3. Install under the plain names (copy, then rename: never a half-written library).
mkdir -p "$dest" || die "cannot create $dest"
for pair in "$md_src:$md_name" "$td_src:$td_name"; do
    src=${pair%%:*}
    name=${pair##*:}
    cp "$src" "$dest/.$name.tmp" && chmod 0755 "$dest/.$name.tmp" && mv -f "$dest/.$name.tmp" "$dest/$name" ||
        die "cannot write $dest/$name"
done
installed || die "the installed files do not check out"
echo "installed $md_name and $td_name (CTP 6.7.11) into $dest"

#!/usr/bin/env bash
# Builds OUTDIR/py.wasm: a wasi:cli/command@0.2.0 component made from app.py with componentize-py
# (PyPI, pinned in requirements.txt). Usage: py/build.sh OUTDIR (tests/foreign/build.sh calls it).
#   OUTDIR/venv       Python venv holding componentize-py (rebuilt when requirements.txt changes)
#   OUTDIR/py-src     app.py and wit/ (world.wit + wit/deps: the WASI 0.2.0 WIT files of the
#                     crates.io crate wasi =0.13.0+wasi-0.2.0, fetched with cargo)
# Network: PyPI (pip) and crates.io (cargo fetch), only when something is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
[ $# = 1 ] || die "usage: py/build.sh OUTDIR"
mkdir -p "$1"; out=$(cd "$1" && pwd)
need python3 "Python 3.10+ builds the componentize-py venv"
need cargo "cargo fetches the WASI WIT files from crates.io"

# 1. The toolchain: a venv with the pinned componentize-py.
venv=$out/venv
h=$(stamp_of "$here/requirements.txt")
if ! up_to_date "$venv/.stamp" "$h" "$venv/bin/componentize-py"; then
  echo "== py: venv with $(grep -v '^#' "$here/requirements.txt" | tr '\n' ' ')"
  rm -rf "$venv"
  python3 -m venv "$venv" || die "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt" \
    || die "pip install -r py/requirements.txt failed (needs PyPI)"
  echo "$h" > "$venv/.stamp"
fi

# 2. The WIT: world.wit plus the WASI 0.2.0 packages (only fetched once).
src=$out/py-src
if [ ! -f "$src/wit/deps/cli/command.wit" ]; then
  echo "== py: WASI 0.2.0 WIT from the crates.io crate wasi =0.13.0+wasi-0.2.0"
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/src"; : > "$tmp/src/lib.rs"
  printf '[package]\nname = "witfetch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\nwasi = "=0.13.0"\n[workspace]\n' > "$tmp/Cargo.toml"
  (cd "$tmp" && cargo fetch --quiet) || die "cargo fetch of wasi =0.13.0 failed (needs crates.io)"
  crate=$(cd "$tmp" && cargo metadata --format-version 1 --quiet | python3 -c '
import json, os, sys
m = json.load(sys.stdin)
print(next(os.path.dirname(p["manifest_path"]) for p in m["packages"] if p["name"] == "wasi"))')
  [ -d "$crate/wit/deps/cli" ] || die "no wit/deps in $crate"
  rm -rf "$src/wit/deps"; mkdir -p "$src/wit"
  cp -r "$crate/wit/deps" "$src/wit/deps"
fi

# 3. The component.
h=$(stamp_of "$venv/.stamp" "$here/app.py" "$here/wit/world.wit" "$here/build.sh")
if up_to_date "$out/py.wasm.stamp" "$h" "$out/py.wasm"; then
  echo "== py: py.wasm is up to date"
  exit 0
fi
echo "== py: componentize-py -> $out/py.wasm"
cp "$here/app.py" "$src/app.py"
cp "$here/wit/world.wit" "$src/wit/world.wit"
rm -f "$out/py.wasm" "$out/py.wasm.stamp"
(cd "$src" && "$venv/bin/componentize-py" -d wit -w app componentize app -o "$out/py.wasm.tmp") \
  || die "componentize-py failed"
mv "$out/py.wasm.tmp" "$out/py.wasm"
echo "$h" > "$out/py.wasm.stamp"

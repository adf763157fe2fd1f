#!/usr/bin/env bash
# Builds OUTDIR/py-http.wasm: a wasi:http/proxy@0.2.0 handler made from app.py with componentize-py.
# Usage: py-http/build.sh OUTDIR, after py/build.sh OUTDIR (tests/foreign/build.sh runs both): it
# uses what that made, the componentize-py venv (OUTDIR/venv) and the WASI 0.2.0 WIT
# (OUTDIR/py-src/wit/deps, from the crates.io crate wasi =0.13.0+wasi-0.2.0, which has wasi:http).
#   OUTDIR/py-http-src   app.py and wit/ (world.wit + a copy of those deps)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
[ $# = 1 ] || die "usage: py-http/build.sh OUTDIR"
mkdir -p "$1"; out=$(cd "$1" && pwd)
venv=$out/venv deps=$out/py-src/wit/deps
[ -x "$venv/bin/componentize-py" ] && [ -f "$venv/.stamp" ] && [ -f "$deps/http/proxy.wit" ] \
  || die "no componentize-py venv or WASI WIT in $out: run py/build.sh $out first"

h=$(stamp_of "$venv/.stamp" "$here/app.py" "$here/wit/world.wit" "$here/build.sh")
if up_to_date "$out/py-http.wasm.stamp" "$h" "$out/py-http.wasm"; then
  echo "== py-http: py-http.wasm is up to date"
  exit 0
fi
echo "== py-http: componentize-py -> $out/py-http.wasm"
src=$out/py-http-src
rm -rf "$src"; mkdir -p "$src/wit"
cp "$here/app.py" "$src/app.py"
cp "$here/wit/world.wit" "$src/wit/world.wit"
cp -r "$deps" "$src/wit/deps"
rm -f "$out/py-http.wasm" "$out/py-http.wasm.stamp"
(cd "$src" && "$venv/bin/componentize-py" -d wit -w http-app componentize app -o "$out/py-http.wasm.tmp") \
  || die "componentize-py failed"
mv "$out/py-http.wasm.tmp" "$out/py-http.wasm"
echo "$h" > "$out/py-http.wasm.stamp"

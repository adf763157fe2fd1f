#!/usr/bin/env bash
# Builds the components made with other toolchains that tests/integration/foreign.rs runs:
#   OUTDIR/py.wasm (componentize-py), OUTDIR/js.wasm and OUTDIR/js-div.wasm (componentize-js),
#   OUTDIR/c.core.wasm and OUTDIR/c-O1.core.wasm (clang + wasi-libc), OUTDIR/go.core.wasm and
#   OUTDIR/go-stripped.core.wasm (Go, GOOS=wasip1); the test adds the preview-1 adapter to these.
#   Also OUTDIR/py-http.wasm (componentize-py), a wasi:http/proxy handler (no test runs it yet).
# Usage: tests/foreign/build.sh [OUTDIR]   (default: target/foreign at the repository's root)
# Then: PROXYRT_FOREIGN_DIR=OUTDIR cargo test -p proxyrt --test integration foreign::
# Tools are pinned (py/requirements.txt, js/package-lock.json) and installed under OUTDIR; a second
# run rebuilds only what changed. Needs python3 (3.10+, with venv), node 20+ and npm, cargo, and
# clang with wasi-libc (Debian: clang lld wasi-libc libclang-rt-dev-wasm32);
# the network only for PyPI, the npm registry and crates.io.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
out=${1:-$here/../../target/foreign}
mkdir -p "$out"; out=$(cd "$out" && pwd)
"$here/py/build.sh" "$out"
"$here/py-http/build.sh" "$out"   # uses the venv and the WIT that py/build.sh made
"$here/js/build.sh" "$out"
"$here/c/build.sh" "$out"
"$here/go/build.sh" "$out"
for f in py.wasm py-http.wasm js.wasm js-div.wasm c.core.wasm c-O1.core.wasm go.core.wasm go-stripped.core.wasm; do
  [ -s "$out/$f" ] || die "$out/$f was not built"
done
built=(py.wasm py-http.wasm js.wasm js-div.wasm c.core.wasm c-O1.core.wasm go.core.wasm go-stripped.core.wasm)
echo "== built in $out: $(cd "$out" && ls -l "${built[@]}" | awk '{printf "%s (%s bytes) ", $NF, $5}')"
echo "   PROXYRT_FOREIGN_DIR=$out cargo test -p proxyrt --test integration foreign::"

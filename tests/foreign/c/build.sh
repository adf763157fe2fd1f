#!/usr/bin/env bash
# Builds OUTDIR/c.core.wasm (-O2) and OUTDIR/c-O1.core.wasm (-O1, another build of the same
# program) from app.c: core modules for wasm32-wasi (preview 1) made by clang with wasi-libc.
# tests/integration/foreign.rs turns them into components with the wasi_snapshot_preview1 adapter
# (wit-component + the adapter of the pinned wasmtime release), as `wasm-tools component new
# --adapt` does. Usage: c/build.sh OUTDIR (tests/foreign/build.sh calls it).
# Needs clang, lld and wasi-libc with compiler-rt for wasm32 (Debian: apt-get install clang lld
# wasi-libc libclang-rt-dev-wasm32; .ci/run installs them); WASI_SYSROOT overrides /usr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
[ $# = 1 ] || die "usage: c/build.sh OUTDIR"
mkdir -p "$1"; out=$(cd "$1" && pwd)
need clang "clang builds the C app (Debian: apt-get install clang lld wasi-libc libclang-rt-dev-wasm32)"
sysroot=${WASI_SYSROOT:-/usr}
[ -f "$sysroot/lib/wasm32-wasi/libc.a" ] \
  || die "no wasi-libc in $sysroot/lib/wasm32-wasi (Debian: apt-get install wasi-libc; or set WASI_SYSROOT)"

h=$(stamp_of "$here/app.c" "$here/build.sh")
if up_to_date "$out/c.core.wasm.stamp" "$h" "$out/c.core.wasm" "$out/c-O1.core.wasm"; then
  echo "== c: c.core.wasm and c-O1.core.wasm are up to date"
  exit 0
fi
for opt in O2 O1; do
  name=c.core.wasm; [ "$opt" = O2 ] || name=c-$opt.core.wasm
  echo "== c: clang -$opt -> $out/$name"
  clang --target=wasm32-wasi --sysroot="$sysroot" "-$opt" "$here/app.c" -o "$out/$name.tmp" \
    || die "clang failed for -$opt"
  mv "$out/$name.tmp" "$out/$name"
done
echo "$h" > "$out/c.core.wasm.stamp"

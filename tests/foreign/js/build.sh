#!/usr/bin/env bash
# Builds, from app.js, with componentize-js (npm, pinned in package-lock.json):
#   OUTDIR/js.wasm      a component exporting wasi:cli/run@0.2.12
#   OUTDIR/js-div.wasm  the same app with one extra wall-clock call right after its first line: a
#                       replay of js.wasm's trace on it must diverge
# Usage: js/build.sh OUTDIR (tests/foreign/build.sh calls it).
#   OUTDIR/js-tools   npm ci of package.json/package-lock.json (rebuilt when they change)
#   OUTDIR/js-src     app.js, app-div.js and wit/ (world.wit + wit/deps: the WASI 0.2.12 WIT files
#                     shipped in @bytecodealliance/jco, lib/wit/builtin/0.2.12)
# Network: npm registry (npm ci), only when the tools are missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
[ $# = 1 ] || die "usage: js/build.sh OUTDIR"
mkdir -p "$1"; out=$(cd "$1" && pwd)
need node "node 20+ runs componentize-js"
need npm "npm installs componentize-js"

# 1. The toolchain. componentize-js 0.23.0 imports @bytecodealliance/preview2-shim at run time
# without declaring it: package.json pins it explicitly (else ERR_MODULE_NOT_FOUND).
tools=$out/js-tools
h=$(stamp_of "$here/package.json" "$here/package-lock.json")
if ! up_to_date "$tools/.stamp" "$h" "$tools/node_modules/.bin/componentize-js"; then
  echo "== js: npm ci (componentize-js, jco, preview2-shim as pinned in package-lock.json)"
  rm -rf "$tools"; mkdir -p "$tools"
  cp "$here/package.json" "$here/package-lock.json" "$tools/"
  (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed (needs the npm registry)"
  echo "$h" > "$tools/.stamp"
fi
cjs=$tools/node_modules/.bin/componentize-js

# 2. The WIT: world.wit plus the WASI 0.2.12 packages from jco (refreshed with the tools).
src=$out/js-src
if [ ! -f "$src/wit/deps/.stamp" ] || [ "$(cat "$src/wit/deps/.stamp")" != "$h" ]; then
  builtin=$tools/node_modules/@bytecodealliance/jco/lib/wit/builtin/0.2.12
  [ -d "$builtin/wasi-cli" ] || die "no WASI 0.2.12 WIT in $builtin"
  rm -rf "$src/wit/deps"; mkdir -p "$src/wit"
  cp -r "$builtin" "$src/wit/deps"
  echo "$h" > "$src/wit/deps/.stamp"
fi

# 3. The components.
h=$(stamp_of "$tools/.stamp" "$here/app.js" "$here/wit/world.wit" "$here/build.sh")
if up_to_date "$out/js.wasm.stamp" "$h" "$out/js.wasm" "$out/js-div.wasm"; then
  echo "== js: js.wasm and js-div.wasm are up to date"
  exit 0
fi
cp "$here/app.js" "$src/app.js"
cp "$here/wit/world.wit" "$src/wit/world.wit"
hello="console.log('js-app: hello from componentize-js');"
grep -qF "$hello" "$src/app.js" || die "app.js no longer has the line the js-div variant extends: $hello"
sed "s|$hello|$hello console.log('js-app: extra now ' + now().seconds);|" "$src/app.js" > "$src/app-div.js"
rm -f "$out/js.wasm.stamp"
for v in js:app.js js-div:app-div.js; do
  name=${v%%:*}; file=${v#*:}
  echo "== js: componentize-js $file -> $out/$name.wasm"
  (cd "$src" && "$cjs" "$file" --wit wit --world-name app -o "$out/$name.wasm.tmp") \
    || die "componentize-js $file failed"
  mv "$out/$name.wasm.tmp" "$out/$name.wasm"
done
echo "$h" > "$out/js.wasm.stamp"

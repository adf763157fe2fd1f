#!/usr/bin/env bash
# Builds the `demo` guest with the small `example` profile (opt-level "s", LTO, stripped) and
# copies it to examples/demo.wasm, the example bundled with proxyrt (committed).
# Usage: tests/guests/build-example.sh   (from anywhere; needs `rustup target add wasm32-wasip2`)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$here/target}"
cargo build --manifest-path "$here/Cargo.toml" --locked --target wasm32-wasip2 \
    --profile example --package demo --target-dir "$target_dir"
mkdir -p "$root/examples"
cp "$target_dir/wasm32-wasip2/example/demo.wasm" "$root/examples/demo.wasm"
echo "examples/demo.wasm: $(wc -c < "$root/examples/demo.wasm") bytes"

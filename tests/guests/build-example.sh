#!/usr/bin/env bash
# Builds the `demo` guest with the small `example` profile (opt-level "s", LTO, stripped) and
# copies it to examples/demo.wasm, the example bundled with proxyrt (committed); and a second build
# of it, unoptimized (profile `example-o0`), to examples/demo-o0.wasm, for `proxyrt bench`; and the
# `http-handler` guest (a wasi:http/proxy) with the `example` profile to examples/http-handler.wasm,
# for `proxyrt serve`.
# Usage: tests/guests/build-example.sh   (from anywhere; needs `rustup target add wasm32-wasip2`)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$here/target}"
mkdir -p "$root/examples"
for profile in example example-o0; do
  cargo build --manifest-path "$here/Cargo.toml" --locked --target wasm32-wasip2 \
      --profile "$profile" --package demo --target-dir "$target_dir"
done
cargo build --manifest-path "$here/Cargo.toml" --locked --target wasm32-wasip2 \
    --profile example --package http-handler --target-dir "$target_dir"
cp "$target_dir/wasm32-wasip2/example/demo.wasm" "$root/examples/demo.wasm"
cp "$target_dir/wasm32-wasip2/example-o0/demo.wasm" "$root/examples/demo-o0.wasm"
cp "$target_dir/wasm32-wasip2/example/http_handler.wasm" "$root/examples/http-handler.wasm"
for f in demo.wasm demo-o0.wasm http-handler.wasm; do
  echo "examples/$f: $(wc -c < "$root/examples/$f") bytes"
done

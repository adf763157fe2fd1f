#!/usr/bin/env bash
# Writes the trace targets' seeds (fuzz/corpus/trace_file and trace_entries): real traces of the
# bundled example, recorded by the proxyrt given (default: target/debug/proxyrt). Run it again
# when the trace format changes: seeds of an old format stop at the version check. Each trace is
# recorded twice, with compressed blocks (the default) and raw ones (`-raw`), so that mutations
# reach both the decompressor and the entry decoder.
set -euo pipefail
cd "$(dirname "$0")/.."
proxyrt=${1:-target/debug/proxyrt}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/data"
"$proxyrt" record --trace "$work/greet.trace" examples/demo.wasm -- fuzzer >/dev/null
"$proxyrt" record --trace "$work/files.trace" --dir "$work/data::/data" --env NAME=seed \
  examples/demo.wasm >/dev/null
"$proxyrt" record --trace-compression none --trace "$work/greet-raw.trace" examples/demo.wasm \
  -- fuzzer >/dev/null
"$proxyrt" record --trace-compression none --trace "$work/files-raw.trace" \
  --dir "$work/data::/data" --env NAME=seed examples/demo.wasm >/dev/null
for target in trace_file trace_entries; do
  mkdir -p "fuzz/corpus/$target"
  for t in greet files greet-raw files-raw; do
    cp "$work/$t.trace" "fuzz/corpus/$target/$t"
    # A cut one, in the middle of its blocks (past the header: magic, length, CRC, payload):
    # the reader's other ending.
    size=$(stat -c %s "$work/$t.trace")
    header=$((16 + $(od -An -tu4 -j8 -N4 "$work/$t.trace")))
    head -c $((header + (size - header) / 2)) "$work/$t.trace" >"fuzz/corpus/$target/$t-cut"
  done
done
ls -l fuzz/corpus/trace_file fuzz/corpus/trace_entries

#!/usr/bin/env bash
# Writes the trace targets' seeds (fuzz/corpus/trace_file and trace_entries): real traces of the
# bundled example, recorded by the proxyrt given (default: target/debug/proxyrt). Run it again
# when the trace format changes: seeds of an old format stop at the version check.
set -euo pipefail
cd "$(dirname "$0")/.."
proxyrt=${1:-target/debug/proxyrt}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/data"
"$proxyrt" record --trace "$work/greet.trace" examples/demo.wasm -- fuzzer >/dev/null
"$proxyrt" record --trace "$work/files.trace" --dir "$work/data::/data" --env NAME=seed \
  examples/demo.wasm >/dev/null
for target in trace_file trace_entries; do
  mkdir -p "fuzz/corpus/$target"
  for t in greet files; do
    cp "$work/$t.trace" "fuzz/corpus/$target/$t"
    # A cut one: the reader's other ending.
    size=$(stat -c %s "$work/$t.trace")
    head -c $((size * 2 / 3)) "$work/$t.trace" >"fuzz/corpus/$target/$t-cut"
  done
done
ls -l fuzz/corpus/trace_file fuzz/corpus/trace_entries

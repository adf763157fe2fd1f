#!/usr/bin/env python3
"""Runs the WASI testsuite's preview-1 tests through proxyrt, as a user would, and prints the
results as Markdown (CONFORMANCE.md at the repository's root holds a run of it).

Usage: tests/conformance/run.py SUITE PROXYRT [WASMTIME]

SUITE is a copy of WebAssembly/wasi-testsuite's branch `prod/testsuite-base` (its precompiled
tests, `tests/{rust,c,assemblyscript}/testsuite/wasm32-wasip1/*.wasm` with their JSON specs: args,
env, a root directory preopened at `/`, the expected exit code and stdout). The suite is not ours:
nothing of it is committed, and this script fetches nothing. PROXYRT is the proxyrt binary;
WASMTIME, if given, the reference `wasmtime` (each test runs on it too, and proxyrt's stdout and
status must equal it).

Per test, four stages, each from a fresh copy of the test's root directory:
- `wasmtime`: the reference, `wasmtime run` (when WASMTIME is given);
- `run`: `proxyrt run`;
- `record`: `proxyrt record`, which must behave as `run` does;
- `replay`: `proxyrt replay` of that trace, from an empty directory, with no root directory.
A stage passes when its exit status and stdout are what the spec says (status 0 and any stdout
by default); `run` must also match the reference when there is one.
"""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TIMEOUT = 120


def spec_of(wasm: Path) -> dict:
    spec = wasm.with_suffix(".json")
    return json.loads(spec.read_text()) if spec.exists() else {}


def run(argv, cwd):
    try:
        p = subprocess.run(argv, cwd=cwd, capture_output=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired:
        return None, "", f"timed out after {TIMEOUT} s"


def options(spec: dict, root):
    argv = []
    for k, v in spec.get("env", {}).items():
        argv += ["--env", f"{k}={v}"]
    if root is not None:
        argv += ["--dir", f"{root}::/"]
    return argv


def check(stage, got, spec, reference=None):
    code, out, err = got
    want = spec.get("exit_code", 0)
    if code != want:
        return f"{stage}: exit status {code}, expected {want} ({err.strip().splitlines()[-1:] or ['']})"
    if "stdout" in spec and out != spec["stdout"]:
        return f"{stage}: stdout {out!r}, expected {spec['stdout']!r}"
    if reference is not None and reference[0] == code and reference[1] != out:
        return f"{stage}: stdout differs from wasmtime's"
    return None


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    suite, proxyrt = Path(sys.argv[1]), str(Path(sys.argv[2]).resolve())
    wasmtime = str(Path(sys.argv[3]).resolve()) if len(sys.argv) > 3 else None
    tests = sorted(suite.glob("tests/*/testsuite/wasm32-wasip1/*.wasm"))
    if not tests:
        sys.exit(f"{suite}: no tests/*/testsuite/wasm32-wasip1/*.wasm (a copy of prod/testsuite-base?)")
    stages = (["wasmtime"] if wasmtime else []) + ["run", "record", "replay"]
    passed = {s: 0 for s in stages}
    failures = []
    for wasm in tests:
        spec = spec_of(wasm)
        name = f"{wasm.parent.parent.parent.name}/{wasm.stem}"
        args = spec.get("args", [])
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)

            def fresh_root(tag):
                if "root" not in spec:
                    return None
                root = tmp / f"root-{tag}"
                shutil.copytree(wasm.parent / spec["root"], root)
                return root

            results = {}
            reference = None
            if wasmtime:
                reference = run([wasmtime, "run"] + options(spec, fresh_root("wasmtime")) + [str(wasm)] + args, tmp)
                results["wasmtime"] = check("wasmtime", reference, spec)
            got = run([proxyrt, "run"] + options(spec, fresh_root("run")) + [str(wasm)] + args, tmp)
            results["run"] = check("run", got, spec, reference)
            trace = tmp / "trace.bin"
            got = run([proxyrt, "record", "--trace", str(trace)] + options(spec, fresh_root("record")) + [str(wasm)] + args, tmp)
            results["record"] = check("record", got, spec, reference)
            empty = tmp / "empty"
            empty.mkdir()
            if trace.exists():
                got = run([proxyrt, "replay", str(wasm), str(trace)], empty)
                results["replay"] = check("replay", got, spec)
            else:
                results["replay"] = "replay: no trace was recorded"
        for stage in stages:
            if results[stage] is None:
                passed[stage] += 1
            else:
                failures.append((name, results[stage]))
    print(f"{len(tests)} tests (wasm32-wasip1: rust, c, assemblyscript)\n")
    print("| stage | passed | failed |")
    print("|---|---|---|")
    for stage in stages:
        print(f"| {stage} | {passed[stage]} | {len(tests) - passed[stage]} |")
    if failures:
        print("\nFailures:\n")
        for name, why in failures:
            print(f"- `{name}`: {why}")


if __name__ == "__main__":
    main()

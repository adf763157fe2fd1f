//! The fuzz targets (`fuzz/`), run on stable as `cargo test` runs everything: each target on its
//! kept inputs (`fuzz/corpus/<target>`: seeds, and every input that ever failed), then on seeded
//! mutations of them for a bounded time. The trace targets also get traces recorded here and now
//! by the real `proxyrt record` (a CLI run, a trap, an exit status, a cut trace), so their seeds
//! are always of the current trace format.
//!
//! `PROXYRT_FUZZ_SECONDS` sets each target's time (default [`DEFAULT_SECONDS`]); a failing input
//! is written to `$CARGO_TARGET_TMPDIR/fuzz-findings/` and named in the failure, to be added to
//! the corpus once fixed. Longer, coverage-guided runs: `fuzz/README.md`.

use crate::common::proxyrt;
use proxyrt_fuzz::{driver, TARGETS};
use proxyrt_test_guests as guests;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// Seconds of mutations per target in a default run.
const DEFAULT_SECONDS: u64 = 30;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// Traces recorded from real runs of the CLI guest, once per test binary.
fn recorded_traces() -> &'static [Vec<u8>] {
    static TRACES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    TRACES.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = format!("{}::/data", dir.path().display());
        let runs: &[&[&str]] = &[
            &[
                "echo:hi",
                "write:/data/a=hey",
                "read:/data/a",
                "ls:/data",
                "random:4",
            ],
            &["env:K", "clock-wall", "clock-mono", "stderr:oops", "exit:3"],
            &["insecure-seed", "hashmap", "trap"],
        ];
        let mut traces = Vec::new();
        for (i, steps) in runs.iter().enumerate() {
            let trace = dir.path().join(format!("{i}.trace"));
            proxyrt()
                .args(["record", "--trace"])
                .arg(&trace)
                .args(["--dir", &data, "--env", "K=v", guests::CLI])
                .args(*steps)
                .output_checked();
            let bytes = std::fs::read(&trace).expect("the recorded trace");
            // A cut one too: the reader's other ending.
            traces.push(bytes[..bytes.len() * 2 / 3].to_vec());
            traces.push(bytes);
        }
        traces
    })
}

fn fuzz(target: &str, extra: &[Vec<u8>]) {
    let run = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, run)| *run)
        .expect("a target of that name");
    let mut kept: Vec<Vec<u8>> = driver::inputs_in(&corpus_dir(target))
        .into_iter()
        .map(|(_, bytes)| bytes)
        .collect();
    kept.extend_from_slice(extra);
    assert!(!kept.is_empty(), "{target} has no kept input");
    let seconds = std::env::var("PROXYRT_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SECONDS);
    // Quiet: the targets' panics are caught and reported below, with their input.
    let result = driver::run(run, &kept, Duration::from_secs(seconds), 0x5eed);
    if let Some(finding) = result.finding {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-findings");
        std::fs::create_dir_all(&dir).expect("findings directory");
        let path = dir.join(format!("{target}-{:016x}", fnv(&finding.input)));
        std::fs::write(&path, &finding.input).expect("write the finding");
        panic!(
            "{target} failed after {} inputs: {}\n  the input: {}",
            result.inputs,
            finding.message,
            path.display()
        );
    }
    eprintln!("{target}: {} inputs, no failure", result.inputs);
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

#[test]
fn fuzz_trace_file() {
    fuzz("trace_file", recorded_traces());
}

#[test]
fn fuzz_trace_entries() {
    fuzz("trace_entries", recorded_traces());
}

#[test]
fn fuzz_value_decoder() {
    fuzz("value_decoder", &[]);
}

#[test]
fn fuzz_generated_world() {
    fuzz("generated_world", &[]);
}

//! The fuzz targets (`fuzz/`), run on stable as `cargo test` runs everything: each target on every
//! input that ever failed (`fuzz/regressions/<target>`) and on its seeds (`fuzz/corpus/<target>`),
//! then on seeded mutations of the seeds. The trace targets also get traces recorded here and now
//! by the real `proxyrt record` (a CLI run, a trap, an exit status, a cut trace), so their seeds
//! are always of the current trace format.
//!
//! Each target tries a fixed number of mutations from a fixed seed ([`INPUTS`], at most
//! [`MAX_TIME`]), so that every run, here or in CI, tries the same inputs (`driver::Budget`).
//! `PROXYRT_FUZZ_SECONDS=N` explores instead: N seconds per target, as many inputs as fit, from
//! a seed of the clock (printed). A failing input is written to
//! `$CARGO_TARGET_TMPDIR/fuzz-findings/` and named in the failure, to be added to the corpus once
//! fixed. Longer, coverage-guided runs: `fuzz/README.md`.

use crate::common::proxyrt;
use proxyrt_fuzz::{driver, TARGETS};
use proxyrt_test_guests as guests;
use recorder_host::trace::{TraceError, TraceReader};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// Mutations per target in a default run: about 40 s each in a debug build on one core.
const INPUTS: &[(&str, u64)] = &[
    ("trace_file", 600_000),
    ("trace_entries", 120_000),
    ("value_decoder", 3_000_000),
    ("generated_world", 6_000),
];
/// The most a default run of one target takes: a bound for a machine far slower than this one,
/// not a budget (a run cut by it tries fewer inputs than a full one, never other ones).
const MAX_TIME: Duration = Duration::from_secs(300);

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// The contents of the files in `dir`, in name order.
fn bytes_in(dir: &Path) -> Vec<Vec<u8>> {
    driver::inputs_in(dir)
        .into_iter()
        .map(|(_, bytes)| bytes)
        .collect()
}

fn regressions_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
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
    let kept = bytes_in(&corpus_dir(target));
    assert!(!kept.is_empty(), "{target} has no seed");
    // Failing inputs once found (`fuzz/regressions`) and the inputs of this run only (recorded
    // traces hold clock readings and random bytes) are tried as they are, not mutated:
    // mutations start from the seeds alone, so that they are the same in every run, and adding
    // a regression input does not change them.
    let mut once = bytes_in(&regressions_dir(target));
    once.extend_from_slice(extra);
    if !once.is_empty() {
        let budget = driver::Budget {
            inputs: 0,
            time: MAX_TIME,
        };
        report(target, driver::run(run, &once, budget, 0));
    }
    let (budget, seed) = match std::env::var("PROXYRT_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(seconds) => {
            let seed = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            eprintln!("{target}: exploring for {seconds} s from seed {seed:#x}");
            let time = Duration::from_secs(seconds);
            (
                driver::Budget {
                    inputs: u64::MAX,
                    time,
                },
                seed,
            )
        }
        None => {
            let inputs = INPUTS
                .iter()
                .find(|(name, _)| *name == target)
                .map_or(10_000, |(_, n)| *n);
            (
                driver::Budget {
                    inputs,
                    time: MAX_TIME,
                },
                0x5eed,
            )
        }
    };
    report(target, driver::run(run, &kept, budget, seed));
}

fn report(target: &str, result: driver::Run) {
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

/// The kept trace seeds are of the current trace format: stale ones would stop at the version
/// check, and their mutations would test nothing else.
#[test]
fn trace_seeds_are_of_the_current_format() {
    for target in ["trace_file", "trace_entries"] {
        let seeds = driver::inputs_in(&corpus_dir(target));
        assert!(seeds.len() >= 2, "{target} has no seeds");
        for (path, bytes) in seeds {
            if let Err(e @ (TraceError::UnsupportedVersion { .. } | TraceError::NotATrace)) =
                TraceReader::from_slice(&bytes)
            {
                panic!(
                    "{}: {e}; run fuzz/seeds.sh to record the seeds again",
                    path.display()
                );
            }
        }
    }
}

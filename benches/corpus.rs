//! Corpus replay throughput: a corpus of `TRACES` traces of the `cli` guest (each a short run
//! with its own steps) replayed by `proxyrt replay -j 1 DIR` and `-j 2 DIR` (one process, the
//! composition compiled once, a fresh instance per trace), against replaying them one `proxyrt
//! replay --quiet` process each, the way a script over the traces would. Traces per second and
//! the ratios, and the peak RSS of the corpus process (`ru_maxrss` from `wait4(2)`): memory per
//! worker. Criterion times one thing at a time, so this bench prints a table (benchmark mode
//! only: `cargo bench -p proxyrt --bench corpus`; under `cargo test --benches` it only checks
//! that it builds).

#[path = "common/peak.rs"]
mod peak;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Traces in the corpus.
const TRACES: usize = 200;
/// Times each way is measured (the median is reported).
const REPEATS: usize = 3;

fn proxyrt() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_proxyrt"));
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Records the corpus into `dir`: run `i` echoes `i` and reads the clock and random bytes.
fn corpus(dir: &Path) -> Vec<PathBuf> {
    (0..TRACES)
        .map(|i| {
            let trace = dir.join(format!("run-{i:04}.bin"));
            let status = proxyrt()
                .args(["record", "--trace"])
                .arg(&trace)
                .arg(proxyrt_test_guests::CLI)
                .args([format!("echo:{i}"), "clock-wall".into(), "random:16".into()])
                .status()
                .expect("proxyrt record");
            assert!(status.success(), "record {i}");
            trace
        })
        .collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bench = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");
    if !bench {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let corpus_dir = dir.path().join("corpus");
    std::fs::create_dir(&corpus_dir).expect("corpus dir");
    let traces = corpus(&corpus_dir);
    // Warm the compilation cache.
    let warm = proxyrt()
        .args(["replay", "-q", proxyrt_test_guests::CLI])
        .arg(&traces[0])
        .status()
        .expect("replay");
    assert!(warm.success());

    let mut per_process = Vec::new();
    let mut jobs: [(Vec<Duration>, u64); 2] = Default::default();
    for _ in 0..REPEATS {
        let start = Instant::now();
        for t in &traces {
            let status = proxyrt()
                .args(["replay", "-q", proxyrt_test_guests::CLI])
                .arg(t)
                .status()
                .expect("replay");
            assert!(status.success());
        }
        per_process.push(start.elapsed());
        for (j, slot) in jobs.iter_mut().enumerate() {
            let mut cmd = proxyrt();
            cmd.args(["replay", "-q", "-j", &(j + 1).to_string()])
                .arg(proxyrt_test_guests::CLI)
                .arg(&corpus_dir);
            let (time, rss) = peak::run_measured(cmd);
            slot.0.push(time);
            slot.1 = slot.1.max(rss);
        }
    }
    let rate = |d: Duration| TRACES as f64 / d.as_secs_f64();
    let base = median(per_process);
    println!(
        "\ncorpus: {TRACES} traces of the cli guest (echo, wall clock, 16 random bytes; ~20 host \
         calls each), median of {REPEATS}"
    );
    println!(
        "{:<28} {:>10} {:>10} {:>12} {:>14}",
        "how", "time", "traces/s", "vs processes", "peak RSS"
    );
    println!(
        "{:<28} {:>10.2?} {:>10.0} {:>12} {:>14}",
        "one replay process each",
        base,
        rate(base),
        "1.00x",
        "-"
    );
    for (j, (times, rss)) in jobs.into_iter().enumerate() {
        let t = median(times);
        println!(
            "{:<28} {:>10.2?} {:>10.0} {:>11.1}x {:>11} KiB",
            format!("replay -j {} DIR", j + 1),
            t,
            rate(t),
            base.as_secs_f64() / t.as_secs_f64(),
            rss
        );
    }
}

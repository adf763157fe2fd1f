//! The cost of replaying: `proxyrt replay --quiet` of a trace against `proxyrt run` of the same guest
//! and arguments (the live run the trace was recorded from), as whole processes in the same run,
//! warm compilation cache for both, reported as ratios in BENCHMARKS.md. Goal: replay is not slower
//! than live.
//!
//! Three parts, in this order:
//! 1. criterion groups `replay-vs-run/<workload>` (`run`, then `replay`), the same workloads as
//!    `benches/record.rs` plus `echo` (one write, 6 host calls: the fixed cost of a process);
//! 2. `paired`: the same workloads again, `run`, `record` (spliced: recording stubs inside the
//!    guest's core modules), `replay` (spliced likewise), `run` of the forward composition (the
//!    pass-through proxy alone), `run` of the spliced component (a pass-through stub inside each
//!    core module, `proxy_gen::splice`), `record --layout composed` and `replay --layout
//!    composed` (the proxy above the guest) timed *in turn* (one of each per round, the order
//!    rotated every round) and the medians of the per-round ratios to `run`, which a shared, noisy
//!    machine disturbs less than separate criterion groups; with `PROXYRT_BENCH_BASELINE` set to
//!    another `proxyrt` binary (e.g. a release build of main), also that binary's `record` in
//!    every round, so that a change is measured against its baseline in the same rounds;
//! 3. `replay-peak-rss`: the peak resident set size of the `replay --quiet` process against the
//!    `run` process of the same program, for traces from 2.7 KB to 128 MB: the maximum RSS
//!    (`ru_maxrss`) that the kernel reports for the child when it is reaped with `wait4(2)`. Criterion
//!    cannot measure memory, so this part prints a table.
//!
//! Parts 2 and 3 run only in benchmark mode (`cargo bench`, not `cargo test --benches`), and a
//! filter (`cargo bench -p proxyrt --bench replay -- peak-rss`) selects them like criterion's groups:
//! a part runs when there is no filter or a filter is a substring of its name.

#[path = "common/peak.rs"]
mod peak;

use criterion::{criterion_group, Criterion};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Rounds of the paired measurement (a `run`, a `record` and a `replay` each).
const ROUNDS: usize = 15;
/// Processes of each kind per peak-RSS measurement (the median is reported).
const RSS_REPEATS: usize = 3;

/// A guest run: `proxyrt run OPTIONS WASM ARGS...`.
struct Workload {
    name: &'static str,
    options: Vec<String>,
    wasm: &'static str,
    args: Vec<String>,
}

impl Workload {
    fn new(name: &'static str, options: &[&str], wasm: &'static str, args: &[&str]) -> Self {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Workload {
            name,
            options: owned(options),
            wasm,
            args: owned(args),
        }
    }

    fn run(&self) -> Vec<String> {
        self.run_of(Path::new(self.wasm))
    }

    fn record(&self, trace: &Path) -> Vec<String> {
        let mut v = vec!["record".to_string(), "--trace".into(), path_str(trace)];
        v.extend(self.options.iter().cloned());
        v.push(self.wasm.into());
        v.extend(self.args.iter().cloned());
        v
    }

    /// `record` with the proxy composed above the guest (`--layout composed`), the layout record
    /// mode used before the spliced one.
    fn record_composed(&self, trace: &Path) -> Vec<String> {
        let mut v = self.record(trace);
        v.insert(1, "--layout".into());
        v.insert(2, "composed".into());
        v
    }

    /// `run` of another component (the forward composition) with the same options and arguments.
    fn run_of(&self, wasm: &Path) -> Vec<String> {
        let mut v = vec!["run".to_string()];
        v.extend(self.options.iter().cloned());
        v.push(path_str(wasm));
        v.extend(self.args.iter().cloned());
        v
    }

    fn replay(&self, trace: &Path) -> Vec<String> {
        vec![
            "replay".into(),
            "--quiet".into(),
            self.wasm.into(),
            path_str(trace),
        ]
    }

    /// `replay` with the replay proxy composed above the guest (`--layout composed`), the layout
    /// replay used before the spliced one.
    fn replay_composed(&self, trace: &Path) -> Vec<String> {
        let mut v = self.replay(trace);
        v.insert(1, "--layout".into());
        v.insert(2, "composed".into());
        v
    }
}

fn path_str(p: &Path) -> String {
    p.to_str().expect("utf-8 path").to_string()
}

fn command(cache: &Path, args: &[String]) -> Command {
    command_of(Path::new(env!("CARGO_BIN_EXE_proxyrt")), cache, args)
}

/// [`command`] of the `proxyrt` binary at `bin`.
fn command_of(bin: &Path, cache: &Path, args: &[String]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env("PROXYRT_CACHE_DIR", cache)
        .args(args)
        .stdout(Stdio::null());
    cmd
}

fn proxyrt(cache: &Path, args: &[String]) {
    let status = command(cache, args).status().expect("spawn proxyrt");
    assert!(status.success(), "proxyrt {args:?}: {status}");
}

/// Runs proxyrt to its end and returns its wall time and peak RSS in KiB (`wait4(2)`).
fn measure(cache: &Path, args: &[String]) -> (Duration, u64) {
    peak::run_measured(command(cache, args))
}

/// The number of host calls in a trace, from `proxyrt trace stats --json`.
fn calls(cache: &Path, trace: &Path) -> u64 {
    let out = Command::new(env!("CARGO_BIN_EXE_proxyrt"))
        .env("PROXYRT_CACHE_DIR", cache)
        .args(["trace", "stats", "--json"])
        .arg(trace)
        .output()
        .expect("spawn proxyrt trace stats");
    assert!(out.status.success(), "trace stats: {}", out.status);
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stats JSON");
    stats["functions"]
        .as_object()
        .expect("functions")
        .values()
        .map(|f| f["calls"].as_u64().expect("calls"))
        .sum()
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Temporary directories of a bench part: the compilation cache and the guests' files and traces.
struct Dirs {
    cache: tempfile::TempDir,
    work: tempfile::TempDir,
}

impl Dirs {
    fn new() -> Self {
        Dirs {
            cache: tempfile::tempdir().expect("temp dir"),
            work: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn data(&self) -> String {
        format!("{}::/data", self.work.path().display())
    }

    fn trace(&self, name: &str) -> PathBuf {
        self.work.path().join(format!("{name}.bin"))
    }

    /// Writes the forward composition of `w` (the pass-through proxy, no recording: the cost of the
    /// extra component boundary alone) and warms the cache for it.
    fn forward(&self, w: &Workload) -> PathBuf {
        let out = self.work.path().join(format!("{}-forward.wasm", w.name));
        let args = ["instrument", "-m", "forward", w.wasm, "-o", &path_str(&out)];
        proxyrt(self.cache.path(), &args.map(String::from));
        proxyrt(self.cache.path(), &w.run_of(&out));
        out
    }

    /// Writes `w`'s component with a pass-through stub spliced inside each core module
    /// (`proxy_gen::splice`: the layout that has no second component on the call path) and warms
    /// the cache for it.
    fn spliced(&self, w: &Workload) -> PathBuf {
        let out = self.work.path().join(format!("{}-spliced.wasm", w.name));
        let original = std::fs::read(w.wasm).expect("read the guest");
        let spliced = proxy_gen::splice::splice_passthrough(&original).expect("splice the guest");
        std::fs::write(&out, spliced).expect("write the spliced guest");
        proxyrt(self.cache.path(), &w.run_of(&out));
        out
    }

    /// Warms the cache for `run` and `replay` of `w` and records its trace.
    fn prepare(&self, w: &Workload) -> PathBuf {
        let trace = self.trace(w.name);
        let cache = self.cache.path();
        proxyrt(cache, &w.run());
        proxyrt(cache, &w.record(&trace));
        proxyrt(cache, &w.replay(&trace));
        trace
    }
}

/// The timed workloads: those of `benches/record.rs`, and `echo`, whose one `write` makes its time
/// the fixed cost of a process.
fn timed_workloads(dirs: &Dirs) -> Vec<Workload> {
    let data = dirs.data();
    vec![
        Workload::new("echo", &[], proxyrt_test_guests::CLI, &["echo:x"]),
        Workload::new(
            "small-writes",
            &[],
            proxyrt_test_guests::CLI,
            &["lines:20000"],
        ),
        Workload::new(
            "file-io-4MB",
            &["--dir", &data],
            proxyrt_test_guests::CLI,
            &["fill:/data/f=4000000", "sum:/data/f"],
        ),
        Workload::new("compute", &[], proxyrt_test_guests::COMPUTE, &[]),
    ]
}

fn replay_vs_run(c: &mut Criterion) {
    let dirs = Dirs::new();
    let cache = dirs.cache.path();
    for w in timed_workloads(&dirs) {
        let trace = dirs.prepare(&w);
        let (run, replay) = (w.run(), w.replay(&trace));
        let mut g = c.benchmark_group(format!("replay-vs-run/{}", w.name));
        g.sample_size(10);
        g.bench_function("run", |b| b.iter(|| proxyrt(cache, &run)));
        g.bench_function("replay", |b| b.iter(|| proxyrt(cache, &replay)));
        g.finish();
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `run`, `record`, `replay`, `run` of the forward composition, `run` of the spliced
/// component, `record --layout composed` and `replay --layout composed` in turn (and, with
/// `PROXYRT_BENCH_BASELINE`, the baseline binary's `record`), `ROUNDS` rounds per workload (the
/// order rotated every round); prints the medians and the medians of the per-round ratios to
/// `run` (and of `record` to forward, and to the baseline's `record`), with their ranges. The
/// forward composition (`instrument -m forward`: the proxy passing calls through, recording
/// nothing) tells apart what the extra component boundary costs in wasmtime from what recording
/// or replaying adds on top.
fn paired() {
    let dirs = Dirs::new();
    let cache = dirs.cache.path();
    let baseline = std::env::var_os("PROXYRT_BENCH_BASELINE").map(PathBuf::from);
    println!(
        "\npaired: {ROUNDS} rounds of one `run`, one `record`, one `replay --quiet`, one `run` of the \
         forward composition, one of the spliced component, one `record --layout composed` and \
         one `replay --layout composed` each{}, in rotating order",
        match &baseline {
            Some(b) => format!(" and one `record` by the baseline {}", b.display()),
            None => String::new(),
        }
    );
    println!(
        "{:<14} {:>7} {:>8} {:>9} {:>9} {:>16} {:>16} {:>16} {:>16} {:>16} {:>16} {:>10}",
        "workload",
        "calls",
        "run ms",
        "record ms",
        "replay ms",
        "record/run",
        "replay/run",
        "forward/run",
        "spliced/run",
        "record/spliced",
        "composed/run",
        "trace"
    );
    let mut fixed = None;
    for w in timed_workloads(&dirs) {
        let trace = dirs.prepare(&w);
        let forward = dirs.forward(&w);
        let spliced = dirs.spliced(&w);
        let again = dirs.trace(&format!("{}-again", w.name));
        let composed_trace = dirs.trace(&format!("{}-composed", w.name));
        // Warm the cache for the composed layouts.
        proxyrt(cache, &w.record_composed(&composed_trace));
        proxyrt(cache, &w.replay_composed(&trace));
        let mut kinds: Vec<(&Path, Vec<String>)> = vec![
            (Path::new(env!("CARGO_BIN_EXE_proxyrt")), w.run()),
            (Path::new(env!("CARGO_BIN_EXE_proxyrt")), w.record(&again)),
            (Path::new(env!("CARGO_BIN_EXE_proxyrt")), w.replay(&trace)),
            (Path::new(env!("CARGO_BIN_EXE_proxyrt")), w.run_of(&forward)),
            (Path::new(env!("CARGO_BIN_EXE_proxyrt")), w.run_of(&spliced)),
            (
                Path::new(env!("CARGO_BIN_EXE_proxyrt")),
                w.record_composed(&composed_trace),
            ),
            (
                Path::new(env!("CARGO_BIN_EXE_proxyrt")),
                w.replay_composed(&trace),
            ),
        ];
        let base_trace = dirs.trace(&format!("{}-baseline", w.name));
        if let Some(b) = &baseline {
            let args = w.record(&base_trace);
            // Warm the cache for the baseline's record composition.
            let status = command_of(b, cache, &args)
                .status()
                .expect("spawn the baseline");
            assert!(status.success(), "baseline {args:?}: {status}");
            kinds.push((b, args));
        }
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
        for round in 0..ROUNDS {
            for k in 0..kinds.len() {
                let kind = (round + k) % kinds.len();
                let (bin, args) = &kinds[kind];
                times[kind].push(ms(peak::run_measured(command_of(bin, cache, args)).0));
            }
        }
        let ratios = |kind: usize, base: usize| -> (f64, f64, f64) {
            let mut r: Vec<f64> = times[kind]
                .iter()
                .zip(&times[base])
                .map(|(t, b)| t / b)
                .collect();
            let (lo, hi) = r
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            (median(&mut r), lo, hi)
        };
        let (rec, replay, fwd) = (ratios(1, 0), ratios(2, 0), ratios(3, 0));
        let medians: Vec<f64> = times.iter().map(|t| median(&mut t.clone())).collect();
        let (run_ms, record_ms, replay_ms) = (medians[0], medians[1], medians[2]);
        let n = calls(cache, &trace);
        let show = |(m, lo, hi): (f64, f64, f64)| format!("{m:.2}x {lo:.2}..{hi:.2}");
        println!(
            "{:<14} {:>7} {:>8.2} {:>9.2} {:>9.2} {:>16} {:>16} {:>16} {:>16} {:>16} {:>16} {:>10}",
            w.name,
            n,
            run_ms,
            record_ms,
            replay_ms,
            show(rec),
            show(replay),
            show(fwd),
            show(ratios(4, 0)),
            show(ratios(1, 4)),
            show(ratios(5, 0)),
            file_size(&trace)
        );
        println!(
            "{:<14} record (default layout) / record --layout composed {}; composed / forward {}",
            "",
            show(ratios(1, 5)),
            show(ratios(5, 3)),
        );
        println!(
            "{:<14} replay (default layout) / replay --layout composed {}; replay composed / run {}",
            "",
            show(ratios(2, 6)),
            show(ratios(6, 0)),
        );
        if baseline.is_some() {
            println!(
                "{:<14} baseline record {:.2} ms: /run {}, /forward {}; record / baseline record {}",
                "",
                medians[7],
                show(ratios(7, 0)),
                show(ratios(7, 3)),
                show(ratios(1, 7)),
            );
        }
        // The difference beyond echo's, per host call: what recording and replaying cost more
        // (or less) than running live, once the fixed cost of a process is set aside.
        match fixed {
            None => fixed = Some((record_ms - run_ms, replay_ms - run_ms)),
            // Too few calls for a per-call figure to mean anything (compute).
            Some(_) if n < 100 => {}
            Some((fr, fp)) => {
                let per_call = |extra: f64| extra * 1e3 / n as f64;
                println!(
                    "{:<14} beyond echo's fixed cost: record {:+.3} us, replay {:+.3} us per host call",
                    "",
                    per_call(record_ms - run_ms - fr),
                    per_call(replay_ms - run_ms - fp),
                );
            }
        }
    }
}

/// Peak RSS of `replay --quiet` against `run`, for small and large traces; prints a table.
fn peak_rss() {
    let dirs = Dirs::new();
    let cache = dirs.cache.path();
    let data = dirs.data();
    let workloads = [
        Workload::new(
            "lines:20000",
            &[],
            proxyrt_test_guests::CLI,
            &["lines:20000"],
        ),
        Workload::new(
            "lines:200000",
            &[],
            proxyrt_test_guests::CLI,
            &["lines:200000"],
        ),
        Workload::new(
            "fill+sum 4MB",
            &["--dir", &data],
            proxyrt_test_guests::CLI,
            &["fill:/data/f=4000000", "sum:/data/f"],
        ),
        Workload::new(
            "fill+sum 64MB",
            &["--dir", &data],
            proxyrt_test_guests::CLI,
            &["fill:/data/f=64000000", "sum:/data/f"],
        ),
        Workload::new("compute", &[], proxyrt_test_guests::COMPUTE, &[]),
    ];
    println!(
        "\nreplay-peak-rss: ru_maxrss of the process (wait4), median of {RSS_REPEATS}; times: median wall ms"
    );
    println!(
        "{:<14} {:>12} {:>12} {:>14} {:>10} {:>9} {:>12}",
        "workload",
        "trace bytes",
        "run RSS KiB",
        "replay RSS KiB",
        "RSS ratio",
        "run ms",
        "replay ms"
    );
    for (i, w) in workloads.iter().enumerate() {
        let trace = dirs.trace(&format!("rss{i}"));
        proxyrt(cache, &w.run());
        proxyrt(cache, &w.record(&trace));
        proxyrt(cache, &w.replay(&trace));
        let (run, replay) = (w.run(), w.replay(&trace));
        let (mut run_rss, mut replay_rss, mut run_ms, mut replay_ms) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..RSS_REPEATS {
            let (t, rss) = measure(cache, &run);
            run_ms.push(ms(t));
            run_rss.push(rss as f64);
            let (t, rss) = measure(cache, &replay);
            replay_ms.push(ms(t));
            replay_rss.push(rss as f64);
        }
        let (a, b) = (median(&mut run_rss), median(&mut replay_rss));
        println!(
            "{:<14} {:>12} {:>12.0} {:>14.0} {:>9.2}x {:>9.1} {:>12.1}",
            w.name,
            file_size(&trace),
            a,
            b,
            b / a,
            median(&mut run_ms),
            median(&mut replay_ms)
        );
    }
}

/// Whether the bench runs in benchmark mode and which filters it was given (criterion's arguments).
fn mode_and_filters() -> (bool, Vec<String>) {
    const TAKES_VALUE: &[&str] = &[
        "-c",
        "--color",
        "-s",
        "--save-baseline",
        "-b",
        "--baseline",
        "--baseline-lenient",
        "--format",
        "--profile-time",
        "--load-baseline",
        "--sample-size",
        "--warm-up-time",
        "--measurement-time",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--plotting-backend",
        "--output-format",
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let bench = has("--bench") && !has("--test") && !has("--list");
    let mut filters = Vec::new();
    let mut value_next = false;
    for a in &args {
        if value_next {
            value_next = false;
        } else if a.starts_with('-') {
            value_next = TAKES_VALUE.contains(&a.as_str());
        } else {
            filters.push(a.clone());
        }
    }
    (bench, filters)
}

criterion_group!(benches, replay_vs_run);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    let (bench, filters) = mode_and_filters();
    let selected = |part: &str| filters.is_empty() || filters.iter().any(|f| part.contains(f));
    if bench && selected("paired") {
        paired();
    }
    if bench && selected("replay-peak-rss") {
        peak_rss();
    }
}

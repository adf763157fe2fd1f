//! `proxyrt bench` on real guests: two builds of a compute-bound program compared on one recorded
//! execution (fuel strictly lower for the optimized build), a build against itself (fuel exactly
//! equal), a build that does not follow the trace (named, status 86), the Markdown and SVG exports,
//! and a trace of a custom world's export call.

use crate::common;

use common::{proxyrt, Output};
use proxyrt_test_guests as guests;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

/// The exit status of a divergence.
const DIVERGENCE: i32 = 86;

/// `proxyrt bench` with `args`, run in `dir`.
fn bench(dir: &Path, args: &[&str]) -> Output {
    proxyrt()
        .arg("bench")
        .args(args)
        .current_dir(dir)
        .output_checked()
}

/// The report `bench --json` printed: the whole of stdout is one JSON document.
fn report(out: &Output) -> Value {
    out.assert_status(0);
    serde_json::from_str(out.stdout_text())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", out.stdout_text()))
}

fn u64_of(v: &Value, what: &str) -> u64 {
    v[what]
        .as_u64()
        .unwrap_or_else(|| panic!("no {what} in {v}"))
}

fn samples(v: &Value, what: &str) -> Vec<f64> {
    v[what]
        .as_array()
        .unwrap_or_else(|| panic!("no {what} in {v}"))
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

/// `proxyrt bench` of the compute guest's unoptimized build against its optimized one, recorded
/// live from the first with `args` after `--`, no warm-up, and the `options`.
fn bench_compute(dir: &Path, options: &[&str], args: &[&str]) -> Output {
    let mut all = vec![
        "--compare",
        guests::COMPUTE_O0,
        guests::COMPUTE,
        "--warmup",
        "0",
    ];
    all.extend_from_slice(options);
    all.push("--");
    all.extend_from_slice(args);
    bench(dir, &all)
}

/// Records the CLI guest running `steps` into `dir/trace.bin`.
fn record_cli(dir: &Path, steps: &[&str]) -> PathBuf {
    let trace = dir.join("trace.bin");
    proxyrt()
        .args(["record", "--trace"])
        .arg(&trace)
        .arg(guests::CLI)
        .args(steps)
        .current_dir(dir)
        .output_checked()
        .assert_status(0);
    trace
}

#[test]
fn an_optimized_build_uses_less_fuel_on_the_same_execution() {
    let dir = tempfile::tempdir().unwrap();
    // No --trace: the first build is recorded live with the arguments after `--`.
    let out = bench_compute(
        dir.path(),
        &["--rounds", "3", "--json"],
        &["20000", "20000"],
    );
    let r = report(&out);
    out.assert_stderr_contains("recorded ");
    out.assert_stderr_contains("--trace ");
    let builds = r["builds"].as_array().expect("builds");
    assert_eq!(builds.len(), 2);
    let (o0, o3) = (&builds[0], &builds[1]);
    assert_eq!(o0["label"], "compute_o0.wasm");
    assert!(
        o0["vs_baseline"].is_null(),
        "the first build is the baseline"
    );
    assert!(
        u64_of(o3, "fuel") < u64_of(o0, "fuel"),
        "optimized {} vs unoptimized {}",
        o3["fuel"],
        o0["fuel"]
    );
    let ratio = o3["vs_baseline"]["fuel_ratio"]
        .as_f64()
        .expect("fuel ratio");
    assert!(ratio > 0.0 && ratio < 1.0, "{ratio}");
    for b in builds {
        let (wall, guest) = (samples(b, "wall_ms"), samples(b, "guest_ms"));
        assert_eq!((wall.len(), guest.len()), (3, 3), "{b}");
        assert!(
            wall.iter().zip(&guest).all(|(w, g)| 0.0 <= *g && g <= w),
            "{b}"
        );
        assert_eq!(b["wall"]["rounds"], 3);
        assert!(u64_of(b, "host_calls") > 0, "{b}");
        assert!(u64_of(b, "peak_memory_bytes") >= 65536, "{b}");
        assert!(u64_of(b, "size_bytes") > 0, "{b}");
    }
    // The same execution: the same host calls on both builds.
    assert_eq!(o0["host_calls"], o3["host_calls"]);
    let vs = &o3["vs_baseline"]["wall"];
    let (low, high) = (vs["low"].as_f64().unwrap(), vs["high"].as_f64().unwrap());
    assert!(low <= high, "{vs}");
    // The recorded run's output is in the trace, not on stdout.
    assert!(
        !out.stdout_text().contains("checksum="),
        "{}",
        out.stdout_text()
    );
}

#[test]
fn a_build_against_itself_has_exactly_the_same_fuel_and_the_exports_are_well_formed() {
    let dir = tempfile::tempdir().unwrap();
    let trace = record_cli(dir.path(), &["echo:a", "random:8", "lines:20", "echo:b"]);
    let trace = trace.to_str().unwrap();
    let json = bench(
        dir.path(),
        &[
            guests::CLI,
            guests::CLI,
            "--trace",
            trace,
            "--rounds",
            "2",
            "--json",
        ],
    );
    let r = report(&json);
    let builds = r["builds"].as_array().expect("builds");
    assert_eq!(builds[0]["fuel"], builds[1]["fuel"]);
    assert_eq!(builds[1]["vs_baseline"]["fuel_ratio"], 1.0);
    assert_eq!(r["status"], 0);

    // The table, the verdict, and the Markdown and SVG files.
    let out = bench(
        dir.path(),
        &[
            "--compare",
            guests::CLI,
            guests::CLI_O0,
            "--trace",
            trace,
            "--rounds",
            "3",
            "--warmup",
            "0",
            "--export-markdown",
            "bench.md",
            "--plot",
            "bench.svg",
        ],
    );
    out.assert_status(0);
    let text = out.stdout_text();
    assert!(
        text.contains("cli.wasm") && text.contains("cli_o0.wasm"),
        "{text}"
    );
    assert!(text.contains("baseline"), "{text}");
    assert!(
        text.contains("cli_o0.wasm is ")
            || text.contains("no significant difference between cli_o0.wasm and cli.wasm"),
        "a verdict: {text}"
    );
    assert!(text.contains("fuel "), "{text}");
    let md = fs::read_to_string(dir.path().join("bench.md")).expect("the Markdown table");
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(lines.len(), 4, "{md}");
    assert!(lines[0].starts_with("| Build | Mean [ms] |"), "{md}");
    assert!(lines[1].starts_with("|:---|---:|"), "{md}");
    assert!(
        lines[2].starts_with("| `cli.wasm` |") && lines[2].ends_with("| 1.00 |"),
        "{md}"
    );
    assert!(lines[3].starts_with("| `cli_o0.wasm` |"), "{md}");
    for line in &lines {
        assert_eq!(line.matches('|').count(), 9, "{line}");
    }
    let svg = fs::read_to_string(dir.path().join("bench.svg")).expect("the plot");
    assert!(
        svg.trim_start().starts_with("<svg"),
        "{}",
        &svg[..100.min(svg.len())]
    );
    assert!(svg.trim_end().ends_with("</svg>"));
    for word in ["cli.wasm", "cli_o0.wasm", "guest", "wall"] {
        assert!(svg.contains(word), "{word} in the plot");
    }
}

#[test]
fn a_build_that_does_not_follow_the_trace_is_named_and_not_benchmarked() {
    let dir = tempfile::tempdir().unwrap();
    let trace = record_cli(dir.path(), &["echo:a", "random:8", "echo:b"]);
    let other = crate::replay::with_other_args(&trace, &["cli.wasm", "echo:a", "random:16"]);
    let out = bench(
        dir.path(),
        &[
            guests::CLI_O0,
            guests::CLI,
            "--trace",
            other.to_str().unwrap(),
            "--rounds",
            "2",
        ],
    );
    out.assert_status(DIVERGENCE);
    out.assert_stderr_contains("cli_o0.wasm does not follow the trace");
    out.assert_stderr_contains("replay diverged from the trace at entry #");
    out.assert_stderr_contains("get-random-bytes(16)");
    // Where in the guest: cli_o0 has debug info, so its own source file.
    out.assert_stderr_contains("cli/src/main.rs:");
    assert_eq!(out.stdout_text(), "", "no report");

    // --json: the divergence report, as `replay --report-json` writes it.
    let out = bench(
        dir.path(),
        &[
            guests::CLI_O0,
            guests::CLI,
            "--trace",
            other.to_str().unwrap(),
            "--rounds",
            "2",
            "--json",
        ],
    );
    out.assert_status(DIVERGENCE);
    let json: serde_json::Value =
        serde_json::from_str(out.stdout_text().trim()).expect("one JSON object");
    let diverged = &json["diverged"];
    assert_eq!(diverged["build"], "cli_o0.wasm", "{json}");
    assert_eq!(
        diverged["report"]["actual"], "wasi:random/random@0.2.12.get-random-bytes(16)",
        "{json}"
    );
    let frames = diverged["report"]["backtrace"].as_array().expect("frames");
    assert!(
        frames.iter().any(|f| f["file"]
            .as_str()
            .is_some_and(|file| file.ends_with("cli/src/main.rs"))),
        "{json}"
    );
}

#[test]
fn a_trace_of_a_custom_world_export_call_benches() {
    let dir = tempfile::tempdir().unwrap();
    let (trace, recorded) = crate::exports::record_invoke(dir.path(), "echo-point({x: 1, y: -2})");
    recorded.assert_status(0);
    let out = bench(
        dir.path(),
        &[
            guests::ZOO,
            guests::ZOO,
            "--trace",
            trace.to_str().unwrap(),
            "--rounds",
            "2",
            "--warmup",
            "0",
            "--json",
        ],
    );
    let r = report(&out);
    let builds = r["builds"].as_array().expect("builds");
    assert_eq!(builds.len(), 2);
    assert_eq!(builds[0]["fuel"], builds[1]["fuel"]);
    assert!(u64_of(&builds[0], "fuel") > 0);

    // A trace of another program is refused with the replay's message.
    let out = bench(
        dir.path(),
        &[
            guests::CLI,
            "--trace",
            trace.to_str().unwrap(),
            "--rounds",
            "1",
        ],
    );
    out.assert_status(1);
    out.assert_stderr_contains("was recorded from another program");
}

#[test]
fn each_build_gets_a_guest_profile_of_the_same_execution() {
    let dir = tempfile::tempdir().unwrap();
    let out = bench_compute(
        dir.path(),
        &[
            "--rounds",
            "1",
            "--profile",
            "profiles",
            "--profile-interval",
            "1ms",
        ],
        &["200000", "200000"],
    );
    out.assert_status(0);
    for name in [
        "1-compute_o0.wasm.profile.json",
        "2-compute.wasm.profile.json",
    ] {
        let path = dir.path().join("profiles").join(name);
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let profile: Value = serde_json::from_str(&text).expect("a JSON profile");
        // The Firefox profiler's processed format: metadata and the guest's thread with samples.
        assert!(profile["meta"].is_object(), "{name}: no meta");
        let threads = profile["threads"].as_array().expect("threads");
        assert!(!threads.is_empty(), "{name}: no thread");
        assert!(text.contains("samples"), "{name}: no samples");
        out.assert_stderr_contains(&format!(
            "profile of {}",
            &name[2..name.len() - ".profile.json".len()]
        ));
    }
}

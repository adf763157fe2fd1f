//! The compilation cache: `proxyrt run` of the same component with the cache off (every run compiles)
//! against a warm cache (every run loads the precompiled artifact), both as whole processes, so the
//! figure is what a user sees. Reported as a ratio in BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, Criterion};
use std::process::Command;

fn proxyrt_run(extra: &[&str], wasm: &str) {
    let status = Command::new(env!("CARGO_BIN_EXE_proxyrt"))
        .arg("run")
        .args(extra)
        .arg(wasm)
        .arg("--")
        .arg("echo:1")
        .stdout(std::process::Stdio::null())
        .status()
        .expect("spawn proxyrt");
    assert!(status.success(), "proxyrt run failed: {status}");
}

fn cache(c: &mut Criterion) {
    let wasm = proxyrt_test_guests::CLI;
    let dir = tempfile::tempdir().expect("temp dir");
    let cache_dir = dir.path().to_str().expect("utf-8 temp dir");
    // Warm the cache once.
    proxyrt_run(&["--cache-dir", cache_dir], wasm);

    let mut g = c.benchmark_group("run-cli-guest");
    g.sample_size(10);
    g.bench_function("no-cache", |b| {
        b.iter(|| proxyrt_run(&["--no-cache"], wasm))
    });
    g.bench_function("warm-cache", |b| {
        b.iter(|| proxyrt_run(&["--cache-dir", cache_dir], wasm))
    });
    g.finish();
}

criterion_group!(benches, cache);
criterion_main!(benches);

//! The cost of recording: `proxyrt record` against `proxyrt run` of the same guest and arguments,
//! as whole processes in the same run (warm compilation cache for both), reported as ratios in
//! BENCHMARKS.md. Two workloads: syscall-heavy (20 000 small writes to stdout, and 4 MB written and
//! read back in 64 KiB chunks) and compute-bound (`compute`, almost no host calls). Also reports the
//! trace size per payload byte for the file workload.

use criterion::{criterion_group, criterion_main, Criterion};
use std::path::Path;
use std::process::{Command, Stdio};

fn proxyrt(cache: &Path, args: &[&str]) {
    let status = Command::new(env!("CARGO_BIN_EXE_proxyrt"))
        .env("PROXYRT_CACHE_DIR", cache)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("spawn proxyrt");
    assert!(status.success(), "proxyrt {args:?}: {status}");
}

fn record_vs_run(c: &mut Criterion) {
    let cache = tempfile::tempdir().expect("temp dir");
    let work = tempfile::tempdir().expect("temp dir");
    let data = format!("{}::/data", work.path().display());
    let trace = work.path().join("trace.bin");
    let trace = trace.to_str().expect("utf-8 path");
    let workloads: [(&str, Vec<&str>); 3] = [
        (
            "small-writes",
            vec![proxyrt_test_guests::CLI, "lines:20000"],
        ),
        (
            "file-io-4MB",
            vec![
                "--dir",
                &data,
                proxyrt_test_guests::CLI,
                "fill:/data/f=4000000",
                "sum:/data/f",
            ],
        ),
        ("compute", vec![proxyrt_test_guests::COMPUTE]),
    ];
    for (name, args) in &workloads {
        let run: Vec<&str> = ["run"]
            .iter()
            .copied()
            .chain(args.iter().copied())
            .collect();
        let record: Vec<&str> = ["record", "--trace", trace]
            .iter()
            .copied()
            .chain(args.iter().copied())
            .collect();
        proxyrt(cache.path(), &run); // warm the cache for both compositions
        proxyrt(cache.path(), &record);
        let mut g = c.benchmark_group(format!("record-vs-run/{name}"));
        g.sample_size(10);
        g.bench_function("run", |b| b.iter(|| proxyrt(cache.path(), &run)));
        g.bench_function("record", |b| b.iter(|| proxyrt(cache.path(), &record)));
        g.finish();
        let size = std::fs::metadata(trace).map(|m| m.len()).unwrap_or(0);
        eprintln!("{name}: trace is {size} bytes");
    }
}

criterion_group!(benches, record_vs_run);
criterion_main!(benches);

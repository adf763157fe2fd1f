//! `proxy_gen::instrument` on real guests, against compiling the same component with wasmtime
//! (what any run of it costs anyway) as the baseline of the same run. Target: <= 50 ms per
//! instrument; the ratio to compilation goes in BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn instrument(c: &mut Criterion) {
    let engine = wasmtime::Engine::default();
    for (name, path) in [
        ("cli", proxyrt_test_guests::CLI),
        ("zoo", proxyrt_test_guests::ZOO),
    ] {
        let bytes = std::fs::read(path).expect("guest component");
        let mut g = c.benchmark_group(format!("instrument-{name}"));
        g.sample_size(20);
        g.bench_function("proxy-gen-record", |b| {
            b.iter(|| proxy_gen::instrument(black_box(&bytes), proxy_gen::Mode::Record).unwrap())
        });
        g.bench_function("wasmtime-compile-baseline", |b| {
            b.iter(|| wasmtime::component::Component::new(&engine, black_box(&bytes)).unwrap())
        });
        g.finish();
    }
}

criterion_group!(benches, instrument);
criterion_main!(benches);

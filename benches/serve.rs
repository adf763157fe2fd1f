//! The cost of recording a service: `proxyrt serve` of the `http-handler` guest with and without
//! `--record` under the same load, and the replay of a recorded request against serving it live,
//! reported as ratios in BENCHMARKS.md.
//!
//! Two parts:
//! 1. criterion group `serve-request`: one request's round trip over a kept-alive HTTP/1.1
//!    connection to a `serve` process (`plain`; `forward`, the forward composition: the
//!    pass-through proxy alone, what the composition costs without recording; `record`, with
//!    `--record`), and the in-process replay of one
//!    recorded request (`replay`: the `proxyrt::replay` library, composition compiled once, a
//!    fresh instance per replay, as `proxyrt replay DIR` does for each request);
//! 2. `load` (benchmark mode only, `cargo bench`, not `cargo test --benches`): `CLIENTS`
//!    concurrent clients, each on its own kept-alive connection, send `PER_CLIENT` requests to the
//!    three servers in turn (`ROUNDS` rounds, the order rotated every round);
//!    requests per second and latency percentiles of each, and the ratios. Criterion measures one
//!    thing at a time, so this part prints a table.
//!
//! The load generator is a plain HTTP/1.1 client over `std::net::TcpStream` (requests with a
//! `content-length` body, chunked or sized responses), on 127.0.0.1 only; every socket has a
//! timeout and every loop a bound.

use criterion::{criterion_group, Criterion};
use proxyrt::engine::WasmOptions;
use proxyrt::replay::{Output, Replayable, TraceSource};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Concurrent clients of the load part.
const CLIENTS: usize = 4;
/// Requests each client sends per round.
const PER_CLIENT: usize = 250;
/// Rounds of the load part (each server once per round).
const ROUNDS: usize = 6;
/// Socket timeouts.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// The request body every request carries.
const BODY: &[u8] = b"a small request body";

/// A `proxyrt serve` process on a free loopback port, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    /// `proxyrt serve EXTRA... WASM` on a free loopback port.
    fn start(extra: &[&str], wasm: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_proxyrt"))
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(extra)
            .arg(wasm)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start proxyrt serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = BufReader::new(stderr).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("proxyrt serve printed its address")
                .expect("stderr");
            if let Some(rest) = line.strip_prefix("Serving HTTP on http://") {
                break rest.trim_end_matches('/').parse().expect("an address");
            }
        };
        // Keep draining stderr so that the server never blocks on it.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Server { child, addr }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A kept-alive HTTP/1.1 connection.
struct Client {
    reader: BufReader<TcpStream>,
    request: Vec<u8>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        stream.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        let mut request = format!(
            "POST /bench?x=1 HTTP/1.1\r\nHost: {addr}\r\ncontent-length: {}\r\n\r\n",
            BODY.len()
        )
        .into_bytes();
        request.extend_from_slice(BODY);
        Client {
            reader: BufReader::new(stream),
            request,
        }
    }

    /// Sends one request and reads the whole response; returns its status.
    fn request(&mut self) -> u16 {
        self.reader
            .get_mut()
            .write_all(&self.request)
            .expect("send the request");
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("status line");
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let (mut chunked, mut length) = (false, 0usize);
        for _ in 0..100 {
            line.clear();
            self.reader.read_line(&mut line).expect("a header line");
            let header = line.trim_end().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if header == "transfer-encoding: chunked" {
                chunked = true;
            } else if let Some(n) = header.strip_prefix("content-length: ") {
                length = n.parse().unwrap_or(0);
            }
        }
        if chunked {
            for _ in 0..10_000 {
                line.clear();
                self.reader.read_line(&mut line).expect("a chunk size");
                let size = usize::from_str_radix(line.trim_end(), 16).unwrap_or(0);
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk).expect("a chunk");
                if size == 0 {
                    break;
                }
            }
        } else {
            let mut body = vec![0; length];
            self.reader.read_exact(&mut body).expect("the body");
        }
        status
    }
}

/// The three servers of the comparison: the handler as it is (`plain`), its forward composition
/// (the pass-through proxy alone, recording nothing: what the composition costs) and the handler
/// recording every request (`record`, into `traces`).
fn servers(dir: &Path, traces: &Path) -> [(&'static str, Server); 3] {
    let handler = Path::new(proxyrt_test_guests::HTTP_HANDLER);
    let forward = dir.join("forward.wasm");
    let made = Command::new(env!("CARGO_BIN_EXE_proxyrt"))
        .args(["instrument", "-m", "forward"])
        .arg(handler)
        .arg("-o")
        .arg(&forward)
        .stderr(Stdio::null())
        .status()
        .expect("proxyrt instrument");
    assert!(made.success(), "instrument -m forward");
    let traces = traces.to_str().expect("UTF-8 path");
    [
        ("plain", Server::start(&[], handler)),
        ("forward", Server::start(&[], &forward)),
        ("record", Server::start(&["--record", traces], handler)),
    ]
}

fn serve_request(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let traces = dir.path().join("traces");
    let servers = servers(dir.path(), &traces);
    let mut group = c.benchmark_group("serve-request");
    group.sample_size(50);
    for (name, server) in &servers {
        let mut client = Client::connect(server.addr);
        assert_eq!(client.request(), 200, "{name}");
        group.bench_function(*name, |b| b.iter(|| client.request()));
    }
    // Replay of one recorded request, in process.
    let trace = first_trace(&traces);
    let original = std::fs::read(proxyrt_test_guests::HTTP_HANDLER).expect("the handler");
    let replayer = Replayable::new(
        &original,
        Path::new(proxyrt_test_guests::HTTP_HANDLER),
        proxy_gen::Layout::Auto,
        None,
    )
    .expect("the replay composition")
    .compile(&WasmOptions::default(), None)
    .expect("compile");
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    group.bench_function("replay", |b| {
        b.iter(|| {
            let source = TraceSource::open(&trace).expect("the trace");
            let replay = runtime
                .block_on(replayer.replay(source, Output::Discard))
                .expect("a replay");
            assert_eq!(replay.ending.exit_status(), 0);
        })
    });
    group.finish();
}

fn first_trace(dir: &Path) -> PathBuf {
    let mut traces: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the trace directory")
        .map(|e| e.expect("an entry").path())
        .collect();
    traces.sort();
    traces.into_iter().next().expect("a recorded request")
}

/// One round of load on `server`: the wall time and every request's latency.
fn load(server: &Server) -> (Duration, Vec<Duration>) {
    let start = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let addr = server.addr;
            std::thread::spawn(move || {
                let mut client = Client::connect(addr);
                (0..PER_CLIENT)
                    .map(|_| {
                        let t = Instant::now();
                        assert_eq!(client.request(), 200);
                        t.elapsed()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for c in clients {
        latencies.extend(c.join().expect("a client"));
    }
    (start.elapsed(), latencies)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Part 2 (see the module doc).
fn load_table() {
    let dir = tempfile::tempdir().expect("temp dir");
    let traces = dir.path().join("traces");
    let servers = servers(dir.path(), &traces);
    // Warm up each (first instantiations, connection setup).
    for (_, server) in &servers {
        load(server);
    }
    let mut results: [(Duration, Vec<Duration>); 3] = Default::default();
    for round in 0..ROUNDS {
        // The order rotates every round, so that no server always runs first or last.
        for i in 0..servers.len() {
            let which = (round + i) % servers.len();
            let (wall, lat) = load(&servers[which].1);
            results[which].0 += wall;
            results[which].1.extend(lat);
        }
    }
    let n = (ROUNDS * CLIENTS * PER_CLIENT) as f64;
    println!(
        "\nload: {CLIENTS} clients x {PER_CLIENT} requests x {ROUNDS} rounds, kept-alive \
         connections, the http-handler guest (POST with a {} B body, no upstream)",
        BODY.len()
    );
    println!(
        "{:<8} {:>10} {:>10} {:>10} {:>10}",
        "server", "req/s", "p50", "p90", "p99"
    );
    let mut rows = Vec::new();
    for ((name, _), (wall, lat)) in servers.iter().zip(results.iter_mut()) {
        lat.sort();
        let rps = n / wall.as_secs_f64();
        let ps = [0.5, 0.9, 0.99].map(|p| percentile(lat, p));
        println!(
            "{name:<8} {rps:>10.0} {:>10.2?} {:>10.2?} {:>10.2?}",
            ps[0], ps[1], ps[2]
        );
        rows.push((rps, ps));
    }
    for (k, name) in [(1, "forward"), (2, "record")] {
        let ratio = |i: usize| rows[k].1[i].as_secs_f64() / rows[0].1[i].as_secs_f64();
        println!(
            "{name} / plain: req/s {:.2}, p50 {:.2}, p90 {:.2}, p99 {:.2}",
            rows[k].0 / rows[0].0,
            ratio(0),
            ratio(1),
            ratio(2)
        );
    }
    let recorded = std::fs::read_dir(&traces).map(|d| d.count()).unwrap_or(0);
    let bytes: u64 = std::fs::read_dir(&traces)
        .map(|d| {
            d.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    println!(
        "recorded {recorded} request traces, {} bytes each on average",
        bytes / recorded.max(1) as u64
    );
}

criterion_group!(benches, serve_request);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let bench = has("--bench") && !has("--test") && !has("--list");
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if bench && (filters.is_empty() || filters.iter().any(|f| "load".contains(f.as_str()))) {
        load_table();
    }
}

//! `proxyrt serve` as a real HTTP server: the `http-handler` guest served on a loopback port,
//! reached by a plain HTTP/1.1 client (std `TcpStream`), calling a real upstream server through
//! wasi:http; concurrent requests; a trap in one request (a body larger than the memory limit)
//! that leaves the server serving; SIGTERM for a graceful stop; `--record DIR` writing one
//! complete trace per request; and the errors for a component that is not a proxy, a port in use
//! and a directory that already holds traces.
//!
//! Everything is bounded: every socket has timeouts, the upstream serves a fixed number of
//! connections until a deadline, and a server process is killed by its guard if a test fails.

use crate::common;

use proxyrt_test_guests as guests;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to compile its component and start listening.
const START_TIMEOUT: Duration = Duration::from_secs(180);
/// How long a server may take to stop after SIGTERM (its grace period is 10 s).
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Read and write timeout of every test socket.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// A `proxyrt serve` process, killed when dropped if it still runs (a failing test leaves no
/// server behind).
struct Server {
    child: Child,
    addr: SocketAddr,
    /// The lines of its stderr after the `Serving HTTP on` line.
    stderr: mpsc::Receiver<String>,
}

impl Server {
    /// Starts `proxyrt serve ARGS...` (see [`serve_command`]) and waits for the address it prints.
    fn start(args: &[&str]) -> Server {
        let mut child = serve_command(args)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start proxyrt serve");
        let pipe = child.stderr.take().expect("piped stderr");
        let (lines, stderr) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let mut before = Vec::new();
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match stderr.recv_timeout(left) {
                Ok(line) => match line.strip_prefix("Serving HTTP on http://") {
                    Some(rest) => {
                        break rest
                            .trim_end_matches('/')
                            .parse::<SocketAddr>()
                            .expect("the printed address")
                    }
                    None => before.push(line),
                },
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "proxyrt serve did not start listening; stderr:\n{}",
                        before.join("\n")
                    );
                }
            }
        };
        assert!(addr.ip().is_loopback(), "listens on {addr}");
        assert_ne!(addr.port(), 0, "port 0 is resolved before printing");
        Server {
            child,
            addr,
            stderr,
        }
    }

    /// Sends SIGTERM and waits for the process to exit; returns its status and the rest of its
    /// stderr.
    fn terminate(self) -> (Option<i32>, String) {
        self.sigterm();
        self.wait()
    }

    /// Sends SIGTERM.
    fn sigterm(&self) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
        // SAFETY: kill(2) on the pid of our own child process, which has not been reaped yet
        // (only `wait` reaps it, and it takes `self`).
        let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(sent, 0, "kill(SIGTERM)");
    }

    /// Waits for the process to exit (after a signal); returns its status and the rest of its
    /// stderr.
    fn wait(mut self) -> (Option<i32>, String) {
        let status = wait_bounded(&mut self.child, STOP_TIMEOUT)
            .unwrap_or_else(|| panic!("proxyrt serve did not stop after SIGTERM"));
        let mut rest = Vec::new();
        // The reader thread ends at EOF, once the process is gone.
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(10)) {
            rest.push(line);
        }
        (status.code(), rest.join("\n"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `proxyrt serve ARGS...` with the tests' compilation cache, listening on any free loopback port
/// unless ARGS say `--addr`.
fn serve_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_proxyrt"));
    cmd.env("PROXYRT_CACHE_DIR", common::test_cache_dir())
        .env_remove("PROXYRT_NO_CACHE")
        .arg("serve");
    if !args.contains(&"--addr") {
        cmd.args(["--addr", "127.0.0.1:0"]);
    }
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::null());
    cmd
}

/// Waits up to `timeout` for `child` to exit.
fn wait_bounded(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("wait for proxyrt") {
            return Some(status);
        }
        thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Runs `proxyrt serve ARGS...` (see [`serve_command`]), which is expected to fail at start: returns
/// its status and stderr (killed after START_TIMEOUT if it serves instead).
fn serve_failing(args: &[&str]) -> (Option<i32>, String) {
    let mut child = serve_command(args)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start proxyrt serve");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let status = wait_bounded(&mut child, START_TIMEOUT);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let text = reader.join().expect("stderr reader");
    let status = status.unwrap_or_else(|| panic!("proxyrt serve did not fail:\n{text}"));
    (status.code(), text)
}

/// An HTTP/1.1 response: status and (de-chunked) body.
#[derive(Debug)]
struct Reply {
    status: u16,
    body: String,
}

/// Sends one request (`Connection: close`) to `addr` and reads the whole response. A failure to
/// write the body is ignored: a server that refuses a body may stop reading it and answer at once.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect to proxyrt serve");
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .expect("read timeout");
    stream
        .set_write_timeout(Some(IO_TIMEOUT))
        .expect("write timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .expect("write the request head");
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the response");
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let mut lines = head.lines();
    let status_line = lines.next().expect("a status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let chunked = lines.any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Reply { status, body }
}

/// Decodes a chunked body (`SIZE\r\nDATA\r\n ... 0\r\n\r\n`).
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    for _ in 0..10_000 {
        let (size, after) = rest.split_once("\r\n").expect("a chunk size line");
        let size = usize::from_str_radix(size.trim(), 16).expect("a hex chunk size");
        if size == 0 {
            return body;
        }
        body.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    panic!("too many chunks")
}

/// An upstream HTTP server on 127.0.0.1: answers up to `max` connections, one request each,
/// with `upstream says PATH`, until `max` were served or a minute passed; the thread returns the
/// paths it was asked for.
fn upstream(max: usize) -> (u16, thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let server = thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut paths = Vec::new();
        while paths.len() < max && Instant::now() < deadline {
            let stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    thread::sleep(Duration::from_millis(10));
                    continue;
                }
                Err(e) => panic!("upstream accept: {e}"),
            };
            stream.set_nonblocking(false).expect("blocking stream");
            stream
                .set_read_timeout(Some(IO_TIMEOUT))
                .expect("read timeout");
            let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
            let mut request_line = String::new();
            reader.read_line(&mut request_line).expect("request line");
            for _ in 0..100 {
                let mut line = String::new();
                let n = reader.read_line(&mut line).expect("a header line");
                if n == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request_line.split(' ').nth(1).unwrap_or("?").to_string();
            let body = format!("upstream says {path}");
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .expect("write the upstream response");
            paths.push(path);
        }
        paths
    });
    (port, server)
}

/// An upstream HTTP server on 127.0.0.1 that takes one request, says so on the first channel, and
/// answers `upstream says PATH` only once told to on the second (or after a minute).
fn slow_upstream() -> (
    u16,
    mpsc::Receiver<()>,
    mpsc::Sender<()>,
    thread::JoinHandle<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    let (arrived_tx, arrived) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept the guest's connection");
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .expect("read timeout");
        let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
        let mut request_line = String::new();
        reader.read_line(&mut request_line).expect("request line");
        for _ in 0..100 {
            let mut line = String::new();
            let n = reader.read_line(&mut line).expect("a header line");
            if n == 0 || line == "\r\n" {
                break;
            }
        }
        let _ = arrived_tx.send(());
        let _ = release_rx.recv_timeout(Duration::from_secs(60));
        let path = request_line.split(' ').nth(1).unwrap_or("?").to_string();
        let body = format!("upstream says {path}");
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("write the upstream response");
    });
    (port, arrived, release, server)
}

/// A port on 127.0.0.1 that nobody listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// The traces in `dir`, sorted.
fn traces_in(dir: &Path) -> Vec<PathBuf> {
    let mut traces: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read the trace directory")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    traces.sort();
    traces
}

#[test]
fn serve_records_one_complete_trace_per_request() {
    // Five requests call the upstream; one calls a port nobody listens on.
    let (up, upstream) = upstream(5);
    let upstream_url = |path: &str| format!("http://127.0.0.1:{up}{path}");
    let refused = format!("http://127.0.0.1:{}/nobody", closed_port());
    let dir = tempfile::tempdir().expect("temp dir");
    let traces = dir.path().join("traces");
    let traces_arg = traces.to_str().expect("a UTF-8 path");
    let server = Server::start(&["--record", traces_arg, guests::HTTP_HANDLER]);
    let addr = server.addr;

    let plain = request(addr, "GET", "/hello?a=1", &[], b"");
    assert_eq!(
        (plain.status, plain.body.as_str()),
        (200, "GET /hello?a=1 body= upstream=none\n")
    );

    let url = upstream_url("/data");
    let echoed = request(addr, "POST", "/echo", &[("x-upstream", &url)], b"ping");
    assert_eq!(
        (echoed.status, echoed.body.as_str()),
        (
            200,
            "POST /echo body=ping upstream=200:upstream says /data\n"
        )
    );

    // Four at once, each with its own body and upstream path.
    let concurrent: Vec<_> = (0..4)
        .map(|i| {
            let url = upstream_url(&format!("/up/{i}"));
            thread::spawn(move || {
                let body = format!("body number {i}");
                let reply = request(
                    addr,
                    "PUT",
                    &format!("/c/{i}"),
                    &[("x-upstream", &url)],
                    body.as_bytes(),
                );
                (i, reply)
            })
        })
        .collect();
    for handle in concurrent {
        let (i, reply) = handle.join().expect("a client thread");
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(
            reply.body,
            format!("PUT /c/{i} body=body number {i} upstream=200:upstream says /up/{i}\n")
        );
    }

    let failed = request(addr, "GET", "/broken", &[("x-upstream", &refused)], b"");
    assert_eq!(
        (failed.status, failed.body.as_str()),
        (
            502,
            "GET /broken upstream error: ErrorCode::ConnectionRefused\n"
        )
    );

    let (status, stderr) = server.terminate();
    assert_eq!(
        status,
        Some(0),
        "exit status after SIGTERM; stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("stopped after 7 requests"),
        "stderr:\n{stderr}"
    );
    let mut asked = upstream.join().expect("the upstream thread");
    asked.sort();
    assert_eq!(asked, ["/data", "/up/0", "/up/1", "/up/2", "/up/3"]);

    // One complete trace per request, numbered from 1.
    let files = traces_in(&traces);
    let names: Vec<_> = files
        .iter()
        .map(|p| {
            p.file_name()
                .expect("a file name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let expected: Vec<_> = (1..=7).map(|n| format!("request-{n:06}.trace")).collect();
    assert_eq!(names, expected);
    let mut requests = Vec::new();
    for file in &files {
        let stats = common::proxyrt()
            .args(["trace", "stats", "--json"])
            .arg(file)
            .output_checked();
        stats.assert_status(0);
        let stats: serde_json::Value =
            serde_json::from_str(stats.stdout_text().trim()).expect("trace stats JSON");
        assert_eq!(stats["complete"], true, "{}: {stats}", file.display());
        let functions = stats["functions"].as_object().expect("functions");
        assert_eq!(
            functions["export wasi:http/incoming-handler@0.2.12.handle"]["calls"],
            1,
            "{}: {stats}",
            file.display()
        );
        for f in [
            "wasi:http/types@0.2.12.[method]incoming-request.method",
            "wasi:http/types@0.2.12.[method]incoming-request.consume",
            "wasi:http/types@0.2.12.[static]response-outparam.set",
        ] {
            assert!(
                functions.contains_key(f),
                "{}: no {f} in {stats}",
                file.display()
            );
        }

        let shown = common::proxyrt()
            .args(["trace", "show"])
            .arg(file)
            .output_checked();
        shown.assert_status(0);
        let text = shown.stdout_text();
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("request "))
            .unwrap_or_else(|| panic!("{}: no request line in\n{text}", file.display()));
        requests.push(line.to_string());
        // The handles the host gave the export are calls of their own, with stable ids.
        assert!(
            text.contains(" export wasi:http/incoming-handler@0.2.12.handle()\n"),
            "{text}"
        );
        assert!(
            text.contains(" wasi:http/types@0.2.12.[export-handle]incoming-request()\n"),
            "{text}"
        );
        assert!(
            text.contains(" exit 0\n"),
            "{}: the guest's handle returned:\n{text}",
            file.display()
        );
        if line.contains("/broken") || line.contains("/data") || line.contains("/up/") {
            assert!(
                text.contains("wasi:http/outgoing-handler@0.2.12.handle"),
                "{text}"
            );
        }
    }
    // The first two arrived in order; the four concurrent ones in some order, then the last one.
    let base = format!("http://{addr}");
    assert_eq!(requests[0], format!("GET {base}/hello?a=1"));
    assert_eq!(requests[1], format!("POST {base}/echo"));
    let mut middle = requests[2..6].to_vec();
    middle.sort();
    assert_eq!(
        middle,
        (0..4)
            .map(|i| format!("PUT {base}/c/{i}"))
            .collect::<Vec<_>>()
    );
    assert_eq!(requests[6], format!("GET {base}/broken"));

    // The server and the upstream are gone: every request replays offline, from the trace alone,
    // and the guest makes exactly the recorded calls, its response included.
    let replayed = common::replay_in_empty_dir(guests::HTTP_HANDLER, &traces, &[]);
    replayed.assert_status(0);
    let err = replayed.stderr_text();
    assert!(
        err.contains("7 requests replayed from") && err.contains(": 7 as recorded, 0 diverged"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "request 1 GET {base}/hello?a=1: replayed as recorded (200, request body 0 B, \
             response body {} B)",
            plain.body.len()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "request 7 GET {base}/broken: replayed as recorded (502, request body 0 B, response \
             body {} B; GET {refused} -> error connection-refused)",
            failed.body.len()
        )),
        "{err}"
    );
    // One request alone.
    let one = common::replay_in_empty_dir(guests::HTTP_HANDLER, &traces, &["--request", "2"]);
    one.assert_status(0);
    one.assert_stderr_contains(&format!(
        "request 2 POST {base}/echo: replayed as recorded (200, request body 4 B, response body \
         {} B; GET {url} -> 200 ({} B))",
        echoed.body.len(),
        "upstream says /data".len()
    ));
    one.assert_stderr_contains("1 request replayed from");
    let missing = common::proxyrt()
        .args(["replay", "--request", "8", guests::HTTP_HANDLER])
        .arg(&traces)
        .output_checked();
    missing.assert_status(1);
    missing.assert_stderr_contains("has no request 8");

    // `trace show DIR`: one line per request; `trace stats DIR` counts them.
    let shown = common::proxyrt()
        .args(["trace", "show"])
        .arg(&traces)
        .output_checked();
    shown.assert_status(0);
    let lines = common::stdout_lines(&shown);
    assert_eq!(lines.len(), 7, "{lines:?}");
    assert_eq!(
        lines[0],
        format!(
            "request 1: GET {base}/hello?a=1 -> 200, request body 0 B, response body {} B",
            plain.body.len()
        )
    );
    let stats = common::proxyrt()
        .args(["trace", "stats", "--json"])
        .arg(&traces)
        .output_checked();
    stats.assert_status(0);
    let stats: serde_json::Value =
        serde_json::from_str(stats.stdout_text().trim()).expect("trace stats JSON");
    assert_eq!(stats["service"]["requests"], 7, "{stats}");
    assert_eq!(stats["service"]["statuses"]["200"], 6, "{stats}");
    assert_eq!(stats["service"]["statuses"]["502"], 1, "{stats}");
    assert_eq!(stats["service"]["outgoing"], 6, "{stats}");

    // A request that arrived otherwise than recorded (its body altered in the trace) makes the
    // guest answer otherwise: the replay names the request and the first differing call, the
    // response's body write, and exits with 86.
    let altered = dir.path().join("altered");
    std::fs::create_dir(&altered).expect("a directory");
    alter_request_body(
        &files[1],
        &altered.join("request-000002.trace"),
        b"ping",
        b"pong",
    );
    let diverged = common::replay_in_empty_dir(guests::HTTP_HANDLER, &altered, &[]);
    diverged.assert_status(86);
    let err = diverged.stderr_text();
    assert!(
        err.contains(&format!(
            "request 2 POST {base}/echo: diverged from the recorded request"
        )),
        "{err}"
    );
    assert!(
        err.contains("[method]output-stream.blocking-write-and-flush"),
        "{err}"
    );
    assert!(err.contains(": 0 as recorded, 1 diverged"), "{err}");
}

/// Copies the trace `from` to `to`, replacing `old` by `new` (same length) in the results of the
/// calls that read the request's body: the same request, arrived with another body.
fn alter_request_body(from: &Path, to: &Path, old: &[u8], new: &[u8]) {
    use recorder_host::trace::{Entry, TraceReader, TraceWriter};
    assert_eq!(old.len(), new.len());
    let mut reader = TraceReader::open(from).expect("the recorded trace");
    let mut writer =
        TraceWriter::create(to, &reader.header().clone()).expect("create the altered trace");
    let mut altered = 0;
    let mut last_call = None;
    while let Some(entry) = reader.next_entry().expect("a complete trace") {
        let entry = match entry {
            Entry::Call { func, ref args } => {
                last_call = Some(func);
                Entry::Call {
                    func,
                    args: args.clone(),
                }
            }
            Entry::Return { results } if last_call.is_some() => {
                let mut results = results;
                if let Some(at) = results.windows(old.len()).position(|w| w == old) {
                    results[at..at + old.len()].copy_from_slice(new);
                    altered += 1;
                }
                Entry::Return { results }
            }
            // The writer ends the trace itself.
            Entry::End { .. } => continue,
            other => other,
        };
        writer.append(&entry).expect("write the altered trace");
    }
    writer.finish().expect("finish the altered trace");
    assert_eq!(altered, 1, "the request body is read once");
}

#[test]
fn serve_without_record_survives_a_request_that_traps() {
    // 2 MiB of linear memory: small requests fit, a 1 MiB body does not (the guest reads it whole).
    // `-S cli` links all of wasi:cli, which the guest does not need but may have.
    let server = Server::start(&[
        "-S",
        "cli",
        "-W",
        "max-memory-size=2097152",
        guests::HTTP_HANDLER,
    ]);
    let addr = server.addr;
    let first = request(addr, "POST", "/small", &[], b"tiny");
    assert_eq!(
        (first.status, first.body.as_str()),
        (200, "POST /small body=tiny upstream=none\n")
    );

    let big = vec![b'x'; 1 << 20];
    let trapped = request(addr, "POST", "/big", &[], &big);
    assert_eq!(trapped.status, 500, "{trapped:?}");

    let after = request(addr, "GET", "/after", &[], b"");
    assert_eq!(
        (after.status, after.body.as_str()),
        (200, "GET /after body= upstream=none\n")
    );

    let (status, stderr) = server.terminate();
    assert_eq!(status, Some(0), "stderr:\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "request 2 (POST http://{addr}/big): the guest trapped"
        )),
        "the trap is reported, naming the request:\n{stderr}"
    );
    assert!(
        stderr.contains("wasm backtrace") || stderr.contains("unreachable"),
        "{stderr}"
    );
    assert!(stderr.contains("stopped after 3 requests"), "{stderr}");
}

#[test]
fn serve_lets_a_request_in_flight_finish_after_sigterm() {
    let (up, arrived, release, upstream) = slow_upstream();
    let dir = tempfile::tempdir().expect("temp dir");
    let dir_arg = dir.path().to_str().expect("a UTF-8 path");
    let server = Server::start(&["--record", dir_arg, guests::HTTP_HANDLER]);
    let addr = server.addr;
    let url = format!("http://127.0.0.1:{up}/slow-up");
    let client =
        thread::spawn(move || request(addr, "POST", "/slow", &[("x-upstream", &url)], b"wait"));
    arrived
        .recv_timeout(Duration::from_secs(60))
        .expect("the guest called the upstream");

    // The guest waits for the upstream: stop the server now.
    server.sigterm();
    // It stops accepting: new connections are refused (once it has handled the signal).
    let deadline = Instant::now() + Duration::from_secs(20);
    let refused = loop {
        match TcpStream::connect(addr) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break true,
            _ if Instant::now() > deadline => break false,
            _ => thread::sleep(Duration::from_millis(20)),
        }
    };
    assert!(
        refused,
        "the server still accepts connections after SIGTERM"
    );

    // The request in flight completes, and so does its trace.
    release.send(()).expect("release the upstream");
    let reply = client.join().expect("the client thread");
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (
            200,
            "POST /slow body=wait upstream=200:upstream says /slow-up\n"
        )
    );
    upstream.join().expect("the upstream thread");
    let (status, stderr) = server.wait();
    assert_eq!(status, Some(0), "stderr:\n{stderr}");
    assert!(
        stderr.contains("SIGTERM: stopped after 1 request"),
        "{stderr}"
    );
    let trace = dir.path().join("request-000001.trace");
    let shown = common::proxyrt()
        .args(["trace", "show"])
        .arg(&trace)
        .output_checked();
    shown.assert_status(0);
    shown.assert_stdout_contains("wasi:http/outgoing-handler@0.2.12.handle");
    // The outgoing request's handle is named by its URL, and so is the response it got.
    shown.assert_stdout_contains(&format!(" (GET http://127.0.0.1:{up}/slow-up), none)"));
    let named = format!("(GET http://127.0.0.1:{up}/slow-up))");
    assert!(
        shown
            .stdout_text()
            .lines()
            .any(|l| l.contains("[method]incoming-response.status(") && l.ends_with(&named)),
        "{}",
        shown.stdout_text()
    );
    assert!(
        shown.stdout_text().ends_with(" exit 0\n"),
        "{}",
        shown.stdout_text()
    );
    assert!(
        !shown.stderr_text().contains("cut"),
        "{}",
        shown.stderr_text()
    );
}

#[test]
fn serve_refuses_a_component_that_is_not_a_proxy() {
    let (status, stderr) = serve_failing(&[guests::CLI]);
    assert_eq!(status, Some(1), "{stderr}");
    assert!(
        stderr.contains("is not a wasi:http/proxy component"),
        "{stderr}"
    );
    assert!(
        stderr.contains("it exports `wasi:cli/run@0.2."),
        "names its exports: {stderr}"
    );
    assert!(!stderr.contains("Serving HTTP"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn serve_reports_a_port_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = taken.local_addr().expect("local address").to_string();
    let (status, stderr) = serve_failing(&["--addr", &addr, guests::HTTP_HANDLER]);
    assert_eq!(status, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
    assert!(
        stderr.to_lowercase().contains("address already in use"),
        "{stderr}"
    );
    drop(taken);
}

#[test]
fn serve_refuses_a_record_dir_that_holds_traces() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("request-000001.trace"), b"old").expect("an old trace");
    let dir_arg = dir.path().to_str().expect("a UTF-8 path");
    let (status, stderr) = serve_failing(&["--record", dir_arg, guests::HTTP_HANDLER]);
    assert_eq!(status, Some(1), "{stderr}");
    assert!(stderr.contains("already holds traces"), "{stderr}");
    assert_eq!(
        std::fs::read(dir.path().join("request-000001.trace")).expect("the old trace"),
        b"old",
        "left untouched"
    );
}

/// A wasi:http handler from another toolchain: the Python one of `tests/foreign/py-http`
/// (componentize-py: CPython inside, imports at @0.2.9 beyond the proxy world, hence `-S cli`,
/// an extra `exports` interface beside `wasi:http/incoming-handler@0.2.0`). Served and recorded
/// under real traffic, then replayed offline with every response checked call by call.
#[test]
fn serve_records_a_python_handler_that_replays_offline() {
    let Some(foreign) = crate::foreign::foreign_dir() else {
        return;
    };
    let handler = foreign.join("py-http.wasm");
    let handler = handler.to_str().expect("a UTF-8 path");
    let (up, upstream) = upstream(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let traces = dir.path().join("traces");
    let traces_arg = traces.to_str().expect("a UTF-8 path");
    let server = Server::start(&["-S", "cli", "--record", traces_arg, handler]);
    let addr = server.addr;
    let plain = request(addr, "GET", "/py?x=1", &[], b"");
    assert_eq!(
        (plain.status, plain.body.as_str()),
        (200, "py GET /py?x=1 body= upstream=none\n")
    );
    let url = format!("http://127.0.0.1:{up}/from-python");
    let posted = request(
        addr,
        "POST",
        "/post",
        &[("x-upstream", &url)],
        b"hello python",
    );
    assert_eq!(
        (posted.status, posted.body.as_str()),
        (
            200,
            "py POST /post body=hello python upstream=200:upstream says /from-python\n"
        )
    );
    let (status, stderr) = server.terminate();
    assert_eq!(status, Some(0), "stderr:\n{stderr}");
    assert_eq!(
        upstream.join().expect("the upstream thread"),
        ["/from-python"]
    );

    let replayed = common::replay_in_empty_dir(handler, &traces, &[]);
    replayed.assert_status(0);
    let base = format!("http://{addr}");
    replayed.assert_stderr_contains(&format!(
        "request 2 POST {base}/post: replayed as recorded (200, request body 12 B, response body \
         {} B; GET {url} -> 200 ({} B))",
        posted.body.len(),
        "upstream says /from-python".len()
    ));
    replayed.assert_stderr_contains(": 2 as recorded, 0 diverged");
}

/// A server killed outright (SIGKILL: no chance to finish anything) leaves every request that
/// had completed replayable: each trace is finished when its request is done.
#[test]
fn a_killed_server_leaves_its_completed_requests_replayable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let traces = dir.path().join("traces");
    let traces_arg = traces.to_str().expect("a UTF-8 path");
    let mut server = Server::start(&["--record", traces_arg, guests::HTTP_HANDLER]);
    for i in 0..2 {
        let reply = request(
            server.addr,
            "POST",
            &format!("/k/{i}"),
            &[],
            b"before the kill",
        );
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    server.child.kill().expect("SIGKILL the server");
    server.child.wait().expect("reap the server");
    let replayed = common::replay_in_empty_dir(guests::HTTP_HANDLER, &traces, &[]);
    replayed.assert_status(0);
    replayed.assert_stderr_contains("2 requests replayed from");
    replayed.assert_stderr_contains(": 2 as recorded, 0 diverged, 0 unreadable");
}

/// `serve --record` compresses each request's trace by default and stores it raw with
/// `--trace-compression none`; both replay, and `trace stats` gives both sizes.
#[test]
fn serve_record_takes_trace_compression() {
    let mut sizes = vec![];
    for compression in [None, Some("none")] {
        let dir = tempfile::tempdir().expect("temp dir");
        let traces = dir.path().join("traces");
        let traces_arg = traces.to_str().expect("a UTF-8 path");
        let mut args = vec!["--record", traces_arg];
        if let Some(c) = compression {
            args.extend(["--trace-compression", c]);
        }
        args.push(guests::HTTP_HANDLER);
        let server = Server::start(&args);
        let body = "compress me ".repeat(100);
        let reply = request(server.addr, "POST", "/z", &[], body.as_bytes());
        assert_eq!(reply.status, 200, "{reply:?}");
        let (status, _) = server.terminate();
        assert_eq!(status, Some(0));
        let stats = common::proxyrt()
            .args(["trace", "stats", "--json"])
            .arg(&traces)
            .output_checked();
        stats.assert_status(0);
        let v: serde_json::Value = serde_json::from_str(stats.stdout_text()).expect("JSON");
        assert_eq!(v["complete"], true, "{v}");
        let raw = v["entry_bytes"].as_u64().expect("entry_bytes");
        let stored = v["block_bytes"].as_u64().expect("block_bytes");
        sizes.push((raw, stored));
        let replayed = common::replay_in_empty_dir(guests::HTTP_HANDLER, &traces, &[]);
        replayed.assert_status(0);
        replayed.assert_stderr_contains(": 1 as recorded, 0 diverged, 0 unreadable");
    }
    let (zstd, none) = (sizes[0], sizes[1]);
    assert_eq!(zstd.0, none.0, "the same entries");
    assert!(zstd.1 < zstd.0, "compressed by default: {zstd:?}");
    assert!(none.1 > none.0, "raw blocks: entries and heads: {none:?}");
}

//! An HTTP client records and replays: the `http-client` guest GETs a URL from a real HTTP server
//! on the loopback interface through wasi:http (`-S http`, wasmtime-wasi-http's real client), and a
//! URL nobody listens on. The replay runs after the server is gone, from an empty directory, with
//! no host at all: the response, made of resources handed from call to call (request, future
//! response, response, body stream, pollables) and of bytes only the network had, comes from the
//! trace.

use crate::common;

use common::{proxyrt, replay_in_empty_dir};
use proxyrt_test_guests as guests;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Serves `body` to exactly one HTTP/1.1 request on 127.0.0.1 and then stops; returns the port and
/// the server thread (which returns the request line it got).
fn serve_once(body: String) -> (u16, thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept the guest's connection");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("read timeout");
        let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
        let mut request_line = String::new();
        reader.read_line(&mut request_line).expect("request line");
        // The headers, up to the empty line (a GET has no body).
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).expect("a header line");
            if n == 0 || line == "\r\n" {
                break;
            }
        }
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("write the response");
        request_line.trim_end().to_string()
    });
    (port, server)
}

/// A port on 127.0.0.1 that nobody listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

#[test]
fn an_http_exchange_replays_without_the_network() {
    // A body that exists nowhere but in this run: only the server, then the trace, has it.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let body = format!("served at {nanos} by the test");
    let (port, server) = serve_once(body.clone());
    let refused = closed_port();
    let ok_url = format!("http://127.0.0.1:{port}/greeting?x=1");
    let refused_url = format!("http://127.0.0.1:{refused}/nobody");

    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.bin");
    let recorded = proxyrt()
        .args(["record", "-S", "http", "--trace"])
        .arg(&trace)
        .args([guests::HTTP_CLIENT, &ok_url, &refused_url])
        .output_checked();
    recorded.assert_status(0);
    assert_eq!(
        server.join().expect("the server thread"),
        "GET /greeting?x=1 HTTP/1.1",
        "the guest's request reached the server"
    );
    assert_eq!(
        recorded.stdout_text(),
        format!(
            "GET {ok_url} -> 200, {} bytes: {body:?}\nGET {refused_url} -> error: ErrorCode::ConnectionRefused\n",
            body.len()
        )
    );

    // The server is gone; the replay has no network and no host at all.
    let replayed = replay_in_empty_dir(guests::HTTP_CLIENT, &trace, &[]);
    replayed.assert_status(0);
    assert_eq!(replayed.stdout_text(), recorded.stdout_text());
    assert_eq!(replayed.stderr_text(), recorded.stderr_text());

    // The trace has the HTTP calls, the response's resources among them.
    let stats = proxyrt()
        .args(["trace", "stats"])
        .arg(&trace)
        .output_checked();
    stats.assert_status(0);
    for f in [
        "wasi:http/outgoing-handler@0.2.12.handle",
        "wasi:http/types@0.2.12.[method]future-incoming-response.get",
        "wasi:http/types@0.2.12.[method]incoming-response.consume",
        "wasi:io/streams@0.2.12.[method]input-stream.blocking-read",
        "wasi:io/poll@0.2.12.[method]pollable.block",
    ] {
        stats.assert_stdout_contains(f);
    }
}

#[test]
fn faults_make_requests_time_out_and_forwarded_requests_reach_the_server() {
    let dir = tempfile::tempdir().unwrap();
    // Every request times out: the guest sees wasi:http's error, the server sees nothing.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    let url = format!("http://127.0.0.1:{port}/never");
    let trace = dir.path().join("timeout.trace");
    let out = proxyrt()
        .args(["record", "-S", "http", "--trace"])
        .arg(&trace)
        .args([
            "--fault",
            "wasi:http/outgoing-handler.handle=connection-timeout",
        ])
        .args([guests::HTTP_CLIENT, &url])
        .output_checked();
    out.assert_status(0);
    assert_eq!(
        out.stdout_text(),
        format!("GET {url} -> error: ErrorCode::ConnectionTimeout\n")
    );
    listener.set_nonblocking(true).expect("non-blocking");
    assert!(
        listener.accept().is_err(),
        "a faulted request reached the server"
    );
    let replayed = replay_in_empty_dir(guests::HTTP_CLIENT, &trace, &[]);
    replayed.assert_status(0);
    assert_eq!(replayed.stdout_text(), out.stdout_text());

    // A fault that never hits: every call goes to the real host through the forward proxy
    // (resources, pollables, the body stream), and the exchange replays offline.
    let (port, server) = serve_once("forwarded".into());
    let url = format!("http://127.0.0.1:{port}/data");
    let trace = dir.path().join("forwarded.trace");
    let out = proxyrt()
        .args(["record", "-S", "http", "--trace"])
        .arg(&trace)
        .args(["--fault", "wasi:http/outgoing-handler.handle@0%"])
        .args([guests::HTTP_CLIENT, &url])
        .output_checked();
    out.assert_status(0);
    assert_eq!(
        out.stdout_text(),
        format!("GET {url} -> 200, 9 bytes: \"forwarded\"\n")
    );
    assert_eq!(server.join().expect("the server"), "GET /data HTTP/1.1");
    let replayed = replay_in_empty_dir(guests::HTTP_CLIENT, &trace, &[]);
    replayed.assert_status(0);
    assert_eq!(replayed.stdout_text(), out.stdout_text());
}

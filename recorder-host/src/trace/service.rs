//! A recorded service: the directory `proxyrt serve --record DIR` writes, one ordinary trace per
//! request, named by the request's arrival number (`request-000001.trace`, ...).
//!
//! Why one file per request: requests run concurrently, each in its own store, so each writes
//! its own stream without a lock and never interleaves with another; a request that completed is
//! complete on disk whatever happens to the server afterwards (SIGTERM, a crash), and a request cut
//! by a crash is an ordinary cut trace. Every tool that reads a trace reads a request, and
//! replaying a service is replaying its requests in arrival order.

use std::io;
use std::path::{Path, PathBuf};

/// The file name of request `seq`'s trace (1 for the first request to arrive).
pub fn request_trace_name(seq: u64) -> String {
    format!("request-{seq:06}.trace")
}

/// The request number of a trace file named by [`request_trace_name`], `None` for another name.
pub fn request_number(file_name: &str) -> Option<u64> {
    let digits = file_name.strip_prefix("request-")?.strip_suffix(".trace")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The request traces in `dir`, by request number (arrival order), with their paths. Other files
/// are ignored.
pub fn request_traces(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if let Some(seq) = name.to_str().and_then(request_number) {
            out.push((seq, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_order_by_number() {
        assert_eq!(request_trace_name(7), "request-000007.trace");
        assert_eq!(request_number("request-000007.trace"), Some(7));
        assert_eq!(request_number("request-1234567.trace"), Some(1234567));
        for other in [
            "request-.trace",
            "request-00x1.trace",
            "trace.bin",
            "request-000001.bin",
        ] {
            assert_eq!(request_number(other), None, "{other}");
        }
        let dir = tempfile::tempdir().unwrap();
        for seq in [10, 2, 1] {
            std::fs::write(dir.path().join(request_trace_name(seq)), b"").unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), b"").unwrap();
        let found: Vec<u64> = request_traces(dir.path())
            .unwrap()
            .into_iter()
            .map(|(seq, _)| seq)
            .collect();
        assert_eq!(found, [1, 2, 10]);
    }
}

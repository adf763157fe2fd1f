//! A recorded service: the directory `proxyrt serve --record DIR` writes, one ordinary trace per
//! request, named by the request's arrival number (`request-000001.trace`, ...).
//!
//! Why one file per request: requests run concurrently, each in its own store, so each writes
//! its own stream without a lock and never interleaves with another; a request that completed is
//! complete on disk whatever happens to the server afterwards (SIGTERM, a crash), and a request cut
//! by a crash is an ordinary cut trace. Every tool that reads a trace reads a request, and a
//! service is a corpus (`proxyrt::corpus`, which finds traces by content, in path order: the
//! zero-padded numbers sort in arrival order).

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
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
        // Zero-padded, the names sort in arrival order (as the corpus takes them: by path).
        let mut names: Vec<String> = [10, 2, 1].map(request_trace_name).to_vec();
        names.sort();
        assert_eq!(names, [1, 2, 10].map(request_trace_name));
    }
}

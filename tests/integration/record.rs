//! `proxyrt record` and `proxyrt trace show|stats` on real guests and real hosts: the recorded run
//! behaves like `proxyrt run`, and the trace holds what really happened (the real random bytes, the
//! real file contents), decoded to WAVE from the types in its header.

use crate::common;

use common::{proxyrt, stdout_lines, Output};
use proxyrt_test_guests as guests;
use std::fs;
use std::path::Path;

fn record(dir: &Path, steps: &[&str], stdin: &[u8]) -> Output {
    let map = format!("{}::/data", dir.display());
    proxyrt()
        .args(["record", "--trace"])
        .arg(dir.join("trace.bin"))
        .args(["--argv0", "app", "--dir", &map, "--env", "K=v", guests::CLI])
        .args(steps)
        .stdin_bytes(stdin)
        .output_checked()
}

/// `proxyrt trace stats --json TRACE`, which must succeed, parsed.
fn stats_json(trace: &Path) -> serde_json::Value {
    let stats = proxyrt()
        .args(["trace", "stats", "--json"])
        .arg(trace)
        .output_checked();
    stats.assert_status(0);
    serde_json::from_str(stats.stdout_text()).expect("trace stats --json prints JSON")
}

fn show(trace: &Path, extra: &[&str]) -> Output {
    proxyrt()
        .args(["trace", "show"])
        .arg(trace)
        .args(extra)
        .output_checked()
}

/// Steps of the cli guest that make every kind of host call it can: arguments, environment, a
/// file written and read, a directory listed, stdin, stderr, and an exit.
const EVERY_KIND_OF_CALL: [&str; 8] = [
    "args",
    "env:K",
    "write:/data/f.txt=content",
    "read:/data/f.txt",
    "ls:/data",
    "stdin",
    "stderr:err line",
    "exit:4",
];

#[test]
fn recording_behaves_like_run() {
    let steps = EVERY_KIND_OF_CALL;
    let dir = tempfile::tempdir().unwrap();
    let recorded = record(dir.path(), &steps, b"input");
    let plain_dir = tempfile::tempdir().unwrap();
    let map = format!("{}::/data", plain_dir.path().display());
    let plain = proxyrt()
        .args([
            "run",
            "--argv0",
            "app",
            "--dir",
            &map,
            "--env",
            "K=v",
            guests::CLI,
        ])
        .args(steps)
        .stdin_bytes(b"input")
        .output_checked();
    // The trace itself lands in the preopened dir here, so compare the guest-visible output only
    // up to the listing, which differs by that file.
    let (r, p) = (stdout_lines(&recorded), stdout_lines(&plain));
    assert_eq!(r[..4], p[..4]);
    assert_eq!(r[4], "ls /data: f.txt,trace.bin");
    assert_eq!(r[5..], p[5..]);
    assert_eq!(recorded.stderr_text(), plain.stderr_text());
    assert_eq!(recorded.status, plain.status);
    assert_eq!(recorded.status, 1);
}

/// `line` with what differs between two runs on two files of the same contents masked: file
/// timestamps (`seconds: N`) and metadata hashes (`lower: N`, `upper: N`: wasmtime-wasi hashes a
/// file's device, inode and times), each number made `_`.
fn without_file_identity(line: &str) -> String {
    let mut out = line.to_string();
    for key in ["seconds: ", "lower: ", "upper: "] {
        let mut parts = out.split(key);
        let mut masked = parts.next().unwrap_or_default().to_string();
        for part in parts {
            masked.push_str(key);
            masked.push('_');
            masked.push_str(part.trim_start_matches(|c: char| c.is_ascii_digit()));
        }
        out = masked;
    }
    out
}

/// Record mode's two layouts (#17): recording stubs spliced inside the guest's own core module
/// (what `auto` picks for this guest) and the proxy component composed above it write the same
/// trace for the same run (every call, value and handle id; only the files' timestamps and
/// metadata hashes differ between two runs), and every trace replays in both of replay's layouts. A layout that cannot
/// be had is a clear error.
#[test]
fn the_spliced_and_the_composed_layout_write_the_same_trace() {
    let steps = EVERY_KIND_OF_CALL;
    let shown: Vec<String> = ["spliced", "composed", "auto"]
        .iter()
        .map(|layout| {
            let dir = tempfile::tempdir().unwrap();
            let map = format!("{}::/data", dir.path().display());
            let trace = dir.path().join("trace.bin");
            let out = proxyrt()
                .args(["record", "--layout", layout, "--trace"])
                .arg(&trace)
                .args(["--argv0", "app", "--dir", &map, "--env", "K=v", guests::CLI])
                .args(steps)
                .stdin_bytes(b"input")
                .output_checked();
            out.assert_status(1);
            out.assert_stdout_contains("stdin: 5 bytes: \"input\"");
            let replayed = common::replay_in_empty_dir(Path::new(guests::CLI), &trace, &[]);
            assert_eq!(replayed.status, out.status, "{}", replayed.stderr_text());
            assert_eq!(replayed.stdout_text(), out.stdout_text(), "{layout}");
            assert_eq!(replayed.stderr_text(), out.stderr_text(), "{layout}");
            let shown = show(&trace, &[]);
            shown.assert_status(0);
            // The first line names the trace file; timestamps are the file system's.
            let text: Vec<String> = shown
                .stdout_text()
                .lines()
                .skip(1)
                .map(without_file_identity)
                .collect();
            assert!(text.len() > 50, "{text:?}");
            text.join("\n")
        })
        .collect();
    assert_eq!(shown[0], shown[1], "spliced and composed traces differ");
    assert_eq!(shown[0], shown[2], "auto is spliced for this guest");

    let bad = proxyrt()
        .args(["record", "--layout", "inside", guests::CLI])
        .output_checked();
    bad.assert_status(2);
    bad.assert_stderr_contains("unknown layout `inside`");
}

#[test]
fn the_trace_holds_the_real_values() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("in.txt"), "file bytes").unwrap();
    let out = record(
        dir.path(),
        &["random:8", "read:/data/in.txt", "clock-wall"],
        b"",
    );
    out.assert_status(0);
    let lines = stdout_lines(&out);
    let hex = lines[0].strip_prefix("random: ").unwrap();
    let bytes: Vec<String> = (0..8)
        .map(|i| {
            u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                .unwrap()
                .to_string()
        })
        .collect();

    let trace = dir.path().join("trace.bin");
    // Plain WAVE (`--raw`): byte lists as lists of numbers, handles as bare ids.
    let shown = show(&trace, &["--raw"]);
    shown.assert_status(0);
    let text = shown.stdout_text();
    // The random bytes the guest printed are the ones the host returned, as recorded.
    let random = text
        .lines()
        .skip_while(|l| !l.contains("wasi:random/random@0.2.12.get-random-bytes(8)"))
        .nth(1)
        .unwrap_or_else(|| panic!("no get-random-bytes call in:\n{text}"));
    let expected = format!("-> [{}]", bytes.join(", "));
    assert!(random.ends_with(&expected), "{random}\n{text}");
    // The file's bytes, as returned by the real filesystem host.
    let content: Vec<String> = b"file bytes".iter().map(u8::to_string).collect();
    assert!(
        text.contains(&format!("-> ok([{}])", content.join(", "))),
        "{text}"
    );
    // Handle ids are stable: the preopened directory's id, as `get-directories` returned it, is
    // the one `open-at` is called on.
    let dirs = text
        .lines()
        .skip_while(|l| !l.contains("preopens@0.2.12.get-directories()"))
        .nth(1)
        .unwrap_or_else(|| panic!("no get-directories call in:\n{text}"));
    let id = dirs
        .split_once("[(")
        .and_then(|(_, rest)| rest.split_once(','))
        .map(|(id, _)| id.trim().to_string())
        .unwrap_or_else(|| panic!("no handle in {dirs}"));
    assert!(dirs.contains(r#""/data")]"#), "{dirs}");
    assert!(
        text.contains(&format!(
            r#"descriptor.open-at({id}, {{symlink-follow}}, "in.txt", {{}}, {{read}})"#
        )),
        "{text}"
    );
    assert!(
        text.contains("wasi:clocks/wall-clock@0.2.12.now()"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("exit 0"), "{text}");
    assert!(text.contains(r#"argv ["app", "random:8", "read:/data/in.txt", "clock-wall"]"#));

    // --json: one object per line, parseable, with the same calls.
    let json = show(&trace, &["--json"]);
    json.assert_status(0);
    let objects: Vec<serde_json::Value> = json
        .stdout_text()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert!(objects[0]["header"]["functions"].as_array().unwrap().len() > 10);
    assert!(objects.iter().any(|o| o["kind"] == "call"
        && o["function"] == "wasi:random/random@0.2.12.get-random-bytes"
        && o["value"] == "(8)"));
    // --skip and --limit page through the entries.
    let page = show(&trace, &["--skip", "2", "--limit", "3"]);
    let entries: Vec<&str> = page
        .stdout_text()
        .lines()
        .filter(|l| l.starts_with('#'))
        .collect();
    assert_eq!(entries.len(), 3);
    assert!(entries[0].starts_with("#2 "), "{entries:?}");
}

#[test]
fn stats_count_calls_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let out = record(dir.path(), &["fill:/data/big=200000", "sum:/data/big"], b"");
    out.assert_status(0);
    let v = stats_json(&dir.path().join("trace.bin"));
    assert_eq!(v["complete"], true);
    let f = &v["functions"];
    let read = &f["wasi:io/streams@0.2.12.[method]input-stream.blocking-read"];
    // 200000 bytes read back in 64 KiB chunks: the result bytes hold at least the file.
    assert!(read["result_bytes"].as_u64().unwrap() >= 200_000, "{v}");
    let written: u64 = f
        .as_object()
        .unwrap()
        .iter()
        .filter(|(n, _)| n.contains("output-stream") && n.contains("write"))
        .map(|(_, c)| c["arg_bytes"].as_u64().unwrap())
        .sum();
    assert!(written >= 200_000, "{v}");
    // The encoding is compact: values take little more than the payload.
    let value_bytes = v["value_bytes"].as_u64().unwrap();
    assert!(
        value_bytes < 400_000 * 12 / 10,
        "{value_bytes} bytes of values for 400000 payload bytes"
    );

    let table = proxyrt()
        .args(["trace", "stats"])
        .arg(dir.path().join("trace.bin"))
        .output_checked();
    table.assert_status(0);
    table.assert_stdout_contains("blocking-read");
}

#[test]
fn a_trapping_guest_records_the_trap() {
    let dir = tempfile::tempdir().unwrap();
    let out = record(dir.path(), &["echo:x", "trap"], b"");
    out.assert_status(134);
    let shown = show(&dir.path().join("trace.bin"), &[]);
    shown.assert_status(0);
    let last = shown.stdout_text().lines().last().unwrap().to_string();
    assert!(
        last.contains("trap") && last.contains("unreachable"),
        "{last}"
    );
}

/// The record proxy hands its calls to the host a batch (64 KiB) at a time, and the host reads
/// what is left in the batch once the export returned or trapped: a guest making more calls than
/// fit in one batch, with calls larger than the whole batch among them (64 KiB file writes and
/// reads), then trapping, exiting or returning, leaves every call before in the trace, in order,
/// and the trace replays to the same ending.
#[test]
fn batches_keep_every_call_before_a_trap_an_exit_or_the_end() {
    for (last, status, ending) in [
        (Some("trap"), 134, "unreachable"),
        (Some("exit:3"), 1, "exit 1"),
        (None, 0, "exit 0"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut steps = vec!["fill:/data/big=150000", "lines:4000", "sum:/data/big"];
        steps.extend(last);
        let out = record(dir.path(), &steps, b"");
        out.assert_status(status);
        let trace = dir.path().join("trace.bin");
        let v = stats_json(&trace);
        assert_eq!(v["complete"], true, "{last:?}: {v}");
        // The 64 KiB writes and reads (each record larger than the batch) are all there.
        let bytes = |f: &str, side: &str| {
            v["functions"][f][side]
                .as_u64()
                .unwrap_or_else(|| panic!("{last:?}: no {f} in {v}"))
        };
        assert!(
            bytes(
                "wasi:io/streams@0.2.12.[method]output-stream.write",
                "arg_bytes"
            ) > 150_000
        );
        assert!(
            bytes(
                "wasi:io/streams@0.2.12.[method]input-stream.blocking-read",
                "result_bytes"
            ) > 150_000
        );
        let shown = show(&trace, &[]);
        shown.assert_status(0);
        let text = shown.stdout_text();
        // Every line written, in order, then the sum's reads and the ending.
        let mut at = 0;
        for i in [0, 1, 1999, 2000, 3998, 3999] {
            let line = format!("line {i}\\n");
            at += text[at..]
                .find(&line)
                .unwrap_or_else(|| panic!("{last:?}: `{line}` missing or out of order"));
        }
        let sum = text[at..]
            .find("sum /data/big: 150000 bytes")
            .unwrap_or_else(|| panic!("{last:?}: the sum's line is not after the lines"));
        let end = text.trim_end().lines().last().unwrap_or_default();
        assert!(end.contains(ending), "{last:?}: {end}");
        assert!(at + sum < text.len());
        let replayed = proxyrt()
            .args(["replay", "-q", guests::CLI])
            .arg(&trace)
            .output_checked();
        replayed.assert_status(status);
    }
}

/// A `proxyrt record` of `steps` into `trace`, its blocks stored as `compression` says, running
/// in the background.
fn spawn_record(trace: &Path, compression: &str, steps: &[&str]) -> std::process::Child {
    let map = format!("{}::/data", trace.parent().unwrap().display());
    std::process::Command::new(env!("CARGO_BIN_EXE_proxyrt"))
        .env(
            "PROXYRT_CACHE_DIR",
            format!("{}/proxyrt-cache", env!("CARGO_TARGET_TMPDIR")),
        )
        .args(["record", "--trace-compression", compression, "--trace"])
        .arg(trace)
        .args(["--dir", &map, guests::CLI])
        .args(steps)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Killed while its guest waits, a recording leaves everything up to the wait on disk: the
/// flush before a blocking call closes the open block (compressed or not).
#[test]
fn a_killed_recording_leaves_a_readable_cut_trace() {
    for compression in ["zstd", "none"] {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("trace.bin");
        let mut child = spawn_record(
            &trace,
            compression,
            &["echo:before", "sleep:60000", "echo:after"],
        );
        // Wait until the guest is blocked in its sleep: the poll call is flushed before it blocks.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let shown = show(&trace, &[]);
            if shown.stdout_text().contains("pollable.block(") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the guest never reached its sleep"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let shown = show(&trace, &[]);
        shown.assert_status(0);
        shown.assert_stderr_contains("no end marker");
        let text = shown.stdout_text();
        assert!(
            text.contains("write(") && text.contains("pollable.block("),
            "{compression}: {text}"
        );
        assert!(!text.contains("exit"), "{compression}: {text}");
    }
}

/// Killed while its guest computes (no flush point near), a compressed recording leaves a trace
/// readable up to its last complete block: `trace show`, `trace stats` and `replay` read that
/// far, say it is cut, and never take the torn block for corruption.
#[test]
fn a_recording_killed_mid_run_reads_to_its_last_complete_block() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.bin");
    let mut child = spawn_record(&trace, "zstd", &["lines:100000000"]);
    // Wait until a few write buffers of blocks are on disk.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while fs::metadata(&trace).map_or(0, |m| m.len()) < 600_000 {
        assert!(
            std::time::Instant::now() < deadline,
            "the recording wrote too little"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL, mid-run
    child.wait().unwrap();
    let shown = show(&trace, &[]);
    shown.assert_status(0);
    shown.assert_stderr_contains("complete entries but no end marker");
    let err = shown.stderr_text();
    assert!(!err.contains("corrupt"), "{err}");
    // Every entry shown is a whole call of the guest's loop, in order.
    let complete: u64 = err
        .split("ends with ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    assert!(complete > 10_000, "{err}");
    let v = stats_json(&trace);
    assert_eq!(v["complete"], false);
    assert_eq!(v["entries"].as_u64(), Some(complete));
    let (raw, stored) = (
        v["entry_bytes"].as_u64().unwrap(),
        v["block_bytes"].as_u64().unwrap(),
    );
    assert!(stored * 5 < raw, "{stored} bytes stored for {raw}");
    let replayed = proxyrt()
        .args(["replay", "-q", guests::CLI])
        .arg(&trace)
        .output_checked();
    replayed.assert_status(1);
    replayed.assert_stderr_contains("cut");
}

/// `--trace-compression none` stores every block raw, the default compresses them; both traces
/// hold the same entries, show and replay the same, and `trace stats` gives both sizes.
#[test]
fn trace_compression_none_and_default() {
    let mut shown = vec![];
    let mut sizes = vec![];
    for compression in [None, Some("none"), Some("zstd")] {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("trace.bin");
        let option: &[&str] = match compression {
            Some(c) => &["--trace-compression", c],
            None => &[],
        };
        let out = proxyrt()
            .arg("record")
            .args(option)
            .arg("--trace")
            .arg(&trace)
            .args([guests::CLI, "lines:3000", "random:5000", "echo:done"])
            .output_checked();
        out.assert_status(0);
        let recorded = out.stdout_text().to_string();
        let v = stats_json(&trace);
        assert_eq!(v["complete"], true);
        let raw = v["entry_bytes"].as_u64().unwrap();
        let stored = v["block_bytes"].as_u64().unwrap();
        let file = v["file_bytes"].as_u64().unwrap();
        assert!(stored < file && raw > 0, "{v}");
        sizes.push((raw, stored));
        let text = proxyrt()
            .args(["trace", "stats"])
            .arg(&trace)
            .output_checked();
        text.assert_stdout_contains(&format!("entries: {raw} bytes raw, {stored} bytes stored"));
        let s = show(&trace, &[]);
        s.assert_status(0);
        // Everything but the trace's path and the random bytes is the same in the three.
        let text = s.stdout_text();
        shown.push((
            text.lines().count(),
            text.lines().last().map(str::to_string),
        ));
        let replayed = proxyrt()
            .args(["replay", guests::CLI])
            .arg(&trace)
            .output_checked();
        replayed.assert_status(0);
        assert_eq!(replayed.stdout_text(), recorded, "{compression:?}");
    }
    assert_eq!(shown[0], shown[1]);
    assert_eq!(shown[1], shown[2]);
    let [default, none, zstd] = [sizes[0], sizes[1], sizes[2]];
    // zstd is the default (the random bytes differ, so the sizes may by a few bytes).
    assert_eq!(default.0, zstd.0);
    assert!(default.1.abs_diff(zstd.1) < 100, "{default:?} {zstd:?}");
    assert_eq!(none.0, zstd.0, "the same entries");
    assert!(
        none.1 > none.0,
        "raw blocks: the entries and the heads {none:?}"
    );
    assert!(zstd.1 * 3 < zstd.0, "compressed {zstd:?}");
    // Another name is refused before anything runs.
    let dir = tempfile::tempdir().unwrap();
    let bad = proxyrt()
        .args(["record", "--trace-compression", "lz4", "--trace"])
        .arg(dir.path().join("t"))
        .args([guests::CLI, "echo:x"])
        .output_checked();
    bad.assert_status(2);
    bad.assert_stderr_contains("expected one of: none, zstd");
    assert!(!dir.path().join("t").exists());
}

#[test]
fn bad_traces_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = record(dir.path(), &["echo:x"], b"");
    out.assert_status(0);
    let good = fs::read(dir.path().join("trace.bin")).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "not a proxyrt trace"),
        (
            "wasm",
            fs::read(guests::CLI).unwrap(),
            "not a proxyrt trace",
        ),
        (
            "flipped",
            {
                // The last byte is in the end marker's payload: a checksum mismatch.
                let mut b = good.clone();
                let i = b.len() - 1;
                b[i] ^= 0x40;
                b
            },
            "corrupt",
        ),
        (
            "huge-length",
            {
                let mut b = good[..8].to_vec();
                b.extend_from_slice(&u32::MAX.to_le_bytes());
                b.extend_from_slice(&[0; 4]);
                b
            },
            "exceeds",
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.path().join(name);
        fs::write(&path, bytes).unwrap();
        let out = show(&path, &[]);
        assert_eq!(out.status, 1, "{name}");
        let err = out.stderr_text();
        assert!(err.contains(expected), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    // Cut in the middle of an entry: readable up to the last complete entry, reported as cut.
    let path = dir.path().join("cut");
    fs::write(&path, &good[..good.len() - 5]).unwrap();
    let out = show(&path, &[]);
    out.assert_status(0);
    out.assert_stderr_contains("torn");
}

/// A trace that cannot be written (a full disk: Linux's `/dev/full` fails every write with ENOSPC)
/// stops the recording with an error that names the file and the cause, before the guest runs on
/// without a trace; never a panic.
#[test]
fn a_full_disk_is_a_clear_error() {
    let full = Path::new("/dev/full");
    assert!(full.exists(), "this test needs Linux's /dev/full");
    for compression in ["zstd", "none"] {
        let out = proxyrt()
            .args(["record", "--trace-compression", compression, "--trace"])
            .arg(full)
            .args([guests::CLI, "echo:a", "sleep:10", "echo:b"])
            .output_checked();
        out.assert_status(1);
        out.assert_stderr_contains("cannot write the trace /dev/full");
        out.assert_stderr_contains("No space left on device");
        assert!(
            !out.stderr_text().contains("panicked"),
            "{compression}: {}",
            out.stderr_text()
        );
        assert!(
            !out.stdout_text().contains('b'),
            "{compression}: the guest went on without a trace"
        );
    }
}

/// Two `record`s into one empty compilation cache at once, then every cache entry cut in half (as
/// by a crash mid-write in a cache without atomic renames): both recordings succeed, each trace
/// replays, and the cut entries are ignored with a warning and rebuilt, never used.
#[test]
fn the_cache_survives_concurrent_writers_and_cut_entries() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let with_cache = |cmd: common::Cmd| cmd.env("PROXYRT_CACHE_DIR", &cache);
    let recorders: Vec<_> = (0..2)
        .map(|i| {
            let trace = dir.path().join(format!("t{i}.bin"));
            let cache = cache.clone();
            let t = trace.clone();
            let handle = std::thread::spawn(move || {
                proxyrt()
                    .env("PROXYRT_CACHE_DIR", &cache)
                    .args(["record", "--trace"])
                    .arg(&t)
                    .args([guests::CLI, &format!("echo:run {i}")])
                    .output_checked()
            });
            (trace, handle)
        })
        .collect();
    for (i, (trace, handle)) in recorders.into_iter().enumerate() {
        let out = handle.join().expect("a recorder thread");
        out.assert_status(0);
        assert_eq!(out.stdout_text(), format!("run {i}\n"));
        let replayed = with_cache(proxyrt())
            .args(["replay", guests::CLI])
            .arg(&trace)
            .output_checked();
        replayed.assert_status(0);
        assert_eq!(replayed.stdout_text(), format!("run {i}\n"));
    }
    let mut cut = 0;
    for entry in fs::read_dir(&cache).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = fs::read(&path).unwrap();
            fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
            cut += 1;
        }
    }
    assert!(cut >= 2, "the cache has entries ({cut})");
    let trace = dir.path().join("again.bin");
    let out = with_cache(proxyrt())
        .args(["record", "--trace"])
        .arg(&trace)
        .args([guests::CLI, "echo:after the cut"])
        .output_checked();
    out.assert_status(0);
    assert_eq!(out.stdout_text(), "after the cut\n");
    assert!(
        out.stderr_text().contains("warning"),
        "{}",
        out.stderr_text()
    );
    let replayed = with_cache(proxyrt())
        .args(["replay", guests::CLI])
        .arg(&trace)
        .output_checked();
    replayed.assert_status(0);
    assert_eq!(replayed.stdout_text(), "after the cut\n");
}

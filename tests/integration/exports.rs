//! The host's calls of a guest's exports are part of the trace: `record` writes the export called
//! (`wasi:cli/run.run`, or the `--invoke` function) with its arguments and results, and `replay`
//! makes that same call with the recorded arguments and checks the results against the recorded
//! ones; a different result is a divergence, reported in WAVE like any other.
//!
//! The zoo guest's `api` exports carry every WIT type kind; its `host` imports are not WASI, so it
//! runs with `-W unknown-imports-trap=y` (the exports used here never call the host).

use crate::common;

use common::{proxyrt, replay_in_empty_dir, Output};
use proxyrt_test_guests as guests;
use recorder_host::trace::{Entry, TraceReader, TraceWriter};
use std::path::{Path, PathBuf};

/// The exit status of a divergence (`proxyrt::replay::DIVERGENCE_EXIT_CODE`).
const DIVERGENCE: i32 = 86;
const TRAP: i32 = 134;
const API: &str = "proxyrt:zoo/api@0.1.0";

/// Records `--invoke call` of the zoo into `dir/trace.bin`.
pub(crate) fn record_invoke(dir: &Path, call: &str) -> (PathBuf, Output) {
    let trace = dir.join("trace.bin");
    let out = proxyrt()
        .args(["record", "--trace"])
        .arg(&trace)
        .args([
            "-W",
            "unknown-imports-trap=y",
            "--invoke",
            call,
            guests::ZOO,
        ])
        .output_checked();
    (trace, out)
}

/// `proxyrt trace show --raw` of `trace`: values in plain WAVE, as `--invoke` prints them.
fn show(trace: &Path) -> Output {
    let out = proxyrt()
        .args(["trace", "show", "--raw"])
        .arg(trace)
        .output_checked();
    out.assert_status(0);
    out
}

/// A copy of `trace` with every entry passed through `edit`.
fn rewrite(trace: &Path, mut edit: impl FnMut(Entry) -> Entry) -> PathBuf {
    let mut reader = TraceReader::open(trace).unwrap();
    let path = trace.with_file_name("edited.bin");
    let mut writer = TraceWriter::create(&path, reader.header()).unwrap();
    while let Some(entry) = reader.next_entry().unwrap() {
        writer.append(&edit(entry)).unwrap();
    }
    writer.finish().unwrap();
    path
}

#[test]
fn invoked_exports_record_and_replay_through_every_type_kind() {
    let calls = [
        (
            "echo-record",
            r#"echo-record({id: 7, name: "ann", age: 30, tags: ["a", "b"], email: some("x@y"), home: none, scores: [1.5, nan], favorite: blue, perms: {read, admin}})"#,
        ),
        (
            "echo-nested",
            "echo-nested(some([some({x: -1, y: 2}), none]))",
        ),
        ("echo-variant", "echo-variant(rect((1.5, -2.25)))"),
        ("echo-result", r#"echo-result(err("no"))"#),
        ("echo-bytes", "echo-bytes([0, 1, 255])"),
        ("echo-char", "echo-char('ß')"),
        // More than 16 flat parameters: passed through memory.
        (
            "add-all",
            "add-all(1, 2, 3, 4, -5, -6, -7, -8, 0.5, 0.25, 11, 12, 13, 14, -15, -16, -17)",
        ),
        ("divide", "divide(7, 0)"),
        ("hello", r#"hello("zoo")"#),
    ];
    for (name, call) in calls {
        let dir = tempfile::tempdir().unwrap();
        let (trace, recorded) = record_invoke(dir.path(), call);
        recorded.assert_status(0);
        assert!(
            !recorded.stdout_text().is_empty(),
            "{call}: no result shown"
        );
        // The trace holds the call with its arguments, then the results that `--invoke` printed.
        let shown = show(&trace);
        let qualified = if name == "hello" {
            format!("#0 export {name}(")
        } else {
            format!("#0 export {API}.{name}(")
        };
        shown.assert_stdout_contains(&qualified);
        shown.assert_stdout_contains(&format!(
            "#1   export returns {}",
            recorded.stdout_text().trim_end()
        ));
        // The replay makes the same call and prints the same results.
        let replayed = replay_in_empty_dir(guests::ZOO, &trace, &[]);
        replayed.assert_status(0);
        assert_eq!(replayed.stdout_text(), recorded.stdout_text(), "{call}");
    }
}

#[test]
fn the_replay_calls_the_export_with_the_recorded_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let (trace, recorded) = record_invoke(dir.path(), "echo-u32(7)");
    recorded.assert_status(0);
    assert_eq!(recorded.stdout_text(), "7\n");
    // A trace whose call and result say 9 (LEB128: one byte) replays to 9: the arguments come from
    // the trace, not from the command line.
    let nine = rewrite(&trace, |entry| match entry {
        Entry::ExportCall { func, .. } => Entry::ExportCall {
            func,
            args: vec![9],
        },
        Entry::ExportReturn { .. } => Entry::ExportReturn { results: vec![9] },
        other => other,
    });
    let out = replay_in_empty_dir(guests::ZOO, &nine, &[]);
    out.assert_status(0);
    assert_eq!(out.stdout_text(), "9\n");
}

#[test]
fn another_export_result_is_a_divergence() {
    let dir = tempfile::tempdir().unwrap();
    let (trace, recorded) = record_invoke(dir.path(), r#"echo-string("abc")"#);
    recorded.assert_status(0);
    // The recorded result says "abd": the guest's "abc" no longer matches.
    let other = rewrite(&trace, |entry| match entry {
        Entry::ExportReturn { .. } => Entry::ExportReturn {
            results: b"\x03abd".to_vec(),
        },
        other => other,
    });
    let out = replay_in_empty_dir(guests::ZOO, &other, &[]);
    out.assert_status(DIVERGENCE);
    out.assert_stderr_contains("replay diverged from the trace at entry #1:");
    out.assert_stderr_contains(&format!(
        r#"expected (trace): export {API}.echo-string returns "abd""#
    ));
    out.assert_stderr_contains(&format!(
        r#"actual (guest):   export {API}.echo-string returns "abc""#
    ));
    out.assert_stderr_contains("(the export returns something else)");
    assert_eq!(
        out.stdout_text(),
        "",
        "no result is printed for a divergence"
    );
}

#[test]
fn a_trapping_export_replays_as_the_same_trap() {
    let dir = tempfile::tempdir().unwrap();
    let (trace, recorded) = record_invoke(dir.path(), r#"crash("boom")"#);
    recorded.assert_status(TRAP);
    let shown = show(&trace);
    shown.assert_stdout_contains(r#"#0 export crash("boom")"#);
    shown.assert_stdout_contains("#1 trap ");
    let out = replay_in_empty_dir(guests::ZOO, &trace, &[]);
    out.assert_status(TRAP);
    out.assert_stderr_contains("wasm trap");
}

#[test]
fn a_command_run_is_recorded_as_the_call_of_its_run_export() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.bin");
    let out = proxyrt()
        .args(["record", "--trace"])
        .arg(&trace)
        .args([guests::CLI, "echo:hi"])
        .output_checked();
    out.assert_status(0);
    let shown = show(&trace);
    let lines = common::stdout_lines(&shown);
    let entries: Vec<&String> = lines.iter().filter(|l| l.starts_with('#')).collect();
    assert!(
        entries[0].starts_with("#0 export wasi:cli/run@") && entries[0].ends_with(".run()"),
        "{entries:?}"
    );
    let n = entries.len();
    assert_eq!(
        entries[n - 2].split_once(' ').unwrap().1.trim(),
        "export returns ok"
    );
    assert_eq!(entries[n - 1].split_once(' ').unwrap().1, "exit 0");
}

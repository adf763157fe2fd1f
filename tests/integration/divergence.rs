//! Divergence reports a person can act on (issue #20), on real guests and real traces: a rebuilt
//! program with an extra print diverges and the report shows both writes as text, the stream as
//! stdout, what differs, the guest function and source line (the rebuilt guest has DWARF), the
//! calls before it and the output so far, also as JSON; bytes that are not text show as hex; an
//! `open-at` of another path names both paths; `trace show` shows strings and named handles, and
//! `--raw` the plain WAVE form.

use crate::common::{proxyrt, replay_in_empty_dir};
use crate::replay::{record, with_other_args};
use proxyrt_test_guests as guests;

/// The exit status of a divergence.
const DIVERGENCE: i32 = 86;

/// The report's lines from `from` up to the first line starting with `until` (or the end).
fn section<'a>(report: &'a str, from: &str, until: &str) -> Vec<&'a str> {
    report
        .lines()
        .skip_while(|l| !l.starts_with(from))
        .take_while(|l| l.starts_with(from) || !l.starts_with(until))
        .collect()
}

#[test]
fn a_rebuilt_guest_with_an_extra_print_is_reported_with_its_source_line() {
    let rec = record(guests::CLI, &["echo:first", "echo:second"], b"");
    rec.out.assert_status(0);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let out = replay_in_empty_dir(
        guests::CLI_V2,
        &rec.trace,
        &["--report-json", json.to_str().unwrap()],
    );
    out.assert_status(DIVERGENCE);
    assert_eq!(
        out.stdout_text(),
        "first\n",
        "the output up to the divergence"
    );
    let err = out.stderr_text();
    // The report, pinned where it must stay stable: both writes as text on stdout, what differs.
    let head = section(err, "replay diverged", "  in the guest");
    let entry: u64 = head[0]
        .strip_prefix("replay diverged from the trace at entry #")
        .and_then(|s| s.strip_suffix(':'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no entry number in {err}"));
    let write = "wasi:io/streams@0.2.12.[method]output-stream.write";
    let stdout_id = head[1]
        .split_once(&format!("{write}("))
        .and_then(|(_, rest)| rest.split_once(" (stdout)"))
        .map(|(id, _)| id.to_string())
        .unwrap_or_else(|| panic!("no write to stdout in {err}"));
    assert_eq!(
        head,
        [
            format!("replay diverged from the trace at entry #{entry}:"),
            format!(r#"  expected (trace): {write}({stdout_id} (stdout), "second\n" (7 bytes))"#),
            format!(
                r#"  actual (guest):   {write}({stdout_id} (stdout), "an extra line in v2\n" (20 bytes))"#
            ),
            r#"  (differs in contents: the first 0 bytes are equal, then "second\n" recorded, "an extra lin…" now (7 bytes recorded, 20 now); encoded arguments: 9 bytes recorded, 22 now)"#.to_string(),
        ],
        "{err}"
    );
    // Where: the guest's function and its source line (cli-v2 is built with debug info).
    let frames = section(err, "  in the guest", "  before it");
    assert!(
        frames.iter().any(|f| f.starts_with("    at cli_v2::main (")
            && f.ends_with("src/bin/cli-v2.rs:21)")),
        "no frame of cli_v2::main at its println in\n{err}"
    );
    // Context: the calls before it, as `trace show` prints them, and the output so far.
    let before = section(err, "  before it, in the trace:", "  the guest's");
    assert!(
        before
            .iter()
            .any(|l| l.contains(r#"(stdout), "first\n" (6 bytes))"#)),
        "{err}"
    );
    assert!(
        err.contains(r#"  the guest's stdout so far (6 bytes), ending: "first\n""#),
        "{err}"
    );

    // The same report for programs.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).expect("JSON");
    assert_eq!(report["diverged"], true, "{report}");
    assert_eq!(report["status"], DIVERGENCE, "{report}");
    let r = &report["report"];
    assert_eq!(r["entry"], entry, "{report}");
    assert_eq!(
        r["expected"],
        head[1].trim_start_matches("  expected (trace): ")
    );
    assert_eq!(r["stdout_tail"], "first\n");
    let frame = r["backtrace"]
        .as_array()
        .and_then(|frames| frames.iter().find(|f| f["function"] == "cli_v2::main"))
        .unwrap_or_else(|| panic!("no cli_v2::main frame in {report}"));
    assert_eq!(frame["line"], 21, "{frame}");
    assert!(
        frame["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("src/bin/cli-v2.rs")),
        "{frame}"
    );

    // Replaying stubs spliced inside the guest (what `auto` picked above) and the composed proxy
    // report the same divergence, source line included: the spliced guest's code keeps its
    // offsets, so its DWARF still names the right lines.
    let composed = replay_in_empty_dir(guests::CLI_V2, &rec.trace, &["--layout", "composed"]);
    composed.assert_status(DIVERGENCE);
    assert_eq!(composed.stderr_text(), err, "the composed layout's report");
    assert_eq!(composed.stdout_text(), out.stdout_text());

    // A replay that follows the trace writes that it did.
    let same = replay_in_empty_dir(
        guests::CLI,
        &rec.trace,
        &["-q", "--report-json", json.to_str().unwrap()],
    );
    same.assert_status(0);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).expect("JSON");
    assert_eq!(report, serde_json::json!({"diverged": false, "status": 0}));
}

#[test]
fn bytes_that_are_not_text_are_shown_in_hex_and_paths_name_their_handles() {
    // `fill` writes bytes `i % 251` to a file: 40 recorded, 41 replayed.
    let rec = record(guests::CLI, &["fill:/data/big=40"], b"");
    rec.out.assert_status(0);
    let other = with_other_args(&rec.trace, &["cli.wasm", "fill:/data/big=41"]);
    let out = replay_in_empty_dir(guests::CLI, &other, &[]);
    out.assert_status(DIVERGENCE);
    let err = out.stderr_text();
    assert!(
        err.contains(
            "(/data/big), 0x000102030405060708090a0b0c0d0e0f…24252627 (40 bytes, 20 cut))"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "(/data/big), 0x000102030405060708090a0b0c0d0e0f…25262728 (41 bytes, 21 cut))"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "(differs in contents: the first 40 bytes are equal, then the end recorded, 0x28 now (40 bytes recorded, 41 now)"
        ),
        "{err}"
    );

    // Another path: the `open-at` names the directory, and both paths differ.
    let rec = record(guests::CLI, &["read:/data/in.txt"], b"");
    let other = with_other_args(&rec.trace, &["cli.wasm", "read:/data/other.txt"]);
    let out = replay_in_empty_dir(guests::CLI, &other, &[]);
    out.assert_status(DIVERGENCE);
    let err = out.stderr_text();
    assert!(
        err.contains(r#"(/data), {symlink-follow}, "in.txt", {}, {read})"#),
        "{err}"
    );
    assert!(
        err.contains(r#"(/data), {symlink-follow}, "other.txt", {}, {read})"#),
        "{err}"
    );
    assert!(
        err.contains(r#"(differs in path: the first 0 characters are equal, then "in.txt" recorded, "other.txt" now (6 characters recorded, 9 now)"#),
        "{err}"
    );
}

#[test]
fn trace_show_shows_strings_and_named_handles_and_raw_the_plain_form() {
    let rec = record(guests::CLI, &["echo:hi", "read:/data/in.txt"], b"");
    rec.out.assert_status(0);
    let show = |extra: &[&str]| {
        let out = proxyrt()
            .args(["trace", "show"])
            .args(extra)
            .arg(&rec.trace)
            .output_checked();
        out.assert_status(0);
        out.stdout_text().to_string()
    };
    let text = show(&[]);
    assert!(text.contains(r#" (stdout), "hi\n" (3 bytes))"#), "{text}");
    assert!(
        text.contains(r#"-> ok([(3 (/data), "/data")])"#) || text.contains("(/data), \"/data\")]"),
        "{text}"
    );
    assert!(
        text.contains(r#"(/data), {symlink-follow}, "in.txt", {}, {read})"#),
        "{text}"
    );
    assert!(text.contains("(/data/in.txt))"), "{text}");
    assert!(text.contains(r#""file bytes" (10 bytes)"#), "{text}");
    // --raw: today's form, plain WAVE.
    let raw = show(&["--raw"]);
    assert!(raw.contains(", [104, 105, 10])"), "{raw}");
    assert!(!raw.contains("(stdout)"), "{raw}");
    assert!(!raw.contains("(3 bytes)"), "{raw}");
}

//! Corpus replay: a directory of traces (nested, with other files beside them) replayed in
//! parallel against a build, each trace classified (as recorded, diverged, unreadable, of another
//! program), with the summary, the exit status, `--fail-fast`, and the JUnit report read back by a
//! maintained JUnit parser (quick-junit's deserializer) and the JSON report.

use crate::common;
use crate::replay::record;

use common::replay_in_empty_dir;
use proxyrt_test_guests as guests;
use quick_junit::{NonSuccessKind, Report, TestCaseStatus};
use std::fs;
use std::path::{Path, PathBuf};

/// A corpus of `cli` traces: four runs with different steps, two of them in a subdirectory, and a
/// file that is no trace.
fn corpus(root: &Path) -> Vec<PathBuf> {
    let runs: [&[&str]; 4] = [
        &["echo:one"],
        &["echo:two", "random:8"],
        &["echo:three", "clock-wall"],
        &["echo:four", "args"],
    ];
    fs::create_dir_all(root.join("nested/deeper")).unwrap();
    let mut traces = Vec::new();
    for (i, steps) in runs.iter().enumerate() {
        let rec = record(guests::CLI, steps, b"");
        rec.out.assert_status(0);
        let to = if i < 2 {
            root.join(format!("run-{i}.bin"))
        } else {
            root.join(format!("nested/deeper/run-{i}.bin"))
        };
        fs::copy(&rec.trace, &to).unwrap();
        traces.push(to);
    }
    fs::write(root.join("notes.txt"), "not a trace").unwrap();
    traces
}

fn junit(path: &Path) -> Report {
    let xml = fs::read_to_string(path).expect("the JUnit report");
    Report::deserialize_from_str(&xml).unwrap_or_else(|e| panic!("{e}:\n{xml}"))
}

#[test]
fn a_corpus_replays_in_parallel_with_reports() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("corpus");
    let traces = corpus(&root);
    let xml = dir.path().join("junit.xml");
    let json = dir.path().join("report.json");

    // The recorded build: every trace as recorded; the file that is no trace is not one.
    let out = replay_in_empty_dir(
        guests::CLI,
        &root,
        &[
            "-j",
            "2",
            "--junit",
            xml.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
    );
    out.assert_status(0);
    out.assert_stderr_contains(": 4 as recorded, 0 diverged, 0 unreadable, 0 of another program");
    out.assert_stderr_contains("4 traces replayed from");
    assert_eq!(out.stdout_text(), "", "a corpus shows no guest output");
    let report = junit(&xml);
    assert_eq!((report.tests, report.failures, report.errors), (4, 0, 0));
    let names: Vec<String> = report.test_suites[0]
        .test_cases
        .iter()
        .map(|c| c.name.to_string())
        .collect();
    let mut expected: Vec<String> = traces.iter().map(|t| t.display().to_string()).collect();
    expected.sort();
    assert_eq!(names, expected, "one test case per trace, in path order");
    let records: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(records.as_array().map(Vec::len), Some(4));
    assert!(records
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["outcome"] == "passed" && r["calls"].as_u64() > Some(0)));

    // `trace stats DIR` summarizes the corpus: its traces by program, calls over all of them.
    let stats = common::proxyrt()
        .args(["trace", "stats", "--json"])
        .arg(&root)
        .output_checked();
    stats.assert_status(0);
    let stats: serde_json::Value = serde_json::from_str(stats.stdout_text().trim()).unwrap();
    assert_eq!(stats["corpus"]["traces"], 4, "{stats}");
    let programs = stats["corpus"]["programs"].as_object().unwrap();
    assert_eq!(programs.len(), 1, "{stats}");
    assert!(
        programs.keys().all(|p| p.starts_with("cli.wasm (")),
        "{stats}"
    );
    assert!(stats.get("service").is_none(), "no request traces: {stats}");

    // A rebuilt guest that prints one more line diverges on every trace: 86, a failure each.
    let out = replay_in_empty_dir(guests::CLI_V2, &root, &["--junit", xml.to_str().unwrap()]);
    out.assert_status(86);
    out.assert_stderr_contains(": 0 as recorded, 4 diverged");
    out.assert_stderr_contains("diverged from the recorded run (report above)");
    let report = junit(&xml);
    assert_eq!((report.tests, report.failures, report.errors), (4, 4, 0));
    // Each failure carries its divergence report (where the guest first did otherwise: its extra
    // write, or the step after its first line where that step makes no write).
    let mut texts = Vec::new();
    for case in &report.test_suites[0].test_cases {
        match &case.status {
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Failure,
                message,
                description,
                ..
            } => {
                let message = message.as_ref().map(|m| m.to_string()).unwrap_or_default();
                assert!(
                    message.starts_with("diverged from the trace at entry #"),
                    "{message}"
                );
                let text = description
                    .as_ref()
                    .map(|d| d.to_string())
                    .unwrap_or_default();
                assert!(
                    text.starts_with("replay diverged from the trace at entry #"),
                    "{text}"
                );
                texts.push(text);
            }
            other => panic!("{:?}: {other:?}", case.name),
        }
    }
    assert!(
        texts.iter().any(|t| t.contains("an extra line in v2")),
        "{texts:#?}"
    );

    // `--fail-fast` with one job: the first divergence stops the run.
    let out = replay_in_empty_dir(guests::CLI_V2, &root, &["-j", "1", "--fail-fast"]);
    out.assert_status(86);
    out.assert_stderr_contains("1 trace replayed from");
    out.assert_stderr_contains("3 not replayed (--fail-fast)");

    // A trace of another program and a cut trace are errors, not divergences: status 1.
    let other = record(guests::COMPUTE, &[], b"");
    fs::copy(&other.trace, root.join("compute.bin")).unwrap();
    let bytes = fs::read(&traces[0]).unwrap();
    fs::write(root.join("nested/cut.bin"), &bytes[..bytes.len() / 2]).unwrap();
    let out = replay_in_empty_dir(guests::CLI, &root, &["--junit", xml.to_str().unwrap()]);
    out.assert_status(1);
    out.assert_stderr_contains(": 4 as recorded, 0 diverged, 1 unreadable, 1 of another program");
    out.assert_stderr_contains("was recorded from another program");
    let report = junit(&xml);
    assert_eq!((report.tests, report.failures, report.errors), (6, 0, 2));
}

/// The records of a `--json` report, by trace, without their times (which differ run to run).
fn records(path: &Path) -> Vec<serde_json::Value> {
    let text = fs::read_to_string(path).expect("a JSON report");
    let value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let mut records: Vec<serde_json::Value> = value
        .as_array()
        .expect("a list of records")
        .iter()
        .cloned()
        .map(|mut r| {
            r["time_ms"] = serde_json::Value::Null;
            r
        })
        .collect();
    records.sort_by(|a, b| a["trace"].as_str().cmp(&b["trace"].as_str()));
    records
}

/// N machines as N processes: `--partition hash:K/3` shards are disjoint and together are the
/// corpus, and `report merge` of their JSON reports equals the one-machine report.
#[test]
fn shards_merge_into_the_one_machine_report() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("corpus");
    let traces = corpus(&root);
    let whole = dir.path().join("whole.json");
    let out = replay_in_empty_dir(guests::CLI_V2, &root, &["--json", whole.to_str().unwrap()]);
    out.assert_status(86);
    let mut shards = Vec::new();
    let mut seen = Vec::new();
    for k in 1..=3 {
        let report = dir.path().join(format!("shard-{k}.json"));
        let share = format!("hash:{k}/3");
        let out = replay_in_empty_dir(
            guests::CLI_V2,
            &root,
            &["--partition", &share, "--json", report.to_str().unwrap()],
        );
        // A shard diverges if it has a trace at all (every trace diverges on this build).
        let shard = records(&report);
        out.assert_status(if shard.is_empty() { 0 } else { 86 });
        seen.extend(
            shard
                .iter()
                .map(|r| r["trace"].as_str().unwrap().to_string()),
        );
        shards.push(report);
    }
    let mut expected: Vec<String> = traces.iter().map(|t| t.display().to_string()).collect();
    expected.sort();
    seen.sort();
    assert_eq!(
        seen, expected,
        "the shards are disjoint and cover the corpus"
    );

    let merged = dir.path().join("merged.json");
    let xml = dir.path().join("merged.xml");
    let out = common::proxyrt()
        .args(["report", "merge", "--json", merged.to_str().unwrap()])
        .args(["--junit", xml.to_str().unwrap()])
        .args(shards.iter().map(|s| s.to_str().unwrap()))
        .output_checked();
    out.assert_status(86);
    out.assert_stderr_contains("4 traces from 3 reports: 0 as recorded, 4 diverged");
    assert_eq!(
        records(&merged),
        records(&whole),
        "merged = one machine's report"
    );
    let report = junit(&xml);
    assert_eq!((report.tests, report.failures, report.errors), (4, 4, 0));

    // The same shard twice is an overlap, not a bigger corpus.
    let out = common::proxyrt()
        .args(["report", "merge"])
        .args([shards[0].to_str().unwrap(), shards[0].to_str().unwrap()])
        .output_checked();
    if !records(&shards[0]).is_empty() {
        out.assert_status(1);
        out.assert_stderr_contains("the shards overlap");
    }
}

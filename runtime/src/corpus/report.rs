//! What a corpus replay reports: a line per trace for people, the summary, and the reports CI
//! systems read: JUnit XML (`--junit`, written with quick-junit, nextest's JUnit model: one test
//! case per trace, a divergence a failure with its report, an unusable trace an error) and JSON
//! (`--report-json`, one record per trace).

use super::{Outcome, TraceResult};
use anyhow::{Context, Result};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use recorder_host::trace::service;
use std::time::Duration;

/// How people name a trace: `request N METHOD URI` for a request of a served component, else
/// its path.
pub fn label(result: &TraceResult) -> String {
    let number = result
        .trace
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(service::request_number);
    match (&result.request, number) {
        (Some(r), Some(n)) => format!("request {n} {} {}", r.method, r.uri),
        (Some(r), None) => format!("{} ({} {})", result.trace.display(), r.method, r.uri),
        _ => result.trace.display().to_string(),
    }
}

/// Counts of a corpus replay's outcomes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub passed: usize,
    pub diverged: usize,
    pub other_program: usize,
    pub unreadable: usize,
}

impl Counts {
    pub fn of(results: &[TraceResult]) -> Counts {
        let mut c = Counts::default();
        for r in results {
            match r.outcome {
                Outcome::Passed { .. } => c.passed += 1,
                Outcome::Diverged(_) => c.diverged += 1,
                Outcome::OtherProgram(_) => c.other_program += 1,
                Outcome::Unreadable(_) => c.unreadable += 1,
            }
        }
        c
    }

    /// The exit status of the whole: 86 when a trace diverged, else 1 when one could not be used
    /// (unreadable, or of another program), else 0.
    pub fn exit_status(&self) -> i32 {
        if self.diverged > 0 {
            crate::exit::DIVERGENCE_EXIT_CODE
        } else if self.unreadable + self.other_program > 0 {
            1
        } else {
            0
        }
    }
}

/// The summary line: `7 requests replayed from DIR: 7 as recorded, 0 diverged, 0 unreadable,
/// 0 of another program (1.2 s, 2 jobs)`.
pub fn summary(
    results: &[TraceResult],
    total: usize,
    from: &str,
    time: Duration,
    jobs: usize,
) -> String {
    let c = Counts::of(results);
    let all_requests = !results.is_empty() && results.iter().all(|r| r.request.is_some());
    let what = if all_requests { "request" } else { "trace" };
    let skipped = total - results.len();
    format!(
        "{} {what}{} replayed from {from}: {} as recorded, {} diverged, {} unreadable, {} of \
         another program{} ({:.1} s, {jobs} job{})",
        results.len(),
        if results.len() == 1 { "" } else { "s" },
        c.passed,
        c.diverged,
        c.unreadable,
        c.other_program,
        if skipped > 0 {
            format!("; {skipped} not replayed (--fail-fast)")
        } else {
            String::new()
        },
        time.as_secs_f64(),
        if jobs == 1 { "" } else { "s" },
    )
}

/// The JUnit report of the JSON `records` ([`json`], or merged shards' records): one suite named
/// after the component, one test case per trace (its path), a divergence a `failure` with the
/// report, an unusable trace an `error`. Built from the records so that a merged report is the
/// same as one machine's.
pub fn junit(records: &[serde_json::Value], component: &str, time: Duration) -> Result<String> {
    let mut report = Report::new("proxyrt replay");
    let mut suite = TestSuite::new(component);
    for r in records {
        let text = |key: &str| r[key].as_str().unwrap_or_default().to_string();
        let status = match r["outcome"].as_str().unwrap_or_default() {
            "passed" => TestCaseStatus::success(),
            "diverged" => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!(
                    "diverged from the trace at entry #{}",
                    r["detail"]["entry"].as_u64().unwrap_or_default()
                ))
                .set_type("divergence")
                .set_description(text("report"));
                s
            }
            kind => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message(r["detail"].as_str().unwrap_or_default().to_string())
                    .set_type(if kind == "other-program" {
                        "other program"
                    } else {
                        "unreadable trace"
                    });
                s
            }
        };
        let mut case = TestCase::new(text("trace"), status);
        case.set_classname("proxyrt.replay")
            .set_time(Duration::from_secs_f64(
                r["time_ms"].as_f64().unwrap_or_default() / 1e3,
            ));
        suite.add_test_case(case);
    }
    suite.set_time(time);
    report.add_test_suite(suite);
    report.set_time(time);
    report.to_string().context("cannot write the JUnit report")
}

/// The JSON report: one record per trace (`trace`, `component`: the build replayed, `outcome`:
/// `passed`, `diverged`, `unreadable` or `other-program`, `detail`, `report`: a divergence's
/// text, `calls`, `time_ms`, `request`).
pub fn json(results: &[TraceResult], component: &str) -> Vec<serde_json::Value> {
    results
        .iter()
        .map(|r| {
            let (outcome, detail, text) = match &r.outcome {
                Outcome::Passed { status } => {
                    ("passed", serde_json::json!({"status": status}), None)
                }
                Outcome::Diverged(d) => ("diverged", d.json(), Some(d.to_string())),
                Outcome::OtherProgram(m) => ("other-program", serde_json::json!(m), None),
                Outcome::Unreadable(m) => ("unreadable", serde_json::json!(m), None),
            };
            serde_json::json!({
                "trace": r.trace.display().to_string(),
                "component": component,
                "outcome": outcome,
                "detail": detail,
                "report": text,
                "calls": r.calls,
                "time_ms": r.time.as_secs_f64() * 1e3,
                "request": r.request.as_ref().map(|q| serde_json::json!({"method": q.method, "uri": q.uri})),
            })
        })
        .collect()
}

/// Counts of JSON `records` (as [`Counts::of`] counts results).
pub fn counts_of_records(records: &[serde_json::Value]) -> Counts {
    let mut c = Counts::default();
    for r in records {
        match r["outcome"].as_str() {
            Some("passed") => c.passed += 1,
            Some("diverged") => c.diverged += 1,
            Some("other-program") => c.other_program += 1,
            _ => c.unreadable += 1,
        }
    }
    c
}

/// The summary of JSON `records` (merged shards): `12 traces from 3 reports: ...`.
pub fn records_summary(records: &[serde_json::Value], reports: usize) -> String {
    let c = counts_of_records(records);
    format!(
        "{} trace{} from {reports} report{}: {} as recorded, {} diverged, {} unreadable, {} of \
         another program",
        records.len(),
        if records.len() == 1 { "" } else { "s" },
        if reports == 1 { "" } else { "s" },
        c.passed,
        c.diverged,
        c.unreadable,
        c.other_program
    )
}

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

/// The JUnit report: one suite named after the component, one test case per trace (its path),
/// a divergence a `failure` with the report, an unusable trace an `error`.
pub fn junit(results: &[TraceResult], component: &str, time: Duration) -> Result<String> {
    let mut report = Report::new("proxyrt replay");
    let mut suite = TestSuite::new(component);
    for r in results {
        let status = match &r.outcome {
            Outcome::Passed { .. } => TestCaseStatus::success(),
            Outcome::Diverged(d) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!("diverged from the trace at entry #{}", d.entry))
                    .set_type("divergence")
                    .set_description(d.to_string());
                s
            }
            Outcome::OtherProgram(message) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message(message.clone()).set_type("other program");
                s
            }
            Outcome::Unreadable(message) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message(message.clone()).set_type("unreadable trace");
                s
            }
        };
        let mut case = TestCase::new(r.trace.display().to_string(), status);
        case.set_classname("proxyrt.replay").set_time(r.time);
        suite.add_test_case(case);
    }
    suite.set_time(time);
    report.add_test_suite(suite);
    report.set_time(time);
    report.to_string().context("cannot write the JUnit report")
}

/// The JSON report: one record per trace.
pub fn json(results: &[TraceResult]) -> serde_json::Value {
    let records = results
        .iter()
        .map(|r| {
            let (outcome, detail) = match &r.outcome {
                Outcome::Passed { status } => ("passed", serde_json::json!({"status": status})),
                Outcome::Diverged(d) => ("diverged", d.json()),
                Outcome::OtherProgram(m) => ("other-program", serde_json::json!(m)),
                Outcome::Unreadable(m) => ("unreadable", serde_json::json!(m)),
            };
            serde_json::json!({
                "trace": r.trace.display().to_string(),
                "outcome": outcome,
                "detail": detail,
                "calls": r.calls,
                "time_ms": r.time.as_secs_f64() * 1e3,
                "request": r.request.as_ref().map(|q| serde_json::json!({"method": q.method, "uri": q.uri})),
            })
        })
        .collect();
    serde_json::Value::Array(records)
}

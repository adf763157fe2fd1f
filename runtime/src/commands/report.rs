//! `proxyrt report merge A.json B.json ... [--junit FILE] [--json FILE]`: joins the `--json`
//! reports of a corpus replayed in shards (`replay --partition K/N` on N machines) into the
//! report one machine would have written.

use crate::corpus::report;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Subcommand, Debug, Clone)]
pub enum ReportCommand {
    /// Join the `--json` reports of a corpus's shards; write them as one JUnit and/or JSON report.
    /// Exit status as `replay` of the whole corpus: 0, 86 when a trace diverged, 1 when one could
    /// not be used.
    Merge(MergeArgs),
}

#[derive(Args, Debug, Clone)]
pub struct MergeArgs {
    /// The shards' reports (`replay --json FILE`).
    #[arg(value_name = "REPORT", required = true, num_args = 1..)]
    pub reports: Vec<PathBuf>,
    /// Write the merged JUnit XML report into FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the merged JSON report into FILE.
    #[arg(long, alias = "report-json", value_name = "FILE")]
    pub json: Option<PathBuf>,
}

impl ReportCommand {
    pub fn execute(self) -> Result<i32> {
        match self {
            ReportCommand::Merge(args) => merge(&args),
        }
    }
}

fn merge(args: &MergeArgs) -> Result<i32> {
    let mut records = Vec::new();
    for path in &args.reports {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the report {}", path.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a JSON report of `replay`", path.display()))?;
        let Some(list) = value.as_array() else {
            bail!(
                "{} is not a corpus report of `replay --json` (a list of records)",
                path.display()
            );
        };
        for r in list {
            if r["trace"].as_str().is_none() || r["outcome"].as_str().is_none() {
                bail!(
                    "{} holds a record without a trace and an outcome",
                    path.display()
                );
            }
        }
        records.extend(list.iter().cloned());
    }
    records.sort_by(|a, b| a["trace"].as_str().cmp(&b["trace"].as_str()));
    if let Some(twice) = records
        .windows(2)
        .find(|w| w[0]["trace"] == w[1]["trace"])
        .and_then(|w| w[0]["trace"].as_str())
    {
        bail!("the trace {twice} is in two reports: the shards overlap");
    }
    let components: Vec<&str> = {
        let mut c: Vec<&str> = records
            .iter()
            .filter_map(|r| r["component"].as_str())
            .collect();
        c.sort();
        c.dedup();
        c
    };
    if components.len() > 1 {
        bail!(
            "the reports are of different builds: {}",
            components.join(", ")
        );
    }
    let component = components.first().copied().unwrap_or("proxyrt replay");
    let time = Duration::from_secs_f64(
        records
            .iter()
            .filter_map(|r| r["time_ms"].as_f64())
            .sum::<f64>()
            / 1e3,
    );
    if let Some(file) = &args.junit {
        std::fs::write(file, report::junit(&records, component, time)?)
            .with_context(|| format!("cannot write the JUnit report {}", file.display()))?;
    }
    let counts = report::counts_of_records(&records);
    eprintln!("{}", report::records_summary(&records, args.reports.len()));
    if let Some(file) = &args.json {
        std::fs::write(file, format!("{:#}\n", serde_json::Value::Array(records)))
            .with_context(|| format!("cannot write the report {}", file.display()))?;
    }
    Ok(counts.exit_status())
}

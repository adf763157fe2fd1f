//! A benchmark's results as people and programs read them: the terminal table with the verdicts,
//! JSON with every sample, and a Markdown table in hyperfine's `--export-markdown` layout.

use super::stats::{Comparison, Summary};
use super::{Build, Samples};
use crate::replay::Replay;
use anyhow::{Context, Result};
use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};
use serde::Serialize;

/// Everything a benchmark measured.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The trace every build replayed.
    pub trace: String,
    /// The recorded run's exit status, which every replay reproduced.
    pub status: i32,
    /// The builds, the baseline first.
    pub builds: Vec<BuildReport>,
}

/// One build's figures.
#[derive(Debug, Serialize)]
pub struct BuildReport {
    pub label: String,
    pub path: String,
    pub size_bytes: u64,
    pub compile_ms: f64,
    /// Fuel consumed by one replay (deterministic).
    pub fuel: u64,
    pub peak_memory_bytes: usize,
    /// Host calls answered per replay.
    pub host_calls: u64,
    pub wall: Summary,
    pub guest: Summary,
    /// Against the baseline (`None` for the baseline itself).
    pub vs_baseline: Option<VsBaseline>,
    /// Every timed round, in order.
    pub wall_ms: Vec<f64>,
    pub guest_ms: Vec<f64>,
}

/// A build against the baseline: ratios build / baseline (below 1: faster, less fuel).
#[derive(Debug, Serialize)]
pub struct VsBaseline {
    pub wall: Comparison,
    pub guest: Comparison,
    /// Exact: fuel is deterministic.
    pub fuel_ratio: f64,
}

impl Report {
    /// The report of `builds`, whose metered replays were `checks`, timed as `samples`.
    pub fn new(
        trace: String,
        builds: &[Build],
        checks: &[Replay],
        samples: &[Samples],
    ) -> Result<Self> {
        let status = checks.first().map_or(0, |c| c.ending.exit_status());
        let mut reports: Vec<BuildReport> = Vec::new();
        for ((build, check), s) in builds.iter().zip(checks).zip(samples) {
            let wall = Summary::of(&s.wall_ms).context("no timed rounds")?;
            let guest = Summary::of(&s.guest_ms).context("no timed rounds")?;
            let fuel = check
                .fuel_consumed
                .context("internal error: a metered replay has no fuel")?;
            let vs_baseline = match (reports.first(), samples.first()) {
                (Some(base), Some(base_samples)) => Some(VsBaseline {
                    wall: Comparison::of(&base_samples.wall_ms, &s.wall_ms)
                        .context("no timed rounds")?,
                    guest: Comparison::of(&base_samples.guest_ms, &s.guest_ms)
                        .context("no timed rounds")?,
                    fuel_ratio: fuel as f64 / base.fuel.max(1) as f64,
                }),
                _ => None,
            };
            reports.push(BuildReport {
                label: build.label.clone(),
                path: build.path.display().to_string(),
                size_bytes: build.size,
                compile_ms: build.compile.as_secs_f64() * 1e3,
                fuel,
                peak_memory_bytes: check.peak_memory,
                host_calls: check.calls,
                wall,
                guest,
                vs_baseline,
                wall_ms: s.wall_ms.clone(),
                guest_ms: s.guest_ms.clone(),
            });
        }
        Ok(Report {
            trace,
            status,
            builds: reports,
        })
    }

    fn baseline(&self) -> &str {
        self.builds.first().map_or("", |b| b.label.as_str())
    }

    /// The terminal table, then one verdict line per build against the baseline.
    pub fn text(&self) -> String {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        table.set_header([
            "build",
            "wall median",
            "± sd",
            "min … max",
            "guest median",
            "fuel",
            "vs baseline (wall)",
            "peak memory",
            "compile",
            "size",
            "rounds (outliers)",
        ]);
        for b in &self.builds {
            let vs = match &b.vs_baseline {
                Some(v) => format!(
                    "{:.3}× [{:.3}, {:.3}]",
                    v.wall.ratio, v.wall.low, v.wall.high
                ),
                None => "baseline".into(),
            };
            table.add_row([
                b.label.clone(),
                format!("{:.3} ms", b.wall.median),
                format!("{:.3} ms", b.wall.stddev),
                format!("{:.3} … {:.3} ms", b.wall.min, b.wall.max),
                format!("{:.3} ms", b.guest.median),
                b.fuel.to_string(),
                vs,
                format!("{:.1} MiB", b.peak_memory_bytes as f64 / (1 << 20) as f64),
                format!("{:.0} ms", b.compile_ms),
                format!("{:.0} KiB", b.size_bytes as f64 / 1024.0),
                format!("{} ({})", b.wall.rounds, b.wall.outliers.total()),
            ]);
        }
        for i in 1..table.column_count() {
            if let Some(column) = table.column_mut(i) {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
        let mut out = format!(
            "{} replays of {} ({} host calls each, recorded status {})\n{table}\n",
            self.builds.first().map_or(0, |b| b.wall.rounds),
            self.trace,
            self.builds.first().map_or(0, |b| b.host_calls),
            self.status
        );
        for b in &self.builds {
            let o = &b.wall.outliers;
            if o.total() > 0 {
                out.push_str(&format!(
                    "{}: {} of {} rounds are outliers ({} low severe, {} low mild, {} high mild, {} high severe)\n",
                    b.label, o.total(), b.wall.rounds, o.low_severe, o.low_mild, o.high_mild, o.high_severe
                ));
            }
        }
        for b in &self.builds {
            if let Some(v) = &b.vs_baseline {
                let g = &v.guest;
                out.push_str(&format!(
                    "{}; guest time {:.3}× [{:.3}, {:.3}]{}; fuel {:.3}×\n",
                    v.wall.verdict(&b.label, self.baseline()),
                    g.ratio,
                    g.low,
                    g.high,
                    if g.significant() {
                        ""
                    } else {
                        " (no significant difference)"
                    },
                    v.fuel_ratio
                ));
            }
        }
        out
    }

    /// JSON: the whole report, every sample included.
    pub fn json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).context("encoding the report as JSON")
    }

    /// A Markdown table in hyperfine's layout (`Command | Mean [ms] | Min [ms] | Max [ms] |
    /// Relative`), with the median, guest time and fuel added: a BENCHMARKS.md row as is.
    pub fn markdown(&self) -> String {
        let mut out = String::from(
            "| Build | Mean [ms] | Median [ms] | Min [ms] | Max [ms] | Guest median [ms] | Fuel | Relative |\n\
             |:---|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for b in &self.builds {
            let relative = match &b.vs_baseline {
                Some(v) => format!(
                    "{:.2} [{:.2}, {:.2}]",
                    v.wall.ratio, v.wall.low, v.wall.high
                ),
                None => "1.00".into(),
            };
            out.push_str(&format!(
                "| `{}` | {:.3} ± {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {} |\n",
                b.label,
                b.wall.mean,
                b.wall.stddev,
                b.wall.median,
                b.wall.min,
                b.wall.max,
                b.guest.median,
                b.fuel,
                relative
            ));
        }
        out
    }
}

//! `proxyrt bench --compare a.wasm b.wasm [--trace T] [run options] [-- ARGS]`: one recorded
//! execution replayed on two or more builds of a program, compared with real statistics
//! ([`crate::bench`]).

use crate::bench::plot::{self, PlotBuild};
use crate::bench::report::Report;
use crate::bench::{self, BenchOptions, Build, Check};
use crate::exit::DIVERGENCE_EXIT_CODE;
use crate::options::RunOptions;
use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::ProgressBar;
use recorder_host::trace::Compression;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Compares builds of a program on the same recorded execution.
#[derive(Args, Debug, Clone)]
#[command(after_help = "\
Without --trace, the first build is recorded once on the real hosts with the run options and the
arguments after `--` (as `proxyrt record`; the guest's output is not shown), and every build
replays that trace. Each build is compiled once; rounds alternate between the builds (ABBA) after
the warm-up, until --rounds or --time. A build that does not follow the trace is not benchmarked:
its divergence is shown and the exit status is 86.")]
pub struct BenchCommand {
    /// The builds to compare; the first is the baseline (the builds may also be given without
    /// `--compare`).
    #[arg(long = "compare", value_name = "WASM", num_args = 1..)]
    pub compare: Vec<PathBuf>,

    /// More builds (after those of `--compare`).
    #[arg(value_name = "WASM")]
    pub builds: Vec<PathBuf>,

    /// Replay this trace instead of recording the first build.
    #[arg(long, value_name = "TRACE")]
    pub trace: Option<PathBuf>,

    /// Exactly this many timed rounds per build (default: until --time, at least 10).
    #[arg(long, value_name = "N")]
    pub rounds: Option<usize>,

    /// Time budget of the timed rounds, e.g. `3s`, `500ms`, `1m`.
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = crate::options::parse_duration)]
    pub time: Duration,

    /// Untimed rounds per build first.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub warmup: usize,

    /// Print the report as JSON, with every sample, instead of the table.
    #[arg(long)]
    pub json: bool,

    /// Also write the results as a Markdown table (hyperfine's layout).
    #[arg(long, value_name = "FILE")]
    pub export_markdown: Option<PathBuf>,

    /// Also draw both distributions side by side into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,

    /// Also write a guest profile of each build replaying the trace into this directory
    /// (`<build>.profile.json`, the Firefox profiler's format: <https://profiler.firefox.com>).
    #[arg(long, value_name = "DIR")]
    pub profile: Option<PathBuf>,

    /// The profiles' sampling interval.
    #[arg(long, value_name = "DURATION", default_value = "1ms", value_parser = crate::options::parse_duration)]
    pub profile_interval: Duration,

    #[command(flatten)]
    pub run: RunOptions,

    /// How the builds replay: `auto` (replaying stubs spliced inside each component when it
    /// allows it, else the composed proxy), `spliced` or `composed`; as `replay --layout`.
    #[arg(long, value_name = "LAYOUT", default_value = "auto", value_parser = crate::options::parse_layout)]
    pub layout: proxy_gen::Layout,

    /// Arguments of the guest when the first build is recorded (after `--`).
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<OsString>,
}

impl BenchCommand {
    pub async fn execute(self) -> Result<i32> {
        let paths: Vec<PathBuf> = self.compare.iter().chain(&self.builds).cloned().collect();
        let Some(first) = paths.first() else {
            bail!("no build to benchmark (`proxyrt bench --compare a.wasm b.wasm`)");
        };
        let cache = self.run.cache.cache();
        let trace = match &self.trace {
            Some(trace) => trace.clone(),
            None => self.record(first).await?,
        };
        let header = crate::replay::TraceSource::open(&trace)?.header().clone();
        let mut builds = Vec::new();
        for path in &paths {
            builds.push(Build::load(
                path,
                &header,
                &trace,
                self.layout,
                cache.as_ref(),
            )?);
        }
        if builds.iter().any(Build::is_spliced) && !builds.iter().all(Build::is_spliced) {
            // `auto` spliced some builds and composed others: a host call costs the two layouts
            // differently, which the comparison would count as the builds' difference.
            let layouts: Vec<String> = builds
                .iter()
                .map(|b| {
                    let layout = if b.is_spliced() {
                        "spliced"
                    } else {
                        "composed"
                    };
                    format!("{} {layout}", b.label)
                })
                .collect();
            eprintln!(
                "note: the builds replay in different layouts ({}): each host call costs them \
                 differently; `--layout composed` replays every build the same way",
                layouts.join(", ")
            );
        }
        let mut checks = Vec::new();
        for build in &builds {
            match build.check(&trace).await? {
                Check::Follows(replay) => checks.push(replay),
                Check::Diverges(d) => {
                    eprintln!(
                        "{} does not follow the trace {}: it is not benchmarked",
                        build.label,
                        trace.display()
                    );
                    eprintln!("{d}");
                    if self.json {
                        let report = serde_json::json!({
                            "diverged": {"build": build.label, "trace": trace.display().to_string(),
                                         "report": d.json()}
                        });
                        println!("{report}");
                    }
                    return Ok(DIVERGENCE_EXIT_CODE);
                }
            }
        }
        let options = BenchOptions {
            rounds: self.rounds,
            time: self.time,
            warmup: self.warmup,
            ..BenchOptions::default()
        };
        let bar = progress_bar(&options);
        let samples = bench::measure(&builds, &trace, &options, |done, elapsed| {
            if let Some(bar) = &bar {
                bar.set_message(format!("{done} rounds of each build"));
                // With --rounds the bar counts rounds; without, it fills with the time budget.
                match options.rounds {
                    Some(_) => bar.set_position(done as u64),
                    None => bar.set_position(elapsed.as_millis().min(u128::from(u64::MAX)) as u64),
                }
            }
        })
        .await?;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let report = Report::new(trace.display().to_string(), &builds, &checks, &samples)?;
        if self.json {
            println!("{}", report.json()?);
        } else {
            print!("{}", report.text());
        }
        if let Some(path) = &self.export_markdown {
            std::fs::write(path, report.markdown())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        if let Some(dir) = &self.profile {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the directory {}", dir.display()))?;
            for (i, build) in builds.iter().enumerate() {
                // Two builds may have one file name (`a/app.wasm`, `b/app.wasm`): number them.
                let out = dir.join(format!("{}-{}.profile.json", i + 1, build.label));
                build
                    .profile(&trace, self.profile_interval, cache.as_ref(), &out)
                    .await?;
                eprintln!("profile of {} written to {}", build.label, out.display());
            }
        }
        if let Some(path) = &self.plot {
            let plotted: Vec<PlotBuild<'_>> = report
                .builds
                .iter()
                .map(|b| PlotBuild {
                    label: &b.label,
                    wall_ms: &b.wall_ms,
                    guest_ms: &b.guest_ms,
                })
                .collect();
            let title = format!(
                "proxyrt bench: {} replays of {}",
                report.builds[0].wall.rounds,
                crate::load::file_label(&trace)
            );
            plot::write_svg(path, &title, &plotted)?;
        }
        Ok(0)
    }

    /// Records `first` into a new trace file and says where it is kept.
    async fn record(&self, first: &Path) -> Result<PathBuf> {
        let argv = self.run.guest_argv(first, &self.args)?;
        let mut config = self.run.live_config(argv.clone())?;
        // The recorded run's output would mix with the report: it is in the trace anyway.
        let wasi = &mut config.wasi.options;
        wasi.inherit_stdout.get_or_insert(false);
        wasi.inherit_stderr.get_or_insert(false);
        let file = tempfile::Builder::new()
            .prefix("proxyrt-bench-")
            .suffix(".trace.bin")
            .tempfile()
            .context("cannot create a file for the trace")?;
        let (_, path) = file.keep().context("cannot keep the trace file")?;
        let status = super::record::record(
            &config,
            first,
            argv,
            &path,
            Compression::default(),
            proxy_gen::Layout::Auto,
        )
        .await?;
        eprintln!(
            "recorded {} (exit status {status}) into {}; `--trace {}` replays it again",
            first.display(),
            path.display(),
            path.display()
        );
        Ok(path)
    }
}

/// A progress bar on stderr when it is a terminal: of the rounds with `--rounds`, else of the time
/// budget (which the minimum number of rounds may overrun).
fn progress_bar(options: &BenchOptions) -> Option<ProgressBar> {
    let length = match options.rounds {
        Some(rounds) => rounds as u64,
        None => options.time.as_millis().min(u128::from(u64::MAX)) as u64,
    };
    super::progress_bar(Some(length), "{spinner} {msg} {wide_bar} {elapsed}")
}

//! `proxyrt replay [--quiet] [corpus options] app.wasm TRACE...`: the replay library
//! ([`crate::replay`]) driven from the command line, its result printed and turned into an exit
//! status. TRACE is a trace, or a corpus (directories of traces, such as a recorded service, or
//! several traces) replayed in parallel by [`crate::corpus`].

use crate::corpus::{self, report, Outcome};
use crate::engine::WasmOptions;
use crate::exit::error_report;
use crate::identity::{self, short_hex, Build};
use crate::load;
use crate::options::CacheOptions;
use crate::replay::{Ending, Output, Replayable, Replayer, TraceSource};
use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::ProgressBar;
use recorder_host::http;
use recorder_host::trace::service;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `proxyrt replay [--quiet] [--request N] [cache options] app.wasm TRACE`.
#[derive(Args, Debug, Clone)]
#[command(after_help = "\
The component may be the recorded one or another build of the same program (same imports and
exports); a trace of another program is refused.

TRACE may also be a directory, or several traces: a corpus. Every trace found (recursively, by
content: files that start like a trace) is replayed, `-j` at a time, the guest's output not shown;
a line per trace (with `--quiet`, only those that did not replay) and a summary follow, and
`--junit`/`--report-json` write reports a CI reads. A recorded service (the directory `proxyrt serve
--record DIR` wrote) is such a corpus, its requests named by their request lines; `--request N`
picks one.

Exit status: the recorded run's status when the guest does exactly what the trace says (134 for a
trap, as `run`); 86 when the guest diverges from the trace (a report on stderr names the entry and
the expected and actual calls); 1 when the trace or the component cannot be read. For a corpus:
0 when every trace replays as recorded, 86 when one diverges, else 1 when one cannot be used
(unreadable, or recorded from another program).")]
pub struct ReplayCommand {
    /// Do not show the guest's replayed stdout and stderr, nor notes (divergences and errors are
    /// still reported); for a corpus, no line for the traces that replay as recorded.
    #[arg(short, long)]
    pub quiet: bool,

    /// Replay only request N of a recorded service (N as in `request-N.trace`, 1 for the first
    /// request that arrived).
    #[arg(long, value_name = "N")]
    pub request: Option<u64>,

    /// Also write what happened as JSON into FILE: `{"diverged": false, "status": N}`, or
    /// `{"diverged": true, "status": 86, "report": {...}}` with the divergence (entry, expected,
    /// actual, detail, backtrace frames, the calls before it, output tails). For a corpus, one
    /// record per trace: its path, outcome (`passed`, `diverged`, `unreadable`,
    /// `other-program`), detail, calls, time and request.
    #[arg(long, alias = "json", value_name = "FILE")]
    pub report_json: Option<PathBuf>,

    /// Corpus: write a JUnit XML report into FILE (one test case per trace; a divergence is a
    /// failure with its report, an unusable trace an error).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Corpus: replays at once (default: the number of CPUs).
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Corpus: start no new replay once a trace diverged.
    #[arg(long)]
    pub fail_fast: bool,

    /// Corpus: replay only a share of it, as cargo-nextest partitions tests: `hash:K/N` (by a hash
    /// of each trace's path within the corpus; stable as traces come and go) or `count:K/N` (every
    /// N-th trace in path order, from the K-th). For N shards on N machines (a CI matrix, a
    /// Kubernetes Indexed Job); `proxyrt report merge` joins their `--json` reports.
    #[arg(long, value_name = "hash:K/N|count:K/N")]
    pub partition: Option<corpus::Partition>,

    /// How the guest is made to replay: `auto` (the default: replaying stubs spliced inside the
    /// component's own core modules when it allows it, else the proxy component composed above
    /// it), `spliced` (an error if it does not allow it) or `composed`. The trace and the
    /// outcome are the same; spliced stubs cost less per host call.
    #[arg(long, value_name = "LAYOUT", default_value = "auto", value_parser = crate::options::parse_layout)]
    pub layout: proxy_gen::Layout,

    #[command(flatten)]
    pub cache: CacheOptions,

    /// The component to replay (the recorded one, or another build of the same program).
    #[arg(value_name = "WASM")]
    pub wasm: PathBuf,

    /// The trace written by `proxyrt record`; or a corpus: directories of traces (such as the
    /// one `proxyrt serve --record` writes) or several traces.
    #[arg(value_name = "TRACE", required = true, num_args = 1..)]
    pub traces: Vec<PathBuf>,
}

impl ReplayCommand {
    /// Replays the trace(s) on `self.wasm` and returns the process exit status.
    pub async fn execute(self) -> Result<i32> {
        let path = &self.wasm;
        let cache = self.cache.cache();
        let single = match self.traces.as_slice() {
            [one] if !one.is_dir() => Some(one.clone()),
            _ => None,
        };
        let corpus = single.is_none()
            || self.junit.is_some()
            || self.jobs.is_some()
            || self.fail_fast
            || self.request.is_some()
            || self.partition.is_some();
        if self.jobs == Some(0) {
            bail!("`-j` needs at least 1");
        }
        let original = load::read_binary_component(path, "replay")?;
        let replayable = Replayable::new(&original, path, self.layout, cache.as_ref())?;
        // With the guest's DWARF: a divergence report names source lines.
        let wasm = WasmOptions {
            backtrace_details: true,
            ..WasmOptions::default()
        };
        let replayer = replayable.compile(&wasm, cache.as_ref())?;
        match single {
            Some(trace) if !corpus => {
                let (status, report) = self
                    .replay_trace(&replayer, replayable.original_sha256(), &trace)
                    .await?;
                self.write_report(&report)?;
                Ok(status)
            }
            _ => tokio::task::block_in_place(|| self.replay_corpus(&replayer)),
        }
    }

    /// Replays a corpus (see the command's help) on `replayer`.
    fn replay_corpus(&self, replayer: &Replayer) -> Result<i32> {
        let mut traces = corpus::collect(&self.traces)?;
        let from = match self.traces.as_slice() {
            [one] => one.display().to_string(),
            many => format!("{} paths", many.len()),
        };

        if let Some(n) = self.request {
            traces.retain(|t| {
                t.path
                    .file_name()
                    .and_then(|f| f.to_str())
                    .and_then(service::request_number)
                    == Some(n)
            });
            if traces.is_empty() {
                bail!("{from} has no request {n}");
            }
        }
        if traces.is_empty() {
            bail!(
                "{from} holds no trace (files written by `proxyrt record` or `proxyrt serve \
                 --record`)"
            );
        }
        // A shard may be empty (more shards than traces): that is no error.
        if let Some(partition) = &self.partition {
            traces = partition.select(traces);
        }
        let jobs = self.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        let options = corpus::Options {
            jobs,
            fail_fast: self.fail_fast,
        };
        let bar = progress_bar(traces.len());
        let say = |text: &str| match &bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        };
        let start = Instant::now();
        let results = corpus::replay_all(replayer, &traces, options, &|r| {
            if let Some(bar) = &bar {
                bar.inc(1);
            }
            if let Some(line) = self.line(r) {
                say(&line);
            }
        })?;
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        let time = start.elapsed();
        eprintln!(
            "{}",
            report::summary(
                &results,
                traces.len(),
                &from,
                time,
                options.jobs.min(traces.len())
            )
        );
        let component = self.wasm.display().to_string();
        let records = report::json(&results, &component);
        if let Some(file) = &self.junit {
            let xml = report::junit(&records, &component, time)?;
            std::fs::write(file, xml)
                .with_context(|| format!("cannot write the JUnit report {}", file.display()))?;
        }
        self.write_report(&serde_json::Value::Array(records))?;
        Ok(report::Counts::of(&results).exit_status())
    }

    /// What a corpus replay says of one trace (`None`: nothing, a passed trace with `--quiet`).
    fn line(&self, r: &corpus::TraceResult) -> Option<String> {
        let label = report::label(r);
        let run = if r.request.is_some() {
            "request"
        } else {
            "run"
        };
        match &r.outcome {
            Outcome::Passed { status } => {
                if self.quiet {
                    return None;
                }
                // A request's response as recorded, as `trace show DIR` shows it.
                let answer = match (&r.request, http::read_exchange(&r.trace)) {
                    (Some(_), Ok((_, exchange))) => exchange.summary(),
                    _ => format!("status {status}, {} calls", r.calls),
                };
                Some(format!("{label}: replayed as recorded ({answer})"))
            }
            Outcome::Diverged(d) => Some(format!(
                "{d}\n(`proxyrt trace show {} --skip {}` shows the trace from there)\n{label}: \
                 diverged from the recorded {run} (report above)",
                r.trace.display(),
                d.entry.saturating_sub(2)
            )),
            Outcome::OtherProgram(m) | Outcome::Unreadable(m) => {
                Some(format!("{label}: Error: {m}"))
            }
        }
    }

    /// Writes `report` to `--report-json FILE`, if given.
    fn write_report(&self, report: &serde_json::Value) -> Result<()> {
        if let Some(path) = &self.report_json {
            std::fs::write(path, format!("{report:#}\n"))
                .with_context(|| format!("cannot write the report {}", path.display()))?;
        }
        Ok(())
    }

    /// Replays one trace on the compiled `replayer` (of the component whose SHA-256 is
    /// `original_sha256`), prints what happened and
    /// returns the exit status `replay` gives it, and the JSON report of `--report-json`.
    async fn replay_trace(
        &self,
        replayer: &Replayer,
        original_sha256: &[u8; 32],
        trace: &Path,
    ) -> Result<(i32, serde_json::Value)> {
        let path = &self.wasm;
        let source = TraceSource::open(trace)?;
        let header = source.header();
        let served = header.request.is_some();
        let build = identity::check(
            header,
            replayer.interfaces().sha256(),
            original_sha256,
            path,
            trace,
        )?;
        if build == Build::Other && !self.quiet {
            eprintln!(
                "note: {} (sha256 {}…) is another build of the program recorded in {} (sha256 {}…); \
                 replaying it",
                path.display(),
                short_hex(original_sha256),
                trace.display(),
                short_hex(&header.component_sha256)
            );
        }
        let output = if self.quiet {
            Output::Discard
        } else {
            // Buffered: a guest printing line by line would otherwise cost a write(2) per line,
            // which the recorded run paid for real but a replay need not. The replay flushes it
            // before stderr is written to, and at its end.
            Output::Stream {
                stdout: Box::new(std::io::BufWriter::with_capacity(
                    64 << 10,
                    std::io::stdout(),
                )),
                stderr: Box::new(std::io::stderr()),
            }
        };
        let mut replay = replayer.replay(source, output).await?;
        if let Ending::Divergence(d) = &mut replay.ending {
            replayer
                .locate_ending(d, replay.calls, TraceSource::open(trace)?)
                .await?;
        }
        let status = replay.ending.exit_status();
        let report = match &replay.ending {
            Ending::Divergence(d) => {
                serde_json::json!({"diverged": true, "status": status, "report": d.json()})
            }
            _ => serde_json::json!({"diverged": false, "status": status}),
        };
        match replay.ending {
            Ending::Exit(_) => {
                // What `run --invoke` printed after the guest's output (`serve` prints nothing).
                if let (Some(results), false, false) = (replay.results, self.quiet, served) {
                    println!("{results}");
                }
            }
            Ending::Trap(e) => eprintln!("{}", error_report(&e)),
            Ending::HostTrap { message, report } => {
                match report {
                    Some(e) => eprintln!("{}", error_report(&e)),
                    None => eprintln!("Error: {message}"),
                }
                eprintln!("(the host trapped at this call when the trace was recorded)");
            }
            Ending::Divergence(d) => {
                eprintln!("{d}");
                eprintln!(
                    "(`proxyrt trace show {} --skip {}` shows the trace from there)",
                    trace.display(),
                    d.entry.saturating_sub(2)
                );
            }
        }
        Ok((status, report))
    }
}

/// A progress bar of `n` replays on stderr when it is a terminal.
fn progress_bar(n: usize) -> Option<ProgressBar> {
    super::progress_bar(
        Some(n as u64),
        "{spinner} {pos}/{len} traces {wide_bar} {elapsed}",
    )
}

#[cfg(test)]
mod tests {
    use crate::commands::{Cli, Command};
    use clap::Parser;

    #[test]
    fn replay_takes_a_component_and_a_trace_and_documents_its_exit_codes() {
        match Cli::try_parse_from(["proxyrt", "replay", "-q", "--no-cache", "a.wasm", "t.bin"])
            .expect("parse")
            .command
        {
            Command::Replay(r) => {
                assert!(r.quiet && r.cache.no_cache);
                assert_eq!(r.wasm.to_str(), Some("a.wasm"));
                assert_eq!(r.traces, [std::path::PathBuf::from("t.bin")]);
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(Cli::try_parse_from(["proxyrt", "replay", "a.wasm"]).is_err());
        let help = match Cli::try_parse_from(["proxyrt", "replay", "--help"]) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("--help parsed"),
        };
        let code = crate::exit::DIVERGENCE_EXIT_CODE.to_string();
        assert!(
            help.contains(&format!("{code} when the guest diverges")),
            "{help}"
        );
    }
}

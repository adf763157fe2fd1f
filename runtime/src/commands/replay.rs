//! `proxyrt replay [--quiet] [--request N] app.wasm TRACE`: the replay library ([`crate::replay`])
//! driven from the command line, its result printed and turned into an exit status. TRACE is a
//! trace, or a recorded service (a directory of request traces), replayed request by request.

use crate::engine::WasmOptions;
use crate::exit::{error_report, DIVERGENCE_EXIT_CODE};
use crate::identity::{self, short_hex, Build};
use crate::load;
use crate::options::CacheOptions;
use crate::replay::{Ending, Output, Replayable, Replayer, TraceSource};
use anyhow::{bail, Context, Result};
use clap::Args;
use recorder_host::http;
use recorder_host::trace::service;
use std::path::{Path, PathBuf};

/// `proxyrt replay [--quiet] [--request N] [cache options] app.wasm TRACE`.
#[derive(Args, Debug, Clone)]
#[command(after_help = "\
The component may be the recorded one or another build of the same program (same imports and
exports); a trace of another program is refused. TRACE may be a recorded service, the directory
`proxyrt serve --record DIR` wrote: every request is replayed in arrival order (or only the one
`--request N` names), offline, and the guest's response is checked call by call.

Exit status: the recorded run's status when the guest does exactly what the trace says (134 for a
trap, as `run`); 86 when the guest diverges from the trace (a report on stderr names the entry and
the expected and actual calls); 1 when the trace or the component cannot be read. For a service:
0 when every request replays as recorded, 86 when one diverges, 1 when one cannot be read.")]
pub struct ReplayCommand {
    /// Do not show the guest's replayed stdout and stderr, nor notes (divergences and errors are
    /// still reported).
    #[arg(short, long)]
    pub quiet: bool,

    /// Replay only request N of a recorded service (N as in `request-N.trace`, 1 for the first
    /// request that arrived).
    #[arg(long, value_name = "N")]
    pub request: Option<u64>,

    /// Also write what happened as JSON into FILE: `{"diverged": false, "status": N}`, or
    /// `{"diverged": true, "status": 86, "report": {...}}` with the divergence (entry, expected,
    /// actual, detail, backtrace frames, the calls before it, output tails). For a recorded
    /// service, a list of them, each with its `"request"`.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,

    #[command(flatten)]
    pub cache: CacheOptions,

    /// The component to replay (the recorded one, or another build of the same program).
    #[arg(value_name = "WASM")]
    pub wasm: PathBuf,

    /// The trace written by `proxyrt record`, or the directory written by `proxyrt serve
    /// --record`.
    #[arg(value_name = "TRACE")]
    pub trace: PathBuf,
}

impl ReplayCommand {
    /// Replays `self.trace` on `self.wasm` and returns the process exit status.
    pub async fn execute(self) -> Result<i32> {
        let path = &self.wasm;
        let cache = self.cache.cache();
        let service = self.trace.is_dir();
        if self.request.is_some() && !service {
            bail!(
                "`--request` picks a request of a recorded service (a directory written by \
                 `proxyrt serve --record`); {} is a single trace",
                self.trace.display()
            );
        }
        let original = load::read_binary_component(path, "replay")?;
        let replayable = Replayable::new(&original, path, cache.as_ref())?;
        // With the guest's DWARF: a divergence report names source lines.
        let wasm = WasmOptions {
            backtrace_details: true,
            ..WasmOptions::default()
        };
        let replayer = replayable.compile(&wasm, cache.as_ref())?;
        if !service {
            let (status, report) = self.replay_trace(&replayer, &original, &self.trace).await?;
            self.write_report(&report)?;
            return Ok(status);
        }
        let mut requests = service::request_traces(&self.trace).with_context(|| {
            format!("cannot read the recorded service {}", self.trace.display())
        })?;
        if let Some(n) = self.request {
            requests.retain(|(seq, _)| *seq == n);
            if requests.is_empty() {
                bail!("{} has no request {n}", self.trace.display());
            }
        }
        if requests.is_empty() {
            bail!(
                "{} holds no request trace (`request-N.trace`): is it a directory written by \
                 `proxyrt serve --record`?",
                self.trace.display()
            );
        }
        let (mut replayed, mut diverged, mut failed) = (0, 0, 0);
        let mut reports = Vec::new();
        for (seq, trace) in &requests {
            // The request as people name it, and what the recorded guest answered.
            let (line, answer) = match http::read_exchange(trace) {
                Ok((header, exchange)) => (
                    header
                        .request
                        .map(|r| format!(" {} {}", r.method, r.uri))
                        .unwrap_or_default(),
                    format!(" ({})", exchange.summary()),
                ),
                Err(_) => (String::new(), String::new()),
            };
            let replayed_trace = self.replay_trace(&replayer, &original, trace).await;
            if let Ok((_, mut report)) = replayed_trace.as_ref().map(|(s, r)| (*s, r.clone())) {
                report["request"] = (*seq).into();
                reports.push(report);
            }
            match replayed_trace.map(|(status, _)| status) {
                Ok(status) if status == DIVERGENCE_EXIT_CODE => {
                    diverged += 1;
                    eprintln!(
                        "request {seq}{line}: diverged from the recorded request (report above)"
                    );
                }
                Ok(_) => {
                    replayed += 1;
                    if !self.quiet {
                        eprintln!("request {seq}{line}: replayed as recorded{answer}");
                    }
                }
                Err(e) => {
                    failed += 1;
                    eprintln!("request {seq}: {}", error_report(&e));
                }
            }
        }
        self.write_report(&serde_json::Value::Array(reports))?;
        eprintln!(
            "{} request{} replayed from {}: {replayed} as recorded, {diverged} diverged, {failed} \
             unreadable",
            requests.len(),
            if requests.len() == 1 { "" } else { "s" },
            self.trace.display()
        );
        Ok(if diverged > 0 {
            DIVERGENCE_EXIT_CODE
        } else if failed > 0 {
            1
        } else {
            0
        })
    }

    /// Writes `report` to `--report-json FILE`, if given.
    fn write_report(&self, report: &serde_json::Value) -> Result<()> {
        if let Some(path) = &self.report_json {
            std::fs::write(path, format!("{report:#}\n"))
                .with_context(|| format!("cannot write the report {}", path.display()))?;
        }
        Ok(())
    }

    /// Replays one trace on the compiled `replayer` (of `original`), prints what happened and
    /// returns the exit status `replay` gives it, and the JSON report of `--report-json`.
    async fn replay_trace(
        &self,
        replayer: &Replayer,
        original: &[u8],
        trace: &Path,
    ) -> Result<(i32, serde_json::Value)> {
        let path = &self.wasm;
        let source = TraceSource::open(trace)?;
        let header = source.header();
        let served = header.request.is_some();
        let build = identity::check(header, replayer.info(), original, path, trace)?;
        if build == Build::Other && !self.quiet {
            eprintln!(
                "note: {} (sha256 {}…) is another build of the program recorded in {} (sha256 {}…); \
                 replaying it",
                path.display(),
                short_hex(&identity::component_sha256(original)),
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
                assert_eq!(
                    (r.wasm.to_str(), r.trace.to_str()),
                    (Some("a.wasm"), Some("t.bin"))
                );
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

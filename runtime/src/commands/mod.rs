//! The `proxyrt` commands, one module each, as wasmtime's `src/commands`: every module owns its
//! clap arguments and an `execute` that returns the process exit status. Options several
//! commands share are in [`crate::options`]; the statuses themselves in [`crate::exit`].
//!
//! A new command is a module here, a variant of [`Command`] and a line in [`Command::execute`].

pub mod bench;
pub mod dialog;
pub mod fuzz;
pub mod instrument;
pub mod record;
pub mod replay;
pub mod report;
pub mod run;
pub mod serve;
pub mod trace;

use anyhow::Result;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// Record/replay runtime for WebAssembly components.
#[derive(Parser, Debug)]
#[command(name = "proxyrt", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a component on real WASI hosts, like `wasmtime run`.
    Run(run::RunCommand),
    /// Run a component on real WASI hosts like `run`, recording every host call into a trace.
    Record(record::RecordCommand),
    /// Replay a trace: run the component against the recorded host calls, with no host at all,
    /// and report where the guest diverges from the trace.
    Replay(replay::ReplayCommand),
    /// Serve HTTP with a `wasi:http/proxy` component, like `wasmtime serve`; `--record DIR`
    /// records each request into a trace of its own.
    Serve(serve::ServeCommand),
    /// Run a command many times, its host calls answered at random (or by the real host, or
    /// failing, as rules say); every run that traps is kept as a trace that `replay` reproduces.
    Fuzz(fuzz::FuzzCommand),
    /// Run a command once, asking at each host call what it returns (or letting the real host
    /// answer); the session is saved as a trace that `replay` reproduces.
    Dialog(dialog::DialogCommand),
    /// Compare builds of a program on the same recorded execution: one trace replayed on each.
    Bench(bench::BenchCommand),
    /// Emit the composed component (original + synthesized proxy) without running it.
    Instrument(instrument::InstrumentCommand),
    /// Inspect a trace.
    #[command(subcommand)]
    Trace(trace::TraceCommand),
    /// Work with the reports of corpus replays (`merge` the shards' reports).
    #[command(subcommand)]
    Report(report::ReportCommand),
}

impl Command {
    /// Runs the command; `Ok` is the process exit status, `Err` an `Error:` report and status 1.
    pub async fn execute(self) -> Result<i32> {
        match self {
            Command::Run(c) => c.execute().await,
            Command::Record(c) => c.execute().await,
            Command::Replay(c) => c.execute().await,
            Command::Serve(c) => c.execute().await,
            Command::Bench(c) => c.execute().await,
            Command::Fuzz(c) => c.execute().await,
            Command::Dialog(c) => c.execute().await,
            Command::Instrument(c) => c.execute(),
            Command::Trace(c) => c.execute(),
            Command::Report(c) => c.execute(),
        }
    }
}

/// A progress bar on stderr drawn with indicatif's `template`, of `len` steps (`None`: a
/// spinner), when stderr is a terminal; `None` otherwise (a log or a pipe gets no bar).
pub(crate) fn progress_bar(len: Option<u64>, template: &str) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    Some(bar)
}

//! `proxyrt record [run options] [--trace FILE] app.wasm [--] args`: `run`, writing a trace.

use crate::answers::rules::{Answerer, Fault, Rules};
use crate::answers::{Session, TraceFile};
use crate::cache::{self, Instrumented};
use crate::exit::error_report;
use crate::hosts::recorder::Recorder;
use crate::live::{self, LiveConfig};
use crate::options::{ComponentAndArgs, RunOptions};
use crate::replay::{Ending, Output};
use crate::{identity, load};
use anyhow::{bail, Context, Result};
use clap::Args;
use proxy_gen::Layout;
use recorder_host::trace::Compression;
use std::path::{Path, PathBuf};

/// Instruments the component, runs the composition on the real hosts exactly like `proxyrt run`
/// (same output and exit status) and writes the trace.
#[derive(Args, Debug, Clone)]
pub struct RecordCommand {
    /// Where to write the trace.
    #[arg(long, value_name = "FILE", default_value = "trace.bin")]
    pub trace: PathBuf,

    /// How the trace's blocks are stored: `zstd` (compressed at zstd's fastest level, the
    /// default; a block that does not shrink is stored raw) or `none` (every block raw).
    #[arg(long, value_name = "CODEC", default_value = "zstd", value_parser = crate::options::trace_compression)]
    pub trace_compression: Compression,

    /// Inject faults: calls of the functions PATTERN names that return a `result` fail at RATE
    /// (default 100%) with ERROR (WAVE; default a random error), never reaching the host
    /// (repeatable; see `proxyrt fuzz --help` for patterns). The trace replays like any other.
    #[arg(long = "fault", value_name = "PATTERN[@RATE][=ERROR]", value_parser = crate::options::parse_fault)]
    pub faults: Vec<Fault>,

    /// How the recording is put into the component: `spliced` (a recording stub inside the
    /// component's own core modules, in front of every host call: the cheapest), `composed` (a
    /// proxy component above the original: works for every component) or `auto` (spliced when the
    /// component allows it, else composed; the default). The trace is the same either way.
    #[arg(long, value_name = "LAYOUT", default_value = "auto", value_parser = crate::options::parse_layout)]
    pub layout: Layout,

    /// The seed of the faults' random choices (rates, random errors).
    #[arg(long, value_name = "S", default_value_t = 0, requires = "faults")]
    pub seed: u64,

    #[command(flatten)]
    pub run: RunOptions,

    #[command(flatten)]
    pub component: ComponentAndArgs,
}

impl RecordCommand {
    pub async fn execute(self) -> Result<i32> {
        let path = self.component.wasm_path()?;
        let argv = self.run.guest_argv(&path, self.component.guest_args())?;
        // Options are checked before the trace file is created: a typo leaves no trace behind.
        let config = self.run.live_config(argv.clone())?;
        if !self.faults.is_empty() {
            return self.record_with_faults(&path, config).await;
        }
        record(
            &config,
            &path,
            argv,
            &self.trace,
            self.trace_compression,
            self.layout,
        )
        .await
    }

    /// `record --fault`: the guest runs in its replay composition, its calls answered by the
    /// real host but for the faults ([`crate::answers`]); what it was answered is the trace.
    async fn record_with_faults(&self, path: &Path, config: LiveConfig<'_>) -> Result<i32> {
        let rules = Rules {
            forward: Vec::new(),
            fuzz: Vec::new(),
            faults: self.faults.clone(),
            default: Answerer::Host,
            made_up: Answerer::Fuzzer,
        };
        let original = load::read_binary_component(path, "record")?;
        let session = Session::new(
            &original,
            path,
            rules,
            config.invoke,
            config.wasi.clone(),
            &config.wasm,
            config.cache.as_ref(),
        )?;
        let (replay, counts) = session
            .run(
                self.seed,
                None,
                &TraceFile {
                    path: &self.trace,
                    compression: self.trace_compression,
                },
                Output::Discard,
            )
            .await?;
        eprintln!(
            "proxyrt: {} fault{} injected",
            counts.faults,
            if counts.faults == 1 { "" } else { "s" }
        );
        let status = replay.ending.exit_status();
        if let Some(results) = &replay.results {
            // A `--invoke` call's results, as `run --invoke` prints them.
            println!("{results}");
        }
        match replay.ending {
            Ending::Trap(e) => eprintln!("{}", error_report(&e)),
            Ending::HostTrap { message, report } => match report {
                Some(e) => eprintln!("{}", error_report(&e)),
                None => eprintln!("Error: {message}"),
            },
            Ending::Divergence(d) => bail!("internal error: the run diverged from itself: {d}"),
            Ending::Exit(_) => {}
        }
        Ok(status)
    }
}

/// Records the component at `path` run as `config` says (with `argv`, for the trace's header) into
/// the trace at `trace`, its blocks stored as `compression` says, the recording put in as `layout`
/// says; returns the run's exit status, as `run` would.
pub async fn record(
    config: &LiveConfig<'_>,
    path: &Path,
    argv: Vec<String>,
    trace: &Path,
    compression: Compression,
    layout: Layout,
) -> Result<i32> {
    let original = load::read_binary_component(path, "record")?;
    let Instrumented {
        composed,
        interfaces,
        original_sha256,
    } = cache::instrumented_with(
        &original,
        proxy_gen::Mode::Record,
        layout,
        config.cache.as_ref(),
    )
    .with_context(|| format!("cannot record {}", path.display()))?;
    let header = identity::header(original_sha256, &interfaces, argv)?;
    let recorder = Recorder::create(trace, &header, compression)?;
    match live::execute(config, path, &composed, Some(recorder)).await {
        (Ok(ending), Some(recorder)) => {
            recorder.finish(Some(&ending))?;
            Ok(ending.report())
        }
        (Ok(ending), None) => Ok(ending.report()),
        (Err(e), Some(mut recorder)) => {
            // proxyrt itself failed (e.g. the disk filled up): keep what was recorded, unended,
            // so readers report it as cut, and report the failure.
            recorder.flush().ok();
            Err(e)
        }
        (Err(e), None) => Err(e),
    }
}

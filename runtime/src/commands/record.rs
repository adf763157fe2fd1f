//! `proxyrt record [run options] [--trace FILE] app.wasm [--] args`: `run`, writing a trace.

use crate::cache::{self, Instrumented};
use crate::hosts::recorder::Recorder;
use crate::live::{self, LiveConfig};
use crate::options::{ComponentAndArgs, RunOptions};
use crate::{identity, load};
use anyhow::{Context, Result};
use clap::Args;
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
        record(&config, &path, argv, &self.trace, self.trace_compression).await
    }
}

/// Records the component at `path` run as `config` says (with `argv`, for the trace's header) into
/// the trace at `trace`, its blocks stored as `compression` says; returns the run's exit status,
/// as `run` would.
pub async fn record(
    config: &LiveConfig<'_>,
    path: &Path,
    argv: Vec<String>,
    trace: &Path,
    compression: Compression,
) -> Result<i32> {
    let original = load::read_binary_component(path, "record")?;
    let Instrumented { composed, info } =
        cache::instrumented(&original, proxy_gen::Mode::Record, config.cache.as_ref())
            .with_context(|| format!("cannot record {}", path.display()))?;
    let header = identity::header(&original, info, argv)?;
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

//! `proxyrt instrument -m record|forward|replay app.wasm [-o composed.wasm]`: writes the
//! composition of a component with its synthesized proxy, for users who want to inspect it
//! (`wasm-tools component wit composed.wasm`) or run it elsewhere.

use crate::{identity, load};
use anyhow::{bail, Context, Result};
use clap::Args;
use proxy_gen::RecordedCall;
use recorder_host::trace::{Entry, TraceReader};
use std::path::{Path, PathBuf};

/// `proxyrt instrument -m record|replay app.wasm -o composed.wasm`.
#[derive(Args, Debug, Clone)]
pub struct InstrumentCommand {
    /// What the proxy does with the host calls it intercepts.
    #[arg(short = 'm', long, value_enum)]
    pub mode: InstrumentMode,

    /// Where to write the composed component (default: `<app>.<mode>.wasm` next to the input).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// With `-m replay`: embed this trace, so that the output replays on its own with no import
    /// at all (e.g. in `wasmtime run`); a divergence then traps.
    #[arg(long, value_name = "TRACE")]
    pub embed_trace: Option<PathBuf>,

    /// The component to instrument.
    #[arg(value_name = "WASM")]
    pub wasm: PathBuf,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstrumentMode {
    /// Forward every host call to the real host and report it to the recorder
    /// (`proxyrt:recorder/recorder@0.1.0`, which `proxyrt record` provides).
    Record,
    /// Only forward every host call (no recorder): runs anywhere the original runs; the baseline for
    /// measuring the proxy's own overhead.
    Forward,
    /// Answer every host call from a trace.
    Replay,
}

impl InstrumentMode {
    /// The proxy-gen mode: the command line's names are proxy-gen's ([`proxy_gen::Mode::name`]).
    pub fn mode(self) -> proxy_gen::Mode {
        match self {
            InstrumentMode::Record => proxy_gen::Mode::Record,
            InstrumentMode::Forward => proxy_gen::Mode::Forward,
            InstrumentMode::Replay => proxy_gen::Mode::Replay,
        }
    }
}

impl InstrumentCommand {
    /// Instruments `self.wasm` and writes the result; prints where it went.
    pub fn execute(self) -> Result<i32> {
        let bytes = load::read_binary_component(&self.wasm, "instrument")?;
        let mode = self.mode.mode();
        let composed = match &self.embed_trace {
            None => proxy_gen::instrument(&bytes, mode),
            Some(trace) => {
                if mode != proxy_gen::Mode::Replay {
                    bail!("--embed-trace goes with `-m replay`");
                }
                let decoded = proxy_gen::decode(&bytes)
                    .with_context(|| format!("cannot instrument {}", self.wasm.display()))?;
                let calls = recorded_calls(trace, &decoded, &bytes, &self.wasm)?;
                proxy_gen::instrument_embedded(&decoded, &bytes, &calls)
            }
        }
        .with_context(|| format!("cannot instrument {}", self.wasm.display()))?;
        let output = self
            .output
            .clone()
            .unwrap_or_else(|| default_output(&self.wasm, mode));
        write_atomically(&output, &composed)?;
        eprintln!(
            "wrote {} ({} mode, {} bytes)",
            output.display(),
            mode.name(),
            composed.len()
        );
        Ok(0)
    }
}

/// The import calls of the trace at `path`, checked to be a trace of the program `decoded` (the
/// component `original` at `wasm`: the same imports and exports; another build is fine). A cut
/// trace is refused (the reader's error): the embedded replay would trap where the recording was
/// cut.
fn recorded_calls(
    path: &Path,
    decoded: &proxy_gen::Decoded,
    original: &[u8],
    wasm: &Path,
) -> Result<Vec<RecordedCall>> {
    let mut reader = TraceReader::open(path)
        .with_context(|| format!("cannot read the trace {}", path.display()))?;
    identity::check(reader.header(), &decoded.info(), original, wasm, path)?;
    let mut calls: Vec<RecordedCall> = Vec::new();
    let mut pending: Option<RecordedCall> = None;
    loop {
        let entry = reader
            .next_entry()
            .with_context(|| format!("cannot read the trace {}", path.display()))?;
        match entry {
            Some(Entry::Call { func, args }) => {
                calls.extend(pending.take());
                pending = Some(RecordedCall {
                    func,
                    args,
                    results: None,
                });
            }
            Some(Entry::Return { results }) => match pending.take() {
                Some(mut call) => {
                    call.results = Some(results);
                    calls.push(call);
                }
                None => bail!("the trace {} has a result without a call", path.display()),
            },
            Some(Entry::ExportCall { .. } | Entry::ExportReturn { .. }) => {}
            Some(Entry::Trap { .. } | Entry::Exit { .. }) => calls.extend(pending.take()),
            // The end marker (the reader reports a trace without one as cut, an error above).
            Some(Entry::End { .. }) | None => {
                calls.extend(pending.take());
                return Ok(calls);
            }
        }
    }
}

/// `dir/app.wasm` -> `dir/app.record.wasm`.
fn default_output(input: &Path, mode: proxy_gen::Mode) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "component".into());
    input.with_file_name(format!("{stem}.{}.wasm", mode.name()))
}

/// Writes through a temporary file and a rename, so a failed write (full disk) never leaves a
/// truncated component where a good one is expected.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

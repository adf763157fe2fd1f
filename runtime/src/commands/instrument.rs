//! `proxyrt instrument -m record|forward|replay app.wasm [-o composed.wasm]`: writes the
//! composition of a component with its synthesized proxy (in record mode, by default, the
//! component with recording stubs spliced inside instead: `--layout`), for users who want to
//! inspect it (`wasm-tools component wit composed.wasm`) or run it elsewhere.

use crate::replay::{Output, OutputMirror, StdStream};
use crate::{identity, load};
use anyhow::{bail, Context, Result};
use clap::Args;
use proxy_gen::{Effect, EmbedIo, RecordedCall};
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

    /// With `--embed-trace`: the output also imports wasi:cli/stdout, stderr and exit (and the
    /// wasi:io streams and error they need, at 0.2.0) to print what the recorded run printed and
    /// exit with its status: a repro that runs in any WASI 0.2 host.
    #[arg(long, requires = "embed_trace")]
    pub stdio: bool,

    /// With `-m record` or `-m replay`: how the stubs are put into the component, as `proxyrt
    /// record --layout` and `replay --layout` say (`auto`, `spliced` or `composed`). Default:
    /// `auto` for record; `composed` for replay, whose output then imports nothing but the
    /// replayer (a spliced replay keeps the original's imports, which a runtime must define).
    #[arg(long, value_name = "LAYOUT", value_parser = crate::options::parse_layout)]
    pub layout: Option<proxy_gen::Layout>,

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
        let layout = match (self.layout, mode) {
            (Some(_), proxy_gen::Mode::Forward) => {
                bail!("--layout goes with `-m record` or `-m replay`")
            }
            (Some(_), _) if self.embed_trace.is_some() => {
                bail!("--layout does not go with `--embed-trace` (which composes)")
            }
            (Some(layout), _) => layout,
            (None, mode) => proxy_gen::Layout::default_for(mode),
        };
        let composed = match &self.embed_trace {
            None => proxy_gen::decode(&bytes).and_then(|decoded| {
                proxy_gen::instrument_with_layout(&decoded, &bytes, mode, layout)
            }),
            Some(trace) => {
                if mode != proxy_gen::Mode::Replay {
                    bail!("--embed-trace goes with `-m replay`");
                }
                let decoded = proxy_gen::decode(&bytes)
                    .with_context(|| format!("cannot instrument {}", self.wasm.display()))?;
                let io = if self.stdio {
                    EmbedIo::Stdio
                } else {
                    EmbedIo::None
                };
                let calls = recorded_calls(trace, &decoded, &bytes, &self.wasm, io)?;
                proxy_gen::instrument_embedded(&decoded, &bytes, &calls, io)
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
/// cut. With [`EmbedIo::Stdio`] each call carries its effect: the replay's output mirror says
/// which calls wrote the guest's stdout and stderr (and where their bytes are), and the call the
/// recorded run ended in with an `Exit` gets that status.
fn recorded_calls(
    path: &Path,
    decoded: &proxy_gen::Decoded,
    original: &[u8],
    wasm: &Path,
    io: EmbedIo,
) -> Result<Vec<RecordedCall>> {
    let mut reader = TraceReader::open(path)
        .with_context(|| format!("cannot read the trace {}", path.display()))?;
    let info = decoded.info();
    identity::check(
        reader.header(),
        &info.interface_sha256()?,
        &identity::component_sha256(original),
        wasm,
        path,
    )?;
    let mut mirror = OutputMirror::new(&info, Output::Discard);
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
                    effect: Effect::None,
                });
            }
            Some(Entry::Return { results }) => match pending.take() {
                Some(mut call) => {
                    if io == EmbedIo::Stdio {
                        if let Some((stream, bytes)) =
                            mirror.written(call.func, &call.args, &results)
                        {
                            let stream = match stream {
                                StdStream::Stdout => proxy_gen::StdStream::Stdout,
                                StdStream::Stderr => proxy_gen::StdStream::Stderr,
                            };
                            call.effect = Effect::Write { stream, bytes };
                        }
                    }
                    call.results = Some(results);
                    calls.push(call);
                }
                None => bail!("the trace {} has a result without a call", path.display()),
            },
            Some(Entry::ExportCall { .. } | Entry::ExportReturn { .. }) => {}
            Some(Entry::Exit { code }) => {
                if let (Some(call), EmbedIo::Stdio) = (&mut pending, io) {
                    // The run ended in this call (`wasi:cli/exit.exit`), which carries ok or
                    // err: the only statuses the standalone can exit with.
                    call.effect = match code {
                        0 => Effect::Exit { success: true },
                        1 => Effect::Exit { success: false },
                        _ => bail!(
                            "the trace {} ends with exit status {code}: a standalone replay \
                             with --stdio exits through wasi:cli/exit.exit, with status 0 or 1",
                            path.display()
                        ),
                    };
                }
                calls.extend(pending.take());
            }
            Some(Entry::Trap { .. }) => calls.extend(pending.take()),
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

//! `proxyrt instrument`: writes the composition of a component with its synthesized proxy, for users
//! who want to inspect it (`wasm-tools component wit composed.wasm`) or run it elsewhere.

use crate::cli::{InstrumentArgs, InstrumentMode};
use crate::load;
use anyhow::{bail, Context, Result};
use proxy_gen::RecordedCall;
use recorder_host::trace::{Entry, TraceReader};
use std::path::{Path, PathBuf};

/// Instruments `args.wasm` and writes the result; prints where it went.
pub fn instrument(args: &InstrumentArgs) -> Result<()> {
    let bytes = load::read_binary_component(&args.wasm, "instrument")?;
    let mode = match args.mode {
        InstrumentMode::Record => proxy_gen::Mode::Record,
        InstrumentMode::Forward => proxy_gen::Mode::Forward,
        InstrumentMode::Replay => proxy_gen::Mode::Replay,
    };
    let composed = match &args.embed_trace {
        None => proxy_gen::instrument(&bytes, mode),
        Some(trace) => {
            if mode != proxy_gen::Mode::Replay {
                bail!("--embed-trace goes with `-m replay`");
            }
            let decoded = proxy_gen::decode(&bytes)
                .with_context(|| format!("cannot instrument {}", args.wasm.display()))?;
            let calls = recorded_calls(trace, &decoded)?;
            proxy_gen::instrument_embedded(&decoded, &bytes, &calls)
        }
    }
    .with_context(|| format!("cannot instrument {}", args.wasm.display()))?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&args.wasm, args.mode));
    write_atomically(&output, &composed)?;
    eprintln!(
        "wrote {} ({} mode, {} bytes)",
        output.display(),
        args.mode.name(),
        composed.len()
    );
    Ok(())
}

/// The import calls of the trace at `path`, checked to be a trace of the program `decoded` (the
/// same imports and exports; another build is fine). A cut trace is refused (the reader's error):
/// the embedded replay would trap where the recording was cut.
fn recorded_calls(path: &Path, decoded: &proxy_gen::Decoded) -> Result<Vec<RecordedCall>> {
    let mut reader = TraceReader::open(path)
        .with_context(|| format!("cannot read the trace {}", path.display()))?;
    if reader.header().interface_sha256 != crate::recorder::interface_sha256(&decoded.info())? {
        bail!(
            "the trace {} was recorded from another program (its imports and exports differ)",
            path.display()
        );
    }
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
fn default_output(input: &Path, mode: InstrumentMode) -> PathBuf {
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

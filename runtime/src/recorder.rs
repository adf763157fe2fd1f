//! The native recorder host: proxyrt's implementation of `proxyrt:recorder/recorder@0.1.0`, the
//! interface a record-mode proxy reports every import call and its results to, and the `record`
//! driver that instruments a component, runs it on the real hosts and writes the trace.
//!
//! The proxy hands over each call's arguments and results already encoded (recorder-host's value
//! format) as a `list<u8>` in its own memory; the host functions take it as a [`WasmList<u8>`], a view
//! of that memory, so no per-byte values are built (DESIGN-NOTES fact 6).

use crate::cache::{self, Instrumented};
use crate::cli::RecordArgs;
use crate::host::Host;
use crate::load;
use crate::run::{self, Ending};
use anyhow::{Context, Result};
use recorder_host::trace::{Entry, Header, TraceWriter, FORMAT_VERSION};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use wasmtime::component::{Linker, WasmList};
use wasmtime::StoreContextMut;

/// The recorder interface's instance name, as the proxy imports it.
pub const INTERFACE: &str = "proxyrt:recorder/recorder@0.1.0";

/// The trace being written, held in the store while the guest runs.
pub struct Recorder {
    writer: TraceWriter<BufWriter<File>>,
    path: PathBuf,
    /// Per function id: whether the call may make the guest wait indefinitely (see [`may_block`]).
    /// The trace is flushed before such a call is forwarded, so a process killed while the guest
    /// waits (sleep, stdin, network) leaves everything up to that call on disk, while the many
    /// quick calls in between cost no system call each.
    may_block: Vec<bool>,
}

/// Whether a WASI function may wait for an unbounded time: by wasi:io's naming convention, every
/// waiting call is `poll`, `pollable.block`, or a `blocking-*` method; of those, output streams'
/// (`blocking-flush`, `blocking-write-and-flush`, ...) only wait while the host drains what the guest
/// wrote, which is why they are left out: a program printing line by line would otherwise pay a
/// `write(2)` of the trace per line.
fn may_block(name: &str) -> bool {
    if name.contains("output-stream.") {
        return false;
    }
    let leaf = name.rsplit(['.', ']']).next().unwrap_or(name);
    leaf.starts_with("blocking-") || leaf == "poll" || leaf == "block"
}

impl Recorder {
    /// Creates the trace file at `path` and writes its header.
    pub fn create(path: &Path, header: &Header) -> Result<Self> {
        let writer = TraceWriter::create(path, header)
            .with_context(|| format!("cannot create the trace {}", path.display()))?;
        let may_block = header
            .component
            .intercepted_functions()
            .map(|f| may_block(&f.function.name))
            .collect();
        Ok(Recorder {
            writer,
            path: path.to_path_buf(),
            may_block,
        })
    }

    /// Appends an entry; a write error (full disk) stops the guest with an error that names the file.
    /// Everything written before stays readable: entries are framed.
    fn append(&mut self, entry: &Entry) -> wasmtime::Result<()> {
        self.writer.append(entry).map_err(|e| {
            wasmtime::format_err!("cannot write the trace {}: {e}", self.path.display())
        })
    }

    /// Records how the run ended, writes the end marker and flushes. Returns the number of entries.
    pub fn finish(mut self, ending: Option<&Ending>) -> Result<u64> {
        let last = match ending {
            Some(Ending::Exit(code)) => Some(Entry::Exit { code: *code }),
            Some(Ending::Trap(e)) => Some(Entry::Trap {
                message: e.root_cause().to_string(),
            }),
            None => None,
        };
        if let Some(last) = last {
            self.writer
                .append(&last)
                .with_context(|| format!("cannot write the trace {}", self.path.display()))?;
        }
        let entries = self.writer.entries();
        self.writer
            .finish()
            .with_context(|| format!("cannot write the trace {}", self.path.display()))?;
        Ok(entries)
    }

    /// Pushes buffered entries to the file without ending the trace (after a host-side failure, so
    /// what was recorded survives and is reported as cut).
    pub fn flush(&mut self) -> Result<()> {
        self.writer
            .flush()
            .with_context(|| format!("cannot write the trace {}", self.path.display()))
    }
}

fn recorder<'a>(store: &'a mut StoreContextMut<'_, Host>) -> wasmtime::Result<&'a mut Recorder> {
    store
        .data_mut()
        .recorder
        .as_mut()
        .ok_or_else(|| wasmtime::format_err!("the recorder was called outside of `proxyrt record`"))
}

/// Defines `proxyrt:recorder/recorder@0.1.0` in `linker`.
pub fn add_to_linker(linker: &mut Linker<Host>) -> Result<()> {
    let mut inst = linker.instance(INTERFACE).map_err(anyhow::Error::from)?;
    inst.func_wrap(
        "call",
        |mut store: StoreContextMut<'_, Host>, (func, args): (u32, WasmList<u8>)| {
            let args = args.as_le_slice(&store).to_vec();
            let recorder = recorder(&mut store)?;
            recorder.append(&Entry::Call { func, args })?;
            if recorder
                .may_block
                .get(func as usize)
                .copied()
                .unwrap_or(false)
            {
                recorder.writer.flush().map_err(|e| {
                    wasmtime::format_err!("cannot write the trace {}: {e}", recorder.path.display())
                })?;
            }
            Ok(())
        },
    )
    .map_err(anyhow::Error::from)?;
    inst.func_wrap(
        "ret",
        |mut store: StoreContextMut<'_, Host>, (_func, results): (u32, WasmList<u8>)| {
            let results = results.as_le_slice(&store).to_vec();
            recorder(&mut store)?.append(&Entry::Return { results })
        },
    )
    .map_err(anyhow::Error::from)?;
    Ok(())
}

/// SHA-256 of a component's interfaces (its import/export WIT, as plain data): two builds of the same
/// program share it, unrelated programs do not.
pub fn interface_sha256(info: &recorder_host::types::ComponentInfo) -> Result<[u8; 32]> {
    let bytes = bincode::serde::encode_to_vec(info, bincode::config::standard())
        .context("encoding the component's interfaces")?;
    Ok(Sha256::digest(&bytes).into())
}

/// `proxyrt record`: instruments the component, runs the composition on the real hosts exactly like
/// `proxyrt run` (same output and exit status) and writes the trace.
pub async fn record(args: &RecordArgs) -> Result<i32> {
    let path = args.run.wasm_path()?;
    let original = load::read_binary_component(&path, "record")?;
    let Instrumented { composed, info } =
        cache::instrumented(&original, proxy_gen::Mode::Record, &args.run.cache)
            .with_context(|| format!("cannot record {}", path.display()))?;
    let header = Header {
        format_version: FORMAT_VERSION,
        proxyrt_version: env!("CARGO_PKG_VERSION").to_string(),
        component_sha256: Sha256::digest(&original).into(),
        interface_sha256: interface_sha256(&info)?,
        component: info,
        argv: args.run.guest_argv()?,
    };
    let trace_path = args.trace.clone();
    let recorder = Recorder::create(&trace_path, &header)?;
    let (ending, recorder) = run::execute(&args.run, &path, &composed, Some(recorder)).await;
    match (ending, recorder) {
        (Ok(ending), Some(recorder)) => {
            recorder.finish(Some(&ending))?;
            Ok(ending.report())
        }
        (Ok(ending), None) => Ok(ending.report()),
        (Err(e), Some(mut recorder)) => {
            // proxyrt itself failed (e.g. the disk filled up): keep what was recorded, unended, so
            // readers report it as cut, and report the failure.
            recorder.flush().ok();
            Err(e)
        }
        (Err(e), None) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn blocking_calls_are_recognized_by_name() {
        for name in [
            "[method]input-stream.blocking-read",
            "poll",
            "[method]pollable.block",
            "[method]input-stream.blocking-skip",
        ] {
            assert!(super::may_block(name), "{name}");
        }
        for name in [
            "[method]input-stream.read",
            "get-random-bytes",
            "[method]pollable.ready",
            "[method]output-stream.check-write",
            "[method]output-stream.blocking-flush",
            "[method]output-stream.blocking-write-and-flush",
        ] {
            assert!(!super::may_block(name), "{name}");
        }
    }
}

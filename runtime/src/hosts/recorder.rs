//! The native recorder host: proxyrt's implementation of `proxyrt:recorder/recorder@0.1.0`, the
//! interface a record-mode proxy reports every import call and its results to, writing the trace.
//!
//! The proxy hands over each call's arguments and results already encoded (recorder-host's value
//! format) as a `list<u8>` in its own memory; the host functions take it as a [`WasmList<u8>`], a
//! view of that memory, so no per-byte values are built (a `Val` per byte is about 250x slower for
//! bulk data, measured on wasmtime 48: see ARCHITECTURE.md).
//!
//! Most calls arrive a batch at a time (`record-batch`), from a buffer in the proxy's memory;
//! the proxy hands that buffer over once (`batch-buffer`) and the host keeps the view, so that
//! whoever called the export reads what the proxy had not handed over yet once the export
//! returned or trapped ([`drain_batch`]): the composition needs no export of its own for it.
//! wasmtime allows this: a `WasmList` is an offset, a length and the instance's memory option,
//! read through the store on each use (checked against the memory when it was made, and memory
//! never shrinks), and a trap leaves the store, and its memories, readable.
//!
//! The host's own calls of the guest's exports are recorded here too ([`Recorder::export_call`],
//! [`Recorder::export_return`]), by whoever makes them.

use crate::exit::Ending;
use anyhow::{Context, Result};
use recorder_host::batch;
use recorder_host::functions::FunctionTable;
use recorder_host::trace::{Compression, Entry, Header, HttpRequestLine, TraceWriter};
use recorder_host::value::encode;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wasmtime::component::{Linker, Val, WasmList};
use wasmtime::{AsContextMut, StoreContextMut};

/// Store data that can hold a [`Recorder`]: the recorder host reaches it through this view.
pub trait RecorderView: Send {
    /// The recorder's slot. The host takes the recorder out for each call (so that it can read the
    /// proxy's memory through the store while it writes) and puts it back; `None` means the store is
    /// not recording.
    fn recorder(&mut self) -> &mut Option<Recorder>;
}

/// The recorder interface's instance name, as the proxy imports it.
pub const INTERFACE: &str = "proxyrt:recorder/recorder@0.1.0";

/// The trace being written, held in the store while the guest runs.
pub struct Recorder {
    writer: TraceWriter<BufWriter<File>>,
    path: PathBuf,
    /// The component's functions: the host's calls of its exports are recorded too
    /// (`export_call`, `export_return`). Shared by the recorders of a service's requests.
    table: Arc<FunctionTable>,
    /// The proxy's batch buffer (`batch-buffer`), once handed over: read by [`drain_batch`].
    /// Dropped when a batch could not be written, so that nothing is written twice or after a
    /// failure.
    batch: Option<WasmList<u8>>,
}

impl Recorder {
    /// Creates the trace file at `path` and writes its header; its blocks are stored as
    /// `compression` says.
    pub fn create(path: &Path, header: &Header, compression: Compression) -> Result<Self> {
        let writer = TraceWriter::create(path, header)
            .with_context(|| format!("cannot create the trace {}", path.display()))?
            .with_compression(compression);
        Ok(Recorder {
            writer,
            path: path.to_path_buf(),
            table: Arc::new(FunctionTable::new(&header.component)),
            batch: None,
        })
    }

    /// The recorder of one request of a service: the trace at `path` with the service's header
    /// `base` naming `request`, the function table `table` (of `base.component`, made once for
    /// all requests), a write buffer of `capacity` bytes (a request's trace is short) and its
    /// blocks stored as `compression` says.
    pub fn create_for_request(
        path: &Path,
        base: &Header,
        request: &HttpRequestLine,
        table: Arc<FunctionTable>,
        capacity: usize,
        compression: Compression,
    ) -> Result<Self> {
        let writer = TraceWriter::create_buffered(path, &base.for_request(request), capacity)
            .with_context(|| format!("cannot create the trace {}", path.display()))?
            .with_compression(compression);
        Ok(Recorder {
            writer,
            path: path.to_path_buf(),
            table,
            batch: None,
        })
    }

    /// The host is about to call export `name` of `interface` (`None`: a function of the world)
    /// with `params`: records the call and returns the export's id, to pass to [`Self::export_return`].
    /// `interface` may name the exported instance without its version (`wasi:cli/run`), as the
    /// host's bindings do.
    pub fn export_call(
        &mut self,
        interface: Option<&str>,
        name: &str,
        params: &[Val],
    ) -> Result<u32> {
        let (func, export) = self.table.find_export(interface, name).with_context(|| {
            format!(
                "internal error: export `{}{name}` is not in the component's exports",
                interface.map(|i| format!("{i}.")).unwrap_or_default()
            )
        })?;
        let mut args = Vec::new();
        for (value, ty) in params.iter().zip(&export.params) {
            encode(value, ty, &mut args).map_err(|e| {
                anyhow::anyhow!("cannot record the arguments of export `{name}`: {e}")
            })?;
        }
        self.append(&Entry::ExportCall { func, args })
            .map_err(anyhow::Error::from)?;
        // The export may run for long: what was recorded so far is on disk before the guest runs.
        self.flush()?;
        Ok(func)
    }

    /// Export `func` (an id from [`Self::export_call`]) returned `results`: records them.
    pub fn export_return(&mut self, func: u32, results: &[Val]) -> Result<()> {
        let export = self
            .table
            .export(func)
            .context("internal error: an unknown export returned")?;
        let mut bytes = Vec::new();
        if let (Some(value), Some(ty)) = (results.first(), &export.result) {
            encode(value, ty, &mut bytes).map_err(|e| {
                anyhow::anyhow!("cannot record the results of export `{}`: {e}", export.func)
            })?;
        }
        self.append(&Entry::ExportReturn { results: bytes })
            .map_err(anyhow::Error::from)
    }

    /// Appends an entry; a write error (full disk) stops the guest with an error that names the file.
    /// Everything written before stays readable: blocks are framed, and a writer whose write
    /// failed writes nothing more.
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

    /// Closes the open block and pushes it to the file without ending the trace (after a host-side failure, so
    /// what was recorded survives and is reported as cut).
    pub fn flush(&mut self) -> Result<()> {
        self.writer
            .flush()
            .with_context(|| format!("cannot write the trace {}", self.path.display()))
    }
}

/// Writes the records left in the proxy's batch buffer, those it had not handed over yet, to the
/// trace: to be called once the proxy can no longer be called, when the export returned or
/// trapped, before the export's results or the trap are recorded (they come after those calls).
/// Does nothing when the store is not recording or the proxy never recorded a call; reads the
/// buffer at most once.
pub fn drain_batch<T: RecorderView + 'static>(
    mut store: impl AsContextMut<Data = T>,
) -> Result<()> {
    let mut store = store.as_context_mut();
    let Some(recorder) = store.data_mut().recorder().as_mut() else {
        return Ok(());
    };
    let Some(buffer) = recorder.batch.take() else {
        return Ok(());
    };
    with_recorder(store, |recorder, store| {
        let pending = batch::pending(buffer.as_le_slice(store))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        recorder.writer.append_batch(pending)
    })
    .map_err(anyhow::Error::from)
}

/// Runs `f` with the recorder moved out of the store, so that `f` can read the proxy's memory
/// through the store while it writes the trace.
fn with_recorder<T: RecorderView>(
    mut store: StoreContextMut<'_, T>,
    f: impl FnOnce(&mut Recorder, &StoreContextMut<'_, T>) -> io::Result<()>,
) -> wasmtime::Result<()> {
    let mut recorder = store.data_mut().recorder().take().ok_or_else(|| {
        wasmtime::format_err!("the recorder was called outside of `proxyrt record`")
    })?;
    let result = f(&mut recorder, &store).map_err(|e| {
        wasmtime::format_err!("cannot write the trace {}: {e}", recorder.path.display())
    });
    *store.data_mut().recorder() = Some(recorder);
    result
}

/// Defines `proxyrt:recorder/recorder@0.1.0` in `linker`.
///
/// The proxy reports most calls once they returned, arguments and results together, a batch at
/// a time (`record-batch`, from the buffer it handed over with `batch-buffer`; a call larger than
/// the buffer alone with `record`); calls that may wait for long or never return
/// (`recorder_host::types::reported_before_forwarding`) are reported before they are forwarded
/// (`call`, after the batch before them), and the trace is flushed then, so that a process killed
/// while the guest waits (sleep, stdin, network) or exiting leaves everything up to that call on
/// disk; their results go to the batch (`ret` when larger than it). The many quick calls in
/// between cost neither a host call nor a system call each.
pub fn add_to_linker<T: RecorderView + 'static>(linker: &mut Linker<T>) -> Result<()> {
    let mut inst = linker.instance(INTERFACE).map_err(anyhow::Error::from)?;
    inst.func_wrap(
        "call",
        |store: StoreContextMut<'_, T>, (func, args): (u32, WasmList<u8>)| {
            with_recorder(store, |recorder, store| {
                recorder.writer.append_call(func, args.as_le_slice(store))?;
                recorder.writer.flush()
            })
        },
    )
    .map_err(anyhow::Error::from)?;
    inst.func_wrap(
        "ret",
        |store: StoreContextMut<'_, T>, (_func, results): (u32, WasmList<u8>)| {
            with_recorder(store, |recorder, store| {
                recorder.writer.append_return(results.as_le_slice(store))
            })
        },
    )
    .map_err(anyhow::Error::from)?;
    inst.func_wrap(
        "record",
        |store: StoreContextMut<'_, T>,
         (func, args, results): (u32, WasmList<u8>, WasmList<u8>)| {
            with_recorder(store, |recorder, store| {
                recorder.writer.append_call_return(
                    func,
                    args.as_le_slice(store),
                    results.as_le_slice(store),
                )
            })
        },
    )
    .map_err(anyhow::Error::from)?;
    inst.func_wrap(
        "batch-buffer",
        |mut store: StoreContextMut<'_, T>, (buffer,): (WasmList<u8>,)| {
            let recorder = store.data_mut().recorder().as_mut().ok_or_else(|| {
                wasmtime::format_err!("the recorder was called outside of `proxyrt record`")
            })?;
            if buffer.len() < batch::FILL_LEN {
                return Err(wasmtime::format_err!(
                    "the proxy's batch buffer holds no fill count"
                ));
            }
            recorder.batch = Some(buffer);
            Ok(())
        },
    )
    .map_err(anyhow::Error::from)?;
    inst.func_wrap(
        "record-batch",
        |store: StoreContextMut<'_, T>, (entries,): (WasmList<u8>,)| {
            with_recorder(store, |recorder, store| {
                let written = recorder.writer.append_batch(entries.as_le_slice(store));
                if written.is_err() {
                    // Nothing of this batch, or after it, is read again at the end.
                    recorder.batch = None;
                }
                written
            })
        },
    )
    .map_err(anyhow::Error::from)?;
    Ok(())
}

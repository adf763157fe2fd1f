//! A recorder host that keeps the calls a record-mode proxy reports in memory, for the tests that
//! plug a record composition into hosts of their own (no `proxyrt` binary, no trace file): the
//! calls `proxyrt record` would write, as values, from every function of the recorder interface
//! (`recorder-host/wit/recorder.wit`), the batch included.

use recorder_host::batch::{self, Record};
use wasmtime::component::{Linker, WasmList};
use wasmtime::{AsContextMut, StoreContextMut};

/// One recorded import call: its func-id, encoded arguments and encoded results (`None` until
/// they are reported).
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub func: u32,
    pub args: Vec<u8>,
    pub results: Option<Vec<u8>>,
}

/// The calls reported so far, and the proxy's batch buffer once it handed it over.
#[derive(Default)]
pub struct Captured {
    pub calls: Vec<Call>,
    buffer: Option<WasmList<u8>>,
}

/// Store data holding a [`Captured`].
pub trait Capturing: Send {
    fn captured(&mut self) -> &mut Captured;
}

impl Capturing for Captured {
    fn captured(&mut self) -> &mut Captured {
        self
    }
}

impl Captured {
    /// Adds the results of the last call, which must be waiting for them.
    fn ret(&mut self, results: &[u8]) -> wasmtime::Result<()> {
        match self.calls.last_mut() {
            Some(call) if call.results.is_none() => {
                call.results = Some(results.to_vec());
                Ok(())
            }
            other => Err(wasmtime::format_err!(
                "results without a call waiting for them (last: {other:?})"
            )),
        }
    }

    /// Adds the records of `batch`.
    fn batch(&mut self, bytes: &[u8]) -> wasmtime::Result<()> {
        for record in batch::records(bytes) {
            match record? {
                Record::Call {
                    func,
                    args,
                    results,
                } => self.calls.push(Call {
                    func,
                    args: args.to_vec(),
                    results: Some(results.to_vec()),
                }),
                Record::Return { results } => self.ret(results)?,
            }
        }
        Ok(())
    }

    /// Adds the records the proxy left in its batch buffer: call once its export returned.
    pub fn drain<T: Capturing + 'static>(mut store: impl AsContextMut<Data = T>) {
        let mut store = store.as_context_mut();
        let Some(buffer) = store.data_mut().captured().buffer.take() else {
            return;
        };
        let pending = batch::pending(buffer.as_le_slice(&store))
            .expect("a well-formed batch buffer")
            .to_vec();
        store
            .data_mut()
            .captured()
            .batch(&pending)
            .expect("a well-formed batch");
    }
}

/// Defines the recorder interface in `linker`, keeping every call in the store's [`Captured`].
pub fn add_to_linker<T: Capturing + 'static>(linker: &mut Linker<T>) {
    let mut inst = linker
        .instance(proxy_gen::RECORDER_INTERFACE)
        .expect("the recorder instance");
    inst.func_wrap(
        "call",
        |mut store: StoreContextMut<'_, T>, (func, args): (u32, WasmList<u8>)| {
            let args = args.as_le_slice(&store).to_vec();
            store.data_mut().captured().calls.push(Call {
                func,
                args,
                results: None,
            });
            Ok(())
        },
    )
    .expect("call");
    inst.func_wrap(
        "ret",
        |mut store: StoreContextMut<'_, T>, (_func, results): (u32, WasmList<u8>)| {
            let results = results.as_le_slice(&store).to_vec();
            store.data_mut().captured().ret(&results)
        },
    )
    .expect("ret");
    inst.func_wrap(
        "record",
        |mut store: StoreContextMut<'_, T>,
         (func, args, results): (u32, WasmList<u8>, WasmList<u8>)| {
            let args = args.as_le_slice(&store).to_vec();
            let results = Some(results.as_le_slice(&store).to_vec());
            store.data_mut().captured().calls.push(Call {
                func,
                args,
                results,
            });
            Ok(())
        },
    )
    .expect("record");
    inst.func_wrap(
        "batch-buffer",
        |mut store: StoreContextMut<'_, T>, (buffer,): (WasmList<u8>,)| {
            store.data_mut().captured().buffer = Some(buffer);
            Ok(())
        },
    )
    .expect("batch-buffer");
    inst.func_wrap(
        "record-batch",
        |mut store: StoreContextMut<'_, T>, (entries,): (WasmList<u8>,)| {
            let bytes = entries.as_le_slice(&store).to_vec();
            store.data_mut().captured().batch(&bytes)
        },
    )
    .expect("record-batch");
}

//! Live execution on the real hosts, for `run` and `record`: compile, link the WASI hosts (and the
//! recorder when recording), instantiate, make the host's call of the export (`wasi:cli/run`, or a
//! `--invoke` function), and sort out how it ended.
//!
//! The store's data is a [`LiveHost`]: the WASI host plus an optional recorder, composed through
//! their view traits. When recording, the host's call of the export and its results go into the
//! trace here, at the host boundary, since only the host calls the composition's exports.

use crate::cache::{Cache, ComponentBytes};
use crate::engine::{self, ExportCall, WasmOptions};
use crate::exit::Ending;
use crate::hosts::recorder::{self, Recorder, RecorderView};
use crate::hosts::wasi::{self, WasiConfig, WasiHost};
use anyhow::{Context, Result};
use std::path::Path;
use wasmtime::component::{Component, Instance, Linker, Val};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtxView, WasiHttpView};

/// What a live execution is made of: the resolved options of `run` (and `record`).
pub struct LiveConfig<'a> {
    pub wasi: WasiConfig,
    pub wasm: WasmOptions,
    /// The `--invoke` call, unparsed; `None` runs `wasi:cli/run`.
    pub invoke: Option<&'a str>,
    pub cache: Option<Cache>,
}

/// Store data of a live run: the real hosts and, while recording, the trace being written.
pub struct LiveHost {
    wasi: WasiHost,
    recorder: Option<Recorder>,
}

impl WasiView for LiveHost {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.wasi.ctx()
    }
}

impl WasiHttpView for LiveHost {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        self.wasi.http()
    }
}

impl RecorderView for LiveHost {
    fn recorder(&mut self) -> &mut Option<Recorder> {
        &mut self.recorder
    }
}

/// Everything made before the store exists: a failure here never touches the recorder.
struct Prepared {
    engine: Engine,
    component: Component,
    linker: Linker<LiveHost>,
    host: WasiHost,
    call: Option<ExportCall>,
}

/// Compiles and runs `wasm` (the component at `path`, or a composition of it) on the real hosts
/// configured by `config`, with `recorder` (if any) serving `proxyrt:recorder`. The recorder is
/// handed back however the run ended, so that the caller can finish or at least flush the trace.
pub async fn execute(
    config: &LiveConfig<'_>,
    path: &Path,
    wasm: &ComponentBytes,
    recorder: Option<Recorder>,
) -> (Result<Ending>, Option<Recorder>) {
    let prepared = match prepare(config, path, wasm, recorder.is_some()) {
        Ok(prepared) => prepared,
        Err(e) => return (Err(e), recorder),
    };
    let mut store = Store::new(
        &prepared.engine,
        LiveHost {
            wasi: prepared.host,
            recorder,
        },
    );
    let ending = run_in(
        &mut store,
        config,
        &prepared.linker,
        &prepared.component,
        prepared.call,
        path,
    )
    .await;
    (ending, store.into_data().recorder)
}

fn prepare(
    config: &LiveConfig<'_>,
    path: &Path,
    wasm: &ComponentBytes,
    recording: bool,
) -> Result<Prepared> {
    let engine = engine::engine(&config.wasm)?;
    let component = engine::compile_composed(&engine, wasm, config.cache.as_ref())
        .with_context(|| format!("failed to compile {}", path.display()))?;
    let mut linker = Linker::new(&engine);
    wasi::add_to_linker(&mut linker, &config.wasi.options)?;
    if recording {
        recorder::add_to_linker(&mut linker)?;
    }
    if config.wasm.unknown_imports_trap == Some(true) {
        linker
            .define_unknown_imports_as_traps(&component)
            .map_err(anyhow::Error::from)?;
    }
    let host = WasiHost::new(&config.wasi)?;
    // Resolve `--invoke` before instantiating, so a typo is reported without running any guest code.
    let call = match config.invoke {
        Some(call) => Some(ExportCall::parse(&engine, &component, call)?),
        None => None,
    };
    Ok(Prepared {
        engine,
        component,
        linker,
        host,
        call,
    })
}

async fn run_in(
    store: &mut Store<LiveHost>,
    config: &LiveConfig<'_>,
    linker: &Linker<LiveHost>,
    component: &Component,
    call: Option<ExportCall>,
    path: &Path,
) -> Result<Ending> {
    store.limiter(|h| &mut h.wasi.limits);
    if let Some(fuel) = config.wasm.fuel {
        store.set_fuel(fuel).map_err(anyhow::Error::from)?;
    }
    let instance = match linker.instantiate_async(&mut *store, component).await {
        Ok(instance) => instance,
        Err(e) => {
            return Ending::from_error(e)
                .with_context(|| format!("failed to instantiate {}", path.display()))
        }
    };
    let ending = match call {
        Some(call) => invoke(store, &instance, &call).await,
        None => run_command(store, &instance).await,
    };
    ending.with_context(|| format!("failed to run {}", path.display()))
}

/// Calls the `--invoke` export and prints its results in WAVE; when recording, the call and its
/// results go into the trace.
async fn invoke(
    store: &mut Store<LiveHost>,
    instance: &Instance,
    call: &ExportCall,
) -> Result<Ending> {
    let export = &call.export;
    let recording = match store.data_mut().recorder.as_mut() {
        Some(recorder) => {
            Some(recorder.export_call(export.interface.as_deref(), &export.func, &call.params)?)
        }
        None => None,
    };
    let called = call.call(store, instance).await;
    // The proxy's last calls, in its batch, come before the results or the trap.
    let drained = recorder::drain_batch(&mut *store);
    match called {
        Ok(results) => {
            drained?;
            if let (Some(id), Some(recorder)) = (recording, store.data_mut().recorder.as_mut()) {
                recorder.export_return(id, &results)?;
            }
            println!("{}", engine::display(&results));
            Ok(Ending::Exit(0))
        }
        Err(e) => Ending::from_error(e),
    }
}

/// Calls `wasi:cli/run.run`; `Err(())` from the guest is exit status 1, as in wasmtime. When
/// recording, the call and its result go into the trace.
async fn run_command(store: &mut Store<LiveHost>, instance: &Instance) -> Result<Ending> {
    let command = wasmtime_wasi::p2::bindings::Command::new(&mut *store, instance)
        .map_err(anyhow::Error::from)
        .context(
            "the component does not export `wasi:cli/run` (is it a library? use `--invoke` to call one of its exports)",
        )?;
    let recording = match store.data_mut().recorder.as_mut() {
        Some(recorder) => Some(recorder.export_call(Some("wasi:cli/run"), "run", &[])?),
        None => None,
    };
    let called = command.wasi_cli_run().call_run(&mut *store).await;
    // The proxy's last calls, in its batch, come before the result or the trap (a failure to
    // write them after a trap shows when the trace is finished).
    let drained = recorder::drain_batch(&mut *store);
    let status = match called {
        Ok(status) => status,
        Err(e) => return Ending::from_error(e),
    };
    drained?;
    if let (Some(id), Some(recorder)) = (recording, store.data_mut().recorder.as_mut()) {
        let result = Val::Result(status.map(|()| None).map_err(|()| None));
        recorder.export_return(id, &[result])?;
    }
    Ok(Ending::Exit(if status.is_ok() { 0 } else { 1 }))
}

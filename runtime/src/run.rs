//! The `run` driver: load a component, link the real hosts, call `wasi:cli/run` (or `--invoke`), and
//! turn the outcome into a process exit status the way `wasmtime run` does.

use crate::cache::Cache;
use crate::cli::{CacheArgs, RunArgs, WasmOptions};
use crate::host::{self, Host};
use crate::invoke::Call;
use crate::load;
use crate::recorder::Recorder;
use anyhow::{Context, Result};
use std::path::Path;
use wasmtime::component::{Component, Val};
use wasmtime::{Config, Engine, Store};

/// Exit status of a guest that trapped: `wasmtime run` exits as if killed by SIGABRT (128 + 6).
pub const TRAP_EXIT_CODE: i32 = 134;

/// Builds the engine for a run. Everything that changes generated code (fuel) is set here, so it is
/// part of the compilation cache key through the engine's compatibility hash.
pub fn engine(wasm: &WasmOptions) -> Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    if wasm.fuel.is_some() {
        config.consume_fuel(true);
    }
    Engine::new(&config).map_err(anyhow::Error::from)
}

/// Compiles `bytes`, through the on-disk cache unless it is turned off.
pub fn compile(engine: &Engine, bytes: &[u8], cache: &CacheArgs) -> Result<Component> {
    match Cache::from_args(cache) {
        Some(cache) => Ok(cache.load_or_compile(engine, bytes)?.0),
        None => Component::new(engine, bytes).map_err(anyhow::Error::from),
    }
}

/// How a guest's execution ended.
#[derive(Debug)]
pub enum Ending {
    /// Returned normally, or exited through `wasi:cli/exit` with this status.
    Exit(i32),
    /// Trapped (unreachable, out of bounds, out of fuel, ...), with wasmtime's report.
    Trap(anyhow::Error),
}

impl Ending {
    /// Sorts a wasmtime error from the guest's execution into an exit, a trap, or a host-side error.
    pub fn from_error(e: wasmtime::Error) -> Result<Self> {
        if let Some(exit) = e.downcast_ref::<wasmtime_wasi::I32Exit>() {
            return Ok(Ending::Exit(exit.0));
        }
        if e.is::<wasmtime::Trap>() {
            return Ok(Ending::Trap(anyhow::Error::from(e)));
        }
        Err(anyhow::Error::from(e))
    }

    /// The process exit status for this ending, printing the trap report if there is one.
    pub fn report(self) -> i32 {
        match self {
            Ending::Exit(code) => code,
            Ending::Trap(e) => {
                eprintln!("{}", error_report(&e));
                TRAP_EXIT_CODE
            }
        }
    }
}

/// `proxyrt run`: runs a component on the real hosts and returns the process exit status.
pub async fn run(args: &RunArgs) -> Result<i32> {
    let path = args.wasm_path()?;
    let bytes = load::read_component(&path)?;
    let (ending, _) = execute(args, &path, &bytes, None).await;
    Ok(ending?.report())
}

/// Compiles and runs `bytes` (the component at `path`, or a composition of it) on the real hosts
/// configured by `args`, with `recorder` (if any) serving `proxyrt:recorder`. The recorder is handed
/// back however the run ended, so that the caller can finish or at least flush the trace.
pub async fn execute(
    args: &RunArgs,
    path: &Path,
    bytes: &[u8],
    recorder: Option<Recorder>,
) -> (Result<Ending>, Option<Recorder>) {
    let mut recorder = recorder;
    let mut store = None;
    let ending = execute_in(args, path, bytes, &mut recorder, &mut store).await;
    if let Some(store) = store {
        let store: Store<Host> = store;
        recorder = store.into_data().recorder;
    }
    (ending, recorder)
}

async fn execute_in(
    args: &RunArgs,
    path: &Path,
    bytes: &[u8],
    recorder: &mut Option<Recorder>,
    store_slot: &mut Option<Store<Host>>,
) -> Result<Ending> {
    let wasi = args.wasi_options()?;
    let wasm = args.wasm_options()?;
    let engine = engine(&wasm)?;
    let component = compile(&engine, bytes, &args.cache)
        .with_context(|| format!("failed to compile {}", path.display()))?;

    let mut linker = host::linker(&engine, &wasi)?;
    if recorder.is_some() {
        crate::recorder::add_to_linker(&mut linker)?;
    }
    if wasm.unknown_imports_trap == Some(true) {
        linker
            .define_unknown_imports_as_traps(&component)
            .map_err(anyhow::Error::from)?;
    }
    let mut host = Host::new(args, &wasi, &wasm)?;
    host.recorder = recorder.take();
    let store = store_slot.insert(Store::new(&engine, host));
    store.limiter(|h| &mut h.limits);
    if let Some(fuel) = wasm.fuel {
        store.set_fuel(fuel).map_err(anyhow::Error::from)?;
    }

    // Resolve `--invoke` before instantiating, so a typo is reported without running any guest code.
    let call = match &args.invoke {
        Some(call) => Some(Call::resolve(&engine, &component, call)?),
        None => None,
    };
    let instance = match linker.instantiate_async(&mut *store, &component).await {
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
    store: &mut Store<Host>,
    instance: &wasmtime::component::Instance,
    call: &Call,
) -> Result<Ending> {
    let recording = match store.data_mut().recorder.as_mut() {
        Some(recorder) => {
            Some(recorder.export_call(call.interface.as_deref(), &call.func, &call.params)?)
        }
        None => None,
    };
    match call.call(store, instance).await {
        Ok(results) => {
            if let (Some(id), Some(recorder)) = (recording, store.data_mut().recorder.as_mut()) {
                recorder.export_return(id, &results)?;
            }
            println!("{}", crate::invoke::display(&results));
            Ok(Ending::Exit(0))
        }
        Err(e) => Ending::from_error(e),
    }
}

/// Calls `wasi:cli/run.run`; `Err(())` from the guest is exit status 1, as in wasmtime. When
/// recording, the call and its result go into the trace.
async fn run_command(
    store: &mut Store<Host>,
    instance: &wasmtime::component::Instance,
) -> Result<Ending> {
    let command = wasmtime_wasi::p2::bindings::Command::new(&mut *store, instance)
        .map_err(anyhow::Error::from)
        .context(
            "the component does not export `wasi:cli/run` (is it a library? use `--invoke` to call one of its exports)",
        )?;
    let recording = match store.data_mut().recorder.as_mut() {
        Some(recorder) => Some(recorder.export_call(Some("wasi:cli/run"), "run", &[])?),
        None => None,
    };
    let status = match command.wasi_cli_run().call_run(&mut *store).await {
        Ok(status) => status,
        Err(e) => return Ending::from_error(e),
    };
    if let (Some(id), Some(recorder)) = (recording, store.data_mut().recorder.as_mut()) {
        let result = Val::Result(status.map(|()| None).map_err(|()| None));
        recorder.export_return(id, &[result])?;
    }
    Ok(Ending::Exit(if status.is_ok() { 0 } else { 1 }))
}

/// Formats an error and its causes the way wasmtime prints them (`Error: ...`, then `Caused by:`),
/// without the host-side Rust backtrace that anyhow appends when `RUST_BACKTRACE` is set: users need
/// the guest's wasm backtrace, which is part of the chain, not proxyrt's.
pub fn error_report(e: &anyhow::Error) -> String {
    let mut out = format!("Error: {e}");
    let mut causes = e.chain().skip(1).peekable();
    if causes.peek().is_some() {
        out.push_str("\n\nCaused by:");
        for (i, cause) in causes.enumerate() {
            let text = cause.to_string().replace('\n', "\n        ");
            out.push_str(&format!("\n    {i}: {text}"));
        }
    }
    out
}

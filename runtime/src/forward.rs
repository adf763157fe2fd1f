//! The real hosts answering calls given as encoded values: what lets a source of host results
//! (`fuzz`, `dialog`, `record --fault`) hand some of a replayed guest's calls to wasmtime-wasi and
//! wasmtime-wasi-http while it answers the others itself.
//!
//! The guest runs in its replay composition, which imports nothing but the replayer; a call to
//! forward is made on the guest's **forward proxy** (proxy-gen's `Mode::Forward` proxy, not
//! composed): a component that imports the guest's imports and exports them unchanged, calling
//! through. Instantiated alone on the real hosts, its exports are the host's functions, which
//! wasmtime's dynamic API calls with `Val`s: the encoded arguments are decoded into `Val`s
//! ([`vals`]), the results encoded back. Handles the host returns are kept here as
//! `ResourceAny`s under the ids the guest sees; ids come from a counter shared with the source,
//! so that handles it makes up itself never collide with real ones.
//!
//! Each run has a forwarder of its own (a fresh WASI context), on a thread of its own with a
//! current-thread tokio runtime: the replayer host asks synchronously, and the WASI host needs an
//! async runtime (tasks of wasi:http, timers) that the asking thread cannot lend while it waits.

mod vals;

use crate::cache::Cache;
use crate::engine::{self, Export, WasmOptions};
use crate::exit::Ending;
use crate::hosts::wasi::{self, WasiConfig, WasiHost};
use anyhow::{anyhow, Context, Result};
use recorder_host::types::{ComponentInfo, FuncKind, ValueType};
use std::path::Path;
use std::sync::atomic::AtomicU32;
use std::sync::{mpsc, Arc};
use wasmtime::component::{Component, Linker, ResourceAny};
use wasmtime::{Engine, Store};

/// The forward proxy of a component, compiled and linked to the real hosts: starts a
/// [`Forwarder`] per run.
pub struct Forwardable {
    engine: Engine,
    component: Component,
    linker: Arc<Linker<WasiHost>>,
    /// Per intercepted function (by id): how to forward it.
    targets: Arc<Vec<Target>>,
}

/// How one intercepted function is forwarded.
enum Target {
    /// Call this export of the forward proxy, with these parameter and result types.
    Call {
        export: Export,
        params: Vec<ValueType>,
        result: Option<ValueType>,
    },
    /// `[resource-drop]R`: drop the host's handle.
    Drop,
    /// Not forwardable (an export's handle, or a function the proxy does not export).
    No(String),
}

impl Forwardable {
    /// The forward proxy of `original` (the component at `path`, whose functions `info`
    /// describes), compiled with `wasm` through `cache`, linked to the hosts `wasi` selects.
    pub fn new(
        original: &[u8],
        path: &Path,
        info: &ComponentInfo,
        wasm: &WasmOptions,
        wasi: &wasi::WasiOptions,
        cache: Option<&Cache>,
    ) -> Result<Self> {
        let proxy = proxy_gen::proxy(original, proxy_gen::Mode::Forward)
            .with_context(|| format!("cannot forward the calls of {}", path.display()))?;
        let engine = engine::engine(wasm)?;
        let component = engine::compile(&engine, &proxy, cache).with_context(|| {
            format!("failed to compile the forward proxy of {}", path.display())
        })?;
        let mut linker = Linker::new(&engine);
        wasi::add_to_linker(&mut linker, wasi)?;
        let targets = info
            .intercepted_functions()
            .map(|f| match &f.function.kind {
                FuncKind::Drop(_) => Target::Drop,
                FuncKind::ExportHandle(_) => Target::No("the host creates it for an export".into()),
                _ => match Export::named(&component, f.interface, &f.function.name) {
                    Ok(export) => Target::Call {
                        export,
                        params: f.param_types(),
                        result: f.function.result.clone(),
                    },
                    Err(e) => Target::No(format!("{e:#}")),
                },
            })
            .collect();
        Ok(Forwardable {
            engine,
            component,
            linker: Arc::new(linker),
            targets: Arc::new(targets),
        })
    }

    /// Starts a forwarder on a fresh instance of the real hosts made from `config`; it gives
    /// the handles it returns ids from `ids`.
    pub fn start(&self, config: &WasiConfig, ids: Arc<AtomicU32>) -> Result<Forwarder> {
        let (requests, inbox) = tokio::sync::mpsc::unbounded_channel::<Request>();
        let (ready, started) = mpsc::sync_channel::<Result<()>>(1);
        let (engine, component, linker, targets) = (
            self.engine.clone(),
            self.component.clone(),
            self.linker.clone(),
            self.targets.clone(),
        );
        let host = WasiHost::new(config)?;
        let thread = std::thread::Builder::new()
            .name("proxyrt-forwarder".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready.send(Err(anyhow!("cannot start the forwarder: {e}")));
                        return;
                    }
                };
                runtime.block_on(serve(
                    engine, component, linker, targets, host, ids, inbox, ready,
                ));
            })
            .context("cannot start the forwarder's thread")?;
        match started.recv() {
            Ok(Ok(())) => Ok(Forwarder {
                requests: Some(requests),
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(anyhow!("the forwarder stopped while starting")),
        }
    }
}

/// One call to forward, and where its answer goes.
struct Request {
    func: u32,
    args: Vec<u8>,
    reply: mpsc::SyncSender<Result<Vec<u8>, Refused>>,
}

/// Why a forwarded call did not return results.
#[derive(Debug)]
pub enum Refused {
    /// The call cannot be forwarded (e.g. a handle of its arguments is not the host's): the
    /// source must answer it otherwise. Nothing reached the host.
    Cannot(String),
    /// The host ended the run in this call: `wasi:cli/exit`.
    Exit(i32),
    /// The host trapped, with this message.
    Trap(String),
}

/// The real hosts of one run, answering forwarded calls (see the module's doc).
pub struct Forwarder {
    requests: Option<tokio::sync::mpsc::UnboundedSender<Request>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Forwarder {
    /// Calls function `func` (an intercepted function's id) of the real host with the encoded
    /// `args`; its encoded results. Blocks until the host answers.
    pub fn call(&self, func: u32, args: &[u8]) -> Result<Vec<u8>, Refused> {
        let (reply, answer) = mpsc::sync_channel(1);
        let request = Request {
            func,
            args: args.to_vec(),
            reply,
        };
        let sent = self.requests.as_ref().map(|r| r.send(request));
        if !matches!(sent, Some(Ok(()))) {
            return Err(Refused::Trap("the forwarder has stopped".into()));
        }
        answer
            .recv()
            .unwrap_or_else(|_| Err(Refused::Trap("the forwarder has stopped".into())))
    }
}

impl Drop for Forwarder {
    /// Stops the thread, once it has dropped the store (its files closed, its output flushed).
    fn drop(&mut self) {
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The forwarder's thread: instantiates the forward proxy, then answers requests until the
/// [`Forwarder`] is dropped.
#[allow(clippy::too_many_arguments)]
async fn serve(
    engine: Engine,
    component: Component,
    linker: Arc<Linker<WasiHost>>,
    targets: Arc<Vec<Target>>,
    host: WasiHost,
    ids: Arc<AtomicU32>,
    mut inbox: tokio::sync::mpsc::UnboundedReceiver<Request>,
    ready: mpsc::SyncSender<Result<()>>,
) {
    let mut store = Store::new(&engine, host);
    store.limiter(|h| &mut h.limits);
    let instance = match linker.instantiate_async(&mut store, &component).await {
        Ok(instance) => instance,
        Err(e) => {
            let e = anyhow::Error::from(e).context("failed to instantiate the forward proxy");
            let _ = ready.send(Err(e));
            return;
        }
    };
    if ready.send(Ok(())).is_err() {
        return;
    }
    let mut handles = vals::Handles::new(ids);
    while let Some(request) = inbox.recv().await {
        let answer = match targets.get(request.func as usize) {
            Some(target) => {
                forward(&mut store, &instance, target, &request.args, &mut handles).await
            }
            None => Err(Refused::Cannot(format!("no function {}", request.func))),
        };
        let _ = request.reply.send(answer);
    }
}

/// Forwards one call to `target`.
async fn forward(
    store: &mut Store<WasiHost>,
    instance: &wasmtime::component::Instance,
    target: &Target,
    args: &[u8],
    handles: &mut vals::Handles,
) -> Result<Vec<u8>, Refused> {
    match target {
        Target::No(why) => Err(Refused::Cannot(why.clone())),
        Target::Drop => {
            let id = recorder_host::value::Cursor::new(args)
                .u32()
                .map_err(|e| Refused::Cannot(format!("a drop's argument: {e}")))?;
            let resource: ResourceAny = handles
                .take(id)
                .ok_or_else(|| Refused::Cannot(format!("handle {id} is not the host's")))?;
            resource
                .resource_drop_async(&mut *store)
                .await
                .map_err(|e| Refused::Trap(format!("{e:#}")))?;
            Ok(Vec::new())
        }
        Target::Call {
            export,
            params,
            result,
        } => {
            let values = handles.decode_args(args, params).map_err(Refused::Cannot)?;
            match export.call(store, instance, &values).await {
                Ok(results) => {
                    let mut out = Vec::new();
                    if let (Some(value), Some(ty)) = (results.first(), result) {
                        handles.encode(value, ty, &mut out).map_err(|e| {
                            Refused::Trap(format!("cannot encode the results: {e}"))
                        })?;
                    }
                    Ok(out)
                }
                Err(e) => match Ending::from_error(e) {
                    Ok(Ending::Exit(code)) => Err(Refused::Exit(code)),
                    Ok(Ending::Trap(e)) => Err(Refused::Trap(e.root_cause().to_string())),
                    Err(e) => Err(Refused::Trap(format!("{e:#}"))),
                },
            }
        }
    }
}

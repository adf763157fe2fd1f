//! Replay as a library: run a component against a source of host results instead of a host.
//!
//! The component is instrumented in replay mode (proxy-gen's `Mode::Replay`): the composition
//! imports nothing but `proxyrt:recorder/replayer@0.1.0` (the [replayer host](host)),
//! so no WASI host is linked at all: files, clocks, randomness, stdin and the environment all come
//! from the source. With the trace as the source ([`TraceSource`]) a replay runs anywhere and checks
//! that the guest makes exactly the recorded calls.
//!
//! ```text
//! let replayable = Replayable::new(&original, path, cache)?;   // instrument (composition cache)
//! let replayer = replayable.compile(&WasmOptions::default(), cache)?;  // once per build
//! let replay = replayer.replay(TraceSource::open(trace)?, Output::Capture).await?;  // per run
//! ```
//!
//! A [`Replay`] is a value: how it ended ([`Ending`]: as recorded, or the [`Divergence`]), the
//! export's results, the number of host calls answered and the time spent answering them, and the
//! guest's output when captured. Printing and exit statuses are the `replay` command's.

mod backtrace;
mod divergence;
pub mod host;
mod output;
mod source;
mod trace_source;

#[cfg(test)]
mod tests;

pub use divergence::{Divergence, Frame};
pub use output::{Output, OutputMirror, StdStream};
pub use source::{Finish, HostResults, Stop};
pub use trace_source::TraceSource;

use crate::cache::{self, Cache, ComponentBytes, Instrumented, Interfaces};
use crate::engine::{self, Export, WasmOptions};
use crate::exit::{self, DIVERGENCE_EXIT_CODE, TRAP_EXIT_CODE};
use anyhow::{anyhow, Context, Result};
use host::{ReplayerHost, ReplayerView};
use recorder_host::types::ComponentInfo;
use recorder_host::value::{convert, encode, Decoder};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker, Val};
use wasmtime::{Engine, GuestProfiler, Store, UpdateDeadline};

/// A component instrumented for replay, not compiled yet: enough to check a trace against it.
pub struct Replayable {
    composed: ComponentBytes,
    /// The SHA-256 of the original component (its identity in a trace's header).
    original_sha256: [u8; 32],
    interfaces: Arc<Interfaces>,
    path: PathBuf,
}

impl Replayable {
    /// The replay composition of `original` (the component at `path`), put in as `layout` says
    /// (by default spliced inside the component when it allows it), from `cache` when it has it.
    pub fn new(
        original: &[u8],
        path: &Path,
        layout: proxy_gen::Layout,
        cache: Option<&Cache>,
    ) -> Result<Self> {
        let Instrumented {
            composed,
            interfaces,
            original_sha256,
        } = cache::instrumented_with(original, proxy_gen::Mode::Replay, layout, cache)
            .with_context(|| format!("cannot replay {}", path.display()))?;
        Ok(Replayable {
            composed,
            original_sha256,
            interfaces: Arc::new(interfaces),
            path: path.to_path_buf(),
        })
    }

    /// The component's imports and exports: what a trace must have been recorded from (their
    /// hash is what [`crate::identity::check`] compares).
    pub fn interfaces(&self) -> &Interfaces {
        &self.interfaces
    }

    /// The SHA-256 of the original component: which build a trace's header names.
    pub fn original_sha256(&self) -> &[u8; 32] {
        &self.original_sha256
    }

    /// Compiles the composition (through `cache`) and links it to the replayer host; with
    /// `wasm.fuel`, the replays count the fuel the guest consumes ([`Replay::fuel_consumed`]).
    pub fn compile(&self, wasm: &WasmOptions, cache: Option<&Cache>) -> Result<Replayer> {
        let engine = engine::engine(wasm)?;
        let component = engine::compile_composed(&engine, &self.composed, cache)
            .with_context(|| format!("failed to compile {}", self.path.display()))?;
        // The composed layout imports no function but the replayer's (the original's types-only
        // interfaces aside); a spliced one keeps the original's imports.
        let spliced = component
            .component_type()
            .imports(&engine)
            .any(|(name, item)| {
                name != host::INTERFACE
                    && match item.ty {
                        ComponentItem::ComponentFunc(_) => true,
                        ComponentItem::ComponentInstance(instance) => instance
                            .exports(&engine)
                            .any(|(_, e)| matches!(e.ty, ComponentItem::ComponentFunc(_))),
                        _ => false,
                    }
            });
        let mut linker = Linker::new(&engine);
        host::add_to_linker(&mut linker)?;
        // A spliced replay keeps the original's imports, which its stubs never call: defined as
        // functions that trap (and host resource types nothing is made of).
        linker
            .define_unknown_imports_as_traps(&component)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("cannot link {}", self.path.display()))?;
        Ok(Replayer {
            engine,
            component,
            linker,
            interfaces: self.interfaces.clone(),
            path: self.path.clone(),
            fuel: wasm.fuel,
            timed: false,
            spliced,
        })
    }
}

/// A compiled replay composition: replays as many times as asked, a fresh instance each time.
pub struct Replayer {
    engine: Engine,
    component: Component,
    linker: Linker<ReplayStore>,
    interfaces: Arc<Interfaces>,
    path: PathBuf,
    fuel: Option<u64>,
    /// Measure the time the host spends answering ([`Replay::host_time`]).
    timed: bool,
    /// Its stubs are spliced inside the guest's core modules (else a proxy is composed above it).
    spliced: bool,
}

/// How a replay ended.
#[derive(Debug)]
pub enum Ending {
    /// The guest did what the source says to the end and returned or exited with this status.
    Exit(i32),
    /// The guest trapped, as recorded, with wasmtime's report.
    Trap(anyhow::Error),
    /// The host trapped at this call when the trace was recorded (the recorded message), with
    /// wasmtime's report of the unwound guest when there is one.
    HostTrap {
        message: String,
        report: Option<anyhow::Error>,
    },
    /// The guest did something else than the source says.
    Divergence(Divergence),
}

impl Ending {
    /// The exit status `proxyrt replay` gives this ending: the recorded status, 134 for a trap
    /// (as `run`), 86 for a divergence.
    pub fn exit_status(&self) -> i32 {
        match self {
            Ending::Exit(code) => *code,
            Ending::Trap(_) | Ending::HostTrap { .. } => TRAP_EXIT_CODE,
            Ending::Divergence(_) => DIVERGENCE_EXIT_CODE,
        }
    }
}

/// What a replay did.
#[derive(Debug)]
pub struct Replay {
    pub ending: Ending,
    /// The export's results in WAVE, as `run --invoke` prints them, when a `--invoke` export
    /// returned as recorded (`None` for `wasi:cli/run`).
    pub results: Option<String>,
    /// Host calls the source answered.
    pub calls: u64,
    /// Time spent answering them (in the source and showing output), measured only by a
    /// replayer that times host calls ([`Replayer::timing_host_calls`]; else zero).
    pub host_time: Duration,
    /// The guest's stdout and stderr, with [`Output::Capture`] (else empty).
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Fuel the guest consumed, when the replayer was compiled with fuel (`WasmOptions::fuel`):
    /// deterministic, the same on every replay of one build.
    pub fuel_consumed: Option<u64>,
    /// The largest size any linear memory reached, in bytes.
    pub peak_memory: usize,
}

/// Store data of a replay: the replayer host, the peak memory it watches, and the guest profiler
/// of a profiled replay.
pub struct ReplayStore {
    replayer: Option<ReplayerHost>,
    memory: PeakMemory,
    profiler: Option<GuestProfiler>,
}

/// A resource limiter that limits nothing and remembers the largest memory size asked for: a
/// replay's peak linear memory (a figure `bench` reports), at no cost but on `memory.grow`.
#[derive(Default)]
struct PeakMemory {
    peak: usize,
}

impl wasmtime::ResourceLimiter for PeakMemory {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

impl ReplayerView for ReplayStore {
    fn replayer(&mut self) -> &mut Option<ReplayerHost> {
        &mut self.replayer
    }
}

/// How the guest's export call ended, before it is checked against the source's end.
enum Outcome {
    /// The export returned: exit status `code` (0, or 1 for `wasi:cli/run` returning `err`), and
    /// the results to print, as `run --invoke` does (`None` for `wasi:cli/run`).
    Returned { code: i32, shown: Option<String> },
    /// The guest trapped on its own, with wasmtime's report.
    Trapped(anyhow::Error),
    /// A host call or proxyrt itself stopped the run with this error (the replayer host says why
    /// if a host call did).
    Stopped(anyhow::Error),
}

impl Replayer {
    /// The component's imports and exports.
    pub fn interfaces(&self) -> &Interfaces {
        &self.interfaces
    }

    /// The path of the component it was compiled from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the guest replays with stubs spliced inside its own core modules (`--layout
    /// auto` picked, or was told, `spliced`), rather than through a composed proxy: the two cost
    /// differently per host call, which a comparison of builds must not mix up.
    pub fn is_spliced(&self) -> bool {
        self.spliced
    }

    /// This replayer, measuring the time its host spends answering ([`Replay::host_time`]: what
    /// a benchmark subtracts to isolate the guest's own time).
    pub fn timing_host_calls(mut self) -> Self {
        self.timed = true;
        self
    }

    /// Replays the guest once against `source`, showing its output as `output` says. An error is
    /// a replay that could not be carried out: the source cannot be read (a cut or corrupt trace)
    /// or proxyrt failed; a divergence is not an error but an [`Ending`].
    pub async fn replay(
        &self,
        source: impl HostResults + 'static,
        output: Output,
    ) -> Result<Replay> {
        Ok(self.run(source, output, None, None).await?.0)
    }

    /// Completes the report `d` of a divergence at the guest's end (it returned or ended
    /// otherwise than recorded, so no stack was left to capture) with where it made its last call,
    /// the `calls`-th, by replaying `source` (the same trace) again up to it. Nothing to do for
    /// a divergence that has its backtrace, or a guest that made no call.
    pub async fn locate_ending(
        &self,
        d: &mut Divergence,
        calls: u64,
        source: impl HostResults + 'static,
    ) -> Result<()> {
        if !d.backtrace.is_empty() || calls == 0 {
            return Ok(());
        }
        d.backtrace = self.locate_call(source, calls).await?;
        if !d.backtrace.is_empty() {
            d.backtrace_of = Some("its last host call, before it ended".into());
        }
        Ok(())
    }

    /// Where the guest makes its host call number `call` (1 for the first) when replayed against
    /// `source`: its backtrace there, found by replaying it again (deterministic) up to that call.
    /// For a divergence at the guest's end ([`Divergence::backtrace`] empty: it had returned),
    /// the place of its last call, [`Replay::calls`], is where it went another way.
    pub async fn locate_call(
        &self,
        source: impl HostResults + 'static,
        call: u64,
    ) -> Result<Vec<Frame>> {
        let (_, _, located) = self.run(source, Output::Discard, None, Some(call)).await?;
        Ok(located)
    }

    /// [`Self::replay`], sampled by wasmtime's guest profiler every `interval`: the replay and its
    /// profile (write it with `GuestProfiler::finish`: the Firefox profiler's format). The replayer
    /// must be compiled with `WasmOptions::epoch_interruption`, the profiler's clock.
    pub async fn replay_profiled(
        &self,
        source: impl HostResults + 'static,
        output: Output,
        interval: Duration,
    ) -> Result<(Replay, GuestProfiler)> {
        let name = crate::load::file_label(&self.path);
        let profiler =
            GuestProfiler::new_component(&self.engine, &name, interval, self.component.clone(), [])
                .map_err(anyhow::Error::from)?;
        // The epoch ticks that make the store sample; stopped when the replay is over.
        let ticking = Arc::new(AtomicBool::new(true));
        let ticker = {
            let (engine, ticking) = (self.engine.clone(), ticking.clone());
            std::thread::spawn(move || {
                while ticking.load(Ordering::Relaxed) {
                    std::thread::sleep(interval);
                    engine.increment_epoch();
                }
            })
        };
        let replayed = self.run(source, output, Some(profiler), None).await;
        ticking.store(false, Ordering::Relaxed);
        let _ = ticker.join();
        let (replay, profiler, _) = replayed?;
        Ok((
            replay,
            profiler.context("internal error: the profiler is gone")?,
        ))
    }

    /// One replay; with `profiler`, sampled at every epoch tick, and handed back; with `locate`,
    /// the guest's backtrace at that call.
    async fn run(
        &self,
        source: impl HostResults + 'static,
        output: Output,
        profiler: Option<GuestProfiler>,
        locate: Option<u64>,
    ) -> Result<(Replay, Option<GuestProfiler>, Vec<Frame>)> {
        // The source's copy of the interfaces when it has the same (a trace's header: decoded
        // anyway), so that a replay need not decode the composition cache's.
        let info = match source.interfaces() {
            Some((sha256, info)) if sha256 == self.interfaces.sha256() => info.clone(),
            _ => self.interfaces.get()?.clone(),
        };
        let mut host = ReplayerHost::new(Box::new(source), OutputMirror::new(&info, output));
        if let Some(call) = locate {
            host.locate(call);
        }
        if self.timed {
            host.time_calls();
        }
        let profiling = profiler.is_some();
        let mut store = Store::new(
            &self.engine,
            ReplayStore {
                replayer: Some(host),
                memory: PeakMemory::default(),
                profiler,
            },
        );
        store.limiter(|s| &mut s.memory);
        if profiling {
            let mut last = Instant::now();
            store.set_epoch_deadline(1);
            store.epoch_deadline_callback(move |mut ctx| {
                if let Some(mut profiler) = ctx.data_mut().profiler.take() {
                    profiler.sample(&ctx, last.elapsed());
                    ctx.data_mut().profiler = Some(profiler);
                }
                last = Instant::now();
                Ok(UpdateDeadline::Continue(1))
            });
        }
        if let Some(fuel) = self.fuel {
            store.set_fuel(fuel).map_err(anyhow::Error::from)?;
        }
        let outcome = self.execute(&mut store, &info).await;
        let fuel_consumed = match self.fuel {
            Some(fuel) => Some(fuel.saturating_sub(store.get_fuel().map_err(anyhow::Error::from)?)),
            None => None,
        };
        let data = store.into_data();
        let peak_memory = data.memory.peak;
        let profiler = data.profiler;
        let mut host = data
            .replayer
            .context("internal error: the replayer is gone")?;
        host.output().flush();
        let (mut ending, shown) = match (outcome, host.take_stop()) {
            (Outcome::Stopped(e), Some(stop)) => (stop_ending(stop, Some(e))?, None),
            (_, Some(stop)) => (stop_ending(stop, None)?, None),
            (Outcome::Stopped(e), None) => return Err(e),
            (Outcome::Returned { code, shown }, None) => {
                match host.source().finish(&Finish::Returned(code)) {
                    Ok(()) => (Ending::Exit(code), shown),
                    Err(stop) => (stop_ending(stop, None)?, None),
                }
            }
            (Outcome::Trapped(e), None) => {
                let finish = Finish::Trapped(e.root_cause().to_string());
                match host.source().finish(&finish) {
                    Ok(()) => (Ending::Trap(e), None),
                    Err(Stop::Divergence(mut d)) => {
                        // A trap where the recorded run had none: where it trapped.
                        if let Some(trace) = e.downcast_ref::<wasmtime::WasmBacktrace>() {
                            d.backtrace = backtrace::frames(trace, false);
                        }
                        (Ending::Divergence(*d), None)
                    }
                    Err(stop) => (stop_ending(stop, Some(e))?, None),
                }
            }
        };
        if let Ending::Divergence(d) = &mut ending {
            // What the guest had written: the recorded output up to the divergence.
            let ((out, out_total), (err, err_total)) = host.output().tails();
            (d.stdout_tail, d.stdout_total) = (out, out_total);
            (d.stderr_tail, d.stderr_total) = (err, err_total);
        }
        host.output().flush();
        let (calls, host_time) = host.counts();
        let located = host.located();
        let (stdout, stderr) = host.into_output().into_captured();
        let replay = Replay {
            ending,
            results: shown,
            calls,
            host_time,
            stdout,
            stderr,
            fuel_consumed,
            peak_memory,
        };
        Ok((replay, profiler, located))
    }

    /// Instantiates the replay composition and makes the export call the source has the host
    /// make, with the recorded arguments, checking its results against the recorded ones.
    async fn execute(&self, store: &mut Store<ReplayStore>, info: &ComponentInfo) -> Outcome {
        let path = &self.path;
        let instance = match self
            .linker
            .instantiate_async(&mut *store, &self.component)
            .await
        {
            Ok(instance) => instance,
            Err(e) => {
                return ended(
                    store,
                    e,
                    &format!("failed to instantiate {}", path.display()),
                )
            }
        };
        let begun = match store.data_mut().replayer.as_mut() {
            Some(host) => host.source().begin_export(),
            None => return Outcome::Stopped(anyhow!("internal error: the replayer is gone")),
        };
        let (id, args) = match begun {
            Ok(call) => call,
            Err(stop) => return stopped(store, stop),
        };
        let Some(export) = info.exports().nth(id as usize) else {
            return Outcome::Stopped(anyhow!("internal error: export {id} vanished"));
        };
        let name = export.qualified_name();
        let (func, params) = match self.prepare(
            export.interface,
            &export.function.name,
            &info.recorded_params(&export),
            &args,
        ) {
            Ok(prepared) => prepared,
            Err(e) => {
                let e = e.context(format!("cannot replay the call of export `{name}`"));
                return stopped(store, Stop::Unreadable(e));
            }
        };
        let results = match func.call(store, &instance, &params).await {
            Ok(results) => results,
            Err(e) => return ended(store, e, &format!("failed to replay {}", path.display())),
        };
        let mut encoded = Vec::new();
        if let (Some(value), Some(ty)) = (results.first(), &export.function.result) {
            if let Err(e) = encode(value, ty, &mut encoded) {
                return Outcome::Stopped(anyhow!(
                    "cannot encode the results of export `{name}`: {e}"
                ));
            }
        }
        let checked = match store.data_mut().replayer.as_mut() {
            Some(host) => host.source().end_export(&encoded),
            None => return Outcome::Stopped(anyhow!("internal error: the replayer is gone")),
        };
        if let Err(stop) = checked {
            return stopped(store, stop);
        }
        let is_run = export
            .interface
            .is_some_and(|i| i.starts_with("wasi:cli/run@"))
            && export.function.name == "run";
        if is_run {
            let failed = matches!(results.first(), Some(Val::Result(Err(_))));
            return Outcome::Returned {
                code: i32::from(failed),
                shown: None,
            };
        }
        Outcome::Returned {
            code: 0,
            shown: Some(engine::display(&results)),
        }
    }

    /// The export `func` of `interface`, and the recorded arguments `args` (of `types`) as its
    /// values.
    fn prepare(
        &self,
        interface: Option<&str>,
        func: &str,
        types: &[recorder_host::types::ValueType],
        args: &[u8],
    ) -> Result<(Export, Vec<Val>)> {
        let export = Export::named(&self.component, interface, func)?;
        let values = Decoder::decode_all(args, types).context("the recorded arguments")?;
        let params = export
            .param_types
            .iter()
            .zip(&values)
            .map(|(ty, value)| convert::<_, Val>(value, ty).map_err(|e| anyhow!(e)))
            .collect::<Result<Vec<Val>>>()
            .context("the recorded arguments")?;
        Ok((export, params))
    }
}

/// Where in the guest `trap` (an [`Ending::Trap`]'s report) happened: its frames, innermost
/// first (empty when wasmtime gave no backtrace).
pub fn trap_frames(trap: &anyhow::Error) -> Vec<Frame> {
    trap.downcast_ref::<wasmtime::WasmBacktrace>()
        .map(|trace| backtrace::frames(trace, false))
        .unwrap_or_default()
}

/// The ending of a replay that `stop` stopped; `report` is wasmtime's error from the unwound guest.
fn stop_ending(stop: Stop, report: Option<anyhow::Error>) -> Result<Ending> {
    Ok(match stop {
        Stop::Exit(code) => Ending::Exit(code),
        Stop::HostTrap(message) => Ending::HostTrap { message, report },
        Stop::Divergence(d) => Ending::Divergence(*d),
        Stop::Unreadable(e) => return Err(e),
    })
}

/// The replay stops at `stop`, which [`Replayer::replay`] reports.
fn stopped(store: &mut Store<ReplayStore>, stop: Stop) -> Outcome {
    match store.data_mut().replayer.as_mut() {
        Some(host) => Outcome::Stopped(anyhow!("{}", host.stop(stop))),
        None => Outcome::Stopped(anyhow!("internal error: the replayer is gone")),
    }
}

/// Sorts an error out of the guest's execution: a host call stopped it, the guest trapped or exited,
/// or proxyrt failed (`doing` says at what).
fn ended(store: &Store<ReplayStore>, e: wasmtime::Error, doing: &str) -> Outcome {
    if store
        .data()
        .replayer
        .as_ref()
        .is_some_and(ReplayerHost::is_stopped)
    {
        return Outcome::Stopped(anyhow::Error::from(e));
    }
    match exit::Ending::from_error(e) {
        Ok(exit::Ending::Trap(e)) => Outcome::Trapped(e),
        Ok(exit::Ending::Exit(code)) => Outcome::Returned { code, shown: None },
        Err(e) => Outcome::Stopped(e.context(doing.to_string())),
    }
}

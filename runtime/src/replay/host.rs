//! The replayer host: proxyrt's implementation of `proxyrt:recorder/replayer@0.1.0`, the one
//! interface a replay-mode composition imports. Like the hosts in [`crate::hosts`] it is a piece of
//! its own, reached through a view trait ([`ReplayerView`]); it lives here because it is made of
//! the replay's parts (the source, the output mirror) and knows no other host. Its function `next(func-id, args) -> results`
//! receives every host call the guest makes, encoded exactly as `record` encoded it; the host
//! asks its [`HostResults`] source for the answer, shows the guest's output ([`OutputMirror`]) and
//! counts the calls and the time spent answering them (the host's share of a replay, which is the
//! same for every build of a program: what a benchmark subtracts to isolate the guest's own code).

use super::divergence::Frame;
use super::output::OutputMirror;
use super::source::{HostResults, Stop};
use anyhow::Result;
use std::time::{Duration, Instant};
use wasmtime::component::{Linker, WasmList};
use wasmtime::StoreContextMut;

/// The replayer interface's instance name, as the replay proxy imports it.
pub const INTERFACE: &str = "proxyrt:recorder/replayer@0.1.0";

/// The state of the replayer host for one replay.
pub struct ReplayerHost {
    source: Box<dyn HostResults>,
    output: OutputMirror,
    /// Why the replay stopped, when a host call stopped it.
    stopped: Option<Stop>,
    /// Host calls answered.
    calls: u64,
    /// Time spent answering them, when timed ([`Self::time_calls`]): two clock reads a call,
    /// which cost more than answering a small call, so only a benchmark pays for them.
    host_time: Option<Duration>,
    /// Capture the guest's backtrace when it makes call number N (1 for the first call).
    locate: Option<u64>,
    /// The backtrace captured there.
    located: Vec<Frame>,
}

/// Store data that holds a [`ReplayerHost`]: the replayer host reaches it through this view.
pub trait ReplayerView: Send {
    /// The replayer's slot. The host takes it out for each call (so that it can read the guest's
    /// arguments in place in the proxy's memory) and puts it back.
    fn replayer(&mut self) -> &mut Option<ReplayerHost>;
}

impl ReplayerHost {
    pub fn new(source: Box<dyn HostResults>, output: OutputMirror) -> Self {
        ReplayerHost {
            source,
            output,
            stopped: None,
            calls: 0,
            host_time: None,
            locate: None,
            located: Vec::new(),
        }
    }

    /// Answers the guest's call of `func` with `args` from the source and shows its output.
    pub fn answer(&mut self, func: u32, args: &[u8]) -> Result<Vec<u8>, Stop> {
        let start = self.host_time.map(|_| Instant::now());
        let answer = self.source.call(func, args);
        if let Ok(results) = &answer {
            self.calls += 1;
            self.output.observe(func, args, results);
        }
        if let (Some(total), Some(start)) = (&mut self.host_time, start) {
            *total += start.elapsed();
        }
        answer
    }

    /// Times the calls from now on ([`Self::counts`]).
    pub fn time_calls(&mut self) {
        self.host_time.get_or_insert(Duration::ZERO);
    }

    /// The source, for the replay driver's export and end checks.
    pub fn source(&mut self) -> &mut dyn HostResults {
        &mut *self.source
    }

    /// Remembers why the replay stops (the first reason wins); returns the message to unwind with.
    pub fn stop(&mut self, stop: Stop) -> String {
        let message = stop.message();
        self.stopped.get_or_insert(stop);
        message
    }

    /// Why the replay stopped, if a host call or the driver stopped it.
    pub fn take_stop(&mut self) -> Option<Stop> {
        self.stopped.take()
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.is_some()
    }

    pub fn output(&mut self) -> &mut OutputMirror {
        &mut self.output
    }

    /// Has the guest's backtrace captured when it makes call number `call` (1 for the first):
    /// where a guest that ends differently made its last call ([`Self::located`]).
    pub fn locate(&mut self, call: u64) {
        self.locate = Some(call);
    }

    /// The backtrace [`Self::locate`] asked for (empty if the guest made no such call).
    pub fn located(&mut self) -> Vec<Frame> {
        std::mem::take(&mut self.located)
    }

    /// Host calls answered so far, and the time spent answering them (zero unless timed).
    pub fn counts(&self) -> (u64, Duration) {
        (self.calls, self.host_time.unwrap_or_default())
    }

    /// Ends the replay: what was captured of the guest's output.
    pub fn into_output(self) -> OutputMirror {
        self.output
    }
}

/// Defines `proxyrt:recorder/replayer@0.1.0` in `linker`.
pub fn add_to_linker<T: ReplayerView + 'static>(linker: &mut Linker<T>) -> Result<()> {
    let mut inst = linker.instance(INTERFACE).map_err(anyhow::Error::from)?;
    inst.func_wrap(
        "next",
        |mut store: StoreContextMut<'_, T>,
         (func, args): (u32, WasmList<u8>)|
         -> wasmtime::Result<(Vec<u8>,)> {
            let mut host = store.data_mut().replayer().take().ok_or_else(|| {
                wasmtime::format_err!("the replayer was called outside of a replay")
            })?;
            let answer = host.answer(func, args.as_le_slice(&store));
            let result = match answer {
                Ok(results) => {
                    if host.locate == Some(host.calls) {
                        host.located = super::backtrace::capture(&store);
                    }
                    Ok((results,))
                }
                Err(Stop::Divergence(mut d)) => {
                    // Where the guest is: only now, at the divergence, is the stack walked.
                    d.backtrace = super::backtrace::capture(&store);
                    let stop = Stop::Divergence(d);
                    Err(wasmtime::format_err!("{}", host.stop(stop)))
                }
                Err(stop) => Err(wasmtime::format_err!("{}", host.stop(stop))),
            };
            *store.data_mut().replayer() = Some(host);
            result
        },
    )
    .map_err(anyhow::Error::from)?;
    Ok(())
}

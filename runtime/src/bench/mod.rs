//! Benchmarking builds of a program on one recorded execution (`proxyrt bench`), as a library.
//!
//! Every build replays the same trace, so every build gets exactly the same inputs and the host's
//! noise (disk, network, clocks) is out of the measurement. Each build is compiled once; every
//! round is a fresh instance replaying the whole trace. Rounds alternate between the builds in an
//! ABBA order (forward, then backward, ...), which cancels a linear drift of the machine's speed.
//! Each round gives a **wall time** and a **guest time**: the wall time minus the time the replayer
//! host spent answering the guest's calls, which is the same work for every build, so the guest
//! time isolates the guest's own code. **Fuel** (wasmtime's count of executed operators) is
//! measured once per build in a separate replay compiled with fuel metering, since metering
//! changes the code's speed; it is deterministic, so one replay gives it exactly. That replay also
//! checks that the build follows the trace before any round is timed.

pub mod plot;
pub mod report;
pub mod stats;

use crate::cache::Cache;
use crate::engine::WasmOptions;
use crate::identity;
use crate::load;
use crate::replay::{Divergence, Ending, Output, Replay, Replayable, Replayer, TraceSource};
use anyhow::{bail, Context, Result};
use recorder_host::trace::Header;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The fuel a metered replay starts with: more than any replay consumes, well inside the range
/// wasmtime keeps fuel in.
const FUEL: u64 = u64::MAX >> 2;

/// No build is replayed more often than this without `--rounds`.
pub const MAX_ROUNDS: usize = 10_000;

/// When to stop measuring.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchOptions {
    /// Exactly this many timed rounds per build; `None`: until [`Self::time`] has passed and each
    /// build has at least [`Self::min_rounds`] rounds (or [`MAX_ROUNDS`]).
    pub rounds: Option<usize>,
    pub time: Duration,
    pub min_rounds: usize,
    /// Untimed rounds per build before the timed ones.
    pub warmup: usize,
}

impl Default for BenchOptions {
    /// hyperfine's defaults: at least 10 rounds and at least 3 seconds; one warm-up round.
    fn default() -> Self {
        BenchOptions {
            rounds: None,
            time: Duration::from_secs(3),
            min_rounds: 10,
            warmup: 1,
        }
    }
}

/// One build, compiled for timing and for fuel metering.
pub struct Build {
    pub path: PathBuf,
    /// How reports name it: its file name.
    pub label: String,
    /// The component's size in bytes.
    pub size: u64,
    /// Time to compile the replay composition (without the cache).
    pub compile: Duration,
    timed: Replayer,
    metered: Replayer,
    /// For compiling the profiled replayer, when asked for one.
    replayable: Replayable,
}

/// What the metered replay of a build found: it follows the trace, or where it does not.
pub enum Check {
    Follows(Replay),
    Diverges(Divergence),
}

/// The timed samples of one build, in milliseconds, in round order.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    pub wall_ms: Vec<f64>,
    pub guest_ms: Vec<f64>,
}

impl Build {
    /// Whether it replays with stubs spliced inside it ([`Replayer::is_spliced`]).
    pub fn is_spliced(&self) -> bool {
        self.timed.is_spliced()
    }

    /// Loads the component at `path` for replaying the trace at `trace` (whose header is
    /// `header`), its replay put in as `layout` says: refused if it is not a build of the
    /// recorded program.
    pub fn load(
        path: &Path,
        header: &Header,
        trace: &Path,
        layout: proxy_gen::Layout,
        cache: Option<&Cache>,
    ) -> Result<Self> {
        let original = load::read_binary_component(path, "bench")?;
        let replayable = Replayable::new(&original, path, layout, cache)?;
        identity::check(
            header,
            replayable.interfaces().sha256(),
            replayable.original_sha256(),
            path,
            trace,
        )?;
        let start = Instant::now();
        let timed = replayable
            .compile(&WasmOptions::default(), None)?
            .timing_host_calls();
        let compile = start.elapsed();
        // The check's replay: the one that reports a divergence, with source lines.
        let metered = replayable.compile(
            &WasmOptions {
                fuel: Some(FUEL),
                backtrace_details: true,
                ..WasmOptions::default()
            },
            cache,
        )?;
        let label = load::file_label(path);
        Ok(Build {
            path: path.to_path_buf(),
            label,
            size: original.len() as u64,
            compile,
            timed,
            metered,
            replayable,
        })
    }

    /// Replays the trace once under wasmtime's guest profiler (a sample every `interval`) and
    /// writes the profile to `out` (the Firefox profiler's format: open it at
    /// <https://profiler.firefox.com>). Two builds' profiles are of one identical execution.
    pub async fn profile(
        &self,
        trace: &Path,
        interval: Duration,
        cache: Option<&Cache>,
        out: &Path,
    ) -> Result<()> {
        let options = WasmOptions {
            epoch_interruption: true,
            ..WasmOptions::default()
        };
        let replayer = self.replayable.compile(&options, cache)?;
        let (replay, profiler) = replayer
            .replay_profiled(TraceSource::open(trace)?, Output::Discard, interval)
            .await?;
        if let Ending::Divergence(d) = replay.ending {
            bail!(
                "{} diverged from the trace while profiled:\n{d}",
                self.label
            );
        }
        let file = std::fs::File::create(out)
            .with_context(|| format!("cannot create the profile {}", out.display()))?;
        profiler
            .finish(std::io::BufWriter::new(file))
            .map_err(anyhow::Error::from)
            .with_context(|| format!("cannot write the profile {}", out.display()))
    }

    /// Replays the trace once with fuel metering: the build's fuel, peak memory and call count,
    /// or the divergence that keeps it from being benchmarked.
    pub async fn check(&self, trace: &Path) -> Result<Check> {
        let replay = self
            .metered
            .replay(TraceSource::open(trace)?, Output::Discard)
            .await?;
        Ok(match replay.ending {
            Ending::Divergence(mut d) => {
                self.metered
                    .locate_ending(&mut d, replay.calls, TraceSource::open(trace)?)
                    .await?;
                Check::Diverges(d)
            }
            _ => Check::Follows(replay),
        })
    }

    /// One timed round: (wall, guest) time of a full replay of the trace.
    async fn round(&self, trace: &Path) -> Result<(Duration, Duration)> {
        let source = TraceSource::open(trace)?;
        let start = Instant::now();
        let replay = self.timed.replay(source, Output::Discard).await?;
        let wall = start.elapsed();
        if let Ending::Divergence(d) = replay.ending {
            bail!(
                "{} diverged from the trace in a timed round:\n{d}",
                self.label
            );
        }
        Ok((wall, wall.saturating_sub(replay.host_time)))
    }
}

/// Times `builds` replaying `trace` as `options` say, in ABBA order; `progress` hears of every
/// finished round of all builds (rounds done per build, time spent timing).
pub async fn measure(
    builds: &[Build],
    trace: &Path,
    options: &BenchOptions,
    mut progress: impl FnMut(usize, Duration),
) -> Result<Vec<Samples>> {
    for build in builds {
        for _ in 0..options.warmup {
            build.round(trace).await?;
        }
    }
    let mut samples = vec![Samples::default(); builds.len()];
    let start = Instant::now();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for block in 0.. {
        let done = block;
        let stop = match options.rounds {
            Some(rounds) => done >= rounds,
            None => {
                done >= MAX_ROUNDS
                    || (done >= options.min_rounds && start.elapsed() >= options.time)
            }
        };
        if stop {
            break;
        }
        let order: Vec<usize> = if block % 2 == 0 {
            (0..builds.len()).collect()
        } else {
            (0..builds.len()).rev().collect()
        };
        for i in order {
            let (wall, guest) = builds[i].round(trace).await?;
            samples[i].wall_ms.push(ms(wall));
            samples[i].guest_ms.push(ms(guest));
        }
        progress(done + 1, start.elapsed());
    }
    Ok(samples)
}

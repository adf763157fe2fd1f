//! Corpus replay: many traces replayed against one build, in parallel, each classified.
//!
//! What teams record traces for once they have more than one: a new build checked against every
//! trace ever recorded (CI runs, bug reports, the requests of a `serve --record`). The component is
//! instrumented and compiled once ([`Replayer`]); each trace gets a fresh store. Replays run on
//! `jobs` threads, each with a current-thread tokio runtime of its own (a replay's store is not
//! `Send`, and a replay is CPU-bound), pulling the next trace from a shared counter, so memory is
//! flat per worker whatever the corpus's size.
//!
//! A trace is found by its content, not its name: every file under a directory that starts with
//! the trace magic (`recorder_host::trace::MAGIC`), in path order (a service's
//! `request-NNNNNN.trace` files sort in arrival order).

pub mod report;

use crate::replay::{Divergence, Ending, Output, Replayer, TraceSource};
use anyhow::{Context, Result};
use recorder_host::trace::{HttpRequestLine, MAGIC};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How one trace replayed.
#[derive(Debug)]
pub enum Outcome {
    /// The guest did what the trace says, to the recorded end (this exit status).
    Passed { status: i32 },
    /// The guest diverged from the trace.
    Diverged(Box<Divergence>),
    /// The trace was recorded from another program: not a divergence of this one.
    OtherProgram(String),
    /// The trace cannot be used (cut, corrupt, not a trace).
    Unreadable(String),
}

/// One trace's result.
#[derive(Debug)]
pub struct TraceResult {
    /// The trace.
    pub trace: PathBuf,
    pub outcome: Outcome,
    /// Host calls answered.
    pub calls: u64,
    /// Wall time of its replay.
    pub time: Duration,
    /// The HTTP request it recorded, for a trace of `serve --record`.
    pub request: Option<HttpRequestLine>,
}

/// How to replay a corpus.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Replays at once (at least 1).
    pub jobs: usize,
    /// Start no new replay once one diverged.
    pub fail_fast: bool,
}

/// The traces `paths` name: files as given, and under each directory (recursively) every file
/// that starts with the trace magic, in path order.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found)?;
            found.sort();
            out.extend(found);
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the directory {}", dir.display()))?;
    for entry in entries {
        let entry =
            entry.with_context(|| format!("cannot read the directory {}", dir.display()))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .with_context(|| format!("cannot read {}", path.display()))?;
        if kind.is_dir() {
            walk(&path, out)?;
        } else if kind.is_file() && is_trace(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// Whether the file at `path` starts with the trace magic.
fn is_trace(path: &Path) -> bool {
    let mut magic = [0u8; MAGIC.len()];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| &magic == MAGIC)
}

/// Replays every trace of `traces` on `replayer` (compiled from the component `original`), as
/// `options` say; calls `done` with each result as it comes (from the worker threads) and
/// returns them all in the order of `traces` (those not started after a `fail_fast` stop are
/// missing).
pub fn replay_all(
    replayer: &Replayer,
    traces: &[PathBuf],
    options: Options,
    done: &(dyn Fn(&TraceResult) + Sync),
) -> Result<Vec<TraceResult>> {
    let interfaces = replayer.info().interface_sha256()?;
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let results = Mutex::new(Vec::new());
    let jobs = options.jobs.clamp(1, traces.len().max(1));
    std::thread::scope(|scope| -> Result<()> {
        let mut workers = Vec::new();
        for _ in 0..jobs {
            workers.push(scope.spawn(|| -> Result<()> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("cannot start a replay worker's runtime")?;
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(trace) = traces.get(i) else {
                        return Ok(());
                    };
                    let result = replay_one(&runtime, replayer, &interfaces, trace);
                    if options.fail_fast && matches!(result.outcome, Outcome::Diverged(_)) {
                        stop.store(true, Ordering::Relaxed);
                    }
                    done(&result);
                    results
                        .lock()
                        .map_err(|_| anyhow::anyhow!("a replay worker panicked"))?
                        .push((i, result));
                }
            }));
        }
        for worker in workers {
            worker
                .join()
                .map_err(|_| anyhow::anyhow!("a replay worker panicked"))??;
        }
        Ok(())
    })?;
    let mut results = results
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a replay worker panicked"))?;
    results.sort_by_key(|(i, _)| *i);
    Ok(results.into_iter().map(|(_, r)| r).collect())
}

/// Replays `trace`, its guest's output discarded (many replays run at once).
fn replay_one(
    runtime: &tokio::runtime::Runtime,
    replayer: &Replayer,
    interfaces: &[u8; 32],
    trace: &Path,
) -> TraceResult {
    let start = Instant::now();
    let mut result = TraceResult {
        trace: trace.to_path_buf(),
        outcome: Outcome::Passed { status: 0 },
        calls: 0,
        time: Duration::ZERO,
        request: None,
    };
    result.outcome = match TraceSource::open(trace) {
        Err(e) => Outcome::Unreadable(format!("{e:#}")),
        Ok(source) if &source.header().interface_sha256 != interfaces => {
            Outcome::OtherProgram(format!(
                "the trace {} was recorded from another program (its imports and exports differ; \
                 the trace's argv was {:?})",
                trace.display(),
                source.header().argv
            ))
        }
        Ok(source) => {
            result.request = source.header().request.clone();
            match runtime.block_on(replayer.replay(source, Output::Discard)) {
                Err(e) => Outcome::Unreadable(format!("{e:#}")),
                Ok(replay) => {
                    result.calls = replay.calls;
                    match replay.ending {
                        Ending::Divergence(mut d) => {
                            // Where a guest that ended otherwise made its last call: a second,
                            // partial replay; a failure there leaves the report without it.
                            if let Ok(source) = TraceSource::open(trace) {
                                let _ = runtime.block_on(replayer.locate_ending(
                                    &mut d,
                                    replay.calls,
                                    source,
                                ));
                            }
                            Outcome::Diverged(Box::new(d))
                        }
                        other => Outcome::Passed {
                            status: other.exit_status(),
                        },
                    }
                }
            }
        }
    };
    result.time = start.elapsed();
    result
}

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

use crate::identity;
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

/// A trace of a corpus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Where it is.
    pub path: PathBuf,
    /// Its name in the corpus: its path relative to the directory it was found under (`/` between
    /// components), or the path as given. The same on every machine that has the corpus, wherever
    /// it is: what `--partition hash:` hashes.
    pub name: String,
}

/// The traces `paths` name: files as given, and under each directory (recursively) every file
/// that starts with the trace magic, in path order.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<Found>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found)?;
            found.sort();
            out.extend(found.into_iter().map(|p| {
                let name = p
                    .strip_prefix(path)
                    .unwrap_or(&p)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                Found { path: p, name }
            }));
        } else if path.exists() {
            out.push(Found {
                path: path.clone(),
                name: path.display().to_string(),
            });
        } else {
            anyhow::bail!("no trace or directory {}", path.display());
        }
    }
    Ok(out)
}

/// A share of a corpus, selected as cargo-nextest's `--partition` selects tests, so that a CI
/// matrix or a Kubernetes Indexed Job runs N shards on N machines: `hash:K/N` keeps the traces
/// whose name ([`Found::name`]) hashes to shard K (stable when traces are added or removed),
/// `count:K/N` every N-th trace in path order, from the K-th. K counts from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    Hash { shard: u64, total: u64 },
    Count { shard: u64, total: u64 },
}

impl std::str::FromStr for Partition {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad =
            || format!("`{s}` is not a partition: write `hash:K/N` or `count:K/N` (1 <= K <= N)");
        let (kind, share) = s.split_once(':').ok_or_else(bad)?;
        let (k, n) = share.split_once('/').ok_or_else(bad)?;
        let (shard, total): (u64, u64) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if shard == 0 || shard > total {
            return Err(bad());
        }
        match kind {
            "hash" => Ok(Partition::Hash { shard, total }),
            "count" => Ok(Partition::Count { shard, total }),
            _ => Err(bad()),
        }
    }
}

impl Partition {
    /// The traces of `traces` in this share, in their order.
    pub fn select(&self, traces: Vec<Found>) -> Vec<Found> {
        match *self {
            Partition::Count { shard, total } => traces
                .into_iter()
                .enumerate()
                .filter(|(i, _)| *i as u64 % total == shard - 1)
                .map(|(_, t)| t)
                .collect(),
            Partition::Hash { shard, total } => traces
                .into_iter()
                .filter(|t| name_hash(&t.name) % total == shard - 1)
                .collect(),
        }
    }
}

/// The first 8 bytes of the SHA-256 of `name`: the same on every machine and in every release.
fn name_hash(name: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(name.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
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
    traces: &[Found],
    options: Options,
    done: &(dyn Fn(&TraceResult) + Sync),
) -> Result<Vec<TraceResult>> {
    let interfaces = *replayer.interfaces().sha256();
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
                    let result = replay_one(&runtime, replayer, &interfaces, &trace.path);
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
        Ok(source) if &source.header().interface_sha256 != interfaces => Outcome::OtherProgram(
            identity::other_program(source.header(), replayer.path(), trace),
        ),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(n: usize) -> Vec<Found> {
        (0..n)
            .map(|i| Found {
                path: PathBuf::from(format!("/somewhere/t{i}.bin")),
                name: format!("t{i}.bin"),
            })
            .collect()
    }

    /// The shards of either kind are disjoint and together are the corpus; `count:` splits it
    /// evenly; a bad spec is an error.
    #[test]
    fn partitions_split_a_corpus() {
        let all = corpus(50);
        for kind in ["hash", "count"] {
            let mut union = Vec::new();
            for k in 1..=3 {
                let p: Partition = format!("{kind}:{k}/3").parse().unwrap();
                let share = p.select(all.clone());
                if kind == "count" {
                    assert!(
                        share.len() == 16 || share.len() == 17,
                        "{kind} {k}: {}",
                        share.len()
                    );
                }
                assert!(!share.is_empty(), "{kind} {k}");
                union.extend(share);
            }
            union.sort_by(|a, b| a.name.cmp(&b.name));
            let mut expected = all.clone();
            expected.sort_by(|a, b| a.name.cmp(&b.name));
            assert_eq!(union, expected, "{kind}");
        }
        // The hash is of the name only: another location of the corpus picks the same traces.
        let p: Partition = "hash:2/3".parse().unwrap();
        let moved: Vec<Found> = all
            .iter()
            .map(|f| Found {
                path: PathBuf::from("/elsewhere").join(&f.name),
                name: f.name.clone(),
            })
            .collect();
        let names = |v: Vec<Found>| v.into_iter().map(|f| f.name).collect::<Vec<_>>();
        assert_eq!(names(p.select(all)), names(p.select(moved)));
        for bad in [
            "hash:0/3",
            "hash:4/3",
            "count:1",
            "slice:1/2",
            "hash:a/b",
            "3/3",
        ] {
            assert!(bad.parse::<Partition>().is_err(), "{bad}");
        }
    }
}

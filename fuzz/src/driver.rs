//! The stable driver: runs a target on its kept inputs, then on mutations of them for a bounded
//! time, from a fixed seed. Not coverage-guided (cargo-fuzz is, see `fuzz/README.md`), but it runs
//! in `cargo test` on stable, every time, on the same code the fuzzer runs.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A failing input: the target panicked on it.
#[derive(Debug)]
pub struct Finding {
    /// The input.
    pub input: Vec<u8>,
    /// The panic's message.
    pub message: String,
}

/// Longest time one input may take: longer is a finding (a loop over a count the input
/// claims, say). Generous, for debug builds on a loaded machine.
pub const SLOW: Duration = Duration::from_secs(5);

/// What a bounded run did.
#[derive(Debug, Default)]
pub struct Run {
    /// Inputs tried, kept ones included.
    pub inputs: u64,
    /// The first failing input, if any (the run stops there).
    pub finding: Option<Finding>,
}

/// How long a run goes on: `inputs` mutations, or less if `time` is spent first.
///
/// Why a count: the mutations are drawn from a seed, so a run of a given count tries the same
/// inputs on every machine, and a test that passed here passes in CI; a run bounded by time
/// only would try more inputs on a faster machine, and could fail there on one never tried
/// here. The time bounds a slow machine.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Mutations to try at most.
    pub inputs: u64,
    /// Time to spend at most.
    pub time: Duration,
}

/// Runs `target` on every input of `kept`, then on mutations of them until `budget` is spent,
/// the mutations drawn from `seed`.
pub fn run(target: crate::Target, kept: &[Vec<u8>], budget: Budget, seed: u64) -> Run {
    let mut run = Run::default();
    for input in kept {
        run.inputs += 1;
        if let Some(finding) = try_one(target, input) {
            run.finding = Some(finding);
            return run;
        }
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    let start = Instant::now();
    let empty = [Vec::new()];
    let pool: &[Vec<u8>] = if kept.is_empty() { &empty } else { kept };
    for _ in 0..budget.inputs {
        if start.elapsed() >= budget.time {
            break;
        }
        let mut input = pool[rng.usize(..pool.len())].clone();
        for _ in 0..rng.usize(1..=4) {
            mutate(&mut rng, &mut input, pool);
        }
        run.inputs += 1;
        if let Some(finding) = try_one(target, &input) {
            run.finding = Some(finding);
            return run;
        }
    }
    run
}

fn try_one(target: crate::Target, input: &[u8]) -> Option<Finding> {
    let start = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| target(input)));
    let took = start.elapsed();
    if result.is_ok() && took > SLOW {
        return Some(Finding {
            input: input.to_vec(),
            message: format!("one input took {took:.1?} (more than {SLOW:?})"),
        });
    }
    result.err().map(|panic| Finding {
        input: input.to_vec(),
        message: panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into()),
    })
}

/// Bytes a mutation writes: the edges of the integer encodings the readers parse (LEB128
/// continuation, bincode's varint markers 251-253, sign bits).
const INTERESTING: &[u8] = &[0, 1, 0x7f, 0x80, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff];

/// One random change to `input`, sometimes with bytes of another input of `pool`.
fn mutate(rng: &mut fastrand::Rng, input: &mut Vec<u8>, pool: &[Vec<u8>]) {
    let len = input.len();
    match rng.u8(..8) {
        // Flip a bit.
        0 if len > 0 => input[rng.usize(..len)] ^= 1 << rng.u8(..8),
        // An interesting or random byte somewhere.
        1 if len > 0 => {
            let b = if rng.bool() {
                INTERESTING[rng.usize(..INTERESTING.len())]
            } else {
                rng.u8(..)
            };
            input[rng.usize(..len)] = b;
        }
        // Cut the end off.
        2 if len > 0 => input.truncate(rng.usize(..len)),
        // Remove a range.
        3 if len > 0 => {
            let at = rng.usize(..len);
            let n = rng.usize(1..=(len - at).min(64));
            input.drain(at..at + n);
        }
        // Insert random bytes.
        4 => {
            let at = rng.usize(..=len);
            let n = rng.usize(1..=16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
            input.splice(at..at, bytes);
        }
        // Repeat a range.
        5 if len > 0 => {
            let at = rng.usize(..len);
            let n = rng.usize(1..=(len - at).min(256));
            let range = input[at..at + n].to_vec();
            input.splice(at..at, range);
        }
        // A little-endian u32 of an interesting size (a length prefix).
        6 if len >= 4 => {
            let at = rng.usize(..=len - 4);
            let v: u32 = [0, 1, 250, 251, 65535, 65536, 1 << 28, u32::MAX][rng.usize(..8)];
            input[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
        // Splice in part of another input.
        _ => {
            let other = &pool[rng.usize(..pool.len())];
            if !other.is_empty() {
                let from = rng.usize(..other.len());
                let n = rng.usize(1..=(other.len() - from).min(512));
                let at = rng.usize(..=len);
                input.splice(at..at, other[from..from + n].iter().copied());
            }
        }
    }
}

/// The files in `dir` (none if it does not exist), sorted by name.
pub fn inputs_in(dir: &std::path::Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| std::fs::read(&p).ok().map(|bytes| (p, bytes)))
        .collect()
}

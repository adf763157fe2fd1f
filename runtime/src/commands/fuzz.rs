//! `proxyrt fuzz [run options] [--runs N] [--time T] [--seed S] [rules] app.wasm [--] args`: runs a
//! command component many times, its host calls answered by the fuzzer ([`crate::answers`]);
//! every run is written as a trace, and a run that traps or exits with a status not in
//! `--ok-status` is a finding, kept as a trace that `proxyrt replay` reproduces with no fuzzer.

use crate::answers::rules::{Answerer, Fault, Pattern, Rules};
use crate::answers::{Session, TraceFile};
use crate::hosts::wasi::WasiConfig;
use crate::identity::short_hex;
use crate::load;
use crate::options::{ComponentAndArgs, RunOptions};
use crate::replay::{trap_frames, Ending, Output};
use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::ProgressBar;
use recorder_host::trace::Compression;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `proxyrt fuzz`.
#[derive(Args, Debug, Clone)]
#[command(after_help = "\
Each import call is answered by the fuzzer (a random value of its result type; handles it returns
are new ones, answered by the fuzzer in later calls) or by the real host, as the rules say:
  (no rule)     the fuzzer answers every call
  --fuzz P      the fuzzer answers the functions P names, the host the others
  --forward P   the host answers the functions P names
  --fault P[@RATE][=ERROR]
                calls of the functions P names that return a `result` fail at RATE (default 100%)
                with ERROR (WAVE, of the error type; default a random one), never reaching the host;
                with only --fault rules, the host answers the other calls: each run is the real
                program under other random faults
A pattern P is a package (wasi:filesystem), an interface (wasi:filesystem/types, with or without
its version), a function (wasi:filesystem/types.[method]descriptor.read) or a function's name;
`*` matches anything. A call on a handle goes to whoever made the handle, unless a rule names it.

A run that traps, or exits with a status not in --ok-status, is a finding: its trace is kept in
the findings directory, named by a hash of where it failed (findings that fail in the same place
are one), and `proxyrt replay app.wasm FINDING` reproduces it. A run that makes more than 100000
host calls is stopped (a finding). The guest's output is not shown.

Exit status: 0 when no run found anything, 1 when some did (or on an error).")]
pub struct FuzzCommand {
    /// How many runs (default: 1000, or as many as fit in --time).
    #[arg(long, value_name = "N")]
    pub runs: Option<u64>,

    /// Stop starting runs after this long: `90s`, `5m`, `1h`, `500ms`, or seconds.
    #[arg(long, value_name = "DURATION", value_parser = crate::options::parse_duration)]
    pub time: Option<Duration>,

    /// The seed of the first run (each run's is derived from it and its number): the same seed
    /// makes the same runs.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,

    /// Exit statuses that are not findings, comma-separated (1 is how programs report an error
    /// they handled).
    #[arg(
        long,
        value_name = "N,..",
        value_delimiter = ',',
        default_value = "0,1"
    )]
    pub ok_status: Vec<i32>,

    /// The fuzzer answers only the functions this pattern names (repeatable); the host the rest.
    #[arg(long = "fuzz", value_name = "PATTERN", value_parser = crate::options::parse_pattern)]
    pub fuzz: Vec<Pattern>,

    /// The real host answers the functions this pattern names (repeatable).
    #[arg(long = "forward", value_name = "PATTERN", value_parser = crate::options::parse_pattern)]
    pub forward: Vec<Pattern>,

    /// Calls of these functions fail: `PATTERN[@RATE][=ERROR]` (repeatable).
    #[arg(long = "fault", value_name = "PATTERN[@RATE][=ERROR]", value_parser = crate::options::parse_fault)]
    pub faults: Vec<Fault>,

    /// Where findings are kept.
    #[arg(long, value_name = "DIR", default_value = "fuzz-findings")]
    pub findings: PathBuf,

    #[command(flatten)]
    pub run: RunOptions,

    #[command(flatten)]
    pub component: ComponentAndArgs,
}

/// The session of `fuzz` or `dialog` (`command`): the component at `path`, as `run`'s options
/// say, under `rules`, the real host made from `wasi`.
pub(crate) fn session(
    path: &Path,
    command: &str,
    run: &RunOptions,
    rules: Rules,
    wasi: WasiConfig,
) -> Result<Session> {
    let original = load::read_binary_component(path, command)?;
    let cache = run.cache.cache();
    Session::new(
        &original,
        path,
        rules,
        run.invoke.as_deref(),
        wasi,
        &run.wasm_options()?,
        cache.as_ref(),
    )
}

/// One kind of failure, and the runs that found it.
struct Finding {
    /// What happened and where, one line.
    summary: String,
    /// The last line the guest wrote to stderr, if any (a panic's message).
    stderr: Option<String>,
    /// The trace kept.
    trace: PathBuf,
    runs: u64,
    /// Whether an earlier `fuzz` had already kept it.
    known: bool,
}

impl FuzzCommand {
    pub async fn execute(self) -> Result<i32> {
        let path = self.component.wasm_path()?;
        let argv = self.run.guest_argv(&path, self.component.guest_args())?;
        if self.runs == Some(0) {
            bail!("`--runs` needs at least 1");
        }
        let mut wasi = self.run.wasi_config(argv)?;
        // Many runs: the host's side of the guest's stdio is not the terminal's.
        wasi.options.inherit_stdin.get_or_insert(false);
        wasi.options.inherit_stdout.get_or_insert(false);
        wasi.options.inherit_stderr.get_or_insert(false);
        let rules = Rules {
            // No rule: fuzz everything. With `--fuzz` or `--fault`, the host answers the rest:
            // fuzzing chosen calls, or the real program under random faults.
            default: if self.fuzz.is_empty() && self.faults.is_empty() {
                Answerer::Fuzzer
            } else {
                Answerer::Host
            },
            made_up: Answerer::Fuzzer,
            forward: self.forward.clone(),
            fuzz: self.fuzz.clone(),
            faults: self.faults.clone(),
        };
        let session = session(&path, "fuzz", &self.run, rules, wasi)?;
        std::fs::create_dir_all(&self.findings).with_context(|| {
            format!(
                "cannot create the findings directory {}",
                self.findings.display()
            )
        })?;
        let scratch = self
            .findings
            .join(format!(".run-{}.trace", std::process::id()));
        let runs = match (self.runs, self.time) {
            (Some(n), _) => n,
            (None, Some(_)) => u64::MAX,
            (None, None) => 1000,
        };
        let trace = TraceFile {
            path: &scratch,
            compression: Compression::Zstd,
        };
        let bar = progress_bar(self.runs.or(self.time.is_none().then_some(1000)));
        let start = Instant::now();
        let mut findings: BTreeMap<String, Finding> = BTreeMap::new();
        let mut done = 0;
        let mut calls = 0;
        while done < runs && self.time.is_none_or(|t| start.elapsed() < t) {
            let seed = run_seed(self.seed, done);
            let (replay, counts) = session
                .run(seed, None, &trace, Output::Capture)
                .await
                .with_context(|| format!("run {} (seed {seed})", done + 1))?;
            done += 1;
            calls += counts.fuzzer + counts.host + counts.faults;
            let failure = match &replay.ending {
                Ending::Exit(code) if self.ok_status.contains(code) => None,
                Ending::Exit(code) => Some((format!("exit status {code}"), String::new())),
                Ending::Trap(e) => {
                    let frames = trap_frames(e);
                    let own: Vec<_> = frames.iter().filter(|f| !f.is_library()).collect();
                    let at = own
                        .first()
                        .copied()
                        .or(frames.first())
                        .map(|f| format!(" at {f}"))
                        .unwrap_or_default();
                    let mut key: Vec<String> = own.iter().take(4).map(|f| f.to_string()).collect();
                    // A Rust panic's place, which the frames of a guest without DWARF lack.
                    key.extend(panic_message(&replay.stderr).map(|(place, _)| place));
                    let message = e.root_cause().to_string();
                    Some((format!("trap: {message}{at}"), key.join("\n")))
                }
                Ending::HostTrap { message, .. } => {
                    Some((format!("host trap: {message}"), String::new()))
                }
                Ending::Divergence(d) => {
                    bail!("internal error: run {done} diverged from its own answers: {d}")
                }
            };
            match failure {
                None => {
                    let _ = std::fs::remove_file(&scratch);
                }
                Some((summary, place)) => {
                    let key = format!("{summary}\n{place}");
                    let hash = short_hex(&Sha256::digest(key.as_bytes()));
                    let finding = findings.entry(key).or_insert_with(|| {
                        let trace = self.findings.join(format!("{hash}.trace"));
                        Finding {
                            summary,
                            stderr: match panic_message(&replay.stderr) {
                                Some((place, message)) => Some(format!("{place}: {message}")),
                                None => last_line(&replay.stderr),
                            },
                            known: trace.exists(),
                            trace,
                            runs: 0,
                        }
                    });
                    if finding.runs == 0 && !finding.known {
                        std::fs::rename(&scratch, &finding.trace).with_context(|| {
                            format!("cannot keep the finding {}", finding.trace.display())
                        })?;
                    } else {
                        let _ = std::fs::remove_file(&scratch);
                    }
                    finding.runs += 1;
                }
            }
            if let Some(bar) = &bar {
                bar.set_position(done);
                bar.set_message(format!("{} findings", findings.len()));
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        report(&path, done, calls, start.elapsed(), self.seed, &findings);
        Ok(i32::from(!findings.is_empty()))
    }
}

/// Run `n`'s seed: `seed` and `n` mixed (splitmix64), so that neighbouring runs differ.
fn run_seed(seed: u64, n: u64) -> u64 {
    let mut z = seed.wrapping_add(n.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A Rust panic's report in the guest's stderr: where (`panicked at src/main.rs:3:5`, only when
/// written whole: a fuzzed stderr may take part of a write) and its message's first line.
fn panic_message(stderr: &[u8]) -> Option<(String, String)> {
    let text = String::from_utf8_lossy(stderr);
    let mut lines = text.lines();
    let at = lines.find_map(|l| l.find("panicked at ").map(|i| &l[i..]))?;
    let place = at.strip_suffix(':')?;
    let mut numbers = place.rsplitn(3, ':');
    let whole = numbers
        .by_ref()
        .take(2)
        .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if !whole || numbers.next().is_none() {
        return None;
    }
    let message = lines
        .next()
        .unwrap_or_default()
        .trim()
        .chars()
        .take(200)
        .collect();
    Some((place.to_string(), message))
}

/// The last non-empty line of `bytes`, as text.
fn last_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().chars().take(200).collect())
}

/// The summary: runs, findings, how to reproduce one.
fn report(
    path: &Path,
    runs: u64,
    calls: u64,
    took: Duration,
    seed: u64,
    findings: &BTreeMap<String, Finding>,
) {
    println!(
        "fuzzed {}: {runs} runs ({calls} host calls) in {:.1}s from seed {seed}: {} finding{}",
        path.display(),
        took.as_secs_f64(),
        findings.len(),
        if findings.len() == 1 { "" } else { "s" }
    );
    for f in findings.values() {
        let known = if f.known { ", found before" } else { "" };
        println!(
            "  {}  {} ({} run{}{known})",
            f.trace.display(),
            f.summary,
            f.runs,
            if f.runs == 1 { "" } else { "s" }
        );
        if let Some(line) = &f.stderr {
            println!("      stderr: {line}");
        }
    }
    if let Some(f) = findings.values().next() {
        println!(
            "reproduce one with: proxyrt replay {} {}",
            path.display(),
            f.trace.display()
        );
    }
}

/// A progress bar of `runs` runs (or a spinner), when stderr is a terminal.
fn progress_bar(runs: Option<u64>) -> Option<ProgressBar> {
    let template = match runs {
        Some(_) => "{spinner} {pos}/{len} runs, {msg} {wide_bar} {elapsed}",
        None => "{spinner} {pos} runs, {msg} {elapsed}",
    };
    super::progress_bar(runs, template)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_are_found_in_stderr() {
        let stderr =
            b"\nthread 'main' (1) panicked at cli/src/main.rs:165:17:\nboom: three\nnote: ...\n";
        assert_eq!(
            panic_message(stderr),
            Some((
                "panicked at cli/src/main.rs:165:17".to_string(),
                "boom: three".to_string()
            ))
        );
        assert_eq!(panic_message(b"just an error\n"), None);
        assert_eq!(
            panic_message(b"thread 'main' panicked at /rustc/5980note: x\n"),
            None
        );
        assert_eq!(panic_message(b"panicked at src/main.rs:16\nx\n"), None);
        assert_eq!(last_line(b"a\nb\n\n"), Some("b".to_string()));
    }

    #[test]
    fn seeds_of_runs_differ() {
        assert_ne!(run_seed(0, 0), run_seed(0, 1));
        assert_ne!(run_seed(0, 1), run_seed(1, 0));
        assert_eq!(run_seed(7, 3), run_seed(7, 3));
    }
}

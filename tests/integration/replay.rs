//! `proxyrt replay` on real guests: a run recorded on the real hosts (files, clocks, randomness,
//! stdin) replays with no host at all, from another directory, to the same stdout, stderr and exit
//! status, on the recorded build and on another build of the same program; a guest that does
//! something else than the trace says is stopped with a report and exit status 86; bad traces are
//! clear errors.

use crate::common;

use common::{proxyrt, replay_in_empty_dir, test_cache_dir, Output};
use proxyrt::cache::Cache;
use proxyrt::engine::WasmOptions;
use proxyrt::replay::{Ending, Output as Shown, Replay, Replayable, TraceSource};
use proxyrt_test_guests as guests;
use recorder_host::trace::{Entry, TraceReader, TraceWriter};
use std::fs;
use std::path::{Path, PathBuf};

/// The exit status of a divergence (`proxyrt::replay::DIVERGENCE_EXIT_CODE`).
const DIVERGENCE: i32 = 86;

/// A recorded run: where its trace is and what the recording printed.
pub(crate) struct Recorded {
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    pub(crate) trace: PathBuf,
    pub(crate) out: Output,
}

/// Records `wasm` with `steps` in a fresh data dir (preopened as `/data`, holding `in.txt`) with
/// `stdin`; the trace goes to another fresh dir.
pub(crate) fn record(wasm: &str, steps: &[&str], stdin: &[u8]) -> Recorded {
    let data = tempfile::tempdir().unwrap();
    fs::write(data.path().join("in.txt"), "file bytes").unwrap();
    let traces = tempfile::tempdir().unwrap();
    let trace = traces.path().join("trace.bin");
    let map = format!("{}::/data", data.path().display());
    let out = proxyrt()
        .args(["record", "--trace"])
        .arg(&trace)
        .args(["--dir", &map, "--env", "K=v", wasm])
        .args(steps)
        .stdin_bytes(stdin)
        .output_checked();
    Recorded {
        _dirs: (data, traces),
        trace,
        out,
    }
}

/// Everything the CLI guest gets from its host, and its output.
const STEPS: &[&str] = &[
    "args",
    "env:K",
    "env-all",
    "cwd",
    "write:/data/f.txt=content",
    "append:/data/f.txt=+more",
    "read:/data/f.txt",
    "read:/data/in.txt",
    "read:/data/missing",
    "mkdir:/data/sub",
    "ls:/data",
    "stat:/data/f.txt",
    "fill:/data/big=150000",
    "sum:/data/big",
    "rm:/data/big",
    "clock-wall",
    "clock-mono",
    "sleep:20",
    "random:16",
    "insecure-random:8",
    "insecure-seed",
    "hashmap",
    "stdin",
    "lines:50",
    "stderr:an error line",
    "echo:done",
];

#[test]
fn a_replay_reproduces_the_recorded_run_without_any_host() {
    let rec = record(guests::CLI, STEPS, b"some input");
    rec.out.assert_status(0);
    // The run really read the host: the file, stdin, the clock.
    rec.out
        .assert_stdout_contains(r#"read /data/in.txt: "file bytes""#);
    rec.out
        .assert_stdout_contains(r#"stdin: 10 bytes: "some input""#);
    let out = replay_in_empty_dir(guests::CLI, &rec.trace, &[]);
    out.assert_status(0);
    assert_eq!(out.stdout_text(), rec.out.stdout_text());
    assert_eq!(out.stderr_text(), rec.out.stderr_text());

    // --quiet: the same run, nothing shown.
    let quiet = replay_in_empty_dir(guests::CLI, &rec.trace, &["--quiet"]);
    quiet.assert_status(0);
    assert_eq!(quiet.stdout_text(), "");
    assert_eq!(quiet.stderr_text(), "");
}

#[test]
fn another_build_of_the_program_replays_the_trace() {
    let rec = record(guests::CLI, STEPS, b"some input");
    rec.out.assert_status(0);
    let out = replay_in_empty_dir(guests::CLI_O0, &rec.trace, &[]);
    out.assert_status(0);
    assert_eq!(out.stdout_text(), rec.out.stdout_text());
    let err = out.stderr_text();
    let (note, rest) = err.split_once('\n').unwrap_or((err, ""));
    assert!(
        note.starts_with("note: ") && note.contains("another build"),
        "{err}"
    );
    assert_eq!(rest, rec.out.stderr_text());
    // The recorded build gets no note, and --quiet none either.
    let same = replay_in_empty_dir(guests::CLI, &rec.trace, &[]);
    assert!(!same.stderr_text().contains("note:"));
    let quiet = replay_in_empty_dir(guests::CLI_O0, &rec.trace, &["-q"]);
    quiet.assert_status(0);
    assert_eq!(quiet.stderr_text(), "");
}

#[test]
fn a_recording_stopped_by_a_host_error_replays_up_to_that_call() {
    // The host refuses 8 random bytes: `record` stops with an error and leaves the trace cut
    // there. The call is not in the trace: a call that does not wait is recorded once it returned
    // (with its results), and this one never did.
    let data = tempfile::tempdir().unwrap();
    let trace = data.path().join("trace.bin");
    let rec = proxyrt()
        .args(["record", "-S", "max-random-size=4", "--trace"])
        .arg(&trace)
        .args([guests::CLI, "echo:a", "random:8"])
        .output_checked();
    rec.assert_status(1);
    rec.assert_stderr_contains("exceeds limit 4");
    let out = replay_in_empty_dir(guests::CLI, &trace, &[]);
    out.assert_status(1);
    assert_eq!(out.stdout_text(), "a\n");
    out.assert_stderr_contains(
        "(it was cut there, without an end marker): the recording was stopped",
    );
    out.assert_stderr_contains(
        "where the guest calls wasi:random/random@0.2.12.get-random-bytes(8)",
    );
}

#[test]
fn exit_statuses_and_traps_replay_as_recorded() {
    for (steps, status) in [
        (&["echo:x", "exit:3"][..], 1),
        (&["echo:x", "exit:0", "echo:never"][..], 0),
        (&["bogus-step"][..], 1),
    ] {
        let rec = record(guests::CLI, steps, b"");
        rec.out.assert_status(status);
        let out = replay_in_empty_dir(guests::CLI, &rec.trace, &[]);
        out.assert_status(status);
        assert_eq!(out.stdout_text(), rec.out.stdout_text(), "{steps:?}");
        assert_eq!(out.stderr_text(), rec.out.stderr_text(), "{steps:?}");
    }
    // Components without imports: their composition is themselves, the trace only their ending.
    for (wasm, status) in [
        (guests::RUN_OK, 0),
        (guests::RUN_ERR, 1),
        (guests::RUN_TRAP, 134),
    ] {
        let rec = record(wasm, &[], b"");
        rec.out.assert_status(status);
        let out = replay_in_empty_dir(wasm, &rec.trace, &[]);
        out.assert_status(status);
        if status == 134 {
            out.assert_stderr_contains("unreachable");
        }
    }
    for step in ["trap", "panic"] {
        let rec = record(guests::CLI, &["echo:before", step], b"");
        rec.out.assert_status(134);
        let out = replay_in_empty_dir(guests::CLI, &rec.trace, &[]);
        out.assert_status(134);
        assert_eq!(out.stdout_text(), "before\n");
        out.assert_stderr_contains("unreachable");
        if step == "panic" {
            out.assert_stderr_contains("cli: requested panic");
        }
    }
}

/// Rewrites the recorded `wasi:cli/environment.get-arguments` result of `trace` into `args`, as if the
/// recorded run had been given those: the guest then does something else than the trace says.
pub(crate) fn with_other_args(trace: &Path, args: &[&str]) -> PathBuf {
    let mut reader = TraceReader::open(trace).unwrap();
    let header = reader.header().clone();
    let get_arguments = header
        .component
        .intercepted_functions()
        .find(|f| {
            f.interface
                .is_some_and(|i| i.starts_with("wasi:cli/environment@"))
                && f.function.name == "get-arguments"
        })
        .expect("the CLI guest imports get-arguments")
        .id;
    // list<string>: count, then each string's length and bytes (all below 128: one byte each).
    let mut encoded = vec![args.len() as u8];
    for a in args {
        encoded.push(a.len() as u8);
        encoded.extend_from_slice(a.as_bytes());
    }
    let path = trace.with_file_name("edited.bin");
    let mut writer = TraceWriter::create(&path, &header).unwrap();
    let mut after_get_arguments = false;
    while let Some(entry) = reader.next_entry().unwrap() {
        let entry = match entry {
            Entry::Return { .. } if after_get_arguments => Entry::Return {
                results: encoded.clone(),
            },
            other => other,
        };
        after_get_arguments = matches!(entry, Entry::Call { func, .. } if func == get_arguments);
        writer.append(&entry).unwrap();
    }
    writer.finish().unwrap();
    path
}

/// `trace` without the first call of the function named `name` (and its return).
fn without_first_call(trace: &Path, name: &str) -> PathBuf {
    let mut reader = TraceReader::open(trace).unwrap();
    let header = reader.header().clone();
    let ids: Vec<u32> = header
        .component
        .intercepted_functions()
        .filter(|f| f.function.name == name)
        .map(|f| f.id)
        .collect();
    let path = trace.with_file_name("edited.bin");
    let mut writer = TraceWriter::create(&path, &header).unwrap();
    let (mut removed, mut skip_return) = (false, false);
    while let Some(entry) = reader.next_entry().unwrap() {
        match entry {
            Entry::Call { func, .. } if !removed && ids.contains(&func) => {
                (removed, skip_return) = (true, true);
            }
            Entry::Return { .. } if skip_return => skip_return = false,
            other => writer.append(&other).unwrap(),
        }
    }
    writer.finish().unwrap();
    assert!(removed, "no call of {name} in the trace");
    path
}

/// Dropping a handle of an imported resource is a host call (it closes a file, ends a stream):
/// the trace has each drop with the handle's id, replay checks it, and a guest dropping a handle
/// where the recorded run did not is a divergence.
#[test]
fn drops_are_recorded_and_checked_on_replay() {
    let rec = record(
        guests::CLI,
        &["write:/data/f.txt=x", "read:/data/f.txt", "echo:done"],
        b"",
    );
    rec.out.assert_status(0);
    let shown = proxyrt()
        .args(["trace", "show"])
        .arg(&rec.trace)
        .output_checked();
    shown.assert_status(0);
    for dropped in ["descriptor", "input-stream", "output-stream"] {
        shown.assert_stdout_contains(&format!(".[resource-drop]{dropped}("));
    }
    // A drop names the handle by the id the call that created it returned (`open-at`).
    let text = shown.stdout_text();
    let (before, after) = text
        .split_once(".[resource-drop]descriptor(")
        .expect("a descriptor drop");
    let id = after.split(')').next().unwrap();
    assert!(
        before.contains(&format!("-> ok({id})")),
        "descriptor {id} dropped but never returned:\n{text}"
    );
    replay_in_empty_dir(guests::CLI, &rec.trace, &[]).assert_status(0);

    let edited = without_first_call(&rec.trace, "[resource-drop]descriptor");
    let out = replay_in_empty_dir(guests::CLI, &edited, &[]);
    out.assert_status(DIVERGENCE);
    out.assert_stderr_contains(
        "actual (guest):   wasi:filesystem/types@0.2.12.[resource-drop]descriptor(",
    );
}

#[test]
fn other_arguments_diverge_with_a_report() {
    let rec = record(guests::CLI, &["echo:a", "random:8", "echo:b"], b"");
    rec.out.assert_status(0);
    // The trace's arguments replay as recorded.
    let same = with_other_args(&rec.trace, &["cli.wasm", "echo:a", "random:8", "echo:b"]);
    replay_in_empty_dir(guests::CLI, &same, &[]).assert_status(0);

    // Another call: 16 random bytes where the trace has 8.
    let other = with_other_args(&rec.trace, &["cli.wasm", "echo:a", "random:16", "echo:b"]);
    let out = replay_in_empty_dir(guests::CLI, &other, &[]);
    out.assert_status(DIVERGENCE);
    assert_eq!(out.stdout_text(), "a\n", "output up to the divergence");
    let err = out.stderr_text();
    assert!(
        err.contains("replay diverged from the trace at entry #"),
        "{err}"
    );
    assert!(
        err.contains("expected (trace): wasi:random/random@0.2.12.get-random-bytes(8)"),
        "{err}"
    );
    assert!(
        err.contains("actual (guest):   wasi:random/random@0.2.12.get-random-bytes(16)"),
        "{err}"
    );
    // The entry number is the one `trace show` gives the expected call.
    let entry: u64 = err
        .split("at entry #")
        .nth(1)
        .and_then(|s| s.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no entry number in {err}"));
    let shown = proxyrt()
        .args(["trace", "show"])
        .arg(&rec.trace)
        .args(["--skip", &entry.to_string(), "--limit", "1"])
        .output_checked();
    shown.assert_stdout_contains(&format!(
        "#{entry} wasi:random/random@0.2.12.get-random-bytes(8)"
    ));

    // One call more than the trace: the guest writes after the recorded end.
    let more = with_other_args(
        &rec.trace,
        &["cli.wasm", "echo:a", "random:8", "echo:b", "echo:c"],
    );
    let out = replay_in_empty_dir(guests::CLI, &more, &[]);
    out.assert_status(DIVERGENCE);
    out.assert_stderr_contains("expected (trace): export wasi:cli/run@");
    out.assert_stderr_contains(".run returns ok");
    out.assert_stderr_contains("actual (guest):   wasi:io/streams@0.2.12.[method]output-stream");
    // Where: the release build has no DWARF, its name section still names the guest's code.
    out.assert_stderr_contains("  in the guest (innermost frame first):\n");
    out.assert_stderr_contains("    at cli::");
    let so_far = rec.out.stdout_text();
    out.assert_stderr_contains(&format!(
        "  the guest's stdout so far ({} bytes), ending: \"{}\"",
        so_far.len(),
        so_far.replace('\n', "\\n")
    ));

    // A trap where the recorded run returned: where the guest trapped.
    let trap = with_other_args(
        &rec.trace,
        &["cli.wasm", "echo:a", "random:8", "echo:b", "trap"],
    );
    let out = replay_in_empty_dir(guests::CLI, &trap, &[]);
    out.assert_status(DIVERGENCE);
    out.assert_stderr_contains("actual (guest):   the run ends: trap: ");
    out.assert_stderr_contains("  in the guest (innermost frame first):\n    at cli::");

    // One call less: the guest ends while the trace goes on.
    let fewer = with_other_args(&rec.trace, &["cli.wasm", "echo:a"]);
    let out = replay_in_empty_dir(guests::CLI, &fewer, &[]);
    out.assert_status(DIVERGENCE);
    out.assert_stderr_contains("expected (trace): wasi:random/random@0.2.12.get-random-bytes(8)");
    out.assert_stderr_contains("actual (guest):   export wasi:cli/run@");
    out.assert_stderr_contains("(the guest returns without a call that the recorded run made)");
    // The guest had returned: the report shows where it made its last call instead.
    out.assert_stderr_contains(
        "  in the guest, at its last host call, before it ended (innermost frame first):\n",
    );
    out.assert_stderr_contains("    at cli::main");
}

#[test]
fn a_trace_of_another_program_is_refused() {
    let rec = record(guests::CLI, &["echo:a"], b"");
    let out = replay_in_empty_dir(guests::DEMO, &rec.trace, &[]);
    out.assert_status(1);
    out.assert_stderr_contains("was recorded from another program");
}

#[test]
fn bad_traces_are_clear_errors() {
    let rec = record(
        guests::CLI,
        &["echo:a", "random:8", "read:/data/in.txt", "echo:b"],
        b"",
    );
    rec.out.assert_status(0);
    let good = fs::read(&rec.trace).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        fs::write(&path, bytes).unwrap();
        path
    };
    let check = |path: &Path, expected: &str| {
        let out = replay_in_empty_dir(guests::CLI, path, &[]);
        out.assert_status(1);
        let err = out.stderr_text();
        assert!(err.contains("Error: "), "{err}");
        assert!(err.contains(expected), "{expected}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        out
    };
    check(&write("empty", &[]), "not a proxyrt trace");
    check(
        &write("wasm", &fs::read(guests::CLI).unwrap()),
        "not a proxyrt trace",
    );
    // The entries start after the magic bytes and the header's frame (length, checksum, payload).
    let header_len = u32::from_le_bytes(good[8..12].try_into().unwrap()) as usize;
    let entries = 16 + header_len;
    assert!(entries < good.len());
    let middle = entries + (good.len() - entries) / 2;
    let out = check(&write("cut", &good[..middle]), "(it was cut there");
    out.assert_stderr_contains("ends at entry #");
    // A flipped byte in the middle of the entries: a checksum mismatch (or, in a length prefix, a cut).
    let mut flipped = good.clone();
    flipped[middle] ^= 0x10;
    let out = replay_in_empty_dir(guests::CLI, &write("flipped", &flipped), &[]);
    out.assert_status(1);
    let err = out.stderr_text();
    assert!(err.contains("corrupt") || err.contains("cut"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // A flipped byte in the header.
    let mut flipped = good.clone();
    flipped[entries / 2] ^= 0x10;
    check(&write("flipped-header", &flipped), "corrupt");
    let missing = dir.path().join("missing.bin");
    check(&missing, "cannot read the trace");
}

#[test]
fn a_second_record_and_replay_reuse_the_cached_compositions() {
    // Steps with no clock, randomness or file timestamp, so both recordings must be identical to
    // the byte.
    let steps = [
        "args",
        "env:K",
        "env-all",
        "lines:5",
        "stderr:an error line",
        "echo:done",
    ];
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().to_str().unwrap();
    let traces = tempfile::tempdir().unwrap();
    let round = |n: u32| {
        let trace = traces.path().join(format!("trace-{n}.bin"));
        let recorded = proxyrt()
            .args(["record", "--cache-dir", cache_dir, "--trace"])
            .arg(&trace)
            .args(["--env", "K=v", guests::CLI])
            .args(steps)
            .output_checked();
        recorded.assert_status(0);
        let replayed = replay_in_empty_dir(guests::CLI, &trace, &["--cache-dir", cache_dir]);
        replayed.assert_status(0);
        assert_eq!(replayed.stdout_text(), recorded.stdout_text());
        assert_eq!(replayed.stderr_text(), recorded.stderr_text());
        (recorded, replayed, fs::read(&trace).unwrap())
    };
    let entries = || {
        let mut found: Vec<(PathBuf, std::time::SystemTime)> = fs::read_dir(cache.path())
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                let modified = fs::metadata(&path).unwrap().modified().unwrap();
                (path, modified)
            })
            .collect();
        found.sort();
        found
    };

    let (rec1, rep1, trace1) = round(1);
    let first = entries();
    let count = |ext: &str| {
        first
            .iter()
            .filter(|(p, _)| p.extension().is_some_and(|e| e == ext))
            .count()
    };
    // One composition and one compiled artifact per mode (record, replay), nothing else.
    assert_eq!(count("composition"), 2, "{first:?}");
    assert_eq!(count("cwasm"), 2, "{first:?}");
    assert_eq!(first.len(), 4, "{first:?}");

    let (rec2, rep2, trace2) = round(2);
    assert_eq!(entries(), first, "hits must not add or rewrite entries");
    assert_eq!(rec2.stdout_text(), rec1.stdout_text());
    assert_eq!(rec2.stderr_text(), rec1.stderr_text());
    assert_eq!(rep2.stdout_text(), rep1.stdout_text());
    assert_eq!(rep2.stderr_text(), rep1.stderr_text());
    assert!(
        trace2 == trace1,
        "the cached composition recorded another trace"
    );
}

/// Replays `trace` on `wasm` in this process through the replay library, as `proxyrt replay` does
/// (the same cache), capturing the guest's output.
fn replay_in_process(wasm: &str, trace: &Path) -> Replay {
    let path = Path::new(wasm);
    let original = fs::read(path).expect("the component");
    let cache = Cache::new(PathBuf::from(test_cache_dir()));
    let replayable = Replayable::new(&original, path, proxy_gen::Layout::Auto, Some(&cache))
        .expect("instrumented");
    let source = TraceSource::open(trace).expect("a readable trace");
    proxyrt::identity::check(
        source.header(),
        replayable.interfaces().sha256(),
        replayable.original_sha256(),
        path,
        trace,
    )
    .expect("a trace of this program");
    // As `proxyrt replay` compiles it: with backtrace details, so reports are the same.
    let wasm = WasmOptions {
        backtrace_details: true,
        ..WasmOptions::default()
    };
    let replayer = replayable.compile(&wasm, Some(&cache)).expect("compiled");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime
        .block_on(replayer.replay(source, Shown::Capture))
        .expect("the replay ran")
}

#[test]
fn the_replay_library_answers_as_the_cli_does() {
    let rec = record(
        guests::CLI,
        &[
            "echo:a",
            "random:8",
            "stderr:oops",
            "read:/data/in.txt",
            "echo:b",
        ],
        b"",
    );
    rec.out.assert_status(0);

    // A faithful replay: the same status and output, every host call answered.
    let cli = replay_in_empty_dir(guests::CLI, &rec.trace, &[]);
    let lib = replay_in_process(guests::CLI, &rec.trace);
    assert!(matches!(lib.ending, Ending::Exit(0)), "{:?}", lib.ending);
    assert_eq!(lib.ending.exit_status(), cli.status);
    assert_eq!(lib.stdout, cli.stdout);
    assert_eq!(lib.stderr, cli.stderr);
    assert_eq!(String::from_utf8_lossy(&lib.stdout), rec.out.stdout_text());
    let calls = TraceReader::open(&rec.trace)
        .expect("trace")
        .filter(|e| matches!(e, Ok(Entry::Call { .. })))
        .count() as u64;
    assert_eq!(lib.calls, calls, "every recorded call was answered once");
    assert_eq!(lib.results, None, "wasi:cli/run shows no results");

    // Another build: the same answers.
    let cli = replay_in_empty_dir(guests::CLI_O0, &rec.trace, &[]);
    let lib = replay_in_process(guests::CLI_O0, &rec.trace);
    assert_eq!(lib.ending.exit_status(), cli.status);
    assert_eq!(lib.stdout, cli.stdout);

    // A divergence: the same report, the output up to it, status 86.
    let other = with_other_args(
        &rec.trace,
        &[
            "cli.wasm",
            "echo:a",
            "random:16",
            "stderr:oops",
            "read:/data/in.txt",
            "echo:b",
        ],
    );
    let cli = replay_in_empty_dir(guests::CLI, &other, &[]);
    let lib = replay_in_process(guests::CLI, &other);
    cli.assert_status(DIVERGENCE);
    assert_eq!(lib.ending.exit_status(), DIVERGENCE);
    let Ending::Divergence(d) = &lib.ending else {
        panic!("expected a divergence, got {:?}", lib.ending);
    };
    assert_eq!(d.expected, "wasi:random/random@0.2.12.get-random-bytes(8)");
    assert_eq!(d.actual, "wasi:random/random@0.2.12.get-random-bytes(16)");
    assert!(
        cli.stderr_text().starts_with(&format!("{d}\n")),
        "the CLI prints the library's divergence: {}",
        cli.stderr_text()
    );
    assert_eq!(lib.stdout, cli.stdout);
    assert_eq!(lib.stdout, b"a\n");
}

#[test]
fn the_replay_library_reports_traps_and_exits_as_the_cli_does() {
    for steps in [&["echo:x", "exit:3"][..], &["echo:y", "trap"][..]] {
        let rec = record(guests::CLI, steps, b"");
        let cli = replay_in_empty_dir(guests::CLI, &rec.trace, &[]);
        let lib = replay_in_process(guests::CLI, &rec.trace);
        assert_eq!(lib.ending.exit_status(), cli.status, "{steps:?}");
        assert_eq!(lib.ending.exit_status(), rec.out.status, "{steps:?}");
        assert_eq!(lib.stdout, cli.stdout, "{steps:?}");
    }
}

/// A replayer says whether its stubs are spliced inside the guest (what `bench` needs to tell
/// builds replayed differently apart): `auto` splices the cli guest and composes a wasi:http
/// handler (its export is given host handles), and an explicit layout is kept.
#[test]
fn the_replayer_says_whether_it_replays_from_inside() {
    let cache = Cache::new(PathBuf::from(test_cache_dir()));
    let wasm = WasmOptions::default();
    let cases = [
        (guests::CLI, proxy_gen::Layout::Auto, true),
        (guests::CLI, proxy_gen::Layout::Spliced, true),
        (guests::CLI, proxy_gen::Layout::Composed, false),
        (guests::HTTP_HANDLER, proxy_gen::Layout::Auto, false),
    ];
    for (guest, layout, spliced) in cases {
        let path = Path::new(guest);
        let original = fs::read(path).expect("the component");
        let replayer = Replayable::new(&original, path, layout, Some(&cache))
            .and_then(|r| r.compile(&wasm, Some(&cache)))
            .expect("a replayer");
        assert_eq!(replayer.is_spliced(), spliced, "{guest} {layout:?}");
    }
}

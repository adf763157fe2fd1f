//! Host calls answered by something else than a trace (`proxyrt fuzz`, `record --fault`,
//! `proxyrt dialog`), on real guests: the fuzzer finds a bug that only an unusual host answer
//! reaches, injected faults make real file reads fail, a scripted dialog answers calls (making up
//! a file), and every such run is a trace that `proxyrt replay` reproduces exactly, with no
//! fuzzer, host or person.

use crate::common;

use common::{proxyrt, Output};
use proxyrt_test_guests as guests;
use std::fs;
use std::path::{Path, PathBuf};

/// A data directory holding one file, `a.txt`, preopened as `/data`: real listings of it have one
/// entry, never the three that set off the cli guest's planted bug.
fn data_dir() -> (tempfile::TempDir, String) {
    let data = tempfile::tempdir().unwrap();
    fs::write(data.path().join("a.txt"), "hi\n").unwrap();
    let map = format!("{}::/data", data.path().display());
    (data, map)
}

/// The findings a `fuzz` summary lists, in its order.
fn findings(out: &Output) -> Vec<PathBuf> {
    out.stdout_text()
        .lines()
        .filter_map(|l| l.trim_start().split_once("  ").map(|(f, _)| f))
        .filter(|f| f.ends_with(".trace"))
        .map(PathBuf::from)
        .collect()
}

fn replay(wasm: &str, trace: &Path, dir: &Path) -> Output {
    proxyrt()
        .current_dir(dir)
        .args(["replay", wasm])
        .arg(trace)
        .output_checked()
}

/// The cli guest's `trace` replays in `dir` to what `recorded` printed on stdout, with its status.
#[track_caller]
fn replays_as(trace: &Path, dir: &Path, recorded: &Output) {
    let again = replay(guests::CLI, trace, dir);
    again.assert_status(recorded.status);
    assert_eq!(again.stdout, recorded.stdout);
}

#[test]
fn fuzz_finds_a_bug_only_an_unusual_host_answer_reaches_and_the_finding_replays() {
    let (_data, map) = data_dir();
    let work = tempfile::tempdir().unwrap();
    let fuzz = |findings_dir: &str| {
        proxyrt()
            .current_dir(work.path())
            .args(["fuzz", "--runs", "300", "--seed", "1"])
            .args([
                "--fuzz",
                "wasi:filesystem/types",
                "--findings",
                findings_dir,
            ])
            .args(["--dir", &map, guests::CLI, "planted-ls:/data"])
            .output_checked()
    };
    // The real directory has one entry: run on the real host, the guest is fine.
    let real = proxyrt()
        .args(["run", "--dir", &map, guests::CLI, "planted-ls:/data"])
        .output_checked();
    real.assert_status(0);
    real.assert_stdout_contains("planted-ls /data: 1 entries");

    let out = fuzz("found");
    out.assert_status(1);
    out.assert_stdout_contains("planted bug: exactly three entries in /data");
    let kept = findings(&out);
    let planted: Vec<&PathBuf> = kept
        .iter()
        .filter(|f| {
            out.stdout_text()
                .lines()
                .skip_while(|l| !l.contains(f.to_str().unwrap()))
                .nth(1)
                .is_some_and(|l| l.contains("planted bug"))
        })
        .collect();
    assert_eq!(planted.len(), 1, "{}", out.stdout_text());
    // The finding replays to the same panic, with no fuzzer and no directory.
    let again = replay(guests::CLI, planted[0], work.path());
    again.assert_status(134);
    again.assert_stderr_contains("cli: planted bug: exactly three entries in /data");
    // Every finding is kept as a trace that replays as it ended.
    for f in &kept {
        let r = replay(guests::CLI, f, work.path());
        assert_ne!(
            r.status,
            86,
            "{} diverged:\n{}",
            f.display(),
            r.stderr_text()
        );
        assert_ne!(r.status, 1, "{}:\n{}", f.display(), r.stderr_text());
    }
    // The same seed makes the same runs: the same findings, now known.
    let rerun = fuzz("found");
    rerun.assert_status(1);
    assert_eq!(findings(&rerun), kept);
    rerun.assert_stdout_contains("found before");
}

#[test]
fn fuzz_answers_every_wit_type_kind_with_values_the_guest_can_take() {
    // The zoo's `exercise-host` calls every function of its host interface: every WIT type kind,
    // resources made and used by later calls. Each answer is a random value of the result's
    // type: one the replay proxy could not decode would trap. The zoo takes any value.
    let work = tempfile::tempdir().unwrap();
    let out = proxyrt()
        .current_dir(work.path())
        .args(["fuzz", "--runs", "200", "--invoke", "exercise-host()"])
        .arg(guests::ZOO)
        .output_checked();
    out.assert_status(0);
    out.assert_stdout_contains(": 200 runs (");
    out.assert_stdout_contains(": 0 findings");
    let calls: u64 = out
        .stdout_text()
        .split_once("runs (")
        .and_then(|(_, rest)| rest.split_once(' '))
        .and_then(|(n, _)| n.parse().ok())
        .expect("the host call count");
    assert!(calls > 200 * 20, "{}", out.stdout_text());
}

#[test]
fn fuzz_with_everything_fuzzed_keeps_findings_that_replay() {
    // No rule: every call (stdout, args, files) is answered at random. A Rust guest panics when
    // printing fails, so there are findings; each must replay.
    let work = tempfile::tempdir().unwrap();
    let out = proxyrt()
        .current_dir(work.path())
        .args(["fuzz", "--runs", "100", guests::CLI, "echo:hi", "ls:/data"])
        .output_checked();
    out.assert_status(1);
    let kept = findings(&out);
    assert!(!kept.is_empty(), "{}", out.stdout_text());
    for f in &kept {
        let r = replay(guests::CLI, f, work.path());
        r.assert_status(134);
    }
    // Without faults nor fuzzed output, nothing goes wrong: status 0.
    let quiet = proxyrt()
        .current_dir(work.path())
        .args([
            "fuzz",
            "--runs",
            "50",
            "--fuzz",
            "wasi:random",
            "--findings",
            "none",
        ])
        .args([guests::CLI, "random:8"])
        .output_checked();
    quiet.assert_status(0);
    quiet.assert_stdout_contains(": 0 findings");
    // With faults only, the real program runs under random faults: the cli guest reports
    // failed reads and carries on, which is no finding; some runs read the real file.
    let (_data, map) = data_dir();
    let faults = proxyrt()
        .current_dir(work.path())
        .args(["fuzz", "--runs", "30", "--findings", "none"])
        .args(["--fault", "wasi:filesystem/types@30%", "--dir", &map])
        .args([guests::CLI, "read:/data/a.txt"])
        .output_checked();
    faults.assert_status(0);
    faults.assert_stdout_contains(": 30 runs (");
    faults.assert_stdout_contains(": 0 findings");
}

#[test]
fn injected_faults_make_real_file_reads_fail_and_the_trace_replays() {
    let (data, map) = data_dir();
    let work = tempfile::tempdir().unwrap();
    let trace = work.path().join("faults.trace");
    let record = |fault: &str, trace: &Path| {
        proxyrt()
            .args(["record", "--fault", fault, "--trace"])
            .arg(trace)
            .args(["--dir", &map, guests::CLI])
            .args(["read:/data/a.txt", "write:/data/b.txt=new", "echo:done"])
            .output_checked()
    };
    let out = record(
        "wasi:filesystem/types.[method]descriptor.open-at=access",
        &trace,
    );
    out.assert_status(0);
    out.assert_stdout_contains("read /data/a.txt: error: Permission denied");
    out.assert_stdout_contains("write /data/b.txt: error: Permission denied");
    out.assert_stdout_contains("done");
    out.assert_stderr_contains("2 faults injected");
    // The failed open never reached the host: no file was written.
    assert!(!data.path().join("b.txt").exists());
    replays_as(&trace, work.path(), &out);

    // At a rate, with a random error each: the seed decides which calls fail, and the trace
    // replays whatever happened.
    let (a, b) = (work.path().join("a.trace"), work.path().join("b.trace"));
    let first = record("wasi:filesystem@50%", &a);
    let second = record("wasi:filesystem@50%", &b);
    assert_eq!(first.stdout, second.stdout);
    replays_as(&a, work.path(), &first);

    // Rules that cannot apply are errors, before anything runs.
    for (fault, says) in [
        ("wasi:nope", "names none of the component's imports"),
        ("wasi:cli/stdout", "names no import that can fail"),
        ("wasi:filesystem=no-such-code", "the error of"),
    ] {
        let out = record(fault, &work.path().join("x.trace"));
        out.assert_status(1);
        out.assert_stderr_contains(says);
    }
}

/// `proxyrt dialog --trace TRACE ARGS...` in `dir`, answered by `script` on stdin.
fn dialog(dir: &Path, trace: &Path, args: &[&str], script: &[u8]) -> Output {
    proxyrt()
        .current_dir(dir)
        .args(["dialog", "--trace"])
        .arg(trace)
        .args(args)
        .stdin_bytes(script)
        .output_checked()
}

#[test]
fn a_scripted_dialog_answers_calls_and_its_trace_replays() {
    let work = tempfile::tempdir().unwrap();
    let trace = work.path().join("dialog.trace");
    // The person answers the random bytes (after a wrong answer and a question); the host the
    // rest (stdout, args).
    let forward = ["--forward", "wasi:cli", "--forward", "wasi:io"];
    let script = b"\"x\"\n?\n[1, 2, 3, 255]\n";
    let out = dialog(
        work.path(),
        &trace,
        &[&forward[..], &[guests::CLI, "random:4"]].concat(),
        script,
    );
    out.assert_status(0);
    out.assert_stdout_contains("random: 010203ff");
    out.assert_stderr_contains("get-random-bytes(4)");
    out.assert_stderr_contains("not a list<u8>");
    out.assert_stderr_contains("list of: u8");
    out.assert_stderr_contains("1 answered by you");
    replays_as(&trace, work.path(), &out);

    // The person makes up a directory and a file in it, with its contents: handles the host
    // never saw, whose calls come back to the person.
    let script = "[(7, \"/data\")]\nok(8)\nok({lower: 1, upper: 2})\n\
        ok({type: regular-file, link-count: 1, size: 2, data-access-timestamp: none, \
        data-modification-timestamp: none, status-change-timestamp: none})\n\
        ok(9)\nok([104, 105])\nerr(closed)\n";
    let out = dialog(
        work.path(),
        &trace,
        &[
            "--forward",
            "wasi:cli",
            "--forward",
            "wasi:io",
            guests::CLI,
            "read:/data/x",
        ],
        script.as_bytes(),
    );
    out.assert_status(0);
    out.assert_stdout_contains("read /data/x: \"hi\"");
    out.assert_stderr_contains("(the host cannot answer it)");
    // Handles are shown by what they are, the made-up ones too.
    out.assert_stderr_contains("descriptor.open-at(7 (/data), ");
    out.assert_stderr_contains("input-stream.blocking-read(9 (/data/x), ");
    replays_as(&trace, work.path(), &out);

    // `f` hands a call to the real host, and the calls on the handle it made follow it there.
    let out = dialog(work.path(), &trace, &[guests::CLI, "echo:hello"], b"f\nf\n");
    out.assert_status(0);
    assert_eq!(out.stdout_text(), "hello\n");
    out.assert_stderr_contains("(0 answered by you, 6 by the host, 0 at random)");

    // The script ends early: the session ends with an error, its trace cut but readable.
    let out = dialog(work.path(), &trace, &[guests::CLI, "random:4"], b"");
    out.assert_status(1);
    out.assert_stderr_contains("the dialog ended at call 1");
    let cut = replay(guests::CLI, &trace, work.path());
    cut.assert_status(1);
    cut.assert_stderr_contains("it was cut there");
}

#[test]
fn fuzz_and_dialog_refuse_what_they_cannot_do() {
    let work = tempfile::tempdir().unwrap();
    for (args, says) in [
        (vec!["fuzz", guests::ZOO], "does not export `wasi:cli/run`"),
        (
            vec!["fuzz", "--fuzz", "wasi:nope", guests::CLI],
            "names none of the component's imports",
        ),
        (vec!["fuzz", "--runs", "0", guests::CLI], "at least 1"),
        (
            vec!["fuzz", "--time", "5 parsecs", guests::CLI],
            "invalid unit",
        ),
        (
            vec!["dialog", "--invoke", "nope()", guests::ZOO],
            "exports no function `nope`",
        ),
    ] {
        let out = proxyrt()
            .current_dir(work.path())
            .args(&args)
            .output_checked();
        assert_ne!(out.status, 0, "{args:?}");
        out.assert_stderr_contains(says);
    }
}

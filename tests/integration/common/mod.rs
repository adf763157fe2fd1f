//! Helpers shared by the integration tests: running a program as a real process with optional stdin
//! and capturing what it printed and how it exited.

pub mod capture;

use std::ffi::OsStr;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// A command to run, with the bytes to feed its stdin.
pub struct Cmd {
    cmd: Command,
    stdin: Vec<u8>,
}

/// What a finished process printed and its exit status (`-1` if killed by a signal).
pub struct Output {
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn stdout_text(&self) -> &str {
        std::str::from_utf8(&self.stdout).expect("stdout is UTF-8")
    }
    pub fn stderr_text(&self) -> &str {
        std::str::from_utf8(&self.stderr).expect("stderr is UTF-8")
    }
    /// Asserts that stderr contains `needle`, showing stderr if not.
    #[track_caller]
    pub fn assert_stderr_contains(&self, needle: &str) {
        let err = self.stderr_text();
        assert!(
            err.contains(needle),
            "expected `{needle}` in stderr:\n{err}"
        );
    }
    /// Asserts that stdout contains `needle`, showing stdout if not.
    #[track_caller]
    pub fn assert_stdout_contains(&self, needle: &str) {
        let out = self.stdout_text();
        assert!(
            out.contains(needle),
            "expected `{needle}` in stdout:\n{out}"
        );
    }
    #[track_caller]
    pub fn assert_status(&self, expected: i32) {
        assert_eq!(
            self.status,
            expected,
            "unexpected exit status\n--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&self.stdout),
            String::from_utf8_lossy(&self.stderr)
        );
    }
}

pub fn stdout_lines(out: &Output) -> Vec<String> {
    out.stdout_text().lines().map(str::to_string).collect()
}

/// A shared compilation cache for the whole test binary, so each guest is compiled once.
pub fn test_cache_dir() -> &'static str {
    static DIR: OnceLock<String> = OnceLock::new();
    DIR.get_or_init(|| format!("{}/proxyrt-cache", env!("CARGO_TARGET_TMPDIR")))
}

/// `proxyrt replay EXTRA... WASM TRACE`, run from a fresh empty directory with no stdin: a replay
/// needs nothing from its surroundings. Asserts that it created nothing there.
pub fn replay_in_empty_dir(
    wasm: impl AsRef<OsStr>,
    trace: &std::path::Path,
    extra: &[&str],
) -> Output {
    let cwd = tempfile::tempdir().expect("temp dir");
    let out = proxyrt()
        .arg("replay")
        .args(extra)
        .arg(wasm)
        .arg(trace)
        .current_dir(cwd.path())
        .output_checked();
    let created: Vec<_> = std::fs::read_dir(cwd.path())
        .expect("read the replay's directory")
        .map(|e| e.expect("directory entry").file_name())
        .collect();
    assert!(created.is_empty(), "replay created {created:?}");
    out
}

/// The `proxyrt` binary built by cargo for these tests, with the tests' own compilation cache.
pub fn proxyrt() -> Cmd {
    let mut cmd = Cmd::new(env!("CARGO_BIN_EXE_proxyrt"));
    cmd.cmd.env("PROXYRT_CACHE_DIR", test_cache_dir());
    cmd.cmd.env_remove("PROXYRT_NO_CACHE");
    cmd
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Cmd {
            cmd: Command::new(program),
            stdin: Vec::new(),
        }
    }
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(a);
        self
    }
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, a: I) -> Self {
        self.cmd.args(a);
        self
    }
    pub fn env(mut self, k: &str, v: impl AsRef<OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }
    pub fn env_remove(mut self, k: &str) -> Self {
        self.cmd.env_remove(k);
        self
    }
    pub fn current_dir(mut self, dir: impl AsRef<std::path::Path>) -> Self {
        self.cmd.current_dir(dir);
        self
    }
    pub fn stdin_bytes(mut self, bytes: &[u8]) -> Self {
        self.stdin = bytes.to_vec();
        self
    }

    /// Runs the process to completion; panics only if it cannot be started at all.
    pub fn output_checked(mut self) -> Output {
        let mut child = self
            .cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", self.cmd.get_program()));
        let mut stdin = child.stdin.take().expect("piped stdin");
        let data = std::mem::take(&mut self.stdin);
        let writer = std::thread::spawn(move || {
            // The guest may exit without reading its stdin: a broken pipe is fine.
            let _ = stdin.write_all(&data);
        });
        let out = child.wait_with_output().expect("wait for child");
        writer.join().expect("stdin writer");
        Output {
            status: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: out.stderr,
        }
    }
}

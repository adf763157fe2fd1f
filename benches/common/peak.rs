//! Running a child process to its end and reading its peak RSS, shared by the benches that print
//! memory tables (criterion measures time only).

use std::process::Command;
use std::time::{Duration, Instant};

/// Runs `cmd` to its end; returns its wall time and peak RSS in KiB, as `wait4(2)` reports them for
/// that one child (`ru_maxrss`, KiB on Linux). Panics unless it exited with status 0.
pub fn run_measured(mut cmd: Command) -> (Duration, u64) {
    let start = Instant::now();
    let child = cmd.spawn().expect("spawn the child");
    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data; all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own child, not reaped yet (std only reaps in `wait`/`try_wait`);
        // `status` and `usage` are valid for writes.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        assert_eq!(e.kind(), std::io::ErrorKind::Interrupted, "wait4: {e}");
    }
    let elapsed = start.elapsed();
    drop(child); // already reaped: dropping a `Child` does not wait
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?}: wait status {status:#x}"
    );
    (elapsed, u64::try_from(usage.ru_maxrss).unwrap_or_default())
}

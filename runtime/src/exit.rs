//! How an execution ends and which process exit status each ending gets: the one place where
//! proxyrt's statuses (the guest's own, 1, 86, 134) are decided and the `Error:` report is formatted.

/// Exit status of a guest that trapped: `wasmtime run` exits as if killed by SIGABRT (128 + 6).
pub const TRAP_EXIT_CODE: i32 = 134;

/// Exit status of `proxyrt replay` when the guest diverges from the trace: distinct from the
/// statuses a guest can produce through `wasi:cli/exit` in practice (0, 1), from a trap (134) and
/// from proxyrt's own errors (1).
pub const DIVERGENCE_EXIT_CODE: i32 = 86;

/// Exit status of proxyrt itself failing (a file it cannot read, a component it cannot run).
pub const ERROR_EXIT_CODE: i32 = 1;

/// How a guest's execution on the real hosts ended.
#[derive(Debug)]
pub enum Ending {
    /// Returned normally, or exited through `wasi:cli/exit` with this status.
    Exit(i32),
    /// Trapped (unreachable, out of bounds, out of fuel, ...), with wasmtime's report.
    Trap(anyhow::Error),
}

impl Ending {
    /// Sorts a wasmtime error from the guest's execution into an exit, a trap, or a host-side error.
    pub fn from_error(e: wasmtime::Error) -> anyhow::Result<Self> {
        if let Some(exit) = e.downcast_ref::<wasmtime_wasi::I32Exit>() {
            return Ok(Ending::Exit(exit.0));
        }
        if e.is::<wasmtime::Trap>() {
            return Ok(Ending::Trap(anyhow::Error::from(e)));
        }
        Err(anyhow::Error::from(e))
    }

    /// The process exit status for this ending, printing the trap report if there is one.
    pub fn report(self) -> i32 {
        match self {
            Ending::Exit(code) => code,
            Ending::Trap(e) => {
                eprintln!("{}", error_report(&e));
                TRAP_EXIT_CODE
            }
        }
    }
}

/// Formats an error and its causes the way wasmtime prints them (`Error: ...`, then `Caused by:`),
/// without the host-side Rust backtrace that anyhow appends when `RUST_BACKTRACE` is set: users need
/// the guest's wasm backtrace, which is part of the chain, not proxyrt's.
pub fn error_report(e: &anyhow::Error) -> String {
    let mut out = format!("Error: {e}");
    let mut causes = e.chain().skip(1).peekable();
    if causes.peek().is_some() {
        out.push_str("\n\nCaused by:");
        for (i, cause) in causes.enumerate() {
            let text = cause.to_string().replace('\n', "\n        ");
            out.push_str(&format!("\n    {i}: {text}"));
        }
    }
    out
}

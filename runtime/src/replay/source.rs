//! Where a replay's host results come from: the [`HostResults`] trait a replayed guest's calls are
//! answered by, and the ways an answer can stop the replay instead ([`Stop`]).
//!
//! The trace is one source ([`super::TraceSource`]); a fuzzer, a person at a terminal, or a corpus
//! of recorded requests are others. A source sees values in recorder-host's value format, exactly
//! as the replay proxy encodes them: arguments to check, results to hand back.

use super::divergence::Divergence;
use recorder_host::types::ComponentInfo;
use std::sync::Arc;

/// Why a replay stopped inside a host call, or at its end, other than by answering it.
#[derive(Debug)]
pub enum Stop {
    /// The recorded guest called `wasi:cli/exit` here: the run ends with this status.
    Exit(i32),
    /// The host trapped at this call when the trace was recorded, with this message.
    HostTrap(String),
    /// The guest did not do what the source says (boxed: the report is much bigger than the
    /// other stops).
    Divergence(Box<Divergence>),
    /// The source cannot answer (a trace cut, corrupt, or not one `record` writes).
    Unreadable(anyhow::Error),
}

impl Stop {
    /// The message of the error a host function returns to unwind the guest.
    pub fn message(&self) -> String {
        match self {
            Stop::Exit(code) => format!("the guest exits with status {code} (as recorded)"),
            Stop::HostTrap(message) => message.clone(),
            Stop::Divergence(_) => "the guest diverged from the trace".into(),
            Stop::Unreadable(_) => "the trace cannot be read further".into(),
        }
    }
}

/// How the guest's export call ended in the replay, to be checked against the source's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// The export returned (or the guest exited): status 0 for `ok`, 1 for `err`.
    Returned(i32),
    /// The guest trapped (on its own: not in a host call), with this message.
    Trapped(String),
}

/// A source of host results for a replay. The replay calls it in this order: [`Self::begin_export`]
/// once, [`Self::call`] for every host call the guest makes, [`Self::end_export`] when the export
/// returns, and [`Self::finish`] with how the guest ended (unless a call already stopped it).
pub trait HostResults: Send {
    /// The host is about to call an export: which one (an index in `ComponentInfo::exports`)
    /// and its encoded arguments.
    fn begin_export(&mut self) -> Result<(u32, Vec<u8>), Stop>;

    /// The guest calls import `func` (an index in `ComponentInfo::intercepted_functions`) with the
    /// encoded `args`: its encoded results, or why the replay stops here.
    fn call(&mut self, func: u32, args: &[u8]) -> Result<Vec<u8>, Stop>;

    /// The export returned `results` (encoded).
    fn end_export(&mut self, results: &[u8]) -> Result<(), Stop>;

    /// The guest's execution ended as `finish`.
    fn finish(&mut self, finish: &Finish) -> Result<(), Stop>;

    /// The interfaces of the component the source answers for, with their hash
    /// (`ComponentInfo::interface_sha256`), when it has them (a trace's header): the replay uses
    /// them instead of decoding its own copy when the hashes are equal. `None` by default.
    fn interfaces(&self) -> Option<(&[u8; 32], &Arc<ComponentInfo>)> {
        None
    }
}

//! The modes of an instrumented component and the interface each one adds: the one spelling of
//! "mode" in this crate (the plan, the synthesis and the stub module all take a [`Mode`]).

/// What the instrumented component does with the calls crossing the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Pass-through: every import call is forwarded to the real host and nothing else happens.
    /// The composition imports exactly the original's imports. This is the **baseline for
    /// measuring proxy overhead**: Record minus Forward is the cost of encoding and reporting,
    /// Forward minus the bare component is the cost of the extra component boundary.
    Forward,
    /// Forward, and report every import call to the recorder: the composition additionally
    /// imports [`RECORDER_INTERFACE`] (each call with its results, once the host returned,
    /// appended to a batch in the proxy's memory that goes to `record-batch` when full and before
    /// `call`, which reports a call that may wait or never return before it is forwarded;
    /// func-id = the index in [`crate::ComponentInfo::intercepted_functions`]).
    Record,
    /// Answer every import call from a trace: the composition imports **only**
    /// [`REPLAYER_INTERFACE`] (`next(func-id, args) -> results`, values in the recorder's
    /// encoding); the proxy defines its own resource types (handles are the recorded ids).
    Replay,
}

/// The instance a [`Mode::Record`] composition imports, with exactly five functions:
/// `batch-buffer: func(buffer: list<u8>)` (the proxy's batch buffer, handed over once) and
/// `record-batch: func(entries: list<u8>)` (calls and their results, a batch at a time), for calls
/// reported before they are forwarded `call: func(func-id: u32, args: list<u8>)`, and for a call
/// whose record is larger than the batch buffer `record: func(func-id: u32, args: list<u8>,
/// results: list<u8>)` or `ret: func(func-id: u32, results: list<u8>)` (WIT:
/// `recorder-host/wit/recorder.wit`). Every `list<u8>` is lowered from the proxy's memory, so a
/// host can read it in place (wasmtime `WasmList<u8>`).
pub const RECORDER_INTERFACE: &str = "proxyrt:recorder/recorder@0.1.0";

/// The only instance a [`Mode::Replay`] composition imports, with exactly one function:
/// `next: func(func-id: u32, args: list<u8>) -> list<u8>` (WIT: `recorder-host/wit/recorder.wit`).
/// The guest's call `func-id` with these encoded arguments must be the next one in the trace;
/// the host returns its recorded encoded results.
pub const REPLAYER_INTERFACE: &str = "proxyrt:recorder/replayer@0.1.0";

impl Mode {
    /// The mode's name, as `proxyrt instrument -m` spells it and file names and cache keys use it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Forward => "forward",
            Mode::Record => "record",
            Mode::Replay => "replay",
        }
    }

    /// Whether the proxy forwards calls to the real host, i.e. imports the guest's imports
    /// (Forward, Record); on replay it answers them from the trace instead.
    pub(crate) fn forwards(self) -> bool {
        self != Mode::Replay
    }

    /// Whether the stubs encode the values crossing them, to report them (Record) or to compare
    /// them with the trace (Replay).
    pub(crate) fn encodes(self) -> bool {
        self != Mode::Forward
    }

    /// The interface this mode adds to the composition's imports, if any.
    pub(crate) fn added_interface(self) -> Option<&'static str> {
        match self {
            Mode::Forward => None,
            Mode::Record => Some(RECORDER_INTERFACE),
            Mode::Replay => Some(REPLAYER_INTERFACE),
        }
    }
}

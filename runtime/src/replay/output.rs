//! The guest's output during a replay. What a guest writes to its stdout and stderr is in the
//! trace as the arguments of its `write` calls; [`OutputMirror`] follows which stream ids name
//! stdout and stderr (the results of `get-stdout` / `get-stderr`, forgotten when another stream
//! takes the id) and shows the bytes of the writes that succeeded when recorded, streamed to the
//! real stdout and stderr or captured for a caller that wants them as values.

use recorder_host::types::{ComponentInfo, ResourceRef, ValueType};
use recorder_host::value::Cursor;
use std::io::Write;
use std::ops::Range;

/// One of the guest's standard output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdStream {
    Stdout,
    Stderr,
}

/// Where a replay puts the guest's output.
pub enum Output {
    /// Nowhere (`replay --quiet`).
    Discard,
    /// To these writers, e.g. the process's stdout and stderr.
    Stream {
        stdout: Box<dyn Write + Send>,
        stderr: Box<dyn Write + Send>,
    },
    /// Into memory, handed back in the replay's result.
    Capture,
}

/// One of the guest's output streams, as it is shown.
enum Sink {
    Discard,
    Stream(Box<dyn Write + Send>),
    Capture(Vec<u8>),
}

impl Sink {
    fn write(&mut self, bytes: &[u8]) {
        match self {
            Sink::Discard => {}
            Sink::Stream(w) => {
                let _ = w.write_all(bytes);
            }
            Sink::Capture(buf) => buf.extend_from_slice(bytes),
        }
    }

    fn flush(&mut self) {
        if let Sink::Stream(w) = self {
            let _ = w.flush();
        }
    }

    fn into_captured(self) -> Vec<u8> {
        match self {
            Sink::Capture(buf) => buf,
            Sink::Discard | Sink::Stream(_) => Vec::new(),
        }
    }
}

/// What the replayer does with a function besides answering it: the calls that show the guest's
/// output, and those that create output streams (whose ids then no longer name stdout/stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Other,
    /// `wasi:cli/stdout.get-stdout`: its result is the id of a stdout stream.
    GetStdout,
    /// `wasi:cli/stderr.get-stderr`.
    GetStderr,
    /// `output-stream.write` / `blocking-write-and-flush`: `(self: borrow, contents: list<u8>)`.
    Write,
    /// Any other function whose result holds an `own<output-stream>`.
    NewOutputStream,
}

fn is_output_stream(r: &ResourceRef) -> bool {
    r.name == "output-stream"
        && r.interface
            .as_deref()
            .is_some_and(|i| i.starts_with("wasi:io/streams@"))
}

fn holds_output_stream(ty: &ValueType) -> bool {
    use ValueType as V;
    match ty {
        V::Own(r) => is_output_stream(r),
        V::List(t) | V::Option(t) => holds_output_stream(t),
        V::Result { ok, err } => [ok, err]
            .into_iter()
            .flatten()
            .any(|t| holds_output_stream(t)),
        V::Tuple(ts) => ts.iter().any(holds_output_stream),
        V::Record { fields, .. } => fields.iter().any(|(_, t)| holds_output_stream(t)),
        V::Variant { cases, .. } => cases.iter().flat_map(|(_, t)| t).any(holds_output_stream),
        _ => false,
    }
}

fn role(
    interface: Option<&str>,
    name: &str,
    params: &[(String, ValueType)],
    result: Option<&ValueType>,
) -> Role {
    let interface = interface.unwrap_or("");
    let own_stream = matches!(result, Some(ValueType::Own(r)) if is_output_stream(r));
    if interface.starts_with("wasi:cli/stdout@") && name == "get-stdout" && own_stream {
        return Role::GetStdout;
    }
    if interface.starts_with("wasi:cli/stderr@") && name == "get-stderr" && own_stream {
        return Role::GetStderr;
    }
    if interface.starts_with("wasi:io/streams@")
        && matches!(
            name,
            "[method]output-stream.write" | "[method]output-stream.blocking-write-and-flush"
        )
        && matches!(params, [(_, ValueType::Borrow(r)), (_, ValueType::List(t))]
            if is_output_stream(r) && **t == ValueType::U8)
    {
        return Role::Write;
    }
    if result.is_some_and(holds_output_stream) {
        return Role::NewOutputStream;
    }
    Role::Other
}

/// A function's role and the result type its [`Role::NewOutputStream`] walk needs (only that
/// role's: every replay makes a mirror, and copying every function's types was most of that).
struct Func {
    role: Role,
    result: Option<ValueType>,
}

/// How much of the end of each stream is kept for a divergence report.
const TAIL: usize = 200;

/// The end of what was written to a stream, and how much was written.
#[derive(Default)]
struct Tail {
    bytes: Vec<u8>,
    total: u64,
}

impl Tail {
    /// Keeps the last [`TAIL`] bytes (trimmed only when twice as many are held: a copy per
    /// [`TAIL`] bytes written at most, whatever the write sizes).
    fn push(&mut self, bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let keep = &bytes[bytes.len().saturating_sub(TAIL)..];
        self.bytes.extend_from_slice(keep);
        if self.bytes.len() > 2 * TAIL {
            let cut = self.bytes.len() - TAIL;
            self.bytes.drain(..cut);
        }
    }

    fn last(&self) -> (Vec<u8>, u64) {
        let start = self.bytes.len().saturating_sub(TAIL);
        (self.bytes[start..].to_vec(), self.total)
    }
}

/// Shows a replayed guest's stdout and stderr writes.
pub struct OutputMirror {
    /// By function id (`ComponentInfo::intercepted_functions`).
    funcs: Vec<Func>,
    /// Stream ids that `get-stdout` / `get-stderr` returned and that still name those streams.
    stdout_ids: Vec<u32>,
    stderr_ids: Vec<u32>,
    out: Sink,
    err: Sink,
    /// The ends of stdout and stderr, for a divergence report.
    out_tail: Tail,
    err_tail: Tail,
}

impl OutputMirror {
    /// A mirror for the functions of `info`, showing the output as `output` says.
    pub fn new(info: &ComponentInfo, output: Output) -> Self {
        let funcs = info
            .intercepted_functions()
            .map(|f| {
                let result = f.function.result.as_ref();
                let role = role(f.interface, &f.function.name, &f.function.params, result);
                Func {
                    result: match role {
                        Role::NewOutputStream => result.cloned(),
                        _ => None,
                    },
                    role,
                }
            })
            .collect();
        let (out, err) = match output {
            Output::Discard => (Sink::Discard, Sink::Discard),
            Output::Stream { stdout, stderr } => (Sink::Stream(stdout), Sink::Stream(stderr)),
            Output::Capture => (Sink::Capture(Vec::new()), Sink::Capture(Vec::new())),
        };
        OutputMirror {
            funcs,
            stdout_ids: Vec::new(),
            stderr_ids: Vec::new(),
            out,
            err,
            out_tail: Tail::default(),
            err_tail: Tail::default(),
        }
    }

    /// The last bytes the guest wrote to stdout and how many it wrote in all; the same of stderr.
    pub fn tails(&self) -> ((Vec<u8>, u64), (Vec<u8>, u64)) {
        (self.out_tail.last(), self.err_tail.last())
    }

    /// Follows the stdout/stderr stream ids and shows what the guest writes to them.
    pub fn observe(&mut self, func: u32, args: &[u8], results: &[u8]) {
        let Some((stream, range)) = self.written(func, args, results) else {
            return;
        };
        // Bounds checked by `written`; output that cannot be shown (closed pipe) does not change
        // the replay.
        let Some(bytes) = args.get(range) else {
            return;
        };
        match stream {
            StdStream::Stdout => {
                self.out.write(bytes);
                self.out_tail.push(bytes);
            }
            StdStream::Stderr => {
                self.out.flush();
                self.err.write(bytes);
                self.err_tail.push(bytes);
            }
        }
    }

    /// Follows the stdout/stderr stream ids through the call `func(args) -> results` and says
    /// whether it was guest output: a write that succeeded when recorded on a stream that names
    /// stdout or stderr, with the range of `args` that holds the bytes written. What `observe`
    /// shows, and what `instrument --embed-trace --stdio` has the standalone print.
    pub fn written(
        &mut self,
        func: u32,
        args: &[u8],
        results: &[u8],
    ) -> Option<(StdStream, Range<usize>)> {
        let f = self.funcs.get(func as usize)?;
        match f.role {
            Role::Other => None,
            Role::GetStdout | Role::GetStderr => {
                let id = Cursor::new(results).u32().ok()?;
                forget(&mut self.stdout_ids, id);
                forget(&mut self.stderr_ids, id);
                if f.role == Role::GetStdout {
                    self.stdout_ids.push(id);
                } else {
                    self.stderr_ids.push(id);
                }
                None
            }
            Role::NewOutputStream => {
                // A new stream may reuse the id of a dropped stdout/stderr stream.
                let mut handles = Vec::new();
                if let Some(ty) = &f.result {
                    if Cursor::new(results).handles(ty, &mut handles).is_ok() {
                        for h in handles
                            .iter()
                            .filter(|h| h.own && is_output_stream(h.resource))
                        {
                            forget(&mut self.stdout_ids, h.id);
                            forget(&mut self.stderr_ids, h.id);
                        }
                    }
                }
                None
            }
            Role::Write => {
                // Only writes that succeeded when recorded (`ok`, encoded as tag 0) were output.
                if results != [0] {
                    return None;
                }
                // `(self: borrow<output-stream>, contents: list<u8>)`, nothing after.
                let mut cursor = Cursor::new(args);
                let id = cursor.u32().ok()?;
                let bytes = cursor.bytes().ok()?;
                if !cursor.is_empty() {
                    return None;
                }
                let end = cursor.position();
                let range = end - bytes.len()..end;
                if self.stdout_ids.contains(&id) {
                    Some((StdStream::Stdout, range))
                } else if self.stderr_ids.contains(&id) {
                    Some((StdStream::Stderr, range))
                } else {
                    None
                }
            }
        }
    }

    /// The role of each function, by id.
    #[cfg(test)]
    pub(super) fn roles(&self) -> Vec<Role> {
        self.funcs.iter().map(|f| f.role).collect()
    }

    /// Flushes the shown output.
    pub fn flush(&mut self) {
        self.out.flush();
        self.err.flush();
    }

    /// What was captured ([`Output::Capture`]): the guest's stdout and stderr.
    pub fn into_captured(self) -> (Vec<u8>, Vec<u8>) {
        (self.out.into_captured(), self.err.into_captured())
    }
}

fn forget(ids: &mut Vec<u32>, id: u32) {
    ids.retain(|&i| i != id);
}

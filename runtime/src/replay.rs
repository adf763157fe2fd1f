//! `proxyrt replay app.wasm trace.bin`: runs a component against a trace instead of a host.
//!
//! The component is instrumented in replay mode (proxy-gen's `Mode::Replay`): the composition imports
//! nothing but `proxyrt:recorder/replayer@0.1.0`, whose one function `next(func-id, args) -> results`
//! this module implements. Every host call the guest makes arrives there with its arguments encoded
//! exactly as `record` encoded them; the [`Replayer`] compares the function and the argument bytes
//! with the trace's next `Call` and answers with the bytes of the `Return` that follows it. No WASI
//! host is linked at all: files, clocks, randomness, stdin and the environment all come from the
//! trace, so a replay runs anywhere.
//!
//! How a replay ends:
//! - the guest does what the trace says to the end (`run` returns, calls `wasi:cli/exit`, or traps
//!   as recorded): the recorded exit status (134 for a trap, as `run`);
//! - the guest does something else (another function, other arguments, a call the trace does not
//!   have, a missing call, another ending): a report of the first difference on stderr (entry
//!   number, expected and actual call, values in WAVE) and [`DIVERGENCE_EXIT_CODE`];
//! - the trace cannot be read (cut, corrupt): an `Error:` and status 1.
//!
//! What the guest wrote to its stdout and stderr streams (as recorded: the bytes are arguments of
//! the `write` calls) is shown on the real stdout and stderr unless `--quiet`.
//!
//! The trace is read one entry at a time, so memory stays flat however long the run.

use crate::cache::{self, Instrumented};
use crate::cli::{ReplayArgs, WasmOptions};
use crate::load;
use crate::run::{self, error_report, TRAP_EXIT_CODE};
use anyhow::{anyhow, bail, Context, Result};
use recorder_host::trace::{Entry, EntryRef, Header, TraceError, TraceReader};
use recorder_host::types::{ComponentInfo, InterceptedFunction, ResourceRef, ValueType};
use recorder_host::value::{convert, encode, wave, Decoder};
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;
use wasmtime::component::{Linker, Val, WasmList};
use wasmtime::{Store, StoreContextMut};

/// Exit status of `proxyrt replay` when the guest diverges from the trace: distinct from the
/// statuses a guest can produce through `wasi:cli/exit` in practice (0, 1), from a trap (134) and
/// from proxyrt's own errors (1).
pub const DIVERGENCE_EXIT_CODE: i32 = 86;

/// The replayer interface's instance name, as the replay proxy imports it.
pub const INTERFACE: &str = "proxyrt:recorder/replayer@0.1.0";

/// At most this many characters of WAVE are shown per call in a divergence report.
const MAX_SHOWN_CHARS: usize = 300;

/// Arguments bigger than this (encoded) are not decoded for a report (decoding builds one value per
/// list element); their size is shown instead.
const MAX_DECODED_BYTES: usize = 64 << 10;

/// What the replayer does with a function besides answering it: the calls that show the guest's
/// output, and those that create output streams (whose ids then no longer name stdout/stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
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

/// An intercepted function, as reports name it.
struct Func {
    /// `wasi:io/streams@0.2.12.[method]output-stream.write`, or a bare name.
    name: String,
    params: Vec<ValueType>,
    result: Option<ValueType>,
    role: Role,
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
    params: &[ValueType],
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
        && matches!(params, [ValueType::Borrow(r), ValueType::List(t)]
            if is_output_stream(r) && **t == ValueType::U8)
    {
        return Role::Write;
    }
    if result.is_some_and(holds_output_stream) {
        return Role::NewOutputStream;
    }
    Role::Other
}

fn func(f: InterceptedFunction<'_>, role: Role) -> Func {
    Func {
        name: f.qualified_name(),
        params: f.param_types(),
        result: f.function.result.clone(),
        role,
    }
}

/// The component's exports, by id (`ComponentInfo::exports`), as reports name them.
fn exports(info: &ComponentInfo) -> Vec<Func> {
    info.exports().map(|f| func(f, Role::Other)).collect()
}

fn functions(info: &ComponentInfo) -> Vec<Func> {
    info.intercepted_functions()
        .map(|f| {
            let r = role(
                f.interface,
                &f.function.name,
                &f.param_types(),
                f.function.result.as_ref(),
            );
            func(f, r)
        })
        .collect()
}

/// The first difference between the guest's run and the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// The number of the trace entry that the guest did not follow (as `trace show` numbers them).
    pub entry: u64,
    /// What the trace has there: a call in WAVE, or how the recorded run ended.
    pub expected: String,
    /// What the guest did instead.
    pub actual: String,
    /// More detail when there is some (where the argument bytes first differ).
    pub detail: Option<String>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "replay diverged from the trace at entry #{}:",
            self.entry
        )?;
        writeln!(f, "  expected (trace): {}", self.expected)?;
        write!(f, "  actual (guest):   {}", self.actual)?;
        if let Some(detail) = &self.detail {
            write!(f, "\n  {detail}")?;
        }
        Ok(())
    }
}

/// Why a replay stopped inside a host call, or at its end, other than by answering it.
#[derive(Debug)]
pub enum Stop {
    /// The recorded guest called `wasi:cli/exit` here: the run ends with this status.
    Exit(i32),
    /// The host trapped at this call when the trace was recorded, with this message.
    HostTrap(String),
    /// The guest did not do what the trace says.
    Divergence(Divergence),
    /// The trace cannot be read further (cut, corrupt, or not a trace `record` writes).
    Trace(anyhow::Error),
}

impl Stop {
    /// The message of the error a host function returns to unwind the guest.
    fn message(&self) -> String {
        match self {
            Stop::Exit(code) => format!("the guest exits with status {code} (as recorded)"),
            Stop::HostTrap(message) => message.clone(),
            Stop::Divergence(_) => "the guest diverged from the trace".into(),
            Stop::Trace(_) => "the trace cannot be read further".into(),
        }
    }
}

/// How the guest's `run` ended in the replay, to be checked against the trace's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// `run` returned: status 0 for `ok`, 1 for `err`.
    Returned(i32),
    /// The guest trapped (on its own: not in a host call), with this message.
    Trapped(String),
}

/// Where the replayer shows the guest's output: `None` drops it.
pub type Sink = Option<Box<dyn Write + Send>>;

/// Answers the guest's host calls from a trace, checking each against it.
pub struct Replayer<R: Read> {
    reader: TraceReader<R>,
    /// The trace's name in messages (its path).
    name: String,
    funcs: Vec<Func>,
    exports: Vec<Func>,
    /// The export the host called last, until it returns: names its results in reports.
    export: Option<u32>,
    /// The number of the next entry to read.
    next: u64,
    /// Stream ids that `get-stdout` / `get-stderr` returned and that still name those streams.
    stdout_ids: Vec<u32>,
    stderr_ids: Vec<u32>,
    /// Where the guest's output goes; `None` when it is not shown (`--quiet`).
    out: Sink,
    err: Sink,
}

impl<R: Read> Replayer<R> {
    /// A replayer of `reader`'s entries, named `name` in messages, showing the guest's stdout and
    /// stderr writes on `out` and `err` (pass `None` to drop them).
    pub fn new(reader: TraceReader<R>, name: impl Into<String>, out: Sink, err: Sink) -> Self {
        let funcs = functions(&reader.header().component);
        let exports = exports(&reader.header().component);
        Replayer {
            reader,
            name: name.into(),
            funcs,
            exports,
            export: None,
            next: 0,
            stdout_ids: Vec::new(),
            stderr_ids: Vec::new(),
            out,
            err,
        }
    }

    pub fn header(&self) -> &Header {
        self.reader.header()
    }

    /// The number of the next entry to be read.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Reads the next entry (`Ok(None)` at the end marker).
    fn read(&mut self) -> Result<Option<Entry>, TraceError> {
        let entry = self.reader.next_entry()?;
        if entry.is_some() {
            self.next += 1;
        }
        Ok(entry)
    }

    /// The stop for a trace that cannot be read at the next entry, where the guest is `doing` something.
    fn unreadable(&self, e: TraceError, doing: &str) -> Stop {
        match e {
            TraceError::Cut {
                complete: 0,
                torn_bytes,
            } => Stop::Trace(anyhow!(
                "the trace {} has no entries (it was cut{}): the recording stopped before the guest \
                 ran, e.g. because the component could not be instantiated on the real hosts \
                 (`proxyrt record` said why); {doing}",
                self.name,
                torn(torn_bytes)
            )),
            TraceError::Cut { torn_bytes, .. } => Stop::Trace(anyhow!(
                "the trace {} ends at entry #{} (it was cut there, without an end marker{}): the \
                 recording was stopped or killed; {doing}",
                self.name,
                self.next,
                torn(torn_bytes)
            )),
            e => Stop::Trace(
                anyhow::Error::new(e).context(format!("cannot read the trace {}", self.name)),
            ),
        }
    }

    fn describe_call(&self, func: u32, args: &[u8]) -> String {
        match self.funcs.get(func as usize) {
            Some(f) => truncate(format!("{}{}", f.name, decode_args(&f.params, args))),
            None => format!("<unknown function {func}>(<{} bytes>)", args.len()),
        }
    }

    /// The host's call of export `func` with `args`, in WAVE.
    fn describe_export_call(&self, func: u32, args: &[u8]) -> String {
        match self.exports.get(func as usize) {
            Some(f) => truncate(format!("export {}{}", f.name, decode_args(&f.params, args))),
            None => format!("<unknown export {func}>(<{} bytes>)", args.len()),
        }
    }

    /// The current export's `results`, in WAVE.
    fn describe_export_return(&self, results: &[u8]) -> String {
        let f = self.export.and_then(|e| self.exports.get(e as usize));
        let name = f.map_or("the export", |f| f.name.as_str());
        let values = match f {
            Some(Func { result: None, .. }) if results.is_empty() => "()".to_string(),
            // One result, shown bare as `trace show` and `--invoke` do.
            Some(f) => decode_values(f.result.as_slice(), results),
            None => format!("<{} bytes>", results.len()),
        };
        truncate(format!("export {name} returns {values}"))
    }

    /// How a divergence names an entry of the trace that the guest did not follow.
    fn describe_entry(&self, entry: Option<&Entry>) -> String {
        match entry {
            Some(Entry::Call { func, args }) => self.describe_call(*func, args),
            Some(Entry::Exit { code }) => format!("the run ends: exit status {code}"),
            Some(Entry::Trap { message }) => format!("the run ends: trap: {message}"),
            Some(Entry::Return { .. }) => "a return (without a call)".into(),
            Some(Entry::ExportCall { func, args }) => self.describe_export_call(*func, args),
            Some(Entry::ExportReturn { results }) => self.describe_export_return(results),
            Some(Entry::End { .. }) | None => "the end of the trace".into(),
        }
    }

    /// The host calls an export: returns the export the trace has the host call here and its
    /// arguments (the replay makes the same call), or why the replay cannot.
    pub fn begin_export(&mut self) -> Result<(u32, Vec<u8>), Stop> {
        let entry_no = self.next;
        let entry = self
            .read()
            .map_err(|e| self.unreadable(e, "where the host calls the guest's export"))?;
        match entry {
            Some(Entry::ExportCall { func, args }) if (func as usize) < self.exports.len() => {
                self.export = Some(func);
                Ok((func, args))
            }
            Some(Entry::ExportCall { func, .. }) => Err(Stop::Trace(anyhow!(
                "the trace {} calls export {func} at entry #{entry_no}, which the component does                  not have: it was not written by `record` for this program",
                self.name
            ))),
            Some(entry @ Entry::Call { .. }) => Err(Stop::Divergence(Divergence {
                entry: entry_no,
                expected: self.describe_entry(Some(&entry)),
                actual: "the guest is ready for the host's call of its export".into(),
                detail: Some(
                    "(the guest makes no call while it is instantiated; the recorded one did)"
                        .into(),
                ),
            })),
            other => Err(Stop::Trace(anyhow!(
                "the trace {} has {} at entry #{entry_no} where the host calls an export: it was                  not written by `record`",
                self.name,
                self.describe_entry(other.as_ref())
            ))),
        }
    }

    /// The export called by [`Self::begin_export`] returned `results` (encoded): checks them
    /// against the trace, and that the guest made every recorded call before returning.
    pub fn end_export(&mut self, results: &[u8]) -> Result<(), Stop> {
        let entry_no = self.next;
        let actual = self.describe_export_return(results);
        let entry = self
            .read()
            .map_err(|e| self.unreadable(e, &format!("where {actual}")))?;
        let detail = match &entry {
            Some(Entry::ExportReturn { results: expected }) if expected == results => {
                self.export = None;
                return Ok(());
            }
            Some(Entry::ExportReturn { .. }) => "(the export returns something else)",
            Some(Entry::Call { .. }) => {
                "(the guest returns without a call that the recorded run made)"
            }
            _ => "(the guest returns where the recorded run did not)",
        };
        Err(Stop::Divergence(Divergence {
            entry: entry_no,
            expected: self.describe_entry(entry.as_ref()),
            actual,
            detail: Some(detail.into()),
        }))
    }

    /// The guest calls import `func` with `args`: returns the recorded results, or why the replay
    /// stops here.
    pub fn call(&mut self, func: u32, args: &[u8]) -> Result<Vec<u8>, Stop> {
        // The common case, the trace's next entry being this very call, is checked on the bytes
        // borrowed from the reader's frame buffer: no allocation but the results handed back.
        let entry_no = self.next;
        let mismatch = match self.reader.next_entry_ref() {
            Ok(Some(EntryRef::Call {
                func: expected,
                args: expected_args,
            })) if expected == func && expected_args == args => None,
            Ok(other) => Some(Ok(other.map(|e| e.to_entry()))),
            Err(e) => Some(Err(e)),
        };
        match mismatch {
            None => self.next += 1,
            Some(Err(e)) => {
                let doing = format!("where the guest calls {}", self.describe_call(func, args));
                return Err(self.unreadable(e, &doing));
            }
            Some(Ok(entry)) => {
                if entry.is_some() {
                    self.next += 1;
                }
                return Err(self.not_this_call(entry_no, func, args, entry));
            }
        }
        let result_no = self.next;
        let entry = match self.reader.next_entry_ref() {
            Ok(Some(EntryRef::Return { results })) => {
                let results = results.to_vec();
                self.next += 1;
                self.observe(func, args, &results);
                return Ok(results);
            }
            Ok(other) => other.map(|e| e.to_entry()),
            Err(e) => {
                let doing = format!("while the call at entry #{entry_no} waits for its results");
                return Err(self.unreadable(e, &doing));
            }
        };
        if entry.is_some() {
            self.next += 1;
        }
        match entry {
            Some(Entry::Exit { code }) => {
                self.expect_end()?;
                Err(Stop::Exit(code))
            }
            Some(Entry::Trap { message }) => {
                self.expect_end()?;
                Err(Stop::HostTrap(message))
            }
            other => Err(Stop::Trace(anyhow!(
                "the trace {} has {} at entry #{result_no}, after the call at entry #{entry_no}: \
                 it was not written by `record`",
                self.name,
                self.describe_entry(other.as_ref())
            ))),
        }
    }

    /// Why the guest's call of `func` with `args` does not follow `entry`, the trace's entry
    /// number `entry_no`.
    fn not_this_call(&self, entry_no: u64, func: u32, args: &[u8], entry: Option<Entry>) -> Stop {
        match entry {
            Some(Entry::Call {
                func: expected,
                args: expected_args,
            }) => {
                let detail = (expected == func).then(|| {
                    let at = expected_args
                        .iter()
                        .zip(args)
                        .position(|(a, b)| a != b)
                        .unwrap_or(expected_args.len().min(args.len()));
                    format!(
                        "(the encoded arguments first differ at byte {at}; lengths: {} recorded, {} now)",
                        expected_args.len(),
                        args.len()
                    )
                });
                Stop::Divergence(Divergence {
                    entry: entry_no,
                    expected: self.describe_call(expected, &expected_args),
                    actual: self.describe_call(func, args),
                    detail,
                })
            }
            Some(
                entry @ (Entry::Exit { .. }
                | Entry::Trap { .. }
                | Entry::End { .. }
                | Entry::ExportReturn { .. }),
            ) => Stop::Divergence(Divergence {
                entry: entry_no,
                expected: self.describe_entry(Some(&entry)),
                actual: self.describe_call(func, args),
                detail: Some("(the guest makes a call that the recorded run did not make)".into()),
            }),
            None => Stop::Divergence(Divergence {
                entry: entry_no,
                expected: self.describe_entry(None),
                actual: self.describe_call(func, args),
                detail: Some(
                    "(the trace has no exit entry: it was not written by `record`)".into(),
                ),
            }),
            Some(other) => Stop::Trace(anyhow!(
                "the trace {} has {} at entry #{entry_no} where a call is expected: it was not \
                 written by `record`",
                self.name,
                self.describe_entry(Some(&other)),
            )),
        }
    }

    /// The guest's `run` ended as `finish`: checks that the trace ends the same way.
    pub fn finish(&mut self, finish: &Finish) -> Result<(), Stop> {
        let entry_no = self.next;
        let actual = match finish {
            Finish::Returned(code) => format!("the run ends: exit status {code}"),
            Finish::Trapped(message) => format!("the run ends: trap: {message}"),
        };
        let entry = self
            .read()
            .map_err(|e| self.unreadable(e, &format!("where the guest's run ends ({actual})")))?;
        let same = match (&entry, finish) {
            (Some(Entry::Exit { code }), Finish::Returned(actual)) => code == actual,
            (Some(Entry::Trap { message }), Finish::Trapped(actual)) => message == actual,
            _ => false,
        };
        if !same {
            let detail = match &entry {
                Some(Entry::Call { .. }) => {
                    Some("(the guest ends without a call that the recorded run made)".to_string())
                }
                _ => None,
            };
            return Err(Stop::Divergence(Divergence {
                entry: entry_no,
                expected: self.describe_entry(entry.as_ref()),
                actual,
                detail,
            }));
        }
        self.expect_end()
    }

    /// After the recorded ending, the trace must end.
    fn expect_end(&mut self) -> Result<(), Stop> {
        let entry_no = self.next;
        let entry = self
            .read()
            .map_err(|e| self.unreadable(e, "right after the recorded ending"))?;
        match entry {
            None => Ok(()),
            Some(other) => Err(Stop::Trace(anyhow!(
                "the trace {} has {} at entry #{entry_no}, after the run's end: it was not written \
                 by `record`",
                self.name,
                self.describe_entry(Some(&other))
            ))),
        }
    }

    /// Follows the stdout/stderr stream ids and shows what the guest writes to them.
    fn observe(&mut self, func: u32, args: &[u8], results: &[u8]) {
        let Some(f) = self.funcs.get(func as usize) else {
            return;
        };
        match f.role {
            Role::Other => {}
            Role::GetStdout | Role::GetStderr => {
                let Some((id, _)) = leb_u32(results) else {
                    return;
                };
                forget(&mut self.stdout_ids, id);
                forget(&mut self.stderr_ids, id);
                if f.role == Role::GetStdout {
                    self.stdout_ids.push(id);
                } else {
                    self.stderr_ids.push(id);
                }
            }
            Role::NewOutputStream => {
                // A new stream may reuse the id of a dropped stdout/stderr stream.
                let mut ids = Vec::new();
                if let Some(ty) = &f.result {
                    let mut pos = 0;
                    if walk(ty, results, &mut pos, &mut ids).is_some() {
                        for id in ids {
                            forget(&mut self.stdout_ids, id);
                            forget(&mut self.stderr_ids, id);
                        }
                    }
                }
            }
            Role::Write => {
                // Only writes that succeeded when recorded (`ok`, encoded as tag 0) were output.
                if results != [0] {
                    return;
                }
                let Some((id, n)) = leb_u32(args) else {
                    return;
                };
                let Some((len, m)) = args.get(n..).and_then(leb_u32) else {
                    return;
                };
                let Some(bytes) = args.get(n + m..).filter(|b| b.len() == len as usize) else {
                    return;
                };
                if self.stdout_ids.contains(&id) {
                    if let Some(out) = &mut self.out {
                        // Output that cannot be shown (closed pipe) does not change the replay.
                        let _ = out.write_all(bytes);
                    }
                } else if self.stderr_ids.contains(&id) {
                    if let Some(out) = &mut self.out {
                        let _ = out.flush();
                    }
                    if let Some(err) = &mut self.err {
                        let _ = err.write_all(bytes);
                    }
                }
            }
        }
    }

    /// Flushes the shown output.
    pub fn flush_output(&mut self) {
        if let Some(out) = &mut self.out {
            let _ = out.flush();
        }
        if let Some(err) = &mut self.err {
            let _ = err.flush();
        }
    }
}

/// How a cut trace's torn last frame is mentioned.
fn torn(bytes: u64) -> String {
    if bytes > 0 {
        format!(", after which {bytes} bytes of an incomplete entry follow")
    } else {
        String::new()
    }
}

/// `bytes` decoded as values of `types`, as a WAVE tuple `(1, "x")`, or what they are when they
/// are too big to show or cannot be decoded.
fn decode_args(types: &[ValueType], bytes: &[u8]) -> String {
    format!("({})", decode_values(types, bytes))
}

/// `bytes` decoded as values of `types`, in WAVE separated by commas (`1, "x"`), or what they are
/// when they are too big to show or cannot be decoded.
fn decode_values(types: &[ValueType], bytes: &[u8]) -> String {
    if bytes.len() > MAX_DECODED_BYTES {
        return format!("<{} bytes of values>", bytes.len());
    }
    match Decoder::decode_all(bytes, types) {
        Ok(values) => values.iter().map(wave).collect::<Vec<_>>().join(", "),
        Err(e) => format!("<undecodable: {e}; {} bytes>", bytes.len()),
    }
}

fn forget(ids: &mut Vec<u32>, id: u32) {
    ids.retain(|&i| i != id);
}

/// Shortens `s` to [`MAX_SHOWN_CHARS`] characters, saying how much was left out.
fn truncate(s: String) -> String {
    match s.char_indices().nth(MAX_SHOWN_CHARS) {
        None => s,
        Some((cut, _)) => {
            let more = s[cut..].chars().count();
            format!("{}… ({more} more characters)", &s[..cut])
        }
    }
}

/// Reads an unsigned LEB128 `u32` at the start of `bytes`; returns it and its length.
fn leb_u32(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(5) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return u32::try_from(value).ok().map(|v| (v, i + 1));
        }
    }
    None
}

/// Skips a LEB128 integer of any width.
fn skip_leb(bytes: &[u8], pos: &mut usize) -> Option<()> {
    loop {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        if b & 0x80 == 0 {
            return Some(());
        }
    }
}

/// Walks one encoded value of type `ty` at `pos` (recorder-host's value format), collecting the
/// ids of the `own<output-stream>` handles it holds. `None` if the bytes do not fit the type.
fn walk(ty: &ValueType, bytes: &[u8], pos: &mut usize, ids: &mut Vec<u32>) -> Option<()> {
    use ValueType as V;
    let take = |pos: &mut usize, n: usize| -> Option<()> {
        let end = pos.checked_add(n).filter(|&e| e <= bytes.len())?;
        *pos = end;
        Some(())
    };
    let leb = |pos: &mut usize| -> Option<u32> {
        let (v, n) = leb_u32(bytes.get(*pos..)?)?;
        *pos += n;
        Some(v)
    };
    match ty {
        V::Bool | V::U8 | V::S8 => take(pos, 1)?,
        V::U16 | V::U32 | V::U64 | V::S16 | V::S32 | V::S64 | V::Char => skip_leb(bytes, pos)?,
        V::F32 => take(pos, 4)?,
        V::F64 => take(pos, 8)?,
        V::String => {
            let n = leb(pos)?;
            take(pos, n as usize)?
        }
        V::List(t) => {
            let n = leb(pos)?;
            if **t == V::U8 {
                take(pos, n as usize)?
            } else if n as usize > bytes.len() - *pos {
                // As the decoder: a count beyond the bytes left is corrupt, whatever the elements.
                return None;
            } else {
                for _ in 0..n {
                    walk(t, bytes, pos, ids)?;
                }
            }
        }
        V::Option(t) => match *bytes.get(*pos)? {
            0 => take(pos, 1)?,
            1 => {
                take(pos, 1)?;
                walk(t, bytes, pos, ids)?
            }
            _ => return None,
        },
        V::Result { ok, err } => {
            let side = match *bytes.get(*pos)? {
                0 => ok,
                1 => err,
                _ => return None,
            };
            take(pos, 1)?;
            if let Some(t) = side {
                walk(t, bytes, pos, ids)?
            }
        }
        V::Tuple(ts) => {
            for t in ts {
                walk(t, bytes, pos, ids)?;
            }
        }
        V::Record { fields, .. } => {
            for (_, t) in fields {
                walk(t, bytes, pos, ids)?;
            }
        }
        V::Variant { cases, .. } => {
            let case = leb(pos)? as usize;
            if let Some(t) = cases.get(case)?.1.as_ref() {
                walk(t, bytes, pos, ids)?
            }
        }
        V::Enum { .. } => skip_leb(bytes, pos)?,
        V::Flags { flags, .. } => take(pos, flags.len().div_ceil(8))?,
        V::Own(r) => {
            let id = leb(pos)?;
            if is_output_stream(r) {
                ids.push(id);
            }
        }
        V::Borrow(_) => skip_leb(bytes, pos)?,
        _ => return None,
    }
    Some(())
}

/// Store data of a replay: the replayer (taken out while a call reads the guest's memory) and why the
/// replay stopped, when a host call stopped it.
pub struct ReplayHost {
    replayer: Option<Replayer<BufReader<File>>>,
    stopped: Option<Stop>,
}

/// Defines `proxyrt:recorder/replayer@0.1.0` in `linker`.
pub fn add_to_linker(linker: &mut Linker<ReplayHost>) -> Result<()> {
    let mut inst = linker.instance(INTERFACE).map_err(anyhow::Error::from)?;
    inst.func_wrap(
        "next",
        |mut store: StoreContextMut<'_, ReplayHost>,
         (func, args): (u32, WasmList<u8>)|
         -> wasmtime::Result<(Vec<u8>,)> {
            // The replayer is moved out of the store for the call, so that the arguments can be
            // read in place in the guest's memory while it runs.
            let mut replayer = store.data_mut().replayer.take().ok_or_else(|| {
                wasmtime::format_err!("the replayer was called after the replay stopped")
            })?;
            let result = replayer.call(func, args.as_le_slice(&store));
            let data = store.data_mut();
            data.replayer = Some(replayer);
            match result {
                Ok(results) => Ok((results,)),
                Err(stop) => {
                    let message = stop.message();
                    data.stopped = Some(stop);
                    Err(wasmtime::format_err!("{message}"))
                }
            }
        },
    )
    .map_err(anyhow::Error::from)?;
    Ok(())
}

fn short_hex(bytes: &[u8]) -> String {
    bytes.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// `proxyrt replay`: replays `args.trace` on `args.wasm` and returns the process exit status.
pub async fn replay(args: &ReplayArgs) -> Result<i32> {
    let path = &args.wasm;
    let original = load::read_binary_component(path, "replay")?;
    let Instrumented { composed, info } =
        cache::instrumented(&original, proxy_gen::Mode::Replay, &args.cache)
            .with_context(|| format!("cannot replay {}", path.display()))?;
    let reader = TraceReader::open(&args.trace)
        .with_context(|| format!("cannot read the trace {}", args.trace.display()))?;
    check_header(
        reader.header(),
        &info,
        &original,
        path,
        &args.trace,
        args.quiet,
    )?;
    let engine = run::engine(&WasmOptions::default())?;
    let component = run::compile(&engine, &composed, &args.cache)
        .with_context(|| format!("failed to compile {}", path.display()))?;
    let mut linker = Linker::new(&engine);
    add_to_linker(&mut linker)?;

    let (out, err): (Sink, Sink) = if args.quiet {
        (None, None)
    } else {
        // Buffered: a guest printing line by line would otherwise cost a write(2) per line, which
        // the recorded run paid for real but a replay need not. Everything is flushed before
        // stderr is written to, and before a report or the end of the replay.
        (
            Some(Box::new(std::io::BufWriter::with_capacity(
                64 << 10,
                std::io::stdout(),
            ))),
            Some(Box::new(std::io::stderr())),
        )
    };
    let replayer = Replayer::new(reader, args.trace.display().to_string(), out, err);
    let mut store = Store::new(
        &engine,
        ReplayHost {
            replayer: Some(replayer),
            stopped: None,
        },
    );
    let outcome = execute(&mut store, &linker, &component, &info, path).await;
    let data = store.data_mut();
    let stopped = data.stopped.take();
    let Some(replayer) = data.replayer.as_mut() else {
        bail!("internal error: the replayer is gone");
    };
    replayer.flush_output();
    let (ending, report) = match (outcome, stopped) {
        (Outcome::Stopped(e), Some(stop)) => (Err(stop), Some(e)),
        (_, Some(stop)) => (Err(stop), None),
        (Outcome::Stopped(e), None) => return Err(e),
        (Outcome::Returned { code, shown }, None) => {
            let finish = Finish::Returned(code);
            let ending = replayer.finish(&finish).map(|()| code);
            // What `run --invoke` printed after the guest's output, if the replay matched.
            if let (Ok(_), Some(shown), false) = (&ending, shown, args.quiet) {
                replayer.flush_output();
                println!("{shown}");
            }
            (ending, None)
        }
        (Outcome::Trapped(e), None) => {
            let finish = Finish::Trapped(e.root_cause().to_string());
            (replayer.finish(&finish).map(|()| TRAP_EXIT_CODE), Some(e))
        }
    };
    replayer.flush_output();
    match ending {
        Ok(code) => {
            if let Some(trap) = report {
                eprintln!("{}", error_report(&trap));
            }
            Ok(code)
        }
        Err(Stop::Exit(code)) => Ok(code),
        Err(Stop::HostTrap(message)) => {
            match report {
                Some(e) => eprintln!("{}", error_report(&e)),
                None => eprintln!("Error: {message}"),
            }
            eprintln!("(the host trapped at this call when the trace was recorded)");
            Ok(TRAP_EXIT_CODE)
        }
        Err(Stop::Divergence(d)) => {
            eprintln!("{d}");
            eprintln!(
                "(`proxyrt trace show {} --skip {}` shows the trace from there)",
                args.trace.display(),
                d.entry.saturating_sub(2)
            );
            Ok(DIVERGENCE_EXIT_CODE)
        }
        Err(Stop::Trace(e)) => Err(e),
    }
}

/// Refuses a trace of another program; notes a trace of another build of this one.
fn check_header(
    header: &Header,
    info: &ComponentInfo,
    original: &[u8],
    path: &Path,
    trace: &Path,
    quiet: bool,
) -> Result<()> {
    if header.interface_sha256 != crate::recorder::interface_sha256(info)? {
        bail!(
            "the trace {} was recorded from another program (its imports and exports differ from \
             those of {}; the trace's argv was {:?})",
            trace.display(),
            path.display(),
            header.argv
        );
    }
    let sha: [u8; 32] = Sha256::digest(original).into();
    if header.component_sha256 != sha && !quiet {
        eprintln!(
            "note: {} (sha256 {}…) is another build of the program recorded in {} (sha256 {}…); \
             replaying it",
            path.display(),
            short_hex(&sha),
            trace.display(),
            short_hex(&header.component_sha256)
        );
    }
    Ok(())
}

/// How the guest's export call ended in the replay.
enum Outcome {
    /// The export returned: exit status `code` (0, or 1 for `wasi:cli/run` returning `err`), and
    /// the results to print, as `run --invoke` does (`None` for `wasi:cli/run`).
    Returned { code: i32, shown: Option<String> },
    /// The guest trapped on its own, with wasmtime's report.
    Trapped(anyhow::Error),
    /// A host call or proxyrt itself stopped the run with this error (the store says why if a host
    /// call did).
    Stopped(anyhow::Error),
}

/// Instantiates the replay composition and makes the export call the trace has the host make, with
/// the recorded arguments, checking its results against the recorded ones.
async fn execute(
    store: &mut Store<ReplayHost>,
    linker: &Linker<ReplayHost>,
    component: &wasmtime::component::Component,
    info: &ComponentInfo,
    path: &Path,
) -> Outcome {
    let instance = match linker.instantiate_async(&mut *store, component).await {
        Ok(instance) => instance,
        Err(e) => {
            return ended(
                store,
                e,
                &format!("failed to instantiate {}", path.display()),
            )
        }
    };
    let begun = match store.data_mut().replayer.as_mut() {
        Some(replayer) => replayer.begin_export(),
        None => return Outcome::Stopped(anyhow!("internal error: the replayer is gone")),
    };
    let (id, args) = match begun {
        Ok(call) => call,
        Err(stop) => return stopped(store, stop),
    };
    let Some(export) = info.exports().nth(id as usize) else {
        return Outcome::Stopped(anyhow!("internal error: export {id} vanished"));
    };
    let name = export.qualified_name();
    let (func, params) = match prepare(store, &instance, export, &args) {
        Ok(prepared) => prepared,
        Err(e) => {
            let e = e.context(format!("cannot replay the call of export `{name}`"));
            return stopped(store, Stop::Trace(e));
        }
    };
    let mut results = vec![Val::Bool(false); func.ty(&*store).results().len()];
    if let Err(e) = func.call_async(&mut *store, &params, &mut results).await {
        return ended(store, e, &format!("failed to replay {}", path.display()));
    }
    let mut encoded = Vec::new();
    if let (Some(value), Some(ty)) = (results.first(), &export.function.result) {
        if let Err(e) = encode(value, ty, &mut encoded) {
            let e = anyhow!("cannot encode the results of export `{name}`: {e}");
            return Outcome::Stopped(e);
        }
    }
    let checked = match store.data_mut().replayer.as_mut() {
        Some(replayer) => replayer.end_export(&encoded),
        None => return Outcome::Stopped(anyhow!("internal error: the replayer is gone")),
    };
    if let Err(stop) = checked {
        return stopped(store, stop);
    }
    let is_run = export
        .interface
        .is_some_and(|i| i.starts_with("wasi:cli/run@"))
        && export.function.name == "run";
    if is_run {
        let failed = matches!(results.first(), Some(Val::Result(Err(_))));
        return Outcome::Returned {
            code: i32::from(failed),
            shown: None,
        };
    }
    Outcome::Returned {
        code: 0,
        shown: Some(crate::invoke::display(&results)),
    }
}

/// The function of export `export` in `instance`, and the recorded arguments `args` as its values.
fn prepare(
    store: &mut Store<ReplayHost>,
    instance: &wasmtime::component::Instance,
    export: InterceptedFunction<'_>,
    args: &[u8],
) -> Result<(wasmtime::component::Func, Vec<Val>)> {
    let parent = match export.interface {
        Some(i) => Some(
            instance
                .get_export_index(&mut *store, None, i)
                .with_context(|| format!("the composition exports no instance `{i}`"))?,
        ),
        None => None,
    };
    let name = &export.function.name;
    let index = instance
        .get_export_index(&mut *store, parent.as_ref(), name)
        .with_context(|| format!("the composition exports no function `{name}`"))?;
    let func = instance
        .get_func(&mut *store, index)
        .with_context(|| format!("the export `{name}` is not a function"))?;
    let values =
        Decoder::decode_all(args, &export.param_types()).context("the recorded arguments")?;
    let params = func
        .ty(&*store)
        .params()
        .zip(&values)
        .map(|((_, ty), value)| convert::<_, Val>(value, &ty).map_err(|e| anyhow!(e)))
        .collect::<Result<Vec<Val>>>()
        .context("the recorded arguments")?;
    Ok((func, params))
}

/// The replay stops at `stop`, which the driver reports.
fn stopped(store: &mut Store<ReplayHost>, stop: Stop) -> Outcome {
    let message = stop.message();
    store.data_mut().stopped = Some(stop);
    Outcome::Stopped(anyhow!("{message}"))
}

/// Sorts an error out of the guest's execution: a host call stopped it, the guest trapped or exited,
/// or proxyrt failed (`doing` says at what).
fn ended(store: &Store<ReplayHost>, e: wasmtime::Error, doing: &str) -> Outcome {
    if store.data().stopped.is_some() {
        return Outcome::Stopped(anyhow::Error::from(e));
    }
    match run::Ending::from_error(e) {
        Ok(run::Ending::Trap(e)) => Outcome::Trapped(e),
        Ok(run::Ending::Exit(code)) => Outcome::Returned { code, shown: None },
        Err(e) => Outcome::Stopped(e.context(doing.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use recorder_host::trace::{TraceWriter, FORMAT_VERSION};
    use recorder_host::types::{FuncKind, FunctionInfo, InterfaceInfo};
    use std::sync::{Arc, Mutex};

    /// Output captured from the replayer.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("sink").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().expect("sink").clone()).expect("UTF-8")
        }
    }

    fn resource(interface: &str, name: &str) -> ResourceRef {
        ResourceRef {
            interface: Some(interface.into()),
            name: name.into(),
        }
    }

    const STREAMS: &str = "wasi:io/streams@0.2.12";

    fn func(name: &str, params: Vec<(&str, ValueType)>, result: Option<ValueType>) -> FunctionInfo {
        FunctionInfo {
            name: name.into(),
            kind: FuncKind::Freestanding,
            params: params
                .into_iter()
                .map(|(n, t)| (n.to_string(), t))
                .collect(),
            result,
        }
    }

    fn iface(name: &str, functions: Vec<FunctionInfo>) -> InterfaceInfo {
        InterfaceInfo {
            name: name.into(),
            package: None,
            interface: None,
            version: None,
            resources: Vec::new(),
            functions,
        }
    }

    // Function ids in the test component.
    const GET_STDOUT: u32 = 0;
    const GET_STDERR: u32 = 1;
    const WRITE: u32 = 2;
    const WRITE_AND_FLUSH: u32 = 3;
    const RANDOM: u32 = 4;
    const WRITE_VIA_STREAM: u32 = 5;
    const EXIT: u32 = 6;

    /// A WASI-like component: the real names and types of the functions replay looks at.
    fn info() -> ComponentInfo {
        let stream = || ValueType::Own(resource(STREAMS, "output-stream"));
        let write_params = || {
            vec![
                (
                    "self",
                    ValueType::Borrow(resource(STREAMS, "output-stream")),
                ),
                ("contents", ValueType::List(Box::new(ValueType::U8))),
            ]
        };
        let stream_error = ValueType::Variant {
            name: Some("stream-error".into()),
            cases: vec![
                (
                    "last-operation-failed".into(),
                    Some(ValueType::Own(resource(STREAMS, "error"))),
                ),
                ("closed".into(), None),
            ],
        };
        let write_result = Some(ValueType::Result {
            ok: None,
            err: Some(Box::new(stream_error)),
        });
        ComponentInfo {
            imported_interfaces: vec![
                iface(
                    "wasi:cli/stdout@0.2.12",
                    vec![func("get-stdout", vec![], Some(stream()))],
                ),
                iface(
                    "wasi:cli/stderr@0.2.12",
                    vec![func("get-stderr", vec![], Some(stream()))],
                ),
                iface(
                    STREAMS,
                    vec![
                        func(
                            "[method]output-stream.write",
                            write_params(),
                            write_result.clone(),
                        ),
                        func(
                            "[method]output-stream.blocking-write-and-flush",
                            write_params(),
                            write_result,
                        ),
                    ],
                ),
                iface(
                    "wasi:random/random@0.2.12",
                    vec![func(
                        "get-random-bytes",
                        vec![("len", ValueType::U64)],
                        Some(ValueType::List(Box::new(ValueType::U8))),
                    )],
                ),
                iface(
                    "wasi:filesystem/types@0.2.12",
                    vec![func(
                        "[method]descriptor.write-via-stream",
                        vec![
                            (
                                "self",
                                ValueType::Borrow(resource(
                                    "wasi:filesystem/types@0.2.12",
                                    "descriptor",
                                )),
                            ),
                            ("offset", ValueType::U64),
                        ],
                        Some(ValueType::Result {
                            ok: Some(Box::new(stream())),
                            err: Some(Box::new(ValueType::Enum {
                                name: Some("error-code".into()),
                                cases: vec!["access".into(), "io".into()],
                            })),
                        }),
                    )],
                ),
                iface(
                    "wasi:cli/exit@0.2.12",
                    vec![func(
                        "exit",
                        vec![(
                            "status",
                            ValueType::Result {
                                ok: None,
                                err: None,
                            },
                        )],
                        None,
                    )],
                ),
            ],
            ..ComponentInfo::default()
        }
    }

    fn header() -> Header {
        Header {
            format_version: FORMAT_VERSION,
            proxyrt_version: "test".into(),
            component_sha256: [0; 32],
            interface_sha256: [0; 32],
            component: info(),
            argv: vec!["app".into()],
        }
    }

    /// A trace of `entries`, with the end marker if `complete`.
    fn trace(entries: &[Entry], complete: bool) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut w = TraceWriter::new(&mut bytes, &header()).expect("header");
        for e in entries {
            w.append(e).expect("entry");
        }
        if complete {
            w.finish().expect("end");
        } else {
            w.flush().expect("flush");
            drop(w);
        }
        bytes
    }

    fn call(func: u32, args: &[u8]) -> Entry {
        Entry::Call {
            func,
            args: args.to_vec(),
        }
    }

    fn ret(results: &[u8]) -> Entry {
        Entry::Return {
            results: results.to_vec(),
        }
    }

    /// `write`'s arguments: the stream id and the bytes (ids and lengths below 128: one byte).
    fn write_args(id: u8, bytes: &[u8]) -> Vec<u8> {
        let mut args = vec![id, bytes.len() as u8];
        args.extend_from_slice(bytes);
        args
    }

    fn replayer(bytes: &[u8]) -> (Replayer<&[u8]>, Captured, Captured) {
        let (out, err) = (Captured::default(), Captured::default());
        let reader = TraceReader::new(bytes).expect("a readable header");
        let r = Replayer::new(
            reader,
            "t.bin",
            Some(Box::new(out.clone())),
            Some(Box::new(err.clone())),
        );
        (r, out, err)
    }

    fn divergence(stop: Stop) -> Divergence {
        match stop {
            Stop::Divergence(d) => d,
            other => panic!("expected a divergence, got {other:?}"),
        }
    }

    fn trace_error(stop: Stop) -> String {
        match stop {
            Stop::Trace(e) => format!("{e:#}"),
            other => panic!("expected a trace error, got {other:?}"),
        }
    }

    /// A run that prints to stdout and stderr and reads random bytes.
    fn printing_run() -> (Vec<Entry>, Vec<(u32, Vec<u8>)>) {
        let script = vec![
            (GET_STDOUT, vec![]),
            (WRITE, write_args(1, b"hi\n")),
            (GET_STDERR, vec![]),
            (WRITE_AND_FLUSH, write_args(2, b"oops\n")),
            (RANDOM, vec![4]),
            (WRITE, write_args(1, b"bye\n")),
        ];
        let results: [&[u8]; 6] = [&[1], &[0], &[2], &[0], &[4, 9, 8, 7, 6], &[0]];
        let mut entries = Vec::new();
        for ((f, args), results) in script.iter().zip(results) {
            entries.push(call(*f, args));
            entries.push(ret(results));
        }
        entries.push(Entry::Exit { code: 0 });
        (entries, script)
    }

    #[test]
    fn matching_calls_get_the_recorded_results_and_output_is_shown() {
        let (entries, script) = printing_run();
        let bytes = trace(&entries, true);
        let (mut r, out, err) = replayer(&bytes);
        let mut results = Vec::new();
        for (f, args) in &script {
            results.push(r.call(*f, args).expect("matches the trace"));
        }
        assert_eq!(results[4], [4, 9, 8, 7, 6]);
        assert_eq!(results[0], [1]);
        r.finish(&Finish::Returned(0)).expect("ends as recorded");
        assert_eq!(out.text(), "hi\nbye\n");
        assert_eq!(err.text(), "oops\n");
        assert_eq!(r.position(), entries.len() as u64);
    }

    #[test]
    fn quiet_replays_show_nothing() {
        let (entries, script) = printing_run();
        let bytes = trace(&entries, true);
        let mut r = Replayer::new(
            TraceReader::new(&bytes[..]).expect("header"),
            "t",
            None,
            None,
        );
        for (f, args) in &script {
            r.call(*f, args).expect("matches the trace");
        }
        r.finish(&Finish::Returned(0)).expect("ends as recorded");
    }

    #[test]
    fn failed_writes_and_writes_to_other_streams_are_not_shown() {
        let entries = [
            call(GET_STDOUT, &[]),
            ret(&[1]),
            // The write failed when recorded (err(closed)): nothing was printed then.
            call(WRITE, &write_args(1, b"lost")),
            ret(&[1, 1]),
            // A file stream that reuses id 1 after the stdout stream was dropped.
            call(WRITE_VIA_STREAM, &[3, 0]),
            ret(&[0, 1]),
            call(WRITE, &write_args(1, b"file")),
            ret(&[0]),
            // A stream id never returned by get-stdout.
            call(WRITE, &write_args(7, b"other")),
            ret(&[0]),
            Entry::Exit { code: 0 },
        ];
        let bytes = trace(&entries, true);
        let (mut r, out, err) = replayer(&bytes);
        for e in entries.iter() {
            if let Entry::Call { func, args } = e {
                r.call(*func, args).expect("matches");
            }
        }
        r.finish(&Finish::Returned(0)).expect("ends as recorded");
        assert_eq!(out.text(), "");
        assert_eq!(err.text(), "");
    }

    #[test]
    fn other_arguments_are_a_divergence_with_both_calls_in_wave() {
        let bytes = trace(
            &[
                call(GET_STDOUT, &[]),
                ret(&[1]),
                call(RANDOM, &[8]),
                ret(&[0]),
            ],
            true,
        );
        let (mut r, _, _) = replayer(&bytes);
        r.call(GET_STDOUT, &[]).expect("matches");
        let d = divergence(r.call(RANDOM, &[16]).expect_err("diverges"));
        assert_eq!(d.entry, 2);
        assert_eq!(d.expected, "wasi:random/random@0.2.12.get-random-bytes(8)");
        assert_eq!(d.actual, "wasi:random/random@0.2.12.get-random-bytes(16)");
        let text = d.to_string();
        assert!(text.contains("entry #2"), "{text}");
        assert!(text.contains("differ at byte 0"), "{text}");
    }

    #[test]
    fn another_function_is_a_divergence() {
        let bytes = trace(&[call(RANDOM, &[8]), ret(&[0])], true);
        let (mut r, _, _) = replayer(&bytes);
        let d = divergence(r.call(GET_STDERR, &[]).expect_err("diverges"));
        assert_eq!(d.entry, 0);
        assert_eq!(d.expected, "wasi:random/random@0.2.12.get-random-bytes(8)");
        assert_eq!(d.actual, "wasi:cli/stderr@0.2.12.get-stderr()");
        // An id outside the function table is named as such, not a panic.
        let bytes = trace(&[call(RANDOM, &[8]), ret(&[0])], true);
        let (mut r, _, _) = replayer(&bytes);
        let d = divergence(r.call(99, &[1, 2]).expect_err("diverges"));
        assert_eq!(d.actual, "<unknown function 99>(<2 bytes>)");
    }

    #[test]
    fn a_call_after_the_recorded_end_is_a_divergence() {
        let bytes = trace(
            &[call(RANDOM, &[8]), ret(&[0]), Entry::Exit { code: 0 }],
            true,
        );
        let (mut r, _, _) = replayer(&bytes);
        r.call(RANDOM, &[8]).expect("matches");
        let d = divergence(r.call(RANDOM, &[8]).expect_err("one call too many"));
        assert_eq!(d.entry, 2);
        assert_eq!(d.expected, "the run ends: exit status 0");
        assert_eq!(d.actual, "wasi:random/random@0.2.12.get-random-bytes(8)");
    }

    #[test]
    fn a_missing_call_is_a_divergence() {
        let bytes = trace(
            &[call(RANDOM, &[8]), ret(&[0]), Entry::Exit { code: 0 }],
            true,
        );
        let (mut r, _, _) = replayer(&bytes);
        let d = divergence(
            r.finish(&Finish::Returned(0))
                .expect_err("a call is missing"),
        );
        assert_eq!(d.entry, 0);
        assert_eq!(d.expected, "wasi:random/random@0.2.12.get-random-bytes(8)");
        assert_eq!(d.actual, "the run ends: exit status 0");
    }

    #[test]
    fn another_ending_is_a_divergence() {
        let exit1 = trace(&[Entry::Exit { code: 1 }], true);
        let d = divergence(
            replayer(&exit1)
                .0
                .finish(&Finish::Returned(0))
                .expect_err("0 != 1"),
        );
        assert_eq!(
            (d.expected.as_str(), d.actual.as_str()),
            ("the run ends: exit status 1", "the run ends: exit status 0")
        );
        let d = divergence(
            replayer(&exit1)
                .0
                .finish(&Finish::Trapped("wasm trap: unreachable".into()))
                .expect_err("trap != exit"),
        );
        assert_eq!(d.actual, "the run ends: trap: wasm trap: unreachable");
        let trap = trace(
            &[Entry::Trap {
                message: "wasm trap: unreachable".into(),
            }],
            true,
        );
        replayer(&trap)
            .0
            .finish(&Finish::Trapped("wasm trap: unreachable".into()))
            .expect("the recorded trap");
        let d = divergence(
            replayer(&trap)
                .0
                .finish(&Finish::Trapped("wasm trap: out of fuel".into()))
                .expect_err("another trap"),
        );
        assert_eq!(d.expected, "the run ends: trap: wasm trap: unreachable");
    }

    #[test]
    fn a_recorded_exit_or_host_trap_inside_a_call_ends_the_run() {
        let bytes = trace(&[call(EXIT, &[1]), Entry::Exit { code: 3 }], true);
        match replayer(&bytes).0.call(EXIT, &[1]) {
            Err(Stop::Exit(3)) => {}
            other => panic!("expected exit 3, got {other:?}"),
        }
        let bytes = trace(
            &[
                call(RANDOM, &[8]),
                Entry::Trap {
                    message: "host failed".into(),
                },
            ],
            true,
        );
        match replayer(&bytes).0.call(RANDOM, &[8]) {
            Err(Stop::HostTrap(m)) => assert_eq!(m, "host failed"),
            other => panic!("expected a host trap, got {other:?}"),
        }
    }

    #[test]
    fn entries_that_record_never_writes_are_errors() {
        // Something after the exit.
        let bytes = trace(
            &[
                call(EXIT, &[0]),
                Entry::Exit { code: 0 },
                call(RANDOM, &[8]),
            ],
            true,
        );
        let e = trace_error(replayer(&bytes).0.call(EXIT, &[0]).expect_err("bad trace"));
        assert!(e.contains("after the run's end"), "{e}");
        // A return without a call.
        let bytes = trace(&[ret(&[0])], true);
        let e = trace_error(
            replayer(&bytes)
                .0
                .call(RANDOM, &[8])
                .expect_err("bad trace"),
        );
        assert!(e.contains("entry #0 where a call is expected"), "{e}");
        // A call followed by another call.
        let bytes = trace(&[call(RANDOM, &[8]), call(RANDOM, &[8])], true);
        let e = trace_error(
            replayer(&bytes)
                .0
                .call(RANDOM, &[8])
                .expect_err("bad trace"),
        );
        assert!(e.contains("entry #1, after the call at entry #0"), "{e}");
        // No exit at all before the end marker.
        let bytes = trace(&[], true);
        let d = divergence(
            replayer(&bytes)
                .0
                .call(RANDOM, &[8])
                .expect_err("bad trace"),
        );
        assert_eq!(d.expected, "the end of the trace");
    }

    #[test]
    fn a_cut_trace_says_where_it_ends() {
        let bytes = trace(&[call(RANDOM, &[8]), ret(&[0])], false);
        let (mut r, _, _) = replayer(&bytes);
        r.call(RANDOM, &[8]).expect("matches");
        let e = trace_error(r.call(RANDOM, &[4]).expect_err("cut"));
        assert!(
            e.contains("the trace t.bin ends at entry #2 (it was cut there"),
            "{e}"
        );
        assert!(e.contains("get-random-bytes(4)"), "{e}");
        // A recording that failed before the guest ran leaves a header and no entry.
        let bytes = trace(&[], false);
        let (mut r, _, _) = replayer(&bytes);
        let e = trace_error(r.call(RANDOM, &[4]).expect_err("empty"));
        assert!(
            e.contains("has no entries (it was cut): the recording stopped before the guest ran"),
            "{e}"
        );
    }

    /// Every prefix of a trace and every single flipped bit in it: an error, never a panic, never a
    /// successful replay.
    #[test]
    fn every_truncation_and_every_flipped_bit_is_an_error() {
        let (entries, script) = printing_run();
        let bytes = trace(&entries, true);
        let replay = |bytes: &[u8]| -> Result<(), String> {
            let reader = TraceReader::new(bytes).map_err(|e| e.to_string())?;
            let mut r = Replayer::new(reader, "t", None, None);
            let run = |r: &mut Replayer<&[u8]>| -> Result<(), Stop> {
                for (f, args) in &script {
                    r.call(*f, args)?;
                }
                r.finish(&Finish::Returned(0))
            };
            run(&mut r).map_err(trace_error)
        };
        replay(&bytes).expect("the intact trace replays");
        for len in 0..bytes.len() {
            assert!(replay(&bytes[..len]).is_err(), "cut at {len}");
        }
        for i in 0..bytes.len() {
            for bit in [0x01, 0x80] {
                let mut flipped = bytes.clone();
                flipped[i] ^= bit;
                assert!(replay(&flipped).is_err(), "flipped {bit:#x} at byte {i}");
            }
        }
    }

    #[test]
    fn reports_of_big_arguments_stay_short() {
        let big = vec![b'x'; 10_000];
        let mut args = vec![1, 0x90, 0x4e]; // id 1, length 10000
        args.extend_from_slice(&big);
        let bytes = trace(&[call(WRITE, &args), ret(&[0])], true);
        let mut other = args.clone();
        other[5000] = b'y';
        let d = divergence(
            replayer(&bytes)
                .0
                .call(WRITE, &other)
                .expect_err("diverges"),
        );
        assert!(d.expected.chars().count() < 400, "{}", d.expected);
        assert!(d.expected.ends_with("more characters)"), "{}", d.expected);
        assert_eq!(
            d.detail.as_deref(),
            Some("(the encoded arguments first differ at byte 5000; lengths: 10003 recorded, 10003 now)")
        );
        let huge = vec![0u8; MAX_DECODED_BYTES + 1];
        let bytes = trace(&[call(RANDOM, &huge), ret(&[0])], true);
        let d = divergence(replayer(&bytes).0.call(RANDOM, &[8]).expect_err("diverges"));
        assert_eq!(
            d.expected,
            format!(
                "wasi:random/random@0.2.12.get-random-bytes(<{} bytes of values>)",
                huge.len()
            )
        );
    }

    #[test]
    fn roles_follow_the_wasi_names_and_types() {
        let roles: Vec<Role> = functions(&info()).iter().map(|f| f.role).collect();
        assert_eq!(
            roles,
            [
                Role::GetStdout,
                Role::GetStderr,
                Role::Write,
                Role::Write,
                Role::Other,
                Role::NewOutputStream,
                Role::Other
            ]
        );
    }

    #[test]
    fn leb_and_walk_never_overrun() {
        assert_eq!(leb_u32(&[0x90, 0x4e]), Some((10000, 2)));
        assert_eq!(leb_u32(&[0x80]), None);
        assert_eq!(leb_u32(&[0xff, 0xff, 0xff, 0xff, 0x7f]), None);
        let ty = ValueType::Result {
            ok: Some(Box::new(ValueType::Own(resource(STREAMS, "output-stream")))),
            err: None,
        };
        let mut ids = Vec::new();
        assert_eq!(walk(&ty, &[0, 5], &mut 0, &mut ids), Some(()));
        assert_eq!(ids, [5]);
        assert_eq!(walk(&ty, &[0], &mut 0, &mut ids), None);
        assert_eq!(walk(&ty, &[2, 5], &mut 0, &mut ids), None);
        let empty = ValueType::List(Box::new(ValueType::Tuple(vec![])));
        assert_eq!(
            walk(&empty, &[0xff, 0xff, 0xff, 0xff, 0x0f], &mut 0, &mut ids),
            None
        );
        let list = ValueType::List(Box::new(ValueType::String));
        assert_eq!(
            walk(&list, &[0xff, 0xff, 0xff, 0xff, 0x0f], &mut 0, &mut ids),
            None
        );
    }
}

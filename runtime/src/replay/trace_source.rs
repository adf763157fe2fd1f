//! The trace as a source of host results: [`TraceSource`] answers each call of the guest with the
//! recorded results after checking that the guest makes the very call the trace has next (same
//! function, same argument bytes), and reports the first difference as a [`Divergence`] with both
//! calls as people read them (bytes as text or hex, handles named by what created them: the
//! source follows the names as the calls go, [`HandleNamer`]), what differs in the arguments, and
//! the last calls before it.
//!
//! The trace is read one entry at a time, so memory stays flat however long the run; the common
//! case, the next entry being this very call, is compared on bytes borrowed from the reader.

use super::divergence::Divergence;
use super::divergence::{truncate, MAX_DECODED_BYTES};
use super::source::{Finish, HostResults, Stop};
use anyhow::{anyhow, Context, Result};
use recorder_host::functions::{Function, FunctionTable};
use recorder_host::names::HandleNamer;
use recorder_host::trace::{Entry, EntryRef, Header, TraceError, TraceReader};
use recorder_host::types::ComponentInfo;
use recorder_host::value::first_difference;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;

/// How much of a call's values a report decodes (bigger ones are shown by their size).
const SHOWN: Option<usize> = Some(MAX_DECODED_BYTES);

/// How many answered calls a divergence report shows before the divergent entry.
const BEFORE: usize = 3;

/// An answered call, kept for the report of a divergence right after it.
#[derive(Default)]
struct Past {
    entry: u64,
    func: u32,
    args: Kept,
    results: Kept,
}

/// Encoded values kept for a report: the bytes when a report would decode them (at most
/// [`MAX_DECODED_BYTES`]), else only their size, so a replay copies no big write twice.
#[derive(Default)]
struct Kept {
    bytes: Vec<u8>,
    len: usize,
}

impl Kept {
    fn set(&mut self, bytes: &[u8]) {
        self.bytes.clear();
        self.len = bytes.len();
        if bytes.len() <= MAX_DECODED_BYTES {
            self.bytes.extend_from_slice(bytes);
        }
    }

    /// The values as a report shows them (`show` them when they were kept).
    fn shown(&self, show: impl FnOnce(&[u8]) -> String) -> Option<String> {
        (self.len <= MAX_DECODED_BYTES).then(|| show(&self.bytes))
    }
}

/// Answers the guest's host calls from a trace, checking each against it.
pub struct TraceSource<R: Read> {
    reader: TraceReader<R>,
    /// The trace's name in messages (its path).
    name: String,
    /// The recorded component's functions: what the trace's ids name.
    table: FunctionTable,
    /// The export the host called last, until it returns: names its results in reports.
    export: Option<u32>,
    /// The number of the next entry to read.
    next: u64,
    /// Names of the handles the answered calls created.
    names: HandleNamer,
    /// The last [`BEFORE`] answered calls (their buffers reused: no allocation per call once
    /// full).
    past: VecDeque<Past>,
}

impl TraceSource<BufReader<File>> {
    /// The trace at `path`, named by its path in messages.
    pub fn open(path: &Path) -> Result<Self> {
        let reader = TraceReader::open(path)
            .with_context(|| format!("cannot read the trace {}", path.display()))?;
        Ok(Self::new(reader, path.display().to_string()))
    }
}

impl<R: Read> TraceSource<R> {
    /// A source of `reader`'s entries, named `name` in messages.
    pub fn new(reader: TraceReader<R>, name: impl Into<String>) -> Self {
        let table = FunctionTable::new(&reader.header().component);
        let names = HandleNamer::new(&table);
        TraceSource {
            reader,
            name: name.into(),
            table,
            export: None,
            next: 0,
            names,
            past: VecDeque::with_capacity(BEFORE),
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
            } => Stop::Unreadable(anyhow!(
                "the trace {} has no entries (it was cut{}): the recording stopped before the guest \
                 ran, e.g. because the component could not be instantiated on the real hosts \
                 (`proxyrt record` said why); {doing}",
                self.name,
                torn(torn_bytes)
            )),
            TraceError::Cut { torn_bytes, .. } => Stop::Unreadable(anyhow!(
                "the trace {} ends at entry #{} (it was cut there, without an end marker{}): the \
                 recording was stopped or killed; {doing}",
                self.name,
                self.next,
                torn(torn_bytes)
            )),
            e => Stop::Unreadable(
                anyhow::Error::new(e).context(format!("cannot read the trace {}", self.name)),
            ),
        }
    }

    fn describe_call(&self, func: u32, args: &[u8]) -> String {
        match self.table.import(func) {
            Some(f) => truncate(format!(
                "{}{}",
                f.name,
                f.readable_args(args, SHOWN, &self.names)
            )),
            None => format!("<unknown function {func}>(<{} bytes>)", args.len()),
        }
    }

    /// Remembers the answered call at entry `entry` for a report.
    fn remember(&mut self, entry: u64, func: u32, args: &[u8], results: &[u8]) {
        self.names.observe(func, args, results);
        let mut past = if self.past.len() == BEFORE {
            self.past.pop_front().unwrap_or_default()
        } else {
            Past::default()
        };
        past.entry = entry;
        past.func = func;
        past.args.set(args);
        past.results.set(results);
        self.past.push_back(past);
    }

    /// The remembered calls as `trace show` prints them.
    fn before(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for p in &self.past {
            match self.table.import(p.func) {
                Some(f) => {
                    let args = p
                        .args
                        .shown(|a| f.readable_args(a, SHOWN, &self.names))
                        .unwrap_or_else(|| format!("(<{} bytes of values>)", p.args.len));
                    let results = p
                        .results
                        .shown(|r| f.readable_results(r, SHOWN, &self.names))
                        .unwrap_or_else(|| format!("<{} bytes of values>", p.results.len));
                    lines.push(truncate(format!("#{} {}{args}", p.entry, f.name)));
                    lines.push(truncate(format!("#{}   -> {results}", p.entry + 1)));
                }
                None => lines.push(format!("#{} <unknown function {}>", p.entry, p.func)),
            }
        }
        lines
    }

    /// What differs between the recorded arguments of `f` and the guest's: the first parameter,
    /// field or element, and the encoded lengths.
    fn difference(&self, f: &Function, recorded: &[u8], now: &[u8]) -> String {
        let lengths = format!(
            "encoded arguments: {} bytes recorded, {} now",
            recorded.len(),
            now.len()
        );
        let decodable = recorded.len().max(now.len()) <= MAX_DECODED_BYTES;
        let found = decodable
            .then(|| first_difference(&f.params, &f.param_names, recorded, now, &self.names))
            .flatten();
        match found {
            Some(d) => format!("(differs in {d}; {lengths})"),
            None => {
                let at = recorded
                    .iter()
                    .zip(now)
                    .position(|(a, b)| a != b)
                    .unwrap_or(recorded.len().min(now.len()));
                format!("(the {lengths}, first differing at byte {at})")
            }
        }
    }

    /// The host's call of export `func` with `args`, in WAVE.
    fn describe_export_call(&self, func: u32, args: &[u8]) -> String {
        match self.table.export(func) {
            Some(f) => truncate(format!(
                "export {}{}",
                f.name,
                f.readable_args(args, SHOWN, &self.names)
            )),
            None => format!("<unknown export {func}>(<{} bytes>)", args.len()),
        }
    }

    /// The current export's `results`, in WAVE.
    fn describe_export_return(&self, results: &[u8]) -> String {
        let f = self.export.and_then(|e| self.table.export(e));
        let name = f.map_or("the export", |f| f.name.as_str());
        let values = match f {
            // One result, shown bare as `trace show` and `--invoke` do.
            Some(f) => f.readable_results(results, SHOWN, &self.names),
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

    /// Why the guest's call of `func` with `args` does not follow `entry`, the trace's entry
    /// number `entry_no`.
    fn not_this_call(&self, entry_no: u64, func: u32, args: &[u8], entry: Option<Entry>) -> Stop {
        match entry {
            Some(Entry::Call {
                func: expected,
                args: expected_args,
            }) => {
                let detail = match (expected == func, self.table.import(func)) {
                    (true, Some(f)) => Some(self.difference(f, &expected_args, args)),
                    _ => None,
                };
                Stop::Divergence(Box::new(Divergence {
                    entry: entry_no,
                    expected: self.describe_call(expected, &expected_args),
                    actual: self.describe_call(func, args),
                    detail,
                    before: self.before(),
                    ..Divergence::default()
                }))
            }
            Some(
                entry @ (Entry::Exit { .. }
                | Entry::Trap { .. }
                | Entry::End { .. }
                | Entry::ExportReturn { .. }),
            ) => Stop::Divergence(Box::new(Divergence {
                entry: entry_no,
                expected: self.describe_entry(Some(&entry)),
                actual: self.describe_call(func, args),
                detail: Some("(the guest makes a call that the recorded run did not make)".into()),
                before: self.before(),
                ..Divergence::default()
            })),
            None => Stop::Divergence(Box::new(Divergence {
                entry: entry_no,
                expected: self.describe_entry(None),
                actual: self.describe_call(func, args),
                detail: Some(
                    "(the trace has no exit entry: it was not written by `record`)".into(),
                ),
                before: self.before(),
                ..Divergence::default()
            })),
            Some(other) => Stop::Unreadable(anyhow!(
                "the trace {} has {} at entry #{entry_no} where a call is expected: it was not \
                 written by `record`",
                self.name,
                self.describe_entry(Some(&other)),
            )),
        }
    }

    /// After the recorded ending, the trace must end.
    fn expect_end(&mut self) -> Result<(), Stop> {
        let entry_no = self.next;
        let entry = self
            .read()
            .map_err(|e| self.unreadable(e, "right after the recorded ending"))?;
        match entry {
            None => Ok(()),
            Some(other) => Err(Stop::Unreadable(anyhow!(
                "the trace {} has {} at entry #{entry_no}, after the run's end: it was not written \
                 by `record`",
                self.name,
                self.describe_entry(Some(&other))
            ))),
        }
    }
}

impl<R: Read + Send> HostResults for TraceSource<R> {
    fn interfaces(&self) -> Option<(&[u8; 32], &Arc<ComponentInfo>)> {
        let header = self.reader.header();
        Some((&header.interface_sha256, &header.component))
    }

    /// The host calls an export: returns the export the trace has the host call here and its
    /// arguments (the replay makes the same call), or why the replay cannot.
    fn begin_export(&mut self) -> Result<(u32, Vec<u8>), Stop> {
        let entry_no = self.next;
        let entry = self
            .read()
            .map_err(|e| self.unreadable(e, "where the host calls the guest's export"))?;
        match entry {
            Some(Entry::ExportCall { func, args }) if self.table.export(func).is_some() => {
                self.export = Some(func);
                Ok((func, args))
            }
            Some(Entry::ExportCall { func, .. }) => Err(Stop::Unreadable(anyhow!(
                "the trace {} calls export {func} at entry #{entry_no}, which the component does \
                 not have: it was not written by `record` for this program",
                self.name
            ))),
            Some(entry @ Entry::Call { .. }) => Err(Stop::Divergence(Box::new(Divergence {
                entry: entry_no,
                expected: self.describe_entry(Some(&entry)),
                actual: "the guest is ready for the host's call of its export".into(),
                detail: Some(
                    "(the guest makes no call while it is instantiated; the recorded one did)"
                        .into(),
                ),
                ..Divergence::default()
            }))),
            other => Err(Stop::Unreadable(anyhow!(
                "the trace {} has {} at entry #{entry_no} where the host calls an export: it was \
                 not written by `record`",
                self.name,
                self.describe_entry(other.as_ref())
            ))),
        }
    }

    /// The export called by [`Self::begin_export`] returned `results` (encoded): checks them
    /// against the trace, and that the guest made every recorded call before returning.
    fn end_export(&mut self, results: &[u8]) -> Result<(), Stop> {
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
        Err(Stop::Divergence(Box::new(Divergence {
            entry: entry_no,
            expected: self.describe_entry(entry.as_ref()),
            actual,
            detail: Some(detail.into()),
            before: self.before(),
            ..Divergence::default()
        })))
    }

    /// The guest calls import `func` with `args`: returns the recorded results, or why the replay
    /// stops here.
    fn call(&mut self, func: u32, args: &[u8]) -> Result<Vec<u8>, Stop> {
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
                self.remember(entry_no, func, args, &results);
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
            other => Err(Stop::Unreadable(anyhow!(
                "the trace {} has {} at entry #{result_no}, after the call at entry #{entry_no}: \
                 it was not written by `record`",
                self.name,
                self.describe_entry(other.as_ref())
            ))),
        }
    }

    /// The guest's `run` ended as `finish`: checks that the trace ends the same way.
    fn finish(&mut self, finish: &Finish) -> Result<(), Stop> {
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
            return Err(Stop::Divergence(Box::new(Divergence {
                entry: entry_no,
                expected: self.describe_entry(entry.as_ref()),
                actual,
                detail,
                before: self.before(),
                ..Divergence::default()
            })));
        }
        self.expect_end()
    }
}

/// How a cut trace's torn last frame is mentioned.
fn torn(bytes: u64) -> String {
    if bytes > 0 {
        format!(", after which {bytes} bytes of an incomplete block follow")
    } else {
        String::new()
    }
}

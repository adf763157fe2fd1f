//! `proxyrt trace show` and `proxyrt trace stats`: reading a trace as people (text, values in WAVE)
//! and programs (`--json`, one object per line) read it. Both stream: memory stays flat whatever the
//! trace's size.

use crate::corpus;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use recorder_host::functions::{Function, FunctionTable};
use recorder_host::http;
use recorder_host::names::HandleNamer;
use recorder_host::trace::{service, Entry, TraceError, TraceReader};
use recorder_host::value::HandleNames;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug, Clone)]
pub enum TraceCommand {
    /// Print a trace's header and entries, values in WAVE syntax.
    Show(TraceShowArgs),
    /// Count calls and bytes per interface function.
    Stats(TraceStatsArgs),
}

#[derive(Args, Debug, Clone)]
pub struct TraceShowArgs {
    /// The trace file, or a corpus: a directory of traces (one line per trace; for the requests of
    /// a recorded service, the directory `serve --record` wrote, one per request).
    pub file: PathBuf,
    /// Skip this many entries first.
    #[arg(long, default_value_t = 0)]
    pub skip: u64,
    /// Show at most this many entries.
    #[arg(long)]
    pub limit: Option<u64>,
    /// One JSON object per line (header first, then one per entry) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Values in plain WAVE (byte lists as lists of numbers, handles as bare ids, nothing cut)
    /// instead of as people read them.
    #[arg(long)]
    pub raw: bool,
}

#[derive(Args, Debug, Clone)]
pub struct TraceStatsArgs {
    /// The trace file, or a corpus: a directory of traces (recursively), counted by program, its
    /// calls over all of them, and for a recorded service (the directory `serve --record` wrote)
    /// its requests by status.
    pub file: PathBuf,
    /// Print a JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl TraceCommand {
    pub fn execute(self) -> Result<i32> {
        match self {
            TraceCommand::Show(args) => show(&args),
            TraceCommand::Stats(args) => stats(&args),
        }
    }
}

fn open(path: &Path) -> Result<TraceReader<BufReader<std::fs::File>>> {
    TraceReader::open(path).with_context(|| format!("cannot read the trace {}", path.display()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How `trace show` writes values: plain WAVE (`--raw`), or as people read them with the
/// handles named by the calls so far.
enum Form {
    Raw,
    Readable(HandleNamer),
}

impl Form {
    fn args(&self, f: &Function, bytes: &[u8]) -> String {
        match self {
            Form::Raw => f.show_args(bytes, None),
            Form::Readable(names) => f.readable_args(bytes, None, names as &dyn HandleNames),
        }
    }

    fn results(&self, f: &Function, bytes: &[u8]) -> String {
        match self {
            Form::Raw => f.show_results(bytes, None),
            Form::Readable(names) => f.readable_results(bytes, None, names as &dyn HandleNames),
        }
    }

    /// The call of import `func` with `args` returned `results`: the handles it created are named.
    fn observe(&mut self, func: u32, args: &[u8], results: &[u8]) {
        if let Form::Readable(names) = self {
            names.observe(func, args, results);
        }
    }
}

/// A call of `table[func]` (a `what`: function or export): its name and arguments as shown. The
/// call is remembered in `pending`, for its return.
fn shown_call(
    table: &[Function],
    func: u32,
    args: &[u8],
    what: &str,
    form: &Form,
    pending: &mut Option<usize>,
) -> (String, String) {
    *pending = Some(func as usize);
    let f = table.get(func as usize);
    let name = f.map_or_else(|| format!("<{what} {func}>"), |f| f.name.clone());
    let args = match f {
        Some(f) => form.args(f, args),
        None => format!("(<{} bytes>)", args.len()),
    };
    (name, args)
}

/// The return of the `pending` call of `table`: its name and results as shown.
fn shown_return(
    table: &[Function],
    results: &[u8],
    form: &Form,
    pending: &mut Option<usize>,
) -> (String, String) {
    let f = pending.take().and_then(|p| table.get(p));
    let name = f.map_or_else(String::new, |f| f.name.clone());
    let results = match f {
        Some(f) => form.results(f, results),
        None => format!("<{} bytes>", results.len()),
    };
    (name, results)
}

/// The next entry, or how the reader stopped: `Ok(true)` at a complete trace's end, `Ok(false)` at a
/// cut (reported on stderr), an error for corruption.
fn ended(result: Result<Option<Entry>, TraceError>) -> Result<Entry, Result<bool>> {
    match result {
        Ok(Some(e)) => Ok(e),
        Ok(None) => Err(Ok(true)),
        Err(e @ TraceError::Cut { .. }) => {
            eprintln!("warning: {e}");
            Err(Ok(false))
        }
        Err(e) => Err(Err(anyhow::Error::new(e))),
    }
}

/// `proxyrt trace show DIR`: one line per trace of the corpus, for a request of a served
/// component its number, method and URL, and what the guest answered and asked upstream
/// ([`http::Exchange::summary`]); for another trace its path in the corpus and argv.
fn show_corpus(args: &TraceShowArgs) -> Result<i32> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for found in corpus::collect(std::slice::from_ref(&args.file))? {
        let path = &found.path;
        let (header, exchange) = http::read_exchange(path)
            .with_context(|| format!("cannot read the trace {}", path.display()))?;
        let seq = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(service::request_number);
        let (Some(request), Some(seq)) = (&header.request, seq) else {
            if args.json {
                writeln!(out, "{}", json!({"trace": found.name, "argv": header.argv}))?;
            } else {
                writeln!(out, "{}: argv {:?}", found.name, header.argv)?;
            }
            continue;
        };
        let (method, uri) = (request.method.as_str(), request.uri.as_str());
        if args.json {
            let outgoing: Vec<_> = exchange
                .outgoing
                .iter()
                .map(|o| {
                    json!({"method": o.method, "url": o.url,
                           "status": o.response.as_ref().and_then(|r| r.as_ref().ok()),
                           "error": o.response.as_ref().and_then(|r| r.as_ref().err()),
                           "response_body": o.response_body})
                })
                .collect();
            writeln!(
                out,
                "{}",
                json!({"request": seq, "method": method, "uri": uri, "status": exchange.status,
                       "error": exchange.error, "request_body": exchange.request_body,
                       "response_body": exchange.response_body, "outgoing": outgoing})
            )?;
        } else {
            writeln!(
                out,
                "request {seq}: {method} {uri} -> {}",
                exchange.summary()
            )?;
        }
    }
    out.flush()?;
    Ok(0)
}

/// `proxyrt trace show`.
fn show(args: &TraceShowArgs) -> Result<i32> {
    if args.file.is_dir() {
        return show_corpus(args);
    }
    let mut reader = open(&args.file)?;
    let header = reader.header().clone();
    let table = FunctionTable::new(&header.component);
    let (funcs, exports) = (table.imports(), table.exports());
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.json {
        let h = json!({
            "header": {
                "format_version": header.format_version,
                "proxyrt_version": header.proxyrt_version,
                "component_sha256": hex(&header.component_sha256),
                "interface_sha256": hex(&header.interface_sha256),
                "argv": header.argv,
                "request": header.request.as_ref().map(|r| json!({"method": r.method, "uri": r.uri})),
                "functions": funcs.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            }
        });
        writeln!(out, "{h}")?;
    } else {
        writeln!(
            out,
            "trace {} (format {}, written by proxyrt {})",
            args.file.display(),
            header.format_version,
            header.proxyrt_version
        )?;
        writeln!(out, "component sha256 {}", hex(&header.component_sha256))?;
        writeln!(out, "argv {:?}", header.argv)?;
        if let Some(request) = &header.request {
            writeln!(out, "request {} {}", request.method, request.uri)?;
            if let Ok((_, exchange)) = http::read_exchange(&args.file) {
                writeln!(out, "response {}", exchange.summary())?;
            }
        }
    }
    // JSON is for programs: plain WAVE, which they can parse.
    let mut form = if args.raw || args.json {
        Form::Raw
    } else {
        Form::Readable(HandleNamer::new(&table))
    };
    let mut pending: Option<usize> = None;
    // The pending call's arguments, for naming the handles its results create.
    let mut pending_args: Vec<u8> = Vec::new();
    let mut pending_export: Option<usize> = None;
    let mut index = 0u64;
    let mut shown = 0u64;
    let end = loop {
        let entry = match ended(reader.next_entry()) {
            Ok(e) => e,
            Err(end) => break end,
        };
        let i = index;
        index += 1;
        // Track the call a return belongs to, and the handles' names, even for entries that are
        // skipped.
        let (kind, name, detail) = match &entry {
            Entry::Call { func, args } => {
                let (name, shown) = shown_call(funcs, *func, args, "function", &form, &mut pending);
                pending_args.clone_from(args);
                ("call", name, shown)
            }
            Entry::Return { results } => {
                if let Some(func) = pending {
                    form.observe(func as u32, &pending_args, results);
                }
                let (name, results) = shown_return(funcs, results, &form, &mut pending);
                ("return", name, results)
            }
            Entry::ExportCall { func, args } => {
                let (name, args) =
                    shown_call(exports, *func, args, "export", &form, &mut pending_export);
                ("export-call", name, args)
            }
            Entry::ExportReturn { results } => {
                let (name, results) = shown_return(exports, results, &form, &mut pending_export);
                ("export-return", name, results)
            }
            Entry::Trap { message } => ("trap", String::new(), message.clone()),
            Entry::Exit { code } => ("exit", String::new(), code.to_string()),
            Entry::End { .. } => ("end", String::new(), String::new()),
        };
        if i < args.skip || args.limit.is_some_and(|l| shown >= l) {
            continue;
        }
        shown += 1;
        if args.json {
            writeln!(
                out,
                "{}",
                json!({"index": i, "kind": kind, "function": name, "value": detail})
            )?;
        } else {
            match kind {
                "call" => writeln!(out, "#{i} {name}{detail}")?,
                "return" => writeln!(out, "#{i}   -> {detail}")?,
                "export-call" => writeln!(out, "#{i} export {name}{detail}")?,
                "export-return" => writeln!(out, "#{i}   export returns {detail}")?,
                _ => writeln!(out, "#{i} {kind} {detail}")?,
            }
        }
    };
    out.flush()?;
    end.map(|_complete| 0)
}

/// Per-function totals for `trace stats`.
#[derive(Default, serde::Serialize)]
struct Counts {
    calls: u64,
    arg_bytes: u64,
    result_bytes: u64,
}

/// What `trace stats` adds up over one trace or the requests of a service.
#[derive(Default)]
struct Totals {
    per: BTreeMap<String, Counts>,
    entries: u64,
    payload: u64,
    file_bytes: u64,
    /// Bytes of encoded entries (the blocks' contents, before compression) and bytes of blocks
    /// as stored (heads and compressed data): the file less its header.
    raw_bytes: u64,
    stored_bytes: u64,
    complete: bool,
    /// Traces by program (the first bytes of the interface hash, and the first argv), for a
    /// corpus.
    programs: BTreeMap<String, u64>,
}

impl Totals {
    /// Adds the trace at `path`; returns whether it is complete and, for a trace of a served
    /// request, what its calls make up over HTTP (read in the same pass).
    fn add(&mut self, path: &Path) -> Result<(bool, Option<http::Exchange>)> {
        let mut reader = open(path)?;
        let header = reader.header();
        let program = format!(
            "{} ({})",
            header.argv.first().map_or("?", String::as_str),
            crate::identity::short_hex(&header.interface_sha256)
        );
        *self.programs.entry(program).or_default() += 1;
        let table = FunctionTable::new(&header.component);
        let mut observer = header
            .request
            .is_some()
            .then(|| http::HttpObserver::new(&table));
        let (funcs, exports) = (table.imports(), table.exports());
        let mut pending: Option<String> = None;
        // The last call's id and arguments, for the observer.
        let mut call: Option<(u32, Vec<u8>)> = None;
        let end = loop {
            let entry = match ended(reader.next_entry()) {
                Ok(e) => e,
                Err(end) => break end,
            };
            self.entries += 1;
            match entry {
                Entry::Call { func, args } => {
                    let name = funcs
                        .get(func as usize)
                        .map_or_else(|| format!("<function {func}>"), |f| f.name.clone());
                    let c = self.per.entry(name.clone()).or_default();
                    c.calls += 1;
                    c.arg_bytes += args.len() as u64;
                    self.payload += args.len() as u64;
                    pending = Some(name);
                    if observer.is_some() {
                        call = Some((func, args));
                    }
                }
                Entry::ExportCall { func, args } => {
                    let name = exports.get(func as usize).map_or_else(
                        || format!("export <{func}>"),
                        |f| format!("export {}", f.name),
                    );
                    let c = self.per.entry(name.clone()).or_default();
                    c.calls += 1;
                    c.arg_bytes += args.len() as u64;
                    self.payload += args.len() as u64;
                    pending = Some(name);
                }
                Entry::Return { results } | Entry::ExportReturn { results } => {
                    self.payload += results.len() as u64;
                    if let Some(name) = pending.take() {
                        self.per.entry(name).or_default().result_bytes += results.len() as u64;
                    }
                    if let (Some(observer), Some((func, args))) = (observer.as_mut(), call.take()) {
                        observer.observe(func, &args, &results);
                    }
                }
                _ => {}
            }
        };
        let complete = end?;
        let (raw, stored) = reader.block_sizes();
        self.raw_bytes += raw;
        self.stored_bytes += stored;
        self.file_bytes += std::fs::metadata(path)?.len();
        Ok((complete, observer.map(|o| o.exchange().clone())))
    }
}

/// Requests of a recorded service, counted for `trace stats DIR`.
#[derive(Default, serde::Serialize)]
struct RequestCounts {
    requests: u64,
    /// By response status (`"error"` when the guest answered with an error, `"none"` when it
    /// set no response).
    statuses: BTreeMap<String, u64>,
    outgoing: u64,
    request_body_bytes: u64,
    response_body_bytes: u64,
}

/// `proxyrt trace stats`.
fn stats(args: &TraceStatsArgs) -> Result<i32> {
    let mut totals = Totals::default();
    let mut service = None;
    let mut traces = 0u64;
    if args.file.is_dir() {
        let mut counts = RequestCounts::default();
        totals.complete = true;
        for found in corpus::collect(std::slice::from_ref(&args.file))? {
            let path = found.path;
            traces += 1;
            let (complete, exchange) = totals.add(&path)?;
            totals.complete &= complete;
            let Some(exchange) = exchange else {
                continue;
            };
            counts.requests += 1;
            let status = match (exchange.status, &exchange.error) {
                (Some(s), _) => s.to_string(),
                (None, Some(_)) => "error".to_string(),
                (None, None) => "none".to_string(),
            };
            *counts.statuses.entry(status).or_default() += 1;
            counts.outgoing += exchange.outgoing.len() as u64;
            counts.request_body_bytes += exchange.request_body;
            counts.response_body_bytes += exchange.response_body;
        }
        service = (counts.requests > 0).then_some(counts);
    } else {
        totals.complete = totals.add(&args.file)?.0;
    }
    let Totals {
        per,
        entries,
        payload,
        file_bytes,
        raw_bytes,
        stored_bytes,
        complete,
        programs,
    } = totals;
    let corpus = args.file.is_dir();
    let mut rows: Vec<_> = per.into_iter().collect();
    rows.sort_by(|a, b| b.1.calls.cmp(&a.1.calls).then(a.0.cmp(&b.0)));
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.json {
        let functions: serde_json::Map<_, _> = rows
            .iter()
            .map(|(n, c)| (n.clone(), serde_json::to_value(c).unwrap_or_default()))
            .collect();
        let mut v = json!({"entries": entries, "complete": complete, "file_bytes": file_bytes,
                   "value_bytes": payload, "entry_bytes": raw_bytes, "block_bytes": stored_bytes,
                   "functions": functions});
        if let Some(counts) = &service {
            v["service"] = serde_json::to_value(counts)?;
        }
        if corpus {
            v["corpus"] = json!({"traces": traces, "programs": programs});
        }
        writeln!(out, "{v}")?;
    } else {
        if corpus {
            let by: Vec<String> = programs.iter().map(|(p, n)| format!("{p}: {n}")).collect();
            writeln!(out, "{traces} traces, by program: {}", by.join(", "))?;
        }
        if let Some(c) = &service {
            let statuses: Vec<String> = c
                .statuses
                .iter()
                .map(|(s, n)| format!("{s}: {n}"))
                .collect();
            writeln!(
                out,
                "{} requests ({}), {} outgoing, {} B of request bodies read, {} B of \
                 response bodies written",
                c.requests,
                statuses.join(", "),
                c.outgoing,
                c.request_body_bytes,
                c.response_body_bytes
            )?;
        }
        writeln!(
            out,
            "{entries} entries, {file_bytes} bytes on disk, {payload} bytes of encoded values{}",
            if complete { "" } else { " (cut)" }
        )?;
        // Raw: the entries as encoded; stored: their blocks as written (compressed or not).
        writeln!(
            out,
            "entries: {raw_bytes} bytes raw, {stored_bytes} bytes stored in blocks ({:.3}x)",
            if raw_bytes == 0 {
                1.0
            } else {
                stored_bytes as f64 / raw_bytes as f64
            }
        )?;
        writeln!(
            out,
            "{:>8} {:>12} {:>12}  function",
            "calls", "arg bytes", "result bytes"
        )?;
        for (name, c) in rows {
            writeln!(
                out,
                "{:>8} {:>12} {:>12}  {name}",
                c.calls, c.arg_bytes, c.result_bytes
            )?;
        }
    }
    out.flush()?;
    Ok(0)
}

//! `proxyrt trace show` and `proxyrt trace stats`: reading a trace as people (text, values in WAVE)
//! and programs (`--json`, one object per line) read it. Both stream: memory stays flat whatever the
//! trace's size.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use recorder_host::functions::{Function, FunctionTable};
use recorder_host::trace::{Entry, TraceError, TraceReader};
use recorder_host::types::ValueType;
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
    /// The trace file.
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
}

#[derive(Args, Debug, Clone)]
pub struct TraceStatsArgs {
    /// The trace file.
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

/// A call of `table[func]` (a `what`: function or export): its name and arguments as shown. The
/// call is remembered in `pending`, for its return.
fn shown_call(
    table: &[Function],
    func: u32,
    args: &[u8],
    what: &str,
    pending: &mut Option<usize>,
) -> (String, String) {
    *pending = Some(func as usize);
    let f = table.get(func as usize);
    let name = f.map_or_else(|| format!("<{what} {func}>"), |f| f.name.clone());
    let args = match f {
        // The host's call of an export that takes only host handles (`serve`'s call of
        // `wasi:http/incoming-handler.handle`): the handles are not encoded, the guest's calls on
        // them are in the trace.
        Some(f) if what == "export" && args.is_empty() && only_handles(&f.params) => {
            "(<host handles>)".to_string()
        }
        Some(f) => f.show_args(args, None),
        None => format!("(<{} bytes>)", args.len()),
    };
    (name, args)
}

/// Whether `params` are all resource handles (and there is at least one).
fn only_handles(params: &[ValueType]) -> bool {
    !params.is_empty()
        && params
            .iter()
            .all(|p| matches!(p, ValueType::Own(_) | ValueType::Borrow(_)))
}

/// The return of the `pending` call of `table`: its name and results as shown.
fn shown_return(
    table: &[Function],
    results: &[u8],
    pending: &mut Option<usize>,
) -> (String, String) {
    let f = pending.take().and_then(|p| table.get(p));
    let name = f.map_or_else(String::new, |f| f.name.clone());
    let results = match f {
        Some(f) => f.show_results(results, None),
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

/// `proxyrt trace show`.
fn show(args: &TraceShowArgs) -> Result<i32> {
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
        }
    }
    let mut pending: Option<usize> = None;
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
        // Track the call a return belongs to even for entries that are skipped.
        let (kind, name, detail) = match &entry {
            Entry::Call { func, args } => {
                let (name, args) = shown_call(funcs, *func, args, "function", &mut pending);
                ("call", name, args)
            }
            Entry::Return { results } => {
                let (name, results) = shown_return(funcs, results, &mut pending);
                ("return", name, results)
            }
            Entry::ExportCall { func, args } => {
                let (name, args) = shown_call(exports, *func, args, "export", &mut pending_export);
                ("export-call", name, args)
            }
            Entry::ExportReturn { results } => {
                let (name, results) = shown_return(exports, results, &mut pending_export);
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

/// `proxyrt trace stats`.
fn stats(args: &TraceStatsArgs) -> Result<i32> {
    let mut reader = open(&args.file)?;
    let table = FunctionTable::new(&reader.header().component);
    let (funcs, exports) = (table.imports(), table.exports());
    let mut per: BTreeMap<String, Counts> = BTreeMap::new();
    let mut pending: Option<String> = None;
    let (mut entries, mut payload) = (0u64, 0u64);
    let end = loop {
        let entry = match ended(reader.next_entry()) {
            Ok(e) => e,
            Err(end) => break end,
        };
        entries += 1;
        match entry {
            Entry::Call { func, args } => {
                let name = funcs
                    .get(func as usize)
                    .map_or_else(|| format!("<function {func}>"), |f| f.name.clone());
                let c = per.entry(name.clone()).or_default();
                c.calls += 1;
                c.arg_bytes += args.len() as u64;
                payload += args.len() as u64;
                pending = Some(name);
            }
            Entry::ExportCall { func, args } => {
                let name = exports.get(func as usize).map_or_else(
                    || format!("export <{func}>"),
                    |f| format!("export {}", f.name),
                );
                let c = per.entry(name.clone()).or_default();
                c.calls += 1;
                c.arg_bytes += args.len() as u64;
                payload += args.len() as u64;
                pending = Some(name);
            }
            Entry::Return { results } | Entry::ExportReturn { results } => {
                payload += results.len() as u64;
                if let Some(name) = pending.take() {
                    per.entry(name).or_default().result_bytes += results.len() as u64;
                }
            }
            _ => {}
        }
    };
    let complete = end?;
    let file_bytes = std::fs::metadata(&args.file)?.len();
    let mut rows: Vec<_> = per.into_iter().collect();
    rows.sort_by(|a, b| b.1.calls.cmp(&a.1.calls).then(a.0.cmp(&b.0)));
    if args.json {
        let functions: serde_json::Map<_, _> = rows
            .iter()
            .map(|(n, c)| (n.clone(), serde_json::to_value(c).unwrap_or_default()))
            .collect();
        println!(
            "{}",
            json!({"entries": entries, "complete": complete, "file_bytes": file_bytes,
                   "value_bytes": payload, "functions": functions})
        );
    } else {
        println!(
            "{entries} entries, {file_bytes} bytes on disk, {payload} bytes of encoded values{}",
            if complete { "" } else { " (cut)" }
        );
        println!(
            "{:>8} {:>12} {:>12}  function",
            "calls", "arg bytes", "result bytes"
        );
        for (name, c) in rows {
            println!(
                "{:>8} {:>12} {:>12}  {name}",
                c.calls, c.arg_bytes, c.result_bytes
            );
        }
    }
    Ok(0)
}

//! Host results from anything but a trace: a source of replay ([`HostResults`]) that answers
//! each of the guest's calls by the fuzzer ([`random`]), by the real host ([`crate::forward`]),
//! with an injected fault, or by a person ([`Person`], the `dialog` command), as the user's
//! [`rules`] say, and **writes what it answered as a trace**, so that `proxyrt replay` reproduces
//! the run exactly, with none of them.
//!
//! Handles are answered by whoever made them: a call that takes a handle the fuzzer or the
//! person made up cannot go to the host (which never saw it), and a call on the host's handles
//! goes to the host unless a rule names its function. So `--fuzz wasi:filesystem/types` fuzzes
//! opening a file and then everything done with the made-up file, while the real preopens,
//! stdout and clocks keep working.
//!
//! The guest runs in its replay composition, exactly as in `replay`: it cannot tell.

pub mod random;
pub mod rules;

use crate::forward::{Forwarder, Refused};
use crate::replay::{Finish, HostResults, Stop};
use anyhow::{anyhow, Context, Result};
use random::Random;
use recorder_host::functions::{Function, FunctionTable};
use recorder_host::names::HandleNamer;
use recorder_host::trace::{Compression, Entry, Header, TraceWriter};
use recorder_host::types::{FuncKind, ValueType};
use recorder_host::value::{Cursor, Decoder, HandleNames, NoNames};
use rules::{Answerer, Rules};
use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use wasm_wave::wasm::WasmValue;

/// The most host calls one run may make before it is stopped (a guest polling a made-up
/// pollable may wait for ever).
pub const MAX_CALLS: u64 = 100_000;

/// What every run of one component shares: its functions, the rules, the trace header.
pub struct Plan {
    table: FunctionTable,
    rules: Rules,
    /// Per import (by id): how it is special.
    kinds: Vec<Kind>,
    /// Per import: the error an injected fault returns (`None`: a random one), and the rate.
    faults: Vec<Option<(f64, Option<Vec<u8>>)>>,
    header: Header,
    /// The export the host calls (`wasi:cli/run.run`, or the `--invoke` function) and its
    /// encoded arguments.
    export: (u32, Vec<u8>),
}

/// What is special about an import for the answerer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    /// `[resource-drop]R`: answered by whoever made the handle.
    Drop,
    /// `wasi:cli/exit.exit`: ends the run with status 0 (`ok`) or 1 (`err`).
    Exit,
    /// `wasi:cli/exit.exit-with-code`: ends the run with its status.
    ExitWithCode,
    /// Takes a `len` (a read): its byte list result is at most that long; the parameter's index.
    Bounded(usize),
}

impl Plan {
    /// The plan for a component with trace header `header` (its interfaces and argv) under
    /// `rules`, checked against its imports; each run calls `wasi:cli/run`, or `invoke` (a WAVE
    /// call, as `run --invoke` takes it).
    pub fn new(header: Header, rules: Rules, invoke: Option<&str>) -> Result<Self> {
        let table = FunctionTable::new(&header.component);
        rules.check(table.imports())?;
        let kinds = header
            .component
            .intercepted_functions()
            .map(|f| {
                let exit = f
                    .interface
                    .is_some_and(|i| i.split('@').next() == Some("wasi:cli/exit"));
                match (&f.function.kind, f.function.name.as_str()) {
                    (FuncKind::Drop(_), _) => Kind::Drop,
                    (_, "exit") if exit => Kind::Exit,
                    (_, "exit-with-code") if exit => Kind::ExitWithCode,
                    _ => match f
                        .function
                        .params
                        .iter()
                        .position(|(n, t)| n == "len" && *t == ValueType::U64)
                    {
                        Some(i) => Kind::Bounded(i),
                        None => Kind::Plain,
                    },
                }
            })
            .collect();
        let faults = table
            .imports()
            .iter()
            .map(|f| match rules.fault(f) {
                Some(fault) => Ok(Some((fault.rate, fault.error_for(f)?))),
                None => Ok(None),
            })
            .collect::<Result<_>>()?;
        let export = match invoke {
            Some(call) => export_call(&table, call)?,
            None => table
                .find_export(Some("wasi:cli/run"), "run")
                .map(|(id, _)| (id, Vec::new()))
                .context(
                    "the component does not export `wasi:cli/run` (is it a library? use \
                     `--invoke` to call one of its exports)",
                )?,
        };
        Ok(Plan {
            table,
            rules,
            kinds,
            faults,
            header,
            export,
        })
    }

    /// Whether any call may go to the real host: then each run needs a forwarder. A person may
    /// always say `forward`.
    pub fn uses_host(&self) -> bool {
        self.rules.default == Answerer::Host
            || self.rules.default == Answerer::Person
            || !self.rules.forward.is_empty()
            || !self.rules.faults.is_empty()
    }

    pub fn header(&self) -> &Header {
        &self.header
    }
}

/// The export `call` (a WAVE call: `name(args)`, `pkg:ns/iface.name(args)`) names, and its
/// arguments encoded.
fn export_call(table: &FunctionTable, call: &str) -> Result<(u32, Vec<u8>)> {
    let untyped = wasm_wave::untyped::UntypedFuncCall::parse(call).map_err(|e| {
        anyhow!("cannot parse `--invoke {call}`: {e} (expected a WAVE call such as `f(1, \"x\")`)")
    })?;
    let name = untyped.name();
    let found: Vec<(u32, &Function)> = table
        .exports()
        .iter()
        .enumerate()
        .filter(|(_, f)| f.name == name || f.func == name)
        .map(|(id, f)| (id as u32, f))
        .collect();
    let (id, f) = match found.as_slice() {
        [one] => *one,
        [] => anyhow::bail!("the component exports no function `{name}`"),
        _ => anyhow::bail!("`{name}` names several exports: write its interface too"),
    };
    let types = f
        .params
        .iter()
        .map(|t| recorder_host::value::wave_type(t).map_err(anyhow::Error::msg))
        .collect::<Result<Vec<_>>>()?;
    let values = untyped
        .to_wasm_params::<recorder_host::value::Value>(&types)
        .map_err(|e| anyhow!("bad arguments in `--invoke {call}`: {e}"))?;
    let mut args = Vec::new();
    for (value, ty) in values.iter().zip(&f.params) {
        recorder_host::value::encode(value, ty, &mut args).map_err(anyhow::Error::msg)?;
    }
    Ok((id, args))
}

/// A person answering calls (the `dialog` command's console).
pub trait Person: Send {
    /// Asks what `question`'s call returns.
    fn ask(&mut self, question: &Question<'_>) -> Reply;
    /// Tells the person something: a call answered otherwise, or why an answer was refused.
    fn tell(&mut self, text: &str);
}

/// A call put to a [`Person`].
pub struct Question<'a> {
    /// The call's number in the run, from 1.
    pub number: u64,
    pub function: &'a Function,
    pub args: &'a [u8],
    /// Whether the real host could answer it (`forward`).
    pub can_forward: bool,
    /// The handles alive now (a new one must take another id).
    pub live: Vec<u32>,
    /// What the handles are (`stdout`, a path), to show the call as people read it.
    pub names: &'a dyn HandleNames,
}

/// What a person answers.
pub enum Reply {
    /// These encoded results.
    Results(Vec<u8>),
    /// Let the real host answer.
    Forward,
    /// Let the fuzzer answer.
    Random,
    /// End the session here.
    Quit,
}

/// Who made a handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Host,
    MadeUp,
}

/// Who answered a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answered {
    By(Answerer),
    /// An injected fault.
    Fault,
    /// Nobody: the drop of a made-up handle, which returns nothing.
    Itself,
}

impl Answered {
    fn describe(self) -> &'static str {
        match self {
            Answered::By(Answerer::Host) => "host",
            Answered::By(Answerer::Fuzzer) => "random",
            Answered::By(Answerer::Person) => "you",
            Answered::Fault => "fault injected",
            Answered::Itself => "made-up handle dropped",
        }
    }
}

/// How many calls each answerer answered in a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub host: u64,
    pub fuzzer: u64,
    pub person: u64,
    pub faults: u64,
}

/// Where a run's trace goes, and how its blocks are stored.
pub struct TraceFile<'a> {
    pub path: &'a Path,
    pub compression: Compression,
}

/// The trace being written, and where.
struct Trace {
    writer: TraceWriter<BufWriter<File>>,
    path: PathBuf,
}

/// One run's source of host results (see the module's doc).
pub struct Answers {
    plan: Arc<Plan>,
    random: Random,
    forwarder: Option<Forwarder>,
    person: Option<Box<dyn Person>>,
    /// The next handle id: shared with the forwarder.
    ids: Arc<AtomicU32>,
    origins: HashMap<u32, Origin>,
    trace: Option<Trace>,
    calls: u64,
    counts: Arc<Mutex<Counts>>,
    /// Names of the handles, for the person (only kept when there is one).
    names: Option<HandleNamer>,
}

impl Answers {
    /// A run of `plan`'s component, its random choices from `seed`, calls for the host going to
    /// `forwarder` (which must take its ids from `ids`), calls for a person to `person`; what it
    /// answers is written to `trace`. `counts` receives the run's counts.
    pub fn new(
        plan: Arc<Plan>,
        seed: u64,
        (forwarder, ids): (Option<Forwarder>, Arc<AtomicU32>),
        person: Option<Box<dyn Person>>,
        trace: &TraceFile<'_>,
        counts: Arc<Mutex<Counts>>,
    ) -> Result<Self> {
        let writer = TraceWriter::create(trace.path, &plan.header)
            .with_context(|| format!("cannot create the trace {}", trace.path.display()))?
            .with_compression(trace.compression);
        let names = person.as_ref().map(|_| HandleNamer::new(&plan.table));
        Ok(Answers {
            plan,
            random: Random::new(seed),
            forwarder,
            person,
            ids,
            origins: HashMap::new(),
            trace: Some(Trace {
                writer,
                path: trace.path.to_path_buf(),
            }),
            calls: 0,
            counts,
            names,
        })
    }

    /// Appends `entries` to the trace; with `end`, finishes it (an `End` entry, flushed).
    fn write(&mut self, entries: &[Entry], end: bool) -> Result<(), Stop> {
        let Some(trace) = self.trace.as_mut() else {
            return Err(Stop::Unreadable(anyhow!(
                "internal error: the trace is finished"
            )));
        };
        let failed = |e: std::io::Error, path: &Path| {
            Stop::Unreadable(anyhow!("cannot write the trace {}: {e}", path.display()))
        };
        for entry in entries {
            trace
                .writer
                .append(entry)
                .map_err(|e| failed(e, &trace.path))?;
        }
        if end {
            if let Some(Trace { writer, path }) = self.trace.take() {
                writer.finish().map_err(|e| failed(e, &path))?;
            }
        }
        Ok(())
    }

    /// The run ends in call `func(args)` as `stop` says (an exit, or a trap of the host): the call
    /// and the ending go into the trace, which is finished. The stop to return (or why the trace
    /// could not be written).
    fn end_in_call(&mut self, func: u32, args: &[u8], stop: Stop) -> Stop {
        let last = match &stop {
            Stop::Exit(code) => Entry::Exit { code: *code },
            Stop::HostTrap(message) => Entry::Trap {
                message: message.clone(),
            },
            Stop::Divergence(_) | Stop::Unreadable(_) => return stop,
        };
        match self.write(&[call_entry(func, args), last], true) {
            Ok(()) => stop,
            Err(unwritten) => unwritten,
        }
    }

    fn count(&self, f: impl FnOnce(&mut Counts)) {
        if let Ok(mut counts) = self.counts.lock() {
            f(&mut counts);
        }
    }

    /// A fresh handle id.
    fn fresh(ids: &AtomicU32) -> u32 {
        ids.fetch_add(1, Ordering::Relaxed)
    }

    /// The answer to a call of `f` (id `func`) by `who`, or why the run stops.
    fn answer(
        &mut self,
        func: u32,
        f: &Function,
        args: &[u8],
        who: Answerer,
        can_forward: bool,
    ) -> Result<(Vec<u8>, Answered), Stop> {
        let ids = self.ids.clone();
        match who {
            Answerer::Host => {
                let forwarded = match &self.forwarder {
                    Some(forwarder) => forwarder.call(func, args),
                    None => Err(Refused::Cannot("no real host in this run".into())),
                };
                match forwarded {
                    Ok(results) => {
                        self.count(|c| c.host += 1);
                        Ok((results, Answered::By(Answerer::Host)))
                    }
                    Err(Refused::Cannot(why)) => {
                        if let Some(person) = self.person.as_mut() {
                            person.tell(&format!("the host cannot answer: {why}"));
                        }
                        let made_up = self.plan.rules.made_up;
                        self.answer(func, f, args, made_up, false)
                    }
                    Err(Refused::Exit(code)) => Err(self.end_in_call(func, args, Stop::Exit(code))),
                    Err(Refused::Trap(message)) => {
                        Err(self.end_in_call(func, args, Stop::HostTrap(message)))
                    }
                }
            }
            Answerer::Fuzzer => {
                let mut out = Vec::new();
                if let Some(ty) = &f.result {
                    let max = self.max_bytes(func, f, args);
                    self.random
                        .value(ty, max, &mut || Self::fresh(&ids), &mut out)
                        .map_err(|e| {
                            Stop::Unreadable(anyhow!("cannot answer `{}`: {e}", f.name))
                        })?;
                }
                self.count(|c| c.fuzzer += 1);
                Ok((out, Answered::By(Answerer::Fuzzer)))
            }
            Answerer::Person => loop {
                let Some(person) = self.person.as_mut() else {
                    let fuzzer = Answerer::Fuzzer;
                    return self.answer(func, f, args, fuzzer, can_forward);
                };
                let question = Question {
                    number: self.calls,
                    function: f,
                    args,
                    can_forward,
                    live: {
                        let mut live: Vec<u32> = self.origins.keys().copied().collect();
                        live.sort_unstable();
                        live
                    },
                    names: match &self.names {
                        Some(names) => names,
                        None => &NoNames,
                    },
                };
                match person.ask(&question) {
                    Reply::Forward if !can_forward => {
                        person.tell("the real host cannot answer this call: it takes a handle it did not make");
                    }
                    Reply::Forward => return self.answer(func, f, args, Answerer::Host, true),
                    Reply::Random => return self.answer(func, f, args, Answerer::Fuzzer, false),
                    Reply::Quit => {
                        return Err(Stop::Unreadable(anyhow!(
                            "the dialog ended at call {} ({})",
                            self.calls,
                            f.name
                        )))
                    }
                    Reply::Results(results) => match self.check_new_handles(f, &results) {
                        Ok(()) => {
                            self.count(|c| c.person += 1);
                            return Ok((results, Answered::By(Answerer::Person)));
                        }
                        Err(why) => {
                            if let Some(person) = self.person.as_mut() {
                                person.tell(&why);
                            }
                        }
                    },
                }
            },
        }
    }

    /// A person's results must make new handles with ids not in use; the id counter then moves
    /// past them.
    fn check_new_handles(&self, f: &Function, results: &[u8]) -> Result<(), String> {
        let handles = handles_in(f.result.as_slice(), results).map_err(|e| e.to_string())?;
        let mut seen = Vec::new();
        for (id, _) in &handles {
            if self.origins.contains_key(id) || seen.contains(id) {
                return Err(format!(
                    "handle {id} is in use: give a new handle a number not in use"
                ));
            }
            seen.push(*id);
        }
        if let Some(max) = seen.iter().max() {
            self.ids.fetch_max(max.saturating_add(1), Ordering::Relaxed);
        }
        Ok(())
    }

    /// The most bytes a byte-list result of this call may have: its `len` argument, if any.
    fn max_bytes(&self, func: u32, f: &Function, args: &[u8]) -> Option<u64> {
        let Some(Kind::Bounded(i)) = self.plan.kinds.get(func as usize).copied() else {
            return None;
        };
        let values = Decoder::decode_all(args, &f.params).ok()?;
        values.get(i).map(|v| v.unwrap_u64())
    }
}

fn call_entry(func: u32, args: &[u8]) -> Entry {
    Entry::Call {
        func,
        args: args.to_vec(),
    }
}

/// The handles in the values `bytes` of `types`: (id, own).
fn handles_in(
    types: &[ValueType],
    bytes: &[u8],
) -> Result<Vec<(u32, bool)>, recorder_host::value::DecodeError> {
    let mut cursor = Cursor::new(bytes);
    let mut found = Vec::new();
    for ty in types {
        cursor.handles(ty, &mut found)?;
    }
    Ok(found.iter().map(|h| (h.id, h.own)).collect())
}

impl HostResults for Answers {
    fn begin_export(&mut self) -> Result<(u32, Vec<u8>), Stop> {
        let (func, args) = self.plan.export.clone();
        self.write(
            &[Entry::ExportCall {
                func,
                args: args.clone(),
            }],
            false,
        )?;
        Ok((func, args))
    }

    fn call(&mut self, func: u32, args: &[u8]) -> Result<Vec<u8>, Stop> {
        let plan = self.plan.clone();
        let (Some(f), Some(kind)) = (plan.table.import(func), plan.kinds.get(func as usize)) else {
            return Err(Stop::Unreadable(anyhow!(
                "internal error: the guest called unknown import {func}"
            )));
        };
        self.calls += 1;
        if self.calls > MAX_CALLS {
            let message = format!("proxyrt: the run made more than {MAX_CALLS} host calls");
            return Err(self.end_in_call(func, args, Stop::HostTrap(message)));
        }
        let status = match kind {
            Kind::Exit => Some(match Cursor::new(args).tag("result") {
                Ok(failed) => i32::from(failed),
                Err(e) => return Err(Stop::Unreadable(anyhow!("`{}`: {e}", f.name))),
            }),
            Kind::ExitWithCode => Some(match Cursor::new(args).byte() {
                Ok(code) => i32::from(code),
                Err(e) => return Err(Stop::Unreadable(anyhow!("`{}`: {e}", f.name))),
            }),
            _ => None,
        };
        if let Some(code) = status {
            return Err(self.end_in_call(func, args, Stop::Exit(code)));
        }
        let handles = handles_in(&f.params, args)
            .map_err(|e| Stop::Unreadable(anyhow!("the arguments of `{}`: {e}", f.name)))?;
        let made_up = handles
            .iter()
            .any(|(id, _)| self.origins.get(id) != Some(&Origin::Host));
        let (results, answered) = if *kind == Kind::Drop {
            // A drop is answered by whoever made the handle, and returns nothing.
            match handles.first().map(|(id, _)| self.origins.get(id)) {
                Some(Some(Origin::Host)) => self.answer(func, f, args, Answerer::Host, true)?,
                _ => (Vec::new(), Answered::Itself),
            }
        } else if let Some((_, error)) = plan.faults[func as usize]
            .as_ref()
            .filter(|(rate, _)| self.random.chance(*rate))
        {
            let ids = self.ids.clone();
            let error = match error {
                Some(error) => error.clone(),
                None => match f
                    .result
                    .as_ref()
                    .and_then(|ty| self.random.error(ty, &mut || Self::fresh(&ids)))
                {
                    Some(Ok(error)) => error,
                    Some(Err(e)) => {
                        return Err(Stop::Unreadable(anyhow!(
                            "cannot make an error of `{}`: {e}",
                            f.name
                        )))
                    }
                    None => {
                        return Err(Stop::Unreadable(anyhow!(
                            "internal error: `{}` cannot fail",
                            f.name
                        )))
                    }
                },
            };
            self.count(|c| c.faults += 1);
            (error, Answered::Fault)
        } else {
            let rules = &plan.rules;
            let who = match rules.named(f) {
                Some(who) => who,
                None if made_up => rules.made_up,
                None if !handles.is_empty() => Answerer::Host,
                None => rules.default,
            };
            let can_forward = !made_up && self.forwarder.is_some();
            let who = if who == Answerer::Host && !can_forward {
                rules.made_up
            } else {
                who
            };
            self.answer(func, f, args, who, can_forward)?
        };
        for (id, own) in &handles {
            if *own {
                self.origins.remove(id);
            }
        }
        let new = handles_in(f.result.as_slice(), &results)
            .map_err(|e| Stop::Unreadable(anyhow!("the results of `{}`: {e}", f.name)))?;
        let origin = match answered {
            Answered::By(Answerer::Host) => Origin::Host,
            _ => Origin::MadeUp,
        };
        for (id, _) in new {
            self.origins.insert(id, origin);
        }
        if let (Some(person), Some(names)) = (self.person.as_mut(), self.names.as_mut()) {
            if answered != Answered::By(Answerer::Person) {
                // Shown with the names before the call: a handle it drops is named still.
                let shown = format!(
                    "[{}] {}{} -> {}   ({})",
                    self.calls,
                    f.name,
                    f.readable_args(args, Some(256), names),
                    f.readable_results(&results, Some(256), names),
                    answered.describe()
                );
                person.tell(&shown);
            }
            names.observe(func, args, &results);
        }
        let entries = [
            call_entry(func, args),
            Entry::Return {
                results: results.clone(),
            },
        ];
        self.write(&entries, false)?;
        Ok(results)
    }

    fn end_export(&mut self, results: &[u8]) -> Result<(), Stop> {
        self.write(
            &[Entry::ExportReturn {
                results: results.to_vec(),
            }],
            false,
        )
    }

    fn finish(&mut self, finish: &Finish) -> Result<(), Stop> {
        let last = match finish {
            Finish::Returned(code) => Entry::Exit { code: *code },
            Finish::Trapped(message) => Entry::Trap {
                message: message.clone(),
            },
        };
        self.write(&[last], true)
    }
}

/// A component ready to be run against [`Answers`] many times: its replay composition compiled,
/// its forward proxy compiled when calls may go to the host, and the [`Plan`].
pub struct Session {
    replayer: crate::replay::Replayer,
    forwardable: Option<crate::forward::Forwardable>,
    plan: Arc<Plan>,
    wasi: crate::hosts::wasi::WasiConfig,
}

impl Session {
    /// Prepares `original` (the component at `path`) for runs under `rules`, each a call of
    /// `invoke` (a WAVE call) or of `wasi:cli/run`, the real host (when it answers) configured by
    /// `wasi` (its `argv` goes into each trace's header too).
    pub fn new(
        original: &[u8],
        path: &Path,
        rules: Rules,
        invoke: Option<&str>,
        wasi: crate::hosts::wasi::WasiConfig,
        wasm: &crate::engine::WasmOptions,
        cache: Option<&crate::cache::Cache>,
    ) -> Result<Self> {
        let replayable = crate::replay::Replayable::new(
            original,
            path,
            // The answers' handle ids are made up (the fuzzer's, a person's): they go through
            // the proxy's own resources, which any id can be.
            proxy_gen::Layout::Composed,
            cache,
        )?;
        let header = crate::identity::header(
            *replayable.original_sha256(),
            replayable.interfaces(),
            wasi.argv.clone(),
        )?;
        let plan = Arc::new(Plan::new(header, rules, invoke)?);
        // With the guest's DWARF: findings name source lines.
        let replay_wasm = crate::engine::WasmOptions {
            backtrace_details: true,
            ..wasm.clone()
        };
        let replayer = replayable.compile(&replay_wasm, cache)?;
        let forwardable = if plan.uses_host() {
            Some(crate::forward::Forwardable::new(
                original,
                path,
                replayable.interfaces().get()?,
                wasm,
                &wasi.options,
                cache,
            )?)
        } else {
            None
        };
        Ok(Session {
            replayer,
            forwardable,
            plan,
            wasi,
        })
    }

    /// One run: random choices from `seed`, a person's answers from `person`, the guest's output
    /// shown as `output`; the trace written to `trace`. The replay and who answered how much.
    pub async fn run(
        &self,
        seed: u64,
        person: Option<Box<dyn Person>>,
        trace: &TraceFile<'_>,
        output: crate::replay::Output,
    ) -> Result<(crate::replay::Replay, Counts)> {
        let ids = Arc::new(AtomicU32::new(1));
        let forwarder = match &self.forwardable {
            Some(f) => Some(f.start(&self.wasi, ids.clone())?),
            None => None,
        };
        let counts = Arc::new(Mutex::new(Counts::default()));
        let answers = Answers::new(
            self.plan.clone(),
            seed,
            (forwarder, ids),
            person,
            trace,
            counts.clone(),
        )?;
        let replay = self.replayer.replay(answers, output).await?;
        let counts = counts.lock().map(|c| *c).unwrap_or_default();
        Ok((replay, counts))
    }
}

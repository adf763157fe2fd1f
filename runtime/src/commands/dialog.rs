//! `proxyrt dialog [run options] [--forward P].. app.wasm [--] args`: runs a command component once,
//! asking the person at the terminal for the result of each host call (in WAVE), or letting the
//! real host or the fuzzer answer it; the session is saved as a trace that `proxyrt replay`
//! reproduces.
//!
//! The questions and notes go to stderr; answers come from stdin, with line editing and history
//! at a terminal (rustyline), else line by line (a script). The guest's stdin is not the
//! terminal's: a guest that reads stdin asks the dialog instead.

use crate::answers::rules::{parse_wave, Answerer, Pattern, Rules};
use crate::answers::{Person, Question, Reply, TraceFile};
use crate::commands::fuzz::session;
use crate::options::{ComponentAndArgs, RunOptions};
use crate::replay::{Ending, Output};
use anyhow::{bail, Result};
use clap::Args;
use recorder_host::trace::Compression;
use recorder_host::types::ValueType;
use recorder_host::value::encode;
use std::io::IsTerminal;
use std::path::PathBuf;

/// `proxyrt dialog`.
#[derive(Args, Debug, Clone)]
#[command(after_help = "\
At each host call the dialog shows the call and its result type and reads the result:
  a value in WAVE    the call returns it (`ok(\"text\")`, `[1, 2]`, `{a: 1}`, `err(access)`);
                     a handle is a number, and a new one takes a number not in use
  (empty line)       for a call that returns nothing
  f, forward         the real host answers (not for a call on a handle that you made up)
  r, random          the fuzzer answers (a random value of the result type)
  ?, help            the result type in full
  q, quit            end here (the trace is kept, cut at this call)
Calls on handles the host made go to the host, and calls of functions --forward names; they are
shown as they pass. The trace is written to --trace; `proxyrt replay app.wasm TRACE` replays it.")]
pub struct DialogCommand {
    /// Where to write the trace of the session.
    #[arg(long, value_name = "FILE", default_value = "dialog.trace")]
    pub trace: PathBuf,

    /// The real host answers the functions this pattern names (repeatable; see `fuzz --help`).
    #[arg(long = "forward", value_name = "PATTERN", value_parser = crate::options::parse_pattern)]
    pub forward: Vec<Pattern>,

    #[command(flatten)]
    pub run: RunOptions,

    #[command(flatten)]
    pub component: ComponentAndArgs,
}

impl DialogCommand {
    pub async fn execute(self) -> Result<i32> {
        let path = self.component.wasm_path()?;
        let argv = self.run.guest_argv(&path, self.component.guest_args())?;
        let mut wasi = self.run.wasi_config(argv)?;
        // The dialog reads the terminal: the guest's stdin comes from the dialog.
        wasi.options.inherit_stdin = Some(false);
        let rules = Rules {
            forward: self.forward.clone(),
            fuzz: Vec::new(),
            faults: Vec::new(),
            default: Answerer::Person,
            made_up: Answerer::Person,
        };
        let session = session(&path, "dialog", &self.run, rules, wasi)?;
        let console = Console::new()?;
        let trace = TraceFile {
            path: &self.trace,
            compression: Compression::Zstd,
        };
        // Output the person answered is not printed twice: what the host writes, it writes.
        let (replay, counts) = session
            .run(0, Some(Box::new(console)), &trace, Output::Discard)
            .await?;
        let status = replay.ending.exit_status();
        if let Some(results) = &replay.results {
            // A `--invoke` call's results, as `run --invoke` prints them.
            println!("{results}");
        }
        let how = match &replay.ending {
            Ending::Exit(code) => format!("exited with status {code}"),
            Ending::Trap(e) => format!("trapped: {}", e.root_cause()),
            Ending::HostTrap { message, .. } => format!("the host trapped: {message}"),
            Ending::Divergence(d) => bail!("internal error: the dialog diverged from itself: {d}"),
        };
        eprintln!(
            "dialog: the guest {how} after {} calls ({} answered by you, {} by the host, {} at random); \
             trace in {} (replay it with `proxyrt replay {} {}`)",
            replay.calls,
            counts.person,
            counts.host,
            counts.fuzzer,
            self.trace.display(),
            path.display(),
            self.trace.display()
        );
        Ok(status)
    }
}

/// Where the answers come from.
enum Input {
    /// A terminal: line editing and history.
    Terminal(Box<rustyline::DefaultEditor>),
    /// A script.
    Lines(std::io::Stdin),
}

/// The person at the terminal (or a script).
struct Console {
    input: Input,
}

impl Console {
    fn new() -> Result<Self> {
        let input = if std::io::stdin().is_terminal() {
            Input::Terminal(Box::new(rustyline::DefaultEditor::new()?))
        } else {
            Input::Lines(std::io::stdin())
        };
        Ok(Console { input })
    }

    /// The next line, or `None` at the end of input.
    fn line(&mut self, prompt: &str) -> Option<String> {
        match &mut self.input {
            Input::Terminal(editor) => match editor.readline(prompt) {
                Ok(line) => {
                    let _ = editor.add_history_entry(line.as_str());
                    Some(line)
                }
                Err(_) => None,
            },
            Input::Lines(stdin) => {
                eprint!("{prompt}");
                let mut line = String::new();
                match stdin.read_line(&mut line) {
                    Ok(0) | Err(_) => None,
                    Ok(_) => {
                        let line = line.trim_end_matches(['\n', '\r']).to_string();
                        // A script's answers are shown, as if typed.
                        eprintln!("{line}");
                        Some(line)
                    }
                }
            }
        }
    }
}

impl Person for Console {
    fn ask(&mut self, q: &Question<'_>) -> Reply {
        let f = q.function;
        let returns = match &f.result {
            Some(ty) => wit_type(ty),
            None => "nothing".into(),
        };
        eprintln!(
            "[{}] {}{}\n    returns {returns}{}",
            q.number,
            f.name,
            f.readable_args(q.args, Some(1024), q.names),
            if q.can_forward {
                ""
            } else {
                "  (the host cannot answer it)"
            }
        );
        loop {
            let Some(line) = self.line("> ") else {
                return Reply::Quit;
            };
            let answer = line.trim();
            match answer {
                "f" | "forward" => return Reply::Forward,
                "r" | "random" => return Reply::Random,
                "q" | "quit" => return Reply::Quit,
                "?" | "help" => {
                    match &f.result {
                        Some(ty) => eprintln!("    {}", definition(ty)),
                        None => eprintln!("    an empty line: the call returns nothing"),
                    }
                    if !q.live.is_empty() {
                        eprintln!("    handles in use: {:?}", q.live);
                    }
                    eprintln!("    or: f (forward to the host), r (random), q (quit)");
                    continue;
                }
                _ => {}
            }
            let Some(ty) = &f.result else {
                if answer.is_empty() || answer == "()" {
                    return Reply::Results(Vec::new());
                }
                eprintln!("    this call returns nothing: an empty line answers it");
                continue;
            };
            match parse_wave(ty, answer) {
                Ok(value) => {
                    let mut out = Vec::new();
                    match encode(&value, ty, &mut out) {
                        Ok(()) => return Reply::Results(out),
                        Err(e) => eprintln!("    {e}"),
                    }
                }
                Err(e) => eprintln!("    not a {}: {e:#} (`?` for help)", wit_type(ty)),
            }
        }
    }

    fn tell(&mut self, text: &str) {
        eprintln!("{text}");
    }
}

/// `ty` as WIT writes it, named types by their names.
fn wit_type(ty: &ValueType) -> String {
    use ValueType as V;
    let opt = |t: &Option<Box<ValueType>>| t.as_deref().map_or("_".to_string(), wit_type);
    match ty {
        V::Bool => "bool".into(),
        V::U8 => "u8".into(),
        V::U16 => "u16".into(),
        V::U32 => "u32".into(),
        V::U64 => "u64".into(),
        V::S8 => "s8".into(),
        V::S16 => "s16".into(),
        V::S32 => "s32".into(),
        V::S64 => "s64".into(),
        V::F32 => "f32".into(),
        V::F64 => "f64".into(),
        V::Char => "char".into(),
        V::String => "string".into(),
        V::ErrorContext => "error-context".into(),
        V::List(t) => format!("list<{}>", wit_type(t)),
        V::FixedLengthList(t, n) => format!("list<{}, {n}>", wit_type(t)),
        V::Map(k, v) => format!("map<{}, {}>", wit_type(k), wit_type(v)),
        V::Option(t) => format!("option<{}>", wit_type(t)),
        V::Result {
            ok: None,
            err: None,
        } => "result".into(),
        V::Result { ok, err: None } => format!("result<{}>", opt(ok)),
        V::Result { ok, err } => format!("result<{}, {}>", opt(ok), opt(err)),
        V::Tuple(ts) => format!(
            "tuple<{}>",
            ts.iter().map(wit_type).collect::<Vec<_>>().join(", ")
        ),
        V::Record { name: Some(n), .. }
        | V::Variant { name: Some(n), .. }
        | V::Enum { name: Some(n), .. }
        | V::Flags { name: Some(n), .. } => n.clone(),
        V::Record { .. } | V::Variant { .. } | V::Enum { .. } | V::Flags { .. } => definition(ty),
        V::Own(r) => format!("{} (a handle: a number)", r.name),
        V::Borrow(r) => format!("borrow<{}>", r.name),
        V::Resource(r) => r.name.clone(),
        V::Future(t) => format!("future<{}>", opt(t)),
        V::Stream(t) => format!("stream<{}>", opt(t)),
        V::Unknown => "?".into(),
    }
}

/// `ty` spelled out one level: a record's fields, a variant's or enum's cases, the flags.
fn definition(ty: &ValueType) -> String {
    use ValueType as V;
    let name = |n: &Option<String>| n.as_ref().map(|n| format!("{n} ")).unwrap_or_default();
    match ty {
        V::Record { name: n, fields } => format!(
            "record {}{{ {} }}",
            name(n),
            fields
                .iter()
                .map(|(f, t)| format!("{f}: {}", wit_type(t)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        V::Variant { name: n, cases } => format!(
            "variant {}{{ {} }}",
            name(n),
            cases
                .iter()
                .map(|(c, t)| match t {
                    Some(t) => format!("{c}({})", wit_type(t)),
                    None => c.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        V::Enum { name: n, cases } => format!("enum {}{{ {} }}", name(n), cases.join(", ")),
        V::Flags { name: n, flags } => format!("flags {}{{ {} }}", name(n), flags.join(", ")),
        V::Option(t) => format!("option of: {}", definition(t)),
        V::List(t) => format!("list of: {}", definition(t)),
        V::Result { ok, err } => {
            let side = |t: &Option<Box<ValueType>>| t.as_deref().map_or("_".into(), definition);
            format!("result: ok {} | err {}", side(ok), side(err))
        }
        other => wit_type(other),
    }
}

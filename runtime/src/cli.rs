//! Command-line definitions.
//!
//! The run options mirror `wasmtime run` (`--dir`, `--env`, `--invoke`, `--argv0`, `-S`, `-W`) so that
//! `proxyrt run` is a drop-in replacement; they are a separate `Args` struct because `record` takes the
//! very same options.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

/// Record/replay runtime for WebAssembly components.
#[derive(Parser, Debug)]
#[command(name = "proxyrt", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a component on real WASI hosts, like `wasmtime run`.
    Run(RunArgs),
    /// Run a component on real WASI hosts like `run`, recording every host call into a trace.
    Record(RecordArgs),
    /// Replay a trace: run the component against the recorded host calls, with no host at all,
    /// and report where the guest diverges from the trace.
    Replay(ReplayArgs),
    /// Emit the composed component (original + synthesized proxy) without running it.
    Instrument(InstrumentArgs),
    /// Inspect a trace.
    #[command(subcommand)]
    Trace(TraceCommand),
}

/// `proxyrt record [run options] [--trace FILE] app.wasm [--] args`.
#[derive(Args, Debug, Clone)]
pub struct RecordArgs {
    /// Where to write the trace.
    #[arg(long, value_name = "FILE", default_value = "trace.bin")]
    pub trace: PathBuf,

    #[command(flatten)]
    pub run: RunArgs,
}

/// `proxyrt replay [--quiet] [cache options] app.wasm trace.bin`.
#[derive(Args, Debug, Clone)]
#[command(after_help = "\
The component may be the recorded one or another build of the same program (same imports and
exports); a trace of another program is refused.

Exit status: the recorded run's status when the guest does exactly what the trace says (134 for a
trap, as `run`); 86 when the guest diverges from the trace (a report on stderr names the entry and
the expected and actual calls); 1 when the trace or the component cannot be read.")]
pub struct ReplayArgs {
    /// Do not show the guest's replayed stdout and stderr, nor notes (divergences and errors are
    /// still reported).
    #[arg(short, long)]
    pub quiet: bool,

    #[command(flatten)]
    pub cache: CacheArgs,

    /// The component to replay (the recorded one, or another build of the same program).
    #[arg(value_name = "WASM")]
    pub wasm: PathBuf,

    /// The trace written by `proxyrt record`.
    #[arg(value_name = "TRACE")]
    pub trace: PathBuf,
}

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

/// `proxyrt instrument -m record|replay app.wasm -o composed.wasm`.
#[derive(Args, Debug, Clone)]
pub struct InstrumentArgs {
    /// What the proxy does with the host calls it intercepts.
    #[arg(short = 'm', long, value_enum)]
    pub mode: InstrumentMode,

    /// Where to write the composed component (default: `<app>.<mode>.wasm` next to the input).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// With `-m replay`: embed this trace, so that the output replays on its own with no import
    /// at all (e.g. in `wasmtime run`); a divergence then traps.
    #[arg(long, value_name = "TRACE")]
    pub embed_trace: Option<PathBuf>,

    /// The component to instrument.
    #[arg(value_name = "WASM")]
    pub wasm: PathBuf,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstrumentMode {
    /// Forward every host call to the real host and report it to the recorder
    /// (`proxyrt:recorder/recorder@0.1.0`, which `proxyrt record` provides).
    Record,
    /// Only forward every host call (no recorder): runs anywhere the original runs; the baseline for
    /// measuring the proxy's own overhead.
    Forward,
    /// Answer every host call from a trace.
    Replay,
}

impl InstrumentMode {
    pub fn name(self) -> &'static str {
        match self {
            InstrumentMode::Record => "record",
            InstrumentMode::Forward => "forward",
            InstrumentMode::Replay => "replay",
        }
    }
}

/// Options shared by every command that executes a component on the real hosts.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Grant access of a host directory to the guest (`HOST_DIR[::GUEST_DIR]`).
    #[arg(long = "dir", value_name = "HOST_DIR[::GUEST_DIR]", value_parser = parse_dir)]
    pub dirs: Vec<(String, String)>,

    /// Pass an environment variable to the guest: `NAME=VAL` sets it, `NAME` inherits it from proxyrt's
    /// own environment (and leaves it unset when proxyrt has none).
    #[arg(long = "env", value_name = "NAME[=VAL]", value_parser = parse_env)]
    pub vars: Vec<(String, Option<String>)>,

    /// Call this export instead of `wasi:cli/run`, written as a WAVE call: `name(args)` or
    /// `pkg:ns/iface.name(args)`. The results are printed in WAVE syntax.
    #[arg(long, value_name = "FUNCTION")]
    pub invoke: Option<String>,

    /// Override `argv[0]` (by default the file name of the component, without its directory).
    #[arg(long)]
    pub argv0: Option<String>,

    /// WASI options, as in `wasmtime run -S`: `cli`, `http`, `inherit-env`, `inherit-network`, `tcp`,
    /// `udp`, `allow-ip-name-lookup`, `inherit-stdin`, `inherit-stdout`, `inherit-stderr`,
    /// `max-random-size=N`. Comma-separated or repeated; `name=n` turns one off.
    #[arg(short = 'S', value_name = "KEY[=VAL[,..]]")]
    pub wasi: Vec<String>,

    /// WebAssembly options, as in `wasmtime run -W`: `fuel=N`, `max-memory-size=BYTES`,
    /// `unknown-imports-trap[=y|n]`.
    #[arg(short = 'W', value_name = "KEY[=VAL[,..]]")]
    pub wasm: Vec<String>,

    /// Give the guest this much fuel; it traps when it runs out (same as `-W fuel=N`).
    #[arg(long, value_name = "N")]
    pub fuel: Option<u64>,

    /// Limit each linear memory to this many bytes (same as `-W max-memory-size=BYTES`).
    #[arg(long, value_name = "BYTES")]
    pub max_memory_size: Option<usize>,

    #[command(flatten)]
    pub cache: CacheArgs,

    /// The component to run, then the arguments passed to it (after `--` if they start with `-`).
    #[arg(value_name = "WASM", trailing_var_arg = true, required = true)]
    pub module_and_args: Vec<OsString>,
}

/// Where compiled components (and the compositions `record` and `replay` run) are cached.
#[derive(Args, Debug, Clone, Default)]
pub struct CacheArgs {
    /// Do not read or write the cache (compiled components and compositions).
    #[arg(long, env = "PROXYRT_NO_CACHE", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false)]
    pub no_cache: bool,

    /// Directory of the compilation cache (default: `$XDG_CACHE_HOME/proxyrt` or `~/.cache/proxyrt`).
    #[arg(long, env = "PROXYRT_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

fn parse_dir(s: &str) -> Result<(String, String)> {
    let (host, guest) = match s.split_once("::") {
        Some((host, guest)) => (host, guest),
        None => (s, s),
    };
    if host.is_empty() || guest.is_empty() {
        bail!("expected HOST_DIR or HOST_DIR::GUEST_DIR, got `{s}`");
    }
    Ok((host.to_string(), guest.to_string()))
}

fn parse_env(s: &str) -> Result<(String, Option<String>)> {
    let (name, value) = match s.split_once('=') {
        Some((name, value)) => (name, Some(value.to_string())),
        None => (s, None),
    };
    if name.is_empty() {
        bail!("environment variable name is empty in `{s}`");
    }
    Ok((name.to_string(), value))
}

/// WASI switches collected from every `-S` option.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WasiOptions {
    pub cli: Option<bool>,
    pub http: Option<bool>,
    pub inherit_env: Option<bool>,
    pub inherit_network: Option<bool>,
    pub tcp: Option<bool>,
    pub udp: Option<bool>,
    pub allow_ip_name_lookup: Option<bool>,
    pub inherit_stdin: Option<bool>,
    pub inherit_stdout: Option<bool>,
    pub inherit_stderr: Option<bool>,
    pub max_random_size: Option<u64>,
}

/// Engine and store switches collected from every `-W` option and their long-form aliases.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WasmOptions {
    pub fuel: Option<u64>,
    pub max_memory_size: Option<usize>,
    pub unknown_imports_trap: Option<bool>,
}

/// Splits `a,b=c,d` into `(key, value)` pairs, the way wasmtime's `-S`/`-W` options are written.
fn key_values(options: &[String]) -> impl Iterator<Item = (&str, Option<&str>)> {
    options
        .iter()
        .flat_map(|o| o.split(','))
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (kv.trim(), None),
        })
}

fn parse_bool(key: &str, value: Option<&str>) -> Result<bool> {
    match value {
        None | Some("y" | "yes" | "true" | "on") => Ok(true),
        Some("n" | "no" | "false" | "off") => Ok(false),
        Some(other) => bail!("`{key}` takes y/n (or yes/no, true/false), not `{other}`"),
    }
}

fn parse_num<T: std::str::FromStr>(key: &str, value: Option<&str>) -> Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let value = value.with_context(|| format!("`{key}` needs a value, e.g. `{key}=1024`"))?;
    value
        .replace('_', "")
        .parse()
        .with_context(|| format!("invalid number `{value}` for `{key}`"))
}

impl RunArgs {
    /// Interprets every `-S` option; an unknown key is an error, as in wasmtime.
    pub fn wasi_options(&self) -> Result<WasiOptions> {
        let mut o = WasiOptions::default();
        for (key, value) in key_values(&self.wasi) {
            let flag = match key {
                "cli" => &mut o.cli,
                "http" => &mut o.http,
                "inherit-env" => &mut o.inherit_env,
                "inherit-network" => &mut o.inherit_network,
                "tcp" => &mut o.tcp,
                "udp" => &mut o.udp,
                "allow-ip-name-lookup" => &mut o.allow_ip_name_lookup,
                "inherit-stdin" => &mut o.inherit_stdin,
                "inherit-stdout" => &mut o.inherit_stdout,
                "inherit-stderr" => &mut o.inherit_stderr,
                "max-random-size" => {
                    o.max_random_size = Some(parse_num(key, value)?);
                    continue;
                }
                _ => bail!("unknown -S option `{key}` (see `proxyrt run --help`)"),
            };
            *flag = Some(parse_bool(key, value)?);
        }
        Ok(o)
    }

    /// Interprets every `-W` option together with `--fuel` and `--max-memory-size`.
    pub fn wasm_options(&self) -> Result<WasmOptions> {
        let mut o = WasmOptions::default();
        for (key, value) in key_values(&self.wasm) {
            match key {
                "fuel" => o.fuel = Some(parse_num(key, value)?),
                "max-memory-size" => o.max_memory_size = Some(parse_num(key, value)?),
                "unknown-imports-trap" => o.unknown_imports_trap = Some(parse_bool(key, value)?),
                _ => bail!("unknown -W option `{key}` (see `proxyrt run --help`)"),
            }
        }
        o.fuel = self.fuel.or(o.fuel);
        o.max_memory_size = self.max_memory_size.or(o.max_memory_size);
        Ok(o)
    }

    /// The path of the component: the first positional argument.
    pub fn wasm_path(&self) -> Result<PathBuf> {
        self.module_and_args
            .first()
            .map(PathBuf::from)
            .context("no component given")
    }

    /// The guest's `argv`: `argv[0]` is the component's file name (no directory, so that host paths do
    /// not leak into the guest), then the trailing arguments, as `wasmtime run` does. A `--` right after
    /// the component separates proxyrt's arguments from the guest's and is not passed on.
    pub fn guest_argv(&self) -> Result<Vec<String>> {
        let mut args = self.module_and_args.iter();
        let first = args.next().into_iter();
        let rest = args.as_slice();
        let rest = match rest.first() {
            Some(sep) if sep == "--" => &rest[1..],
            _ => rest,
        };
        let mut argv = Vec::with_capacity(self.module_and_args.len());
        for (i, arg) in first.chain(rest).enumerate() {
            let arg = if i == 0 {
                match &self.argv0 {
                    Some(argv0) => OsString::from(argv0),
                    None => std::path::Path::new(arg)
                        .file_name()
                        .map(OsString::from)
                        .unwrap_or_else(|| arg.clone()),
                }
            } else {
                arg.clone()
            };
            let arg = arg
                .into_string()
                .map_err(|a| anyhow::anyhow!("argument {a:?} is not valid UTF-8"))?;
            argv.push(arg);
        }
        Ok(argv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> RunArgs {
        let mut argv = vec!["proxyrt", "run"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).expect("parse").command {
            Command::Run(run) => run,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn wasi_and_wasm_options_parse_like_wasmtime() {
        let run = args(&[
            "-S",
            "http,inherit-env=n",
            "-S",
            "tcp",
            "-W",
            "fuel=10_000",
            "a.wasm",
        ]);
        let wasi = run.wasi_options().unwrap();
        assert_eq!(wasi.http, Some(true));
        assert_eq!(wasi.inherit_env, Some(false));
        assert_eq!(wasi.tcp, Some(true));
        assert_eq!(wasi.udp, None);
        assert_eq!(run.wasm_options().unwrap().fuel, Some(10_000));
    }

    #[test]
    fn unknown_options_are_errors() {
        assert!(args(&["-S", "nope", "a.wasm"]).wasi_options().is_err());
        assert!(args(&["-W", "fuel=x", "a.wasm"]).wasm_options().is_err());
        assert!(args(&["-S", "http=maybe", "a.wasm"])
            .wasi_options()
            .is_err());
    }

    #[test]
    fn argv0_is_the_file_name_and_trailing_args_follow() {
        let run = args(&["--env", "A=1", "dir/app.wasm", "--", "-x", "y", "--"]);
        assert_eq!(run.guest_argv().unwrap(), ["app.wasm", "-x", "y", "--"]);
        assert_eq!(run.vars, [("A".to_string(), Some("1".to_string()))]);
        let run = args(&["--argv0", "me", "app.wasm", "--env", "B"]);
        // Options after the component belong to the guest, as with `wasmtime run`.
        assert_eq!(run.guest_argv().unwrap(), ["me", "--env", "B"]);
    }

    #[test]
    fn replay_takes_a_component_and_a_trace_and_documents_its_exit_codes() {
        match Cli::try_parse_from(["proxyrt", "replay", "-q", "--no-cache", "a.wasm", "t.bin"])
            .expect("parse")
            .command
        {
            Command::Replay(r) => {
                assert!(r.quiet && r.cache.no_cache);
                assert_eq!(
                    (r.wasm.to_str(), r.trace.to_str()),
                    (Some("a.wasm"), Some("t.bin"))
                );
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(Cli::try_parse_from(["proxyrt", "replay", "a.wasm"]).is_err());
        let help = match Cli::try_parse_from(["proxyrt", "replay", "--help"]) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("--help parsed"),
        };
        let code = crate::replay::DIVERGENCE_EXIT_CODE.to_string();
        assert!(
            help.contains(&format!("{code} when the guest diverges")),
            "{help}"
        );
    }

    #[test]
    fn dir_forms() {
        assert_eq!(parse_dir("/a::/b").unwrap(), ("/a".into(), "/b".into()));
        assert_eq!(parse_dir("/a").unwrap(), ("/a".into(), "/a".into()));
        assert!(parse_dir("::/b").is_err());
    }
}

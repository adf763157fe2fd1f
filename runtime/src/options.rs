//! The options several commands share, spelled as `wasmtime run` spells them (`--dir`, `--env`,
//! `--invoke`, `--argv0`, `-S`, `-W`) so that `proxyrt run` is a drop-in replacement: [`RunOptions`]
//! (run, record, and later bench and serve) and [`CacheOptions`] (every command that compiles).
//!
//! This module only parses: it turns the flags into the plain settings the engine
//! ([`WasmOptions`]), the WASI host ([`WasiConfig`]), a live execution ([`LiveConfig`]) and the
//! cache ([`Cache`]) take, so none of those depends on clap.

use crate::cache::Cache;
use crate::engine::WasmOptions;
use crate::hosts::wasi::{WasiConfig, WasiOptions};
use crate::live::LiveConfig;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Options shared by every command that executes a component on the real hosts.
#[derive(Args, Debug, Clone)]
pub struct RunOptions {
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
    pub cache: CacheOptions,
}

/// `app.wasm [--] [ARGS...]`: the component, then the arguments passed to it, the positional part
/// of `run` and `record`.
#[derive(Args, Debug, Clone)]
pub struct ComponentAndArgs {
    /// The component to run, then the arguments passed to it (after `--` if they start with `-`).
    #[arg(value_name = "WASM", trailing_var_arg = true, required = true)]
    pub module_and_args: Vec<OsString>,
}

impl ComponentAndArgs {
    /// The path of the component: the first positional argument.
    pub fn wasm_path(&self) -> Result<PathBuf> {
        self.module_and_args
            .first()
            .map(PathBuf::from)
            .context("no component given")
    }

    /// The guest's arguments: what follows the component, without a `--` right after it (it
    /// separates proxyrt's arguments from the guest's and is not passed on).
    pub fn guest_args(&self) -> &[OsString] {
        let rest = self.module_and_args.get(1..).unwrap_or_default();
        match rest.first() {
            Some(sep) if sep == "--" => &rest[1..],
            _ => rest,
        }
    }
}

/// Where compiled components (and the compositions `record` and `replay` run) are cached.
#[derive(Args, Debug, Clone, Default)]
pub struct CacheOptions {
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

impl RunOptions {
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

    /// The WASI host's settings for these options and the guest's `argv` (see
    /// [`Self::guest_argv`]): the environment resolved against proxyrt's own (`-S inherit-env`,
    /// `--env NAME`), the preopens, the `-S` switches and the memory limit.
    pub fn wasi_config(&self, argv: Vec<String>) -> Result<WasiConfig> {
        let options = self.wasi_options()?;
        let mut env = Vec::new();
        if options.inherit_env == Some(true) {
            for (k, v) in std::env::vars_os() {
                let (Ok(k), Ok(v)) = (k.into_string(), v.into_string()) else {
                    bail!("an inherited environment variable is not valid UTF-8");
                };
                env.push((k, v));
            }
        }
        for (name, value) in &self.vars {
            let value = match value {
                Some(value) => value.clone(),
                None => match std::env::var_os(name) {
                    Some(v) => v
                        .into_string()
                        .map_err(|_| anyhow!("environment variable `{name}` is not valid UTF-8"))?,
                    // Like wasmtime: `--env NAME` of an unset variable leaves it unset in the guest.
                    None => continue,
                },
            };
            env.push((name.clone(), value));
        }
        Ok(WasiConfig {
            argv,
            env,
            dirs: self.dirs.clone(),
            options,
            max_memory_size: self.wasm_options()?.max_memory_size,
        })
    }

    /// The live execution `run` and `record` make of these options, for a guest with `argv`.
    pub fn live_config(&self, argv: Vec<String>) -> Result<LiveConfig<'_>> {
        Ok(LiveConfig {
            wasi: self.wasi_config(argv)?,
            wasm: self.wasm_options()?,
            invoke: self.invoke.as_deref(),
            cache: self.cache.cache(),
        })
    }

    /// The guest's `argv` for `component` run with `args`: `argv[0]` is the component's file name
    /// (no directory, so that host paths do not leak into the guest) unless `--argv0` says
    /// otherwise, then the arguments, as `wasmtime run` does.
    pub fn guest_argv(&self, component: &Path, args: &[OsString]) -> Result<Vec<String>> {
        let argv0 = match &self.argv0 {
            Some(argv0) => OsString::from(argv0),
            None => component
                .file_name()
                .map(OsString::from)
                .unwrap_or_else(|| component.as_os_str().to_os_string()),
        };
        std::iter::once(argv0)
            .chain(args.iter().cloned())
            .map(|arg| {
                arg.into_string()
                    .map_err(|a| anyhow!("argument {a:?} is not valid UTF-8"))
            })
            .collect()
    }
}

impl CacheOptions {
    /// The cache these options select: `--cache-dir`, else the default location; `None` with
    /// `--no-cache` or when there is no default location.
    pub fn cache(&self) -> Option<Cache> {
        if self.no_cache {
            return None;
        }
        self.cache_dir
            .clone()
            .or_else(Cache::default_dir)
            .map(Cache::new)
    }
}

/// Parses a duration (`bench --time`, `fuzz --time`): `3s`, `250ms`, `2m`, `1h`, or a plain
/// number of seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration> {
    let (number, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => s.split_at(at),
        None => (s, "s"),
    };
    let n: f64 = number
        .trim()
        .parse()
        .with_context(|| format!("invalid duration `{s}` (e.g. 3s, 500ms, 1m)"))?;
    let seconds = match unit {
        "ms" => n / 1e3,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => bail!("invalid unit in `{s}`: use ms, s, m or h"),
    };
    std::time::Duration::try_from_secs_f64(seconds)
        .with_context(|| format!("invalid duration `{s}`"))
}

/// Parses a function pattern (`fuzz --fuzz`, `--forward`; see `answers::rules`).
pub fn parse_pattern(text: &str) -> Result<crate::answers::rules::Pattern, String> {
    crate::answers::rules::Pattern::parse(text).map_err(|e| e.to_string())
}

/// Parses a `--fault PATTERN[@RATE][=ERROR]` rule (`fuzz`, `record`).
pub fn parse_fault(text: &str) -> Result<crate::answers::rules::Fault, String> {
    crate::answers::rules::Fault::parse(text).map_err(|e| format!("{e:#}"))
}

/// Parses `--trace-compression` (`record`, `serve --record`): a codec name of
/// `Compression::NAMES`.
pub fn trace_compression(name: &str) -> Result<recorder_host::trace::Compression, String> {
    name.parse()
}

/// Parses `record --layout`: `auto`, `spliced` or `composed` ([`proxy_gen::Layout::name`]).
pub fn parse_layout(name: &str) -> Result<proxy_gen::Layout, String> {
    use proxy_gen::Layout;
    [Layout::Auto, Layout::Spliced, Layout::Composed]
        .into_iter()
        .find(|l| l.name() == name)
        .ok_or_else(|| format!("unknown layout `{name}`: expected `auto`, `spliced` or `composed`"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("3s").unwrap(),
            std::time::Duration::from_secs(3)
        );
        assert_eq!(
            parse_duration("250ms").unwrap(),
            std::time::Duration::from_millis(250)
        );
        assert_eq!(
            parse_duration("2m").unwrap(),
            std::time::Duration::from_secs(120)
        );
        assert_eq!(
            parse_duration("1.5").unwrap(),
            std::time::Duration::from_millis(1500)
        );
        assert!(parse_duration("fast").is_err());
        assert_eq!(
            parse_duration("1h").unwrap(),
            std::time::Duration::from_secs(3600)
        );
        assert!(parse_duration("3d").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    /// A command line of the run options and a component with its arguments, as `run` has.
    #[derive(Parser)]
    struct Line {
        #[command(flatten)]
        run: RunOptions,
        #[command(flatten)]
        component: ComponentAndArgs,
    }

    fn line(extra: &[&str]) -> Line {
        let mut argv = vec!["proxyrt"];
        argv.extend_from_slice(extra);
        Line::try_parse_from(argv).expect("parse")
    }

    fn args(extra: &[&str]) -> RunOptions {
        line(extra).run
    }

    /// The guest's argv of a command line.
    fn argv(extra: &[&str]) -> Vec<String> {
        let l = line(extra);
        let wasm = l.component.wasm_path().unwrap();
        l.run.guest_argv(&wasm, l.component.guest_args()).unwrap()
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
        let extra = ["--env", "A=1", "dir/app.wasm", "--", "-x", "y", "--"];
        assert_eq!(argv(&extra), ["app.wasm", "-x", "y", "--"]);
        assert_eq!(
            args(&extra).vars,
            [("A".to_string(), Some("1".to_string()))]
        );
        // Options after the component belong to the guest, as with `wasmtime run`.
        assert_eq!(
            argv(&["--argv0", "me", "app.wasm", "--env", "B"]),
            ["me", "--env", "B"]
        );
    }

    #[test]
    fn the_wasi_config_resolves_the_environment() {
        let l = line(&[
            "--env",
            "A=1",
            "--env",
            "PROXYRT_TEST_SURELY_UNSET",
            "--dir",
            "/tmp::/t",
            "-W",
            "max-memory-size=65536",
            "app.wasm",
            "x",
        ]);
        let wasm = l.component.wasm_path().unwrap();
        let argv = l.run.guest_argv(&wasm, l.component.guest_args()).unwrap();
        let config = l.run.wasi_config(argv).unwrap();
        assert_eq!(config.argv, ["app.wasm", "x"]);
        // An unset inherited variable stays unset, as in wasmtime.
        assert_eq!(config.env, [("A".to_string(), "1".to_string())]);
        assert_eq!(config.dirs, [("/tmp".to_string(), "/t".to_string())]);
        assert_eq!(config.max_memory_size, Some(65536));
    }

    #[test]
    fn dir_forms() {
        assert_eq!(parse_dir("/a::/b").unwrap(), ("/a".into(), "/b".into()));
        assert_eq!(parse_dir("/a").unwrap(), ("/a".into(), "/a".into()));
        assert!(parse_dir("::/b").is_err());
    }
}

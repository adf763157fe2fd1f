//! `cli`: a WASI 0.2 command that exercises the common WASI features, one step per argument.
//!
//! Usage: `cli STEP...`. The steps run in order; each prints one line (a few print more, said
//! below) on stdout, in a fixed format that tests can assert on. A step that fails (e.g. reading a
//! missing file) prints `<step line>: error: <message>` and the run goes on; only an unknown or
//! malformed step stops the run (message on stderr, exit status 2, which `wasmtime run` reports as
//! status 1 like every non-zero exit).
//!
//! Text arguments are taken verbatim (no escapes). Contents are printed with Rust's `{:?}` string
//! escaping so each output stays on one line; listings are comma separated (no spaces) and sorted.
//!
//! | step | what it does | output |
//! |---|---|---|
//! | `echo:TEXT` | print TEXT | `TEXT` |
//! | `args` | `std::env::args()` | `args=["cli.wasm", "a", "b"]` (`{:?}`) |
//! | `env:NAME` | read one variable | `env NAME=value` or `env NAME unset` |
//! | `env-all` | all variables, sorted by name | `env-all: N vars` then one `env K=V` line each |
//! | `cwd` | `std::env::current_dir()` | `cwd: /` |
//! | `read:PATH` | read a whole file | `read PATH: "content"` |
//! | `write:PATH=TEXT` | create/truncate PATH with TEXT | `write PATH: N bytes` |
//! | `append:PATH=TEXT` | append TEXT (creates PATH) | `append PATH: N bytes` |
//! | `ls:PATH` | list a directory, sorted, directories get a `/` suffix | `ls PATH: a.txt,sub/` |
//! | `planted-ls:PATH` | count a directory's entries; **panics at exactly three** (a bug planted for `proxyrt fuzz`) | `planted-ls PATH: N entries` |
//! | `mkdir:PATH` | create a directory | `mkdir PATH: ok` |
//! | `rm:PATH` | remove a file or an empty directory | `rm PATH: ok` |
//! | `rename:FROM=TO` | rename a file or directory | `rename FROM -> TO: ok` |
//! | `stat:PATH` | metadata | `stat PATH: file N bytes` or `stat PATH: dir` |
//! | `exists:PATH` | `Path::exists` | `exists PATH: true` |
//! | `fill:PATH=N` | write N bytes (`i % 251`) in 64 KiB writes | `fill PATH: N bytes` |
//! | `sum:PATH` | read a file in 64 KiB chunks, FNV-1a 64 | `sum PATH: N bytes fnv=0123456789abcdef` |
//! | `stdin` | read all of stdin | `stdin: N bytes: "content"` |
//! | `lines:N` | print N lines (many small writes) | `line 0` ... `line N-1` |
//! | `clock-wall` | `SystemTime::now()` since the epoch | `clock-wall: SECS.NANOS` (9 digits) |
//! | `clock-mono` | two `Instant::now()`, difference | `clock-mono: +N ns` |
//! | `sleep:MS` | `std::thread::sleep` | `sleep MS ms: ok` (`short` if it woke early) |
//! | `random:N` | `wasi:random/random.get-random-bytes` | `random: HEX` (2N hex digits) |
//! | `insecure-random:N` | `wasi:random/insecure.get-insecure-random-bytes` | `insecure-random: HEX` |
//! | `insecure-seed` | `wasi:random/insecure-seed.insecure-seed` | `insecure-seed: HEX16,HEX16` |
//! | `hashmap` | a std `HashMap` (RandomState seeds from WASI) | `hashmap: 3 entries` |
//! | `isatty` | `IsTerminal` of stdin/stdout/stderr | `isatty: stdin=false stdout=false stderr=false` |
//! | `stderr:TEXT` | write TEXT and a newline to stderr | (on stderr) `TEXT` |
//! | `exit:N` | `std::process::exit(N)` | nothing; see the exit status note below |
//! | `panic` | `panic!("cli: requested panic")` | Rust's panic message on stderr, then a trap |
//! | `trap` | `core::arch::wasm32::unreachable()` | a wasm trap |
//!
//! `args` prints argument 0 as the runtime passes it: `wasmtime run dir/cli.wasm` passes `cli.wasm`.
//!
//! Exit status under `wasmtime run`: `exit:0` and the end of the steps give 0; `exit:N` with N != 0
//! goes through `wasi:cli/exit.exit(err)` and gives 1 (not N); `panic` (message on stderr, then
//! `abort`) and `trap` both end in a wasm `unreachable` trap and give 134 (128 + SIGABRT).

use std::collections::HashMap;
use std::fs;
use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    for step in args.iter().skip(1) {
        if let Err(msg) = run_step(step, &args) {
            let _ = std::io::stdout().flush();
            eprintln!("cli: {msg}");
            std::process::exit(2);
        }
    }
}

/// Runs one step. `Err` only for an unknown or malformed step (usage errors).
pub(crate) fn run_step(step: &str, args: &[String]) -> Result<(), String> {
    let (name, arg) = match step.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (step, None),
    };
    let need = || arg.ok_or_else(|| format!("step `{name}` needs an argument: `{name}:...`"));
    let num = |s: &str| -> Result<u64, String> {
        s.parse::<u64>()
            .map_err(|_| format!("step `{name}`: `{s}` is not a number"))
    };
    let pair = || -> Result<(&str, &str), String> {
        need()?
            .split_once('=')
            .ok_or_else(|| format!("step `{name}` takes `{name}:A=B`"))
    };
    match name {
        "echo" => println!("{}", need()?),
        "args" => println!("args={args:?}"),
        "env" => {
            let var = need()?;
            match std::env::var_os(var) {
                Some(v) => println!("env {var}={}", v.to_string_lossy()),
                None => println!("env {var} unset"),
            }
        }
        "env-all" => {
            let mut vars: Vec<(String, String)> = std::env::vars_os()
                .map(|(k, v)| {
                    (
                        k.to_string_lossy().into_owned(),
                        v.to_string_lossy().into_owned(),
                    )
                })
                .collect();
            vars.sort();
            println!("env-all: {} vars", vars.len());
            for (k, v) in vars {
                println!("env {k}={v}");
            }
        }
        "cwd" => report(
            "cwd",
            std::env::current_dir().map(|p| p.display().to_string()),
        ),
        "read" => {
            let path = need()?;
            report(
                &format!("read {path}"),
                fs::read(path).map(|b| lossy_quoted(&b)),
            );
        }
        "write" => {
            let (path, text) = pair()?;
            report(
                &format!("write {path}"),
                fs::write(path, text).map(|()| format!("{} bytes", text.len())),
            );
        }
        "append" => {
            let (path, text) = pair()?;
            let res = fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(path)
                .and_then(|mut f| f.write_all(text.as_bytes()))
                .map(|()| format!("{} bytes", text.len()));
            report(&format!("append {path}"), res);
        }
        "ls" => {
            let path = need()?;
            let res = fs::read_dir(path).and_then(|rd| {
                let mut names = Vec::new();
                for entry in rd {
                    let entry = entry?;
                    let mut name = entry.file_name().to_string_lossy().into_owned();
                    if entry.file_type()?.is_dir() {
                        name.push('/');
                    }
                    names.push(name);
                }
                names.sort();
                Ok(names.join(","))
            });
            report(&format!("ls {path}"), res);
        }
        "planted-ls" => {
            // A planted bug for `proxyrt fuzz`'s tests: a listing of exactly three entries
            // panics. The tests' directories never hold three: only an unusual host answer
            // gets here.
            let path = need()?;
            let res = fs::read_dir(path).and_then(|rd| {
                rd.map(|e| e.map(|e| e.file_name()))
                    .collect::<Result<Vec<_>, _>>()
            });
            if res.as_ref().is_ok_and(|names| names.len() == 3) {
                panic!("cli: planted bug: exactly three entries in {path}");
            }
            report(
                &format!("planted-ls {path}"),
                res.map(|names| format!("{} entries", names.len())),
            );
        }
        "mkdir" => {
            let path = need()?;
            report(
                &format!("mkdir {path}"),
                fs::create_dir(path).map(|()| "ok".into()),
            );
        }
        "rm" => {
            let path = need()?;
            let res = fs::symlink_metadata(path).and_then(|m| {
                if m.is_dir() {
                    fs::remove_dir(path)
                } else {
                    fs::remove_file(path)
                }
            });
            report(&format!("rm {path}"), res.map(|()| "ok".into()));
        }
        "rename" => {
            let (from, to) = pair()?;
            report(
                &format!("rename {from} -> {to}"),
                fs::rename(from, to).map(|()| "ok".into()),
            );
        }
        "stat" => {
            let path = need()?;
            let res = fs::metadata(path).map(|m| {
                if m.is_dir() {
                    "dir".to_string()
                } else {
                    format!("file {} bytes", m.len())
                }
            });
            report(&format!("stat {path}"), res);
        }
        "exists" => {
            let path = need()?;
            println!("exists {path}: {}", Path::new(path).exists());
        }
        "fill" => {
            let (path, n) = pair()?;
            let n = num(n)?;
            let res = fs::File::create(path).and_then(|mut f| {
                let mut buf = vec![0u8; 64 * 1024];
                let mut written = 0u64;
                while written < n {
                    let len = (n - written).min(buf.len() as u64) as usize;
                    for (i, b) in buf[..len].iter_mut().enumerate() {
                        *b = ((written + i as u64) % 251) as u8;
                    }
                    f.write_all(&buf[..len])?;
                    written += len as u64;
                }
                Ok(format!("{n} bytes"))
            });
            report(&format!("fill {path}"), res);
        }
        "sum" => {
            let path = need()?;
            let res = fs::File::open(path).and_then(|mut f| {
                let mut buf = vec![0u8; 64 * 1024];
                let (mut total, mut hash) = (0u64, FNV_OFFSET);
                loop {
                    let n = f.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    total += n as u64;
                    hash = fnv1a(hash, &buf[..n]);
                }
                Ok(format!("{total} bytes fnv={hash:016x}"))
            });
            report(&format!("sum {path}"), res);
        }
        "stdin" => {
            let mut buf = Vec::new();
            let res = std::io::stdin()
                .read_to_end(&mut buf)
                .map(|n| format!("{n} bytes: {}", lossy_quoted(&buf)));
            report("stdin", res);
        }
        "lines" => {
            let n = num(need()?)?;
            let mut out = std::io::stdout().lock();
            for i in 0..n {
                // One write per line: stdout is line buffered.
                writeln!(out, "line {i}").map_err(|e| format!("lines: {e}"))?;
            }
        }
        "clock-wall" => match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => println!("clock-wall: {}.{:09}", d.as_secs(), d.subsec_nanos()),
            Err(e) => println!("clock-wall: error: {e}"),
        },
        "clock-mono" => {
            let a = Instant::now();
            let b = Instant::now();
            println!("clock-mono: +{} ns", b.duration_since(a).as_nanos());
        }
        "sleep" => {
            let ms = num(need()?)?;
            let start = Instant::now();
            std::thread::sleep(std::time::Duration::from_millis(ms));
            let ok = start.elapsed().as_millis() >= u128::from(ms);
            println!("sleep {ms} ms: {}", if ok { "ok" } else { "short" });
        }
        "random" => {
            let n = num(need()?)?;
            println!(
                "random: {}",
                hex(&wasip2::random::random::get_random_bytes(n))
            );
        }
        "insecure-random" => {
            let n = num(need()?)?;
            let bytes = wasip2::random::insecure::get_insecure_random_bytes(n);
            println!("insecure-random: {}", hex(&bytes));
        }
        "insecure-seed" => {
            let (a, b) = wasip2::random::insecure_seed::insecure_seed();
            println!("insecure-seed: {a:016x},{b:016x}");
        }
        "hashmap" => {
            let map: HashMap<&str, u32> = [("a", 1), ("b", 2), ("c", 3)].into_iter().collect();
            println!("hashmap: {} entries", map.len());
        }
        "isatty" => println!(
            "isatty: stdin={} stdout={} stderr={}",
            std::io::stdin().is_terminal(),
            std::io::stdout().is_terminal(),
            std::io::stderr().is_terminal()
        ),
        "stderr" => eprintln!("{}", need()?),
        "exit" => {
            let code = need()?
                .parse::<i32>()
                .map_err(|_| format!("step `exit`: `{}` is not an i32", arg.unwrap_or("")))?;
            let _ = std::io::stdout().flush();
            std::process::exit(code);
        }
        "panic" => panic!("cli: requested panic"),
        "trap" => {
            let _ = std::io::stdout().flush();
            core::arch::wasm32::unreachable()
        }
        _ => {
            return Err(format!(
                "unknown step `{step}` (see the doc comment of cli/src/main.rs)"
            ))
        }
    }
    Ok(())
}

/// Prints `what: value` or `what: error: message`.
fn report(what: &str, res: std::io::Result<String>) {
    match res {
        Ok(v) => println!("{what}: {v}"),
        Err(e) => println!("{what}: error: {e}"),
    }
}

fn lossy_quoted(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

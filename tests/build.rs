//! Builds the guest components in `guests/` (a separate cargo workspace) for `wasm32-wasip2`,
//! converts the WAT fixtures in `guests/wat/` to binaries, and writes `guests.rs` into OUT_DIR:
//! constants with the absolute paths of the results, `include!`d by src/lib.rs.
//!
//! Why a nested cargo: the guests need another target (wasm32-wasip2) and other dependencies
//! (wit-bindgen, no_std allocator) than the host crates; a separate workspace keeps them out of
//! the root's Cargo.lock and feature resolution. It is built by the `cargo` that runs this script
//! (the `CARGO` env var), so the same toolchain builds host and guests.
//!
//! How it avoids the usual traps of a cargo-in-build.rs:
//! - its own target dir, `<outer target dir>/guests` (or `$PROXYRT_GUESTS_TARGET_DIR`), never the
//!   outer build dir: the outer cargo holds the lock on that one for the whole build, so sharing
//!   it would deadlock. One dir for all outer profiles, so `cargo test` and `cargo build
//!   --release` share the guest build;
//! - the outer build's settings are removed from the environment: rustflags meant for the host
//!   (`-C target-cpu=native` would break wasm), the host `--target`, the target dir, profile
//!   overrides, clippy's `RUSTC_WORKSPACE_WRAPPER`. The jobserver (`CARGO_MAKEFLAGS`) is kept
//!   on purpose so the inner build shares the outer build's job slots on small machines;
//! - `--locked`: the guests' Cargo.lock is committed and must be used as is;
//! - the results are copied into OUT_DIR, so the paths handed to tests stay valid and stable even
//!   if another build rebuilds the shared guest target dir meanwhile.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

/// Guest crates of the workspace and the constant naming each output.
/// (const name, cargo profile, profile dir, artifact file name, output file name, doc)
const GUESTS: &[(&str, &str, &str, &str, &str, &str)] = &[
    (
        "CLI",
        "release",
        "release",
        "cli.wasm",
        "cli.wasm",
        "`cli` (release): a WASI CLI program that runs one step per argument (`echo:hi`, `read:PATH`, `random:16`, `exit:3`, `trap`, ...). Step grammar: tests/guests/README.md.",
    ),
    (
        "CLI_O0",
        "o0",
        "o0",
        "cli.wasm",
        "cli_o0.wasm",
        "`cli` built a second time, unoptimized with debug info (profile `o0`): the same program as [`CLI`] with different code, for replaying one build's trace on the other.",
    ),
    (
        "CLI_V2",
        "o0",
        "o0",
        "cli-v2.wasm",
        "cli_v2.wasm",
        "`cli-v2` (profile `o0`, debug info): the `cli` program rebuilt with an extra line printed after its first step (`src/bin/cli-v2.rs`): a trace of [`CLI`] replays on it and diverges at that write.",
    ),
    (
        "ZOO",
        "release",
        "release",
        "zoo.wasm",
        "zoo.wasm",
        "`zoo`: a no_std component of the custom world `proxyrt:zoo/zoo` (every WIT type kind, the `host` import with resource `blob`, the `api` export with resource `counter`); imports no WASI. WIT: [`ZOO_WIT`].",
    ),
    (
        "ZOO_HOST",
        "release",
        "release",
        "zoo_host.wasm",
        "zoo_host.wasm",
        "`zoo-host`: a no_std component exporting `proxyrt:zoo/host`, the reference behaviour of the zoo's host. Composed with [`ZOO`] its `exercise-host` returns [`ZOO_EXERCISE_HOST_EXPECTED`].",
    ),
    (
        "COMPUTE",
        "release",
        "release",
        "compute.wasm",
        "compute.wasm",
        "`compute`: compute-bound benchmark program (`compute [STEPS] [SIEVE]`), prints checksums, almost no WASI calls.",
    ),
    (
        "COMPUTE_O0",
        "o0",
        "o0",
        "compute.wasm",
        "compute_o0.wasm",
        "`compute` built unoptimized (profile `o0`): the same program as [`COMPUTE`], slower code, for comparing builds with `proxyrt bench`.",
    ),
    (
        "HTTP_CLIENT",
        "release",
        "release",
        "http-client.wasm",
        "http_client.wasm",
        "`http-client`: GETs each `http://HOST:PORT/PATH` argument through `wasi:http/outgoing-handler` (run with `-S http`) and prints `GET URL -> STATUS, N bytes: \"body\"` or `GET URL -> error: ...`.",
    ),
    (
        "HTTP_HANDLER",
        "release",
        "release",
        "http_handler.wasm",
        "http_handler.wasm",
        "`http-handler`: a `wasi:http/proxy` handler (for `proxyrt serve`) that reads the request body, GETs the URL of its `x-upstream` header and responds 200 `{method} {path} body={body} upstream={status}:{upstream body}` (`upstream=none` without the header), or 502 with the error code when the upstream call fails.",
    ),
    (
        "DEMO",
        "release",
        "release",
        "demo.wasm",
        "demo.wasm",
        "`demo`: the README's example program (greets `NAME`, prints time and random bytes, writes `/data/demo.txt` if `/data` is preopened). `examples/demo.wasm` is the same program built with the `example` profile.",
    ),
];

/// Env vars of the outer build that must not reach the inner cargo.
const REMOVED_ENV: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_ENCODED_RUSTDOCFLAGS",
    "RUSTDOCFLAGS",
    "CARGO_BUILD_TARGET",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_BUILD_BUILD_DIR",
    "CARGO_PRIMARY_PACKAGE",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let guests = manifest_dir.join("guests");

    for path in [
        "Cargo.toml",
        "Cargo.lock",
        "cli",
        "zoo",
        "zoo-host",
        "http-client",
        "http-handler",
        "compute",
        "demo",
        "wat",
    ] {
        println!("cargo:rerun-if-changed={}", guests.join(path).display());
    }
    println!("cargo:rerun-if-env-changed=PROXYRT_GUESTS_TARGET_DIR");

    check_target_installed();

    let target_dir = guest_target_dir(&out_dir);
    cargo_build(&guests, &target_dir, &["--release", "--workspace"]);
    cargo_build(
        &guests,
        &target_dir,
        &[
            "--profile",
            "o0",
            "--package",
            "cli",
            "--package",
            "compute",
        ],
    );

    let mut code = String::from(
        "// Generated by tests/build.rs: paths of the guest components and WAT fixtures.\n\n",
    );
    for &(name, _profile, dir, artifact, output, doc) in GUESTS {
        let from = target_dir.join(TARGET).join(dir).join(artifact);
        let to = out_dir.join(output);
        copy_if_changed(&from, &to);
        writeln!(
            code,
            "/// {doc}\npub const {name}: &str = {:?};\n",
            path_str(&to)
        )
        .unwrap();
    }

    // WAT fixtures: `guests/wat/foo-bar.wat` -> `FOO_BAR` (path of the binary) and `foo_bar()`.
    let mut wats: Vec<PathBuf> = fs::read_dir(guests.join("wat"))
        .expect("read tests/guests/wat")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wat"))
        .collect();
    wats.sort();
    let mut fixtures = Vec::new();
    for wat_path in &wats {
        let stem = wat_path.file_stem().unwrap().to_str().unwrap().to_string();
        let binary =
            wat::parse_file(wat_path).unwrap_or_else(|e| panic!("{}: {e}", wat_path.display()));
        let to = out_dir.join(format!("{stem}.wasm"));
        write_if_changed(&to, &binary);
        let konst = stem.replace('-', "_").to_uppercase();
        let func = stem.replace('-', "_");
        let summary = first_comment_line(wat_path);
        writeln!(
            code,
            "/// WAT fixture `tests/guests/wat/{stem}.wat`, as a binary: {summary}\n\
             pub const {konst}: &str = {:?};\n\n\
             /// The bytes of [`{konst}`].\n\
             pub fn {func}() -> Vec<u8> {{\n    std::fs::read({konst}).expect({:?})\n}}\n",
            path_str(&to),
            format!("read {}", to.display()),
        )
        .unwrap();
        fixtures.push(konst);
    }

    writeln!(
        code,
        "/// Every guest component built from source that record and replay both support, as\n\
         /// `(name, path)`.\n\
         pub const ALL_GUESTS: &[(&str, &str)] = &[{}];\n\n\
         /// Every WAT fixture, as `(name, path of the binary)`.\n\
         pub const ALL_FIXTURES: &[(&str, &str)] = &[{}];",
        GUESTS
            .iter()
            .map(|g| format!("({:?}, {})", g.0, g.0))
            .collect::<Vec<_>>()
            .join(", "),
        fixtures
            .iter()
            .map(|f| format!("({f:?}, {f})"))
            .collect::<Vec<_>>()
            .join(", "),
    )
    .unwrap();
    write_if_changed(&out_dir.join("guests.rs"), code.as_bytes());
}

/// Fails early, with the fix, if the standard library for wasm32-wasip2 is not installed.
fn check_target_installed() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
        .unwrap_or_else(|e| panic!("running {rustc:?}: {e}"));
    let libdir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let installed = out.status.success()
        && fs::read_dir(&libdir).is_ok_and(|mut d| {
            d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("libstd-")))
        });
    if !installed {
        panic!(
            "\n\nThe Rust target `{TARGET}` is not installed (no std in `{libdir}`).\n\
             The guest components of proxyrt-test-guests are built for it. Install it with:\n\n    \
             rustup target add {TARGET}\n\n"
        );
    }
}

/// `$PROXYRT_GUESTS_TARGET_DIR`, else `<outer target dir>/guests`: OUT_DIR is
/// `<target dir>[/<triple>]/<profile>/build/<pkg>-<hash>/out`.
fn guest_target_dir(out_dir: &Path) -> PathBuf {
    if let Some(dir) = env::var_os("PROXYRT_GUESTS_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let build = out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .unwrap_or_else(|| panic!("OUT_DIR {} has no `build` ancestor", out_dir.display()));
    build
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("unexpected OUT_DIR layout: {}", out_dir.display()))
        .join("guests")
}

fn cargo_build(guests: &Path, target_dir: &Path, args: &[&str]) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(guests.join("Cargo.toml"))
        .args(["--target", TARGET, "--locked"])
        .args(args)
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(guests);
    for var in REMOVED_ENV {
        cmd.env_remove(var);
    }
    // Profile overrides of the outer build (`CARGO_PROFILE_RELEASE_DEBUG=...`) are not ours.
    for (key, _) in env::vars_os() {
        if key.to_string_lossy().starts_with("CARGO_PROFILE_") {
            cmd.env_remove(key);
        }
    }
    eprintln!("running: {cmd:?}");
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo for the guests: {e}"));
    if !status.success() {
        panic!("building the guest components failed ({status}): {cmd:?}");
    }
}

fn copy_if_changed(from: &Path, to: &Path) {
    let bytes = fs::read(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
    write_if_changed(to, &bytes);
}

/// Leaves the file (and its mtime) alone if the content is the same.
fn write_if_changed(to: &Path, bytes: &[u8]) {
    if fs::read(to).is_ok_and(|old| old == bytes) {
        return;
    }
    fs::write(to, bytes).unwrap_or_else(|e| panic!("write {}: {e}", to.display()));
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("non-UTF-8 path")
}

/// The first `;;` comment line of a WAT file, for the generated doc comment.
fn first_comment_line(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.trim().strip_prefix(";;").map(|s| s.trim().to_string()))
        .unwrap_or_default()
}

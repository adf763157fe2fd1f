//! proxyrt: a record/replay runtime for WebAssembly components, built on wasmtime.
//!
//! The modules, from the bottom up (a module only uses those above it in this list):
//! - [`exit`]: how executions end and the process exit statuses;
//! - [`load`]: reading a component from disk, with clear errors for what is not one;
//! - [`cache`]: the on-disk cache of compiled components and of compositions;
//! - [`engine`]: the wasmtime engine, compiling, finding and calling exports (any store data);
//! - [`hosts`]: the WASI host and the recorder host, each on its own;
//! - [`identity`]: which program a trace belongs to (the header record writes, replay checks);
//! - [`live`]: executing on the real hosts (run, record);
//! - [`replay`]: replay as a library, against any source of host results, with its own host
//!   (the replayer);
//! - [`forward`]: the real hosts answering calls given as encoded values (a replayed guest's
//!   calls that a source hands on);
//! - [`answers`]: host results from the fuzzer, the real host, injected faults or a person,
//!   written as a trace (`fuzz`, `dialog`, `record --fault`);
//! - [`serve`]: the HTTP server of `serve` (a `wasi:http/proxy` component, one store per request,
//!   one trace per request when recording);
//! - [`bench`]: builds compared on one trace (replays timed, fuel, statistics, reports);
//! - [`corpus`]: many traces replayed against one build in parallel, classified, reported
//!   (JUnit, JSON);
//! - [`options`]: the command-line options several commands share;
//! - [`commands`]: one module per command, with its arguments and `execute`.
//!
//! See `ARCHITECTURE.md` at the repository root for the whole picture.

pub mod answers;
pub mod bench;
pub mod cache;
pub mod commands;
pub mod corpus;
pub mod engine;
pub mod exit;
pub mod forward;
pub mod hosts;
pub mod identity;
pub mod live;
pub mod load;
pub mod options;
pub mod replay;
pub mod serve;

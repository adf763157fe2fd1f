//! proxyrt: a record/replay runtime for WebAssembly components, built on wasmtime.
//!
//! This crate is the `proxyrt` binary and its engine: command-line parsing ([`cli`]), loading
//! ([`load`]) and compiling with an on-disk cache ([`cache`]), the real WASI hosts ([`host`]) and the
//! drivers ([`run`], [`invoke`], [`instrument`], [`recorder`], [`replay`]). See `ARCHITECTURE.md` at the repository root for the whole picture.

pub mod cache;
pub mod cli;
pub mod host;
pub mod instrument;
pub mod invoke;
pub mod load;
pub mod recorder;
pub mod replay;
pub mod run;
pub mod trace;

//! proxyrt's integration tests, in one binary (as wasmtime's `tests/all`): each module exercises
//! the `proxyrt` binary (and, where said, its library) on real components built from source in
//! `tests/guests` or by other toolchains (`tests/foreign`). One binary links wasmtime and Cranelift
//! once instead of once per file.

mod common;

mod answers;
mod bench;
mod corpus;
mod divergence;
mod exports;
mod foreign;
mod fuzz;
mod http;
mod instrument;
mod newtypes;
mod preview1;
mod record;
mod replay;
mod run;
mod serve;
mod zoo_roundtrip;

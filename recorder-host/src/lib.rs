//! proxyrt's recorder host side: what a recorded run is made of and how it is read, shared by the
//! runtime (record, replay, `trace show`) and proxy-gen (which takes [`types`] only). It knows
//! nothing of wasmtime or of the wasm-tools crates, so both can use it although they use
//! different versions of those.
//!
//! The modules, each using only those listed before it:
//! - [`types`]: the component model as plain data ([`types::ComponentInfo`], [`types::ValueType`]):
//!   what a component imports and exports with every WIT type, the numbering of intercepted
//!   functions (the ids of traces and of the proxy's stubs), and the interface hash;
//! - [`value`]: the compact value format the proxy writes: [`value::Cursor`] (its one reader),
//!   decoding to WAVE values, encoding any `WasmValue`, converting between value types;
//! - [`functions`]: a component's imports and exports by id, named and typed, and how a call's
//!   encoded arguments and results are shown;
//! - [`batch`]: the records of a record-mode proxy's batch of calls (the recorder interface's
//!   `record-batch`), parsed into the calls the trace gets;
//! - [`trace`]: the trace file: header, CRC-checked frames of entries, streaming reader and writer;
//! - [`http`]: the HTTP traffic a trace's calls of wasi:http make up, for people to read;
//! - [`names`]: handles named by the calls that created them (`stdout`, a path, a URL), for
//!   people to read.
//!
//! The WIT of the interfaces the proxy imports (`proxyrt:recorder/recorder`, `.../replayer`) lives
//! in `wit/recorder.wit`.

pub mod batch;
pub mod functions;
pub mod http;
pub mod names;
pub mod trace;
pub mod types;
pub mod value;

#[cfg(test)]
mod test_info;

//! proxy-gen: synthesizes the record/replay proxy of a WebAssembly component and composes it with
//! the component, in-process, with no toolchain (wasm-tools crates 0.258 + wac-graph 0.12).
//!
//! - [`analyze`] checks the input and returns the [`ComponentInfo`] "intercept table".
//! - [`instrument`] returns the composed component for a [`Mode`].
//!
//! This crate deliberately has no wasmtime dependency: it produces bytes and plain data only.
//! See `DESIGN.md` next to this crate for how recording will encode values.

#![warn(missing_docs)]

pub mod abi;
pub mod analyze;
mod compose;
mod coremod;
pub mod error;
mod shim;
mod synth;
mod typeenc;

pub use analyze::{
    analyze, decode, validate, ComponentInfo, Decoded, FuncKind, FunctionInfo, InterceptedFunction,
    InterfaceInfo, NamedType, ResourceRef, ValueType,
};
pub use error::{Error, Result};

/// What the instrumented component does with the calls crossing the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward every import call to the real host (increment 1: pass-through, nothing reported yet).
    Record,
    /// Answer import calls from a trace (not implemented yet).
    Replay,
}

/// Instruments `component` for `mode` and returns the composed component.
///
/// The result has the original's imports and exports: same names, same types (wac-graph may
/// flatten some WIT type aliases when it re-encodes the imports; see DESIGN.md). A component
/// with **no imports** is returned unchanged (byte for byte): there is nothing to intercept, so
/// the composition is the identity. Bad input (non-wasm bytes, a core module, a malformed component) is an error, never
/// a panic.
pub fn instrument(component: &[u8], mode: Mode) -> Result<Vec<u8>> {
    let decoded = decode(component)?;
    match mode {
        Mode::Record => {}
        Mode::Replay => return Err(Error::NotImplemented("replay mode")),
    }
    if decoded.resolve.worlds[decoded.world].imports.is_empty() {
        return Ok(component.to_vec());
    }
    let proxy = no_panic(|| record_proxy_of(&decoded))?;
    no_panic(|| compose::compose(&proxy, component).map_err(Error::Internal)).map_err(|e| {
        // The composition is validated as a whole, guest code included, while decoding the input
        // only checked its structure: if the input's own code is invalid, say so, not "our bug".
        match analyze::validate(component) {
            Err(bad_input) => bad_input,
            Ok(()) => e,
        }
    })
}

/// Runs `f`, turning a panic inside a dependency (wit-parser and wac-graph have `assert!`s that
/// unusual but valid input can reach) into [`Error::Internal`]: bad input must never take the
/// caller down.
fn no_panic<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let msg = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(Error::Internal(anyhow::anyhow!(
            "a dependency panicked: {msg}"
        )))
    })
}

/// The record-mode proxy alone (not composed), for inspection and debugging
/// (`wasm-tools print`, `wasm-tools component wit`).
pub fn record_proxy(component: &[u8]) -> Result<Vec<u8>> {
    let decoded = decode(component)?;
    no_panic(|| record_proxy_of(&decoded))
}

fn record_proxy_of(decoded: &Decoded) -> Result<Vec<u8>> {
    synth::record_proxy(decoded).map_err(Error::from_generator)
}

//! Where in the guest a divergence happened: its wasm backtrace as [`Frame`]s, captured only when
//! a divergence is found (a replay that follows the trace never pays for it).
//!
//! wasmtime walks the frames (frame pointers) and names each function from the component's DWARF
//! when the replayer's engine keeps it ([`crate::engine::WasmOptions::backtrace_details`]), else
//! from its name section. The replay proxy's frames, the innermost ones (the stub that called the
//! replayer host and the shims between it and the guest, which have no names), are left out:
//! they are proxyrt's, not the guest's.

use super::divergence::Frame;
use std::fmt::Write as _;
use wasmtime::{AsContext, Module, WasmBacktrace};

/// The guest's frames at this moment, innermost first: the store is in a call of the replayer
/// host, made by the replay proxy's stub.
pub fn capture(store: impl AsContext) -> Vec<Frame> {
    frames(&WasmBacktrace::capture(store), true)
}

/// The frames of `backtrace`, innermost first; `in_host_call`: the innermost frame is the replay
/// proxy's stub, whose module's frames are left out. A frame with inlined functions in its DWARF
/// gives one [`Frame`] per function, the inlined ones first.
pub fn frames(backtrace: &WasmBacktrace, in_host_call: bool) -> Vec<Frame> {
    let all = backtrace.frames();
    let stub = all
        .first()
        .filter(|_| in_host_call)
        .map(|f| f.module().clone());
    let mut out = Vec::new();
    // The proxy's code between the guest and the stub (its shims) has no names: the guest's
    // innermost frame is the first named one.
    let mut proxy = in_host_call;
    for frame in all {
        if stub
            .as_ref()
            .is_some_and(|m| Module::same(m, frame.module()))
        {
            continue;
        }
        proxy &= frame.func_name().is_none() && frame.symbols().is_empty();
        if proxy {
            continue;
        }
        let symbols = frame.symbols();
        if symbols.is_empty() {
            let function = match frame.func_name() {
                Some(name) => demangle(name),
                None => format!("<wasm function {}>", frame.func_index()),
            };
            out.push(Frame {
                function,
                ..Frame::default()
            });
            continue;
        }
        for (i, symbol) in symbols.iter().enumerate() {
            let function = match (symbol.name(), frame.func_name()) {
                (Some(name), _) => demangle(name),
                (None, Some(name)) if i == symbols.len() - 1 => demangle(name),
                _ => "<inlined function>".to_string(),
            };
            out.push(Frame {
                function,
                file: symbol.file().map(str::to_string),
                line: symbol.line(),
                column: symbol.column(),
            });
        }
    }
    out
}

/// A Rust symbol without its hash (`cli::main`), else the name as it is.
fn demangle(name: &str) -> String {
    match rustc_demangle::try_demangle(name) {
        Ok(d) => {
            let mut s = String::new();
            let _ = write!(s, "{d:#}");
            s
        }
        Err(_) => name.to_string(),
    }
}

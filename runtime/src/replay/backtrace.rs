//! Where in the guest a divergence happened: its wasm backtrace as [`Frame`]s, captured only when
//! a divergence is found (a replay that follows the trace never pays for it).
//!
//! wasmtime walks the frames (frame pointers) and names each function from the component's DWARF
//! when the replayer's engine keeps it ([`crate::engine::WasmOptions::backtrace_details`]), else
//! from its name section. proxyrt's frames, the innermost ones, are left out: the stub that
//! called the replayer host (the proxy's, or one spliced inside the guest's own module) and the
//! shims between the proxy and the guest, which have no name or source line: the guest's
//! innermost frame is the first frame after the stub that has one.

use super::divergence::Frame;
use std::fmt::Write as _;
use wasmtime::{AsContext, WasmBacktrace};

/// The guest's frames at this moment, innermost first: the store is in a call of the replayer
/// host, made by the replay proxy's stub.
pub fn capture(store: impl AsContext) -> Vec<Frame> {
    frames(&WasmBacktrace::capture(store), true)
}

/// The frames of `backtrace`, innermost first; `in_host_call`: the innermost frames are
/// proxyrt's (a stub, and the composed proxy's shims), which are left out. A frame with inlined
/// functions in its DWARF gives one [`Frame`] per function, the inlined ones first.
pub fn frames(backtrace: &WasmBacktrace, in_host_call: bool) -> Vec<Frame> {
    let all = backtrace.frames();
    let mut out = Vec::new();
    let mut proxy = in_host_call;
    // The innermost frame is the stub, even when it lies in the guest's module (spliced), whose
    // name section names it after the import it stands for; the composed proxy's shims after it
    // have no name.
    let skip = usize::from(in_host_call);
    for frame in all.iter().skip(skip) {
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
                file: symbol.file().map(tidy_path),
                line: symbol.line(),
                column: symbol.column(),
            });
        }
    }
    out
}

/// A DWARF file path as people read it. addr2line joins a unit's directory and file name, which
/// gives `wasisdk://v30.0/build/...-build/wasisdk://v30.0/src/wasi-libc/...` when the file name
/// is itself a URL (the WASI SDK's remapped paths): the last URL is the file's.
fn tidy_path(path: &str) -> String {
    let last_url = path
        .match_indices("://")
        .filter_map(|(at, _)| {
            let scheme_start = path[..at]
                .rfind(|c: char| !c.is_ascii_alphanumeric())
                .map_or(0, |i| i + 1);
            (scheme_start < at).then_some(scheme_start)
        })
        .last();
    match last_url {
        Some(start) if start > 0 => path[start..].to_string(),
        _ => path.to_string(),
    }
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

#[cfg(test)]
mod tests {
    use super::tidy_path;

    #[test]
    fn paths_keep_their_last_url() {
        assert_eq!(
            tidy_path("wasisdk://v30.0/build/x-build/wasisdk://v30.0/src/wasi-libc/write.c"),
            "wasisdk://v30.0/src/wasi-libc/write.c"
        );
        assert_eq!(
            tidy_path("wasisdk://v30.0/src/a.c"),
            "wasisdk://v30.0/src/a.c"
        );
        assert_eq!(tidy_path("/work/app/src/main.rs"), "/work/app/src/main.rs");
        assert_eq!(tidy_path("/a/://b"), "/a/://b");
    }
}

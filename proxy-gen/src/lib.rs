//! proxy-gen: synthesizes the record/replay proxy of a WebAssembly component and composes it with
//! the component, in-process, with no toolchain (wasm-tools crates 0.258 + wac-graph 0.12).
//!
//! - [`analyze`] checks the input and returns the [`ComponentInfo`] "intercept table".
//! - [`adapt_command`] makes a WASI preview-1 command module a component (with the adapter the
//!   caller brings);
//! - [`instrument`] returns the instrumented component for a [`Mode`]: composed with its proxy, or
//!   in record mode by default the component itself with recording stubs spliced inside its core
//!   modules ([`splice::splice_record`], [`Layout`]); [`instrument_embedded`] the replay
//!   composition with the recorded calls built in; [`proxy`] the proxy alone.
//! - [`splice::splice_passthrough`] puts a pass-through stub inside each of a component's core
//!   modules, between its code and every function it imports (the floor's measurement).
//!
//! Inside, every instrumentation is plan, then emit: the component is decoded, a plain-data plan
//! makes every decision (func-ids, calls reported before forwarding, wrapped or pass-through
//! handles, what each import becomes), the proxy is emitted from it and composed under the
//! component. `DESIGN.md` has the module map.
//!
//! This crate deliberately has no wasmtime dependency: it produces bytes and plain data only.
//! See `DESIGN.md` next to this crate for the proxy layout, the recorder interface, the func-id
//! rule and the (frozen) wire format of recorded values.

#![warn(missing_docs)]

mod abi;
mod adapt;
mod analyze;
mod compose;
mod coremod;
mod decode;
mod embed;
mod encode;
pub mod error;
mod export_proxy;
mod mode;
mod plan;
mod shim;
pub mod splice;
mod synth;
mod typeenc;
mod walk;
mod wasmcode;

pub use adapt::adapt_command;
pub use analyze::{
    analyze, decode, validate, ComponentInfo, Decoded, ExportHandle, FuncKind, FunctionInfo,
    InterceptedFunction, InterfaceInfo, NamedType, ResourceDrop, ResourceRef, ValueType,
};
pub use embed::{Effect, EmbedIo, RecordedCall, StdStream, STDIO_IMPORTS};
pub use error::{Error, Result};
pub use mode::{Mode, RECORDER_INTERFACE, REPLAYER_INTERFACE};

/// Instruments `component` for `mode` and returns the result: the composition with its proxy, or
/// in record mode, when the component allows it, the component with recording stubs spliced
/// inside ([`Layout::Auto`]).
///
/// The result has the original's exports and the original's imports (same names, same types;
/// wac-graph may flatten some WIT type aliases when it re-encodes the imports, see DESIGN.md),
/// plus [`RECORDER_INTERFACE`] in [`Mode::Record`]. A component with **no imports** is returned
/// unchanged (byte for byte) in every mode: there is no call to intercept or record, so the
/// composition is the identity (and needs no recorder). Bad input (non-wasm bytes, a core
/// module, a malformed component) is an error, never a panic.
pub fn instrument(component: &[u8], mode: Mode) -> Result<Vec<u8>> {
    instrument_decoded(&decode(component)?, component, mode)
}

/// [`instrument`] for a component already decoded with [`decode`], so that a caller that also needs
/// its [`ComponentInfo`] (`Decoded::info`) decodes it once. Record mode uses [`Layout::Auto`];
/// replay mode is composed (a result that imports nothing but the replayer, which another
/// runtime can plug: [`instrument_with_layout`] splices it on request).
pub fn instrument_decoded(decoded: &Decoded, component: &[u8], mode: Mode) -> Result<Vec<u8>> {
    instrument_with_layout(decoded, component, mode, Layout::default_for(mode))
}

/// How [`Mode::Record`] and [`Mode::Replay`] instrument a component (forward mode is always
/// composed: it is the composition's baseline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// Spliced when the component allows it, else composed (the default).
    #[default]
    Auto,
    /// Recording or replaying stubs spliced inside the component's own core modules
    /// ([`splice::splice_record`], [`splice::splice_replay`]): no second component, so no fused
    /// adapter on the call path. A component that does not allow it is an error
    /// ([`Error::Unsupported`], with the reason). A spliced replay keeps the original's imports,
    /// which it never calls (the runtime defines them as traps), plus the replayer.
    Spliced,
    /// The proxy component composed above the original (every component allows it).
    Composed,
}

impl Layout {
    /// The layout `mode` gets unless told otherwise: record mode splices when it can
    /// ([`Layout::Auto`]); replay mode composes, so that the result imports nothing but the
    /// replayer (which another runtime can plug); forward mode always composes.
    pub fn default_for(mode: Mode) -> Layout {
        match mode {
            Mode::Record => Layout::Auto,
            _ => Layout::Composed,
        }
    }

    /// The layout's name, as `proxyrt record --layout` spells it and cache keys use it.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Auto => "auto",
            Layout::Spliced => "spliced",
            Layout::Composed => "composed",
        }
    }
}

/// [`instrument_decoded`] with record or replay mode's [`Layout`] chosen (ignored by forward).
pub fn instrument_with_layout(
    decoded: &Decoded,
    component: &[u8],
    mode: Mode,
    layout: Layout,
) -> Result<Vec<u8>> {
    if decoded.imports_nothing() {
        return Ok(component.to_vec());
    }
    let splice = match mode {
        Mode::Record => splice::splice_record,
        Mode::Replay => splice::splice_replay,
        _ => return compose_decoded(decoded, component, mode),
    };
    let (verb, flag) = match mode {
        Mode::Record => ("recording", "record"),
        _ => ("replaying", "replay"),
    };
    if layout != Layout::Composed {
        // What the proxy cannot take is refused in every layout, although spliced stubs could
        // take some of it: a trace recorded by either is replayed by either.
        no_panic(|| plan::Plan::new(decoded, mode).map_err(Error::from_generator))?;
        // A bug of ours while splicing is reported (with the way around it), not hidden by
        // composing instead: the fuzz targets and the tests must see it.
        let spliced = match no_panic(|| splice(decoded, component)) {
            Ok(spliced) => spliced,
            // Input the stubs cannot take: `auto` composes (the proxy may take it, or says why not).
            Err(Error::Unsupported(why)) if layout == Layout::Auto => {
                Err(splice::origin::Refused(why))
            }
            Err(Error::Internal(e)) => {
                return Err(Error::Internal(e.context(format!(
                    "while splicing {verb} stubs inside the component (`{flag} --layout \
                     composed` does without them)"
                ))))
            }
            Err(other) => return Err(other),
        };
        match spliced {
            Ok(spliced) => return Ok(spliced),
            Err(refused) if layout == Layout::Spliced => {
                return Err(Error::Unsupported(format!(
                    "cannot splice {verb} stubs inside this component: {refused} ({flag} it \
                     with `--layout composed`)"
                )))
            }
            // Refused: the composed proxy takes it (or says why it cannot either).
            Err(_) => {}
        }
    }
    compose_decoded(decoded, component, mode)
}

/// [`instrument_decoded`] always as a composition: the proxy component above the original (what
/// record mode falls back to when its stubs cannot be spliced inside; kept for comparison).
pub fn compose_decoded(decoded: &Decoded, component: &[u8], mode: Mode) -> Result<Vec<u8>> {
    if decoded.imports_nothing() {
        return Ok(component.to_vec());
    }
    let (proxy, exports) = no_panic(|| proxies_of(decoded, mode))?;
    no_panic(|| compose::compose(&proxy, component, exports.as_ref()).map_err(Error::Internal))
        .map_err(|e| {
            // The composition is validated as a whole, guest code included, while decoding the input
            // only checked its structure: if the input's own code is invalid, say so, not "our bug".
            match analyze::validate(component) {
                Err(bad_input) => bad_input,
                Ok(()) => e,
            }
        })
}

/// [`Mode::Replay`] with the trace embedded: the replay composition of `component` plugged with
/// a replayer component that answers from `calls` (the recorded import calls in order). With
/// [`EmbedIo::None`] the result imports nothing but the types-only interfaces the original
/// imports (they need no definition), so it replays in any component runtime; a divergence traps
/// (`unreachable`). With [`EmbedIo::Stdio`] it also imports [`STDIO_IMPORTS`] and redoes each
/// call's [`Effect`]: it prints the recorded output and exits with the recorded status.
pub fn instrument_embedded(
    decoded: &Decoded,
    component: &[u8],
    calls: &[RecordedCall],
    io: EmbedIo,
) -> Result<Vec<u8>> {
    let composed = instrument_decoded(decoded, component, Mode::Replay)?;
    if decoded.imports_nothing() {
        // Nothing was intercepted: there is nothing to replay either.
        return Ok(composed);
    }
    no_panic(|| {
        let replayer = embed::replayer(calls, io).map_err(Error::Internal)?;
        embed::plug(&composed, &replayer).map_err(Error::Internal)
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

/// The proxy alone (not composed) for `mode`, for inspection and debugging (`wasm-tools print`;
/// note that wit-parser cannot decode a proxy alone, see DESIGN.md).
pub fn proxy(component: &[u8], mode: Mode) -> Result<Vec<u8>> {
    let decoded = decode(component)?;
    no_panic(|| proxy_of(&decoded, mode))
}

fn proxy_of(decoded: &Decoded, mode: Mode) -> Result<Vec<u8>> {
    Ok(proxies_of(decoded, mode)?.0)
}

/// The proxy and, if the guest has exports that are given host handles, the export proxy.
fn proxies_of(
    decoded: &Decoded,
    mode: Mode,
) -> Result<(Vec<u8>, Option<export_proxy::ExportProxy>)> {
    // Decide everything first (unsupported input is reported here), then emit.
    let plan = plan::Plan::new(decoded, mode).map_err(Error::from_generator)?;
    let proxy = synth::proxy(decoded, &plan).map_err(Error::from_generator)?;
    let exports = export_proxy::build(decoded, &plan).map_err(Error::from_generator)?;
    Ok((proxy, exports))
}

//! proxy-gen on generated worlds: a random WIT package from `wit-smith` (the wasm-tools release
//! proxy-gen uses), each of its worlds made a component the way a toolchain's output looks
//! (wit-component's dummy core module, with the world's canonical-ABI imports and exports), then
//! instrumented in every mode. Each instrumentation either succeeds, with a composition that
//! validates and has the original's exports, or refuses the input as unsupported; an internal
//! error or a panic is a finding.

use arbitrary::Unstructured;
use proxy_gen::{ComponentInfo, Error, Mode};
use std::collections::BTreeMap;
use wasmparser::{Validator, WasmFeatures};
use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::{LiftLowerAbi, ManglingAndAbi, Resolve};

/// Worlds instrumented per input at most (a package can hold many).
const MAX_WORLDS: usize = 4;

/// The target: `data` drives wit-smith's configuration and generator.
pub fn generated_world(data: &[u8]) {
    for component in components(data) {
        check(&component);
    }
}

/// The components of the worlds of the package `data` generates (none if `data` is too short or
/// wit-smith turns it down).
pub fn components(data: &[u8]) -> Vec<Vec<u8>> {
    package(data).map_or_else(Vec::new, |(resolve, package)| {
        resolve
            .worlds
            .iter()
            .filter(|(_, w)| w.package == Some(package))
            .take(MAX_WORLDS)
            .filter_map(|(world, _)| component_of(&resolve, world))
            .collect()
    })
}

/// The WIT package `data` generates, with its dependencies (`None` if `data` is too short or
/// wit-smith turns it down).
pub fn package(data: &[u8]) -> Option<(Resolve, wit_parser::PackageId)> {
    let mut u = Unstructured::new(data);
    let config = config(&mut u).ok()?;
    let wasm = wit_smith::smith(&config, &mut u).ok()?;
    match wit_component::decode(&wasm) {
        Ok(wit_component::DecodedWasm::WitPackage(resolve, package)) => Some((resolve, package)),
        Ok(_) => panic!("wit-smith made a component, not a WIT package"),
        Err(e) => panic!("wit-smith's package does not decode: {e:#}"),
    }
}

/// wit-smith's configuration, arbitrary but for what no wasm32-wasip2 toolchain emits for a
/// synchronous component: async functions, futures, streams and error contexts are generated
/// one time in eight (proxy-gen must refuse them clearly), so that most inputs reach synthesis.
fn config(u: &mut Unstructured<'_>) -> arbitrary::Result<wit_smith::Config> {
    let mut config: wit_smith::Config = u.arbitrary()?;
    if !u.ratio(1, 8)? {
        config.async_ = false;
        config.futures = false;
        config.streams = false;
        config.error_context = false;
    }
    Ok(config)
}

/// `world` as a component, or `None` where wit-component cannot make one (a world whose
/// component wit-component itself rejects is not proxy-gen's input).
fn component_of(resolve: &Resolve, world: wit_parser::WorldId) -> Option<Vec<u8>> {
    let mut module =
        wit_component::dummy_module(resolve, world, ManglingAndAbi::Legacy(LiftLowerAbi::Sync));
    wit_component::embed_component_metadata(&mut module, resolve, world, StringEncoding::UTF8)
        .ok()?;
    ComponentEncoder::default()
        .module(&module)
        .ok()?
        .validate(true)
        .encode()
        .ok()
}

/// Instruments `component` in every mode and checks each outcome.
pub fn check(component: &[u8]) {
    let decoded = match proxy_gen::decode(component) {
        Ok(decoded) => decoded,
        Err(Error::Unsupported(_)) => return,
        Err(e) => panic!("a valid component does not decode: {e}"),
    };
    let info = decoded.info();
    for mode in [Mode::Forward, Mode::Record, Mode::Replay] {
        match proxy_gen::instrument_decoded(&decoded, component, mode) {
            Ok(composed) => {
                if let Err(e) =
                    Validator::new_with_features(WasmFeatures::all()).validate_all(&composed)
                {
                    panic!("the {} composition does not validate: {e}", mode.name());
                }
                let composed_info = match proxy_gen::decode(&composed) {
                    Ok(d) => d.info(),
                    Err(e) => panic!("the {} composition does not decode: {e}", mode.name()),
                };
                let expected = exports(&info, mode == Mode::Replay);
                assert_eq!(
                    exports(&composed_info, false),
                    expected,
                    "the {} composition's exports differ from the original's",
                    mode.name()
                );
            }
            Err(Error::Unsupported(_)) => {}
            Err(e) => panic!("{} instrumentation failed: {e}", mode.name()),
        }
    }
}

/// The exports of `info` by name: each function's name, parameter count and whether it has a
/// result (types are compared by the validator, which checks the composition's export types
/// against its own definitions; named types may be renamed by composition, see proxy-gen's
/// DESIGN.md). With `without_host_handles`, parameters that are handles the host creates are
/// left out, as a replay composition leaves them out.
fn exports(info: &ComponentInfo, without_host_handles: bool) -> BTreeMap<String, Vec<String>> {
    let shape = |f: &proxy_gen::FunctionInfo| {
        let params = f
            .params
            .iter()
            .filter(|(_, t)| !(without_host_handles && info.is_host_handle(t)))
            .count();
        format!(
            "{}({params}){}",
            f.name,
            if f.result.is_some() { " -> _" } else { "" }
        )
    };
    let mut out = BTreeMap::new();
    for i in &info.exported_interfaces {
        out.insert(i.name.clone(), i.functions.iter().map(shape).collect());
    }
    for f in &info.exported_functions {
        out.insert(f.name.clone(), vec![shape(f)]);
    }
    for t in &info.exported_types {
        out.insert(t.name.clone(), Vec::new());
    }
    out
}

//! Test helpers: build guests, validate, and compare worlds.
#![allow(dead_code)]

use std::collections::BTreeMap;

use proxy_gen::{FunctionInfo, ValueType};
use wasmparser::{Validator, WasmFeatures};
use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::{LiftLowerAbi, ManglingAndAbi, Resolve};

/// A guest component for world `world` of the last of `packages` (WIT sources, dependencies
/// first): a core module with exactly the canonical-ABI imports and exports of the world (bodies
/// `unreachable`), encoded by wit-component the way any toolchain's output is.
pub fn guest_from_wit(packages: &[&str], world: &str) -> Vec<u8> {
    let mut resolve = Resolve::default();
    let mut last = None;
    for (i, src) in packages.iter().enumerate() {
        last = Some(
            resolve
                .push_str(format!("pkg{i}.wit"), src)
                .expect("test WIT parses"),
        );
    }
    let pkg = last.expect("at least one package");
    let world = resolve
        .select_world(&[pkg], Some(world))
        .expect("world exists");
    let mut module =
        wit_component::dummy_module(&resolve, world, ManglingAndAbi::Legacy(LiftLowerAbi::Sync));
    wit_component::embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8)
        .expect("embed metadata");
    ComponentEncoder::default()
        .module(&module)
        .expect("module accepted")
        .validate(true)
        .encode()
        .expect("guest encodes")
}

/// Validates with every feature wasmparser knows, panicking with the validator's message.
pub fn validate(bytes: &[u8]) {
    if let Err(e) = Validator::new_with_features(WasmFeatures::all()).validate_all(bytes) {
        panic!("composed component does not validate: {e}");
    }
}

/// Imports and exports of a component, keyed by import/export name, with fully resolved types
/// (aliases followed), so that two components can be compared with `assert_eq!` and a readable
/// diff.
///
/// In exports, the names of non-resource named types (records, variants, enums, flags) are
/// erased: when a guest export `use`s an imported type through `use x.{t as u}`, the composition
/// decodes with a fresh `u` instead of a `use` of `t` (wasmparser renames types through an
/// instantiation to the argument's `created` id, which for a shim export aliases the shim's own
/// definition; see `synth.rs`, `Export::Passthrough`). The types are structurally identical,
/// which is what the component model (and wasmtime) checks; resources keep their identity.
pub fn world_items(bytes: &[u8]) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let decoded = proxy_gen::decode(bytes).expect("decodes");
    let info = decoded.info();
    let mut imports = BTreeMap::new();
    let mut exports = BTreeMap::new();
    for i in &info.imported_interfaces {
        imports.insert(
            i.name.clone(),
            format!("{:?} {:?}", i.resources, i.functions),
        );
    }
    for f in &info.imported_functions {
        imports.insert(f.name.clone(), format!("{f:?}"));
    }
    for t in &info.imported_types {
        imports.insert(t.name.clone(), format!("{:?}", t.ty));
    }
    let erase = |f: &FunctionInfo| {
        let mut f = f.clone();
        f.params.iter_mut().for_each(|(_, t)| erase_names(t));
        f.result.iter_mut().for_each(erase_names);
        f
    };
    for i in &info.exported_interfaces {
        let funcs: Vec<_> = i.functions.iter().map(erase).collect();
        exports.insert(i.name.clone(), format!("{:?} {:?}", i.resources, funcs));
    }
    for f in &info.exported_functions {
        exports.insert(f.name.clone(), format!("{:?}", erase(f)));
    }
    for t in &info.exported_types {
        let mut ty = t.ty.clone();
        erase_names(&mut ty);
        exports.insert(t.name.clone(), format!("{ty:?}"));
    }
    (imports, exports)
}

/// The exports a replay composition of `guest` has ([`world_items`]' rendering): the guest's,
/// except that functions lose their parameters that are handles the host creates
/// (`ComponentInfo::is_host_handle`), which replay gets from the trace instead.
pub fn replay_exports(guest: &[u8]) -> BTreeMap<String, String> {
    let decoded = proxy_gen::decode(guest).expect("decodes");
    let mut info = decoded.info();
    let filtered = info.clone();
    for i in &mut info.exported_interfaces {
        for f in &mut i.functions {
            f.params.retain(|(_, t)| !filtered.is_host_handle(t));
        }
    }
    let mut exports = BTreeMap::new();
    for i in &info.exported_interfaces {
        let funcs: Vec<_> = i
            .functions
            .iter()
            .map(|f| {
                let mut f = f.clone();
                f.params.iter_mut().for_each(|(_, t)| erase_names(t));
                f.result.iter_mut().for_each(erase_names);
                f
            })
            .collect();
        exports.insert(i.name.clone(), format!("{:?} {:?}", i.resources, funcs));
    }
    let (_, all) = world_items(guest);
    for (name, item) in all {
        exports.entry(name).or_insert(item);
    }
    exports
}

/// Clears the names of non-resource named types (see [`world_items`]).
pub fn erase_names(ty: &mut ValueType) {
    match ty {
        ValueType::Record { name, fields } => {
            *name = None;
            fields.iter_mut().for_each(|(_, t)| erase_names(t));
        }
        ValueType::Variant { name, cases } => {
            *name = None;
            cases
                .iter_mut()
                .flat_map(|(_, t)| t.as_mut())
                .for_each(erase_names);
        }
        ValueType::Enum { name, .. } | ValueType::Flags { name, .. } => *name = None,
        ValueType::List(t) | ValueType::Option(t) | ValueType::FixedLengthList(t, _) => {
            erase_names(t)
        }
        ValueType::Map(k, v) => {
            erase_names(k);
            erase_names(v);
        }
        ValueType::Result { ok, err } => ok
            .iter_mut()
            .chain(err.iter_mut())
            .for_each(|t| erase_names(t)),
        ValueType::Tuple(ts) => ts.iter_mut().for_each(erase_names),
        ValueType::Future(t) | ValueType::Stream(t) => t.iter_mut().for_each(|t| erase_names(t)),
        _ => {}
    }
}

/// The two compositions of a guest, both checked by [`instrument_and_check`].
pub struct Composed {
    /// [`proxy_gen::Mode::Forward`]: exactly the guest's imports and exports.
    pub forward: Vec<u8>,
    /// [`proxy_gen::Mode::Record`]: the guest's imports plus the recorder, the guest's exports.
    pub record: Vec<u8>,
    /// [`proxy_gen::Mode::Replay`]: only the replayer (and types-only interfaces), the guest's
    /// exports. `None` where proxy-gen reports replay as not supported yet (a guest whose exports
    /// use an imported resource, or that imports a resource at world level).
    pub replay: Option<Vec<u8>>,
}

/// Instruments `guest` in forward and in record mode and checks both compositions: they
/// validate; forward has exactly the guest's imports, record the guest's imports plus
/// [`proxy_gen::RECORDER_INTERFACE`] with exactly `call`/`ret`/`record`; both have the guest's exports
/// (names and full function types).
pub fn instrument_and_check(guest: &[u8]) -> Composed {
    validate(guest);
    let (gi, ge) = world_items(guest);
    let compose = |mode: proxy_gen::Mode| match proxy_gen::instrument(guest, mode) {
        Ok(c) => c,
        Err(e) => {
            if let Ok(proxy) = proxy_gen::proxy(guest, mode) {
                let _ = std::fs::write("/tmp/proxy-gen-failed-proxy.wasm", proxy);
            }
            panic!("instrument ({mode:?}) failed: {e}");
        }
    };
    let forward = compose(proxy_gen::Mode::Forward);
    validate(&forward);
    let (fi, fe) = world_items(&forward);
    assert_eq!(gi, fi, "forward: imports differ");
    assert_eq!(ge, fe, "forward: exports differ");

    let record = compose(proxy_gen::Mode::Record);
    if gi.is_empty() {
        // Nothing to intercept: the component comes back unchanged, without a recorder import.
        assert_eq!(record, guest, "record: no imports, not the identity");
        assert_eq!(forward, guest, "forward: no imports, not the identity");
        let replay = compose(proxy_gen::Mode::Replay);
        assert_eq!(replay, guest, "replay: no imports, not the identity");
        return Composed {
            forward,
            record,
            replay: Some(replay),
        };
    }
    validate(&record);
    let (mut ri, re) = world_items(&record);
    assert_eq!(ge, re, "record: exports differ");
    let recorder = ri
        .remove(proxy_gen::RECORDER_INTERFACE)
        .expect("record mode imports the recorder");
    assert_eq!(recorder, expected_recorder(), "recorder interface");
    assert_eq!(gi, ri, "record: imports differ (besides the recorder)");

    let replay = match proxy_gen::instrument(guest, proxy_gen::Mode::Replay) {
        Ok(c) => c,
        Err(proxy_gen::Error::Unsupported(msg)) if msg.contains("not supported yet") => {
            return Composed {
                forward,
                record,
                replay: None,
            }
        }
        Err(e) => panic!("instrument (Replay) failed: {e}"),
    };
    validate(&replay);
    let (mut pi, pe) = world_items(&replay);
    assert_eq!(replay_exports(guest), pe, "replay: exports differ");
    let replayer = pi
        .remove(proxy_gen::REPLAYER_INTERFACE)
        .expect("replay mode imports the replayer");
    assert_eq!(replayer, expected_replayer(), "replayer interface");
    // Besides the replayer, only types-only interfaces (no functions, no resources) and
    // world-level types may remain: a guest export may use their types, and they need no host.
    let world_types: Vec<String> = proxy_gen::decode(guest)
        .expect("decodes")
        .info()
        .imported_types
        .into_iter()
        .map(|t| t.name)
        .collect();
    for (name, item) in &pi {
        if !world_types.contains(name) {
            assert_eq!(
                item, "[] []",
                "replay imports `{name}`, which is not types-only"
            );
        }
        assert_eq!(
            gi.get(name),
            Some(item),
            "replay imports `{name}`, not a guest import"
        );
    }
    Composed {
        forward,
        record,
        replay: Some(replay),
    }
}

/// [`world_items`]' rendering of the replayer interface: exactly
/// `next: func(func-id: u32, args: list<u8>) -> list<u8>`.
pub fn expected_replayer() -> String {
    use proxy_gen::FuncKind;
    let bytes = ValueType::List(Box::new(ValueType::U8));
    let funcs = vec![FunctionInfo {
        name: "next".into(),
        kind: FuncKind::Freestanding,
        params: vec![
            ("func-id".into(), ValueType::U32),
            ("args".into(), bytes.clone()),
        ],
        result: Some(bytes),
    }];
    format!("{:?} {:?}", Vec::<String>::new(), funcs)
}

/// [`world_items`]' rendering of the recorder interface: exactly
/// `call: func(func-id: u32, args: list<u8>)`, `ret: func(func-id: u32, results: list<u8>)`,
/// `record: func(func-id: u32, args: list<u8>, results: list<u8>)`, `batch-buffer: func(buffer:
/// list<u8>)` and `record-batch: func(entries: list<u8>)`.
pub fn expected_recorder() -> String {
    use proxy_gen::FuncKind;
    let f = |name: &str, param: &str| FunctionInfo {
        name: name.into(),
        kind: FuncKind::Freestanding,
        params: vec![
            ("func-id".into(), ValueType::U32),
            (param.into(), ValueType::List(Box::new(ValueType::U8))),
        ],
        result: None,
    };
    let mut record = f("record", "args");
    record
        .params
        .push(("results".into(), ValueType::List(Box::new(ValueType::U8))));
    let g = |name: &str, param: &str| FunctionInfo {
        name: name.into(),
        kind: FuncKind::Freestanding,
        params: vec![(param.into(), ValueType::List(Box::new(ValueType::U8)))],
        result: None,
    };
    let funcs = vec![
        f("call", "args"),
        f("ret", "results"),
        record,
        g("batch-buffer", "buffer"),
        g("record-batch", "entries"),
    ];
    format!("{:?} {:?}", Vec::<String>::new(), funcs)
}

/// The component's world printed as WIT (all packages), as `wasm-tools component wit` does.
pub fn printed_wit(bytes: &[u8]) -> String {
    let decoded = wit_component::decode(bytes).expect("decodes");
    let resolve = decoded.resolve();
    let main = decoded.package();
    let nested: Vec<_> = resolve
        .packages
        .iter()
        .map(|(id, _)| id)
        .filter(|id| *id != main)
        .collect();
    let mut printer = wit_component::WitPrinter::default();
    printer.print(resolve, main, &nested).expect("prints");
    printer.output.to_string()
}

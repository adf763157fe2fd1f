//! The type zoo records and replays through every WIT type kind, resources included, in process on
//! wasmtime (no `proxyrt` binary, no trace file): the record composition of the zoo is plugged with
//! the `zoo-host` component (wac-graph), run with a recorder that keeps every call in memory,
//! then the replay composition (which imports only the replayer) is run against those calls. Both
//! runs of `exercise-host` must return `exercise-host.expected`, the replay must make exactly the
//! recorded calls with byte-identical arguments (handle ids included), resources must keep stable
//! ids, and a perturbed trace must change the replayed output at exactly the perturbed call.

use crate::common::capture::{self, Call, Captured};
use proxy_gen::{ComponentInfo, Mode, REPLAYER_INTERFACE};
use proxyrt_test_guests as guests;
use recorder_host::types::{FuncKind, ValueType};
use recorder_host::value::{wave, Decoder};
use std::sync::OnceLock;
use wac_graph::{types::Package, CompositionGraph, EncodeOptions};
use wasmtime::component::{Component, Linker, WasmList};
use wasmtime::{Config, Engine, Store, StoreContextMut};

const HOST: &str = "proxyrt:zoo/host@0.1.0";
const API: &str = "proxyrt:zoo/api@0.1.0";

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = Config::new();
        config.wasm_component_model(true);
        Engine::new(&config).expect("engine")
    })
}

fn zoo() -> Vec<u8> {
    std::fs::read(guests::ZOO).expect("read the zoo")
}

fn info() -> ComponentInfo {
    proxy_gen::decode(&zoo()).expect("decode the zoo").info()
}

/// The func-id of `name` in the zoo's `host` import.
fn func_id(info: &ComponentInfo, name: &str) -> u32 {
    info.intercepted_functions()
        .find(|f| f.interface == Some(HOST) && f.function.name == name)
        .unwrap_or_else(|| panic!("no intercepted function `{name}` in `{HOST}`"))
        .id
}

/// `composed` with its `host` import plugged with `host`'s export of the same name; every other
/// import (the zoo's `types`, shared by both, and the recorder) is left open, every export kept.
fn plug_host(composed: &[u8], host: &[u8]) -> Vec<u8> {
    let mut graph = CompositionGraph::new();
    let pkg = Package::from_bytes("proxyrt:zoo-host", None, host.to_vec(), graph.types_mut())
        .expect("load zoo-host");
    let host_pkg = graph.register_package(pkg).unwrap();
    let pkg = Package::from_bytes(
        "proxyrt:recording",
        None,
        composed.to_vec(),
        graph.types_mut(),
    )
    .expect("load the record composition");
    let composed_pkg = graph.register_package(pkg).unwrap();
    let world = &graph.types()[graph[composed_pkg].ty()];
    assert!(
        world.imports.contains_key(HOST),
        "the record composition does not import `{HOST}`: {:?}",
        world.imports.keys().collect::<Vec<_>>()
    );
    let exports: Vec<String> = world.exports.keys().cloned().collect();

    let host_inst = graph.instantiate(host_pkg);
    let composed_inst = graph.instantiate(composed_pkg);
    let item = graph.alias_instance_export(host_inst, HOST).unwrap();
    graph
        .set_instantiation_argument(composed_inst, HOST, item)
        .expect("zoo-host's `host` fits the record composition's import");
    for name in &exports {
        let item = graph.alias_instance_export(composed_inst, name).unwrap();
        graph.export(item, name).unwrap();
    }
    graph
        .encode(EncodeOptions::default())
        .expect("encode the composition with zoo-host")
}

/// Instantiates `component` with `linker` and calls `api.exercise-host`.
fn exercise_host<T>(
    store: &mut Store<T>,
    linker: &Linker<T>,
    component: &Component,
) -> wasmtime::Result<Vec<String>> {
    let instance = linker.instantiate(&mut *store, component)?;
    let api = instance
        .get_export_index(&mut *store, None, API)
        .unwrap_or_else(|| panic!("no export `{API}`"));
    let func = instance
        .get_export_index(&mut *store, Some(&api), "exercise-host")
        .expect("no `exercise-host` in the api");
    let func = instance.get_typed_func::<(), (Vec<String>,)>(&mut *store, func)?;
    let (lines,) = func.call(&mut *store, ())?;
    Ok(lines)
}

/// Records `exercise-host` on the zoo plugged with zoo-host: its result and the calls, in order.
fn record() -> (Vec<String>, Vec<Call>) {
    let composed = proxy_gen::instrument(&zoo(), Mode::Record).expect("instrument (record)");
    let host = std::fs::read(guests::ZOO_HOST).expect("read zoo-host");
    let plugged = plug_host(&composed, &host);
    let component = Component::new(engine(), &plugged).expect("compile the recording");

    let mut linker = Linker::<Captured>::new(engine());
    capture::add_to_linker(&mut linker);

    let mut store = Store::new(engine(), Captured::default());
    let lines = exercise_host(&mut store, &linker, &component).expect("exercise-host (record)");
    Captured::drain(&mut store);
    (lines, store.into_data().calls)
}

/// Store data of a replay: the calls to answer, the next one's index, the first divergence.
struct Replay {
    info: ComponentInfo,
    calls: Vec<Call>,
    next: usize,
    divergence: Option<String>,
}

/// `bytes` (the args, or else the results, of `func`) in WAVE, or why they do not decode.
fn show(info: &ComponentInfo, func: u32, bytes: &[u8], args: bool) -> String {
    let Some(f) = info.intercepted_functions().find(|f| f.id == func) else {
        return format!("<unknown func {func}> {bytes:?}");
    };
    let types: Vec<&ValueType> = if args {
        f.function.params.iter().map(|(_, t)| t).collect()
    } else {
        f.function.result.iter().collect()
    };
    match Decoder::decode_all(bytes, types) {
        Ok(values) => {
            let values: Vec<String> = values.iter().map(wave).collect();
            format!("{}({})", f.function.name, values.join(", "))
        }
        Err(e) => format!("{} <{e}> {bytes:?}", f.function.name),
    }
}

/// The replayer's `next`: checks the call against the next recorded one, returns its results.
fn next(data: &mut Replay, func: u32, args: &[u8]) -> Result<Vec<u8>, String> {
    let Some(call) = data.calls.get(data.next) else {
        return Err(format!(
            "call {} is past the {} recorded calls: {}",
            data.next,
            data.calls.len(),
            show(&data.info, func, args, true)
        ));
    };
    if call.func != func || call.args != args {
        return Err(format!(
            "call {} diverges: recorded {} (func {}, args {:?}), replayed {} (func {func}, args {args:?})",
            data.next,
            show(&data.info, call.func, &call.args, true),
            call.func,
            call.args,
            show(&data.info, func, args, true),
        ));
    }
    let results = call
        .results
        .clone()
        .ok_or_else(|| format!("call {} never returned in the recording", data.next))?;
    data.next += 1;
    Ok(results)
}

/// Replays `exercise-host` against `calls`; returns its result and how many calls were consumed,
/// or the first divergence.
fn replay(calls: &[Call]) -> Result<(Vec<String>, usize), String> {
    static COMPONENT: OnceLock<Component> = OnceLock::new();
    let component = COMPONENT.get_or_init(|| {
        let composed = proxy_gen::instrument(&zoo(), Mode::Replay).expect("instrument (replay)");
        Component::new(engine(), &composed).expect("compile the replay")
    });

    let mut linker = Linker::<Replay>::new(engine());
    linker
        .instance(REPLAYER_INTERFACE)
        .unwrap()
        .func_wrap(
            "next",
            |mut store: StoreContextMut<'_, Replay>,
             (func, args): (u32, WasmList<u8>)|
             -> wasmtime::Result<(Vec<u8>,)> {
                let args = args.as_le_slice(&store).to_vec();
                let data = store.data_mut();
                match next(data, func, &args) {
                    Ok(results) => Ok((results,)),
                    Err(message) => {
                        data.divergence.get_or_insert(message.clone());
                        Err(wasmtime::format_err!("{message}"))
                    }
                }
            },
        )
        .unwrap();

    let mut store = Store::new(
        engine(),
        Replay {
            info: info(),
            calls: calls.to_vec(),
            next: 0,
            divergence: None,
        },
    );
    let result = exercise_host(&mut store, &linker, component);
    let data = store.into_data();
    if let Some(d) = data.divergence {
        return Err(d);
    }
    match result {
        Ok(lines) => Ok((lines, data.next)),
        Err(e) => Err(format!(
            "exercise-host failed after {} replayed calls: {e:?}",
            data.next
        )),
    }
}

fn recording() -> &'static (Vec<String>, Vec<Call>) {
    static RECORDING: OnceLock<(Vec<String>, Vec<Call>)> = OnceLock::new();
    RECORDING.get_or_init(record)
}

#[test]
fn record_then_replay_gives_the_expected_lines_and_consumes_every_call() {
    let (lines, calls) = recording();
    assert_eq!(*lines, guests::zoo_exercise_host_expected(), "recorded run");
    assert!(calls.len() >= lines.len(), "{} calls recorded", calls.len());
    let info = info();
    for (i, call) in calls.iter().enumerate() {
        // Every recorded payload decodes to the function's types with no byte left over.
        let f = info
            .intercepted_functions()
            .find(|f| f.id == call.func)
            .unwrap_or_else(|| panic!("call {i}: unknown func-id {}", call.func));
        let results = call.results.as_ref().unwrap_or_else(|| {
            panic!("call {i} ({}) has no results", f.function.name);
        });
        Decoder::decode_all(&call.args, f.function.params.iter().map(|(_, t)| t))
            .unwrap_or_else(|e| panic!("call {i} ({}): args: {e}", f.function.name));
        Decoder::decode_all(results, f.function.result.iter())
            .unwrap_or_else(|e| panic!("call {i} ({}): results: {e}", f.function.name));
    }

    let (replayed, consumed) = replay(calls).unwrap_or_else(|e| panic!("replay: {e}"));
    assert_eq!(replayed, *lines, "replayed run");
    assert_eq!(consumed, calls.len(), "every recorded call is replayed");
}

/// Reads one LEB128 integer at `pos`.
fn leb(bytes: &[u8], pos: &mut usize) -> u64 {
    let (mut value, mut shift) = (0u64, 0);
    loop {
        let b = bytes[*pos];
        *pos += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return value;
        }
        shift += 7;
    }
}

/// Walks the encoded value of type `ty` at `pos` (wire format: proxy-gen/DESIGN.md) and collects
/// the ids of the `own` handles in it.
fn owns(ty: &ValueType, bytes: &[u8], pos: &mut usize, out: &mut Vec<u32>) {
    use ValueType as V;
    match ty {
        V::Bool | V::U8 | V::S8 => *pos += 1,
        V::U16 | V::U32 | V::U64 | V::S16 | V::S32 | V::S64 | V::Char | V::Enum { .. } => {
            leb(bytes, pos);
        }
        V::Borrow(_) => {
            leb(bytes, pos);
        }
        V::Own(_) => out.push(leb(bytes, pos) as u32),
        V::F32 => *pos += 4,
        V::F64 => *pos += 8,
        V::String => *pos += leb(bytes, pos) as usize,
        V::List(t) if matches!(**t, V::U8 | V::S8) => *pos += leb(bytes, pos) as usize,
        V::List(t) => {
            for _ in 0..leb(bytes, pos) {
                owns(t, bytes, pos, out);
            }
        }
        V::Option(t) => {
            *pos += 1;
            if bytes[*pos - 1] == 1 {
                owns(t, bytes, pos, out);
            }
        }
        V::Result { ok, err } => {
            *pos += 1;
            let side = if bytes[*pos - 1] == 0 { ok } else { err };
            if let Some(t) = side {
                owns(t, bytes, pos, out);
            }
        }
        V::Tuple(ts) => ts.iter().for_each(|t| owns(t, bytes, pos, out)),
        V::Record { fields, .. } => fields.iter().for_each(|(_, t)| owns(t, bytes, pos, out)),
        V::Variant { cases, .. } => {
            let case = leb(bytes, pos) as usize;
            if let Some(t) = &cases[case].1 {
                owns(t, bytes, pos, out);
            }
        }
        V::Flags { flags, .. } => *pos += flags.len().div_ceil(8),
        other => panic!("the zoo has no {other:?}"),
    }
}

/// The WAVE form of the decoded args (or results) of `func`.
fn decode(info: &ComponentInfo, func: u32, bytes: &[u8], args: bool) -> Vec<String> {
    let f = info.intercepted_functions().find(|f| f.id == func).unwrap();
    let types: Vec<&ValueType> = if args {
        f.function.params.iter().map(|(_, t)| t).collect()
    } else {
        f.function.result.iter().collect()
    };
    Decoder::decode_all(bytes, types)
        .unwrap()
        .iter()
        .map(wave)
        .collect()
}

#[test]
fn blob_handles_have_stable_ids() {
    let (_, calls) = recording();
    let info = info();
    let constructor = func_id(&info, "[constructor]blob");
    let read = func_id(&info, "[method]blob.read");
    // Handles are shown in WAVE as their u32 id.
    let handle = |shown: &str| -> u32 { shown.parse().unwrap() };

    // `a = blob::new([1, 2, 3, 4, 5])`, then `a`'s size (to print it) and `a.read(2)`,
    // `a.read(10)`, `a.read(1)`: every method call before the next constructor borrows `a`.
    let ctors: Vec<usize> = (0..calls.len())
        .filter(|&i| calls[i].func == constructor)
        .collect();
    assert!(ctors.len() >= 2, "{} [constructor]blob calls", ctors.len());
    let (first, second) = (ctors[0], ctors[1]);
    assert_eq!(
        decode(&info, constructor, &calls[first].args, true),
        ["[1, 2, 3, 4, 5]"]
    );
    let own = |i: usize| {
        handle(
            &decode(
                &info,
                constructor,
                calls[i].results.as_ref().unwrap(),
                false,
            )[0],
        )
    };
    let (a, b) = (own(first), own(second));
    assert_ne!(a, b, "two live blobs have distinct ids");
    let on_a = &calls[first + 1..second];
    assert_eq!(
        on_a.iter().filter(|c| c.func == read).count(),
        3,
        "the three reads of the first blob"
    );
    for call in on_a {
        assert_eq!(
            decode(&info, call.func, &call.args, true)[0],
            a.to_string(),
            "`{}` borrows the blob the constructor returned",
            show(&info, call.func, &call.args, true)
        );
    }
    // `blob::merge(a, b)` borrows both.
    let merge = func_id(&info, "[static]blob.merge");
    let merge = calls
        .iter()
        .find(|c| c.func == merge)
        .expect("a merge call");
    assert_eq!(
        decode(&info, merge.func, &merge.args, true),
        [a.to_string(), b.to_string()]
    );

    // Every `[method]blob.*` borrows a handle that an earlier call returned as an `own`.
    let mut returned = Vec::new();
    let mut methods = 0;
    for call in calls {
        let f = info
            .intercepted_functions()
            .find(|f| f.id == call.func)
            .unwrap();
        if let FuncKind::Method(r) = &f.function.kind {
            assert_eq!(r.name, "blob");
            let this = handle(&decode(&info, call.func, &call.args, true)[0]);
            assert!(
                returned.contains(&this),
                "{} borrows {this}, which no earlier call returned ({returned:?})",
                f.function.name
            );
            methods += 1;
        }
        if let Some(ty) = &f.function.result {
            let results = call.results.as_ref().unwrap();
            let mut pos = 0;
            owns(ty, results, &mut pos, &mut returned);
            assert_eq!(pos, results.len(), "{}", f.function.name);
        }
    }
    assert!(methods >= 8, "{methods} blob method calls");
    // blob::new x 3, merge, maybe-blob, try-blob, label, split-blob (two).
    assert_eq!(returned.len(), 9, "owned blobs returned: {returned:?}");
}

#[test]
fn a_perturbed_result_changes_exactly_the_corresponding_line() {
    let (lines, calls) = recording();
    let info = info();
    let incr = func_id(&info, "incr-unsigned");
    let at = calls
        .iter()
        .position(|c| c.func == incr)
        .expect("an incr-unsigned call");
    let mut perturbed = calls.clone();
    // (0, 0, 8, 0): u8 0, u16 LEB 0, u32 LEB 8, u64 LEB 0; flip the u32's low bit: 8 -> 9.
    let results = perturbed[at].results.as_mut().unwrap();
    assert_eq!(*results, [0, 0, 8, 0], "the recorded (0, 0, 8, 0)");
    results[2] ^= 1;

    let (replayed, consumed) = replay(&perturbed).unwrap_or_else(|e| panic!("replay: {e}"));
    assert_eq!(consumed, calls.len());
    assert_eq!(replayed.len(), lines.len());
    let differing: Vec<usize> = (0..lines.len())
        .filter(|&i| replayed[i] != lines[i])
        .collect();
    let line = lines
        .iter()
        .position(|l| l.starts_with("incr-unsigned("))
        .unwrap();
    assert_eq!(differing, [line], "only the incr-unsigned line differs");
    assert_eq!(
        replayed[line],
        "incr-unsigned(255, 65535, 7, 18446744073709551615) = (0, 0, 9, 0)"
    );
}

#[test]
fn a_trace_with_other_arguments_is_a_divergence() {
    let (_, calls) = recording();
    let info = info();
    let flip = func_id(&info, "flip");
    let at = calls
        .iter()
        .position(|c| c.func == flip)
        .expect("a flip call");
    let mut other = calls.clone();
    assert_eq!(other[at].args, [1], "the recorded flip(true)");
    other[at].args = vec![0];
    let err = replay(&other).expect_err("replaying flip(true) against a recorded flip(false)");
    assert!(
        err.contains(&format!("call {at} diverges"))
            && err.contains("recorded flip(false)")
            && err.contains("replayed flip(true)"),
        "{err}"
    );
}

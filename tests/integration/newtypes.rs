//! Fixed-length lists and maps record and replay at run time, in process on wasmtime with its
//! `component-model-fixed-length-lists` and `component-model-map` features on (no toolchain here
//! emits them yet, so the guest is a hand-written core module made a component by wit-component).
//!
//! The guest's `run` calls `small(list<u32, 4>) -> list<u32, 2>` (flat arguments, result through
//! memory) and `counts(map<string, u32>) -> map<u32, string>` (entries in memory both ways) and
//! folds the results into a checksum. Recorded with a host that computes the results, then
//! replayed with nothing but the recorded bytes: both runs return the checksum the host's answers
//! give, and the recorded values decode (recorder-host) to the values that crossed the boundary.

use crate::common::capture::{self, Captured};
use proxy_gen::{ComponentInfo, Mode, REPLAYER_INTERFACE};
use recorder_host::value::{wave, Decoder};
use wasmtime::component::{Component, Linker, Val, WasmList};
use wasmtime::{Config, Engine, Store, StoreContextMut};
use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::Resolve;

const IFACE: &str = "t:newtypes/i";

const WIT: &str = "package t:newtypes;
    interface i {
        small: func(x: list<u32, 4>) -> list<u32, 2>;
        counts: func(m: map<string, u32>) -> map<u32, string>;
    }
    world guest {
        import i;
        export run: func() -> u64;
    }";

/// The guest's core module. `run`: `small(10, 20, 30, 40)` -> `[a, b]`, then `counts` of
/// `[("ab", 1), ("cde", 2)]` -> entries `(k, s)`; returns `a + 7 b + sum(31 k + len(s) + 1000 s[0])`.
const GUEST: &str = r#"(module
    (import "t:newtypes/i" "small" (func $small (param i32 i32 i32 i32 i32)))
    (import "t:newtypes/i" "counts" (func $counts (param i32 i32 i32)))
    (memory (export "memory") 1)
    (global $heap (mut i32) (i32.const 4096))
    (data (i32.const 100) "abcde")
    ;; map<string, u32> entries: {ptr, len, value} x 2
    (data (i32.const 200) "\64\00\00\00\02\00\00\00\01\00\00\00\66\00\00\00\03\00\00\00\02\00\00\00")
    (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
        (local $p i32)
        global.get $heap
        local.get 2
        i32.add
        i32.const 1
        i32.sub
        i32.const 0
        local.get 2
        i32.sub
        i32.and
        local.tee $p
        local.get 3
        i32.add
        global.set $heap
        local.get $p)
    (func (export "run") (result i64)
        (local $sum i64) (local $ptr i32) (local $n i32)
        i32.const 10
        i32.const 20
        i32.const 30
        i32.const 40
        i32.const 1024
        call $small
        i32.const 1024
        i64.load32_u
        i32.const 1028
        i64.load32_u
        i64.const 7
        i64.mul
        i64.add
        local.set $sum
        i32.const 200
        i32.const 2
        i32.const 1040
        call $counts
        i32.const 1040
        i32.load
        local.set $ptr
        i32.const 1044
        i32.load
        local.set $n
        (block $done
            (loop $entries
                local.get $n
                i32.eqz
                br_if $done
                local.get $sum
                local.get $ptr
                i64.load32_u
                i64.const 31
                i64.mul
                i64.add
                local.get $ptr
                i64.load32_u offset=8
                i64.add
                local.get $ptr
                i32.load offset=4
                i64.load8_u
                i64.const 1000
                i64.mul
                i64.add
                local.set $sum
                local.get $ptr
                i32.const 12
                i32.add
                local.set $ptr
                local.get $n
                i32.const 1
                i32.sub
                local.set $n
                br $entries))
        local.get $sum)
)"#;

fn guest() -> Vec<u8> {
    let mut resolve = Resolve::default();
    let pkg = resolve.push_str("newtypes.wit", WIT).expect("WIT parses");
    let world = resolve.select_world(&[pkg], Some("guest")).expect("world");
    let mut module = wat::parse_str(GUEST).expect("the guest module assembles");
    wit_component::embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8)
        .expect("embed the world");
    ComponentEncoder::default()
        .module(&module)
        .expect("the module fits the world")
        .encode()
        .expect("encode the guest component")
}

fn engine() -> Engine {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.wasm_component_model_map(true);
    config.wasm_component_model_fixed_length_lists(true);
    Engine::new(&config).expect("engine")
}

/// What the host answers, and the checksum `run` makes of it.
fn small(x: &[u32]) -> [u32; 2] {
    [x[0] + x[1], x[2] * x[3]]
}
fn counts(m: &[(String, u32)]) -> Vec<(u32, String)> {
    m.iter().map(|(k, v)| (v * 10, format!("{k}!"))).collect()
}
fn expected_checksum() -> u64 {
    let [a, b] = small(&[10, 20, 30, 40]);
    let mut sum = u64::from(a) + 7 * u64::from(b);
    for (k, s) in counts(&[("ab".into(), 1), ("cde".into(), 2)]) {
        sum += 31 * u64::from(k) + s.len() as u64 + 1000 * u64::from(s.as_bytes()[0]);
    }
    sum
}

fn u32s(v: &Val) -> Vec<u32> {
    let (Val::FixedLengthList(items) | Val::List(items)) = v else {
        panic!("not a list: {v:?}")
    };
    items
        .iter()
        .map(|i| match i {
            Val::U32(n) => *n,
            other => panic!("not a u32: {other:?}"),
        })
        .collect()
}

/// One recorded call: func-id, encoded arguments, encoded results.
type Recorded = (u32, Vec<u8>, Vec<u8>);

fn call_run<T>(store: &mut Store<T>, linker: &Linker<T>, component: &Component) -> u64 {
    let instance = linker
        .instantiate(&mut *store, component)
        .expect("instantiate");
    let run = instance
        .get_typed_func::<(), (u64,)>(&mut *store, "run")
        .expect("the `run` export");
    run.call(&mut *store, ()).expect("run").0
}

#[test]
fn fixed_length_lists_and_maps_record_and_replay() {
    let engine = engine();
    let guest = guest();
    let info: ComponentInfo = proxy_gen::decode(&guest).expect("decode").info();
    let id = |name: &str| {
        info.intercepted_functions()
            .find(|f| f.interface == Some(IFACE) && f.function.name == name)
            .unwrap_or_else(|| panic!("no `{name}`"))
            .id
    };

    // Record, with a host computing the answers.
    let composed = proxy_gen::instrument(&guest, Mode::Record).expect("instrument (record)");
    let component = Component::new(&engine, &composed).expect("compile the recording");
    let mut linker = Linker::<Captured>::new(&engine);
    let mut host = linker.instance(IFACE).unwrap();
    host.func_new("small", |_, _, params, results| {
        let [a, b] = small(&u32s(&params[0]));
        results[0] = Val::FixedLengthList(vec![Val::U32(a), Val::U32(b)]);
        Ok(())
    })
    .unwrap();
    host.func_new("counts", |_, _, params, results| {
        let Val::Map(entries) = &params[0] else {
            panic!("not a map: {:?}", params[0])
        };
        let m: Vec<(String, u32)> = entries
            .iter()
            .map(|(k, v)| match (k, v) {
                (Val::String(k), Val::U32(v)) => (k.clone(), *v),
                other => panic!("bad entry {other:?}"),
            })
            .collect();
        results[0] = Val::Map(
            counts(&m)
                .into_iter()
                .map(|(k, s)| (Val::U32(k), Val::String(s)))
                .collect(),
        );
        Ok(())
    })
    .unwrap();
    capture::add_to_linker(&mut linker);
    let mut store = Store::new(&engine, Captured::default());
    let recorded_sum = call_run(&mut store, &linker, &component);
    assert_eq!(recorded_sum, expected_checksum(), "the recorded run");
    Captured::drain(&mut store);
    let calls: Vec<Recorded> = store
        .into_data()
        .calls
        .into_iter()
        .map(|c| (c.func, c.args, c.results.expect("every call returned")))
        .collect();

    // The recorded bytes decode to the values that crossed the boundary.
    let show = |func: u32, bytes: &[u8], args: bool| -> String {
        let f = info
            .intercepted_functions()
            .find(|f| f.id == func)
            .expect("a known function");
        let types: Vec<_> = if args {
            f.function.params.iter().map(|(_, t)| t).collect()
        } else {
            f.function.result.iter().collect()
        };
        let values = Decoder::decode_all(bytes, types).expect("the bytes decode");
        values.iter().map(wave).collect::<Vec<_>>().join(", ")
    };
    let shown: Vec<(String, String)> = calls
        .iter()
        .map(|(f, a, r)| (show(*f, a, true), show(*f, r, false)))
        .collect();
    assert_eq!(
        shown,
        [
            ("[10, 20, 30, 40]".to_string(), "[30, 1200]".to_string()),
            (
                r#"[("ab", 1), ("cde", 2)]"#.to_string(),
                r#"[(10, "ab!"), (20, "cde!")]"#.to_string()
            ),
        ]
    );
    assert_eq!(
        calls.iter().map(|c| c.0).collect::<Vec<_>>(),
        [id("small"), id("counts")]
    );

    // Replay: nothing but the recorded bytes.
    let composed = proxy_gen::instrument(&guest, Mode::Replay).expect("instrument (replay)");
    let component = Component::new(&engine, &composed).expect("compile the replay");
    let mut linker = Linker::<(Vec<Recorded>, usize)>::new(&engine);
    linker
        .instance(REPLAYER_INTERFACE)
        .unwrap()
        .func_wrap(
            "next",
            |mut store: StoreContextMut<'_, (Vec<Recorded>, usize)>,
             (func, args): (u32, WasmList<u8>)|
             -> wasmtime::Result<(Vec<u8>,)> {
                let args = args.as_le_slice(&store).to_vec();
                let (calls, next) = store.data_mut();
                let (f, a, r) = calls
                    .get(*next)
                    .ok_or_else(|| wasmtime::format_err!("a call past the recording"))?;
                if (*f, a) != (func, &args) {
                    return Err(wasmtime::format_err!("call {next} diverges"));
                }
                *next += 1;
                Ok((r.clone(),))
            },
        )
        .unwrap();
    let mut store = Store::new(&engine, (calls, 0));
    let replayed_sum = call_run(&mut store, &linker, &component);
    assert_eq!(replayed_sum, recorded_sum, "the replay");
    assert_eq!(store.data().1, 2, "every recorded call was replayed");
}

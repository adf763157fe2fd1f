//! Record-mode instrumentation of guests over many WIT shapes: the composition validates and has
//! exactly the guest's imports and exports.

mod common;
use common::*;

#[test]
fn simple_interface() {
    let guest = guest_from_wit(
        &["package t:simple;
           interface host { add: func(a: u32, b: u32) -> u32; hello: func(name: string) -> string; }
           world guest { import host; export run: func() -> u32; }"],
        "guest",
    );
    assert!(
        instrument_and_check(&guest).replay.is_some(),
        "replay must be supported here"
    );
}

/// Every WIT value type kind in params and results, flat and through memory.
const ZOO: &str = "package t:zoo;
interface types {
    record point { x: f32, y: f64, label: string }
    variant shape { circle(f32), rect(tuple<u64, u64>), named(string), empty }
    enum color { red, green, blue }
    flags perms { read, write, exec }
    type alias-list = list<point>;
    prims: func(a: bool, b: s8, c: u8, d: s16, e: u16, f: s32, g: u32, h: s64, i: u64, j: f32, k: f64, l: char) -> f64;
    strings: func(s: string, l: list<string>) -> list<string>;
    bytes: func(b: list<u8>) -> list<u8>;
    records: func(p: point, ps: alias-list) -> point;
    variants: func(s: shape, c: color, p: perms) -> shape;
    options: func(a: option<u32>, b: option<string>, c: option<option<f64>>) -> option<point>;
    results: func(a: result<u32, string>, b: result, c: result<_, color>) -> result<list<u8>, shape>;
    tuples: func(t: tuple<u8, string, f64>) -> tuple<u64, f32, string>;
    many: func(a1: u32, a2: u32, a3: u32, a4: u32, a5: u32, a6: u32, a7: u32, a8: u32,
               a9: u32, a10: u32, a11: u32, a12: u32, a13: u32, a14: u32, a15: u32, a16: u32,
               a17: string) -> u32;
    many-mixed: func(p: point, q: point, r: point, s: point, t: shape, u: shape) -> tuple<point, shape>;
    nothing: func();
    only-result: func() -> string;
    big-flags: func(f: perms) -> perms;
}
world guest {
    import types;
    export run: func() -> u32;
}";

#[test]
fn type_zoo() {
    let guest = guest_from_wit(&[ZOO], "guest");
    assert!(
        instrument_and_check(&guest).replay.is_some(),
        "replay must be supported here"
    );
}

/// Resources: constructor, method, static, borrows (flat, in lists, records, variants, options,
/// results, >16 params), owns in tuples and results.
const RESOURCES: &str = "package t:res;
interface store {
    resource r {
        constructor(x: u32);
        get: func() -> u32;
        set: func(v: u32);
        merge: static func(a: borrow<r>, b: borrow<r>) -> r;
        sum: static func(items: list<borrow<r>>) -> u32;
    }
    resource other { constructor(); name: func() -> string; }
    record holder { item: borrow<r>, tag: string }
    variant pick { one(borrow<r>), two(borrow<other>), none }
    make-pair: func(x: u32) -> tuple<own<r>, own<r>>;
    take: func(a: r) -> u32;
    in-record: func(h: holder) -> u32;
    in-list-of-records: func(hs: list<holder>) -> u32;
    in-variant: func(p: pick) -> u32;
    in-option: func(o: option<borrow<r>>) -> option<r>;
    in-result: func(x: result<borrow<r>, borrow<other>>) -> result<r, string>;
    nested: func(x: list<option<tuple<u8, borrow<r>>>>) -> u32;
    many-borrows: func(a1: borrow<r>, a2: u32, a3: u32, a4: u32, a5: u32, a6: u32, a7: u32, a8: u32,
               a9: u32, a10: u32, a11: u32, a12: u32, a13: u32, a14: u32, a15: u32, a16: u32,
               a17: list<borrow<other>>) -> u32;
    wide-variant: func(v: result<borrow<r>, u64>) -> u32;
}
interface user {
    use store.{r, holder};
    consume: func(a: borrow<r>, h: holder) -> own<r>;
}
interface api {
    use store.{r, holder, pick};
    handle: func(a: borrow<r>, h: holder, p: pick) -> own<r>;
}
world guest {
    import store;
    import user;
    export run: func() -> u32;
    // An export whose types come from an import: the composition must keep them the host's.
    export api;
}
world guest-without-api {
    import store;
    import user;
    export run: func() -> u32;
}";

#[test]
fn resources() {
    let guest = guest_from_wit(&[RESOURCES], "guest");
    // Exports or world-level imports mention an imported resource: replay is reported as
    // not supported yet (DESIGN.md, "Handle ids"), record falls back to pass-through handles.
    assert!(instrument_and_check(&guest).replay.is_none());
    // Without that export, the proxy wraps the resources and replay is supported: every handle
    // position above (records, variants, options, results, lists, > 16 params) in all modes.
    let guest = guest_from_wit(&[RESOURCES], "guest-without-api");
    assert!(instrument_and_check(&guest).replay.is_some());
}

/// The shape of a wasi:http handler: the guest's export is given handles the host creates
/// (`own` parameters of imported resources, beside scalars). Record and replay wrap them
/// through the export proxy: record keeps the export's type exactly, replay exports it without
/// the handle parameters (they come from the trace).
const HANDLER: &str = "package t:http@0.2.6;
interface types {
    resource request { path: func() -> string; consume: func() -> result<u32>; }
    resource outparam { set: static func(o: own<outparam>, status: u16); }
}
interface handler {
    use types.{request, outparam};
    handle: func(r: own<request>, o: own<outparam>);
    tick: func(n: u32, r: own<request>, x: f64) -> s64;
    plain: func(flag: bool) -> u8;
}
interface bad-handler {
    use types.{request};
    handle: func(r: borrow<request>);
}
world proxy {
    import types;
    export handler;
    export run: func() -> u32;
}
world bad-proxy {
    import types;
    export bad-handler;
}";

#[test]
fn handlers_given_host_handles() {
    let guest = guest_from_wit(&[HANDLER], "proxy");
    let composed = instrument_and_check(&guest);
    assert!(composed.replay.is_some(), "a handler replays");
    let info = proxy_gen::analyze(&guest).unwrap();
    let handles: Vec<String> = info
        .export_handles
        .iter()
        .map(|h| format!("{}.{}", h.interface, h.function.name))
        .collect();
    assert_eq!(
        handles,
        [
            "t:http/types@0.2.6.[export-handle]request",
            "t:http/types@0.2.6.[export-handle]outparam"
        ]
    );
    // Their ids follow the functions' and the drops'.
    let ids: Vec<(u32, String)> = info
        .intercepted_functions()
        .map(|f| (f.id, f.function.name.clone()))
        .collect();
    assert_eq!(ids.len(), 7, "{ids:?}");
    assert_eq!(ids[5], (5, "[export-handle]request".to_string()));
    // A borrow of a host resource in an export is not wrapped: record passes handles through,
    // replay is not supported.
    let guest = guest_from_wit(&[HANDLER], "bad-proxy");
    assert!(instrument_and_check(&guest).replay.is_none());
}

/// A versioned interface, the same interface at two versions, and a bare function import.
#[test]
fn versions_and_bare_functions() {
    let v1 = "package pkg:x@0.2.6;
        interface y { resource h { read: func(n: u64) -> list<u8>; } open: func() -> h; }";
    let v2 = "package pkg:x@0.3.0;
        interface y { resource h { read: func(n: u64) -> result<list<u8>, string>; } open: func() -> h; }";
    let world = "package t:ver;
        world guest {
            import pkg:x/y@0.2.6;
            import pkg:x/y@0.3.0;
            import log: func(msg: string);
            export pkg:x/y@0.3.0;
        }";
    let guest = guest_from_wit(&[v1, v2, world], "guest");
    // The exported `y@0.3.0` defines its own `h`: not an imported resource, replay works.
    assert!(instrument_and_check(&guest).replay.is_some());
}

/// World-level types (`use` and a local record) used by bare function imports.
#[test]
fn world_level_types() {
    let dep = "package pkg:x@0.2.6;
        interface y { resource h { read: func(n: u64) -> list<u8>; } open: func() -> h; }";
    let world = "package t:wt;
        world guest {
            use pkg:x/y@0.2.6.{h};
            record cfg { name: string, level: u8 }
            import configure: func(c: cfg, target: h) -> list<cfg>;
            export run: func() -> u32;
        }";
    let guest = guest_from_wit(&[dep, world], "guest");
    // Exports or world-level imports mention an imported resource: replay is reported as
    // not supported yet (DESIGN.md, "Handle ids"), record falls back to pass-through handles.
    assert!(instrument_and_check(&guest).replay.is_none());
}

/// A resource the world defines itself (not an interface) is refused in every mode, clearly: the
/// composition could not name it (found by the fuzzer, `fuzz/README.md`).
#[test]
fn resources_defined_by_the_world_are_refused() {
    let world = "package t:wr;
        world guest {
            resource l { constructor(x: u32); }
            export run: func(x: l) -> u32;
        }";
    let guest = guest_from_wit(&[world], "guest");
    for mode in [
        proxy_gen::Mode::Forward,
        proxy_gen::Mode::Record,
        proxy_gen::Mode::Replay,
    ] {
        match proxy_gen::instrument(&guest, mode) {
            Err(proxy_gen::Error::Unsupported(msg)) => {
                // Replay says it earlier, in its words for every world-level resource.
                assert!(msg.contains("resource `l`"), "{mode:?}: {msg}");
                assert!(msg.contains("not supported yet"), "{mode:?}: {msg}");
            }
            other => panic!("{mode:?}: {:?}", other.map(|c| c.len())),
        }
    }
}

/// A types-only interface whose types come from an interface with functions: replay, which does
/// not import the second, does not import the first either (found by the fuzzer).
#[test]
fn types_only_interfaces_using_replayed_ones() {
    let world = "package t:tu;
        interface a { type n = f64; get: func() -> n; }
        interface b { use a.{n}; flags f { one } }
        world guest {
            import a;
            import b;
            export b;
            export run: func() -> u32;
        }";
    let guest = guest_from_wit(&[world], "guest");
    assert!(instrument_and_check(&guest).replay.is_some());
}

/// Inline (unnamed-package) interfaces, and foreign types with the same name reaching one shim.
#[test]
fn inline_interfaces_and_name_clashes() {
    let world = "package t:clash;
        interface a { record t { x: u32 } resource r { get: func() -> t; } }
        interface b { record t { y: string } variant v { one(t), two } }
        interface c {
            use a.{t as at, r};
            use b.{t as bt, v};
            f: func(x: at, y: bt, z: v, w: borrow<r>) -> tuple<at, bt>;
        }
        world guest {
            import c;
            import inline: interface {
                record cfg { name: string, n: u8 }
                resource h { constructor(c: cfg); peek: func(other: list<borrow<h>>) -> cfg; }
                make: func(c: cfg) -> result<h, string>;
            }
            export run: func() -> u32;
            export inline-out: interface {
                use c.{at};
                g: func(x: at) -> at;
            }
        }";
    assert!(
        instrument_and_check(&guest_from_wit(&[world], "guest"))
            .replay
            .is_some(),
        "replay must be supported here"
    );
}

/// Shapes the record encoders must handle beyond the zoo: 32 flags (4 bytes, the most allowed),
/// variant payloads joined across cases (f32/u32 -> i32, f32/u64 -> i64, f64/string),
/// nested variants inside joined payloads, lists of lists, `list<s8>` and `list<u8>` behind an
/// alias, chars, own/borrow handles in results and params, and more than
/// 16 flat params with memory-resident aggregates.
const ENCODERS: &str = "package t:enc;
interface shapes {
    flags wide { f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, f15, f16, f17,
                 f18, f19, f20, f21, f22, f23, f24, f25, f26, f27, f28, f29, f30, f31 }
    variant joined { a(f32), b(u32), c(u64), d(f64), e(string), f(option<s16>), g(result<f32, s64>) }
    type raw = list<u8>;
    resource res { constructor(); id: func() -> u32; }
    record has-res { r: res, tag: char }
    flat: func(w: wide, j: joined, k: option<joined>, c: char) -> joined;
    nested: func(l: list<list<string>>, s: list<s8>, r: raw) -> list<list<joined>>;
    handles: func(a: borrow<res>, b: list<borrow<res>>) -> result<has-res, list<res>>;
    wide-result: func() -> wide;
    many: func(a: joined, b: joined, c: joined, d: joined, e: wide, f: list<joined>) -> option<has-res>;
}
world guest {
    import shapes;
    import bare-after: func(x: s64, y: list<string>) -> option<f64>;
    export run: func() -> u32;
}";

#[test]
fn encoder_shapes() {
    assert!(
        instrument_and_check(&guest_from_wit(&[ENCODERS], "guest"))
            .replay
            .is_some(),
        "replay must be supported here"
    );
}

/// func-id = index in `ComponentInfo::intercepted_functions`: interface functions in import order
/// (types-only interfaces contribute none), then bare functions, wherever they sit in the world.
/// The plan checks its stub order against that list on every synthesis (`plan::Plan::new`);
/// this world interleaves the kinds so that a plain "world order" would differ.
#[test]
fn func_ids_follow_intercepted_functions() {
    let world = "package t:ids;
        interface types { record r { x: u32 } }
        interface one { use types.{r}; a: func(x: r); b: func() -> r; }
        interface two { c: func(); }
        world guest {
            import first-bare: func(x: u32);
            import one;
            import second-bare: func() -> string;
            import two;
            export run: func() -> u32;
        }";
    let guest = guest_from_wit(&[world], "guest");
    assert!(
        instrument_and_check(&guest).replay.is_some(),
        "replay must be supported here"
    );
    let info = proxy_gen::analyze(&guest).unwrap();
    let ids: Vec<(u32, Option<&str>, &str)> = info
        .intercepted_functions()
        .map(|f| (f.id, f.interface, f.function.name.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            (0, Some("t:ids/one"), "a"),
            (1, Some("t:ids/one"), "b"),
            (2, Some("t:ids/two"), "c"),
            (3, None, "first-bare"),
            (4, None, "second-bare"),
        ]
    );
}

/// A component that already imports the recorder interface cannot be recorded (the names would
/// clash), but can still be forwarded.
#[test]
fn recorder_name_clash() {
    let world = "package proxyrt:recorder@0.1.0;
        interface recorder { call: func(func-id: u32, args: list<u8>); }
        world guest { import recorder; export run: func() -> u32; }";
    let guest = guest_from_wit(&[world], "guest");
    proxy_gen::instrument(&guest, proxy_gen::Mode::Forward).expect("forward works");
    let err = proxy_gen::instrument(&guest, proxy_gen::Mode::Record).expect_err("clash");
    assert!(matches!(err, proxy_gen::Error::Unsupported(_)), "{err:?}");
}

/// Fixed-length lists and maps, in params and results, flat and through memory, with handles
/// inside: every mode composes, validates and keeps the guest's imports and exports. (They record
/// and replay at run time in tests/integration/newtypes.rs; the wire format's golden bytes are in
/// recorder-host's tests.)
#[test]
fn fixed_length_lists_and_maps() {
    let world = "package t:newtypes;
        interface i {
            resource r { constructor(); }
            small: func(x: list<u32, 4>) -> list<u8, 1>;
            big: func(x: list<string, 3>, y: list<list<u64, 2>, 20>) -> list<f64, 4>;
            counts: func(m: map<string, u32>) -> map<u32, list<string>>;
            handles: func(m: map<string, borrow<r>>, f: list<own<r>, 2>) -> map<u8, own<r>>;
            nested: func(x: option<map<string, list<s8, 3>>>) -> result<list<map<u16, string>, 2>, string>;
        }
        world guest { import i; export run: func() -> u32; }";
    let guest = guest_from_wit(&[world], "guest");
    let composed = instrument_and_check(&guest);
    assert!(composed.replay.is_some(), "replay composes too");
}

/// `recorder-host/wit/recorder.wit` (what the runtime implements) and the instance the record
/// proxy imports (checked by `instrument_and_check`) are the same interface.
#[test]
fn recorder_wit_matches_generated_import() {
    let wit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../recorder-host/wit/recorder.wit"
    ))
    .expect("recorder.wit");
    let world = "package t:uses-recorder;
        world guest {
            import proxyrt:recorder/recorder@0.1.0;
            import proxyrt:recorder/replayer@0.1.0;
            export run: func() -> u32;
        }";
    let guest = guest_from_wit(&[&wit, world], "guest");
    let (imports, _) = world_items(&guest);
    assert_eq!(
        imports.get(proxy_gen::RECORDER_INTERFACE),
        Some(&expected_recorder())
    );
    // And the replayer the replay proxy imports (checked by `instrument_and_check`).
    assert_eq!(
        imports.get(proxy_gen::REPLAYER_INTERFACE),
        Some(&expected_replayer())
    );
}

/// A world-level type used by an export is refused clearly (the composition did not validate;
/// found by the fuzzer); used by imports only it is fine (`world_level_types`).
#[test]
fn world_level_types_in_exports_are_refused() {
    let world = "package t:wt2;
        world guest {
            flags l { a, b }
            import f: func(x: u32);
            export name: func(xx: l) -> u32;
        }";
    let guest = guest_from_wit(&[world], "guest");
    for mode in [proxy_gen::Mode::Forward, proxy_gen::Mode::Record] {
        match proxy_gen::instrument(&guest, mode) {
            Err(proxy_gen::Error::Unsupported(msg)) => {
                assert!(
                    msg.contains("type `l` is used by an export"),
                    "{mode:?}: {msg}"
                )
            }
            other => panic!("{mode:?}: {:?}", other.map(|c| c.len())),
        }
    }
}

/// World-level types of bare function imports, in a proxy that wraps (no resource anywhere):
/// the stubs take the imported, named type (structurally defined, the export of a bare function
/// did not validate; found by the fuzzer). Replay imports the type too: it needs no host.
#[test]
fn world_level_types_when_wrapping() {
    let world = "package t:wt3;
        world guest {
            record txx { a: u32, b: list<string, 2> }
            variant v { one(txx), two }
            import xx: func(x: txx, y: v) -> option<v>;
            export run: func() -> u32;
        }";
    let guest = guest_from_wit(&[world], "guest");
    assert!(instrument_and_check(&guest).replay.is_some());
}

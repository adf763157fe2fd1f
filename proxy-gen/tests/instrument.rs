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
    instrument_and_check(&guest);
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
    instrument_and_check(&guest);
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
}";

#[test]
fn resources() {
    let guest = guest_from_wit(&[RESOURCES], "guest");
    instrument_and_check(&guest);
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
    instrument_and_check(&guest);
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
    instrument_and_check(&guest);
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
    instrument_and_check(&guest_from_wit(&[world], "guest"));
}

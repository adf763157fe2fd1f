//! The intercept table: names, versions, function kinds and resolved types.

mod common;
use common::guest_from_wit;
use proxy_gen::{analyze, FuncKind, ResourceRef, ValueType};

#[test]
fn interfaces_functions_and_types() {
    let v1 = "package pkg:x@0.2.6;
        interface y {
            resource h {
                constructor(name: string);
                read: func(n: u64) -> list<u8>;
                open: static func(name: string) -> h;
            }
            record info { size: u64, name: option<string> }
            stat: func(a: borrow<h>) -> result<info, u32>;
        }";
    let v2 = "package pkg:x@0.3.0; interface y { ping: func(); }";
    let world = "package t:an;
        world guest {
            import pkg:x/y@0.2.6;
            import pkg:x/y@0.3.0;
            import log: func(msg: string, items: list<tuple<u8, s64>>);
            export run: func() -> u32;
            export pkg:x/y@0.3.0;
        }";
    let info = analyze(&guest_from_wit(&[v1, v2, world], "guest")).unwrap();

    let names: Vec<_> = info
        .imported_interfaces
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(names, ["pkg:x/y@0.2.6", "pkg:x/y@0.3.0"]);
    let y = &info.imported_interfaces[0];
    assert_eq!(y.package.as_deref(), Some("pkg:x"));
    assert_eq!(y.interface.as_deref(), Some("y"));
    assert_eq!(y.version.as_deref(), Some("0.2.6"));
    assert_eq!(y.resources, ["h"]);

    let h = ResourceRef {
        interface: Some("pkg:x/y@0.2.6".into()),
        name: "h".into(),
    };
    let f = |name: &str| y.functions.iter().find(|f| f.name == name).unwrap();
    assert_eq!(f("[constructor]h").kind, FuncKind::Constructor(h.clone()));
    assert_eq!(f("[constructor]h").result, Some(ValueType::Own(h.clone())));
    assert_eq!(f("[method]h.read").kind, FuncKind::Method(h.clone()));
    assert_eq!(
        f("[method]h.read").params[0],
        ("self".into(), ValueType::Borrow(h.clone()))
    );
    assert_eq!(
        f("[method]h.read").result,
        Some(ValueType::List(Box::new(ValueType::U8)))
    );
    assert_eq!(f("[static]h.open").kind, FuncKind::Static(h.clone()));
    assert_eq!(f("stat").kind, FuncKind::Freestanding);
    assert_eq!(
        f("stat").result,
        Some(ValueType::Result {
            ok: Some(Box::new(ValueType::Record {
                name: Some("info".into()),
                fields: vec![
                    ("size".into(), ValueType::U64),
                    (
                        "name".into(),
                        ValueType::Option(Box::new(ValueType::String))
                    ),
                ],
            })),
            err: Some(Box::new(ValueType::U32)),
        })
    );

    assert_eq!(info.imported_functions.len(), 1);
    assert_eq!(info.imported_functions[0].name, "log");
    assert_eq!(
        info.imported_functions[0].params[1].1,
        ValueType::List(Box::new(ValueType::Tuple(vec![
            ValueType::U8,
            ValueType::S64
        ])))
    );
    assert_eq!(info.exported_functions[0].name, "run");
    assert_eq!(info.exported_interfaces[0].name, "pkg:x/y@0.3.0");
}

#[test]
fn intercepted_function_ids() {
    let world = "package t:ids;
        interface a { f: func(); g: func(x: u32); }
        interface b { h: func() -> string; }
        world guest {
            import first: func();
            import a;
            import second: func(s: string);
            import b;
        }";
    let info = analyze(&guest_from_wit(&[world], "guest")).unwrap();
    let table: Vec<_> = info
        .intercepted_functions()
        .map(|f| {
            (
                f.id,
                f.interface.unwrap_or("-").to_string(),
                f.function.name.clone(),
            )
        })
        .collect();
    let expected = [
        (0, "t:ids/a", "f"),
        (1, "t:ids/a", "g"),
        (2, "t:ids/b", "h"),
        (3, "-", "first"),
        (4, "-", "second"),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(i, a, b)| (*i, a.to_string(), b.to_string()))
        .collect();
    assert_eq!(table, expected);
    // And the proxy for this world composes (bare functions interleaved with interfaces).
    common::instrument_and_check(&guest_from_wit(&[world], "guest"));
}

//! Bad input gives a clear error, never a panic; a component with no imports is left unchanged.

use proxy_gen::{analyze, instrument, Error, Mode};

fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).expect("test WAT parses")
}

#[test]
fn core_module_is_rejected() {
    let module = wat(r#"(module (func (export "_start")))"#);
    for result in [
        analyze(&module).map(|_| ()),
        instrument(&module, Mode::Record).map(|_| ()),
    ] {
        let err = result.expect_err("a core module must be rejected");
        assert!(matches!(err, Error::CoreModule), "{err:?}");
        assert!(
            err.to_string()
                .contains("this is a core wasm module, not a component"),
            "{err}"
        );
    }
}

#[test]
fn garbage_is_rejected() {
    for bytes in [
        &b""[..],
        b"\0as",
        b"hello, world",
        b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0",
    ] {
        let err = instrument(bytes, Mode::Record).expect_err("not wasm");
        assert!(matches!(err, Error::NotWasm), "{err:?}");
        assert!(err.to_string().contains("not WebAssembly"), "{err}");
    }
    // A wasm header with an unknown version.
    let err = analyze(b"\0asm\x02\0\0\0").expect_err("unknown version");
    assert!(matches!(err, Error::UnknownVersion(_)), "{err:?}");
}

#[test]
fn malformed_component_is_rejected() {
    let mut good = wat(r#"(component (import "f" (func)))"#);
    // Truncated: the validator's message (with its offset) is passed on.
    good.truncate(good.len() - 3);
    let err = instrument(&good, Mode::Record).expect_err("truncated");
    assert!(matches!(err, Error::Malformed(_)), "{err:?}");
    assert!(
        err.to_string().starts_with("malformed component: "),
        "{err}"
    );

    // Well-formed binary, invalid component: refers to a type index that does not exist.
    let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
    // import section (id 10): 1 import, name "f" (0x00 prefix form), func type 5 (undefined)
    bytes.extend([10, 6, 1, 0, 1, b'f', 1, 5]);
    let err = analyze(&bytes).expect_err("invalid");
    assert!(matches!(err, Error::Malformed(_)), "{err:?}");
}

#[test]
fn wit_package_is_not_a_component() {
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve
        .push_str("p.wit", "package a:b; interface i { f: func(); }")
        .unwrap();
    let bytes = wit_component::encode(&resolve, pkg).unwrap();
    let err = analyze(&bytes).expect_err("a WIT package is not a runnable component");
    assert!(err.to_string().contains("WIT package"), "{err}");
}

/// With no imports there is nothing to intercept: the composition is the identity, and the input
/// comes back byte for byte.
#[test]
fn no_imports_is_identity() {
    let component = wat(r#"(component
            (core module $m (func (export "run") (result i32) i32.const 0))
            (core instance $i (instantiate $m))
            (func (export "run") (result u32) (canon lift (core func $i "run")))
        )"#);
    for mode in [Mode::Forward, Mode::Record] {
        let out = instrument(&component, mode).unwrap();
        assert_eq!(out, component, "{mode:?}");
    }
    let info = analyze(&component).unwrap();
    assert!(info.imported_interfaces.is_empty() && info.imported_functions.is_empty());
    assert_eq!(info.exported_functions.len(), 1);
}

#[test]
fn replay_imports_only_the_replayer() {
    let component = wat(r#"(component (import "f" (func)))"#);
    let composed = instrument(&component, Mode::Replay).expect("replay");
    let info = analyze(&composed).unwrap();
    assert!(info.imported_functions.is_empty(), "{info:?}");
    let names: Vec<&str> = info
        .imported_interfaces
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(names, [proxy_gen::REPLAYER_INTERFACE]);
    // Bad input is still reported as such in replay mode.
    let err = instrument(b"junk", Mode::Replay).expect_err("junk");
    assert!(matches!(err, Error::NotWasm), "{err:?}");
}

#[test]
fn async_functions_are_reported_unsupported() {
    let component = wat(r#"(component
            (import "i" (instance (export "f" (func async (param "x" u32)))))
        )"#);
    let err = instrument(&component, Mode::Record).expect_err("async");
    assert!(matches!(err, Error::Unsupported(_)), "{err:?}");
    assert!(err.to_string().contains("async"), "{err}");
}

/// wac-graph 0.12 cannot encode a root-level function import taking a borrow; this is reported,
/// not a panic.
#[test]
fn bare_function_with_borrow_is_reported_unsupported() {
    let component = wat(r#"(component
            (import "i" (instance $i (export "h" (type (sub resource)))))
            (alias export $i "h" (type $h))
            (import "h" (type $h2 (eq $h)))
            (import "f" (func (param "x" (borrow $h2))))
        )"#);
    let err = instrument(&component, Mode::Record).expect_err("borrow in a bare function");
    assert!(matches!(err, Error::Unsupported(_)), "{err:?}");
    assert!(err.to_string().contains("wac-graph"), "{err}");
}

/// Invalid code in a function body passes structural decoding; the composition's validation
/// catches it and the error blames the input, not proxy-gen.
#[test]
fn invalid_function_body_is_malformed_input() {
    let component = wat(r#"(component
            (import "f" (func))
            (core module (func (result i32) i64.const 1))
        )"#);
    let err = instrument(&component, Mode::Record).expect_err("invalid body");
    assert!(matches!(err, Error::Malformed(_)), "{err:?}");
    assert!(err.to_string().contains("type mismatch"), "{err}");
}

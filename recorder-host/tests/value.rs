//! The value encoding: golden bytes for every type kind (the proxy's generated wasm must produce
//! exactly these), round trips through WAVE text, and corrupt input that must fail cleanly.

use recorder_host::types::{ResourceRef, ValueType as V};
use recorder_host::value::{convert, encode, wave, wave_type, Decoder};
use wasm_wave::value::Value;
use wasm_wave::wasm::WasmValue;

fn b(t: V) -> Box<V> {
    Box::new(t)
}

fn record() -> V {
    V::Record {
        name: Some("point".into()),
        fields: vec![("x".into(), V::S32), ("y".into(), V::S32)],
    }
}

fn variant() -> V {
    V::Variant {
        name: Some("shape".into()),
        cases: vec![
            ("none".into(), None),
            ("circle".into(), Some(V::F64)),
            ("named".into(), Some(V::String)),
        ],
    }
}

fn flags() -> V {
    V::Flags {
        name: Some("perms".into()),
        flags: (0..10).map(|i| format!("f{i}")).collect(),
    }
}

/// (type, WAVE text, expected bytes)
fn cases() -> Vec<(V, &'static str, Vec<u8>)> {
    let handle = ResourceRef {
        interface: Some("proxyrt:zoo/host@0.1.0".into()),
        name: "blob".into(),
    };
    vec![
        // No count: the type has it.
        (
            V::FixedLengthList(b(V::U16), 3),
            "[1, 300, 2]",
            vec![1, 0xac, 0x02, 2],
        ),
        // A count, then key and value of each entry.
        (
            V::Map(b(V::String), b(V::U32)),
            r#"[("a", 1), ("bc", 300)]"#,
            vec![2, 1, b'a', 1, 2, b'b', b'c', 0xac, 0x02],
        ),
        (V::Bool, "true", vec![1]),
        (V::U8, "255", vec![255]),
        (V::S8, "-1", vec![0xff]),
        (V::U16, "300", vec![0xac, 0x02]),
        (V::U32, "0", vec![0]),
        (
            V::U64,
            "18446744073709551615",
            vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        ),
        (V::S16, "-2", vec![3]),
        (V::S32, "2", vec![4]),
        (
            V::S64,
            "-9223372036854775808",
            vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        ),
        (V::F32, "1.5", 1.5f32.to_le_bytes().to_vec()),
        (V::F64, "-0.25", (-0.25f64).to_le_bytes().to_vec()),
        (V::Char, "'λ'", vec![0xbb, 0x07]),
        (V::String, "\"hi\"", vec![2, b'h', b'i']),
        (V::List(b(V::U8)), "[1, 2, 3]", vec![3, 1, 2, 3]),
        (V::List(b(V::String)), "[\"a\", \"\"]", vec![2, 1, b'a', 0]),
        (V::Option(b(V::U32)), "some(7)", vec![1, 7]),
        (V::Option(b(V::U32)), "none", vec![0]),
        (
            V::Result {
                ok: Some(b(V::U32)),
                err: Some(b(V::String)),
            },
            "err(\"no\")",
            vec![1, 2, b'n', b'o'],
        ),
        (
            V::Result {
                ok: None,
                err: None,
            },
            "ok",
            vec![0],
        ),
        (
            V::Tuple(vec![V::U8, V::String]),
            "(1, \"x\")",
            vec![1, 1, b'x'],
        ),
        (record(), "{x: -1, y: 1}", vec![1, 2]),
        (variant(), "%none", vec![0]),
        (
            variant(),
            "circle(2)",
            [vec![1], 2f64.to_le_bytes().to_vec()].concat(),
        ),
        (variant(), "named(\"n\")", vec![2, 1, b'n']),
        (
            V::Enum {
                name: None,
                cases: vec!["red".into(), "green".into()],
            },
            "green",
            vec![1],
        ),
        (flags(), "{f0, f9}", vec![0b0000_0001, 0b0000_0010]),
        (flags(), "{}", vec![0, 0]),
        (V::Own(handle.clone()), "3", vec![3]),
        (V::Borrow(handle), "200", vec![0xc8, 0x01]),
    ]
}

#[test]
fn golden_bytes_and_round_trips() {
    for (ty, text, bytes) in cases() {
        let wt = wave_type(&ty).unwrap();
        let value: Value = wasm_wave::from_str(&wt, text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let mut out = Vec::new();
        encode(&value, &ty, &mut out).unwrap();
        assert_eq!(out, bytes, "encoding of {text} as {ty:?}");
        let decoded = Decoder::decode_all(&bytes, [&ty]).unwrap();
        assert_eq!(wave(&decoded[0]), text, "decoding {bytes:?} as {ty:?}");
    }
}

/// `convert` rebuilds every kind of value, field and case names included, and refuses a value of
/// another type.
#[test]
fn every_kind_converts_between_value_implementations() {
    for (ty, text, bytes) in cases() {
        let wt = wave_type(&ty).unwrap();
        let value: Value = wasm_wave::from_str(&wt, text).unwrap();
        let converted: Value = convert(&value, &wt).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(wave(&converted), text);
        let mut out = Vec::new();
        encode(&converted, &ty, &mut out).unwrap();
        assert_eq!(out, bytes, "{text}");
    }
    let e = convert::<Value, Value>(&Value::make_u32(1), &wave_type(&V::String).unwrap())
        .expect_err("a u32 is no string");
    assert!(e.contains("expected a String"), "{e}");
}

/// The wire bytes keep NaN payloads (replay compares bytes); WAVE, a display form, has one `nan`.
#[test]
fn nan_payloads_are_bytes_and_display_as_nan() {
    let bits = 0x7ff4_0000_0000_0001u64; // a signalling NaN with a payload
    let v = Decoder::decode_all(&bits.to_le_bytes(), [&V::F64]).unwrap();
    assert_eq!(wave(&v[0]), "nan");
    let v = Decoder::decode_all(&0xffc0_0001u32.to_le_bytes(), [&V::F32]).unwrap();
    assert_eq!(wave(&v[0]), "nan");
}

#[test]
fn several_values_and_trailing_bytes() {
    let v = Decoder::decode_all(&[1, 2, b'h', b'i'], [&V::U8, &V::String]).unwrap();
    assert_eq!(recorder_host::value::wave_args(&v), "(1, \"hi\")");
    let err = Decoder::decode_all(&[1, 2], [&V::U8]).unwrap_err();
    assert!(err.reason.contains("trailing"), "{err}");
}

#[test]
fn corrupt_bytes_fail_cleanly() {
    let bad: &[(V, &[u8], &str)] = &[
        (V::Bool, &[2], "bool byte"),
        (V::U8, &[], "needed"),
        (V::U16, &[0x80, 0x80, 0x04], "does not fit"),
        (V::U64, &[0xff; 11], "overflows"),
        (V::S8, &[], "needed"),
        (V::Char, &[0x80, 0xb0, 0x03], "not a Unicode scalar"), // 0xd800, a surrogate
        (V::String, &[5, b'a'], "exceeds"),
        (V::String, &[2, 0xff, 0xfe], "UTF-8"),
        (
            V::List(Box::new(V::U32)),
            &[0xff, 0xff, 0xff, 0xff, 0x0f],
            "exceeds",
        ),
        (V::Option(Box::new(V::U8)), &[2], "option tag"),
        (variant(), &[9], "case 9 of 3"),
    ];
    for (ty, bytes, expected) in bad {
        let err = Decoder::decode_all(bytes, [ty]).unwrap_err();
        assert!(
            err.to_string().contains(expected),
            "{ty:?} {bytes:?}: {err}"
        );
    }
}

#[test]
fn every_prefix_and_flip_of_a_complex_value_is_handled() {
    let ty = V::List(Box::new(V::Tuple(vec![
        record(),
        variant(),
        flags(),
        V::String,
    ])));
    let text = r#"[({x: 1, y: -1}, named("abc"), {f3}, "xyz"), ({x: 0, y: 0}, %none, {}, "")]"#;
    let value: Value = wasm_wave::from_str(&wave_type(&ty).unwrap(), text).unwrap();
    let mut bytes = Vec::new();
    encode(&value, &ty, &mut bytes).unwrap();
    for cut in 0..bytes.len() {
        assert!(
            Decoder::decode_all(&bytes[..cut], [&ty]).is_err(),
            "prefix {cut} decoded"
        );
    }
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut damaged = bytes.clone();
            damaged[i] ^= 1 << bit;
            let _ = Decoder::decode_all(&damaged, [&ty]); // must not panic
        }
    }
}

//! The low-level reader of the value format: LEB128 bounds, stepping over values without building
//! them, finding the handles in them, and agreeing with the decoder on every input.

use recorder_host::types::{ResourceRef, ValueType as V};
use recorder_host::value::{encode, wave_type, Cursor, DecodeError, Decoder, Handle};
use wasm_wave::value::Value;

const STREAMS: &str = "wasi:io/streams@0.2.12";

fn resource(interface: &str, name: &str) -> ResourceRef {
    ResourceRef {
        interface: Some(interface.into()),
        name: name.into(),
    }
}

fn b(t: V) -> Box<V> {
    Box::new(t)
}

/// The ids of the `own<output-stream>` handles in one value of `ty`, as the replayer looks for
/// them in a result.
fn own_streams(ty: &V, bytes: &[u8]) -> Result<Vec<u32>, DecodeError> {
    let mut handles = Vec::new();
    Cursor::new(bytes).handles(ty, &mut handles)?;
    Ok(handles
        .iter()
        .filter(|h| h.own && h.resource.name == "output-stream")
        .map(|h| h.id)
        .collect())
}

/// The inputs of the runtime's former hand-written reader (`leb_u32`, `walk`), with the same
/// answers (`Some` is `Ok`, `None` is `Err`).
#[test]
fn leb_and_walk_never_overrun() {
    let mut c = Cursor::new(&[0x90, 0x4e]);
    assert_eq!(c.u32(), Ok(10000));
    assert_eq!(c.position(), 2);
    assert!(c.is_empty());
    assert!(Cursor::new(&[0x80]).u32().is_err());
    assert!(Cursor::new(&[0xff, 0xff, 0xff, 0xff, 0x7f]).u32().is_err());
    let ty = V::Result {
        ok: Some(b(V::Own(resource(STREAMS, "output-stream")))),
        err: None,
    };
    assert_eq!(own_streams(&ty, &[0, 5]), Ok(vec![5]));
    assert!(own_streams(&ty, &[0]).is_err());
    assert!(own_streams(&ty, &[2, 5]).is_err());
    let empty = V::List(b(V::Tuple(vec![])));
    assert!(own_streams(&empty, &[0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
    let list = V::List(b(V::String));
    assert!(own_streams(&list, &[0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
}

/// Integers up to 32 bits take at most 5 bytes, 64-bit ones at most 10 (as the proxy's own
/// readers), and must fit their type.
#[test]
fn leb128_lengths_and_ranges() {
    let max32 = [0xff, 0xff, 0xff, 0xff, 0x0f];
    assert_eq!(Cursor::new(&max32).u32(), Ok(u32::MAX));
    let padded = [0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
    let e = Cursor::new(&padded).u32().unwrap_err();
    assert_eq!(e.offset, 0);
    assert!(e.reason.contains("longer than 5 bytes"), "{e}");
    assert!(Cursor::new(&padded).u64().is_ok());
    assert!(Cursor::new(&[0x80, 0x80, 0x04]).u16().is_err());
    assert_eq!(Cursor::new(&[0xff, 0xff, 0x03]).u16(), Ok(u16::MAX));
    let max64 = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    assert_eq!(Cursor::new(&max64).u64(), Ok(u64::MAX));
    assert_eq!(Cursor::new(&max64).s64(), Ok(i64::MIN));
    let e = Cursor::new(&[0x80; 11]).u64().unwrap_err();
    assert!(e.reason.contains("overflows 64 bits"), "{e}");
    assert_eq!(Cursor::new(&[3]).s16(), Ok(-2));
    assert!(Cursor::new(&[0xff, 0xff, 0x0f]).s16().is_err());
    assert_eq!(
        Cursor::new(&[]).byte().unwrap_err().reason,
        "1 bytes needed, 0 left"
    );
}

/// A write's `(borrow<output-stream>, list<u8>)` arguments: the stream's id and the bytes in
/// place, one bounds check for the bytes.
#[test]
fn write_arguments_split_into_id_and_bytes() {
    let mut args = vec![0xc8, 0x01, 5];
    args.extend_from_slice(b"hello");
    let mut c = Cursor::new(&args);
    assert_eq!(c.u32(), Ok(200));
    assert_eq!(c.rest(), &[5, b'h', b'e', b'l', b'l', b'o']);
    assert_eq!(c.bytes(), Ok(&b"hello"[..]));
    assert!(c.is_empty());
    assert_eq!(c.rest(), &[] as &[u8]);
    // A length beyond the bytes left reads nothing.
    let mut c = Cursor::new(&[1, 6, b'h']);
    c.u32().unwrap();
    let e = c.bytes().unwrap_err();
    assert!(e.reason.contains("exceeds the 1 bytes left"), "{e}");
}

/// Every handle, `own` or `borrow`, in encoding order, wherever it sits.
#[test]
fn handles_are_collected_in_order() {
    let (a, s) = (
        resource(STREAMS, "input-stream"),
        resource(STREAMS, "output-stream"),
    );
    let ty = V::Tuple(vec![
        V::Borrow(a.clone()),
        V::List(b(V::Own(s.clone()))),
        V::Option(b(V::Own(a.clone()))),
        V::Map(b(V::String), b(V::Own(s.clone()))),
        V::Variant {
            name: None,
            cases: vec![
                ("none".into(), None),
                ("one".into(), Some(V::Borrow(s.clone()))),
            ],
        },
    ]);
    let bytes = [1, 2, 2, 3, 1, 4, 1, 1, b'k', 5, 1, 6];
    let mut out = Vec::new();
    let mut c = Cursor::new(&bytes);
    c.handles(&ty, &mut out).unwrap();
    assert!(c.is_empty());
    let h = |resource, id, own| Handle { resource, id, own };
    assert_eq!(
        out,
        [
            h(&a, 1, false),
            h(&s, 2, true),
            h(&s, 3, true),
            h(&a, 4, true),
            h(&s, 5, true),
            h(&s, 6, false),
        ]
    );
    let mut c = Cursor::new(&bytes);
    c.skip(&ty).unwrap();
    assert_eq!(c.position(), bytes.len());
}

/// A fixed-length list needs a byte per element: its length is checked before anything is read.
#[test]
fn fixed_lengths_are_checked_against_the_bytes_left() {
    // Every WIT type takes a byte at least, so a header claiming `u32::MAX` elements of an empty
    // tuple (no WIT type) is refused at once instead of counted to.
    let ty = V::FixedLengthList(b(V::Tuple(vec![])), u32::MAX);
    let mut c = Cursor::new(&[]);
    assert!(c.skip(&ty).is_err());
    assert!(Decoder::decode_all(&[], [&ty]).is_err());
    let ty = V::FixedLengthList(b(V::U8), 3);
    assert!(Cursor::new(&[1, 2]).skip(&ty).is_err());
    assert_agree(&ty, &[1, 2, 3]);
}

/// Skips one value of `ty` and requires every byte used: `decode_all`'s verdict, without values.
fn skip_all(ty: &V, bytes: &[u8]) -> Result<(), DecodeError> {
    let mut c = Cursor::new(bytes);
    c.skip(ty)?;
    if !c.is_empty() {
        return Err(DecodeError {
            offset: c.position(),
            reason: format!("{} unexpected trailing bytes", c.rest().len()),
        });
    }
    Ok(())
}

fn assert_agree(ty: &V, bytes: &[u8]) {
    let decoded = Decoder::decode_all(bytes, [ty]).map(|_| ());
    assert_eq!(skip_all(ty, bytes), decoded, "{ty:?} {bytes:?}");
}

/// The skipper and the decoder are one reader: on every prefix and every flipped bit of a value
/// of every kind, they accept the same bytes or fail with the same error.
#[test]
fn skip_and_decode_agree_on_every_input() {
    let variant = V::Variant {
        name: None,
        cases: vec![("none".into(), None), ("named".into(), Some(V::String))],
    };
    let ty = V::Tuple(vec![
        V::Bool,
        V::S8,
        V::U16,
        V::S32,
        V::U64,
        V::S64,
        V::F32,
        V::F64,
        V::Char,
        V::List(b(V::U8)),
        V::List(b(V::Record {
            name: None,
            fields: vec![("x".into(), V::S16), ("y".into(), V::U32)],
        })),
        V::FixedLengthList(b(V::U8), 2),
        V::Map(b(V::String), b(V::Option(b(V::U32)))),
        V::Result {
            ok: None,
            err: Some(b(variant.clone())),
        },
        variant,
        V::Enum {
            name: None,
            cases: vec!["a".into(), "b".into()],
        },
        V::Flags {
            name: None,
            flags: (0..9).map(|i| format!("f{i}")).collect(),
        },
        V::Own(resource(STREAMS, "output-stream")),
        V::String,
    ]);
    let text = r#"(true, -3, 300, -70000, 5000000000, -1, 1.5, -2.5, 'λ', [1, 2, 255], [{x: -1, y: 1}, {x: 2, y: 300}], [7, 8], [("k", some(1)), ("", none)], err(named("e")), %none, b, {f0, f8}, 9, "xyz")"#;
    let value: Value = wasm_wave::from_str(&wave_type(&ty).unwrap(), text).unwrap();
    let mut bytes = Vec::new();
    encode(&value, &ty, &mut bytes).unwrap();
    assert_eq!(skip_all(&ty, &bytes), Ok(()));
    for cut in 0..=bytes.len() {
        assert_agree(&ty, &bytes[..cut]);
    }
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut damaged = bytes.clone();
            damaged[i] ^= 1 << bit;
            assert_agree(&ty, &damaged);
        }
    }
    // Overlong integers, bogus counts and tags, invalid UTF-8 and chars, unsupported types.
    let bad: &[(V, &[u8])] = &[
        (V::U32, &[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
        (V::S32, &[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
        (V::U64, &[0xff; 11]),
        (V::Char, &[0x80, 0xb0, 0x03]),
        (V::String, &[2, 0xff, 0xfe]),
        (V::List(b(V::U32)), &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        (V::Option(b(V::U8)), &[2]),
        (V::Bool, &[2]),
        (V::Unknown, &[0]),
    ];
    for (ty, bytes) in bad {
        assert!(skip_all(ty, bytes).is_err(), "{ty:?} {bytes:?}");
        assert_agree(ty, bytes);
    }
}

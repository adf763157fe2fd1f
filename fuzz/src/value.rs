//! The value decoder, on arbitrary types and bytes: the four readers of the value format (the
//! [`Decoder`], [`Cursor::skip`], [`Cursor::handles`] and the printer [`show_all`]) accept the same
//! bytes, what decodes encodes back to the same value, and none of them panics, loops or
//! allocates beyond the input on any type.

use arbitrary::Unstructured;
use recorder_host::types::ValueType;
use recorder_host::value::{encode, first_difference, show_all, wave, Cursor, Decoder, NoNames};

/// The target: `data` is types (see [`crate::types`]), then the bytes to read as one value of
/// each.
pub fn value_decoder(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(types) = crate::types::value_types(&mut u) else {
        return;
    };
    let bytes = u.take_rest();
    check(&types, bytes);
}

/// Checks every reader of `bytes` as values of `types` against the others.
pub fn check(types: &[ValueType], bytes: &[u8]) {
    let skipped = whole(bytes, |c| types.iter().try_for_each(|t| c.skip(t)));
    let mut handles = Vec::new();
    let walked = whole(bytes, |c| {
        types.iter().try_for_each(|t| c.handles(t, &mut handles))
    });
    assert_eq!(
        skipped, walked,
        "skip and handles disagree on {types:?} / {bytes:?}"
    );
    let shown = show_all(types, bytes, &NoNames);
    let decoded = Decoder::decode_all(bytes, types);
    match &decoded {
        Ok(values) => {
            assert!(skipped, "decoded but not skipped: {types:?} / {bytes:?}");
            assert!(
                shown.is_ok(),
                "decoded but not shown ({:?}): {types:?} / {bytes:?}",
                shown.err()
            );
            // What decodes encodes, and the encoding decodes to the same values (compared in
            // WAVE: NaNs are equal there). The bytes themselves may differ: a LEB128 integer
            // can be written with redundant bytes, which the encoder never writes.
            let mut again = Vec::new();
            for (value, ty) in values.iter().zip(types) {
                if let Err(e) = encode(value, ty, &mut again) {
                    panic!("a decoded value does not encode ({e}): {types:?} / {bytes:?}");
                }
            }
            let redecoded = Decoder::decode_all(&again, types)
                .unwrap_or_else(|e| panic!("re-encoded values do not decode ({e}): {types:?}"));
            let text = |vs: &[recorder_host::value::Value]| vs.iter().map(wave).collect::<Vec<_>>();
            assert_eq!(text(values), text(&redecoded), "{types:?} / {bytes:?}");
            // Equal values have no first difference; the canonical re-encoding may differ
            // from `bytes` only where a value is written with redundant bytes.
            let labels: Vec<String> = (0..types.len()).map(|i| format!("p{i}")).collect();
            assert_eq!(
                first_difference(types, &labels, bytes, bytes, &NoNames),
                None,
                "{types:?} / {bytes:?}"
            );
            let _ = first_difference(types, &labels, bytes, &again, &NoNames);
        }
        Err(_) => {
            // The printer reads as the decoder does; skip also accepts the types that have no
            // WAVE form (a future, a stream), so it is not compared here.
            assert!(
                shown.is_err() || !wave_printable(types),
                "shown but not decoded: {types:?} / {bytes:?}"
            );
        }
    }
    // A difference against any other bytes is found or not, but never a panic.
    let labels = Vec::new();
    let (head, tail) = bytes.split_at(bytes.len() / 2);
    let _ = first_difference(types, &labels, head, tail, &NoNames);
}

/// Whether reading with `read` succeeds and uses every byte.
fn whole(
    bytes: &[u8],
    read: impl FnOnce(&mut Cursor<'_>) -> Result<(), recorder_host::value::DecodeError>,
) -> bool {
    let mut c = Cursor::new(bytes);
    read(&mut c).is_ok() && c.is_empty()
}

/// Whether every type has a WAVE form (the decoder refuses the others).
fn wave_printable(types: &[ValueType]) -> bool {
    types
        .iter()
        .all(|t| recorder_host::value::wave_type(t).is_ok())
}

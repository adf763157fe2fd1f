//! Values as people read them: WAVE, except where WAVE is hard to read. A `list<u8>` that is
//! text is a quoted, escaped string with its length (`"sha=5cd6\n" (9 bytes)`), other bytes a
//! short hex dump (`0x00ff10 (3 bytes)`); long strings, byte lists and lists are cut in the middle,
//! saying how much was cut; a handle is its id and, when [`HandleNames`] knows it, what created it
//! (`1 (stdout)`). Everything else is written exactly as wasm-wave's writer writes it.
//!
//! Why not WAVE throughout: a guest's writes, reads and random bytes are `list<u8>`, which WAVE
//! writes as `[115, 104, 97, ...]`: precise, but nobody reads ASCII codes. `trace show --raw`
//! keeps the WAVE form.
//!
//! The printer reads the bytes through a [`Cursor`] (no [`Value`](super::Value) is built), so it
//! accepts exactly the bytes the decoder accepts and fails with the same errors. It also finds the
//! first difference between two encodings of values of one type ([`first_difference`]), which a
//! divergence report shows instead of a byte offset.

use super::cursor::{Cursor, DecodeError};
use super::wave;
use crate::types::ValueType;
use std::fmt::Write as _;
use wasm_wave::lex::Keyword;
use wasm_wave::value::Value;
use wasm_wave::wasm::WasmValue;

/// What created a handle, as people name it (`stdout`, `/data/f.txt`, `GET http://host/x`).
pub trait HandleNames {
    /// The name of the handle `id`, if known.
    fn name(&self, id: u32) -> Option<&str>;
}

/// Knows no handle: ids are shown bare.
pub struct NoNames;

impl HandleNames for NoNames {
    fn name(&self, _id: u32) -> Option<&str> {
        None
    }
}

/// Strings and byte lists longer than this (in characters or bytes) are cut in the middle.
const MAX_TEXT: usize = 80;
/// What is kept of a long one: its head and its tail.
const HEAD_TEXT: usize = 56;
const TAIL_TEXT: usize = 16;
/// Byte lists that are not text: at most this many bytes in hex, then cut.
const MAX_HEX: usize = 24;
const HEAD_HEX: usize = 16;
const TAIL_HEX: usize = 4;
/// Lists of more elements than this are cut in the middle.
const MAX_ITEMS: usize = 16;
const HEAD_ITEMS: usize = 10;
const TAIL_ITEMS: usize = 3;

/// Whether `bytes` read as text: valid UTF-8 without control characters other than
/// tab, newline, carriage return and escape (terminal colors).
pub fn is_text(bytes: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(bytes).ok()?;
    s.chars()
        .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\u{1b}'))
        .then_some(s)
}

/// `s` escaped as WAVE escapes a string's characters (without the quotes).
fn escape_into(out: &mut String, s: &str) {
    for ch in s.chars() {
        if "\\\"\'\t\r\n".contains(ch) {
            let _ = write!(out, "{}", ch.escape_default());
        } else if ch.is_control() {
            let _ = write!(out, "{}", ch.escape_unicode());
        } else {
            let _ = write!(out, "{}", ch.escape_debug());
        }
    }
}

/// `s` as a quoted string, cut in the middle if long: `"head…tail"`, and how many characters
/// were cut (0 if none).
fn quoted(s: &str) -> (String, usize) {
    let n = s.chars().count();
    let mut out = String::from("\"");
    let cut = if n > MAX_TEXT {
        let head: String = s.chars().take(HEAD_TEXT).collect();
        let tail: String = s.chars().skip(n - TAIL_TEXT).collect();
        escape_into(&mut out, &head);
        out.push('…');
        escape_into(&mut out, &tail);
        n - HEAD_TEXT - TAIL_TEXT
    } else {
        escape_into(&mut out, s);
        0
    };
    out.push('"');
    (out, cut)
}

fn hex_into(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

/// A `list<u8>` as people read it: text, or hex.
pub fn show_bytes(bytes: &[u8]) -> String {
    let n = bytes.len();
    let unit = if n == 1 { "byte" } else { "bytes" };
    match is_text(bytes) {
        Some(text) => match quoted(text) {
            (q, 0) => format!("{q} ({n} {unit})"),
            (q, cut) => format!("{q} ({n} {unit}, {cut} characters cut)"),
        },
        None => {
            let mut out = String::from("0x");
            if n > MAX_HEX {
                hex_into(&mut out, &bytes[..HEAD_HEX]);
                out.push('…');
                hex_into(&mut out, &bytes[n - TAIL_HEX..]);
                let cut = n - HEAD_HEX - TAIL_HEX;
                let _ = write!(out, " ({n} bytes, {cut} cut)");
            } else {
                hex_into(&mut out, bytes);
                let _ = write!(out, " ({n} {unit})");
            }
            out
        }
    }
}

/// A WAVE label: `%` before a keyword, as wasm-wave writes variant and enum cases.
fn label(out: &mut String, name: &str) {
    if Keyword::decode(name).is_some() {
        out.push('%');
    }
    out.push_str(name);
}

/// The values of `types` encoded in `bytes`, as people read them, separated by commas; the
/// error of the first value that is not well-formed, or of trailing bytes.
pub fn show_all(
    types: &[ValueType],
    bytes: &[u8],
    names: &dyn HandleNames,
) -> Result<String, DecodeError> {
    let mut c = Cursor::new(bytes);
    let mut out = String::new();
    for (i, ty) in types.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        show(&mut c, ty, names, &mut out)?;
    }
    let trailing = c.rest().len();
    if trailing != 0 {
        return Err(c.error(format!("{trailing} unexpected trailing bytes")));
    }
    Ok(out)
}

/// Reads one value of type `ty` from `c` and writes it to `out` as people read it.
pub fn show(
    c: &mut Cursor<'_>,
    ty: &ValueType,
    names: &dyn HandleNames,
    out: &mut String,
) -> Result<(), DecodeError> {
    use ValueType as V;
    let leaf = |v: Value, out: &mut String| out.push_str(&wave(&v));
    match ty {
        V::Bool => leaf(Value::make_bool(c.bool()?), out),
        V::U8 => leaf(Value::make_u8(c.byte()?), out),
        V::S8 => leaf(Value::make_s8(c.byte()? as i8), out),
        V::U16 => leaf(Value::make_u16(c.u16()?), out),
        V::U32 => leaf(Value::make_u32(c.u32()?), out),
        V::U64 => leaf(Value::make_u64(c.u64()?), out),
        V::S16 => leaf(Value::make_s16(c.s16()?), out),
        V::S32 => leaf(Value::make_s32(c.s32()?), out),
        V::S64 => leaf(Value::make_s64(c.s64()?), out),
        V::F32 => leaf(Value::make_f32(c.f32()?), out),
        V::F64 => leaf(Value::make_f64(c.f64()?), out),
        V::Char => leaf(Value::make_char(c.char()?), out),
        V::String => {
            let s = c.str()?;
            match quoted(s) {
                (q, 0) => out.push_str(&q),
                (q, cut) => {
                    let _ = write!(out, "{q} ({cut} characters cut)");
                }
            }
        }
        V::Own(_) | V::Borrow(_) => {
            let id = c.u32()?;
            match names.name(id) {
                Some(name) => {
                    let _ = write!(out, "{id} ({name})");
                }
                None => {
                    let _ = write!(out, "{id}");
                }
            }
        }
        V::List(t) if **t == V::U8 => out.push_str(&show_bytes(c.bytes()?)),
        V::List(t) => {
            let n = c.count()?;
            items(c, t, n, names, out)?;
        }
        V::FixedLengthList(t, n) => {
            let n = c.fixed_count(*n)?;
            items(c, t, n, names, out)?
        }
        V::Map(k, v) => {
            let n = c.count()?;
            let entry = V::Tuple(vec![(**k).clone(), (**v).clone()]);
            items(c, &entry, n, names, out)?;
        }
        V::Option(t) => {
            if c.tag("option")? {
                out.push_str("some(");
                show(c, t, names, out)?;
                out.push(')');
            } else {
                out.push_str("none");
            }
        }
        V::Result { ok, err } => {
            let is_err = c.tag("result")?;
            out.push_str(if is_err { "err" } else { "ok" });
            if let Some(t) = if is_err { err } else { ok } {
                out.push('(');
                show(c, t, names, out)?;
                out.push(')');
            }
        }
        V::Tuple(ts) => {
            out.push('(');
            for (i, t) in ts.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                show(c, t, names, out)?;
            }
            out.push(')');
        }
        V::Record { fields, .. } => {
            out.push('{');
            let mut first = true;
            for (name, t) in fields {
                // WAVE leaves out the fields that are `none`.
                if matches!(t, V::Option(_)) && c.rest().first() == Some(&0) {
                    c.skip(t)?;
                    continue;
                }
                if !first {
                    out.push_str(", ");
                }
                first = false;
                out.push_str(name);
                out.push_str(": ");
                show(c, t, names, out)?;
            }
            if first {
                out.push(':');
            }
            out.push('}');
        }
        V::Variant { cases, .. } => {
            let i = c.case(cases.len())?;
            if let Some((name, payload)) = cases.get(i) {
                label(out, name);
                if let Some(t) = payload {
                    out.push('(');
                    show(c, t, names, out)?;
                    out.push(')');
                }
            }
        }
        V::Enum { cases, .. } => {
            let i = c.case(cases.len())?;
            if let Some(name) = cases.get(i) {
                label(out, name);
            }
        }
        V::Flags { flags, .. } => {
            let bytes = c.flags(flags.len())?;
            out.push('{');
            let set = flags
                .iter()
                .enumerate()
                .filter(|(i, _)| bytes.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0));
            for (k, (_, name)) in set.enumerate() {
                if k > 0 {
                    out.push_str(", ");
                }
                out.push_str(name);
            }
            out.push('}');
        }
        // What the decoder refuses, with its error.
        other => return Err(c.error(format!("values of type {other:?} are not supported"))),
    }
    Ok(())
}

/// `n` elements of type `t` as a list, cut in the middle if there are many.
fn items(
    c: &mut Cursor<'_>,
    t: &ValueType,
    n: usize,
    names: &dyn HandleNames,
    out: &mut String,
) -> Result<(), DecodeError> {
    out.push('[');
    for i in 0..n {
        let cut = n > MAX_ITEMS && i >= HEAD_ITEMS && i < n - TAIL_ITEMS;
        if cut {
            if i == HEAD_ITEMS {
                let _ = write!(out, ", …{} elements cut…", n - HEAD_ITEMS - TAIL_ITEMS);
            }
            c.skip(t)?;
            continue;
        }
        if i > 0 {
            out.push_str(", ");
        }
        show(c, t, names, out)?;
    }
    out.push(']');
    Ok(())
}

/// One value shown on its own (for a difference's two sides).
fn shown_one(c: &Cursor<'_>, ty: &ValueType, names: &dyn HandleNames) -> String {
    let mut c = c.clone();
    let mut out = String::new();
    match show(&mut c, ty, names, &mut out) {
        Ok(()) => out,
        Err(e) => format!("<undecodable: {e}>"),
    }
}

/// Where two encodings of values of `types` first differ, in the values: the parameter, field or
/// element (`contents`, `p.name`, `items[3]`) and how (`"abc" vs "abd"`, for strings and bytes
/// the common prefix and the first different characters or bytes). `labels` name the values
/// (parameter names); `None` if the values are equal or either side is not well-formed.
pub fn first_difference(
    types: &[ValueType],
    labels: &[String],
    recorded: &[u8],
    now: &[u8],
    names: &dyn HandleNames,
) -> Option<String> {
    let (mut a, mut b) = (Cursor::new(recorded), Cursor::new(now));
    for (i, ty) in types.iter().enumerate() {
        let path = labels.get(i).cloned().unwrap_or_else(|| format!("#{i}"));
        if let Some(d) = differ(&mut a, &mut b, ty, &path, names).ok()? {
            return Some(d);
        }
    }
    None
}

/// Compares one value of type `ty` at `a` and at `b`, stepping both over it: the difference
/// at `path`, if any.
fn differ(
    a: &mut Cursor<'_>,
    b: &mut Cursor<'_>,
    ty: &ValueType,
    path: &str,
    names: &dyn HandleNames,
) -> Result<Option<String>, DecodeError> {
    use ValueType as V;
    let (a0, b0) = (a.clone(), b.clone());
    let whole = |a: &Cursor<'_>, b: &Cursor<'_>| {
        format!(
            "{path}: {} recorded, {} now",
            shown_one(a, ty, names),
            shown_one(b, ty, names)
        )
    };
    match ty {
        V::String => {
            let (x, y) = (a.str()?, b.str()?);
            Ok((x != y).then(|| text_difference(path, x, y, "characters")))
        }
        V::List(t) if **t == V::U8 => {
            let (x, y) = (a.bytes()?, b.bytes()?);
            Ok((x != y).then(|| bytes_difference(path, x, y)))
        }
        V::List(t) => list_difference(a, b, t, path, names),
        V::Map(k, v) => {
            let entry = V::Tuple(vec![(**k).clone(), (**v).clone()]);
            list_difference(a, b, &entry, path, names)
        }
        V::FixedLengthList(t, n) => {
            a.fixed_count(*n)?;
            b.fixed_count(*n)?;
            for i in 0..*n {
                if let Some(d) = differ(a, b, t, &format!("{path}[{i}]"), names)? {
                    return Ok(Some(d));
                }
            }
            Ok(None)
        }
        V::Tuple(ts) => {
            for (i, t) in ts.iter().enumerate() {
                if let Some(d) = differ(a, b, t, &format!("{path}.{i}"), names)? {
                    return Ok(Some(d));
                }
            }
            Ok(None)
        }
        V::Record { fields, .. } => {
            for (name, t) in fields {
                if let Some(d) = differ(a, b, t, &format!("{path}.{name}"), names)? {
                    return Ok(Some(d));
                }
            }
            Ok(None)
        }
        V::Option(t) => {
            let (x, y) = (a.tag("option")?, b.tag("option")?);
            let payload = |some: bool| some.then_some(&**t);
            Ok(
                case_difference(a, b, x == y, payload(x), payload(y), path, names)?
                    .map(|d| d.unwrap_or_else(|| whole(&a0, &b0))),
            )
        }
        V::Result { ok, err } => {
            let (x, y) = (a.tag("result")?, b.tag("result")?);
            let side = |e: bool| if e { err.as_deref() } else { ok.as_deref() };
            Ok(
                case_difference(a, b, x == y, side(x), side(y), path, names)?
                    .map(|d| d.unwrap_or_else(|| whole(&a0, &b0))),
            )
        }
        V::Variant { cases, .. } => {
            let (x, y) = (a.case(cases.len())?, b.case(cases.len())?);
            let payload = |i: usize| cases.get(i).and_then(|(_, t)| t.as_ref());
            Ok(
                case_difference(a, b, x == y, payload(x), payload(y), path, names)?
                    .map(|d| d.unwrap_or_else(|| whole(&a0, &b0))),
            )
        }
        // Scalars, handles, enums, flags: equal if their bytes are.
        _ => {
            let (sa, sb) = (a.position(), b.position());
            a.skip(ty)?;
            b.skip(ty)?;
            let x = a0.rest().get(..a.position() - sa);
            let y = b0.rest().get(..b.position() - sb);
            Ok((x != y).then(|| whole(&a0, &b0)))
        }
    }
}

/// Two lists of `element`s: the first element that differs, or that their lengths do.
fn list_difference(
    a: &mut Cursor<'_>,
    b: &mut Cursor<'_>,
    element: &ValueType,
    path: &str,
    names: &dyn HandleNames,
) -> Result<Option<String>, DecodeError> {
    let (n, m) = (a.count()?, b.count()?);
    let common = n.min(m);
    for i in 0..common {
        if let Some(d) = differ(a, b, element, &format!("{path}[{i}]"), names)? {
            return Ok(Some(d));
        }
    }
    for _ in common..n {
        a.skip(element)?;
    }
    for _ in common..m {
        b.skip(element)?;
    }
    Ok((n != m)
        .then(|| format!("{path}: {n} elements recorded, {m} now (the first {common} equal)")))
}

/// After the case of an option, result or variant on each side (`same`: the same case; `x`, `y`:
/// each side's payload type): `None` if the values are equal, `Some(Some(d))` for a difference
/// `d` inside the common case's payload, `Some(None)` for different cases, after stepping over
/// both payloads (the caller shows the whole values).
fn case_difference(
    a: &mut Cursor<'_>,
    b: &mut Cursor<'_>,
    same: bool,
    x: Option<&ValueType>,
    y: Option<&ValueType>,
    path: &str,
    names: &dyn HandleNames,
) -> Result<Option<Option<String>>, DecodeError> {
    if !same {
        if let Some(t) = x {
            a.skip(t)?;
        }
        if let Some(t) = y {
            b.skip(t)?;
        }
        return Ok(Some(None));
    }
    match x {
        Some(t) => Ok(differ(a, b, t, path, names)?.map(Some)),
        None => Ok(None),
    }
}

/// How many leading characters of `x` and `y` are equal.
fn common_chars(x: &str, y: &str) -> usize {
    x.chars().zip(y.chars()).take_while(|(a, b)| a == b).count()
}

/// Two strings that differ: their common prefix, then a few characters of each from there.
fn text_difference(path: &str, x: &str, y: &str, unit: &str) -> String {
    let k = common_chars(x, y);
    let from = |s: &str| {
        let rest: String = s.chars().skip(k).take(12).collect();
        if rest.is_empty() {
            return "the end".to_string();
        }
        let more = s.chars().count() > k + 12;
        let mut q = String::from("\"");
        escape_into(&mut q, &rest);
        if more {
            q.push('…');
        }
        q.push('"');
        q
    };
    format!(
        "{path}: the first {k} {unit} are equal, then {} recorded, {} now ({} {unit} recorded, {} now)",
        from(x),
        from(y),
        x.chars().count(),
        y.chars().count()
    )
}

/// Two byte lists that differ: as text if both are, else in hex from the first different byte.
fn bytes_difference(path: &str, x: &[u8], y: &[u8]) -> String {
    if let (Some(x), Some(y)) = (is_text(x), is_text(y)) {
        if x.is_ascii() && y.is_ascii() {
            return text_difference(path, x, y, "bytes");
        }
    }
    let k = x.iter().zip(y).take_while(|(a, b)| a == b).count();
    let from = |s: &[u8]| {
        let rest = s.get(k..).unwrap_or_default();
        if rest.is_empty() {
            return "the end".to_string();
        }
        let mut h = String::from("0x");
        hex_into(&mut h, &rest[..rest.len().min(8)]);
        if rest.len() > 8 {
            h.push('…');
        }
        h
    };
    format!(
        "{path}: the first {k} bytes are equal, then {} recorded, {} now ({} bytes recorded, {} now)",
        from(x),
        from(y),
        x.len(),
        y.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Named;
    impl HandleNames for Named {
        fn name(&self, id: u32) -> Option<&str> {
            (id == 1).then_some("stdout")
        }
    }

    fn bytes_ty() -> ValueType {
        ValueType::List(Box::new(ValueType::U8))
    }

    fn write_args(id: u8, s: &[u8]) -> Vec<u8> {
        let mut v = vec![id, s.len() as u8];
        v.extend_from_slice(s);
        v
    }

    #[test]
    fn text_bytes_and_handles_read_as_people_read_them() {
        let types = [
            ValueType::Borrow(crate::types::ResourceRef {
                interface: None,
                name: "output-stream".into(),
            }),
            bytes_ty(),
        ];
        let shown = show_all(&types, &write_args(1, b"sha=5cd6\n"), &Named).unwrap();
        assert_eq!(shown, r#"1 (stdout), "sha=5cd6\n" (9 bytes)"#);
        let shown = show_all(&types, &write_args(2, &[0, 1, 0xfe]), &Named).unwrap();
        assert_eq!(shown, "2, 0x0001fe (3 bytes)");
        let shown = show_all(&types, &write_args(2, b""), &NoNames).unwrap();
        assert_eq!(shown, r#"2, "" (0 bytes)"#);
        // Long text and bytes are cut in the middle.
        let long: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).collect();
        let shown = show_bytes(&long);
        assert_eq!(
            shown,
            "\"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcd…ghijklmnopqrstuv\" (100 bytes, 28 characters cut)"
        );
        let binary: Vec<u8> = (0..40u8).collect();
        assert_eq!(
            show_bytes(&binary),
            "0x000102030405060708090a0b0c0d0e0f…24252627 (40 bytes, 20 cut)"
        );
        // Errors are the decoder's.
        let err = show_all(&types, &[1, 5, b'x'], &NoNames).unwrap_err();
        assert_eq!(err.to_string(), "byte 2: length 5 exceeds the 1 bytes left");
    }

    /// Where people's form has nothing to make readable (no bytes, handles or long values), it
    /// is WAVE exactly, and it accepts and rejects the bytes the decoder does, with its errors.
    #[test]
    fn everything_else_is_wave_exactly() {
        use crate::value::Decoder;
        let labels = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let types = vec![
            ValueType::Bool,
            ValueType::S8,
            ValueType::U16,
            ValueType::S64,
            ValueType::F32,
            ValueType::Char,
            ValueType::String,
            ValueType::List(Box::new(ValueType::S16)),
            ValueType::Option(Box::new(ValueType::U8)),
            ValueType::Result {
                ok: Some(Box::new(ValueType::U8)),
                err: None,
            },
            ValueType::Tuple(vec![ValueType::U8, ValueType::Bool]),
            ValueType::Record {
                name: Some("r".into()),
                fields: vec![
                    ("a".into(), ValueType::Option(Box::new(ValueType::U8))),
                    ("b".into(), ValueType::U8),
                ],
            },
            ValueType::Record {
                name: Some("o".into()),
                fields: vec![("a".into(), ValueType::Option(Box::new(ValueType::U8)))],
            },
            ValueType::Variant {
                name: Some("v".into()),
                cases: vec![
                    ("none".into(), None),
                    ("some".into(), Some(ValueType::U8)),
                    ("x".into(), Some(ValueType::S8)),
                ],
            },
            ValueType::Enum {
                name: Some("e".into()),
                cases: labels(&["ok", "b", "inf"]),
            },
            ValueType::Flags {
                name: Some("f".into()),
                flags: labels(&["r", "w", "x"]),
            },
            ValueType::Map(Box::new(ValueType::U8), Box::new(ValueType::Bool)),
            ValueType::FixedLengthList(Box::new(ValueType::U8), 2),
        ];
        let alphabet = [0u8, 1, 2, 3, b'a', 0x80, 0xff];
        let mut inputs: Vec<Vec<u8>> = vec![vec![]];
        for &a in &alphabet {
            inputs.push(vec![a]);
            for &b in &alphabet {
                inputs.push(vec![a, b]);
                for &c in &alphabet {
                    inputs.push(vec![a, b, c]);
                }
            }
        }
        for ty in &types {
            for bytes in &inputs {
                let wave_form = Decoder::decode_all(bytes, std::slice::from_ref(ty))
                    .map(|values| values.iter().map(wave).collect::<Vec<_>>().join(", "))
                    .map_err(|e| e.to_string());
                let shown =
                    show_all(std::slice::from_ref(ty), bytes, &NoNames).map_err(|e| e.to_string());
                assert_eq!(shown, wave_form, "{ty:?} {bytes:?}");
            }
        }
    }

    #[test]
    fn lists_are_cut_in_the_middle() {
        let ty = ValueType::List(Box::new(ValueType::U32));
        let mut bytes = vec![20];
        bytes.extend(0..20u8);
        assert_eq!(
            show_all(std::slice::from_ref(&ty), &bytes, &NoNames).unwrap(),
            "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, …7 elements cut…, 17, 18, 19]"
        );
    }

    #[test]
    fn the_first_difference_is_named_by_parameter_and_element() {
        let types = [ValueType::U32, bytes_ty()];
        let labels = ["self".to_string(), "contents".to_string()];
        let d = first_difference(
            &types,
            &labels,
            &write_args(1, b"sha=5cd62ab1\n"),
            &write_args(1, b"an extra line\n"),
            &NoNames,
        );
        assert_eq!(
            d.as_deref(),
            Some(
                r#"contents: the first 0 bytes are equal, then "sha=5cd62ab1…" recorded, "an extra lin…" now (13 bytes recorded, 14 now)"#
            )
        );
        let d = first_difference(
            &types,
            &labels,
            &write_args(1, b"ab"),
            &write_args(3, b"ab"),
            &NoNames,
        );
        assert_eq!(d.as_deref(), Some("self: 1 recorded, 3 now"));
        assert_eq!(
            first_difference(
                &types,
                &labels,
                &write_args(1, b"ab"),
                &write_args(1, b"ab"),
                &NoNames
            ),
            None
        );
        let d = first_difference(
            &types,
            &labels,
            &write_args(1, &[0, 1, 2, 0xff]),
            &write_args(1, &[0, 1, 3]),
            &NoNames,
        );
        assert_eq!(
            d.as_deref(),
            Some("contents: the first 2 bytes are equal, then 0x02ff recorded, 0x03 now (4 bytes recorded, 3 now)")
        );
        let list = [ValueType::List(Box::new(ValueType::String))];
        let d = first_difference(
            &list,
            &["args".to_string()],
            &[2, 1, b'a', 1, b'b'],
            &[2, 1, b'a', 1, b'c'],
            &NoNames,
        );
        assert_eq!(
            d.as_deref(),
            Some(
                r#"args[1]: the first 0 characters are equal, then "b" recorded, "c" now (1 characters recorded, 1 now)"#
            )
        );
    }
}

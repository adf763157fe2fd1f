//! [`encode`]: any [`WasmValue`] to bytes of the value format.

use crate::types::ValueType;
use wasm_wave::wasm::WasmValue;

/// Appends the encoding of `value` (of type `ty`) to `out`. Any [`WasmValue`] encodes: a decoded
/// WAVE [`Value`](super::Value) as well as wasmtime's `Val` (the same wasm-wave crate), which is
/// how the host records the arguments and results of the exports it calls.
pub fn encode<V: WasmValue>(value: &V, ty: &ValueType, out: &mut Vec<u8>) -> Result<(), String> {
    use ValueType as V;
    let check = |kind| {
        if value.kind() == kind {
            Ok(())
        } else {
            Err(format!(
                "expected a {kind:?} for {ty:?}, got {:?}",
                value.kind()
            ))
        }
    };
    use wasm_wave::wasm::WasmTypeKind as K;
    match ty {
        V::Bool => {
            check(K::Bool)?;
            out.push(value.unwrap_bool() as u8)
        }
        V::U8 => {
            check(K::U8)?;
            out.push(value.unwrap_u8())
        }
        V::S8 => {
            check(K::S8)?;
            out.push(value.unwrap_s8() as u8)
        }
        V::U16 => {
            check(K::U16)?;
            uleb(out, value.unwrap_u16().into())
        }
        V::U32 | V::Own(_) | V::Borrow(_) => {
            check(K::U32)?;
            uleb(out, value.unwrap_u32().into())
        }
        V::U64 => {
            check(K::U64)?;
            uleb(out, value.unwrap_u64())
        }
        V::S16 => {
            check(K::S16)?;
            sleb(out, value.unwrap_s16().into())
        }
        V::S32 => {
            check(K::S32)?;
            sleb(out, value.unwrap_s32().into())
        }
        V::S64 => {
            check(K::S64)?;
            sleb(out, value.unwrap_s64())
        }
        V::F32 => {
            check(K::F32)?;
            out.extend_from_slice(&value.unwrap_f32().to_bits().to_le_bytes())
        }
        V::F64 => {
            check(K::F64)?;
            out.extend_from_slice(&value.unwrap_f64().to_bits().to_le_bytes())
        }
        V::Char => {
            check(K::Char)?;
            uleb(out, u32::from(value.unwrap_char()).into())
        }
        V::String => {
            check(K::String)?;
            let s = value.unwrap_string();
            uleb(out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        V::List(t) => {
            check(K::List)?;
            let items: Vec<_> = value.unwrap_list().collect();
            uleb(out, items.len() as u64);
            for item in items {
                encode(item.as_ref(), t, out)?;
            }
        }
        V::FixedLengthList(t, n) => {
            check(K::List)?;
            let items: Vec<_> = value.unwrap_list().collect();
            if items.len() != *n as usize {
                return Err(format!(
                    "a fixed-length list of {n} elements has {}",
                    items.len()
                ));
            }
            for item in items {
                encode(item.as_ref(), t, out)?;
            }
        }
        V::Map(k, v) => {
            check(K::List)?;
            let items: Vec<_> = value.unwrap_list().collect();
            uleb(out, items.len() as u64);
            for item in items {
                let item = item.as_ref();
                if item.kind() != K::Tuple {
                    return Err(format!(
                        "a map entry must be a (key, value) tuple, got a {:?}",
                        item.kind()
                    ));
                }
                let mut pair = item.unwrap_tuple();
                match (pair.next(), pair.next(), pair.next()) {
                    (Some(key), Some(val), None) => {
                        encode(key.as_ref(), k, out)?;
                        encode(val.as_ref(), v, out)?;
                    }
                    _ => return Err("a map entry must be a (key, value) tuple".into()),
                }
            }
        }
        V::Option(t) => {
            check(K::Option)?;
            match value.unwrap_option() {
                None => out.push(0),
                Some(v) => {
                    out.push(1);
                    encode(v.as_ref(), t, out)?;
                }
            }
        }
        V::Result { ok, err } => {
            check(K::Result)?;
            let (tag, payload, t) = match value.unwrap_result() {
                Ok(v) => (0, v, ok),
                Err(v) => (1, v, err),
            };
            out.push(tag);
            if let (Some(v), Some(t)) = (payload, t) {
                encode(v.as_ref(), t, out)?;
            }
        }
        V::Tuple(ts) => {
            check(K::Tuple)?;
            for (v, t) in value.unwrap_tuple().zip(ts) {
                encode(v.as_ref(), t, out)?;
            }
        }
        V::Record { fields, .. } => {
            check(K::Record)?;
            for ((_, v), (_, t)) in value.unwrap_record().zip(fields) {
                encode(v.as_ref(), t, out)?;
            }
        }
        V::Variant { cases, .. } => {
            check(K::Variant)?;
            let (name, payload) = value.unwrap_variant();
            let i = cases
                .iter()
                .position(|(n, _)| *n == name)
                .ok_or("unknown case")?;
            uleb(out, i as u64);
            if let (Some(v), Some(t)) = (payload, &cases[i].1) {
                encode(v.as_ref(), t, out)?;
            }
        }
        V::Enum { cases, .. } => {
            check(K::Enum)?;
            let name = value.unwrap_enum();
            let i = cases
                .iter()
                .position(|n| *n == name)
                .ok_or("unknown case")?;
            uleb(out, i as u64);
        }
        V::Flags { flags, .. } => {
            check(K::Flags)?;
            let mut bytes = vec![0u8; flags.len().div_ceil(8)];
            for set in value.unwrap_flags() {
                let i = flags.iter().position(|f| *f == set).ok_or("unknown flag")?;
                bytes[i / 8] |= 1 << (i % 8);
            }
            out.extend_from_slice(&bytes);
        }
        other => return Err(format!("values of type {other:?} are not supported")),
    }
    Ok(())
}

/// Appends `v` as unsigned LEB128 (how the value format writes lengths, unsigned integers and
/// handle ids).
pub fn uleb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Appends `v` zigzag-encoded (small magnitudes, either sign, take few bytes), as LEB128 (how the value format writes signed integers).
pub fn sleb(out: &mut Vec<u8>, v: i64) {
    uleb(out, ((v << 1) ^ (v >> 63)) as u64)
}

//! proxyrt's compact value encoding, on the host side: decoding recorded bytes into values (shown in
//! WAVE syntax), and encoding values (tests, replay from an edited trace).
//!
//! The proxy's generated wasm writes this format; the two must agree byte for byte:
//!
//! | type | bytes |
//! |---|---|
//! | `bool`, `u8` | 1 byte; `s8`: 1 byte two's complement |
//! | `u16`, `u32`, `u64` | unsigned LEB128 |
//! | `s16`, `s32`, `s64` | zigzag, then unsigned LEB128 |
//! | `f32`, `f64` | 4 / 8 bytes, little-endian raw bits (NaN payloads kept in the bytes; WAVE, the display form, shows every NaN as `nan`) |
//! | `char` | unsigned LEB128 of the scalar value |
//! | `string` | LEB128 byte length, UTF-8 bytes |
//! | `list<T>` | LEB128 element count, elements (`list<u8>`: the raw bytes) |
//! | `list<T, N>` (fixed length) | the N elements, no count |
//! | `map<K, V>` | LEB128 entry count, then key and value of each entry |
//! | record, tuple | fields in order |
//! | variant, enum | LEB128 case index, then the case's payload if it has one |
//! | `option<T>` | 1 byte 0 = none / 1 = some, then the payload |
//! | `result<T, E>` | 1 byte 0 = ok / 1 = err, then that side's payload if typed |
//! | flags (n) | ceil(n/8) bytes, flag i = bit i%8 of byte i/8 |
//! | `own<R>`, `borrow<R>` | LEB128 handle id |
//!
//! No type tags: the types come from the trace header. Why: for I/O-heavy guests the payload bytes
//! dominate, so a call's encoding is the payload plus a few bytes (the trace-size goal is 1.2x the
//! payload), and `list<u8>` is a single `memory.copy` in the proxy.
//!
//! Decoding never trusts the bytes: every length is checked against what is left before anything is
//! allocated, and malformed input is a [`DecodeError`] naming the offset, never a panic.

use crate::types::ValueType;
use std::borrow::Cow;
use wasm_wave::value::{Type, Value};
use wasm_wave::wasm::WasmValue;

/// Why some bytes are not a value of the expected type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("byte {offset}: {reason}")]
pub struct DecodeError {
    pub offset: usize,
    pub reason: String,
}

/// The WAVE type used to display values of `ty`. Handles have no WAVE form; they are shown as
/// their `u32` id.
pub fn wave_type(ty: &ValueType) -> Result<Type, String> {
    use ValueType as V;
    Ok(match ty {
        V::Bool => Type::BOOL,
        V::U8 => Type::U8,
        V::U16 => Type::U16,
        V::U32 | V::Own(_) | V::Borrow(_) => Type::U32,
        V::U64 => Type::U64,
        V::S8 => Type::S8,
        V::S16 => Type::S16,
        V::S32 => Type::S32,
        V::S64 => Type::S64,
        V::F32 => Type::F32,
        V::F64 => Type::F64,
        V::Char => Type::CHAR,
        V::String => Type::STRING,
        V::List(t) => Type::list(wave_type(t)?),
        // WAVE has neither: a fixed-length list shows as a list of its elements, a map as a
        // list of (key, value) tuples.
        V::FixedLengthList(t, _) => Type::list(wave_type(t)?),
        V::Map(k, v) => Type::list(map_entry_type(k, v)?),
        V::Option(t) => Type::option(wave_type(t)?),
        V::Result { ok, err } => Type::result(
            ok.as_deref().map(wave_type).transpose()?,
            err.as_deref().map(wave_type).transpose()?,
        ),
        V::Tuple(ts) => Type::tuple(ts.iter().map(wave_type).collect::<Result<Vec<_>, _>>()?)
            .ok_or("empty tuple")?,
        V::Record { fields, .. } => Type::record(
            fields
                .iter()
                .map(|(n, t)| Ok((n.as_str(), wave_type(t)?)))
                .collect::<Result<Vec<_>, String>>()?,
        )
        .ok_or("empty record")?,
        V::Variant { cases, .. } => Type::variant(
            cases
                .iter()
                .map(|(n, t)| Ok((n.as_str(), t.as_ref().map(wave_type).transpose()?)))
                .collect::<Result<Vec<_>, String>>()?,
        )
        .ok_or("empty variant")?,
        V::Enum { cases, .. } => {
            Type::enum_ty(cases.iter().map(String::as_str)).ok_or("empty enum")?
        }
        V::Flags { flags, .. } => {
            Type::flags(flags.iter().map(String::as_str)).ok_or("no flags")?
        }
        other => return Err(format!("values of type {other:?} are not supported")),
    })
}

/// The WAVE type of a map entry: `tuple<K, V>`.
fn map_entry_type(k: &ValueType, v: &ValueType) -> Result<Type, String> {
    Type::tuple(vec![wave_type(k)?, wave_type(v)?]).ok_or_else(|| "empty tuple".to_string())
}

/// Reads values of known types from a byte slice.
pub struct Decoder<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Decoder { bytes, pos: 0 }
    }

    /// Decodes one value of each type in `types`, then requires that every byte was used.
    pub fn decode_all<'t>(
        bytes: &'a [u8],
        types: impl IntoIterator<Item = &'t ValueType>,
    ) -> Result<Vec<Value>, DecodeError> {
        let mut d = Decoder::new(bytes);
        let values = types
            .into_iter()
            .map(|t| d.value(t))
            .collect::<Result<Vec<_>, _>>()?;
        if d.pos != bytes.len() {
            return Err(d.error(format!("{} unexpected trailing bytes", bytes.len() - d.pos)));
        }
        Ok(values)
    }

    fn error(&self, reason: impl Into<String>) -> DecodeError {
        DecodeError {
            offset: self.pos,
            reason: reason.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| {
                self.error(format!(
                    "{n} bytes needed, {} left",
                    self.bytes.len() - self.pos
                ))
            })?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn uleb(&mut self, bits: u32) -> Result<u64, DecodeError> {
        let start = self.pos;
        let mut result: u64 = 0;
        let mut shift = 0u32;
        loop {
            let b = self.byte()?;
            // At shift 63 only the lowest payload bit still fits in a u64; beyond, nothing does.
            if shift > 63 || (shift == 63 && b & 0x7e != 0) {
                return Err(DecodeError {
                    offset: start,
                    reason: "LEB128 integer overflows 64 bits".into(),
                });
            }
            result |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        if bits < 64 && result >> bits != 0 {
            return Err(DecodeError {
                offset: start,
                reason: format!("{result} does not fit in {bits} bits"),
            });
        }
        Ok(result)
    }

    fn sleb(&mut self, bits: u32) -> Result<i64, DecodeError> {
        let start = self.pos;
        let z = self.uleb(64)?;
        let v = ((z >> 1) as i64) ^ -((z & 1) as i64);
        let (min, max) = (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1);
        if i128::from(v) < min || i128::from(v) > max {
            return Err(DecodeError {
                offset: start,
                reason: format!("{v} does not fit in s{bits}"),
            });
        }
        Ok(v)
    }

    /// A length or count, checked against the bytes left: every element takes at least one byte,
    /// so a count larger than that is corrupt, whatever it claims.
    fn count(&mut self) -> Result<usize, DecodeError> {
        let n = self.uleb(32)?;
        let left = (self.bytes.len() - self.pos) as u64;
        if n > left {
            return Err(self.error(format!("length {n} exceeds the {left} bytes left")));
        }
        Ok(n as usize)
    }

    fn case(&mut self, n: usize) -> Result<usize, DecodeError> {
        let start = self.pos;
        let c = self.uleb(32)? as usize;
        if c >= n {
            return Err(DecodeError {
                offset: start,
                reason: format!("case {c} of {n}"),
            });
        }
        Ok(c)
    }

    /// Decodes one value of type `ty`.
    pub fn value(&mut self, ty: &ValueType) -> Result<Value, DecodeError> {
        use ValueType as V;
        let wave_err = |e: wasm_wave::wasm::WasmValueError| DecodeError {
            offset: 0,
            reason: e.to_string(),
        };
        Ok(match ty {
            V::Bool => match self.byte()? {
                0 => Value::make_bool(false),
                1 => Value::make_bool(true),
                b => return Err(self.error(format!("bool byte {b}"))),
            },
            V::U8 => Value::make_u8(self.byte()?),
            V::S8 => Value::make_s8(self.byte()? as i8),
            V::U16 => Value::make_u16(self.uleb(16)? as u16),
            V::U32 => Value::make_u32(self.uleb(32)? as u32),
            V::U64 => Value::make_u64(self.uleb(64)?),
            V::S16 => Value::make_s16(self.sleb(16)? as i16),
            V::S32 => Value::make_s32(self.sleb(32)? as i32),
            V::S64 => Value::make_s64(self.sleb(64)?),
            V::F32 => {
                let b = self.take(4)?;
                Value::make_f32(f32::from_bits(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            }
            V::F64 => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Value::make_f64(f64::from_bits(u64::from_le_bytes(a)))
            }
            V::Char => {
                let start = self.pos;
                let c = self.uleb(32)? as u32;
                Value::make_char(char::from_u32(c).ok_or(DecodeError {
                    offset: start,
                    reason: format!("{c:#x} is not a Unicode scalar value"),
                })?)
            }
            V::String => {
                let n = self.count()?;
                let start = self.pos;
                let s = std::str::from_utf8(self.take(n)?).map_err(|e| DecodeError {
                    offset: start,
                    reason: format!("invalid UTF-8: {e}"),
                })?;
                Value::make_string(Cow::Borrowed(s))
            }
            V::Own(_) | V::Borrow(_) => Value::make_u32(self.uleb(32)? as u32),
            V::List(t) => {
                let n = self.count()?;
                let wt = wave_type(ty).map_err(|e| self.error(e))?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(t)?);
                }
                Value::make_list(&wt, items).map_err(wave_err)?
            }
            V::FixedLengthList(t, n) => {
                let wt = wave_type(ty).map_err(|e| self.error(e))?;
                let mut items = Vec::new();
                for _ in 0..*n {
                    items.push(self.value(t)?);
                }
                Value::make_list(&wt, items).map_err(wave_err)?
            }
            V::Map(k, v) => {
                let n = self.count()?;
                let wt = wave_type(ty).map_err(|e| self.error(e))?;
                let entry = map_entry_type(k, v).map_err(|e| self.error(e))?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    let pair = [self.value(k)?, self.value(v)?];
                    items.push(Value::make_tuple(&entry, pair).map_err(wave_err)?);
                }
                Value::make_list(&wt, items).map_err(wave_err)?
            }
            V::Option(t) => {
                let wt = wave_type(ty).map_err(|e| self.error(e))?;
                let v = match self.byte()? {
                    0 => None,
                    1 => Some(self.value(t)?),
                    b => return Err(self.error(format!("option tag {b}"))),
                };
                Value::make_option(&wt, v).map_err(wave_err)?
            }
            V::Result { ok, err } => {
                let wt = wave_type(ty).map_err(|e| self.error(e))?;
                let payload = |d: &mut Self, t: &Option<Box<ValueType>>| {
                    t.as_deref().map(|t| d.value(t)).transpose()
                };
                let v = match self.byte()? {
                    0 => Ok(payload(self, ok)?),
                    1 => Err(payload(self, err)?),
                    b => return Err(self.error(format!("result tag {b}"))),
                };
                Value::make_result(&wt, v).map_err(wave_err)?
            }
            V::Tuple(ts) => {
                let wt = wave_type(ty).map_err(|e| self.error(e))?;
                let items = ts
                    .iter()
                    .map(|t| self.value(t))
                    .collect::<Result<Vec<_>, _>>()?;
                Value::make_tuple(&wt, items).map_err(wave_err)?
            }
            V::Record { fields, .. } => {
                let wt = wave_type(ty).map_err(|e| self.error(e))?;
                let mut vals = Vec::with_capacity(fields.len());
                for (name, t) in fields {
                    vals.push((name.as_str(), self.value(t)?));
                }
                Value::make_record(&wt, vals).map_err(wave_err)?
            }
            V::Variant { cases, .. } => {
                let wt = wave_type(ty).map_err(|e| self.error(e))?;
                let c = self.case(cases.len())?;
                let (name, t) = &cases[c];
                let payload = t.as_ref().map(|t| self.value(t)).transpose()?;
                Value::make_variant(&wt, name, payload).map_err(wave_err)?
            }
            V::Enum { cases, .. } => {
                let wt = wave_type(ty).map_err(|e| self.error(e))?;
                let c = self.case(cases.len())?;
                Value::make_enum(&wt, &cases[c]).map_err(wave_err)?
            }
            V::Flags { flags, .. } => {
                let wt = wave_type(ty).map_err(|e| self.error(e))?;
                let bytes = self.take(flags.len().div_ceil(8))?;
                let set = flags
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| bytes[i / 8] & (1 << (i % 8)) != 0)
                    .map(|(_, f)| f.as_str());
                Value::make_flags(&wt, set).map_err(wave_err)?
            }
            other => return Err(self.error(format!("values of type {other:?} are not supported"))),
        })
    }
}

/// Appends the encoding of `value` (of type `ty`) to `out`. Any [`WasmValue`] encodes: a decoded
/// WAVE [`Value`] as well as wasmtime's `Val` (the same wasm-wave crate), which is how the host
/// records the arguments and results of the exports it calls.
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

/// Rebuilds `value` as another [`WasmValue`] implementation, of type `ty`: a decoded WAVE [`Value`]
/// becomes the wasmtime `Val` that replay passes to an export. Names of fields, cases and flags are
/// taken from `ty`, so the two types must have the same shape (they describe the same WIT type).
pub fn convert<A: WasmValue, B: WasmValue>(value: &A, ty: &B::Type) -> Result<B, String> {
    use wasm_wave::wasm::{WasmType, WasmTypeKind as K};
    let kind = ty.kind();
    if value.kind() != kind {
        return Err(format!("expected a {kind:?}, got a {:?}", value.kind()));
    }
    let err = |e: wasm_wave::wasm::WasmValueError| e.to_string();
    let missing = |what: &str| format!("the {kind:?} type has no {what}");
    Ok(match kind {
        K::Bool => B::make_bool(value.unwrap_bool()),
        K::S8 => B::make_s8(value.unwrap_s8()),
        K::S16 => B::make_s16(value.unwrap_s16()),
        K::S32 => B::make_s32(value.unwrap_s32()),
        K::S64 => B::make_s64(value.unwrap_s64()),
        K::U8 => B::make_u8(value.unwrap_u8()),
        K::U16 => B::make_u16(value.unwrap_u16()),
        K::U32 => B::make_u32(value.unwrap_u32()),
        K::U64 => B::make_u64(value.unwrap_u64()),
        K::F32 => B::make_f32(value.unwrap_f32()),
        K::F64 => B::make_f64(value.unwrap_f64()),
        K::Char => B::make_char(value.unwrap_char()),
        K::String => B::make_string(value.unwrap_string()),
        K::List => {
            let elem = ty
                .list_element_type()
                .ok_or_else(|| missing("element type"))?;
            let items = value
                .unwrap_list()
                .map(|v| convert(v.as_ref(), &elem))
                .collect::<Result<Vec<B>, _>>()?;
            B::make_list(ty, items).map_err(err)?
        }
        K::Tuple => {
            let items = value
                .unwrap_tuple()
                .zip(ty.tuple_element_types())
                .map(|(v, t)| convert(v.as_ref(), &t))
                .collect::<Result<Vec<B>, _>>()?;
            B::make_tuple(ty, items).map_err(err)?
        }
        K::Record => {
            let fields = value
                .unwrap_record()
                .zip(ty.record_fields())
                .map(|((_, v), (name, t))| Ok((name.into_owned(), convert(v.as_ref(), &t)?)))
                .collect::<Result<Vec<(String, B)>, String>>()?;
            B::make_record(ty, fields.iter().map(|(n, v)| (n.as_str(), v.clone()))).map_err(err)?
        }
        K::Variant => {
            let (case, payload) = value.unwrap_variant();
            let case_ty = ty
                .variant_cases()
                .find(|(name, _)| *name == case)
                .ok_or_else(|| format!("no case `{case}`"))?
                .1;
            let payload = match (payload, case_ty) {
                (Some(v), Some(t)) => Some(convert(v.as_ref(), &t)?),
                _ => None,
            };
            B::make_variant(ty, &case, payload).map_err(err)?
        }
        K::Enum => B::make_enum(ty, &value.unwrap_enum()).map_err(err)?,
        K::Option => {
            let some = ty
                .option_some_type()
                .ok_or_else(|| missing("payload type"))?;
            let v = value
                .unwrap_option()
                .map(|v| convert(v.as_ref(), &some))
                .transpose()?;
            B::make_option(ty, v).map_err(err)?
        }
        K::Result => {
            let (ok, error) = ty.result_types().ok_or_else(|| missing("payload types"))?;
            let payload = |v: Option<std::borrow::Cow<'_, A>>, t: Option<B::Type>| match (v, t) {
                (Some(v), Some(t)) => convert(v.as_ref(), &t).map(Some),
                _ => Ok(None),
            };
            let r = match value.unwrap_result() {
                Ok(v) => Ok(payload(v, ok)?),
                Err(v) => Err(payload(v, error)?),
            };
            B::make_result(ty, r).map_err(err)?
        }
        K::Flags => {
            let set: Vec<String> = value.unwrap_flags().map(|f| f.into_owned()).collect();
            B::make_flags(ty, set.iter().map(String::as_str)).map_err(err)?
        }
        other => return Err(format!("values of kind {other:?} cannot be converted")),
    })
}

fn uleb(out: &mut Vec<u8>, mut v: u64) {
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

fn sleb(out: &mut Vec<u8>, v: i64) {
    uleb(out, ((v << 1) ^ (v >> 63)) as u64)
}

/// Formats decoded values as a WAVE argument list: `(1, "x")`.
pub fn wave_args(values: &[Value]) -> String {
    let parts: Vec<String> = values
        .iter()
        .map(|v| wasm_wave::to_string(v).unwrap_or_else(|e| format!("<{e}>")))
        .collect();
    format!("({})", parts.join(", "))
}

/// Formats one decoded value in WAVE.
pub fn wave(value: &Value) -> String {
    wasm_wave::to_string(value).unwrap_or_else(|e| format!("<{e}>"))
}

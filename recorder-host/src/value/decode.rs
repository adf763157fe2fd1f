//! [`Decoder`]: recorded bytes to WAVE [`Value`]s, checked against the type at every step.

use super::wave::{map_entry_type, wave_type};
use crate::types::ValueType;
use std::borrow::Cow;
use wasm_wave::value::Value;
use wasm_wave::wasm::WasmValue;

/// Why some bytes are not a value of the expected type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("byte {offset}: {reason}")]
pub struct DecodeError {
    pub offset: usize,
    pub reason: String,
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

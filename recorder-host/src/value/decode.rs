//! [`Decoder`]: recorded bytes to WAVE [`Value`]s, checked against the type at every step. It reads
//! through a [`Cursor`], as [`Cursor::skip`] does, so the two accept the same bytes.

use super::cursor::{Cursor, DecodeError};
use super::wave::{map_entry_type, wave_type};
use crate::types::ValueType;
use std::borrow::Cow;
use wasm_wave::value::Value;
use wasm_wave::wasm::WasmValue;

/// Reads values of known types from a byte slice.
pub struct Decoder<'a> {
    cursor: Cursor<'a>,
}

impl<'a> Decoder<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Decoder {
            cursor: Cursor::new(bytes),
        }
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
        let trailing = d.cursor.rest().len();
        if trailing != 0 {
            return Err(d
                .cursor
                .error(format!("{trailing} unexpected trailing bytes")));
        }
        Ok(values)
    }

    fn error(&self, reason: impl Into<String>) -> DecodeError {
        self.cursor.error(reason)
    }

    /// Decodes one value of type `ty`.
    pub fn value(&mut self, ty: &ValueType) -> Result<Value, DecodeError> {
        use ValueType as V;
        let wave_err = |e: wasm_wave::wasm::WasmValueError| DecodeError {
            offset: 0,
            reason: e.to_string(),
        };
        let c = &mut self.cursor;
        Ok(match ty {
            V::Bool => Value::make_bool(c.bool()?),
            V::U8 => Value::make_u8(c.byte()?),
            V::S8 => Value::make_s8(c.byte()? as i8),
            V::U16 => Value::make_u16(c.u16()?),
            V::U32 => Value::make_u32(c.u32()?),
            V::U64 => Value::make_u64(c.u64()?),
            V::S16 => Value::make_s16(c.s16()?),
            V::S32 => Value::make_s32(c.s32()?),
            V::S64 => Value::make_s64(c.s64()?),
            V::F32 => Value::make_f32(c.f32()?),
            V::F64 => Value::make_f64(c.f64()?),
            V::Char => Value::make_char(c.char()?),
            V::String => Value::make_string(Cow::Borrowed(c.str()?)),
            V::Own(_) | V::Borrow(_) => Value::make_u32(c.u32()?),
            V::List(t) => {
                let n = c.count()?;
                let wt = wave_type(ty).map_err(|e| self.error(e))?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(t)?);
                }
                Value::make_list(&wt, items).map_err(wave_err)?
            }
            V::FixedLengthList(t, n) => {
                let n = c.fixed_count(*n)?;
                let wt = wave_type(ty).map_err(|e| self.error(e))?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(t)?);
                }
                Value::make_list(&wt, items).map_err(wave_err)?
            }
            V::Map(k, v) => {
                let n = c.count()?;
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
                let v = if self.cursor.tag("option")? {
                    Some(self.value(t)?)
                } else {
                    None
                };
                Value::make_option(&wt, v).map_err(wave_err)?
            }
            V::Result { ok, err } => {
                let wt = wave_type(ty).map_err(|e| self.error(e))?;
                let payload = |d: &mut Self, t: &Option<Box<ValueType>>| {
                    t.as_deref().map(|t| d.value(t)).transpose()
                };
                let v = if self.cursor.tag("result")? {
                    Err(payload(self, err)?)
                } else {
                    Ok(payload(self, ok)?)
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
                let (name, t) = &cases[self.cursor.case(cases.len())?];
                let payload = t.as_ref().map(|t| self.value(t)).transpose()?;
                Value::make_variant(&wt, name, payload).map_err(wave_err)?
            }
            V::Enum { cases, .. } => {
                let wt = wave_type(ty).map_err(|e| self.error(e))?;
                let name = &cases[self.cursor.case(cases.len())?];
                Value::make_enum(&wt, name).map_err(wave_err)?
            }
            V::Flags { flags, .. } => {
                let wt = wave_type(ty).map_err(|e| self.error(e))?;
                let bytes = self.cursor.flags(flags.len())?;
                let set = flags
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| bytes.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0))
                    .map(|(_, f)| f.as_str());
                Value::make_flags(&wt, set).map_err(wave_err)?
            }
            other => return Err(self.error(format!("values of type {other:?} are not supported"))),
        })
    }
}

//! Values in WAVE, the display form of values (`trace show`, divergence reports): the WAVE type
//! of a [`ValueType`] and the text of decoded values.

use crate::types::ValueType;
use wasm_wave::value::{Type, Value};

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
pub(super) fn map_entry_type(k: &ValueType, v: &ValueType) -> Result<Type, String> {
    Type::tuple(vec![wave_type(k)?, wave_type(v)?]).ok_or_else(|| "empty tuple".to_string())
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

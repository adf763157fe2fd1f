//! [`convert`]: a value of one [`WasmValue`] implementation as another.

use wasm_wave::wasm::WasmValue;

/// Rebuilds `value` as another [`WasmValue`] implementation, of type `ty`: a decoded WAVE
/// [`Value`](super::Value) becomes the wasmtime `Val` that replay passes to an export. Names of
/// fields, cases and flags are taken from `ty`, so the two types must have the same shape (they
/// describe the same WIT type).
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

//! Canonical ABI facts the generated core code depends on: flat signatures, sizes and alignments,
//! and where borrow handles sit inside a value.
//!
//! Flattening and signatures come from wit-parser (`Resolve::wasm_signature`, `SizeAlign`), so the
//! proxy agrees with every other wasm-tools-based producer; this module only adapts them to
//! wasm-encoder types and adds the borrow queries proxy-gen needs.

use wasm_encoder::ValType;
use wit_parser::abi::{AbiVariant, WasmSignature, WasmType};
use wit_parser::{Function, Handle, Resolve, SizeAlign, Type, TypeDefKind, TypeId};

/// Follows `type a = b` (and `use`) aliases to the type that actually defines `id`.
pub fn dealias(resolve: &Resolve, mut id: TypeId) -> TypeId {
    // WIT forbids cyclic aliases; the bound only protects against a corrupt Resolve.
    for _ in 0..1000 {
        match &resolve.types[id].kind {
            TypeDefKind::Type(Type::Id(next)) => id = *next,
            _ => break,
        }
    }
    id
}

/// wasm32 core type of a flat ABI slot.
pub fn core_type(t: WasmType) -> ValType {
    match t {
        WasmType::I32 | WasmType::Pointer | WasmType::Length => ValType::I32,
        WasmType::I64 | WasmType::PointerOrI64 => ValType::I64,
        WasmType::F32 => ValType::F32,
        WasmType::F64 => ValType::F64,
    }
}

/// A core function signature on wasm32.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CoreSig {
    /// Core parameter types.
    pub params: Vec<ValType>,
    /// Core result types (at most one for sync functions).
    pub results: Vec<ValType>,
    /// All component-level parameters travel in memory behind one pointer (more than 16 flat).
    pub indirect_params: bool,
    /// Results travel in memory: for a lowered import the caller passes the return area as an
    /// extra last parameter; a lifted export returns a pointer to it.
    pub retptr: bool,
}

impl CoreSig {
    fn from_wit(sig: WasmSignature) -> CoreSig {
        CoreSig {
            params: sig.params.into_iter().map(core_type).collect(),
            results: sig.results.into_iter().map(core_type).collect(),
            indirect_params: sig.indirect_params,
            retptr: sig.retptr,
        }
    }
}

/// The signature of `canon lower` of `func` (what the proxy's core code calls).
pub fn lowered_sig(resolve: &Resolve, func: &Function) -> CoreSig {
    CoreSig::from_wit(resolve.wasm_signature(AbiVariant::GuestImport, func))
}

/// The signature `canon lift` of `func` expects from the core function (the proxy's stub).
pub fn lifted_sig(resolve: &Resolve, func: &Function) -> CoreSig {
    CoreSig::from_wit(resolve.wasm_signature(AbiVariant::GuestExport, func))
}

/// `ty` with `type a = b` aliases followed (to recognize e.g. `list<u8>` behind an alias).
pub fn dealias_type(resolve: &Resolve, ty: &Type) -> Type {
    let mut ty = *ty;
    for _ in 0..1000 {
        match ty {
            Type::Id(id) => match &resolve.types[id].kind {
                TypeDefKind::Type(t) => ty = *t,
                _ => break,
            },
            _ => break,
        }
    }
    ty
}

/// Whether `ty` (behind aliases) is a primitive that is one flat value and needs no memory:
/// `bool`, the integers, the floats, `char`.
pub fn is_scalar(resolve: &Resolve, ty: &Type) -> bool {
    !matches!(
        dealias_type(resolve, ty),
        Type::String | Type::ErrorContext | Type::Id(_)
    )
}

/// Does a value of type `ty` contain a `borrow<_>` handle anywhere (lists, options, records, ...)?
pub fn contains_borrow(resolve: &Resolve, ty: &Type) -> bool {
    contains_handle(resolve, ty, &|h| matches!(h, Handle::Borrow(_)))
}

/// Does a value of type `ty` contain a handle for which `want` holds, anywhere (lists, options,
/// records, ...)?
pub fn contains_handle(resolve: &Resolve, ty: &Type, want: &dyn Fn(&Handle) -> bool) -> bool {
    let Type::Id(id) = ty else { return false };
    let any = |t: &Type| contains_handle(resolve, t, want);
    match &resolve.types[*id].kind {
        TypeDefKind::Handle(h) => want(h),
        TypeDefKind::Resource => false,
        TypeDefKind::Type(t)
        | TypeDefKind::List(t)
        | TypeDefKind::Option(t)
        | TypeDefKind::FixedLengthList(t, _) => any(t),
        TypeDefKind::Map(k, v) => any(k) || any(v),
        TypeDefKind::Record(r) => r.fields.iter().any(|f| any(&f.ty)),
        TypeDefKind::Tuple(t) => t.types.iter().any(any),
        TypeDefKind::Variant(v) => v.cases.iter().any(|c| c.ty.as_ref().is_some_and(any)),
        TypeDefKind::Result(r) => [&r.ok, &r.err]
            .into_iter()
            .any(|t| t.as_ref().is_some_and(any)),
        TypeDefKind::Flags(_)
        | TypeDefKind::Enum(_)
        | TypeDefKind::Future(_)
        | TypeDefKind::Stream(_)
        | TypeDefKind::Unknown => false,
    }
}

/// Flat (core) types of `ty`, without the 16-slot limit. Variants join their cases' slots the way
/// the canonical ABI does: how many slots a value takes, which is what the walk (`walk`) needs to
/// find where the next value's slots start.
pub fn flatten(resolve: &Resolve, ty: &Type, out: &mut Vec<WasmType>) {
    match ty {
        Type::Bool
        | Type::S8
        | Type::U8
        | Type::S16
        | Type::U16
        | Type::S32
        | Type::U32
        | Type::Char
        | Type::ErrorContext => out.push(WasmType::I32),
        Type::U64 | Type::S64 => out.push(WasmType::I64),
        Type::F32 => out.push(WasmType::F32),
        Type::F64 => out.push(WasmType::F64),
        Type::String => out.extend([WasmType::Pointer, WasmType::Length]),
        Type::Id(id) => match &resolve.types[*id].kind {
            TypeDefKind::Type(t) => flatten(resolve, t, out),
            TypeDefKind::Handle(_)
            | TypeDefKind::Future(_)
            | TypeDefKind::Stream(_)
            | TypeDefKind::Enum(_)
            | TypeDefKind::Resource
            | TypeDefKind::Unknown => out.push(WasmType::I32),
            TypeDefKind::Record(r) => r.fields.iter().for_each(|f| flatten(resolve, &f.ty, out)),
            TypeDefKind::Tuple(t) => t.types.iter().for_each(|t| flatten(resolve, t, out)),
            TypeDefKind::Flags(f) => {
                out.extend((0..f.repr().count()).map(|_| WasmType::I32));
            }
            TypeDefKind::List(_) | TypeDefKind::Map(..) => {
                out.extend([WasmType::Pointer, WasmType::Length])
            }
            TypeDefKind::FixedLengthList(t, n) => {
                for _ in 0..*n {
                    flatten(resolve, t, out);
                }
            }
            TypeDefKind::Option(t) => flatten_variant(resolve, [None, Some(t)], out),
            TypeDefKind::Result(r) => {
                flatten_variant(resolve, [r.ok.as_ref(), r.err.as_ref()], out)
            }
            TypeDefKind::Variant(v) => {
                flatten_variant(resolve, v.cases.iter().map(|c| c.ty.as_ref()), out)
            }
        },
    }
}

fn flatten_variant<'a>(
    resolve: &Resolve,
    cases: impl IntoIterator<Item = Option<&'a Type>>,
    out: &mut Vec<WasmType>,
) {
    out.push(WasmType::I32);
    let mut joined: Vec<WasmType> = Vec::new();
    for case in cases.into_iter().flatten() {
        let mut flat = Vec::new();
        flatten(resolve, case, &mut flat);
        for (i, t) in flat.into_iter().enumerate() {
            match joined.get_mut(i) {
                Some(j) => *j = join(*j, t),
                None => joined.push(t),
            }
        }
    }
    out.extend(joined);
}

/// The canonical ABI's `join` of two flat slot types (on wasm32, pointers are i32).
fn join(a: WasmType, b: WasmType) -> WasmType {
    let (a, b) = (core_type(a), core_type(b));
    if a == b {
        return to_wasm(a);
    }
    match (a, b) {
        (ValType::I32, ValType::F32) | (ValType::F32, ValType::I32) => WasmType::I32,
        _ => WasmType::I64,
    }
}

fn to_wasm(t: ValType) -> WasmType {
    match t {
        ValType::I64 => WasmType::I64,
        ValType::F32 => WasmType::F32,
        ValType::F64 => WasmType::F64,
        _ => WasmType::I32,
    }
}

/// Number of flat slots of `ty`.
pub fn flat_count(resolve: &Resolve, ty: &Type) -> usize {
    let mut v = Vec::new();
    flatten(resolve, ty, &mut v);
    v.len()
}

/// Size and alignment in bytes on wasm32.
pub fn size_align(sizes: &SizeAlign, ty: &Type) -> (u32, u32) {
    (
        u32::try_from(sizes.size(ty).size_wasm32()).unwrap_or(u32::MAX),
        u32::try_from(sizes.align(ty).align_wasm32()).unwrap_or(u32::MAX),
    )
}

/// Size and alignment (wasm32) of a list element made of `fields` laid out as a record: a list's
/// element is one field, a map's entry two (key, value).
pub fn element_size_align<'a>(
    sizes: &SizeAlign,
    fields: impl IntoIterator<Item = &'a Type>,
) -> (u32, u32) {
    let info = sizes.record(fields);
    (
        u32::try_from(info.size.size_wasm32()).unwrap_or(u32::MAX),
        u32::try_from(info.align.align_wasm32()).unwrap_or(u32::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our unbounded flattening must agree with wit-parser's where both apply.
    #[test]
    fn flatten_matches_wit_parser() {
        let mut resolve = Resolve::default();
        let pkg = resolve
            .push_str(
                "t.wit",
                "package a:b; interface i {
                    record r { a: u8, b: f32, c: option<u64> }
                    variant v { x(f32), y(u64), z(string), w }
                    f: func(a: r, b: v, c: result<f64, f32>, d: tuple<s8, list<u8>>);
                }",
            )
            .unwrap();
        let iface = resolve.packages[pkg].interfaces["i"];
        let func = &resolve.interfaces[iface].functions["f"];
        let mut ours = Vec::new();
        for p in &func.params {
            flatten(&resolve, &p.ty, &mut ours);
        }
        let theirs = resolve.wasm_signature(AbiVariant::GuestImport, func).params;
        let ours: Vec<_> = ours.into_iter().map(core_type).collect();
        let theirs: Vec<_> = theirs.into_iter().map(core_type).collect();
        assert_eq!(ours, theirs);
    }
}

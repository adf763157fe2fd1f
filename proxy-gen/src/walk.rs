//! The one canonical-ABI walk over a value in flat slots or in memory, which the generated
//! encoders (`encode`), decoders (`decode`) and handle walkers (`coremod`) all drive.
//!
//! Why one walk: where the parts of a value sit is the same question for all of them — the flat
//! slots of a record's fields (each field starts where the previous one's slots end), their
//! offsets in memory (`SizeAlign`), the payload of a variant case (the slots after the
//! discriminant, or the payload offset), a list's elements (laid out as records). Answering it in
//! three places let them drift apart; here it is answered once and a [`Visitor`] only says what
//! to emit for the parts it cares about.
//!
//! [`walk`] follows aliases, descends into records, tuples and fixed-length lists itself, and
//! hands every other kind of value to the visitor's hook, with its location. Hooks for lists and
//! variants emit their own prologue (reading a length, a discriminant) and then call back
//! [`walk_elements`] / [`walk_cases`] for the parts. A visitor that acts on some values only
//! (the handle walkers) says so in [`Visitor::wants`], and the walk skips everything else.

use anyhow::{anyhow, Result};
use wasm_encoder::{Instruction as I, ValType};
use wit_parser::{Handle, Int, Resolve, SizeAlign, Type, TypeDefKind};

use crate::abi;
use crate::wasmcode::{memarg_in, Body};

/// Where a value sits in canonical-ABI form.
#[derive(Clone, Copy, Debug)]
pub enum At<'s> {
    /// Flat slots: locals with their (joined) core types, the value's first slot first. The
    /// slice may go on past the value's own slots.
    Flat(&'s [(u32, ValType)]),
    /// Memory at `base + offset` (`base` an i32 local).
    Mem {
        /// The local holding the base address.
        base: u32,
        /// The constant offset from it.
        offset: u32,
    },
}

/// What a value of one type is, one level deep, with aliases followed.
pub enum Shape<'t> {
    /// bool, an integer, a float or a char (the [`Type`] itself).
    Scalar(Type),
    /// A string, or a list of 1-byte elements (`list<u8>`, `list<s8>`, also behind aliases):
    /// (pointer, length) to raw bytes.
    Bytes,
    /// An `own` or `borrow` handle: one i32.
    Handle(&'t Handle),
    /// A resource type used as a value (one i32).
    Resource,
    /// A record, tuple or fixed-length list: fields laid out like a record's.
    Fields(Vec<&'t Type>),
    /// A list or map: (pointer, count) of elements, each `fields` laid out as a record (one
    /// field for a list, key and value for a map).
    List(Vec<&'t Type>),
    /// Flags, with their number.
    Flags(usize),
    /// An enum, with the size of its discriminant.
    Enum(Int),
    /// A variant, option or result.
    Variant(VariantShape),
    /// Something no walker handles (component-model async types, an unknown type).
    Unsupported(Unsupported),
}

/// A variant-like value: a discriminant, then the payload of its case, if it has one.
pub struct VariantShape {
    /// The size of the discriminant in memory.
    pub tag: Int,
    /// The cases' payload types, in discriminant order.
    pub cases: Vec<Option<Type>>,
    /// A `variant` (its case index is a LEB128 on the wire), rather than an option or result
    /// (a byte).
    pub is_variant: bool,
}

/// What [`Shape::Unsupported`] is.
#[derive(Clone, Copy, Debug)]
pub enum Unsupported {
    /// `error-context`.
    ErrorContext,
    /// `future<T>` or `stream<T>`.
    FutureOrStream,
    /// wit-parser's `Unknown`.
    Unknown,
}

/// The [`Shape`] of `ty`.
pub fn shape<'t>(resolve: &'t Resolve, ty: &Type) -> Shape<'t> {
    let id = match abi::dealias_type(resolve, ty) {
        Type::String => return Shape::Bytes,
        Type::ErrorContext => return Shape::Unsupported(Unsupported::ErrorContext),
        Type::Id(id) => id,
        scalar => return Shape::Scalar(scalar),
    };
    match &resolve.types[id].kind {
        // Not reached (dealiased above).
        TypeDefKind::Type(t) => shape(resolve, t),
        TypeDefKind::Handle(h) => Shape::Handle(h),
        TypeDefKind::Resource => Shape::Resource,
        TypeDefKind::Record(r) => Shape::Fields(r.fields.iter().map(|f| &f.ty).collect()),
        TypeDefKind::Tuple(t) => Shape::Fields(t.types.iter().collect()),
        // Laid out (flat and in memory) like a tuple of `n` elements.
        TypeDefKind::FixedLengthList(t, n) => {
            Shape::Fields(std::iter::repeat_n(t, *n as usize).collect())
        }
        TypeDefKind::List(elem) => {
            if matches!(abi::dealias_type(resolve, elem), Type::U8 | Type::S8) {
                Shape::Bytes
            } else {
                Shape::List(vec![elem])
            }
        }
        // A list of (key, value) entries, each laid out as a record.
        TypeDefKind::Map(k, v) => Shape::List(vec![k, v]),
        TypeDefKind::Flags(f) => Shape::Flags(f.flags.len()),
        TypeDefKind::Enum(e) => Shape::Enum(e.tag()),
        TypeDefKind::Variant(v) => Shape::Variant(VariantShape {
            tag: v.tag(),
            cases: v.cases.iter().map(|c| c.ty).collect(),
            is_variant: true,
        }),
        TypeDefKind::Option(t) => Shape::Variant(VariantShape {
            tag: Int::U8,
            cases: vec![None, Some(*t)],
            is_variant: false,
        }),
        TypeDefKind::Result(r) => Shape::Variant(VariantShape {
            tag: Int::U8,
            cases: vec![r.ok, r.err],
            is_variant: false,
        }),
        TypeDefKind::Future(_) | TypeDefKind::Stream(_) => {
            Shape::Unsupported(Unsupported::FutureOrStream)
        }
        TypeDefKind::Unknown => Shape::Unsupported(Unsupported::Unknown),
    }
}

/// What one generator emits for the parts of a value. Every hook gets the part's location;
/// records, tuples and fixed-length lists never reach a hook ([`walk`] descends into them).
pub trait Visitor {
    /// The WIT types.
    fn resolve(&self) -> &Resolve;
    /// Canonical ABI sizes of [`Visitor::resolve`]'s types.
    fn sizes(&self) -> &SizeAlign;
    /// Whether to visit a value of type `ty` at all (all of them unless overridden).
    fn wants(&self, _ty: &Type) -> bool {
        true
    }
    /// A bool, integer, float or char.
    fn scalar(&self, b: &mut Body, ty: Type, at: At<'_>) -> Result<()>;
    /// A string or a list of 1-byte elements.
    fn bytes(&self, b: &mut Body, at: At<'_>) -> Result<()>;
    /// An `own` or `borrow` handle.
    fn handle(&self, b: &mut Body, handle: &Handle, at: At<'_>) -> Result<()>;
    /// A resource type used as a value.
    fn resource(&self, b: &mut Body, at: At<'_>) -> Result<()>;
    /// A list or map of elements made of `fields` (see [`Shape::List`]); the hook reads or
    /// allocates (pointer, count) and calls [`walk_elements`].
    fn list(&self, b: &mut Body, fields: &[&Type], at: At<'_>) -> Result<()>;
    /// `n` flags.
    fn flags(&self, b: &mut Body, n: usize, at: At<'_>) -> Result<()>;
    /// An enum with a discriminant of size `tag`.
    fn enumeration(&self, b: &mut Body, tag: Int, at: At<'_>) -> Result<()>;
    /// A variant, option or result; the hook gets the discriminant into a local and calls
    /// [`walk_cases`].
    fn variant(&self, b: &mut Body, variant: &VariantShape, at: At<'_>) -> Result<()>;
    /// A value this generator cannot handle: the error to report.
    fn unsupported(&self, what: Unsupported) -> Result<()>;
}

/// Most instructions one generated function may have. The code is straight-line per type, and
/// some nestings of variants multiply (the fuzzer found a random WIT type that made 3 GB of
/// code); real interfaces stay far below (WASI's largest function takes a few thousand).
pub const MAX_BODY_INSTRUCTIONS: usize = 1 << 20;

/// Emits `v`'s code for the value of type `ty` at `at`.
pub fn walk(v: &impl Visitor, b: &mut Body, ty: &Type, at: At<'_>) -> Result<()> {
    if !v.wants(ty) {
        return Ok(());
    }
    if b.code.len() > MAX_BODY_INSTRUCTIONS {
        crate::error::unsupported!(
            "a function's types are too large: their generated code exceeds \
             {MAX_BODY_INSTRUCTIONS} instructions"
        );
    }
    match shape(v.resolve(), ty) {
        Shape::Scalar(t) => v.scalar(b, t, at),
        Shape::Bytes => v.bytes(b, at),
        Shape::Handle(h) => v.handle(b, h, at),
        Shape::Resource => v.resource(b, at),
        Shape::Fields(fields) => walk_fields(v, b, fields.iter().copied(), at),
        Shape::List(fields) => v.list(b, &fields, at),
        Shape::Flags(n) => v.flags(b, n, at),
        Shape::Enum(tag) => v.enumeration(b, tag, at),
        Shape::Variant(variant) => v.variant(b, &variant, at),
        Shape::Unsupported(what) => v.unsupported(what),
    }
}

/// Walks values of `types` laid out one after the other like a record's fields, starting at
/// `at`: in flat slots each starts where the previous one's slots end, in memory at its
/// `SizeAlign` field offset. A function's parameters are laid out so too (flat, or in the
/// indirect-params area).
///
/// A value with no flat slot has nothing to read or write, so it is skipped when flat.
pub fn walk_fields<'t>(
    v: &impl Visitor,
    b: &mut Body,
    types: impl Iterator<Item = &'t Type> + Clone,
    at: At<'_>,
) -> Result<()> {
    match at {
        At::Flat(slots) => {
            let mut pos = 0;
            for t in types {
                let count = abi::flat_count(v.resolve(), t);
                if count == 0 {
                    continue;
                }
                let rest = slots
                    .get(pos..)
                    .ok_or_else(|| anyhow!("flat slot {pos} out of range"))?;
                walk(v, b, t, At::Flat(rest))?;
                pos += count;
            }
        }
        At::Mem { base, offset } => {
            for (off, t) in v.sizes().field_offsets(types) {
                let offset = offset + off.size_wasm32() as u32;
                walk(v, b, t, At::Mem { base, offset })?;
            }
        }
    }
    Ok(())
}

/// Emits a loop over the `len` elements at `ptr` (i32 locals), each `fields` laid out as a
/// record, walking each element's fields in memory.
pub fn walk_elements(
    v: &impl Visitor,
    b: &mut Body,
    fields: &[&Type],
    ptr: u32,
    len: u32,
) -> Result<()> {
    let (size, _) = abi::element_size_align(v.sizes(), fields.iter().copied());
    b.for_each_element(ptr, len, size, |b, elem| {
        walk_fields(
            v,
            b,
            fields.iter().copied(),
            At::Mem {
                base: elem,
                offset: 0,
            },
        )
    })
}

/// Emits `if disc == c { <payload of case c> }` for every case with a payload that `v` wants
/// (`disc` an i32 local holding the discriminant of the variant at `at`).
pub fn walk_cases(
    v: &impl Visitor,
    b: &mut Body,
    variant: &VariantShape,
    disc: u32,
    at: At<'_>,
) -> Result<()> {
    let payload = payload_at(v.sizes(), variant, at);
    b.for_each_case(
        disc,
        &variant.cases,
        |t| v.wants(t),
        |b, t| walk(v, b, t, payload),
    )
}

/// Where the payload of the variant at `at` sits: the slots after the discriminant (every case's
/// payload starts there, in the joined slot types), or the payload offset in memory.
pub fn payload_at<'s>(sizes: &SizeAlign, variant: &VariantShape, at: At<'s>) -> At<'s> {
    match at {
        At::Flat(slots) => At::Flat(slots.get(1..).unwrap_or(&[])),
        At::Mem { base, offset } => {
            let off = sizes.payload_offset(variant.tag, variant.cases.iter().map(|c| c.as_ref()));
            At::Mem {
                base,
                offset: offset + off.size_wasm32() as u32,
            }
        }
    }
}

/// Loads the (pointer, length) pair of a string or list stored at `base + offset` of memory
/// `memory` into two fresh i32 locals.
pub fn load_ptr_len(b: &mut Body, memory: u32, base: u32, offset: u32) -> (u32, u32) {
    let ptr = b.local(ValType::I32);
    let len = b.local(ValType::I32);
    b.code.extend([
        I::LocalGet(base),
        I::I32Load(memarg_in(memory, offset, 2)),
        I::LocalSet(ptr),
        I::LocalGet(base),
        I::I32Load(memarg_in(memory, offset + 4, 2)),
        I::LocalSet(len),
    ]);
    (ptr, len)
}

/// The load of a discriminant of size `tag` from memory `memory` (zero-extended to i32).
pub fn load_tag(tag: Int, memory: u32, offset: u32) -> I<'static> {
    match tag {
        Int::U8 => I::I32Load8U(memarg_in(memory, offset, 0)),
        Int::U16 => I::I32Load16U(memarg_in(memory, offset, 1)),
        Int::U32 | Int::U64 => I::I32Load(memarg_in(memory, offset, 2)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// Logs every hook with its location: flat slots by local index, memory by offset.
    struct Log<'r> {
        resolve: &'r Resolve,
        sizes: SizeAlign,
        only_handles: bool,
        log: RefCell<Vec<String>>,
    }

    impl Log<'_> {
        fn put(&self, what: &str, at: At<'_>) {
            let at = match at {
                At::Flat(slots) => format!("slot {}", slots.first().map_or(-1, |s| s.0 as i64)),
                At::Mem { offset, .. } => format!("mem {offset}"),
            };
            self.log.borrow_mut().push(format!("{what} @ {at}"));
        }
    }

    impl Visitor for Log<'_> {
        fn resolve(&self) -> &Resolve {
            self.resolve
        }
        fn sizes(&self) -> &SizeAlign {
            &self.sizes
        }
        fn wants(&self, ty: &Type) -> bool {
            !self.only_handles || abi::contains_handle(self.resolve, ty, &|_| true)
        }
        fn scalar(&self, _: &mut Body, ty: Type, at: At<'_>) -> Result<()> {
            self.put(&format!("{ty:?}"), at);
            Ok(())
        }
        fn bytes(&self, _: &mut Body, at: At<'_>) -> Result<()> {
            self.put("bytes", at);
            Ok(())
        }
        fn handle(&self, _: &mut Body, _: &Handle, at: At<'_>) -> Result<()> {
            self.put("handle", at);
            Ok(())
        }
        fn resource(&self, _: &mut Body, at: At<'_>) -> Result<()> {
            self.put("resource", at);
            Ok(())
        }
        fn list(&self, b: &mut Body, fields: &[&Type], at: At<'_>) -> Result<()> {
            self.put(&format!("list of {}", fields.len()), at);
            let (ptr, len) = (b.local(ValType::I32), b.local(ValType::I32));
            walk_elements(self, b, fields, ptr, len)
        }
        fn flags(&self, _: &mut Body, n: usize, at: At<'_>) -> Result<()> {
            self.put(&format!("flags {n}"), at);
            Ok(())
        }
        fn enumeration(&self, _: &mut Body, tag: Int, at: At<'_>) -> Result<()> {
            self.put(&format!("enum {tag:?}"), at);
            Ok(())
        }
        fn variant(&self, b: &mut Body, variant: &VariantShape, at: At<'_>) -> Result<()> {
            self.put(&format!("variant of {}", variant.cases.len()), at);
            let disc = b.local(ValType::I32);
            walk_cases(self, b, variant, disc, at)
        }
        fn unsupported(&self, what: Unsupported) -> Result<()> {
            Err(anyhow!("{what:?}"))
        }
    }

    fn walk_params(only_handles: bool, in_slots: bool) -> Vec<String> {
        let mut resolve = Resolve::default();
        let pkg = resolve
            .push_str(
                "t.wit",
                "package a:b; interface i {
                    resource res;
                    record r { a: u8, b: string, c: option<u64>, d: list<tuple<u16, borrow<res>>> }
                    type alias = r;
                    f: func(x: alias, y: result<f32, own<res>>, z: list<u8, 2>);
                }",
            )
            .unwrap();
        let iface = resolve.packages[pkg].interfaces["i"];
        let func = resolve.interfaces[iface].functions["f"].clone();
        let mut sizes = SizeAlign::default();
        sizes.fill(&resolve);
        let v = Log {
            resolve: &resolve,
            sizes,
            only_handles,
            log: RefCell::new(Vec::new()),
        };
        let mut flat = Vec::new();
        for p in &func.params {
            abi::flatten(&resolve, &p.ty, &mut flat);
        }
        let slots: Vec<(u32, ValType)> = flat
            .into_iter()
            .enumerate()
            .map(|(i, t)| (i as u32, abi::core_type(t)))
            .collect();
        let at = if in_slots {
            At::Flat(&slots)
        } else {
            At::Mem { base: 0, offset: 0 }
        };
        let mut b = Body::new(slots.len() as u32);
        walk_fields(&v, &mut b, func.params.iter().map(|p| &p.ty), at).unwrap();
        v.log.into_inner()
    }

    /// Every part of a value is visited at its canonical-ABI place: flat slots one after the
    /// other (a variant's payload right after its discriminant, in the joined slots), memory at
    /// the `SizeAlign` offsets (aligned fields, payload offset), list elements from offset 0.
    #[test]
    fn parts_are_visited_where_the_canonical_abi_puts_them() {
        assert_eq!(
            walk_params(false, true),
            [
                "U8 @ slot 0",
                "bytes @ slot 1",
                "variant of 2 @ slot 3",
                "U64 @ slot 4",
                "list of 1 @ slot 5",
                "U16 @ mem 0",
                "handle @ mem 4",
                "variant of 2 @ slot 7",
                "F32 @ slot 8",
                "handle @ slot 8",
                "U8 @ slot 9",
                "U8 @ slot 10",
            ]
        );
        assert_eq!(
            walk_params(false, false),
            [
                "U8 @ mem 0",
                "bytes @ mem 4",
                "variant of 2 @ mem 16",
                "U64 @ mem 24",
                "list of 1 @ mem 32",
                "U16 @ mem 0",
                "handle @ mem 4",
                "variant of 2 @ mem 40",
                "F32 @ mem 44",
                "handle @ mem 44",
                "U8 @ mem 48",
                "U8 @ mem 49",
            ]
        );
    }

    /// A visitor that wants only some values (the handle walkers) sees only those and what
    /// contains them.
    #[test]
    fn unwanted_parts_are_skipped() {
        assert_eq!(
            walk_params(true, true),
            [
                "list of 1 @ slot 5",
                "handle @ mem 4",
                "variant of 2 @ slot 7",
                "handle @ slot 8",
            ]
        );
    }
}

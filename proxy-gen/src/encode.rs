//! Generated value encoders: type-directed wasm that appends a value, in proxyrt's frozen wire
//! format, to an output buffer in the proxy's memory.
//!
//! Why generated code and not an interpreter over a type table: the stubs already hold every value
//! in canonical-ABI form (flat locals, the indirect-params area, the return area), and the type of
//! each position is known when the proxy is synthesized, so the encoder of a function is
//! straight-line code (plus one loop per list) with no dispatch at run time. Where each part of a
//! value sits is `walk`'s job, shared with the decoders (`decode`) and the handle walkers
//! (`coremod`); the [`Encoder`] is the [`Visitor`] that writes the wire format.
//!
//! **Wire format (frozen; `recorder-host/src/value.rs` decodes it):** bool/u8/s8: 1 byte; u16, u32,
//! u64, char: unsigned LEB128; s16, s32, s64: zigzag then unsigned LEB128; f32/f64: 4/8 bytes
//! little-endian raw bits (NaN payloads kept); string: LEB128 byte length + UTF-8 bytes; list:
//! LEB128 count + elements (`list<u8>`/`list<s8>`: + the raw bytes); fixed-length list: the
//! elements; map: LEB128 count + key and value of each entry; record/tuple: fields in
//! order; variant/enum: LEB128 case index (+ payload); option/result: 1 byte case (+ payload);
//! flags: ceil(n/8) bytes, flag i = bit i%8 of byte i/8; own/borrow: LEB128 of the handle id, the rep
//! of the proxy's wrapper resource (stable across builds; DESIGN.md, "Wrapper resources").
//!
//! **The buffer.** The output starts at the top of the bump heap (`realloc(0, 0, 1, 0)` returns it
//! without moving it) and grows upwards; the `ensure` helper grows memory before every write. No
//! allocation happens while a value is being encoded (the walk only reads), so the buffer never
//! overlaps live data; it is handed to the recorder right away (lowered in place) and may then be
//! overwritten by later allocations of the same call. The write cursor is a local of the stub that
//! every helper takes and returns.

use anyhow::{anyhow, Result};
use wasm_encoder::{BlockType, Function, Instruction as I, ValType};
use wit_parser::{Handle, Int, Resolve, SizeAlign, Type};

use crate::abi;
use crate::error::unsupported;
use crate::walk::{self, At, Unsupported, VariantShape, Visitor};
use crate::wasmcode::{memarg_in, Body};

/// Function indices of the encoder helpers in the stub module (see [`helper_functions`]).
#[derive(Clone, Copy)]
/// (`ensure(cur, n)`, which grows memory so that `cur + n` is in bounds or traps, comes first
/// and is only called by the others.)
pub struct Helpers {
    /// `leb32(cur, v: i32) -> cur`: unsigned LEB128 of `v`.
    pub leb32: u32,
    /// `leb64(cur, v: i64) -> cur`: unsigned LEB128 of `v`.
    pub leb64: u32,
    /// `put8(cur, v: i32) -> cur`: the low byte of `v`.
    pub put8: u32,
    /// `put32(cur, v: i32) -> cur`: 4 bytes little-endian.
    pub put32: u32,
    /// `put64(cur, v: i64) -> cur`: 8 bytes little-endian.
    pub put64: u32,
    /// `copy(cur, src, n) -> cur`: `n` bytes from `src` (`memory.copy`).
    pub copy: u32,
}

/// The memories encoded values move between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memories {
    /// Where the values are read (`copy`'s source).
    pub src: u32,
    /// Where the encoding is written, and grown as needed.
    pub dst: u32,
}

impl Memories {
    /// The proxy's: its one memory holds both the values and the encoding.
    pub const ONE: Memories = Memories { src: 0, dst: 0 };
}

/// The core signatures and bodies of the helpers, defined from function index `first` on (the
/// order of [`Helpers::at`]), writing to `mems.dst` (and `copy` reading from `mems.src`).
pub fn helper_functions(first: u32, mems: Memories) -> Vec<(Vec<ValType>, Vec<ValType>, Function)> {
    let ensure = first;
    let memarg = |offset, align| memarg_in(mems.dst, offset, align);
    use ValType::{I32, I64};
    let mut out = Vec::new();

    // ensure(cur 0, n 1); local end 2: i64 (overflow past 4 GiB is caught, not wrapped).
    let mut f = Function::new_with_locals_types([I64]);
    for i in [
        I::LocalGet(0),
        I::I64ExtendI32U,
        I::LocalGet(1),
        I::I64ExtendI32U,
        I::I64Add,
        I::LocalSet(2),
    ]
    .into_iter()
    .chain(crate::wasmcode::grow_memory_in(mems.dst, 2))
    .chain([I::End])
    {
        f.instruction(&i);
    }
    out.push((vec![I32, I32], vec![], f));

    // leb32(cur 0, v 1) -> cur; local rest 2. leb64 is the same over i64.
    for wide in [false, true] {
        let t = if wide { I64 } else { I32 };
        let mut f = Function::new_with_locals_types([t]);
        let mut code = vec![
            I::LocalGet(0),
            I::I32Const(if wide { 10 } else { 5 }),
            I::Call(ensure),
            I::Block(BlockType::Empty),
            I::Loop(BlockType::Empty),
            I::LocalGet(1),
        ];
        if wide {
            code.extend([I::I64Const(7), I::I64ShrU, I::LocalTee(2), I::I64Eqz]);
        } else {
            code.extend([I::I32Const(7), I::I32ShrU, I::LocalTee(2), I::I32Eqz]);
        }
        code.extend([I::BrIf(1), I::LocalGet(0), I::LocalGet(1)]);
        if wide {
            code.extend([I::I64Const(0x80), I::I64Or, I::I64Store8(memarg(0, 0))]);
        } else {
            code.extend([I::I32Const(0x80), I::I32Or, I::I32Store8(memarg(0, 0))]);
        }
        code.extend([
            I::LocalGet(0),
            I::I32Const(1),
            I::I32Add,
            I::LocalSet(0),
            I::LocalGet(2),
            I::LocalSet(1),
            I::Br(0),
            I::End,
            I::End,
            I::LocalGet(0),
            I::LocalGet(1),
            if wide {
                I::I64Store8(memarg(0, 0))
            } else {
                I::I32Store8(memarg(0, 0))
            },
            I::LocalGet(0),
            I::I32Const(1),
            I::I32Add,
            I::End,
        ]);
        for i in &code {
            f.instruction(i);
        }
        out.push((vec![I32, t], vec![I32], f));
    }

    // put8 / put32 / put64 (cur 0, v 1) -> cur
    for (t, n, store) in [
        (I32, 1, I::I32Store8(memarg(0, 0))),
        (I32, 4, I::I32Store(memarg(0, 0))),
        (I64, 8, I::I64Store(memarg(0, 0))),
    ] {
        let mut f = Function::new([]);
        for i in [
            I::LocalGet(0),
            I::I32Const(n),
            I::Call(ensure),
            I::LocalGet(0),
            I::LocalGet(1),
            store,
            I::LocalGet(0),
            I::I32Const(n),
            I::I32Add,
            I::End,
        ] {
            f.instruction(&i);
        }
        out.push((vec![I32, t], vec![I32], f));
    }

    // copy(cur 0, src 1, n 2) -> cur
    let mut f = Function::new([]);
    for i in [
        I::LocalGet(0),
        I::LocalGet(2),
        I::Call(ensure),
        I::LocalGet(0),
        I::LocalGet(1),
        I::LocalGet(2),
        I::MemoryCopy {
            src_mem: mems.src,
            dst_mem: mems.dst,
        },
        I::LocalGet(0),
        I::LocalGet(2),
        I::I32Add,
        I::End,
    ] {
        f.instruction(&i);
    }
    out.push((vec![I32, I32, I32], vec![I32], f));
    out
}

/// How many helper functions [`helper_functions`] defines.
pub const HELPER_COUNT: u32 = 7;

impl Helpers {
    /// The index of `ensure`, the first helper.
    pub fn ensure(&self) -> u32 {
        self.leb32 - 1
    }

    /// The helpers defined from function index `first` on, in [`helper_functions`] order.
    pub fn at(first: u32) -> Helpers {
        Helpers {
            leb32: first + 1,
            leb64: first + 2,
            put8: first + 3,
            put32: first + 4,
            put64: first + 5,
            copy: first + 6,
        }
    }
}

/// Emits encoders into a stub body; `cur` is the local holding the write cursor.
pub struct Encoder<'r> {
    /// The WIT types.
    pub resolve: &'r Resolve,
    /// Canonical ABI sizes of `resolve`'s types.
    pub sizes: &'r SizeAlign,
    /// Helper function indices.
    pub h: Helpers,
    /// The cursor local.
    pub cur: u32,
    /// The memory the values are in (the helpers know where the encoding goes).
    pub memory: u32,
    /// With wrapper resources: `resource.rep` of the wrapper type per (dealiased) resource, to
    /// record an `own` the guest passes by its id (a borrow arrives as the rep already).
    pub own_rep: Option<&'r std::collections::HashMap<wit_parser::TypeId, u32>>,
}

/// How a primitive is read from memory and which helper writes it.
#[derive(Clone, Copy)]
enum Prim {
    /// bool: normalized to 0/1, one byte.
    Bool,
    /// u8/s8: one byte.
    Byte,
    /// Unsigned up to 32 bits (or a handle, or a char): LEB128; the memory load to use.
    U32(Load),
    /// Signed up to 32 bits (sign-extended on load): zigzag + LEB128.
    S32(Load),
    U64,
    S64,
    /// f32 bits.
    F32,
    /// f64 bits.
    F64,
}

#[derive(Clone, Copy)]
enum Load {
    U8,
    U16,
    S16,
    W32,
}

impl Encoder<'_> {
    /// Appends the encoding of the value of type `ty` at `at`.
    pub fn value(&self, b: &mut Body, ty: &Type, at: At<'_>) -> Result<()> {
        walk::walk(self, b, ty, at)
    }

    /// Appends the encoding of a lowered call's `result` (of the function `name`), where the
    /// canonical ABI put it: in the return area whose address is in local `area`, or in the flat
    /// result kept in a local (`Body::keep_call_result`).
    pub fn call_result(
        &self,
        b: &mut Body,
        name: &str,
        result: &Type,
        area: Option<u32>,
        flat: Option<(u32, ValType)>,
    ) -> Result<()> {
        match (area, flat) {
            (Some(base), _) => self.value(b, result, At::Mem { base, offset: 0 }),
            (None, Some((r, t))) => self.value(b, result, At::Flat(&[(r, t)])),
            (None, None) => Err(anyhow!("result of `{name}` is neither flat nor in memory")),
        }
    }

    /// Appends the encoding of values of `types` laid out like a record's fields (a function's
    /// parameters) at `at`, one after the other.
    pub fn fields<'t>(
        &self,
        b: &mut Body,
        types: impl Iterator<Item = &'t Type> + Clone,
        at: At<'_>,
    ) -> Result<()> {
        walk::walk_fields(self, b, types, at)
    }

    /// Pushes the i32 (or i64 when `wide`) at the first slot / at memory, converting a joined slot.
    fn push(&self, b: &mut Body, at: At<'_>, load: Load, wide: bool) -> Result<()> {
        match at {
            At::Flat(slots) => {
                let (local, have) = *slots.first().ok_or_else(|| anyhow!("missing flat slot"))?;
                b.code.push(I::LocalGet(local));
                match (have, wide) {
                    (ValType::I32, false) | (ValType::I64, true) => {}
                    (ValType::I64, false) => b.code.push(I::I32WrapI64),
                    (ValType::F32, false) => b.code.push(I::I32ReinterpretF32),
                    (ValType::F64, true) => b.code.push(I::I64ReinterpretF64),
                    (have, _) => {
                        return Err(anyhow!(
                            "flat slot of type {have:?} for a wide={wide} value"
                        ))
                    }
                }
            }
            At::Mem { base, offset } => {
                let memarg = |offset, align| memarg_in(self.memory, offset, align);
                b.code.push(I::LocalGet(base));
                b.code.push(match (load, wide) {
                    (_, true) => I::I64Load(memarg(offset, 3)),
                    (Load::U8, false) => I::I32Load8U(memarg(offset, 0)),
                    (Load::U16, false) => I::I32Load16U(memarg(offset, 1)),
                    (Load::S16, false) => I::I32Load16S(memarg(offset, 1)),
                    (Load::W32, false) => I::I32Load(memarg(offset, 2)),
                });
            }
        }
        Ok(())
    }

    fn prim(&self, b: &mut Body, prim: Prim, at: At<'_>) -> Result<()> {
        b.code.push(I::LocalGet(self.cur));
        let call = match prim {
            Prim::Bool => {
                self.push(b, at, Load::U8, false)?;
                b.code.extend([I::I32Const(0), I::I32Ne]);
                self.h.put8
            }
            Prim::Byte => {
                self.push(b, at, Load::U8, false)?;
                self.h.put8
            }
            Prim::U32(load) => {
                self.push(b, at, load, false)?;
                self.h.leb32
            }
            Prim::S32(load) => {
                // Flat s8/s16/s32 are sign-extended to i32 and the loads sign-extend, so the
                // 32-bit zigzag gives the same number as a zigzag at the type's own width.
                self.push(b, at, load, false)?;
                let t = b.local(ValType::I32);
                b.code.extend([
                    I::LocalTee(t),
                    I::I32Const(1),
                    I::I32Shl,
                    I::LocalGet(t),
                    I::I32Const(31),
                    I::I32ShrS,
                    I::I32Xor,
                ]);
                self.h.leb32
            }
            Prim::U64 => {
                self.push(b, at, Load::W32, true)?;
                self.h.leb64
            }
            Prim::S64 => {
                self.push(b, at, Load::W32, true)?;
                let t = b.local(ValType::I64);
                b.code.extend([
                    I::LocalTee(t),
                    I::I64Const(1),
                    I::I64Shl,
                    I::LocalGet(t),
                    I::I64Const(63),
                    I::I64ShrS,
                    I::I64Xor,
                ]);
                self.h.leb64
            }
            Prim::F32 => {
                self.push(b, at, Load::W32, false)?;
                self.h.put32
            }
            Prim::F64 => {
                self.push(b, at, Load::W32, true)?;
                self.h.put64
            }
        };
        b.code.extend([I::Call(call), I::LocalSet(self.cur)]);
        Ok(())
    }

    /// The (ptr, len) of a string or list at `at`, in two fresh i32 locals.
    fn ptr_len(&self, b: &mut Body, at: At<'_>) -> Result<(u32, u32)> {
        match at {
            At::Flat(slots) => {
                let ptr = b.local(ValType::I32);
                let len = b.local(ValType::I32);
                self.push(b, At::Flat(slots), Load::W32, false)?;
                b.code.push(I::LocalSet(ptr));
                let rest = slots
                    .get(1..)
                    .ok_or_else(|| anyhow!("missing length slot"))?;
                self.push(b, At::Flat(rest), Load::W32, false)?;
                b.code.push(I::LocalSet(len));
                Ok((ptr, len))
            }
            At::Mem { base, offset } => Ok(walk::load_ptr_len(b, self.memory, base, offset)),
        }
    }
}

impl Visitor for Encoder<'_> {
    fn resolve(&self) -> &Resolve {
        self.resolve
    }

    fn sizes(&self) -> &SizeAlign {
        self.sizes
    }

    fn scalar(&self, b: &mut Body, ty: Type, at: At<'_>) -> Result<()> {
        let prim = match ty {
            Type::Bool => Prim::Bool,
            Type::U8 | Type::S8 => Prim::Byte,
            Type::U16 => Prim::U32(Load::U16),
            Type::S16 => Prim::S32(Load::S16),
            Type::U32 | Type::Char => Prim::U32(Load::W32),
            Type::S32 => Prim::S32(Load::W32),
            Type::U64 => Prim::U64,
            Type::S64 => Prim::S64,
            Type::F32 => Prim::F32,
            Type::F64 => Prim::F64,
            other => return Err(anyhow!("{other:?} is not a scalar")),
        };
        self.prim(b, prim, at)
    }

    /// A string or a list of 1-byte elements: LEB128 length, then the bytes (`memory.copy`).
    fn bytes(&self, b: &mut Body, at: At<'_>) -> Result<()> {
        let (ptr, len) = self.ptr_len(b, at)?;
        b.code.extend([
            I::LocalGet(self.cur),
            I::LocalGet(len),
            I::Call(self.h.leb32),
            I::LocalSet(self.cur),
            I::LocalGet(self.cur),
            I::LocalGet(ptr),
            I::LocalGet(len),
            I::Call(self.h.copy),
            I::LocalSet(self.cur),
        ]);
        Ok(())
    }

    fn handle(&self, b: &mut Body, handle: &Handle, at: At<'_>) -> Result<()> {
        match (handle, self.own_rep) {
            // A wrapper `own` is recorded by its rep (the id); every other handle is the u32 the
            // stub holds (a wrapper borrow's rep, or a pass-through handle's index in our table).
            (Handle::Own(r), Some(own_rep)) => {
                let r = abi::dealias(self.resolve, *r);
                let rep = own_rep
                    .get(&r)
                    .ok_or_else(|| anyhow!("no resource.rep for a wrapped resource"))?;
                b.code.push(I::LocalGet(self.cur));
                self.push(b, at, Load::W32, false)?;
                b.code
                    .extend([I::Call(*rep), I::Call(self.h.leb32), I::LocalSet(self.cur)]);
                Ok(())
            }
            _ => self.prim(b, Prim::U32(Load::W32), at),
        }
    }

    fn resource(&self, b: &mut Body, at: At<'_>) -> Result<()> {
        self.prim(b, Prim::U32(Load::W32), at)
    }

    /// LEB128 count, then a loop encoding each element from memory.
    fn list(&self, b: &mut Body, fields: &[&Type], at: At<'_>) -> Result<()> {
        let (ptr, len) = self.ptr_len(b, at)?;
        b.code.extend([
            I::LocalGet(self.cur),
            I::LocalGet(len),
            I::Call(self.h.leb32),
            I::LocalSet(self.cur),
        ]);
        walk::walk_elements(self, b, fields, ptr, len)
    }

    fn flags(&self, b: &mut Body, n: usize, at: At<'_>) -> Result<()> {
        let nbytes = n.div_ceil(8) as u32;
        match at {
            At::Mem { base, offset } => {
                // Memory holds the flags as little-endian integers: flag i is bit i%8 of
                // byte i/8 already.
                if nbytes > 0 {
                    b.code.extend([
                        I::LocalGet(self.cur),
                        I::LocalGet(base),
                        I::I32Const(offset as i32),
                        I::I32Add,
                        I::I32Const(nbytes as i32),
                        I::Call(self.h.copy),
                        I::LocalSet(self.cur),
                    ]);
                }
            }
            At::Flat(slots) => {
                for j in 0..nbytes {
                    let word = slots
                        .get((j / 4) as usize..)
                        .ok_or_else(|| anyhow!("missing flags slot"))?;
                    b.code.push(I::LocalGet(self.cur));
                    self.push(b, At::Flat(word), Load::W32, false)?;
                    if j % 4 != 0 {
                        b.code.extend([I::I32Const(8 * (j % 4) as i32), I::I32ShrU]);
                    }
                    b.code.extend([I::Call(self.h.put8), I::LocalSet(self.cur)]);
                }
            }
        }
        Ok(())
    }

    fn enumeration(&self, b: &mut Body, tag: Int, at: At<'_>) -> Result<()> {
        self.prim(b, Prim::U32(tag_load(tag)), at)
    }

    /// Case index (LEB128 for variants, one byte for option/result), then the case's payload.
    fn variant(&self, b: &mut Body, variant: &VariantShape, at: At<'_>) -> Result<()> {
        let disc = b.local(ValType::I32);
        self.push(b, at, tag_load(variant.tag), false)?;
        b.code.extend([
            I::LocalSet(disc),
            I::LocalGet(self.cur),
            I::LocalGet(disc),
            I::Call(if variant.is_variant {
                self.h.leb32
            } else {
                self.h.put8
            }),
            I::LocalSet(self.cur),
        ]);
        walk::walk_cases(self, b, variant, disc, at)
    }

    fn unsupported(&self, what: Unsupported) -> Result<()> {
        match what {
            Unsupported::ErrorContext => unsupported!("recording an `error-context` value"),
            Unsupported::FutureOrStream => {
                unsupported!("recording a future/stream (component-model async)")
            }
            Unsupported::Unknown => unsupported!("recording a value of unknown type"),
        }
    }
}

/// The memory load of a discriminant of size `tag`.
fn tag_load(tag: Int) -> Load {
    match tag {
        Int::U8 => Load::U8,
        Int::U16 => Load::U16,
        Int::U32 | Int::U64 => Load::W32,
    }
}

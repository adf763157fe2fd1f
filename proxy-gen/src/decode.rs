//! Generated value decoders (replay): type-directed wasm that reads a value in proxyrt's wire
//! format (see `encode`) from the bytes the replayer returned and writes it where `canon lift`
//! expects the function's result: the single flat result local, or the return area.
//!
//! The mirror image of `encode`: straight-line code per function, one loop per non-byte list, one
//! `if` per variant case with a payload. Strings and `list<u8>`/`list<s8>` are not copied: the
//! result points into the replayer's buffer, which lives in the proxy's bump heap until the
//! post-return resets it, after `canon lift` copied everything to the guest. Other lists are
//! allocated with the bump `realloc`. `own` handles become handles of the proxy's own resource
//! types (`resource.new` with rep = the recorded id), so that the guest's later borrows arrive as
//! the recorded id.
//!
//! **Reading is bounds-checked**: the read cursor and the end of the buffer are globals of the
//! stub module and every helper traps (`unreachable`) rather than read past the end; a stub traps
//! too if bytes are left over. Values `canon lift` itself checks (bools, chars, discriminants, UTF-8)
//! are not checked twice: a bad one traps there.

use anyhow::{anyhow, bail, Result};
use std::collections::HashMap;
use wasm_encoder::{BlockType, Function, Instruction as I, ValType};
use wit_parser::{Handle, Int, Resolve, SizeAlign, Type, TypeId};

use crate::abi;
use crate::error::unsupported;
use crate::walk::{self, At, Unsupported, VariantShape, Visitor};
use crate::wasmcode::{memarg_in, Body};

/// Function and global indices of the decoder helpers in the stub module.
#[derive(Clone, Copy)]
pub struct Readers {
    /// `u8() -> i32`: one byte.
    pub u8: u32,
    /// `leb32() -> i32`: unsigned LEB128 (at most 5 bytes).
    pub leb32: u32,
    /// `leb64() -> i64`: unsigned LEB128 (at most 10 bytes).
    pub leb64: u32,
    /// `w32() -> i32`: 4 bytes little-endian.
    pub w32: u32,
    /// `w64() -> i64`: 8 bytes little-endian.
    pub w64: u32,
    /// `skip(n) -> ptr`: the address of the next `n` bytes, which are skipped.
    pub skip: u32,
    /// Global: the read cursor.
    pub cur: u32,
    /// Global: one past the last readable byte.
    pub end: u32,
    /// The memory the bytes are in (the proxy's one memory; a spliced stub's batch memory).
    pub memory: u32,
}

/// How many functions [`reader_functions`] defines.
pub const READER_COUNT: u32 = 6;

impl Readers {
    /// The helpers defined from function index `first` on (the order of [`reader_functions`]), with
    /// the cursor and end in globals `cur` and `cur + 1`.
    pub fn at(first: u32, cur: u32) -> Readers {
        Readers {
            u8: first,
            leb32: first + 1,
            leb64: first + 2,
            w32: first + 3,
            w64: first + 4,
            skip: first + 5,
            cur,
            end: cur + 1,
            memory: 0,
        }
    }

    /// The same helpers reading memory `memory`.
    pub fn in_memory(self, memory: u32) -> Readers {
        Readers { memory, ..self }
    }

    /// Instructions that make the readers' input the bytes of the `list<u8>` whose (ptr, len)
    /// is at the address in local `area` (where `replayer.next` put its result).
    pub fn read_from(&self, area: u32) -> [I<'static>; 9] {
        [
            I::LocalGet(area),
            I::I32Load(memarg_in(self.memory, 0, 2)),
            I::GlobalSet(self.cur),
            I::LocalGet(area),
            I::I32Load(memarg_in(self.memory, 0, 2)),
            I::LocalGet(area),
            I::I32Load(memarg_in(self.memory, 4, 2)),
            I::I32Add,
            I::GlobalSet(self.end),
        ]
    }

    /// Instructions that trap unless every byte of the input was read.
    pub fn all_read(&self) -> [I<'static>; 6] {
        [
            I::GlobalGet(self.cur),
            I::GlobalGet(self.end),
            I::I32Ne,
            I::If(BlockType::Empty),
            I::Unreachable,
            I::End,
        ]
    }
}

/// Instructions that trap unless the `n` bytes (an i32 that the instructions `n` push) after the
/// read cursor are readable.
fn check_avail(r: Readers, n: &[I<'static>]) -> Vec<I<'static>> {
    // if (i64(cur) + i64(n) > i64(end)) unreachable
    let mut v = vec![I::GlobalGet(r.cur), I::I64ExtendI32U];
    v.extend(n.iter().cloned());
    v.extend([
        I::I64ExtendI32U,
        I::I64Add,
        I::GlobalGet(r.end),
        I::I64ExtendI32U,
        I::I64GtU,
        I::If(BlockType::Empty),
        I::Unreachable,
        I::End,
    ]);
    v
}

/// The core signatures and bodies of the readers, for function indices from `Readers::at(first, _)`.
pub fn reader_functions(r: Readers) -> Vec<(Vec<ValType>, Vec<ValType>, Function)> {
    use ValType::{I32, I64};
    let mut out = Vec::new();
    let body = |locals: Vec<ValType>, code: Vec<I<'static>>| {
        let mut f = Function::new_with_locals_types(locals);
        for i in &code {
            f.instruction(i);
        }
        f.instruction(&I::End);
        f
    };

    // u8() -> i32
    let mut code = check_avail(r, &[I::I32Const(1)]);
    code.extend([
        I::GlobalGet(r.cur),
        I::I32Load8U(memarg_in(r.memory, 0, 0)),
        I::GlobalGet(r.cur),
        I::I32Const(1),
        I::I32Add,
        I::GlobalSet(r.cur),
    ]);
    out.push((vec![], vec![I32], body(vec![], code)));

    // leb32 / leb64: locals result 0, shift 1 (i32), byte 2 (i32)
    for wide in [false, true] {
        let t = if wide { I64 } else { I32 };
        let max_shift = if wide { 63 } else { 28 };
        let mut code = vec![
            I::Block(BlockType::Empty),
            I::Loop(BlockType::Empty),
            // byte = u8()
            I::Call(r.u8),
            I::LocalTee(2),
            I::I32Const(0x7f),
            I::I32And,
        ];
        if wide {
            code.extend([
                I::I64ExtendI32U,
                I::LocalGet(1),
                I::I64ExtendI32U,
                I::I64Shl,
            ]);
            code.extend([I::LocalGet(0), I::I64Or, I::LocalSet(0)]);
        } else {
            code.extend([
                I::LocalGet(1),
                I::I32Shl,
                I::LocalGet(0),
                I::I32Or,
                I::LocalSet(0),
            ]);
        }
        code.extend([
            // done when the continuation bit is clear
            I::LocalGet(2),
            I::I32Const(0x80),
            I::I32And,
            I::I32Eqz,
            I::BrIf(1),
            // too long: trap
            I::LocalGet(1),
            I::I32Const(max_shift),
            I::I32GeU,
            I::If(BlockType::Empty),
            I::Unreachable,
            I::End,
            I::LocalGet(1),
            I::I32Const(7),
            I::I32Add,
            I::LocalSet(1),
            I::Br(0),
            I::End,
            I::End,
            I::LocalGet(0),
        ]);
        out.push((vec![], vec![t], body(vec![t, I32, I32], code)));
    }

    // w32 / w64
    for (t, n, load) in [
        (I32, 4, I::I32Load(memarg_in(r.memory, 0, 0))),
        (I64, 8, I::I64Load(memarg_in(r.memory, 0, 0))),
    ] {
        let mut code = check_avail(r, &[I::I32Const(n)]);
        code.extend([
            I::GlobalGet(r.cur),
            load,
            I::GlobalGet(r.cur),
            I::I32Const(n),
            I::I32Add,
            I::GlobalSet(r.cur),
        ]);
        out.push((vec![], vec![t], body(vec![], code)));
    }

    // skip(n 0) -> ptr
    let mut code = check_avail(r, &[I::LocalGet(0)]);
    code.extend([
        I::GlobalGet(r.cur),
        I::GlobalGet(r.cur),
        I::LocalGet(0),
        I::I32Add,
        I::GlobalSet(r.cur),
    ]);
    out.push((vec![I32], vec![I32], body(vec![], code)));
    out
}

/// Emits decoders into a stub body.
pub struct Decoder<'r> {
    /// The WIT types.
    pub resolve: &'r Resolve,
    /// Canonical ABI sizes of `resolve`'s types.
    pub sizes: &'r SizeAlign,
    /// The reader helpers.
    pub r: Readers,
    /// The `realloc` lists are allocated with (the proxy's bump allocator, or the guest's).
    pub realloc: u32,
    /// The memory the value is written to (and `realloc` allocates in).
    pub memory: u32,
    /// Whose value it becomes.
    pub target: Target<'r>,
}

/// Who the decoded value is for: what its byte lists and `own` handles become.
#[derive(Clone, Copy)]
pub enum Target<'r> {
    /// The proxy's, lifted to the guest by `canon lift`: strings and byte lists point into the
    /// replayer's buffer, and an `own` handle is a handle of the proxy's own resource type
    /// (resource type, dealiased -> its `resource.new`).
    Proxy {
        new_handle: &'r HashMap<TypeId, u32>,
    },
    /// The guest's own memory, where a spliced stub stands in for a lowering: strings and byte
    /// lists are copied there (allocated with the guest's `realloc`), and an `own` handle is its
    /// recorded id, a handle the guest only ever gives back to other stubs.
    Guest,
}

/// How a value of up to 64 bits is stored.
#[derive(Clone, Copy)]
enum Store {
    B8,
    B16,
    B32,
    B64,
}

impl Decoder<'_> {
    /// Decodes a value of type `ty` into `at`: the function's single flat result (one slot) or
    /// memory.
    pub fn value(&self, b: &mut Body, ty: &Type, at: At<'_>) -> Result<()> {
        walk::walk(self, b, ty, at)
    }

    /// `leb32` then zigzag-decoded: `(v >>> 1) ^ -(v & 1)`.
    fn unzigzag32(&self, b: &mut Body) -> Vec<I<'static>> {
        let t = b.local(ValType::I32);
        vec![
            I::Call(self.r.leb32),
            I::LocalTee(t),
            I::I32Const(1),
            I::I32ShrU,
            I::I32Const(0),
            I::LocalGet(t),
            I::I32Const(1),
            I::I32And,
            I::I32Sub,
            I::I32Xor,
        ]
    }

    /// Stores the value that `produce` pushes (an i32, or an i64 for `B64`) into `at`.
    fn put(&self, b: &mut Body, at: At<'_>, produce: &[I<'static>], store: Store) -> Result<()> {
        match at {
            At::Flat(slots) => {
                let (local, t) = *slots
                    .first()
                    .ok_or_else(|| anyhow!("no flat result slot"))?;
                b.code.extend(produce.iter().cloned());
                match (store, t) {
                    (Store::B64, ValType::I64)
                    | (Store::B8 | Store::B16 | Store::B32, ValType::I32) => {}
                    (Store::B32, ValType::F32) => b.code.push(I::F32ReinterpretI32),
                    (Store::B64, ValType::F64) => b.code.push(I::F64ReinterpretI64),
                    (Store::B8 | Store::B16 | Store::B32, ValType::I64) => {
                        b.code.push(I::I64ExtendI32U)
                    }
                    _ => bail!(
                        "flat result slot of type {t:?} for a value stored as {}",
                        store.bits()
                    ),
                }
                b.code.push(I::LocalSet(local));
            }
            At::Mem { base, offset } => {
                b.code.push(I::LocalGet(base));
                b.code.extend(produce.iter().cloned());
                b.code.push(match store {
                    Store::B8 => I::I32Store8(memarg_in(self.memory, offset, 0)),
                    Store::B16 => I::I32Store16(memarg_in(self.memory, offset, 1)),
                    Store::B32 => I::I32Store(memarg_in(self.memory, offset, 2)),
                    Store::B64 => I::I64Store(memarg_in(self.memory, offset, 3)),
                });
            }
        }
        Ok(())
    }
}

impl Visitor for Decoder<'_> {
    fn resolve(&self) -> &Resolve {
        self.resolve
    }

    fn sizes(&self) -> &SizeAlign {
        self.sizes
    }

    fn scalar(&self, b: &mut Body, ty: Type, at: At<'_>) -> Result<()> {
        match ty {
            Type::Bool | Type::U8 | Type::S8 => self.put(b, at, &[I::Call(self.r.u8)], Store::B8),
            Type::U16 => self.put(b, at, &[I::Call(self.r.leb32)], Store::B16),
            Type::S16 => {
                let code = self.unzigzag32(b);
                self.put(b, at, &code, Store::B16)
            }
            Type::U32 | Type::Char => self.put(b, at, &[I::Call(self.r.leb32)], Store::B32),
            Type::S32 => {
                let code = self.unzigzag32(b);
                self.put(b, at, &code, Store::B32)
            }
            Type::U64 => self.put(b, at, &[I::Call(self.r.leb64)], Store::B64),
            Type::S64 => {
                let t = b.local(ValType::I64);
                let code = [
                    I::Call(self.r.leb64),
                    I::LocalTee(t),
                    I::I64Const(1),
                    I::I64ShrU,
                    I::I64Const(0),
                    I::LocalGet(t),
                    I::I64Const(1),
                    I::I64And,
                    I::I64Sub,
                    I::I64Xor,
                ];
                self.put(b, at, &code, Store::B64)
            }
            Type::F32 => self.put(b, at, &[I::Call(self.r.w32)], Store::B32),
            Type::F64 => self.put(b, at, &[I::Call(self.r.w64)], Store::B64),
            other => bail!("{other:?} is not a scalar"),
        }
    }

    /// A string or a list of 1-byte elements: LEB128 length, then the bytes, pointed to in place.
    fn bytes(&self, b: &mut Body, at: At<'_>) -> Result<()> {
        let At::Mem { base, offset } = at else {
            bail!("a string or list as a single flat result");
        };
        let len = b.local(ValType::I32);
        b.code
            .extend([I::Call(self.r.leb32), I::LocalSet(len), I::LocalGet(base)]);
        match self.target {
            Target::Proxy { .. } => b.code.extend([I::LocalGet(len), I::Call(self.r.skip)]),
            Target::Guest => {
                // realloc(0, 0, 1, len), then the bytes copied there from the replayer's buffer.
                let ptr = b.local(ValType::I32);
                b.code.extend([
                    I::I32Const(0),
                    I::I32Const(0),
                    I::I32Const(1),
                    I::LocalGet(len),
                    I::Call(self.realloc),
                    I::LocalTee(ptr),
                    I::LocalGet(len),
                    I::Call(self.r.skip),
                    I::LocalGet(len),
                    I::MemoryCopy {
                        src_mem: self.r.memory,
                        dst_mem: self.memory,
                    },
                    I::LocalGet(ptr),
                ]);
            }
        }
        b.code.extend([
            I::I32Store(memarg_in(self.memory, offset, 2)),
            I::LocalGet(base),
            I::LocalGet(len),
            I::I32Store(memarg_in(self.memory, offset + 4, 2)),
        ]);
        Ok(())
    }

    fn handle(&self, b: &mut Body, handle: &Handle, at: At<'_>) -> Result<()> {
        let Handle::Own(r) = handle else {
            bail!("a borrow handle in a result");
        };
        match self.target {
            Target::Proxy { new_handle } => {
                let r = abi::dealias(self.resolve, *r);
                let new = new_handle
                    .get(&r)
                    .ok_or_else(|| anyhow!("no resource.new for an own handle in a result"))?;
                self.put(b, at, &[I::Call(self.r.leb32), I::Call(*new)], Store::B32)
            }
            Target::Guest => self.put(b, at, &[I::Call(self.r.leb32)], Store::B32),
        }
    }

    fn resource(&self, _: &mut Body, _: At<'_>) -> Result<()> {
        bail!("a bare resource type as a value")
    }

    /// LEB128 count, an allocation of count * size bytes, then a loop decoding each element.
    fn list(&self, b: &mut Body, fields: &[&Type], at: At<'_>) -> Result<()> {
        let At::Mem { base, offset } = at else {
            bail!("a list as a single flat result");
        };
        let (size, align) = abi::element_size_align(self.sizes, fields.iter().copied());
        let len = b.local(ValType::I32);
        let ptr = b.local(ValType::I32);
        b.code.extend([
            I::Call(self.r.leb32),
            I::LocalSet(len),
            // count * size must fit in 32 bits (a bogus count traps here or in realloc)
            I::LocalGet(len),
            I::I64ExtendI32U,
            I::I64Const(i64::from(size)),
            I::I64Mul,
            I::I64Const(0xffff_ffff),
            I::I64GtU,
            I::If(BlockType::Empty),
            I::Unreachable,
            I::End,
            I::I32Const(0),
            I::I32Const(0),
            I::I32Const(align as i32),
            I::LocalGet(len),
            I::I32Const(size as i32),
            I::I32Mul,
            I::Call(self.realloc),
            I::LocalSet(ptr),
            I::LocalGet(base),
            I::LocalGet(ptr),
            I::I32Store(memarg_in(self.memory, offset, 2)),
            I::LocalGet(base),
            I::LocalGet(len),
            I::I32Store(memarg_in(self.memory, offset + 4, 2)),
        ]);
        walk::walk_elements(self, b, fields, ptr, len)
    }

    fn flags(&self, b: &mut Body, n: usize, at: At<'_>) -> Result<()> {
        let nbytes = n.div_ceil(8) as u32;
        match at {
            At::Mem { base, offset } => {
                for j in 0..nbytes {
                    b.code.extend([
                        I::LocalGet(base),
                        I::Call(self.r.u8),
                        I::I32Store8(memarg_in(self.memory, offset + j, 0)),
                    ]);
                }
            }
            At::Flat([(local, ValType::I32), ..]) => {
                b.code.push(I::I32Const(0));
                for j in 0..nbytes {
                    b.code.push(I::Call(self.r.u8));
                    if j > 0 {
                        b.code.extend([I::I32Const(8 * j as i32), I::I32Shl]);
                    }
                    b.code.push(I::I32Or);
                }
                b.code.push(I::LocalSet(*local));
            }
            At::Flat(..) => bail!("flags in a non-i32 flat slot"),
        }
        Ok(())
    }

    fn enumeration(&self, b: &mut Body, tag: Int, at: At<'_>) -> Result<()> {
        self.put(b, at, &[I::Call(self.r.leb32)], tag_store(tag))
    }

    /// Case index (LEB128 for variants, one byte for option/result), then the case's payload.
    fn variant(&self, b: &mut Body, variant: &VariantShape, at: At<'_>) -> Result<()> {
        let cases = &variant.cases;
        let disc = b.local(ValType::I32);
        b.code.extend([
            I::Call(if variant.is_variant {
                self.r.leb32
            } else {
                self.r.u8
            }),
            I::LocalTee(disc),
            // an out-of-range case would make the payload code below skip; canon lift traps on
            // it anyway, but not reading a payload would misread everything after it
            I::I32Const(cases.len() as i32),
            I::I32GeU,
            I::If(BlockType::Empty),
            I::Unreachable,
            I::End,
        ]);
        self.put(b, at, &[I::LocalGet(disc)], tag_store(variant.tag))?;
        if let At::Flat(..) = at {
            if cases
                .iter()
                .any(|c| c.is_some_and(|t| abi::flat_count(self.resolve, &t) > 0))
            {
                bail!("a variant with a payload as a single flat result");
            }
            return Ok(());
        }
        walk::walk_cases(self, b, variant, disc, at)
    }

    fn unsupported(&self, what: Unsupported) -> Result<()> {
        match what {
            Unsupported::ErrorContext => unsupported!("replaying an `error-context` value"),
            Unsupported::FutureOrStream => {
                unsupported!("replaying a future/stream (component-model async)")
            }
            Unsupported::Unknown => unsupported!("replaying a value of unknown type"),
        }
    }
}

impl Store {
    fn bits(self) -> u32 {
        match self {
            Store::B8 => 8,
            Store::B16 => 16,
            Store::B32 => 32,
            Store::B64 => 64,
        }
    }
}

fn tag_store(tag: Int) -> Store {
    match tag {
        Int::U8 => Store::B8,
        Int::U16 => Store::B16,
        Int::U32 | Int::U64 => Store::B32,
    }
}

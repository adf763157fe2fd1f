//! Building blocks of the generated core code, shared by every generator (the proxy's
//! allocator and stubs, the value encoders and decoders, the embedded replayer): function bodies
//! with locals allocated on demand and the loop/case shapes the value walks emit, memory
//! arguments, growing memory, and the bump `realloc`.
//!
//! It sits below all of them so that none has to reach into another for these (the stub module
//! drives the encoders and decoders, never the other way round).

use anyhow::Result;
use wasm_encoder::{BlockType, Function, Instruction as I, MemArg, ValType};
use wit_parser::Type;

/// The memory argument of a load or store from memory 0 at `offset`, aligned to `2^align_log2`.
pub fn memarg(offset: u32, align_log2: u32) -> MemArg {
    memarg_in(0, offset, align_log2)
}

/// [`memarg`] in memory `memory` (a module with several: spliced stubs read the guest's memory and
/// write their own).
pub fn memarg_in(memory: u32, offset: u32, align_log2: u32) -> MemArg {
    MemArg {
        offset: u64::from(offset),
        align: align_log2,
        memory_index: memory,
    }
}

/// The bump allocator's `realloc(old_ptr 0, old_size 1, align 2, new_size 3) -> ptr` over the
/// mutable i32 global `bump` (locals: ptr 4, end 5 as i64): aligns, grows memory as needed (traps
/// when it cannot), copies the old block when resizing. Shared by the proxy's allocator module and
/// the embedded replayer.
pub fn realloc_function(bump: u32) -> Function {
    let mut f = Function::new_with_locals_types([ValType::I32, ValType::I64]);
    for i in std::iter::once(I::GlobalGet(bump))
        .chain(align_up(2, 3, 4, 5))
        .chain(grow_memory_to(5))
        .chain([
            // resizing: copy min(old_size, new_size) bytes
            I::LocalGet(1),
            I::If(BlockType::Empty),
            I::LocalGet(4),
            I::LocalGet(0),
            I::LocalGet(1),
            I::LocalGet(3),
            I::LocalGet(1),
            I::LocalGet(3),
            I::I32LtU,
            I::Select,
            I::MemoryCopy {
                src_mem: 0,
                dst_mem: 0,
            },
            I::End,
            I::LocalGet(5),
            I::I32WrapI64,
            I::GlobalSet(bump),
            I::LocalGet(4),
            I::End,
        ])
    {
        f.instruction(&i);
    }
    f
}

/// Instructions that grow memory 0 so that the i64 in local `end` is in bounds (a byte offset one
/// past the last byte needed), trapping if it cannot: `if end > size * 64Ki { memory.grow(ceil((end -
/// size * 64Ki) / 64Ki)) or unreachable }`. `end` is i64 so that an overflow past 4 GiB is caught,
/// not wrapped. Shared by the allocator's `realloc` and the encoders' `ensure`.
pub fn grow_memory_to(end: u32) -> [I<'static>; 25] {
    grow_memory_in(0, end)
}

/// With a bump pointer on the stack: `ptr = (bump + align - 1) & -align` and `end = ptr + size`,
/// in i64 so that an overflow past 4 GiB is caught, not wrapped (`align`, `size`: i32 locals;
/// `ptr`: i32, `end`: i64). The bump allocators' common start, wherever they keep the pointer.
pub fn align_up(align: u32, size: u32, ptr: u32, end: u32) -> [I<'static>; 14] {
    [
        I::LocalGet(align),
        I::I32Add,
        I::I32Const(1),
        I::I32Sub,
        I::I32Const(0),
        I::LocalGet(align),
        I::I32Sub,
        I::I32And,
        I::LocalTee(ptr),
        I::I64ExtendI32U,
        I::LocalGet(size),
        I::I64ExtendI32U,
        I::I64Add,
        I::LocalSet(end),
    ]
}

/// [`grow_memory_to`] for memory `memory`.
pub fn grow_memory_in(memory: u32, end: u32) -> [I<'static>; 25] {
    [
        I::LocalGet(end),
        I::MemorySize(memory),
        I::I64ExtendI32U,
        I::I64Const(16),
        I::I64Shl,
        I::I64GtU,
        I::If(BlockType::Empty),
        I::LocalGet(end),
        I::MemorySize(memory),
        I::I64ExtendI32U,
        I::I64Const(16),
        I::I64Shl,
        I::I64Sub,
        I::I64Const(0xffff),
        I::I64Add,
        I::I64Const(16),
        I::I64ShrU,
        I::I32WrapI64,
        I::MemoryGrow(memory),
        I::I32Const(-1),
        I::I32Eq,
        I::If(BlockType::Empty),
        I::Unreachable,
        I::End,
        I::End,
    ]
}

/// A function body under construction: instructions plus locals allocated on demand.
pub struct Body {
    n_params: u32,
    locals: Vec<ValType>,
    /// The instructions so far (without the final `end`).
    pub code: Vec<I<'static>>,
}

impl Body {
    /// An empty body of a function with `n_params` parameters.
    pub fn new(n_params: u32) -> Body {
        Body {
            n_params,
            locals: Vec::new(),
            code: Vec::new(),
        }
    }

    /// A fresh local of type `t`.
    pub fn local(&mut self, t: ValType) -> u32 {
        self.locals.push(t);
        self.n_params + self.locals.len() as u32 - 1
    }

    /// Right after a call of a lowered import whose core results are `results`: keeps its flat
    /// result (the canonical ABI gives at most one) in a fresh local, returned with its type.
    pub fn keep_call_result(&mut self, results: &[ValType]) -> Result<Option<(u32, ValType)>> {
        match results {
            [] => Ok(None),
            [t] => {
                let r = self.local(*t);
                self.code.push(I::LocalSet(r));
                Ok(Some((r, *t)))
            }
            _ => anyhow::bail!("multi-value core results are not produced by the canonical ABI"),
        }
    }
    /// Emits a loop over the `len` elements of `size` bytes from address `start` (both i32
    /// locals), with `each` emitting the code for one element at the address in the local it gets.
    pub fn for_each_element(
        &mut self,
        start: u32,
        len: u32,
        size: u32,
        each: impl FnOnce(&mut Body, u32) -> Result<()>,
    ) -> Result<()> {
        let cur = self.local(ValType::I32);
        let end = self.local(ValType::I32);
        self.code.extend([
            I::LocalGet(start),
            I::LocalTee(cur),
            I::LocalGet(len),
            I::I32Const(size as i32),
            I::I32Mul,
            I::I32Add,
            I::LocalSet(end),
            I::Block(BlockType::Empty),
            I::Loop(BlockType::Empty),
            I::LocalGet(cur),
            I::LocalGet(end),
            I::I32GeU,
            I::BrIf(1),
        ]);
        each(self, cur)?;
        self.code.extend([
            I::LocalGet(cur),
            I::I32Const(size as i32),
            I::I32Add,
            I::LocalSet(cur),
            I::Br(0),
            I::End,
            I::End,
        ]);
        Ok(())
    }

    /// Emits `if disc == c { case(c's payload type) }` for every case `c` that has a payload for
    /// which `wanted` holds (`disc` an i32 local).
    pub fn for_each_case(
        &mut self,
        disc: u32,
        cases: &[Option<Type>],
        wanted: impl Fn(&Type) -> bool,
        mut case: impl FnMut(&mut Body, &Type) -> Result<()>,
    ) -> Result<()> {
        for (c, ty) in cases.iter().enumerate() {
            let Some(ty) = ty else { continue };
            if !wanted(ty) {
                continue;
            }
            self.code.extend([
                I::LocalGet(disc),
                I::I32Const(c as i32),
                I::I32Eq,
                I::If(BlockType::Empty),
            ]);
            case(self, ty)?;
            self.code.push(I::End);
        }
        Ok(())
    }

    /// The finished function (the final `end` appended).
    pub fn finish(self) -> Function {
        let mut f = Function::new_with_locals_types(self.locals);
        for i in &self.code {
            f.instruction(i);
        }
        f.instruction(&I::End);
        f
    }
}

//! The proxy's core wasm code, emitted with wasm-encoder.
//!
//! Two modules, so that no fix-up table is needed:
//! - the **allocator module** defines the proxy's memory, a bump `realloc` and `reset`. It is
//!   instantiated first, so the imports can be `canon lower`ed with its memory and realloc;
//! - the **stub module** imports the memory, the allocator and the lowered imports, and defines one
//!   stub and one post-return function per proxied function.
//!
//! A stub calls the lowered host function with its own arguments (plus a return area), drops the
//! borrow handles it was lent, and returns. In record mode it also reports the call: before
//! forwarding, the arguments encoded by generated code (`encode`) go to `recorder.call`; after the
//! host returned, the results go to `recorder.ret`. Everything a stub needs is in reach there
//! (flat locals or proxy memory), so no value is ever copied just to be recorded.

use anyhow::{bail, Result};
use std::collections::HashMap;
use wasm_encoder::{
    BlockType, CodeSection, EntityType, ExportKind, ExportSection, Function, FunctionSection,
    GlobalSection, GlobalType, ImportSection, Instruction as I, MemArg, MemoryType, Module,
    TypeSection, ValType,
};
use wit_parser::{
    Function as WitFunction, Handle, Int, Resolve, SizeAlign, Type, TypeDefKind, TypeId,
};

use crate::abi::{self, CoreSig};
use crate::encode::{self, Encoder, Helpers};
use crate::error::unsupported;

/// Where the bump heap starts; address 0..HEAP_BASE stays unused so a null pointer never aliases data.
const HEAP_BASE: i32 = 16;

/// Import module name of everything the stub module imports.
pub const ENV: &str = "env";

/// The allocator module: exports `memory`, `realloc` and `reset`.
///
/// `realloc(old_ptr, old_size, align, new_size)` bumps a pointer (growing memory as needed) and
/// copies the old block when resizing; `reset` frees everything. The proxy never holds data across
/// calls, so each lifted function's post-return resets the heap, after the canonical ABI has copied
/// the results out.
pub fn alloc_module() -> Module {
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32; 4], [ValType::I32]);
    types.ty().function([], []);
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    funcs.function(1);
    let mut memories = wasm_encoder::MemorySection::new();
    memories.memory(MemoryType {
        minimum: 1,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut globals = GlobalSection::new();
    globals.global(
        GlobalType {
            val_type: ValType::I32,
            mutable: true,
            shared: false,
        },
        &wasm_encoder::ConstExpr::i32_const(HEAP_BASE),
    );
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    exports.export("realloc", ExportKind::Func, 0);
    exports.export("reset", ExportKind::Func, 1);

    // realloc(old 0, old_size 1, align 2, new_size 3) -> ptr; locals: ptr 4 (i32), end 5 (i64)
    let mut f = Function::new_with_locals_types([ValType::I32, ValType::I64]);
    for i in [
        // ptr = (bump + align - 1) & -align
        I::GlobalGet(0),
        I::LocalGet(2),
        I::I32Add,
        I::I32Const(1),
        I::I32Sub,
        I::I32Const(0),
        I::LocalGet(2),
        I::I32Sub,
        I::I32And,
        I::LocalSet(4),
        // end = ptr + new_size, in i64 so that overflow past 4 GiB is caught, not wrapped
        I::LocalGet(4),
        I::I64ExtendI32U,
        I::LocalGet(3),
        I::I64ExtendI32U,
        I::I64Add,
        I::LocalSet(5),
    ]
    .into_iter()
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
        I::GlobalSet(0),
        I::LocalGet(4),
        I::End,
    ]) {
        f.instruction(&i);
    }
    let mut reset = Function::new([]);
    reset.instruction(&I::I32Const(HEAP_BASE));
    reset.instruction(&I::GlobalSet(0));
    reset.instruction(&I::End);
    let mut code = CodeSection::new();
    code.function(&f);
    code.function(&reset);

    let mut m = Module::new();
    m.section(&types);
    m.section(&funcs);
    m.section(&memories);
    m.section(&globals);
    m.section(&exports);
    m.section(&code);
    m
}

/// Instructions that grow memory 0 so that the i64 in local `end` is in bounds (a byte offset one
/// past the last byte needed), trapping if it cannot: `if end > size * 64Ki { memory.grow(ceil((end -
/// size * 64Ki) / 64Ki)) or unreachable }`. `end` is i64 so that an overflow past 4 GiB is caught,
/// not wrapped. Shared by the allocator's `realloc` and the encoders' `ensure`.
pub(crate) fn grow_memory_to(end: u32) -> [I<'static>; 25] {
    [
        I::LocalGet(end),
        I::MemorySize(0),
        I::I64ExtendI32U,
        I::I64Const(16),
        I::I64Shl,
        I::I64GtU,
        I::If(BlockType::Empty),
        I::LocalGet(end),
        I::MemorySize(0),
        I::I64ExtendI32U,
        I::I64Const(16),
        I::I64Shl,
        I::I64Sub,
        I::I64Const(0xffff),
        I::I64Add,
        I::I64Const(16),
        I::I64ShrU,
        I::I32WrapI64,
        I::MemoryGrow(0),
        I::I32Const(-1),
        I::I32Eq,
        I::If(BlockType::Empty),
        I::Unreachable,
        I::End,
        I::End,
    ]
}

/// One function the proxy forwards.
pub struct StubSpec<'a> {
    /// The WIT function (its params/result types drive borrow dropping and the return area).
    pub func: &'a WitFunction,
    /// Signature of the `canon lower`ed host function the stub calls.
    pub lowered: CoreSig,
    /// Signature `canon lift` expects of the stub.
    pub lifted: CoreSig,
}

/// Names of the stub module's exports for function `k`.
pub fn stub_name(k: usize) -> String {
    format!("stub{k}")
}
/// See [`stub_name`].
pub fn post_name(k: usize) -> String {
    format!("post{k}")
}
/// Import name (in [`ENV`]) of the lowered function `k`.
pub fn lowered_name(k: usize) -> String {
    format!("f{k}")
}
/// Import name (in [`ENV`]) of the `resource.drop` of the `j`-th dropped resource type.
pub fn drop_name(j: usize) -> String {
    format!("drop{j}")
}

/// Core type indices, deduplicated.
#[derive(Default)]
struct CoreTypes {
    section: TypeSection,
    map: HashMap<(Vec<ValType>, Vec<ValType>), u32>,
}

impl CoreTypes {
    fn get(&mut self, params: &[ValType], results: &[ValType]) -> u32 {
        let key = (params.to_vec(), results.to_vec());
        if let Some(i) = self.map.get(&key) {
            return *i;
        }
        let i = self.section.len();
        self.section
            .ty()
            .function(params.iter().copied(), results.iter().copied());
        self.map.insert(key, i);
        i
    }
}

/// The stub module for `specs`. `drops` lists the resource types (dealiased TypeIds) whose
/// borrows are dropped, in the order of their `drop{j}` imports. With `record`, the module also
/// imports the lowered recorder functions [`REC_CALL`] and [`REC_RET`] (core type
/// `(i32 func-id, i32 ptr, i32 len) -> ()`) and every stub reports its arguments and results
/// through them, encoded by generated code (`encode`); `specs[k]` has func-id `k`.
pub fn stub_module(
    resolve: &Resolve,
    specs: &[StubSpec<'_>],
    drops: &[TypeId],
    record: bool,
) -> Result<Module> {
    let mut sizes = SizeAlign::default();
    sizes.fill(resolve);
    let mut types = CoreTypes::default();
    let mut imports = ImportSection::new();
    imports.import(
        ENV,
        "memory",
        EntityType::Memory(MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        }),
    );
    let t = types.get(&[ValType::I32; 4], &[ValType::I32]);
    imports.import(ENV, "realloc", EntityType::Function(t));
    let t = types.get(&[], &[]);
    imports.import(ENV, "reset", EntityType::Function(t));
    const REALLOC: u32 = 0;
    const RESET: u32 = 1;
    for (k, s) in specs.iter().enumerate() {
        let t = types.get(&s.lowered.params, &s.lowered.results);
        imports.import(ENV, &lowered_name(k), EntityType::Function(t));
    }
    let drop_base = 2 + specs.len() as u32;
    let drop_index: HashMap<TypeId, u32> = drops
        .iter()
        .enumerate()
        .map(|(j, id)| (*id, drop_base + j as u32))
        .collect();
    for j in 0..drops.len() {
        let t = types.get(&[ValType::I32], &[]);
        imports.import(ENV, &drop_name(j), EntityType::Function(t));
    }
    let mut next_import = drop_base + drops.len() as u32;
    let recorder = if record {
        let t = types.get(&[ValType::I32; 3], &[]);
        imports.import(ENV, REC_CALL, EntityType::Function(t));
        imports.import(ENV, REC_RET, EntityType::Function(t));
        next_import += 2;
        Some((next_import - 2, next_import - 1))
    } else {
        None
    };
    let first_defined = next_import;
    // The encoder helpers follow the stubs and post-returns.
    let helpers_first = first_defined + 2 * specs.len() as u32;
    let helpers = Helpers::at(helpers_first);

    let mut funcs = FunctionSection::new();
    let mut exports = ExportSection::new();
    let mut code = CodeSection::new();
    for (k, s) in specs.iter().enumerate() {
        let ctx = WalkCtx {
            resolve,
            sizes: &sizes,
            drop_index: &drop_index,
            recorder: recorder.map(|(call, ret)| Recorder {
                call,
                ret,
                helpers,
                func_id: k as u32,
            }),
        };
        funcs.function(types.get(&s.lifted.params, &s.lifted.results));
        exports.export(
            &stub_name(k),
            ExportKind::Func,
            first_defined + 2 * k as u32,
        );
        code.function(&stub_body(&ctx, s, 2 + k as u32, REALLOC)?);

        funcs.function(types.get(&s.lifted.results, &[]));
        exports.export(
            &post_name(k),
            ExportKind::Func,
            first_defined + 2 * k as u32 + 1,
        );
        let mut post = Function::new([]);
        post.instruction(&I::Call(RESET));
        post.instruction(&I::End);
        code.function(&post);
    }
    if record {
        for (params, results, body) in encode::helper_functions(helpers_first) {
            funcs.function(types.get(&params, &results));
            code.function(&body);
        }
    }

    let mut m = Module::new();
    m.section(&types.section);
    m.section(&imports);
    m.section(&funcs);
    m.section(&exports);
    m.section(&code);
    Ok(m)
}

/// A function body under construction: instructions plus locals allocated on demand.
pub struct Body {
    n_params: u32,
    locals: Vec<ValType>,
    /// The instructions so far (without the final `end`).
    pub code: Vec<I<'static>>,
}

impl Body {
    /// A fresh local of type `t`.
    pub fn local(&mut self, t: ValType) -> u32 {
        self.locals.push(t);
        self.n_params + self.locals.len() as u32 - 1
    }
    fn finish(self) -> Function {
        let mut f = Function::new_with_locals_types(self.locals);
        for i in &self.code {
            f.instruction(i);
        }
        f.instruction(&I::End);
        f
    }
}

struct WalkCtx<'r> {
    resolve: &'r Resolve,
    sizes: &'r SizeAlign,
    drop_index: &'r HashMap<TypeId, u32>,
    /// Record mode: where the stub reports to.
    recorder: Option<Recorder>,
}

/// What a record-mode stub needs to report its call.
#[derive(Clone, Copy)]
struct Recorder {
    /// Lowered `recorder.call` / `recorder.ret`.
    call: u32,
    ret: u32,
    helpers: Helpers,
    /// This stub's func-id (its index, = `ComponentInfo::intercepted_functions` order).
    func_id: u32,
}

/// Import name (in [`ENV`]) of the lowered `recorder.call`.
pub const REC_CALL: &str = "recorder-call";
/// Import name (in [`ENV`]) of the lowered `recorder.ret`.
pub const REC_RET: &str = "recorder-ret";

/// `stub_k`: forward to the lowered import, drop lent borrows, return.
fn stub_body(
    ctx: &WalkCtx<'_>,
    s: &StubSpec<'_>,
    lowered_func: u32,
    realloc: u32,
) -> Result<Function> {
    let n = s.lifted.params.len() as u32;
    let expected = s.lifted.params.len() + usize::from(s.lowered.retptr);
    if s.lowered.params.len() != expected || s.lifted.indirect_params != s.lowered.indirect_params {
        bail!("lift/lower signatures of `{}` disagree", s.func.name);
    }
    let mut b = Body {
        n_params: n,
        locals: Vec::new(),
        code: Vec::new(),
    };

    // Record: report the arguments *before* forwarding, so that calls that never return
    // (`wasi:cli/exit.exit`) or trap in the host are in the trace.
    if let Some(rec) = ctx.recorder {
        let (enc, start) = begin_encoding(ctx, &mut b, rec, realloc);
        if s.lifted.indirect_params {
            let offsets = ctx.sizes.field_offsets(s.func.params.iter().map(|p| &p.ty));
            for (off, ty) in offsets {
                enc.mem(&mut b, ty, 0, off.size_wasm32() as u32)?;
            }
        } else {
            let slots = param_slots(s);
            let mut pos = 0;
            for p in &s.func.params {
                enc.flat(&mut b, &p.ty, &slots, &mut pos)?;
            }
        }
        end_encoding(&mut b, &enc, start, rec.func_id, rec.call);
    }

    let ret_area = if s.lowered.retptr {
        let Some(result) = &s.func.result else {
            bail!("return pointer without a result")
        };
        let (size, align) = abi::size_align(ctx.sizes, result);
        let ret = b.local(ValType::I32);
        b.code.extend([
            I::I32Const(0),
            I::I32Const(0),
            I::I32Const(align as i32),
            I::I32Const(size as i32),
            I::Call(realloc),
            I::LocalSet(ret),
        ]);
        Some(ret)
    } else {
        None
    };
    for i in 0..n {
        b.code.push(I::LocalGet(i));
    }
    if let Some(ret) = ret_area {
        b.code.push(I::LocalGet(ret));
    }
    b.code.push(I::Call(lowered_func));
    let flat_result = match s.lowered.results.as_slice() {
        [] => None,
        [t] => {
            let r = b.local(*t);
            b.code.push(I::LocalSet(r));
            Some(r)
        }
        _ => bail!("multi-value core results are not produced by the canonical ABI"),
    };

    // Record: report the results. Strings and lists the host returned are in our memory (our
    // realloc), below the heap top where the encoder's buffer starts.
    if let Some(rec) = ctx.recorder {
        let (enc, start) = begin_encoding(ctx, &mut b, rec, realloc);
        if let Some(result) = &s.func.result {
            if let Some(ret) = ret_area {
                enc.mem(&mut b, result, ret, 0)?;
            } else if let (Some(r), [t]) = (flat_result, s.lowered.results.as_slice()) {
                enc.flat(&mut b, result, &[(r, *t)], &mut 0)?;
            } else {
                bail!("result of `{}` is neither flat nor in memory", s.func.name);
            }
        }
        end_encoding(&mut b, &enc, start, rec.func_id, rec.ret);
    }

    // Borrows lent to us for this call must be dropped before we return (wasmtime traps with
    // "borrow handles still remain at the end of the call" otherwise).
    if s.lifted.indirect_params {
        let offsets = ctx.sizes.field_offsets(s.func.params.iter().map(|p| &p.ty));
        for (off, ty) in offsets {
            if abi::contains_borrow(ctx.resolve, ty) {
                walk_mem(ctx, &mut b, ty, 0, off.size_wasm32() as u32)?;
            }
        }
    } else {
        let slots = param_slots(s);
        let mut pos = 0;
        for p in &s.func.params {
            walk_flat(ctx, &mut b, &p.ty, &slots, &mut pos)?;
        }
    }

    if let Some(ret) = ret_area {
        b.code.push(I::LocalGet(ret));
    } else if let Some(r) = flat_result {
        b.code.push(I::LocalGet(r));
    }
    Ok(b.finish())
}

/// The stub's flat parameters: (local index, core type).
fn param_slots(s: &StubSpec<'_>) -> Vec<(u32, ValType)> {
    s.lifted
        .params
        .iter()
        .enumerate()
        .map(|(i, t)| (i as u32, *t))
        .collect()
}

/// Starts an encoded value at the top of the bump heap (`realloc(0, 0, 1, 0)` returns the top
/// without moving it). Returns the encoder (cursor in a fresh local) and the local holding the
/// start.
fn begin_encoding<'r>(
    ctx: &WalkCtx<'r>,
    b: &mut Body,
    rec: Recorder,
    realloc: u32,
) -> (Encoder<'r>, u32) {
    let start = b.local(ValType::I32);
    let cur = b.local(ValType::I32);
    b.code.extend([
        I::I32Const(0),
        I::I32Const(0),
        I::I32Const(1),
        I::I32Const(0),
        I::Call(realloc),
        I::LocalTee(start),
        I::LocalSet(cur),
    ]);
    let enc = Encoder {
        resolve: ctx.resolve,
        sizes: ctx.sizes,
        h: rec.helpers,
        cur,
    };
    (enc, start)
}

/// Calls `report(func_id, start, cur - start)` (the list<u8> is lowered in place).
fn end_encoding(b: &mut Body, enc: &Encoder<'_>, start: u32, func_id: u32, report: u32) {
    b.code.extend([
        I::I32Const(func_id as i32),
        I::LocalGet(start),
        I::LocalGet(enc.cur),
        I::LocalGet(start),
        I::I32Sub,
        I::Call(report),
    ]);
}

fn drop_call(ctx: &WalkCtx<'_>, resource: TypeId) -> Result<I<'static>> {
    let id = abi::dealias(ctx.resolve, resource);
    match ctx.drop_index.get(&id) {
        Some(f) => Ok(I::Call(*f)),
        None => bail!("no resource.drop for a borrowed resource"),
    }
}

/// Emits drops for the borrows in a flat value of type `ty` whose slots start at `slots[*pos]`.
fn walk_flat(
    ctx: &WalkCtx<'_>,
    b: &mut Body,
    ty: &Type,
    slots: &[(u32, ValType)],
    pos: &mut usize,
) -> Result<()> {
    let count = abi::flat_count(ctx.resolve, ty);
    if !abi::contains_borrow(ctx.resolve, ty) {
        *pos += count;
        return Ok(());
    }
    let Type::Id(id) = ty else {
        // Not reached: primitives contain no borrows.
        *pos += count;
        return Ok(());
    };
    let slot = |i: usize| -> Result<(u32, ValType)> {
        slots
            .get(i)
            .copied()
            .ok_or_else(|| anyhow::anyhow!("flat slot {i} out of range"))
    };
    match &ctx.resolve.types[*id].kind {
        TypeDefKind::Type(t) => walk_flat(ctx, b, t, slots, pos)?,
        TypeDefKind::Handle(Handle::Borrow(r)) => {
            let (local, t) = slot(*pos)?;
            b.code.push(I::LocalGet(local));
            if t == ValType::I64 {
                b.code.push(I::I32WrapI64);
            }
            b.code.push(drop_call(ctx, *r)?);
            *pos += 1;
        }
        TypeDefKind::Record(r) => {
            for f in &r.fields {
                walk_flat(ctx, b, &f.ty, slots, pos)?;
            }
        }
        TypeDefKind::Tuple(t) => {
            for t in &t.types {
                walk_flat(ctx, b, t, slots, pos)?;
            }
        }
        TypeDefKind::FixedLengthList(t, n) => {
            for _ in 0..*n {
                walk_flat(ctx, b, t, slots, pos)?;
            }
        }
        TypeDefKind::List(elem) => {
            let (ptr, _) = slot(*pos)?;
            let (len, _) = slot(*pos + 1)?;
            walk_list(ctx, b, elem, ptr, len)?;
            *pos += 2;
        }
        kind @ (TypeDefKind::Variant(_) | TypeDefKind::Option(_) | TypeDefKind::Result(_)) => {
            let cases = variant_cases(kind);
            let (disc, _) = slot(*pos)?;
            let payload = slots.get(*pos + 1..*pos + count).unwrap_or(&[]);
            for (c, case) in cases.iter().enumerate() {
                let Some(case) = case else { continue };
                if !abi::contains_borrow(ctx.resolve, case) {
                    continue;
                }
                b.code.extend([
                    I::LocalGet(disc),
                    I::I32Const(c as i32),
                    I::I32Eq,
                    I::If(BlockType::Empty),
                ]);
                walk_flat(ctx, b, case, payload, &mut 0)?;
                b.code.push(I::End);
            }
            *pos += count;
        }
        other => unsupported!("borrow inside {other:?}"),
    }
    Ok(())
}

/// The cases of a variant-like type, in discriminant order.
fn variant_cases(kind: &TypeDefKind) -> Vec<Option<Type>> {
    match kind {
        TypeDefKind::Variant(v) => v.cases.iter().map(|c| c.ty).collect(),
        TypeDefKind::Option(t) => vec![None, Some(*t)],
        TypeDefKind::Result(r) => vec![r.ok, r.err],
        _ => Vec::new(),
    }
}

/// Emits a loop over the `len` elements at `ptr` dropping the borrows in each.
fn walk_list(ctx: &WalkCtx<'_>, b: &mut Body, elem: &Type, ptr: u32, len: u32) -> Result<()> {
    let (size, _) = abi::size_align(ctx.sizes, elem);
    let cur = b.local(ValType::I32);
    let end = b.local(ValType::I32);
    b.code.extend([
        I::LocalGet(ptr),
        I::LocalSet(cur),
        I::LocalGet(ptr),
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
    walk_mem(ctx, b, elem, cur, 0)?;
    b.code.extend([
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

fn memarg(offset: u32, align_log2: u32) -> MemArg {
    MemArg {
        offset: u64::from(offset),
        align: align_log2,
        memory_index: 0,
    }
}

/// Emits drops for the borrows in a value of type `ty` stored at `base + offset`.
fn walk_mem(ctx: &WalkCtx<'_>, b: &mut Body, ty: &Type, base: u32, offset: u32) -> Result<()> {
    if !abi::contains_borrow(ctx.resolve, ty) {
        return Ok(());
    }
    let Type::Id(id) = ty else {
        return Ok(()); // Not reached: primitives contain no borrows.
    };
    match &ctx.resolve.types[*id].kind {
        TypeDefKind::Type(t) => walk_mem(ctx, b, t, base, offset)?,
        TypeDefKind::Handle(Handle::Borrow(r)) => {
            b.code
                .extend([I::LocalGet(base), I::I32Load(memarg(offset, 2))]);
            b.code.push(drop_call(ctx, *r)?);
        }
        TypeDefKind::Record(r) => {
            for (off, t) in ctx.sizes.field_offsets(r.fields.iter().map(|f| &f.ty)) {
                walk_mem(ctx, b, t, base, offset + off.size_wasm32() as u32)?;
            }
        }
        TypeDefKind::Tuple(t) => {
            for (off, t) in ctx.sizes.field_offsets(t.types.iter()) {
                walk_mem(ctx, b, t, base, offset + off.size_wasm32() as u32)?;
            }
        }
        TypeDefKind::FixedLengthList(t, n) => {
            let (size, _) = abi::size_align(ctx.sizes, t);
            for i in 0..*n {
                walk_mem(ctx, b, t, base, offset + i * size)?;
            }
        }
        TypeDefKind::List(elem) => {
            let ptr = b.local(ValType::I32);
            let len = b.local(ValType::I32);
            b.code.extend([
                I::LocalGet(base),
                I::I32Load(memarg(offset, 2)),
                I::LocalSet(ptr),
                I::LocalGet(base),
                I::I32Load(memarg(offset + 4, 2)),
                I::LocalSet(len),
            ]);
            walk_list(ctx, b, elem, ptr, len)?;
        }
        kind @ (TypeDefKind::Variant(_) | TypeDefKind::Option(_) | TypeDefKind::Result(_)) => {
            let cases = variant_cases(kind);
            let tag = match kind {
                TypeDefKind::Variant(v) => v.tag(),
                _ => Int::U8,
            };
            let payload_off = ctx
                .sizes
                .payload_offset(tag, cases.iter().map(|c| c.as_ref()));
            let payload_off = offset + payload_off.size_wasm32() as u32;
            let disc = b.local(ValType::I32);
            b.code.push(I::LocalGet(base));
            b.code.push(match tag {
                Int::U8 => I::I32Load8U(memarg(offset, 0)),
                Int::U16 => I::I32Load16U(memarg(offset, 1)),
                Int::U32 | Int::U64 => I::I32Load(memarg(offset, 2)),
            });
            b.code.push(I::LocalSet(disc));
            for (c, case) in cases.iter().enumerate() {
                let Some(case) = case else { continue };
                if !abi::contains_borrow(ctx.resolve, case) {
                    continue;
                }
                b.code.extend([
                    I::LocalGet(disc),
                    I::I32Const(c as i32),
                    I::I32Eq,
                    I::If(BlockType::Empty),
                ]);
                walk_mem(ctx, b, case, base, payload_off)?;
                b.code.push(I::End);
            }
        }
        other => unsupported!("borrow inside {other:?}"),
    }
    Ok(())
}

/// The resource types (dealiased) whose borrows appear in the params of `funcs`, in first-use order.
pub fn borrowed_resources<'a>(
    resolve: &Resolve,
    funcs: impl IntoIterator<Item = &'a WitFunction>,
) -> Vec<TypeId> {
    let mut out = Vec::new();
    for f in funcs {
        for p in &f.params {
            collect_borrows(resolve, &p.ty, &mut out);
        }
    }
    out
}

fn collect_borrows(resolve: &Resolve, ty: &Type, out: &mut Vec<TypeId>) {
    let Type::Id(id) = ty else { return };
    match &resolve.types[*id].kind {
        TypeDefKind::Handle(Handle::Borrow(r)) => {
            let r = abi::dealias(resolve, *r);
            if !out.contains(&r) {
                out.push(r);
            }
        }
        TypeDefKind::Type(t)
        | TypeDefKind::List(t)
        | TypeDefKind::Option(t)
        | TypeDefKind::FixedLengthList(t, _) => collect_borrows(resolve, t, out),
        TypeDefKind::Record(r) => r
            .fields
            .iter()
            .for_each(|f| collect_borrows(resolve, &f.ty, out)),
        TypeDefKind::Tuple(t) => t
            .types
            .iter()
            .for_each(|t| collect_borrows(resolve, t, out)),
        TypeDefKind::Variant(v) => v
            .cases
            .iter()
            .flat_map(|c| c.ty.as_ref())
            .for_each(|t| collect_borrows(resolve, t, out)),
        TypeDefKind::Result(r) => [r.ok, r.err]
            .iter()
            .flatten()
            .for_each(|t| collect_borrows(resolve, t, out)),
        TypeDefKind::Map(k, v) => {
            collect_borrows(resolve, k, out);
            collect_borrows(resolve, v, out);
        }
        _ => {}
    }
}

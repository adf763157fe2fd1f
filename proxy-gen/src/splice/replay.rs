//! Replay mode spliced inside the component (#17, replay / run): the stubs that the splicer
//! ([`super::record`]) puts in front of every host call answer it from the trace instead of
//! calling the host. No proxy component and no fused adapter on the call path: a stub encodes
//! the arguments from the guest's memory into the batch memory (as a recording stub does), asks
//! `replayer.next` for the recorded results (lowered into the batch memory by the home module's
//! bump allocator) and decodes them where the guest's lowering would have put them: the flat
//! result or the guest's return area, lists and strings allocated with the guest's own `realloc`.
//!
//! Handles never reach a lowering: an `own` handle in a result is the recorded id itself, which
//! the guest only ever gives back to other stubs (as an argument, or to a drop, which asks
//! `next` for its `[resource-drop]R` call and drops nothing). So the component's imports are
//! never called; the runtime satisfies them with functions that trap.
//!
//! What this module holds is replay's part: the stub bodies, the home module's allocator and the
//! wiring of `replayer`. The splicing itself (modules, sections, the home module's batch memory
//! and table) is the splicer's ([`super::record`], which uses this module), shared with record
//! mode; what both wire in the same way is [`super::home`]'s.

use anyhow::bail;
use wasm_encoder::{
    Alias, CanonicalFunctionSection, CanonicalOption, ComponentAliasSection, ComponentExportKind,
    ComponentTypeRef, ComponentValType, ConstExpr, ElementSection, Elements, EntityType,
    ExportKind, Function, ImportSection, InstanceSection, InstanceType, Instruction as I,
    ModuleArg, PrimitiveValType, TableType, TypeSection, ValType,
};
use wit_parser::{Function as WitFunction, Resolve, SizeAlign};

use super::home::{alias_home, encode_params, import_interface, interface_table, CoreType, Counts};
use crate::decode::{Decoder, Readers, Target};
use crate::encode::{Encoder, Helpers};
use crate::mode::REPLAYER_INTERFACE;
use crate::walk::At;
use crate::wasmcode::{align_up, grow_memory_in, memarg_in, Body};

/// The home module's export of the allocator `replayer.next`'s results are lowered with.
pub const REALLOC_EXPORT: &str = "proxyrt:realloc";
/// Address (in the batch memory) of the allocator's next free byte: a stub sets it past the
/// arguments it encoded before each `next`, so nothing is kept across calls.
const HEAP_ADDRESS: i32 = 0;
/// Where `next` puts its result's pointer and length (in the batch memory).
const RET_AREA: i32 = 8;
/// The core type of the lowered `next`: `(func-id, args-ptr, args-len, ret-area)`.
pub const NEXT_PARAMS: usize = 4;

/// The table of the replayer's one function.
pub fn table_type() -> TableType {
    interface_table(1)
}

/// What stub bodies need.
pub struct StubCx<'r> {
    pub resolve: &'r Resolve,
    pub sizes: &'r SizeAlign,
    /// The encoders' helpers (writing to the batch memory).
    pub helpers: Helpers,
    /// The decoders' readers (reading the batch memory).
    pub readers: Readers,
    /// The guest memory the host calls' pointers are in (the batch memory if none has any).
    pub memory: u32,
    /// The batch memory.
    pub batch: u32,
    /// The replayer table and the type of `next` in it.
    pub table: u32,
    pub next_type: u32,
    /// Where a stub encodes the arguments (in the batch memory).
    pub scratch: i32,
}

/// What a stub stands for.
pub enum Call<'f> {
    /// A call of an imported function, allocating its results' lists with the module's function
    /// `realloc` (if they have any).
    Func {
        func: &'f WitFunction,
        realloc: Option<u32>,
    },
    /// The drop of an imported resource.
    Drop,
}

/// The replaying stub of func-id `func_id`, of the import's core type `core`.
pub fn stub_body(
    cx: &StubCx<'_>,
    func_id: u32,
    call: &Call<'_>,
    core: &CoreType,
) -> anyhow::Result<Function> {
    let (params, results) = core;
    let n = params.len() as u32;
    let mut b = Body::new(n);
    let cur = b.local(ValType::I32);
    b.code.extend([I::I32Const(cx.scratch), I::LocalSet(cur)]);
    let Call::Func { func, realloc } = call else {
        if params.as_slice() != [ValType::I32] || !results.is_empty() {
            bail!("a resource drop of another core type");
        }
        // `next(id, leb(handle))`; nothing to drop: the handle is a recorded id.
        b.code.extend([
            I::LocalGet(cur),
            I::LocalGet(0),
            I::Call(cx.helpers.leb32),
            I::LocalSet(cur),
        ]);
        next(cx, &mut b, func_id, cur);
        return Ok(b.finish());
    };
    let enc = Encoder {
        resolve: cx.resolve,
        sizes: cx.sizes,
        h: cx.helpers,
        cur,
        memory: cx.memory,
        own_rep: None,
    };
    let lowered = encode_params(&enc, &mut b, func, core)?;
    next(cx, &mut b, func_id, cur);

    let area = b.local(ValType::I32);
    b.code.extend([I::I32Const(RET_AREA), I::LocalSet(area)]);
    b.code.extend(cx.readers.read_from(area));
    let dec = Decoder {
        resolve: cx.resolve,
        sizes: cx.sizes,
        r: cx.readers,
        // Only lists call it, and a lowering whose results hold one has a realloc.
        realloc: realloc.unwrap_or(u32::MAX),
        memory: cx.memory,
        target: Target::Guest,
    };
    let mut flat = None;
    if let Some(result) = &func.result {
        if lowered.retptr {
            // The return area is the guest's, passed as the import's last parameter.
            dec.value(
                &mut b,
                result,
                At::Mem {
                    base: n - 1,
                    offset: 0,
                },
            )?;
        } else {
            let [t] = results.as_slice() else {
                bail!("`{}` returns {} flat values", func.name, results.len());
            };
            let local = b.local(*t);
            dec.value(&mut b, result, At::Flat(&[(local, *t)]))?;
            flat = Some(local);
        }
    }
    b.code.extend(cx.readers.all_read());
    if let Some(local) = flat {
        b.code.push(I::LocalGet(local));
    }
    Ok(b.finish())
}

/// `replayer.next(func_id, scratch..cur, RET_AREA)`, its results allocated past the arguments.
fn next(cx: &StubCx<'_>, b: &mut Body, func_id: u32, cur: u32) {
    b.code.extend([
        I::I32Const(HEAP_ADDRESS),
        I::LocalGet(cur),
        I::I32Store(memarg_in(cx.batch, 0, 2)),
        I::I32Const(func_id as i32),
        I::I32Const(cx.scratch),
        I::LocalGet(cur),
        I::I32Const(cx.scratch),
        I::I32Sub,
        I::I32Const(RET_AREA),
        I::I32Const(0),
        I::CallIndirect {
            type_index: cx.next_type,
            table_index: cx.table,
        },
    ]);
}

/// The home module's `realloc(old, old-size, align, size) -> ptr` for `next`'s results: a bump
/// allocator from the address at `HEAP_ADDRESS` of memory `batch`, which it grows as needed.
pub fn realloc_function(batch: u32) -> (Vec<ValType>, Vec<ValType>, Function) {
    let (ptr, end) = (4, 5);
    let mut f = Function::new_with_locals_types([ValType::I32, ValType::I64]);
    let code = [
        I::I32Const(HEAP_ADDRESS),
        I::I32Load(memarg_in(batch, 0, 2)),
    ]
    .into_iter()
    .chain(align_up(2, 3, ptr, end))
    .chain(grow_memory_in(batch, end))
    .chain([
        I::I32Const(HEAP_ADDRESS),
        I::LocalGet(ptr),
        I::LocalGet(3),
        I::I32Add,
        I::I32Store(memarg_in(batch, 0, 2)),
        I::LocalGet(ptr),
        I::End,
    ]);
    for i in code {
        f.instruction(&i);
    }
    (vec![ValType::I32; 4], vec![ValType::I32], f)
}

/// Appends the replayer interface's import, `next` lowered with the batch memory and the home
/// module's allocator, and the fixup module that puts it in the home instance's table.
/// `counts` are the original's index spaces' sizes (the rewrite adds nothing to them before
/// this): component types, component instances, component functions, core functions, memories,
/// tables, modules, core instances.
pub fn wire_replayer(out: &mut wasm_encoder::Component, counts: &Counts, home: u32) {
    let list = ComponentValType::Type(0);
    let u32_ = ComponentValType::Primitive(PrimitiveValType::U32);
    let mut instance = InstanceType::new();
    instance.ty().defined_type().list(PrimitiveValType::U8);
    instance
        .ty()
        .function()
        .params([("func-id", u32_), ("args", list)])
        .result(Some(list));
    instance.export("next", ComponentTypeRef::Func(1));
    let replayer = import_interface(out, REPLAYER_INTERFACE, &instance, counts);

    let mut aliases = ComponentAliasSection::new();
    aliases.alias(Alias::InstanceExport {
        instance: replayer,
        kind: ComponentExportKind::Func,
        name: "next",
    });
    alias_home(&mut aliases, home);
    aliases.alias(Alias::CoreInstanceExport {
        instance: home,
        kind: ExportKind::Func,
        name: REALLOC_EXPORT,
    });
    out.section(&aliases);
    let realloc = counts.core_functions;
    let lowered = realloc + 1;
    let mut canon = CanonicalFunctionSection::new();
    canon.lower(
        counts.component_functions,
        [
            CanonicalOption::Memory(counts.memories),
            CanonicalOption::Realloc(realloc),
        ],
    );
    out.section(&canon);

    // The fixup module: imports the table and the lowered `next`, puts it in slot 0.
    let mut fixup = wasm_encoder::Module::new();
    let mut fixup_types = TypeSection::new();
    fixup_types
        .ty()
        .function(vec![ValType::I32; NEXT_PARAMS], []);
    let mut fixup_imports = ImportSection::new();
    fixup_imports.import("", "table", EntityType::Table(table_type()));
    fixup_imports.import("", "0", EntityType::Function(0));
    let mut elements = ElementSection::new();
    elements.active(
        Some(0),
        &ConstExpr::i32_const(0),
        Elements::Functions(vec![0].into()),
    );
    fixup.section(&fixup_types);
    fixup.section(&fixup_imports);
    fixup.section(&elements);
    out.section(&wasm_encoder::ModuleSection(&fixup));

    let mut instances = InstanceSection::new();
    instances.export_items([
        ("table".to_string(), ExportKind::Table, counts.tables),
        ("0".to_string(), ExportKind::Func, lowered),
    ]);
    instances.instantiate(
        counts.modules,
        [("", ModuleArg::Instance(counts.core_instances))],
    );
    out.section(&instances);
}

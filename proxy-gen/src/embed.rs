//! The embedded replayer (`proxyrt instrument -m replay --embed-trace`): a small component that
//! exports [`REPLAYER_INTERFACE`] and answers `next` from the recorded calls held in a data
//! segment, plugged into the replay composition so that the result imports nothing (beyond
//! types-only interfaces, which need no definition) and replays in any component runtime.
//!
//! Its core module, emitted with wasm-encoder: the calls laid out as
//! `[func-id u32][args-len u32][args][results-len u32][results]` from address 16 on, a cursor
//! global, `next` (compare func-id and argument bytes with the next call, return a view of its
//! recorded results) and a bump `realloc` for the arguments the caller passes, reset by the
//! post-return. There is no host to report to: a divergence, the end of the trace, or a call that
//! never returned in the recording (`exit`, a host trap) is a trap (`unreachable`).

use anyhow::{bail, Context, Result};
use wac_graph::{types::Package, CompositionGraph, EncodeOptions};
use wasm_encoder::{
    BlockType, CanonicalOption, CodeSection, ComponentBuilder, ComponentExportKind,
    ComponentTypeRef, ComponentValType, ConstExpr, DataSection, ExportKind, ExportSection,
    Function, FunctionSection, GlobalSection, GlobalType, Instruction as I, MemoryType, Module,
    PrimitiveValType, TypeSection, ValType,
};

use crate::mode::REPLAYER_INTERFACE;
use crate::wasmcode::memarg;

/// One recorded import call.
pub struct RecordedCall {
    /// The function id (`ComponentInfo::intercepted_functions` index).
    pub func: u32,
    /// The encoded arguments.
    pub args: Vec<u8>,
    /// The encoded results; `None` when the call never returned in the recording (the run ended
    /// in it: `wasi:cli/exit.exit`, a trap in the host).
    pub results: Option<Vec<u8>>,
}

/// Where the calls start in the replayer's memory; bytes 8..16 are `next`'s return area.
const DATA_BASE: u32 = 16;
const RET_AREA: i32 = 8;
/// `results-len` of a call that never returned.
const NO_RETURN: u32 = u32::MAX;

/// The replayer's core module for `calls`.
fn module(calls: &[RecordedCall]) -> Result<Module> {
    let mut data = Vec::new();
    for c in calls {
        let len = |n: usize| u32::try_from(n).context("a recorded value of 4 GiB or more");
        data.extend_from_slice(&c.func.to_le_bytes());
        data.extend_from_slice(&len(c.args.len())?.to_le_bytes());
        data.extend_from_slice(&c.args);
        match &c.results {
            Some(r) => {
                data.extend_from_slice(&len(r.len())?.to_le_bytes());
                data.extend_from_slice(r);
            }
            None => data.extend_from_slice(&NO_RETURN.to_le_bytes()),
        }
    }
    let end = u64::from(DATA_BASE) + data.len() as u64;
    if end > u64::from(u32::MAX / 2) {
        bail!(
            "the trace is too large to embed ({} bytes of calls)",
            data.len()
        );
    }
    let heap = (end as u32).next_multiple_of(16);
    let pages = u64::from(heap).div_ceil(65536) + 1;

    let mut types = TypeSection::new();
    types.ty().function([ValType::I32; 4], [ValType::I32]); // 0 realloc
    types.ty().function([ValType::I32; 3], [ValType::I32]); // 1 next
    types.ty().function([ValType::I32], []); // 2 post-return
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    funcs.function(1);
    funcs.function(2);
    let mut memories = wasm_encoder::MemorySection::new();
    memories.memory(MemoryType {
        minimum: pages,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut globals = GlobalSection::new();
    let global = |g: &mut GlobalSection, v: u32, mutable: bool| {
        g.global(
            GlobalType {
                val_type: ValType::I32,
                mutable,
                shared: false,
            },
            &ConstExpr::i32_const(v as i32),
        );
    };
    global(&mut globals, DATA_BASE, true); // 0 cursor
    global(&mut globals, end as u32, false); // 1 end of the calls
    global(&mut globals, heap, true); // 2 bump pointer
    global(&mut globals, heap, false); // 3 heap base
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    exports.export("realloc", ExportKind::Func, 0);
    exports.export("next", ExportKind::Func, 1);
    exports.export("post-next", ExportKind::Func, 2);

    let mut code = CodeSection::new();
    code.function(&crate::wasmcode::realloc_function(2));

    // next(func 0, ptr 1, len 2) -> ret area; locals: pos 3, i 4, rp 5, rlen 6.
    let mut f = Function::new_with_locals_types([ValType::I32; 4]);
    let trap_if = |cond: Vec<I<'static>>| {
        let mut v = cond;
        v.extend([I::If(BlockType::Empty), I::Unreachable, I::End]);
        v
    };
    let mut body: Vec<I<'static>> = vec![I::GlobalGet(0), I::LocalSet(3)];
    // the trace has no call left
    body.extend(trap_if(vec![I::LocalGet(3), I::GlobalGet(1), I::I32GeU]));
    // another function than recorded
    body.extend(trap_if(vec![
        I::LocalGet(3),
        I::I32Load(memarg(0, 2)),
        I::LocalGet(0),
        I::I32Ne,
    ]));
    // other arguments than recorded: length, then bytes
    body.extend(trap_if(vec![
        I::LocalGet(3),
        I::I32Load(memarg(4, 2)),
        I::LocalGet(2),
        I::I32Ne,
    ]));
    body.extend([
        I::I32Const(0),
        I::LocalSet(4),
        I::Block(BlockType::Empty),
        I::Loop(BlockType::Empty),
        I::LocalGet(4),
        I::LocalGet(2),
        I::I32GeU,
        I::BrIf(1),
    ]);
    body.extend(trap_if(vec![
        I::LocalGet(3),
        I::LocalGet(4),
        I::I32Add,
        I::I32Load8U(memarg(8, 0)),
        I::LocalGet(1),
        I::LocalGet(4),
        I::I32Add,
        I::I32Load8U(memarg(0, 0)),
        I::I32Ne,
    ]));
    body.extend([
        I::LocalGet(4),
        I::I32Const(1),
        I::I32Add,
        I::LocalSet(4),
        I::Br(0),
        I::End,
        I::End,
        // rp = pos + 8 + len; rlen = load(rp)
        I::LocalGet(3),
        I::I32Const(8),
        I::I32Add,
        I::LocalGet(2),
        I::I32Add,
        I::LocalTee(5),
        I::I32Load(memarg(0, 2)),
        I::LocalSet(6),
    ]);
    // the recorded run ended in this call
    body.extend(trap_if(vec![
        I::LocalGet(6),
        I::I32Const(NO_RETURN as i32),
        I::I32Eq,
    ]));
    body.extend([
        I::I32Const(RET_AREA),
        I::LocalGet(5),
        I::I32Const(4),
        I::I32Add,
        I::I32Store(memarg(0, 2)),
        I::I32Const(RET_AREA),
        I::LocalGet(6),
        I::I32Store(memarg(4, 2)),
        I::LocalGet(5),
        I::I32Const(4),
        I::I32Add,
        I::LocalGet(6),
        I::I32Add,
        I::GlobalSet(0),
        I::I32Const(RET_AREA),
        I::End,
    ]);
    for i in &body {
        f.instruction(i);
    }
    code.function(&f);

    // post-next(ret): free the arguments.
    let mut f = Function::new([]);
    for i in [I::GlobalGet(3), I::GlobalSet(2), I::End] {
        f.instruction(&i);
    }
    code.function(&f);

    let mut datas = DataSection::new();
    datas.active(0, &ConstExpr::i32_const(DATA_BASE as i32), data);

    let mut m = Module::new();
    m.section(&types);
    m.section(&funcs);
    m.section(&memories);
    m.section(&globals);
    m.section(&exports);
    m.section(&code);
    m.section(&datas);
    Ok(m)
}

/// The replayer component: exports [`REPLAYER_INTERFACE`] answering from `calls`.
pub fn replayer(calls: &[RecordedCall]) -> Result<Vec<u8>> {
    let mut root = ComponentBuilder::default();
    let m = root.core_module(Some("proxyrt-embedded-replayer"), &module(calls)?);
    let inst = root.core_instantiate(
        Some("proxyrt-embedded-replayer"),
        m,
        Vec::<(&str, wasm_encoder::ModuleArg)>::new(),
    );
    let memory = root.core_alias_export(None, inst, "memory", ExportKind::Memory);
    let realloc = root.core_alias_export(None, inst, "realloc", ExportKind::Func);
    let next = root.core_alias_export(None, inst, "next", ExportKind::Func);
    let post = root.core_alias_export(None, inst, "post-next", ExportKind::Func);
    let (bytes, e) = root.type_defined(None);
    e.list(ComponentValType::Primitive(PrimitiveValType::U8));
    let (fty, mut f) = root.type_function(None);
    f.params([
        (
            "func-id",
            ComponentValType::Primitive(PrimitiveValType::U32),
        ),
        ("args", ComponentValType::Type(bytes)),
    ])
    .result(Some(ComponentValType::Type(bytes)));
    let lifted = root.lift_func(
        Some("next"),
        next,
        fty,
        [
            CanonicalOption::Memory(memory),
            CanonicalOption::Realloc(realloc),
            CanonicalOption::PostReturn(post),
        ],
    );

    // The exported instance: a nested component re-exporting `next` (an instance of exports is
    // not something ComponentBuilder offers; this is what wit-component emits too).
    let mut shim = ComponentBuilder::default();
    let (b, e) = shim.type_defined(None);
    e.list(ComponentValType::Primitive(PrimitiveValType::U8));
    let (t, mut f) = shim.type_function(None);
    f.params([
        (
            "func-id",
            ComponentValType::Primitive(PrimitiveValType::U32),
        ),
        ("args", ComponentValType::Type(b)),
    ])
    .result(Some(ComponentValType::Type(b)));
    let imported = shim.import("next-impl", ComponentTypeRef::Func(t));
    shim.export("next", ComponentExportKind::Func, imported, None);
    let shim = root.component(Some("replayer-shim"), shim);
    let exported = root.instantiate(
        Some("replayer"),
        shim,
        [("next-impl", ComponentExportKind::Func, lifted)],
    );
    root.export(
        REPLAYER_INTERFACE,
        ComponentExportKind::Instance,
        exported,
        None,
    );
    Ok(root.finish())
}

/// Plugs `replayer` into the replay composition `composed`: the result has `composed`'s exports
/// and its imports but the replayer.
pub fn plug(composed: &[u8], replayer: &[u8]) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let pkg = Package::from_bytes(
        "proxyrt:replayer",
        None,
        replayer.to_vec(),
        graph.types_mut(),
    )
    .context("loading the embedded replayer")?;
    let replayer_pkg = graph.register_package(pkg)?;
    let pkg = Package::from_bytes("proxyrt:replay", None, composed.to_vec(), graph.types_mut())
        .context("loading the replay composition")?;
    let composed_pkg = graph.register_package(pkg)?;
    let world = &graph.types()[graph[composed_pkg].ty()];
    let exports: Vec<String> = world.exports.keys().cloned().collect();

    let replayer_inst = graph.instantiate(replayer_pkg);
    let composed_inst = graph.instantiate(composed_pkg);
    let item = graph.alias_instance_export(replayer_inst, REPLAYER_INTERFACE)?;
    graph
        .set_instantiation_argument(composed_inst, REPLAYER_INTERFACE, item)
        .context("the embedded replayer does not fit the composition's import")?;
    for name in &exports {
        let item = graph.alias_instance_export(composed_inst, name)?;
        graph.export(item, name)?;
    }
    graph
        .encode(EncodeOptions::default())
        .context("encoding the embedded replay")
}

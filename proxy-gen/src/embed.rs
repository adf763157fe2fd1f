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
//!
//! With [`EmbedIo::Stdio`] (`--stdio`) the replayer also redoes each call's [`Effect`], so that the
//! standalone prints what the recorded run printed and exits with its status: it imports exactly
//! [`STDIO_IMPORTS`] (at WASI 0.2.0, which every 0.2 host serves) and, after matching a call,
//! writes its bytes to stdout or stderr (`get-stdout`/`get-stderr` once each, then
//! `blocking-write-and-flush` in chunks of at most 4096 bytes, the most that function takes) or
//! calls `exit`. Each call is followed in the data by its effect: `[kind u32]` (0 none, 3 exit ok,
//! 4 exit err) or `[kind u32 = 1 stdout | 2 stderr][address u32][length u32]` (the bytes are the
//! call's own argument bytes, already in the data). A divergence prints one line on stderr
//! before it traps, and so does a call in which the recorded run trapped. The memory is defined by
//! a core module of its own, instantiated first, because lowering the WASI functions needs it and
//! the replayer's module imports those functions.

use anyhow::{bail, Context, Result};
use std::ops::Range;
use wac_graph::{types::Package, CompositionGraph, EncodeOptions};
use wasm_encoder::{
    Alias, BlockType, CanonicalOption, CodeSection, ComponentBuilder, ComponentExportKind,
    ComponentOuterAliasKind, ComponentTypeRef, ComponentValType, ConstExpr, DataSection,
    EntityType, ExportKind, ExportSection, Function, FunctionSection, GlobalSection, GlobalType,
    ImportSection, InstanceType, Instruction as I, MemoryType, Module, ModuleArg, PrimitiveValType,
    TypeBounds, TypeSection, ValType,
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
    /// What the call did that a standalone replay with [`EmbedIo::Stdio`] redoes (ignored
    /// otherwise).
    pub effect: Effect,
}

/// What a recorded call did outside the program, as far as a standalone replay shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Nothing shown.
    None,
    /// It wrote `args[bytes]` (the call's own argument bytes) to `stream`: a write to stdout or
    /// stderr that succeeded when recorded.
    Write {
        /// Where it went.
        stream: StdStream,
        /// The written bytes, as a range of the call's encoded arguments.
        bytes: Range<usize>,
    },
    /// The recorded run ended in this call with this status (`wasi:cli/exit.exit`: `ok` is
    /// status 0, `err` status 1).
    Exit {
        /// `ok` (status 0) rather than `err` (status 1).
        success: bool,
    },
}

/// The guest's standard output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdStream {
    /// `wasi:cli/stdout`.
    Stdout,
    /// `wasi:cli/stderr`.
    Stderr,
}

/// What the standalone replay may do besides answering the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbedIo {
    /// Nothing: it imports nothing and runs silently; its end is the guest's (a recorded `exit`
    /// is a trap).
    None,
    /// It prints the recorded output and exits with the recorded status: it imports exactly
    /// [`STDIO_IMPORTS`].
    Stdio,
}

/// The interfaces an [`EmbedIo::Stdio`] replayer imports, with the functions it calls (none of
/// `wasi:io/error`: the `error` resource is only named by `stream-error`).
pub const STDIO_IMPORTS: [(&str, &[&str]); 5] = [
    ("wasi:io/error@0.2.0", &[]),
    (
        "wasi:io/streams@0.2.0",
        &["[method]output-stream.blocking-write-and-flush"],
    ),
    ("wasi:cli/stdout@0.2.0", &["get-stdout"]),
    ("wasi:cli/stderr@0.2.0", &["get-stderr"]),
    ("wasi:cli/exit@0.2.0", &["exit"]),
];

/// Where the calls start in the replayer's memory; bytes 8..16 are `next`'s return area.
const DATA_BASE: u32 = 16;
const RET_AREA: i32 = 8;
/// `results-len` of a call that never returned.
const NO_RETURN: u32 = u32::MAX;

/// With [`EmbedIo::Stdio`]: the calls start here, after `next`'s return area (8..16) and
/// `blocking-write-and-flush`'s (16..28, `result<_, stream-error>`).
const STDIO_DATA_BASE: u32 = 32;
const WRITE_RET_AREA: i32 = 16;
/// The most bytes `blocking-write-and-flush` takes in one call.
const WRITE_CHUNK: i32 = 4096;
/// Effect kinds in the data (see the module doc).
const EFFECT_NONE: u32 = 0;
const EFFECT_STDOUT: u32 = 1;
const EFFECT_STDERR: u32 = 2;
const EFFECT_EXIT_OK: u32 = 3;
const EFFECT_EXIT_ERR: u32 = 4;

/// The one-line messages of a stdio replayer that stops, printed on stderr before the trap.
const MSG_END: &str =
    "proxyrt: the replay diverged: the program made a call after the last one in the embedded trace\n";
const MSG_FUNC: &str =
    "proxyrt: the replay diverged: the program called another function than the embedded trace has next\n";
const MSG_ARGS: &str =
    "proxyrt: the replay diverged: the program called the next function with other arguments than recorded\n";
const MSG_TRAPPED: &str = "proxyrt: the recorded run ended in this call with a trap in the host\n";

/// The calls' data and where things sit in memory.
struct Layout {
    data: Vec<u8>,
    /// The data's address.
    base: u32,
    /// One past the last call.
    end: u32,
    /// The heap (16-aligned, after the data).
    heap: u32,
    /// The memory's pages.
    pages: u64,
    /// Stdio replayers: the address of each message in the data.
    messages: Messages,
}

#[derive(Default, Clone, Copy)]
struct Messages {
    end: (u32, u32),
    func: (u32, u32),
    args: (u32, u32),
    trapped: (u32, u32),
}

fn len32(n: usize) -> Result<u32> {
    u32::try_from(n).context("a recorded value of 4 GiB or more")
}

/// Lays out `calls` (with their effects for `io`), then, for stdio, the messages.
fn layout(calls: &[RecordedCall], io: EmbedIo) -> Result<Layout> {
    let base = match io {
        EmbedIo::None => DATA_BASE,
        EmbedIo::Stdio => STDIO_DATA_BASE,
    };
    let mut data = Vec::new();
    // An address in the data, checked to stay in the bounds `end` is checked against below.
    let at = |data: &Vec<u8>, offset: usize| -> u32 {
        (u64::from(base) + data.len() as u64 + offset as u64).min(u64::from(u32::MAX)) as u32
    };
    for c in calls {
        data.extend_from_slice(&c.func.to_le_bytes());
        data.extend_from_slice(&len32(c.args.len())?.to_le_bytes());
        let args_at = at(&data, 0);
        data.extend_from_slice(&c.args);
        match &c.results {
            Some(r) => {
                data.extend_from_slice(&len32(r.len())?.to_le_bytes());
                data.extend_from_slice(r);
            }
            None => data.extend_from_slice(&NO_RETURN.to_le_bytes()),
        }
        if io == EmbedIo::Stdio {
            match &c.effect {
                Effect::None => data.extend_from_slice(&EFFECT_NONE.to_le_bytes()),
                Effect::Exit { success } => {
                    let kind = if *success {
                        EFFECT_EXIT_OK
                    } else {
                        EFFECT_EXIT_ERR
                    };
                    data.extend_from_slice(&kind.to_le_bytes());
                }
                Effect::Write { stream, bytes } => {
                    if bytes.start > bytes.end || bytes.end > c.args.len() {
                        bail!(
                            "a write's bytes {bytes:?} are not within its call's {} argument bytes",
                            c.args.len()
                        );
                    }
                    let kind = match stream {
                        StdStream::Stdout => EFFECT_STDOUT,
                        StdStream::Stderr => EFFECT_STDERR,
                    };
                    data.extend_from_slice(&kind.to_le_bytes());
                    data.extend_from_slice(
                        &(args_at.saturating_add(len32(bytes.start)?)).to_le_bytes(),
                    );
                    data.extend_from_slice(&len32(bytes.len())?.to_le_bytes());
                }
            }
        }
    }
    let end = u64::from(base) + data.len() as u64;
    let mut messages = Messages::default();
    if io == EmbedIo::Stdio {
        let put = |data: &mut Vec<u8>, m: &str| {
            let addr = at(data, 0);
            data.extend_from_slice(m.as_bytes());
            (addr, m.len() as u32)
        };
        messages = Messages {
            end: put(&mut data, MSG_END),
            func: put(&mut data, MSG_FUNC),
            args: put(&mut data, MSG_ARGS),
            trapped: put(&mut data, MSG_TRAPPED),
        };
    }
    let data_end = u64::from(base) + data.len() as u64;
    if data_end > u64::from(u32::MAX / 2) {
        bail!(
            "the trace is too large to embed ({} bytes of calls)",
            data.len()
        );
    }
    let heap = (data_end as u32).next_multiple_of(16);
    let pages = u64::from(heap).div_ceil(65536) + 1;
    Ok(Layout {
        data,
        base,
        end: end as u32,
        heap,
        pages,
        messages,
    })
}

/// Function indices of a stdio replayer's module: the imported WASI functions, then its own.
const F_GET_STDOUT: u32 = 0;
const F_GET_STDERR: u32 = 1;
const F_WRITE: u32 = 2;
const F_EXIT: u32 = 3;
const F_EMIT: u32 = 7;
/// Globals: 0 cursor, 1 end of the calls, 2 bump pointer, 3 heap base, then (stdio) the stdout
/// and stderr handles plus one (0: not fetched yet).
const G_STDOUT: u32 = 4;
const G_STDERR: u32 = 5;

/// `if cond { fail }`: the stop of `next` where the replay cannot go on.
fn trap_if(cond: Vec<I<'static>>, fail: &[I<'static>]) -> Vec<I<'static>> {
    let mut v = cond;
    v.push(I::If(BlockType::Empty));
    v.extend_from_slice(fail);
    v.push(I::End);
    v
}

/// The replayer's `next(func 0, ptr 1, len 2) -> ret area`; locals: pos 3, i 4, rp 5, rlen 6 and,
/// for stdio, ep 7 (the call's effect), kind 8.
fn next_function(l: &Layout, io: EmbedIo) -> Function {
    // How it stops: a trap, after (stdio) a line on stderr.
    let fail = |(addr, len): (u32, u32)| -> Vec<I<'static>> {
        match io {
            EmbedIo::None => vec![I::Unreachable],
            EmbedIo::Stdio => vec![
                I::I32Const(EFFECT_STDERR as i32),
                I::I32Const(addr as i32),
                I::I32Const(len as i32),
                I::Call(F_EMIT),
                I::Unreachable,
            ],
        }
    };
    let m = l.messages;
    let mut f = Function::new_with_locals_types(match io {
        EmbedIo::None => vec![ValType::I32; 4],
        EmbedIo::Stdio => vec![ValType::I32; 6],
    });
    let mut body: Vec<I<'static>> = vec![I::GlobalGet(0), I::LocalSet(3)];
    // the trace has no call left
    body.extend(trap_if(
        vec![I::LocalGet(3), I::GlobalGet(1), I::I32GeU],
        &fail(m.end),
    ));
    // another function than recorded
    body.extend(trap_if(
        vec![
            I::LocalGet(3),
            I::I32Load(memarg(0, 2)),
            I::LocalGet(0),
            I::I32Ne,
        ],
        &fail(m.func),
    ));
    // other arguments than recorded: length, then bytes
    body.extend(trap_if(
        vec![
            I::LocalGet(3),
            I::I32Load(memarg(4, 2)),
            I::LocalGet(2),
            I::I32Ne,
        ],
        &fail(m.args),
    ));
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
    body.extend(trap_if(
        vec![
            I::LocalGet(3),
            I::LocalGet(4),
            I::I32Add,
            I::I32Load8U(memarg(8, 0)),
            I::LocalGet(1),
            I::LocalGet(4),
            I::I32Add,
            I::I32Load8U(memarg(0, 0)),
            I::I32Ne,
        ],
        &fail(m.args),
    ));
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
    let no_return = || vec![I::LocalGet(6), I::I32Const(NO_RETURN as i32), I::I32Eq];
    let ret_area = [
        I::I32Const(RET_AREA),
        I::LocalGet(5),
        I::I32Const(4),
        I::I32Add,
        I::I32Store(memarg(0, 2)),
        I::I32Const(RET_AREA),
        I::LocalGet(6),
        I::I32Store(memarg(4, 2)),
    ];
    match io {
        EmbedIo::None => {
            // the recorded run ended in this call
            body.extend(trap_if(no_return(), &fail(m.trapped)));
            body.extend(ret_area);
            body.extend([
                I::LocalGet(5),
                I::I32Const(4),
                I::I32Add,
                I::LocalGet(6),
                I::I32Add,
                I::GlobalSet(0),
            ]);
        }
        EmbedIo::Stdio => {
            // ep = rp + 4 + (rlen == NO_RETURN ? 0 : rlen); kind = load(ep)
            body.extend([
                I::LocalGet(5),
                I::I32Const(4),
                I::I32Add,
                I::I32Const(0),
                I::LocalGet(6),
            ]);
            body.extend(no_return());
            body.extend([
                I::Select,
                I::I32Add,
                I::LocalTee(7),
                I::I32Load(memarg(0, 2)),
                I::LocalTee(8),
                // a write (kind 1 or 2): emit(kind, address, length); the next call at ep + 12
                I::I32Const(EFFECT_STDOUT as i32),
                I::I32Sub,
                I::I32Const(2),
                I::I32LtU,
                I::If(BlockType::Empty),
                I::LocalGet(8),
                I::LocalGet(7),
                I::I32Load(memarg(4, 2)),
                I::LocalGet(7),
                I::I32Load(memarg(8, 2)),
                I::Call(F_EMIT),
                I::LocalGet(7),
                I::I32Const(12),
                I::I32Add,
                I::GlobalSet(0),
                I::Else,
                I::LocalGet(7),
                I::I32Const(4),
                I::I32Add,
                I::GlobalSet(0),
                I::End,
                // an exit (kind 3 or 4): exit(kind - 3), which does not return
                I::LocalGet(8),
                I::I32Const(EFFECT_EXIT_OK as i32),
                I::I32Sub,
                I::I32Const(2),
                I::I32LtU,
                I::If(BlockType::Empty),
                I::LocalGet(8),
                I::I32Const(EFFECT_EXIT_OK as i32),
                I::I32Sub,
                I::Call(F_EXIT),
                I::Unreachable,
                I::End,
            ]);
            // the recorded run ended in this call with a trap
            body.extend(trap_if(no_return(), &fail(m.trapped)));
            body.extend(ret_area);
        }
    }
    body.extend([I::I32Const(RET_AREA), I::End]);
    for i in &body {
        f.instruction(i);
    }
    f
}

/// A stdio replayer's `emit(stream 0, ptr 1, len 2)`: writes the bytes to stdout (stream 1) or
/// stderr (2) in chunks `blocking-write-and-flush` takes; locals: handle 3, chunk 4. A failed
/// write is not an error: output that cannot be shown (a closed pipe) does not change the replay.
fn emit_function() -> Function {
    let mut f = Function::new_with_locals_types([ValType::I32; 2]);
    let handle = |global: u32, get: u32| {
        [
            I::GlobalGet(global),
            I::I32Eqz,
            I::If(BlockType::Empty),
            I::Call(get),
            I::I32Const(1),
            I::I32Add,
            I::GlobalSet(global),
            I::End,
            I::GlobalGet(global),
        ]
    };
    let mut body = vec![
        I::LocalGet(0),
        I::I32Const(EFFECT_STDOUT as i32),
        I::I32Eq,
        I::If(BlockType::Result(ValType::I32)),
    ];
    body.extend(handle(G_STDOUT, F_GET_STDOUT));
    body.push(I::Else);
    body.extend(handle(G_STDERR, F_GET_STDERR));
    body.extend([
        I::End,
        I::I32Const(1),
        I::I32Sub,
        I::LocalSet(3),
        I::Block(BlockType::Empty),
        I::Loop(BlockType::Empty),
        I::LocalGet(2),
        I::I32Eqz,
        I::BrIf(1),
        // chunk = min(len, WRITE_CHUNK)
        I::I32Const(WRITE_CHUNK),
        I::LocalGet(2),
        I::LocalGet(2),
        I::I32Const(WRITE_CHUNK),
        I::I32GtU,
        I::Select,
        I::LocalSet(4),
        I::LocalGet(3),
        I::LocalGet(1),
        I::LocalGet(4),
        I::I32Const(WRITE_RET_AREA),
        I::Call(F_WRITE),
        I::LocalGet(1),
        I::LocalGet(4),
        I::I32Add,
        I::LocalSet(1),
        I::LocalGet(2),
        I::LocalGet(4),
        I::I32Sub,
        I::LocalSet(2),
        I::Br(0),
        I::End,
        I::End,
        I::End,
    ]);
    for i in &body {
        f.instruction(i);
    }
    f
}

fn memory_type(pages: u64) -> MemoryType {
    MemoryType {
        minimum: pages,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    }
}

/// The replayer's core module for `calls` laid out as `l`: with [`EmbedIo::Stdio`] it imports its
/// memory (`env.memory`) and the lowered WASI functions (`wasi.*`).
fn module(l: Layout, io: EmbedIo) -> Module {
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32; 4], [ValType::I32]); // 0 realloc
    types.ty().function([ValType::I32; 3], [ValType::I32]); // 1 next
    types.ty().function([ValType::I32], []); // 2 post-return, exit
    let mut imports = ImportSection::new();
    if io == EmbedIo::Stdio {
        types.ty().function([], [ValType::I32]); // 3 get-stdout, get-stderr
        types.ty().function([ValType::I32; 4], []); // 4 blocking-write-and-flush
        types.ty().function([ValType::I32; 3], []); // 5 emit
        imports.import("env", "memory", EntityType::Memory(memory_type(l.pages)));
        imports.import("wasi", "get-stdout", EntityType::Function(3));
        imports.import("wasi", "get-stderr", EntityType::Function(3));
        imports.import("wasi", "write", EntityType::Function(4));
        imports.import("wasi", "exit", EntityType::Function(2));
    }
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    funcs.function(1);
    funcs.function(2);
    let mut memories = wasm_encoder::MemorySection::new();
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
    global(&mut globals, l.base, true); // 0 cursor
    global(&mut globals, l.end, false); // 1 end of the calls
    global(&mut globals, l.heap, true); // 2 bump pointer
    global(&mut globals, l.heap, false); // 3 heap base
    let mut exports = ExportSection::new();
    let first = match io {
        EmbedIo::None => {
            memories.memory(memory_type(l.pages));
            exports.export("memory", ExportKind::Memory, 0);
            0
        }
        EmbedIo::Stdio => {
            funcs.function(5);
            global(&mut globals, 0, true); // 4 stdout handle + 1
            global(&mut globals, 0, true); // 5 stderr handle + 1
            F_EXIT + 1
        }
    };
    exports.export("realloc", ExportKind::Func, first);
    exports.export("next", ExportKind::Func, first + 1);
    exports.export("post-next", ExportKind::Func, first + 2);

    let mut code = CodeSection::new();
    code.function(&crate::wasmcode::realloc_function(2));
    code.function(&next_function(&l, io));
    // post-next(ret): free the arguments.
    let mut f = Function::new([]);
    for i in [I::GlobalGet(3), I::GlobalSet(2), I::End] {
        f.instruction(&i);
    }
    code.function(&f);
    if io == EmbedIo::Stdio {
        code.function(&emit_function());
    }

    let mut datas = DataSection::new();
    datas.active(0, &ConstExpr::i32_const(l.base as i32), l.data);

    let mut m = Module::new();
    m.section(&types);
    if io == EmbedIo::Stdio {
        m.section(&imports);
    }
    m.section(&funcs);
    if io == EmbedIo::None {
        m.section(&memories);
    }
    m.section(&globals);
    m.section(&exports);
    m.section(&code);
    m.section(&datas);
    m
}

/// The replayer component: exports [`REPLAYER_INTERFACE`] answering from `calls`; with
/// [`EmbedIo::Stdio`] it imports [`STDIO_IMPORTS`] and redoes the calls' effects.
pub fn replayer(calls: &[RecordedCall], io: EmbedIo) -> Result<Vec<u8>> {
    let l = layout(calls, io)?;
    let pages = l.pages;
    let m = module(l, io);
    let mut root = ComponentBuilder::default();
    let (inst, memory) = match io {
        EmbedIo::None => {
            let m = root.core_module(Some("proxyrt-embedded-replayer"), &m);
            let inst = root.core_instantiate(
                Some("proxyrt-embedded-replayer"),
                m,
                Vec::<(&str, ModuleArg)>::new(),
            );
            let memory = root.core_alias_export(None, inst, "memory", ExportKind::Memory);
            (inst, memory)
        }
        EmbedIo::Stdio => {
            let wasi = import_stdio(&mut root);
            // The memory first: lowering `blocking-write-and-flush` needs it.
            let mut mem_module = Module::new();
            let mut memories = wasm_encoder::MemorySection::new();
            memories.memory(memory_type(pages));
            let mut exports = ExportSection::new();
            exports.export("memory", ExportKind::Memory, 0);
            mem_module.section(&memories);
            mem_module.section(&exports);
            let mm = root.core_module(Some("proxyrt-embedded-replayer-memory"), &mem_module);
            let mem_inst = root.core_instantiate(
                Some("proxyrt-embedded-replayer-memory"),
                mm,
                Vec::<(&str, ModuleArg)>::new(),
            );
            let memory = root.core_alias_export(None, mem_inst, "memory", ExportKind::Memory);
            let get_stdout = root.lower_func(None, wasi.get_stdout, []);
            let get_stderr = root.lower_func(None, wasi.get_stderr, []);
            let write = root.lower_func(None, wasi.write, [CanonicalOption::Memory(memory)]);
            let exit = root.lower_func(None, wasi.exit, []);
            let funcs = root.core_instantiate_exports(
                Some("wasi"),
                [
                    ("get-stdout", ExportKind::Func, get_stdout),
                    ("get-stderr", ExportKind::Func, get_stderr),
                    ("write", ExportKind::Func, write),
                    ("exit", ExportKind::Func, exit),
                ],
            );
            let m = root.core_module(Some("proxyrt-embedded-replayer"), &m);
            let inst = root.core_instantiate(
                Some("proxyrt-embedded-replayer"),
                m,
                [
                    ("env", ModuleArg::Instance(mem_inst)),
                    ("wasi", ModuleArg::Instance(funcs)),
                ],
            );
            (inst, memory)
        }
    };
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

/// The component functions a stdio replayer lowers.
struct StdioFuncs {
    get_stdout: u32,
    get_stderr: u32,
    write: u32,
    exit: u32,
}

/// Imports [`STDIO_IMPORTS`] into `root`, with the instance types wit-component gives these
/// interfaces (types `use`d from another interface are outer aliases of the type the root aliased
/// from that interface's instance, re-exported under their name), cut to what the replayer calls.
fn import_stdio(root: &mut ComponentBuilder) -> StdioFuncs {
    let [error_iface, streams_iface, stdout_iface, stderr_iface, exit_iface] =
        STDIO_IMPORTS.map(|(name, _)| name);
    let outer = |ty: &mut InstanceType, index: u32| {
        ty.alias(Alias::Outer {
            kind: ComponentOuterAliasKind::Type,
            count: 1,
            index,
        });
    };

    // wasi:io/error: resource error.
    let mut ty = InstanceType::new();
    ty.export("error", ComponentTypeRef::Type(TypeBounds::SubResource));
    let t = root.type_instance(None, &ty);
    let error = root.import(error_iface, ComponentTypeRef::Instance(t));
    let error_ty = root.alias_export(error, "error", ComponentExportKind::Type);

    // wasi:io/streams: use error.{error}; variant stream-error { last-operation-failed(error),
    // closed }; resource output-stream { blocking-write-and-flush: func(contents: list<u8>) ->
    // result<_, stream-error>; }
    let mut ty = InstanceType::new();
    outer(&mut ty, error_ty); // 0
    ty.export("error", ComponentTypeRef::Type(TypeBounds::Eq(0))); // 1
    ty.ty().defined_type().own(1); // 2
    ty.ty().defined_type().variant([
        ("last-operation-failed", Some(ComponentValType::Type(2))),
        ("closed", None),
    ]); // 3
    ty.export("stream-error", ComponentTypeRef::Type(TypeBounds::Eq(3))); // 4
    ty.export(
        "output-stream",
        ComponentTypeRef::Type(TypeBounds::SubResource),
    ); // 5
    ty.ty().defined_type().borrow(5); // 6
    ty.ty()
        .defined_type()
        .list(ComponentValType::Primitive(PrimitiveValType::U8)); // 7
    ty.ty()
        .defined_type()
        .result(None, Some(ComponentValType::Type(4))); // 8
    ty.ty()
        .function()
        .params([
            ("self", ComponentValType::Type(6)),
            ("contents", ComponentValType::Type(7)),
        ])
        .result(Some(ComponentValType::Type(8))); // 9
    let write_name = STDIO_IMPORTS[1].1[0];
    ty.export(write_name, ComponentTypeRef::Func(9));
    let t = root.type_instance(None, &ty);
    let streams = root.import(streams_iface, ComponentTypeRef::Instance(t));
    let stream_ty = root.alias_export(streams, "output-stream", ComponentExportKind::Type);
    let write = root.alias_export(streams, write_name, ComponentExportKind::Func);

    // wasi:cli/stdout and stderr: use wasi:io/streams.{output-stream}; get-std*: func() ->
    // output-stream.
    let getter = |root: &mut ComponentBuilder, iface: &str, name: &str| {
        let mut ty = InstanceType::new();
        outer(&mut ty, stream_ty); // 0
        ty.export("output-stream", ComponentTypeRef::Type(TypeBounds::Eq(0))); // 1
        ty.ty().defined_type().own(1); // 2
        ty.ty()
            .function()
            .params(Vec::<(&str, ComponentValType)>::new())
            .result(Some(ComponentValType::Type(2))); // 3
        ty.export(name, ComponentTypeRef::Func(3));
        let t = root.type_instance(None, &ty);
        let inst = root.import(iface, ComponentTypeRef::Instance(t));
        root.alias_export(inst, name, ComponentExportKind::Func)
    };
    let get_stdout = getter(root, stdout_iface, STDIO_IMPORTS[2].1[0]);
    let get_stderr = getter(root, stderr_iface, STDIO_IMPORTS[3].1[0]);

    // wasi:cli/exit: exit: func(status: result).
    let mut ty = InstanceType::new();
    ty.ty().defined_type().result(None, None); // 0
    ty.ty()
        .function()
        .params([("status", ComponentValType::Type(0))])
        .result(None); // 1
    let exit_name = STDIO_IMPORTS[4].1[0];
    ty.export(exit_name, ComponentTypeRef::Func(1));
    let t = root.type_instance(None, &ty);
    let inst = root.import(exit_iface, ComponentTypeRef::Instance(t));
    let exit = root.alias_export(inst, exit_name, ComponentExportKind::Func);
    StdioFuncs {
        get_stdout,
        get_stderr,
        write,
        exit,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn call(func: u32, args: &[u8], results: Option<&[u8]>, effect: Effect) -> RecordedCall {
        RecordedCall {
            func,
            args: args.to_vec(),
            results: results.map(<[u8]>::to_vec),
            effect,
        }
    }

    /// The stdio replayer is a valid component whose WIT world imports exactly
    /// [`STDIO_IMPORTS`], with those functions, and exports the replayer interface.
    #[test]
    fn a_stdio_replayer_imports_exactly_the_stdio_interfaces() {
        let calls = [
            call(
                0,
                &[1, 3, b'a', b'b', b'c'],
                Some(&[0]),
                Effect::Write {
                    stream: StdStream::Stdout,
                    bytes: 2..5,
                },
            ),
            call(1, &[1], None, Effect::Exit { success: false }),
        ];
        let bytes = replayer(&calls, EmbedIo::Stdio).unwrap();
        wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
            .validate_all(&bytes)
            .unwrap();
        let wit_component::DecodedWasm::Component(resolve, world) =
            wit_component::decode(&bytes).unwrap()
        else {
            panic!("not a component");
        };
        let world = &resolve.worlds[world];
        let mut imports: Vec<(String, Vec<String>)> = world
            .imports
            .iter()
            .map(|(key, item)| {
                let wit_parser::WorldItem::Interface { id, .. } = item else {
                    panic!("a non-interface import {key:?}");
                };
                let iface = &resolve.interfaces[*id];
                let mut funcs: Vec<String> = iface.functions.keys().cloned().collect();
                funcs.sort();
                (resolve.id_of(*id).unwrap(), funcs)
            })
            .collect();
        imports.sort();
        let mut expected: Vec<(String, Vec<String>)> = STDIO_IMPORTS
            .iter()
            .map(|(i, f)| (i.to_string(), f.iter().map(|f| f.to_string()).collect()))
            .collect();
        expected.sort();
        assert_eq!(imports, expected);
        let exports: Vec<String> = world
            .exports
            .keys()
            .map(|k| resolve.name_world_key(k))
            .collect();
        assert_eq!(exports, [REPLAYER_INTERFACE]);

        // Without stdio: no import at all.
        let silent = replayer(&calls, EmbedIo::None).unwrap();
        let wit_component::DecodedWasm::Component(resolve, world) =
            wit_component::decode(&silent).unwrap()
        else {
            panic!("not a component");
        };
        assert!(resolve.worlds[world].imports.is_empty());
    }

    #[test]
    fn a_write_outside_its_arguments_is_an_error() {
        let calls = [call(
            0,
            &[1, 1, b'a'],
            Some(&[0]),
            Effect::Write {
                stream: StdStream::Stderr,
                bytes: 2..4,
            },
        )];
        let err = replayer(&calls, EmbedIo::Stdio).unwrap_err().to_string();
        assert!(
            err.contains("not within its call's 3 argument bytes"),
            "{err}"
        );
        // Ignored (and so not checked) when the replayer does not print.
        replayer(&calls, EmbedIo::None).unwrap();
    }
}

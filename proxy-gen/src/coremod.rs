//! The proxy's core wasm code, emitted with wasm-encoder.
//!
//! Two modules, so that no fix-up table is needed:
//! - the **allocator module** defines the proxy's memory, a bump `realloc` and `reset`. It is
//!   instantiated first, so the imports can be `canon lower`ed with its memory and realloc;
//! - the **stub module** imports the memory, the allocator and the lowered imports, and defines one
//!   stub and one post-return function per proxied function.
//!
//! A stub calls the lowered host function with its own arguments (plus a return area), fixes up
//! the handles (pass-through: drops the borrows it was lent; wrapped: unwraps the guest's owns
//! before and wraps the host's after), and returns. In record mode it also reports the call: the
//! arguments are encoded by generated code (`encode`) before forwarding and kept on the heap, the
//! results after the host returned, and both are appended, as one record, to the **batch buffer**
//! (a region of the proxy's memory below the heap, which persists across calls), which goes to
//! the host in one call (`recorder.record-batch`) when it is full and before every call that may
//! wait or never return; those are reported with `recorder.call` before forwarding, and their
//! results go to the batch. The host reads what is left in the batch after a trap or at the end
//! (see [`batch_functions`]). In replay mode it encodes the arguments, asks `replayer.next` and
//! decodes the recorded results (`decode`) instead of calling the host. Everything a stub needs
//! is in reach there (flat locals or proxy memory): a recorded value is copied once, from the
//! heap into the batch. Encoders, decoders and the handle walks here are visitors of one
//! canonical-ABI walk (`walk`).

use anyhow::{anyhow, bail, Result};
use std::collections::HashMap;
use wasm_encoder::{
    BlockType, CodeSection, ElementSection, Elements, EntityType, ExportKind, ExportSection,
    Function, FunctionSection, GlobalSection, GlobalType, ImportSection, Instruction as I,
    MemoryType, Module, RefType, TableType, TypeSection, ValType,
};
use wit_parser::{
    Function as WitFunction, Handle, Int, Resolve, SizeAlign, Type, TypeDefKind, TypeId,
};

use crate::abi::{self, CoreSig};
use crate::decode;
use crate::encode::{self, Encoder, Helpers, Memories};
use crate::error::unsupported;
use crate::mode::Mode;
use crate::walk::{self, At, Unsupported, VariantShape, Visitor};
use crate::wasmcode::{self, memarg, memarg_in, Body};

/// Where the bump heap starts without a batch buffer; address 0..HEAP_BASE stays unused so a null
/// pointer never aliases data.
const HEAP_BASE: i32 = 16;

/// Record mode: the address of the batch buffer, a region of its own below the bump heap (which
/// every post-return resets, while the batch persists across calls). Its first 4 bytes hold the
/// fill count (u32 little-endian: bytes of records in it), the records follow from [`BATCH_DATA`].
/// The host is given the whole region once (`recorder.batch-buffer`) and reads the records the
/// proxy had not handed over yet after a trap or at the export's end, when the proxy can no
/// longer be called (see `recorder-host/wit/recorder.wit` and `recorder_host::batch`).
pub const BATCH: i32 = HEAP_BASE;
/// Where the batch buffer's records start (after the fill count).
pub const BATCH_DATA: i32 = BATCH + 4;
/// Bytes of records the batch buffer holds: the host's trace block is 64 KiB too, so a full batch
/// is about one block. A record larger than this goes to the host on its own (`recorder.record`
/// or `recorder.ret`).
pub const BATCH_CAPACITY: i32 = 64 << 10;
/// Where the bump heap starts in record mode: after the batch buffer, 16-aligned.
pub(crate) const RECORD_HEAP_BASE: i32 = (BATCH_DATA + BATCH_CAPACITY + 15) & !15;

/// Where the bump heap starts, with (`batch`) or without the batch buffer below it.
fn heap_base(batch: bool) -> i32 {
    if batch {
        RECORD_HEAP_BASE
    } else {
        HEAP_BASE
    }
}

/// Import module name of everything the stub module imports.
pub const ENV: &str = "env";

/// The allocator module: exports `memory`, `realloc` and `reset`; with `dtors > 0` also a funcref
/// table [`DTOR_TABLE`] of that size and trampolines `dtor{j}(rep)` that call its entry `j`: the
/// proxy's wrapper resource types need destructors when they are defined, before the stub module
/// that implements them is instantiated (it fills the table).
///
/// `realloc(old_ptr, old_size, align, new_size)` bumps a pointer (growing memory as needed) and
/// copies the old block when resizing; `reset` frees everything. The proxy's heap holds no data
/// across calls, so each lifted function's post-return resets it, after the canonical ABI has
/// copied the results out. With `batch` (record mode) the heap starts above the batch buffer
/// ([`BATCH`]), which the initial memory covers and `reset` leaves alone.
pub fn alloc_module(dtors: u32, batch: bool) -> Module {
    let base = heap_base(batch);
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32; 4], [ValType::I32]);
    types.ty().function([], []);
    types.ty().function([ValType::I32], []);
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    funcs.function(1);
    for _ in 0..dtors {
        funcs.function(2);
    }
    let mut tables = wasm_encoder::TableSection::new();
    if dtors > 0 {
        tables.table(TableType {
            element_type: RefType::FUNCREF,
            table64: false,
            minimum: u64::from(dtors),
            maximum: Some(u64::from(dtors)),
            shared: false,
        });
    }
    let mut memories = wasm_encoder::MemorySection::new();
    memories.memory(MemoryType {
        minimum: min_pages(batch),
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
        &wasm_encoder::ConstExpr::i32_const(base),
    );
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    exports.export("realloc", ExportKind::Func, 0);
    exports.export("reset", ExportKind::Func, 1);
    if dtors > 0 {
        exports.export(DTOR_TABLE, ExportKind::Table, 0);
    }
    for j in 0..dtors {
        exports.export(&dtor_name(j as usize), ExportKind::Func, 2 + j);
    }

    let f = wasmcode::realloc_function(0);
    let mut reset = Function::new([]);
    reset.instruction(&I::I32Const(base));
    reset.instruction(&I::GlobalSet(0));
    reset.instruction(&I::End);
    let mut code = CodeSection::new();
    code.function(&f);
    code.function(&reset);
    for j in 0..dtors {
        let mut f = Function::new([]);
        f.instruction(&I::LocalGet(0));
        f.instruction(&I::I32Const(j as i32));
        f.instruction(&I::CallIndirect {
            type_index: 2,
            table_index: 0,
        });
        f.instruction(&I::End);
        code.function(&f);
    }

    let mut m = Module::new();
    m.section(&types);
    m.section(&funcs);
    if dtors > 0 {
        m.section(&tables);
    }
    m.section(&memories);
    m.section(&globals);
    m.section(&exports);
    m.section(&code);
    m
}

/// The proxy memory's initial pages: one, or enough for the batch buffer (the host checks that
/// the whole buffer is in bounds when it is handed over, before anything has grown memory).
fn min_pages(batch: bool) -> u64 {
    (heap_base(batch) as u64).div_ceil(1 << 16).max(1)
}

/// One function the proxy forwards.
pub struct StubSpec<'a> {
    /// The WIT function (its params/result types drive borrow dropping and the return area).
    pub func: &'a WitFunction,
    /// Signature of the `canon lower`ed host function the stub calls.
    pub lowered: CoreSig,
    /// Signature `canon lift` expects of the stub.
    pub lifted: CoreSig,
    /// Record mode: report the call before forwarding it (the batch, then `recorder.call`; its
    /// results go to the batch after), rather than once it returned, with its results (one
    /// record in the batch): see `recorder_host::types::reported_before_forwarding`.
    pub report_first: bool,
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

/// How the stubs treat calls and handles (see the module docs and DESIGN.md).
pub struct StubConfig<'r> {
    /// Forward (only), record or replay.
    pub mode: Mode,
    /// Resource types (dealiased) whose borrows are dropped after the host call, in the order of
    /// their `drop{j}` imports (pass-through handles only; empty when `wrapped` is non-empty).
    pub drops: &'r [TypeId],
    /// Resource types (dealiased) the proxy wraps in resource types of its own, in the order of
    /// their `w-new{j}`/`w-rep{j}`/`w-drop{j}` (and, when forwarding, `h-drop{j}`) imports.
    pub wrapped: &'r [TypeId],
    /// The `[export-handle]` functions to define (record and replay with wrapped resources), as
    /// (func-id, index of the resource in `wrapped`), in the order of their exports
    /// [`export_handle_name`].
    pub export_handles: &'r [(u32, usize)],
}

/// Export name of the k-th `[export-handle]` function of the stub module: record
/// `(h: i32) -> i32` (reports the host handle `h` a guest export is given, returns its new
/// wrapper), replay `() -> i32` (asks the replayer for the recorded id, returns a wrapper of it).
pub fn export_handle_name(k: usize) -> String {
    format!("export-handle{k}")
}

/// Import name (in [`ENV`]) of the lowered `replayer.next`.
pub const REPLAY_NEXT: &str = "replayer-next";
/// Import name (in [`ENV`]) of the table the allocator module exports for wrapper destructors.
pub const DTOR_TABLE: &str = "dtors";
/// Export name (allocator module) of the destructor trampoline of the `j`-th wrapper type.
pub fn dtor_name(j: usize) -> String {
    format!("dtor{j}")
}
/// Import name (in [`ENV`]) of `resource.new` of the `j`-th wrapper type.
pub fn wrap_new_name(j: usize) -> String {
    format!("w-new{j}")
}
/// Import name (in [`ENV`]) of `resource.rep` of the `j`-th wrapper type.
pub fn wrap_rep_name(j: usize) -> String {
    format!("w-rep{j}")
}
/// Import name (in [`ENV`]) of `resource.drop` of the `j`-th wrapper type.
pub fn wrap_drop_name(j: usize) -> String {
    format!("w-drop{j}")
}
/// Import name (in [`ENV`]) of `resource.drop` of the host resource behind the `j`-th wrapper.
pub fn host_drop_name(j: usize) -> String {
    format!("h-drop{j}")
}

/// The stub module for `specs` under `cfg`. With [`Mode::Record`], the module imports the
/// lowered recorder functions [`REC_CALL`], [`REC_RET`] (core type `(i32 func-id, i32 ptr, i32
/// len) -> ()`), [`REC_RECORD`] (`(i32 func-id, i32, i32, i32, i32) -> ()`),
/// [`REC_BATCH_BUFFER`] and [`REC_RECORD_BATCH`] (`(i32 ptr, i32 len) -> ()`) and every stub
/// reports its arguments and results through the batch ([`batch_functions`]); with
/// [`Mode::Replay`] it imports [`REPLAY_NEXT`] (`(i32 func-id, i32 ptr, i32 len, i32 retptr)
/// -> ()`) instead of the host functions. `specs[k]` has func-id `k`.
///
/// With wrapped resources, and when forwarding, the module also imports the allocator's table
/// [`DTOR_TABLE`] and fills it with the wrappers' destructors (the allocator defines the
/// trampolines the wrapper types name, before this module exists).
pub fn stub_module(
    resolve: &Resolve,
    specs: &[StubSpec<'_>],
    cfg: &StubConfig<'_>,
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
    let mut next_import = 2;
    let forwards = cfg.mode.forwards();
    let lowered_base = next_import;
    if forwards {
        for (k, s) in specs.iter().enumerate() {
            let t = types.get(&s.lowered.params, &s.lowered.results);
            imports.import(ENV, &lowered_name(k), EntityType::Function(t));
        }
        next_import += specs.len() as u32;
    }
    let t_i32 = types.get(&[ValType::I32], &[]);
    let t_i32_i32 = types.get(&[ValType::I32], &[ValType::I32]);
    let t_void_i32 = types.get(&[], &[ValType::I32]);
    let mut import_each = |names: &mut dyn Iterator<Item = String>, t: u32, next: &mut u32| {
        let mut out = HashMap::new();
        for (j, name) in names.enumerate() {
            imports.import(ENV, &name, EntityType::Function(t));
            out.insert(j, *next);
            *next += 1;
        }
        out
    };
    let drop_funcs = import_each(
        &mut (0..cfg.drops.len()).map(drop_name),
        t_i32,
        &mut next_import,
    );
    let drop_index: HashMap<TypeId, u32> = cfg
        .drops
        .iter()
        .enumerate()
        .map(|(j, id)| (*id, drop_funcs[&j]))
        .collect();
    let n = cfg.wrapped.len();
    let by_type = |funcs: HashMap<usize, u32>| -> HashMap<TypeId, u32> {
        cfg.wrapped
            .iter()
            .enumerate()
            .map(|(j, id)| (*id, funcs[&j]))
            .collect()
    };
    let w_new = by_type(import_each(
        &mut (0..n).map(wrap_new_name),
        t_i32_i32,
        &mut next_import,
    ));
    let w_rep = by_type(import_each(
        &mut (0..n).map(wrap_rep_name),
        t_i32_i32,
        &mut next_import,
    ));
    let w_drop = by_type(import_each(
        &mut (0..n).map(wrap_drop_name),
        t_i32,
        &mut next_import,
    ));
    let h_drop: Vec<u32> = if forwards {
        let m = import_each(&mut (0..n).map(host_drop_name), t_i32, &mut next_import);
        (0..n).map(|j| m[&j]).collect()
    } else {
        Vec::new()
    };
    if n > 0 {
        imports.import(
            ENV,
            DTOR_TABLE,
            EntityType::Table(TableType {
                element_type: RefType::FUNCREF,
                table64: false,
                minimum: n as u64,
                maximum: Some(n as u64),
                shared: false,
            }),
        );
    }
    let recorder = match cfg.mode {
        Mode::Record => {
            let t = types.get(&[ValType::I32; 3], &[]);
            imports.import(ENV, REC_CALL, EntityType::Function(t));
            imports.import(ENV, REC_RET, EntityType::Function(t));
            let t = types.get(&[ValType::I32; 5], &[]);
            imports.import(ENV, REC_RECORD, EntityType::Function(t));
            let t = types.get(&[ValType::I32; 2], &[]);
            imports.import(ENV, REC_BATCH_BUFFER, EntityType::Function(t));
            imports.import(ENV, REC_RECORD_BATCH, EntityType::Function(t));
            next_import += 5;
            Some(RecorderImports {
                call: next_import - 5,
                ret: next_import - 4,
                record: next_import - 3,
                batch_buffer: next_import - 2,
                record_batch: next_import - 1,
            })
        }
        _ => None,
    };
    let replay_next = if cfg.mode == Mode::Replay {
        let t = types.get(&[ValType::I32; 4], &[]);
        imports.import(ENV, REPLAY_NEXT, EntityType::Function(t));
        next_import += 1;
        Some(next_import - 1)
    } else {
        None
    };
    let first_defined = next_import;
    // After the stubs and post-returns: encoder helpers, the batch functions (record), decoder
    // helpers (replay), unwrap functions and destructors.
    let mut next_defined = first_defined + 2 * specs.len() as u32;
    let encodes = cfg.mode.encodes();
    let helpers = Helpers::at(next_defined);
    if encodes {
        next_defined += encode::HELPER_COUNT;
    }
    let reporter = match (recorder, replay_next) {
        (Some(imports), _) => {
            next_defined += BATCH_FUNCTIONS;
            Reporter::Record {
                call: imports.call,
                append: next_defined - 2,
                flush: next_defined - 1,
            }
        }
        (None, Some(next)) => Reporter::Replay { next },
        (None, None) => Reporter::None,
    };
    // Globals: 0 = skip the next destructor (SKIP_DTOR), 1/2 = read cursor/end (replay).
    let readers = decode::Readers::at(next_defined, 1);
    if cfg.mode == Mode::Replay {
        next_defined += decode::READER_COUNT;
    }
    // unwrap{j} (forwarding) or consume{j} (replay), then dtor{j}.
    let unwrap_base = next_defined;
    let dtor_base = unwrap_base + n as u32;
    let by_index = |base: u32| -> HashMap<TypeId, u32> {
        cfg.wrapped
            .iter()
            .enumerate()
            .map(|(j, id)| (*id, base + j as u32))
            .collect()
    };
    let (unwrap, consume) = if forwards {
        (by_index(unwrap_base), HashMap::new())
    } else {
        (HashMap::new(), by_index(unwrap_base))
    };

    let mut funcs = FunctionSection::new();
    let mut exports = ExportSection::new();
    let mut code = CodeSection::new();
    let handles = Handles {
        w_new: &w_new,
        w_rep: &w_rep,
        // Replay consumes the wrappers the guest gives away without running their destructor.
        w_drop: if forwards { &w_drop } else { &consume },
        unwrap: &unwrap,
        drops: &drop_index,
    };
    for (k, s) in specs.iter().enumerate() {
        let ctx = WalkCtx {
            resolve,
            sizes: &sizes,
            reporter,
            helpers,
            readers,
            func_id: k as u32,
            handles: &handles,
            wrapped: n > 0,
        };
        funcs.function(types.get(&s.lifted.params, &s.lifted.results));
        exports.export(
            &stub_name(k),
            ExportKind::Func,
            first_defined + 2 * k as u32,
        );
        let forward = forwards.then_some(lowered_base + k as u32);
        code.function(&stub_body(&ctx, s, forward, REALLOC)?);

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
    if encodes {
        for (params, results, body) in encode::helper_functions(helpers.ensure(), Memories::ONE) {
            funcs.function(types.get(&params, &results));
            code.function(&body);
        }
    }
    if let (Some(imports), Reporter::Record { flush, .. }) = (recorder, reporter) {
        let env = BatchEnv {
            memory: 0,
            given: Given::Global(BATCH_GIVEN),
            recorder: RecorderCalls::Direct(imports),
        };
        for (params, results, body) in batch_functions(&env, flush) {
            funcs.function(types.get(&params, &results));
            code.function(&body);
        }
    }
    if cfg.mode == Mode::Replay {
        for (params, results, body) in decode::reader_functions(readers) {
            funcs.function(types.get(&params, &results));
            code.function(&body);
        }
    }
    let mut globals = GlobalSection::new();
    for _ in 0..4 {
        globals.global(
            GlobalType {
                val_type: ValType::I32,
                mutable: true,
                shared: false,
            },
            &wasm_encoder::ConstExpr::i32_const(0),
        );
    }
    let mut elements = ElementSection::new();
    if n > 0 {
        // unwrap{j}(w) -> h (forwarding): the host handle inside wrapper handle `w`, which is
        // dropped without dropping the host handle (the guest gave it away: it moves on to the
        // host). consume{j}(w) (replay): drops `w` the guest gave away, without its destructor.
        for id in cfg.wrapped {
            let ty = if forwards { t_i32_i32 } else { t_i32 };
            funcs.function(ty);
            let mut f = Function::new([]);
            if forwards {
                f.instruction(&I::LocalGet(0));
                f.instruction(&I::Call(w_rep[id]));
            }
            for i in [
                I::I32Const(1),
                I::GlobalSet(SKIP_DTOR),
                I::LocalGet(0),
                I::Call(w_drop[id]),
                I::End,
            ] {
                f.instruction(&i);
            }
            code.function(&f);
        }
        // dtor{j}(rep): the guest dropped a wrapper (unless `unwrap`/`consume` is dropping it):
        // record drops the host handle, then reports `[resource-drop]` with the handle's id;
        // replay asks the replayer, which checks that this drop is the trace's next call.
        let first_drop = specs.len() as u32;
        for j in 0..n {
            funcs.function(t_i32);
            code.function(&dtor_body(
                reporter,
                helpers,
                h_drop.get(j).copied(),
                first_drop + j as u32,
                REALLOC,
                RESET,
            ));
        }
        // export-handle{k}: after the destructors.
        let handle_base = dtor_base + n as u32;
        for (k, (func_id, j)) in cfg.export_handles.iter().enumerate() {
            let new = *w_new
                .get(
                    cfg.wrapped
                        .get(*j)
                        .ok_or_else(|| anyhow!("export handle of an unwrapped resource"))?,
                )
                .ok_or_else(|| anyhow!("wrapper type without resource.new"))?;
            funcs.function(if forwards { t_i32_i32 } else { t_void_i32 });
            exports.export(
                &export_handle_name(k),
                ExportKind::Func,
                handle_base + k as u32,
            );
            code.function(&export_handle_body(
                reporter, helpers, readers, new, *func_id, REALLOC, RESET,
            )?);
        }
        let dtors: Vec<u32> = (0..n as u32).map(|j| dtor_base + j).collect();
        elements.active(
            Some(0),
            &wasm_encoder::ConstExpr::i32_const(0),
            Elements::Functions(dtors.into()),
        );
    }

    let mut m = Module::new();
    m.section(&types.section);
    m.section(&imports);
    m.section(&funcs);
    m.section(&globals);
    m.section(&exports);
    if n > 0 {
        m.section(&elements);
    }
    m.section(&code);
    Ok(m)
}

/// The stub module's global that tells the next wrapper destructor to do nothing: set by
/// `unwrap{j}`/`consume{j}`, which drop a wrapper whose handle the guest gave away.
const SKIP_DTOR: u32 = 0;

/// The stub module's global that says the batch buffer was handed to the host
/// (`recorder.batch-buffer`, once, by the first `append`). Globals 1 and 2 are replay's readers.
const BATCH_GIVEN: u32 = 3;

/// How many functions [`batch_functions`] defines.
const BATCH_FUNCTIONS: u32 = 2;

/// The `func` of a batch record that is a `Return` alone (the results of a call reported before
/// it was forwarded).
pub(crate) const RETURN_ONLY: i32 = -1;

/// The record-mode functions that keep the batch buffer ([`BATCH`]), defined at `flush - 1` and
/// `flush`:
///
/// - `append(func, args, args_len, results, results_len)`: adds the record of a call and its
///   results (`func` = [`RETURN_ONLY`]: a `Return` alone, `args` unused) to the batch, after
///   handing the batch over first if the record does not fit; a record larger than the whole
///   buffer goes to the host alone (`recorder.record`, or `recorder.ret` for a `Return`), after
///   the batch. The first call hands the buffer's region to the host (`recorder.batch-buffer`).
///   Records (all integers u32 little-endian): `func, args_len, args, results_len, results`, or
///   `0xffff_ffff, results_len, results`;
/// - `flush()`: hands the records to the host (`recorder.record-batch`) and empties the batch;
///   called before every call reported before it is forwarded (it may block or never return).
///
/// The fill count in memory is stored only once a record is complete, so the host, which reads
/// the batch after a trap, never sees a partial record; it is reset right after
/// `record-batch` returned, by a store at a constant in-bounds address that cannot trap (wasmtime
/// checks fuel and epochs at function entries and loop heads only), so no record is read twice.
pub(crate) fn batch_functions(
    env: &BatchEnv,
    flush: u32,
) -> Vec<(Vec<ValType>, Vec<ValType>, Function)> {
    use ValType::{I32, I64};
    let (func, args, args_len, res, res_len) = (0, 1, 2, 3, 4);
    let (total, p, fill) = (5, 6, 7);
    let cap = i64::from(BATCH_CAPACITY);
    let mem = env.memory;
    let m = |offset: u32| memarg_in(mem, offset, 2);
    // The buffer goes to the host once, before its first record.
    let mut code = env.given.get();
    code.extend([I::I32Eqz, I::If(BlockType::Empty)]);
    code.extend(env.given.set(1));
    code.extend([
        I::I32Const(BATCH),
        I::I32Const(BATCH_DATA - BATCH + BATCH_CAPACITY),
    ]);
    code.extend(env.recorder.call(Rec::BatchBuffer));
    code.extend([I::End]);
    code.extend([
        // total = (func == RETURN_ONLY ? 8 : 12 + args_len) + results_len, in i64 (no overflow).
        I::LocalGet(res_len),
        I::I64ExtendI32U,
        I::LocalGet(func),
        I::I32Const(RETURN_ONLY),
        I::I32Eq,
        I::If(BlockType::Result(I64)),
        I::I64Const(8),
        I::Else,
        I::LocalGet(args_len),
        I::I64ExtendI32U,
        I::I64Const(12),
        I::I64Add,
        I::End,
        I::I64Add,
        I::LocalTee(total),
        I::I64Const(cap),
        I::I64GtU,
        I::If(BlockType::Empty),
        // Larger than the buffer: after the batch, on its own.
        I::Call(flush),
        I::LocalGet(func),
        I::I32Const(RETURN_ONLY),
        I::I32Eq,
        I::If(BlockType::Empty),
        I::I32Const(0),
        I::LocalGet(res),
        I::LocalGet(res_len),
    ]);
    code.extend(env.recorder.call(Rec::Ret));
    code.extend([
        I::Else,
        I::LocalGet(func),
        I::LocalGet(args),
        I::LocalGet(args_len),
        I::LocalGet(res),
        I::LocalGet(res_len),
    ]);
    code.extend(env.recorder.call(Rec::Record));
    code.extend([
        I::End,
        I::Return,
        I::End,
        // Does not fit after the records already there: hand those over first.
        I::I32Const(BATCH),
        I::I32Load(m(0)),
        I::LocalTee(fill),
        I::I64ExtendI32U,
        I::LocalGet(total),
        I::I64Add,
        I::I64Const(cap),
        I::I64GtU,
        I::If(BlockType::Empty),
        I::Call(flush),
        I::I32Const(0),
        I::LocalSet(fill),
        I::End,
        // p = BATCH_DATA + fill: func, then (a call) args_len and args.
        I::LocalGet(fill),
        I::I32Const(BATCH_DATA),
        I::I32Add,
        I::LocalTee(p),
        I::LocalGet(func),
        I::I32Store(m(0)),
        I::LocalGet(p),
        I::I32Const(4),
        I::I32Add,
        I::LocalSet(p),
        I::LocalGet(func),
        I::I32Const(RETURN_ONLY),
        I::I32Ne,
        I::If(BlockType::Empty),
    ]);
    code.extend(length_and_bytes(mem, p, args, args_len));
    code.extend([
        I::LocalGet(p),
        I::I32Const(4),
        I::I32Add,
        I::LocalGet(args_len),
        I::I32Add,
        I::LocalSet(p),
        I::End,
    ]);
    // results_len and results.
    code.extend(length_and_bytes(mem, p, res, res_len));
    code.extend([
        // The record is complete: count it in.
        I::I32Const(BATCH),
        I::LocalGet(p),
        I::I32Const(4),
        I::I32Add,
        I::LocalGet(res_len),
        I::I32Add,
        I::I32Const(BATCH_DATA),
        I::I32Sub,
        I::I32Store(m(0)),
        I::End,
    ]);
    let mut append = Function::new([(1, I64), (2, I32)]);
    for i in &code {
        append.instruction(i);
    }
    code = vec![
        I::I32Const(BATCH),
        I::I32Load(m(0)),
        I::LocalTee(0),
        I::If(BlockType::Empty),
        I::I32Const(BATCH_DATA),
        I::LocalGet(0),
    ];
    code.extend(env.recorder.call(Rec::RecordBatch));
    code.extend([
        I::I32Const(BATCH),
        I::I32Const(0),
        I::I32Store(m(0)),
        I::End,
        I::End,
    ]);
    let mut flush_fn = Function::new([(1, I32)]);
    for i in &code {
        flush_fn.instruction(i);
    }
    vec![(vec![I32; 5], vec![], append), (vec![], vec![], flush_fn)]
}

/// At the address in local `p` of memory `mem`: the length in local `len` (u32), then the `len`
/// bytes at the address in local `ptr` (a batch record's arguments or results, in `mem` too). `p`
/// is left as it was.
fn length_and_bytes(mem: u32, p: u32, ptr: u32, len: u32) -> [I<'static>; 9] {
    [
        I::LocalGet(p),
        I::LocalGet(len),
        I::I32Store(memarg_in(mem, 0, 0)),
        I::LocalGet(p),
        I::I32Const(4),
        I::I32Add,
        I::LocalGet(ptr),
        I::LocalGet(len),
        I::MemoryCopy {
            src_mem: mem,
            dst_mem: mem,
        },
    ]
}

/// The destructor of a wrapper type, `dtor(rep)`: see [`stub_module`]. `host_drop` is the
/// `resource.drop` of the host handle behind the wrapper (forwarding); `func_id` is the drop's id
/// in `ComponentInfo::intercepted_functions`. Its argument, `own<R>`, is encoded like any
/// recorded handle: the LEB128 of the wrapper's rep.
fn dtor_body(
    reporter: Reporter,
    helpers: Helpers,
    host_drop: Option<u32>,
    func_id: u32,
    realloc: u32,
    reset: u32,
) -> Function {
    let (rep, buf, end) = (0, 1, 2);
    let mut f = Function::new([(2, ValType::I32)]);
    let mut code = vec![
        I::GlobalGet(SKIP_DTOR),
        I::If(BlockType::Empty),
        I::I32Const(0),
        I::GlobalSet(SKIP_DTOR),
        I::Return,
        I::End,
    ];
    if let Some(host_drop) = host_drop {
        code.extend([I::LocalGet(rep), I::Call(host_drop)]);
    }
    // buf: 5 bytes of LEB128, then (replay) the 8-byte return area of `replayer.next`.
    let args = [
        I::I32Const(0),
        I::I32Const(0),
        I::I32Const(4),
        I::I32Const(16),
        I::Call(realloc),
        I::LocalTee(buf),
        I::LocalGet(rep),
        I::Call(helpers.leb32),
        I::LocalSet(end),
        I::I32Const(func_id as i32),
        I::LocalGet(buf),
        I::LocalGet(end),
        I::LocalGet(buf),
        I::I32Sub,
    ];
    match reporter {
        Reporter::Record { append, .. } => {
            code.extend(args);
            // No results: `append(id, args, 0, 0)`.
            code.extend([
                I::I32Const(0),
                I::I32Const(0),
                I::Call(append),
                I::Call(reset),
            ]);
        }
        Reporter::Replay { next } => {
            code.extend(args);
            code.extend([
                I::LocalGet(buf),
                I::I32Const(8),
                I::I32Add,
                I::Call(next),
                // A drop has no results: the recorded ones must be empty.
                I::LocalGet(buf),
                I::I32Load(memarg(12, 2)),
                I::If(BlockType::Empty),
                I::Unreachable,
                I::End,
                I::Call(reset),
            ]);
        }
        Reporter::None => {}
    }
    code.push(I::End);
    for i in &code {
        f.instruction(i);
    }
    f
}

/// `export-handle{k}`: a guest export is being given a handle the host created (see
/// `ComponentInfo::export_handles`); the export proxy calls this before it calls the export.
/// Record (`(h) -> w`): reports the call `[export-handle]R` with no arguments and the result
/// `own<R>` = `h`, the host handle's index in our table, and returns a new wrapper of rep `h`,
/// as for a handle a host function returned. Replay (`() -> w`): asks the replayer for that
/// call's recorded result, reads the id from it (every recorded byte must be read) and returns
/// a new wrapper of rep = the id.
fn export_handle_body(
    reporter: Reporter,
    helpers: Helpers,
    readers: decode::Readers,
    new: u32,
    func_id: u32,
    realloc: u32,
    reset: u32,
) -> Result<Function> {
    // 16 bytes: record, the 5-byte LEB128 of the handle; replay, the 8-byte return area.
    let alloc = [
        I::I32Const(0),
        I::I32Const(0),
        I::I32Const(4),
        I::I32Const(16),
        I::Call(realloc),
    ];
    let mut code = Vec::new();
    let mut f = match reporter {
        Reporter::Record { append, .. } => {
            let (h, buf, end) = (0, 1, 2);
            code.extend(alloc);
            code.extend([
                I::LocalTee(buf),
                I::LocalGet(h),
                I::Call(helpers.leb32),
                I::LocalSet(end),
                // `append(id, args = (buf, 0), results = (buf, end - buf))`.
                I::I32Const(func_id as i32),
                I::LocalGet(buf),
                I::I32Const(0),
                I::LocalGet(buf),
                I::LocalGet(end),
                I::LocalGet(buf),
                I::I32Sub,
                I::Call(append),
                I::Call(reset),
                I::LocalGet(h),
                I::Call(new),
            ]);
            Function::new([(2, ValType::I32)])
        }
        Reporter::Replay { next } => {
            let (buf, id) = (0, 1);
            let r = readers;
            code.extend(alloc);
            code.extend([
                I::LocalSet(buf),
                // `next(id, args = (buf, 0), retptr = buf)`: the results' (ptr, len) at buf.
                I::I32Const(func_id as i32),
                I::LocalGet(buf),
                I::I32Const(0),
                I::LocalGet(buf),
                I::Call(next),
            ]);
            code.extend(r.read_from(buf));
            code.extend([I::Call(r.leb32), I::LocalSet(id)]);
            // Every recorded byte must have been read.
            code.extend(r.all_read());
            code.extend([I::Call(reset), I::LocalGet(id), I::Call(new)]);
            Function::new([(2, ValType::I32)])
        }
        Reporter::None => bail!("export handles are only made when recording or replaying"),
    };
    code.push(I::End);
    for i in &code {
        f.instruction(i);
    }
    Ok(f)
}

/// The core functions stubs use on handles (all keyed by dealiased resource type).
struct Handles<'r> {
    /// `resource.new` of the wrapper type.
    w_new: &'r HashMap<TypeId, u32>,
    /// `resource.rep` of the wrapper type.
    w_rep: &'r HashMap<TypeId, u32>,
    /// `resource.drop` of the wrapper type.
    w_drop: &'r HashMap<TypeId, u32>,
    /// `unwrap{j}` (forwarding with wrappers).
    unwrap: &'r HashMap<TypeId, u32>,
    /// `resource.drop` of lent borrows (pass-through handles).
    drops: &'r HashMap<TypeId, u32>,
}

struct WalkCtx<'r> {
    resolve: &'r Resolve,
    sizes: &'r SizeAlign,
    /// Where the stub reports to (record) or asks (replay).
    reporter: Reporter,
    helpers: Helpers,
    readers: decode::Readers,
    /// This stub's func-id (its index, = `ComponentInfo::intercepted_functions` order).
    func_id: u32,
    handles: &'r Handles<'r>,
    /// Whether the guest sees the proxy's wrapper resource types (see DESIGN.md, "Handle ids").
    wrapped: bool,
}

/// The lowered recorder or replayer functions a stub calls.
#[derive(Clone, Copy)]
enum Reporter {
    None,
    /// `call`: the lowered `recorder.call` (calls reported before forwarding, after `flush`);
    /// `append` and `flush`: the batch functions ([`batch_functions`]).
    Record {
        call: u32,
        append: u32,
        flush: u32,
    },
    Replay {
        next: u32,
    },
}

/// Where the batch functions ([`batch_functions`]) keep the batch and how they reach the recorder.
pub(crate) struct BatchEnv {
    /// The memory holding the batch buffer at [`BATCH`].
    pub memory: u32,
    /// Where the "buffer handed over" flag is.
    pub given: Given,
    /// How the recorder's functions are called.
    pub recorder: RecorderCalls,
}

/// The flag that says the batch buffer was handed to the host (`recorder.batch-buffer`).
#[derive(Clone, Copy)]
pub(crate) enum Given {
    /// A mutable i32 global of the module.
    Global(u32),
    /// The i32 at this address of the batch memory (shared by every module that appends).
    Memory { memory: u32, address: i32 },
}

impl Given {
    fn get(self) -> Vec<I<'static>> {
        match self {
            Given::Global(g) => vec![I::GlobalGet(g)],
            Given::Memory { memory, address } => {
                vec![I::I32Const(address), I::I32Load(memarg_in(memory, 0, 2))]
            }
        }
    }
    fn set(self, value: i32) -> Vec<I<'static>> {
        match self {
            Given::Global(g) => vec![I::I32Const(value), I::GlobalSet(g)],
            Given::Memory { memory, address } => vec![
                I::I32Const(address),
                I::I32Const(value),
                I::I32Store(memarg_in(memory, 0, 2)),
            ],
        }
    }
}

/// One of the recorder interface's functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rec {
    /// `call(func-id, args)`.
    Call,
    /// `ret(func-id, results)`.
    Ret,
    /// `record(func-id, args, results)`.
    Record,
    /// `batch-buffer(buffer)`.
    BatchBuffer,
    /// `record-batch(entries)`.
    RecordBatch,
}

impl Rec {
    /// All five, in the order of their slots in a table of them.
    pub const ALL: [Rec; 5] = [
        Rec::Call,
        Rec::Ret,
        Rec::Record,
        Rec::BatchBuffer,
        Rec::RecordBatch,
    ];

    /// The core signature of its lowering (each `list<u8>` a pointer and a length; no results).
    pub fn params(self) -> usize {
        match self {
            Rec::Call | Rec::Ret => 3,
            Rec::Record => 5,
            Rec::BatchBuffer | Rec::RecordBatch => 2,
        }
    }

    /// Its name in the recorder interface.
    pub fn name(self) -> &'static str {
        match self {
            Rec::Call => "call",
            Rec::Ret => "ret",
            Rec::Record => "record",
            Rec::BatchBuffer => "batch-buffer",
            Rec::RecordBatch => "record-batch",
        }
    }
}

/// How generated code calls the recorder's functions, their arguments on the stack.
#[derive(Clone)]
pub(crate) enum RecorderCalls {
    /// Imported functions of the module (the proxy's stub module).
    Direct(RecorderImports),
    /// Through `table` (slot = position in [`Rec::ALL`]), with the module's core type index of
    /// each arity: `types[k]` for `k` i32 parameters and no result (2, 3 and 5 are used).
    Table { table: u32, types: [u32; 6] },
}

impl RecorderCalls {
    /// The instructions that call `which` with its arguments on the stack.
    pub fn call(&self, which: Rec) -> Vec<I<'static>> {
        match self {
            RecorderCalls::Direct(r) => vec![I::Call(match which {
                Rec::Call => r.call,
                Rec::Ret => r.ret,
                Rec::Record => r.record,
                Rec::BatchBuffer => r.batch_buffer,
                Rec::RecordBatch => r.record_batch,
            })],
            RecorderCalls::Table { table, types } => {
                let slot = Rec::ALL.iter().position(|r| *r == which).unwrap_or(0);
                vec![
                    I::I32Const(slot as i32),
                    I::CallIndirect {
                        type_index: types[which.params()],
                        table_index: *table,
                    },
                ]
            }
        }
    }
}

/// The lowered recorder functions the stub module imports (record mode).
#[derive(Clone, Copy)]
pub(crate) struct RecorderImports {
    call: u32,
    ret: u32,
    record: u32,
    batch_buffer: u32,
    record_batch: u32,
}

/// Import name (in [`ENV`]) of the lowered `recorder.call`.
pub const REC_CALL: &str = "recorder-call";
/// Import name (in [`ENV`]) of the lowered `recorder.ret`.
pub const REC_RET: &str = "recorder-ret";
/// Import name (in [`ENV`]) of the lowered `recorder.record`.
pub const REC_RECORD: &str = "recorder-record";
/// Import name (in [`ENV`]) of the lowered `recorder.batch-buffer`.
pub const REC_BATCH_BUFFER: &str = "recorder-batch-buffer";
/// Import name (in [`ENV`]) of the lowered `recorder.record-batch`.
pub const REC_RECORD_BATCH: &str = "recorder-record-batch";

/// What a handle walk does with each handle it visits.
#[derive(Clone, Copy)]
enum Visit {
    /// Drop the lent borrows (pass-through handles, after the host call).
    DropBorrows,
    /// Replace each wrapper `own` by the host handle inside (before forwarding).
    UnwrapOwns,
    /// Replace each host `own` by a new wrapper around it (host results, before lifting).
    WrapOwns,
    /// Drop the wrapper `own`s the guest gave us (replay: nobody else takes them).
    DropOwns,
}

impl Visit {
    fn wants(self, h: &Handle) -> bool {
        matches!(
            (self, h),
            (Visit::DropBorrows, Handle::Borrow(_))
                | (
                    Visit::UnwrapOwns | Visit::WrapOwns | Visit::DropOwns,
                    Handle::Own(_)
                )
        )
    }
    fn rewrites(self) -> bool {
        matches!(self, Visit::UnwrapOwns | Visit::WrapOwns)
    }
}

/// `stub_k`: report or replay, forward to the lowered import (`forward`, absent on replay), fix up
/// handles, return.
fn stub_body(
    ctx: &WalkCtx<'_>,
    s: &StubSpec<'_>,
    forward: Option<u32>,
    realloc: u32,
) -> Result<Function> {
    let n = s.lifted.params.len() as u32;
    let expected = s.lifted.params.len() + usize::from(s.lowered.retptr);
    if s.lowered.params.len() != expected || s.lifted.indirect_params != s.lowered.indirect_params {
        bail!("lift/lower signatures of `{}` disagree", s.func.name);
    }
    let mut b = Body::new(n);

    // Replay: the replayer's result (ptr, len) goes to an 8-byte area allocated before the
    // arguments are encoded at the top of the heap.
    let next_ret = if let Reporter::Replay { .. } = ctx.reporter {
        let area = b.local(ValType::I32);
        b.code.extend([
            I::I32Const(0),
            I::I32Const(0),
            I::I32Const(4),
            I::I32Const(8),
            I::Call(realloc),
            I::LocalSet(area),
        ]);
        Some(area)
    } else {
        None
    };

    // Encode the arguments before forwarding (owns are unwrapped after). Calls that may never
    // return (`wasi:cli/exit.exit`) or may wait for long are reported right away; the others keep
    // their encoded arguments on the heap and report them with the results, in one host call.
    let mut kept_args = None;
    if !matches!(ctx.reporter, Reporter::None) {
        let (enc, start) = begin_encoding(ctx, &mut b, realloc, true);
        let slots = param_slots(s);
        enc.fields(&mut b, param_types(s), params_at(s, &slots))?;
        match ctx.reporter {
            Reporter::Record { call, flush, .. } if s.report_first => {
                // The batch goes first: the call may block or never return.
                b.code.push(I::Call(flush));
                end_encoding(&mut b, &enc, start, ctx.func_id, call)
            }
            Reporter::Record { .. } => {
                // Reserve the encoded bytes, so that what the host returns is put after them.
                let len = b.local(ValType::I32);
                b.code.extend([
                    I::LocalGet(enc.cur),
                    I::LocalGet(start),
                    I::I32Sub,
                    I::LocalSet(len),
                    I::I32Const(0),
                    I::I32Const(0),
                    I::I32Const(1),
                    I::LocalGet(len),
                    I::Call(realloc),
                    I::Drop,
                ]);
                kept_args = Some((start, len));
            }
            Reporter::Replay { next } => {
                encoded_args(&mut b, &enc, start, ctx.func_id);
                b.code.push(I::LocalGet(next_ret.unwrap_or_default()));
                b.code.push(I::Call(next));
            }
            Reporter::None => {}
        }
    }

    let Some(lowered_func) = forward else {
        // Replay: the guest gave away its owns; decode the recorded results.
        walk_params(ctx, &mut b, s, Visit::DropOwns)?;
        let area = next_ret.unwrap_or_default();
        let r = ctx.readers;
        b.code.extend(r.read_from(area));
        let dec = decode::Decoder {
            resolve: ctx.resolve,
            sizes: ctx.sizes,
            r,
            realloc,
            memory: 0,
            target: decode::Target::Proxy {
                new_handle: ctx.handles.w_new,
            },
        };
        let mut out = None;
        if let Some(result) = &s.func.result {
            if s.lowered.retptr {
                let ret = alloc_result_area(ctx, &mut b, result, realloc);
                dec.value(
                    &mut b,
                    result,
                    At::Mem {
                        base: ret,
                        offset: 0,
                    },
                )?;
                out = Some(ret);
            } else if let [t] = s.lifted.results.as_slice() {
                let local = b.local(*t);
                dec.value(&mut b, result, At::Flat(&[(local, *t)]))?;
                out = Some(local);
            } else {
                bail!("result of `{}` is neither flat nor in memory", s.func.name);
            }
        }
        // Every recorded byte must have been read.
        b.code.extend(r.all_read());
        if let Some(out) = out {
            b.code.push(I::LocalGet(out));
        }
        return Ok(b.finish());
    };

    if ctx.wrapped {
        walk_params(ctx, &mut b, s, Visit::UnwrapOwns)?;
    }
    let ret_area = if s.lowered.retptr {
        let Some(result) = &s.func.result else {
            bail!("return pointer without a result")
        };
        Some(alloc_result_area(ctx, &mut b, result, realloc))
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
    let flat_result = b.keep_call_result(&s.lowered.results)?;

    // Record: report the results. Strings and lists the host returned are in our memory (our
    // realloc), below the heap top where the encoder's buffer starts. Host handles are still
    // unwrapped here: their ids are the host handles' indices in our table.
    if let Reporter::Record { append, .. } = ctx.reporter {
        let (enc, start) = begin_encoding(ctx, &mut b, realloc, false);
        if let Some(result) = &s.func.result {
            enc.call_result(&mut b, &s.func.name, result, ret_area, flat_result)?;
        }
        // `append(func_id, args_ptr, args_len, results_ptr, results_len)`; the results of a call
        // reported before forwarding are a `Return` alone.
        let (func, args, len) = match kept_args {
            Some((args, len)) => (ctx.func_id as i32, I::LocalGet(args), I::LocalGet(len)),
            None => (RETURN_ONLY, I::I32Const(0), I::I32Const(0)),
        };
        b.code.extend([
            I::I32Const(func),
            args,
            len,
            I::LocalGet(start),
            I::LocalGet(enc.cur),
            I::LocalGet(start),
            I::I32Sub,
            I::Call(append),
        ]);
    }

    if ctx.wrapped {
        // The guest gets wrappers of the host handles we received.
        if let Some(result) = &s.func.result {
            let wrap = HandleWalk {
                ctx,
                visit: Visit::WrapOwns,
            };
            if let Some(area) = ret_area {
                let at = At::Mem {
                    base: area,
                    offset: 0,
                };
                walk::walk(&wrap, &mut b, result, at)?;
            } else if let Some((r, t)) = flat_result {
                walk::walk(&wrap, &mut b, result, At::Flat(&[(r, t)]))?;
            }
        }
    } else {
        // Borrows lent to us for this call must be dropped before we return (wasmtime traps
        // with "borrow handles still remain at the end of the call" otherwise). Wrapper borrows
        // arrive as their rep (the host handle, which we own): nothing to drop.
        walk_params(ctx, &mut b, s, Visit::DropBorrows)?;
    }

    if let Some(ret) = ret_area {
        b.code.push(I::LocalGet(ret));
    } else if let Some((r, _)) = flat_result {
        b.code.push(I::LocalGet(r));
    }
    Ok(b.finish())
}

/// Allocates the return area for a value of type `result` from the bump heap; returns the local
/// holding its address.
fn alloc_result_area(ctx: &WalkCtx<'_>, b: &mut Body, result: &Type, realloc: u32) -> u32 {
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
    ret
}

/// Runs the handle walk `visit` over the stub's parameters (flat locals or the indirect area).
fn walk_params(ctx: &WalkCtx<'_>, b: &mut Body, s: &StubSpec<'_>, visit: Visit) -> Result<()> {
    let slots = param_slots(s);
    let walker = HandleWalk { ctx, visit };
    walk::walk_fields(&walker, b, param_types(s), params_at(s, &slots))
}

/// The types of the stub's parameters, in order.
fn param_types<'s>(s: &'s StubSpec<'_>) -> impl Iterator<Item = &'s Type> + Clone {
    s.func.params.iter().map(|p| &p.ty)
}

/// Where the stub's parameters are: its flat parameters `slots`, or (more than 16 flat) the
/// indirect-params area its only parameter points to.
fn params_at<'s>(s: &StubSpec<'_>, slots: &'s [(u32, ValType)]) -> At<'s> {
    if s.lifted.indirect_params {
        At::Mem { base: 0, offset: 0 }
    } else {
        At::Flat(slots)
    }
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
///
/// `params`: encoding the guest's arguments, where a wrapper `own` is a handle of ours to record
/// by its rep; results are encoded before they are wrapped (the host handle is the id).
fn begin_encoding<'r>(
    ctx: &WalkCtx<'r>,
    b: &mut Body,
    realloc: u32,
    params: bool,
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
        h: ctx.helpers,
        cur,
        memory: 0,
        own_rep: (ctx.wrapped && params).then_some(ctx.handles.w_rep),
    };
    (enc, start)
}

/// Pushes `func_id, start, cur - start` (the list<u8> is lowered in place).
fn encoded_args(b: &mut Body, enc: &Encoder<'_>, start: u32, func_id: u32) {
    b.code.extend([
        I::I32Const(func_id as i32),
        I::LocalGet(start),
        I::LocalGet(enc.cur),
        I::LocalGet(start),
        I::I32Sub,
    ]);
}

/// Calls `report(func_id, start, cur - start)`.
fn end_encoding(b: &mut Body, enc: &Encoder<'_>, start: u32, func_id: u32, report: u32) {
    encoded_args(b, enc, start, func_id);
    b.code.push(I::Call(report));
}

/// The instructions that apply `visit` to the handle of resource `resource` on the stack: a
/// drop consumes it, a rewrite leaves the new handle.
fn visit_call(ctx: &WalkCtx<'_>, visit: Visit, resource: TypeId) -> Result<I<'static>> {
    let id = abi::dealias(ctx.resolve, resource);
    let map = match visit {
        Visit::DropBorrows => ctx.handles.drops,
        Visit::UnwrapOwns => ctx.handles.unwrap,
        Visit::WrapOwns => ctx.handles.w_new,
        Visit::DropOwns => ctx.handles.w_drop,
    };
    match map.get(&id) {
        Some(f) => Ok(I::Call(*f)),
        None => bail!("no core function for a handle of a proxied resource"),
    }
}

/// A handle walk: applies `visit` to every handle it acts on in a value, wherever it sits
/// (flat slots, memory, list elements, variant payloads), and skips every part of the value
/// that holds no such handle.
struct HandleWalk<'c, 'r> {
    ctx: &'c WalkCtx<'r>,
    visit: Visit,
}

impl HandleWalk<'_, '_> {
    fn slot(slots: &[(u32, ValType)], i: usize) -> Result<(u32, ValType)> {
        slots
            .get(i)
            .copied()
            .ok_or_else(|| anyhow::anyhow!("flat slot {i} out of range"))
    }
}

impl Visitor for HandleWalk<'_, '_> {
    fn resolve(&self) -> &Resolve {
        self.ctx.resolve
    }

    fn sizes(&self) -> &SizeAlign {
        self.ctx.sizes
    }

    /// Does `ty` contain a handle that the walk acts on?
    fn wants(&self, ty: &Type) -> bool {
        abi::contains_handle(self.ctx.resolve, ty, &|h| self.visit.wants(h))
    }

    // Values without handles are never visited (`wants`).
    fn scalar(&self, _: &mut Body, _: Type, _: At<'_>) -> Result<()> {
        Ok(())
    }
    fn bytes(&self, _: &mut Body, _: At<'_>) -> Result<()> {
        Ok(())
    }
    fn resource(&self, _: &mut Body, _: At<'_>) -> Result<()> {
        Ok(())
    }
    fn flags(&self, _: &mut Body, _: usize, _: At<'_>) -> Result<()> {
        Ok(())
    }
    fn enumeration(&self, _: &mut Body, _: Int, _: At<'_>) -> Result<()> {
        Ok(())
    }

    fn handle(&self, b: &mut Body, handle: &Handle, at: At<'_>) -> Result<()> {
        let (Handle::Borrow(r) | Handle::Own(r)) = handle;
        if !self.visit.wants(handle) {
            return Ok(());
        }
        let rewrites = self.visit.rewrites();
        match at {
            At::Flat(slots) => {
                let (local, t) = Self::slot(slots, 0)?;
                b.code.push(I::LocalGet(local));
                if t == ValType::I64 {
                    b.code.push(I::I32WrapI64);
                }
                b.code.push(visit_call(self.ctx, self.visit, *r)?);
                if rewrites {
                    if t == ValType::I64 {
                        b.code.push(I::I64ExtendI32U);
                    }
                    b.code.push(I::LocalSet(local));
                }
            }
            At::Mem { base, offset } => {
                if rewrites {
                    b.code.push(I::LocalGet(base));
                }
                b.code
                    .extend([I::LocalGet(base), I::I32Load(memarg(offset, 2))]);
                b.code.push(visit_call(self.ctx, self.visit, *r)?);
                if rewrites {
                    b.code.push(I::I32Store(memarg(offset, 2)));
                }
            }
        }
        Ok(())
    }

    /// A loop over the elements (the list's flat slots are read in place).
    fn list(&self, b: &mut Body, fields: &[&Type], at: At<'_>) -> Result<()> {
        let (ptr, len) = match at {
            At::Flat(slots) => (Self::slot(slots, 0)?.0, Self::slot(slots, 1)?.0),
            At::Mem { base, offset } => walk::load_ptr_len(b, 0, base, offset),
        };
        walk::walk_elements(self, b, fields, ptr, len)
    }

    /// The payload code of each case with such handles (a flat discriminant is read in place).
    fn variant(&self, b: &mut Body, variant: &VariantShape, at: At<'_>) -> Result<()> {
        let disc = match at {
            At::Flat(slots) => Self::slot(slots, 0)?.0,
            At::Mem { base, offset } => {
                let disc = b.local(ValType::I32);
                b.code.push(I::LocalGet(base));
                b.code.push(walk::load_tag(variant.tag, 0, offset));
                b.code.push(I::LocalSet(disc));
                disc
            }
        };
        walk::walk_cases(self, b, variant, disc, at)
    }

    fn unsupported(&self, what: Unsupported) -> Result<()> {
        unsupported!("handle inside {what:?}")
    }
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

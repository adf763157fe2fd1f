//! Record mode spliced inside the component (#17, the composition floor): the original component,
//! its core modules given a recording stub in front of every host call they make, and the
//! recorder interface wired in at the end. No proxy component, so no fused adapter on the call
//! path: a stub reads the arguments and results where the guest's own lowering put them, in the
//! guest's memory.
//!
//! Layout (every index space of the original keeps its indices; only additions at the end):
//!
//! - every module that makes host calls ([`origin`]) gets, per host-call import, a stub with the
//!   import's core type that encodes the arguments, calls the import, encodes the results and
//!   appends the record to the batch (as the proxy's stubs do: `coremod`); calls reported before
//!   forwarding (`reported_before_forwarding`) hand the batch over and call `recorder.call` first;
//!   a drop of an imported resource records `[resource-drop]R(handle)` after the drop. Handle
//!   ids are the guest's own handle indices (deterministic for a deterministic guest; replay
//!   only needs them consistent within a trace). Every use of such an import is redirected to
//!   its stub; the module's own code and the other imports are untouched;
//! - the first of them (the *home* module) also defines the batch memory (`D`: the "given" flag
//!   at 0, the batch buffer at `coremod::BATCH`, the encoding scratch above it) and a table of
//!   the five recorder functions, and exports both; the others import them (one more
//!   instantiation argument, naming the home module's instance), so there is one batch, in call
//!   order, whichever module made the call;
//! - at the end of the component: the recorder interface's import, its five functions lowered
//!   with memory `D`, and a small fixup module that puts them in the home module's table. Stubs
//!   call the recorder through that table: the home module is instantiated long before the
//!   recorder's lowerings can exist. Host calls made while instantiating (a start function) would
//!   find the table empty, so [`origin`] refuses modules whose start function may make one.
//!
//! Stubs do not nest (a host call cannot call back into the component instance that made it), so
//! the scratch area is reused by every call. What [`origin`] refuses, and components whose exports
//! are given host handles (wasi:http handlers: the export proxy records those), stay with the
//! composed proxy.
//!
//! The splicer here serves replay mode too ([`splice_replay`]): the same layout with
//! [`replay`]'s stubs, a one-function table for `replayer.next`, the home module's allocator for
//! its results, and two globals per module for the decoders' cursor. In both modes a function
//! body is copied byte for byte with its host calls' indices patched in place ([`patch_calls`]),
//! so the guest's code keeps its offsets (and its DWARF its lines).

use std::collections::{HashMap, HashSet};

use anyhow::{anyhow, bail};
use wasm_encoder::reencode::{utils, Reencode};
use wasm_encoder::{
    Alias, CanonicalFunctionSection, CanonicalOption, CodeSection, ComponentAliasSection,
    ComponentExportKind, ComponentSectionId, ComponentTypeRef, ComponentValType, ConstExpr,
    ElementSection, Elements, EntityType, ExportKind, ExportSection, Function, FunctionSection,
    GlobalSection, GlobalType, ImportSection, InstanceSection, InstanceType, Instruction as I,
    MemorySection, MemoryType, ModuleArg, PrimitiveValType, RefType, SectionId, TableSection,
    TableType, TypeSection, ValType,
};
use wasmparser::{Chunk, Parser, Payload, TypeRef};
use wit_parser::{Function as WitFunction, Resolve, SizeAlign, WorldItem};

use super::home::{
    alias_home, encode_params, import_interface, interface_table, CoreType, Counts, BATCH_EXPORT,
    RECORDER_EXPORT,
};
use super::origin::{self, HostCall, ImportOrigin, ModuleOrigins, Realloc, Refused};
use super::replay;
use crate::analyze::Decoded;
use crate::coremod::{self, BatchEnv, Given, Rec, RecorderCalls, RECORD_HEAP_BASE, RETURN_ONLY};
use crate::decode::{self, Readers};
use crate::encode::{self, Encoder, Helpers, Memories};
use crate::error::{unsupported, Error, Result};
use crate::mode::{RECORDER_INTERFACE, REPLAYER_INTERFACE};
use crate::wasmcode::Body;

/// The module name under which the other modules import both, and the instantiation argument's.
const IMPORT_MODULE: &str = "proxyrt";
/// Address (in the batch memory) of the flag "the batch buffer was handed to the host".
const GIVEN_ADDRESS: i32 = 0;
/// Where a stub encodes a call's arguments and results (the rest of the batch memory, grown as
/// needed).
const SCRATCH: i32 = RECORD_HEAP_BASE;
/// The batch memory's initial pages: the host checks the whole buffer is in bounds when it is
/// handed over.
const BATCH_PAGES: u64 = 2;

/// `component` recording its host calls from inside (see the module docs), or why it cannot
/// (then record with the composed proxy). `decoded` is `component` decoded. Bad input is an
/// error; the result validates.
pub fn splice_record(
    decoded: &Decoded,
    component: &[u8],
) -> Result<std::result::Result<Vec<u8>, Refused>> {
    splice(decoded, component, Flavor::Record)
}

/// `component` replaying its host calls from inside ([`replay`]'s stubs, answered by
/// `replayer.next`), or why it cannot (then replay with the composed proxy). As
/// [`splice_record`] otherwise.
pub fn splice_replay(
    decoded: &Decoded,
    component: &[u8],
) -> Result<std::result::Result<Vec<u8>, Refused>> {
    splice(decoded, component, Flavor::Replay)
}

/// Which stubs a splice puts in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Flavor {
    Record,
    Replay,
}

impl Flavor {
    /// The table of the interface's functions the home module defines.
    fn table(self) -> TableType {
        match self {
            Flavor::Record => recorder_table(),
            Flavor::Replay => replay::table_type(),
        }
    }
}

fn splice(
    decoded: &Decoded,
    component: &[u8],
    flavor: Flavor,
) -> Result<std::result::Result<Vec<u8>, Refused>> {
    // Validated once: the types give the index spaces' sizes the wiring at the end starts from.
    let counts = Counts::of(&crate::analyze::validated(component)?);
    let info = decoded.info();
    if !info.export_handles.is_empty() {
        return Ok(Err(Refused(
            "its exports are given host handles (the composed export proxy stands in for those)"
                .into(),
        )));
    }
    if let Some(ours) = info
        .imported_interfaces
        .iter()
        .find(|i| i.name == RECORDER_INTERFACE || i.name == REPLAYER_INTERFACE)
    {
        return Ok(Err(Refused(format!("it imports `{}` itself", ours.name))));
    }
    let (modules, sections) = match origin::analyze(component) {
        Ok(found) => found,
        Err(refused) => return Ok(Err(refused)),
    };
    let calls = Calls::new(decoded);
    let mut plans = HashMap::new();
    let mut home = None;
    for m in modules.iter().filter(|m| m.records()) {
        let plan = match ModulePlan::new(m, &calls, &info, home.is_none(), flavor) {
            Ok(plan) => plan,
            Err(refused) => return Ok(Err(refused)),
        };
        home.get_or_insert(m.instance);
        plans.insert(m.module, plan);
    }
    let Some(home) = home else {
        return Ok(Err(Refused("it makes no host call".into())));
    };
    // Types too large for generated code, or an instantiation argument of ours already taken, are
    // unsupported input (`Layout::Auto` then composes); anything else is our bug.
    let spliced = rewrite(
        component,
        &counts,
        &sections,
        &plans,
        home,
        decoded.resolve(),
        flavor,
    )
    .map_err(Error::from_generator)?;
    let features = wasmparser::WasmFeatures::all();
    wasmparser::Validator::new_with_features(features)
        .validate_all(&spliced)
        .map_err(|e| Error::Internal(anyhow!("the spliced component does not validate: {e}")))?;
    Ok(Ok(spliced))
}

/// The WIT function of every imported function, by the names [`HostCall`] uses.
struct Calls {
    funcs: HashMap<(Option<String>, String), WitFunction>,
}

impl Calls {
    fn new(decoded: &Decoded) -> Calls {
        let resolve = decoded.resolve();
        let mut funcs = HashMap::new();
        for (key, item) in &resolve.worlds[decoded.world()].imports {
            let name = resolve.name_world_key(key);
            match item {
                WorldItem::Interface { id, .. } => {
                    for (f, func) in &resolve.interfaces[*id].functions {
                        funcs.insert((Some(name.clone()), f.clone()), func.clone());
                    }
                }
                WorldItem::Function(func) => {
                    funcs.insert((None, name), func.clone());
                }
                WorldItem::Type { .. } => {}
            }
        }
        Calls { funcs }
    }
}

/// What a module's stubs do.
struct ModulePlan {
    /// Defines the batch memory and the recorder table (the first module that records).
    home: bool,
    flavor: Flavor,
    /// The memory (the module's own index, before splicing) the host calls' pointers are in.
    memory: Option<u32>,
    /// One per host-call import, in import order.
    stubs: Vec<Stub>,
}

struct Stub {
    /// The function import's index in the module.
    import: u32,
    /// Its func-id (`ComponentInfo::intercepted_functions`).
    func_id: u32,
    kind: StubKind,
    /// The module's function its lowering allocates lists with (replay allocates with it).
    realloc: Option<u32>,
}

/// What a stub stands for.
enum StubKind {
    /// A call of an imported function; `report_first`: reported before it runs (it may wait or
    /// never return).
    Func {
        func: Box<WitFunction>,
        report_first: bool,
    },
    /// The drop of an imported resource (recorded after it).
    Drop,
}

impl ModulePlan {
    fn new(
        m: &ModuleOrigins,
        calls: &Calls,
        info: &recorder_host::types::ComponentInfo,
        home: bool,
        flavor: Flavor,
    ) -> std::result::Result<ModulePlan, Refused> {
        let ids: HashMap<(Option<&str>, &str), u32> = info
            .intercepted_functions()
            .map(|f| ((f.interface, f.function.name.as_str()), f.id))
            .collect();
        let mut memory = None;
        let mut stubs = Vec::new();
        for (import, origin) in m.imports.iter().enumerate() {
            let ImportOrigin::Host {
                call,
                memory: mem,
                realloc,
            } = origin
            else {
                continue;
            };
            let realloc = match realloc {
                Realloc::None => None,
                Realloc::Own(f) => Some(*f),
                Realloc::Elsewhere if flavor == Flavor::Replay => {
                    return Err(Refused(format!(
                        "module {} lowers `{}` with another instance's realloc",
                        m.module,
                        call.function().1
                    )))
                }
                Realloc::Elsewhere => None,
            };
            if let Some(mem) = mem {
                if memory.is_some_and(|m| m != *mem) {
                    return Err(Refused(format!(
                        "module {} makes host calls with pointers into two memories",
                        m.module
                    )));
                }
                memory = Some(*mem);
            }
            let kind = match call {
                HostCall::Func { interface, name } => {
                    let func = calls
                        .funcs
                        .get(&(interface.clone(), name.clone()))
                        .ok_or_else(|| {
                            Refused(format!("`{name}` is not in the component's WIT"))
                        })?;
                    StubKind::Func {
                        report_first: recorder_host::types::reported_before_forwarding(
                            interface.as_deref(),
                            name,
                        ),
                        func: Box::new(func.clone()),
                    }
                }
                HostCall::Drop { .. } => StubKind::Drop,
            };
            let (interface, name) = call.function();
            let func_id = *ids
                .get(&(interface, name.as_str()))
                .ok_or_else(|| Refused(format!("`{name}` has no func-id")))?;
            stubs.push(Stub {
                import: import as u32,
                func_id,
                kind,
                realloc,
            });
        }
        Ok(ModulePlan {
            home,
            flavor,
            memory,
            stubs,
        })
    }
}

/// The component with its recording modules rewritten, the other modules' instantiations given
/// the home instance, and the recorder wired in at the end.
fn rewrite(
    bytes: &[u8],
    counts: &Counts,
    sections: &[u32],
    plans: &HashMap<u32, ModulePlan>,
    home: u32,
    resolve: &Resolve,
    flavor: Flavor,
) -> anyhow::Result<Vec<u8>> {
    let mut sizes = SizeAlign::default();
    sizes.fill(resolve);
    // The instances that must import the home module's batch memory and recorder table.
    let mut importers = HashSet::new();
    let mut out = wasm_encoder::Component::new();
    let mut parser = Parser::new(0);
    let mut offset = 0usize;
    let (mut module_section, mut core_instance) = (0usize, 0u32);
    loop {
        let rest = bytes
            .get(offset..)
            .ok_or_else(|| anyhow!("section past the end"))?;
        let (consumed, payload) = match parser.parse(rest, true)? {
            Chunk::Parsed { consumed, payload } => (consumed, payload),
            Chunk::NeedMoreData(_) => bail!("the component is cut short"),
        };
        offset += consumed;
        match &payload {
            Payload::Version { .. } => {}
            Payload::End(_) => break,
            Payload::ModuleSection {
                unchecked_range, ..
            } => {
                let module = super::slice(bytes, unchecked_range)?;
                let index = *sections
                    .get(module_section)
                    .ok_or_else(|| anyhow!("more module sections than the analysis saw"))?;
                module_section += 1;
                let data = match plans.get(&index) {
                    Some(plan) => {
                        let mut splicer = Splicer::new(module, plan, resolve, &sizes)?;
                        let mut m = wasm_encoder::Module::new();
                        utils::parse_core_module(&mut splicer, &mut m, Parser::new(0), module)
                            .map_err(|e| anyhow!("rewriting module {index}: {e:?}"))?;
                        if let Some(e) = splicer.error.take() {
                            return Err(e.context(format!("rewriting module {index}")));
                        }
                        m.finish()
                    }
                    None => module.to_vec(),
                };
                out.section(&wasm_encoder::RawSection {
                    id: ComponentSectionId::CoreModule as u8,
                    data: &data,
                });
                offset = super::end(unchecked_range)?;
            }
            Payload::ComponentSection {
                unchecked_range, ..
            } => {
                out.section(&wasm_encoder::RawSection {
                    id: ComponentSectionId::Component as u8,
                    data: super::slice(bytes, unchecked_range)?,
                });
                offset = super::end(unchecked_range)?;
            }
            Payload::InstanceSection(s) => {
                let mut section = InstanceSection::new();
                for instance in s.clone() {
                    match instance? {
                        wasmparser::Instance::Instantiate { module_index, args } => {
                            let mut args: Vec<(String, ModuleArg)> = args
                                .iter()
                                .map(|a| (a.name.to_string(), ModuleArg::Instance(a.index)))
                                .collect();
                            let records = plans.get(&module_index).is_some_and(|p| !p.home);
                            if records {
                                if args.iter().any(|(n, _)| n == IMPORT_MODULE) {
                                    unsupported!(
                                        "module {module_index} already imports `{IMPORT_MODULE}`"
                                    );
                                }
                                args.push((IMPORT_MODULE.into(), ModuleArg::Instance(home)));
                                importers.insert(core_instance);
                            }
                            section.instantiate(module_index, args);
                        }
                        wasmparser::Instance::FromExports(exports) => {
                            section.export_items(
                                exports
                                    .iter()
                                    .map(|e| (e.name, export_kind(e.kind), e.index))
                                    .collect::<Vec<_>>(),
                            );
                        }
                    }
                    core_instance += 1;
                }
                out.section(&section);
            }
            other => {
                let (id, range) = other
                    .as_section()
                    .ok_or_else(|| anyhow!("a payload that is not a section"))?;
                out.section(&wasm_encoder::RawSection {
                    id,
                    data: super::slice(bytes, &range)?,
                });
            }
        }
    }
    if importers.iter().any(|i| *i < home) {
        bail!("a recording module is instantiated before the home module");
    }
    match flavor {
        Flavor::Record => wire_recorder(&mut out, counts, home),
        Flavor::Replay => replay::wire_replayer(&mut out, counts, home),
    }
    Ok(out.finish())
}

fn export_kind(kind: wasmparser::ExternalKind) -> ExportKind {
    match kind {
        wasmparser::ExternalKind::Func | wasmparser::ExternalKind::FuncExact => ExportKind::Func,
        wasmparser::ExternalKind::Table => ExportKind::Table,
        wasmparser::ExternalKind::Memory => ExportKind::Memory,
        wasmparser::ExternalKind::Global => ExportKind::Global,
        wasmparser::ExternalKind::Tag => ExportKind::Tag,
    }
}

/// Appends the recorder interface's import, its functions lowered with the batch memory and the
/// fixup module that puts them in the home instance's recorder table. `t`: the original's index
/// spaces' sizes (the rewrite adds nothing to them before this).
fn wire_recorder(out: &mut wasm_encoder::Component, t: &Counts, home: u32) {
    let list = ComponentValType::Type(0);
    let u32_ = ComponentValType::Primitive(PrimitiveValType::U32);

    // The instance type of `proxyrt:recorder/recorder`: type 0 is `list<u8>`, then one function
    // type per function (the WIT's parameter names).
    let mut instance = InstanceType::new();
    instance.ty().defined_type().list(PrimitiveValType::U8);
    let signatures: [(Rec, &[(&str, ComponentValType)]); 5] = [
        (Rec::Call, &[("func-id", u32_), ("args", list)]),
        (Rec::Ret, &[("func-id", u32_), ("results", list)]),
        (
            Rec::Record,
            &[("func-id", u32_), ("args", list), ("results", list)],
        ),
        (Rec::BatchBuffer, &[("buffer", list)]),
        (Rec::RecordBatch, &[("entries", list)]),
    ];
    for (k, (rec, params)) in signatures.iter().enumerate() {
        instance
            .ty()
            .function()
            .params(params.iter().copied())
            .result(None);
        instance.export(rec.name(), ComponentTypeRef::Func(1 + k as u32));
    }
    let recorder = import_interface(out, RECORDER_INTERFACE, &instance, t);

    let first_func = t.component_functions;
    let memory = t.memories;
    let table = t.tables;
    let mut aliases = ComponentAliasSection::new();
    for (rec, _) in &signatures {
        aliases.alias(Alias::InstanceExport {
            instance: recorder,
            kind: ComponentExportKind::Func,
            name: rec.name(),
        });
    }
    alias_home(&mut aliases, home);
    out.section(&aliases);

    let first_core = t.core_functions;
    let mut canon = CanonicalFunctionSection::new();
    for k in 0..Rec::ALL.len() as u32 {
        canon.lower(first_func + k, [CanonicalOption::Memory(memory)]);
    }
    out.section(&canon);

    // The fixup module: imports the table and the five lowerings, puts them in slots 0..5.
    let mut fixup = wasm_encoder::Module::new();
    let mut fixup_types = TypeSection::new();
    let mut fixup_imports = ImportSection::new();
    fixup_imports.import("", "table", EntityType::Table(recorder_table()));
    for (k, rec) in Rec::ALL.iter().enumerate() {
        fixup_types
            .ty()
            .function(vec![ValType::I32; rec.params()], []);
        fixup_imports.import("", &k.to_string(), EntityType::Function(k as u32));
    }
    let mut elements = ElementSection::new();
    elements.active(
        Some(0),
        &ConstExpr::i32_const(0),
        Elements::Functions((0..Rec::ALL.len() as u32).collect::<Vec<_>>().into()),
    );
    fixup.section(&fixup_types);
    fixup.section(&fixup_imports);
    fixup.section(&elements);
    out.section(&wasm_encoder::ModuleSection(&fixup));

    let mut instances = InstanceSection::new();
    let mut items = vec![("table".to_string(), ExportKind::Table, table)];
    for k in 0..Rec::ALL.len() as u32 {
        items.push((k.to_string(), ExportKind::Func, first_core + k));
    }
    instances.export_items(items);
    instances.instantiate(t.modules, [("", ModuleArg::Instance(t.core_instances))]);
    out.section(&instances);
}

/// The table of the recorder's five functions, in [`Rec::ALL`] order.
fn recorder_table() -> TableType {
    interface_table(Rec::ALL.len() as u64)
}

fn batch_memory() -> MemoryType {
    MemoryType {
        minimum: BATCH_PAGES,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    }
}

/// Rewrites one recording module: stubs appended after its functions, every use of a host-call
/// import redirected to its stub, the batch memory and recorder table defined (home) or
/// imported (the others, which shifts their own memories and tables by one).
struct Splicer<'a> {
    plan: &'a ModulePlan,
    /// Import index -> stub function index.
    stub_of: HashMap<u32, u32>,
    imported_memories: u32,
    imported_tables: u32,
    /// The batch memory's and the recorder table's indices after splicing.
    batch: u32,
    table: u32,
    /// Replay, home module: the allocator `replayer.next`'s results are lowered with (exported).
    realloc: Option<u32>,
    /// Replay: the decoders' cursor and end, two globals appended to the global section.
    readers: bool,
    /// Whether the module's memories and tables keep their indices (the home module, or one that
    /// defines none): then a function body changes only where it calls a host-call import, and is
    /// copied with those calls patched in place ([`patch_calls`]), at its original offsets.
    keeps_indices: bool,
    /// The functions appended to the function and code sections, in order: (type index, body).
    added: Vec<(u32, Function)>,
    /// The core types appended to the type section.
    new_types: Vec<CoreType>,
    /// Which of the sections the additions go to were seen (else inserted where they belong).
    seen: HashSet<u8>,
    /// An error found while rewriting (the reencoder's error type carries none of ours).
    error: Option<anyhow::Error>,
}

impl<'a> Splicer<'a> {
    fn new(
        module: &[u8],
        plan: &'a ModulePlan,
        resolve: &Resolve,
        sizes: &SizeAlign,
    ) -> anyhow::Result<Splicer<'a>> {
        let mut types: Vec<Option<CoreType>> = Vec::new();
        let mut func_imports = Vec::new();
        let (mut imported_memories, mut memories) = (0, 0);
        let (mut imported_tables, mut tables) = (0, 0);
        let (mut imported_globals, mut globals) = (0, 0);
        let mut defined = 0;
        for payload in Parser::new(0).parse_all(module) {
            match payload? {
                Payload::TypeSection(s) => {
                    for group in s {
                        for sub in group?.into_types() {
                            types.push(match &sub.composite_type.inner {
                                wasmparser::CompositeInnerType::Func(f) => Some((
                                    f.params().iter().map(|t| val_type(*t)).collect(),
                                    f.results().iter().map(|t| val_type(*t)).collect(),
                                )),
                                _ => None,
                            });
                        }
                    }
                }
                Payload::ImportSection(s) => {
                    for import in s.into_imports() {
                        match import?.ty {
                            TypeRef::Func(t) | TypeRef::FuncExact(t) => func_imports.push(t),
                            TypeRef::Memory(_) => imported_memories += 1,
                            TypeRef::Table(_) => imported_tables += 1,
                            TypeRef::Global(_) => imported_globals += 1,
                            _ => {}
                        }
                    }
                }
                Payload::MemorySection(s) => memories = s.count(),
                Payload::TableSection(s) => tables = s.count(),
                Payload::GlobalSection(s) => globals = s.count(),
                Payload::FunctionSection(s) => defined = s.count(),
                _ => {}
            }
        }
        let (batch, table) = if plan.home {
            (imported_memories + memories, imported_tables + tables)
        } else {
            (imported_memories, imported_tables)
        };
        let guest_memory = plan
            .memory
            .map(|m| after_splice(plan.home, m, imported_memories));
        let mut new_types = Vec::new();
        let n_types = types.len() as u32;
        let mut type_of = |params: Vec<ValType>, results: Vec<ValType>| -> u32 {
            if let Some(k) = new_types
                .iter()
                .position(|(p, r)| *p == params && *r == results)
            {
                return n_types + k as u32;
            }
            new_types.push((params, results));
            n_types + new_types.len() as u32 - 1
        };
        let mut arities = [0u32; 6];
        for rec in Rec::ALL {
            arities[rec.params()] = type_of(vec![ValType::I32; rec.params()], vec![]);
        }

        let first_stub = func_imports.len() as u32 + defined;
        let stub_of: HashMap<u32, u32> = plan
            .stubs
            .iter()
            .enumerate()
            .map(|(k, s)| (s.import, first_stub + k as u32))
            .collect();
        let first_helper = first_stub + plan.stubs.len() as u32;
        let helpers = Helpers::at(first_helper);
        let guest = guest_memory.unwrap_or(batch);
        let mut added = Vec::new();
        // An import's type index and core type.
        let core_type = |import: u32| -> anyhow::Result<(u32, &CoreType)> {
            let ty = *func_imports
                .get(import as usize)
                .ok_or_else(|| anyhow!("import {import} out of range"))?;
            match types.get(ty as usize) {
                Some(Some(core)) => Ok((ty, core)),
                _ => bail!("import {import} has no function type"),
            }
        };
        let mut realloc = None;
        match plan.flavor {
            Flavor::Record => {
                let append = first_helper + encode::HELPER_COUNT;
                let flush = append + 1;
                let cx = StubCx {
                    resolve,
                    sizes,
                    helpers,
                    memory: guest,
                    append,
                    flush,
                    recorder: RecorderCalls::Table {
                        table,
                        types: arities,
                    },
                };
                for stub in &plan.stubs {
                    let (ty, core) = core_type(stub.import)?;
                    added.push((ty, stub_body(&cx, stub, core)?));
                }
                let mems = Memories {
                    src: guest,
                    dst: batch,
                };
                for (params, results, body) in encode::helper_functions(first_helper, mems) {
                    added.push((type_of(params, results), body));
                }
                let env = BatchEnv {
                    memory: batch,
                    given: Given::Memory {
                        memory: batch,
                        address: GIVEN_ADDRESS,
                    },
                    recorder: cx.recorder,
                };
                for (params, results, body) in coremod::batch_functions(&env, flush) {
                    added.push((type_of(params, results), body));
                }
            }
            Flavor::Replay => {
                let first_reader = first_helper + encode::HELPER_COUNT;
                let readers =
                    Readers::at(first_reader, imported_globals + globals).in_memory(batch);
                let cx = replay::StubCx {
                    resolve,
                    sizes,
                    helpers,
                    readers,
                    memory: guest,
                    batch,
                    table,
                    next_type: type_of(vec![ValType::I32; replay::NEXT_PARAMS], vec![]),
                    scratch: SCRATCH,
                };
                for stub in &plan.stubs {
                    let call = match &stub.kind {
                        StubKind::Func { func, .. } => replay::Call::Func {
                            func,
                            realloc: stub.realloc,
                        },
                        StubKind::Drop => replay::Call::Drop,
                    };
                    let (ty, core) = core_type(stub.import)?;
                    added.push((ty, replay::stub_body(&cx, stub.func_id, &call, core)?));
                }
                let mems = Memories {
                    src: guest,
                    dst: batch,
                };
                for (params, results, body) in encode::helper_functions(first_helper, mems) {
                    added.push((type_of(params, results), body));
                }
                for (params, results, body) in decode::reader_functions(readers) {
                    added.push((type_of(params, results), body));
                }
                if plan.home {
                    realloc = Some(first_reader + decode::READER_COUNT);
                    let (params, results, body) = replay::realloc_function(batch);
                    added.push((type_of(params, results), body));
                }
            }
        }
        Ok(Splicer {
            plan,
            stub_of,
            imported_memories,
            imported_tables,
            batch,
            table,
            realloc,
            readers: plan.flavor == Flavor::Replay,
            keeps_indices: plan.home || (memories == 0 && tables == 0),
            added,
            new_types,
            seen: HashSet::new(),
            error: None,
        })
    }

    fn add_memory(&self, memories: &mut MemorySection) {
        if self.plan.home {
            memories.memory(batch_memory());
        }
    }

    fn add_table(&self, tables: &mut TableSection) {
        if self.plan.home {
            tables.table(self.plan.flavor.table());
        }
    }

    fn add_globals(&self, globals: &mut GlobalSection) {
        if self.readers {
            // The readers' cursor and end.
            for _ in 0..2 {
                globals.global(
                    GlobalType {
                        val_type: ValType::I32,
                        mutable: true,
                        shared: false,
                    },
                    &ConstExpr::i32_const(0),
                );
            }
        }
    }

    fn add_exports(&self, exports: &mut ExportSection) {
        if self.plan.home {
            exports.export(BATCH_EXPORT, ExportKind::Memory, self.batch);
            exports.export(RECORDER_EXPORT, ExportKind::Table, self.table);
            if let Some(realloc) = self.realloc {
                exports.export(replay::REALLOC_EXPORT, ExportKind::Func, realloc);
            }
        }
    }
}

/// The index of memory (or table) `index` of a module after splicing, given how many of them it
/// imports: a module other than the home one imports the batch memory (and the recorder table)
/// after its own imports, which moves its defined ones up by one.
fn after_splice(home: bool, index: u32, imported: u32) -> u32 {
    if !home && index >= imported {
        index + 1
    } else {
        index
    }
}

/// `body` with every call of a host-call import (`call`, `return_call`, `ref.func` of a key of
/// `stub_of`) made to its stub instead, the new index written over the old one in the same
/// number of bytes; `None` when one does not fit (a short LEB128 that the stub's index outgrows).
///
/// Keeping every body's bytes, hence every instruction's offset, keeps the guest's DWARF true:
/// wasmtime names source lines in backtraces (a trap, a replay's divergence report) from code
/// offsets. Linkers leave call targets as padded 5-byte LEB128s in builds with debug info, so
/// those always fit; re-encoding instead would shorten them and shift everything after.
fn patch_calls(
    body: &wasmparser::FunctionBody<'_>,
    stub_of: &HashMap<u32, u32>,
) -> wasmparser::Result<Option<Vec<u8>>> {
    use wasmparser::Operator;
    let mut bytes = body.as_bytes().to_vec();
    let base = body.range().start;
    let mut reader = body.get_operators_reader()?;
    while !reader.eof() {
        let at = reader.original_position();
        let op = reader.read()?;
        let (Operator::Call { function_index }
        | Operator::ReturnCall { function_index }
        | Operator::RefFunc { function_index }) = op
        else {
            continue;
        };
        let Some(stub) = stub_of.get(&function_index) else {
            continue;
        };
        // The index follows the one-byte opcode, up to the next instruction.
        let start = (at - base + 1) as usize;
        let end = (reader.original_position() - base) as usize;
        let Some(slot) = bytes.get_mut(start..end) else {
            return Ok(None);
        };
        if !write_padded_leb(slot, *stub) {
            return Ok(None);
        }
    }
    Ok(Some(bytes))
}

/// Writes `value` as unsigned LEB128 in exactly `slot.len()` bytes (padded with continuation
/// bytes); false when it does not fit.
fn write_padded_leb(slot: &mut [u8], mut value: u32) -> bool {
    let Some((last, head)) = slot.split_last_mut() else {
        return false;
    };
    for byte in head {
        *byte = (value & 0x7f) as u8 | 0x80;
        value >>= 7;
    }
    if value > 0x7f {
        return false;
    }
    *last = value as u8;
    true
}

/// The position of a section in a module's order (custom sections aside).
fn order(id: SectionId) -> u8 {
    match id {
        SectionId::Type => 1,
        SectionId::Import => 2,
        SectionId::Function => 3,
        SectionId::Table => 4,
        SectionId::Memory => 5,
        SectionId::Tag => 6,
        SectionId::Global => 7,
        SectionId::Export => 8,
        SectionId::Start => 9,
        SectionId::Element => 10,
        SectionId::DataCount => 11,
        SectionId::Code => 12,
        SectionId::Data => 13,
        _ => 0,
    }
}

fn val_type(t: wasmparser::ValType) -> ValType {
    match t {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        wasmparser::ValType::V128 => ValType::V128,
        // Reference types never appear in the canonical ABI's signatures; a module's other
        // function types are only compared, never emitted from here.
        wasmparser::ValType::Ref(_) => ValType::Ref(RefType::FUNCREF),
    }
}

type ReResult<T> = std::result::Result<T, wasm_encoder::reencode::Error<std::convert::Infallible>>;

impl Reencode for Splicer<'_> {
    type Error = std::convert::Infallible;

    fn function_index(&mut self, func: u32) -> ReResult<u32> {
        Ok(self.stub_of.get(&func).copied().unwrap_or(func))
    }

    fn memory_index(&mut self, memory: u32) -> ReResult<u32> {
        Ok(after_splice(self.plan.home, memory, self.imported_memories))
    }

    fn table_index(&mut self, table: u32) -> ReResult<u32> {
        Ok(after_splice(self.plan.home, table, self.imported_tables))
    }

    fn parse_type_section(
        &mut self,
        types: &mut TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> ReResult<()> {
        utils::parse_type_section(self, types, section)?;
        for (params, results) in &self.new_types {
            types
                .ty()
                .function(params.iter().copied(), results.iter().copied());
        }
        self.seen.insert(SectionId::Type as u8);
        Ok(())
    }

    fn parse_import_section(
        &mut self,
        imports: &mut ImportSection,
        section: wasmparser::ImportSectionReader<'_>,
    ) -> ReResult<()> {
        utils::parse_import_section(self, imports, section)?;
        if !self.plan.home {
            imports.import(
                IMPORT_MODULE,
                BATCH_EXPORT,
                EntityType::Memory(batch_memory()),
            );
            imports.import(
                IMPORT_MODULE,
                RECORDER_EXPORT,
                EntityType::Table(self.plan.flavor.table()),
            );
        }
        Ok(())
    }

    fn parse_function_section(
        &mut self,
        functions: &mut FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> ReResult<()> {
        utils::parse_function_section(self, functions, section)?;
        for (ty, _) in &self.added {
            functions.function(*ty);
        }
        Ok(())
    }

    fn parse_table_section(
        &mut self,
        tables: &mut TableSection,
        section: wasmparser::TableSectionReader<'_>,
    ) -> ReResult<()> {
        utils::parse_table_section(self, tables, section)?;
        self.add_table(tables);
        self.seen.insert(SectionId::Table as u8);
        Ok(())
    }

    fn parse_global_section(
        &mut self,
        globals: &mut GlobalSection,
        section: wasmparser::GlobalSectionReader<'_>,
    ) -> ReResult<()> {
        utils::parse_global_section(self, globals, section)?;
        self.add_globals(globals);
        self.seen.insert(SectionId::Global as u8);
        Ok(())
    }

    fn parse_memory_section(
        &mut self,
        memories: &mut MemorySection,
        section: wasmparser::MemorySectionReader<'_>,
    ) -> ReResult<()> {
        utils::parse_memory_section(self, memories, section)?;
        self.add_memory(memories);
        self.seen.insert(SectionId::Memory as u8);
        Ok(())
    }

    fn parse_export_section(
        &mut self,
        exports: &mut ExportSection,
        section: wasmparser::ExportSectionReader<'_>,
    ) -> ReResult<()> {
        utils::parse_export_section(self, exports, section)?;
        self.add_exports(exports);
        self.seen.insert(SectionId::Export as u8);
        Ok(())
    }

    fn parse_code_section(
        &mut self,
        code: &mut CodeSection,
        section: wasmparser::CodeSectionReader<'_>,
    ) -> ReResult<()> {
        for body in section {
            let body = body?;
            match self
                .keeps_indices
                .then(|| patch_calls(&body, &self.stub_of))
            {
                Some(Ok(Some(patched))) => {
                    code.raw(&patched);
                }
                _ => utils::parse_function_body(self, code, body)?,
            }
        }
        for (_, body) in &self.added {
            code.function(body);
        }
        Ok(())
    }

    fn intersperse_section_hook(
        &mut self,
        module: &mut wasm_encoder::Module,
        after: Option<SectionId>,
        before: Option<SectionId>,
    ) -> ReResult<()> {
        // The home module's table, memory and exports go into sections it may not have: insert
        // those where they belong.
        let next = before.map(order).unwrap_or(u8::MAX);
        for id in [
            SectionId::Table,
            SectionId::Memory,
            SectionId::Global,
            SectionId::Export,
        ] {
            let ours = if id == SectionId::Global {
                self.readers
            } else {
                self.plan.home
            };
            if ours && !self.seen.contains(&(id as u8)) && order(id) < next && before != Some(id) {
                self.seen.insert(id as u8);
                match id {
                    SectionId::Table => {
                        let mut s = TableSection::new();
                        self.add_table(&mut s);
                        module.section(&s);
                    }
                    SectionId::Memory => {
                        let mut s = MemorySection::new();
                        self.add_memory(&mut s);
                        module.section(&s);
                    }
                    SectionId::Global => {
                        let mut s = GlobalSection::new();
                        self.add_globals(&mut s);
                        module.section(&s);
                    }
                    _ => {
                        let mut s = ExportSection::new();
                        self.add_exports(&mut s);
                        module.section(&s);
                    }
                }
            }
        }
        if before == Some(SectionId::Code) && !self.seen.contains(&(SectionId::Type as u8)) {
            self.error = Some(anyhow!("a module with imports but no type section"));
        }
        utils::intersperse_section_hook(self, module, after, before)
    }
}

/// What stub bodies need.
struct StubCx<'r> {
    resolve: &'r Resolve,
    sizes: &'r SizeAlign,
    helpers: Helpers,
    /// The guest memory the host calls' pointers are in (the batch memory if none has any).
    memory: u32,
    /// The batch functions (`coremod::batch_functions`).
    append: u32,
    flush: u32,
    recorder: RecorderCalls,
}

/// The stub of one host-call import, of the import's core type `core`.
fn stub_body(cx: &StubCx<'_>, stub: &Stub, core: &CoreType) -> anyhow::Result<Function> {
    let (params, results) = core;
    let n = params.len() as u32;
    let mut b = Body::new(n);
    let cur = b.local(ValType::I32);
    let enc = Encoder {
        resolve: cx.resolve,
        sizes: cx.sizes,
        h: cx.helpers,
        cur,
        memory: cx.memory,
        own_rep: None,
    };
    let start = || [I::I32Const(SCRATCH), I::LocalSet(cur)];
    let len_since = |from: I<'static>| [I::LocalGet(cur), from, I::I32Sub];
    let (func, report_first) = match &stub.kind {
        StubKind::Drop => {
            if params.as_slice() != [ValType::I32] || !results.is_empty() {
                bail!("a resource drop of another core type");
            }
            // After the drop: `append(id, leb(handle), no results)`.
            b.code.extend([I::LocalGet(0), I::Call(stub.import)]);
            b.code.extend(start());
            b.code.extend([
                I::LocalGet(cur),
                I::LocalGet(0),
                I::Call(cx.helpers.leb32),
                I::LocalSet(cur),
                I::I32Const(stub.func_id as i32),
                I::I32Const(SCRATCH),
            ]);
            b.code.extend(len_since(I::I32Const(SCRATCH)));
            b.code
                .extend([I::I32Const(0), I::I32Const(0), I::Call(cx.append)]);
            return Ok(b.finish());
        }
        StubKind::Func {
            func, report_first, ..
        } => (func, *report_first),
    };
    // The arguments, encoded before the call (it may consume handles or never return).
    b.code.extend(start());
    let lowered = encode_params(&enc, &mut b, func, core)?;
    let args_len = b.local(ValType::I32);
    b.code.extend(len_since(I::I32Const(SCRATCH)));
    b.code.push(I::LocalSet(args_len));
    if report_first {
        // The batch first, then the call itself: it may wait for long or never return.
        b.code.push(I::Call(cx.flush));
        b.code.extend([
            I::I32Const(stub.func_id as i32),
            I::I32Const(SCRATCH),
            I::LocalGet(args_len),
        ]);
        b.code.extend(cx.recorder.call(Rec::Call));
    }

    for i in 0..n {
        b.code.push(I::LocalGet(i));
    }
    b.code.push(I::Call(stub.import));
    let flat_result = b.keep_call_result(results)?;

    // The results, after the arguments (or alone, for a call reported first).
    if report_first {
        b.code.extend(start());
    }
    let res_start = b.local(ValType::I32);
    b.code.extend([I::LocalGet(cur), I::LocalSet(res_start)]);
    if let Some(result) = &func.result {
        // The return area is the guest's, passed as the import's last parameter.
        let area = if lowered.retptr { Some(n - 1) } else { None };
        enc.call_result(&mut b, &func.name, result, area, flat_result)?;
    }
    if report_first {
        b.code
            .extend([I::I32Const(RETURN_ONLY), I::I32Const(0), I::I32Const(0)]);
    } else {
        b.code.extend([
            I::I32Const(stub.func_id as i32),
            I::I32Const(SCRATCH),
            I::LocalGet(args_len),
        ]);
    }
    b.code.push(I::LocalGet(res_start));
    b.code.extend(len_since(I::LocalGet(res_start)));
    b.code.push(I::Call(cx.append));
    if let Some((r, _)) = flat_result {
        b.code.push(I::LocalGet(r));
    }
    Ok(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The component-level import names of `bytes`, in order.
    fn imports(bytes: &[u8]) -> Vec<String> {
        let mut names = Vec::new();
        let mut depth = 0;
        for payload in Parser::new(0).parse_all(bytes) {
            match payload.expect("parses") {
                Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
                Payload::End(_) if depth > 0 => depth -= 1,
                Payload::ComponentImportSection(s) if depth == 0 => {
                    for import in s {
                        names.push(import.expect("an import").name.name.to_string());
                    }
                }
                _ => {}
            }
        }
        names
    }

    #[test]
    fn the_cli_guest_records_and_replays_from_inside_with_the_interface_imported_last() {
        let original = std::fs::read(proxyrt_test_guests::CLI).expect("the cli guest is built");
        let decoded = crate::decode(&original).expect("decodes");
        let info = crate::analyze(&original).expect("analyzes");
        type Splice = fn(&Decoded, &[u8]) -> Result<std::result::Result<Vec<u8>, Refused>>;
        let modes: [(Splice, &str); 2] = [
            (splice_record, RECORDER_INTERFACE),
            (splice_replay, REPLAYER_INTERFACE),
        ];
        for (splice, interface) in modes {
            let spliced = splice(&decoded, &original)
                .expect("no error")
                .expect("spliceable");
            let mut expected = imports(&original);
            expected.push(interface.to_string());
            assert_eq!(imports(&spliced), expected);
            // Same world otherwise: the WIT of the spliced component is the original's plus the
            // interface's.
            let spliced_info = crate::analyze(&spliced).expect("the spliced component analyzes");
            assert_eq!(
                info.exports().collect::<Vec<_>>(),
                spliced_info.exports().collect::<Vec<_>>()
            );
        }
    }

    /// The function bodies of each core module of `bytes` with the most functions, in order.
    fn largest_module_bodies(bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut best: Vec<Vec<u8>> = Vec::new();
        for payload in Parser::new(0).parse_all(bytes) {
            if let Payload::ModuleSection {
                unchecked_range, ..
            } = payload.expect("parses")
            {
                let module = super::super::slice(bytes, &unchecked_range).expect("in bounds");
                let mut bodies = Vec::new();
                for p in Parser::new(0).parse_all(module) {
                    if let Payload::CodeSectionEntry(body) = p.expect("parses") {
                        bodies.push(body.as_bytes().to_vec());
                    }
                }
                if bodies.len() > best.len() {
                    best = bodies;
                }
            }
        }
        best
    }

    #[test]
    fn the_guests_code_keeps_its_bytes_but_for_the_calls_it_makes_to_the_host() {
        // Same size for every original body, so every instruction keeps its offset and the
        // guest's DWARF its lines; only call targets differ (the stubs, appended after).
        let original = std::fs::read(proxyrt_test_guests::CLI).expect("the cli guest is built");
        let decoded = crate::decode(&original).expect("decodes");
        for spliced in [
            splice_record(&decoded, &original)
                .expect("no error")
                .expect("spliceable"),
            splice_replay(&decoded, &original)
                .expect("no error")
                .expect("spliceable"),
        ] {
            let (before, after) = (
                largest_module_bodies(&original),
                largest_module_bodies(&spliced),
            );
            assert!(after.len() > before.len(), "stubs appended");
            let mut patched = 0;
            for (i, (b, a)) in before.iter().zip(&after).enumerate() {
                assert_eq!(b.len(), a.len(), "body {i} changed size");
                patched += usize::from(b != a);
            }
            assert!(patched > 0, "no call was redirected");
        }
    }

    #[test]
    fn a_padded_leb128_keeps_its_width_or_is_refused() {
        let mut slot = [0u8; 5];
        assert!(write_padded_leb(&mut slot, 300));
        assert_eq!(slot, [0xac, 0x82, 0x80, 0x80, 0x00]);
        let mut reader = wasmparser::BinaryReader::new(&slot, 0);
        assert_eq!(reader.read_var_u32().expect("a LEB128"), 300);
        let mut one = [0u8; 1];
        assert!(write_padded_leb(&mut one, 127));
        assert_eq!(one, [0x7f]);
        assert!(!write_padded_leb(&mut one, 128), "128 needs two bytes");
        assert!(!write_padded_leb(&mut [], 0));
    }

    #[test]
    fn a_host_call_lowered_with_another_instances_realloc_is_recorded_but_not_replayed_inside() {
        // `$m` calls `name` with its results in the allocator instance's memory, which it imports:
        // a recording stub only reads them, a replaying one would have to allocate them with a
        // function `$m` does not have.
        let bytes = wat::parse_str(
            r#"(component
                (import "host" (instance $h (export "name" (func (result string)))))
                (alias export $h "name" (func $name))
                (core module $alloc
                    (memory (export "memory") 1)
                    (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 8))
                (core instance $a (instantiate $alloc))
                (alias core export $a "memory" (core memory $mem))
                (alias core export $a "realloc" (core func $realloc))
                (core func $lowered (canon lower (func $name) (memory $mem) (realloc $realloc)))
                (core module $m
                    (import "host" "name" (func $n (param i32)))
                    (import "a" "memory" (memory 1))
                    (func (export "go") i32.const 0 call $n))
                (core instance (instantiate $m
                    (with "host" (instance (export "name" (func $lowered))))
                    (with "a" (instance $a)))))"#,
        )
        .expect("WAT");
        let decoded = crate::decode(&bytes).expect("decodes");
        splice_record(&decoded, &bytes)
            .expect("no error")
            .expect("recorded from inside");
        let refused = splice_replay(&decoded, &bytes)
            .expect("no error")
            .expect_err("refused");
        assert!(
            refused.0.contains("another instance's realloc"),
            "{refused}"
        );
    }

    #[test]
    fn components_it_cannot_record_from_inside_are_refused_not_broken() {
        // A host call made while instantiating (a start function) would find the recorder table
        // empty: refused, so that the caller composes instead.
        let bytes = wat::parse_str(
            r#"(component
                (import "host" (instance $h (export "tick" (func))))
                (alias export $h "tick" (func $tick))
                (core func $lowered (canon lower (func $tick)))
                (core module $m
                    (import "host" "tick" (func $t))
                    (func $start call $t)
                    (start $start))
                (core instance (instantiate $m
                    (with "host" (instance (export "tick" (func $lowered)))))))"#,
        )
        .expect("WAT");
        let decoded = crate::decode(&bytes).expect("decodes");
        let refused = splice_record(&decoded, &bytes)
            .expect("no error")
            .expect_err("refused");
        assert!(refused.0.contains("start"), "{refused}");
    }
}

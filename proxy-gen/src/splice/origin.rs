//! Where each function a core module imports comes from: the analysis that tells spliced
//! recording stubs which host call they stand for (#17, the composition floor).
//!
//! A component's core modules never import host functions by name: the root component lowers each
//! imported component function (`canon lower`, with the memory its pointers point into) or makes
//! a resource's destructor (`canon resource.drop`), packs the core functions into core instances
//! and instantiates each module with them. wit-component adds an indirection of its own, because a
//! module's imports may need that module's own memory: the module gets a *shim* function instead
//! (`local.get`s, `i32.const slot`, `call_indirect` on a table the shim module exports), and a
//! *fixup* module instantiated afterwards fills the table's slots with the lowered functions.
//!
//! [`origins`] follows every function import of every instantiated module through these
//! indirections (from-exports instances, aliases of module exports, instantiation arguments,
//! shims and their fixups) to its origin: a host call (a lowered import or the drop of an imported
//! resource) or something internal (a function another module defines, a lifted export, a
//! canonical built-in). A module that gets a host function through another module (an export of
//! that module that is one of its own imports) is recorded by the stub in that other module, so a
//! call is recorded exactly once.
//!
//! What a stub cannot do is refused, with the reason, so that the caller can fall back to the
//! composed proxy: a host call whose pointers point into a memory the importing module does not
//! see, string encodings other than UTF-8, component-model async, a host call reached by no module
//! (through a path the analysis does not follow), a module instantiated twice, a start function.

use std::collections::{HashMap, HashSet};

use wasmparser::{
    CanonicalFunction, CanonicalOption, ComponentAlias, ComponentExternalKind,
    ComponentOuterAliasKind, ComponentTypeRef, ElementItems, ElementKind, ExternalKind, Instance,
    Operator, Parser, Payload, TypeRef,
};

/// The host call a core function import stands for, named as [`ComponentInfo`] names it.
///
/// [`ComponentInfo`]: recorder_host::types::ComponentInfo
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostCall {
    /// Function `name` of the imported interface `interface` (its import name, e.g.
    /// `wasi:cli/stdout@0.2.6`), or the bare function import `name` (`interface` absent).
    Func {
        /// The interface's import name.
        interface: Option<String>,
        /// The function's name in it.
        name: String,
    },
    /// The destructor of resource `resource` of the imported interface `interface`.
    Drop {
        /// The interface's import name.
        interface: String,
        /// The resource's name in it.
        resource: String,
    },
}

impl HostCall {
    /// Its interface and function name as [`ComponentInfo`] names them: a destructor is the
    /// function `[resource-drop]R` of its interface.
    ///
    /// [`ComponentInfo`]: recorder_host::types::ComponentInfo
    pub fn function(&self) -> (Option<&str>, String) {
        match self {
            HostCall::Func { interface, name } => (interface.as_deref(), name.clone()),
            HostCall::Drop {
                interface,
                resource,
            } => (Some(interface), format!("[resource-drop]{resource}")),
        }
    }
}

/// The origin of one function a module imports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOrigin {
    /// A host call, to be recorded by a stub in this module. `memory`: the module's own index of
    /// the memory the lowering's pointers point into (absent when the lowering has no memory).
    Host {
        /// What is called.
        call: HostCall,
        /// The memory the call's strings, lists and return area are in, as this module numbers it.
        memory: Option<u32>,
        /// The function the lowering allocates the results' lists with (a replaying stub
        /// allocates with it).
        realloc: Realloc,
    },
    /// Anything else: a function of another module, a host call another module records, a
    /// canonical built-in.
    Internal,
}

/// A lowering's `realloc`, as the module calling the lowering sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Realloc {
    /// The lowering has none (its results hold no list or string).
    None,
    /// The module's own function of this index (an export of its own instance).
    Own(u32),
    /// Another instance's function.
    Elsewhere,
}

/// The origins of one module's function imports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleOrigins {
    /// The module's index in the component's core module index space.
    pub module: u32,
    /// The core instance that instantiates it.
    pub instance: u32,
    /// One entry per function import, in the module's import order.
    pub imports: Vec<ImportOrigin>,
}

impl ModuleOrigins {
    /// Whether any of its imports is a host call (the module gets recording stubs).
    pub fn records(&self) -> bool {
        self.imports
            .iter()
            .any(|o| matches!(o, ImportOrigin::Host { .. }))
    }
}

/// Why a component's host calls cannot all be recorded by spliced stubs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

macro_rules! refuse {
    ($($t:tt)*) => { return Err(Refused(format!($($t)*))) };
}

/// Every instantiated module of the root component `bytes` with the origin of each function it
/// imports, in instantiation order; or why the component cannot be recorded from inside.
/// Malformed input is refused too (it is validated before this is asked).
pub fn origins(bytes: &[u8]) -> Result<Vec<ModuleOrigins>, Refused> {
    analyze(bytes).map(|(modules, _)| modules)
}

/// [`origins`], and the module index of each of the component's module sections, in order (the
/// module index space also counts imported and aliased modules).
pub fn analyze(bytes: &[u8]) -> Result<(Vec<ModuleOrigins>, Vec<u32>), Refused> {
    let c = Component::read(bytes)?;
    let sections = c
        .modules
        .iter()
        .enumerate()
        .filter(|(_, m)| m.is_some())
        .map(|(i, _)| i as u32)
        .collect();
    let mut out = Vec::new();
    let mut seen_modules = HashSet::new();
    let mut reached = HashSet::new();
    for (instance, inst) in c.instances.iter().enumerate() {
        let CoreInstance::Module { module, .. } = inst else {
            continue;
        };
        let Some(Some(info)) = c.modules.get(*module as usize) else {
            // A module imported or aliased from outside: its code is not ours to splice, and
            // whatever host call it makes is caught by the coverage check below.
            continue;
        };
        let instance = instance as u32;
        let mut imports = Vec::new();
        for (field_module, field) in info.func_imports() {
            if info.defined == 0 {
                // Code of its own never calls them: it passes them on (a fixup module fills a
                // shim's table), and whoever calls them there is recorded.
                imports.push(ImportOrigin::Internal);
                continue;
            }
            let origin = c.import_origin(instance, field_module, field, 0)?;
            imports.push(match origin {
                Resolved::Host { call, lowered } => {
                    reached.insert(lowered);
                    let realloc = match c.funcs.get(lowered as usize) {
                        Some(CoreFunc::Lower {
                            realloc: Some(f), ..
                        }) => c
                            .own_function(instance, info, *f)
                            .map_or(Realloc::Elsewhere, Realloc::Own),
                        _ => Realloc::None,
                    };
                    let memory = match c.funcs.get(lowered as usize) {
                        Some(CoreFunc::Lower {
                            memory: Some(m), ..
                        }) => {
                            let target = c.memory_identity(*m, 0)?;
                            Some(c.module_memory(instance, info, target)?.ok_or_else(|| {
                                Refused(format!(
                                    "module {module} calls `{}` with pointers into a memory it \
                                     does not see",
                                    show(&call)
                                ))
                            })?)
                        }
                        _ => None,
                    };
                    ImportOrigin::Host {
                        call,
                        memory,
                        realloc,
                    }
                }
                Resolved::Reexport | Resolved::Internal => ImportOrigin::Internal,
            });
        }
        let origins = ModuleOrigins {
            module: *module,
            instance,
            imports,
        };
        if origins.records() {
            if !seen_modules.insert(*module) {
                refuse!("module {module}, which makes host calls, is instantiated twice");
            }
            if !info.start_stays_inside() {
                refuse!(
                    "module {module} has a start function that may make a host call at \
                     instantiation, before the recorder is wired in"
                );
            }
        }
        out.push(origins);
    }
    // Every host call the component can make must be recorded by some stub.
    for (index, func) in c.funcs.iter().enumerate() {
        if let Some(call) = c.host_call(func)? {
            if !reached.contains(&(index as u32)) {
                refuse!(
                    "`{}` is called through a path the spliced recorder does not follow",
                    show(&call)
                );
            }
        }
    }
    Ok((out, sections))
}

fn show(call: &HostCall) -> String {
    match call {
        HostCall::Func {
            interface: Some(i),
            name,
        } => format!("{i}#{name}"),
        HostCall::Func {
            interface: None,
            name,
        } => name.clone(),
        HostCall::Drop {
            interface,
            resource,
        } => format!("{interface}#[resource-drop]{resource}"),
    }
}

/// How deep origins are followed: the chains of real components are a few links long; a cycle or
/// an absurd chain is refused rather than followed forever.
const MAX_DEPTH: u32 = 64;

/// The outcome of following an import.
enum Resolved {
    /// A host call, made by core function `lowered` of the component.
    Host {
        call: HostCall,
        lowered: u32,
    },
    /// Another module's import, re-exported: that module's stub records it.
    Reexport,
    Internal,
}

/// A core function of the root component.
#[derive(Debug)]
enum CoreFunc {
    /// `canon lower` of component function `func`.
    Lower {
        func: u32,
        memory: Option<u32>,
        realloc: Option<u32>,
        utf8: bool,
        is_async: bool,
    },
    /// `canon resource.drop` of component type `ty`.
    ResourceDrop { ty: u32 },
    /// An export of a core instance.
    Export { instance: u32, name: String },
    /// A canonical built-in other than these.
    Other,
}

/// A core instance of the root component.
enum CoreInstance {
    Module {
        module: u32,
        args: Vec<(String, u32)>,
    },
    /// Named core functions, tables, memories and globals (by component index).
    FromExports(Vec<(String, ExternalKind, u32)>),
}

/// A component function, component instance or type, as far as origins need it.
#[derive(Debug, Clone)]
enum Item {
    /// Export `name` of component instance `instance`.
    Export {
        instance: u32,
        name: String,
    },
    /// Import `name` of the component.
    Import {
        name: String,
    },
    Other,
}

/// A core memory or table: `(module instance, the module's own index of it)`, for the module that
/// defines it.
type Identity = (u32, u32);

/// The root component, reduced to its index spaces.
struct Component {
    modules: Vec<Option<ModuleInfo>>,
    instances: Vec<CoreInstance>,
    funcs: Vec<CoreFunc>,
    /// Core memories and tables: aliases of core instance exports.
    memories: Vec<(u32, String)>,
    tables: Vec<(u32, String)>,
    component_funcs: Vec<Item>,
    component_instances: Vec<Item>,
    types: Vec<Item>,
}

/// What origins need of a core module.
#[derive(Default)]
struct ModuleInfo {
    /// Every import: (module, field, kind).
    imports: Vec<(String, String, ExternalKind)>,
    exports: HashMap<String, (ExternalKind, u32)>,
    /// Defined functions that are wit-component shims: function index -> (table, slot).
    shims: HashMap<u32, (u32, u32)>,
    /// Active element segments with a constant offset: (table, offset, function indices).
    elements: Vec<(u32, u32, Vec<u32>)>,
    /// The start function, if any.
    start: Option<u32>,
    /// With a start function: the functions each defined function calls directly (by function
    /// index), and whether it makes any indirect call (None).
    calls: HashMap<u32, Option<Vec<u32>>>,
    /// How many memories it defines.
    memories: u32,
    /// How many functions it defines.
    defined: u32,
}

impl ModuleInfo {
    fn read(bytes: &[u8]) -> Result<ModuleInfo, Refused> {
        let bad = |e: wasmparser::BinaryReaderError| Refused(format!("a core module: {e}"));
        let mut info = ModuleInfo::default();
        let mut func_index = 0;
        for payload in Parser::new(0).parse_all(bytes) {
            match payload.map_err(bad)? {
                Payload::ImportSection(s) => {
                    for import in s.into_imports() {
                        let import = import.map_err(bad)?;
                        let kind = match import.ty {
                            TypeRef::Func(_) | TypeRef::FuncExact(_) => ExternalKind::Func,
                            TypeRef::Table(_) => ExternalKind::Table,
                            TypeRef::Memory(_) => ExternalKind::Memory,
                            TypeRef::Global(_) => ExternalKind::Global,
                            TypeRef::Tag(_) => ExternalKind::Tag,
                        };
                        if kind == ExternalKind::Func {
                            func_index += 1;
                        }
                        info.imports
                            .push((import.module.into(), import.name.into(), kind));
                    }
                }
                Payload::ExportSection(s) => {
                    for export in s {
                        let export = export.map_err(bad)?;
                        info.exports
                            .insert(export.name.into(), (export.kind, export.index));
                    }
                }
                Payload::StartSection { func, .. } => info.start = Some(func),
                Payload::MemorySection(s) => info.memories = s.count(),
                Payload::FunctionSection(s) => info.defined = s.count(),
                Payload::ElementSection(s) => {
                    for element in s {
                        let element = element.map_err(bad)?;
                        let ElementKind::Active {
                            table_index,
                            offset_expr,
                        } = element.kind
                        else {
                            continue;
                        };
                        let mut ops = offset_expr.get_operators_reader();
                        let Ok(Operator::I32Const { value }) = ops.read() else {
                            continue;
                        };
                        let ElementItems::Functions(funcs) = element.items else {
                            continue;
                        };
                        let funcs = funcs.into_iter().collect::<Result<Vec<_>, _>>();
                        info.elements.push((
                            table_index.unwrap_or(0),
                            value as u32,
                            funcs.map_err(bad)?,
                        ));
                    }
                }
                Payload::CodeSectionEntry(body) => {
                    if let Some(shim) = shim_of(&body) {
                        info.shims.insert(func_index, shim);
                    }
                    if info.start.is_some() {
                        info.calls.insert(func_index, callees(&body).map_err(bad)?);
                    }
                    func_index += 1;
                }
                _ => {}
            }
        }
        Ok(info)
    }

    /// Whether the start function (if any) runs this module's own code only: no import, no
    /// indirect call, however deep.
    fn start_stays_inside(&self) -> bool {
        let Some(start) = self.start else {
            return true;
        };
        let mut todo = vec![start];
        let mut seen = HashSet::new();
        while let Some(f) = todo.pop() {
            if !seen.insert(f) {
                continue;
            }
            match self.calls.get(&f) {
                Some(Some(callees)) => todo.extend(callees),
                // An import, or an indirect call.
                _ => return false,
            }
        }
        true
    }

    /// The (module, field) of each function import, in order.
    fn func_imports(&self) -> impl Iterator<Item = (&str, &str)> {
        self.imports
            .iter()
            .filter(|(_, _, k)| *k == ExternalKind::Func)
            .map(|(m, f, _)| (m.as_str(), f.as_str()))
    }

    /// The `index`-th import of `kind`, if `index` is an import.
    fn import_of(&self, kind: ExternalKind, index: u32) -> Option<(&str, &str)> {
        self.imports
            .iter()
            .filter(|(_, _, k)| *k == kind)
            .nth(index as usize)
            .map(|(m, f, _)| (m.as_str(), f.as_str()))
    }
}

/// `(table, slot)` if `body` is a wit-component shim: `local.get 0 .. n-1`, `i32.const slot`,
/// `call_indirect` on `table`, `end`, and nothing else.
fn shim_of(body: &wasmparser::FunctionBody<'_>) -> Option<(u32, u32)> {
    let mut ops = body.get_operators_reader().ok()?;
    let mut next_local = 0;
    let slot = loop {
        match ops.read().ok()? {
            Operator::LocalGet { local_index } if local_index == next_local => next_local += 1,
            Operator::I32Const { value } => break value as u32,
            _ => return None,
        }
    };
    let Operator::CallIndirect { table_index, .. } = ops.read().ok()? else {
        return None;
    };
    matches!(ops.read().ok()?, Operator::End)
        .then_some(())
        .filter(|()| ops.eof())
        .map(|()| (table_index, slot))
}

/// The functions `body` calls directly, or None if it makes an indirect call.
fn callees(
    body: &wasmparser::FunctionBody<'_>,
) -> Result<Option<Vec<u32>>, wasmparser::BinaryReaderError> {
    let mut out = Vec::new();
    let mut ops = body.get_operators_reader()?;
    while !ops.eof() {
        match ops.read()? {
            Operator::Call { function_index } | Operator::ReturnCall { function_index } => {
                out.push(function_index)
            }
            Operator::CallIndirect { .. }
            | Operator::ReturnCallIndirect { .. }
            | Operator::CallRef { .. }
            | Operator::ReturnCallRef { .. } => return Ok(None),
            _ => {}
        }
    }
    Ok(Some(out))
}

impl Component {
    fn read(bytes: &[u8]) -> Result<Component, Refused> {
        let bad = |e: wasmparser::BinaryReaderError| Refused(format!("the component: {e}"));
        let mut c = Component {
            modules: Vec::new(),
            instances: Vec::new(),
            funcs: Vec::new(),
            memories: Vec::new(),
            tables: Vec::new(),
            component_funcs: Vec::new(),
            component_instances: Vec::new(),
            types: Vec::new(),
        };
        let mut parser = Parser::new(0);
        let mut offset = 0usize;
        loop {
            let rest = bytes
                .get(offset..)
                .ok_or_else(|| Refused("the component is cut short".into()))?;
            let (consumed, payload) = match parser.parse(rest, true).map_err(bad)? {
                wasmparser::Chunk::Parsed { consumed, payload } => (consumed, payload),
                wasmparser::Chunk::NeedMoreData(_) => refuse!("the component is cut short"),
            };
            offset += consumed;
            match payload {
                Payload::End(_) => break,
                Payload::ModuleSection {
                    unchecked_range, ..
                } => {
                    let module = bytes
                        .get(unchecked_range.start as usize..unchecked_range.end as usize)
                        .ok_or_else(|| Refused("a module past the end".into()))?;
                    c.modules.push(Some(ModuleInfo::read(module)?));
                    offset = unchecked_range.end as usize;
                }
                Payload::ComponentSection {
                    unchecked_range, ..
                } => {
                    let nested = bytes
                        .get(unchecked_range.start as usize..unchecked_range.end as usize)
                        .ok_or_else(|| Refused("a component past the end".into()))?;
                    if has_code(nested).map_err(bad)? {
                        refuse!("a nested component has core code of its own");
                    }
                    offset = unchecked_range.end as usize;
                }
                Payload::ComponentStartSection { .. } => {
                    refuse!("the component has a start function")
                }
                Payload::ComponentImportSection(s) => {
                    for import in s {
                        let import = import.map_err(bad)?;
                        let item = Item::Import {
                            name: import.name.name.to_string(),
                        };
                        match import.ty {
                            ComponentTypeRef::Module(_) => c.modules.push(None),
                            ComponentTypeRef::Func(_) => c.component_funcs.push(item),
                            ComponentTypeRef::Instance(_) => c.component_instances.push(item),
                            ComponentTypeRef::Type(_) => c.types.push(item),
                            _ => {}
                        }
                    }
                }
                Payload::ComponentExportSection(s) => {
                    for export in s {
                        let export = export.map_err(bad)?;
                        let i = export.index as usize;
                        match export.kind {
                            ComponentExternalKind::Module => {
                                c.modules.push(None);
                            }
                            ComponentExternalKind::Func => {
                                let same = c.component_funcs.get(i).cloned();
                                c.component_funcs.push(same.unwrap_or(Item::Other));
                            }
                            ComponentExternalKind::Instance => {
                                let same = c.component_instances.get(i).cloned();
                                c.component_instances.push(same.unwrap_or(Item::Other));
                            }
                            ComponentExternalKind::Type => {
                                let same = c.types.get(i).cloned();
                                c.types.push(same.unwrap_or(Item::Other));
                            }
                            _ => {}
                        }
                    }
                }
                Payload::ComponentAliasSection(s) => {
                    for alias in s {
                        match alias.map_err(bad)? {
                            ComponentAlias::InstanceExport {
                                kind,
                                instance_index,
                                name,
                            } => {
                                let item = Item::Export {
                                    instance: instance_index,
                                    name: name.into(),
                                };
                                match kind {
                                    ComponentExternalKind::Module => c.modules.push(None),
                                    ComponentExternalKind::Func => c.component_funcs.push(item),
                                    ComponentExternalKind::Instance => {
                                        c.component_instances.push(item)
                                    }
                                    ComponentExternalKind::Type => c.types.push(item),
                                    _ => {}
                                }
                            }
                            ComponentAlias::CoreInstanceExport {
                                kind,
                                instance_index,
                                name,
                            } => {
                                let at = (instance_index, name.to_string());
                                match kind {
                                    ExternalKind::Func | ExternalKind::FuncExact => {
                                        c.funcs.push(CoreFunc::Export {
                                            instance: at.0,
                                            name: at.1,
                                        })
                                    }
                                    ExternalKind::Memory => c.memories.push(at),
                                    ExternalKind::Table => c.tables.push(at),
                                    _ => {}
                                }
                            }
                            ComponentAlias::Outer { kind, .. } => match kind {
                                ComponentOuterAliasKind::CoreModule => c.modules.push(None),
                                ComponentOuterAliasKind::Type => c.types.push(Item::Other),
                                _ => {}
                            },
                        }
                    }
                }
                Payload::ComponentTypeSection(s) => {
                    for _ in 0..s.count() {
                        c.types.push(Item::Other);
                    }
                }
                Payload::ComponentInstanceSection(s) => {
                    for _ in 0..s.count() {
                        c.component_instances.push(Item::Other);
                    }
                }
                Payload::ComponentCanonicalSection(s) => {
                    for canon in s {
                        match canon.map_err(bad)? {
                            CanonicalFunction::Lift { .. } => c.component_funcs.push(Item::Other),
                            CanonicalFunction::Lower {
                                func_index,
                                options,
                            } => {
                                let mut lower = CoreFunc::Lower {
                                    func: func_index,
                                    memory: None,
                                    realloc: None,
                                    utf8: true,
                                    is_async: false,
                                };
                                if let CoreFunc::Lower {
                                    memory,
                                    realloc,
                                    utf8,
                                    is_async,
                                    ..
                                } = &mut lower
                                {
                                    for option in options.iter() {
                                        match option {
                                            CanonicalOption::Memory(m) => *memory = Some(*m),
                                            CanonicalOption::Realloc(f) => *realloc = Some(*f),
                                            CanonicalOption::UTF16
                                            | CanonicalOption::CompactUTF16 => *utf8 = false,
                                            CanonicalOption::Async
                                            | CanonicalOption::Callback(_) => *is_async = true,
                                            _ => {}
                                        }
                                    }
                                }
                                c.funcs.push(lower);
                            }
                            CanonicalFunction::ResourceDrop { resource } => {
                                c.funcs.push(CoreFunc::ResourceDrop { ty: resource })
                            }
                            _ => c.funcs.push(CoreFunc::Other),
                        }
                    }
                }
                Payload::InstanceSection(s) => {
                    for instance in s {
                        c.instances.push(match instance.map_err(bad)? {
                            Instance::Instantiate { module_index, args } => CoreInstance::Module {
                                module: module_index,
                                args: args.iter().map(|a| (a.name.to_string(), a.index)).collect(),
                            },
                            Instance::FromExports(exports) => CoreInstance::FromExports(
                                exports
                                    .iter()
                                    .map(|e| (e.name.to_string(), e.kind, e.index))
                                    .collect(),
                            ),
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(c)
    }

    /// The host call core function `func` makes when called directly, if it is one.
    fn host_call(&self, func: &CoreFunc) -> Result<Option<HostCall>, Refused> {
        Ok(match func {
            CoreFunc::Lower {
                func,
                utf8,
                is_async,
                ..
            } => {
                let call = match self.component_funcs.get(*func as usize) {
                    Some(Item::Import { name }) => HostCall::Func {
                        interface: None,
                        name: name.clone(),
                    },
                    Some(Item::Export { instance, name }) => {
                        match self.component_instances.get(*instance as usize) {
                            Some(Item::Import { name: interface }) => HostCall::Func {
                                interface: Some(interface.clone()),
                                name: name.clone(),
                            },
                            _ => return Ok(None),
                        }
                    }
                    _ => return Ok(None),
                };
                if !utf8 {
                    refuse!(
                        "`{}` is lowered with a string encoding other than UTF-8",
                        show(&call)
                    );
                }
                if *is_async {
                    refuse!("`{}` is lowered async (component-model async)", show(&call));
                }
                Some(call)
            }
            CoreFunc::ResourceDrop { ty } => match self.types.get(*ty as usize) {
                Some(Item::Export { instance, name }) => {
                    match self.component_instances.get(*instance as usize) {
                        Some(Item::Import { name: interface }) => Some(HostCall::Drop {
                            interface: interface.clone(),
                            resource: name.clone(),
                        }),
                        _ => None,
                    }
                }
                _ => None,
            },
            CoreFunc::Export { .. } | CoreFunc::Other => None,
        })
    }

    /// Follows import `(module, field)` of module instance `instance`.
    fn import_origin(
        &self,
        instance: u32,
        module: &str,
        field: &str,
        depth: u32,
    ) -> Result<Resolved, Refused> {
        let Some(CoreInstance::Module { args, .. }) = self.instances.get(instance as usize) else {
            return Ok(Resolved::Internal);
        };
        match args.iter().find(|(name, _)| name == module) {
            Some((_, arg)) => self.export_origin(*arg, field, depth + 1),
            None => Ok(Resolved::Internal),
        }
    }

    /// Follows function export `name` of core instance `instance`.
    fn export_origin(&self, instance: u32, name: &str, depth: u32) -> Result<Resolved, Refused> {
        if depth > MAX_DEPTH {
            refuse!("the chain of imports and exports is too long to follow");
        }
        match self.instances.get(instance as usize) {
            Some(CoreInstance::FromExports(items)) => {
                match items
                    .iter()
                    .find(|(n, k, _)| n == name && matches!(k, ExternalKind::Func))
                {
                    Some((_, _, func)) => self.func_origin(*func, depth + 1),
                    None => Ok(Resolved::Internal),
                }
            }
            Some(CoreInstance::Module { module, .. }) => {
                let Some(Some(info)) = self.modules.get(*module as usize) else {
                    return Ok(Resolved::Internal);
                };
                let Some((ExternalKind::Func, f)) = info.exports.get(name).copied() else {
                    return Ok(Resolved::Internal);
                };
                if info.import_of(ExternalKind::Func, f).is_some() {
                    // That module's own import, passed on: its stub records the call.
                    return Ok(Resolved::Reexport);
                }
                if let Some((table, slot)) = info.shims.get(&f).copied() {
                    return self.shim_origin(instance, info, table, slot, depth + 1);
                }
                Ok(Resolved::Internal)
            }
            None => Ok(Resolved::Internal),
        }
    }

    /// Follows core function `func` of the component.
    fn func_origin(&self, func: u32, depth: u32) -> Result<Resolved, Refused> {
        let Some(f) = self.funcs.get(func as usize) else {
            return Ok(Resolved::Internal);
        };
        if let CoreFunc::Export { instance, name } = f {
            return self.export_origin(*instance, name, depth + 1);
        }
        Ok(match self.host_call(f)? {
            Some(call) => Resolved::Host {
                call,
                lowered: func,
            },
            None => Resolved::Internal,
        })
    }

    /// Follows slot `slot` of table `table` of the shim module `info` instantiated as `instance`:
    /// the function an active element segment of a later (fixup) instance puts there.
    fn shim_origin(
        &self,
        instance: u32,
        info: &ModuleInfo,
        table: u32,
        slot: u32,
        depth: u32,
    ) -> Result<Resolved, Refused> {
        let target = self.table_in(instance, info, table, depth)?;
        for (filler, inst) in self.instances.iter().enumerate() {
            let CoreInstance::Module { module, .. } = inst else {
                continue;
            };
            let Some(Some(fixup)) = self.modules.get(*module as usize) else {
                continue;
            };
            for (t, offset, funcs) in &fixup.elements {
                let Some(at) = slot.checked_sub(*offset) else {
                    continue;
                };
                let Some(f) = funcs.get(at as usize) else {
                    continue;
                };
                if self.table_in(filler as u32, fixup, *t, depth)? != target {
                    continue;
                }
                return match fixup.import_of(ExternalKind::Func, *f) {
                    Some((m, field)) => self.import_origin(filler as u32, m, field, depth + 1),
                    None => Ok(Resolved::Internal),
                };
            }
        }
        Ok(Resolved::Internal)
    }

    /// The identity of table `table` of module `info` instantiated as `instance`.
    fn table_in(
        &self,
        instance: u32,
        info: &ModuleInfo,
        table: u32,
        depth: u32,
    ) -> Result<Option<Identity>, Refused> {
        self.item_in(ExternalKind::Table, instance, info, table, depth)
    }

    /// The identity of the table or memory `index` (of `kind`) of module `info` instantiated as
    /// `instance`: followed through its imports to the module that defines it.
    fn item_in(
        &self,
        kind: ExternalKind,
        instance: u32,
        info: &ModuleInfo,
        index: u32,
        depth: u32,
    ) -> Result<Option<Identity>, Refused> {
        if depth > MAX_DEPTH {
            refuse!("the chain of imports and exports is too long to follow");
        }
        let Some((module, field)) = info.import_of(kind, index) else {
            let imported = info.imports.iter().filter(|(_, _, k)| *k == kind).count() as u32;
            return Ok(index.checked_sub(imported).map(|_| (instance, index)));
        };
        let Some(CoreInstance::Module { args, .. }) = self.instances.get(instance as usize) else {
            return Ok(None);
        };
        let Some((_, arg)) = args.iter().find(|(name, _)| name == module) else {
            return Ok(None);
        };
        self.exported_item(kind, *arg, field, depth + 1)
    }

    /// The identity of the table or memory exported as `name` by core instance `instance`.
    fn exported_item(
        &self,
        kind: ExternalKind,
        instance: u32,
        name: &str,
        depth: u32,
    ) -> Result<Option<Identity>, Refused> {
        if depth > MAX_DEPTH {
            refuse!("the chain of imports and exports is too long to follow");
        }
        match self.instances.get(instance as usize) {
            Some(CoreInstance::FromExports(items)) => {
                let Some((_, _, index)) = items.iter().find(|(n, k, _)| n == name && *k == kind)
                else {
                    return Ok(None);
                };
                let aliases = if kind == ExternalKind::Memory {
                    &self.memories
                } else {
                    &self.tables
                };
                match aliases.get(*index as usize) {
                    Some((inst, n)) => self.exported_item(kind, *inst, n, depth + 1),
                    None => Ok(None),
                }
            }
            Some(CoreInstance::Module { module, .. }) => {
                let Some(Some(info)) = self.modules.get(*module as usize) else {
                    return Ok(None);
                };
                match info.exports.get(name) {
                    Some((k, index)) if *k == kind => {
                        self.item_in(kind, instance, info, *index, depth + 1)
                    }
                    _ => Ok(None),
                }
            }
            None => Ok(None),
        }
    }

    /// Core function `func` of the component as module `info` instantiated as `instance` numbers
    /// it, when it is that instance's own export.
    fn own_function(&self, instance: u32, info: &ModuleInfo, func: u32) -> Option<u32> {
        match self.funcs.get(func as usize)? {
            CoreFunc::Export { instance: i, name } if *i == instance => {
                match info.exports.get(name) {
                    Some((ExternalKind::Func | ExternalKind::FuncExact, index)) => Some(*index),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The identity of core memory `memory` of the component.
    fn memory_identity(&self, memory: u32, depth: u32) -> Result<Option<Identity>, Refused> {
        match self.memories.get(memory as usize) {
            Some((instance, name)) => {
                self.exported_item(ExternalKind::Memory, *instance, name, depth + 1)
            }
            None => Ok(None),
        }
    }

    /// The index, in module `info` instantiated as `instance`, of the memory `target`, if the
    /// module sees it.
    fn module_memory(
        &self,
        instance: u32,
        info: &ModuleInfo,
        target: Option<Identity>,
    ) -> Result<Option<u32>, Refused> {
        let Some(target) = target else {
            return Ok(None);
        };
        let imported = info
            .imports
            .iter()
            .filter(|(_, _, k)| *k == ExternalKind::Memory)
            .count() as u32;
        for m in 0..imported + info.memories {
            if self.item_in(ExternalKind::Memory, instance, info, m, 0)? == Some(target) {
                return Ok(Some(m));
            }
        }
        Ok(None)
    }
}

/// Whether a nested component (or one nested in it) contains a core module.
fn has_code(bytes: &[u8]) -> Result<bool, wasmparser::BinaryReaderError> {
    for payload in Parser::new(0).parse_all(bytes) {
        if let Payload::ModuleSection { .. } = payload? {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wit_component::{ComponentEncoder, StringEncoding};
    use wit_parser::{LiftLowerAbi, ManglingAndAbi, Resolve};

    /// A component as wit-component makes it from a module with `world`'s imports (bodies
    /// `unreachable`): the imports that need the module's memory go through a shim and a fixup.
    fn component(wit: &str) -> Vec<u8> {
        let mut resolve = Resolve::default();
        let pkg = resolve.push_str("world.wit", wit).expect("WIT");
        let world = resolve.select_world(&[pkg], None).expect("world");
        let mut module = wit_component::dummy_module(
            &resolve,
            world,
            ManglingAndAbi::Legacy(LiftLowerAbi::Sync),
        );
        wit_component::embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8)
            .expect("metadata");
        ComponentEncoder::default()
            .module(&module)
            .expect("module")
            .validate(true)
            .encode()
            .expect("encodes")
    }

    const WIT: &str = r#"
        package test:origins;
        interface files {
            resource file { read: func(n: u32) -> list<u8>; size: func() -> u64; }
            open: func(path: string) -> result<file, u32>;
            count: func() -> u32;
        }
        world w {
            import files;
            import tick: func() -> u64;
            export run: func();
        }"#;

    fn func(interface: Option<&str>, name: &str) -> HostCall {
        HostCall::Func {
            interface: interface.map(str::to_string),
            name: name.into(),
        }
    }

    #[test]
    fn every_import_of_the_guest_module_is_found_through_shims_and_fixups() {
        let bytes = component(WIT);
        let origins = origins(&bytes).expect("spliceable");
        let recording: Vec<_> = origins.iter().filter(|m| m.records()).collect();
        assert_eq!(
            recording.len(),
            1,
            "only the guest's module records: {origins:?}"
        );
        let mut found: Vec<_> = recording[0]
            .imports
            .iter()
            .filter_map(|o| match o {
                ImportOrigin::Host { call, memory, .. } => Some((call.clone(), *memory)),
                ImportOrigin::Internal => None,
            })
            .collect();
        found.sort_by_key(|(c, _)| format!("{c:?}"));
        let files = Some("test:origins/files");
        let mut expected = vec![
            // Pointers (a string, a list or a return area) go through the shim, with memory 0.
            (func(files, "open"), Some(0)),
            (func(files, "[method]file.read"), Some(0)),
            // Flat in and out: lowered without a memory, imported directly.
            (func(files, "[method]file.size"), None),
            (func(files, "count"), None),
            (func(None, "tick"), None),
            (
                HostCall::Drop {
                    interface: "test:origins/files".into(),
                    resource: "file".into(),
                },
                None,
            ),
        ];
        expected.sort_by_key(|(c, _)| format!("{c:?}"));
        assert_eq!(found, expected);
        // The shim and the fixup module record nothing.
        for m in origins.iter().filter(|m| !m.records()) {
            assert!(m.imports.iter().all(|o| *o == ImportOrigin::Internal));
        }
    }

    #[test]
    fn the_real_cli_guest_has_every_host_call_in_its_own_module() {
        let bytes = std::fs::read(proxyrt_test_guests::CLI).expect("the cli guest is built");
        let origins = origins(&bytes).expect("spliceable");
        let info = crate::analyze(&bytes).expect("analyzes");
        let known: HashSet<HostCall> = info
            .intercepted_functions()
            .map(|f| match &f.function.kind {
                recorder_host::types::FuncKind::Drop(r) => HostCall::Drop {
                    interface: f.interface.unwrap_or_default().to_string(),
                    resource: r.name.clone(),
                },
                _ => func(f.interface, &f.function.name),
            })
            .collect();
        let recording: Vec<_> = origins.iter().filter(|m| m.records()).collect();
        assert_eq!(recording.len(), 1, "{origins:?}");
        let calls: Vec<_> = recording[0]
            .imports
            .iter()
            .filter_map(|o| match o {
                ImportOrigin::Host { call, .. } => Some(call),
                ImportOrigin::Internal => None,
            })
            .collect();
        assert!(calls.len() > 30, "{calls:?}");
        for call in &calls {
            assert!(known.contains(call), "{call:?} is not in the ComponentInfo");
        }
        assert!(calls.contains(&&func(Some("wasi:cli/stdout@0.2.12"), "get-stdout")));
        assert!(calls.contains(&&func(
            Some("wasi:io/streams@0.2.12"),
            "[method]output-stream.write"
        )));
    }

    #[test]
    fn what_a_stub_cannot_record_is_refused() {
        // A host call made by a module that does not see the memory the lowering points into.
        let bytes = wat::parse_str(
            r#"(component
                (import "host" (instance $h (export "log" (func (param "s" string)))))
                (core module $mem (memory (export "memory") 1))
                (core instance $m (instantiate $mem))
                (alias core export $m "memory" (core memory $memory))
                (alias export $h "log" (func $log))
                (core func $lowered (canon lower (func $log) (memory $memory)))
                (core module $user
                    (import "host" "log" (func (param i32 i32)))
                    (func (export "go") i32.const 0 i32.const 0 call 0))
                (core instance (instantiate $user
                    (with "host" (instance (export "log" (func $lowered)))))))"#,
        )
        .expect("WAT");
        let refused = origins(&bytes).expect_err("refused");
        assert!(refused.0.contains("a memory it does not see"), "{refused}");

        // A host call no module is given (a path the analysis does not follow).
        let bytes = wat::parse_str(
            r#"(component
                (import "host" (instance $h (export "tick" (func))))
                (alias export $h "tick" (func $tick))
                (core func (canon lower (func $tick))))"#,
        )
        .expect("WAT");
        let refused = origins(&bytes).expect_err("refused");
        assert!(refused.0.contains("host#tick"), "{refused}");
    }

    #[test]
    fn a_reexported_host_call_is_recorded_once_where_it_is_imported() {
        // `$adapter` imports the host call and passes it on to `$main`, which calls it: the
        // adapter's stub records it; `$main`'s import is internal.
        let bytes = wat::parse_str(
            r#"(component
                (import "host" (instance $h (export "tick" (func))))
                (alias export $h "tick" (func $tick))
                (core func $lowered (canon lower (func $tick)))
                (core module $adapter
                    (import "host" "tick" (func $t))
                    (export "tick" (func $t))
                    (func (export "own")))
                (core instance $a (instantiate $adapter
                    (with "host" (instance (export "tick" (func $lowered))))))
                (core module $main
                    (import "adapter" "tick" (func))
                    (import "adapter" "own" (func))
                    (func (export "go") call 0 call 1))
                (core instance (instantiate $main (with "adapter" (instance $a)))))"#,
        )
        .expect("WAT");
        let origins = origins(&bytes).expect("spliceable");
        assert_eq!(
            origins[0].imports,
            vec![ImportOrigin::Host {
                call: func(Some("host"), "tick"),
                memory: None,
                realloc: Realloc::None,
            }]
        );
        assert_eq!(origins[1].imports, vec![ImportOrigin::Internal; 2]);
    }
}

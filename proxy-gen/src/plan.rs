//! The proxy's plan: every policy decision about a component's proxy, as plain data, made before
//! any code is emitted.
//!
//! Why a separate pass: what the proxy does (which calls it intercepts and under which func-id,
//! which calls are reported before they are forwarded, whether handles are wrapped, what each
//! import of the guest becomes) is what the trace format and the runtime depend on, while the
//! emission (`synth`, `coremod`, `shim`) is only about index spaces. Deciding first keeps those
//! rules in one place, lets tests check them on real guests without reading wasm, and leaves the
//! emitters with nothing to decide.
//!
//! The plan names things the way the trace does (import names, function names, func-ids) and
//! points back into the decoded world by world-import position only, so it holds no wit-parser
//! type; [`PlannedFunction::wit`], [`PlannedImport::interface`], [`PlannedImport::world_type`]
//! and [`WrappedResource::type_id`] resolve it.

use anyhow::{anyhow, bail, Result};
use std::collections::{HashMap, HashSet};
use wit_parser::{
    Function, Handle, InterfaceId, LiveTypes, Resolve, Type, TypeDefKind, TypeId, TypeOwner,
    WorldItem,
};

use crate::abi;
use crate::analyze::Decoded;
use crate::error::unsupported;
use crate::mode::Mode;

/// What the proxy for one component in one mode does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The mode the proxy is built for.
    pub mode: Mode,
    /// How the guest's handles cross the proxy.
    pub handles: Handles,
    /// What each of the guest's imports becomes, in world import order.
    pub imports: Vec<PlannedImport>,
    /// Every intercepted function, in func-id order (`functions[k].id == k`): the stub order.
    pub functions: Vec<PlannedFunction>,
    /// The imported resources the proxy wraps in resource types of its own, in the order of
    /// their wrapper types and of their drops' func-ids (after the functions'); empty unless
    /// `handles` is [`Handles::Wrapped`].
    pub wrapped_resources: Vec<WrappedResource>,
    /// The `[export-handle]R` calls, in func-id order after the drops
    /// (`ComponentInfo::export_handles`): how the handles the host passes to the guest's exports
    /// reach the guest as wrappers. Empty unless `handles` is [`Handles::Wrapped`].
    pub export_handles: Vec<PlannedHandle>,
    /// The guest's exports that take such handles, which the export proxy wraps (DESIGN.md, fact
    /// 4), in world export order; every other export is the guest's own. Empty unless `handles`
    /// is [`Handles::Wrapped`].
    pub wrapped_exports: Vec<WrappedExport>,
    /// The wrapped resources (indices in `wrapped_resources`, ascending) that the wrapped exports
    /// reach: their types and handles cross between the proxy and the export proxy.
    pub export_resources: Vec<usize>,
}

/// One `[export-handle]R` call: the proxy wraps a handle of resource `R` the host created and
/// passed to an export (record: the host handle becomes the wrapper's rep; replay: the recorded
/// id does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlannedHandle {
    /// Its func-id.
    pub id: u32,
    /// The index of its resource in [`Plan::wrapped_resources`].
    pub resource: usize,
}

/// An exported interface of the guest whose functions take handles the host creates: the export
/// proxy exports it in the guest's place and hands each of those handles to the guest as a
/// wrapper (DESIGN.md, fact 4). Only what needs no memory is supported: every parameter is such
/// a handle or a scalar, every result a scalar, and the interface defines no type of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WrappedExport {
    /// The export name (`wasi:http/incoming-handler@0.2.6`).
    pub name: String,
    /// Its functions, in interface order.
    pub functions: Vec<WrappedExportFunction>,
    /// The position of the export in the world's exports.
    export: usize,
}

/// A function of a [`WrappedExport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WrappedExportFunction {
    /// Its name in the interface.
    pub name: String,
    /// Each parameter: `Some(k)`, a host handle wrapped by `export_handles[k]`; `None`, a scalar
    /// passed on as it is.
    pub params: Vec<Option<usize>>,
}

/// How handles cross the proxy (see DESIGN.md, "Wrapper resources").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Handles {
    /// The guest sees the proxy's wrapper resource types: a handle's id is the same in every
    /// build of the program, and a guest drop is a recorded call (record and replay).
    Wrapped,
    /// The guest sees the host's own resource types: owns move through untouched, lent borrows
    /// are dropped after the host call. Forward mode always; record mode when wrapping cannot
    /// work, with the reason (`blocker`).
    PassThrough {
        /// The imported resource that a guest export mentions, or that the guest imports at
        /// world level (`None` in forward mode, which never wraps).
        blocker: Option<String>,
    },
}

/// One function the proxy intercepts: a stub, and in record/replay a func-id of the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlannedFunction {
    /// The func-id: the index in `ComponentInfo::intercepted_functions`.
    pub id: u32,
    /// The import name of its interface (`None` for a bare function import).
    pub interface: Option<String>,
    /// The function's name (`[method]output-stream.write`).
    pub name: String,
    /// Record mode: report the call before forwarding it (`recorder.call`, then `recorder.ret`),
    /// because it may wait indefinitely or never return, rather than with its results once it
    /// returned (`recorder.record`). See `recorder_host::types::reported_before_forwarding`.
    pub reported_before_forwarding: bool,
    /// The position of its world import (the interface, or the bare function).
    import: usize,
}

/// A resource of an imported interface that the proxy wraps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WrappedResource {
    /// The func-id of its drop, `[resource-drop]name` (`ComponentInfo::resource_drops`).
    pub drop_id: u32,
    /// The import name of the interface that defines it.
    pub interface: String,
    /// The resource's name in that interface.
    pub name: String,
    /// The position of the interface's world import.
    import: usize,
}

/// What one import of the guest becomes in the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlannedImport {
    /// The import name.
    pub name: String,
    /// The position in the world's imports.
    pub import: usize,
    /// What the proxy does with it.
    pub kind: ImportKind,
}

/// See [`PlannedImport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ImportKind {
    /// An interface with nothing to intercept, imported and handed to the guest as the host's
    /// instance itself (no shim): smaller, and a guest export that `use`s its types keeps the
    /// `use` link (wasmparser renames a non-resource type through an instantiation to the
    /// argument's `created` id, which for a shim export is the shim's own definition). Replay
    /// passes types-only interfaces through so; runtimes need no definition for them.
    PassThroughInterface,
    /// An interface re-exported through a shim over the stubs `functions` (func-ids).
    Interface {
        /// Whether the proxy imports the host's instance (always when forwarding; on replay only
        /// a types-only interface, which then is passed through instead).
        imported: bool,
        /// The func-ids of its functions, in interface order.
        functions: std::ops::Range<u32>,
    },
    /// A bare function import: its stub, lifted and exported under the same name.
    Function {
        /// Its func-id.
        id: u32,
    },
    /// A world-level type, imported and re-exported.
    Type,
}

impl Plan {
    /// Decides the proxy of `decoded` in `mode`. Input the proxy cannot handle yet is reported
    /// here ([`crate::error::UnsupportedFeature`]), before anything is emitted.
    pub fn new(decoded: &Decoded, mode: Mode) -> Result<Plan> {
        let resolve = decoded.resolve();
        if let Some(name) = too_large_type(resolve) {
            // wit-parser's size computation panics on overflow, and no such value fits in a
            // wasm32 memory anyway (found by the fuzzer: nested `list<T, N>` of huge N).
            unsupported!(
                "the type `{name}` is larger than a 32-bit memory (nested fixed-length lists)"
            );
        }
        let world = &resolve.worlds[decoded.world()];
        let wrapping = export_wrapping(decoded);
        let handles = match (mode, &wrapping) {
            (Mode::Forward, _) => Handles::PassThrough { blocker: None },
            (Mode::Record, Ok(_)) | (Mode::Replay, Ok(_)) => Handles::Wrapped,
            (Mode::Record, Err(blocker)) => Handles::PassThrough {
                blocker: Some(blocker.clone()),
            },
            (Mode::Replay, Err(name)) => unsupported!(
                "replaying a component that imports the resource `{name}` at world level, or \
                 whose exports use it other than as an `own` parameter beside scalars, is not \
                 supported yet"
            ),
        };
        let wrap = handles == Handles::Wrapped;
        let forwards = mode.forwards();

        // Interface functions get their ids first (world order, then function order), bare
        // functions after them, as in `ComponentInfo::intercepted_functions`.
        let n_interface_funcs: usize = world
            .imports
            .values()
            .map(|item| match item {
                WorldItem::Interface { id, .. } => resolve.interfaces[*id].functions.len(),
                _ => 0,
            })
            .sum();
        let mut interface_funcs = Vec::new();
        let mut bare_funcs = Vec::new();
        let mut imports = Vec::new();
        // The interfaces the proxy imports from the host, so far (the world lists dependencies
        // first).
        let mut imported_ifaces = HashSet::new();
        // The types the exports mention (for world-level types, which exports cannot take yet).
        let mut exported_types = LiveTypes::default();
        for item in world.exports.values() {
            exported_types.add_world_item(resolve, item);
        }
        for (import, (key, item)) in world.imports.iter().enumerate() {
            let name = resolve.name_world_key(key);
            if mode.added_interface() == Some(name.as_str()) {
                unsupported!(
                    "the component itself imports `{name}`, the interface {mode:?} mode adds \
                     (instrumenting an already instrumented component?)"
                );
            }
            let kind = match item {
                WorldItem::Interface { id, .. } => {
                    let iface = &resolve.interfaces[*id];
                    if let Some(from) = used_interfaces(resolve, *id).find(|from| {
                        !world.imports.values().any(
                            |item| matches!(item, WorldItem::Interface { id, .. } if id == from),
                        )
                    }) {
                        // The component's import takes these types from an interface it only
                        // exports (found by the fuzzer): the proxy has no instance to take
                        // them from.
                        unsupported!(
                            "the imported interface `{name}` uses types of `{}`, which the \
                             component does not import",
                            resolve
                                .id_of(from)
                                .unwrap_or_else(|| "an inline interface".into())
                        );
                    }
                    // Resources it defines, or uses from another interface (`use x.{r}`, or a
                    // handle in a record): either way its types are the proxy's wrappers when
                    // the proxy wraps, not the host's (found by the fuzzer: a types-only
                    // interface `use`ing a resource was passed through on replay).
                    let has_resources = decoded.resource_types(*id).next().is_some()
                        || iface.types.values().any(|&t| {
                            matches!(
                                resolve.types[abi::dealias(resolve, t)].kind,
                                TypeDefKind::Resource
                            ) || abi::contains_handle(resolve, &Type::Id(t), &|_| true)
                        });
                    // A types-only interface (no functions, no resources) is imported even on
                    // replay: a guest export may `use` its types, and an export's types must be
                    // named by an import or export.
                    // ... and only if the interfaces its types come from (`use x.{t}`) are
                    // imported too (found by the fuzzer: one `use`d a type of an interface with
                    // functions, which replay does not import).
                    let types_only = iface.functions.is_empty()
                        && !has_resources
                        && used_interfaces(resolve, *id)
                            .all(|from| imported_ifaces.contains(&from));
                    let imported = forwards || types_only;
                    if imported {
                        imported_ifaces.insert(*id);
                    }
                    let first = interface_funcs.len() as u32;
                    for f in iface.functions.values() {
                        interface_funcs.push(planned(interface_funcs.len(), &name, f, import));
                    }
                    let functions = first..interface_funcs.len() as u32;
                    if imported && functions.is_empty() && !(wrap && has_resources) {
                        ImportKind::PassThroughInterface
                    } else {
                        ImportKind::Interface {
                            imported,
                            functions,
                        }
                    }
                }
                WorldItem::Function(f) => {
                    if f.params
                        .iter()
                        .any(|p| abi::contains_borrow(resolve, &p.ty))
                    {
                        // wac-graph 0.12 asserts (panics) when it re-encodes a root-level function
                        // type containing `borrow` (encoding.rs `borrow`: "!state.scopes.is_empty()").
                        unsupported!(
                            "bare function import `{name}` takes a `borrow<..>`: wac-graph 0.12 \
                             cannot compose root-level functions with borrows (put it in an \
                             interface)"
                        );
                    }
                    let id = n_interface_funcs + bare_funcs.len();
                    bare_funcs.push(PlannedFunction {
                        id: id as u32,
                        interface: None,
                        name: f.name.clone(),
                        reported_before_forwarding:
                            recorder_host::types::reported_before_forwarding(None, &f.name),
                        import,
                    });
                    ImportKind::Function { id: id as u32 }
                }
                WorldItem::Type { id, .. } => {
                    if matches!(resolve.types[*id].kind, TypeDefKind::Resource) {
                        // A resource the world defines itself, not an interface (a `use` of an
                        // interface's resource is an alias, and fine). The composition cannot
                        // name it: its functions became top-level exports beside no resource of
                        // the proxy's, and an export taking it did not validate (both found by
                        // the fuzzer). No WASI world does this.
                        unsupported!(
                            "the world defines the resource `{name}` itself; resources defined \
                             at world level (not in an interface) are not supported yet (define \
                             it in an interface)"
                        );
                    }
                    if exported_types.contains(*id) {
                        // The composition's export would name the proxy's re-export of the type,
                        // which no component-level import or export names: it does not validate
                        // (found by the fuzzer).
                        unsupported!(
                            "the world-level type `{name}` is used by an export; world-level \
                             types in exports are not supported yet (define it in an interface)"
                        );
                    }
                    ImportKind::Type
                }
            };
            imports.push(PlannedImport { name, import, kind });
        }
        let mut functions = interface_funcs;
        functions.append(&mut bare_funcs);

        let wrapped_resources = if wrap {
            imported_resources(decoded, functions.len())
        } else {
            Vec::new()
        };
        let (export_handles, wrapped_exports, export_resources) = match wrapping {
            Ok(exports) if wrap => {
                let first = functions.len() + wrapped_resources.len();
                planned_handles(decoded, &wrapped_resources, exports, first)?
            }
            _ => (Vec::new(), Vec::new(), Vec::new()),
        };
        let plan = Plan {
            mode,
            handles,
            imports,
            functions,
            wrapped_resources,
            export_handles,
            wrapped_exports,
            export_resources,
        };
        plan.check_func_ids(decoded)?;
        Ok(plan)
    }

    /// Whether the guest sees the proxy's wrapper resource types.
    pub fn wraps(&self) -> bool {
        self.handles == Handles::Wrapped
    }

    /// The stub index of a function is its recorder func-id, which the runtime and the trace
    /// resolve with [`crate::ComponentInfo::intercepted_functions`]: the two orders must never
    /// drift apart, so every plan checks them (cheap next to the synthesis itself). The same goes
    /// for the drops, numbered after the functions in the order of the wrapper types, and the
    /// export handles after them; a proxy that wraps nothing reports neither.
    fn check_func_ids(&self, decoded: &Decoded) -> Result<()> {
        let info = decoded.info();
        let expected: Vec<(Option<&str>, String)> = info
            .intercepted_functions()
            .take(if self.wrapped_resources.is_empty() {
                self.functions.len()
            } else {
                usize::MAX
            })
            .map(|f| (f.interface, f.function.name.clone()))
            .collect();
        let actual: Vec<(Option<&str>, String)> = self
            .functions
            .iter()
            .map(|f| (f.interface.as_deref(), f.name.clone()))
            .chain(self.wrapped_resources.iter().map(|r| {
                (
                    Some(r.interface.as_str()),
                    format!("[resource-drop]{}", r.name),
                )
            }))
            .chain(self.export_handles.iter().map(|h| {
                let r = &self.wrapped_resources[h.resource];
                (
                    Some(r.interface.as_str()),
                    format!("[export-handle]{}", r.name),
                )
            }))
            .collect();
        if expected != actual {
            bail!("stub order differs from `intercepted_functions`: {actual:?} vs {expected:?}");
        }
        Ok(())
    }
}

impl PlannedFunction {
    /// Its WIT function in `decoded` (the component the plan was made for).
    pub fn wit<'a>(&self, decoded: &'a Decoded) -> Result<&'a Function> {
        match world_item(decoded, self.import)? {
            WorldItem::Interface { id, .. } => decoded.resolve().interfaces[*id]
                .functions
                .get(&self.name)
                .ok_or_else(|| anyhow!("planned function `{}` is not in its interface", self.name)),
            WorldItem::Function(func) => Ok(func),
            WorldItem::Type { .. } => bail!("planned function `{}` is a type import", self.name),
        }
    }
}

impl PlannedImport {
    /// Its interface in `decoded`, for an [`ImportKind::Interface`] or
    /// [`ImportKind::PassThroughInterface`].
    pub fn interface(&self, decoded: &Decoded) -> Result<InterfaceId> {
        match world_item(decoded, self.import)? {
            WorldItem::Interface { id, .. } => Ok(*id),
            _ => bail!("planned import `{}` is not an interface", self.name),
        }
    }

    /// Its WIT type in `decoded`, for an [`ImportKind::Type`].
    pub fn world_type(&self, decoded: &Decoded) -> Result<TypeId> {
        match world_item(decoded, self.import)? {
            WorldItem::Type { id, .. } => Ok(*id),
            _ => bail!("planned import `{}` is not a type", self.name),
        }
    }
}

impl WrappedResource {
    /// The resource type in `decoded` (as its interface defines it).
    pub fn type_id(&self, decoded: &Decoded) -> Result<TypeId> {
        let WorldItem::Interface { id, .. } = world_item(decoded, self.import)? else {
            bail!("wrapped resource `{}` is not in an interface", self.name);
        };
        decoded.resolve().interfaces[*id]
            .types
            .get(&self.name)
            .copied()
            .ok_or_else(|| anyhow!("wrapped resource `{}` is not in its interface", self.name))
    }
}

fn planned(id: usize, interface: &str, f: &Function, import: usize) -> PlannedFunction {
    PlannedFunction {
        id: id as u32,
        interface: Some(interface.to_string()),
        name: f.name.clone(),
        reported_before_forwarding: recorder_host::types::reported_before_forwarding(
            Some(interface),
            &f.name,
        ),
        import,
    }
}

/// Whether the proxy can wrap the guest's handles: `Ok` with the exports the export proxy must
/// wrap (in world export order; see [`WrappedExport`]), or `Err` with the imported resource that
/// prevents it: the first one that a guest export mentions in a way the export proxy cannot
/// handle (DESIGN.md, fact 4), else the first resource imported at world level (only the
/// resources of imported interfaces get wrapper types).
fn export_wrapping(decoded: &Decoded) -> std::result::Result<Vec<(usize, InterfaceId)>, String> {
    let resolve = decoded.resolve();
    let world = &resolve.worlds[decoded.world()];
    if let Some(name) = world.imports.iter().find_map(|(key, item)| match item {
        WorldItem::Type { id, .. }
            if matches!(
                resolve.types[abi::dealias(resolve, *id)].kind,
                TypeDefKind::Resource
            ) =>
        {
            Some(resolve.name_world_key(key))
        }
        _ => None,
    }) {
        return Err(name);
    }
    let imported = imported_interfaces(world);
    let mut wrapped = Vec::new();
    for (export, item) in world.exports.values().enumerate() {
        let Some(resource) = exported_imported_resource(resolve, &imported, item) else {
            continue;
        };
        match item {
            WorldItem::Interface { id, .. } if wrappable(resolve, &imported, *id) => {
                wrapped.push((export, *id))
            }
            _ => return Err(resource),
        }
    }
    Ok(wrapped)
}

/// The interfaces `world` imports.
fn imported_interfaces(world: &wit_parser::World) -> HashSet<InterfaceId> {
    world
        .imports
        .values()
        .filter_map(|item| match item {
            WorldItem::Interface { id, .. } => Some(*id),
            _ => None,
        })
        .collect()
}

/// Whether the export proxy can wrap exported interface `id`: it defines no type of its own (its
/// types are `use`s of imported resources), and each of its functions is synchronous and takes
/// only `own` handles of imported resources and scalars and returns a scalar or nothing, so
/// that the wrapper needs no memory.
fn wrappable(resolve: &Resolve, imported: &HashSet<InterfaceId>, id: InterfaceId) -> bool {
    let iface = &resolve.interfaces[id];
    let types_are_imported_resources = iface
        .types
        .values()
        .all(|t| imported_resource(resolve, imported, *t));
    let functions_are_flat = iface.functions.values().all(|f| {
        matches!(f.kind, wit_parser::FunctionKind::Freestanding)
            && f.params
                .iter()
                .all(|p| host_handle(resolve, imported, &p.ty) || abi::is_scalar(resolve, &p.ty))
            && f.result.as_ref().is_none_or(|t| abi::is_scalar(resolve, t))
    });
    // Each handle parameter's resource is one of the interface's `use`s: the export shim names
    // it there. One flat value per parameter, at most 16: no parameter area in memory.
    let handles_are_used = iface.functions.values().all(|f| {
        f.params.len() <= 16
            && f.params
                .iter()
                .all(|p| match host_handle_resource(resolve, imported, &p.ty) {
                    Some(r) => iface.types.values().any(|t| abi::dealias(resolve, *t) == r),
                    None => true,
                })
    });
    types_are_imported_resources && functions_are_flat && handles_are_used
}

/// Whether `t` is (an alias of) a resource of an imported interface.
fn imported_resource(resolve: &Resolve, imported: &HashSet<InterfaceId>, t: TypeId) -> bool {
    let def = &resolve.types[abi::dealias(resolve, t)];
    matches!(def.kind, TypeDefKind::Resource)
        && matches!(def.owner, TypeOwner::Interface(owner) if imported.contains(&owner))
}

/// The resource of an imported interface that `ty` owns, if it is such an `own` handle.
fn host_handle_resource(
    resolve: &Resolve,
    imported: &HashSet<InterfaceId>,
    ty: &Type,
) -> Option<TypeId> {
    let Type::Id(id) = abi::dealias_type(resolve, ty) else {
        return None;
    };
    match &resolve.types[id].kind {
        TypeDefKind::Handle(Handle::Own(r)) if imported_resource(resolve, imported, *r) => {
            Some(abi::dealias(resolve, *r))
        }
        _ => None,
    }
}

fn host_handle(resolve: &Resolve, imported: &HashSet<InterfaceId>, ty: &Type) -> bool {
    host_handle_resource(resolve, imported, ty).is_some()
}

/// The `[export-handle]` calls and the wrapped exports of the guest whose wrapped exports are
/// `exports` (positions and interfaces), numbered from func-id `first` on in the order of
/// `wrapped` (the order of `ComponentInfo::export_handles`).
fn planned_handles(
    decoded: &Decoded,
    wrapped: &[WrappedResource],
    exports: Vec<(usize, InterfaceId)>,
    first: usize,
) -> Result<(Vec<PlannedHandle>, Vec<WrappedExport>, Vec<usize>)> {
    let resolve = decoded.resolve();
    let world = &resolve.worlds[decoded.world()];
    let imported = imported_interfaces(world);
    let types: Vec<TypeId> = wrapped
        .iter()
        .map(|r| r.type_id(decoded))
        .collect::<Result<_>>()?;
    let index_of = |r: TypeId| {
        types
            .iter()
            .position(|t| *t == abi::dealias(resolve, r))
            .ok_or_else(|| anyhow!("an export reaches a resource that is not wrapped"))
    };
    // Which wrapped resources exports take, in wrapper order, and which they reach.
    let mut taken = vec![false; wrapped.len()];
    let mut reached = vec![false; wrapped.len()];
    for (_, id) in &exports {
        for t in resolve.interfaces[*id].types.values() {
            reached[index_of(*t)?] = true;
        }
        for f in resolve.interfaces[*id].functions.values() {
            for p in &f.params {
                if let Some(r) = host_handle_resource(resolve, &imported, &p.ty) {
                    let j = index_of(r)?;
                    taken[j] = true;
                    reached[j] = true;
                }
            }
        }
    }
    let handles: Vec<PlannedHandle> = (0..wrapped.len())
        .filter(|j| taken[*j])
        .enumerate()
        .map(|(k, j)| PlannedHandle {
            id: (first + k) as u32,
            resource: j,
        })
        .collect();
    let mut out = Vec::new();
    for (export, id) in exports {
        let (key, _) = world
            .exports
            .get_index(export)
            .ok_or_else(|| anyhow!("wrapped export {export} is not in the world"))?;
        let functions = resolve.interfaces[id]
            .functions
            .values()
            .map(|f| {
                let params = f
                    .params
                    .iter()
                    .map(|p| {
                        host_handle_resource(resolve, &imported, &p.ty).and_then(|r| {
                            let j = types.iter().position(|t| *t == r)?;
                            handles.iter().position(|h| h.resource == j)
                        })
                    })
                    .collect();
                WrappedExportFunction {
                    name: f.name.clone(),
                    params,
                }
            })
            .collect();
        out.push(WrappedExport {
            name: resolve.name_world_key(key),
            functions,
            export,
        });
    }
    let reached = (0..wrapped.len()).filter(|j| reached[*j]).collect();
    Ok((handles, out, reached))
}

/// Every resource of an imported interface, in world order then definition order (the order of
/// `ComponentInfo::resource_drops`), their drops numbered from `first_drop_id` on.
fn imported_resources(decoded: &Decoded, first_drop_id: usize) -> Vec<WrappedResource> {
    let resolve = decoded.resolve();
    let mut out = Vec::new();
    for (import, (key, item)) in resolve.worlds[decoded.world()].imports.iter().enumerate() {
        let WorldItem::Interface { id, .. } = item else {
            continue;
        };
        let interface = resolve.name_world_key(key);
        for (name, _) in decoded.resource_types(*id) {
            out.push(WrappedResource {
                drop_id: (first_drop_id + out.len()) as u32,
                interface: interface.clone(),
                name: name.to_string(),
                import,
            });
        }
    }
    out
}

fn world_item(decoded: &Decoded, import: usize) -> Result<&WorldItem> {
    decoded.resolve().worlds[decoded.world()]
        .imports
        .get_index(import)
        .map(|(_, item)| item)
        .ok_or_else(|| anyhow!("planned import {import} is not in the world"))
}

/// The first resource of an imported interface (`imported`) that the world's export `item`
/// mentions, if any: the guest would then export functions over the proxy's wrapper types, which
/// the composition cannot export under the original's types unless the export proxy wraps it
/// (DESIGN.md, fact 4).
fn exported_imported_resource(
    resolve: &Resolve,
    imported: &HashSet<InterfaceId>,
    item: &WorldItem,
) -> Option<String> {
    let mut live = LiveTypes::default();
    // An exported interface's own types are the guest's (even when the same interface is
    // also imported): only what it reaches in other interfaces can be imported.
    let own = match item {
        WorldItem::Interface { id, .. } => {
            live.add_interface(resolve, *id);
            Some(*id)
        }
        WorldItem::Function(f) => {
            live.add_func(resolve, f);
            None
        }
        WorldItem::Type { id, .. } => {
            live.add_type_id(resolve, *id);
            None
        }
    };
    let found = live.iter().find_map(|t| {
        let ty = &resolve.types[t];
        match (&ty.kind, ty.owner) {
            (TypeDefKind::Resource, TypeOwner::Interface(owner))
                if imported.contains(&owner) && Some(owner) != own =>
            {
                Some(ty.name.clone().unwrap_or_default())
            }
            _ => None,
        }
    });
    found
}

impl WrappedExport {
    /// Its interface in `decoded`.
    pub fn interface(&self, decoded: &Decoded) -> Result<InterfaceId> {
        match decoded.resolve().worlds[decoded.world()]
            .exports
            .get_index(self.export)
        {
            Some((_, WorldItem::Interface { id, .. })) => Ok(*id),
            _ => bail!(
                "wrapped export `{}` is not an exported interface",
                self.name
            ),
        }
    }
}

/// The name of a type of `resolve` whose values take more than 4 GiB in canonical ABI memory,
/// if there is one (an upper bound: 8 bytes per scalar, fields added, cases maxed, fixed-length
/// lists multiplied, saturating).
fn too_large_type(resolve: &Resolve) -> Option<String> {
    fn bound(resolve: &Resolve, ty: &Type, memo: &mut HashMap<TypeId, u128>) -> u128 {
        let Type::Id(id) = ty else { return 8 };
        if let Some(&b) = memo.get(id) {
            return b;
        }
        let sum = |types: &mut dyn Iterator<Item = &Type>, memo: &mut HashMap<TypeId, u128>| {
            types.fold(0u128, |acc, t| acc.saturating_add(bound(resolve, t, memo)))
        };
        let b = match &resolve.types[*id].kind {
            TypeDefKind::Type(t) => bound(resolve, t, memo),
            TypeDefKind::FixedLengthList(t, n) => {
                bound(resolve, t, memo).saturating_mul(u128::from(*n))
            }
            TypeDefKind::Record(r) => sum(&mut r.fields.iter().map(|f| &f.ty), memo),
            TypeDefKind::Tuple(t) => sum(&mut t.types.iter(), memo),
            TypeDefKind::Variant(v) => v
                .cases
                .iter()
                .filter_map(|c| c.ty.as_ref())
                .map(|t| bound(resolve, t, memo))
                .max()
                .unwrap_or(0)
                .saturating_add(8),
            TypeDefKind::Option(t) => bound(resolve, t, memo).saturating_add(8),
            TypeDefKind::Result(r) => [&r.ok, &r.err]
                .into_iter()
                .flatten()
                .map(|t| bound(resolve, t, memo))
                .max()
                .unwrap_or(0)
                .saturating_add(8),
            _ => 8,
        };
        memo.insert(*id, b);
        b
    }
    let mut memo = HashMap::new();
    resolve.types.iter().find_map(|(id, def)| {
        (bound(resolve, &Type::Id(id), &mut memo) > u128::from(u32::MAX))
            .then(|| def.name.clone().unwrap_or_else(|| "(anonymous)".into()))
    })
}

/// The other interfaces the types of `iface` are `use`d from.
fn used_interfaces(
    resolve: &Resolve,
    iface: InterfaceId,
) -> impl Iterator<Item = InterfaceId> + '_ {
    resolve.interfaces[iface]
        .types
        .values()
        .filter_map(move |&t| {
            let TypeDefKind::Type(Type::Id(from)) = resolve.types[t].kind else {
                return None;
            };
            match resolve.types[from].owner {
                TypeOwner::Interface(other) if other != iface => Some(other),
                _ => None,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::decode;
    use wit_component::{ComponentEncoder, StringEncoding};
    use wit_parser::{LiftLowerAbi, ManglingAndAbi};

    /// A component for `world` of the last of `packages` (core code `unreachable`), as
    /// `tests/common::guest_from_wit` builds them.
    fn guest_from_wit(packages: &[&str], world: &str) -> Vec<u8> {
        let mut resolve = Resolve::default();
        let mut last = None;
        for (i, src) in packages.iter().enumerate() {
            last = Some(resolve.push_str(format!("pkg{i}.wit"), src).expect("WIT"));
        }
        let world = resolve
            .select_world(&[last.expect("a package")], Some(world))
            .expect("world");
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

    fn real_guests() -> Vec<(&'static str, Decoded)> {
        proxyrt_test_guests::ALL_GUESTS
            .iter()
            .map(|(name, path)| {
                let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{name}: {e}"));
                (
                    *name,
                    decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}")),
                )
            })
            .collect()
    }

    /// Function ids are the indices of `ComponentInfo::intercepted_functions` (functions, then
    /// the drops of the wrapped resources, then the export handles), in every mode, for every
    /// real guest; a plan that does not wrap has neither.
    #[test]
    fn func_ids_are_intercepted_functions() {
        for (name, decoded) in real_guests() {
            let info = decoded.info();
            let expected: Vec<(u32, Option<&str>, &str)> = info
                .intercepted_functions()
                .map(|f| (f.id, f.interface, f.function.name.as_str()))
                .collect();
            for mode in [Mode::Forward, Mode::Record, Mode::Replay] {
                let plan = Plan::new(&decoded, mode).unwrap_or_else(|e| panic!("{name}: {e:#}"));
                let mut actual: Vec<(u32, Option<&str>, String)> = plan
                    .functions
                    .iter()
                    .map(|f| (f.id, f.interface.as_deref(), f.name.clone()))
                    .collect();
                actual.extend(plan.wrapped_resources.iter().map(|r| {
                    let name = format!("[resource-drop]{}", r.name);
                    (r.drop_id, Some(r.interface.as_str()), name)
                }));
                actual.extend(plan.export_handles.iter().map(|h| {
                    let r = &plan.wrapped_resources[h.resource];
                    let name = format!("[export-handle]{}", r.name);
                    (h.id, Some(r.interface.as_str()), name)
                }));
                let n = if mode == Mode::Forward {
                    plan.functions.len()
                } else {
                    expected.len()
                };
                let expected: Vec<_> = expected[..n]
                    .iter()
                    .map(|(id, i, f)| (*id, *i, f.to_string()))
                    .collect();
                assert_eq!(actual, expected, "{name} {mode:?}");
                let imports = &decoded.resolve().worlds[decoded.world()].imports;
                assert_eq!(plan.imports.len(), imports.len(), "{name}");
            }
        }
    }

    /// Record and replay wrap every resource of every imported interface, in the order of
    /// `ComponentInfo::resource_drops`; forward wraps nothing.
    #[test]
    fn wrapped_resources_are_the_resource_drops() {
        for (name, decoded) in real_guests() {
            let drops: Vec<(String, String)> = decoded
                .info()
                .resource_drops
                .iter()
                .map(|d| (d.interface.clone(), d.function.name.clone()))
                .collect();
            for mode in [Mode::Record, Mode::Replay] {
                let plan = Plan::new(&decoded, mode).unwrap();
                assert_eq!(plan.handles, Handles::Wrapped, "{name} {mode:?}");
                let wrapped: Vec<(String, String)> = plan
                    .wrapped_resources
                    .iter()
                    .map(|r| (r.interface.clone(), format!("[resource-drop]{}", r.name)))
                    .collect();
                assert_eq!(wrapped, drops, "{name} {mode:?}");
                for r in &plan.wrapped_resources {
                    let t = r.type_id(&decoded).unwrap();
                    assert!(matches!(
                        decoded.resolve().types[t].kind,
                        TypeDefKind::Resource
                    ));
                }
            }
            let forward = Plan::new(&decoded, Mode::Forward).unwrap();
            assert_eq!(forward.handles, Handles::PassThrough { blocker: None });
            assert!(forward.wrapped_resources.is_empty(), "{name}");
        }
    }

    /// The wasi:http handler's export is wrapped by the export proxy in record and replay: its two
    /// handle parameters are the export handles of `incoming-request` and `response-outparam`.
    #[test]
    fn a_handler_export_is_wrapped() {
        let bytes = std::fs::read(proxyrt_test_guests::HTTP_HANDLER).unwrap();
        let decoded = decode(&bytes).unwrap();
        for mode in [Mode::Record, Mode::Replay] {
            let plan = Plan::new(&decoded, mode).unwrap();
            assert_eq!(plan.handles, Handles::Wrapped, "{mode:?}");
            let [export] = plan.wrapped_exports.as_slice() else {
                panic!("{mode:?}: {:?}", plan.wrapped_exports);
            };
            assert!(export.name.starts_with("wasi:http/incoming-handler@"));
            assert_eq!(export.functions.len(), 1);
            assert_eq!(export.functions[0].name, "handle");
            // Each parameter is wrapped by the handle of its own resource, whatever their order.
            let params: Vec<&str> = export.functions[0]
                .params
                .iter()
                .map(|k| {
                    let h = &plan.export_handles[k.expect("a handle parameter")];
                    plan.wrapped_resources[h.resource].name.as_str()
                })
                .collect();
            assert_eq!(params, ["incoming-request", "response-outparam"]);
            // The handles follow the order of the wrapper types.
            assert!(plan
                .export_handles
                .windows(2)
                .all(|w| w[0].resource < w[1].resource && w[0].id + 1 == w[1].id));
            assert_eq!(plan.export_resources.len(), 2, "{mode:?}");
        }
        let forward = Plan::new(&decoded, Mode::Forward).unwrap();
        assert!(forward.wrapped_exports.is_empty() && forward.export_handles.is_empty());
    }

    /// Calls that may wait indefinitely or never return are reported before they are forwarded:
    /// `exit`, `poll`, `pollable.block`, input-side `blocking-*`; output streams' `blocking-*`
    /// and everything else once they returned.
    #[test]
    fn blocker_calls_are_reported_before_forwarding() {
        let bytes = std::fs::read(proxyrt_test_guests::CLI).unwrap();
        let decoded = decode(&bytes).unwrap();
        let plan = Plan::new(&decoded, Mode::Record).unwrap();
        let first = |iface: &str, func: &str| -> bool {
            let f = plan
                .functions
                .iter()
                .find(|f| {
                    f.interface.as_deref().is_some_and(|i| i.starts_with(iface)) && f.name == func
                })
                .unwrap_or_else(|| panic!("{iface} {func} not intercepted"));
            let wit = f.wit(&decoded).unwrap();
            assert_eq!(wit.name, func);
            f.reported_before_forwarding
        };
        assert!(first("wasi:cli/exit@", "exit"));
        assert!(first("wasi:io/poll@", "[method]pollable.block"));
        assert!(first(
            "wasi:io/streams@",
            "[method]input-stream.blocking-read"
        ));
        assert!(!first(
            "wasi:io/streams@",
            "[method]output-stream.blocking-flush"
        ));
        assert!(!first("wasi:io/streams@", "[method]output-stream.write"));
        assert!(!first("wasi:clocks/monotonic-clock@", "now"));
        let blockers: Vec<&str> = plan
            .functions
            .iter()
            .filter(|f| f.reported_before_forwarding)
            .map(|f| f.name.as_str())
            .collect();
        for b in &blockers {
            assert!(
                *b == "exit"
                    || b.ends_with("poll")
                    || b.ends_with("block")
                    || b.contains("blocking-"),
                "{b}"
            );
        }
    }

    const STORE: &str = "package t:res;
        interface types { record point { x: u32 } }
        interface store {
            use types.{point};
            resource r { constructor(x: u32); get: func() -> u32; }
            make: func(p: point) -> r;
        }
        interface api { use store.{r}; handle: func(a: borrow<r>) -> u32; }
        world with-api { import store; import types; export api; }
        world plain { import store; import types; import log: func(m: string); export run: func(); }";

    /// A guest whose exports use an imported resource keeps the host's types in record mode
    /// (handles pass through) and cannot be replayed yet; so does a world-level resource import.
    #[test]
    fn exported_imported_resources_pass_through() {
        let decoded = decode(&guest_from_wit(&[STORE], "with-api")).unwrap();
        let plan = Plan::new(&decoded, Mode::Record).unwrap();
        assert_eq!(
            plan.handles,
            Handles::PassThrough {
                blocker: Some("r".into())
            }
        );
        assert!(plan.wrapped_resources.is_empty());
        let err = Plan::new(&decoded, Mode::Replay).unwrap_err();
        assert!(format!("{err}").contains("not supported yet"), "{err}");

        let dep = "package pkg:x@0.2.6;
            interface y { resource h { read: func(n: u64) -> list<u8>; } open: func() -> h; }";
        let world = "package t:wt;
            world guest {
                use pkg:x/y@0.2.6.{h};
                import configure: func(target: h) -> u32;
                export run: func() -> u32;
            }";
        let decoded = decode(&guest_from_wit(&[dep, world], "guest")).unwrap();
        let plan = Plan::new(&decoded, Mode::Record).unwrap();
        assert_eq!(
            plan.handles,
            Handles::PassThrough {
                blocker: Some("h".into())
            }
        );
        assert!(Plan::new(&decoded, Mode::Replay).is_err());
    }

    /// What each import becomes: interfaces with functions get a shim over their stubs (on
    /// replay without the host's instance), types-only interfaces are passed through, bare
    /// functions get ids after every interface function.
    #[test]
    fn imports_become_shims_pass_throughs_and_functions() {
        let decoded = decode(&guest_from_wit(&[STORE], "plain")).unwrap();
        let kinds = |mode| -> Vec<(String, ImportKind)> {
            Plan::new(&decoded, mode)
                .unwrap()
                .imports
                .into_iter()
                .map(|i| (i.name, i.kind))
                .collect()
        };
        let store = |imported| ImportKind::Interface {
            imported,
            functions: 0..3,
        };
        for (mode, imported) in [
            (Mode::Forward, true),
            (Mode::Record, true),
            (Mode::Replay, false),
        ] {
            assert_eq!(
                kinds(mode),
                [
                    ("t:res/types".to_string(), ImportKind::PassThroughInterface),
                    ("t:res/store".to_string(), store(imported)),
                    ("log".to_string(), ImportKind::Function { id: 3 }),
                ],
                "{mode:?}"
            );
        }
        let plan = Plan::new(&decoded, Mode::Record).unwrap();
        let names: Vec<&str> = plan.functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["[constructor]r", "[method]r.get", "make", "log"]);
        assert_eq!(plan.wrapped_resources.len(), 1);
        assert_eq!(plan.wrapped_resources[0].drop_id, 4);
    }

    /// A component that imports the interface its mode adds cannot be instrumented in that mode.
    #[test]
    fn added_interface_name_clash_is_unsupported() {
        let world = "package proxyrt:recorder@0.1.0;
            interface recorder { call: func(func-id: u32, args: list<u8>); }
            world guest { import recorder; export run: func() -> u32; }";
        let decoded = decode(&guest_from_wit(&[world], "guest")).unwrap();
        assert!(Plan::new(&decoded, Mode::Forward).is_ok());
        assert!(Plan::new(&decoded, Mode::Replay).is_ok());
        let err = Plan::new(&decoded, Mode::Record).unwrap_err();
        assert!(
            err.chain().any(|c| c
                .downcast_ref::<crate::error::UnsupportedFeature>()
                .is_some()),
            "{err}"
        );
    }
}

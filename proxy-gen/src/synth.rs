//! Emission of the proxy component with wasm-encoder (no toolchain, no wit-bindgen), in every
//! mode, exactly as the [`Plan`] says: nothing is decided here, only index spaces are laid out.
//!
//! Layout of the proxy (index spaces of its root):
//! 1. for each import of the guest's world, in order (dependencies first): the same import —
//!    an instance with the full instance type re-encoded from the decoded WIT, a bare function,
//!    or a world-level type (on replay only types-only interfaces and world-level types); then
//!    `proxyrt:recorder/recorder@0.1.0` (record) or `proxyrt:recorder/replayer@0.1.0` (replay);
//! 2. the allocator core module (memory, bump realloc, reset; with wrapped resources also the
//!    destructor table and trampolines), instantiated; then the wrapper resource types and their
//!    `resource.new`/`rep`/`drop` (and the host handle's `resource.drop` when forwarding);
//! 3. `canon lower` of every imported function (when forwarding) and of the recorder's
//!    `call`/`ret`/`record`/`batch-buffer`/`record-batch` or the replayer's `next` (memory +
//!    realloc of the allocator);
//! 4. `canon resource.drop` for each resource type borrowed in some parameter (pass-through
//!    handles only);
//! 5. the stub core module (see `coremod`), instantiated with the above;
//! 6. `canon lift` of every stub (memory, realloc, post-return), over the guest-facing types;
//! 7. the exports, named like the guest's imports: per interface a re-export shim instance
//!    (see `shim`) or the host's instance itself (passed through), bare functions directly,
//!    world-level types re-exported;
//! 8. for guest exports given host handles (see `export_proxy`): the host's instances of the
//!    resources' interfaces (forwarding) and the lifted `export-handle{k}` functions.
//!
//! With pass-through handles the proxy's types for host resources are the host's own (aliased
//! from the imported instances), so own handles move through it untouched and only lent borrows
//! need code (DESIGN.md, fact 1). With wrapped resources the guest-facing types are the proxy's
//! ([`GuestTypes`]), defined over its wrapper resource types.

use anyhow::{anyhow, bail, Context, Result};
use std::collections::{HashMap, HashSet};
use wasm_encoder::{
    Alias, CanonicalOption, ComponentBuilder, ComponentDefinedTypeEncoder, ComponentExportKind,
    ComponentFuncTypeEncoder, ComponentOuterAliasKind, ComponentTypeRef, ComponentValType,
    ExportKind, InstanceType, ModuleArg, TypeBounds,
};
use wit_parser::{Function, InterfaceId, LiveTypes, Resolve, Type, TypeId, TypeOwner};

use crate::abi;
use crate::analyze::Decoded;
use crate::coremod::{self, StubSpec};
use crate::error::unsupported;
use crate::export_proxy;
use crate::mode::{Mode, RECORDER_INTERFACE, REPLAYER_INTERFACE};
use crate::plan::{ImportKind, Plan};
use crate::shim;
use crate::typeenc::{TypeMaps, ValtypeEncoder};

/// The proxy's root index space and the type-encoding policy for it: types of an interface are
/// aliased from the imported instance of that interface; world-level named types are imported.
struct Root<'a> {
    resolve: &'a Resolve,
    builder: ComponentBuilder,
    /// Root instance index of each imported interface.
    instances: HashMap<InterfaceId, u32>,
    /// The host's types (aliased from the imported instances): what lowered host functions use.
    maps: TypeMaps<'a>,
    /// The guest's types when the proxy wraps resources (see [`GuestTypes`]).
    guest_maps: TypeMaps<'a>,
    /// The interface whose types [`GuestTypes`] is defining.
    guest_current: Option<InterfaceId>,
    /// Interfaces the guest gets from the host as they are (their types are the host's).
    passthrough: HashSet<InterfaceId>,
}

impl Root<'_> {
    /// An interface the proxy does not import (on replay: one with functions) that defines one
    /// of the `live` types, if there is one: the root cannot alias such a type from the host.
    fn unimported_owner(&self, live: &LiveTypes) -> Option<InterfaceId> {
        live.iter().find_map(|t| match self.resolve.types[t].owner {
            TypeOwner::Interface(i) if !self.instances.contains_key(&i) => Some(i),
            _ => None,
        })
    }

    /// The root index of type `id` exported by the imported instance of `iface`.
    fn alias_type(&mut self, iface: InterfaceId, id: TypeId) -> Result<u32> {
        if let Some(idx) = self.maps.id_to_index.get(&id) {
            return Ok(*idx);
        }
        let name = self.resolve.types[id]
            .name
            .as_deref()
            .ok_or_else(|| anyhow!("unnamed interface type"))?;
        let inst = *self
            .instances
            .get(&iface)
            .ok_or_else(|| anyhow!("type `{name}` belongs to an interface that is not imported"))?;
        let idx = self
            .builder
            .alias_export(inst, name, ComponentExportKind::Type);
        self.maps.id_to_index.insert(id, idx);
        Ok(idx)
    }
}

impl<'a> ValtypeEncoder<'a> for Root<'a> {
    fn defined_type(&mut self) -> (u32, ComponentDefinedTypeEncoder<'_>) {
        self.builder.type_defined(None)
    }
    fn define_function_type(&mut self) -> (u32, ComponentFuncTypeEncoder<'_>) {
        self.builder.type_function(None)
    }
    fn export_type(&mut self, index: u32, name: &'a str) -> Result<Option<u32>> {
        // Only world-level named types get here (interface types are aliased): import them under
        // their world name, as the guest does.
        Ok(Some(self.builder.import(
            name,
            ComponentTypeRef::Type(TypeBounds::Eq(index)),
        )))
    }
    fn export_resource(&mut self, name: &'a str) -> Result<u32> {
        Ok(self
            .builder
            .import(name, ComponentTypeRef::Type(TypeBounds::SubResource)))
    }
    fn maps(&mut self) -> &mut TypeMaps<'a> {
        &mut self.maps
    }
    fn import_type(&mut self, interface: InterfaceId, id: TypeId) -> Result<u32> {
        self.alias_type(interface, id)
    }
    fn interface(&self) -> Option<InterfaceId> {
        None
    }
}

/// The guest-facing types of a proxy that wraps resources: every resource is the proxy's wrapper
/// type (pre-entered in `guest_maps`), and every other type is defined structurally in the root
/// in terms of them, except the types of pass-through interfaces, which are the host's.
struct GuestTypes<'r, 'a>(&'r mut Root<'a>);

impl<'a> ValtypeEncoder<'a> for GuestTypes<'_, 'a> {
    fn defined_type(&mut self) -> (u32, ComponentDefinedTypeEncoder<'_>) {
        self.0.builder.type_defined(None)
    }
    fn define_function_type(&mut self) -> (u32, ComponentFuncTypeEncoder<'_>) {
        self.0.builder.type_function(None)
    }
    fn export_type(&mut self, _: u32, _: &'a str) -> Result<Option<u32>> {
        // Names come from the shims' exports; in the root the structure is all that matters.
        Ok(None)
    }
    fn export_resource(&mut self, name: &'a str) -> Result<u32> {
        bail!("resource `{name}` has no wrapper type")
    }
    fn maps(&mut self) -> &mut TypeMaps<'a> {
        &mut self.0.guest_maps
    }
    fn import_type(&mut self, interface: InterfaceId, id: TypeId) -> Result<u32> {
        if self.0.passthrough.contains(&interface) {
            return self.0.alias_type(interface, id);
        }
        let saved = self.0.guest_current.replace(interface);
        let encoded = self.encode_type_id(self.0.resolve, id);
        self.0.guest_current = saved;
        match encoded? {
            ComponentValType::Type(index) => Ok(index),
            ComponentValType::Primitive(p) => {
                let (index, e) = self.defined_type();
                e.primitive(p);
                Ok(index)
            }
        }
    }
    fn interface(&self) -> Option<InterfaceId> {
        self.0.guest_current
    }
}

/// Encodes the instance type of an imported interface; types of other interfaces are outer
/// aliases of the root's aliases of them.
struct InstanceEncoder<'r, 'a> {
    root: &'r mut Root<'a>,
    ty: InstanceType,
    maps: TypeMaps<'a>,
    interface: InterfaceId,
}

impl<'a> ValtypeEncoder<'a> for InstanceEncoder<'_, 'a> {
    fn defined_type(&mut self) -> (u32, ComponentDefinedTypeEncoder<'_>) {
        (self.ty.type_count(), self.ty.ty().defined_type())
    }
    fn define_function_type(&mut self) -> (u32, ComponentFuncTypeEncoder<'_>) {
        (self.ty.type_count(), self.ty.ty().function())
    }
    fn export_type(&mut self, index: u32, name: &'a str) -> Result<Option<u32>> {
        let ret = self.ty.type_count();
        self.ty
            .export(name, ComponentTypeRef::Type(TypeBounds::Eq(index)));
        Ok(Some(ret))
    }
    fn export_resource(&mut self, name: &'a str) -> Result<u32> {
        let ret = self.ty.type_count();
        self.ty
            .export(name, ComponentTypeRef::Type(TypeBounds::SubResource));
        Ok(ret)
    }
    fn maps(&mut self) -> &mut TypeMaps<'a> {
        &mut self.maps
    }
    fn import_type(&mut self, interface: InterfaceId, id: TypeId) -> Result<u32> {
        let index = self.root.alias_type(interface, id)?;
        self.ty.alias(Alias::Outer {
            count: 1,
            index,
            kind: ComponentOuterAliasKind::Type,
        });
        Ok(self.ty.type_count() - 1)
    }
    fn interface(&self) -> Option<InterfaceId> {
        Some(self.interface)
    }
}

/// One export of the proxy, in the guest's import order.
enum Export {
    /// An imported interface passed through as the host's instance
    /// ([`ImportKind::PassThroughInterface`]).
    Passthrough {
        name: String,
        instance: u32,
    },
    Interface {
        name: String,
        id: InterfaceId,
        funcs: std::ops::Range<u32>,
    },
    Func {
        name: String,
        k: usize,
    },
    Type {
        name: String,
        index: u32,
    },
    /// A world-level type defined by the proxy for the guest, on replay (see
    /// `import_guest_imports`).
    GuestType {
        name: String,
        id: TypeId,
    },
}

/// Emits the proxy that `plan` describes for the guest described by `decoded`: pass-through,
/// also reporting every call to the imported recorder ([`RECORDER_INTERFACE`]), or
/// answering every call from the imported replayer ([`REPLAYER_INTERFACE`]) with no host
/// import at all. Every decision was made by the plan; this only lays out index spaces.
pub fn proxy(decoded: &Decoded, plan: &Plan) -> Result<Vec<u8>> {
    let resolve = decoded.resolve();
    let mode = plan.mode;
    let replay = mode == Mode::Replay;
    let forwards = mode.forwards();
    let wrap = plan.wraps();
    let mut root = Root {
        resolve,
        builder: ComponentBuilder::default(),
        instances: HashMap::new(),
        maps: TypeMaps::default(),
        guest_maps: TypeMaps::default(),
        guest_current: None,
        passthrough: HashSet::new(),
    };
    // The WIT function of each stub, by func-id.
    let funcs: Vec<&Function> = plan
        .functions
        .iter()
        .map(|f| f.wit(decoded))
        .collect::<Result<_>>()?;

    // 1. The guest's imports become the proxy's imports.
    let (imported_funcs, exports) = import_guest_imports(&mut root, decoded, plan, &funcs)?;

    // 1b. The recorder or replayer instance, after the guest's imports.
    let recorder = (mode == Mode::Record).then(|| import_recorder(&mut root));
    let replayer = replay.then(|| import_replayer(&mut root));

    // The resources the proxy wraps, in the order of their wrapper types.
    let wrapped: Vec<TypeId> = plan
        .wrapped_resources
        .iter()
        .map(|r| r.type_id(decoded))
        .collect::<Result<_>>()?;
    // Every wrapper type has a destructor: record drops the host handle and reports the drop,
    // replay checks it against the trace.
    let n_dtors = wrapped.len() as u32;

    // 2. Allocator module: memory, realloc, reset (and the wrappers' destructor trampolines).
    let alloc = root.builder.core_module(
        Some("proxyrt-alloc"),
        &coremod::alloc_module(n_dtors, mode == Mode::Record),
    );
    let alloc = root.builder.core_instantiate(
        Some("proxyrt-alloc"),
        alloc,
        Vec::<(&str, ModuleArg)>::new(),
    );
    let memory =
        root.builder
            .core_alias_export(Some("memory"), alloc, "memory", ExportKind::Memory);
    let realloc =
        root.builder
            .core_alias_export(Some("realloc"), alloc, "realloc", ExportKind::Func);
    let reset = root
        .builder
        .core_alias_export(Some("reset"), alloc, "reset", ExportKind::Func);
    let mem_opts = [
        CanonicalOption::Memory(memory),
        CanonicalOption::Realloc(realloc),
        CanonicalOption::UTF8,
    ];

    // 2b. The wrapper resource types (rep = the host handle's index in our table, or on replay
    // the recorded id) and their canonical built-ins.
    let mut env: Vec<(String, ExportKind, u32)> = Vec::new();
    for (j, res) in wrapped.iter().enumerate() {
        let dtor = Some(root.builder.core_alias_export(
            None,
            alloc,
            &coremod::dtor_name(j),
            ExportKind::Func,
        ));
        let w = root
            .builder
            .type_resource(None, wasm_encoder::ValType::I32, dtor);
        root.guest_maps.id_to_index.insert(*res, w);
        env.push((
            coremod::wrap_new_name(j),
            ExportKind::Func,
            root.builder.resource_new(w),
        ));
        env.push((
            coremod::wrap_rep_name(j),
            ExportKind::Func,
            root.builder.resource_rep(w),
        ));
        env.push((
            coremod::wrap_drop_name(j),
            ExportKind::Func,
            root.builder.resource_drop(w),
        ));
        if forwards {
            let ComponentValType::Type(h) = root.encode_type_id(resolve, *res)? else {
                bail!("resource encoded as a primitive");
            };
            env.push((
                coremod::host_drop_name(j),
                ExportKind::Func,
                root.builder.resource_drop(h),
            ));
        }
    }
    if n_dtors > 0 {
        let table =
            root.builder
                .core_alias_export(None, alloc, coremod::DTOR_TABLE, ExportKind::Table);
        env.push((coremod::DTOR_TABLE.into(), ExportKind::Table, table));
    }

    // 3. Lower every imported function into core.
    let lowered: Vec<u32> = if forwards {
        funcs
            .iter()
            .zip(&imported_funcs)
            .map(|(f, import)| root.builder.lower_func(Some(&f.name), *import, mem_opts))
            .collect()
    } else {
        Vec::new()
    };
    let replayer_lowered = replayer.map(|next| {
        root.builder
            .lower_func(Some("replayer-next"), next, mem_opts)
    });

    // 3b. Lower the recorder's functions: their `list<u8>` is read from our memory.
    let recorder_lowered = recorder.map(|r| RecorderFuncs {
        call: root
            .builder
            .lower_func(Some("recorder-call"), r.call, mem_opts),
        ret: root
            .builder
            .lower_func(Some("recorder-ret"), r.ret, mem_opts),
        record: root
            .builder
            .lower_func(Some("recorder-record"), r.record, mem_opts),
        batch_buffer: root.builder.lower_func(
            Some("recorder-batch-buffer"),
            r.batch_buffer,
            mem_opts,
        ),
        record_batch: root.builder.lower_func(
            Some("recorder-record-batch"),
            r.record_batch,
            mem_opts,
        ),
    });

    // 4. resource.drop for each borrowed resource type (pass-through handles only).
    let drops = if wrap || !forwards {
        Vec::new()
    } else {
        coremod::borrowed_resources(resolve, funcs.iter().copied())
    };
    let mut drop_funcs = Vec::new();
    for id in &drops {
        let ComponentValType::Type(r) = root.encode_type_id(resolve, *id)? else {
            bail!("resource encoded as a primitive");
        };
        drop_funcs.push(root.builder.resource_drop(r));
    }

    // 5. Stub module, instantiated with memory, allocator, lowered imports and drops.
    let specs: Vec<StubSpec<'_>> = plan
        .functions
        .iter()
        .zip(&funcs)
        .map(|(p, func)| StubSpec {
            func,
            lowered: abi::lowered_sig(resolve, func),
            lifted: abi::lifted_sig(resolve, func),
            report_first: p.reported_before_forwarding,
        })
        .collect();
    let export_handles: Vec<(u32, usize)> = plan
        .export_handles
        .iter()
        .map(|h| (h.id, h.resource))
        .collect();
    let cfg = coremod::StubConfig {
        mode,
        drops: &drops,
        wrapped: &wrapped,
        export_handles: &export_handles,
    };
    let stub_module = coremod::stub_module(resolve, &specs, &cfg)?;
    let stubs = root
        .builder
        .core_module(Some("proxyrt-stubs"), &stub_module);
    env.extend([
        ("memory".into(), ExportKind::Memory, memory),
        ("realloc".into(), ExportKind::Func, realloc),
        ("reset".into(), ExportKind::Func, reset),
    ]);
    env.extend(
        lowered
            .iter()
            .enumerate()
            .map(|(k, f)| (coremod::lowered_name(k), ExportKind::Func, *f)),
    );
    env.extend(
        drop_funcs
            .iter()
            .enumerate()
            .map(|(j, f)| (coremod::drop_name(j), ExportKind::Func, *f)),
    );
    if let Some(r) = recorder_lowered {
        env.push((coremod::REC_CALL.into(), ExportKind::Func, r.call));
        env.push((coremod::REC_RET.into(), ExportKind::Func, r.ret));
        env.push((coremod::REC_RECORD.into(), ExportKind::Func, r.record));
        env.push((
            coremod::REC_BATCH_BUFFER.into(),
            ExportKind::Func,
            r.batch_buffer,
        ));
        env.push((
            coremod::REC_RECORD_BATCH.into(),
            ExportKind::Func,
            r.record_batch,
        ));
    }
    if let Some(next) = replayer_lowered {
        env.push((coremod::REPLAY_NEXT.into(), ExportKind::Func, next));
    }
    let env = root.builder.core_instantiate_exports(
        Some("env"),
        env.iter().map(|(n, k, i)| (n.as_str(), *k, *i)),
    );
    let stubs = root.builder.core_instantiate(
        Some("proxyrt-stubs"),
        stubs,
        [(coremod::ENV, ModuleArg::Instance(env))],
    );

    // 6. Lift every stub with the function's own type (over the host's types).
    let mut lifted = Vec::new();
    for (k, func) in funcs.iter().enumerate() {
        let stub =
            root.builder
                .core_alias_export(None, stubs, &coremod::stub_name(k), ExportKind::Func);
        let post =
            root.builder
                .core_alias_export(None, stubs, &coremod::post_name(k), ExportKind::Func);
        let ty = if wrap {
            GuestTypes(&mut root).encode_func_type(resolve, func)?
        } else {
            root.encode_func_type(resolve, func)?
        };
        let opts = [
            CanonicalOption::Memory(memory),
            CanonicalOption::Realloc(realloc),
            CanonicalOption::PostReturn(post),
            CanonicalOption::UTF8,
        ];
        lifted.push(root.builder.lift_func(Some(&func.name), stub, ty, opts));
    }

    // 7. Exports under the guest's import names.
    export_guest_imports(&mut root, exports, &lifted, wrap)?;

    // 8. What the export proxy takes from us, for guest exports that are given host handles.
    export_for_export_proxy(&mut root, plan, &wrapped, stubs)?;
    Ok(root.builder.finish())
}

/// Step 8 of the layout (wrapped exports only; see `export_proxy`): when forwarding, the host's
/// instance of each interface whose resources the wrapped exports reach; and per export handle
/// the lifted `export-handle{k}`, `func(handle: own<host R>) -> own<R>` when forwarding,
/// `func() -> own<R>` on replay. The export proxy takes our wrapper types from the interface's
/// own export (step 7), so the function names them through it (fact 2).
fn export_for_export_proxy(
    root: &mut Root<'_>,
    plan: &Plan,
    wrapped: &[TypeId],
    stubs: u32,
) -> Result<()> {
    let resolve = root.resolve;
    let forwards = plan.mode.forwards();
    if forwards {
        for (n, iface) in export_proxy::interfaces(resolve, plan, wrapped)?
            .into_iter()
            .enumerate()
        {
            let inst = *root.instances.get(&iface).ok_or_else(|| {
                anyhow!("the host's instance of an export resource is not imported")
            })?;
            root.builder.export(
                export_proxy::host_instance_name(n),
                ComponentExportKind::Instance,
                inst,
                None,
            );
        }
    }
    for (k, handle) in plan.export_handles.iter().enumerate() {
        let res = *wrapped
            .get(handle.resource)
            .ok_or_else(|| anyhow!("export handle {k} of an unwrapped resource"))?;
        let w = *root
            .guest_maps
            .id_to_index
            .get(&res)
            .ok_or_else(|| anyhow!("wrapper type of export handle {k} was not exported"))?;
        let (own_w, enc) = root.builder.type_defined(None);
        enc.own(w);
        let param = if forwards {
            let ComponentValType::Type(h) = root.encode_type_id(resolve, res)? else {
                bail!("resource encoded as a primitive");
            };
            let (own_h, enc) = root.builder.type_defined(None);
            enc.own(h);
            Some(own_h)
        } else {
            None
        };
        let (ty, mut enc) = root.builder.type_function(None);
        enc.params(param.map(|t| ("handle", ComponentValType::Type(t))));
        enc.result(Some(ComponentValType::Type(own_w)));
        let core = root.builder.core_alias_export(
            None,
            stubs,
            &coremod::export_handle_name(k),
            ExportKind::Func,
        );
        let name = export_proxy::handle_func_name(k);
        let f = root
            .builder
            .lift_func(Some(&name), core, ty, Vec::<CanonicalOption>::new());
        root.builder
            .export(&name, ComponentExportKind::Func, f, None);
    }
    Ok(())
}

/// Step 1 of the layout: imports what the plan says of each of the guest's imports (the host's
/// instance, a bare function, a world-level type). Returns the root index of each function's
/// host import by func-id (`u32::MAX` where there is none: on replay) and the proxy's exports
/// to make, in the guest's import order.
fn import_guest_imports<'a>(
    root: &mut Root<'a>,
    decoded: &'a Decoded,
    plan: &Plan,
    funcs: &[&'a Function],
) -> Result<(Vec<u32>, Vec<Export>)> {
    let resolve = decoded.resolve();
    let forwards = plan.mode.forwards();
    let replay = plan.mode == Mode::Replay;
    let mut imported_funcs: Vec<u32> = vec![u32::MAX; funcs.len()];
    let mut exports = Vec::new();
    for import in &plan.imports {
        let name = import.name.clone();
        match &import.kind {
            ImportKind::PassThroughInterface => {
                let id = import.interface(decoded)?;
                let instance = import_interface(root, &name, id)
                    .with_context(|| format!("importing interface `{name}`"))?;
                root.passthrough.insert(id);
                exports.push(Export::Passthrough { name, instance });
            }
            ImportKind::Interface {
                imported,
                functions,
            } => {
                let id = import.interface(decoded)?;
                if *imported {
                    let inst = import_interface(root, &name, id)
                        .with_context(|| format!("importing interface `{name}`"))?;
                    for k in functions.clone() {
                        let f = &plan.functions[k as usize];
                        imported_funcs[k as usize] =
                            root.builder
                                .alias_export(inst, &f.name, ComponentExportKind::Func);
                    }
                }
                exports.push(Export::Interface {
                    name,
                    id,
                    funcs: functions.clone(),
                });
            }
            ImportKind::Function { id } => {
                let k = *id as usize;
                if replay {
                    let mut live = LiveTypes::default();
                    live.add_func(resolve, funcs[k]);
                    if let Some(iface) = root.unimported_owner(&live) {
                        // Its stub would be lifted with the type defined structurally, before
                        // the interface's shim names it, and the export would not validate
                        // (found by the fuzzer).
                        unsupported!(
                            "replaying the bare function import `{name}`, which takes or returns \
                             types of `{}` (an interface with functions), is not supported yet",
                            resolve
                                .id_of(iface)
                                .unwrap_or_else(|| "an inline interface".into())
                        );
                    }
                }
                if forwards {
                    let ty = root
                        .encode_func_type(resolve, funcs[k])
                        .with_context(|| format!("function `{name}`"))?;
                    imported_funcs[k] = root
                        .builder
                        .import(name.as_str(), ComponentTypeRef::Func(ty));
                }
                exports.push(Export::Func { name, k });
            }
            ImportKind::Type => {
                let id = import.world_type(decoded)?;
                // A type without handles is the same for the guest and the host: it is imported
                // (named) in every mode, and the guest-facing stubs use that import too. Defined
                // structurally instead, a bare function taking it was exported with an unnamed
                // record, which does not validate (found by the fuzzer). A type with handles is
                // the guest's own on replay (the proxy's wrappers).
                let has_handles = abi::contains_handle(resolve, &Type::Id(id), &|_| true);
                // ... and on replay only if every interface it takes types from is imported
                // (a `use` at world level of a type of an interface replay does not import).
                let from_unimported = replay && {
                    let mut live = LiveTypes::default();
                    live.add_type_id(resolve, id);
                    root.unimported_owner(&live).is_some()
                };
                if replay && (has_handles || from_unimported) {
                    // The guest's own type, defined when the proxy exports it: by then the
                    // interfaces exported before it have named their types (a type defined
                    // here, in terms of unnamed ones, did not validate as an export; found by
                    // the fuzzer).
                    exports.push(Export::GuestType { name, id });
                    continue;
                }
                let ComponentValType::Type(index) = root
                    .encode_type_id(resolve, id)
                    .with_context(|| format!("type `{name}`"))?
                else {
                    bail!("world type `{name}` encoded as a primitive");
                };
                if !has_handles {
                    root.guest_maps.id_to_index.insert(id, index);
                }
                exports.push(Export::Type { name, index });
            }
        }
    }

    Ok((imported_funcs, exports))
}

/// Step 7 of the layout: the proxy's exports, named like the guest's imports: a shim instance per
/// interface with stubs (over the `lifted` stubs), the host's instance where it is passed
/// through, bare functions and world-level types directly.
fn export_guest_imports(
    root: &mut Root<'_>,
    exports: Vec<Export>,
    lifted: &[u32],
    wrap: bool,
) -> Result<()> {
    let resolve = root.resolve;
    for export in exports {
        match export {
            Export::Interface { name, id, funcs } => {
                let (component, args) = shim::build(resolve, id, wrap)
                    .with_context(|| format!("re-export shim for `{name}`"))?;
                let mut inst_args: Vec<(String, ComponentExportKind, u32)> = Vec::new();
                for (import, ty) in args.types {
                    let encoded = if wrap {
                        GuestTypes(root).encode_type_id(resolve, ty)?
                    } else {
                        root.encode_type_id(resolve, ty)?
                    };
                    let ComponentValType::Type(index) = encoded else {
                        bail!("shim type import `{import}` is a primitive");
                    };
                    inst_args.push((import, ComponentExportKind::Type, index));
                }
                for (import, k) in args.funcs.into_iter().zip(funcs) {
                    inst_args.push((import, ComponentExportKind::Func, lifted[k as usize]));
                }
                let shim_name = format!("{name}-shim");
                let c = root.builder.component(Some(&shim_name), component);
                let inst = root.builder.instantiate(Some(&shim_name), c, inst_args);
                let exported =
                    root.builder
                        .export(name.as_str(), ComponentExportKind::Instance, inst, None);
                if wrap {
                    // Later shims reach this interface's types through this export: wasmparser
                    // accepts an exported instance only if the resources its types reach are
                    // named by earlier exports (or imports), not by the root's definitions.
                    for (tname, t) in resolve.interfaces[id].types.iter() {
                        let alias =
                            root.builder
                                .alias_export(exported, tname, ComponentExportKind::Type);
                        root.guest_maps.id_to_index.insert(*t, alias);
                    }
                }
            }
            Export::Passthrough { name, instance } => {
                root.builder
                    .export(name.as_str(), ComponentExportKind::Instance, instance, None);
            }
            Export::Func { name, k } => {
                root.builder
                    .export(name.as_str(), ComponentExportKind::Func, lifted[k], None);
            }
            Export::GuestType { name, id } => {
                let ComponentValType::Type(index) = GuestTypes(root)
                    .encode_type_id(resolve, id)
                    .with_context(|| format!("type `{name}`"))?
                else {
                    bail!("world type `{name}` encoded as a primitive");
                };
                root.builder
                    .export(name.as_str(), ComponentExportKind::Type, index, None);
            }
            Export::Type { name, index } => {
                root.builder
                    .export(name.as_str(), ComponentExportKind::Type, index, None);
            }
        }
    }
    Ok(())
}

/// Imports [`RECORDER_INTERFACE`] with exactly `call: func(func-id: u32, args: list<u8>)`,
/// `ret: func(func-id: u32, results: list<u8>)`, `record: func(func-id: u32, args: list<u8>,
/// results: list<u8>)`, `batch-buffer: func(buffer: list<u8>)` and `record-batch: func(entries:
/// list<u8>)` (`recorder-host/wit/recorder.wit`); returns the root indices of the functions.
fn import_recorder(root: &mut Root<'_>) -> RecorderFuncs {
    use wasm_encoder::PrimitiveValType as P;
    let mut ty = InstanceType::new();
    ty.ty()
        .defined_type()
        .list(ComponentValType::Primitive(P::U8));
    let bytes = ComponentValType::Type(0);
    let id = ("func-id", ComponentValType::Primitive(P::U32));
    let funcs: [(&str, &[(&str, ComponentValType)]); 5] = [
        ("call", &[id, ("args", bytes)]),
        ("ret", &[id, ("results", bytes)]),
        ("record", &[id, ("args", bytes), ("results", bytes)]),
        ("batch-buffer", &[("buffer", bytes)]),
        ("record-batch", &[("entries", bytes)]),
    ];
    for (i, (func, params)) in funcs.into_iter().enumerate() {
        ty.ty()
            .function()
            .params(params.iter().copied())
            .result(None);
        ty.export(func, ComponentTypeRef::Func(1 + i as u32));
    }
    let name = RECORDER_INTERFACE;
    let t = root.builder.type_instance(Some(name), &ty);
    let inst = root.builder.import(name, ComponentTypeRef::Instance(t));
    let [call, ret, record, batch_buffer, record_batch] =
        ["call", "ret", "record", "batch-buffer", "record-batch"].map(|f| {
            root.builder
                .alias_export(inst, f, ComponentExportKind::Func)
        });
    RecorderFuncs {
        call,
        ret,
        record,
        batch_buffer,
        record_batch,
    }
}

/// The root indices of the imported recorder's functions.
#[derive(Clone, Copy)]
struct RecorderFuncs {
    call: u32,
    ret: u32,
    record: u32,
    batch_buffer: u32,
    record_batch: u32,
}

/// Imports [`REPLAYER_INTERFACE`] with exactly `next: func(func-id: u32, args: list<u8>) ->
/// list<u8>`; returns the root index of `next`.
fn import_replayer(root: &mut Root<'_>) -> u32 {
    use wasm_encoder::PrimitiveValType as P;
    let mut ty = InstanceType::new();
    ty.ty()
        .defined_type()
        .list(ComponentValType::Primitive(P::U8));
    let bytes = ComponentValType::Type(0);
    ty.ty()
        .function()
        .params([
            ("func-id", ComponentValType::Primitive(P::U32)),
            ("args", bytes),
        ])
        .result(Some(bytes));
    ty.export("next", ComponentTypeRef::Func(1));
    let name = REPLAYER_INTERFACE;
    let t = root.builder.type_instance(Some(name), &ty);
    let inst = root.builder.import(name, ComponentTypeRef::Instance(t));
    root.builder
        .alias_export(inst, "next", ComponentExportKind::Func)
}

/// Imports interface `id` under `name` with its full instance type; returns the instance index.
fn import_interface(root: &mut Root<'_>, name: &str, id: InterfaceId) -> Result<u32> {
    let resolve = root.resolve;
    let iface = &resolve.interfaces[id];
    let mut enc = InstanceEncoder {
        root,
        ty: InstanceType::new(),
        maps: TypeMaps::default(),
        interface: id,
    };
    for (_, ty) in iface.types.iter() {
        enc.encode_type_id(resolve, *ty)?;
    }
    for f in iface.functions.values() {
        let ty = enc
            .encode_func_type(resolve, f)
            .with_context(|| format!("function `{}`", f.name))?;
        enc.ty.export(f.name.as_str(), ComponentTypeRef::Func(ty));
    }
    let ty = enc.ty;
    let t = root.builder.type_instance(Some(name), &ty);
    let inst = root.builder.import(name, ComponentTypeRef::Instance(t));
    root.instances.insert(id, inst);
    Ok(inst)
}

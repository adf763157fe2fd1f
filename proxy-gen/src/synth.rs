//! Synthesis of the proxy component (forward and record modes) with wasm-encoder (no toolchain,
//! no wit-bindgen).
//!
//! Layout of the proxy (index spaces of its root):
//! 1. for each import of the guest's world, in order (dependencies first): the same import —
//!    an instance with the full instance type re-encoded from the decoded WIT, a bare function,
//!    or a world-level type; in record mode then `proxyrt:recorder/recorder@0.1.0`;
//! 2. the allocator core module (memory, bump realloc, reset), instantiated;
//! 3. `canon lower` of every imported function and of the recorder's `call`/`ret` (memory +
//!    realloc of the allocator);
//! 4. `canon resource.drop` for each resource type borrowed in some parameter;
//! 5. the stub core module (see `coremod`), instantiated with the above;
//! 6. `canon lift` of every stub (memory, realloc, post-return);
//! 7. the exports, named like the guest's imports: per interface a re-export shim instance
//!    (see `shim`), bare functions directly, world-level types re-exported.
//!
//! The proxy's types for host resources are the host's own (aliased from the imported instances),
//! so own handles move through it untouched and only lent borrows need code (DESIGN-NOTES fact 1).

use anyhow::{anyhow, bail, Context, Result};
use std::collections::HashMap;
use wasm_encoder::{
    Alias, CanonicalOption, ComponentBuilder, ComponentDefinedTypeEncoder, ComponentExportKind,
    ComponentFuncTypeEncoder, ComponentOuterAliasKind, ComponentTypeRef, ComponentValType,
    ExportKind, InstanceType, ModuleArg, TypeBounds,
};
use wit_parser::{Function, InterfaceId, Resolve, TypeId, WorldItem};

use crate::abi;
use crate::analyze::Decoded;
use crate::coremod::{self, StubSpec};
use crate::error::unsupported;
use crate::shim;
use crate::typeenc::{TypeMaps, ValtypeEncoder};

/// The proxy's root index space and the type-encoding policy for it: types of an interface are
/// aliased from the imported instance of that interface; world-level named types are imported.
struct Root<'a> {
    resolve: &'a Resolve,
    builder: ComponentBuilder,
    /// Root instance index of each imported interface.
    instances: HashMap<InterfaceId, u32>,
    maps: TypeMaps<'a>,
}

impl Root<'_> {
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

/// A function the proxy forwards: where it comes from and its root function index (imported).
struct Proxied<'a> {
    /// The import name of the function's interface (`None` for a bare function).
    interface: Option<String>,
    func: &'a Function,
    import: u32,
}

/// One export of the proxy, in the guest's import order.
enum Export {
    /// An imported interface with no functions, re-exported as is. A shim would do too, but
    /// wasmparser renames a non-resource type through an instantiation to the argument's
    /// `created` id, which for a shim export is an alias of the shim's own definition: a guest
    /// export that `use`s such a type would then decode (wit-component) as a fresh definition
    /// instead of a `use` of the import. Resources are substituted by identity and keep the link.
    Passthrough {
        name: String,
        instance: u32,
    },
    Interface {
        name: String,
        id: InterfaceId,
        funcs: Vec<usize>,
    },
    Func {
        name: String,
        k: usize,
    },
    Type {
        name: String,
        index: u32,
    },
}

/// Builds the proxy for the guest described by `decoded`: pass-through, and with `record` also
/// reporting every call to the imported recorder instance ([`crate::RECORDER_INTERFACE`]).
pub fn proxy(decoded: &Decoded, record: bool) -> Result<Vec<u8>> {
    let resolve = &decoded.resolve;
    let world = &resolve.worlds[decoded.world];
    let mut root = Root {
        resolve,
        builder: ComponentBuilder::default(),
        instances: HashMap::new(),
        maps: TypeMaps::default(),
    };
    // Function ids: interface functions in world order, then bare functions in world order; the
    // same order as `ComponentInfo::intercepted_functions`, which the trace will use as func-id.
    let mut proxied: Vec<Proxied<'_>> = Vec::new();
    let mut bare: Vec<Proxied<'_>> = Vec::new();
    let mut exports = Vec::new();

    // 1. The guest's imports become the proxy's imports.
    for (key, item) in world.imports.iter() {
        let name = resolve.name_world_key(key);
        if record && name == crate::RECORDER_INTERFACE {
            unsupported!(
                "the component itself imports `{name}`, the interface record mode adds \
                 (instrumenting an already instrumented component?)"
            );
        }
        match item {
            WorldItem::Interface { id, .. } => {
                let inst = import_interface(&mut root, &name, *id)
                    .with_context(|| format!("importing interface `{name}`"))?;
                let mut funcs = Vec::new();
                for f in resolve.interfaces[*id].functions.values() {
                    let import =
                        root.builder
                            .alias_export(inst, &f.name, ComponentExportKind::Func);
                    funcs.push(proxied.len());
                    proxied.push(Proxied {
                        interface: Some(name.clone()),
                        func: f,
                        import,
                    });
                }
                if funcs.is_empty() {
                    // Nothing to intercept (a types-only interface such as a `types` package
                    // interface): hand the guest the host's instance itself. Besides being
                    // smaller, this keeps the `use` links of guest exports that mention these
                    // types (see `Export::Passthrough`).
                    exports.push(Export::Passthrough {
                        name,
                        instance: inst,
                    });
                } else {
                    exports.push(Export::Interface {
                        name,
                        id: *id,
                        funcs,
                    });
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
                        "bare function import `{name}` takes a `borrow<..>`: wac-graph 0.12 cannot \
                         compose root-level functions with borrows (put it in an interface)"
                    );
                }
                let ty = root
                    .encode_func_type(resolve, f)
                    .with_context(|| format!("function `{name}`"))?;
                let import = root
                    .builder
                    .import(name.as_str(), ComponentTypeRef::Func(ty));
                exports.push(Export::Func {
                    name,
                    k: bare.len(),
                });
                bare.push(Proxied {
                    interface: None,
                    func: f,
                    import,
                });
            }
            WorldItem::Type { id, .. } => {
                let ComponentValType::Type(index) = root
                    .encode_type_id(resolve, *id)
                    .with_context(|| format!("type `{name}`"))?
                else {
                    bail!("world type `{name}` encoded as a primitive");
                };
                exports.push(Export::Type { name, index });
            }
        }
    }

    let first_bare = proxied.len();
    proxied.append(&mut bare);
    check_func_ids(decoded, &proxied)?;
    for export in &mut exports {
        if let Export::Func { k, .. } = export {
            *k += first_bare;
        }
    }

    // 1b. Record mode: the recorder instance, after the guest's imports.
    let recorder = if record {
        Some(import_recorder(&mut root))
    } else {
        None
    };

    // 2. Allocator module: memory, realloc, reset.
    let alloc = root
        .builder
        .core_module(Some("proxyrt-alloc"), &coremod::alloc_module());
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

    // 3. Lower every imported function into core.
    let lowered: Vec<u32> = proxied
        .iter()
        .map(|p| {
            root.builder
                .lower_func(Some(&p.func.name), p.import, mem_opts)
        })
        .collect();

    // 3b. Lower the recorder's functions: their `list<u8>` is read from our memory.
    let recorder_lowered = recorder.map(|(call, ret)| {
        (
            root.builder
                .lower_func(Some("recorder-call"), call, mem_opts),
            root.builder.lower_func(Some("recorder-ret"), ret, mem_opts),
        )
    });

    // 4. resource.drop for each borrowed resource type.
    let drops = coremod::borrowed_resources(resolve, proxied.iter().map(|p| p.func));
    let mut drop_funcs = Vec::new();
    for id in &drops {
        let ComponentValType::Type(r) = root.encode_type_id(resolve, *id)? else {
            bail!("resource encoded as a primitive");
        };
        drop_funcs.push(root.builder.resource_drop(r));
    }

    // 5. Stub module, instantiated with memory, allocator, lowered imports and drops.
    let specs: Vec<StubSpec<'_>> = proxied
        .iter()
        .map(|p| StubSpec {
            func: p.func,
            lowered: abi::lowered_sig(resolve, p.func),
            lifted: abi::lifted_sig(resolve, p.func),
        })
        .collect();
    let stub_module = coremod::stub_module(resolve, &specs, &drops, record)?;
    let stubs = root
        .builder
        .core_module(Some("proxyrt-stubs"), &stub_module);
    let mut env: Vec<(String, ExportKind, u32)> = vec![
        ("memory".into(), ExportKind::Memory, memory),
        ("realloc".into(), ExportKind::Func, realloc),
        ("reset".into(), ExportKind::Func, reset),
    ];
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
    if let Some((call, ret)) = recorder_lowered {
        env.push((coremod::REC_CALL.into(), ExportKind::Func, call));
        env.push((coremod::REC_RET.into(), ExportKind::Func, ret));
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
    for (k, p) in proxied.iter().enumerate() {
        let stub =
            root.builder
                .core_alias_export(None, stubs, &coremod::stub_name(k), ExportKind::Func);
        let post =
            root.builder
                .core_alias_export(None, stubs, &coremod::post_name(k), ExportKind::Func);
        let ty = root.encode_func_type(resolve, p.func)?;
        let opts = [
            CanonicalOption::Memory(memory),
            CanonicalOption::Realloc(realloc),
            CanonicalOption::PostReturn(post),
            CanonicalOption::UTF8,
        ];
        lifted.push(root.builder.lift_func(Some(&p.func.name), stub, ty, opts));
    }

    // 7. Exports under the guest's import names.
    for export in exports {
        match export {
            Export::Interface { name, id, funcs } => {
                let (component, args) = shim::build(resolve, id)
                    .with_context(|| format!("re-export shim for `{name}`"))?;
                let mut inst_args: Vec<(String, ComponentExportKind, u32)> = Vec::new();
                for (import, ty) in args.types {
                    let ComponentValType::Type(index) = root.encode_type_id(resolve, ty)? else {
                        bail!("shim type import `{import}` is a primitive");
                    };
                    inst_args.push((import, ComponentExportKind::Type, index));
                }
                for (import, k) in args.funcs.into_iter().zip(funcs) {
                    inst_args.push((import, ComponentExportKind::Func, lifted[k]));
                }
                let shim_name = format!("{name}-shim");
                let c = root.builder.component(Some(&shim_name), component);
                let inst = root.builder.instantiate(Some(&shim_name), c, inst_args);
                root.builder
                    .export(name.as_str(), ComponentExportKind::Instance, inst, None);
            }
            Export::Passthrough { name, instance } => {
                root.builder
                    .export(name.as_str(), ComponentExportKind::Instance, instance, None);
            }
            Export::Func { name, k } => {
                root.builder
                    .export(name.as_str(), ComponentExportKind::Func, lifted[k], None);
            }
            Export::Type { name, index } => {
                root.builder
                    .export(name.as_str(), ComponentExportKind::Type, index, None);
            }
        }
    }
    Ok(root.builder.finish())
}

/// The stub index of a function is its recorder func-id, which the runtime and the trace resolve
/// with [`crate::ComponentInfo::intercepted_functions`]: the two orders must never drift apart, so
/// every synthesis checks them (cheap next to the synthesis itself).
fn check_func_ids(decoded: &Decoded, proxied: &[Proxied<'_>]) -> Result<()> {
    let info = decoded.info();
    let expected: Vec<(Option<&str>, &str)> = info
        .intercepted_functions()
        .map(|f| (f.interface, f.function.name.as_str()))
        .collect();
    let actual: Vec<(Option<&str>, &str)> = proxied
        .iter()
        .map(|p| (p.interface.as_deref(), p.func.name.as_str()))
        .collect();
    if expected != actual {
        bail!("stub order differs from `intercepted_functions`: {actual:?} vs {expected:?}");
    }
    Ok(())
}

/// Imports [`crate::RECORDER_INTERFACE`] with exactly `call: func(func-id: u32, args: list<u8>)`
/// and `ret: func(func-id: u32, results: list<u8>)`; returns the root indices of the two
/// functions.
fn import_recorder(root: &mut Root<'_>) -> (u32, u32) {
    use wasm_encoder::PrimitiveValType as P;
    let mut ty = InstanceType::new();
    ty.ty()
        .defined_type()
        .list(ComponentValType::Primitive(P::U8));
    let bytes = ComponentValType::Type(0);
    for (i, (func, param)) in [("call", "args"), ("ret", "results")]
        .into_iter()
        .enumerate()
    {
        ty.ty()
            .function()
            .params([
                ("func-id", ComponentValType::Primitive(P::U32)),
                (param, bytes),
            ])
            .result(None);
        ty.export(func, ComponentTypeRef::Func(1 + i as u32));
    }
    let name = crate::RECORDER_INTERFACE;
    let t = root.builder.type_instance(Some(name), &ty);
    let inst = root.builder.import(name, ComponentTypeRef::Instance(t));
    let call = root
        .builder
        .alias_export(inst, "call", ComponentExportKind::Func);
    let ret = root
        .builder
        .alias_export(inst, "ret", ComponentExportKind::Func);
    (call, ret)
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

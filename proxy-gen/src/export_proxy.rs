//! The export proxy: a second, small component instantiated *above* the guest, that exports the
//! guest's exports which are given handles the host creates (a wasi:http handler's
//! `handle(request: own<incoming-request>, response-out: own<response-outparam>)`).
//!
//! Why it exists (DESIGN.md, fact 4): when the proxy wraps resources, the guest's export is typed
//! over the proxy's wrapper types, which the composition cannot export under the original's
//! types, and the host could not create such handles anyway. So the composition exports the export
//! proxy's function instead. When the host calls it, the export proxy turns every host handle
//! into a wrapper through the proxy's `export-handle{k}` (which records the handle as the call
//! `[export-handle]R`), then calls the guest's export with the wrappers. On replay there is no
//! host: the export proxy's function takes only the export's other (scalar) parameters, and
//! `export-handle{k}` answers each handle from the trace.
//!
//! Only what needs no memory is wrapped (the plan checks it, [`crate::plan::WrappedExport`]), so
//! the export proxy is a handful of `canon lower`/`lift` with no options and one core function
//! per exported function. Layout of its root:
//! 1. per resource the wrapped exports reach: the host's type (forwarding only) and the
//!    proxy's wrapper type, imported as `sub resource`; `own` types over them;
//! 2. per export handle, the proxy's lifted `export-handle{k}`, imported; per function of a
//!    wrapped export, the guest's, imported over the wrapper types;
//! 3. all of them lowered, the core module (`export{e}-{m}`: call `handle{k}` for each handle
//!    parameter in order, pass scalars on, call the guest), instantiated;
//! 4. per wrapped export, its functions lifted (over the host's types, or without the handle
//!    parameters on replay) and re-exported through a nested shim component (fact 1) under the
//!    export's name.

use anyhow::{anyhow, bail, Context, Result};
use std::collections::HashMap;
use wasm_encoder::{
    CodeSection, ComponentBuilder, ComponentExportKind, ComponentTypeRef, ComponentValType,
    EntityType, ExportKind, ExportSection, Function, FunctionSection, ImportSection, InstanceType,
    Instruction as I, Module, ModuleArg, TypeBounds, TypeSection, ValType,
};
use wit_parser::{InterfaceId, Resolve, Type, TypeId, TypeOwner};

use crate::abi;
use crate::analyze::Decoded;
use crate::plan::Plan;
use crate::typeenc;

/// Export name, in the proxy, of the host's instance of the `n`-th interface of [`interfaces`]
/// (forwarding only).
pub fn host_instance_name(n: usize) -> String {
    format!("proxyrt-host-i{n}")
}

/// The interfaces that define the resources the wrapped exports reach (`Plan::export_resources`,
/// of types `wrapped`, dealiased), in order of first appearance.
pub fn interfaces(resolve: &Resolve, plan: &Plan, wrapped: &[TypeId]) -> Result<Vec<InterfaceId>> {
    let mut out = Vec::new();
    for &j in &plan.export_resources {
        let t = *wrapped
            .get(j)
            .ok_or_else(|| anyhow!("export resource {j} is not wrapped"))?;
        let iface = owner(resolve, t)
            .ok_or_else(|| anyhow!("export resource {j} is not defined by an interface"))?;
        if !out.contains(&iface) {
            out.push(iface);
        }
    }
    Ok(out)
}

fn owner(resolve: &Resolve, t: TypeId) -> Option<InterfaceId> {
    match resolve.types[abi::dealias(resolve, t)].owner {
        TypeOwner::Interface(i) => Some(i),
        _ => None,
    }
}

/// Export name, in the proxy, of the lifted `export-handle{k}`.
pub fn handle_func_name(k: usize) -> String {
    format!("proxyrt-handle-h{k}")
}

/// Where the composition takes an import of the export proxy from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The proxy's export of this name.
    Proxy(String),
    /// Function `func` of the guest's exported instance `export`.
    GuestExport { export: String, func: String },
}

/// The export proxy of a guest, and how to plug it in.
pub struct ExportProxy {
    /// The component.
    pub bytes: Vec<u8>,
    /// Each of its imports, with where the composition takes it from.
    pub args: Vec<(String, Source)>,
    /// The guest exports it exports in the guest's place (same names).
    pub exports: Vec<String>,
}

/// The export proxy for `plan`, or `None` if no export of the guest is given host handles.
pub fn build(decoded: &Decoded, plan: &Plan) -> Result<Option<ExportProxy>> {
    if plan.wrapped_exports.is_empty() {
        return Ok(None);
    }
    let resolve = decoded.resolve();
    let forwards = plan.mode.forwards();
    let resources: Vec<TypeId> = plan
        .wrapped_resources
        .iter()
        .map(|r| r.type_id(decoded).map(|t| abi::dealias(resolve, t)))
        .collect::<Result<_>>()?;
    let mut b = ComponentBuilder::default();
    let mut args = Vec::new();

    // 1. The types, as exports of instances named like the resources (wac-graph matches
    // resources by name): per interface, the host's instance (forwarding) and the proxy's.
    let mut host_t = HashMap::new();
    let mut wrap_t = HashMap::new();
    for (n, iface) in interfaces(resolve, plan, &resources)?
        .into_iter()
        .enumerate()
    {
        let members: Vec<usize> = plan
            .export_resources
            .iter()
            .copied()
            .filter(|j| owner(resolve, resources[*j]) == Some(iface))
            .collect();
        let mut ty = InstanceType::new();
        for j in &members {
            let name = &plan.wrapped_resources[*j].name;
            ty.export(name, ComponentTypeRef::Type(TypeBounds::SubResource));
        }
        let ty = b.type_instance(None, &ty);
        let interface = &plan.wrapped_resources[members[0]].interface;
        if forwards {
            let import = format!("host-i{n}");
            let inst = b.import(&import, ComponentTypeRef::Instance(ty));
            args.push((import, Source::Proxy(host_instance_name(n))));
            for j in &members {
                let name = &plan.wrapped_resources[*j].name;
                let t = b.alias_export(inst, name, ComponentExportKind::Type);
                host_t.insert(*j, t);
            }
        }
        let import = format!("wrapped-i{n}");
        let inst = b.import(&import, ComponentTypeRef::Instance(ty));
        args.push((import, Source::Proxy(interface.clone())));
        for j in &members {
            let name = &plan.wrapped_resources[*j].name;
            let t = b.alias_export(inst, name, ComponentExportKind::Type);
            wrap_t.insert(*j, t);
        }
    }
    let get = |m: &HashMap<usize, u32>, j: usize| {
        m.get(&j)
            .copied()
            .ok_or_else(|| anyhow!("resource {j} is not among the export resources"))
    };

    // 2. The imported functions: the proxy's export handles, the guest's exports.
    let mut handle_funcs = Vec::new();
    for (k, h) in plan.export_handles.iter().enumerate() {
        let param = if forwards {
            Some(own(&mut b, get(&host_t, h.resource)?))
        } else {
            None
        };
        let result = own(&mut b, get(&wrap_t, h.resource)?);
        let (ty, mut enc) = b.type_function(None);
        enc.params(param.map(|t| ("handle", ComponentValType::Type(t))));
        enc.result(Some(ComponentValType::Type(result)));
        let name = format!("handle-h{k}");
        handle_funcs.push(b.import(&name, ComponentTypeRef::Func(ty)));
        args.push((name, Source::Proxy(handle_func_name(k))));
    }
    // Per export, per function: its WIT function, the guest's function (imported) and the
    // resource of each handle parameter.
    struct Wrapped<'a> {
        func: &'a wit_parser::Function,
        guest: u32,
        handles: Vec<Option<(usize, usize)>>,
    }
    let mut exports = Vec::new();
    for (e, export) in plan.wrapped_exports.iter().enumerate() {
        let iface = &resolve.interfaces[export.interface(decoded)?];
        let mut funcs = Vec::new();
        for (m, wf) in export.functions.iter().enumerate() {
            let func = iface
                .functions
                .get(&wf.name)
                .ok_or_else(|| anyhow!("wrapped function `{}` is not exported", wf.name))?;
            let handles: Vec<Option<(usize, usize)>> = wf
                .params
                .iter()
                .map(|h| h.map(|k| (k, plan.export_handles[k].resource)))
                .collect();
            // Over the proxy's wrapper types.
            let ty = func_type(&mut b, resolve, (func, &handles), &mut |_, j| {
                get(&wrap_t, j).map(Some)
            })?;
            let name = format!("guest-e{e}-f{m}");
            let guest = b.import(&name, ComponentTypeRef::Func(ty));
            args.push((
                name,
                Source::GuestExport {
                    export: export.name.clone(),
                    func: wf.name.clone(),
                },
            ));
            funcs.push(Wrapped {
                func,
                guest,
                handles,
            });
        }
        exports.push((export, iface, funcs));
    }

    // 3. Lowered into core, the core module, instantiated.
    let mut env = Vec::new();
    for (k, f) in handle_funcs.iter().enumerate() {
        let core = b.lower_func(None, *f, Vec::<wasm_encoder::CanonicalOption>::new());
        env.push((format!("handle{k}"), ExportKind::Func, core));
    }
    for (e, (_, _, funcs)) in exports.iter().enumerate() {
        for (m, w) in funcs.iter().enumerate() {
            let core = b.lower_func(None, w.guest, Vec::<wasm_encoder::CanonicalOption>::new());
            env.push((format!("guest{e}-{m}"), ExportKind::Func, core));
        }
    }
    let shapes: Vec<Vec<Shape<'_>>> = exports
        .iter()
        .map(|(_, _, funcs)| {
            funcs
                .iter()
                .map(|w| (w.func, w.handles.as_slice()))
                .collect()
        })
        .collect();
    let module = core_module(resolve, plan, &shapes)?;
    let env = b.core_instantiate_exports(
        Some("env"),
        env.iter().map(|(n, k, i)| (n.as_str(), *k, *i)),
    );
    let module = b.core_module(Some("proxyrt-exports"), &module);
    let core = b.core_instantiate(
        Some("proxyrt-exports"),
        module,
        [("env", ModuleArg::Instance(env))],
    );

    // 4. Lifted and exported through a shim, per export.
    let mut names = Vec::new();
    for (e, (export, iface, funcs)) in exports.iter().enumerate() {
        let mut lifted = Vec::new();
        for (m, w) in funcs.iter().enumerate() {
            // Over the host's types, or without the handles on replay.
            let ty = func_type(&mut b, resolve, (w.func, &w.handles), &mut |_, j| {
                if forwards {
                    get(&host_t, j).map(Some)
                } else {
                    Ok(None)
                }
            })?;
            let f = b.core_alias_export(None, core, &format!("export{e}-{m}"), ExportKind::Func);
            lifted.push(b.lift_func(
                Some(&w.func.name),
                f,
                ty,
                Vec::<wasm_encoder::CanonicalOption>::new(),
            ));
        }
        let (shim, type_args) = shim(resolve, iface, &shapes[e], forwards, &resources)
            .with_context(|| format!("export shim for `{}`", export.name))?;
        let shim = b.component(Some(&format!("{}-shim", export.name)), shim);
        let mut inst_args = Vec::new();
        for (name, j) in type_args {
            inst_args.push((name, ComponentExportKind::Type, get(&host_t, j)?));
        }
        for (m, f) in lifted.iter().enumerate() {
            inst_args.push((format!("import-func-f{m}"), ComponentExportKind::Func, *f));
        }
        let inst = b.instantiate(Some(&export.name), shim, inst_args);
        b.export(&export.name, ComponentExportKind::Instance, inst, None);
        names.push(export.name.clone());
    }
    Ok(Some(ExportProxy {
        bytes: b.finish(),
        args,
        exports: names,
    }))
}

/// A function of a wrapped export and, per parameter, the (export handle, wrapped resource) it
/// takes, if it is a handle.
type Shape<'a> = (&'a wit_parser::Function, &'a [Option<(usize, usize)>]);

/// `own<t>`, defined in `b`.
fn own(b: &mut ComponentBuilder, t: u32) -> u32 {
    let (own, enc) = b.type_defined(None);
    enc.own(t);
    own
}

/// The component type of scalar `ty` (the plan admits nothing else beside handles).
fn scalar(resolve: &Resolve, ty: &Type) -> Result<ComponentValType> {
    match abi::dealias_type(resolve, ty) {
        Type::String => bail!("a wrapped export's value of type string is not a scalar"),
        other => typeenc::primitive(other)
            .map(ComponentValType::Primitive)
            .ok_or_else(|| anyhow!("a wrapped export's value of type {other:?} is not a scalar")),
    }
}

/// The type of function `f` of a wrapped export, defined in `b`: scalars as they are, each
/// handle parameter (of wrapped resource `j`) typed `own<handle(b, j)>`, or left out where
/// `handle` gives `None`.
fn func_type(
    b: &mut ComponentBuilder,
    resolve: &Resolve,
    (f, handles): Shape<'_>,
    handle: &mut dyn FnMut(&mut ComponentBuilder, usize) -> Result<Option<u32>>,
) -> Result<u32> {
    let mut params = Vec::new();
    for (p, h) in f.params.iter().zip(handles) {
        match h {
            Some((_, j)) => {
                if let Some(t) = handle(b, *j)? {
                    params.push((p.name.as_str(), ComponentValType::Type(own(b, t))));
                }
            }
            None => params.push((p.name.as_str(), scalar(resolve, &p.ty)?)),
        }
    }
    let result = f.result.as_ref().map(|t| scalar(resolve, t)).transpose()?;
    let (ty, mut enc) = b.type_function(None);
    enc.params(params);
    enc.result(result);
    Ok(ty)
}

/// The core module: per wrapped export `e` and function `m`, `export{e}-{m}` calls `handle{k}`
/// for each handle parameter, in parameter order (record passes it the host handle), passes the
/// scalars on, and calls `guest{e}-{m}` with the result. `exports[e][m]` is the function and the
/// (export handle, resource) of each of its parameters that is a handle.
fn core_module(resolve: &Resolve, plan: &Plan, exports: &[Vec<Shape<'_>>]) -> Result<Module> {
    let forwards = plan.mode.forwards();
    let mut types = TypeSection::new();
    let mut n_types = 0;
    let mut ty = |types: &mut TypeSection, params: Vec<ValType>, results: Vec<ValType>| {
        types.ty().function(params, results);
        n_types += 1;
        n_types - 1
    };
    let mut imports = ImportSection::new();
    let handle_ty = if forwards {
        ty(&mut types, vec![ValType::I32], vec![ValType::I32])
    } else {
        ty(&mut types, vec![], vec![ValType::I32])
    };
    for k in 0..plan.export_handles.len() {
        imports.import(
            "env",
            &format!("handle{k}"),
            EntityType::Function(handle_ty),
        );
    }
    let n_handles = plan.export_handles.len() as u32;
    let mut guest_index = Vec::new();
    let mut next = n_handles;
    let mut sigs = Vec::new();
    for (e, funcs) in exports.iter().enumerate() {
        let mut row = Vec::new();
        for (m, (func, handles)) in funcs.iter().enumerate() {
            let sig = abi::lowered_sig(resolve, func);
            if sig.retptr || sig.indirect_params || sig.results.len() > 1 {
                bail!("wrapped export `{}` needs memory", func.name);
            }
            if sig.params.len() != handles.len() {
                bail!("wrapped export `{}` has non-scalar parameters", func.name);
            }
            let t = ty(&mut types, sig.params.clone(), sig.results.clone());
            imports.import("env", &format!("guest{e}-{m}"), EntityType::Function(t));
            row.push(next);
            next += 1;
            // What the export takes: the guest's parameters without the handles on replay.
            let params: Vec<ValType> = sig
                .params
                .iter()
                .zip(handles.iter())
                .filter(|(_, h)| forwards || h.is_none())
                .map(|(t, _)| *t)
                .collect();
            sigs.push((e, m, ty(&mut types, params, sig.results.clone())));
        }
        guest_index.push(row);
    }
    let mut funcs = FunctionSection::new();
    let mut exports_sec = ExportSection::new();
    let mut code = CodeSection::new();
    for (i, (e, m, t)) in sigs.into_iter().enumerate() {
        funcs.function(t);
        exports_sec.export(&format!("export{e}-{m}"), ExportKind::Func, next + i as u32);
        let mut f = Function::new([]);
        let mut local = 0;
        for h in exports[e][m].1 {
            match h {
                Some((k, _)) => {
                    if forwards {
                        f.instruction(&I::LocalGet(local));
                        local += 1;
                    }
                    f.instruction(&I::Call(*k as u32));
                }
                None => {
                    f.instruction(&I::LocalGet(local));
                    local += 1;
                }
            }
        }
        f.instruction(&I::Call(guest_index[e][m]));
        f.instruction(&I::End);
        code.function(&f);
    }
    let mut module = Module::new();
    module.section(&types);
    module.section(&imports);
    module.section(&funcs);
    module.section(&exports_sec);
    module.section(&code);
    Ok(module)
}

/// The shim that exports wrapped interface `iface` with its exact names (fact 1): it imports
/// (forwarding only) the interface's types, all `use`s of resources, as `sub resource`, and the
/// lifted functions, and exports the types and then the functions ascribed with them. On replay
/// the functions take no handle and the shim has no type. Returns the component and, per type
/// import, its name and the wrapped resource that satisfies it.
fn shim(
    resolve: &Resolve,
    iface: &wit_parser::Interface,
    funcs: &[Shape<'_>],
    forwards: bool,
    resources: &[TypeId],
) -> Result<(ComponentBuilder, Vec<(String, usize)>)> {
    let mut s = ComponentBuilder::default();
    let mut type_args = Vec::new();
    // The interface's types (resources all) by the wrapped resource they alias.
    let mut imported: Vec<(&str, usize, u32)> = Vec::new();
    if forwards {
        for (name, t) in iface.types.iter() {
            let r = abi::dealias(resolve, *t);
            let j = resources
                .iter()
                .position(|x| *x == r)
                .ok_or_else(|| anyhow!("type `{name}` is not a wrapped resource"))?;
            let import = format!("import-type-{name}");
            let idx = s.import(&import, ComponentTypeRef::Type(TypeBounds::SubResource));
            type_args.push((import, j));
            imported.push((name.as_str(), j, idx));
        }
    }
    // Handle parameters typed over `types` (wrapped resource -> type index); none on replay.
    let typed_by = |types: &HashMap<usize, u32>| {
        let types = types.clone();
        move |_: &mut ComponentBuilder, j: usize| -> Result<Option<u32>> {
            if !forwards {
                return Ok(None);
            }
            types
                .get(&j)
                .copied()
                .map(Some)
                .ok_or_else(|| anyhow!("a handle parameter's resource is not `use`d"))
        }
    };
    let by_resource: HashMap<usize, u32> = imported.iter().map(|(_, j, i)| (*j, *i)).collect();
    let mut func_imports = Vec::new();
    for (m, w) in funcs.iter().enumerate() {
        let ty = func_type(&mut s, resolve, *w, &mut typed_by(&by_resource))?;
        func_imports.push(s.import(format!("import-func-f{m}"), ComponentTypeRef::Func(ty)));
    }
    let mut exported = HashMap::new();
    for (name, j, idx) in &imported {
        let e = s.export(*name, ComponentExportKind::Type, *idx, None);
        exported.entry(*j).or_insert(e);
    }
    for (w, idx) in funcs.iter().zip(func_imports) {
        let ty = func_type(&mut s, resolve, *w, &mut typed_by(&exported))?;
        s.export(
            &w.0.name,
            ComponentExportKind::Func,
            idx,
            Some(ComponentTypeRef::Func(ty)),
        );
    }
    Ok((s, type_args))
}

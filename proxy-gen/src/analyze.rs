//! Input checks and the "intercept table": what a component imports and exports, with resolved types.
//!
//! Two views of the same information:
//! - [`Decoded`] keeps wit-parser's `Resolve` (wasm-tools 0.258), private to this crate: proxy-gen's
//!   planner and generators work on it.
//! - [`ComponentInfo`] is plain, serde-friendly data with every type spelled out. The runtime uses
//!   wasmtime 48, i.e. wasm-tools 0.254, and must not exchange 0.258 types with this crate: it gets
//!   this summary (or its bincode bytes) instead.

use anyhow::anyhow;
pub use recorder_host::types::{
    ComponentInfo, ExportHandle, FuncKind, FunctionInfo, InterceptedFunction, InterfaceInfo,
    NamedType, ResourceDrop, ResourceRef, ValueType,
};
use wasmparser::{Parser, Validator, WasmFeatures};
use wit_parser::{
    Function, FunctionKind, Handle, Interface, InterfaceId, Resolve, Type, TypeDefKind, TypeId,
    TypeOwner, WorldId, WorldItem, WorldKey,
};

use crate::error::{Error, Result};

/// A component decoded to its WIT world, after structural validation: what [`crate::instrument_decoded`]
/// and [`crate::instrument_embedded`] take, so that a caller that also needs the
/// [`ComponentInfo`] ([`Decoded::info`]) decodes the component once.
///
/// Its wit-parser (wasm-tools 0.258) representation stays inside this crate: callers use other
/// wasm-tools versions (wasmtime's), and must never exchange these types with it.
pub struct Decoded {
    /// All WIT packages, interfaces and types the component refers to.
    resolve: Resolve,
    /// The component's world: its imports and exports.
    world: WorldId,
}

impl std::fmt::Debug for Decoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoded")
            .field("world", &self.resolve.worlds[self.world].name)
            .finish()
    }
}

/// Tells a component from a core module and from non-wasm bytes, by the 8-byte header alone.
fn check_header(bytes: &[u8]) -> Result<()> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(Error::NotWasm);
    }
    if Parser::is_core_wasm(bytes) {
        return Err(Error::CoreModule);
    }
    if !Parser::is_component(bytes) {
        let version = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        return Err(Error::UnknownVersion(version));
    }
    Ok(())
}

/// Decodes the world of component `bytes`.
///
/// wit-parser validates the component's structure while decoding (all features, types, imports,
/// exports, instantiations), so malformed input gets the validator's message with its offset.
/// Function bodies are not validated here: that is the costliest part of validation and the
/// composition is validated as a whole anyway (see [`crate::instrument`]).
pub fn decode(bytes: &[u8]) -> Result<Decoded> {
    check_header(bytes)?;
    match wit_component::decode(bytes).map_err(Error::Malformed)? {
        wit_component::DecodedWasm::Component(resolve, world) => Ok(Decoded { resolve, world }),
        wit_component::DecodedWasm::WitPackage(..) => Err(Error::Malformed(anyhow!(
            "this is a WIT package encoded as wasm, not a runnable component"
        ))),
    }
}

/// Fully validates `bytes` (function bodies included) with every feature wasmparser knows.
pub fn validate(bytes: &[u8]) -> Result<()> {
    validated(bytes).map(drop)
}

/// [`validate`], keeping the types the validator found (the sizes of the index spaces, for one).
pub fn validated(bytes: &[u8]) -> Result<wasmparser::types::Types> {
    check_header(bytes)?;
    Validator::new_with_features(WasmFeatures::all())
        .validate_all(bytes)
        .map_err(|e| Error::Malformed(anyhow!(e)))
}

/// Decodes `bytes` and summarizes its imports and exports (see [`ComponentInfo`]).
pub fn analyze(bytes: &[u8]) -> Result<ComponentInfo> {
    Ok(decode(bytes)?.info())
}

impl Decoded {
    /// All WIT packages, interfaces and types the component refers to.
    pub(crate) fn resolve(&self) -> &Resolve {
        &self.resolve
    }

    /// The component's world: its imports and exports.
    pub(crate) fn world(&self) -> WorldId {
        self.world
    }

    /// Whether the component imports nothing (then there is nothing to intercept).
    pub(crate) fn imports_nothing(&self) -> bool {
        self.resolve.worlds[self.world].imports.is_empty()
    }

    /// The plain-data summary of this component's world.
    pub fn info(&self) -> ComponentInfo {
        let world = &self.resolve.worlds[self.world];
        let mut info = ComponentInfo::default();
        for (dir, items) in [(true, &world.imports), (false, &world.exports)] {
            for (key, item) in items {
                let name = self.resolve.name_world_key(key);
                match item {
                    WorldItem::Interface { id, .. } => {
                        let iface = self.interface_info(name, key, *id);
                        if dir {
                            // Same order as the proxy's wrapper types (`synth`'s `wrapped`).
                            info.resource_drops
                                .extend(self.resource_types(*id).map(|(n, t)| {
                                    ResourceDrop::new(&iface.name, n, self.resource_ref(t))
                                }));
                            info.imported_interfaces.push(iface)
                        } else {
                            info.exported_interfaces.push(iface)
                        }
                    }
                    WorldItem::Function(f) => {
                        let f = self.function_info(f);
                        if dir {
                            info.imported_functions.push(f)
                        } else {
                            info.exported_functions.push(f)
                        }
                    }
                    WorldItem::Type { id, .. } => {
                        let t = NamedType {
                            name,
                            ty: self.value_type(&Type::Id(*id)),
                        };
                        if dir {
                            info.imported_types.push(t)
                        } else {
                            info.exported_types.push(t)
                        }
                    }
                }
            }
        }
        info.export_handles = export_handles(&info);
        info
    }

    fn interface_info(&self, name: String, key: &WorldKey, id: InterfaceId) -> InterfaceInfo {
        let iface: &Interface = &self.resolve.interfaces[id];
        let (package, version) = match iface.package {
            Some(pkg) if matches!(key, WorldKey::Interface(_)) => {
                let p = &self.resolve.packages[pkg].name;
                (
                    Some(format!("{}:{}", p.namespace, p.name)),
                    p.version.as_ref().map(|v| v.to_string()),
                )
            }
            _ => (None, None),
        };
        InterfaceInfo {
            name,
            package,
            interface: iface.name.clone(),
            version,
            resources: self
                .resource_types(id)
                .map(|(n, _)| n.to_string())
                .collect(),
            functions: iface
                .functions
                .values()
                .map(|f| self.function_info(f))
                .collect(),
        }
    }

    /// The resource types interface `id` defines, in definition order (the order of
    /// `ComponentInfo::resource_drops` and of the proxy's wrapper types).
    pub(crate) fn resource_types(&self, id: InterfaceId) -> impl Iterator<Item = (&str, TypeId)> {
        self.resolve.interfaces[id]
            .types
            .iter()
            .filter(|(_, t)| matches!(self.resolve.types[**t].kind, TypeDefKind::Resource))
            .map(|(n, t)| (n.as_str(), *t))
    }

    fn function_info(&self, f: &Function) -> FunctionInfo {
        let res = |id: &TypeId| self.resource_ref(*id);
        let kind = match &f.kind {
            FunctionKind::Freestanding => FuncKind::Freestanding,
            FunctionKind::AsyncFreestanding => FuncKind::AsyncFreestanding,
            FunctionKind::Constructor(r) => FuncKind::Constructor(res(r)),
            FunctionKind::Method(r) => FuncKind::Method(res(r)),
            FunctionKind::AsyncMethod(r) => FuncKind::AsyncMethod(res(r)),
            FunctionKind::Static(r) => FuncKind::Static(res(r)),
            FunctionKind::AsyncStatic(r) => FuncKind::AsyncStatic(res(r)),
        };
        FunctionInfo {
            name: f.name.clone(),
            kind,
            params: f
                .params
                .iter()
                .map(|p| (p.name.clone(), self.value_type(&p.ty)))
                .collect(),
            result: f.result.as_ref().map(|t| self.value_type(t)),
        }
    }

    /// Follows `type a = b` aliases (including `use`) to the defining resource.
    fn resource_ref(&self, id: TypeId) -> ResourceRef {
        let id = crate::abi::dealias(&self.resolve, id);
        let def = &self.resolve.types[id];
        let interface = match def.owner {
            TypeOwner::Interface(i) => self
                .resolve
                .id_of(i)
                .or_else(|| self.resolve.interfaces[i].name.clone()),
            _ => None,
        };
        ResourceRef {
            interface,
            name: def.name.clone().unwrap_or_default(),
        }
    }

    /// Converts a wit-parser type into the self-contained [`ValueType`].
    fn value_type(&self, ty: &Type) -> ValueType {
        use ValueType as V;
        match ty {
            Type::Bool => V::Bool,
            Type::U8 => V::U8,
            Type::U16 => V::U16,
            Type::U32 => V::U32,
            Type::U64 => V::U64,
            Type::S8 => V::S8,
            Type::S16 => V::S16,
            Type::S32 => V::S32,
            Type::S64 => V::S64,
            Type::F32 => V::F32,
            Type::F64 => V::F64,
            Type::Char => V::Char,
            Type::String => V::String,
            Type::ErrorContext => V::ErrorContext,
            Type::Id(id) => {
                let def = &self.resolve.types[*id];
                let name = def.name.clone();
                let b = |t: &Type| Box::new(self.value_type(t));
                let ob = |t: &Option<Type>| t.as_ref().map(|t| Box::new(self.value_type(t)));
                match &def.kind {
                    TypeDefKind::Type(t) => self.value_type(t),
                    TypeDefKind::Record(r) => V::Record {
                        name,
                        fields: r
                            .fields
                            .iter()
                            .map(|f| (f.name.clone(), self.value_type(&f.ty)))
                            .collect(),
                    },
                    TypeDefKind::Tuple(t) => {
                        V::Tuple(t.types.iter().map(|t| self.value_type(t)).collect())
                    }
                    TypeDefKind::Flags(f) => V::Flags {
                        name,
                        flags: f.flags.iter().map(|f| f.name.clone()).collect(),
                    },
                    TypeDefKind::Variant(v) => V::Variant {
                        name,
                        cases: v
                            .cases
                            .iter()
                            .map(|c| (c.name.clone(), c.ty.as_ref().map(|t| self.value_type(t))))
                            .collect(),
                    },
                    TypeDefKind::Enum(e) => V::Enum {
                        name,
                        cases: e.cases.iter().map(|c| c.name.clone()).collect(),
                    },
                    TypeDefKind::Option(t) => V::Option(b(t)),
                    TypeDefKind::Result(r) => V::Result {
                        ok: ob(&r.ok),
                        err: ob(&r.err),
                    },
                    TypeDefKind::List(t) => V::List(b(t)),
                    TypeDefKind::Map(k, v) => V::Map(b(k), b(v)),
                    TypeDefKind::FixedLengthList(t, n) => V::FixedLengthList(b(t), *n),
                    TypeDefKind::Future(t) => V::Future(ob(t)),
                    TypeDefKind::Stream(t) => V::Stream(ob(t)),
                    TypeDefKind::Handle(Handle::Own(r)) => V::Own(self.resource_ref(*r)),
                    TypeDefKind::Handle(Handle::Borrow(r)) => V::Borrow(self.resource_ref(*r)),
                    TypeDefKind::Resource => V::Resource(self.resource_ref(*id)),
                    TypeDefKind::Unknown => V::Unknown,
                }
            }
        }
    }
}

/// The handles of imported resources that `info`'s exports take as `own` parameters, in the order
/// of the resource drops (`ComponentInfo::export_handles`).
fn export_handles(info: &ComponentInfo) -> Vec<ExportHandle> {
    let taken: Vec<&ResourceRef> = info
        .exported_interfaces
        .iter()
        .flat_map(|i| &i.functions)
        .chain(&info.exported_functions)
        .flat_map(|f| &f.params)
        .filter(|(_, ty)| info.is_host_handle(ty))
        .filter_map(|(_, ty)| match ty {
            ValueType::Own(r) => Some(r),
            _ => None,
        })
        .collect();
    info.resource_drops
        .iter()
        .filter_map(|d| match &d.function.kind {
            FuncKind::Drop(r) if taken.contains(&r) => {
                Some(ExportHandle::new(&d.interface, &r.name, r.clone()))
            }
            _ => None,
        })
        .collect()
}

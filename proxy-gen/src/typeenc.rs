//! Encoding wit-parser types as component-model types with wasm-encoder.
//!
//! The same WIT type must be written into several index spaces of the proxy: the proxy's imported
//! instance types, the proxy's root (for `canon lift`), and each re-export shim. They differ only in
//! how a *named* type is introduced (imported from an instance, declared as an instance-type
//! export, imported or exported by a shim) and in how a type of another interface is reached. This
//! trait writes the structure once and leaves those decisions to the implementor.
//!
//! Adapted from wit-component 0.258's private `encoding/types.rs` (same license as this crate,
//! Apache-2.0 WITH LLVM-exception), with errors instead of panics for unsupported input.

use std::collections::HashMap;

use crate::error::unsupported;
use anyhow::{bail, Result};
use wasm_encoder::{
    ComponentDefinedTypeEncoder, ComponentFuncTypeEncoder, ComponentValType, PrimitiveValType,
};
use wit_parser::{Function, Handle, InterfaceId, Resolve, Type, TypeDefKind, TypeId, TypeOwner};

/// Caches of already-encoded types of one index space.
#[derive(Default, Clone)]
pub struct TypeMaps<'a> {
    /// TypeId -> index in this index space.
    pub id_to_index: HashMap<TypeId, u32>,
    /// Anonymous type structure -> index (dedupes e.g. many `list<u8>`).
    pub def_to_index: HashMap<&'a TypeDefKind, u32>,
    /// Function signature -> function type index.
    pub func_type_map: HashMap<FuncKey, u32>,
}

/// Functions with equal parameter names/types and results share one function type.
#[derive(Hash, PartialEq, Eq, Clone)]
pub struct FuncKey {
    params: Vec<(String, Type)>,
    result: Option<Type>,
}

impl<'a> TypeMaps<'a> {
    fn lookup(&self, resolve: &'a Resolve, id: TypeId) -> Option<u32> {
        if let Some(index) = self.id_to_index.get(&id) {
            return Some(*index);
        }
        let ty = &resolve.types[id];
        if ty.name.is_none() {
            return self.def_to_index.get(&ty.kind).copied();
        }
        None
    }

    /// Records that `id` was encoded at `index`.
    pub fn insert(&mut self, resolve: &'a Resolve, id: TypeId, index: u32) {
        self.id_to_index.insert(id, index);
        let ty = &resolve.types[id];
        if ty.name.is_none() {
            self.def_to_index.insert(&ty.kind, index);
        }
    }
}

/// One index space that WIT types are encoded into. See the module docs.
pub trait ValtypeEncoder<'a> {
    /// Starts a new defined (structural) type; returns its index.
    fn defined_type(&mut self) -> (u32, ComponentDefinedTypeEncoder<'_>);
    /// Starts a new function type; returns its index.
    fn define_function_type(&mut self) -> (u32, ComponentFuncTypeEncoder<'_>);
    /// Gives the structural type at `index` its WIT `name` (by an export or import); returns the
    /// index of the named type, or `None` to keep using `index`.
    fn export_type(&mut self, index: u32, name: &'a str) -> Result<Option<u32>>;
    /// Introduces resource `name` (`sub resource`); returns its index.
    fn export_resource(&mut self, name: &'a str) -> Result<u32>;
    /// The caches of this index space.
    fn maps(&mut self) -> &mut TypeMaps<'a>;
    /// Makes type `id` of another interface available here; returns its index.
    fn import_type(&mut self, interface: InterfaceId, id: TypeId) -> Result<u32>;
    /// The interface whose own types are defined (not imported) in this index space.
    fn interface(&self) -> Option<InterfaceId>;

    /// Encodes the component function type of `func`.
    fn encode_func_type(&mut self, resolve: &'a Resolve, func: &'a Function) -> Result<u32> {
        if func.kind.is_async() {
            unsupported!("async function `{}` (component-model async)", func.name);
        }
        let key = FuncKey {
            params: func.params.iter().map(|p| (p.name.clone(), p.ty)).collect(),
            result: func.result,
        };
        if let Some(index) = self.maps().func_type_map.get(&key) {
            return Ok(*index);
        }
        let params = func
            .params
            .iter()
            .map(|p| Ok((p.name.as_str(), self.encode_valtype(resolve, &p.ty)?)))
            .collect::<Result<Vec<_>>>()?;
        let result = func
            .result
            .map(|ty| self.encode_valtype(resolve, &ty))
            .transpose()?;
        let (index, mut f) = self.define_function_type();
        f.params(params).result(result);
        self.maps().func_type_map.insert(key, index);
        Ok(index)
    }

    /// Encodes `ty` (recursively) and returns how to refer to it here.
    fn encode_valtype(&mut self, resolve: &'a Resolve, ty: &Type) -> Result<ComponentValType> {
        match *ty {
            Type::ErrorContext => unsupported!("`error-context` (component-model async)"),
            Type::Id(id) => self.encode_type_id(resolve, id),
            other => primitive(other)
                .map(ComponentValType::Primitive)
                .ok_or_else(|| anyhow::anyhow!("{other:?} is not a primitive type")),
        }
    }

    /// Encodes the type definition `id`.
    fn encode_type_id(&mut self, resolve: &'a Resolve, id: TypeId) -> Result<ComponentValType> {
        if let Some(index) = self.maps().lookup(resolve, id) {
            return Ok(ComponentValType::Type(index));
        }
        let ty = &resolve.types[id];
        if let TypeOwner::Interface(owner) = ty.owner {
            if Some(owner) != self.interface() {
                let index = self.import_type(owner, id)?;
                self.maps().insert(resolve, id, index);
                return Ok(ComponentValType::Type(index));
            }
        }
        let mut encoded = match &ty.kind {
            TypeDefKind::Record(r) => {
                let fields = r
                    .fields
                    .iter()
                    .map(|f| Ok((f.name.as_str(), self.encode_valtype(resolve, &f.ty)?)))
                    .collect::<Result<Vec<_>>>()?;
                let (index, e) = self.defined_type();
                e.record(fields);
                ComponentValType::Type(index)
            }
            TypeDefKind::Tuple(t) => {
                let tys = t
                    .types
                    .iter()
                    .map(|t| self.encode_valtype(resolve, t))
                    .collect::<Result<Vec<_>>>()?;
                let (index, e) = self.defined_type();
                e.tuple(tys);
                ComponentValType::Type(index)
            }
            TypeDefKind::Flags(f) => {
                let (index, e) = self.defined_type();
                e.flags(f.flags.iter().map(|f| f.name.as_str()));
                ComponentValType::Type(index)
            }
            TypeDefKind::Variant(v) => {
                let cases = v
                    .cases
                    .iter()
                    .map(|c| {
                        Ok((
                            c.name.as_str(),
                            self.encode_optional(resolve, c.ty.as_ref())?,
                        ))
                    })
                    .collect::<Result<Vec<_>>>()?;
                let (index, e) = self.defined_type();
                e.variant(cases);
                ComponentValType::Type(index)
            }
            TypeDefKind::Enum(en) => {
                let (index, e) = self.defined_type();
                e.enum_type(en.cases.iter().map(|c| c.name.as_str()));
                ComponentValType::Type(index)
            }
            TypeDefKind::Option(t) => {
                let t = self.encode_valtype(resolve, t)?;
                let (index, e) = self.defined_type();
                e.option(t);
                ComponentValType::Type(index)
            }
            TypeDefKind::Result(r) => {
                let ok = self.encode_optional(resolve, r.ok.as_ref())?;
                let err = self.encode_optional(resolve, r.err.as_ref())?;
                let (index, e) = self.defined_type();
                e.result(ok, err);
                ComponentValType::Type(index)
            }
            TypeDefKind::List(t) => {
                let t = self.encode_valtype(resolve, t)?;
                let (index, e) = self.defined_type();
                e.list(t);
                ComponentValType::Type(index)
            }
            TypeDefKind::Map(k, v) => {
                let k = self.encode_valtype(resolve, k)?;
                let v = self.encode_valtype(resolve, v)?;
                let (index, e) = self.defined_type();
                e.map(k, v);
                ComponentValType::Type(index)
            }
            TypeDefKind::FixedLengthList(t, n) => {
                let t = self.encode_valtype(resolve, t)?;
                let (index, e) = self.defined_type();
                e.fixed_length_list(t, *n);
                ComponentValType::Type(index)
            }
            TypeDefKind::Type(t) => self.encode_valtype(resolve, t)?,
            TypeDefKind::Future(_) | TypeDefKind::Stream(_) => {
                unsupported!("future/stream types (component-model async)")
            }
            TypeDefKind::Unknown => unsupported!("type of unknown kind"),
            TypeDefKind::Resource => {
                let Some(name) = ty.name.as_deref() else {
                    bail!("unnamed resource type")
                };
                let index = self.export_resource(name)?;
                self.maps().id_to_index.insert(id, index);
                return Ok(ComponentValType::Type(index));
            }
            TypeDefKind::Handle(h) => {
                let (Handle::Own(r) | Handle::Borrow(r)) = h;
                let ComponentValType::Type(r_index) = self.encode_type_id(resolve, *r)? else {
                    bail!("handle to a non-resource type")
                };
                let (index, e) = self.defined_type();
                match h {
                    Handle::Own(_) => e.own(r_index),
                    Handle::Borrow(_) => e.borrow(r_index),
                }
                ComponentValType::Type(index)
            }
        };

        if let Some(name) = ty.name.as_deref() {
            let index = match encoded {
                ComponentValType::Type(index) => index,
                ComponentValType::Primitive(p) => {
                    // A named primitive (`type x = u32`) needs its own type-section entry to be named.
                    let (index, e) = self.defined_type();
                    e.primitive(p);
                    index
                }
            };
            let index = self.export_type(index, name)?.unwrap_or(index);
            encoded = ComponentValType::Type(index);
        }
        if let ComponentValType::Type(index) = encoded {
            self.maps().insert(resolve, id, index);
        }
        Ok(encoded)
    }

    /// Encodes an optional payload type.
    fn encode_optional(
        &mut self,
        resolve: &'a Resolve,
        ty: Option<&Type>,
    ) -> Result<Option<ComponentValType>> {
        ty.map(|t| self.encode_valtype(resolve, t)).transpose()
    }
}

/// The component-model primitive of a WIT primitive type (`None` for `error-context` and for
/// defined types).
pub fn primitive(ty: Type) -> Option<PrimitiveValType> {
    use PrimitiveValType as P;
    Some(match ty {
        Type::Bool => P::Bool,
        Type::U8 => P::U8,
        Type::U16 => P::U16,
        Type::U32 => P::U32,
        Type::U64 => P::U64,
        Type::S8 => P::S8,
        Type::S16 => P::S16,
        Type::S32 => P::S32,
        Type::S64 => P::S64,
        Type::F32 => P::F32,
        Type::F64 => P::F64,
        Type::Char => P::Char,
        Type::String => P::String,
        Type::ErrorContext | Type::Id(_) => return None,
    })
}

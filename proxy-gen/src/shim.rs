//! The re-export shim: a nested component that turns the proxy's lifted functions and the host's
//! resource types into one exported instance with the interface's exact names and types.
//!
//! Why a nested component (DESIGN.md, fact 1): a bag-of-exports instance cannot give a resource a
//! name, so a function like `[method]r.get` in it fails validation ("resource used in function does
//! not have a name in this context"). The shim imports each type of the interface and of the
//! interfaces it uses (resources as `sub resource`, other named types with `eq` bounds) and each
//! function, then re-exports the interface's types *as imported* and each function ascribed with
//! them. With pass-through handles the proxy instantiates it with the host's types, so the instance
//! it exports carries the host's own types: handles cross the proxy without wrapping, and guest
//! exports that mention these types stay valid in the composition. With wrapped resources it is
//! instantiated with the proxy's wrapper types and defines the interface's other types afresh in
//! phase 2, as wit-component's shims for exported interfaces do (see [`build`]).

use anyhow::{anyhow, bail, Result};
use indexmap::IndexMap;
use std::collections::HashMap;
use wasm_encoder::{
    ComponentBuilder, ComponentDefinedTypeEncoder, ComponentExportKind, ComponentFuncTypeEncoder,
    ComponentTypeRef, ComponentValType, TypeBounds,
};
use wit_parser::{InterfaceId, LiveTypes, Resolve, TypeDefKind, TypeId, TypeOwner};

use crate::typeenc::{TypeMaps, ValtypeEncoder};

/// What the proxy must pass to instantiate a shim.
pub struct ShimArgs {
    /// Type imports of the shim: (import name, the TypeId whose proxy-root index satisfies it).
    pub types: Vec<(String, TypeId)>,
    /// Function imports of the shim, in the order of the interface's functions.
    pub funcs: Vec<String>,
}

struct ShimEncoder<'a> {
    component: ComponentBuilder,
    maps: TypeMaps<'a>,
    /// Phase 2 (exports) when true; phase 1 (imports) otherwise.
    export_types: bool,
    /// Phase 2 defines the interface's own non-resource types afresh instead of re-exporting
    /// the imported ones (the proxy wraps resources; see [`build`]).
    define_own: bool,
    interface: InterfaceId,
    imports: IndexMap<String, u32>,
}

impl ShimEncoder<'_> {
    fn import_name(&self, name: &str) -> String {
        let base = format!("import-type-{name}");
        let mut candidate = base.clone();
        let mut n = 0;
        while self.imports.contains_key(&candidate) {
            n += 1;
            candidate = format!("{base}-v{n}");
        }
        candidate
    }
}

impl<'a> ValtypeEncoder<'a> for ShimEncoder<'a> {
    fn defined_type(&mut self) -> (u32, ComponentDefinedTypeEncoder<'_>) {
        self.component.type_defined(None)
    }
    fn define_function_type(&mut self) -> (u32, ComponentFuncTypeEncoder<'_>) {
        self.component.type_function(None)
    }
    fn export_type(&mut self, index: u32, name: &'a str) -> Result<Option<u32>> {
        if self.export_types {
            return Ok(Some(self.component.export(
                name,
                ComponentExportKind::Type,
                index,
                None,
            )));
        }
        let import = self.import_name(name);
        let idx = self.component.import(
            import.as_str(),
            ComponentTypeRef::Type(TypeBounds::Eq(index)),
        );
        self.imports.insert(import, idx);
        Ok(Some(idx))
    }
    fn export_resource(&mut self, name: &'a str) -> Result<u32> {
        if self.export_types {
            bail!("resource `{name}` should have been re-exported already");
        }
        let import = self.import_name(name);
        let idx = self.component.import(
            import.as_str(),
            ComponentTypeRef::Type(TypeBounds::SubResource),
        );
        self.imports.insert(import, idx);
        Ok(idx)
    }
    fn maps(&mut self) -> &mut TypeMaps<'a> {
        &mut self.maps
    }
    fn import_type(&mut self, _: InterfaceId, id: TypeId) -> Result<u32> {
        // Foreign types are all imported up front, in dependency order (see `build`).
        Err(anyhow!(
            "type {id:?} of another interface was not imported into the shim"
        ))
    }
    fn interface(&self) -> Option<InterfaceId> {
        Some(self.interface)
    }
}

/// Builds the shim for interface `iface`. The returned component must be instantiated with
/// [`ShimArgs`] and its instance exported under the interface's name.
///
/// With `define_own` (the proxy wraps resources), phase 2 exports fresh definitions of the
/// interface's non-resource types over the exported resources, as wit-component does for a
/// component's own exports: the imported ones refer to the proxy's wrapper resources directly,
/// and wasmparser accepts an exported instance only if the resources its types reach are named
/// by the instance's own exports (or earlier exports/imports).
pub fn build(
    resolve: &Resolve,
    iface: InterfaceId,
    define_own: bool,
) -> Result<(ComponentBuilder, ShimArgs)> {
    let mut enc = ShimEncoder {
        component: ComponentBuilder::default(),
        maps: TypeMaps::default(),
        export_types: false,
        define_own,
        interface: iface,
        imports: IndexMap::new(),
    };
    let interface = &resolve.interfaces[iface];

    // Phase 1a: every type of another interface this one reaches, dependencies first. Encoding it
    // "as if inside its owner" defines it structurally and imports it under a name, which the proxy
    // satisfies with its alias of the host's type.
    let mut live = LiveTypes::default();
    live.add_interface(resolve, iface);
    for ty in live.iter() {
        if let TypeOwner::Interface(owner) = resolve.types[ty].owner {
            if owner != iface {
                enc.interface = owner;
                enc.encode_type_id(resolve, ty)?;
            }
        }
    }
    enc.interface = iface;
    let foreign_maps = enc.maps.clone();

    // Phase 1b: this interface's own named types (resources as `sub resource`, others with `eq`
    // bounds), as imports. The proxy satisfies them with the host's types, and phase 2 re-exports
    // these very imports: the guest must see the host's types, not look-alikes defined here,
    // or a guest export that mentions them (e.g. `wasi:http/incoming-handler` using
    // `wasi:http/types`) would refer to a type that is private to the composition and fail
    // validation ("instance not valid to be used as export").
    let mut own_types = Vec::new();
    for (name, id) in interface.types.iter() {
        let ComponentValType::Type(idx) = enc.encode_type_id(resolve, *id)? else {
            bail!("named type `{name}` encoded as a primitive");
        };
        own_types.push((name.as_str(), *id, idx));
    }
    let mut func_names = Vec::new();
    let mut func_indices = Vec::new();
    for (i, func) in interface.functions.values().enumerate() {
        let ty = enc.encode_func_type(resolve, func)?;
        let name = format!("import-func-f{i}");
        func_indices.push(
            enc.component
                .import(name.as_str(), ComponentTypeRef::Func(ty)),
        );
        func_names.push(name);
    }

    // Which TypeId satisfies each type import.
    let reverse: HashMap<u32, TypeId> = enc
        .maps
        .id_to_index
        .iter()
        .map(|(id, i)| (*i, *id))
        .collect();
    let mut types = Vec::new();
    for (name, idx) in enc.imports.drain(..) {
        let id = reverse
            .get(&idx)
            .ok_or_else(|| anyhow!("shim type import `{name}` has no WIT type"))?;
        types.push((name, *id));
    }

    // Phase 2: re-export this interface's types (the imports above) under their names, and the
    // functions ascribed with the exported types.
    enc.maps = foreign_maps;
    enc.maps.func_type_map.clear();
    enc.export_types = true;
    for (name, id, idx) in own_types {
        let is_resource = matches!(resolve.types[id].kind, TypeDefKind::Resource);
        if enc.define_own && !is_resource {
            // Defined (and exported under `name` by `export_type`) over what is exported so far.
            enc.encode_type_id(resolve, id)?;
            continue;
        }
        let exported = enc
            .component
            .export(name, ComponentExportKind::Type, idx, None);
        enc.maps.id_to_index.insert(id, exported);
    }
    for (func, idx) in interface.functions.values().zip(&func_indices) {
        let ty = enc.encode_func_type(resolve, func)?;
        enc.component.export(
            func.name.as_str(),
            ComponentExportKind::Func,
            *idx,
            Some(ComponentTypeRef::Func(ty)),
        );
    }
    Ok((
        enc.component,
        ShimArgs {
            types,
            funcs: func_names,
        },
    ))
}

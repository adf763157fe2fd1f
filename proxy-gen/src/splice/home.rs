//! What both spliced modes' wiring shares (a leaf of `splice`: record's splicer and replay's
//! stubs both use it, and it uses neither): the names under which the home module exports the
//! batch memory and the interface's table, their aliases at the end of the component, and the
//! sizes of the original's index spaces, where what is wired in there starts.

use anyhow::bail;
use wasm_encoder::{
    Alias, ComponentAliasSection, ComponentImportSection, ComponentTypeRef, ComponentTypeSection,
    ExportKind, InstanceType, RefType, TableType, ValType,
};
use wit_parser::Function;

use crate::abi::{self, CoreSig};
use crate::encode::Encoder;
use crate::walk::At;
use crate::wasmcode::Body;

/// The home module's export of the batch memory.
pub const BATCH_EXPORT: &str = "proxyrt:batch";
/// The home module's export of the table of the interface's functions (the recorder's five, or
/// the replayer's `next`).
pub const RECORDER_EXPORT: &str = "proxyrt:recorder";

/// The home module's table of the interface's `len` functions (the recorder's five, the
/// replayer's one), imported by the modules whose stubs call them.
pub fn interface_table(len: u64) -> TableType {
    TableType {
        element_type: RefType::FUNCREF,
        table64: false,
        minimum: len,
        maximum: Some(len),
        shared: false,
    }
}

/// A core function type: its parameters and results.
pub type CoreType = (Vec<ValType>, Vec<ValType>);

/// Encodes the arguments of `func` with `enc` in a stub of the core type `core` of the import it
/// stands for (checked against how `func` is lowered), where the lowering left them: the stub's
/// flat parameters, or the indirect-params area. Returns how `func` is lowered.
pub fn encode_params(
    enc: &Encoder<'_>,
    b: &mut Body,
    func: &Function,
    core: &CoreType,
) -> anyhow::Result<CoreSig> {
    let (params, results) = core;
    let lowered = abi::lowered_sig(enc.resolve, func);
    if lowered.params != *params || lowered.results != *results {
        bail!("`{}` is imported with another core type", func.name);
    }
    let flat = params.len() - usize::from(lowered.retptr);
    let slots: Vec<(u32, ValType)> = params[..flat]
        .iter()
        .enumerate()
        .map(|(i, t)| (i as u32, *t))
        .collect();
    let at = if lowered.indirect_params {
        At::Mem { base: 0, offset: 0 }
    } else {
        At::Flat(&slots)
    };
    enc.fields(b, func.params.iter().map(|p| &p.ty), at)?;
    Ok(lowered)
}

/// Appends the import of interface `name`, of the instance type `instance`, after the original's
/// types and instances (`counts`); returns its component instance index.
pub fn import_interface(
    out: &mut wasm_encoder::Component,
    name: &str,
    instance: &InstanceType,
    counts: &Counts,
) -> u32 {
    let mut types = ComponentTypeSection::new();
    types.instance(instance);
    out.section(&types);
    let mut imports = ComponentImportSection::new();
    imports.import(name, ComponentTypeRef::Instance(counts.component_types));
    out.section(&imports);
    counts.component_instances
}

/// The sizes of a component's index spaces, where the interface wired in at its end starts.
pub struct Counts {
    pub component_types: u32,
    pub component_instances: u32,
    pub component_functions: u32,
    pub core_functions: u32,
    pub memories: u32,
    pub tables: u32,
    pub modules: u32,
    pub core_instances: u32,
}

impl Counts {
    /// The counts of a component, from the types its validation found.
    pub fn of(types: &wasmparser::types::Types) -> Counts {
        let t = types.as_ref();
        Counts {
            component_types: t.component_type_count(),
            component_instances: t.component_instance_count(),
            component_functions: t.component_function_count(),
            core_functions: t.function_count(),
            memories: t.memory_count(),
            tables: t.table_count(),
            modules: t.module_count(),
            core_instances: t.core_instance_count(),
        }
    }
}

/// Aliases the home instance's batch memory and interface table: the next core memory and table.
pub fn alias_home(aliases: &mut ComponentAliasSection, home: u32) {
    aliases.alias(Alias::CoreInstanceExport {
        instance: home,
        kind: ExportKind::Memory,
        name: BATCH_EXPORT,
    });
    aliases.alias(Alias::CoreInstanceExport {
        instance: home,
        kind: ExportKind::Table,
        name: RECORDER_EXPORT,
    });
}

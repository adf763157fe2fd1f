//! Composition of the proxy with the guest, with wac-graph.
//!
//! The guest is instantiated with every import taken from the proxy's export of the same name;
//! the proxy's own imports are left open, so wac-graph turns them into the composition's imports
//! (they are the guest's, re-encoded). Every guest export is re-exported under its name. The
//! result is validated by wac-graph's encoder (`EncodeOptions::validate`).

use crate::export_proxy::{ExportProxy, Source};
use anyhow::{Context, Result};
use wac_graph::{types::Package, CompositionGraph, EncodeOptions};

/// Plugs `proxy` under `guest`; returns the composed component's bytes.
///
/// wac-graph has a few `assert!`s reachable from unusual (valid) input; `instrument` runs this
/// under `catch_unwind`.
pub fn compose(proxy: &[u8], guest: &[u8], export_proxy: Option<&ExportProxy>) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let pkg = Package::from_bytes("proxyrt:proxy", None, proxy.to_vec(), graph.types_mut())
        .context("loading the generated proxy")?;
    let proxy_pkg = graph.register_package(pkg)?;
    let pkg = Package::from_bytes("proxyrt:guest", None, guest.to_vec(), graph.types_mut())
        .context("loading the guest component")?;
    let guest_pkg = graph.register_package(pkg)?;

    let world = &graph.types()[graph[guest_pkg].ty()];
    let imports: Vec<String> = world.imports.keys().cloned().collect();
    let exports: Vec<String> = world.exports.keys().cloned().collect();

    let proxy_inst = graph.instantiate(proxy_pkg);
    let guest_inst = graph.instantiate(guest_pkg);
    for name in &imports {
        let item = graph
            .alias_instance_export(proxy_inst, name)
            .with_context(|| format!("the proxy does not export `{name}`"))?;
        graph
            .set_instantiation_argument(guest_inst, name, item)
            .with_context(|| format!("the proxy's `{name}` does not fit the guest's import"))?;
    }
    // The export proxy, above the guest: it takes the proxy's wrapper types and export handles
    // and the guest's wrapped functions, and exports the wrapped exports in the guest's place.
    let upper = match export_proxy {
        Some(upper) => {
            let pkg = Package::from_bytes(
                "proxyrt:exports",
                None,
                upper.bytes.clone(),
                graph.types_mut(),
            )
            .context("loading the generated export proxy")?;
            let pkg = graph.register_package(pkg)?;
            let inst = graph.instantiate(pkg);
            for (name, source) in &upper.args {
                let item = match source {
                    Source::Proxy(export) => graph
                        .alias_instance_export(proxy_inst, export.as_str())
                        .with_context(|| format!("the proxy does not export `{export}`"))?,
                    Source::GuestExport { export, func } => {
                        let instance = graph.alias_instance_export(guest_inst, export.as_str())?;
                        graph
                            .alias_instance_export(instance, func.as_str())
                            .with_context(|| format!("the guest's `{export}` has no `{func}`"))?
                    }
                };
                graph
                    .set_instantiation_argument(inst, name, item)
                    .with_context(|| format!("the export proxy's `{name}` does not fit"))?;
            }
            Some((inst, &upper.exports))
        }
        None => None,
    };
    for name in &exports {
        let from = match upper {
            Some((inst, wrapped)) if wrapped.contains(name) => inst,
            _ => guest_inst,
        };
        let item = graph.alias_instance_export(from, name)?;
        graph.export(item, name)?;
    }
    graph
        .encode(EncodeOptions::default())
        .context("encoding the composition")
}

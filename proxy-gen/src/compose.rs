//! Composition of the proxy with the guest, with wac-graph.
//!
//! The guest is instantiated with every import taken from the proxy's export of the same name;
//! the proxy's own imports are left open, so wac-graph turns them into the composition's imports
//! (they are the guest's, re-encoded). Every guest export is re-exported under its name. The
//! result is validated by wac-graph's encoder (`EncodeOptions::validate`).

use anyhow::{Context, Result};
use wac_graph::{types::Package, CompositionGraph, EncodeOptions};

/// Plugs `proxy` under `guest`; returns the composed component's bytes.
///
/// wac-graph has a few `assert!`s reachable from unusual (valid) input; `instrument` runs this
/// under `catch_unwind`.
pub fn compose(proxy: &[u8], guest: &[u8]) -> Result<Vec<u8>> {
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
    for name in &exports {
        let item = graph.alias_instance_export(guest_inst, name)?;
        graph.export(item, name)?;
    }
    graph
        .encode(EncodeOptions::default())
        .context("encoding the composition")
}

//! WASI preview-1 command modules made components, the way `wasm-tools component new --adapt`
//! makes them: the module plus the `wasi_snapshot_preview1` command adapter (a core module that
//! implements preview 1 over WASI 0.2), encoded by wit-component. The runtime brings the adapter
//! of its wasmtime release, so the result runs on that release's WASI host.
//!
//! Why here: most WASI programs in the wild are still preview-1 modules (C, Go, TinyGo, Zig, older
//! Rust), and proxyrt's proxy needs a component's WIT; this crate already has wit-component.

use anyhow::{anyhow, bail, Context, Result};
use wasmparser::{ExternalKind, Parser, Payload, TypeRef};

use crate::error::Error;

/// The import module name of WASI preview 1.
const PREVIEW1: &str = "wasi_snapshot_preview1";

/// `module` (a core module) as a `wasi:cli/command` component, with `adapter` (the bytes of a
/// `wasi_snapshot_preview1` *command* adapter). A module that is not a preview-1 command — no
/// `_start` export (a reactor or a library), or imports from other modules than
/// `wasi_snapshot_preview1` — is bad input with a message that says so.
pub fn adapt_command(module: &[u8], adapter: &[u8]) -> crate::Result<Vec<u8>> {
    check_command(module).map_err(Error::NotACommand)?;
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(module)
        .and_then(|e| e.adapter(PREVIEW1, adapter))
        .and_then(|e| e.encode())
        .context("making the preview-1 module a component with the command adapter")
        .map_err(Error::NotACommand)
}

/// Checks that `module` is a preview-1 command: it exports `_start` and imports only from
/// `wasi_snapshot_preview1`.
fn check_command(module: &[u8]) -> Result<()> {
    let mut start = false;
    let mut others = Vec::new();
    for payload in Parser::new(0).parse_all(module) {
        match payload.context("not a valid WebAssembly module")? {
            Payload::ImportSection(imports) => {
                for import in imports.into_imports() {
                    let import = import.context("not a valid import section")?;
                    if import.module != PREVIEW1 && !matches!(import.ty, TypeRef::Tag(_)) {
                        let name = format!("{}::{}", import.module, import.name);
                        if !others.contains(&name) {
                            others.push(name);
                        }
                    }
                }
            }
            Payload::ExportSection(exports) => {
                for export in exports {
                    let export = export.context("not a valid export section")?;
                    start |= export.name == "_start" && export.kind == ExternalKind::Func;
                }
            }
            _ => {}
        }
    }
    if !others.is_empty() {
        bail!(
            "this core module imports {} besides WASI preview 1 (`{PREVIEW1}`): it is not a WASI \
             command proxyrt can run",
            others.join(", ")
        );
    }
    if !start {
        return Err(anyhow!(
            "this core module exports no `_start`: it is not a WASI command (a reactor or a \
             library?); proxyrt runs commands and components"
        ));
    }
    Ok(())
}

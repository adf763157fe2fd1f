//! Reading a component from disk and telling users clearly when the file is not one.
//!
//! wasmtime's own errors for a random file are accurate but terse, so proxyrt checks the preamble
//! first and says what the file is and what to do about it. A WASI preview-1 command module is
//! made a component with the preview-1 adapter (as `wasm-tools component new --adapt` does).

use anyhow::{bail, Context, Result};
use std::path::Path;

/// How reports name the component at `path`: its file name (no directory), else the path.
pub fn file_label(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The 4-byte magic every binary WebAssembly file starts with.
const MAGIC: &[u8; 4] = b"\0asm";

/// What the bytes of a file look like, judged from their preamble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Component,
    CoreModule,
    /// WebAssembly text, which wasmtime parses itself.
    Text,
}

/// Classifies `bytes` or explains why they are not a component.
pub fn classify(bytes: &[u8], path: &Path) -> Result<Kind> {
    if bytes.starts_with(MAGIC) {
        return match bytes.get(4..8) {
            Some([0x0d, 0x00, 0x01, 0x00]) => Ok(Kind::Component),
            Some([0x01, 0x00, 0x00, 0x00]) => Ok(Kind::CoreModule),
            Some(v) => bail!(
                "{}: unsupported WebAssembly version/layer {v:02x?}",
                path.display()
            ),
            None => bail!(
                "{}: truncated WebAssembly file ({} bytes)",
                path.display(),
                bytes.len()
            ),
        };
    }
    let looks_like_text = std::str::from_utf8(bytes)
        .map(|s| s.trim_start().starts_with('(') || s.trim_start().starts_with(";;"))
        .unwrap_or(false);
    if looks_like_text {
        return Ok(Kind::Text);
    }
    bail!(
        "{}: not a WebAssembly file (it does not start with the `\\0asm` magic)",
        path.display()
    )
}

/// Reads `path` and checks that it holds a component (binary or text).
pub fn read_component(path: &Path) -> Result<Vec<u8>> {
    Ok(read_classified(path)?.0)
}

/// Reads `path` and checks that it holds a binary component: proxy-gen, behind `command`
/// (`instrument`, `record`), works on the binary format only.
pub fn read_binary_component(path: &Path, command: &str) -> Result<Vec<u8>> {
    match read_classified(path)? {
        (bytes, Kind::Component) => Ok(bytes),
        _ => bail!(
            "{}: {command} takes a binary component (assemble text with `wasm-tools parse`)",
            path.display()
        ),
    }
}

/// Reads `path`; a component in either format is returned with its kind, and a WASI preview-1
/// command module as the component [`adapt`] makes of it.
fn read_classified(path: &Path) -> Result<(Vec<u8>, Kind)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    match classify(&bytes, path)? {
        Kind::CoreModule => Ok((adapt(&bytes, path)?, Kind::Component)),
        Kind::Text if is_module_text(&bytes) => {
            let module = wat::parse_bytes(&bytes).with_context(|| {
                format!("{}: not a valid WebAssembly text module", path.display())
            })?;
            Ok((adapt(&module, path)?, Kind::Component))
        }
        kind => Ok((bytes, kind)),
    }
}

/// Whether WebAssembly text `bytes` is a core module (`(module ...`, after comments), not a
/// component.
fn is_module_text(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let mut rest = text.trim_start();
    while let Some(line) = rest.strip_prefix(";;") {
        rest = line.split_once('\n').map_or("", |(_, r)| r).trim_start();
    }
    rest.strip_prefix('(')
        .is_some_and(|r| r.trim_start().starts_with("module"))
}

/// The WASI preview-1 command module `module` (read from `path`) as a `wasi:cli/command`
/// component: the module with the `wasi_snapshot_preview1` command adapter of this wasmtime
/// release, as `wasm-tools component new --adapt` makes it. `wasmtime run` runs such modules
/// natively; through the adapter they run on the same WASI 0.2 host as components, so record and
/// replay see (and the trace holds) the adapter's WASI 0.2 calls. The encoding is deterministic:
/// the same module gives the same component, so traces and caches keyed by the component's bytes
/// hold across runs.
fn adapt(module: &[u8], path: &Path) -> Result<Vec<u8>> {
    use wasi_preview1_component_adapter_provider as adapter;
    proxy_gen::adapt_command(module, adapter::WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("{}: a core WebAssembly module", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_preambles() {
        let p = Path::new("x.wasm");
        assert_eq!(
            classify(b"\0asm\x0d\x00\x01\x00", p).unwrap(),
            Kind::Component
        );
        assert_eq!(
            classify(b"\0asm\x01\x00\x00\x00", p).unwrap(),
            Kind::CoreModule
        );
        assert_eq!(classify(b"(component)", p).unwrap(), Kind::Text);
        assert!(classify(b"\0asm\x01", p).is_err());
        assert!(classify(b"hello world", p).is_err());
        assert!(classify(&[0xff, 0xfe, 0x00], p).is_err());
    }
}

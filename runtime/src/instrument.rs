//! `proxyrt instrument`: writes the composition of a component with its synthesized proxy, for users
//! who want to inspect it (`wasm-tools component wit composed.wasm`) or run it elsewhere.

use crate::cli::{InstrumentArgs, InstrumentMode};
use crate::load;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Instruments `args.wasm` and writes the result; prints where it went.
pub fn instrument(args: &InstrumentArgs) -> Result<()> {
    let bytes = load::read_binary_component(&args.wasm, "instrument")?;
    let mode = match args.mode {
        InstrumentMode::Record => proxy_gen::Mode::Record,
        InstrumentMode::Forward => proxy_gen::Mode::Forward,
        InstrumentMode::Replay => proxy_gen::Mode::Replay,
    };
    let composed = proxy_gen::instrument(&bytes, mode)
        .with_context(|| format!("cannot instrument {}", args.wasm.display()))?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&args.wasm, args.mode));
    write_atomically(&output, &composed)?;
    eprintln!(
        "wrote {} ({} mode, {} bytes)",
        output.display(),
        args.mode.name(),
        composed.len()
    );
    Ok(())
}

/// `dir/app.wasm` -> `dir/app.record.wasm`.
fn default_output(input: &Path, mode: InstrumentMode) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "component".into());
    input.with_file_name(format!("{stem}.{}.wasm", mode.name()))
}

/// Writes through a temporary file and a rename, so a failed write (full disk) never leaves a
/// truncated component where a good one is expected.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

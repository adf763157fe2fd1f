//! Which program a trace belongs to: the header `record` writes, and the check `replay` and
//! `instrument --embed-trace` make before using a trace with a component.
//!
//! Two hashes tell programs and builds apart: the SHA-256 of the component's bytes (one build) and
//! the SHA-256 of its interfaces (`ComponentInfo::interface_sha256`, the same for every build of
//! one program).

use crate::cache::Interfaces;
use anyhow::{bail, Result};
use recorder_host::trace::{Header, FORMAT_VERSION};
use sha2::{Digest, Sha256};
use std::path::Path;

/// SHA-256 of a component's bytes: one build.
pub fn component_sha256(original: &[u8]) -> [u8; 32] {
    Sha256::digest(original).into()
}

/// The header of a trace of the component whose SHA-256 is `component_sha256` (and whose
/// interfaces are `interfaces`) run with `argv`; a trace of one HTTP request (`serve`) sets
/// [`Header::request`] on it.
pub fn header(
    component_sha256: [u8; 32],
    interfaces: &Interfaces,
    argv: Vec<String>,
) -> Result<Header> {
    Ok(Header {
        format_version: FORMAT_VERSION,
        proxyrt_version: env!("CARGO_PKG_VERSION").to_string(),
        component_sha256,
        interface_sha256: *interfaces.sha256(),
        component: interfaces.get()?.clone(),
        argv,
        request: None,
    })
}

/// How a trace relates to a component it is about to be used with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// The very component that was recorded.
    Recorded,
    /// Another build of the same program (same interfaces, other bytes).
    Other,
}

/// Refuses a trace (`header`, read from `trace`) of another program than the component at `path`
/// (whose SHA-256 is `original_sha256`, and whose interfaces' is `interface_sha256`:
/// `ComponentInfo::interface_sha256`); tells whether it is the recorded build or another one.
pub fn check(
    header: &Header,
    interface_sha256: &[u8; 32],
    original_sha256: &[u8; 32],
    path: &Path,
    trace: &Path,
) -> Result<Build> {
    if header.interface_sha256 != *interface_sha256 {
        bail!("{}", other_program(header, path, trace));
    }
    Ok(if header.component_sha256 == *original_sha256 {
        Build::Recorded
    } else {
        Build::Other
    })
}

/// What is said of a trace (`header`, read from `trace`) of another program than the component at
/// `path`: by [`check`], and by corpus replay, which counts such traces apart.
pub fn other_program(header: &Header, path: &Path, trace: &Path) -> String {
    format!(
        "the trace {} was recorded from another program (its imports and exports differ from \
         those of {}; the trace's argv was {:?})",
        trace.display(),
        path.display(),
        header.argv
    )
}

/// The first bytes of a hash in hex, as notes show them.
pub fn short_hex(bytes: &[u8]) -> String {
    bytes.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

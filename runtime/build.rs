//! Computes `PROXYRT_COMPOSER_SHA256`: one SHA-256 over everything that decides what
//! `proxy_gen::instrument` produces and what `ComponentInfo` looks like, i.e. the sources of
//! proxy-gen and recorder-host (`src/**`, `wit/**`, their `Cargo.toml`) and the workspace's
//! `Cargo.lock` (a wasm-encoder or wac-graph update changes the composed bytes too).
//!
//! The composition cache (`src/cache/composition.rs`) puts it in every key, so a developer who
//! edits proxy-gen never loads a composition made by the previous code, even with an unchanged
//! crate version. Hashing sources rather than trusting the version is deliberate: during
//! development the version never changes. Over-invalidation (a comment edited, an unrelated
//! dependency bumped in `Cargo.lock`) costs one re-instrumentation (~10 ms) per component.
//!
//! Every input is listed with `cargo:rerun-if-changed` (directories too: cargo then scans them
//! recursively, and a new file changes the directory), so the hash is recomputed whenever one of
//! them changes and never otherwise.

use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let runtime = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = runtime
        .parent()
        .expect("runtime/ is inside the workspace")
        .to_path_buf();
    println!("cargo:rerun-if-changed=build.rs");

    let mut files = Vec::new();
    for krate in ["proxy-gen", "recorder-host"] {
        let dir = root.join(krate);
        // `src` must exist: a missing one means this script no longer sees the composer's sources
        // and would silently stop invalidating the cache.
        for (sub, required) in [("src", true), ("wit", false)] {
            let sub = dir.join(sub);
            println!("cargo:rerun-if-changed={}", sub.display());
            if sub.is_dir() {
                collect(&sub, &mut files);
            } else if required {
                panic!("{} is missing", sub.display());
            }
        }
        files.push(dir.join("Cargo.toml"));
    }
    files.push(root.join("Cargo.lock"));
    files.sort();

    let mut h = Sha256::new();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let rel = file.strip_prefix(&root).unwrap_or(file);
        let bytes =
            fs::read(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        // Name and length before the contents, so that moving bytes between files changes the hash.
        h.update(rel.to_string_lossy().as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=PROXYRT_COMPOSER_SHA256={hex}");
}

/// Every file under `dir`, recursively.
fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}

//! On-disk cache of compiled components, and (in [`composition`]) of the compositions `record` and
//! `replay` compile, so that a warm cache skips both proxy-gen and Cranelift.
//!
//! Compiling a real component with Cranelift takes hundreds of milliseconds to seconds; loading the
//! precompiled artifact is an `mmap`. Entries are keyed by the SHA-256 of the component bytes *and* of
//! the engine's compatibility hash (wasmtime version, target, every codegen setting such as fuel), so an
//! entry is only ever loaded by an engine that could have produced it. Entries are written to a temporary
//! file and renamed into place, so a crash or a concurrent run never leaves a half-written entry behind.

mod composition;

pub use composition::{instrumented, instrumented_with, ComponentBytes, Instrumented, Interfaces};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::Engine;

/// Feeds `Hash` output into SHA-256, so that the engine's compatibility hash (only available as
/// `impl Hash`) contributes a stable, collision-resistant part of the key.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    /// Not used for the key (the full digest is), but well-defined: the digest's first 8 bytes.
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(first)
    }
}

/// The SHA-256 of `bytes`, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A compilation cache rooted at one directory.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache in `dir`, created on first write.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The default location: `$XDG_CACHE_HOME/proxyrt`, else `$HOME/.cache/proxyrt`; `None` when neither
    /// variable is set (the cache is then off).
    pub fn default_dir() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(base.join("proxyrt"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the artifact of `bytes` compiled by `engine` lives.
    pub fn entry_path(&self, engine: &Engine, bytes: &[u8]) -> PathBuf {
        self.entry_path_of(engine, &Sha256::digest(bytes).into())
    }

    /// [`Cache::entry_path`] of the bytes whose SHA-256 is `sha256`.
    fn entry_path_of(&self, engine: &Engine, sha256: &[u8; 32]) -> PathBuf {
        let mut h = ShaHasher(Sha256::new());
        h.write(b"proxyrt-cache-v1\0");
        h.write(env!("CARGO_PKG_VERSION").as_bytes());
        engine.precompile_compatibility_hash().hash(&mut h);
        h.write(sha256);
        let key = hex(&h.0.finalize());
        self.dir.join(format!("{key}.cwasm"))
    }

    /// Loads the compiled component for `bytes`, compiling and storing it on a miss. A cache that cannot
    /// be read or written never fails the run: it falls back to compiling, with a warning when the
    /// entry could not be stored.
    pub fn load_or_compile(&self, engine: &Engine, bytes: &[u8]) -> Result<(Component, Outcome)> {
        self.load_or_compile_known(engine, &Sha256::digest(bytes).into(), || Ok(bytes))
    }

    /// [`Cache::load_or_compile`] of bytes whose SHA-256 the caller knows (a composition from the
    /// composition cache, which stores it): the key costs no hashing of the bytes, and `bytes`
    /// gives them only on a miss (a cached composition's bytes then stay unread).
    pub fn load_or_compile_known<'a>(
        &self,
        engine: &Engine,
        sha256: &[u8; 32],
        bytes: impl FnOnce() -> Result<&'a [u8]>,
    ) -> Result<(Component, Outcome)> {
        let path = self.entry_path_of(engine, sha256);
        if path.exists() {
            // SAFETY: entries are only written by `store` below, from `Engine::precompile_component`, and
            // their name includes the engine's compatibility hash; wasmtime re-checks the header. The
            // cache directory is trusted like the proxyrt binary itself.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, Outcome::Hit)),
                Err(e) => {
                    eprintln!(
                        "warning: ignoring unreadable cache entry {}: {e}",
                        path.display()
                    );
                }
            }
        }
        let compiled = engine
            .precompile_component(bytes()?)
            .map_err(anyhow::Error::from)?;
        if let Err(e) = self.store(&path, &compiled) {
            eprintln!("warning: could not write the compilation cache: {e:#}");
        }
        // SAFETY: `compiled` was produced just above by this very engine.
        let component = unsafe { Component::deserialize(engine, &compiled) }
            .map_err(anyhow::Error::from)
            .context("loading the freshly compiled component")?;
        Ok((component, Outcome::Miss))
    }

    fn store(&self, path: &Path, compiled: &[u8]) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)
            .with_context(|| format!("creating a temporary file in {}", self.dir.display()))?;
        std::io::Write::write_all(&mut tmp, compiled).context("writing the cache entry")?;
        tmp.persist(path)
            .with_context(|| format!("renaming the cache entry to {}", path.display()))?;
        Ok(())
    }
}

/// Whether a load was served from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Hit,
    Miss,
}

//! On-disk cache of compositions: what `proxy_gen::decode` + `instrument_decoded` produce for a
//! component and a mode, so that `record` and `replay` skip analysis, synthesis, wac composition
//! and validation (~6-12 ms per process) when they have seen the component before.
//!
//! An entry lives next to the compiled artifacts (same directory, same `--no-cache`/`--cache-dir`),
//! named `<key>.composition`, where the key is the SHA-256 of:
//! - the original component's bytes (its SHA-256),
//! - the mode,
//! - the proxyrt version, and
//! - `PROXYRT_COMPOSER_SHA256`, a hash of proxy-gen's and recorder-host's sources computed by
//!   `runtime/build.rs`: a proxyrt built from other proxy-gen code (even at the same version)
//!   looks for other entries, so it never loads a composition the current code would not make.
//!
//! An entry is the composed bytes, their SHA-256 and the component's [`ComponentInfo`] (bincode),
//! behind a CRC-32 checksum that also covers the key. A truncated, corrupt or misplaced entry fails
//! the checksum and is reported, rebuilt and replaced, like an unreadable compiled artifact;
//! nothing in an entry is trusted before the checksum matched. The checksum guards against damage,
//! not against an attacker (the cache directory is trusted like the binary), so it is a CRC: a
//! SHA-256 of the ~250 KB entry cost ~0.15 ms of every `record` and `replay`, and so did hashing the
//! composed bytes again for the compiled cache's key, which the stored SHA-256 now gives. Entries
//! are written to a temporary file and renamed into place. A cache that cannot be written never
//! fails the run.

use super::{hex, Cache};
use anyhow::{bail, Context, Result};
use proxy_gen::{Layout, Mode};
use recorder_host::types::ComponentInfo;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// Hash of the sources that decide what a composition looks like (see `runtime/build.rs`).
const COMPOSER_SHA256: &str = env!("PROXYRT_COMPOSER_SHA256");

/// First bytes of every entry; the trailing digit is the layout version.
const MAGIC: &[u8; 8] = b"PRXCOMP2";

/// Layout: `MAGIC | checksum (CRC-32, u32 LE) | SHA-256 of composed (32) | info length (u64 LE) |
/// bincode(info) | composed`; the checksum covers the key and everything after it.
const CHECKSUM_AT: usize = MAGIC.len();
const BODY_AT: usize = CHECKSUM_AT + 4;
const LEN_AT: usize = BODY_AT + 32;
const INFO_AT: usize = LEN_AT + 8;

/// A component instrumented for one mode: what `record` and `replay` need from proxy-gen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instrumented {
    /// The original composed with its proxy (`proxy_gen::instrument_decoded`).
    pub composed: Vec<u8>,
    /// The original's imports and exports (`Decoded::info`).
    pub info: ComponentInfo,
    /// The SHA-256 of the original's bytes (computed once, for the cache key and for the trace
    /// identity: `crate::identity`).
    pub original_sha256: [u8; 32],
    /// The SHA-256 of `composed`, when it went through the cache (which stores it): the compiled
    /// cache's key then needs no hashing of the bytes ([`crate::engine::compile_known`]).
    pub composed_sha256: Option<[u8; 32]>,
}

/// The composition of `original` for `mode`, from `cache` when there is one and it has it, else
/// made by proxy-gen (and stored). Errors are proxy-gen's, unwrapped, so that callers add the
/// same context as when they called proxy-gen themselves.
pub fn instrumented(original: &[u8], mode: Mode, cache: Option<&Cache>) -> Result<Instrumented> {
    instrumented_with(original, mode, Layout::default_for(mode), cache)
}

/// [`instrumented`] with record or replay mode's [`Layout`] chosen.
pub fn instrumented_with(
    original: &[u8],
    mode: Mode,
    layout: Layout,
    cache: Option<&Cache>,
) -> Result<Instrumented> {
    match cache {
        Some(cache) => Ok(cache.load_or_instrument(original, mode, layout)?.0),
        None => instrument(original, Sha256::digest(original).into(), mode, layout),
    }
}

/// What proxy-gen makes of `original`, without any cache.
fn instrument(
    original: &[u8],
    original_sha256: [u8; 32],
    mode: Mode,
    layout: Layout,
) -> Result<Instrumented> {
    let decoded = proxy_gen::decode(original)?;
    let composed = proxy_gen::instrument_with_layout(&decoded, original, mode, layout)?;
    Ok(Instrumented {
        composed,
        info: decoded.info(),
        original_sha256,
        composed_sha256: None,
    })
}

/// The cache key of the original whose SHA-256 is `original_sha256` instrumented for `mode` (with
/// `layout`) by this build of proxyrt.
fn key(original_sha256: &[u8; 32], mode: Mode, layout: Layout) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"proxyrt-composition-v1\0");
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(b"\0");
    h.update(COMPOSER_SHA256.as_bytes());
    h.update(b"\0");
    h.update(mode.name().as_bytes());
    h.update(b"\0");
    h.update(layout.name().as_bytes());
    h.update(b"\0");
    h.update(original_sha256);
    h.finalize().into()
}

impl Cache {
    /// Where the composition with this key lives.
    fn composition_path(&self, key: &[u8; 32]) -> PathBuf {
        self.dir.join(format!("{}.composition", hex(key)))
    }

    /// The composition of `original` for `mode` (record mode's as `layout` says): loaded when
    /// cached, else made and stored. An unreadable entry is reported on stderr and replaced.
    pub fn load_or_instrument(
        &self,
        original: &[u8],
        mode: Mode,
        layout: Layout,
    ) -> Result<(Instrumented, super::Outcome)> {
        let original_sha256: [u8; 32] = Sha256::digest(original).into();
        let key = key(&original_sha256, mode, layout);
        let path = self.composition_path(&key);
        match std::fs::read(&path) {
            Ok(bytes) => match decode_entry(&key, bytes, original_sha256) {
                Ok(entry) => return Ok((entry, super::Outcome::Hit)),
                Err(e) => eprintln!(
                    "warning: ignoring unreadable cache entry {}: {e:#}",
                    path.display()
                ),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => eprintln!(
                "warning: ignoring unreadable cache entry {}: {e}",
                path.display()
            ),
        }
        let mut made = instrument(original, original_sha256, mode, layout)?;
        made.composed_sha256 = Some(Sha256::digest(&made.composed).into());
        if let Err(e) = encode_entry(&key, &made).and_then(|entry| self.store(&path, &entry)) {
            eprintln!("warning: could not write the composition cache: {e:#}");
        }
        Ok((made, super::Outcome::Miss))
    }
}

/// The checksum of an entry's body, bound to its key so that an entry under another name fails.
fn checksum(key: &[u8; 32], body: &[u8]) -> [u8; 4] {
    let mut h = crc32fast::Hasher::new();
    h.update(key);
    h.update(body);
    h.finalize().to_le_bytes()
}

fn encode_entry(key: &[u8; 32], entry: &Instrumented) -> Result<Vec<u8>> {
    let info = bincode::serde::encode_to_vec(&entry.info, bincode::config::standard())
        .context("encoding the component's interfaces")?;
    let mut out = Vec::with_capacity(INFO_AT + info.len() + entry.composed.len());
    let digest = entry
        .composed_sha256
        .unwrap_or_else(|| Sha256::digest(&entry.composed).into());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&digest);
    out.extend_from_slice(&(info.len() as u64).to_le_bytes());
    out.extend_from_slice(&info);
    out.extend_from_slice(&entry.composed);
    let sum = checksum(key, &out[BODY_AT..]);
    out[CHECKSUM_AT..BODY_AT].copy_from_slice(&sum);
    Ok(out)
}

/// Reads an entry written by [`encode_entry`] for `key` (of the original whose SHA-256 is
/// `original_sha256`); any damage is an error, never a panic. The composed component is taken
/// out of `bytes`, not copied.
fn decode_entry(
    key: &[u8; 32],
    mut bytes: Vec<u8>,
    original_sha256: [u8; 32],
) -> Result<Instrumented> {
    if bytes.len() < INFO_AT || &bytes[..CHECKSUM_AT] != MAGIC {
        bail!("not a composition entry (or cut)");
    }
    if bytes[CHECKSUM_AT..BODY_AT] != checksum(key, &bytes[BODY_AT..]) {
        bail!("checksum mismatch (corrupt or cut)");
    }
    let mut digest = [0u8; 32];
    digest.copy_from_slice(&bytes[BODY_AT..LEN_AT]);
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[LEN_AT..INFO_AT]);
    let rest = &bytes[INFO_AT..];
    let info_len = usize::try_from(u64::from_le_bytes(len))
        .ok()
        .filter(|&n| n <= rest.len())
        .context("bad interfaces length")?;
    let info_bytes = &rest[..info_len];
    let (info, used): (ComponentInfo, usize) =
        // With a limit: bincode allocates a string of the length it reads before reading it,
        // so a damaged entry could claim exabytes (the trace reader's fuzzer found that); no
        // component's interfaces take 64 MiB.
        bincode::serde::decode_from_slice(
            info_bytes,
            bincode::config::standard().with_limit::<{ 64 << 20 }>(),
        )
            .context("decoding the component's interfaces")?;
    if used != info_len {
        bail!("trailing bytes after the component's interfaces");
    }
    let composed = bytes.split_off(INFO_AT + info_len);
    Ok(Instrumented {
        composed,
        info,
        original_sha256,
        composed_sha256: Some(digest),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Outcome;
    use proxyrt_test_guests as guests;
    use std::fs;

    fn read(path: &str) -> Vec<u8> {
        fs::read(path).expect("guest built by proxyrt-test-guests")
    }

    /// [`key`] of the original `bytes`.
    fn key_of(bytes: &[u8], mode: Mode, layout: Layout) -> [u8; 32] {
        key(&Sha256::digest(bytes).into(), mode, layout)
    }

    /// [`instrument`] of `bytes` for `mode`, layout `auto`, without the cache.
    fn instrument_of(bytes: &[u8], mode: Mode) -> Result<Instrumented> {
        instrument(bytes, Sha256::digest(bytes).into(), mode, Layout::Auto)
    }

    fn entries(dir: &std::path::Path) -> Vec<PathBuf> {
        fs::read_dir(dir)
            .map(|d| d.map(|e| e.expect("dir entry").path()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_miss_stores_and_a_hit_loads_the_same_composition() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("cache"));
        let cli = read(guests::CLI);
        let direct = instrument_of(&cli, Mode::Record).unwrap();

        let (first, outcome) = cache
            .load_or_instrument(&cli, Mode::Record, Layout::Auto)
            .unwrap();
        assert_eq!(outcome, Outcome::Miss);
        assert_eq!(
            (&first.composed, &first.info),
            (&direct.composed, &direct.info)
        );
        // Through the cache, the composition comes with its SHA-256 (the compiled cache's key).
        let digest: [u8; 32] = Sha256::digest(&direct.composed).into();
        assert_eq!(first.composed_sha256, Some(digest));
        assert_eq!(direct.composed_sha256, None);
        let stored = entries(&cache.dir);
        assert_eq!(stored.len(), 1, "{stored:?}");
        assert_eq!(
            stored[0],
            cache.composition_path(&key_of(&cli, Mode::Record, Layout::Auto))
        );
        let written = fs::metadata(&stored[0]).unwrap().modified().unwrap();

        let (second, outcome) = cache
            .load_or_instrument(&cli, Mode::Record, Layout::Auto)
            .unwrap();
        assert_eq!(outcome, Outcome::Hit);
        assert_eq!(second, first);
        assert_eq!(
            fs::metadata(&stored[0]).unwrap().modified().unwrap(),
            written,
            "a hit must not rewrite the entry"
        );
    }

    #[test]
    fn the_key_depends_on_the_mode_the_layout_and_the_bytes() {
        let cli = read(guests::CLI);
        let demo = read(guests::DEMO);
        let mut edited = cli.clone();
        let last = edited.len() - 1;
        edited[last] ^= 1;
        let keys = [
            key_of(&cli, Mode::Record, Layout::Auto),
            key_of(&cli, Mode::Replay, Layout::Auto),
            key_of(&cli, Mode::Forward, Layout::Auto),
            key_of(&cli, Mode::Record, Layout::Spliced),
            key_of(&cli, Mode::Record, Layout::Composed),
            key_of(&demo, Mode::Record, Layout::Auto),
            key_of(&edited, Mode::Record, Layout::Auto),
        ];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(
            key_of(&cli, Mode::Record, Layout::Auto),
            keys[0],
            "the key is deterministic"
        );

        // One component, two modes: two entries, neither served for the other.
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_path_buf());
        let (record, _) = cache
            .load_or_instrument(&cli, Mode::Record, Layout::Auto)
            .unwrap();
        let (replay, outcome) = cache
            .load_or_instrument(&cli, Mode::Replay, Layout::Auto)
            .unwrap();
        assert_eq!(outcome, Outcome::Miss);
        assert_ne!(record.composed, replay.composed);
        assert_eq!(record.info, replay.info);
        assert_eq!(entries(dir.path()).len(), 2);
    }

    #[test]
    fn a_damaged_entry_is_rebuilt_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_path_buf());
        let cli = read(guests::CLI);
        let (good, _) = cache
            .load_or_instrument(&cli, Mode::Replay, Layout::Auto)
            .unwrap();
        let path = cache.composition_path(&key_of(&cli, Mode::Replay, Layout::Auto));
        let entry = fs::read(&path).unwrap();
        let mut flipped = entry.clone();
        let middle = entry.len() / 2;
        flipped[middle] ^= 0x40;
        for damaged in [
            Vec::new(),
            b"garbage".to_vec(),
            entry[..entry.len() / 3].to_vec(),
            flipped,
        ] {
            fs::write(&path, &damaged).unwrap();
            let (rebuilt, outcome) = cache
                .load_or_instrument(&cli, Mode::Replay, Layout::Auto)
                .unwrap();
            assert_eq!(outcome, Outcome::Miss);
            assert_eq!(rebuilt, good);
            assert_eq!(fs::read(&path).unwrap(), entry, "the entry was replaced");
        }
        // An intact entry of another key (here: another mode) under this name is refused too.
        let (_, _) = cache
            .load_or_instrument(&cli, Mode::Record, Layout::Auto)
            .unwrap();
        let record_path = cache.composition_path(&key_of(&cli, Mode::Record, Layout::Auto));
        fs::copy(&record_path, &path).unwrap();
        let (rebuilt, outcome) = cache
            .load_or_instrument(&cli, Mode::Replay, Layout::Auto)
            .unwrap();
        assert_eq!(outcome, Outcome::Miss);
        assert_eq!(rebuilt, good);
    }

    #[test]
    fn every_cut_and_every_flipped_byte_of_an_entry_is_detected() {
        let key = [7u8; 32];
        let composed: Vec<u8> = (0..200u8).collect();
        let made = Instrumented {
            original_sha256: [9; 32],
            composed_sha256: Some(Sha256::digest(&composed).into()),
            composed,
            info: ComponentInfo::default(),
        };
        let entry = encode_entry(&key, &made).unwrap();
        assert_eq!(decode_entry(&key, entry.clone(), [9; 32]).unwrap(), made);
        assert!(
            decode_entry(&[8u8; 32], entry.clone(), [9; 32]).is_err(),
            "another key"
        );
        for len in 0..entry.len() {
            assert!(
                decode_entry(&key, entry[..len].to_vec(), [9; 32]).is_err(),
                "cut at {len}"
            );
        }
        for at in 0..entry.len() {
            let mut flipped = entry.clone();
            flipped[at] ^= 0x01;
            assert!(
                decode_entry(&key, flipped, [9; 32]).is_err(),
                "flipped at {at}"
            );
        }
    }

    #[test]
    fn proxy_gen_errors_are_returned_as_is_and_nothing_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_path_buf());
        let e = instrumented(b"not wasm at all", Mode::Record, Some(&cache)).unwrap_err();
        let direct = proxy_gen::instrument(b"not wasm at all", Mode::Record).unwrap_err();
        assert!(e.downcast_ref::<proxy_gen::Error>().is_some(), "{e:#}");
        assert_eq!(
            format!("{e:#}"),
            format!("{:#}", anyhow::Error::from(direct))
        );
        assert!(entries(dir.path()).is_empty());
    }

    #[test]
    fn no_cache_reads_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cli = read(guests::CLI);
        let options = crate::options::CacheOptions {
            no_cache: true,
            cache_dir: Some(dir.path().to_path_buf()),
        };
        let made = instrumented(&cli, Mode::Record, options.cache().as_ref()).unwrap();
        assert_eq!(made, instrument_of(&cli, Mode::Record).unwrap());
        assert!(entries(dir.path()).is_empty());
    }
}

//! On-disk cache of compositions: what `proxy_gen::decode` + `instrument_decoded` produce for a
//! component and a mode, so that `record` and `replay` skip analysis, synthesis, wac composition
//! and validation (~6-12 ms per process) when they have seen the component before.
//!
//! An entry lives next to the compiled artifacts (same directory, same `--no-cache`/`--cache-dir`),
//! named `<key>.composition`, where the key is the SHA-256 of:
//! - the original component's bytes (its SHA-256),
//! - the mode and the layout,
//! - the proxyrt version, and
//! - `PROXYRT_COMPOSER_SHA256`, a hash of proxy-gen's and recorder-host's sources computed by
//!   `runtime/build.rs`: a proxyrt built from other proxy-gen code (even at the same version)
//!   looks for other entries, so it never loads a composition the current code would not make.
//!
//! An entry is a head (the composed bytes' SHA-256 and length, the component's [`ComponentInfo`]
//! in bincode) behind a CRC-32 that also covers the key, then the composed bytes. A process that
//! finds its compiled artifact in the cache never needs the composed bytes, and a replay takes the
//! interfaces from the trace's header, so a hit reads only the head (~15 KB of a ~250 KB entry),
//! decodes nothing, and leaves the rest to [`ComponentBytes::bytes`] and [`Interfaces::get`]:
//! reading, checking and decoding the whole entry was ~0.3 ms of every `record` and `replay`.
//! The composed bytes, when they are read, are checked against their SHA-256 (what the compiled
//! cache is keyed by); nothing in an entry is trusted before its check passed. A truncated,
//! corrupt or misplaced head fails the CRC and is reported, rebuilt and replaced, like an
//! unreadable compiled artifact; damaged composed bytes are an error, and the entry is removed so
//! that the next run makes it again. The checks guard against damage, not against an attacker
//! (the cache directory is trusted like the binary). Entries are written to a temporary file and
//! renamed into place, and the entry stays open while its bytes may still be read, so a run that
//! replaces it meanwhile changes nothing for this one.
//! A cache that cannot be written never fails the run.

use super::{hex, Cache};
use anyhow::{anyhow, bail, Context, Result};
use proxy_gen::{Layout, Mode};
use recorder_host::types::ComponentInfo;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Hash of the sources that decide what a composition looks like (see `runtime/build.rs`).
const COMPOSER_SHA256: &str = env!("PROXYRT_COMPOSER_SHA256");

/// First bytes of every entry; the trailing digit is the layout version.
const MAGIC: &[u8; 8] = b"PRXCOMP3";

/// Layout: `MAGIC | checksum (CRC-32, u32 LE) | SHA-256 of composed (32) | info length (u64 LE) |
/// composed length (u64 LE) | bincode(info) | composed`; the checksum covers the key and the head,
/// from the SHA-256 to the end of the info.
const CHECKSUM_AT: usize = MAGIC.len();
const SHA_AT: usize = CHECKSUM_AT + 4;
const INFO_LEN_AT: usize = SHA_AT + 32;
const COMPOSED_LEN_AT: usize = INFO_LEN_AT + 8;
const INFO_AT: usize = COMPOSED_LEN_AT + 8;

/// No component's interfaces take 64 MiB: a bound on what a damaged length may make us allocate.
const MAX_INFO: u64 = 64 << 20;

/// A component instrumented for one mode: what `record` and `replay` need from proxy-gen.
#[derive(Debug)]
pub struct Instrumented {
    /// The original composed with its proxy (`proxy_gen::instrument_decoded`).
    pub composed: ComponentBytes,
    /// The original's imports and exports (`Decoded::info`).
    pub interfaces: Interfaces,
    /// The SHA-256 of the original's bytes (computed once, for the cache key and for the trace
    /// identity: `crate::identity`).
    pub original_sha256: [u8; 32],
}

/// A component's bytes (a composition's, or a component run as it is): in memory, or still in
/// their composition cache entry until something needs them (a compilation that misses the
/// compiled cache).
#[derive(Debug)]
pub struct ComponentBytes {
    /// Their SHA-256, when they went through the cache (which stores it): the compiled cache's
    /// key then needs no hashing of the bytes ([`crate::engine::compile_composed`]).
    sha256: Option<[u8; 32]>,
    bytes: OnceLock<Vec<u8>>,
    /// Where they are when not read yet: the open entry, from this offset, this many bytes.
    entry: Option<(File, PathBuf, u64, u64)>,
}

impl ComponentBytes {
    /// Bytes in memory, their SHA-256 not known.
    pub fn new(bytes: Vec<u8>) -> Self {
        ComponentBytes {
            sha256: None,
            bytes: OnceLock::from(bytes),
            entry: None,
        }
    }

    /// Their SHA-256, when known.
    pub fn sha256(&self) -> Option<&[u8; 32]> {
        self.sha256.as_ref()
    }

    /// The bytes, read from the cache entry (and checked against their SHA-256) on first use.
    /// A damaged entry is removed, so that the next run makes and stores the composition again.
    pub fn bytes(&self) -> Result<&[u8]> {
        if let Some(bytes) = self.bytes.get() {
            return Ok(bytes);
        }
        let (file, path, at, len) = self
            .entry
            .as_ref()
            .context("internal error: a composition without bytes")?;
        let read = read_composed(file, *at, *len, self.sha256.as_ref()).map_err(|e| {
            let removed = match std::fs::remove_file(path) {
                Ok(()) => "removed it: run again to rebuild it".to_string(),
                Err(r) => format!("could not remove it ({r}): delete it"),
            };
            e.context(format!(
                "the composition cache entry {} is damaged; {removed}",
                path.display()
            ))
        })?;
        Ok(self.bytes.get_or_init(|| read))
    }
}

/// Reads `len` bytes at `at` of an entry, which must have the SHA-256 `sha256`.
fn read_composed(mut file: &File, at: u64, len: u64, sha256: Option<&[u8; 32]>) -> Result<Vec<u8>> {
    file.seek(SeekFrom::Start(at))?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).context("too long")?);
    file.take(len).read_to_end(&mut bytes)?;
    if bytes.len() as u64 != len {
        bail!("cut: {} of {len} bytes of the composition", bytes.len());
    }
    if let Some(expected) = sha256 {
        if Sha256::digest(&bytes).as_slice() != expected {
            bail!("the composition does not have its SHA-256");
        }
    }
    Ok(bytes)
}

/// A component's interfaces ([`ComponentInfo`]) as the cache keeps them: encoded (bincode, as a
/// trace's header has them) with their SHA-256 (`ComponentInfo::interface_sha256`: which program
/// a trace belongs to), decoded only when asked. A replay checks the trace against the hash and
/// then uses the trace's own copy, so it never decodes these.
#[derive(Debug)]
pub struct Interfaces {
    sha256: [u8; 32],
    encoded: Vec<u8>,
    decoded: OnceLock<Arc<ComponentInfo>>,
}

impl Interfaces {
    /// The interfaces `info`, encoded once for their hash (and the cache entry).
    pub fn new(info: ComponentInfo) -> Result<Self> {
        let encoded = bincode::serde::encode_to_vec(&info, bincode::config::standard())
            .context("encoding the component's interfaces")?;
        Ok(Interfaces {
            sha256: Sha256::digest(&encoded).into(),
            encoded,
            decoded: OnceLock::from(Arc::new(info)),
        })
    }

    /// Interfaces as an entry has them, encoded.
    fn encoded(encoded: Vec<u8>) -> Self {
        Interfaces {
            sha256: Sha256::digest(&encoded).into(),
            encoded,
            decoded: OnceLock::new(),
        }
    }

    /// `ComponentInfo::interface_sha256` of these interfaces, without decoding them.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }

    /// The interfaces, decoded on first use.
    pub fn get(&self) -> Result<&Arc<ComponentInfo>> {
        if let Some(info) = self.decoded.get() {
            return Ok(info);
        }
        let (info, used): (ComponentInfo, usize) =
            // With a limit: bincode allocates a string of the length it reads before reading it,
            // so damaged bytes could claim exabytes (the trace reader's fuzzer found that).
            bincode::serde::decode_from_slice(
                &self.encoded,
                bincode::config::standard().with_limit::<{ MAX_INFO as usize }>(),
            )
            .context("decoding the component's interfaces from the composition cache")?;
        if used != self.encoded.len() {
            bail!("trailing bytes after the component's interfaces in the composition cache");
        }
        Ok(self.decoded.get_or_init(|| Arc::new(info)))
    }
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
        composed: ComponentBytes::new(composed),
        interfaces: Interfaces::new(decoded.info())?,
        original_sha256,
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
        match File::open(&path) {
            Ok(file) => match decode_entry(&key, file, &path, original_sha256) {
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
        let bytes = made.composed.bytes()?;
        made.composed.sha256 = Some(Sha256::digest(bytes).into());
        if let Err(e) = encode_entry(&key, &made).and_then(|entry| self.store(&path, &entry)) {
            eprintln!("warning: could not write the composition cache: {e:#}");
        }
        Ok((made, super::Outcome::Miss))
    }
}

/// The checksum of an entry's head (its `parts`), bound to its key so that an entry under another
/// name fails.
fn checksum(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 4] {
    let mut h = crc32fast::Hasher::new();
    h.update(key);
    for part in parts {
        h.update(part);
    }
    h.finalize().to_le_bytes()
}

fn encode_entry(key: &[u8; 32], entry: &Instrumented) -> Result<Vec<u8>> {
    let info = &entry.interfaces.encoded;
    let composed = entry.composed.bytes()?;
    let digest = match entry.composed.sha256 {
        Some(digest) => digest,
        None => Sha256::digest(composed).into(),
    };
    let mut out = Vec::with_capacity(INFO_AT + info.len() + composed.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&digest);
    out.extend_from_slice(&(info.len() as u64).to_le_bytes());
    out.extend_from_slice(&(composed.len() as u64).to_le_bytes());
    out.extend_from_slice(info);
    let sum = checksum(key, &[&out[SHA_AT..]]);
    out[CHECKSUM_AT..SHA_AT].copy_from_slice(&sum);
    out.extend_from_slice(composed);
    Ok(out)
}

/// Reads the head of an entry written by [`encode_entry`] for `key` (of the original whose
/// SHA-256 is `original_sha256`) from `file` (at `path`), and leaves its composed bytes there to
/// be read when needed. Any damage to the head is an error, never a panic; so is an entry of
/// another length than its head says.
fn decode_entry(
    key: &[u8; 32],
    mut file: File,
    path: &Path,
    original_sha256: [u8; 32],
) -> Result<Instrumented> {
    let mut head = [0u8; INFO_AT];
    file.read_exact(&mut head)
        .map_err(|_| anyhow!("not a composition entry (or cut)"))?;
    if &head[..CHECKSUM_AT] != MAGIC {
        bail!("not a composition entry (or cut)");
    }
    let u64_at = |at: usize| {
        let mut n = [0u8; 8];
        n.copy_from_slice(&head[at..at + 8]);
        u64::from_le_bytes(n)
    };
    let (info_len, composed_len) = (u64_at(INFO_LEN_AT), u64_at(COMPOSED_LEN_AT));
    let size = file.metadata().context("reading its size")?.len();
    if info_len > MAX_INFO || Some(size) != (INFO_AT as u64 + info_len).checked_add(composed_len) {
        bail!("the entry is cut or has bad lengths");
    }
    let mut info = vec![0u8; info_len as usize];
    file.read_exact(&mut info)
        .map_err(|_| anyhow!("the entry is cut"))?;
    if head[CHECKSUM_AT..SHA_AT] != checksum(key, &[&head[SHA_AT..], &info]) {
        bail!("checksum mismatch (corrupt or cut)");
    }
    let mut digest = [0u8; 32];
    digest.copy_from_slice(&head[SHA_AT..INFO_LEN_AT]);
    Ok(Instrumented {
        composed: ComponentBytes {
            sha256: Some(digest),
            bytes: OnceLock::new(),
            entry: Some((
                file,
                path.to_path_buf(),
                INFO_AT as u64 + info_len,
                composed_len,
            )),
        },
        interfaces: Interfaces::encoded(info),
        original_sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Outcome;
    use proxyrt_test_guests as guests;
    use std::fs;
    use std::io::Write;

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

    /// What an [`Instrumented`] holds, read and decoded: the composed bytes and their SHA-256,
    /// the interfaces and theirs, the original's SHA-256.
    type Contents = (Vec<u8>, Option<[u8; 32]>, ComponentInfo, [u8; 32], [u8; 32]);

    fn contents(made: &Instrumented) -> Contents {
        (
            made.composed.bytes().unwrap().to_vec(),
            made.composed.sha256().copied(),
            ComponentInfo::clone(made.interfaces.get().unwrap()),
            *made.interfaces.sha256(),
            made.original_sha256,
        )
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
        let (bytes, digest, info, interfaces, _) = contents(&first);
        assert_eq!(bytes, direct.composed.bytes().unwrap());
        assert_eq!(&info, &**direct.interfaces.get().unwrap());
        // The interfaces' hash is the trace identity's (`ComponentInfo::interface_sha256`).
        assert_eq!(interfaces, info.interface_sha256().unwrap());
        assert_eq!(&interfaces, direct.interfaces.sha256());
        // Through the cache, the composition comes with its SHA-256 (the compiled cache's key).
        assert_eq!(digest, Some(Sha256::digest(&bytes).into()));
        assert_eq!(direct.composed.sha256(), None);
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
        assert_eq!(contents(&second), contents(&first));
        assert_eq!(
            fs::metadata(&stored[0]).unwrap().modified().unwrap(),
            written,
            "a hit must not rewrite the entry"
        );
    }

    #[test]
    fn a_hit_reads_the_composed_bytes_only_when_asked_and_checks_them_then() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_path_buf());
        let cli = read(guests::CLI);
        let (made, _) = cache
            .load_or_instrument(&cli, Mode::Replay, Layout::Auto)
            .unwrap();
        let path = cache.composition_path(&key_of(&cli, Mode::Replay, Layout::Auto));
        let (hit, outcome) = cache
            .load_or_instrument(&cli, Mode::Replay, Layout::Auto)
            .unwrap();
        assert_eq!(outcome, Outcome::Hit);
        assert!(hit.composed.bytes.get().is_none(), "read before asked");
        assert!(
            hit.interfaces.decoded.get().is_none(),
            "decoded before asked"
        );
        assert_eq!(hit.interfaces.sha256(), made.interfaces.sha256());
        // Damage in the composed bytes (the head intact): the hit stands, its bytes do not.
        let (damaged, _) = cache
            .load_or_instrument(&cli, Mode::Replay, Layout::Auto)
            .unwrap();
        let mut file = fs::OpenOptions::new().write(true).open(&path).unwrap();
        let size = file.metadata().unwrap().len();
        file.seek(SeekFrom::Start(size - 10)).unwrap();
        file.write_all(b"X").unwrap();
        drop(file);
        let e = damaged.composed.bytes().unwrap_err();
        assert!(
            format!("{e:#}").contains("is damaged; removed it: run again to rebuild it"),
            "{e:#}"
        );
        assert!(!path.exists(), "the damaged entry was removed");
        let (_, outcome) = cache
            .load_or_instrument(&cli, Mode::Replay, Layout::Auto)
            .unwrap();
        assert_eq!(outcome, Outcome::Miss, "and is made again");
        // A composition that has its bytes in memory (made here) keeps them.
        assert!(made.composed.bytes().is_ok());
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
        assert_ne!(
            record.composed.bytes().unwrap(),
            replay.composed.bytes().unwrap()
        );
        assert_eq!(record.interfaces.sha256(), replay.interfaces.sha256());
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
        let good = contents(&good);
        let path = cache.composition_path(&key_of(&cli, Mode::Replay, Layout::Auto));
        let entry = fs::read(&path).unwrap();
        // A flipped byte in the head (its info), where the CRC catches it.
        let mut flipped = entry.clone();
        flipped[INFO_AT + 5] ^= 0x40;
        for damaged in [
            Vec::new(),
            b"garbage".to_vec(),
            entry[..entry.len() / 3].to_vec(),
            entry[..entry.len() - 1].to_vec(),
            flipped,
        ] {
            fs::write(&path, &damaged).unwrap();
            let (rebuilt, outcome) = cache
                .load_or_instrument(&cli, Mode::Replay, Layout::Auto)
                .unwrap();
            assert_eq!(outcome, Outcome::Miss);
            assert_eq!(contents(&rebuilt), good);
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
        assert_eq!(contents(&rebuilt), good);
    }

    #[test]
    fn every_cut_and_every_flipped_byte_of_an_entry_is_detected() {
        let key = [7u8; 32];
        let composed: Vec<u8> = (0..200u8).collect();
        let made = Instrumented {
            original_sha256: [9; 32],
            composed: ComponentBytes {
                sha256: Some(Sha256::digest(&composed).into()),
                bytes: OnceLock::from(composed),
                entry: None,
            },
            interfaces: Interfaces::new(ComponentInfo::default()).unwrap(),
        };
        let entry = encode_entry(&key, &made).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("entry");
        // The entry decoded and its composed bytes read, as a compilation would.
        let load = |bytes: &[u8], key: &[u8; 32]| -> Result<Contents> {
            fs::write(&path, bytes).unwrap();
            let file = File::open(&path).unwrap();
            let got = decode_entry(key, file, &path, [9; 32])?;
            got.composed.bytes()?;
            got.interfaces.get()?;
            Ok(contents(&got))
        };
        assert_eq!(load(&entry, &key).unwrap(), contents(&made));
        assert!(load(&entry, &[8u8; 32]).is_err(), "another key");
        for len in 0..entry.len() {
            assert!(load(&entry[..len], &key).is_err(), "cut at {len}");
        }
        for at in 0..entry.len() {
            let mut flipped = entry.clone();
            flipped[at] ^= 0x01;
            assert!(load(&flipped, &key).is_err(), "flipped at {at}");
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
        assert_eq!(
            contents(&made),
            contents(&instrument_of(&cli, Mode::Record).unwrap())
        );
        assert!(entries(dir.path()).is_empty());
    }
}

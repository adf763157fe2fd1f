//! A header as a frame's payload or an entry as a part of a block, and back: bincode 2 (`standard()`) through serde,
//! except for `Call` and `Return`, which are encoded and parsed by hand, byte for byte what bincode
//! writes for them (a test pins it at every varint boundary). Those two are all but a handful of a
//! trace's entries, so they skip serde on both sides: the recorder copies the proxy's bytes from
//! its memory into the block once, the replayer borrows them from the block without a decoder.

use super::entry::EntryRef;
use serde::{Deserialize, Serialize};
use std::io;

fn bincode_config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Runs `$decode` with `$config` bound to [`bincode_config`] limited to the smallest of a few
/// sizes that is at least [`CLAIMS_PER_BYTE`] times `$len`, the payload's length. Why a limit:
/// bincode 2 allocates a string or byte buffer of the length a payload claims *before* it reads
/// the bytes (the fuzzer found a 3-exabyte allocation from a 2 KB header), and only a configured
/// limit makes it check the claim first. Why the factor: bincode counts against the limit every
/// integer it decodes at its size in memory (a length as 8 bytes, a variant index as 4) however
/// few bytes encode it, so a payload of many small values claims several times its length (the
/// componentize-py guest's 52 KB header claimed more than 64 KiB). Everything a payload really
/// holds fits in that, so a bogus claim is still an error; a limit is a type parameter, hence
/// the sizes, which keep any allocation within 16 times the payload (and within 512 KiB for the
/// small ones).
macro_rules! with_limit_for {
    ($len:expr, |$config:ident| $decode:expr) => {{
        let claims: usize = ($len as usize).saturating_mul(CLAIMS_PER_BYTE);
        if claims <= 1 << 19 {
            let $config = bincode_config().with_limit::<{ 1 << 19 }>();
            $decode
        } else if claims <= 1 << 23 {
            let $config = bincode_config().with_limit::<{ 1 << 23 }>();
            $decode
        } else if claims <= 1 << 27 {
            let $config = bincode_config().with_limit::<{ 1 << 27 }>();
            $decode
        } else {
            // MAX_FRAME_LEN: no frame, entry or block is longer.
            let $config = bincode_config()
                .with_limit::<{ CLAIMS_PER_BYTE * super::entry::MAX_FRAME_LEN as usize }>();
            $decode
        }
    }};
}

/// The most bincode counts against its limit per byte decoded: a `u64` or `usize` in one byte
/// counts 8 (this format has no `u128`).
const CLAIMS_PER_BYTE: usize = 8;

/// Replaces `out` with the encoding of `value`.
pub(super) fn encode<T: Serialize>(value: &T, out: &mut Vec<u8>) -> io::Result<()> {
    out.clear();
    bincode::serde::encode_into_std_write(value, out, bincode_config())
        .map_err(|e| io::Error::other(format!("encoding a trace entry: {e}")))?;
    Ok(())
}

/// Decodes a value that must fill `payload` exactly.
pub(super) fn decode<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, String> {
    // Decoding works on one checked frame, with a limit of its size (see `with_limit_for`);
    // serde caps what it preallocates for a sequence (`size_hint::cautious`).
    let (value, used) = with_limit_for!(payload.len(), |config| {
        bincode::serde::decode_from_slice(payload, config)
    })
    .map_err(|e| e.to_string())?;
    if used != payload.len() {
        return Err(format!(
            "{} trailing bytes after the value",
            payload.len() - used
        ));
    }
    Ok(value)
}

/// Decodes the value `bytes` start with, borrowing from them: the value and the number of bytes
/// it took (entries follow one another in a block, each delimited by its own encoding).
pub(super) fn decode_ref_prefix<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
) -> Result<(T, usize), String> {
    with_limit_for!(bytes.len(), |config| {
        bincode::serde::borrow_decode_from_slice(bytes, config)
    })
    .map_err(|e| e.to_string())
}

/// The value a payload starts with, ignoring the rest: how a reader gets a header's
/// `format_version` (its first field) before it decodes the rest, whose layout depends on it.
pub(super) fn decode_prefix<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, String> {
    with_limit_for!(payload.len(), |config| {
        bincode::serde::decode_from_slice(payload, config)
    })
    .map(|(value, _)| value)
    .map_err(|e| e.to_string())
}

/// bincode's variant index of [`Entry::Call`](super::Entry::Call) / [`EntryRef::Call`].
pub(super) const CALL: u32 = 0;
/// bincode's variant index of [`Entry::Return`](super::Entry::Return) / [`EntryRef::Return`].
pub(super) const RETURN: u32 = 1;
/// Longest bincode varint of a `u64`: a marker byte and 8 bytes.
const MAX_VARINT: usize = 9;
/// Longest head of a `Call`/`Return` payload: variant index, func, length.
pub(super) const MAX_BYTES_HEAD: usize = 3 * MAX_VARINT;

/// Writes into `head` what bincode writes for a `Call` (`func: Some`) or `Return` entry before its
/// `len` bytes of values: the variant index, the func, the length. Returns the head's length; the
/// payload is the head followed by the bytes.
pub(super) fn bytes_entry_head(
    func: Option<u32>,
    len: usize,
    head: &mut [u8; MAX_BYTES_HEAD],
) -> usize {
    let variant = if func.is_some() { CALL } else { RETURN };
    let mut n = put_varint(&mut head[..], u64::from(variant));
    if let Some(func) = func {
        n += put_varint(&mut head[n..], u64::from(func));
    }
    n + put_varint(&mut head[n..], len as u64)
}

/// Writes `v` as bincode 2's `standard()` configuration does (what serde + bincode produce for
/// integers, variant indices and lengths): one byte below 251, else a marker (251: `u16`, 252:
/// `u32`, 253: `u64`) and the value little-endian. Returns the number of bytes written; `out` must
/// have room for [`MAX_VARINT`] bytes.
fn put_varint(out: &mut [u8], v: u64) -> usize {
    if v < 251 {
        out[0] = v as u8;
        1
    } else if let Ok(v) = u16::try_from(v) {
        out[0] = 251;
        out[1..3].copy_from_slice(&v.to_le_bytes());
        3
    } else if let Ok(v) = u32::try_from(v) {
        out[0] = 252;
        out[1..5].copy_from_slice(&v.to_le_bytes());
        5
    } else {
        out[0] = 253;
        out[1..9].copy_from_slice(&v.to_le_bytes());
        9
    }
}

/// Reads a varint written by [`put_varint`] from the start of `bytes`: the value and its length.
/// `None` for anything else (a longer form, a non-canonical one, too few bytes).
fn get_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let (v, n) = match *bytes.first()? {
        b @ 0..=250 => (u64::from(b), 1),
        251 => (
            u64::from(u16::from_le_bytes(bytes.get(1..3)?.try_into().ok()?)),
            3,
        ),
        252 => (
            u64::from(u32::from_le_bytes(bytes.get(1..5)?.try_into().ok()?)),
            5,
        ),
        253 => (u64::from_le_bytes(bytes.get(1..9)?.try_into().ok()?), 9),
        _ => return None,
    };
    // bincode writes the shortest form; a longer one is left to bincode to judge.
    let canonical = match n {
        1 => true,
        3 => v >= 251,
        5 => v > u64::from(u16::MAX),
        _ => v > u64::from(u32::MAX),
    };
    canonical.then_some((v, n))
}

/// Decodes the `Call` or `Return` entry `bytes` start with, without serde (the replayer's hot
/// path): the entry and the number of bytes it took. `None` for every other entry and for
/// anything unusual, which the serde decoder then decodes or reports.
pub(super) fn decode_bytes_entry(bytes: &[u8]) -> Option<(EntryRef<'_>, usize)> {
    let (variant, mut at) = get_varint(bytes)?;
    let func = match u32::try_from(variant).ok()? {
        CALL => {
            let (func, n) = get_varint(bytes.get(at..)?)?;
            at += n;
            Some(u32::try_from(func).ok()?)
        }
        RETURN => None,
        _ => return None,
    };
    let (len, n) = get_varint(bytes.get(at..)?)?;
    at += n;
    let end = at.checked_add(usize::try_from(len).ok()?)?;
    let values = bytes.get(at..end)?;
    let entry = match func {
        Some(func) => EntryRef::Call { func, args: values },
        None => EntryRef::Return { results: values },
    };
    Some((entry, end))
}

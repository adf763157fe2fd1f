//! A header as a frame's payload or an entry as a part of a block, and back: bincode 2
//! (`standard()`) through serde, except for `Call` and `Return`, the entries that make up all
//! but a handful of a trace. Those have a denser form of their own (format 6), written and
//! parsed by hand: a tag (bincode's varint) that for a call returning in the same block also
//! names the function, then the values with no length (their types delimit them, see `calls`).
//! A call of a quick import costs one byte of framing for both entries where format 5 spent
//! five (variant, func and length for the call, variant and length for the return). The
//! recorder copies the proxy's bytes from its memory into the block once, the replayer borrows
//! them from the block without a decoder.

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

/// The tag of a call whose return is a later entry (format 6): `0, func, args`. Written for the
/// calls reported before they are forwarded (they may block or never return), whose return
/// comes after a flush, in a later block.
pub(super) const LONE_CALL: u64 = 0;
/// The tag of the return of the last lone call: `1, results`.
pub(super) const LONE_RETURN: u64 = 1;
/// The tags from here on are calls together with their return: `FIRST_PAIR + func, args,
/// results`, one byte of framing for a call of any of the first 243 imports. Tags 2 to 6 are
/// bincode's variant indices of the other entries (serde-encoded, as in format 5), 7 is unused.
pub(super) const FIRST_PAIR: u64 = 8;
/// Longest bincode varint of a `u64`: a marker byte and 8 bytes.
const MAX_VARINT: usize = 9;
/// Longest head of a `Call`/`Return` entry: a tag and a func.
pub(super) const MAX_CALL_HEAD: usize = 2 * MAX_VARINT;

/// Which call entry a head is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CallHead {
    /// A call, its return a later entry.
    Lone(u32),
    /// The return of the last lone call.
    Return,
    /// A call and its return.
    Pair(u32),
}

/// Writes into `head` the head of a call entry: the tag, and for a lone call the func (the
/// values follow, delimited by their types). Returns the head's length.
pub(super) fn call_head(which: CallHead, head: &mut [u8; MAX_CALL_HEAD]) -> usize {
    match which {
        CallHead::Lone(func) => {
            let n = put_varint(&mut head[..], LONE_CALL);
            n + put_varint(&mut head[n..], u64::from(func))
        }
        CallHead::Return => put_varint(&mut head[..], LONE_RETURN),
        CallHead::Pair(func) => put_varint(&mut head[..], FIRST_PAIR + u64::from(func)),
    }
}

/// Reads the head of the call entry `bytes` start with: which, and the head's length. `None` for
/// every other entry (serde-encoded, tags 2 to 7) and for a head that does not parse, which the
/// serde decoder then reports.
pub(super) fn read_call_head(bytes: &[u8]) -> Option<(CallHead, usize)> {
    let (tag, mut n) = get_varint(bytes)?;
    let which = match tag {
        LONE_CALL => {
            let (func, m) = get_varint(bytes.get(n..)?)?;
            n += m;
            CallHead::Lone(u32::try_from(func).ok()?)
        }
        LONE_RETURN => CallHead::Return,
        tag if tag >= FIRST_PAIR => CallHead::Pair(u32::try_from(tag - FIRST_PAIR).ok()?),
        _ => return None,
    };
    Some((which, n))
}

/// Writes a format version as bincode writes a `u32` (a header's first field in every format).
/// Returns its length; `out` must have room for [`MAX_VARINT`] bytes.
pub(super) fn put_version(version: u32, out: &mut [u8]) -> usize {
    put_varint(out, u64::from(version))
}

/// Reads a format version written by [`put_version`]: the version and its length.
pub(super) fn get_version(bytes: &[u8]) -> Option<(u32, usize)> {
    let (v, n) = get_varint(bytes)?;
    Some((u32::try_from(v).ok()?, n))
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

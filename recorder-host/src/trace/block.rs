//! Blocks: the entries of a trace, packed many to one length and one CRC-32, each block stored
//! compressed or raw.
//!
//! ```text
//! block := stored_len:u32le raw_len:u32le codec:u8 crc32:u32le data[stored_len]
//! ```
//!
//! `raw_len` is the length of the entries the block holds (their encodings concatenated), `data`
//! those bytes as `codec` stores them (0: raw, `stored_len == raw_len`; 1: one zstd frame), and
//! the CRC-32 covers the 9 bytes before it and `data`, so a flipped length or codec is caught like
//! a flipped byte of data. Writing checks `raw_len` against [`MAX_FRAME_LEN`]; reading checks the
//! lengths before allocating anything, the CRC before decompressing, and decompresses into a
//! buffer grown as output really comes, never past `raw_len`.

use super::entry::MAX_FRAME_LEN;
use super::frame::{read_full, read_up_to, FrameError};
use std::cell::RefCell;
use std::io::{self, Read, Write};

/// Length of a block's head: the two lengths, the codec and the CRC-32.
pub(super) const HEAD_LEN: usize = 13;

/// The codec byte of a block stored as it is.
const RAW: u8 = 0;
/// The codec byte of a block stored as one zstd frame.
const ZSTD: u8 = 1;

/// How a trace's blocks are stored: `proxyrt record --trace-compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Every block raw.
    None,
    /// Every block compressed with zstd at level [`ZSTD_LEVEL`], or raw where that does not make
    /// it smaller (random bytes, already compressed data).
    #[default]
    Zstd,
}

/// zstd's level for trace blocks: its fastest standard level (BENCHMARKS.md: level 3 stores
/// no less on traces, for more time).
pub const ZSTD_LEVEL: i32 = 1;

impl Compression {
    /// The names `--trace-compression` takes.
    pub const NAMES: [&'static str; 2] = ["none", "zstd"];

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Zstd => "zstd",
        }
    }
}

impl std::str::FromStr for Compression {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Compression::None),
            "zstd" => Ok(Compression::Zstd),
            _ => Err(format!(
                "unknown trace compression `{s}` (expected one of: {})",
                Compression::NAMES.join(", ")
            )),
        }
    }
}

/// Blocks smaller than this are stored raw without trying: zstd's frame alone is ~10 bytes.
const MIN_COMPRESSED: usize = 64;

thread_local! {
    /// The zstd contexts of the thread, made at its first compressed block and kept for every
    /// trace it writes or reads: `serve --record` writes a short trace per request, and making
    /// a compression context for each cost more than the request's whole trace (+10 % of its
    /// time, measured in BENCHMARKS.md).
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::stream::raw::Decoder<'static>>> = const { RefCell::new(None) };
}

/// Writes blocks, with the output buffer of the compressor kept across blocks.
#[derive(Default)]
pub(super) struct BlockWriter {
    compression: Compression,
    /// The last block's compressed bytes (reused).
    packed: Vec<u8>,
    /// Bytes of entries written, and bytes of blocks (heads included).
    pub(super) raw_bytes: u64,
    pub(super) stored_bytes: u64,
}

impl BlockWriter {
    pub(super) fn new(compression: Compression) -> Self {
        BlockWriter {
            compression,
            ..Default::default()
        }
    }

    pub(super) fn set_compression(&mut self, compression: Compression) {
        self.compression = compression;
    }

    /// `raw` as this writer stores it: its codec byte and its data, compressed into a buffer of
    /// the writer's (kept for the next block) or `raw` itself. The header is stored so too.
    pub(super) fn pack<'s>(&'s mut self, raw: &'s [u8]) -> io::Result<(u8, &'s [u8])> {
        Ok(match self.compression {
            Compression::Zstd if raw.len() >= MIN_COMPRESSED => {
                let packed = &mut self.packed;
                packed.clear();
                packed.reserve(zstd::zstd_safe::compress_bound(raw.len()));
                COMPRESSOR.with(|cell| -> io::Result<()> {
                    let mut cell = cell
                        .try_borrow_mut()
                        .map_err(|_| io::Error::other("the zstd compressor is in use"))?;
                    let compressor = match &mut *cell {
                        Some(c) => c,
                        empty => empty.insert(zstd::bulk::Compressor::new(ZSTD_LEVEL)?),
                    };
                    compressor.compress_to_buffer(raw, packed)?;
                    Ok(())
                })?;
                if self.packed.len() < raw.len() {
                    (ZSTD, &self.packed[..])
                } else {
                    // Incompressible: stored raw, at the cost of the head alone.
                    (RAW, raw)
                }
            }
            Compression::Zstd | Compression::None => (RAW, raw),
        })
    }

    /// Writes `raw` (entries, at most [`MAX_FRAME_LEN`] bytes, not empty) as one block.
    pub(super) fn write(&mut self, out: &mut impl Write, raw: &[u8]) -> io::Result<()> {
        let raw_len = u32::try_from(raw.len())
            .ok()
            .filter(|&l| l <= MAX_FRAME_LEN)
            .ok_or_else(|| {
                io::Error::other(format!(
                    "a trace block of {} bytes exceeds the {MAX_FRAME_LEN}-byte limit",
                    raw.len()
                ))
            })?;
        let (codec, data) = self.pack(raw)?;
        // `data` is no longer than `raw`, so its length fits too.
        let stored_len = data.len() as u32;
        let mut head = [0u8; HEAD_LEN];
        head[0..4].copy_from_slice(&stored_len.to_le_bytes());
        head[4..8].copy_from_slice(&raw_len.to_le_bytes());
        head[8] = codec;
        let mut crc = crc32fast::Hasher::new();
        crc.update(&head[..9]);
        crc.update(data);
        head[9..13].copy_from_slice(&crc.finalize().to_le_bytes());
        out.write_all(&head)?;
        out.write_all(data)?;
        self.raw_bytes += raw.len() as u64;
        self.stored_bytes += (HEAD_LEN + stored_len as usize) as u64;
        Ok(())
    }
}

/// Reads blocks from `input` one at a time into one reused buffer of entries.
pub(super) struct BlockReader<R> {
    input: R,
    /// Bytes left in the input, when known (files): lengths beyond it are torn or corrupt.
    remaining: Option<u64>,
    /// Offset in the input of the next block.
    offset: u64,
    /// The last block's stored bytes, when compressed (reused).
    stored: Vec<u8>,
    /// The last block's entries (reused: the largest block's size for the whole trace).
    raw: Vec<u8>,
    /// Bytes of entries read, and bytes of blocks (heads included).
    raw_bytes: u64,
    stored_bytes: u64,
}

impl<R: Read> BlockReader<R> {
    /// Blocks from `input`, which is at `offset` in its file and has `remaining` bytes left if
    /// that is known.
    pub(super) fn new(input: R, offset: u64, remaining: Option<u64>) -> Self {
        BlockReader {
            input,
            remaining,
            offset,
            stored: Vec::new(),
            raw: Vec::new(),
            raw_bytes: 0,
            stored_bytes: 0,
        }
    }

    /// Offset in the input of the next block.
    pub(super) fn offset(&self) -> u64 {
        self.offset
    }

    /// The entries of the last block read.
    pub(super) fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// Bytes of entries and bytes of blocks read so far.
    pub(super) fn sizes(&self) -> (u64, u64) {
        (self.raw_bytes, self.stored_bytes)
    }

    /// Reads one block into [`Self::raw`]: `Ok(false)` at a clean end of input (a block
    /// boundary).
    pub(super) fn read(&mut self) -> Result<bool, FrameError> {
        let mut head = [0u8; HEAD_LEN];
        let got = read_full(&mut self.input, &mut head)?;
        if got == 0 {
            return Ok(false);
        }
        if got < HEAD_LEN {
            return Err(FrameError::Torn(got as u64));
        }
        let stored_len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let raw_len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let codec = head[8];
        let crc = u32::from_le_bytes([head[9], head[10], head[11], head[12]]);
        // What the writer never writes, checked before anything is read or allocated.
        if raw_len > MAX_FRAME_LEN {
            return Err(FrameError::Corrupt(format!(
                "the block claims {raw_len} bytes of entries, over the {MAX_FRAME_LEN}-byte limit"
            )));
        }
        if raw_len == 0 {
            return Err(FrameError::Corrupt("an empty block".into()));
        }
        match codec {
            RAW if stored_len != raw_len => {
                return Err(FrameError::Corrupt(format!(
                    "a raw block of {raw_len} bytes claims to store {stored_len}"
                )))
            }
            ZSTD if stored_len >= raw_len => {
                return Err(FrameError::Corrupt(format!(
                    "a compressed block of {raw_len} bytes claims to store {stored_len}"
                )))
            }
            RAW | ZSTD => {}
            other => return Err(FrameError::Corrupt(format!("unknown block codec {other}"))),
        }
        if let Some(rem) = self.remaining {
            let rem = rem.saturating_sub(HEAD_LEN as u64);
            if u64::from(stored_len) > rem {
                // Not enough bytes left: either the writer was killed mid-block or the head is
                // corrupt. Both end the readable trace here; nothing of `stored_len` is allocated.
                return Err(FrameError::Torn(HEAD_LEN as u64 + rem));
            }
        }
        // A raw block is read straight into the entries' buffer.
        let data = if codec == RAW {
            &mut self.raw
        } else {
            &mut self.stored
        };
        read_up_to(&mut self.input, data, stored_len, self.remaining.is_some())?;
        if data.len() < stored_len as usize {
            let torn = HEAD_LEN as u64 + data.len() as u64;
            self.raw.clear();
            return Err(FrameError::Torn(torn));
        }
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&head[..9]);
        hasher.update(data);
        if hasher.finalize() != crc {
            self.raw.clear();
            return Err(FrameError::Corrupt("checksum mismatch".into()));
        }
        if codec == ZSTD {
            if let Err(reason) = unpack(codec, &self.stored, raw_len as usize, &mut self.raw)? {
                self.raw.clear();
                return Err(FrameError::Corrupt(reason));
            }
        }
        let block_len = HEAD_LEN as u64 + u64::from(stored_len);
        self.offset += block_len;
        if let Some(rem) = &mut self.remaining {
            *rem = rem.saturating_sub(block_len);
        }
        self.raw_bytes += u64::from(raw_len);
        self.stored_bytes += block_len;
        Ok(true)
    }
}

/// Puts into `raw` the `claimed` bytes that `stored` holds as `codec` stores them: `Ok(Err(_))`
/// says why `stored` is not that (an unknown codec, a length that differs, a bad zstd frame),
/// `Err(_)` is a failure of the decompressor itself.
pub(super) fn unpack(
    codec: u8,
    stored: &[u8],
    claimed: usize,
    raw: &mut Vec<u8>,
) -> io::Result<Result<(), String>> {
    match codec {
        RAW if stored.len() == claimed => {
            raw.clear();
            raw.extend_from_slice(stored);
            Ok(Ok(()))
        }
        RAW => Ok(Err(format!(
            "{claimed} bytes stored raw in {} bytes",
            stored.len()
        ))),
        ZSTD => DECOMPRESSOR.with(|cell| {
            let mut cell = cell
                .try_borrow_mut()
                .map_err(|_| io::Error::other("the zstd decompressor is in use"))?;
            let decoder = match &mut *cell {
                Some(d) => d,
                empty => empty.insert(zstd::stream::raw::Decoder::new()?),
            };
            Ok(decompress(decoder, stored, claimed, raw))
        }),
        other => Ok(Err(format!("unknown codec {other}"))),
    }
}

/// Decompresses the zstd frame `stored` into `raw`, which must come out exactly `claimed` bytes
/// long. `raw` grows as the decoder writes (doubling, from 64 KiB), never to more than one byte
/// past `claimed`, so a bogus claim allocates no more than the frame really holds and a frame
/// that holds more is stopped.
fn decompress(
    decoder: &mut zstd::stream::raw::Decoder<'static>,
    stored: &[u8],
    claimed: usize,
    raw: &mut Vec<u8>,
) -> Result<(), String> {
    use zstd::stream::raw::Operation;
    decoder.reinit().map_err(|e| e.to_string())?;
    raw.clear();
    let mut input = stored;
    loop {
        let have = raw.len();
        let room = have.max(64 << 10).min(claimed + 1 - have);
        raw.resize(have + room, 0);
        let status = decoder
            .run_on_buffers(input, &mut raw[have..])
            .map_err(|e| format!("cannot decompress the block: {e}"))?;
        raw.truncate(have + status.bytes_written);
        input = &input[status.bytes_read.min(input.len())..];
        if raw.len() > claimed {
            return Err(format!(
                "the block decompresses to more than its claimed {claimed} bytes"
            ));
        }
        if status.remaining == 0 {
            break;
        }
        if status.bytes_read == 0 && status.bytes_written == 0 {
            return Err("the block's compressed data is cut off".into());
        }
    }
    if !input.is_empty() {
        return Err(format!(
            "{} bytes after the block's compressed data",
            input.len()
        ));
    }
    if raw.len() != claimed {
        return Err(format!(
            "the block decompresses to {} bytes, not its claimed {claimed}",
            raw.len()
        ));
    }
    Ok(())
}

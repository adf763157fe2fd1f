//! The trace file: a header, then the entries, one event each, packed in blocks written as the
//! events happen (format 6).
//!
//! ```text
//! trace  := MAGIC header-frame block*
//! frame  := len:u32le crc32(payload):u32le payload[len]
//!           payload := version:varint codec:u8 raw_len:u32le data    data: bincode(Header), stored
//! block  := stored_len:u32le raw_len:u32le codec:u8 crc32:u32le data[stored_len]
//!           data := entries as stored: raw (codec 0) or one zstd frame (codec 1)
//!           crc32 over the 9 bytes before it and data
//! entries := entry*, raw_len bytes, each entry whole in one block
//! entry  := 8+func:varint args results       a call and its return
//!         | 0 func:varint args               a call whose return is a later entry
//!         | 1 results                        the return of that call
//!         | bincode(Entry)                   the others (variant index 2 to 6, then the fields)
//! ```
//!
//! `args` and `results` are the proxy's encoded values with no length: the function's types in
//! the header delimit them (`calls`).
//!
//! Why this shape:
//! - **Streamed**: the writer fills one block buffer ([`BLOCK_SIZE`], 64 KiB of entries) and
//!   writes it out through a buffer when the next entry would not fit, and at every flush; the
//!   reader holds one block at a time, so memory stays flat however long the run.
//! - **Small**: one 13-byte head per block instead of 8 bytes of framing per entry, and blocks
//!   compressed with zstd at level 1 by default ([`Compression`]; a block that does not shrink is
//!   stored raw, so incompressible data costs only the heads). A quick call and its return cost
//!   one byte between them beyond their values (a program printing line by line makes calls of
//!   a few bytes of values each, so format 5's five bytes of variants, func and lengths were
//!   40 % of its trace), and the header (~14 KB for a wasi:http handler, written with every
//!   request of `serve --record`) is compressed as the blocks are.
//! - **Torn writes are detectable**: a process killed mid-write leaves a last block that is
//!   shorter than its head says; the reader reports the trace as cut after the entries of the
//!   last complete block instead of failing. A flush (before a call that may block or never
//!   return, and at the end) closes the open block, so everything recorded before it is in a
//!   complete block. A complete trace ends with [`Entry::End`], so "cut exactly at a block
//!   boundary" is told apart from "finished" too.
//! - **Corruption is detectable**: every block carries a CRC-32 of its head and stored bytes; a
//!   flipped byte is an error that names the block (its offset and first entry), never a
//!   misdecoded value.
//! - **Bounded allocation**: a block's lengths are checked against [`MAX_FRAME_LEN`] and, for
//!   files, against the bytes actually left before anything is allocated; the decompressor
//!   writes into a buffer grown as output comes and is stopped past the claimed length; bincode
//!   decoding is limited to the block.
//! - **Old traces**: formats 4 (one frame per entry) and 5 (entries with lengths, header
//!   uncompressed) are refused with [`TraceError::UnsupportedVersion`], as any other version
//!   (every format's header frame starts with its version): record again.
//!
//! The parts, each using only those listed before it:
//! - `entry`: what a trace holds ([`Header`], [`Entry`], [`EntryRef`]) and the format constants;
//! - `calls`: where a call's values end, by the types of its function in the header;
//! - `payload`: a header as bincode bytes and an entry as a part of a block (bincode through
//!   serde, and the hand-written heads of `Call`/`Return`, the entries that make up nearly all
//!   of a trace);
//! - `frame`: the length + CRC-32 framing of the header, written and read;
//! - `block`: blocks of entries, compressed or raw, written and read (and the header's bytes
//!   stored the same way);
//! - `writer` ([`TraceWriter`]) and `reader` ([`TraceReader`], [`TraceError`]);
//! - [`service`]: a recorded service, a directory of one trace per request.

mod block;
mod calls;
mod entry;
mod frame;
mod payload;
mod reader;
pub mod service;
mod writer;

pub use block::{Compression, ZSTD_LEVEL};
pub use entry::{
    Entry, EntryRef, Header, HttpRequestLine, RequestHeader, FORMAT_VERSION, MAGIC, MAX_FRAME_LEN,
};
pub use reader::{TraceError, TraceReader};
pub use writer::{HeaderPayload, TraceWriter, BLOCK_SIZE, BUFFER};

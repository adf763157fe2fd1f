//! The trace file: a header, then the entries, one event each, packed in blocks written as the
//! events happen (format 5).
//!
//! ```text
//! trace  := MAGIC header-frame block*
//! frame  := len:u32le crc32(payload):u32le payload[len]           payload := bincode(Header)
//! block  := stored_len:u32le raw_len:u32le codec:u8 crc32:u32le data[stored_len]
//!           data := entries as stored: raw (codec 0) or one zstd frame (codec 1)
//!           crc32 over the 9 bytes before it and data
//! entries := bincode(Entry)*, raw_len bytes, each entry whole in one block
//! ```
//!
//! Why this shape:
//! - **Streamed**: the writer fills one block buffer ([`BLOCK_SIZE`], 64 KiB of entries) and
//!   writes it out through a buffer when the next entry would not fit, and at every flush; the
//!   reader holds one block at a time, so memory stays flat however long the run.
//! - **Small**: one 13-byte head per block instead of 8 bytes of framing per entry, and blocks
//!   compressed with zstd at level 1 by default ([`Compression`]; a block that does not shrink is
//!   stored raw, so incompressible data costs only the heads). Entries need no length of their
//!   own: bincode's encoding delimits each.
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
//! - **Old traces**: format 4 (one frame per entry) is refused with
//!   [`TraceError::UnsupportedVersion`], as any other version: record again.
//!
//! The parts, each using only those listed before it:
//! - `entry`: what a trace holds ([`Header`], [`Entry`], [`EntryRef`]) and the format constants;
//! - `payload`: a header as a frame's payload and an entry as a part of a block (bincode through
//!   serde, and the hand-written encoding of `Call`/`Return`, the entries that make up nearly
//!   all of a trace);
//! - `frame`: the length + CRC-32 framing of the header, written and read;
//! - `block`: blocks of entries, compressed or raw, written and read;
//! - `writer` ([`TraceWriter`]) and `reader` ([`TraceReader`], [`TraceError`]);
//! - [`service`]: a recorded service, a directory of one trace per request.

mod block;
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
